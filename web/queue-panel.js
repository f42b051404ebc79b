// The console's speaker-queue panel (#queue-panel): who speaks, who is on deck, who waits,
// and the chair's commands on them (docs/protocol.md "Speaker queues").

import { activeQueueName, fmtDuration, localized } from './client.js';
import { t } from './i18n.js';
import { $, el, setText, showMessage, errorText } from './ui.js';
import { queueLabel, entryParts, drawSpeakingClock, redrawIf } from './queue-ui.js';

const LIMITS_S = [0, 60, 120, 180, 300];
const SETTINGS = ['queue-policy', 'queue-topics-public', 'queue-panellists-first', 'queue-limit', 'queue-closed'];

/**
 * createQueuePanel({hub, lang, canControl, connected}) → {render(), tick(now)}.
 * lang(), canControl() and connected() are read at each render.
 */
export function createQueuePanel({ hub, lang, canControl, connected }) {
  let pinned = null; // the queue the chair picked, when it is not the active one
  let dragId = null; // the entry being dragged: the list is not redrawn meanwhile
  const list = $('queue-waiting');
  const itemKeys = new WeakMap();

  const selected = () => pinned ?? activeQueueName(hub.state);
  const current = () => (hub.state && hub.state.queues ? hub.state.queues[selected()] : null);
  const enabled = () => Boolean(current()) && connected() && canControl();
  const indexOf = (id) => (current() ? current().waiting.findIndex((e) => e.id === id) : -1);

  /** Every chair command names the queue and the version it was issued against. */
  async function command(type, fields = {}) {
    const queue = selected(), q = current();
    if (!q) return;
    try {
      await hub.send(type, { queue, version: q.version, ...fields });
    } catch (err) {
      showMessage(errorText(lang(), err));
      render(); // puts the settings back as they are
    }
  }

  function move(id, to) {
    const q = current();
    if (!enabled() || !q || to < 0 || to >= q.waiting.length || to === indexOf(id)) return;
    command('queue_move', { entry: id, to });
  }

  // ---------- controls ----------

  $('queue-select').addEventListener('change', (e) => {
    pinned = e.target.value !== activeQueueName(hub.state) ? e.target.value : null;
    render();
  });
  $('btn-queue-next').addEventListener('click', () => command('queue_next'));
  $('btn-queue-call').addEventListener('click', () => command('queue_call'));
  $('btn-queue-start').addEventListener('click', () => command('queue_start'));
  $('btn-queue-stop').addEventListener('click', () => command('queue_stop'));
  $('btn-queue-clear').addEventListener('click', () => {
    if (confirm(t(lang(), 'q_clear_confirm'))) command('queue_clear');
  });
  $('queue-policy').addEventListener('change', (e) => command('queue_settings', { policy: e.target.value }));
  $('queue-topics-public').addEventListener('change', (e) => command('queue_settings', { topics_public: e.target.checked }));
  $('queue-panellists-first').addEventListener('change', (e) => command('queue_settings', { panellists_first: e.target.checked }));
  $('queue-limit').addEventListener('change', (e) => command('queue_settings', { speaking_limit_s: Number(e.target.value) }));
  $('queue-closed').addEventListener('change', (e) => command('queue_settings', { closed: e.target.checked }));
  // The side an entry speaks for, from its picker (the event's sides, or none).
  const onSide = (e) => {
    const pick = e.target.closest('select[data-entry-id]');
    if (pick) command('queue_side', { entry: Number(pick.dataset.entryId), side: pick.value || null });
  };
  for (const id of ['queue-speaking', 'queue-on-deck', 'queue-waiting']) $(id).addEventListener('change', onSide);

  // Dismiss on the speaker and the one on deck; call, up, down, dismiss in the list.
  const onAction = (e) => {
    const button = e.target.closest('button[data-action]');
    if (!button || button.disabled) return;
    const id = Number(button.dataset.entryId);
    const i = indexOf(id);
    switch (button.dataset.action) {
      case 'dismiss': command('queue_dismiss', { entry: id }); break;
      case 'call': command('queue_call', { entry: id }); break;
      case 'up': move(id, i - 1); break;
      case 'down': move(id, i + 1); break;
      default: break;
    }
  };
  for (const id of ['queue-speaking', 'queue-on-deck', 'queue-waiting']) $(id).addEventListener('click', onAction);

  // Keyboard: Alt+↑ / Alt+↓ move the focused entry; ↑ / ↓ move the focus.
  list.addEventListener('keydown', (e) => {
    const li = e.target.closest('li[data-entry-id]');
    if (!li || (e.key !== 'ArrowUp' && e.key !== 'ArrowDown') || e.ctrlKey || e.metaKey) return;
    if (e.target.tagName === 'SELECT') return; // the arrows choose a side there
    const up = e.key === 'ArrowUp';
    e.preventDefault();
    if (e.altKey) {
      const id = Number(li.dataset.entryId);
      move(id, indexOf(id) + (up ? -1 : 1));
    } else if (e.target === li) {
      const next = up ? li.previousElementSibling : li.nextElementSibling;
      if (next) next.focus();
    }
  });

  // Drag and drop: the drop point (above or below the middle of an entry) gives the new index.
  const clearMarks = () => {
    for (const n of list.querySelectorAll('.drop-before, .drop-after, .dragging')) {
      n.classList.remove('drop-before', 'drop-after', 'dragging');
    }
  };
  const dropPoint = (e) => {
    const li = e.target.closest && e.target.closest('li[data-entry-id]');
    if (!li) return { li: null, after: true };
    const box = li.getBoundingClientRect();
    return { li, after: e.clientY > box.top + box.height / 2 };
  };
  list.addEventListener('dragstart', (e) => {
    const li = e.target.closest && e.target.closest('li[data-entry-id]');
    if (!li || !enabled()) { e.preventDefault(); return; }
    dragId = Number(li.dataset.entryId);
    li.classList.add('dragging');
    e.dataTransfer.effectAllowed = 'move';
    e.dataTransfer.setData('text/plain', li.dataset.entryId);
  });
  list.addEventListener('dragover', (e) => {
    if (dragId == null) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'move';
    const { li, after } = dropPoint(e);
    for (const n of list.querySelectorAll('.drop-before, .drop-after')) n.classList.remove('drop-before', 'drop-after');
    if (li) li.classList.add(after ? 'drop-after' : 'drop-before');
  });
  list.addEventListener('drop', (e) => {
    if (dragId == null) return;
    e.preventDefault();
    const id = dragId, from = indexOf(id);
    const { li, after } = dropPoint(e);
    const target = li ? indexOf(Number(li.dataset.entryId)) : current().waiting.length - 1;
    endDrag();
    if (from < 0 || target < 0) return;
    const point = li ? target + (after ? 1 : 0) : target + 1; // insert before this index
    move(id, point > from ? point - 1 : point);
  });
  const endDrag = () => {
    if (dragId == null) return;
    dragId = null;
    clearMarks();
    render();
  };
  list.addEventListener('dragend', endDrag);

  // ---------- drawing ----------

  const sides = () => (hub.state && hub.state.sides) || [];

  /** The side an entry speaks for, as a picker the chair changes it with; none without sides. */
  function sidePicker(entry, ok, L) {
    if (!sides().length) return null;
    const label = t(L, 'q_side');
    const pick = el('select', {
      class: 'q-side', data: { entryId: String(entry.id), side: entry.side ?? '' },
      attrs: { title: label, 'aria-label': label },
    }, el('option', { attrs: { value: '' }, text: t(L, 'q_side_none') }),
    ...sides().map((side) => el('option', { attrs: { value: side.id }, text: localized(side.name, L) })));
    pick.value = entry.side ?? '';
    pick.disabled = !ok;
    return pick;
  }

  function actionButton(action, entry, label, ok, symbol) {
    const b = el('button', {
      class: `q-act q-act-${action}`, text: symbol || label,
      data: { action, entryId: String(entry.id) }, attrs: { type: 'button', title: label, 'aria-label': label },
    });
    b.disabled = !ok;
    return b;
  }

  function slot(entry, emptyKey, ok, L) {
    if (!entry) return [el('p', { class: 'muted', text: t(L, emptyKey) })];
    return [
      el('div', { class: 'q-main', data: { entryId: String(entry.id) } },
        ...entryParts(entry, L, { affiliation: true, lang: true }), sidePicker(entry, ok, L)),
      actionButton('dismiss', entry, t(L, 'q_dismiss'), ok),
    ];
  }

  function waitingItem(entry, ok, L) {
    const li = el('li', { class: 'q-entry', data: { entryId: String(entry.id) }, attrs: { tabindex: '0' } },
      el('span', { class: 'q-pos' }),
      el('div', { class: 'q-main' }, ...entryParts(entry, L, { affiliation: true, lang: true }),
        entry.pinned ? el('span', { class: 'q-pinned', text: `📌 ${t(L, 'q_pinned')}` }) : null,
        sidePicker(entry, ok, L)),
      el('div', { class: 'q-actions' },
        actionButton('call', entry, t(L, 'q_call'), ok),
        actionButton('up', entry, t(L, 'q_up'), ok, '↑'),
        actionButton('down', entry, t(L, 'q_down'), ok, '↓'),
        actionButton('dismiss', entry, t(L, 'q_dismiss'), ok)));
    li.draggable = ok;
    return li;
  }

  /** Updates the list in place: unchanged entries keep their nodes (and focus, and a pressed button). */
  function renderWaiting(q, ok, L) {
    const focused = document.activeElement;
    const focusedLi = list.contains(focused) ? focused.closest('li[data-entry-id]') : null;
    const focusId = focusedLi && focusedLi.dataset.entryId;
    const focusAction = focusedLi && focused !== focusedLi ? focused.dataset.action : null;

    const old = new Map([...list.children].map((li) => [li.dataset.entryId, li]));
    q.waiting.forEach((entry, i) => {
      const id = String(entry.id), key = JSON.stringify([entry, L, ok, sides()]);
      let li = old.get(id);
      if (li && itemKeys.get(li) === key) old.delete(id);
      else { li = waitingItem(entry, ok, L); itemKeys.set(li, key); }
      setText(li.querySelector('.q-pos'), String(i + 1));
      li.querySelector('[data-action="up"]').disabled = !ok || i === 0;
      li.querySelector('[data-action="down"]').disabled = !ok || i === q.waiting.length - 1;
      if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
    });
    for (const li of old.values()) li.remove();

    if (focusId == null) return;
    const li = [...list.children].find((n) => n.dataset.entryId === focusId);
    if (!li || li.contains(document.activeElement)) return;
    const button = focusAction && li.querySelector(`[data-action="${focusAction}"]`);
    (button && !button.disabled ? button : li).focus();
  }

  function renderSettings(q, ok, L) {
    const policy = $('queue-policy');
    if (policy.value !== q.policy) policy.value = q.policy;
    $('queue-topics-public').checked = Boolean(q.topics_public);
    $('queue-panellists-first').checked = Boolean(q.panellists_first);
    $('queue-closed').checked = Boolean(q.closed);
    const secs = Math.round((q.speaking_limit_ms || 0) / 1000);
    const limits = LIMITS_S.includes(secs) ? LIMITS_S : [...LIMITS_S, secs].sort((a, b) => a - b);
    const limit = $('queue-limit');
    redrawIf(limit, JSON.stringify([limits, L]), () => limits.map((s) => el('option', {
      attrs: { value: String(s) },
      text: s === 0 ? t(L, 'q_no_limit') : s % 60 === 0 ? t(L, 'q_minutes', { n: s / 60 }) : fmtDuration(s * 1000),
    })));
    if (limit.value !== String(secs)) limit.value = String(secs);
    for (const id of SETTINGS) $(id).disabled = !ok;
  }

  function renderButtons(q, ok) {
    const has = q ? {
      'btn-queue-next': q.speaking || q.on_deck || q.waiting.length > 0,
      'btn-queue-call': q.waiting.length > 0,
      'btn-queue-start': q.on_deck,
      'btn-queue-stop': q.speaking,
      'btn-queue-clear': q.on_deck || q.waiting.length > 0,
    } : {};
    for (const id of ['btn-queue-next', 'btn-queue-call', 'btn-queue-start', 'btn-queue-stop', 'btn-queue-clear']) {
      $(id).disabled = !(ok && has[id]);
    }
  }

  function render() {
    const s = hub.state;
    if (!s) return;
    const L = lang();
    const active = activeQueueName(s);
    if (pinned === active) pinned = null;
    const name = selected();

    // The active queue, every other queue that still holds open entries (requests left in a
    // segment that has ended), and open Q&A: the chair sees and acts on all of them.
    const open = (q) => q && (q.speaking || q.on_deck || (q.waiting && q.waiting.length));
    const others = Object.keys(s.queues || {}).filter((n) => n !== active && n !== 'event' && (open(s.queues[n]) || n === pinned));
    const label = (n) => {
      const q = s.queues[n];
      const count = q ? (q.waiting ? q.waiting.length : 0) + (q.on_deck ? 1 : 0) + (q.speaking ? 1 : 0) : 0;
      return `${queueLabel(s, n, L)} (${count})`;
    };
    const options = active === 'event' ? [] : [[active, queueLabel(s, active, L)]];
    for (const n of others) options.push([n, label(n)]);
    options.push(['event', t(L, 'q_open_qa')]);
    const select = $('queue-select');
    redrawIf(select, JSON.stringify(options), () => options.map(([value, text]) => el('option', { text, attrs: { value } })));
    select.value = name;
    select.disabled = options.length < 2;

    const q = s.queues ? s.queues[name] : null;
    $('queue-panel').dataset.queue = name;
    $('queue-unavailable').hidden = Boolean(q);
    $('queue-body').hidden = !q;
    const ok = Boolean(q) && connected() && canControl();
    renderButtons(q, ok);
    if (!q) return;

    const slotKey = (entry) => JSON.stringify([entry, L, ok, sides()]);
    redrawIf($('queue-speaking'), slotKey(q.speaking), () => slot(q.speaking, 'q_nobody_speaking', ok, L));
    redrawIf($('queue-on-deck'), slotKey(q.on_deck), () => slot(q.on_deck, 'q_nobody_on_deck', ok, L));
    $('queue-speaking').classList.toggle('active', Boolean(q.speaking));
    if (dragId == null) renderWaiting(q, ok, L);
    // Under `alternate`, the side the queue takes next: why the line is in this order.
    const side = q.next_side && q.waiting.length ? ` · ${t(L, 'q_next_side', { side: t(L, `q_side_${q.next_side}`) })}` : '';
    const closed = q.closed ? ` · ${t(L, 'q_closed_short')}` : '';
    setText($('queue-count'), `${q.waiting.length ? `${q.waiting.length}${side}` : t(L, 'q_empty')}${closed}`);
    renderSettings(q, ok, L);
    tick(hub.serverNow());
  }

  function tick(now) {
    drawSpeakingClock($('queue-speaking-countdown'), current(), now);
  }

  renderButtons(null, false); // nothing to command before the first snapshot
  for (const id of SETTINGS) $(id).disabled = true;

  return { render, tick };
}
