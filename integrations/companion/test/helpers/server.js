'use strict'
// Starts the real eventhub server for a test: its own port (0 at first) and a fresh data
// dir, the demo event, tokens read from what it prints. The binary is EVENTHUB_BIN, else
// the repository's target/debug/eventhub, which `cargo test` has just built.

const { spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')

const PACKAGE = path.resolve(__dirname, '..', '..')
const REPO = path.resolve(PACKAGE, '..', '..')
const BIN = process.env.EVENTHUB_BIN
	? path.resolve(process.env.EVENTHUB_BIN)
	: path.join(REPO, 'target', 'debug', 'eventhub')
const ROLES = ['organizer', 'moderator', 'av', 'speaker', 'attendee', 'display', 'captioner']
const EVENT = 'sjtu-forum'

function binary() {
	try {
		fs.accessSync(BIN, fs.constants.X_OK)
	} catch {
		throw new Error(
			`the eventhub server binary is missing at ${BIN}: build it first (cargo build, or ./test, ` +
				`which runs cargo test before these tests), or point EVENTHUB_BIN at one`,
		)
	}
	return BIN
}

class Server {
	constructor() {
		this.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'eventhub-companion-'))
		this.port = 0
		this.child = null
		this.url = null
		this.tokens = {}
		this.output = []
	}

	/** Starts (or starts again, on the same port and data dir); resolves once it serves. */
	async start() {
		const bind = `127.0.0.1:${this.port}`
		const child = spawn(
			binary(),
			[
				'--config',
				path.join(REPO, 'config', 'default.toml'),
				'--bind',
				bind,
				'--data-dir',
				this.dataDir,
				'--events-dir',
				path.join(REPO, 'config', 'events'),
			],
			{ env: { ...process.env, RUST_LOG: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] },
		)
		this.child = child
		child.stderr.on('data', (d) => this.output.push(String(d)))
		const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
		this.exited = exited
		const lines = readline.createInterface({ input: child.stdout })
		const tokens = {}
		await new Promise((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error(`eventhub did not start in 15 s:\n${this.output.join('')}`)), 15_000)
			exited.then(({ code, signal }) => {
				clearTimeout(timer)
				reject(new Error(`eventhub exited (${code ?? signal}) before serving:\n${this.output.join('')}`))
			})
			lines.on('line', (line) => {
				this.output.push(`${line}\n`)
				const serving = line.match(/serving on (http:\/\/\S+)/)
				if (serving) {
					this.url = serving[1]
					this.port = Number(new URL(this.url).port)
					this.servingAt = Date.now()
				}
				const role = line.match(/^\s+(\S+)\s+(\w+)\s+(http:\/\/\S+)$/)
				if (role && role[1] === EVENT && ROLES.includes(role[2])) {
					tokens[role[2]] = new URLSearchParams(new URL(role[3]).hash.slice(1)).get('token')
				}
				if (this.url && ROLES.every((r) => tokens[r])) {
					clearTimeout(timer)
					resolve()
				}
			})
		})
		this.tokens = tokens
		return this
	}

	/** Stops it (SIGTERM: cleanly; SIGKILL: as a crash) and waits for the exit. */
	async stop(signal = 'SIGTERM') {
		const child = this.child
		if (!child || child.exitCode !== null || child.signalCode !== null) return
		child.kill(signal)
		await this.exited
		this.child = null
	}

	async cleanup() {
		await this.stop('SIGKILL')
		fs.rmSync(this.dataDir, { recursive: true, force: true })
	}

	api(path = '') {
		return `${this.url}/api/v1/events/${EVENT}${path}`
	}

	/** GET …/state with a role's token (moderator by default). */
	async state(role = 'moderator') {
		const res = await fetch(this.api('/state'), { headers: { Authorization: `Bearer ${this.tokens[role]}` } })
		if (!res.ok) throw new Error(`GET state: ${res.status} ${await res.text()}`)
		return res.json()
	}

	/** A POST as another client would send it (curl-like): no key, no expect unless given. */
	async post(command, args = {}, role = 'moderator') {
		const qs = new URLSearchParams(args).toString()
		const res = await fetch(this.api(`/${command}${qs ? `?${qs}` : ''}`), {
			method: 'POST',
			headers: { Authorization: `Bearer ${this.tokens[role]}` },
		})
		const body = await res.json()
		if (!res.ok) throw new Error(`POST ${command}: ${res.status} ${JSON.stringify(body)}`)
		return body
	}
}

/** Polls `check` until it returns a truthy value; rejects with `what` after `timeout` ms. */
async function waitFor(check, timeout, what) {
	const start = Date.now()
	for (;;) {
		const value = await check()
		if (value) return { value, ms: Date.now() - start }
		if (Date.now() - start > timeout) throw new Error(`timed out after ${timeout} ms waiting for ${what}`)
		await new Promise((r) => setTimeout(r, 5))
	}
}

module.exports = { Server, waitFor, EVENT, PACKAGE, REPO, BIN, binary }
