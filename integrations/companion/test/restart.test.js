'use strict'
// After the server stops (cleanly, then as a crash) and starts again on the same port and
// data dir, the module reconnects with Last-Event-ID and its variables and feedbacks follow
// the first change within a second of the server being back.

const test = require('node:test')
const assert = require('node:assert/strict')
const { Server, waitFor } = require('./helpers/server.js')
const { startModule } = require('./helpers/module.js')
const { CHECKS } = require('../src/feedbacks.js')

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

test('after a server restart the module follows a change within a second (Last-Event-ID resume)', async (t) => {
	const server = await new Server().start()
	t.after(() => server.cleanup())
	const m = await startModule(server)
	t.after(() => m.stop())
	const shown = { ...m.controller.lastVariables }
	m.controller.on('variables', (values) => Object.assign(shown, values))
	const feedback = (id, options = {}) => CHECKS[id](m.controller.snapshot(), options)
	const seqs = []
	m.controller.on('change', (frame) => seqs.push(frame.seq))

	await server.post('next')
	await waitFor(() => shown.segment_id === 'opening', 1000, 'the show to start')
	const tokens = { ...server.tokens }

	const steps = [
		{ signal: 'SIGTERM', command: 'next', args: {}, check: () => shown.segment_id === 'keynotes' && shown.speaker === 'Zhang Ying' },
		{ signal: 'SIGKILL', command: 'hold', args: {}, check: () => shown.held === true && feedback('held') },
	]
	for (const { signal, command, args, check } of steps) {
		const seqBefore = (await server.state()).seq
		await server.stop(signal)
		await waitFor(() => shown.connection === 'disconnected' && feedback('link', { up: false }), 1000, `the link to drop (${signal})`)
		// Away long enough for the reconnect backoff to reach its cap.
		await sleep(1500)
		await server.start()
		const back = server.servingAt
		assert.deepEqual(server.tokens, tokens, 'the data dir keeps the tokens')
		await server.post(command, args)
		const { ms } = await waitFor(check, 1000 - (Date.now() - back), `${command} after the restart (${signal})`)
		const since = Date.now() - back
		assert.ok(since <= 1000, `followed ${since} ms after the server was back`)
		t.diagnostic(`${signal}: ${command} followed ${ms} ms after the POST, ${since} ms after the server was back`)
		assert.equal(shown.connection, 'connected')
		assert.equal(feedback('link', { up: true }), true)
		// The stream resumed from the last change the module had, and missed none.
		const resumes = m.requests.filter((r) => r.url.endsWith('/stream') && r.at >= back - 50)
		assert.ok(resumes.length >= 1)
		assert.equal(resumes[0].headers['Last-Event-ID'], String(seqBefore))
		const seqAfter = (await server.state()).seq
		await waitFor(() => m.controller.lastEventId === String(seqAfter), 1000, 'the last change id')
	}
	assert.deepEqual(
		seqs,
		seqs.map((_, i) => seqs[0] + i),
		`every change came once, in order, across both restarts: ${seqs}`,
	)
})
