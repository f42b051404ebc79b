// The moderator's console: run of show, current segment and speaker, show controls,
// the speaker queue (queue-panel.js), AV cues (cue-panel.js), the stage screen (stage-panel.js)
// and who is here (presence-ui.js).

import {
  timing, fmtDuration, fmtCountdown, fmtClock, localized, preferredLang, readFragment,
} from './client.js';
import { t, kindName } from './i18n.js';
import {
  $, el, setText, startPage, markBody, renderNow, drawCountdown, runCommand,
} from './ui.js';
import { createQueuePanel } from './queue-panel.js';
import { createCuePanel } from './cue-panel.js';
import { createStagePanel } from './stage-panel.js';
import {
  renderCounts, renderList, drawAttendanceChart, markSpeakers, speakerData, setSpeakerPlace,
} from './presence-ui.js';

const frag = readFragment();
let lang = preferredLang(frag);
let shownSegment = null;

const page = startPage({ lang, render, onLang: (picked) => { lang = picked; } });
const hub = page.connect({
  name: frag.name || 'Moderator',
  mode: frag.mode || 'in_room',
  onWelcome: render,
  onChange: (state, msg) => {
    // A queue change (often an attendee's request) redraws only the queue panel; likewise cues.
    const kind = msg.change && msg.change.kind;
    if (kind === 'queue') { markBody(hub); queuePanel.render(); }
    else if (kind === 'cue') { markBody(hub); cuePanel.render(); }
    else if (kind === 'stage') { markBody(hub); stagePanel.render(); }
    else if (kind === 'hidden') markBody(hub);
    else render();
    noteChange(msg);
  },
  onPresence: () => renderPresence(),
  onStatus: updateButtons, // after render(): enables or disables the controls
});

const canControl = () => ['moderator', 'organizer'].includes(hub.you && hub.you.role);
const panelOpts = { hub, lang: () => lang, canControl, connected: () => page.status === 'connected' };
const queuePanel = createQueuePanel(panelOpts);
const cuePanel = createCuePanel(panelOpts);
const stagePanel = createStagePanel(panelOpts);

/**
 * Every show command names the version it was issued against; the server rejects stale ones.
 * Resolves with the ack (its `warning` shown in #message), or null after an error.
 */
async function command(type, fields = {}) {
  const s = hub.state;
  if (!s) return null;
  return runCommand(hub, lang, type, { version: s.live.version, ...fields });
}

const BUTTONS = {
  'btn-next': () => command('next'),
  'btn-previous': () => command('previous'),
  'btn-next-speaker': () => command('next_speaker'),
  'btn-hold': () => command(hub.state && hub.state.live.held_since != null ? 'resume' : 'hold'),
  'btn-extend-1': () => command('extend', { seconds: 60 }),
  'btn-extend-5': () => command('extend', { seconds: 300 }),
  'btn-shorten-1': () => command('extend', { seconds: -60 }),
  'btn-end': () => command('end'),
};
for (const [id, fn] of Object.entries(BUTTONS)) $(id).addEventListener('click', fn);

// A mouse click must not leave focus on a button, so that Space stays "hold" afterwards.
document.addEventListener('mousedown', (e) => { if (e.target.closest('button')) e.preventDefault(); });

const KEYS = {
  n: 'btn-next', ArrowRight: 'btn-next', p: 'btn-previous', ArrowLeft: 'btn-previous',
  s: 'btn-next-speaker', ' ': 'btn-hold', h: 'btn-hold', '+': 'btn-extend-1', '-': 'btn-shorten-1',
  q: 'btn-queue-next', c: 'btn-cue-planned',
};
const KEY_ACTIONS = { g: () => cuePanel.goOldest() };
document.addEventListener('keydown', (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey || e.repeat || e.isComposing) return;
  const target = e.target;
  if (target.closest && target.closest('input, select, textarea, [contenteditable]')) return;
  // Space/Enter on a focused button (keyboard users) activate that button, not a shortcut.
  if ((e.key === ' ' || e.key === 'Enter') && target.closest && target.closest('button')) return;
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  if (KEY_ACTIONS[key]) { e.preventDefault(); KEY_ACTIONS[key](); return; }
  const id = KEYS[key];
  if (!id) return;
  e.preventDefault();
  const button = $(id);
  if (!button.disabled) button.click();
});

function updateButtons() {
  const s = hub.state;
  const live = s && s.live;
  const ok = Boolean(live) && page.status === 'connected' && canControl();
  const phase = live && live.phase;
  const n = s ? s.segments.length : 0;
  const seg = phase === 'live' ? s.segments[live.segment] : null;
  const speakers = seg ? seg.speakers || [] : [];
  const held = Boolean(seg) && live.held_since != null;
  const enable = {
    'btn-next': phase === 'standby' ? n > 0 : Boolean(seg) && live.segment < n - 1,
    'btn-previous': phase === 'ended' || (Boolean(seg) && live.segment > 0),
    'btn-next-speaker': Boolean(seg) && live.speaker != null && live.speaker < speakers.length - 1,
    'btn-hold': Boolean(seg),
    'btn-extend-1': Boolean(seg),
    'btn-extend-5': Boolean(seg),
    'btn-shorten-1': Boolean(seg),
    'btn-end': Boolean(seg),
  };
  for (const [id, on] of Object.entries(enable)) $(id).disabled = !(ok && on);
  setText($('btn-next'), t(lang, phase === 'standby' ? 'start' : 'next'));
  setText($('btn-hold'), t(lang, held ? 'resume' : 'hold'));
  $('btn-hold').classList.toggle('active', held);
  $('role-note').hidden = !s || canControl();
}

function render() {
  const s = hub.state;
  if (!s) return;
  markBody(hub);
  const { event, live } = s;
  const tz = event.time_zone;
  const title = localized(event.title, lang);
  setText($('event-title'), title);
  document.title = `${title} — console`;
  setText($('tz-note'), t(lang, 'times_in', { tz }));

  const { seg, sp } = renderNow(s, lang);
  const count = seg && seg.speakers ? seg.speakers.length : 0;
  setText($('speaker-index'), sp && count > 1 ? t(lang, 'speaker_of', { i: live.speaker + 1, n: count }) : '');
  setSpeakerPlace($('current-speaker'), sp ? live.segment : null, sp ? live.speaker : null);
  setSpeakerPlace($('current-chair'), seg && seg.chair ? live.segment : null, -1);

  renderSegments(s);
  renderExports();
  queuePanel.render();
  cuePanel.render();
  stagePanel.render();
  renderPresence();
  updateButtons();
  tick();
}

/** The presence panel, and the green/grey dots of the speakers and chairs everywhere. */
function renderPresence() {
  const s = hub.state;
  $('presence-panel').hidden = Boolean(s) && !s.presence;
  if (!s || !s.presence) return;
  renderCounts(s.presence, lang);
  renderList(s.presence, lang);
  drawChart();
  markSpeakers(document, s.presence, lang);
}

function drawChart() {
  const s = hub.state;
  if (s && s.presence) drawAttendanceChart($('attendance-box'), s.presence, hub.serverNow(), s.event.time_zone, lang);
}
$('presence-filter').addEventListener('input', () => { if (hub.state && hub.state.presence) renderList(hub.state.presence, lang); });
setInterval(drawChart, 15_000); // "now" moves on

function renderSegments({ event, segments, live }) {
  const items = segments.map((seg, i) => {
    const current = live.phase === 'live' && live.segment === i;
    const done = live.phase === 'ended' || (live.phase === 'live' && i < live.segment);
    const people = el('div', { class: 'people' });
    if (seg.chair) {
      people.append(el('span', { class: 'seg-chair', data: speakerData(i, -1), text: `${t(lang, 'chair')}: ${localized(seg.chair, lang)}` }));
    }
    const speakers = el('span', { class: 'speakers' });
    (seg.speakers || []).forEach((sp, j) => {
      const speaking = current && live.speaker === j;
      const name = localized(sp.name, lang);
      let node;
      if (current && canControl()) {
        node = el('button', { class: `speaker-goto${speaking ? ' speaking' : ''}`, text: name, data: speakerData(i, j), attrs: { type: 'button' } });
        node.disabled = speaking || page.status !== 'connected';
        node.addEventListener('click', () => command('goto_speaker', { speaker: j }));
      } else {
        node = el('span', { class: speaking ? 'speaking' : '', text: name, data: speakerData(i, j) });
      }
      speakers.append(node);
    });
    people.append(speakers);

    const ran = (live.actual || []).filter((a) => a.segment === i).pop();
    const actual = el('span', { class: 'actual muted' });
    if (ran) {
      actual.textContent = `${t(lang, 'actual')} ${fmtClock(ran.started_at, event.time_zone, lang)}–${
        ran.ended_at != null ? fmtClock(ran.ended_at, event.time_zone, lang) : '…'}`;
    }
    const go = el('button', { class: 'goto', text: t(lang, 'goto'), attrs: { type: 'button' } });
    go.disabled = current || page.status !== 'connected' || !canControl();
    go.addEventListener('click', () => command('goto', { segment: seg.id }));

    return el('li', { class: [current && 'current', done && 'done'].filter(Boolean).join(' '), data: { segmentId: seg.id } },
      el('span', { class: 'time', text: fmtClock(seg.planned_start, event.time_zone, lang) }),
      el('span', { class: `kind kind-${seg.kind}`, text: kindName(lang, seg.kind) }),
      el('div', { class: 'seg-main' },
        el('strong', { class: 'seg-title', text: localized(seg.title, lang) }),
        el('span', { class: 'duration muted', text: fmtDuration(seg.duration_ms) }),
        people, actual),
      go);
  });
  const list = $('segments');
  list.replaceChildren(...items); // renderPresence() then dots the speakers
  // Keep the current segment in view inside the list (never scroll the page itself).
  const currentItem = list.querySelector('li.current');
  if (currentItem && shownSegment !== live.segment) list.scrollTop = Math.max(0, currentItem.offsetTop - 60);
  shownSegment = live.phase === 'live' ? live.segment : null;
}

/** Download links for organizers only (the server checks the token again: 401 otherwise). */
function renderExports() {
  const show = Boolean(hub.you && hub.you.role === 'organizer' && frag.event && frag.token);
  $('exports').hidden = !show;
  const base = show ? `/api/events/${encodeURIComponent(frag.event)}/` : '';
  const token = show ? `?token=${encodeURIComponent(frag.token)}` : '';
  for (const [id, file] of [['export-log', 'log.jsonl'], ['export-record', 'record.csv']]) {
    const link = $(id);
    link.hidden = !show;
    if (!show) { link.removeAttribute('href'); continue; }
    link.href = base + file + token;
    link.download = `${frag.event}-${file}`;
  }
}

function noteChange(msg) {
  const ch = msg.change || {};
  if (!ch.op || ch.op === 'queue_request' || ch.op === 'queue_withdraw') return; // the chair's moves only
  const s = hub.state;
  const who = msg.by && msg.by.name ? ` · ${t(lang, 'by', { name: msg.by.name })}` : '';
  const at = msg.at != null && s ? ` · ${fmtClock(msg.at, s.event.time_zone, lang, { seconds: true })}` : '';
  setText($('last-change'), `${t(lang, ch.op)}${who}${at}`);
}

/** Redraws the clocks from the synchronized clock; no server message is needed for that. */
function tick() {
  const s = hub.state;
  if (!s) return;
  const now = hub.serverNow();
  const tm = timing(s, now);
  const tz = s.event.time_zone;
  setText($('clock'), fmtClock(now, tz, lang, { seconds: true }));

  drawCountdown(tm, lang);
  queuePanel.tick(now);
  cuePanel.tick(now);

  const spClock = $('speaker-clock');
  spClock.hidden = tm.speaker_elapsed_ms == null;
  if (tm.speaker_elapsed_ms != null) {
    const hasPlan = tm.speaker_remaining_ms != null;
    setText($('speaker-clock-label'), t(lang, hasPlan ? 'speaker' : 'elapsed'));
    setText($('speaker-countdown'), hasPlan ? fmtCountdown(tm.speaker_remaining_ms) : fmtDuration(tm.speaker_elapsed_ms));
    $('speaker-countdown').classList.toggle('overrun', hasPlan && tm.speaker_remaining_ms < 0);
  }

  const drift = $('drift');
  const behind = tm.drift_ms != null && tm.drift_ms >= 1000, ahead = tm.drift_ms != null && tm.drift_ms <= -1000;
  setText(drift, tm.drift_ms == null ? '' : behind || ahead
    ? `${t(lang, behind ? 'behind' : 'ahead')} ${fmtDuration(Math.abs(tm.drift_ms))}` : t(lang, 'on_schedule'));
  drift.classList.toggle('behind', behind);
  drift.classList.toggle('ahead', ahead);
  setText($('projected-end'), fmtClock(tm.projected_end, tz, lang));
}

setInterval(tick, 100);
