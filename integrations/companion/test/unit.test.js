'use strict'
// The module's pure parts, without a server: clock texts as the server writes them, the
// event-stream parser, the state → variables and feedbacks, the command table against
// docs/openapi.json, the presets against the definitions, the settings.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { clockText, remainingText, driftText, clockAt, untilNextSecond } = require('../src/clock.js')
const { SseParser } = require('../src/sse.js')
const view = require('../src/view.js')
const { CHECKS, feedbackDefinitions } = require('../src/feedbacks.js')
const { COMMANDS, GROUPS, actionDefinitions, commandArgs, inputField } = require('../src/commands.js')
const { presetDefinitions } = require('../src/presets.js')
const { configFields, settingsFrom } = require('../src/config.js')
const { nextTickMs } = require('../src/controller.js')
const { REPO } = require('./helpers/server.js')

test('clock texts read as the server writes them', () => {
	assert.equal(clockText(0), '00:00')
	assert.equal(clockText(61_000), '01:01')
	assert.equal(clockText(61_999), '01:01')
	assert.equal(clockText(3_723_000), '1:02:03')
	assert.equal(clockText(-65_000), '-01:05')
	assert.equal(clockText(-999), '00:00', 'no sign before a whole second of overrun')
	assert.equal(remainingText(4_739_000), '1:18:59')
	assert.equal(remainingText(4_738_001), '1:18:59', 'a countdown rounds up')
	assert.equal(remainingText(1), '00:01')
	assert.equal(remainingText(0), '00:00')
	assert.equal(remainingText(-1_000), '-00:01')
	assert.equal(driftText(61_000), '+01:01')
	assert.equal(driftText(0), '00:00')
	assert.equal(driftText(-120_000), '-02:00')
	assert.equal(driftText(31_210_085), '+8:40:10')
})

test('a clock counts on from its state, and stands still on hold', () => {
	const clock = { planned_ms: 60_000, elapsed_ms: 1000, remaining_ms: 59_000, started_at: 10_000, paused_ms: 500 }
	const at = clockAt(clock, null, 12_000)
	assert.equal(at.elapsed_ms, 1500)
	assert.equal(at.remaining, '00:59')
	assert.equal(clockAt(clock, null, 71_000).remaining, '00:00')
	assert.equal(clockAt(clock, null, 71_501).overrun, true)
	assert.equal(clockAt(clock, 20_000, 99_000).elapsed_ms, 9500, 'held: counted to held_since')
	assert.equal(clockAt({ ...clock, planned_ms: null }, null, 12_000).remaining, null)
	assert.equal(untilNextSecond(1300, +1), 700)
	assert.equal(untilNextSecond(5300, -1), 300)
	assert.equal(untilNextSecond(-1300, -1), 700)
	assert.equal(untilNextSecond(5000, -1), 1000)
})

test('the event-stream parser cuts events as EventSource does', () => {
	const events = []
	const parser = new SseParser((e) => events.push(e))
	parser.push('event: state\ndata: {"seq"')
	parser.push(': 1}\n\n: heartbeat\n\nevent: change\r')
	parser.push('\nid: 13\r\ndata: {"a":\ndata: 2}\r\n\r\n')
	parser.push('data: no type\n\nid: 14\n\nevent: state\ndata: x\n\n')
	assert.deepEqual(events, [
		{ event: 'state', data: '{"seq": 1}', id: null },
		{ event: 'change', data: '{"a":\n2}', id: '13' },
		{ event: 'message', data: 'no type', id: null },
		{ event: 'state', data: 'x', id: null },
	])
	assert.equal(parser.lastEventId, '14', 'an id without data still moves the last event id')
})

/** The state of docs/integrations.md's example, at its server_time. */
function sample(overrides = {}) {
	return {
		event: 'sjtu-forum',
		seq: 12,
		server_time: 1_767_226_800_000,
		phase: 'live',
		held: false,
		held_since: null,
		current: { id: 'keynotes', index: 1, kind: 'keynote', title: { zh: '主旨演讲', ja: '基調講演', en: 'Keynote speeches' } },
		next: { id: 'round-table', index: 2, title: { en: 'Round table' } },
		speaker: { id: 'keynotes-1', index: 0, name: { zh: '张英', ja: '張英', en: 'Zhang Ying' } },
		segment_clock: {
			planned_ms: 4_800_000,
			elapsed_ms: 61_000,
			remaining_ms: 4_739_000,
			elapsed: '01:01',
			remaining: '1:18:59',
			overrun: false,
			started_at: 1_767_226_739_000,
			paused_ms: 0,
		},
		speaker_clock: {
			planned_ms: 1_200_000,
			elapsed_ms: 61_000,
			remaining_ms: 1_139_000,
			elapsed: '01:01',
			remaining: '18:59',
			overrun: false,
			started_at: 1_767_226_739_000,
			paused_ms: 0,
		},
		overrun: false,
		drift_ms: 61_000,
		drift: '+01:01',
		projected_end: 1_767_240_061_000,
		planned_end: 1_767_240_000_000,
		queue: { waiting: 2, on_deck: 'Mei Lin', speaking: null, policy: 'balanced', closed: false },
		cues: [
			{ id: 3, state: 'go', target: 'audio', text: { en: 'Mic 3' } },
			{ id: 4, state: 'standby', target: 'video', text: { en: 'Slides', ja: 'スライド' }, preset: 'slides' },
			{ id: 5, state: 'standing_by', target: { person: 'Lu Ming' }, text: { en: 'Stand up' } },
		],
		questions: { pending: 3, approved: 5, on_screen: { id: 7, text: 'Why?', lang: 'ja', name: null, votes: 41 } },
		poll: { id: 'next-forum', question: {}, voters: 49, counts: [12, 30, 7] },
		...overrides,
	}
}

test('variables from the flat state, and as the clocks count on', () => {
	const state = sample()
	let v = view.variables(view.snapshot(state, { now: state.server_time }), 'en')
	assert.equal(v.segment_title, 'Keynote speeches')
	assert.equal(v.segment_remaining, '1:18:59')
	assert.equal(v.segment_elapsed, '01:01')
	assert.equal(v.speaker, 'Zhang Ying')
	assert.equal(v.speaker_remaining, '18:59')
	assert.equal(v.next_title, 'Round table')
	assert.equal(v.drift, '+01:01')
	assert.equal(v.queue_on_deck, 'Mei Lin')
	assert.equal(v.queue_waiting, 2)
	assert.equal(v.cues_open, 3)
	assert.equal(v.cues_waiting, 2)
	assert.equal(v.cue_standby_text, 'Slides')
	assert.equal(v.status, 'LIVE')
	assert.equal(v.question_on_screen, 'Why?')
	v = view.variables(view.snapshot(state, { now: state.server_time + 2500 }), 'ja')
	assert.equal(v.segment_remaining, '1:18:57')
	assert.equal(v.speaker_elapsed, '01:03')
	assert.equal(v.segment_title, '基調講演')
	assert.equal(v.next_title, 'Round table', 'English when the language is missing')
	assert.equal(v.cue_standby_text, 'スライド')
	assert.equal(v.drift, '+01:01', 'on time while the segment runs within its time')
	const held = sample({ held: true, held_since: state.server_time })
	v = view.variables(view.snapshot(held, { now: state.server_time + 5000 }), 'en')
	assert.equal(v.segment_remaining, '1:18:59', 'a hold stops the clocks')
	assert.equal(v.drift, '+01:06', 'and the day slips')
	assert.equal(v.status, 'HOLD')
	const none = view.variables(view.snapshot(null, { link: 'down' }))
	assert.equal(none.connection, 'disconnected')
	assert.equal(none.segment_id, '')
})

test('feedbacks: phase, hold, thresholds, cues by position, link', () => {
	const state = sample()
	const at = (s, now = s.server_time, link = 'up') => view.snapshot(s, { now, link })
	assert.equal(CHECKS.phase(at(state), { phase: 'live' }), true)
	assert.equal(CHECKS.phase(at(state), { phase: 'ended' }), false)
	assert.equal(CHECKS.held(at(state), {}), false)
	const end = state.segment_clock.started_at + state.segment_clock.planned_ms
	assert.equal(CHECKS.warning(at(state, end - 120_001), {}), false)
	assert.equal(CHECKS.warning(at(state, end - 120_000), {}), true)
	assert.equal(CHECKS.danger(at(state, end - 30_000), {}), true)
	assert.equal(CHECKS.warning(at(state, end - 30_000), {}), false)
	assert.equal(CHECKS.danger(at(state, end), {}), true, '00:00 left is still danger')
	assert.equal(CHECKS.overrun(at(state, end + 1), {}), true)
	assert.equal(CHECKS.danger(at(state, end + 1), {}), false)
	// The server's own thresholds win over the settings' when it sends them.
	const own = sample({ segment_clock: { ...state.segment_clock, warning_ms: 300_000, danger_ms: 60_000 } })
	assert.equal(CHECKS.warning(at(own, end - 200_000), {}), true)
	assert.equal(CHECKS.danger(at(own, end - 50_000), {}), true)
	const custom = view.snapshot(state, { now: end - 200_000, warningMs: 300_000 })
	assert.equal(CHECKS.warning(custom, {}), true)
	// The speaker's clock has thresholds of its own choosing too.
	const speakerEnd = state.speaker_clock.started_at + state.speaker_clock.planned_ms
	assert.equal(CHECKS.warning(at(state, speakerEnd - 60_000), { clock: 'speaker' }), true)
	assert.equal(CHECKS.cue_standby(at(state), { position: 'video' }), true)
	assert.equal(CHECKS.cue_standby(at(state), { position: 'video', state: 'standing_by' }), false)
	assert.equal(CHECKS.cue_standby(at(state), { position: 'audio' }), false, 'a GO cue no longer stands by')
	assert.equal(CHECKS.cue_standby(at(state), { position: 'person', state: 'standing_by' }), true)
	assert.equal(CHECKS.cue_standby(at(state), { position: 'any' }), true)
	assert.equal(CHECKS.link(at(state, undefined, 'down'), {}), true, 'by default: the link is down')
	assert.equal(CHECKS.link(at(state, undefined, 'up'), { up: true }), true)
	const standby = sample({ phase: 'standby', current: null, segment_clock: null, speaker_clock: null })
	assert.equal(CHECKS.overrun(at(standby), {}), false)
	assert.equal(CHECKS.warning(at(standby), {}), false)
})

test('the next tick comes when a shown text changes, at most a second away', () => {
	const state = sample()
	const snap = view.snapshot(state, { now: state.server_time + 250 })
	assert.equal(nextTickMs(snap), 750 + 3)
	const held = view.snapshot(sample({ held: true, held_since: state.server_time }), { now: state.server_time + 250 })
	assert.ok(nextTickMs(held) <= 1003)
	assert.ok(nextTickMs(view.snapshot(null, {})) <= 1003)
})


test('the command table is the control API of docs/openapi.json', () => {
	const openapi = JSON.parse(fs.readFileSync(path.join(REPO, 'docs', 'openapi.json'), 'utf8'))
	const prefix = '/api/v1/events/{event}/'
	const documented = new Map()
	for (const [route, item] of Object.entries(openapi.paths)) {
		if (!route.startsWith(prefix) || !item.post) continue
		const params = (item.post.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name)
		if (!params.includes('expect')) continue // captions: not a show command
		documented.set(route.slice(prefix.length), params.filter((p) => p !== 'token' && p !== 'expect').sort())
	}
	const ids = new Set()
	for (const command of COMMANDS) {
		assert.ok(!ids.has(command.id), `${command.id} once`)
		ids.add(command.id)
		assert.ok(GROUPS.includes(command.group), `${command.id}: a known group`)
		assert.ok(documented.has(command.path), `${command.path} is a documented command`)
		assert.deepEqual(command.args.map((a) => a.arg).sort(), documented.get(command.path), `${command.path}: its arguments`)
	}
	const missing = [...documented.keys()].filter((p) => !COMMANDS.some((c) => c.path === p))
	assert.deepEqual(missing, [], 'each documented command has an entry in src/commands.js')
	const show = ['next', 'previous', 'goto', 'next_speaker', 'hold', 'resume', 'toggle_hold', 'extend', 'end', 'undo']
	assert.deepEqual(COMMANDS.filter((c) => c.expect).map((c) => c.path), show, 'the show commands carry expect')
})

test('action options become the query arguments', async () => {
	const byId = Object.fromEntries(COMMANDS.map((c) => [c.id, c]))
	assert.deepEqual(await commandArgs(byId.extend, { seconds: -30.5 }), { seconds: -30.5 })
	assert.deepEqual(await commandArgs(byId.goto, { segment: ' keynotes ', index: '3' }), { segment: 'keynotes' })
	assert.deepEqual(await commandArgs(byId.goto, { segment: '', index: '3' }), { index: '3' })
	assert.deepEqual(await commandArgs(byId.queue_next, {}), {})
	assert.deepEqual(await commandArgs(byId.stage_message, { text: 'Hi', pinned: true }), { text: 'Hi', pinned: 'true' })
	assert.deepEqual(await commandArgs(byId.queue_policy, {}), { policy: 'first_come' })
	const parse = async (s) => s.replace('$(eventhub:next_id)', 'closing')
	assert.deepEqual(await commandArgs(byId.goto, { segment: '$(eventhub:next_id)' }, parse), { segment: 'closing' })
	for (const command of COMMANDS) for (const arg of command.args) assert.ok(inputField(arg).type)
	const pressed = []
	const defs = actionDefinitions(async (command, args) => pressed.push([command.path, args]))
	await defs.cue_standby.callback({ options: { preset: 'slides' } }, {})
	assert.deepEqual(pressed, [['cue/standby', { preset: 'slides' }]])
})

test('presets use defined actions, feedbacks and variables, in every category', () => {
	const presets = presetDefinitions('eventhub')
	const actions = actionDefinitions(async () => {})
	const feedbacks = feedbackDefinitions(() => view.snapshot(null, {}))
	const variables = new Set(view.VARIABLES.map((v) => v.variableId))
	const categories = new Set()
	for (const [id, preset] of Object.entries(presets)) {
		categories.add(preset.category)
		for (const step of preset.steps) {
			for (const a of step.down) {
				assert.ok(actions[a.actionId], `${id}: ${a.actionId}`)
				const ids = actions[a.actionId].options.map((o) => o.id).sort()
				assert.deepEqual(Object.keys(a.options).sort(), ids, `${id}: every option of ${a.actionId} set`)
			}
		}
		for (const f of preset.feedbacks) {
			assert.ok(feedbacks[f.feedbackId], `${id}: ${f.feedbackId}`)
			const ids = feedbacks[f.feedbackId].options.map((o) => o.id).sort()
			assert.deepEqual(Object.keys(f.options).sort(), ids, `${id}: every option of ${f.feedbackId} set`)
		}
		for (const [, name] of preset.style.text.matchAll(/\$\(eventhub:(\w+)\)/g)) assert.ok(variables.has(name), `${id}: $(${name})`)
	}
	assert.deepEqual([...categories].sort(), [...GROUPS].sort())
	for (const def of Object.values(feedbacks)) {
		assert.equal(def.type, 'boolean')
		assert.ok(def.defaultStyle)
	}
})

test('settings from the connection’s config', () => {
	const fields = configFields()
	assert.deepEqual(
		fields.filter((f) => f.type !== 'static-text').map((f) => f.id),
		['url', 'event', 'token', 'lang', 'warning_s', 'danger_s', 'double_press_ms'],
	)
	assert.equal(fields.find((f) => f.id === 'token').type, 'secret-text')
	assert.ok(settingsFrom({ url: '', event: 'e' }, { token: 't' }).error)
	assert.ok(settingsFrom({ url: 'http://h:1', event: 'e' }, {}).error)
	const s = settingsFrom({ url: ' http://h:1/ ', event: 'e', lang: 'ja', warning_s: 90, danger_s: 20 }, { token: 't' })
	assert.deepEqual(s, { url: 'http://h:1/', event: 'e', token: 't', lang: 'ja', warningMs: 90_000, dangerMs: 20_000, doublePressMs: 1000 })
})
