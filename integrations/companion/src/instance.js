'use strict'
// The Companion connection: it only wires the controller (the link, the state, the
// presses) to Companion's actions, feedbacks, variables, presets and status.

const { InstanceBase, InstanceStatus } = require('@companion-module/base')
const { Controller } = require('./controller.js')
const { actionDefinitions } = require('./commands.js')
const { feedbackDefinitions } = require('./feedbacks.js')
const { presetDefinitions } = require('./presets.js')
const { VARIABLES, snapshot } = require('./view.js')
const { configFields, settingsFrom } = require('./config.js')

const STATUS = {
	ok: InstanceStatus.Ok,
	connecting: InstanceStatus.Connecting,
	disconnected: InstanceStatus.Disconnected,
	authentication_failure: InstanceStatus.AuthenticationFailure,
	bad_config: InstanceStatus.BadConfig,
}

class EventhubInstance extends InstanceBase {
	async init(config, _isFirstInit, secrets) {
		this.config = config
		this.secrets = secrets
		this.controller = null
		this.defineAll()
		this.connect()
	}

	async configUpdated(config, secrets) {
		this.config = config
		this.secrets = secrets
		await this.disconnect()
		this.defineAll()
		this.connect()
	}

	async destroy() {
		await this.disconnect()
	}

	getConfigFields() {
		return configFields()
	}

	defineAll() {
		this.setActionDefinitions(actionDefinitions((command, args) => this.press(command, args)))
		this.setFeedbackDefinitions(feedbackDefinitions(() => this.controller?.snapshot() ?? snapshot(null, { link: 'down' })))
		this.setVariableDefinitions(VARIABLES)
		this.setPresetDefinitions(presetDefinitions(this.label))
	}

	async press(command, args) {
		if (!this.controller) {
			this.log('warn', `eventhub: ${command.path}: the connection is not configured`)
			return { ok: false, status: 0, code: 'bad_config', message: 'not configured' }
		}
		return this.controller.press(command, args)
	}

	connect() {
		const settings = settingsFrom(this.config, this.secrets)
		if (settings.error) {
			this.updateStatus(InstanceStatus.BadConfig, settings.error)
			return
		}
		const controller = new Controller(settings, { log: (level, message) => this.log(level, message) })
		controller.on('variables', (values) => this.setVariableValues(values))
		controller.on('feedbacks', () => this.checkFeedbacks())
		controller.on('status', ({ status, message }) => this.updateStatus(STATUS[status] ?? InstanceStatus.UnknownWarning, message ?? null))
		this.controller = controller
		controller.start()
	}

	async disconnect() {
		const controller = this.controller
		this.controller = null
		if (controller) {
			controller.removeAllListeners()
			await controller.stop()
		}
	}
}

module.exports = { EventhubInstance }
