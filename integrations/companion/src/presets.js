'use strict'
// Ready-made keys, per category (Show, Queue, Cues, Stage, Timers, Crew notes, Questions & polls): their text
// shows the module's variables, their colours come from the feedbacks.

const { combineRgb } = require('@companion-module/base')
const { COLORS } = require('./feedbacks.js')
const { BY_ID } = require('./commands.js')
const { POSITIONS } = require('./view.js')

const { WHITE, BLACK, GREEN, AMBER, RED, DARK_RED, YELLOW, BLUE, GREY } = COLORS
const PURPLE = combineRgb(204, 0, 204) // a key that needs its options set after it is placed
const combine = combineRgb

/** An action's options in full: the command's defaults, then those given. */
function withDefaults(actionId, options) {
	const command = BY_ID.get(actionId)
	if (!command) throw new Error(`a preset names an unknown action ${actionId}`)
	const defaults = Object.fromEntries(command.args.map((arg) => [arg.arg, arg.default ?? (arg.type === 'number' ? 0 : '')]))
	return { ...defaults, ...options }
}

function presetDefinitions(label) {
	const v = (id) => `$(${label}:${id})`
	const presets = {}
	const key = (id, category, name, text, actionId, options = {}, more = {}) => {
		presets[id] = {
			type: 'button',
			category,
			name,
			style: { text, size: more.size ?? 'auto', color: more.color ?? WHITE, bgcolor: more.bgcolor ?? BLACK },
			steps: actionId ? [{ down: [{ actionId, options: withDefaults(actionId, options) }], up: [] }] : [{ down: [], up: [] }],
			feedbacks: more.feedbacks ?? [],
		}
	}
	const fb = (feedbackId, style, options = {}) => ({ feedbackId, options, style })
	const clockColours = (clock) => [
		fb('warning', { bgcolor: AMBER, color: BLACK }, { clock }),
		fb('danger', { bgcolor: DARK_RED, color: WHITE }, { clock }),
		fb('overrun', { bgcolor: RED, color: WHITE }, { clock }),
		fb('held', { bgcolor: YELLOW, color: BLACK }),
		fb('link', { bgcolor: GREY, color: WHITE }, { up: false }),
	]

	// Show
	key('next', 'Show', 'Next segment', `NEXT ▶\n${v('next_title')}`, 'next', {}, {
		bgcolor: combine(0, 80, 0),
		feedbacks: [fb('link', { bgcolor: GREY }, { up: false })],
	})
	key('previous', 'Show', 'Previous segment', '◀ PREV', 'previous')
	key('hold', 'Show', 'Hold / resume', `${v('status')}\n${v('segment_remaining')}`, 'toggle_hold', {}, {
		feedbacks: [fb('held', { bgcolor: YELLOW, color: BLACK }), fb('link', { bgcolor: GREY }, { up: false })],
	})
	key('next_speaker', 'Show', 'Next speaker', `NEXT SPEAKER\n${v('speaker')}`, 'next_speaker')
	key('extend_plus_60', 'Show', '+1 minute', '+1 min', 'extend', { seconds: 60 })
	key('extend_minus_60', 'Show', '−1 minute', '−1 min', 'extend', { seconds: -60 })
	key('end', 'Show', 'End the show', 'END', 'end', {}, { bgcolor: combine(80, 0, 0) })
	key('undo', 'Show', 'Undo', 'UNDO', 'undo')
	key('segment_clock', 'Show', 'Segment clock', `${v('segment_title')}\n${v('segment_remaining')}`, null, {}, {
		feedbacks: clockColours('segment'),
	})
	key('speaker_clock', 'Show', 'Speaker clock', `${v('speaker')}\n${v('speaker_remaining')}`, null, {}, {
		feedbacks: clockColours('speaker'),
	})
	key('elapsed', 'Show', 'Segment elapsed', `ELAPSED\n${v('segment_elapsed')}`, null)
	key('drift', 'Show', 'Drift of the day', `DRIFT\n${v('drift')}`, null)
	key('phase', 'Show', 'Phase', `${v('status')}\n${v('segment_id')}`, null, {}, {
		feedbacks: [
			fb('phase', { bgcolor: GREEN, color: WHITE }, { phase: 'live' }),
			fb('held', { bgcolor: YELLOW, color: BLACK }),
			fb('phase', { bgcolor: GREY, color: WHITE }, { phase: 'ended' }),
		],
	})
	key('link', 'Show', 'Link to the server', `LINK\n${v('connection')}`, null, {}, {
		bgcolor: combine(0, 80, 0),
		feedbacks: [fb('link', { bgcolor: RED, color: WHITE }, { up: false })],
	})

	// Queue
	key('queue_next', 'Queue', 'Call the next person', `CALL\n${v('queue_on_deck')}\n${v('queue_waiting')} waiting`, 'queue_next', {}, {
		feedbacks: [fb('queue_closed', { bgcolor: GREY })],
	})
	key('queue_close', 'Queue', 'Close the list', 'CLOSE LIST', 'queue_close', {}, {
		feedbacks: [fb('queue_closed', { bgcolor: RED })],
	})
	key('queue_open', 'Queue', 'Open the list', 'OPEN LIST', 'queue_open')
	for (const [policy, text] of [
		['first_come', 'FIRST COME'],
		['alternate', 'ALTERNATE'],
		['balanced', 'BALANCED'],
	]) {
		key(`queue_policy_${policy}`, 'Queue', `Policy: ${policy}`, text, 'queue_policy', { policy, queue: '' })
	}
	key('queue_status', 'Queue', 'Queue status', `SPEAKING\n${v('queue_speaking')}\nDECK ${v('queue_on_deck')}`, null)

	// Cues
	key('cue_go', 'Cues', 'GO', `GO\n${v('cue_standby_text')}`, 'cue_go', { cue: '' }, {
		feedbacks: [fb('cue_standby', { bgcolor: GREEN, color: WHITE }, { position: 'any', state: 'standing_by' })],
	})
	key('cue_cancel', 'Cues', 'Cancel the oldest standby', 'CANCEL CUE', 'cue_cancel', { cue: '' })
	key('cue_standby', 'Cues', 'Standby from a preset (set its preset id)', 'STANDBY\n(preset)', 'cue_standby', { preset: 'slides' }, {
		bgcolor: PURPLE,
	})
	key('cues_open', 'Cues', 'Open cues', `CUES ${v('cues_open')}\n${v('cue_standby_target')}`, null, {}, {
		feedbacks: [fb('cue_standby', { bgcolor: BLUE, color: WHITE }, { position: 'any', state: 'waiting' })],
	})
	for (const position of POSITIONS) {
		key(`cue_${position}`, 'Cues', `Standby for ${position}`, position.toUpperCase(), null, {}, {
			feedbacks: [
				fb('cue_standby', { bgcolor: BLUE, color: WHITE }, { position, state: 'standby' }),
				fb('cue_standby', { bgcolor: GREEN, color: WHITE }, { position, state: 'standing_by' }),
			],
		})
	}

	// Stage
	key('stage_two_minutes', 'Stage', 'Signal: two minutes', '2 MIN', 'stage_signal', { signal: 'two_minutes' }, { bgcolor: combine(120, 80, 0) })
	key('stage_wrap_up', 'Stage', 'Signal: wrap up', 'WRAP UP', 'stage_signal', { signal: 'wrap_up' }, { bgcolor: combine(150, 60, 0) })
	key('stage_time_up', 'Stage', 'Signal: time is up', 'TIME UP', 'stage_signal', { signal: 'time_up' }, { bgcolor: combine(150, 0, 0) })
	key('stage_message', 'Stage', 'Message (set its text)', 'MESSAGE', 'stage_message', { text: 'Two questions left', pinned: false }, { bgcolor: PURPLE })
	key('stage_clear', 'Stage', 'Clear the stage screen', 'CLEAR STAGE', 'stage_clear')
	key('stage_blackout', 'Stage', 'Blackout (toggle)', 'BLACKOUT', 'stage_blackout', { on: 'toggle' }, {
		feedbacks: [fb('stage_switch', { bgcolor: WHITE, color: BLACK }, { which: 'blackout' })],
	})
	key('stage_on_air', 'Stage', 'ON AIR (toggle)', 'ON AIR', 'stage_on_air', { on: 'toggle' }, {
		feedbacks: [fb('stage_switch', { bgcolor: RED, color: WHITE }, { which: 'on_air' })],
	})
	key('stage_flash', 'Stage', 'Flash the stage screens', 'FLASH', 'stage_flash')
	key('stage_fullscreen', 'Stage', 'Full-screen message (set its text)', 'FULL SCREEN', 'stage_fullscreen', { text: 'Back in 5 minutes', seconds: '' }, {
		bgcolor: PURPLE,
		feedbacks: [fb('stage_switch', { bgcolor: BLUE, color: WHITE }, { which: 'fullscreen' })],
	})
	key('stage_fullscreen_clear', 'Stage', 'Take the full-screen message off', 'FULL SCREEN OFF', 'stage_fullscreen_clear')

	// Side timers: the first three by their place in the list; the keys that act name an id.
	for (const n of [1, 2, 3]) {
		key(`timer_${n}`, 'Timers', `Timer ${n}: its time`, `${v(`timer${n}_name`)}\n${v(`timer${n}_time`)}`, null, {}, {
			feedbacks: [
				fb('timer', { bgcolor: GREEN, color: WHITE }, { place: n, state: 'running' }),
				fb('timer', { bgcolor: RED, color: WHITE }, { place: n, state: 'over' }),
			],
		})
	}
	key('timer_create_break', 'Timers', 'Create "Break ends in" (15 min)', 'NEW BREAK\nTIMER', 'timer_create', { name: 'Break ends in', timer: 'break', seconds: 900, stage: true, cues: true, start: true })
	key('timer_toggle', 'Timers', 'Start / pause (set its id)', 'TIMER\n▶ / ❚❚', 'timer_toggle', { timer: 'break' }, { bgcolor: PURPLE })
	key('timer_plus', 'Timers', '+1 minute (set its id)', 'TIMER\n+1 min', 'timer_adjust', { timer: 'break', seconds: 60 }, { bgcolor: PURPLE })
	key('timer_minus', 'Timers', '−1 minute (set its id)', 'TIMER\n−1 min', 'timer_adjust', { timer: 'break', seconds: -60 }, { bgcolor: PURPLE })
	key('timer_reset', 'Timers', 'Reset (set its id)', 'TIMER\nRESET', 'timer_reset', { timer: 'break' }, { bgcolor: PURPLE })

	// Crew notes: the oldest unread one on the key; a press marks it read.
	key('note_read', 'Crew notes', 'The oldest crew note (press: read)', `NOTES ${v('notes_unread')}\n${v('note_text')}`, 'note_read', { note: '' }, {
		feedbacks: [fb('note_waiting', { bgcolor: AMBER, color: BLACK })],
	})

	// Questions & polls
	key('question_highlight', 'Questions & polls', 'Question on screen', `Q ON SCREEN\n${v('questions_approved')} approved`, 'question_highlight', { question: '' })
	key('question_clear', 'Questions & polls', 'Question off screen', 'Q OFF', 'question_clear')
	key('question_answer', 'Questions & polls', 'Question answered', 'Q ANSWERED', 'question_answer', { question: '' })
	key('poll_open', 'Questions & polls', 'Open the poll', 'POLL OPEN', 'poll_open', { poll: '' })
	key('poll_close', 'Questions & polls', 'Close the poll', `POLL CLOSE\n${v('poll_voters')} votes`, 'poll_close', { poll: '' })
	key('poll_show', 'Questions & polls', 'Show the results', 'SHOW RESULTS', 'poll_show', { poll: '' })
	key('poll_hide', 'Questions & polls', 'Hide the results', 'HIDE RESULTS', 'poll_hide', { poll: '' })

	return presets
}

module.exports = { presetDefinitions }
