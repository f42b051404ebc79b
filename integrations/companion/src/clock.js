'use strict'
// Clocks as a key shows them, and the local count between two states of the server.
// The text follows the server's own rules (src/domain/live.rs `clock_text` and
// `remaining_text`), so a key that counts locally reads what the server would answer.

/** `-1:05`, `04:59`, `1:02:03`: whole seconds cut off; `-` once below zero. */
function clockText(ms) {
	const seconds = Math.floor(Math.abs(ms) / 1000)
	const sign = ms < 0 && seconds > 0 ? '-' : ''
	const h = Math.floor(seconds / 3600)
	const m = Math.floor(seconds / 60) % 60
	const s = seconds % 60
	const two = (n) => String(n).padStart(2, '0')
	return h > 0 ? `${sign}${h}:${two(m)}:${two(s)}` : `${sign}${two(m)}:${two(s)}`
}

/** A countdown rounds up to the second, so that it reads 00:00 only at the end. */
function remainingText(ms) {
	return clockText(ms > 0 ? Math.ceil(ms / 1000) * 1000 : ms)
}

/** `+01:01` behind schedule, `-02:00` ahead, `00:00` on time. */
function driftText(ms) {
	return `${ms > 0 ? '+' : ''}${clockText(ms)}`
}

/**
 * One clock of the flat state (`segment_clock` or `speaker_clock`) at `now` on the
 * server's clock, by the formula of docs/integrations.md: `elapsed = (held_since ?? now) −
 * started_at − paused_ms`, remaining = planned − elapsed. Null for a null clock.
 */
function clockAt(clock, heldSince, now) {
	if (!clock) return null
	let elapsed = clock.elapsed_ms ?? 0
	if (clock.started_at != null) {
		elapsed = Math.max(0, (heldSince ?? now) - clock.started_at - (clock.paused_ms ?? 0))
	}
	const remaining = clock.planned_ms == null ? null : clock.planned_ms - elapsed
	return {
		planned_ms: clock.planned_ms ?? null,
		elapsed_ms: elapsed,
		remaining_ms: remaining,
		elapsed: clockText(elapsed),
		remaining: remaining == null ? null : remainingText(remaining),
		overrun: remaining != null && remaining < 0,
	}
}

/**
 * The day's drift at `now` (docs/protocol.md: projected end = now + max(remaining, 0) + the
 * later segments' durations; in standby max(now, planned start) + all durations; fixed once
 * ended), moved on from the state's `drift_ms` at its `server_time`.
 */
function driftAt(state, segment, now) {
	const base = state.drift_ms ?? 0
	const then = state.server_time ?? now
	if (state.phase === 'live' && state.segment_clock && segment && segment.remaining_ms != null) {
		const later = state.projected_end - then - Math.max(state.segment_clock.remaining_ms ?? 0, 0)
		const projected = now + Math.max(segment.remaining_ms, 0) + later
		return projected - (state.planned_end ?? state.projected_end - base)
	}
	if (state.phase === 'standby') {
		const start = state.next?.planned_start ?? then
		return base + Math.max(now, start) - Math.max(then, start)
	}
	return base
}

/**
 * Milliseconds until the text of a value counting at one millisecond per millisecond
 * (`direction` +1 or −1) next changes: every text above changes on a whole second.
 */
function untilNextSecond(ms, direction) {
	const into = ((ms % 1000) + 1000) % 1000
	if (direction > 0) return 1000 - into
	return into === 0 ? 1000 : into
}

module.exports = { clockText, remainingText, driftText, clockAt, driftAt, untilNextSecond }
