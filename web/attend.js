// The attendee view (remote or in the room, phone first): what runs now, who speaks, what is
// next, and the speaker queue: ask to speak, one's own place, the public queue; who is here.

import {
  timing, localized, preferredLang, readFragment, load, save, cleanName,
  activeQueueName, findMyEntry,
} from './client.js';
import { t } from './i18n.js';
import {
  $, el, setText, showMessage, startPage, errorText, markBody, renderNow, drawCountdown,
} from './ui.js';
import { queueLabel, entryParts, drawSpeakingClock, redrawIf } from './queue-ui.js';
import { renderCounts, renderRecent, markSpeakers, speakerData } from './presence-ui.js';

const frag = readFragment();
let lang = preferredLang(frag);
let hub = null;
let asking = false; // a queue_request awaits its reply

const page = startPage({ lang, render, onLang: (picked) => { lang = picked; } });

const MODES = ['in_room', 'remote'];
const storedMode = MODES.includes(load('hub.mode')) ? load('hub.mode') : null;
const mode = frag.mode || storedMode || 'remote';
const knownName = cleanName(frag.name) || cleanName(load('hub.name'));

if (!frag.event || !frag.token) {
  page.setStatus('closed', { code: 'missing_fragment', message: 'the page address needs #event=…&token=…' });
} else if (knownName) {
  start(knownName, mode);
} else {
  askName();
}

/** The first visit: a small form for the display name (and in-room or remote). */
function askName() {
  const form = $('name-form');
  const input = $('name-input');
  for (const radio of form.elements.mode) radio.checked = radio.value === mode;
  form.hidden = false;
  $('view').hidden = true;
  input.focus();
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (hub) return;
    const name = cleanName(input.value);
    if (!name) { input.focus(); return; }
    const picked = MODES.includes(form.elements.mode.value) ? form.elements.mode.value : mode;
    save('hub.name', name);
    save('hub.mode', picked);
    form.hidden = true;
    $('view').hidden = false;
    start(name, picked);
  });
}

function start(name, pickedMode) {
  $('name-form').hidden = true;
  hub = page.connect({
    name, mode: pickedMode,
    onWelcome: render,
    onChange: render,
    onPresence: (state) => renderPresence(state),
    onError: (err) => showMessage(errorText(lang, err)),
  });
  setInterval(tick, 100);
}

function render() {
  const s = hub && hub.state;
  if (!s) return;
  markBody(hub);
  const title = localized(s.event.title, lang);
  setText($('event-title'), title);
  document.title = title;
  setText($('venue'), localized(s.event.venue, lang));
  renderNow(s, lang);
  renderQueue(s);
  renderPresence(s);
  tick();
}

/** Who's here: counts, the current segment's chair and speakers (connected or not), recent joins. */
function renderPresence(s) {
  const p = s.presence;
  $('presence').hidden = !p;
  if (!p) return;
  renderCounts(p, lang);
  const live = s.live;
  const i = live && live.phase === 'live' ? live.segment : null;
  const seg = i != null ? s.segments[i] : null;
  $('presence-speakers-box').hidden = !seg;
  const key = JSON.stringify([i, lang, seg && seg.chair, seg && (seg.speakers || []).map((sp) => sp.name)]);
  redrawIf($('presence-speakers'), key, () => (seg ? [
    ...(seg.chair ? [[-1, seg.chair]] : []), ...(seg.speakers || []).map((sp, j) => [j, sp.name]),
  ] : []).map(([j, name]) => el('li', { class: 'presence-chip', data: speakerData(i, j) },
    el('span', { class: 'chip-name', text: localized(name, lang) }),
    j === -1 ? el('span', { class: 'chip-role muted', text: t(lang, 'chair') }) : null)));
  markSpeakers($('presence-speakers'), p, lang);
  renderRecent($('recent-joins'), p.recent, lang);
  $('recent-empty').hidden = p.recent.length > 0;
}

/**
 * The active queue, and this attendee's open entry (found by `who`, so in any tab) in any
 * queue, the active one first: a request made in Open Q&A before the show started stays
 * visible, with its withdraw button, once a segment runs.
 */
function queueNow(s) {
  const name = activeQueueName(s);
  const queue = s.queues ? s.queues[name] : null;
  const found = findMyEntry(s, s.you && s.you.who);
  return { name, queue, mine: found ? found.mine : null, mineQueue: found ? found.name : null };
}

function statusText(mine) {
  if (mine.slot === 'speaking') return t(lang, 'q_my_speaking');
  if (mine.slot === 'on_deck') return t(lang, 'q_my_on_deck');
  const key = mine.ahead === 0 ? 'q_my_waiting_none' : mine.ahead === 1 ? 'q_my_waiting_one' : 'q_my_waiting';
  return t(lang, key, { n: mine.position, k: mine.ahead });
}

function renderQueue(s) {
  const { name, queue: q, mine, mineQueue } = queueNow(s);
  // A server without speaker queues: the page is just the run of show.
  $('public-queue').hidden = !q;
  $('ask').hidden = !q || Boolean(mine);
  $('my-entry').hidden = !mine;
  if (mine) {
    setText($('my-status'), statusText(mine));
    $('my-entry').dataset.slot = mine.slot;
    $('my-entry').dataset.queue = mineQueue;
    setText($('my-queue'), queueLabel(s, mineQueue, lang));
    $('btn-withdraw').hidden = mine.slot === 'speaking';
    $('btn-withdraw').disabled = page.status !== 'connected';
  }
  if (!q) return;

  const label = queueLabel(s, name, lang);
  setText($('ask-queue'), label);
  setText($('public-queue-name'), label);
  $('btn-ask').disabled = asking || page.status !== 'connected';

  const mineId = mine && mineQueue === name ? mine.entry.id : null;
  const parts = (entry) => entryParts(entry, lang, { mine: entry.id === mineId });
  const slot = (entry, emptyKey) => (entry
    ? [el('div', { class: 'q-main', data: { entryId: String(entry.id) } }, ...parts(entry))]
    : [el('p', { class: 'muted', text: t(lang, emptyKey) })]);
  redrawIf($('public-speaking'), JSON.stringify([q.speaking, lang, mineId]), () => slot(q.speaking, 'q_nobody_speaking'));
  redrawIf($('public-on-deck'), JSON.stringify([q.on_deck, lang, mineId]), () => slot(q.on_deck, 'q_nobody_on_deck'));
  $('public-speaking').classList.toggle('mine', mineId != null && mine.slot === 'speaking');
  $('public-on-deck').classList.toggle('mine', mineId != null && mine.slot === 'on_deck');
  redrawIf($('public-waiting'), JSON.stringify([q.waiting, lang, mineId]), () => q.waiting.map((entry, i) => el('li',
    { class: `q-entry${entry.id === mineId ? ' mine' : ''}`, data: { entryId: String(entry.id) } },
    el('span', { class: 'q-pos', text: String(i + 1) }), el('div', { class: 'q-main' }, ...parts(entry)))));
  $('public-empty').hidden = q.waiting.length > 0;
}

$('ask-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const s = hub && hub.state;
  if (!s || asking) return;
  const topic = [...$('ask-topic').value.replace(/\p{Cc}/gu, ' ').trim()].slice(0, 140).join('');
  const fields = { queue: activeQueueName(s), kind: $('ask-kind').value };
  if (topic) fields.topic = topic;
  asking = true;
  render();
  try {
    await hub.send('queue_request', fields);
    $('ask-topic').value = '';
    $('ask-kind').value = 'speak';
  } catch (err) {
    showMessage(errorText(lang, err));
  } finally {
    asking = false;
    render();
  }
});

$('btn-withdraw').addEventListener('click', async () => {
  const s = hub && hub.state;
  const { mineQueue } = s ? queueNow(s) : {};
  if (!mineQueue) return;
  try {
    await hub.send('queue_withdraw', { queue: mineQueue });
  } catch (err) {
    showMessage(errorText(lang, err));
  }
});

/** Countdown from the synchronized clock: nothing is needed from the server while a segment runs. */
function tick() {
  const s = hub && hub.state;
  if (!s) return;
  const now = hub.serverNow();
  drawCountdown(timing(s, now), lang);
  const { mine, mineQueue } = queueNow(s);
  if (mine && mine.slot === 'speaking') drawSpeakingClock($('my-countdown'), s.queues[mineQueue], now);
  else $('my-countdown').hidden = true;
}
