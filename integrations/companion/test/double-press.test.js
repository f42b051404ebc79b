'use strict'
// A double press of Next advances the show once: two presses at once, or a second one a
// moment later, from the start of the show or from a live segment; a press whose answer
// the network lost is retried under the same Idempotency-Key and applied once.

const test = require('node:test')
const assert = require('node:assert/strict')
const { Server, waitFor } = require('./helpers/server.js')
const { startModule } = require('./helpers/module.js')

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/**
 * The answer to a request sent again with its first key: 200 with the state, as
 * docs/integrations.md says; the server now answers one that carries `expect` with 409
 * conflict once the first sending has moved the show (it checks `expect` before it knows
 * the key). Either way nothing was applied twice, which the tests check on the show.
 */
function answeredAgain(result) {
	return result.ok || (result.status === 409 && result.code === 'conflict')
}

test('a double press of Next advances the show by exactly one segment', async (t) => {
	const server = await new Server().start()
	t.after(() => server.cleanup())
	const m = await startModule(server)
	t.after(() => m.stop())
	const current = async () => (await server.state()).current?.id ?? null

	// Two presses at once, from standby (where the first next goes without expect): the
	// second one re-sends the first one's request and key, and is answered, not applied.
	let results = await Promise.all([m.press('next'), m.press('next')])
	assert.equal(results[0].ok, true)
	assert.ok(answeredAgain(results[1]), `the second: ${JSON.stringify(results[1])}`)
	assert.equal(await current(), 'opening')
	assert.equal((await server.state()).seq, 1, 'one change only')

	// A second press 150 ms after the first one's answer: the same.
	await sleep(1100)
	const first = await m.press('next')
	await sleep(150)
	const second = await m.press('next')
	assert.equal(first.ok, true)
	assert.equal(second.doublePress, true)
	assert.ok(answeredAgain(second), `the second: ${JSON.stringify(second)}`)
	assert.equal(await current(), 'keynotes')
	const posts = m.requests.filter((r) => r.method === 'POST').slice(-2)
	assert.equal(posts[0].headers['Idempotency-Key'], posts[1].headers['Idempotency-Key'])
	assert.equal(new URL(posts[1].url).searchParams.get('expect'), 'opening', 'pressed against the segment the first saw')

	// Without the module's window, `expect` alone keeps two presses at once to one step:
	// the second is refused 409 conflict, logged, not thrown.
	const bare = await startModule(server, { doublePressMs: 0 })
	t.after(() => bare.stop())
	await sleep(1100)
	results = await Promise.all([bare.press('next'), bare.press('next')])
	assert.equal(await current(), 'round-table')
	assert.deepEqual(results.map((r) => r.ok).sort(), [false, true])
	const refused = results.find((r) => !r.ok)
	assert.equal(refused.status, 409)
	assert.equal(refused.code, 'conflict')
	const keys = bare.requests.filter((r) => r.method === 'POST').map((r) => r.headers['Idempotency-Key'])
	assert.equal(new Set(keys).size, 2, 'each press its own key')
	assert.ok(
		bare.logs.some((l) => l.level === 'info' && /not applied, the show moved/.test(l.message)),
		`the conflict is logged at info: ${JSON.stringify(bare.logs)}`,
	)

	// After the window a press applies again.
	await sleep(1100)
	assert.equal((await m.press('next')).ok, true)
	assert.equal(await current(), 'closing')

	// The answer is lost on the way back (the server applied the press): the module sends it
	// again with the same key and arguments, and the server answers without applying it twice.
	await server.post('previous')
	let lost = 0
	const flaky = async (url, init) => {
		const res = await fetch(url, init)
		if (init?.method === 'POST' && lost++ === 0) {
			await res.arrayBuffer()
			throw new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } })
		}
		return res
	}
	const retrying = await startModule(server, { fetch: flaky })
	t.after(() => retrying.stop())
	const seq = (await server.state()).seq
	const retried = await retrying.press('next')
	assert.equal(retried.attempts, 2)
	assert.ok(answeredAgain(retried), `the retry: ${JSON.stringify(retried)}`)
	const attempts = retrying.requests.filter((r) => r.method === 'POST')
	assert.equal(attempts.length, 2)
	assert.equal(attempts[0].headers['Idempotency-Key'], attempts[1].headers['Idempotency-Key'])
	assert.equal(attempts[0].url, attempts[1].url)
	assert.equal(await current(), 'closing')
	assert.equal((await server.state()).seq, seq + 1, 'applied once')
	await waitFor(() => retrying.controller.state?.current?.id === 'closing', 1000, 'the module to show it')
})
