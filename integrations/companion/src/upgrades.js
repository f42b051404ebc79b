'use strict'
// Upgrade scripts for saved actions, feedbacks and config of older versions of this
// module; none yet. Append, never reorder: Companion remembers how many have run.

const UpgradeScripts = []

module.exports = { UpgradeScripts }
