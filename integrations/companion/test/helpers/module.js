'use strict'
// The module's logic as the tests drive it: a controller on a test server, the Companion
// action definitions on top of it, and a record of every request it sent.

const { Controller } = require('../../src/controller.js')
const { actionDefinitions } = require('../../src/commands.js')
const { waitFor, EVENT } = require('./server.js')

/** A fetch that records each request (url, method, headers) before sending it. */
function recordingFetch(requests, inner = globalThis.fetch) {
	return async (url, init = {}) => {
		requests.push({ url: String(url), method: init.method ?? 'GET', headers: { ...(init.headers ?? {}) }, at: Date.now() })
		return inner(url, init)
	}
}

/**
 * A started controller for `server` with `role`'s token; resolves once its stream is up
 * and it holds a state. `press(actionId, options)` runs the Companion action's callback.
 */
async function startModule(server, { role = 'moderator', fetch, ...settings } = {}) {
	const requests = []
	const logs = []
	const controller = new Controller(
		{ url: server.url, event: EVENT, token: server.tokens[role], ...settings },
		{ fetch: recordingFetch(requests, fetch), log: (level, message) => logs.push({ level, message }) },
	)
	const actions = actionDefinitions((command, args) => controller.press(command, args))
	controller.start()
	await waitFor(() => controller.link === 'up' && controller.state, 5000, 'the module to connect')
	const context = { parseVariablesInString: async (s) => s }
	return {
		controller,
		actions,
		requests,
		logs,
		press: (actionId, options = {}) => {
			const action = actions[actionId]
			if (!action) throw new Error(`no action ${actionId}`)
			return action.callback({ id: `test-${actionId}`, actionId, controlId: 'test', options }, context)
		},
		stop: () => controller.stop(),
	}
}

module.exports = { startModule, recordingFetch }
