// Who is here (docs/protocol.md "Presence"), as both pages draw it: counts, recent joins,
// which programme speakers are connected; and for the console the attendance chart and the
// full list. Names and affiliations are typed by people: they go in as text only.

import { t, LANG_NAMES, LANGS } from './i18n.js';
import { speakerPresent, speakerInRoom, fmtClock, listed } from './client.js';
import { $, el, setText, keyedList } from './ui.js';

const SVG = 'http://www.w3.org/2000/svg';
const modeOf = (entry) => (entry && entry.mode === 'in_room' ? 'in_room' : 'remote');
const badge = (cls, text) => el('span', { class: `badge q-badge ${cls}`, text });
export const modeBadge = (lang, mode) => badge(`q-mode q-mode-${mode}`, t(lang, `q_mode_${mode}`));

/** "96 in the room": a big number and its label, kept as two children updated in place. */
function stat(node, n, label) {
  if (!node) return;
  if (node.children.length !== 2) {
    node.replaceChildren(el('strong', { class: 'stat-n' }), ' ', el('span', { class: 'stat-label' }));
  }
  setText(node.children[0], String(n));
  setText(node.children[1], label);
  node.dataset.count = String(n);
}

/** #presence-count, #presence-in-room, #presence-remote and #presence-langs. */
export function renderCounts(presence, lang) {
  const c = presence.counts;
  const total = $('presence-count');
  setText(total, t(lang, 'presence_here', { n: c.total }));
  total.dataset.count = String(c.total);
  stat($('presence-in-room'), c.in_room, t(lang, 'presence_in_room'));
  stat($('presence-remote'), c.remote, t(lang, 'presence_remote'));
  const langs = $('presence-langs');
  if (langs.children.length !== LANGS.length) {
    langs.replaceChildren(...LANGS.map((l) => el('li', { class: 'stat stat-lang', data: { lang: l } })));
  }
  LANGS.forEach((l, i) => stat(langs.children[i], (c.by_lang && c.by_lang[l]) || 0, LANG_NAMES[l]));
}

/**
 * A node that stands for programme speaker `speaker` (-1: the chair) of segment `segment`;
 * markSpeakers() gives it the class `present` (a green dot) or `absent` (grey).
 */
export function speakerData(segment, speaker) {
  return { presenceSeg: String(segment), presenceSp: String(speaker) };
}

/** Marks every [data-presence-seg] node under root from presence.speakers. */
export function markSpeakers(root, presence, lang) {
  for (const node of root.querySelectorAll('[data-presence-seg]')) {
    const [seg, sp] = [Number(node.dataset.presenceSeg), Number(node.dataset.presenceSp)];
    const here = speakerPresent(presence, seg, sp);
    node.classList.toggle('present', here);
    node.classList.toggle('absent', !here);
    // Online, in the hall, or not connected: said in words too, for phones without hover.
    const where = !here ? 'presence_absent' : speakerInRoom(presence, seg, sp) ? 'presence_in_hall' : 'presence_online';
    const title = t(lang, where);
    if (node.title !== title) node.title = title;
    const status = node.querySelector('.chip-status');
    if (status && status.textContent !== title) status.textContent = title;
  }
}

/** Sets or clears a node's speaker place (the console's current speaker and chair). */
export function setSpeakerPlace(node, segment, speaker) {
  if (segment != null && speaker != null) Object.assign(node.dataset, speakerData(segment, speaker));
  else {
    delete node.dataset.presenceSeg;
    delete node.dataset.presenceSp;
    node.classList.remove('present', 'absent');
    node.removeAttribute('title');
  }
}

/** #recent-joins: one li per recent join, newest first: the name, and a remote/in-room badge. */
export function renderRecent(list, recent, lang) {
  keyedList(list, recent, (r) => r.who, (r) => `${lang}|${modeOf(r)}|${r.name}`, (r) => el('li',
    { class: 'recent-join', data: { who: String(r.who), mode: modeOf(r) } },
    el('span', { class: 'recent-name', text: String(r.name ?? '') }), ' ', modeBadge(lang, modeOf(r))));
}

// ---------- the attendance chart ----------

const W = 600, H = 120;
const svg = (tag, attrs = {}) => {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
};
const fmt = (n) => (Math.round(n * 10) / 10).toString();

/**
 * Redraws the SVG #attendance-chart inside `box`: in-room and remote stacked over time, from
 * the history and the current counts (the last point, "now"). The axis labels are HTML
 * (#chart-start, #chart-peak, #chart-end), so that the drawing may stretch to any width.
 */
export function drawAttendanceChart(box, presence, now, timeZone, lang) {
  const points = (presence.history || []).filter((s) => s && Number.isFinite(s.at) && s.at < now);
  points.push({ at: now, in_room: presence.counts.in_room, remote: presence.counts.remote });
  const t0 = points[0].at, span = Math.max(now - t0, 1);
  const peak = Math.max(1, ...points.map((s) => s.in_room + s.remote));
  const x = (s) => (points.length === 1 ? 0 : ((s.at - t0) / span) * W);
  const y = (v) => H - (v / peak) * (H - 4);
  const line = (f) => {
    const pts = points.map((s) => [x(s), y(f(s))]);
    if (points.length === 1) pts.push([W, pts[0][1]]);
    return pts;
  };
  const room = line((s) => s.in_room), total = line((s) => s.in_room + s.remote);
  const path = (pts) => pts.map(([px, py], i) => `${i ? 'L' : 'M'}${fmt(px)} ${fmt(py)}`).join('');
  const area = (top, bottom) => `${path(top)}${path([...bottom].reverse()).replace(/^M/, 'L')}Z`;
  const base = room.map(([px]) => [px, H]);

  let chart = $('attendance-chart');
  if (!chart) {
    chart = svg('svg', {
      id: 'attendance-chart', class: 'attendance-chart', viewBox: `0 0 ${W} ${H}`,
      preserveAspectRatio: 'none', role: 'img',
    });
    box.replaceChildren(chart);
  }
  const label = t(lang, 'presence_chart_label', {
    room: presence.counts.in_room, remote: presence.counts.remote, peak,
  });
  chart.setAttribute('aria-label', label);
  const title = svg('title');
  title.textContent = label;
  chart.replaceChildren(
    title,
    svg('line', { class: 'chart-grid', x1: 0, x2: W, y1: fmt(y(peak)), y2: fmt(y(peak)) }),
    svg('path', { class: 'chart-area chart-in_room', d: area(room, base) }),
    svg('path', { class: 'chart-area chart-remote', d: area(total, room) }),
    svg('path', { class: 'chart-line chart-line-in_room', d: path(room) }),
    svg('path', { class: 'chart-line chart-line-remote', d: path(total) }),
  );
  setText($('chart-start'), fmtClock(t0, timeZone, lang));
  setText($('chart-end'), t(lang, 'presence_now'));
  setText($('chart-peak'), t(lang, 'presence_peak', { n: peak }));
}

// ---------- the full list (console) ----------

const MAX_ROWS = 300;
const collator = new Intl.Collator(undefined, { sensitivity: 'base', numeric: true });
const fold = (s) => String(s ?? '').toLocaleLowerCase().normalize('NFKC');

/**
 * #presence-list: everyone here sorted by name, filtered by #presence-filter (name or
 * affiliation), at most MAX_ROWS rows and a count of the rest (#presence-more).
 */
export function renderList(presence, lang) {
  const list = $('presence-list');
  const map = presence.list;
  $('presence-list-box').hidden = !map;
  if (!map) return;
  const needle = fold($('presence-filter').value.trim());
  let rows = [...map.values()];
  if (needle) rows = rows.filter((e) => fold(e.name).includes(needle) || fold(e.affiliation).includes(needle));
  rows.sort((a, b) => collator.compare(String(a.name ?? ''), String(b.name ?? '')));
  const shown = rows.slice(0, MAX_ROWS);
  keyedList(list, shown, (e) => e.who, (e) => JSON.stringify([lang, e.name, e.affiliation, e.role, e.mode, e.lang]),
    (e) => el('li', { class: 'presence-row', data: { who: String(e.who), mode: modeOf(e) } },
      el('span', { class: 'presence-name', text: String(e.name ?? '') }),
      el('span', { class: 'presence-aff muted', text: e.affiliation ? String(e.affiliation) : '' }),
      el('span', { class: 'presence-tags' },
        badge(`presence-role role-${e.role}`, t(lang, `role_${e.role}`)),
        modeBadge(lang, modeOf(e)),
        badge('q-lang', LANG_NAMES[e.lang] || String(e.lang ?? '')))));
  const loading = !presence.listComplete;
  setText($('presence-list-count'), loading
    ? t(lang, 'presence_loading', { n: map.size, total: listed(presence) })
    : needle ? t(lang, 'presence_matches', { n: rows.length, total: map.size }) : t(lang, 'presence_listed', { n: map.size }));
  const rest = rows.length - shown.length;
  $('presence-more').hidden = rest <= 0;
  setText($('presence-more'), rest > 0 ? t(lang, 'presence_more', { n: rest }) : '');
  $('presence-none').hidden = rows.length > 0 || loading;
}
