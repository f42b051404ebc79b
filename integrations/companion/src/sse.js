'use strict'
// A small Server-Sent Events reader over fetch's body stream (the HTML standard's
// "event stream interpretation"): no dependency, and it sends `Last-Event-ID` itself on
// every reconnect, which is all the module needs of EventSource.

/**
 * Cuts a text stream into events. `push(text)` as chunks arrive; `onEvent({event, data,
 * id})` for each event dispatched. `lastEventId` follows the `id:` fields, as EventSource's
 * does (an event without an id keeps the last one).
 */
class SseParser {
	constructor(onEvent, lastEventId = '') {
		this.onEvent = onEvent
		this.lastEventId = lastEventId
		this.buffer = ''
		this.skipLf = false
		this.reset()
	}

	reset() {
		this.eventType = ''
		this.data = []
		this.sawId = false
	}

	push(text) {
		let start = 0
		let i = 0
		// A CR at the end of one chunk and the LF at the start of the next are one line end.
		if (this.skipLf && text.startsWith('\n')) {
			start = i = 1
		}
		this.skipLf = false
		for (; i < text.length; i++) {
			const c = text.charCodeAt(i)
			if (c !== 10 && c !== 13) continue
			this.line(this.buffer + text.slice(start, i))
			this.buffer = ''
			if (c === 13) {
				if (i + 1 === text.length) this.skipLf = true
				else if (text.charCodeAt(i + 1) === 10) i++
			}
			start = i + 1
		}
		this.buffer += text.slice(start)
	}

	line(line) {
		if (line === '') {
			this.dispatch()
			return
		}
		if (line.startsWith(':')) return // a comment: `: heartbeat`
		const colon = line.indexOf(':')
		const field = colon < 0 ? line : line.slice(0, colon)
		let value = colon < 0 ? '' : line.slice(colon + 1)
		if (value.startsWith(' ')) value = value.slice(1)
		switch (field) {
			case 'event':
				this.eventType = value
				break
			case 'data':
				this.data.push(value)
				break
			case 'id':
				if (!value.includes('\0')) {
					this.lastEventId = value
					this.sawId = true
				}
				break
			default:
				// `retry` and unknown fields: the module keeps its own backoff.
				break
		}
	}

	dispatch() {
		const { eventType, data, sawId } = this
		this.reset()
		if (data.length === 0) return
		this.onEvent({ event: eventType || 'message', data: data.join('\n'), id: sawId ? this.lastEventId : null })
	}
}

/**
 * Reads one stream response to its end, calling `onEvent` for each event and `onActivity`
 * for every chunk (heartbeats included). Resolves when the server ends the stream; rejects
 * on a network error or when `signal` aborts.
 */
async function readEvents(body, parser, onActivity) {
	const decoder = new TextDecoder('utf-8')
	const reader = body.getReader()
	try {
		for (;;) {
			const { value, done } = await reader.read()
			if (done) break
			onActivity()
			parser.push(decoder.decode(value, { stream: true }))
		}
		parser.push(decoder.decode())
	} finally {
		reader.releaseLock()
	}
}

module.exports = { SseParser, readEvents }
