'use strict'
// Each action, pressed through its Companion action definition, changes the show on the
// real server; show commands carry `expect` while the show is live on a segment; every
// press has its own Idempotency-Key.

const test = require('node:test')
const assert = require('node:assert/strict')
const { Server, EVENT } = require('./helpers/server.js')
const { WsClient } = require('./helpers/ws.js')
const { startModule } = require('./helpers/module.js')
const { COMMANDS } = require('../src/commands.js')

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

test('every action changes the show on the real server', async (t) => {
	const server = await new Server().start()
	t.after(() => server.cleanup())
	// Presses follow each other quickly here, some identical (hold and resume by toggling):
	// without the double-press window each is applied.
	const m = await startModule(server, { doublePressMs: 0 })
	t.after(() => m.stop())
	const person = (name, role = 'attendee') =>
		WsClient.connect(server.url, { event: EVENT, token: server.tokens[role], name, mode: 'in_room', lang: 'en' })
	const chair = await person('Observer', 'moderator')
	const av = await WsClient.connect(server.url, {
		event: EVENT,
		token: server.tokens.av,
		name: 'Wang (video)',
		mode: 'in_room',
		lang: 'en',
		crew: ['video', 'audio'],
	})
	const mei = await person('Mei Lin')
	const ken = await person('Ken Sato')
	t.after(() => [chair, av, mei, ken].forEach((c) => c.close()))

	const pressed = new Set()
	const press = async (id, options = {}) => {
		const result = await m.press(id, options)
		assert.ok(result.ok, `${id}: ${result.status} ${result.code} ${result.message}`)
		pressed.add(id)
		return result
	}
	const state = (role) => server.state(role)
	/** The next change frame of `kind` the chair's screen receives. */
	const change = (kind) => chair.next((f) => f.type === 'change' && f.change.kind === kind)

	// Show
	await press('next')
	let s = await state()
	assert.equal(s.phase, 'live')
	assert.equal(s.current.id, 'opening')
	await press('next_speaker')
	assert.equal((await state()).speaker.index, 1)
	await press('hold')
	assert.equal((await state()).held, true)
	await press('resume')
	assert.equal((await state()).held, false)
	await press('toggle_hold')
	assert.equal((await state()).held, true)
	await press('toggle_hold')
	assert.equal((await state()).held, false)
	const planned = (await state()).segment_clock.planned_ms
	await press('extend', { seconds: 60 })
	assert.equal((await state()).segment_clock.planned_ms, planned + 60_000)
	await press('extend', { seconds: -30 })
	assert.equal((await state()).segment_clock.planned_ms, planned + 30_000)
	await press('goto', { segment: 'keynotes', index: '' })
	assert.equal((await state()).current.id, 'keynotes')
	await press('goto', { segment: '', index: '2' })
	assert.equal((await state()).current.id, 'round-table')
	await press('previous')
	assert.equal((await state()).current.id, 'keynotes')
	await press('undo')
	assert.equal((await state()).current.id, 'round-table', 'undo walks the previous back')

	// Queue (the round table's): two people ask to speak.
	await mei.command('queue_request', { queue: 'round-table' })
	await ken.command('queue_request', { queue: 'round-table' })
	s = await state()
	assert.equal(s.queue.waiting, 2)
	await press('queue_close', { queue: '' })
	assert.equal((await state()).queue.closed, true)
	await press('queue_open', { queue: '' })
	assert.equal((await state()).queue.closed, false)
	await press('queue_policy', { policy: 'alternate', queue: '' })
	assert.equal((await state()).queue.policy, 'alternate')
	// The entries' ids, from the last change of the round table's queue the chair received.
	const entries = chair
		.drainChanges()
		.filter((f) => f.change.kind === 'queue' && f.change.queue === 'round-table')
		.at(-1).change.state.waiting
	assert.equal(entries.length, 2)
	await press('queue_side', { entry: String(entries[0].id), side: 'jp', queue: 'round-table' })
	const sided = await change('queue')
	assert.equal(sided.change.op, 'queue_side')
	assert.equal(sided.change.state.waiting.find((e) => e.id === entries[0].id).side, 'jp')
	await press('queue_next', { queue: '' })
	s = await state()
	assert.ok(s.queue.speaking, `someone speaks after queue/next: ${JSON.stringify(s.queue)}`)
	assert.equal(s.queue.waiting + (s.queue.on_deck ? 1 : 0), 1)

	// Cues
	await press('cue_standby', { preset: 'slides' })
	s = await state()
	const slides = s.cues.find((c) => c.preset === 'slides')
	assert.equal(slides.state, 'standby')
	assert.equal(slides.target, 'video')
	await av.command('cue_standing_by', { cue: slides.id })
	await press('cue_go', { cue: '' })
	assert.equal((await state()).cues.find((c) => c.id === slides.id).state, 'go', 'GO takes the cue standing by')
	await press('cue_standby', { preset: 'lectern-mic' })
	const mic = (await state()).cues.find((c) => c.preset === 'lectern-mic')
	await press('cue_cancel', { cue: '' })
	assert.ok(!(await state()).cues.some((c) => c.id === mic.id), 'the cancelled cue is no longer open')
	await press('cue_standby', { preset: 'panel-mics' })
	const panel = (await state()).cues.find((c) => c.preset === 'panel-mics')
	await press('cue_go', { cue: String(panel.id) })
	assert.equal((await state()).cues.find((c) => c.id === panel.id).state, 'go')

	// Stage: what the stage screen shows is not in the flat state; the chair's screen sees it.
	chair.drainChanges()
	await press('stage_signal', { signal: 'wrap_up' })
	assert.equal((await change('stage')).change.message.kind, 'wrap_up')
	await press('stage_message', { text: 'Two questions left', pinned: true })
	const message = (await change('stage')).change.message
	assert.equal(message.text, 'Two questions left')
	assert.equal(message.pinned, true)
	await press('stage_clear')
	assert.equal((await change('stage')).change.message, null)

	// The role's command budget (20 a second, bursts of 40) refills before the next presses.
	const refill = () => new Promise((resolve) => setTimeout(resolve, 1500))
	await refill()
	// Stage controls: a switch pressed as a toggle, or set on or off.
	await press('stage_blackout', { on: 'toggle' })
	assert.equal((await state()).stage.blackout, true)
	await press('stage_blackout', { on: 'false' })
	assert.equal((await state()).stage.blackout, false)
	await press('stage_on_air', { on: 'true' })
	assert.equal((await state()).stage.on_air, true)
	await press('stage_flash')
	assert.equal(typeof (await state()).stage.flash_at, 'number')
	await press('stage_fullscreen', { text: 'Back in 5 minutes', seconds: '' })
	assert.deepEqual((await state()).stage.fullscreen, { text: 'Back in 5 minutes', until: null })
	await press('stage_fullscreen_clear')
	assert.equal((await state()).stage.fullscreen, null)

	// Side timers
	await refill()
	await press('timer_create', { name: 'Break ends in', timer: 'break', direction: 'down', seconds: 300, stage: true, cues: false, start: false })
	let timer = (await state()).timers[0]
	assert.deepEqual([timer.id, timer.running, timer.duration_ms, timer.cues], ['break', false, 300_000, false])
	await press('timer_start', { timer: 'break' })
	assert.equal((await state()).timers[0].running, true)
	await press('timer_pause', { timer: 'break' })
	assert.equal((await state()).timers[0].running, false)
	await press('timer_toggle', { timer: 'break' })
	assert.equal((await state()).timers[0].running, true)
	await press('timer_adjust', { timer: 'break', seconds: 60 })
	assert.equal((await state()).timers[0].duration_ms, 360_000)
	await press('timer_show', { timer: 'break', stage: false, cues: true })
	timer = (await state()).timers[0]
	assert.deepEqual([timer.stage, timer.cues], [false, true])
	await press('timer_reset', { timer: 'break' })
	timer = (await state()).timers[0]
	assert.deepEqual([timer.running, timer.duration_ms, timer.text], [false, 300_000, '05:00'])
	await press('timer_remove', { timer: 'break' })
	assert.deepEqual((await state()).timers, [])

	// Crew notes: the AV crew's note, read from the key.
	await av.command('note_send', { preset: 'mic-dead' })
	assert.equal((await state()).notes.unread, 1)
	await press('note_read', { note: '' })
	assert.equal((await state()).notes.unread, 0)

	// Questions: the round table's are moderated; Mei asks, the chair approves.
	await refill()
	await mei.command('question_ask', { text: 'How will data cross the border?', segment: 'round-table' })
	const asked = await chair.next((f) => f.type === 'change' && f.change.kind === 'question')
	await chair.command('question_approve', { question: asked.change.question.id })
	assert.equal((await state()).questions.approved, 1)
	await press('question_highlight', { question: '' })
	assert.equal((await state()).questions.on_screen.id, asked.change.question.id)
	await press('question_clear')
	assert.equal((await state()).questions.on_screen, null)
	await press('question_highlight', { question: String(asked.change.question.id) })
	assert.equal((await state()).questions.on_screen.id, asked.change.question.id)
	await press('question_answer', { question: '' })
	s = await state()
	assert.equal(s.questions.on_screen, null)
	assert.equal(s.questions.approved, 0)

	// Polls: the round table's prepared poll; the audience sees counts only once shown.
	await press('poll_open', { poll: '' })
	assert.equal((await state()).poll.id, 'next-forum')
	await press('poll_show', { poll: '' })
	assert.notEqual((await state('attendee')).poll.counts, null)
	await press('poll_hide', { poll: '' })
	assert.equal((await state('attendee')).poll.counts, null)
	await press('poll_close', { poll: '' })
	assert.equal((await state()).poll, null)

	await press('end')
	assert.equal((await state()).phase, 'ended')

	// After the end the show is on no segment: a press goes without expect, and a refusal
	// (nothing follows the end) is an answer, not a throw.
	const after = await m.press('next', {})
	assert.equal(after.ok, false)
	assert.equal(after.status, 409)

	assert.deepEqual(
		COMMANDS.map((c) => c.id).filter((id) => !pressed.has(id)),
		[],
		'every command of the table was pressed',
	)

	// What went over the wire: a fresh uuid key per press; expect exactly on show commands
	// pressed while live on a segment, naming that segment.
	const posts = m.requests.filter((r) => r.method === 'POST')
	const keys = posts.map((r) => r.headers['Idempotency-Key'])
	assert.ok(keys.every((k) => UUID.test(k)), 'each press carries a uuid Idempotency-Key')
	assert.equal(new Set(keys).size, keys.length, 'no two presses share a key')
	const expects = posts.map((r) => [new URL(r.url).pathname.split(`/${EVENT}/`)[1], new URL(r.url).searchParams.get('expect')])
	assert.deepEqual(expects[0], ['next', null], 'the next that starts the show goes without expect')
	assert.deepEqual(expects.at(-1), ['next', null], 'after the end, no expect')
	const show = new Set(COMMANDS.filter((c) => c.expect).map((c) => c.path))
	for (const [path, expect] of expects.slice(1, -1)) {
		if (show.has(path)) assert.ok(expect, `${path} carries expect while live`)
		else assert.equal(expect, null, `${path} carries no expect`)
	}
	assert.ok(posts.every((r) => r.headers.Authorization === `Bearer ${server.tokens.moderator}`))
})
