'use strict'
// A minimal websocket client (RFC 6455, text frames) for the tests' other participants: an
// attendee who asks to speak or asks a question, the AV crew answering a cue, a chair
// approving a question. Node 20 has no WebSocket without a flag.

const net = require('node:net')
const { randomBytes } = require('node:crypto')

class WsClient {
	static async connect(baseUrl, hello) {
		const url = new URL('/ws', baseUrl)
		const socket = net.connect(Number(url.port), url.hostname)
		await new Promise((resolve, reject) => {
			socket.once('connect', resolve)
			socket.once('error', reject)
		})
		const key = randomBytes(16).toString('base64')
		socket.write(
			`GET /ws HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
				`Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
		)
		const client = new WsClient(socket)
		await client.handshake
		client.send({ type: 'hello', protocol: 1, ...hello })
		client.welcome = await client.next((m) => m.type === 'welcome' || m.type === 'error')
		if (client.welcome.type !== 'welcome') throw new Error(`ws hello refused: ${JSON.stringify(client.welcome)}`)
		return client
	}

	constructor(socket) {
		this.socket = socket
		this.buffer = Buffer.alloc(0)
		this.messages = []
		this.waiters = []
		this.ids = 0
		this.handshake = new Promise((resolve, reject) => {
			this.upgraded = resolve
			socket.once('error', reject)
		})
		this.open = false
		socket.on('data', (chunk) => this.receive(chunk))
		socket.on('error', () => {})
	}

	receive(chunk) {
		this.buffer = Buffer.concat([this.buffer, chunk])
		if (!this.open) {
			const end = this.buffer.indexOf('\r\n\r\n')
			if (end < 0) return
			const head = this.buffer.subarray(0, end).toString()
			if (!head.startsWith('HTTP/1.1 101')) throw new Error(`ws upgrade refused: ${head}`)
			this.buffer = this.buffer.subarray(end + 4)
			this.open = true
			this.upgraded()
		}
		for (;;) {
			if (this.buffer.length < 2) return
			const opcode = this.buffer[0] & 0x0f
			let len = this.buffer[1] & 0x7f
			let offset = 2
			if (len === 126) {
				if (this.buffer.length < 4) return
				len = this.buffer.readUInt16BE(2)
				offset = 4
			} else if (len === 127) {
				if (this.buffer.length < 10) return
				len = Number(this.buffer.readBigUInt64BE(2))
				offset = 10
			}
			if (this.buffer.length < offset + len) return
			const payload = this.buffer.subarray(offset, offset + len)
			this.buffer = this.buffer.subarray(offset + len)
			if (opcode === 1) this.deliver(JSON.parse(payload.toString('utf8')))
			else if (opcode === 9) this.frame(10, payload) // ping → pong
		}
	}

	deliver(message) {
		this.messages.push(message)
		const waiter = this.waiters.find((w) => w.match(message))
		if (waiter) {
			this.waiters.splice(this.waiters.indexOf(waiter), 1)
			waiter.resolve(message)
		}
	}

	frame(opcode, payload) {
		const mask = randomBytes(4)
		const len = payload.length
		const head = len < 126 ? Buffer.from([0x80 | opcode, 0x80 | len]) : Buffer.alloc(4)
		if (len >= 126) {
			head[0] = 0x80 | opcode
			head[1] = 0x80 | 126
			head.writeUInt16BE(len, 2)
		}
		const masked = Buffer.from(payload)
		for (let i = 0; i < masked.length; i++) masked[i] ^= mask[i % 4]
		this.socket.write(Buffer.concat([head, mask, masked]))
	}

	send(message) {
		this.frame(1, Buffer.from(JSON.stringify(message), 'utf8'))
	}

	/** The next message (already received or to come) matching `match`. */
	next(match, timeout = 5000) {
		const found = this.messages.find(match)
		if (found) {
			this.messages.splice(this.messages.indexOf(found), 1)
			return Promise.resolve(found)
		}
		return new Promise((resolve, reject) => {
			const waiter = {
				match,
				resolve: (m) => {
					clearTimeout(timer)
					this.messages.splice(this.messages.indexOf(m), 1)
					resolve(m)
				},
			}
			const timer = setTimeout(() => {
				this.waiters.splice(this.waiters.indexOf(waiter), 1)
				reject(new Error('ws: no matching message in time'))
			}, timeout)
			this.waiters.push(waiter)
		})
	}

	/** Sends a command; resolves with its `ack` (rejects on `error`). */
	async command(type, fields = {}) {
		const id = `t-${++this.ids}-${randomBytes(3).toString('hex')}`
		this.send({ type, id, ...fields })
		const reply = await this.next((m) => (m.type === 'ack' || m.type === 'error') && m.id === id)
		if (reply.type === 'error') throw new Error(`ws ${type}: ${reply.code}: ${reply.message}`)
		return reply
	}

	/** The change frames received so far (and forgets them). */
	drainChanges() {
		const changes = this.messages.filter((m) => m.type === 'change')
		this.messages = this.messages.filter((m) => m.type !== 'change')
		return changes
	}

	close() {
		this.socket.destroy()
	}
}

module.exports = { WsClient }
