'use strict'
// The connection's settings: the server, the event, a role token, the language of titles.

const { Regex } = require('@companion-module/base')
const { DEFAULT_WARNING_MS, DEFAULT_DANGER_MS } = require('./view.js')

function configFields() {
	return [
		{
			type: 'static-text',
			id: 'info',
			width: 12,
			label: 'eventhub',
			value:
				'The server prints each role’s link at start (…/console#event=EVENT&token=TOKEN). Use the moderator’s ' +
				'token to drive the show (the AV token can send cues only).',
		},
		{
			type: 'textinput',
			id: 'url',
			label: 'Server URL',
			width: 8,
			default: 'http://127.0.0.1:8080',
			regex: '/^https?:\\/\\/[^\\s/]+(\\/.*)?$/',
		},
		{ type: 'textinput', id: 'event', label: 'Event id', width: 4, default: 'sjtu-forum', regex: Regex.SOMETHING },
		{ type: 'secret-text', id: 'token', label: 'Role token', width: 8, default: '' },
		{
			type: 'dropdown',
			id: 'lang',
			label: 'Language of titles and names',
			width: 4,
			default: 'en',
			choices: [
				{ id: 'en', label: 'English' },
				{ id: 'zh', label: '中文' },
				{ id: 'ja', label: '日本語' },
			],
		},
		{
			type: 'number',
			id: 'warning_s',
			label: 'Warning threshold, s (used while the server does not send the segment’s own)',
			width: 6,
			default: DEFAULT_WARNING_MS / 1000,
			min: 0,
			max: 3600,
		},
		{
			type: 'number',
			id: 'danger_s',
			label: 'Danger threshold, s (likewise)',
			width: 6,
			default: DEFAULT_DANGER_MS / 1000,
			min: 0,
			max: 3600,
		},
		{
			type: 'number',
			id: 'double_press_ms',
			label: 'Double-press window, ms: a second identical press within it is not applied (0: off)',
			width: 6,
			default: 1000,
			min: 0,
			max: 5000,
		},
	]
}

/**
 * The controller's settings from Companion's config and secrets, or `{error}` when one is
 * missing. The token may sit in the secrets (Companion ≥ 4.1) or, from older setups, in
 * the config.
 */
function settingsFrom(config = {}, secrets = {}) {
	const url = String(config.url ?? '').trim()
	const event = String(config.event ?? '').trim()
	const token = String(secrets?.token ?? config.token ?? '').trim()
	if (!/^https?:\/\/\S+$/.test(url)) return { error: 'set the server URL (http://host:port)' }
	if (!event) return { error: 'set the event id' }
	if (!token) return { error: 'set a role token of the event' }
	const num = (v, fallback) => (Number.isFinite(Number(v)) && v !== '' && v != null ? Number(v) : fallback)
	return {
		url,
		event,
		token,
		lang: ['zh', 'ja', 'en'].includes(config.lang) ? config.lang : 'en',
		warningMs: num(config.warning_s, DEFAULT_WARNING_MS / 1000) * 1000,
		dangerMs: num(config.danger_s, DEFAULT_DANGER_MS / 1000) * 1000,
		doublePressMs: num(config.double_press_ms, 1000),
	}
}

module.exports = { configFields, settingsFrom }
