// The crew's back-channel to the chair (docs/protocol.md, "Notes to the chair"): the sender's
// panel (the cue screens, the green room's /notes page) with the plan's presets, a typed note
// and one's own notes with whether the chair has read them; and the chair's strip in the
// console's cockpit, where a note stands until it is read.

import { fmtClock, fmtDuration, localized } from './client.js';
import { t } from './i18n.js';
import { el, setText, keyedList } from './ui.js';

/** Who sent a note, as the chair reads it: "Fukuda · AV (audio)". */
function sender(L, note) {
  const role = t(L, `role_${note.role}`);
  const crew = note.crew && note.crew.length ? ` (${note.crew.map((p) => t(L, `crew_${p}`)).join(', ')})` : '';
  return `${note.name} · ${role}${crew}`;
}

/**
 * The sender's panel inside `root`: preset buttons, a text field, and the notes this page's
 * participant sent, newest first, each "sent" or "read by … at …".
 * createNoteSender(root, {hub, lang, connected, showError}) → {render()}.
 */
export function createNoteSender(root, { hub, lang, connected, showError }) {
  const presets = el('div', { class: 'note-presets' });
  const input = el('input', { class: 'note-text', attrs: { type: 'text', maxlength: '140', autocomplete: 'off', id: 'note-text' } });
  const send = el('button', { class: 'primary', attrs: { type: 'submit', id: 'btn-note-send' } });
  const form = el('form', { class: 'note-form' }, input, send);
  const mine = el('ol', { class: 'note-mine', attrs: { id: 'note-mine', 'aria-live': 'polite' } });
  const heading = el('h2', { class: 'note-heading', attrs: { id: 'notes-heading' } });
  root.replaceChildren(heading, presets, form, mine);
  let sending = false;

  async function post(fields) {
    if (sending || !connected()) return false;
    sending = true;
    render();
    try {
      await hub.send('note_send', fields);
      return true;
    } catch (err) {
      showError(err);
      return false;
    } finally {
      sending = false;
      render();
    }
  }
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) { input.focus(); return; }
    input.blur(); // back to the page: a cue screen's Space answers cues again
    if (await post({ text })) input.value = '';
  });

  function render() {
    const s = hub.state;
    if (!s) return;
    const L = lang(), ok = connected() && !sending;
    setText(heading, t(L, 'notes_to_chair'));
    input.placeholder = t(L, 'note_text_hint');
    input.setAttribute('aria-label', input.placeholder);
    setText(send, t(L, 'btn_note_send'));
    send.disabled = !ok;
    input.disabled = !connected();
    keyedList(presets, s.note_presets || [], (p) => p.id, (p) => `${localized(p.text, L)}`, (p) => {
      const b = el('button', { class: 'note-preset', attrs: { type: 'button' }, data: { preset: p.id }, text: localized(p.text, L) });
      b.addEventListener('click', () => post({ preset: p.id }));
      return b;
    });
    presets.querySelectorAll('button').forEach((b) => { b.disabled = !ok; });
    // The server sends a sender its own notes only.
    const own = (s.notes || []).slice().reverse().slice(0, 8);
    const tz = s.event.time_zone;
    keyedList(mine, own, (n) => n.id, (n) => JSON.stringify([n.read, L]), (n) => {
      const status = n.read
        ? `✓ ${t(L, 'note_read_by', { name: n.read.by, time: fmtClock(n.read.at, tz, L) })}`
        : t(L, 'note_waiting');
      return el('li', { class: 'note-item', data: { note: String(n.id), state: n.read ? 'read' : 'sent' } },
        el('span', { class: 'note-say', text: localized(n.text, L) }),
        el('span', { class: 'note-at muted', text: fmtClock(n.at, tz, L) }),
        el('span', { class: 'note-status', text: status }));
    });
  }
  return { render };
}

/**
 * The chair's strip in the cockpit (`root`): every unread note, oldest first, with who sent
 * it, how long it has waited and a Read button. createNoteCockpit(root, {hub, lang,
 * canControl, connected, showError}) → {render(), tick(now)}.
 */
export function createNoteCockpit(root, { hub, lang, canControl, connected, showError }) {
  const busy = new Set();
  async function read(id) {
    if (busy.has(id) || !connected() || !canControl()) return;
    busy.add(id);
    render();
    try {
      await hub.send('note_read', { note: id });
    } catch (err) {
      showError(err);
    } finally {
      busy.delete(id);
      render();
    }
  }

  function render() {
    const s = hub.state;
    if (!s) return;
    const L = lang();
    const unread = (s.notes || []).filter((n) => !n.read);
    root.hidden = unread.length === 0;
    keyedList(root, unread, (n) => n.id, (n) => JSON.stringify([n.text, L]), (n) => {
      const button = el('button', { class: 'note-ack', attrs: { type: 'button' } });
      button.addEventListener('click', () => read(n.id));
      return el('div', { class: 'ck-note', data: { note: String(n.id) }, attrs: { role: 'alert' } },
        el('span', { class: 'ck-note-text', text: localized(n.text, L) }),
        el('span', { class: 'ck-note-from muted', text: sender(L, n) }),
        el('span', { class: 'ck-note-age' }),
        button);
    });
    for (const node of root.children) {
      const button = node.querySelector('.note-ack');
      setText(button, `✓ ${t(L, 'btn_note_read')}`);
      button.disabled = busy.has(Number(node.dataset.note)) || !connected() || !canControl();
    }
    tick(hub.serverNow());
  }

  /** How long each note has waited, ticking. */
  function tick(now) {
    const s = hub.state;
    if (!s || root.hidden) return;
    for (const node of root.children) {
      const note = (s.notes || []).find((n) => n.id === Number(node.dataset.note));
      if (note) setText(node.querySelector('.ck-note-age'), fmtDuration(Math.max(0, now - note.at)));
    }
  }
  return { render, tick };
}
