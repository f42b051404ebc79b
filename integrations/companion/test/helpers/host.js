'use strict'
// Just enough of Companion's side of the module IPC (@companion-module/base's nodejs-ipc
// host API) to run the real module process: it registers, is initialised with a config,
// and sends its definitions, variable values, feedback values, status and logs here; the
// test executes actions and places feedbacks as Companion does when a key is pressed or set up.

const { fork } = require('node:child_process')
const path = require('node:path')
const { PACKAGE } = require('./server.js')

class FakeHost {
	constructor(
		entrypoint = path.join(PACKAGE, 'src', 'main.js'),
		manifest = path.join(PACKAGE, 'companion', 'manifest.json'),
	) {
		this.entrypoint = entrypoint
		this.manifest = manifest
		this.variables = {}
		this.feedbackValues = {}
		this.definitions = {}
		this.statuses = []
		this.logs = []
		this.calls = new Map()
		this.nextId = 1
		this.listeners = new Set()
		this.label = 'eventhub'
	}

	start() {
		this.child = fork(this.entrypoint, [], {
			env: {
				...process.env,
				MODULE_MANIFEST: this.manifest,
				CONNECTION_ID: 'eventhub-test',
				VERIFICATION_TOKEN: 'test-verification',
			},
			stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
		})
		this.output = []
		this.child.stdout.on('data', (d) => this.output.push(String(d)))
		this.child.stderr.on('data', (d) => this.output.push(String(d)))
		this.registered = new Promise((resolve) => (this.onRegister = resolve))
		this.child.on('message', (msg) => this.receive(msg))
		return this.registered
	}

	receive(msg) {
		if (msg.direction === 'response') {
			const call = this.calls.get(msg.callbackId)
			this.calls.delete(msg.callbackId)
			const data = msg.payload ? JSON.parse(msg.payload) : undefined
			if (call) (msg.success ? call.resolve : call.reject)(msg.success ? data : new Error(data?.message ?? JSON.stringify(data)))
			return
		}
		const payload = msg.payload ? JSON.parse(msg.payload) : undefined
		let answer
		switch (msg.name) {
			case 'register':
				answer = {}
				this.onRegister(payload)
				break
			case 'setActionDefinitions':
				this.definitions.actions = payload.actions
				break
			case 'setFeedbackDefinitions':
				this.definitions.feedbacks = payload.feedbacks
				break
			case 'setVariableDefinitions':
				this.definitions.variables = payload.variables
				for (const { id, value } of payload.newValues ?? []) this.variables[id] = value
				break
			case 'setPresetDefinitions':
				this.definitions.presets = payload.presets
				break
			case 'setVariableValues':
				for (const { id, value } of payload.newValues) this.variables[id] = value
				break
			case 'updateFeedbackValues':
				for (const { id, value } of payload.values) this.feedbackValues[id] = value
				break
			case 'set-status':
				this.statuses.push(payload)
				break
			case 'log-message':
				this.logs.push(payload)
				break
			case 'parseVariablesInString':
				// Companion substitutes variables in action options: this host knows the module's own.
				answer = {
					text: payload.text.replace(/\$\(([^:)]+):([^)]+)\)/g, (all, label, id) =>
						label === this.label ? String(this.variables[id] ?? '') : all,
					),
					variableIds: [],
				}
				break
			default:
				break
		}
		if (msg.callbackId) {
			this.child.send({ direction: 'response', callbackId: msg.callbackId, success: true, payload: JSON.stringify(answer ?? {}) })
		}
		for (const listener of this.listeners) listener()
	}

	/** Calls the module (init, executeAction, updateFeedbacks, destroy, …). */
	call(name, payload, timeout = 10_000) {
		const callbackId = this.nextId++
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error(`${name}: no answer from the module`)), timeout)
			this.calls.set(callbackId, {
				resolve: (v) => (clearTimeout(timer), resolve(v)),
				reject: (e) => (clearTimeout(timer), reject(e)),
			})
			this.child.send({ direction: 'call', name, payload: JSON.stringify(payload), callbackId })
		})
	}

	/** Presses a key holding `actionId` with `options`, as Companion does. */
	press(actionId, options = {}) {
		const id = `action-${this.nextId++}`
		return this.call('executeAction', {
			action: { id, controlId: 'bank:1:1', actionId, options, upgradeIndex: null, disabled: false },
			surfaceId: 'streamdeck:test',
		})
	}

	/** Places feedbacks on keys: `{instanceId: {feedbackId, options}}`. */
	placeFeedbacks(feedbacks) {
		const all = {}
		for (const [id, { feedbackId, options = {} }] of Object.entries(feedbacks)) {
			all[id] = { id, controlId: `bank:1:${id}`, feedbackId, options, isInverted: false, upgradeIndex: null, disabled: false }
		}
		return this.call('updateFeedbacks', { feedbacks: all })
	}

	async stop() {
		if (!this.child || this.child.exitCode !== null) return
		const exited = new Promise((resolve) => this.child.once('exit', resolve))
		this.child.kill('SIGTERM')
		await exited
	}
}

module.exports = { FakeHost }
