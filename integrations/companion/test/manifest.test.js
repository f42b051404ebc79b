'use strict'
// The manifest validates with @companion-module/tools: its check (the manifest against
// @companion-module/base's schema, strictly, and the licence policy of what ships) and its
// build (the bundle, the manifest rewritten for it and validated again, the .tgz package
// that Companion imports). The build runs in a copy, so no pkg/ lands in the repository.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFile } = require('node:child_process')
const { promisify } = require('node:util')
const { validateManifest } = require('@companion-module/base')
const { PACKAGE, waitFor } = require('./helpers/server.js')
const { FakeHost } = require('./helpers/host.js')
const { COMMANDS } = require('../src/commands.js')

const run = promisify(execFile)
const TOOLS = path.dirname(require.resolve('@companion-module/tools/package.json'))
const manifest = JSON.parse(fs.readFileSync(path.join(PACKAGE, 'companion', 'manifest.json'), 'utf8'))
const pkg = JSON.parse(fs.readFileSync(path.join(PACKAGE, 'package.json'), 'utf8'))

/** Runs one of the tools' scripts with this Node; fails the test with its output. */
async function tool(script, args, cwd) {
	try {
		return await run(process.execPath, [path.join(TOOLS, 'scripts', script), ...args], {
			cwd,
			env: { ...process.env, FORCE_COLOR: '0' },
			maxBuffer: 16 * 1024 * 1024,
		})
	} catch (e) {
		assert.fail(`${script} failed (${e.code}):\n${e.stdout}\n${e.stderr}`)
	}
}

test('the manifest is complete and points at the module', () => {
	validateManifest(manifest, false)
	assert.equal(manifest.id, 'eventhub-eventhub')
	assert.equal(manifest.license, 'MIT')
	assert.equal(manifest.version, pkg.version, 'the manifest and package.json name the same version')
	assert.deepEqual(manifest.runtime, { type: 'node18', api: 'nodejs-ipc', apiVersion: '0.0.0', entrypoint: '../src/main.js' })
	assert.ok(fs.existsSync(path.join(PACKAGE, 'companion', manifest.runtime.entrypoint)))
	assert.ok(fs.readFileSync(path.join(PACKAGE, 'companion', 'HELP.md'), 'utf8').length > 500, 'HELP.md says how to use it')
})

test('companion-module-check accepts the module', async () => {
	const { stdout, stderr } = await tool('check-connection.js', [], PACKAGE)
	assert.doesNotMatch(`${stdout}${stderr}`, /validation failed/i)
})

test('companion-module-check refuses a broken manifest', async (t) => {
	// So that the check above means something: the same check on a copy without `runtime`.
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eventhub-companion-check-'))
	t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
	fs.cpSync(path.join(PACKAGE, 'package.json'), path.join(dir, 'package.json'))
	fs.mkdirSync(path.join(dir, 'companion'))
	const { runtime, ...broken } = manifest
	assert.ok(runtime)
	fs.writeFileSync(path.join(dir, 'companion', 'manifest.json'), JSON.stringify(broken))
	fs.symlinkSync(path.join(PACKAGE, 'node_modules'), path.join(dir, 'node_modules'), 'dir')
	await assert.rejects(
		run(process.execPath, [path.join(TOOLS, 'scripts', 'check-connection.js')], { cwd: dir }),
		(e) => e.code !== 0 && /validation failed/i.test(`${e.stdout}${e.stderr}`),
	)
})

test('companion-module-build packages the module', async (t) => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eventhub-companion-build-'))
	t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
	for (const entry of ['package.json', 'LICENSE', 'companion', 'src']) {
		fs.cpSync(path.join(PACKAGE, entry), path.join(dir, entry), { recursive: true })
	}
	fs.symlinkSync(path.join(PACKAGE, 'node_modules'), path.join(dir, 'node_modules'), 'dir')
	await tool('build-connection.js', ['--output', 'eventhub'], dir)
	const tgz = path.join(dir, 'eventhub.tgz')
	await waitForFile(tgz)
	const { stdout: listing } = await run('tar', ['-tzf', tgz])
	const files = listing.split('\n').filter(Boolean)
	for (const file of ['pkg/main.js', 'pkg/package.json', 'pkg/companion/manifest.json', 'pkg/companion/HELP.md']) {
		assert.ok(files.includes(file), `${file} in the package (${files.join(', ')})`)
	}
	const built = JSON.parse(fs.readFileSync(path.join(dir, 'pkg', 'companion', 'manifest.json'), 'utf8'))
	validateManifest(built, false)
	assert.equal(built.runtime.entrypoint, '../main.js')
	assert.equal(built.runtime.apiVersion, require('@companion-module/base/package.json').version)
	assert.equal(built.version, pkg.version)
	const bundle = fs.readFileSync(path.join(dir, 'pkg', 'main.js'), 'utf8')
	assert.match(bundle, /queue\/policy/, 'the bundle holds the command table')

	// The package runs: Companion's side of the IPC starts the bundle with the built
	// manifest, and it registers and defines its actions (no server needed for that).
	const host = new FakeHost(path.join(dir, 'pkg', 'main.js'), path.join(dir, 'pkg', 'companion', 'manifest.json'))
	t.after(() => host.stop())
	const registration = await host.start()
	assert.equal(registration.apiVersion, built.runtime.apiVersion)
	await host.call('init', {
		label: 'eventhub',
		isFirstInit: true,
		config: {},
		secrets: {},
		lastUpgradeIndex: -1,
		feedbacks: {},
		actions: {},
	})
	await waitFor(() => host.definitions.actions && host.statuses.length, 2000, 'the definitions')
	assert.equal(host.definitions.actions.length, COMMANDS.length)
	assert.equal(host.statuses.at(-1).status, 'bad_config', 'no server, event or token set yet')
})

/** The build pipes the .tgz out after its last line: wait until it is whole. */
async function waitForFile(file) {
	for (let i = 0; i < 100; i++) {
		try {
			await run('tar', ['-tzf', file])
			return
		} catch {
			await new Promise((r) => setTimeout(r, 50))
		}
	}
	assert.fail(`${file} was not written`)
}
