// What the pages share about the audience's voice: the question on screen, a question's
// tags, the open or shown poll, and a poll's result bars. Pure DOM from the state kept by
// client.js; no socket. Questions are the audience's own words: always text, never HTML.

import { localized } from './client.js';
import { t, LANG_NAMES } from './i18n.js';
import { el } from './ui.js';

/** The question the chair put on screen, when this page may see it; else null. */
export function highlighted(state) {
  const qs = state && state.questions;
  const id = qs && qs.board.highlighted;
  return id == null ? null : qs.items.find((q) => q.id === id) || null;
}

/** A question's language as its readers name it ("日本語"), whatever the page's language. */
export function langTag(q) {
  return el('span', { class: 'qa-lang', text: LANG_NAMES[q.lang] || String(q.lang || ''), attrs: { lang: q.lang } });
}

/** "Tanaka Yuki · Osaka University", or "Anonymous" when the asker's name is withheld. */
export function askerName(q, lang) {
  if (q.name == null) return t(lang, 'qa_anonymous');
  return q.affiliation ? `${q.name} · ${q.affiliation}` : q.name;
}

/**
 * Orders questions: 'votes' (most first, older first among equals), 'time' (newest first),
 * or 'order' (the chair's order of the approved ones; others after, oldest first).
 */
export function sortQuestions(items, by, order = []) {
  const place = new Map(order.map((id, i) => [id, i]));
  const rank = (q) => (place.has(q.id) ? place.get(q.id) : order.length);
  const list = [...items];
  if (by === 'votes') list.sort((a, b) => b.votes - a.votes || a.asked_at - b.asked_at);
  else if (by === 'time') list.sort((a, b) => b.asked_at - a.asked_at);
  else list.sort((a, b) => rank(a) - rank(b) || a.asked_at - b.asked_at);
  return list;
}

/**
 * The poll the audience looks at: the open one (the latest opened), else the latest closed
 * one whose results are shown. `segmentId`, when given, keeps closed polls to that segment
 * and the whole event's.
 */
export function currentPoll(state, segmentId) {
  const polls = (state && state.polls && state.polls.polls) || [];
  const latest = (list, at) => list.reduce((best, p) => (!best || (p[at] || 0) > (best[at] || 0) ? p : best), null);
  const open = latest(polls.filter((p) => p.state === 'open'), 'opened_at');
  if (open) return open;
  const fits = (p) => segmentId === undefined || p.segment == null || p.segment === segmentId;
  return latest(polls.filter((p) => p.state === 'closed' && p.shown && p.counts && fits(p)), 'closed_at');
}

/**
 * A poll's results as bars: each option with its count and share of the voters (several
 * choices may make the shares add up to more than 100%); `mine` marks this person's choices.
 */
export function pollBars(poll, lang, mine = []) {
  const counts = poll.counts || [];
  const top = Math.max(0, ...counts);
  const share = (n) => (poll.voters ? Math.round((n / poll.voters) * 100) : 0);
  return el('ol', { class: 'poll-bars', data: { poll: poll.id } }, ...poll.options.map((option, i) => {
    const n = counts[i] || 0;
    const bar = el('span', { class: 'poll-bar-fill' });
    bar.style.width = `${share(n)}%`;
    const chosen = mine.includes(i);
    return el('li', { class: `poll-bar${n === top && n > 0 ? ' lead' : ''}${chosen ? ' mine' : ''}`, data: { option: String(i) } },
      el('span', { class: 'poll-bar-label', text: `${chosen ? '✓ ' : ''}${localized(option, lang)}` }),
      el('span', { class: 'poll-bar-count', text: `${n} · ${share(n)}%` }),
      el('span', { class: 'poll-bar-track' }, bar));
  }));
}

/** "12 voted", and how the results are shown when they are not yet. */
export function pollNote(poll, lang) {
  const parts = [t(lang, 'poll_voters', { n: poll.voters })];
  if (!poll.counts) parts.push(t(lang, poll.results === 'chair' ? 'poll_hidden_chair' : 'poll_hidden_later'));
  return parts.join(' · ');
}

/**
 * Draws the question on screen into `node` (stage, hall display): a heading, the text in its
 * own language, who asked unless anonymous, and its language. Hides `node` when there is none.
 */
export function drawHighlight(node, state, lang) {
  const q = highlighted(state);
  const key = q ? JSON.stringify([q.id, q.text, q.name, q.affiliation, q.lang, lang]) : '';
  node.hidden = !q;
  if (node.dataset.key === key) return;
  node.dataset.key = key;
  if (!q) { node.replaceChildren(); return; }
  node.dataset.question = String(q.id);
  // Screens size the text by its length, so that a long question never pushes the clock away.
  const length = [...q.text].length;
  node.dataset.size = length <= 60 ? 's' : length <= 140 ? 'm' : 'l';
  const text = el('p', { class: 'hl-text', text: q.text });
  text.lang = q.lang;
  node.replaceChildren(
    el('p', { class: 'hl-head' }, el('span', { class: 'hl-label', text: t(lang, 'qa_from_audience') }), langTag(q)),
    text,
    el('p', { class: 'hl-who', text: q.name == null ? t(lang, 'qa_anonymous') : t(lang, 'qa_asked_by', { name: askerName(q, lang) }) }),
  );
}
