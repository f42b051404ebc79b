'use strict'
// The entrypoint Companion runs (companion/manifest.json `runtime.entrypoint`).

const { runEntrypoint } = require('@companion-module/base')
const { EventhubInstance } = require('./instance.js')
const { UpgradeScripts } = require('./upgrades.js')

runEntrypoint(EventhubInstance, UpgradeScripts)
