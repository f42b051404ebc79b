'use strict'
// Variables and feedbacks follow a change another client makes (a curl-like POST, an
// attendee on the websocket) within a second, through the event stream; between events
// the clocks count on locally, as the server counts them.

const test = require('node:test')
const assert = require('node:assert/strict')
const { Server, waitFor, EVENT } = require('./helpers/server.js')
const { WsClient } = require('./helpers/ws.js')
const { startModule } = require('./helpers/module.js')
const { CHECKS } = require('../src/feedbacks.js')
const { Controller } = require('../src/controller.js')

const WITHIN_MS = 1000

test('variables and feedbacks follow another client’s change within a second', async (t) => {
	const server = await new Server().start()
	t.after(() => server.cleanup())
	const m = await startModule(server)
	t.after(() => m.stop())

	// What the module has told Companion: the variables it set, and how often it asked for
	// the feedbacks to be checked again.
	const shown = { ...m.controller.lastVariables }
	let feedbackChecks = 0
	let states = 0
	m.controller.on('variables', (values) => Object.assign(shown, values))
	m.controller.on('feedbacks', () => feedbackChecks++)
	m.controller.on('state', () => states++)
	const feedback = (id, options = {}) => CHECKS[id](m.controller.snapshot(), options)

	/** Sends `command` as another client; resolves once `check` holds, within a second. */
	const follows = async (what, command, args, check) => {
		const before = feedbackChecks
		const started = Date.now()
		if (command) await server.post(command, args)
		await waitFor(check, WITHIN_MS - (Date.now() - started), what)
		return feedbackChecks > before
	}

	assert.equal(feedback('link', { up: true }), true, 'the link is up')
	assert.equal(feedback('link', { up: false }), false)
	assert.equal(shown.connection, 'connected')
	assert.equal(feedback('phase', { phase: 'standby' }), true)
	assert.equal(shown.next_id, 'opening')

	assert.ok(
		await follows('the show to start', 'next', {}, () => shown.segment_id === 'opening' && feedback('phase', { phase: 'live' })),
		'the feedbacks were checked again',
	)
	assert.equal(shown.phase, 'live')
	assert.equal(shown.status, 'LIVE')
	assert.equal(shown.segment_title, 'Opening ceremony')
	assert.equal(shown.segment_number, 1)
	assert.equal(shown.speaker, 'Ji Weidong')
	assert.equal(shown.next_title, 'Keynote speeches')
	assert.match(shown.segment_remaining, /^(20:00|19:59)$/)
	assert.match(shown.speaker_remaining, /^(05:00|04:59)$/)
	assert.match(shown.drift, /^[+-]?\d/)

	assert.ok(await follows('hold', 'hold', {}, () => shown.held === true && shown.status === 'HOLD' && feedback('held')))
	await follows('resume', 'resume', {}, () => shown.held === false && !feedback('held'))

	// The clocks against the stage thresholds (120 s and 30 s): time taken away by another
	// client, in the round table (an hour; its speakers have no slot of their own).
	await follows('go to the round table', 'goto', { segment: 'round-table' }, () => shown.segment_id === 'round-table' && shown.speaker_remaining === '')
	await follows('warning', 'extend', { seconds: -3490 }, () => feedback('warning') && !feedback('danger'))
	assert.match(shown.segment_remaining, /^01:(4\d|50)$/)
	await follows('danger', 'extend', { seconds: -90 }, () => feedback('danger') && !feedback('warning'))
	// Two seconds left: the overrun then comes from the local count, with no event at all.
	await follows('two seconds left', 'extend', { seconds: -18 }, () => /^00:0[123]$/.test(shown.segment_remaining))
	const quiet = states
	await waitFor(() => feedback('overrun') && shown.overrun === true, 3500, 'the overrun, counted locally')
	assert.equal(states, quiet, 'the overrun came from the local count')
	assert.equal(feedback('danger'), false)
	assert.match(shown.segment_remaining, /^-?00:0\d$/)
	await follows('back in time', 'extend', { seconds: 600 }, () => !feedback('overrun') && !feedback('warning'))

	// Cues: a standby for the audio position, then its cancel.
	await follows('a cue on standby', 'cue/standby', { preset: 'lectern-mic' }, () => feedback('cue_standby', { position: 'audio' }))
	assert.equal(feedback('cue_standby', { position: 'video' }), false)
	assert.equal(feedback('cue_standby', { position: 'audio', state: 'standing_by' }), false)
	assert.equal(shown.cues_open, 1)
	assert.equal(shown.cue_standby_text, 'Lectern mic 1 live')
	assert.equal(shown.cue_standby_target, 'audio')
	await follows('the cue cancelled', 'cue/cancel', {}, () => !feedback('cue_standby', { position: 'any' }) && shown.cues_open === 0)

	// The queue: an attendee asks to speak over the websocket.
	const mei = await WsClient.connect(server.url, {
		event: EVENT,
		token: server.tokens.attendee,
		name: 'Mei Lin',
		mode: 'remote',
		lang: 'zh',
	})
	t.after(() => mei.close())
	const asked = Date.now()
	await mei.command('queue_request', { queue: 'round-table' })
	await waitFor(() => shown.queue_waiting === 1, WITHIN_MS - (Date.now() - asked), 'the queue to count one waiting')
	await follows('the queue closed', 'queue/close', {}, () => shown.queue_closed === true && feedback('queue_closed'))

	// The stage controls and a side timer, switched by another client (the AV crew's desk).
	await follows('the blackout', 'stage/blackout', { on: 'true' }, () => shown.blackout === true && feedback('stage_switch', { which: 'blackout' }))
	await follows('ON AIR', 'stage/on_air', { on: 'true' }, () => shown.on_air === true && feedback('stage_switch', { which: 'on_air' }))
	await follows('a timer', 'timer/create', { name: 'Q&A five minutes', timer: 'qa', seconds: '300', start: 'true' }, () => shown.timer1_name === 'Q&A five minutes' && feedback('timer', { place: 1, state: 'running' }))
	assert.match(shown.timer1_time, /^0[45]:\d\d$/)
	assert.equal(shown.timer1_id, 'qa')

	// A crew note lights the key until it is read.
	const crew = await WsClient.connect(server.url, { event: EVENT, token: server.tokens.av, name: 'Fukuda', mode: 'in_room', lang: 'ja' })
	t.after(() => crew.close())
	const noted = Date.now()
	await crew.command('note_send', { preset: 'stream-down' })
	await waitFor(() => shown.notes_unread === 1 && shown.note_text === 'Stream down' && feedback('note_waiting'), WITHIN_MS - (Date.now() - noted), 'the crew note')
	await follows('the note read', 'note/read', {}, () => shown.notes_unread === 0 && !feedback('note_waiting'))

	// Between events the clocks count on locally: no state arrives, the text still moves,
	// and it reads what the server answers at the same instant.
	await server.post('next')
	await waitFor(() => shown.segment_id === 'closing', WITHIN_MS, 'the closing')
	const statesBefore = states
	const first = shown.segment_remaining
	await waitFor(() => shown.segment_remaining !== first, 1500, 'the segment clock to tick locally')
	const second = shown.segment_remaining
	await waitFor(() => shown.segment_remaining !== second, 1500, 'the next local tick')
	assert.equal(states, statesBefore, 'no state came from the server meanwhile')
	const answer = await server.state()
	const local = m.controller.snapshot(answer.server_time)
	assert.equal(local.segment.remaining, answer.segment_clock.remaining)
	assert.equal(local.segment.elapsed, answer.segment_clock.elapsed)
	assert.equal(local.speaker.remaining, answer.speaker_clock.remaining)
	assert.equal(m.controller.variables().drift, answer.drift)
	assert.equal(local.timers[0].text, answer.timers[0].text, 'the side timer counts locally too')

	// Titles and names in the configured language.
	const ja = new Controller({ url: server.url, event: EVENT, token: server.tokens.moderator, lang: 'ja' })
	ja.start()
	t.after(() => ja.stop())
	await waitFor(() => ja.state, 2000, 'a second connection')
	assert.equal(ja.variables().segment_title, '閉会総括')
	assert.equal(ja.variables().speaker, '福田高幹')
})
