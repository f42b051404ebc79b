// The moderator's console, a cockpit: a strip that never scrolls away (segment, both clocks,
// next, connection, Next), show controls with guards on End and Go to and an Undo toast,
// the speaker queue (queue-panel.js) with the sides' speaking time (speaking-panel.js), AV cues (cue-panel.js), the stage screen (stage-panel.js,
// with a live miniature drawn by stage-view.js), who is here (presence-ui.js), the run of show
// and its edit mode (plan-editor.js), written questions (qa-panel.js) and polls (poll-panel.js).

import {
  timing, fmtDuration, fmtCountdown, fmtClock, localized, preferredLang, readFragment,
} from './client.js';
import { t, kindName } from './i18n.js';
import {
  $, el, setText, startPage, markBody, renderNow, drawCountdown, showMessage, warningText,
} from './ui.js';
import { createStageView, stageClock } from './stage-view.js';
import { createQueuePanel } from './queue-panel.js';
import { createSpeakingPanel } from './speaking-panel.js';
import { createCuePanel } from './cue-panel.js';
import { createStagePanel } from './stage-panel.js';
import { createBoothPanel } from './booth-panel.js';
import { createNoteCockpit } from './notes-ui.js';
import { createScreensPanel } from './screens-panel.js';
import { createPlanEditor } from './plan-editor.js';
import { createQaPanel } from './qa-panel.js';
import { createPollPanel } from './poll-panel.js';
import {
  renderCounts, renderList, drawAttendanceChart, markSpeakers, speakerData, setSpeakerPlace,
} from './presence-ui.js';

const frag = readFragment();
let lang = preferredLang(frag);
let shownSegment = null;
let editFromLink = false;

const page = startPage({ lang, render, onLang: (picked) => { lang = picked; planEditor.relabel(); }, cloudLink: true });
const hub = page.connect({
  name: frag.name || t(lang, 'default_name_chair'),
  mode: frag.mode || 'in_room',
  onWelcome: () => {
    // `#…&edit=1` opens the console in edit mode (once: a reconnect keeps the user's choice).
    if (frag.edit && !editFromLink && canControl()) { editFromLink = true; planEditor.toggle(true); }
    render();
    screensPanel.load();
  },
  onChange: (state, msg) => {
    // A queue change (often an attendee's request) redraws only the queue panel; likewise cues.
    const kind = msg.change && msg.change.kind;
    // Questions, polls and votes (a batch every 250 ms at most) redraw only their panels.
    if (VOICE_KINDS.has(kind)) { markBody(hub); qaPanel.render(); pollPanel.render(); }
    else if (kind === 'queue') { markBody(hub); queuePanel.render(); }
    else if (kind === 'cue') { markBody(hub); cuePanel.render(); }
    else if (kind === 'stage') { markBody(hub); stagePanel.render(); stageMini.render(hub.state, hub.serverNow()); }
    else if (kind === 'note') { markBody(hub); noteCockpit.render(); }
    else if (kind === 'screen' || kind === 'timers') { markBody(hub); boothPanel.render(); stageMini.render(hub.state, hub.serverNow()); }
    else if (kind === 'hidden') markBody(hub);
    else render();
    if (!AUDIENCE_OPS.has(msg.change && msg.change.op)) noteChange(msg);
  },
  onError: (err) => showError(err),
  onPresence: () => renderPresence(),
  onStatus: updateButtons, // after render(): enables or disables the controls
});

const canControl = () => ['moderator', 'organizer'].includes(hub.you && hub.you.role);
const panelOpts = { hub, lang: () => lang, canControl, connected: () => page.status === 'connected' };
const queuePanel = createQueuePanel(panelOpts);
const speakingPanel = createSpeakingPanel(panelOpts);
const cuePanel = createCuePanel(panelOpts);
const stagePanel = createStagePanel({ ...panelOpts, showError: (err) => showError(err) });
const boothPanel = createBoothPanel({ ...panelOpts, showError: (err) => showError(err) });
const screensPanel = createScreensPanel({
  hub, lang: () => lang, canControl, event: frag.event, token: frag.token, showError: (err) => showError(err),
});
const noteCockpit = createNoteCockpit($('ck-notes'), { ...panelOpts, showError: (err) => showError(err) });
const qaPanel = createQaPanel({ ...panelOpts, showError: (err) => showError(err) });
const pollPanel = createPollPanel({ ...panelOpts, showError: (err) => showError(err) });
const VOICE_KINDS = new Set(['question', 'board', 'poll', 'votes']);
// What the audience does is no chair's move for the "last change" line.
const AUDIENCE_OPS = new Set(['question_ask', 'question_withdraw', 'votes']);
// The stage screen of whoever is speaking, in the console's language: the same code as /stage.
const stageMini = createStageView($('stage-mini'), { lang: () => lang });
const planEditor = createPlanEditor({
  ...panelOpts, guarded: (...args) => guarded(...args), render,
  clock: (ms, tz) => fmtClock(ms, tz, lang), event: frag.event, token: frag.token,
});

const SHOW_OPS = new Set(['next', 'previous', 'goto', 'next_speaker', 'goto_speaker', 'hold', 'resume', 'extend', 'end']);

/** A server (or client) error in the console's language, by its code; raw only if unknown. */
export function localError(L, err) {
  const key = `err_${err && err.code}`;
  const text = t(L, key);
  if (text === key) return `${err.code}: ${err.message}`;
  // Why a command cannot be done now is the server's to say: its reason follows.
  return ['invalid_state', 'invalid_field'].includes(err.code) && err.message ? `${text} ${err.message}` : text;
}

function showError(err) {
  showMessage(localError(lang, err));
  const box = $('message');
  if (box && err.message) box.title = `${err.code}: ${err.message}`;
}

// The queue and cue panels report errors as "code: message" themselves: say those in the
// console's language too (several, from a batch of cues, are joined with " · ").
new MutationObserver(() => {
  const box = $('message');
  if (!box || box.hidden) return;
  const text = box.textContent;
  const parts = text.split(' · ');
  const out = parts.map((part) => {
    const m = /^([a-z_]+): (.*)$/s.exec(part);
    if (!m) return part;
    const key = `err_${m[1]}`, local = t(lang, key);
    return local === key ? part : local;
  });
  const local = out.join(' · ');
  if (local !== text) { box.title = text; box.textContent = local; }
}).observe($('message'), { childList: true, characterData: true, subtree: true });

/**
 * Every show command names the version it was issued against; the server rejects stale ones.
 * Resolves with the ack (its `warning` shown in #message), or null after an error (shown in
 * the console's language). A show command's ack opens the Undo toast.
 */
async function command(type, fields = {}) {
  const s = hub.state;
  if (!s) return null;
  disarm();
  try {
    const ack = await hub.send(type, { version: s.live.version, ...fields });
    if (ack.warning) showMessage(warningText(lang, ack.warning), 'warning');
    if (SHOW_OPS.has(type)) offerUndo(type);
    return ack;
  } catch (err) {
    showError(err);
    return null;
  }
}

// ---------- Undo: a toast for 10 s after every show command, its button and U / Ctrl+Z ----------

const UNDO_MS = 10_000;
let undoUntil = 0, undoTimer = null, undoing = false;

function offerUndo(op) {
  undoUntil = Date.now() + UNDO_MS;
  const toast = $('undo-toast');
  setText($('undo-text'), t(lang, 'undo_toast', { what: t(lang, op) }));
  toast.hidden = false;
  const bar = $('undo-bar'); // restart the 10 s bar
  bar.classList.remove('running');
  void bar.offsetWidth;
  bar.classList.add('running');
  clearTimeout(undoTimer);
  undoTimer = setTimeout(closeUndo, UNDO_MS);
}

function closeUndo() {
  clearTimeout(undoTimer);
  undoUntil = 0;
  $('undo-toast').hidden = true;
}

async function undo() {
  const s = hub.state;
  if (!s || undoing) return;
  if (page.status !== 'connected') { offline('U'); return; }
  closeUndo();
  disarm();
  undoing = true;
  try {
    await hub.send('undo', { version: s.live.version });
    const live = hub.state.live;
    const seg = live.phase === 'live' ? hub.state.segments[live.segment] : null;
    showMessage(t(lang, 'undone', { title: seg ? localized(seg.title, lang) : t(lang, live.phase === 'ended' ? 'ended' : 'standby') }), 'info', 4000);
  } catch (err) {
    if (err.code === 'invalid_state') showMessage(t(lang, 'undo_none'), 'info', 4000);
    else showError(err);
  } finally {
    undoing = false;
    updateButtons();
  }
}
$('btn-undo').addEventListener('click', undo);
$('btn-undo-last').addEventListener('click', undo);

// ---------- guards: End, and Go to away from a running segment, need a second press ----------

const ARM_MS = 3000, ARM_MIN_MS = 250; // a double click is not a confirmation
let armed = null; // {key, node, until, since, action, text}

/**
 * First press arms `node` ("Press again…", counting down); a second one within 3 s confirms.
 * `confirmKey` (e.g. "Delete") is a key that presses it again rather than disarming it.
 */
function guarded(key, node, textKey, action, confirmKey = null) {
  const now = Date.now();
  if (armed && armed.key === key && now < armed.until) {
    if (now - armed.since < ARM_MIN_MS) return; // the same gesture twice (a double click)
    disarm();
    action();
    return;
  }
  disarm();
  const version = hub.state ? hub.state.live.version : null;
  armed = { key, node, until: now + ARM_MS, since: now, action, textKey, label: node.textContent, version, confirmKey };
  node.classList.add('armed');
  drawArmed();
}

function drawArmed() {
  if (!armed) return;
  const left = armed.until - Date.now();
  if (left <= 0) { disarm(); return; }
  // The node may have been redrawn (the run of show is rebuilt on every change): find it again.
  if (!armed.node.isConnected) {
    const again = document.querySelector(`[data-arm="${CSS.escape(armed.key)}"]`);
    if (!again) { armed = null; return; }
    armed.node = again;
    armed.node.classList.add('armed');
  }
  setText(armed.node, t(lang, armed.textKey, { s: Math.ceil(left / 1000) }));
}

function disarm() {
  if (!armed) return;
  const { node, label } = armed;
  armed = null;
  node.classList.remove('armed');
  setText(node, label);
  updateButtons();
}
const isArmed = (key) => Boolean(armed && armed.key === key);

// Anything else disarms: a press elsewhere, any other key, a held key's repeats never confirm.
document.addEventListener('pointerdown', (e) => {
  if (armed && !armed.node.contains(e.target)) disarm();
}, true);
document.addEventListener('keydown', (e) => {
  if (!armed) return;
  const onIt = (armed.node.contains(e.target) && (e.key === 'Enter' || e.key === ' ')) || e.key === armed.confirmKey;
  if (onIt && e.repeat) { e.preventDefault(); return; } // a held Enter is one press
  if (!onIt) disarm();
}, true);

const BUTTONS = {
  'btn-next': () => command('next'),
  'btn-previous': () => command('previous'),
  'btn-next-speaker': () => command('next_speaker'),
  'btn-hold': () => command(hub.state && hub.state.live.held_since != null ? 'resume' : 'hold'),
  'btn-extend-1': () => command('extend', { seconds: 60 }),
  'btn-extend-5': () => command('extend', { seconds: 300 }),
  'btn-shorten-1': () => command('extend', { seconds: -60 }),
  'btn-end': () => guarded('end', $('btn-end'), 'arm_end', () => command('end')),
};
for (const [id, fn] of Object.entries(BUTTONS)) $(id).addEventListener('click', fn);
$('btn-end').dataset.arm = 'end';

// A mouse click must not leave focus on a button, so that Space stays "hold" afterwards.
document.addEventListener('mousedown', (e) => { if (e.target.closest('button')) e.preventDefault(); });

// ---------- the keyboard ----------

const KEYS = {
  n: 'btn-next', ArrowRight: 'btn-next', ArrowLeft: 'btn-previous',
  s: 'btn-next-speaker', ' ': 'btn-hold', h: 'btn-hold', '+': 'btn-extend-1', '-': 'btn-shorten-1',
  q: 'btn-queue-next', c: 'btn-cue-planned',
};
const KEY_ACTIONS = { g: () => cuePanel.goNext(), u: () => undo(), p: () => pollPanel.pressKey(), '?': () => toggleHelp() };
const NEEDS_SERVER = new Set(['g', 'u', 'p']);
const keyName = (key) => (key === ' ' ? 'Space' : key.length === 1 ? key.toUpperCase() : key);

/** A shortcut pressed while offline says so, rather than doing nothing. */
function offline(key) {
  showMessage(t(lang, 'offline_shortcut', { key: keyName(key) }), 'warning', 5000);
}

document.addEventListener('keydown', (e) => {
  const target = e.target;
  const inField = target.closest && target.closest('input, select, textarea, [contenteditable]');
  // Esc leaves any field (and closes the legend), so that the shortcuts work again.
  if (e.key === 'Escape') {
    if (inField) { target.blur(); e.preventDefault(); return; }
    if (!$('shortcut-legend').hidden) toggleHelp(false);
    else planEditor.escape();
    return;
  }
  if (inField || e.altKey || e.isComposing) return;
  if (planEditor.onKey(e)) return;
  if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'z' && !e.shiftKey) {
    e.preventDefault();
    undo();
    return;
  }
  if (e.ctrlKey || e.metaKey || e.repeat) return;
  // Space/Enter on a focused button (keyboard users) activate that button, not a shortcut.
  if ((e.key === ' ' || e.key === 'Enter') && target.closest && target.closest('button')) return;
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  if (KEY_ACTIONS[key]) {
    e.preventDefault();
    if (NEEDS_SERVER.has(key) && page.status !== 'connected') offline(e.key);
    else KEY_ACTIONS[key]();
    return;
  }
  const id = KEYS[key];
  if (!id) return;
  e.preventDefault();
  if (page.status !== 'connected') { offline(e.key); return; }
  const button = $(id);
  if (!button.disabled) button.click();
});

function toggleHelp(show = $('shortcut-legend').hidden) {
  $('shortcut-legend').hidden = !show;
  $('btn-help').setAttribute('aria-expanded', String(show));
}
$('btn-help').addEventListener('click', () => toggleHelp());

// After a form is sent, focus goes back to the page so that the shortcuts work at once.
// (The panels' own submit handlers run first; an empty field keeps its focus to be filled.)
$('cue-form').addEventListener('submit', () => {
  if ($('cue-text').value.trim()) document.activeElement.blur();
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
    // undo_depth comes from servers with undo; without the field, let the server say.
    'btn-undo-last': Boolean(live) && (live.undo_depth == null || live.undo_depth > 0),
  };
  for (const [id, on] of Object.entries(enable)) $(id).disabled = !(ok && on);
  $('btn-undo').disabled = !ok;
  setText($('btn-next'), `${t(lang, phase === 'standby' ? 'start' : 'next')} ▶`);
  setText($('btn-hold'), t(lang, held ? 'resume' : 'hold'));
  $('btn-hold').classList.toggle('active', held);
  if (!isArmed('end')) setText($('btn-end'), t(lang, 'end'));
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

  const { seg, sp } = renderNow(s, lang, hub.serverNow());
  const count = seg && seg.speakers ? seg.speakers.length : 0;
  setText($('speaker-index'), sp && count > 1 ? t(lang, 'speaker_of', { i: live.speaker + 1, n: count }) : '');
  setSpeakerPlace($('current-speaker'), sp ? live.segment : null, sp ? live.speaker : null);
  setSpeakerPlace($('current-chair'), seg && seg.chair ? live.segment : null, -1);

  // A confirmation armed against another state of the show is no confirmation.
  if (armed && armed.version !== live.version) disarm();
  renderSegments(s);
  planEditor.renderTools();
  renderExports();
  renderRunSheetLink();
  startAutomations();
  queuePanel.render();
  cuePanel.render();
  stagePanel.render();
  boothPanel.render();
  noteCockpit.render();
  screensPanel.render();
  qaPanel.render();
  pollPanel.render();
  stageMini.render(s, hub.serverNow());
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

/**
 * The run of show: planned times, who speaks, the current segment's extension (+2:00), what
 * each segment that ran took, segments skipped (before the current one and never run), and
 * the planned cues already given (a cue in the state for that segment and preset).
 */
function renderSegments({ event, segments, live, cues }) {
  const tz = event.time_zone;
  const past = live.phase === 'ended' ? segments.length : live.phase === 'live' ? live.segment : 0;
  const items = segments.map((seg, i) => {
    const current = live.phase === 'live' && live.segment === i;
    const runs = (live.actual || []).filter((a) => a.segment === i);
    const ran = runs[runs.length - 1];
    const skipped = i < past && !ran;
    const done = !current && Boolean(ran) && ran.ended_at != null;
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

    const badges = el('span', { class: 'seg-badges' });
    if (skipped) badges.append(el('span', { class: 'badge skipped', text: `⤼ ${t(lang, 'skipped')}` }));
    if (current && live.extended_ms) {
      badges.append(el('span', { class: 'badge ext', text: fmtDuration(live.extended_ms, { plus: true }), attrs: { title: t(lang, 'extended_by', { d: fmtDuration(live.extended_ms, { plus: true }) }) } }));
    }
    const actual = el('span', { class: 'actual muted' });
    if (ran) {
      let text = `${t(lang, 'actual')} ${fmtClock(ran.started_at, tz, lang)}–${ran.ended_at != null ? fmtClock(ran.ended_at, tz, lang) : '…'}`;
      if (ran.ended_at != null) {
        const over = ran.ended_at - ran.started_at - seg.duration_ms;
        text += ` · ${t(lang, 'ran_for', { d: fmtDuration(ran.ended_at - ran.started_at) })}`;
        if (Math.abs(over) >= 1000) badges.append(el('span', { class: `badge ${over > 0 ? 'ext' : 'short'}`, text: fmtDuration(over, { plus: true }) }));
      }
      actual.textContent = text;
    }

    const planned = seg.cues || [];
    let cueLine = null;
    if (planned.length) {
      cueLine = el('span', { class: 'seg-cues' }, el('span', { class: 'muted', text: `${t(lang, 'cues_planned_short')}:` }));
      for (const pc of planned) {
        const given = (cues || []).find((c) => c.segment === i && pc.preset != null && c.preset === pc.preset);
        cueLine.append(el('span', {
          class: `seg-cue${given ? ' given' : ''}`,
          text: `${given ? '✓ ' : '○ '}${localized(pc.text, lang)}`,
          attrs: given ? { title: `${t(lang, 'cue_given')} · ${t(lang, `cue_state_${given.state}`)}` } : {},
        }));
      }
    }

    // Leaving a running segment for another is guarded: a second press within 3 s.
    const go = el('button', { class: 'goto', text: t(lang, 'goto'), data: { arm: `goto:${seg.id}` }, attrs: { type: 'button' } });
    go.disabled = current || page.status !== 'connected' || !canControl();
    go.addEventListener('click', () => {
      const move = () => command('goto', { segment: seg.id });
      if (hub.state.live.phase === 'live') guarded(`goto:${seg.id}`, go, 'arm_goto', move);
      else move();
    });
    if (isArmed(`goto:${seg.id}`)) { armed.node = go; go.classList.add('armed'); }

    // In edit mode each row says when it ends too: the times follow every edit.
    const time = el('span', { class: 'time', text: fmtClock(seg.planned_start, tz, lang) });
    if (planEditor.editing) time.append(el('span', { class: 'time-end muted', text: `–${fmtClock(seg.planned_start + seg.duration_ms, tz, lang)}` }));
    return el('li', { class: [current && 'current', done && 'done', skipped && 'skipped'].filter(Boolean).join(' '), data: { segmentId: seg.id } },
      time,
      el('span', { class: `kind kind-${seg.kind}`, text: kindName(lang, seg.kind) }),
      el('div', { class: 'seg-main' },
        el('strong', { class: 'seg-title', text: localized(seg.title, lang) }),
        el('span', { class: 'duration muted' }, fmtDuration(seg.duration_ms), ' ', badges),
        people, actual, cueLine),
      go);
  });
  const list = $('segments');
  if (planEditor.editing) planEditor.arrange(list, items);
  else list.replaceChildren(...items); // renderPresence() then dots the speakers
  drawArmed();
  // Keep the current segment in view inside the list (never scroll the page itself).
  const currentItem = list.querySelector('li.current');
  if (currentItem && shownSegment !== live.segment) list.scrollTop = Math.max(0, currentItem.offsetTop - 60);
  shownSegment = live.phase === 'live' ? live.segment : null;
}

/** The printable run sheet, in a tab of its own, in the console's language. */
function renderRunSheetLink() {
  const link = $('runsheet-link');
  link.hidden = !(frag.event && frag.token);
  if (link.hidden) return;
  link.href = `/runsheet#${new URLSearchParams({ event: frag.event, token: frag.token, lang })}`;
  // Guest links are the organizer's to hand out: the links page takes the organizer token.
  const links = $('links-link');
  links.hidden = !(hub.you && hub.you.role === 'organizer');
  links.href = `/links#${new URLSearchParams({ event: frag.event, token: frag.token, lang })}`;
}

/** Download links for organizers only (the server checks the token again: 401 otherwise). */
function renderExports() {
  const show = Boolean(hub.you && hub.you.role === 'organizer' && frag.event && frag.token);
  $('exports').hidden = !show;
  const base = show ? `/api/events/${encodeURIComponent(frag.event)}/` : '';
  const token = show ? `?token=${encodeURIComponent(frag.token)}` : '';
  for (const [id, file] of [
    ['export-log', 'log.jsonl'], ['export-record', 'record.csv'], ['export-record-xlsx', 'record.xlsx'],
    ['export-plan-csv', 'plan.csv'], ['export-plan-xlsx', 'plan.xlsx'],
  ]) {
    const link = $(id);
    link.hidden = !show;
    if (!show) { link.removeAttribute('href'); continue; }
    link.href = base + file + token;
    link.download = `${frag.event}-${file}`;
  }
}

/**
 * The "automations" line: what the show sent by itself and the last failure, polled from
 * the API while the plan has automations (failures happen off the hub, so no change says so).
 */
const AUTOMATIONS_POLL_MS = 5000;
let automationsPolling = false;
async function pollAutomations() {
  const s = hub.state;
  const on = Boolean(s && canControl() && frag.event && frag.token && (s.automations || []).length);
  const line = $('automations');
  if (!on) { line.hidden = true; return; }
  try {
    const url = `/api/v1/events/${encodeURIComponent(frag.event)}/automations`;
    const reply = await fetch(url, { headers: { Authorization: `Bearer ${frag.token}` }, cache: 'no-store' });
    if (!reply.ok) return;
    const { recent } = await reply.json();
    const failed = recent.filter((d) => d.result === 'failed');
    const last = failed[failed.length - 1];
    line.hidden = false;
    line.classList.toggle('failed', Boolean(last));
    const sent = recent.length - failed.length;
    setText(line, last
      ? t(lang, 'automations_failed', {
        n: failed.length, output: last.output, error: last.error || '',
        at: fmtClock(last.at, s.event.time_zone, lang, { seconds: true }),
      })
      : t(lang, 'automations_ok', { n: sent }));
    line.title = failed.slice(-5).map((d) => `${d.trigger} · ${d.output} · ${d.error || ''}`).join('\n');
  } catch {
    // Offline: the connection status already says so; the line keeps what it last knew.
  }
}
function startAutomations() {
  if (automationsPolling) return;
  automationsPolling = true;
  pollAutomations();
  setInterval(pollAutomations, AUTOMATIONS_POLL_MS);
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
  if (tm.phase === 'live') setText($('countdown-label'), tm.remaining_ms < 0 ? t(lang, 'overrun') : '');
  queuePanel.tick(now);
  speakingPanel.tick(now);
  cuePanel.tick(now);
  boothPanel.tick(now);
  noteCockpit.tick(now);
  stageMini.tick(s, now);
  drawArmed();

  // "Speaker 3:55 · Segment 12:10": the speaker's clock by the stage's own rule (planned
  // slot plus its extension), else their elapsed time; the clock the stage shows is marked.
  const clock = stageClock(s, now);
  const spClock = $('speaker-clock');
  spClock.hidden = clock.speaker_elapsed == null;
  $('ck-sep').hidden = spClock.hidden;
  if (clock.speaker_elapsed != null) {
    const hasPlan = clock.speaker_remaining != null;
    setText($('speaker-clock-label'), t(lang, 'speaker'));
    setText($('speaker-countdown'), hasPlan ? fmtCountdown(clock.speaker_remaining) : fmtDuration(clock.speaker_elapsed));
    setText($('speaker-clock-note'), hasPlan ? (clock.speaker_remaining < 0 ? t(lang, 'overrun') : '') : t(lang, 'elapsed'));
    $('speaker-countdown').classList.toggle('overrun', hasPlan && clock.speaker_remaining < 0);
    spClock.classList.toggle('overrun', hasPlan && clock.speaker_remaining < 0);
  }
  spClock.classList.toggle('on-stage', clock.which === 'speaker');
  $('segment-clock').classList.toggle('on-stage', clock.which === 'segment');
  $('segment-clock').classList.toggle('overrun', tm.phase === 'live' && tm.remaining_ms < 0);
  for (const id of ['speaker-clock', 'segment-clock']) {
    const title = $(id).classList.contains('on-stage') ? t(lang, 'stage_marker') : '';
    if ($(id).title !== title) $(id).title = title;
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
