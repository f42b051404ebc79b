// The rooms overview (/rooms#token=…, the server's rooms token): one card per running event,
// from GET /api/events every 2 s. Between polls each card counts down from the server's
// timing; when the server stops answering the page says OFFLINE and the clocks stop, rather
// than showing numbers that only look live. Creates events from an uploaded event file and
// archives them (after a confirm step).

import { fmtClock, fmtCountdown, fmtDuration, localized, preferredLang, readFragment, save, zoneCity } from './client.js';
import { LANGS, applyLabels, kindName, t } from './i18n.js';
import { $, el, keyedList, setText, showMessage } from './ui.js';
import { apiCall, apiErrorText, pollOnce, showPollStatus } from './api.js';

const POLL_EVERY = 2_000, POLL_TIMEOUT = 5_000;
const PAGES = [['organizer', 'console', 'rooms_open_console'], ['av', 'cues', 'rooms_open_cues'],
  ['speaker', 'stage', 'rooms_open_stage'], ['attendee', 'attend', 'rooms_open_attend'],
  ['captioner', 'caption', 'rooms_open_caption'], ['display', 'captions', 'rooms_open_captions']];

const frag = readFragment();
const token = frag.token;
let lang = preferredLang(frag);
/** The last answer, when it came (local clock), and whether the server answers now. */
let rooms = null, receivedAt = 0, status = 'connecting';
/** Event ids whose Archive button was pressed once and waits for the confirm. */
const confirming = new Set();

/** The JSON error of a refused request in the page's language, with the server's message. */
const apiError = (err) => apiErrorText(lang, 'rooms_err_', err);
const call = (path, init = {}) => apiCall(path, token, init, POLL_TIMEOUT);

function setStatus(next) {
  status = next;
  document.body.dataset.state = next;
  showPollStatus($('rooms-status'), lang, next);
  $('offline-banner').hidden = next !== 'offline';
}

async function poll() {
  const body = await pollOnce(call, '/api/events', setStatus, (err) => showMessage(apiError(err), 'error', 0));
  if (body) {
    rooms = body;
    receivedAt = Date.now();
  }
  render();
}

/** The server's time now, from its last answer; frozen while it does not answer. */
function serverNow() {
  if (!rooms) return null;
  return rooms.server_time + (status === 'live' ? Date.now() - receivedAt : 0);
}

/** A card's countdown at the server time `now`: the segment's remaining time, counted on. */
function remainingAt(room, now) {
  const o = room.overview;
  const ran = o.held_since != null ? 0 : now - o.server_time;
  return o.timing.remaining_ms - ran;
}

function driftText(ms) {
  if (ms == null) return '';
  if (Math.abs(ms) < 1000) return t(lang, 'on_schedule');
  return `${t(lang, ms > 0 ? 'behind' : 'ahead')} ${fmtDuration(Math.abs(ms))}`;
}

function phaseText(room) {
  if (room.phase === 'live' && room.overview.held_since != null) return t(lang, 'on_hold');
  return t(lang, `rooms_phase_${room.phase}`);
}

function links(room) {
  const nav = el('nav', { class: 'room-links' });
  for (const [role, page, label] of PAGES) {
    const href = room.links[role];
    if (href) nav.append(el('a', { text: t(lang, label), attrs: { href, target: '_blank', rel: 'noopener', 'data-page': page } }));
  }
  // The event's own links (named, with an end), managed with this rooms token.
  const manage = `/links#event=${encodeURIComponent(room.id)}&token=${encodeURIComponent(token)}`;
  nav.append(el('a', { text: t(lang, 'rooms_open_links'), attrs: { href: manage, target: '_blank', rel: 'noopener', 'data-page': 'links' } }));
  nav.append(el('span', { class: 'spacer' }));
  nav.append(el('a', { text: t(lang, 'export_record'), attrs: { href: room.exports.record } }));
  nav.append(archiveControl(room));
  return nav;
}

function archiveControl(room) {
  if (!confirming.has(room.id)) {
    const button = el('button', { class: 'danger archive', text: t(lang, 'rooms_archive'), attrs: { type: 'button' } });
    button.addEventListener('click', () => { confirming.add(room.id); render(); });
    return button;
  }
  const live = room.phase === 'live';
  const box = el('div', { class: 'archive-confirm' },
    el('p', { text: t(lang, live ? 'rooms_archive_live' : 'rooms_archive_confirm', { title: localized(room.title, lang) }) }));
  const yes = el('button', { class: 'danger confirm', text: t(lang, 'rooms_archive_yes'), attrs: { type: 'button' } });
  const no = el('button', { class: 'cancel', text: t(lang, 'rooms_cancel'), attrs: { type: 'button' } });
  yes.addEventListener('click', () => archive(room.id, live));
  no.addEventListener('click', () => { confirming.delete(room.id); render(); });
  box.append(yes, no);
  return box;
}

async function archive(id, force) {
  confirming.delete(id);
  try {
    const answer = await call(`/api/events/${encodeURIComponent(id)}/archive${force ? '?force=true' : ''}`, { method: 'POST' });
    if (answer.ok) showMessage(t(lang, 'rooms_archived_done', { id }), 'info');
    else showMessage(apiError(answer.body));
  } catch {
    showMessage(t(lang, 'rooms_err_offline'));
  }
  poll();
}

function card(room) {
  const o = room.overview;
  const cur = o.current, next = o.next;
  const people = t(lang, 'rooms_people', { in_room: o.people.in_room, remote: o.people.remote, total: o.people.total });
  // As every page says it: the expected start while a segment runs, else the planned one.
  const nextAt = next && (cur ? o.server_time + Math.max(o.timing.remaining_ms, 0) : next.planned_start);
  const nextText = next
    ? `${localized(next.title, lang)} · ${kindName(lang, next.kind)} · ${fmtClock(nextAt, o.time_zone, lang)} ${zoneCity(o.time_zone)}`
    : t(lang, 'nothing_next');
  return el('article', { class: 'panel room-card', data: { event: room.id, phase: room.phase } },
    el('div', { class: 'room-head' },
      el('div', {},
        el('h2', { class: 'room-title', text: localized(room.title, lang) }),
        el('span', { class: 'room-id', text: room.id })),
      el('span', { class: 'offline-badge', text: t(lang, 'rooms_offline') }),
      el('span', { class: 'phase', text: phaseText(room), data: { phase: room.phase, held: String(o.held_since != null) } })),
    el('div', { class: 'label-row' },
      el('span', { class: 'label', text: t(lang, 'now') }),
      el('span', { class: 'kind', text: cur ? kindName(lang, cur.kind) : '' })),
    el('p', { class: 'room-current', text: cur ? localized(cur.title, lang)
      : t(lang, room.phase === 'ended' ? 'ended' : 'standby') }),
    el('div', { class: 'room-clock' },
      el('span', { class: 'room-countdown idle', text: '--:--' }),
      el('span', { class: 'room-countdown-label' })),
    el('dl', { class: 'room-facts' },
      el('dt', { text: t(lang, 'rooms_schedule') }), el('dd', { class: 'room-drift drift' }),
      el('dt', { text: t(lang, 'next_up') }), el('dd', { class: 'room-next', text: nextText }),
      el('dt', { text: t(lang, 'rooms_connected') }), el('dd', { class: 'room-people', text: people }),
      el('dt', { text: t(lang, 'planned') }),
      el('dd', { text: `${fmtClock(o.planned_start, o.time_zone, lang)}–${fmtClock(o.planned_end, o.time_zone, lang)} (${o.time_zone})` })),
    links(room));
}

/** What a card shows apart from its clocks: it is rebuilt only when this changes. */
function cardKey(room) {
  const o = room.overview;
  return JSON.stringify([lang, room.phase, o.current && o.current.id, o.current && o.current.duration_ms,
    o.next && o.next.id, o.people, o.held_since, o.segment_started_at, confirming.has(room.id), room.title, room.links]);
}

function archivedItem(room) {
  return el('li', { data: { event: room.id } },
    el('strong', { text: localized(room.title, lang) }),
    el('span', { class: 'room-id', text: room.id }),
    el('span', { class: 'muted', text: t(lang, `rooms_phase_${room.phase}`) }),
    el('a', { text: t(lang, 'export_record'), attrs: { href: room.exports.record } }),
    el('a', { text: t(lang, 'export_log'), attrs: { href: room.exports.log } }));
}

function render() {
  document.title = `${t(lang, 'rooms_title')} — event hub`;
  if (!rooms) return;
  const running = rooms.events.filter((r) => !r.archived), archived = rooms.events.filter((r) => r.archived);
  keyedList($('room-grid'), running, (r) => r.id, cardKey, card);
  keyedList($('archived-list'), archived, (r) => r.id, (r) => JSON.stringify([lang, r.title, r.phase]), archivedItem);
  $('rooms-empty').hidden = running.length > 0;
  $('archived-empty').hidden = archived.length > 0;
  tick();
}

/** The clocks, once a second: counted on locally from the last answer. */
function tick() {
  const now = serverNow();
  if (now == null) return;
  // The events' own time, as their cards show it: in the one zone they share, named.
  const zones = new Set(rooms.events.filter((r) => !r.archived).map((r) => r.overview.time_zone));
  const zone = zones.size === 1 ? [...zones][0] : Intl.DateTimeFormat().resolvedOptions().timeZone;
  setText($('clock'), `${fmtClock(now, zone, lang, { seconds: true })} ${zoneCity(zone)}`);
  for (const room of rooms.events) {
    if (room.archived) continue;
    const node = $('room-grid').querySelector(`[data-key="${CSS.escape(room.id)}"]`);
    if (!node) continue;
    const o = room.overview, countdown = node.querySelector('.room-countdown');
    const labelNode = node.querySelector('.room-countdown-label'), drift = node.querySelector('.room-drift');
    let label = '';
    if (room.phase === 'live' && o.current) {
      const remaining = remainingAt(room, now);
      setText(countdown, fmtCountdown(remaining));
      label = remaining < 0 ? 'overrun' : 'remaining';
      countdown.classList.toggle('overrun', remaining < 0);
      // Drift grows with the overrun; ahead or on time it is fixed until the segment ends.
      const overrunMore = Math.max(0, -remaining) - o.timing.overrun_ms;
      const driftMs = o.timing.drift_ms + Math.max(0, overrunMore);
      setText(drift, driftText(driftMs));
      drift.classList.toggle('behind', driftMs >= 1000);
      drift.classList.toggle('ahead', driftMs <= -1000);
    } else if (room.phase === 'standby' && o.planned_start > now) {
      setText(countdown, fmtDuration(o.planned_start - now, { ceil: true }));
      label = 'starts_in';
      setText(drift, '');
    } else {
      setText(countdown, '--:--');
      setText(drift, room.phase === 'ended' ? `${t(lang, 'rooms_ended_at')} ${fmtClock(o.ended_at, o.time_zone, lang)}` : '');
    }
    countdown.classList.toggle('idle', !label);
    if (!label) countdown.classList.remove('overrun');
    setText(labelNode, label ? t(lang, label) : '');
  }
}

function uploadType(file) {
  if (/\.toml$/i.test(file.name)) return 'application/toml';
  return file.type || 'application/octet-stream';
}

$('create-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const file = $('create-file').files[0];
  const result = $('create-result');
  if (!file) { result.dataset.kind = 'error'; setText(result, t(lang, 'rooms_no_file')); return; }
  result.dataset.kind = '';
  setText(result, t(lang, 'rooms_uploading'));
  try {
    const answer = await call('/api/events', { method: 'POST', body: file, headers: { 'Content-Type': uploadType(file) } });
    result.dataset.kind = answer.ok ? 'ok' : 'error';
    setText(result, answer.ok ? t(lang, 'rooms_created', { id: answer.body.id }) : apiError(answer.body));
    if (answer.ok) $('create-form').reset();
  } catch {
    result.dataset.kind = 'error';
    setText(result, t(lang, 'rooms_err_offline'));
  }
  poll();
});

const select = $('lang');
select.value = LANGS.includes(lang) ? lang : 'en';
select.addEventListener('change', () => {
  lang = select.value;
  save('hub.lang', lang);
  applyLabels(lang);
  setStatus(status);
  render();
});
applyLabels(lang);
setStatus('connecting');
addEventListener('hashchange', () => location.reload());

if (!token) {
  setStatus('offline');
  showMessage(t(lang, 'rooms_missing_token'), 'error', 0);
} else {
  // One poll at a time: a slow answer delays the next rather than stacking requests.
  const loop = async () => { await poll(); setTimeout(loop, POLL_EVERY); };
  loop();
  setInterval(tick, 1000);
}
