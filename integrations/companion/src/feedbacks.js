'use strict'
// The boolean feedbacks, each with a default style a key takes while it holds. They read the
// controller's snapshot (view.js), which the local tick keeps current between events.

const { combineRgb } = require('@companion-module/base')
const { clockLevel, cueWaiting, stageSwitch, timerIs, POSITIONS } = require('./view.js')

const WHITE = combineRgb(255, 255, 255)
const BLACK = combineRgb(0, 0, 0)
const GREEN = combineRgb(0, 153, 0)
const AMBER = combineRgb(255, 170, 0)
const RED = combineRgb(204, 0, 0)
const DARK_RED = combineRgb(102, 0, 0)
const YELLOW = combineRgb(255, 255, 0)
const BLUE = combineRgb(0, 51, 204)
const GREY = combineRgb(64, 64, 64)

const COLORS = { WHITE, BLACK, GREEN, AMBER, RED, DARK_RED, YELLOW, BLUE, GREY }

const clockOption = {
	type: 'dropdown',
	id: 'clock',
	label: 'Clock',
	default: 'segment',
	choices: [
		{ id: 'segment', label: 'Segment' },
		{ id: 'speaker', label: 'Speaker (with a planned slot)' },
	],
}

/**
 * The feedback values, by feedback id, from a snapshot and a feedback's options: the same
 * functions the Companion callbacks run, so tests can read them without the host.
 */
const CHECKS = {
	phase: (snap, o) => snap.state?.phase === (o.phase ?? 'live'),
	held: (snap) => snap.state?.phase === 'live' && !!snap.state?.held,
	overrun: (snap, o) => clockLevel(snap, o.clock ?? 'segment') === 'overrun',
	warning: (snap, o) => clockLevel(snap, o.clock ?? 'segment') === 'warning',
	danger: (snap, o) => clockLevel(snap, o.clock ?? 'segment') === 'danger',
	cue_standby: (snap, o) => cueWaiting(snap.state, o.position ?? 'any', o.state ?? 'waiting'),
	link: (snap, o) => (o.up ?? false) === (snap.link === 'up'),
	queue_closed: (snap) => !!snap.state?.queue?.closed,
	stage_switch: (snap, o) => stageSwitch(snap, o.which ?? 'blackout'),
	timer: (snap, o) => timerIs(snap, o.place ?? 1, o.state ?? 'running'),
	note_waiting: (snap) => (snap.state?.notes?.unread ?? 0) > 0,
}

function feedbackDefinitions(getSnapshot) {
	const check = (id) => (feedback) => CHECKS[id](getSnapshot(), feedback.options ?? {})
	return {
		phase: {
			type: 'boolean',
			name: 'Show: phase is …',
			description: 'Standby (before the first segment), live, or ended',
			defaultStyle: { bgcolor: GREEN, color: WHITE },
			options: [
				{
					type: 'dropdown',
					id: 'phase',
					label: 'Phase',
					default: 'live',
					choices: [
						{ id: 'standby', label: 'Standby' },
						{ id: 'live', label: 'Live' },
						{ id: 'ended', label: 'Ended' },
					],
				},
			],
			callback: check('phase'),
		},
		held: {
			type: 'boolean',
			name: 'Show: held (clocks paused)',
			defaultStyle: { bgcolor: YELLOW, color: BLACK },
			options: [],
			callback: check('held'),
		},
		overrun: {
			type: 'boolean',
			name: 'Clock: overrun (below zero)',
			defaultStyle: { bgcolor: RED, color: WHITE },
			options: [clockOption],
			callback: check('overrun'),
		},
		warning: {
			type: 'boolean',
			name: 'Clock: warning (below the amber threshold)',
			description: 'Remaining time at or below the warning threshold, above the danger one',
			defaultStyle: { bgcolor: AMBER, color: BLACK },
			options: [clockOption],
			callback: check('warning'),
		},
		danger: {
			type: 'boolean',
			name: 'Clock: danger (below the red threshold)',
			description: 'Remaining time at or below the danger threshold, not yet overrun',
			defaultStyle: { bgcolor: DARK_RED, color: WHITE },
			options: [clockOption],
			callback: check('danger'),
		},
		cue_standby: {
			type: 'boolean',
			name: 'Cues: a cue stands by for a crew position',
			description: 'An open cue for that position waits for its GO',
			defaultStyle: { bgcolor: BLUE, color: WHITE },
			options: [
				{
					type: 'dropdown',
					id: 'position',
					label: 'Crew position',
					default: 'any',
					choices: [
						{ id: 'any', label: 'Any' },
						...POSITIONS.map((p) => ({ id: p, label: p[0].toUpperCase() + p.slice(1) })),
						{ id: 'person', label: 'A person' },
					],
				},
				{
					type: 'dropdown',
					id: 'state',
					label: 'State',
					default: 'waiting',
					choices: [
						{ id: 'waiting', label: 'Standby or standing by (waiting for GO)' },
						{ id: 'standby', label: 'Standby (the crew has not answered yet)' },
						{ id: 'standing_by', label: 'Standing by (the crew answered; ready for GO)' },
					],
				},
			],
			callback: check('cue_standby'),
		},
		link: {
			type: 'boolean',
			name: 'Connection: link to the server is down (or up)',
			description: 'By default: the event stream to the server is down. Tick "up" for the opposite',
			defaultStyle: { bgcolor: RED, color: WHITE },
			options: [{ type: 'checkbox', id: 'up', label: 'Link is up (untick for: link is down)', default: false }],
			callback: check('link'),
		},
		stage_switch: {
			type: 'boolean',
			name: 'Stage: blackout, ON AIR or a full-screen message is on',
			defaultStyle: { bgcolor: RED, color: WHITE },
			options: [
				{
					type: 'dropdown',
					id: 'which',
					label: 'Which',
					default: 'blackout',
					choices: [
						{ id: 'blackout', label: 'Blackout' },
						{ id: 'on_air', label: 'ON AIR' },
						{ id: 'fullscreen', label: 'Full-screen message' },
					],
				},
			],
			callback: check('stage_switch'),
		},
		timer: {
			type: 'boolean',
			name: 'Timer: the side timer at a place runs, or is over',
			defaultStyle: { bgcolor: GREEN, color: WHITE },
			options: [
				{ type: 'number', id: 'place', label: 'Place in the list (1 = first)', default: 1, min: 1, max: 12 },
				{
					type: 'dropdown',
					id: 'state',
					label: 'When',
					default: 'running',
					choices: [
						{ id: 'running', label: 'It runs' },
						{ id: 'over', label: 'A count down is below zero' },
					],
				},
			],
			callback: check('timer'),
		},
		note_waiting: {
			type: 'boolean',
			name: 'Crew notes: a note waits to be read',
			defaultStyle: { bgcolor: AMBER, color: BLACK },
			options: [],
			callback: check('note_waiting'),
		},
		queue_closed: {
			type: 'boolean',
			name: 'Queue: list of speakers closed',
			defaultStyle: { bgcolor: GREY, color: WHITE },
			options: [],
			callback: check('queue_closed'),
		},
	}
}

module.exports = { feedbackDefinitions, CHECKS, COLORS }
