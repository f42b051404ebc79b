// The AV cue screen (/cues, role av): the open cues of the crew positions watched, big
// enough to read from across the room, answered with one key or one tap; the current and
// next segment with their AV notes. Cue texts and names are shown as text only.

import {
  timing, localized, preferredLang, readFragment, fmtClock, fmtCountdown, cueClosed,
  CREW, load, save,
} from './client.js';
import { t, kindName } from './i18n.js';
import {
  $, el, setText, startPage, markBody, runCommand, targetName, keyedList,
  stageText,
} from './ui.js';

const FADE_MS = 4000; // a closed cue stays this long in the main list, fading, then moves to "recent"
const RECENT = 6;

const frag = readFragment();
let lang = preferredLang(frag);
let crew = frag.crew; // null: every position
let sound = frag.sound || load('hub.sound') === '1';
const closedSeen = new Map(); // cue id → local time it was seen closing, for the fade
const busy = new Set(); // cue ids whose answer awaits its reply

const page = startPage({ lang, render, onLang: (picked) => { lang = picked; } });
const hub = page.connect({
  name: frag.name || (crew ? `AV (${crew.join(', ')})` : 'AV'),
  mode: frag.mode || 'in_room',
  crew,
  onWelcome: (state, msg) => { if (msg.resume !== 'replay') closedSeen.clear(); render(); },
  onChange: (state, msg) => {
    const ch = msg.change || {};
    if (ch.kind === 'cue' && ch.cue) noteCue(ch.cue);
    render();
  },
});
$('lang').addEventListener('change', (e) => e.target.blur()); // Space answers cues again

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

// ---------- sound: a short beep on GO ----------

let audio = null;
function beep() {
  if (!sound) return;
  document.body.dataset.beeps = String(Number(document.body.dataset.beeps || 0) + 1);
  try {
    audio = audio || new AudioContext();
    if (audio.state === 'suspended') audio.resume();
    const now = audio.currentTime, osc = audio.createOscillator(), gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.25, now);
    gain.gain.exponentialRampToValueAtTime(0.001, now + 0.3);
    osc.connect(gain).connect(audio.destination);
    osc.start(now);
    osc.stop(now + 0.3);
  } catch { /* no audio here: the flash is enough */ }
}
// Browsers start audio only after a gesture: the first key or tap unlocks it.
const unlock = () => { if (sound && !audio) { try { audio = new AudioContext(); } catch { /* none */ } } };
addEventListener('pointerdown', unlock, { once: true });
addEventListener('keydown', unlock, { once: true });

$('sound').checked = sound;
$('sound').addEventListener('change', (e) => {
  sound = e.target.checked;
  save('hub.sound', sound ? '1' : '0');
  e.target.blur();
  beep(); // the gesture lets it play, and tells the crew it works
});

function noteCue(cue) {
  if (cueClosed(cue)) {
    if (!closedSeen.has(cue.id)) {
      closedSeen.set(cue.id, Date.now());
      setTimeout(render, FADE_MS + 50);
    }
  } else if (cue.state === 'go' && watched(cue)) {
    beep();
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

/** The oldest cue waiting for this crew: a standby to answer, or a GO to confirm. */
function oldestActionable() {
  const cues = (hub.state && hub.state.cues) || [];
  return cues.filter((c) => watched(c) && ANSWER[c.state] && !busy.has(c.id)).sort((a, b) => a.id - b.id)[0];
}

$('cue-list').addEventListener('click', (e) => {
  const button = e.target.closest('button.ack');
  if (!button || button.disabled) return;
  const id = Number(button.closest('li.cue').dataset.cueId);
  const cue = hub.state && hub.state.cues.find((c) => c.id === id);
  if (cue) answer(cue);
});
// A tap must not leave focus on a button: Space and Enter then stay "answer the oldest".
document.addEventListener('mousedown', (e) => { if (e.target.closest('button')) e.preventDefault(); });
document.addEventListener('keydown', (e) => {
  if (e.key !== ' ' && e.key !== 'Enter') return;
  if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
  const target = e.target;
  if (target.closest && target.closest('input, select, textarea, button, [contenteditable]')) return;
  e.preventDefault();
  if (e.repeat) return;
  const cue = oldestActionable();
  if (cue) answer(cue);
});

// ---------- drawing ----------

const closedAt = (cue) => (cue.done || cue.cancelled || cue.standby).at;
const fading = (cue) => closedSeen.has(cue.id) && Date.now() - closedSeen.get(cue.id) < FADE_MS;

function stepText(cue, tz) {
  const given = `${cue.standby.by} · ${fmtClock(cue.standby.at, tz, lang, { seconds: true })}`;
  const last = cue.cancelled || cue.done || cue.go || cue.standing_by;
  if (!last) return given;
  return `${given} → ${t(lang, `cue_state_${cue.state}`)} · ${last.by} · ${fmtClock(last.at, tz, lang, { seconds: true })}`;
}

function targetBadge(cue) {
  const pos = typeof cue.target === 'string' ? cue.target : 'person';
  return el('span', { class: `cue-target target-${pos}`, text: targetName(lang, cue.target) });
}

function cueItem(cue, tz) {
  const label = cue.state === 'standby' ? 'ack_standby' : cue.state === 'go' ? 'ack_go' : 'ack_waiting';
  return el('li', { class: `cue${cueClosed(cue) ? ' closing' : ''}`, data: { cueId: String(cue.id), state: cue.state } },
    el('div', { class: 'cue-head' },
      targetBadge(cue),
      el('span', { class: 'cue-state', text: t(lang, `cue_state_${cue.state}`) })),
    el('p', { class: 'cue-text', text: localized(cue.text, lang) }),
    el('p', { class: 'cue-meta', text: stepText(cue, tz) }),
    cueClosed(cue) ? null : el('button', { class: 'ack', text: t(lang, label), attrs: { type: 'button' } }));
}

function recentItem(cue, tz) {
  return el('li', { class: 'recent-cue', data: { cueId: String(cue.id), state: cue.state } },
    targetBadge(cue),
    el('span', { class: 'recent-text', text: localized(cue.text, lang) }),
    el('span', { class: 'muted', text: `${t(lang, `cue_state_${cue.state}`)} · ${fmtClock(closedAt(cue), tz, lang)}` }));
}

function renderCues(s) {
  const tz = s.event.time_zone;
  const cues = (s.cues || []).filter(watched);
  const main = cues.filter((c) => !cueClosed(c) || fading(c)).sort((a, b) => a.id - b.id);
  const recent = cues.filter((c) => cueClosed(c) && !fading(c))
    .sort((a, b) => closedAt(b) - closedAt(a) || b.id - a.id).slice(0, RECENT);
  const list = $('cue-list');
  keyedList(list, main, (c) => c.id, (c) => JSON.stringify([c, lang]), (c) => cueItem(c, tz));
  const next = oldestActionable();
  for (const li of list.children) {
    const id = Number(li.dataset.cueId);
    li.classList.toggle('next', Boolean(next) && next.id === id);
    const button = li.querySelector('button.ack');
    if (button) button.disabled = busy.has(id) || page.status !== 'connected' || !ANSWER[li.dataset.state];
  }
  $('cue-empty').hidden = main.length > 0;
  keyedList($('cue-recent'), recent, (c) => c.id, (c) => JSON.stringify([c, lang]), (c) => recentItem(c, tz));
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

function render() {
  const s = hub.state;
  if (!s) return;
  markBody(hub);
  const title = localized(s.event.title, lang);
  setText($('event-title'), title);
  document.title = `${t(lang, 'cues_title')} — ${title}`;
  $('crew-all').hidden = Boolean(crew);
  document.body.dataset.crew = crew ? crew.join(',') : '';
  renderSegments(s);
  renderCues(s);
  tick();
}

function tick() {
  const s = hub.state;
  if (!s) return;
  const now = hub.serverNow();
  setText($('clock'), fmtClock(now, s.event.time_zone, lang, { seconds: true }));
  const tm = timing(s, now);
  const cd = $('countdown');
  setText(cd, tm.phase === 'live' ? fmtCountdown(tm.remaining_ms) : '');
  cd.classList.toggle('overrun', tm.phase === 'live' && tm.remaining_ms < 0);
}

setInterval(tick, 250);
