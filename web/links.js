// The links page (/links#event=…&token=…, the event's organizer token or the rooms token): the
// event's extra links, each for one role with a name and an end, from GET /api/events/{event}/links
// every 5 s; makes new ones (ending at the end of today in the event's time zone, in some hours,
// at a date and time, or never) and revokes them after a confirm step. Times are the event's.

import { fmtClock, preferredLang, readFragment, save, zoneCity } from './client.js';
import { LANGS, applyLabels, t } from './i18n.js';
import { $, el, keyedList, setText, showMessage } from './ui.js';
import { apiCall, apiErrorText, pollOnce, showPollStatus } from './api.js';

const POLL_EVERY = 5_000, TIMEOUT = 5_000;
const ROLES = ['speaker', 'attendee', 'moderator', 'av', 'display', 'captioner', 'organizer'];

const frag = readFragment();
const event = frag.event, token = frag.token;
let lang = preferredLang(frag);
/** The last list, when it came (local clock), and whether the server answers. */
let answer = null, receivedAt = 0, status = 'connecting';
/** Link ids whose Revoke was pressed once and waits for the confirm. */
const confirming = new Set();

const api = `/api/events/${encodeURIComponent(event || '')}/links`;

const apiError = (err) => apiErrorText(lang, 'links_err_', err);
const call = (path, init = {}) => apiCall(path, token, init, TIMEOUT);

function setStatus(next) {
  status = next;
  document.body.dataset.state = next;
  showPollStatus($('links-status'), lang, next);
}

async function poll() {
  const body = await pollOnce(call, api, setStatus, (err) => showMessage(apiError(err), 'error', 0));
  if (body) {
    answer = body;
    receivedAt = Date.now();
  }
  render();
}

function serverNow() {
  return answer ? answer.server_time + Date.now() - receivedAt : Date.now();
}

function zone() {
  return (answer && answer.time_zone) || 'UTC';
}

/** The wall-clock fields of `ms` in `timeZone`. */
function wallClock(ms, timeZone) {
  const f = new Intl.DateTimeFormat('en-CA', {
    timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  });
  const p = Object.fromEntries(f.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return { y: +p.year, m: +p.month, d: +p.day, h: +p.hour, mi: +p.minute };
}

/** The moment a wall-clock time in `timeZone` names (the month and day may overflow). */
function zonedMs(y, m, d, h, mi, timeZone) {
  const wanted = Date.UTC(y, m - 1, d, h, mi);
  let guess = wanted;
  for (let i = 0; i < 3; i += 1) {
    const p = wallClock(guess, timeZone);
    guess += wanted - Date.UTC(p.y, p.m - 1, p.d, p.h, p.mi);
  }
  return guess;
}

/** A moment as the event's date and time, e.g. "2026-12-08 00:00 Shanghai". */
function fmtMoment(ms) {
  const p = wallClock(ms, zone());
  const two = (n) => String(n).padStart(2, '0');
  return `${p.y}-${two(p.m)}-${two(p.d)} ${two(p.h)}:${two(p.mi)} ${zoneCity(zone())}`;
}

/** Where a link stands now, counted on locally between polls. */
function stateOf(link) {
  const now = serverNow();
  const expiredAt = link.expires_at != null && link.expires_at <= now ? link.expires_at : null;
  if (link.revoked_at != null && (expiredAt == null || link.revoked_at < expiredAt)) return 'revoked';
  return expiredAt != null ? 'expired' : 'live';
}

async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = el('textarea', { attrs: { readonly: '' } });
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand('copy');
    area.remove();
  }
  showMessage(t(lang, 'links_copied'), 'info', 3000);
}

function actions(link, state) {
  const box = el('div', { class: 'link-actions' });
  const url = new URL(link.url, location.origin).href;
  if (state === 'live' && !confirming.has(link.id)) {
    const copyButton = el('button', { class: 'copy', text: t(lang, 'links_copy'), attrs: { type: 'button' } });
    copyButton.addEventListener('click', () => copy(url));
    box.append(copyButton, el('a', { text: t(lang, 'links_open'), attrs: { href: link.url, target: '_blank', rel: 'noopener' } }));
  }
  if (state !== 'live') return box;
  if (!confirming.has(link.id)) {
    const revoke = el('button', { class: 'danger revoke', text: t(lang, 'links_revoke'), attrs: { type: 'button' } });
    revoke.addEventListener('click', () => { confirming.add(link.id); render(); });
    box.append(revoke);
    return box;
  }
  const name = link.name || t(lang, 'links_unnamed');
  const yes = el('button', { class: 'danger confirm', text: t(lang, 'links_revoke_yes'), attrs: { type: 'button' } });
  const no = el('button', { class: 'cancel', text: t(lang, 'rooms_cancel'), attrs: { type: 'button' } });
  yes.addEventListener('click', () => revoke(link.id));
  no.addEventListener('click', () => { confirming.delete(link.id); render(); });
  box.classList.add('confirming');
  box.append(el('span', { class: 'confirm-text', text: t(lang, 'links_revoke_confirm', { name }) }), yes, no);
  return box;
}

function row(link) {
  const state = stateOf(link);
  const ends = link.expires_at == null ? t(lang, 'links_expiry_never') : fmtMoment(link.expires_at);
  const ended = state === 'revoked' ? ` (${fmtMoment(link.revoked_at)})` : '';
  return el('tr', { data: { link: link.id, state } },
    el('td', {}, el('span', { class: link.name ? 'link-name' : 'link-name unnamed', text: link.name || t(lang, 'links_unnamed') })),
    el('td', { class: 'link-role', text: t(lang, `role_${link.role}`) }),
    el('td', { class: 'link-ends', text: ends }),
    el('td', {}, el('span', { class: 'link-state', data: { state }, text: t(lang, `links_state_${state}`) + ended })),
    el('td', {}, actions(link, state)));
}

function render() {
  document.title = `${t(lang, 'links_title')} — ${event || ''}`;
  setText($('at-zone'), answer ? ` (${answer.time_zone})` : '');
  if (!answer) return;
  const links = [...answer.links].reverse();
  keyedList($('links-body'), links, (l) => l.id,
    (l) => JSON.stringify([lang, stateOf(l), confirming.has(l.id), l.revoked_at, l.name]), row);
  $('links-empty').hidden = links.length > 0;
  $('links-table').hidden = links.length === 0;
}

function tick() {
  if (answer) setText($('clock'), `${fmtClock(serverNow(), zone(), lang, { seconds: true })} ${zoneCity(zone())}`);
  render();
}

async function revoke(id) {
  confirming.delete(id);
  try {
    const got = await call(`${api}/${encodeURIComponent(id)}/revoke`, { method: 'POST' });
    if (got.ok) showMessage(t(lang, 'links_revoked_done', { name: got.body.name || t(lang, 'links_unnamed') }), 'info');
    else showMessage(apiError(got.body));
  } catch {
    showMessage(t(lang, 'rooms_err_offline'));
  }
  poll();
}

/** The request body for the form's choice of end; null with a message when it has none. */
function expiry() {
  const choice = $('link-expiry').value;
  if (choice === 'never') return {};
  if (choice === 'hours') {
    const hours = Number($('link-hours').value);
    if (!(hours > 0)) return null;
    return { expires_in_s: Math.round(hours * 3600) };
  }
  if (choice === 'at') {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec($('link-at').value);
    if (!m) return null;
    return { expires_at: zonedMs(+m[1], +m[2], +m[3], +m[4], +m[5], zone()) };
  }
  const today = wallClock(serverNow(), zone());
  return { expires_at: zonedMs(today.y, today.m, today.d + 1, 0, 0, zone()) };
}

function showExpiryFields() {
  $('hours-field').hidden = $('link-expiry').value !== 'hours';
  $('at-field').hidden = $('link-expiry').value !== 'at';
}

function fillRoles() {
  const select = $('link-role'), chosen = select.value || 'speaker';
  select.replaceChildren(...ROLES.map((role) => el('option', { text: t(lang, `role_${role}`), attrs: { value: role } })));
  select.value = chosen;
}

$('link-expiry').addEventListener('change', showExpiryFields);
$('create-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const result = $('create-result');
  const ends = expiry();
  if (!ends) { result.dataset.kind = 'error'; setText(result, t(lang, 'links_err_no_end')); return; }
  const body = { role: $('link-role').value, ...ends };
  const name = $('link-name').value.trim();
  if (name) body.name = name;
  result.dataset.kind = '';
  try {
    const got = await call(api, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
    result.dataset.kind = got.ok ? 'ok' : 'error';
    setText(result, got.ok ? t(lang, 'links_made', { name: got.body.name || t(lang, 'links_unnamed') }) : apiError(got.body));
    if (got.ok) $('link-name').value = '';
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
  fillRoles();
  setStatus(status);
  render();
});
applyLabels(lang);
fillRoles();
showExpiryFields();
setStatus('connecting');
setText($('event-id'), event || '');
addEventListener('hashchange', () => location.reload());

if (!event || !token) {
  setStatus('offline');
  showMessage(t(lang, 'links_missing'), 'error', 0);
} else {
  const loop = async () => { await poll(); setTimeout(loop, POLL_EVERY); };
  loop();
  setInterval(tick, 1000);
}
