'use strict'
// The control API over HTTP (docs/integrations.md): GET the flat state, POST a command.
// Node's own fetch; the token goes as `Authorization: Bearer`, never in a URL or a log.

const { randomUUID } = require('node:crypto')

/** How long one HTTP attempt may take before it counts as a network error. */
const REQUEST_TIMEOUT_MS = 5000
/** A command lost to the network is sent again (same key) after these pauses. */
const RETRY_DELAYS_MS = [250, 500, 1000, 1000]

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

class EventhubClient {
	/**
	 * @param {object} options
	 * @param {string} options.url the server's base URL, e.g. http://127.0.0.1:8080
	 * @param {string} options.event the event id, e.g. sjtu-forum
	 * @param {string} options.token a role token of the event (moderator for the show)
	 * @param {typeof fetch} [options.fetch] for tests
	 */
	constructor({ url, event, token, fetch: fetchImpl }) {
		this.base = `${String(url).replace(/\/+$/, '')}/api/v1/events/${encodeURIComponent(event)}`
		this.token = token
		this.fetch = fetchImpl ?? globalThis.fetch
		this.retryDelays = RETRY_DELAYS_MS
	}

	headers(extra = {}) {
		return { Authorization: `Bearer ${this.token}`, ...extra }
	}

	streamUrl() {
		return `${this.base}/stream`
	}

	/**
	 * GET …/state: `{ok: true, state, sentAt, receivedAt}` or `{ok: false, status, code,
	 * message}`. A network error rejects.
	 */
	async getState(signal) {
		const sentAt = Date.now()
		const either = anySignal(signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS))
		try {
			const res = await this.fetch(`${this.base}/state`, {
				headers: this.headers({ Accept: 'application/json' }),
				signal: either.signal,
			})
			return await answer(res, sentAt)
		} finally {
			either.dispose()
		}
	}

	/**
	 * POST …/{path} with `args` as query parameters and `key` as the Idempotency-Key.
	 * A network error (no answer, a reset connection, a timeout) is retried with the same
	 * key and the same arguments, so the server applies the command at most once. Resolves
	 * with `{ok: true, state, …}` or `{ok: false, status, code, message}`; rejects only when
	 * every attempt failed on the network.
	 */
	async command(path, args = {}, key = randomUUID()) {
		const query = new URLSearchParams()
		for (const [name, value] of Object.entries(args)) {
			if (value !== undefined && value !== null) query.set(name, String(value))
		}
		const qs = query.toString()
		const url = `${this.base}/${path}${qs ? `?${qs}` : ''}`
		let lastError
		for (let attempt = 0; attempt <= this.retryDelays.length; attempt++) {
			if (attempt > 0) await sleep(this.retryDelays[attempt - 1])
			const sentAt = Date.now()
			try {
				const res = await this.fetch(url, {
					method: 'POST',
					headers: this.headers({ Accept: 'application/json', 'Idempotency-Key': key }),
					signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
				})
				const result = await answer(res, sentAt)
				return { ...result, key, attempts: attempt + 1 }
			} catch (e) {
				lastError = e
			}
		}
		const error = new Error(`${path}: no answer from the server (${describe(lastError)})`)
		error.cause = lastError
		error.key = key
		throw error
	}
}

async function answer(res, sentAt) {
	const receivedAt = Date.now()
	const text = await res.text()
	let body = null
	try {
		body = text ? JSON.parse(text) : null
	} catch {
		body = null
	}
	if (res.ok && body && typeof body === 'object') return { ok: true, status: res.status, state: body, sentAt, receivedAt }
	return {
		ok: false,
		status: res.status,
		code: body?.code ?? `http_${res.status}`,
		message: body?.message ?? (text.slice(0, 200) || res.statusText),
	}
}

/**
 * A signal that aborts when any of the given ones does (undefined ones are ignored), and
 * `dispose()` to unhook it from them once done. (AbortSignal.any would do, but Companion's
 * node18 runtime lacks it.)
 */
function anySignal(...signals) {
	const controller = new AbortController()
	const hooks = []
	const dispose = () => {
		for (const [signal, listener] of hooks) signal.removeEventListener('abort', listener)
		hooks.length = 0
	}
	for (const signal of signals.filter(Boolean)) {
		if (signal.aborted) {
			dispose()
			controller.abort(signal.reason)
			break
		}
		const listener = () => {
			dispose()
			controller.abort(signal.reason)
		}
		signal.addEventListener('abort', listener, { once: true })
		hooks.push([signal, listener])
	}
	return { signal: controller.signal, dispose }
}

function describe(error) {
	if (!error) return 'unknown error'
	const cause = error.cause?.code ?? error.cause?.message
	return cause ? `${error.message}: ${cause}` : error.message
}

module.exports = { EventhubClient, anySignal, describe }
