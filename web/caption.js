// The captioner's desk (/caption, the captioner token): pick a track, type or paste a line,
// Enter sends it over the HTTP ingest with the track's next seq (docs/integrations.md,
// "Captions"); the last seq is read at start and on a track change, and a refused seq
// (409 out_of_order) resyncs to the one the server expects. The websocket follows the live
// state, so the captioner sees the segment and who is speaking, in which language.

import { localized, preferredLang, readFragment, load, save, TRACKS } from './client.js';
import { t } from './i18n.js';
import { $, el, setText, startPage, markBody, showMessage } from './ui.js';
import { floorHolder, nextSpeaker } from './stage-view.js';

const KEPT = 30; // lines sent shown on the page
const frag = readFragment();
let lang = preferredLang(frag);
let track = TRACKS.includes(load('hub.caption.track')) ? load('hub.caption.track') : lang;
let last = null; // the track's last final seq, as the server said; null until read
let chain = Promise.resolve(); // lines go out one after another, so seqs stay in order
// {seq, track, text, state: 'pending'|'sending'|'sent'|'failed', error}: 'pending' waits for
// the connection, and goes out in order once it is back.
const sent = [];
let online = null; // resolves the wait of a line that met no server, when the connection is back

const page = startPage({ lang, render, onLang: (picked) => { lang = picked; } });
const hub = page.connect({
  name: frag.name || t(lang, 'default_name_captioner'), mode: frag.mode || 'in_room', screen: true, onWelcome: render, onChange: render,
  onStatus: (status) => {
    if (status === 'connected' && online) { const go = online; online = null; go(); }
    drawSent();
  },
});

/** Resolves when the page's connection to the server is back (at once when it is up). */
function connectionBack() {
  if (page.status === 'connected') return Promise.resolve();
  return new Promise((resolve) => {
    const before = online;
    online = () => { if (before) before(); resolve(); };
  });
}

const api = (path) => `/api/v1/events/${encodeURIComponent(frag.event || '')}/captions${path}`;
const auth = { Authorization: `Bearer ${frag.token || ''}` };

/** Reads the track's last seq from the server. */
async function readSeq() {
  const asked = track;
  last = null;
  drawSeq();
  try {
    const reply = await fetch(api(`/seq?lang=${asked}`), { headers: auth });
    const body = await reply.json();
    if (!reply.ok) throw new Error(body.message || body.code || reply.status);
    if (asked === track) last = body.seq;
  } catch (err) {
    showMessage(t(lang, 'capr_failed', { error: err.message || String(err) }));
  }
  drawSeq();
}

/**
 * POSTs one line with seq = last + 1; when that seq was taken meanwhile (out_of_order, or
 * ignored as a retry) it takes the next one and sends again, once. A line that meets no
 * server waits, pending, until the connection is back and is sent again with the same seq
 * (a retry the server answers as ignored when the first attempt did arrive).
 */
async function post(item) {
  for (let attempt = 0; attempt < 2; attempt++) {
    while (last == null) {
      await connectionBack();
      await readSeq();
      if (last == null) { item.state = 'pending'; drawSent(); await pause(); }
    }
    if (item.track !== track) break;
    if (item.seq == null) item.seq = last + 1;
    let reply, body;
    try {
      item.state = 'sending';
      reply = await fetch(api(`?lang=${item.track}&seq=${item.seq}`), {
        method: 'POST', headers: { ...auth, 'Content-Type': 'text/plain; charset=utf-8' }, body: item.text,
      });
      body = await reply.json().catch(() => ({}));
    } catch {
      item.state = 'pending'; item.error = null; item.maybeArrived = true;
      drawSent();
      await connectionBack();
      await pause();
      attempt--;
      continue;
    }
    if (reply.ok && body.ignored && item.maybeArrived) {
      // Sent before, and the answer was lost with the connection: it arrived then.
      last = item.seq;
      item.state = 'sent';
      return;
    }
    if (reply.ok && body.ignored) {
      // An "ignored" seq this page had not sent before was taken by another captioner
      // meanwhile (the server took it for a retry of theirs). Move past it and send again.
      last = item.seq;
      item.seq = null; item.maybeArrived = false;
      setText($('capr-status'), t(lang, 'capr_resync', { n: last }));
      continue;
    }
    if (reply.ok) {
      last = item.seq;
      item.state = 'sent';
      return;
    }
    if (reply.status === 409 && body.code === 'out_of_order' && Number.isInteger(body.expected)) {
      last = body.expected - 1;
      item.seq = null; item.maybeArrived = false;
      setText($('capr-status'), t(lang, 'capr_resync', { n: last }));
      continue;
    }
    item.state = 'failed'; item.error = `${body.code || reply.status}: ${body.message || ''}`;
    return;
  }
  if (item.state === 'sending') { item.state = 'failed'; item.error = 'out_of_order'; }
}

/** A moment between attempts while the server is away. */
function pause() {
  return new Promise((resolve) => { setTimeout(resolve, 500); });
}

$('capr-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = $('capr-input');
  const text = input.value.replace(/\p{Cc}/gu, ' ').trim();
  if (!text) return;
  input.value = '';
  const item = { seq: null, track, text, state: page.status === 'connected' ? 'sending' : 'pending', error: null };
  sent.push(item);
  if (sent.length > KEPT) sent.shift();
  drawSent();
  chain = chain.then(() => post(item)).then(() => { drawSent(); drawSeq(); });
});

$('capr-track').addEventListener('change', (e) => {
  track = e.target.value;
  save('hub.caption.track', track);
  chain = chain.then(readSeq);
  $('capr-input').focus();
});

function drawSeq() {
  setText($('capr-seq'), last == null ? '' : t(lang, 'capr_last', { n: last }));
  document.body.dataset.captionSeq = last == null ? '' : String(last);
}

function drawSent() {
  const list = $('capr-lines');
  list.replaceChildren(...sent.slice().reverse().map((s) => el('li', { class: `capr-line ${s.state}`, data: { state: s.state } },
    el('span', { class: 'capr-meta muted', text: `${t(lang, `track_${s.track}`)} #${s.seq ?? '…'}` }),
    el('span', { class: 'capr-text', text: s.text }),
    s.state === 'failed' ? el('span', { class: 'capr-error', text: t(lang, 'capr_failed', { error: s.error }) }) : null,
    s.state === 'pending' ? el('span', { class: 'capr-pending', text: t(lang, 'capr_pending') }) : null)));
  const waiting = sent.filter((s) => s.state === 'pending').length;
  const status = $('capr-status');
  if (waiting) setText(status, t(lang, 'capr_waiting', { n: waiting }));
  else if (status.dataset.waiting === 'true') setText(status, '');
  status.dataset.waiting = String(waiting > 0);
}

function render() {
  const s = hub.state;
  const select = $('capr-track');
  for (const o of select.options) setText(o, t(lang, `track_${o.value}`));
  select.value = track;
  drawSeq();
  drawSent();
  if (!s) return;
  markBody(hub);
  setText($('event-title'), localized(s.event.title, lang));
  const live = s.live;
  const seg = live.phase === 'live' ? s.segments[live.segment] : null;
  setText($('current-title'), seg ? localized(seg.title, lang) : t(lang, live.phase === 'ended' ? 'ended' : 'standby'));
  $('held-badge').hidden = !(seg && live.held_since != null);
  const floor = floorHolder(s, lang);
  setText($('current-speaker'), floor ? floor.name : '—');
  const sp = seg && live.speaker != null ? (seg.speakers || [])[live.speaker] : null;
  const spLang = floor && !floor.fromQueue && sp ? sp.lang : floor && floor.fromQueue ? activeLang(s) : null;
  setText($('speaker-lang'), floor ? `(${spLang ? t(lang, 'capr_speaks', { lang: t(lang, `track_${spLang}`) }) : t(lang, 'capr_lang_unknown')})` : '');
  const next = nextSpeaker(s);
  setText($('next-speaker'), next ? localized(next.name, lang) : '—');
}

/** The language of the person called from the floor, as they joined with it. */
function activeLang(s) {
  const q = s.queues && Object.values(s.queues).find((queue) => queue && queue.speaking);
  return q ? q.speaking.lang : null;
}

render();
readSeq();
$('capr-input').focus();
