// Speaking time per side (docs/protocol.md "Sides and speaking time"): each side's floor
// time counted up to now from the record's totals and the turns that run, against the
// event's budget and the live segment's. The console draws it over its queue.

import { fmtDuration, localized } from './client.js';
import { t } from './i18n.js';
import { $, el, setText } from './ui.js';
import { redrawIf } from './queue-ui.js';

const NO_RECORD = { sides: [], people: [], open: [] };

/**
 * Each side of the event, and those who spoke for none once someone did, at `now`:
 * {id, name, spoken, turns, budget, left, segBudget, segSpoken, segLeft, running}.
 * A remaining time goes below zero once the side is over its budget.
 */
export function sideTotals(state, now, lang) {
  const record = state.speaking || NO_RECORD;
  const live = state.live || {};
  const seg = live.phase === 'live' && live.segment != null ? (state.segments || [])[live.segment] : null;
  const sides = state.sides || [];
  const ids = sides.map((s) => s.id);
  if (record.sides.some((s) => s.id == null) || record.open.some((o) => o.side == null)) ids.push(null);
  const running = (turns) => turns.reduce((sum, o) => sum + (o.since != null ? Math.max(0, now - o.since) : 0), 0);
  return ids.map((id) => {
    const side = sides.find((s) => s.id === id);
    const closed = record.sides.find((s) => s.id === id);
    const open = record.open.filter((o) => o.side === id);
    const spoken = (closed ? closed.spoken_ms : 0) + running(open);
    const inSeg = seg && closed && closed.segments && closed.segments[seg.id];
    const segSpoken = (inSeg ? inSeg.spoken_ms : 0) + running(open.filter((o) => seg && o.segment === seg.id));
    const budget = side && side.budget_ms != null ? side.budget_ms : null;
    const budgets = (seg && seg.side_budgets_ms) || {};
    const segBudget = id != null && budgets[id] != null ? budgets[id] : null;
    return {
      id, name: side ? localized(side.name, lang) : t(lang, 'sp_no_side'),
      spoken, turns: closed ? closed.turns : 0, budget, left: budget == null ? null : budget - spoken,
      segBudget, segSpoken, segLeft: segBudget == null ? null : segBudget - segSpoken,
      running: open.some((o) => o.since != null),
    };
  });
}

/** A remaining budget: "19:52", "-2:10" once over, "—" without a budget. */
const left = (ms) => (ms == null ? '—' : fmtDuration(ms));

/** createSpeakingPanel({hub, lang}) → {tick(now)}: draws #speaking-sides, hidden without sides. */
export function createSpeakingPanel({ hub, lang }) {
  const box = $('speaking-sides');
  const table = $('speaking-list');
  const COLUMNS = ['sp_side', 'sp_spoken', 'sp_turns', 'sp_left_day', 'sp_left_segment'];

  function tick(now) {
    const s = hub.state;
    const shown = Boolean(s && s.sides && s.sides.length);
    box.hidden = !shown;
    if (!shown) return;
    const L = lang();
    const rows = sideTotals(s, now, L);
    redrawIf(table, JSON.stringify([rows.map((r) => [r.id, r.name]), L]), () => [
      el('thead', {}, el('tr', {}, ...COLUMNS.map((key) => el('th', { attrs: { scope: 'col' }, text: t(L, key) })))),
      el('tbody', {}, ...rows.map((r) => el('tr', { class: 'sp-side', data: { side: r.id ?? '' } },
        el('th', { class: 'sp-name', attrs: { scope: 'row' }, text: r.name }),
        el('td', { class: 'sp-total' }), el('td', { class: 'sp-turns' }),
        el('td', { class: 'sp-left' }), el('td', { class: 'sp-seg' })))),
    ]);
    rows.forEach((r, i) => {
      const tr = table.tBodies[0].rows[i];
      setText(tr.querySelector('.sp-total'), fmtDuration(r.spoken));
      setText(tr.querySelector('.sp-turns'), String(r.turns));
      const day = tr.querySelector('.sp-left');
      setText(day, left(r.left));
      day.classList.toggle('over', r.left != null && r.left < 0);
      const seg = tr.querySelector('.sp-seg');
      setText(seg, r.segBudget == null ? '—' : `${left(r.segLeft)} / ${fmtDuration(r.segBudget)}`);
      seg.classList.toggle('over', r.segLeft != null && r.segLeft < 0);
      tr.classList.toggle('running', r.running);
    });
  }

  return { tick };
}
