'use strict'
// The real module process, as Companion runs it (src/main.js through
// @companion-module/base's runEntrypoint), driven over its IPC by a stand-in for Companion:
// initialised with a config, its keys pressed, its variables and feedbacks followed.

const test = require('node:test')
const assert = require('node:assert/strict')
const { Server, waitFor, EVENT } = require('./helpers/server.js')
const { FakeHost } = require('./helpers/host.js')
const { COMMANDS, GROUPS } = require('../src/commands.js')
const { VARIABLES } = require('../src/view.js')

/** An executed action: base 1.13 answers nothing, later ones `{success: true}`; a throw rejects. */
const succeeded = (answer) => answer === undefined || answer?.success === true

test('the Companion instance runs against the real server', async (t) => {
	const server = await new Server().start()
	t.after(() => server.cleanup())
	const host = new FakeHost()
	t.after(() => host.stop())
	const registration = await host.start()
	assert.equal(registration.connectionId, 'eventhub-test')

	const fields = await host.call('getConfigFields', {})
	assert.ok(fields.fields.some((f) => f.id === 'token' && f.type === 'secret-text'))

	const init = await host.call('init', {
		label: host.label,
		isFirstInit: false,
		config: { url: server.url, event: EVENT, lang: 'en', warning_s: 120, danger_s: 30, double_press_ms: 1000 },
		secrets: { token: server.tokens.moderator },
		lastUpgradeIndex: -1,
		feedbacks: {},
		actions: {},
	})
	assert.equal(init.newUpgradeIndex, -1)
	await waitFor(() => host.variables.connection === 'connected', 3000, 'the module to connect')
	assert.equal(host.statuses.at(-1).status, 'ok')

	assert.deepEqual(host.definitions.actions.map((a) => a.id).sort(), COMMANDS.map((c) => c.id).sort())
	assert.deepEqual(host.definitions.variables.map((v) => v.id).sort(), VARIABLES.map((v) => v.variableId).sort())
	assert.deepEqual(
		host.definitions.feedbacks.map((f) => f.id).sort(),
		['cue_standby', 'danger', 'held', 'link', 'note_waiting', 'overrun', 'phase', 'queue_closed', 'stage_switch', 'timer', 'warning'],
	)
	assert.deepEqual([...new Set(host.definitions.presets.map((p) => p.category))].sort(), [...GROUPS].sort())
	assert.ok(host.definitions.presets.find((p) => p.id === 'next').style.text.includes('$(eventhub:next_title)'))

	await host.placeFeedbacks({
		live: { feedbackId: 'phase', options: { phase: 'live' } },
		held: { feedbackId: 'held' },
		down: { feedbackId: 'link', options: { up: false } },
		video: { feedbackId: 'cue_standby', options: { position: 'video', state: 'waiting' } },
	})
	await waitFor(() => host.feedbackValues.live === false && host.feedbackValues.down === false, 1000, 'the first feedback values')

	// A key press starts the show.
	assert.ok(succeeded(await host.press('next')))
	assert.equal((await server.state()).current.id, 'opening')
	await waitFor(() => host.variables.segment_id === 'opening' && host.feedbackValues.live === true, 1000, 'the key to show it')
	assert.equal(host.variables.segment_title, 'Opening ceremony')

	// Another client holds the show; the variables and feedbacks follow within a second.
	const started = Date.now()
	await server.post('hold')
	await waitFor(() => host.variables.status === 'HOLD' && host.feedbackValues.held === true, 1000 - (Date.now() - started), 'hold')
	await server.post('resume')
	await server.post('cue/standby', { preset: 'slides' })
	await waitFor(() => host.feedbackValues.video === true && host.variables.cues_open === 1, 1000, 'the cue feedback')

	// An option with a variable: go to the segment the key shows as next.
	assert.equal(host.variables.next_id, 'keynotes')
	assert.ok(succeeded(await host.press('goto', { segment: '$(eventhub:next_id)', index: '' })))
	assert.equal((await server.state()).current.id, 'keynotes')

	// A double press of Next: two presses at once, one step. (Away from the first Next by
	// more than the double-press window, within which a Next is taken for that one again.)
	await new Promise((r) => setTimeout(r, 1000))
	const both = await Promise.all([host.press('next'), host.press('next')])
	assert.ok(both.every(succeeded), 'a refusal is not an action failure')
	assert.equal((await server.state()).current.id, 'round-table')
	await waitFor(() => host.variables.segment_id === 'round-table', 1000, 'round-table')

	// A press the server refuses (nothing stands by for GO) is logged, not thrown.
	assert.ok(succeeded(await host.press('cue_go', { cue: '' })))
	await waitFor(() => host.logs.some((l) => /cue\/go: not possible now/.test(l.message)), 1000, 'the refusal in the log')

	// The server goes away: the status and the link feedback say so.
	await server.stop()
	await waitFor(() => host.feedbackValues.down === true && host.variables.connection === 'disconnected', 1000, 'link down')
	assert.equal(host.statuses.at(-1).status, 'disconnected')
	await server.start()
	await waitFor(() => host.feedbackValues.down === false && host.statuses.at(-1).status === 'ok', 1000, 'link up again')

	// A wrong token: the status says so.
	await host.call('updateConfigAndLabel', {
		label: host.label,
		config: { url: server.url, event: EVENT, lang: 'en' },
		secrets: { token: 'not-a-token' },
	})
	await waitFor(() => host.statuses.at(-1).status === 'authentication_failure', 2000, 'an authentication failure')

	await host.call('destroy', {})
})
