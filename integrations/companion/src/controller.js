'use strict'
// The module's link to one event: the flat state (GET …/state, then the SSE stream with
// Last-Event-ID resume), a local tick that counts the clocks on between events, and the
// presses. No Companion here: the instance (instance.js) only wires its events to
// variables, feedbacks and the connection status, so the tests drive this directly.

const { EventEmitter } = require('node:events')
const { randomUUID } = require('node:crypto')
const { EventhubClient, anySignal, describe } = require('./client.js')
const { SseParser, readEvents } = require('./sse.js')
const { untilNextSecond } = require('./clock.js')
const view = require('./view.js')

/** Reconnect backoff: 250 ms, then every 500 ms, so that the module is current
 * within a second of the server being back however long it was away. */
const BACKOFF_START_MS = 250
const BACKOFF_CAP_MS = 500
/** After a refusal of the token or the event (401, 403, 404): the settings are wrong. */
const REFUSED_RETRY_MS = 5000
/** The server sends `: heartbeat` every 15 s; a stream silent this long is dead. */
const STREAM_SILENCE_MS = 40_000

class HttpRefusal extends Error {
	constructor(result) {
		super(`${result.status} ${result.code}: ${result.message}`)
		this.status = result.status
		this.code = result.code
	}
}

/**
 * Events: `variables` (the values that changed), `feedbacks` (the feedbacks' inputs
 * changed), `status` ({status, message}: ok, connecting, disconnected,
 * authentication_failure, bad_config), `change` (each change frame of the stream), `state`.
 */
class Controller extends EventEmitter {
	/**
	 * @param {object} settings url, event, token, lang (zh|ja|en), warningMs, dangerMs,
	 *   doublePressMs (a second identical press within it is answered, not applied; 0: off)
	 * @param {object} [deps] fetch (for tests), log(level, message)
	 */
	constructor(settings, deps = {}) {
		super()
		this.settings = { lang: 'en', doublePressMs: 1000, ...settings }
		this.log = deps.log ?? (() => {})
		this.client = new EventhubClient({ ...this.settings, fetch: deps.fetch })
		this.fetch = deps.fetch ?? globalThis.fetch
		this.state = null
		this.offset = 0 // server clock − local clock, ms
		this.lastEventId = null
		this.link = 'connecting'
		this.lastVariables = {}
		this.lastInputs = null
		this.presses = new Map()
		this.stopped = true
		this.tickTimer = null
	}

	/** Now on the server's clock. */
	serverNow() {
		return Date.now() + this.offset
	}

	snapshot(now = this.serverNow()) {
		return view.snapshot(this.state, {
			now,
			link: this.link,
			warningMs: this.settings.warningMs,
			dangerMs: this.settings.dangerMs,
		})
	}

	variables() {
		return view.variables(this.snapshot(), this.settings.lang)
	}

	start() {
		if (!this.stopped) return
		this.stopped = false
		this.abort = new AbortController()
		this.setStatus('connecting')
		this.loop = this.run().catch((e) => this.log('error', `eventhub: the link stopped: ${e?.stack ?? e}`))
		this.update()
	}

	async stop() {
		if (this.stopped) return
		this.stopped = true
		this.abort.abort()
		clearTimeout(this.tickTimer)
		this.tickTimer = null
		await this.loop
	}

	// --- the link ---------------------------------------------------------------------

	async run() {
		let delay = BACKOFF_START_MS
		while (!this.stopped) {
			let wait
			try {
				if (!this.state) await this.refreshState(true)
				await this.stream(() => {
					delay = BACKOFF_START_MS
				})
				if (this.stopped) break
				this.log('info', 'eventhub: the event stream ended; reconnecting')
				wait = delay
			} catch (e) {
				if (this.stopped) break
				if (e instanceof HttpRefusal && [401, 403, 404].includes(e.status)) {
					this.setStatus(e.status === 404 ? 'bad_config' : 'authentication_failure', e.message)
					wait = REFUSED_RETRY_MS
				} else {
					this.log('debug', `eventhub: no link (${describe(e)}); again in ${delay} ms`)
					wait = delay
				}
			}
			this.setLink('down')
			if (this.link === 'down' && this.status !== 'authentication_failure' && this.status !== 'bad_config') {
				this.setStatus('disconnected', 'no link to the server')
			}
			await sleep(wait, this.abort.signal)
			delay = Math.min(delay * 2, BACKOFF_CAP_MS)
		}
	}

	/** GET …/state; `reset` takes it whatever its seq (a first state, or a new server). */
	async refreshState(reset = false) {
		const result = await this.client.getState(this.abort.signal)
		if (!result.ok) throw new HttpRefusal(result)
		this.applyState(result.state, { reset, sentAt: result.sentAt, receivedAt: result.receivedAt })
	}

	/** One stream, from its response to its end. `opened()` once the server answered. */
	async stream(opened) {
		const streamAbort = new AbortController()
		const headers = this.client.headers({ Accept: 'text/event-stream' })
		const resuming = this.lastEventId != null
		if (resuming) headers['Last-Event-ID'] = this.lastEventId
		const either = anySignal(this.abort.signal, streamAbort.signal)
		try {
			await this.readStream(either.signal, headers, resuming, streamAbort, opened)
		} finally {
			either.dispose()
		}
	}

	async readStream(signal, headers, resuming, streamAbort, opened) {
		const res = await this.fetch(this.client.streamUrl(), { headers, signal })
		if (!res.ok) {
			const text = await res.text().catch(() => '')
			let body = {}
			try {
				body = JSON.parse(text)
			} catch {
				body = {}
			}
			throw new HttpRefusal({ status: res.status, code: body.code ?? `http_${res.status}`, message: body.message ?? text })
		}
		opened()
		this.setLink('up')
		this.setStatus('ok')
		// A resumed stream replays the missed changes and then a state, but nothing when
		// nothing was missed: ask for the state once, so the clocks are fresh either way.
		if (resuming) this.refreshState().catch(() => {})
		let first = true
		const parser = new SseParser((ev) => {
			const firstOnStream = first
			first = false
			this.onStreamEvent(ev, firstOnStream)
		}, this.lastEventId ?? '')
		let lastActivity = Date.now()
		const watchdog = setInterval(() => {
			if (Date.now() - lastActivity > STREAM_SILENCE_MS) streamAbort.abort()
		}, 5000)
		try {
			await readEvents(res.body, parser, () => {
				lastActivity = Date.now()
			})
		} finally {
			clearInterval(watchdog)
		}
	}

	onStreamEvent(ev, firstOnStream) {
		let data
		try {
			data = JSON.parse(ev.data)
		} catch {
			this.log('warn', `eventhub: an event that is not JSON (${ev.event})`)
			return
		}
		if (ev.event === 'change') {
			if (ev.id != null) this.lastEventId = ev.id
			this.emit('change', data)
		} else if (ev.event === 'state') {
			// A stream that starts over begins with a state: take it whatever its seq (the
			// server may have been replaced); later ones only when not older than ours.
			this.applyState(data, { reset: firstOnStream })
		}
	}

	/** Takes a flat state unless it is older than the one held (by seq). */
	applyState(state, { reset = false, sentAt, receivedAt } = {}) {
		if (!state || typeof state !== 'object') return
		if (!reset && this.state && state.seq < this.state.seq) return
		if (typeof state.server_time === 'number') {
			const local = sentAt != null && receivedAt != null ? (sentAt + receivedAt) / 2 : Date.now()
			this.offset = state.server_time - local
		}
		this.state = state
		this.emit('state', state)
		this.update()
	}

	setLink(link) {
		if (this.link === link) return
		this.link = link
		this.update()
	}

	setStatus(status, message) {
		if (this.status === status && this.statusMessage === message) return
		this.status = status
		this.statusMessage = message
		this.emit('status', { status, message })
	}

	// --- the local tick -----------------------------------------------------------------

	/** Recomputes what the keys show; emits what changed; plans the next tick. */
	update() {
		if (this.stopped) return
		const snap = this.snapshot()
		const values = view.variables(snap, this.settings.lang)
		const changed = {}
		for (const [id, value] of Object.entries(values)) {
			if (this.lastVariables[id] !== value) changed[id] = value
		}
		this.lastVariables = values
		if (Object.keys(changed).length) this.emit('variables', changed)
		const inputs = JSON.stringify(view.feedbackInputs(snap))
		if (inputs !== this.lastInputs) {
			this.lastInputs = inputs
			this.emit('feedbacks')
		}
		clearTimeout(this.tickTimer)
		this.tickTimer = setTimeout(() => this.update(), nextTickMs(snap))
	}

	// --- presses -------------------------------------------------------------------------

	/**
	 * Sends `command` (an entry of commands.js) with `args`. A show command is pressed
	 * against the current segment (`expect`) while the show is live on one. Each press has a
	 * fresh Idempotency-Key, kept for its retries; a second identical press within
	 * `doublePressMs` re-sends the first one's request and key, which the server answers
	 * without applying it again (as it does for presses without a key). Never throws:
	 * resolves with `{ok, status, code, message, state, doublePress}`.
	 */
	async press(command, args = {}) {
		const now = Date.now()
		const signature = `${command.path}?${new URLSearchParams(Object.entries(args).sort()).toString()}`
		for (const [sig, press] of this.presses) {
			if (now - press.at >= this.settings.doublePressMs) this.presses.delete(sig)
		}
		let request = this.settings.doublePressMs > 0 ? this.presses.get(signature) : undefined
		const doublePress = !!request
		if (!request) {
			const sent = { ...args }
			const s = this.state
			if (command.expect && s?.phase === 'live' && s.current?.id) sent.expect = s.current.id
			request = { at: now, key: randomUUID(), args: sent }
			if (this.settings.doublePressMs > 0) this.presses.set(signature, request)
		}
		let result
		try {
			result = await this.client.command(command.path, request.args, request.key)
		} catch (e) {
			this.log('warn', `eventhub: ${command.path}: ${e.message}`)
			return { ok: false, status: 0, code: 'network', message: e.message, doublePress }
		}
		result.doublePress = doublePress
		result.args = request.args
		if (result.ok) {
			this.applyState(result.state, { sentAt: result.sentAt, receivedAt: result.receivedAt })
			this.log('debug', `eventhub: ${command.path}${doublePress ? ' (double press: answered, not applied again)' : ''}: done`)
		} else if (result.status === 409 && result.code === 'conflict' && (doublePress || result.attempts > 1)) {
			// The same request again (a double press, or a retry after a lost answer), refused
			// because its first sending moved the show on: applied once, as meant.
			this.log('info', `eventhub: ${command.path}: sent again, not applied again (${result.message})`)
		} else if (result.status === 409 && result.code === 'conflict') {
			// A double press or a press that crossed someone else's: nothing was applied.
			this.log('info', `eventhub: ${command.path}: not applied, the show moved (${result.message})`)
		} else if (result.status === 409) {
			this.log('info', `eventhub: ${command.path}: not possible now (${result.message})`)
		} else {
			this.log('warn', `eventhub: ${command.path}: ${result.status} ${result.code}: ${result.message}`)
		}
		return result
	}
}

/**
 * Milliseconds to the next tick: when the next text a key shows changes (a clock or the
 * drift passing a whole second, on the server's clock), at most a second away.
 */
function nextTickMs(snap) {
	const s = snap.state
	const candidates = [1000]
	if (s?.phase === 'live') {
		if (!s.held) {
			for (const clock of [snap.segment, snap.speaker]) {
				if (!clock) continue
				candidates.push(untilNextSecond(clock.elapsed_ms, +1))
				if (clock.remaining_ms != null) candidates.push(untilNextSecond(clock.remaining_ms, -1))
			}
		}
		if (s.held || (snap.segment && snap.segment.remaining_ms <= 0)) {
			candidates.push(untilNextSecond(snap.drift_ms, +1))
		}
	} else if (s?.phase === 'standby' && snap.drift_ms != null) {
		candidates.push(untilNextSecond(snap.drift_ms, +1))
	}
	return Math.max(5, Math.min(...candidates) + 3)
}

function sleep(ms, signal) {
	return new Promise((resolve) => {
		if (signal?.aborted) return resolve()
		const timer = setTimeout(done, ms)
		function done() {
			clearTimeout(timer)
			signal?.removeEventListener('abort', done)
			resolve()
		}
		signal?.addEventListener('abort', done, { once: true })
	})
}

module.exports = { Controller, nextTickMs, BACKOFF_START_MS, BACKOFF_CAP_MS }
