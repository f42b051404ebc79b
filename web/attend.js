// The attendee view (remote or in the room, phone first): what runs now, who speaks, what is
// next, and the speaker queue: ask to speak (for a side, when the event has sides), one's
// own place, the public queue; who is here.
// The day's programme with expected start times (event's time zone and the viewer's); an
// "It's your turn" that cannot be missed; a request that expired or moved says so.
// Captions in the viewer's language (or another track), and which interpretation channel
// carries that language in the current segment. The open poll and written questions
// (attend-voice.js).

import {
  timing, localized, preferredLang, readFragment, load, save, cleanName,
  activeQueueName, findMyEntry, myEntry, fmtClock, TRACKS,
} from './client.js';
import { t, kindName } from './i18n.js';
import {
  $, el, setText, showMessage, startPage, errorText, markBody, renderNow, drawCountdown, keyedList,
} from './ui.js';
import { queueLabel, entryParts, drawSpeakingClock, redrawIf } from './queue-ui.js';
import { floorHolder } from './stage-view.js';
import { renderCounts, renderRecent, markSpeakers, speakerData } from './presence-ui.js';
import { createAttendVoice } from './attend-voice.js';

const frag = readFragment();
let lang = preferredLang(frag);
let hub = null;
let asking = false; // a queue_request awaits its reply
let notice = null; // {kind: 'expired' | 'moved', queue}: what became of this person's request
let lastMine = null; // the queue of this person's open entry, as last seen
let wasTurn = false; // "It's your turn" was shown at the last render
let audio = null; // created in a gesture (asking to speak), so that the turn can chime
let programmeAt = 0; // local time the programme was last computed
const viewerZone = (() => { try { return Intl.DateTimeFormat().resolvedOptions().timeZone; } catch { return null; } })();

// The caption panel's choices, remembered on this device.
const caption = {
  on: load('hub.captions.on') !== '0',
  track: ['auto', ...TRACKS].includes(load('hub.captions.track')) ? load('hub.captions.track') : 'auto',
  large: load('hub.captions.large') === '1',
  contrast: load('hub.captions.contrast') === '1',
};
/** The track followed: none when off, the page's language for 'auto'. */
const captionTrack = () => (!caption.on ? null : caption.track === 'auto' ? lang : caption.track);
const CAPTIONS_SHOWN = 8;

const page = startPage({ lang, render, onLang: (picked) => { lang = picked; }, captions: captionTrack });
const voice = createAttendVoice({ hub: () => hub, lang: () => lang, connected: () => page.status === 'connected' });

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
  // Nothing connects before a name is given: no "Connecting…" yet, and a title in the page's language.
  $('conn-status').hidden = true;
  setText($('event-title'), t(lang, 'join_title'));
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
  $('conn-status').hidden = false;
  hub = page.connect({
    name, mode: pickedMode,
    captions: captionTrack(),
    onCaption: renderCaptions,
    onWelcome: render,
    onChange: (state, msg) => { noteClosed(state, msg); render(); },
    onPresence: (state) => renderPresence(state),
    onError: (err) => showMessage(errorText(lang, err)),
  });
  setInterval(tick, 100);
}

function render() {
  const s = hub && hub.state;
  if (!s) return;
  markBody(hub);
  renderCalendarLink();
  const title = localized(s.event.title, lang);
  setText($('event-title'), title);
  setText($('venue'), localized(s.event.venue, lang));
  renderNow(s, lang, hub.serverNow());
  // Someone called from the queue has the floor: the phone names her, as the stage does.
  const floor = floorHolder(s, lang);
  if (floor && floor.fromQueue) {
    setText($('current-speaker'), floor.name);
    setText($('speaker-affiliation'), floor.affiliation || '');
  }
  const turn = renderQueue(s);
  document.title = turn ? t(lang, 'your_turn_title', { title }) : title;
  renderProgramme(s, hub.serverNow());
  renderPresence(s);
  renderInterpretation(s);
  renderCaptions();
  voice.render();
  tick();
}

// ---------- captions and interpretation ----------

const trackName = (track) => t(lang, `track_${track}`);

/**
 * Which channel carries the viewer's language now: the segment's channel into it (from the
 * current speaker's language when known), its listen link for a remote attendee; none
 * needed when the speaker speaks it; or that there is none.
 */
/** The programme as an .ics file for the attendee's calendar, in the page's language. */
function renderCalendarLink() {
  const link = $('calendar-link');
  const query = new URLSearchParams({ token: frag.token, lang });
  link.href = `/api/events/${encodeURIComponent(frag.event)}/programme.ics?${query}`;
  link.hidden = false;
}

function renderInterpretation(s) {
  const live = s.live;
  const seg = live && live.phase === 'live' ? s.segments[live.segment] : null;
  const channels = (seg && Array.isArray(seg.interpretation)) ? seg.interpretation : [];
  $('interpretation').hidden = channels.length === 0;
  const sp = seg && live.speaker != null ? (seg.speakers || [])[live.speaker] : null;
  const floor = sp && sp.lang ? sp.lang : null;
  const into = channels.filter((c) => c.to === lang);
  const channel = into.find((c) => c.from === floor) || (floor ? null : into[0]) || null;
  let text = '', url = null;
  if (floor === lang) text = t(lang, 'interp_floor', { lang: trackName(lang) });
  else if (channel) {
    text = t(lang, 'interp_channel', { lang: trackName(lang), n: channel.channel });
    if (hub.you && hub.you.mode === 'remote' && /^https?:\/\//i.test(channel.listen_url || '')) url = channel.listen_url;
  } else if (into.length) text = t(lang, 'interp_channel', { lang: trackName(lang), n: into.map((c) => c.channel).join(', ') });
  else text = t(lang, 'interp_none', { lang: trackName(lang) });
  setText($('interp-text'), text);
  $('interpretation').dataset.channel = channel ? String(channel.channel) : '';
  link($('interp-listen'), url);
}

/** The caption panel: its controls, and the latest lines of the followed track. */
function renderCaptions() {
  const panel = $('caption-panel');
  const track = captionTrack();
  $('cap-on').checked = caption.on;
  $('cap-large').checked = caption.large;
  $('cap-contrast').checked = caption.contrast;
  const select = $('cap-track');
  for (const o of select.options) {
    setText(o, o.value === 'auto' ? t(lang, 'cap_auto', { lang: trackName(lang) }) : trackName(o.value));
  }
  select.value = caption.track;
  select.disabled = !caption.on;
  panel.classList.toggle('large', caption.large);
  panel.classList.toggle('contrast', caption.contrast);
  panel.dataset.track = track || 'off';
  const got = hub && hub.captions && hub.captions.track === track ? hub.captions.lines : [];
  // The speaker's name where the speaker changes, not on every line.
  const lines = (track ? got.slice(-CAPTIONS_SHOWN) : []).map((l, i, all) => ({
    ...l, showWho: Boolean(l.speaker) && (i === 0 || !all[i - 1].speaker || all[i - 1].speaker.id !== l.speaker.id),
  }));
  keyedList($('caption-lines'), lines, (l) => l.seq, (l) => JSON.stringify([l.text, l.final, l.showWho, lang]),
    (l) => captionItem(l, track));
  const empty = $('caption-empty');
  empty.hidden = lines.length > 0;
  // A silent track while others run: say which, and offer them.
  const others = track && hub && hub.captions ? (hub.captions.live || []).filter((tr) => tr !== track) : [];
  const offer = others.map((tr) => {
    const b = el('button', { class: 'cap-offer', text: trackName(tr), attrs: { type: 'button', 'data-track': tr } });
    b.addEventListener('click', () => captionChoice('track', tr));
    return b;
  });
  const text = !track ? t(lang, 'cap_off') : others.length ? t(lang, 'cap_waiting_others', { track: trackName(track) }) : t(lang, 'cap_waiting');
  const key = JSON.stringify([text, others]);
  if (empty.dataset.key !== key) {
    empty.dataset.key = key;
    empty.replaceChildren(text, ...offer);
  }
}

function captionItem(line, track) {
  const who = line.showWho ? localized(line.speaker.name, lang) : '';
  const text = el('span', { class: 'cap-text', text: line.text });
  if (track !== 'floor') text.lang = track;
  return el('li', { class: line.final === false ? 'cap-line partial' : 'cap-line', data: { seq: line.seq } },
    who ? el('span', { class: 'cap-who', text: who }) : null, text);
}

function captionChoice(key, value) {
  caption[key] = value;
  const stored = typeof value === 'boolean' ? (value ? '1' : '0') : value;
  save(`hub.captions.${key}`, stored);
  if ((key === 'on' || key === 'track') && hub) hub.setLang(lang, captionTrack());
  renderCaptions();
}
$('cap-on').addEventListener('change', (e) => captionChoice('on', e.target.checked));
$('cap-track').addEventListener('change', (e) => captionChoice('track', e.target.value));
$('cap-large').addEventListener('change', (e) => captionChoice('large', e.target.checked));
$('cap-contrast').addEventListener('change', (e) => captionChoice('contrast', e.target.checked));
renderCaptions();

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
    j === -1 ? el('span', { class: 'chip-role muted', text: t(lang, 'chair') }) : null,
    el('span', { class: 'chip-status muted' }))));
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
  // Everyone before this person: the one speaking and the one on deck count too.
  const key = mine.ahead === 0 ? 'q_my_waiting_none' : mine.ahead === 1 ? 'q_my_waiting_one' : 'q_my_waiting';
  const detail = mine.speaking && mine.onDeck ? 'q_ahead_speaking_deck'
    : mine.speaking ? 'q_ahead_speaking' : mine.onDeck ? 'q_ahead_deck' : null;
  const text = t(lang, key, { n: mine.position, k: mine.ahead });
  return detail ? `${text} ${t(lang, detail)}` : text;
}

/** A queue whose turn can come now: open Q&A, or the queue of the segment that is live. */
function queueIsLive(s, name) {
  if (name === 'event') return true;
  const live = s.live;
  const seg = live && live.phase === 'live' && live.segment != null ? s.segments[live.segment] : null;
  return Boolean(seg && seg.id === name);
}

/** A segment's title, or "Open Q&A" for the event queue. */
function queueTitle(s, name) {
  if (name === 'event') return t(lang, 'q_open_qa');
  const seg = (s.segments || []).find((g) => g.id === name);
  return seg ? localized(seg.title, lang) : name;
}

/** The meeting link for remote speakers of that queue's segment (open Q&A: the live one), http(s) only. */
function joinUrl(s, name) {
  const live = s.live;
  const seg = name === 'event'
    ? (live && live.phase === 'live' ? s.segments[live.segment] : null)
    : (s.segments || []).find((g) => g.id === name);
  const url = seg && typeof seg.join_url === 'string' ? seg.join_url.trim() : '';
  return /^https?:\/\//i.test(url) ? url : null;
}

/** A queue change closed this person's entry: expired with its segment, or over for good. */
function noteClosed(s, msg) {
  const ch = msg.change || {};
  if (ch.kind !== 'queue' || !Array.isArray(ch.closed) || !s.you) return;
  for (const e of ch.closed) {
    if (!e || e.who !== s.you.who) continue;
    if (e.state === 'expired') notice = { kind: 'expired', queue: ch.queue };
    if (['expired', 'done', 'withdrawn', 'dismissed'].includes(e.state) && lastMine === ch.queue) lastMine = null;
  }
}

/** The entry left a queue that ended and turned up in another one: it was carried over. */
function trackMine(s, mineQueue) {
  if (!mineQueue) return;
  if (lastMine && lastMine !== mineQueue && !queueIsLive(s, lastMine)
      && !myEntry(s.queues[lastMine], s.you && s.you.who)) {
    notice = { kind: 'moved', queue: mineQueue };
  }
  lastMine = mineQueue;
}

function link(node, url) {
  node.hidden = !url;
  if (url && node.getAttribute('href') !== url) node.setAttribute('href', url);
  if (!url) node.removeAttribute('href');
}

/** Draws the queue, the own entry and the banner; returns whether it is this person's turn. */
function renderQueue(s) {
  const { name, queue: q, mine, mineQueue } = queueNow(s);
  trackMine(s, mineQueue);
  const live = mine ? queueIsLive(s, mineQueue) : false;
  const turn = Boolean(mine && mine.slot === 'speaking' && live);
  // A server without speaker queues: the page is just the run of show.
  $('public-queue').hidden = !q;
  // After End nobody is called any more: asking to speak is not offered.
  const ended = Boolean(s.live && s.live.phase === 'ended');
  $('ask').hidden = !q || ended || Boolean(mine && live);
  $('my-entry').hidden = !mine;
  if (mine) {
    // Never "you are speaking" for a segment that is over: say where the request is instead.
    setText($('my-status'), live ? statusText(mine) : t(lang, 'q_my_not_live', { title: queueTitle(s, mineQueue) }));
    $('my-entry').dataset.slot = mine.slot;
    $('my-entry').dataset.queue = mineQueue;
    $('my-entry').dataset.live = String(live);
    setText($('my-queue'), live ? queueLabel(s, mineQueue, lang) : queueTitle(s, mineQueue));
    $('btn-withdraw').hidden = mine.slot === 'speaking';
    $('btn-withdraw').disabled = page.status !== 'connected';
  }
  // Where the request was made from decides where to speak: the meeting is for remote
  // speakers only; an unmuted phone in the hall would feed back through the PA.
  const remote = ((mine && mine.entry && mine.entry.mode) || (s.you && s.you.mode)) !== 'in_room';
  const url = remote && mine && live && mine.slot !== 'waiting' ? joinUrl(s, mineQueue) : null;
  const onDeck = Boolean(mine && live && mine.slot === 'on_deck');
  const deckText = !onDeck ? '' : !remote ? t(lang, 'on_deck_in_room') : url ? t(lang, 'on_deck_link') : '';
  $('deck-next').hidden = !deckText;
  setText($('deck-next'), deckText);
  link($('deck-join'), onDeck ? url : null);
  $('your-turn').hidden = !turn;
  document.body.classList.toggle('is-my-turn', turn);
  if (turn) {
    setText($('your-turn-next'), t(lang, !remote ? 'your_turn_in_room' : url ? 'your_turn_remote_link' : 'your_turn_remote'));
    link($('join-link'), url);
  }
  if (turn && !wasTurn) alertTurn();
  wasTurn = turn;
  renderNotice(s);
  if (!q) return turn;

  const label = queueLabel(s, name, lang);
  setText($('ask-queue'), label);
  setText($('public-queue-name'), label);
  renderSidePicker(s);
  $('ask-closed').hidden = !q.closed;
  $('btn-ask').disabled = asking || page.status !== 'connected' || Boolean(q.closed);

  const mineId = mine && mineQueue === name ? mine.entry.id : null;
  const parts = (entry) => entryParts(entry, lang, { mine: entry.id === mineId, sides: s.sides });
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
  return turn;
}

/** The sides the event has, to say whom one speaks for (or none); hidden when it has none. */
function renderSidePicker(s) {
  const sides = s.sides || [];
  const pick = $('ask-side');
  pick.hidden = !sides.length;
  $('ask-side-label').hidden = !sides.length;
  const options = [['', t(lang, 'q_side_none')], ...sides.map((side) => [side.id, localized(side.name, lang)])];
  const chosen = pick.value;
  redrawIf(pick, JSON.stringify(options), () => options.map(([value, text]) => el('option', { text, attrs: { value } })));
  if (options.some(([value]) => value === chosen)) pick.value = chosen;
}

function renderNotice(s) {
  $('my-notice').hidden = !notice;
  if (!notice) return;
  $('my-notice').dataset.kind = notice.kind;
  setText($('my-notice-text'), t(lang, notice.kind === 'expired' ? 'q_expired' : 'q_moved', { title: queueTitle(s, notice.queue) }));
}
$('btn-notice-ok').addEventListener('click', () => { notice = null; render(); });

/** The turn has come: a chime (audio was unlocked by asking to speak) and a vibration. */
function alertTurn() {
  document.body.dataset.turnAlerts = String(Number(document.body.dataset.turnAlerts || 0) + 1);
  try { if (navigator.vibrate) navigator.vibrate([300, 150, 300, 150, 600]); } catch { /* not allowed */ }
  try {
    if (!audio) return;
    if (audio.state === 'suspended') audio.resume().catch(() => {});
    const t0 = audio.currentTime;
    for (const [freq, at] of [[660, 0], [880, 0.2], [1320, 0.4]]) {
      const osc = audio.createOscillator(), gain = audio.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, t0 + at);
      gain.gain.exponentialRampToValueAtTime(0.3, t0 + at + 0.01);
      gain.gain.exponentialRampToValueAtTime(0.001, t0 + at + 0.5);
      osc.connect(gain).connect(audio.destination);
      osc.start(t0 + at);
      osc.stop(t0 + at + 0.55);
    }
  } catch { /* no audio: the banner and the title say it */ }
}

function unlockAudio() {
  try {
    audio = audio || new AudioContext();
    if (audio.state === 'suspended') audio.resume().catch(() => {});
  } catch { audio = null; }
}

// ---------- the day's programme ----------

const LOCALES = { zh: 'zh-CN', ja: 'ja-JP', en: 'en-GB' };

/** "China Standard Time", "中国标准时间": the zone's name in the page's language. */
function zoneName(zone, at) {
  try {
    const parts = new Intl.DateTimeFormat(LOCALES[lang] || 'en-GB', { timeZone: zone, timeZoneName: 'long' }).formatToParts(at);
    const part = parts.find((p) => p.type === 'timeZoneName');
    return part ? part.value : zone;
  } catch { return zone; }
}

/**
 * Each segment's start: the actual one for segments that ran (the current one included),
 * the projection for the later ones (now + what is left of the current + the durations in
 * between), the plan before the show.
 */
function programmeRows(s, now) {
  const { segments, live } = s;
  const tm = timing(s, now);
  const actual = new Map((live.actual || []).map((a) => [a.segment, a]));
  const current = live.phase === 'live' ? live.segment : null;
  let cursor = current != null ? now + Math.max(tm.remaining_ms ?? 0, 0) : null;
  return segments.map((seg, i) => {
    const ran = actual.get(i);
    if (current != null && i === current) {
      return { seg, at: ran ? ran.started_at : live.segment_started_at, state: 'now', how: 'prog_started' };
    }
    if (current != null && i > current) {
      const at = cursor;
      cursor += seg.duration_ms || 0;
      return { seg, at, state: 'later', how: 'prog_expected' };
    }
    if (live.phase !== 'standby' && ran) return { seg, at: ran.started_at, state: 'done', how: 'prog_started' };
    if (live.phase !== 'standby') return { seg, at: seg.planned_start, state: 'skipped', how: 'prog_planned' };
    return { seg, at: seg.planned_start, state: 'later', how: 'prog_planned' };
  });
}

function renderProgramme(s, now) {
  programmeAt = Date.now();
  const zone = s.event.time_zone;
  const both = Boolean(viewerZone && zone && viewerZone !== zone);
  const zones = t(lang, 'tz_event', { zone: zoneName(zone, now) });
  setText($('programme-zones'), both ? `${zones} · ${t(lang, 'tz_yours', { zone: zoneName(viewerZone, now) })}` : zones);
  const rows = programmeRows(s, now).map((r) => ({
    id: r.seg.id, state: r.state, how: t(lang, r.how), kind: kindName(lang, r.seg.kind),
    title: localized(r.seg.title, lang), time: fmtClock(r.at, zone, lang),
    mine: both ? t(lang, 'your_time', { time: fmtClock(r.at, viewerZone, lang) }) : '',
    min: t(lang, 'prog_min', { n: Math.round((r.seg.duration_ms || 0) / 60000) }),
  }));
  const STATE_WORD = { now: 'prog_now', done: 'prog_done' };
  redrawIf($('programme-list'), JSON.stringify([rows, lang]), () => rows.map((r) => el('li',
    { class: `prog-row prog-${r.state}`, data: { segmentId: r.id, state: r.state } },
    el('div', { class: 'prog-time' },
      el('strong', { class: 'prog-clock', text: r.time }),
      r.mine ? el('span', { class: 'prog-yours muted', text: r.mine }) : null),
    el('div', { class: 'prog-main' },
      el('span', { class: 'prog-title', text: r.title }),
      el('span', { class: 'prog-meta muted' },
        el('span', { class: 'kind', text: r.kind }), ' ',
        STATE_WORD[r.state] ? el('span', { class: 'prog-state', text: t(lang, STATE_WORD[r.state]) }) : null, ' ',
        `${r.how} · ${r.min}`)))));
}

$('ask-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const s = hub && hub.state;
  if (!s || asking) return;
  const topic = [...$('ask-topic').value.replace(/\p{Cc}/gu, ' ').trim()].slice(0, 140).join('');
  const fields = { queue: activeQueueName(s), kind: $('ask-kind').value };
  if (topic) fields.topic = topic;
  if ($('ask-side').value) fields.side = $('ask-side').value;
  unlockAudio(); // this tap lets the page chime when the turn comes
  notice = null;
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
  const cd = $('countdown');
  cd.classList.toggle('long', cd.textContent.length > 5); // "1:18:06" must fit a phone too
  const { mine, mineQueue } = queueNow(s);
  if (mine && mine.slot === 'speaking' && queueIsLive(s, mineQueue)) drawSpeakingClock($('my-countdown'), s.queues[mineQueue], now);
  else $('my-countdown').hidden = true;
  if (Date.now() - programmeAt >= 1000) renderProgramme(s, now);
}
