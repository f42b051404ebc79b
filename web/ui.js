// DOM helpers shared by the pages. Text always goes in through textContent, never as HTML.

import { t, kindName, applyLabels, LANGS } from './i18n.js';
import { connectHub, save, localized, fmtClock, fmtCountdown, fmtDuration, CREW, timing, zoneCity } from './client.js';

export const $ = (id) => document.getElementById(id);

/** el('li', {class: 'x', text: 'y', data: {segmentId: 'k'}, attrs: {type: 'button'}}, child…) */
export function el(tag, opts = {}, ...children) {
  const node = document.createElement(tag);
  if (opts.class) node.className = opts.class;
  if (opts.text != null) node.textContent = opts.text;
  for (const [k, v] of Object.entries(opts.data || {})) node.dataset[k] = v;
  for (const [k, v] of Object.entries(opts.attrs || {})) node.setAttribute(k, v);
  for (const c of children) if (c != null) node.append(c);
  return node;
}

/** Sets textContent only when it changed (the clock loop calls this ten times a second). */
export function setText(node, text) {
  if (node && node.textContent !== text) node.textContent = text;
}

let messageTimer = null;

/** Shows a toast in #message; it dismisses itself after a while or on click. */
export function showMessage(text, kind = 'error', ms = 8000) {
  const box = $('message');
  if (!box) return;
  box.textContent = text;
  box.dataset.kind = kind;
  box.hidden = false;
  clearTimeout(messageTimer);
  if (ms) messageTimer = setTimeout(clearMessage, ms);
}

export function clearMessage() {
  const box = $('message');
  if (!box) return;
  clearTimeout(messageTimer);
  box.hidden = true;
  box.textContent = '';
}

/** Client status → #conn-status text and data-state (connecting|connected|reconnecting|closed). */
export function renderStatus(lang, status, detail) {
  const node = $('conn-status');
  if (!node) return;
  const state = ['connecting', 'connected', 'reconnecting', 'closed'].includes(status) ? status : 'connecting';
  node.dataset.state = state;
  node.textContent = t(lang, state);
  if (state === 'closed' && detail) {
    node.title = detail.message || detail.code;
    const key = `err_${detail.code}`;
    const text = t(lang, key);
    showMessage(text === key ? `${detail.code}: ${detail.message}` : text, 'error', 0);
  } else {
    node.removeAttribute('title');
  }
}

/**
 * The wiring every page shares: #conn-status follows the connection, error frames that answer
 * no command go to #message, the #lang select relabels the page, a new address fragment
 * reloads it. render() redraws the page; onLang(picked) keeps the page's own `lang` current;
 * captions(), if given, is the caption track to follow once the language changed; cloudLink
 * shows the banner of a venue whose cloud is cut off too (the console).
 *   page.status            the hub's last status ('connecting' until the first one)
 *   page.setStatus(s, d)   shows a status (also one the page decides itself), then render()
 *   page.connect(opts)     connectHub(opts) with these hooks: opts.onStatus, if any, runs
 *                          after render(); opts.onError replaces the default message
 */
export function startPage({ lang, render, onLang, captions, cloudLink = false }) {
  let hub = null, detail, link = null, zone;
  const page = {
    status: 'connecting',
    setStatus(status, statusDetail) {
      page.status = status; detail = statusDetail;
      renderStatus(lang, status, detail);
      render();
    },
    connect(opts) {
      hub = connectHub({
        lang,
        onError: (err) => showMessage(`${err.code}: ${err.message}`),
        ...opts,
        onStatus: (s, d) => {
          page.setStatus(s, d);
          if (opts.onStatus) opts.onStatus(s, d);
        },
        // A welcome means the link is up unless a `link` frame follows it.
        onWelcome: (state, frame) => {
          link = null;
          zone = state && state.event ? state.event.time_zone : undefined;
          renderLink(lang, link, zone);
          if (opts.onWelcome) opts.onWelcome(state, frame);
        },
        // A venue's link to its cloud matters to the chair, not to the stage or the hall.
        onLink: (frame) => {
          if (frame.to === 'cloud' && !cloudLink) return;
          link = frame.up ? null : frame;
          renderLink(lang, link, zone);
        },
      });
      return hub;
    },
  };
  const select = $('lang');
  select.value = LANGS.includes(lang) ? lang : 'en';
  select.addEventListener('change', () => {
    lang = select.value;
    onLang(lang);
    // set_lang: the server moves this page's presence count and its caption track
    // (captions(), when the page gives it, names the track for the new language).
    if (hub) hub.setLang(lang, captions ? captions() : undefined);
    else save('hub.lang', lang); // remembered even before the first connection
    applyLabels(lang);
    renderStatus(lang, page.status, detail);
    renderLink(lang, link, zone);
    render();
  });
  applyLabels(select.value);
  renderStatus(lang, page.status);
  addEventListener('hashchange', () => location.reload());
  return page;
}

/**
 * The banner while the link to the other side of a hybrid event is down (`link` is the
 * frame that said so), made the first time it is needed; its time in the event's zone, as
 * every clock of the pages.
 */
function renderLink(lang, link, zone) {
  let banner = document.getElementById('link-banner');
  if (!link && !banner) return;
  if (!banner) {
    banner = document.createElement('div');
    banner.id = 'link-banner';
    banner.className = 'link-banner';
    banner.setAttribute('role', 'alert');
    document.body.prepend(banner);
  }
  banner.hidden = !link;
  if (link) {
    const time = `${fmtClock(link.since, zone, lang, { seconds: true })} ${zoneCity(zone)}`.trim();
    banner.textContent = t(lang, link.to === 'cloud' ? 'link_down_cloud' : 'link_down', { time });
  }
}

/**
 * Sends a command and reports what people should know: an error (returns null), or the
 * ack's warning (e.g. "nobody is watching the lighting cue screen"). Returns the ack.
 */
export async function runCommand(hub, lang, type, fields = {}) {
  try {
    const ack = await hub.send(type, fields);
    if (ack.warning) showMessage(warningText(lang, ack.warning), 'warning');
    return ack;
  } catch (err) {
    showMessage(errorText(lang, err));
    return null;
  }
}

/** A command's error for #message: "not connected" in the page's language, else code: message. */
export function errorText(lang, err) {
  return err.code === 'not_connected' ? t(lang, 'err_not_connected') : `${err.code}: ${err.message}`;
}

/** The server's warnings are English sentences; the known ones are shown in the page's language. */
export function warningText(lang, warning) {
  const m = /^nobody is watching the (\w+) cue screen$/.exec(warning);
  if (m && CREW.includes(m[1])) return t(lang, 'cue_unwatched', { position: crewName(lang, m[1]) });
  if (warning === 'nobody is watching the cue screen') return t(lang, 'cue_unwatched_any');
  return `${t(lang, 'warning')}: ${warning}`;
}

/** A cue's target: a crew position's name, or the person it is for. */
export function targetName(lang, target) {
  if (target && typeof target === 'object') return t(lang, 'cue_for_person', { name: String(target.person ?? '') });
  return crewName(lang, target);
}

export function crewName(lang, position) {
  return CREW.includes(position) ? t(lang, `crew_${position}`) : String(position ?? '');
}

/** What a stage message says: the chair's text, or the signal's label (with any text after it). */
export function stageText(lang, message) {
  if (!message) return '';
  if (message.kind === 'message') return String(message.text ?? '');
  const label = t(lang, `stage_${message.kind}`);
  return message.text ? `${label} — ${message.text}` : label;
}

/**
 * Keeps `list`'s children in the order of `items`, rebuilding a child only when its key
 * changed, so that focus, a pressed button and a running animation survive a redraw.
 * id(item) names the child (data-key); key(item) is its content.
 */
export function keyedList(list, items, id, key, build) {
  const old = new Map([...list.children].map((n) => [n.dataset.key, n]));
  items.forEach((item, i) => {
    const k = String(id(item)), content = key(item);
    let node = old.get(k);
    if (node && node.$key === content) old.delete(k);
    else { node = build(item); node.dataset.key = k; node.$key = content; }
    if (list.children[i] !== node) list.insertBefore(node, list.children[i] || null);
  });
  for (const n of old.values()) n.remove();
}

/** Tests wait on these: the last applied seq and the live phase. */
export function markBody(hub) {
  const s = hub.state;
  if (hub.seq != null) document.body.dataset.seq = String(hub.seq);
  if (s && s.live) document.body.dataset.phase = s.live.phase;
}

/**
 * The parts both pages show: current segment, speaker, chair, hold badge, next segment. The
 * next segment's start is the expected one while a segment runs (from the server time
 * `now`), else the planned one, in the event's time zone, which it names.
 */
export function renderNow(state, lang, now) {
  const { event, segments, live } = state;
  const seg = live.phase === 'live' ? segments[live.segment] : null;
  const sp = seg && live.speaker != null ? (seg.speakers || [])[live.speaker] : null;
  setText($('current-kind'), seg ? kindName(lang, seg.kind) : '');
  setText($('current-title'), seg ? localized(seg.title, lang) : t(lang, live.phase === 'ended' ? 'ended' : 'standby'));
  setText($('current-speaker'), sp ? localized(sp.name, lang) : '');
  setText($('speaker-affiliation'), sp && sp.affiliation ? localized(sp.affiliation, lang) : '');
  setText($('current-chair'), seg && seg.chair ? `${t(lang, 'chair')}: ${localized(seg.chair, lang)}` : '');
  $('held-badge').hidden = !(seg && live.held_since != null);
  const nextIndex = live.phase === 'standby' ? 0 : seg ? live.segment + 1 : -1;
  const next = nextIndex >= 0 ? segments[nextIndex] : null;
  setText($('next-title'), next ? localized(next.title, lang) : t(lang, 'nothing_next'));
  const expected = seg && now != null ? now + Math.max(timing(state, now).remaining_ms ?? 0, 0) : null;
  setText($('next-start'), next ? `${fmtClock(expected ?? next.planned_start, event.time_zone, lang)} ${zoneCity(event.time_zone)}` : '');
  document.body.classList.toggle('is-held', Boolean(seg && live.held_since != null));
  return { seg, sp };
}

/** #countdown and its label from timing(): remaining, "+overrun" in red, or time to the start. */
export function drawCountdown(tm, lang) {
  const cd = $('countdown');
  let label = '';
  if (tm.phase === 'live') {
    setText(cd, fmtCountdown(tm.remaining_ms));
    label = tm.remaining_ms < 0 ? 'overrun' : 'remaining';
  } else if (tm.phase === 'standby' && tm.starts_in_ms > 0) {
    setText(cd, fmtDuration(tm.starts_in_ms, { ceil: true }));
    label = 'starts_in';
  } else {
    setText(cd, '--:--');
  }
  cd.classList.toggle('idle', !label);
  setText($('countdown-label'), label ? t(lang, label) : '');
  cd.classList.toggle('overrun', tm.phase === 'live' && tm.remaining_ms < 0);
  cd.classList.toggle('warning', tm.phase === 'live' && tm.remaining_ms >= 0 && tm.remaining_ms < 60_000);
  cd.classList.toggle('held', tm.held);
}

document.addEventListener('click', (e) => { if (e.target.id === 'message') clearMessage(); });
