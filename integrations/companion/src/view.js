'use strict'
// What the keys show: the flat state (docs/integrations.md, "State") at one instant, turned
// into Companion variables and the inputs of the boolean feedbacks. Pure functions: the
// controller calls them on every state and every local tick, the tests call them directly.

const { clockAt, clockText, driftAt, driftText, remainingText } = require('./clock.js')

const LANGS = ['zh', 'ja', 'en']
const POSITIONS = ['audio', 'video', 'lighting', 'interpretation', 'stage']
/** The stage screen's thresholds when neither the server nor the settings give them. */
const DEFAULT_WARNING_MS = 120_000
const DEFAULT_DANGER_MS = 30_000

/** `{"zh","ja","en"}` in `lang`, else English, else any language; a plain string as is. */
function localized(value, lang) {
	if (value == null) return ''
	if (typeof value === 'string') return value
	return value[lang] ?? value.en ?? Object.values(value).find((v) => typeof v === 'string') ?? ''
}

/** A cue's crew position: `audio` … `stage`, or `person` for a cue to one person. */
function cuePosition(cue) {
	return typeof cue.target === 'string' ? cue.target : 'person'
}

/**
 * The show at `now` (ms on the server's clock): both clocks and the drift counted on from
 * the state's `server_time`, the thresholds that apply, the link.
 */
function snapshot(state, { now, link = 'up', warningMs, dangerMs } = {}) {
	if (!state) {
		return { state: null, link, segment: null, speaker: null, drift_ms: null, warning_ms: null, danger_ms: null, timers: [] }
	}
	const at = now ?? state.server_time
	const held = state.held_since ?? null
	const segment = state.phase === 'live' ? clockAt(state.segment_clock, held, at) : null
	const speaker = state.phase === 'live' ? clockAt(state.speaker_clock, held, at) : null
	return {
		state,
		link,
		now: at,
		segment,
		speaker,
		drift_ms: driftAt(state, segment, at),
		timers: (state.timers ?? []).map((timer) => timerAt(timer, state.server_time ?? at, at)),
		// The segment's own thresholds where the server sends them (`segment_clock.warning_ms`
		// and `danger_ms`), else the connection's settings, else the server's defaults.
		warning_ms: state.segment_clock?.warning_ms ?? state.current?.warning_ms ?? warningMs ?? DEFAULT_WARNING_MS,
		danger_ms: state.segment_clock?.danger_ms ?? state.current?.danger_ms ?? dangerMs ?? DEFAULT_DANGER_MS,
	}
}

/**
 * A side timer of the flat state at `now`: its `ms` was taken at `then` (the state's
 * `server_time`); while it runs, a count down loses and a count up gains the time since.
 */
function timerAt(timer, then, now) {
	const moved = timer.running ? Math.max(0, now - then) : 0
	const ms = timer.direction === 'up' ? timer.ms + moved : timer.ms - moved
	return {
		id: timer.id,
		name: timer.name,
		running: !!timer.running,
		ms,
		over: timer.direction !== 'up' && ms < 0,
		text: timer.direction === 'up' ? clockText(ms) : remainingText(ms),
	}
}

/** Whether the stage's `which` (blackout, on_air, fullscreen) is on at the snapshot. */
function stageSwitch(snap, which) {
	const stage = snap.state?.stage
	if (!stage) return false
	if (which === 'fullscreen') return !!stage.fullscreen && (stage.fullscreen.until == null || stage.fullscreen.until > snap.now)
	return !!stage[which]
}

/** Whether the side timer at `place` (1 = first) runs, or is a count down below zero. */
function timerIs(snap, place, state) {
	const timer = snap.timers?.[Number(place) - 1]
	if (!timer) return false
	return state === 'over' ? timer.over : timer.running
}

/** `normal`, `warning`, `danger` or `overrun` for a remaining time, as the stage screen colours it. */
function level(remaining, warningMs, dangerMs) {
	if (remaining == null) return 'none'
	if (remaining < 0) return 'overrun'
	if (remaining <= dangerMs) return 'danger'
	if (remaining <= warningMs) return 'warning'
	return 'normal'
}

/** The level of the segment's (or the speaker's) clock; `none` unless live on a segment. */
function clockLevel(snap, which = 'segment') {
	const clock = which === 'speaker' ? snap.speaker : snap.segment
	if (!clock || snap.state?.phase !== 'live') return 'none'
	return level(clock.remaining_ms, snap.warning_ms, snap.danger_ms)
}

/** The open cues (oldest first) waiting for a GO: on standby or standing by. */
function waitingCues(state) {
	return (state?.cues ?? []).filter((c) => c.state === 'standby' || c.state === 'standing_by')
}

/** Whether a cue for `position` (`any` for all) is in `which` state (`waiting`: standby or standing by). */
function cueWaiting(state, position = 'any', which = 'waiting') {
	return waitingCues(state).some(
		(c) =>
			(position === 'any' || cuePosition(c) === position) &&
			(which === 'waiting' || c.state === which),
	)
}

/** The Companion variable definitions (ids and names); the values come from `variables`. */
const VARIABLES = [
	['connection', 'Link to the server: connected, connecting or disconnected'],
	['phase', 'Phase: standby, live or ended'],
	['status', 'Status word: STANDBY, LIVE, HOLD or ENDED'],
	['held', 'Held (clocks paused): true or false'],
	['segment_id', 'Current segment: id'],
	['segment_title', 'Current segment: title (in the configured language)'],
	['segment_number', 'Current segment: number (1-based)'],
	['segment_kind', 'Current segment: kind'],
	['segment_remaining', 'Segment clock: remaining (MM:SS, -MM:SS once overrun)'],
	['segment_elapsed', 'Segment clock: elapsed'],
	['overrun', 'Segment overrun: true or false'],
	['speaker', 'Current speaker: name'],
	['speaker_remaining', 'Speaker clock: remaining (empty without a planned slot)'],
	['speaker_elapsed', 'Speaker clock: elapsed'],
	['next_id', 'Next segment: id'],
	['next_title', 'Next segment: title'],
	['drift', 'Drift of the day (+ behind schedule, - ahead)'],
	['queue_on_deck', 'Queue: who is on deck'],
	['queue_speaking', 'Queue: who speaks'],
	['queue_waiting', 'Queue: how many wait'],
	['queue_policy', 'Queue: policy'],
	['queue_closed', 'Queue: list of speakers closed (true/false)'],
	['cues_open', 'Cues: how many are open (standby, standing by, go)'],
	['cues_waiting', 'Cues: how many wait for a GO (standby or standing by)'],
	['cue_standby_text', 'Cues: the oldest one waiting for a GO, its text'],
	['cue_standby_target', 'Cues: the oldest one waiting for a GO, its crew position'],
	['cue_standby_state', 'Cues: the oldest one waiting for a GO, standby or standing_by'],
	['questions_pending', 'Questions: waiting for moderation'],
	['questions_approved', 'Questions: approved and open'],
	['question_on_screen', 'Questions: the one on screen, its text'],
	['poll_id', 'Poll: the open one, its id'],
	['stage_message', 'Stage screen: the chair’s message or signal (when the server sends it)'],
	['poll_voters', 'Poll: the open one, how many voted'],
	['blackout', 'Stage: blacked out (true/false)'],
	['on_air', 'Stage: ON AIR (true/false)'],
	['fullscreen', 'Stage: the full-screen message on it, its text'],
	['timers', 'Side timers: how many'],
	['notes_unread', 'Crew notes: how many wait to be read (chair tokens)'],
	['note_text', 'Crew notes: the oldest unread, its text'],
	['note_from', 'Crew notes: the oldest unread, who sent it'],
	...[1, 2, 3].flatMap((n) => [
		[`timer${n}_id`, `Side timer ${n}: its id`],
		[`timer${n}_name`, `Side timer ${n}: its name`],
		[`timer${n}_time`, `Side timer ${n}: its time (left of a count down, counted of a count up)`],
	]),
	['seq', 'Last change seq applied'],
].map(([variableId, name]) => ({ variableId, name }))

const CONNECTION_WORDS = { up: 'connected', connecting: 'connecting', down: 'disconnected' }

/** Every variable's value at the snapshot, in `lang` (zh, ja or en). */
function variables(snap, lang = 'en') {
	const s = snap.state
	const connection = CONNECTION_WORDS[snap.link] ?? 'disconnected'
	if (!s) {
		const empty = Object.fromEntries(VARIABLES.map((v) => [v.variableId, '']))
		return { ...empty, connection }
	}
	const oldest = waitingCues(s)[0] ?? null
	const queue = s.queue ?? null
	const status = s.phase === 'live' ? (s.held ? 'HOLD' : 'LIVE') : String(s.phase ?? '').toUpperCase()
	return {
		connection,
		phase: s.phase ?? '',
		status,
		held: !!s.held,
		segment_id: s.current?.id ?? '',
		segment_title: localized(s.current?.title, lang),
		segment_number: s.current ? s.current.index + 1 : '',
		segment_kind: s.current?.kind ?? '',
		segment_remaining: snap.segment?.remaining ?? '',
		segment_elapsed: snap.segment?.elapsed ?? '',
		overrun: !!snap.segment?.overrun,
		speaker: localized(s.speaker?.name, lang),
		speaker_remaining: snap.speaker?.remaining ?? '',
		speaker_elapsed: snap.speaker?.elapsed ?? '',
		next_id: s.next?.id ?? '',
		next_title: localized(s.next?.title, lang),
		drift: snap.drift_ms == null ? '' : driftText(snap.drift_ms),
		queue_on_deck: queue?.on_deck ?? '',
		queue_speaking: queue?.speaking ?? '',
		queue_waiting: queue ? queue.waiting : 0,
		queue_policy: queue?.policy ?? '',
		queue_closed: !!queue?.closed,
		cues_open: (s.cues ?? []).length,
		cues_waiting: waitingCues(s).length,
		cue_standby_text: oldest ? localized(oldest.text, lang) : '',
		cue_standby_target: oldest ? (typeof oldest.target === 'string' ? oldest.target : localized(oldest.target?.person, lang)) : '',
		cue_standby_state: oldest?.state ?? '',
		questions_pending: s.questions?.pending ?? '',
		questions_approved: s.questions?.approved ?? 0,
		question_on_screen: s.questions?.on_screen?.text ?? '',
		poll_id: s.poll?.id ?? '',
		poll_voters: s.poll ? s.poll.voters : '',
		stage_message: s.stage?.message ? (s.stage.message.text ?? s.stage.message.kind ?? '') : '',
		blackout: stageSwitch(snap, 'blackout'),
		on_air: stageSwitch(snap, 'on_air'),
		fullscreen: stageSwitch(snap, 'fullscreen') ? s.stage.fullscreen.text : '',
		timers: snap.timers.length,
		notes_unread: s.notes ? s.notes.unread : '',
		note_text: s.notes?.oldest ? localized(s.notes.oldest.text, lang) : '',
		note_from: s.notes?.oldest?.name ?? '',
		...Object.fromEntries(
			[1, 2, 3].flatMap((n) => {
				const timer = snap.timers[n - 1]
				return [
					[`timer${n}_id`, timer?.id ?? ''],
					[`timer${n}_name`, timer?.name ?? ''],
					[`timer${n}_time`, timer?.text ?? ''],
				]
			}),
		),
		seq: s.seq ?? '',
	}
}

/**
 * Everything the feedbacks look at, as one comparable object: when it changes, the
 * feedbacks are checked again.
 */
function feedbackInputs(snap) {
	const s = snap.state
	return {
		link: snap.link,
		phase: s?.phase ?? null,
		held: !!s?.held,
		segment: clockLevel(snap, 'segment'),
		speaker: clockLevel(snap, 'speaker'),
		cues: waitingCues(s).map((c) => `${c.id}:${cuePosition(c)}:${c.state}`).join(','),
		queue_closed: !!s?.queue?.closed,
		stage: ['blackout', 'on_air', 'fullscreen'].map((which) => stageSwitch(snap, which)).join(','),
		timers: (snap.timers ?? []).map((t) => `${t.running}:${t.over}`).join(','),
		notes: s?.notes?.unread ?? 0,
	}
}

module.exports = {
	LANGS,
	POSITIONS,
	DEFAULT_WARNING_MS,
	DEFAULT_DANGER_MS,
	VARIABLES,
	localized,
	cuePosition,
	snapshot,
	level,
	clockLevel,
	waitingCues,
	cueWaiting,
	stageSwitch,
	timerIs,
	timerAt,
	variables,
	feedbackInputs,
}
