// The AV cue screen (/cues, role av): the open cues of the crew positions watched, big
// enough to read from across the room, each with the segment it belongs to, answered with one
// tap or one key (which acts on the framed cue); the current and next segment with their AV notes. Cue texts and names are shown as text only.
// A standby chimes and flashes, shows its age on the synchronized clock and escalates once
// unanswered past event.standby_alert_ms; every state has a word, a symbol and a pattern,
// not only a colour; while the connection is down an overlay says the cues are not live.

import {
  timing, localized, preferredLang, readFragment, fmtClock, fmtCountdown, cueClosed,
  CREW, load, save,
} from './client.js';
import { t, kindName } from './i18n.js';
import {
  $, el, setText, startPage, markBody, runCommand, targetName, keyedList,
  stageText, showMessage, errorText,
} from './ui.js';
import { nextSpeaker } from './stage-view.js';
import { drawTimers } from './booth-ui.js';
import { createNoteSender } from './notes-ui.js';
import { cueSegmentTitle, cueClosedWith } from './cue-panel.js';
import { obeyDirective, screenView } from './screen-directive.js';

const FADE_MS = 4000; // a closed cue stays this long in the main list, fading, then moves to "recent"
const RECENT = 6;
const ALERT_DEFAULT_MS = 10_000; // when the event names no standby_alert_ms
const ALERT_REPEAT_MS = 5_000; // an overdue standby chimes again this often
const SYMBOL = { standby: '◧', standing_by: '●', go: '▶', done: '✓', cancelled: '✕' };

const frag = readFragment();
let lang = preferredLang(frag);
let crew = frag.crew; // null: every position
// Sound is on by default here: a cue screen that stays silent is easy to miss.
let sound = frag.sound || load('hub.sound') !== '0';
const closedSeen = new Map(); // cue id → local time it was seen closing, for the fade
const busy = new Set(); // cue ids whose answer awaits its reply

let notes = null; // the panel of notes to the chair, made once the hub is
const page = startPage({ lang, render, onLang: (picked) => { lang = picked; } });
const hub = page.connect({
  page: 'cues', view: screenView(), onDirective: obeyDirective,
  name: frag.name || (crew ? `AV (${crew.join(', ')})` : 'AV'),
  mode: frag.mode || 'in_room',
  crew,
  onWelcome: (state, msg) => { if (msg.resume !== 'replay') closedSeen.clear(); render(); },
  onChange: (state, msg) => {
    const ch = msg.change || {};
    if (ch.kind === 'cue' && ch.cue) noteCue(ch.cue, ch.op);
    render();
  },
});
$('lang').addEventListener('change', (e) => e.target.blur()); // Space answers cues again
notes = createNoteSender($('cue-notes'), {
  hub, lang: () => lang, connected: () => page.status === 'connected',
  showError: (err) => showMessage(errorText(lang, err)),
});

// ---------- crew filter: the hello's crew always matches the page address ----------

const crewBoxes = [...$('crew-filter').querySelectorAll('input[name="crew"]')];
for (const box of crewBoxes) box.checked = Boolean(crew && crew.includes(box.value));
$('crew-filter').addEventListener('change', (e) => {
  const picked = crewBoxes.filter((b) => b.checked).map((b) => b.value);
  crew = picked.length ? CREW.filter((p) => picked.includes(p)) : null;
  const parts = location.hash.replace(/^#/, '').split('&').filter((p) => p && !p.startsWith('crew='));
  if (crew) parts.push(`crew=${crew.join(',')}`);
  history.replaceState(null, '', `#${parts.join('&')}`); // no hashchange: no reload
  e.target.blur(); // Space answers cues again
  hub.setCrew(crew); // joins again: the server sends exactly these positions' cues
  render();
});

const watched = (cue) => !crew || typeof cue.target !== 'string' || crew.includes(cue.target);

// ---------- sound: a chime on standby, a beep on GO ----------

let audio = null;
let lastAlert = 0; // local time of the last repeated chime for an overdue standby

/** The audio context, created on first use; null where there is none. */
function audioContext() {
  if (!audio) {
    try { audio = new AudioContext(); } catch { return null; }
    audio.onstatechange = showSoundPrompt;
  }
  return audio;
}

/** Tones: [frequency Hz, start s, length s], played together. */
function play(tones, counter) {
  if (!sound) return;
  document.body.dataset[counter] = String(Number(document.body.dataset[counter] || 0) + 1);
  const ctx = audioContext();
  if (!ctx) return;
  try {
    if (ctx.state === 'suspended') ctx.resume().catch(() => {});
    const t0 = ctx.currentTime;
    for (const [freq, at, len] of tones) {
      const osc = ctx.createOscillator(), gain = ctx.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, t0 + at);
      gain.gain.exponentialRampToValueAtTime(0.3, t0 + at + 0.01);
      gain.gain.exponentialRampToValueAtTime(0.001, t0 + at + len);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t0 + at);
      osc.stop(t0 + at + len + 0.02);
    }
  } catch { /* no audio here: the flash is enough */ }
  showSoundPrompt();
}
const beep = () => play([[880, 0, 0.3]], 'beeps');
const chime = () => play([[660, 0, 0.35], [990, 0.18, 0.5]], 'chimes');
const alarm = () => play([[990, 0, 0.2], [990, 0.25, 0.2], [990, 0.5, 0.2]], 'alarms');

/** Where the browser holds audio back until a gesture, a big button says so. */
function showSoundPrompt() {
  const blocked = sound && (!audio || audio.state !== 'running');
  $('sound-prompt').hidden = !blocked;
  document.body.dataset.sound = !sound ? 'off' : blocked ? 'blocked' : 'on';
}

// Browsers start audio only after a gesture: any key or tap unlocks it.
function unlock() {
  if (!sound) return;
  const ctx = audioContext();
  if (ctx && ctx.state !== 'running') ctx.resume().then(showSoundPrompt, showSoundPrompt);
}
addEventListener('pointerdown', unlock);
addEventListener('keydown', unlock);
$('sound-prompt').addEventListener('click', (e) => { unlock(); chime(); e.currentTarget.blur(); });
if (sound) audioContext(); // may start suspended: then the prompt shows
showSoundPrompt();

$('sound').checked = sound;
$('sound').addEventListener('change', (e) => {
  sound = e.target.checked;
  save('hub.sound', sound ? '1' : '0');
  e.target.blur();
  unlock();
  showSoundPrompt();
  beep(); // the gesture lets it play, and tells the crew it works
});

function noteCue(cue, op) {
  if (cueClosed(cue)) {
    if (!closedSeen.has(cue.id)) {
      closedSeen.set(cue.id, Date.now());
      setTimeout(render, FADE_MS + 50);
    }
  } else if (cue.state === 'go' && watched(cue)) {
    beep();
  } else if (cue.state === 'standby' && op === 'cue_standby' && watched(cue)) {
    chime();
  }
}

// ---------- answering ----------

const ANSWER = { standby: 'cue_standing_by', go: 'cue_done' };

async function answer(cue) {
  const type = ANSWER[cue.state];
  if (!type || busy.has(cue.id) || page.status !== 'connected') return;
  busy.add(cue.id);
  render();
  await runCommand(hub, lang, type, { cue: cue.id });
  busy.delete(cue.id);
  render();
}

/**
 * The cue Space and Enter act on, framed on the screen: the one alerting first, that is the
 * oldest standby waiting for its answer; only when none waits, the oldest GO to mark done.
 * A GO left open for minutes must never take the key from a new standby.
 */
function keyTarget() {
  const cues = ((hub.state && hub.state.cues) || []).filter((c) => watched(c) && !busy.has(c.id));
  const oldest = (state) => cues.filter((c) => c.state === state).sort((a, b) => a.id - b.id)[0];
  return oldest('standby') || oldest('go');
}

$('cue-list').addEventListener('click', (e) => {
  const button = e.target.closest('button.ack');
  if (!button || button.disabled) return;
  const id = Number(button.closest('li.cue').dataset.cueId);
  const cue = hub.state && hub.state.cues.find((c) => c.id === id);
  if (cue) answer(cue);
});
// A tap must not leave focus on a button: Space and Enter then stay "answer the framed cue".
document.addEventListener('mousedown', (e) => { if (e.target.closest('button')) e.preventDefault(); });
document.addEventListener('keydown', (e) => {
  if (e.key !== ' ' && e.key !== 'Enter') return;
  if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
  const target = e.target;
  if (target.closest && target.closest('input, select, textarea, button, [contenteditable]')) return;
  e.preventDefault();
  if (e.repeat) return;
  const cue = keyTarget();
  if (cue) answer(cue);
});

// ---------- drawing ----------

const closedAt = (cue) => (cue.done || cue.cancelled || cue.standby).at;
const fading = (cue) => closedSeen.has(cue.id) && Date.now() - closedSeen.get(cue.id) < FADE_MS;

/** The cue's last step in words: its state, or why it closed when its segment's end closed it. */
const stateText = (cue, segments) => cueClosedWith(lang, segments, cue) || t(lang, `cue_state_${cue.state}`);

function stepText(cue, tz, segments) {
  const given = `${cue.standby.by} · ${fmtClock(cue.standby.at, tz, lang, { seconds: true })}`;
  const last = cue.cancelled || cue.done || cue.go || cue.standing_by;
  if (!last) return given;
  return `${given} → ${stateText(cue, segments)} · ${last.by} · ${fmtClock(last.at, tz, lang, { seconds: true })}`;
}

const segmentBadge = (cue, segments) => el('span', {
  class: `cue-seg${cue.segment == null ? ' whole-day' : ''}`, text: cueSegmentTitle(lang, segments, cue),
});

function targetBadge(cue) {
  const pos = typeof cue.target === 'string' ? cue.target : 'person';
  return el('span', { class: `cue-target target-${pos}`, text: targetName(lang, cue.target) });
}

function cueItem(cue, tz, segments) {
  const label = cue.state === 'standby' ? 'ack_standby' : cue.state === 'go' ? 'ack_go' : 'ack_waiting';
  return el('li', { class: `cue${cueClosed(cue) ? ' closing' : ''}`, data: { cueId: String(cue.id), state: cue.state } },
    el('div', { class: 'cue-head' },
      targetBadge(cue),
      segmentBadge(cue, segments),
      el('span', { class: 'cue-age', attrs: { 'aria-live': 'off' } }),
      el('span', { class: 'cue-alert' })),
    el('p', { class: 'cue-call' },
      el('span', { class: 'cue-state cue-word' },
        el('span', { class: 'cue-symbol', text: SYMBOL[cue.state] || '', attrs: { 'aria-hidden': 'true' } }),
        t(lang, `cue_word_${cue.state}`)),
      el('span', { class: 'cue-text', text: localized(cue.text, lang) })),
    el('p', { class: 'cue-meta', text: stepText(cue, tz, segments) }),
    // The button the key presses carries the key's name, shown only on the framed cue.
    cueClosed(cue) ? null : el('button', { class: 'ack', attrs: { type: 'button' } },
      t(lang, label),
      el('span', { class: 'cue-key', text: `⎵ ${t(lang, 'cue_key_mark')}`, attrs: { 'aria-hidden': 'true' } })));
}

function recentItem(cue, tz, segments) {
  return el('li', { class: 'recent-cue', data: { cueId: String(cue.id), state: cue.state } },
    targetBadge(cue),
    el('span', { class: 'recent-text', text: localized(cue.text, lang) }),
    el('span', { class: 'muted', text: `${stateText(cue, segments)} · ${fmtClock(closedAt(cue), tz, lang)}` }));
}

function renderCues(s) {
  const tz = s.event.time_zone;
  const cues = (s.cues || []).filter(watched);
  const main = cues.filter((c) => !cueClosed(c) || fading(c)).sort((a, b) => a.id - b.id);
  const recent = cues.filter((c) => cueClosed(c) && !fading(c))
    .sort((a, b) => closedAt(b) - closedAt(a) || b.id - a.id).slice(0, RECENT);
  const segments = s.segments;
  const drawn = (c) => JSON.stringify([c, lang, cueSegmentTitle(lang, segments, c)]);
  const list = $('cue-list');
  keyedList(list, main, (c) => c.id, drawn, (c) => cueItem(c, tz, segments));
  const keyed = keyTarget();
  for (const li of list.children) {
    const id = Number(li.dataset.cueId);
    li.classList.toggle('next', Boolean(keyed) && keyed.id === id);
    const button = li.querySelector('button.ack');
    if (button) button.disabled = busy.has(id) || page.status !== 'connected' || !ANSWER[li.dataset.state];
  }
  $('cue-empty').hidden = main.length > 0;
  keyedList($('cue-recent'), recent, (c) => c.id, drawn, (c) => recentItem(c, tz, segments));
}

function avNotes(node, seg) {
  const notes = seg ? String(seg.av_notes || '') : '';
  setText(node, seg ? notes || t(lang, 'no_av_notes') : '');
  node.classList.toggle('muted', !notes);
  node.parentElement.hidden = !seg;
}

function renderSegments(s) {
  const { segments, live } = s;
  const seg = live.phase === 'live' ? segments[live.segment] : null;
  const sp = seg && live.speaker != null ? (seg.speakers || [])[live.speaker] : null;
  setText($('current-kind'), seg ? kindName(lang, seg.kind) : '');
  setText($('current-title'), seg ? localized(seg.title, lang) : t(lang, live.phase === 'ended' ? 'ended' : 'standby'));
  setText($('current-speaker'), sp ? localized(sp.name, lang) : '');
  $('held-badge').hidden = !(seg && live.held_since != null);
  avNotes($('current-av-notes'), seg);
  const nextIndex = live.phase === 'standby' ? 0 : seg ? live.segment + 1 : -1;
  const next = nextIndex >= 0 ? segments[nextIndex] : null;
  setText($('next-title'), next ? localized(next.title, lang) : t(lang, 'nothing_next'));
  avNotes($('next-av-notes'), next);
  const shown = s.stage ? `${stageText(lang, s.stage)} · ${s.stage.by}` : t(lang, 'stage_nothing');
  setText($('stage-current'), shown);
}

/**
 * For the interpretation booth: who speaks now and next, in which language (the speaker's
 * floor language, when the programme gives it), and the segment's channels.
 */
function renderInterpretation(s) {
  const box = $('cue-interp');
  box.hidden = Boolean(crew && !crew.includes('interpretation'));
  if (box.hidden) return;
  const { segments, live } = s;
  const seg = live.phase === 'live' ? segments[live.segment] : null;
  const sp = seg && live.speaker != null ? (seg.speakers || [])[live.speaker] : null;
  const next = nextSpeaker(s);
  const who = (key, person) => t(lang, key, {
    name: localized(person.name, lang),
    lang: person.lang ? t(lang, `track_${person.lang}`) : t(lang, 'capr_lang_unknown'),
  });
  setText($('interp-now'), sp ? who('cue_interp_now', sp) : '');
  setText($('interp-next'), next ? who('cue_interp_next', next) : '');
  $('interp-next').dataset.lang = next && next.lang ? next.lang : '';
  const where = seg || segments[live.phase === 'standby' ? 0 : -1];
  const channels = where && Array.isArray(where.interpretation) ? where.interpretation : [];
  setText($('interp-channels'), channels.length
    ? t(lang, 'cue_interp_channels', { list: channels.map((c) => `${c.channel} ${c.from}→${c.to}`).join(', ') }) : '');
}

/** While the connection is down the cues shown may be stale: an overlay covers them. */
function renderOffline() {
  const offline = page.status !== 'connected';
  $('offline').hidden = !offline;
  document.body.classList.toggle('is-offline', offline);
  setText($('offline-detail'), t(lang, 'cues_offline_detail', { status: t(lang, page.status || 'connecting') }));
}

function render() {
  renderOffline();
  const s = hub && hub.state;
  if (!s) return;
  markBody(hub);
  const title = localized(s.event.title, lang);
  setText($('event-title'), title);
  document.title = `${t(lang, 'cues_title')} — ${title}`;
  $('crew-all').hidden = Boolean(crew);
  document.body.dataset.crew = crew ? crew.join(',') : '';
  renderSegments(s);
  renderInterpretation(s);
  renderCues(s);
  if (notes) notes.render();
  tick();
}

/** The side timers the chair shows on cue screens, and whether the stage is on air or black. */
function drawBooth(s, now) {
  const screen = s.screen || {};
  drawTimers($('cue-timers'), s.timers, now, 'cues');
  $('cue-on-air').hidden = !screen.on_air;
  setText($('cue-on-air'), t(lang, 'on_air'));
  $('cue-blackout').hidden = !screen.blackout;
  setText($('cue-blackout'), t(lang, 'blackout_badge'));
  $('cue-booth').hidden = $('cue-timers').hidden && !screen.on_air && !screen.blackout;
}

function tick() {
  const s = hub.state;
  if (!s) return;
  const now = hub.serverNow();
  setText($('clock'), fmtClock(now, s.event.time_zone, lang, { seconds: true }));
  drawBooth(s, now);
  const tm = timing(s, now);
  const cd = $('countdown');
  setText(cd, tm.phase === 'live' ? fmtCountdown(tm.remaining_ms) : '');
  cd.classList.toggle('overrun', tm.phase === 'live' && tm.remaining_ms < 0);
  tickAges(s, now);
}

const fmtAge = (ms) => {
  const sec = Math.max(0, Math.floor(ms / 1000));
  return sec < 60 ? t(lang, 'cue_age', { s: sec }) : t(lang, 'cue_age_min', { m: Math.floor(sec / 60), s: sec % 60 });
};

/**
 * Each open cue's age since its standby, from the synchronized clock; a standby unanswered
 * past standby_alert_ms turns overdue (stronger colour, pattern, a chime every few seconds).
 */
function tickAges(s, now) {
  const alertMs = Number(s.event && s.event.standby_alert_ms) || ALERT_DEFAULT_MS;
  let overdue = false;
  for (const li of $('cue-list').children) {
    const cue = s.cues.find((c) => c.id === Number(li.dataset.cueId));
    if (!cue) continue;
    const open = !cueClosed(cue);
    const age = now - cue.standby.at;
    setText(li.querySelector('.cue-age'), open ? fmtAge(age) : '');
    const late = open && cue.state === 'standby' && age >= alertMs && page.status === 'connected';
    li.classList.toggle('overdue', late);
    setText(li.querySelector('.cue-alert'), late ? t(lang, 'cue_unanswered', { s: Math.floor(age / 1000) }) : '');
    if (late) overdue = true;
  }
  document.body.classList.toggle('has-overdue', overdue);
  if (overdue && Date.now() - lastAlert >= ALERT_REPEAT_MS) {
    lastAlert = Date.now();
    alarm();
  }
}

setInterval(tick, 250);
