// Speaker-queue pieces both pages draw: queue names, an entry's name and badges, the
// speaker's clock. Names and topics are typed by users: they go in as text only.

import { t, LANG_NAMES } from './i18n.js';
import { localized, fmtCountdown, fmtDuration, speakingTime } from './client.js';
import { el, setText } from './ui.js';

/** "Open Q&A" for the event-wide queue, else the segment's title. */
export function queueLabel(state, name, lang) {
  if (name === 'event') return t(lang, 'q_open_qa');
  const seg = (state.segments || []).find((s) => s.id === name);
  return seg ? t(lang, 'q_segment', { title: localized(seg.title, lang) }) : name;
}

const badge = (cls, text) => el('span', { class: `badge q-badge ${cls}`, text });

/**
 * The parts of one entry: name, then (opts) affiliation, badges, topic.
 * opts: {affiliation, lang, mine, sides} — what this page shows besides the name, mode and
 * kind; with `sides` (the event's), the side the entry speaks for.
 */
export function entryParts(entry, lang, opts = {}) {
  const who = el('div', { class: 'q-who' }, el('strong', { class: 'q-name', text: entry.name }));
  if (opts.mine) who.append(badge('q-mine', t(lang, 'q_you')));
  if (opts.affiliation && entry.affiliation) who.append(el('span', { class: 'q-aff muted', text: entry.affiliation }));
  const mode = entry.mode === 'in_room' ? 'in_room' : 'remote';
  who.append(badge(`q-mode q-mode-${mode}`, t(lang, `q_mode_${mode}`)));
  if (opts.lang && entry.lang) who.append(badge('q-lang', LANG_NAMES[entry.lang] || entry.lang));
  if (entry.kind === 'reply' || entry.kind === 'point_of_order') {
    who.append(badge(`q-kind q-kind-${entry.kind}`, t(lang, `q_kind_${entry.kind}`)));
  }
  if (entry.panellist) who.append(badge('q-panellist', t(lang, 'q_panellist')));
  const side = opts.sides && entry.side != null ? opts.sides.find((s) => s.id === entry.side) : null;
  if (side) who.append(badge('q-side-badge', localized(side.name, lang)));
  const parts = [who];
  if (entry.topic != null && entry.topic !== '') parts.push(el('p', { class: 'q-topic', text: entry.topic }));
  return parts;
}

/** The speaker's countdown in `node` ("+0:12" and red once over); elapsed time if no limit. */
export function drawSpeakingClock(node, queue, now) {
  if (!node) return;
  const st = speakingTime(queue, now);
  node.hidden = !st;
  if (!st) return;
  setText(node, st.remaining_ms != null ? fmtCountdown(st.remaining_ms) : fmtDuration(st.elapsed_ms));
  node.classList.toggle('overrun', st.remaining_ms != null && st.remaining_ms < 0);
}

/**
 * Redraws `box` with build() only when `key` changed since the last time, so that a button
 * under the pointer is not replaced by every unrelated change.
 */
const drawn = new WeakMap();
export function redrawIf(box, key, build) {
  if (!box || drawn.get(box) === key) return;
  drawn.set(box, key);
  box.replaceChildren(...build());
}
