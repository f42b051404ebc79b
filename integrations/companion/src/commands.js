'use strict'
// Every command of the control API (docs/integrations.md, "Commands"; docs/openapi.json),
// one entry each. An entry is all the module needs for an action: the path it POSTs to,
// its arguments (which become the action's options), and whether it is pressed against the
// live segment (`expect`). A new command of the server (timer/*, stage/blackout, …) is one
// more entry here; test/unit.test.js checks the table against docs/openapi.json.

/** An argument sent as a query parameter; `optional` ones are left out when empty. */
const text = (arg, label, more = {}) => ({ arg, type: 'text', label, default: '', optional: true, ...more })
const number = (arg, label, more = {}) => ({ arg, type: 'number', label, ...more })
const choice = (arg, label, choices, more = {}) => ({ arg, type: 'choice', label, choices, default: choices[0].id, ...more })
const flag = (arg, label, more = {}) => ({ arg, type: 'bool', label, default: false, ...more })

const queueArg = text('queue', 'Queue (empty: the live segment’s)')
const timerArg = text('timer', 'Timer id (e.g. break; the state lists them)', { optional: false })
/** A switch pressed as a toggle (the argument left out) or set on or off. */
const switchArg = (label) =>
	choice('on', label, [
		{ id: 'toggle', label: 'Toggle' },
		{ id: 'true', label: 'On' },
		{ id: 'false', label: 'Off' },
	], { omit: 'toggle' })
const pollArg = text('poll', 'Poll id (empty: the default poll)')

const GROUPS = ['Show', 'Queue', 'Cues', 'Stage', 'Timers', 'Crew notes', 'Questions & polls']

/**
 * `id`: the action id; `path`: POST /api/v1/events/{event}/{path}; `group`: the preset
 * category; `expect`: sent with `expect=<current segment id>` while the show is live on a
 * segment, so a press that crossed another's change is refused (409) instead of applied to
 * the wrong segment; `args`: the command's arguments.
 */
const COMMANDS = [
	// Show
	{ id: 'next', path: 'next', group: 'Show', name: 'Next segment', expect: true, args: [] },
	{ id: 'previous', path: 'previous', group: 'Show', name: 'Previous segment', expect: true, args: [] },
	{
		id: 'goto',
		path: 'goto',
		group: 'Show',
		name: 'Go to segment',
		expect: true,
		args: [
			text('segment', 'Segment id (e.g. round-table)', { optional: true }),
			text('index', 'or its index (0-based; used when no id is given)', { optional: true }),
		],
		prefer: ['segment', 'index'],
	},
	{ id: 'next_speaker', path: 'next_speaker', group: 'Show', name: 'Next speaker', expect: true, args: [] },
	{ id: 'hold', path: 'hold', group: 'Show', name: 'Hold (pause the clocks)', expect: true, args: [] },
	{ id: 'resume', path: 'resume', group: 'Show', name: 'Resume (run the clocks)', expect: true, args: [] },
	{ id: 'toggle_hold', path: 'toggle_hold', group: 'Show', name: 'Hold / resume', expect: true, args: [] },
	{
		id: 'extend',
		path: 'extend',
		group: 'Show',
		name: 'Extend (± seconds)',
		expect: true,
		args: [
			number('seconds', 'Seconds (negative takes time away; 0.001…3600 either way)', {
				default: 60,
				min: -3600,
				max: 3600,
				step: 1,
			}),
		],
	},
	{ id: 'end', path: 'end', group: 'Show', name: 'End the show', expect: true, args: [] },
	{ id: 'undo', path: 'undo', group: 'Show', name: 'Undo the last show transition', expect: true, args: [] },

	// Queue
	{ id: 'queue_next', path: 'queue/next', group: 'Queue', name: 'Queue: call the next person', args: [queueArg] },
	{
		id: 'queue_side',
		path: 'queue/side',
		group: 'Queue',
		name: 'Queue: set the side an entry speaks for',
		args: [
			text('entry', 'Entry id (an open entry)', { optional: false }),
			text('side', 'Side id (empty: none)'),
			queueArg,
		],
	},
	{ id: 'queue_close', path: 'queue/close', group: 'Queue', name: 'Queue: close the list of speakers', args: [queueArg] },
	{ id: 'queue_open', path: 'queue/open', group: 'Queue', name: 'Queue: open the list of speakers', args: [queueArg] },
	{
		id: 'queue_policy',
		path: 'queue/policy',
		group: 'Queue',
		name: 'Queue: order policy',
		args: [
			choice('policy', 'Policy', [
				{ id: 'first_come', label: 'First come' },
				{ id: 'alternate', label: 'Alternate (remote and in the room in turn)' },
				{ id: 'balanced', label: 'Balanced (the side that has spoken least first)' },
			]),
			queueArg,
		],
	},

	// Cues
	{
		id: 'cue_standby',
		path: 'cue/standby',
		group: 'Cues',
		name: 'Cue: standby from a preset',
		args: [text('preset', 'Cue preset id (from the event file, e.g. slides)', { optional: false })],
	},
	{
		id: 'cue_go',
		path: 'cue/go',
		group: 'Cues',
		name: 'Cue: GO',
		args: [text('cue', 'Cue id (empty: the oldest of the current segment standing by)')],
	},
	{
		id: 'cue_cancel',
		path: 'cue/cancel',
		group: 'Cues',
		name: 'Cue: cancel',
		args: [text('cue', 'Cue id (empty: the oldest on standby)')],
	},

	// Stage
	{
		id: 'stage_signal',
		path: 'stage/signal',
		group: 'Stage',
		name: 'Stage: signal',
		args: [
			choice('signal', 'Signal', [
				{ id: 'two_minutes', label: 'Two minutes' },
				{ id: 'wrap_up', label: 'Wrap up' },
				{ id: 'time_up', label: 'Time is up' },
			]),
		],
	},
	{
		id: 'stage_message',
		path: 'stage/message',
		group: 'Stage',
		name: 'Stage: message',
		args: [
			text('text', 'Message (≤ 140 characters)', { optional: false }),
			flag('pinned', 'Pinned (stays until cleared)'),
		],
	},
	{ id: 'stage_clear', path: 'stage/clear', group: 'Stage', name: 'Stage: clear the screen', args: [] },
	{ id: 'stage_blackout', path: 'stage/blackout', group: 'Stage', name: 'Stage: blackout', args: [switchArg('Blackout')] },
	{ id: 'stage_on_air', path: 'stage/on_air', group: 'Stage', name: 'Stage: ON AIR light', args: [switchArg('ON AIR')] },
	{ id: 'stage_flash', path: 'stage/flash', group: 'Stage', name: 'Stage: flash the screens', args: [] },
	{
		id: 'stage_fullscreen',
		path: 'stage/fullscreen',
		group: 'Stage',
		name: 'Stage: full-screen message',
		args: [
			text('text', 'Message (≤ 140 characters)', { optional: false }),
			text('seconds', 'For how many seconds (empty: until taken off)'),
		],
	},
	{
		id: 'stage_fullscreen_clear',
		path: 'stage/fullscreen_clear',
		group: 'Stage',
		name: 'Stage: take the full-screen message off',
		args: [],
	},

	// Side timers
	{
		id: 'timer_create',
		path: 'timer/create',
		group: 'Timers',
		name: 'Timer: create',
		args: [
			text('name', 'Name (≤ 40 characters, e.g. Break ends in)', { optional: false }),
			text('timer', 'Id (empty: timer-N)'),
			choice('direction', 'Direction', [
				{ id: 'down', label: 'Count down' },
				{ id: 'up', label: 'Count up' },
			]),
			number('seconds', 'Length in seconds (a count down’s)', { default: 300, min: 1, max: 86400, step: 1 }),
			flag('stage', 'Show on the stage screens', { default: true }),
			flag('cues', 'Show on the cue screens', { default: true }),
			flag('start', 'Start at once'),
		],
	},
	{ id: 'timer_start', path: 'timer/start', group: 'Timers', name: 'Timer: start', args: [timerArg] },
	{ id: 'timer_pause', path: 'timer/pause', group: 'Timers', name: 'Timer: pause', args: [timerArg] },
	{ id: 'timer_toggle', path: 'timer/toggle', group: 'Timers', name: 'Timer: start / pause', args: [timerArg] },
	{ id: 'timer_reset', path: 'timer/reset', group: 'Timers', name: 'Timer: reset', args: [timerArg] },
	{
		id: 'timer_adjust',
		path: 'timer/adjust',
		group: 'Timers',
		name: 'Timer: ± seconds',
		args: [timerArg, number('seconds', 'Seconds (negative: less)', { default: 60, min: -86400, max: 86400, step: 1 })],
	},
	{
		id: 'timer_show',
		path: 'timer/show',
		group: 'Timers',
		name: 'Timer: where it shows',
		args: [timerArg, flag('stage', 'On the stage screens', { default: true }), flag('cues', 'On the cue screens', { default: true })],
	},
	{ id: 'timer_remove', path: 'timer/remove', group: 'Timers', name: 'Timer: remove', args: [timerArg] },

	// Crew notes
	{
		id: 'note_read',
		path: 'note/read',
		group: 'Crew notes',
		name: 'Note: mark read',
		args: [text('note', 'Note id (empty: the oldest unread)')],
	},

	// Questions & polls
	{
		id: 'question_highlight',
		path: 'question/highlight',
		group: 'Questions & polls',
		name: 'Question: put on screen',
		args: [text('question', 'Question id (empty: the first of the chair’s order not on screen)')],
	},
	{ id: 'question_clear', path: 'question/clear', group: 'Questions & polls', name: 'Question: take off screen', args: [] },
	{
		id: 'question_answer',
		path: 'question/answer',
		group: 'Questions & polls',
		name: 'Question: mark answered',
		args: [text('question', 'Question id (empty: the one on screen)')],
	},
	{
		id: 'poll_open',
		path: 'poll/open',
		group: 'Questions & polls',
		name: 'Poll: open',
		args: [text('poll', 'Poll id (empty: the live segment’s first draft)')],
	},
	{ id: 'poll_close', path: 'poll/close', group: 'Questions & polls', name: 'Poll: close', args: [pollArg] },
	{ id: 'poll_show', path: 'poll/show', group: 'Questions & polls', name: 'Poll: show the results', args: [pollArg] },
	{ id: 'poll_hide', path: 'poll/hide', group: 'Questions & polls', name: 'Poll: hide the results', args: [pollArg] },
]

const BY_ID = new Map(COMMANDS.map((c) => [c.id, c]))

/** The Companion input field of one argument. */
function inputField(arg) {
	const base = { id: arg.arg, label: arg.label }
	if (arg.tooltip) base.tooltip = arg.tooltip
	switch (arg.type) {
		case 'text':
			return { ...base, type: 'textinput', default: arg.default ?? '', useVariables: true }
		case 'number':
			return { ...base, type: 'number', default: arg.default ?? 0, min: arg.min, max: arg.max, step: arg.step ?? 1 }
		case 'choice':
			return { ...base, type: 'dropdown', default: arg.default, choices: arg.choices }
		case 'bool':
			return { ...base, type: 'checkbox', default: arg.default ?? false }
		default:
			throw new Error(`unknown argument type ${arg.type}`)
	}
}

/**
 * The query arguments of a press from the action's options; text options may hold
 * Companion variables (`$(…)`), resolved through `parse` (the action context's
 * parseVariablesInString). Empty optional arguments are left out.
 */
async function commandArgs(command, options = {}, parse = async (s) => s) {
	const args = {}
	for (const arg of command.args) {
		let value = options[arg.arg]
		if (value === undefined) value = arg.default
		if (arg.omit !== undefined && value === arg.omit) continue
		if (arg.type === 'text') {
			value = String(await parse(String(value ?? ''))).trim()
			if (value === '' && arg.optional) continue
		} else if (arg.type === 'bool') {
			value = value ? 'true' : 'false'
		} else if (arg.type === 'number') {
			value = Number(value)
		}
		args[arg.arg] = value
	}
	// `goto`: an id wins over an index, as one argument is sent.
	if (command.prefer) {
		const [first, ...rest] = command.prefer
		if (args[first] !== undefined) for (const name of rest) delete args[name]
	}
	return args
}

/**
 * The Companion action definitions: each press resolves its options and hands the command
 * to `press(command, args)` (the controller's), which never throws for a refusal.
 */
function actionDefinitions(press) {
	const defs = {}
	for (const command of COMMANDS) {
		defs[command.id] = {
			name: `${command.group}: ${command.name.replace(/^(Queue|Cue|Stage|Timer|Note|Question|Poll): /, '')}`,
			description: `POST /api/v1/events/{event}/${command.path}${command.expect ? ' (with expect=<current segment>)' : ''}`,
			options: command.args.map(inputField),
			callback: async (action, context) => {
				const parse = context?.parseVariablesInString
					? (s) => context.parseVariablesInString(s)
					: async (s) => s
				const args = await commandArgs(command, action.options, parse)
				return press(command, args)
			},
		}
	}
	return defs
}

module.exports = { COMMANDS, GROUPS, BY_ID, actionDefinitions, commandArgs, inputField }
