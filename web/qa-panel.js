// The console's Questions panel (#qa-panel): how the live segment takes written questions
// (off, open, moderated), the questions waiting for moderation, the approved ones (by votes,
// by time or in the chair's order) and the archive; approve, reject with a reason, correct
// a text, star, reorder, put one on screen, mark answered, or send its asker to the queue.

import { fmtClock, localized, liveSegmentId, qaMode } from './client.js';
import { t } from './i18n.js';
import { $, el, setText, keyedList } from './ui.js';
import { askerName, langTag, sortQuestions } from './voice-ui.js';

const MODES = ['off', 'open', 'moderated'];
const TABS = ['pending', 'approved', 'archive'];
const SORTS = ['votes', 'time', 'order'];
const TAB_OF = {
  pending: 'pending', approved: 'approved', answered: 'archive', promoted: 'archive', rejected: 'archive', withdrawn: 'archive',
};
const MAX_TEXT = 280, MAX_REASON = 140;

/**
 * createQaPanel({hub, lang, canControl, connected, showError}) → {render()}.
 * lang(), canControl() and connected() are read at each render.
 */
export function createQaPanel({ hub, lang, canControl, connected, showError }) {
  const root = $('qa-panel');
  let tab = 'pending', sort = 'votes';
  // One row at a time is being edited or given a reason; redraws keep what was typed.
  let editing = null, rejecting = null;

  const heading = el('h2', { attrs: { id: 'qa-heading' } });
  const count = el('span', { class: 'muted qa-total' });
  const modeLabel = el('span', { class: 'label qa-mode-label' });
  const modeButtons = MODES.map((mode) => el('button', { class: 'qa-mode', data: { mode }, attrs: { type: 'button', 'aria-pressed': 'false' } }));
  const tabs = TABS.map((name) => el('button', { class: 'qa-tab', data: { tab: name }, attrs: { type: 'button', role: 'tab', id: `qa-tab-${name}` } }));
  const sortBox = el('select', { attrs: { id: 'qa-sort' } }, ...SORTS.map((s) => el('option', { attrs: { value: s } })));
  const sortLabel = el('label', { class: 'qa-sort' }, el('span', { class: 'visually-hidden' }), sortBox);
  const list = el('ol', { class: 'qa-list', attrs: { id: 'qa-list', role: 'tabpanel' } });
  const empty = el('p', { class: 'muted qa-empty' });
  root.replaceChildren(
    el('div', { class: 'q-head qa-head' }, heading, count),
    el('div', { class: 'qa-modes' }, modeLabel, el('span', { class: 'qa-mode-group', attrs: { role: 'group' } }, ...modeButtons)),
    el('div', { class: 'qa-tabs', attrs: { role: 'tablist' } }, ...tabs, sortLabel),
    list, empty,
  );

  const state = () => hub.state;
  const questions = () => (state() && state().questions ? state().questions.items : []);
  const enabled = () => connected() && canControl();

  async function command(type, fields) {
    try {
      await hub.send(type, fields);
      return true;
    } catch (err) {
      showError(err);
      return false;
    }
  }

  for (const b of modeButtons) {
    b.addEventListener('click', () => {
      const segment = liveSegmentId(state());
      command('question_settings', segment ? { segment, mode: b.dataset.mode } : { mode: b.dataset.mode });
    });
  }
  for (const b of tabs) b.addEventListener('click', () => { tab = b.dataset.tab; render(); });
  sortBox.addEventListener('change', () => { sort = sortBox.value; render(); });

  list.addEventListener('click', async (e) => {
    const button = e.target.closest('button[data-action]');
    if (!button || button.disabled) return;
    const row = button.closest('li[data-question]');
    const id = Number(row.dataset.question);
    const q = questions().find((item) => item.id === id);
    if (!q) return;
    const order = state().questions.board.order;
    const act = {
      approve: () => command('question_approve', { question: id }),
      reject: () => { rejecting = id; editing = null; render(); focusIn(id, '.qa-reason'); },
      edit: () => { editing = id; rejecting = null; render(); focusIn(id, '.qa-edit-text'); },
      star: () => command('question_star', { question: id, starred: !q.starred }),
      up: () => command('question_move', { question: id, to: order.indexOf(id) - 1 }),
      down: () => command('question_move', { question: id, to: order.indexOf(id) + 1 }),
      highlight: () => command('question_highlight', { question: state().questions.board.highlighted === id ? null : id }),
      answer: () => command('question_answer', { question: id }),
      promote: () => command('question_promote', { question: id }),
      cancel: () => { editing = null; rejecting = null; render(); },
      'confirm-reject': async () => {
        const reason = [...row.querySelector('.qa-reason').value.trim()].slice(0, MAX_REASON).join('');
        if (await command('question_reject', reason ? { question: id, reason } : { question: id })) rejecting = null;
        render();
      },
      save: async () => {
        const text = row.querySelector('.qa-edit-text').value.trim();
        if (text === q.text || !text) { editing = null; render(); return; }
        if (await command('question_edit', { question: id, text })) editing = null;
        render();
      },
    }[button.dataset.action];
    if (act) act();
  });
  /** Focuses a field of a question's row, which the last render built anew. */
  function focusIn(id, selector) {
    const field = list.querySelector(`li[data-question="${id}"] ${selector}`);
    if (field) field.focus();
  }

  // Enter in the reason or the edited text confirms, Esc leaves it as it was.
  list.addEventListener('keydown', (e) => {
    const field = e.target.closest('.qa-reason, .qa-edit-text');
    if (!field) return;
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      field.closest('li').querySelector('button.qa-confirm').click();
    } else if (e.key === 'Escape') {
      editing = null; rejecting = null; render();
    }
  });

  /** The segment a question was asked to, when it is not the live one. */
  function segmentTag(q, live) {
    if (q.segment === live) return null;
    const seg = q.segment && state().segments.find((g) => g.id === q.segment);
    return el('span', { class: 'qa-seg', text: seg ? localized(seg.title, lang()) : t(lang(), 'qa_whole_event') });
  }

  function actions(q, board) {
    const L = lang();
    const button = (action, key, cls = '') => {
      const b = el('button', { class: cls, text: t(L, key), data: { action }, attrs: { type: 'button' } });
      b.disabled = !enabled();
      return b;
    };
    // The star is a toggle whose state the row's meta line already spells out: an icon will do.
    const star = button('star', q.starred ? 'qa_unstar' : 'qa_star', 'qa-star');
    star.setAttribute('aria-pressed', String(q.starred));
    star.title = star.textContent;
    star.setAttribute('aria-label', star.textContent);
    star.textContent = q.starred ? '★' : '☆';
    if (q.state === 'pending') return [button('approve', 'qa_approve', 'primary'), button('reject', 'qa_reject'), button('edit', 'qa_edit'), star];
    if (q.state !== 'approved') return [];
    const onScreen = board.highlighted === q.id;
    const shown = button('highlight', onScreen ? 'qa_unhighlight' : 'qa_highlight', `qa-highlight${onScreen ? ' active' : ''}`);
    shown.setAttribute('aria-pressed', String(onScreen));
    const out = [shown, button('answer', 'qa_answered'), button('promote', 'qa_promote'), button('edit', 'qa_edit'), star];
    if (sort === 'order') {
      const i = board.order.indexOf(q.id);
      const up = button('up', 'qa_up', 'qa-move'), down = button('down', 'qa_down', 'qa-move');
      up.textContent = '↑'; down.textContent = '↓';
      up.title = t(L, 'qa_up'); down.title = t(L, 'qa_down');
      up.disabled ||= i <= 0;
      down.disabled ||= i < 0 || i >= board.order.length - 1;
      out.push(up, down);
    }
    out.push(button('reject', 'qa_reject', 'qa-reject'));
    return out;
  }

  function row(q, board, live) {
    const L = lang();
    const tz = state().event.time_zone;
    const text = el('p', { class: 'qa-text', text: q.text });
    text.lang = q.lang;
    const who = el('span', { class: 'qa-who' });
    if (q.anonymous) {
      who.append(el('span', { class: 'qa-anon', text: t(L, 'qa_anonymous') }));
      if (q.name) who.append(' ', el('small', { class: 'qa-real muted', text: askerName(q, L) }));
    } else {
      who.textContent = askerName(q, L);
    }
    const meta = el('p', { class: 'qa-meta' }, langTag(q), who,
      el('span', { class: 'muted', text: fmtClock(q.asked_at, tz, L) }),
      q.edited ? el('span', { class: 'qa-mark', text: `✎ ${t(L, 'qa_edited')}` }) : null,
      q.starred ? el('span', { class: 'qa-mark qa-starred', text: `★ ${t(L, 'qa_starred')}` }) : null,
      segmentTag(q, live),
      TAB_OF[q.state] === 'archive' ? el('span', { class: `qa-state qa-state-${q.state}`, text: t(L, `qa_state_${q.state}`) }) : null,
      q.reason ? el('span', { class: 'qa-reason-shown muted', text: q.reason }) : null,
      board.highlighted === q.id ? el('span', { class: 'badge qa-on-screen', text: t(L, 'qa_on_screen_now') }) : null);
    const main = el('div', { class: 'qa-main' });
    if (editing === q.id) {
      const area = el('textarea', { class: 'qa-edit-text', attrs: { maxlength: String(MAX_TEXT), rows: '3', 'aria-label': t(L, 'qa_edit') } });
      area.value = q.text;
      area.lang = q.lang;
      main.append(area, meta, el('div', { class: 'qa-actions' },
        el('button', { class: 'primary qa-confirm', text: t(L, 'qa_save'), data: { action: 'save' }, attrs: { type: 'button' } }),
        el('button', { text: t(L, 'qa_cancel'), data: { action: 'cancel' }, attrs: { type: 'button' } })));
    } else if (rejecting === q.id) {
      const reason = el('input', { class: 'qa-reason', attrs: { type: 'text', maxlength: String(MAX_REASON), placeholder: t(L, 'qa_reason_hint'), 'aria-label': t(L, 'qa_reason_hint') } });
      main.append(text, meta, el('div', { class: 'qa-actions qa-rejecting' }, reason,
        el('button', { class: 'danger qa-confirm', text: t(L, 'qa_reject'), data: { action: 'confirm-reject' }, attrs: { type: 'button' } }),
        el('button', { text: t(L, 'qa_cancel'), data: { action: 'cancel' }, attrs: { type: 'button' } })));
    } else {
      const acts = actions(q, board);
      main.append(text, meta, acts.length ? el('div', { class: 'qa-actions' }, ...acts) : null);
    }
    const votes = el('span', { class: 'qa-votes', text: `▲ ${q.votes}`, attrs: { title: t(L, 'qa_votes', { n: q.votes }) } });
    return el('li', { class: `qa-row${board.highlighted === q.id ? ' on-screen' : ''}`, data: { question: String(q.id), state: q.state } }, votes, main);
  }

  function render() {
    const s = state();
    if (!s || !s.questions) return;
    const L = lang();
    const { board } = s.questions;
    const live = liveSegmentId(s);
    const seg = live ? s.segments.find((g) => g.id === live) : null;
    const mode = qaMode(s, live);
    setText(heading, t(L, 'qa_title'));
    setText(modeLabel, t(L, 'qa_mode_for', { title: seg ? localized(seg.title, L) : t(L, 'qa_whole_event') }));
    root.dataset.mode = mode;
    for (const b of modeButtons) {
      setText(b, t(L, `qa_mode_${b.dataset.mode}`));
      b.setAttribute('aria-pressed', String(b.dataset.mode === mode));
      b.disabled = !enabled();
    }
    const byTab = { pending: [], approved: [], archive: [] };
    for (const q of s.questions.items) byTab[TAB_OF[q.state]].push(q);
    for (const b of tabs) {
      const n = byTab[b.dataset.tab].length;
      setText(b, b.dataset.tab === 'archive' ? t(L, 'qa_tab_archive') : `${t(L, `qa_tab_${b.dataset.tab}`)} ${n}`);
      b.setAttribute('aria-selected', String(b.dataset.tab === tab));
      b.classList.toggle('waiting', b.dataset.tab === 'pending' && n > 0);
    }
    setText(count, t(L, 'qa_open_count', { n: byTab.pending.length + byTab.approved.length }));
    sortLabel.hidden = tab !== 'approved';
    setText(sortLabel.firstChild, t(L, 'qa_sort'));
    for (const o of sortBox.options) setText(o, t(L, `qa_sort_${o.value}`));
    sortBox.value = sort;
    list.setAttribute('aria-labelledby', `qa-tab-${tab}`);
    let items = byTab[tab];
    if (tab === 'pending') items = sortQuestions(items, 'time').reverse();
    else if (tab === 'approved') items = sortQuestions(items, sort, board.order);
    else items = [...items].sort((a, b) => (b.closed_at || 0) - (a.closed_at || 0));
    const flags = JSON.stringify([L, sort, board.highlighted, board.order, live, enabled()]);
    keyedList(list, items, (q) => q.id,
      (q) => (editing === q.id || rejecting === q.id ? `${q.id}:${editing}:${rejecting}` : JSON.stringify([q, flags, editing, rejecting])),
      (q) => row(q, board, live));
    empty.hidden = items.length > 0;
    setText(empty, t(L, `qa_none_${tab}`));
  }

  return { render };
}
