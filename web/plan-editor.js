// The console's edit mode for the run of show (docs/protocol.md "Plan edits"): the selected
// row opens a field editor, rows are added, duplicated, deleted, moved (buttons, keys, drag
// and drop), plan edits are undone, and organizers import a spreadsheet. It sends plan
// commands only; the rows themselves are drawn by console.js and follow the plan changes.

import { localized } from './client.js';
import { t, kindName, LANGS, LANG_NAMES } from './i18n.js';
import { $, el, setText } from './ui.js';

const KINDS = ['ceremony', 'speech', 'keynote', 'panel', 'qa', 'break', 'closing'];
const MINUTE = 60_000;
const NEW_MINUTES = 10;
const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/** The segment fields the editor shows, each as the text of its input. */
const FIELDS = {
  'title.zh': (s) => s.title.zh ?? '',
  'title.ja': (s) => s.title.ja ?? '',
  'title.en': (s) => s.title.en ?? '',
  kind: (s) => s.kind,
  duration_min: (s) => String(Math.round(s.duration_ms / MINUTE)),
  chair: (s, L) => localized(s.chair, L),
  warning_s: (s) => String(Math.round((s.warning_ms ?? 0) / 1000)),
  danger_s: (s) => String(Math.round((s.danger_ms ?? 0) / 1000)),
  speaking_limit_min: (s) => (s.speaking_limit_ms ? String(Math.round(s.speaking_limit_ms / MINUTE)) : '0'),
  join_url: (s) => s.join_url ?? '',
  av_notes: (s) => s.av_notes ?? '',
};
const NUMBERS = new Set(['duration_min', 'warning_s', 'danger_s', 'speaking_limit_min']);

/**
 * A localized text with the language `L` set to `text`. The other languages that read the
 * same as `L` did follow, so that a name written once for every language stays one name.
 */
function mergeText(orig, L, text) {
  if (!orig || typeof orig !== 'object') return text;
  if (orig[L] === text) return orig;
  const out = { ...orig };
  for (const l of LANGS) if (orig[l] === orig[L]) out[l] = text;
  return out;
}

/** A plan speaker as a plan edit gives them back, with their `id` (and `lang`) when known. */
function speakerInput(sp) {
  const out = { name: sp.name };
  if (sp.id != null) out.id = sp.id;
  if (sp.affiliation) out.affiliation = sp.affiliation;
  if (sp.topic) out.topic = sp.topic;
  if (sp.mode) out.mode = sp.mode;
  if (sp.lang) out.lang = sp.lang;
  if (sp.duration_ms != null) out.minutes = Math.max(1, Math.round(sp.duration_ms / MINUTE));
  return out;
}

/** A fresh segment id in the server's own style (`break-2`), so the editor can select it at once. */
function freshId(segments, stem) {
  const taken = new Set(segments.map((s) => s.id));
  const base = stem.slice(0, 58);
  for (let n = 2; ; n++) if (!taken.has(`${base}-${n}`)) return `${base}-${n}`;
}

/**
 * createPlanEditor({hub, lang, canControl, connected, guarded, event, token, render})
 *   guarded(key, node, textKey, action, confirmKey)  the console's two-press guard
 *   render()                                        redraws the run of show
 */
export function createPlanEditor(opts) {
  const { hub, lang, canControl, connected, guarded } = opts;
  let editing = false;
  let selected = null; // the selected segment's id
  let pendingSelect = null; // a segment this console added, selected before its plan arrives
  let row = null; // the selected segment's <li>, kept across redraws so typing survives
  let editor = null; // its field editor
  let queue = Promise.resolve(); // plan commands go one after another: each names the newest plan_version
  let dragging = null;
  let draft = null; // the <li> of a segment being added, on this console only until published

  const status = $('plan-status');
  function say(text, kind = 'info') {
    setText(status, text);
    status.dataset.kind = kind;
    status.hidden = !text;
  }

  /** The server's error in the console's language, with its own message after it. */
  function errorLine(err) {
    const key = `err_${err.code}`;
    const local = t(lang(), key);
    return local === key ? `${err.code}: ${err.message}` : `${local} — ${err.message}`;
  }

  /**
   * Sends one plan command against the plan this console has; resolves with {ack} or {error}.
   * A conflict says so: the newer plan has already arrived as a change, so nothing is re-sent.
   */
  function send(type, fields = {}, onError = null) {
    const run = async () => {
      const s = hub.state;
      if (!s || !connected()) {
        say(t(lang(), 'err_not_connected'), 'error');
        return { error: { code: 'not_connected', message: 'not connected' } };
      }
      try {
        const ack = await hub.send(type, { plan_version: s.plan_version ?? 0, ...fields });
        say('');
        return { ack };
      } catch (err) {
        if (err.code === 'conflict') say(t(lang(), 'plan_conflict'), 'conflict');
        else if (onError) onError(err);
        else say(errorLine(err), 'error');
        return { error: err };
      }
    };
    const done = queue.then(run);
    queue = done;
    return done;
  }

  const segmentIndex = (id) => (hub.state ? hub.state.segments.findIndex((s) => s.id === id) : -1);

  /** Whether segment `id` is running or has run: it stays where it is (the server agrees). */
  function hasRun(id) {
    const s = hub.state;
    const live = s && s.live;
    const i = segmentIndex(id);
    if (!live || i < 0) return false;
    return (live.phase === 'live' && live.segment === i) || (live.actual || []).some((a) => a.segment === i);
  }
  const selectedSeg = () => (hub.state && selected ? hub.state.segments.find((s) => s.id === selected) : null);

  function select(id, { focus = false } = {}) {
    if (selected !== id) { selected = id; row = null; editor = null; }
    opts.render();
    const list = $('segments');
    const li = id && list.querySelector(`li[data-segment-id="${CSS.escape(id)}"]`);
    if (li) {
      // Inside the list only: the page itself never scrolls.
      if (li.offsetTop < list.scrollTop || li.offsetTop + li.offsetHeight > list.scrollTop + list.clientHeight) {
        list.scrollTop = Math.max(0, li.offsetTop - 40);
      }
      if (focus) { const first = li.querySelector('.pe-field'); if (first) first.focus(); }
    }
  }

  function toggle(on = !editing) {
    editing = Boolean(on) && canControl();
    if (!editing) draft = null;
    document.body.classList.toggle('plan-editing', editing);
    if (editing && !selected) {
      // The row after the running one: the running row is never one key away from a move.
      const s = hub.state;
      const live = s && s.live;
      const at = live && live.phase === 'live' ? live.segment + 1 : 0;
      const seg = s && (live && live.phase === 'ended' ? null : s.segments[at]);
      selected = seg ? seg.id : null;
    }
    if (!editing) { say(''); row = null; editor = null; $('plan-import').hidden = true; }
    opts.render();
  }

  // ---------- the commands ----------

  /**
   * Add opens a draft row on this console only: nothing reaches a phone or a crew screen
   * until it has a title and the chair publishes it (Publish, or Enter in its fields). Its
   * id follows its kind as published.
   */
  function add() {
    if (!hub.state) return;
    const after = selectedSeg();
    draft = buildDraft(after ? after.id : null);
    opts.render();
    const first = draft.querySelector(`[data-draft="title.${lang()}"]`);
    if (first) first.focus();
  }

  function buildDraft(after) {
    const L = lang();
    const field = (node, label, cls = '') => el('label', { class: `pe-label ${cls}` }, el('span', { class: 'label', text: label }), node);
    const titles = LANGS.map((l) => field(
      el('input', { class: 'pe-field', data: { draft: `title.${l}` }, attrs: { type: 'text', maxlength: '200', lang: l, autocomplete: 'off' } }),
      t(L, 'plan_f_title_in', { lang: LANG_NAMES[l] }), 'pe-title'));
    const kind = el('select', { class: 'pe-field', data: { draft: 'kind' } },
      ...KINDS.map((k) => el('option', { text: kindName(L, k), attrs: { value: k } })));
    kind.value = 'speech';
    const minutes = el('input', { class: 'pe-field', data: { draft: 'minutes' }, attrs: { type: 'number', min: '1', max: '1440', step: '1', inputmode: 'numeric' } });
    minutes.value = String(NEW_MINUTES);
    const publish = el('button', { class: 'pe-tool primary', text: t(L, 'plan_publish'), attrs: { type: 'button', id: 'btn-plan-publish' } });
    const discard = el('button', { class: 'pe-tool', text: t(L, 'plan_discard'), attrs: { type: 'button' } });
    const note = el('p', { class: 'pe-error', attrs: { role: 'alert' } });
    const li = el('li', { class: 'pe-draft selected' },
      el('p', { class: 'pe-draft-label', text: t(L, 'plan_draft_note') }),
      el('div', { class: 'plan-fields' }, el('div', { class: 'pe-titles' }, ...titles),
        el('div', { class: 'pe-titles' }, field(kind, t(L, 'plan_f_kind')), field(minutes, t(L, 'plan_f_duration'))), note),
      el('div', { class: 'pe-tools' }, publish, discard));
    li.$after = after;
    publish.addEventListener('click', () => publishDraft(li, note));
    discard.addEventListener('click', () => { draft = null; opts.render(); });
    for (const input of li.querySelectorAll('input, select')) {
      input.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' && !e.isComposing) { e.preventDefault(); publishDraft(li, note); }
        else if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); draft = null; opts.render(); }
      });
    }
    return li;
  }

  async function publishDraft(li, note) {
    const value = (name) => li.querySelector(`[data-draft="${name}"]`).value.trim();
    const typed = LANGS.filter((l) => value(`title.${l}`));
    if (!typed.length) { setText(note, t(lang(), 'plan_draft_needs_title')); return; }
    const minutes = Number(value('minutes'));
    if (!Number.isInteger(minutes) || minutes < 1 || minutes > 1440) { setText(note, t(lang(), 'plan_not_number')); return; }
    // A language left empty reads as the one typed first in the console's language order.
    const fallback = value(`title.${typed.includes(lang()) ? lang() : typed[0]}`);
    const title = Object.fromEntries(LANGS.map((l) => [l, value(`title.${l}`) || fallback]));
    const kind = value('kind');
    const id = freshId(hub.state.segments, kind);
    pendingSelect = id;
    const { ack, error } = await send('plan_add_segment', { after: li.$after, new_segment: id, kind, title, duration_min: minutes },
      (err) => setText(note, errorLine(err)));
    pendingSelect = null;
    if (!ack) { if (error && error.code === 'conflict') setText(note, t(lang(), 'plan_conflict')); return; }
    draft = null;
    select(id, { focus: true });
  }

  async function duplicate() {
    const seg = selectedSeg();
    if (!seg) return;
    const id = freshId(hub.state.segments, seg.id);
    pendingSelect = id;
    const { ack } = await send('plan_duplicate_segment', { segment: seg.id, new_segment: id });
    pendingSelect = null;
    if (ack) select(id);
  }

  function remove(node) {
    const seg = selectedSeg();
    if (!seg) return;
    const i = segmentIndex(seg.id);
    guarded(`plan-delete:${seg.id}`, node, 'arm_delete', async () => {
      const { ack } = await send('plan_remove_segment', { segment: seg.id });
      if (!ack) return;
      const segs = hub.state.segments;
      const next = segs[Math.min(i, segs.length - 1)];
      select(next ? next.id : null);
    }, 'Delete');
  }

  /** Moves segment `id` to follow `after` (null: first). */
  function moveAfter(id, after) {
    if (id === after) return;
    if (hasRun(id)) { say(t(lang(), 'plan_ran_stays'), 'error'); return; }
    const segs = hub.state.segments;
    const i = segmentIndex(id);
    const before = i > 0 ? segs[i - 1].id : null;
    if (before === after) return; // already there
    send('plan_move_segment', { segment: id, after });
  }

  function move(delta) {
    const seg = selectedSeg();
    if (!seg) return;
    const segs = hub.state.segments;
    const i = segmentIndex(seg.id);
    const j = i + delta;
    if (j < 0 || j >= segs.length) return;
    // Up: after the one two above (or first); down: after the one below.
    moveAfter(seg.id, delta < 0 ? (j > 0 ? segs[j - 1].id : null) : segs[j].id);
  }

  async function undo() {
    const { ack } = await send('plan_undo', {}, (err) => {
      say(err.code === 'invalid_state' ? `${t(lang(), 'plan_undo_none')} — ${err.message}` : errorLine(err), 'error');
    });
    if (ack) say(t(lang(), 'plan_undone'));
  }

  // ---------- the field editor of the selected segment ----------

  function fieldError(field, text) {
    const box = editor && editor.querySelector(`.pe-error[data-for="${field}"]`);
    if (box) { setText(box, text); box.hidden = !text; }
    const input = editor && editor.querySelector(`[data-field="${field}"]`);
    if (input) input.classList.toggle('invalid', Boolean(text));
  }

  function fieldsFor(field, value, seg) {
    if (field.startsWith('title.')) return { title: { [field.slice(6)]: value } };
    if (NUMBERS.has(field)) {
      if (value === '') return field === 'speaking_limit_min' ? { [field]: 0 } : null;
      const n = Number(value);
      return Number.isInteger(n) && n >= 0 ? { [field]: n } : null;
    }
    if (field === 'chair') return { chair: value === '' ? '' : mergeText(seg.chair, lang(), value) };
    return { [field]: value };
  }

  async function commit(input) {
    const seg = selectedSeg();
    const field = input.dataset.field;
    if (!seg || input.$segment !== seg.id) return;
    const value = input.tagName === 'TEXTAREA' ? input.value : input.value.trim();
    if (value === input.$plan) { fieldError(field, ''); return; }
    if (input.$base !== input.$plan) {
      // Someone changed this very field while it was being typed in: theirs is shown.
      say(t(lang(), 'plan_conflict'), 'conflict');
      input.value = input.$plan;
      input.$base = input.$plan;
      return;
    }
    const fields = fieldsFor(field, value, seg);
    if (!fields) { fieldError(field, t(lang(), 'plan_not_number')); return; }
    const { ack, error } = await send('plan_update_segment', { segment: seg.id, ...fields }, (err) => fieldError(field, errorLine(err)));
    if (ack) {
      fieldError(field, '');
      input.$base = input.$plan;
    } else if (error.code === 'conflict') {
      input.value = input.$plan;
      input.$base = input.$plan;
      fieldError(field, '');
    }
  }

  function wireField(input) {
    input.classList.add('pe-field');
    input.addEventListener('focus', () => { input.$base = input.$plan; });
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') { input.value = input.$plan; fieldError(input.dataset.field, ''); }
      else if (e.key === 'Enter' && !e.isComposing && (input.tagName !== 'TEXTAREA' || e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        input.blur();
      }
    });
    if (input.tagName === 'SELECT') input.addEventListener('change', () => commit(input));
    else input.addEventListener('blur', () => commit(input));
  }

  function labelled(text, input, cls = '', field = input.dataset.field) {
    return el('label', { class: `pe-label ${cls}` },
      el('span', { class: 'label', text }), input,
      el('span', { class: 'pe-error', data: { for: field }, attrs: { role: 'alert' } }));
  }

  function buildEditor(seg) {
    const L = lang();
    const input = (field, attrs = {}) => {
      const node = el('input', { data: { field }, attrs: { type: 'text', autocomplete: 'off', ...attrs } });
      wireField(node);
      return node;
    };
    const number = (field, min, max) => input(field, { type: 'number', min: String(min), max: String(max), step: '1', inputmode: 'numeric' });
    const kind = el('select', { data: { field: 'kind' } }, ...KINDS.map((k) => el('option', { text: kindName(L, k), attrs: { value: k } })));
    wireField(kind);
    const notes = el('textarea', { data: { field: 'av_notes' }, attrs: { rows: '2', maxlength: '2000' } });
    wireField(notes);

    const tool = (key, cls, action) => {
      const b = el('button', { class: `pe-tool ${cls}`, text: t(L, key), attrs: { type: 'button' } });
      b.addEventListener('click', () => action(b));
      return b;
    };
    const del = tool('plan_delete', 'danger guarded', (b) => remove(b));
    del.dataset.arm = `plan-delete:${seg.id}`;
    const tools = el('div', { class: 'pe-tools' },
      tool('plan_up', '', () => move(-1)), tool('plan_down', '', () => move(1)),
      tool('plan_duplicate', '', () => duplicate()), del);

    const titles = el('div', { class: 'pe-titles' },
      ...LANGS.map((l) => labelled(t(L, 'plan_f_title_in', { lang: LANG_NAMES[l] }), input(`title.${l}`, { maxlength: '200', lang: l }), 'pe-title')));

    const speakers = el('div', { class: 'pe-speakers' });
    const box = el('div', { class: 'plan-fields', attrs: { role: 'group', 'aria-label': t(L, 'plan_fields_of', { title: localized(seg.title, L) }) } },
      tools, titles,
      el('div', { class: 'pe-grid' },
        labelled(t(L, 'plan_f_kind'), kind),
        labelled(t(L, 'plan_f_duration'), number('duration_min', 1, 1440)),
        labelled(t(L, 'plan_f_chair'), input('chair', { maxlength: '80' }), 'pe-wide'),
        labelled(t(L, 'plan_f_warning'), number('warning_s', 0, 3600)),
        labelled(t(L, 'plan_f_danger'), number('danger_s', 0, 3600)),
        labelled(t(L, 'plan_f_limit'), number('speaking_limit_min', 0, 1440)),
        labelled(t(L, 'plan_f_join_url'), input('join_url', { type: 'url', maxlength: '500' }), 'pe-wide'),
        labelled(t(L, 'plan_f_av_notes'), notes, 'pe-full')),
      speakers);
    box.$speakers = speakers;
    return box;
  }

  /** Puts the plan's values into the fields nobody is typing in (or whose edit was refused). */
  function syncEditor(seg) {
    for (const input of editor.querySelectorAll('[data-field]')) {
      const field = input.dataset.field;
      if (!FIELDS[field]) continue;
      const value = FIELDS[field](seg, lang());
      const first = input.$segment !== seg.id;
      input.$segment = seg.id;
      input.$plan = value;
      if (first) input.$base = value;
      const typing = document.activeElement === input || input.classList.contains('invalid');
      if (first || !typing) input.value = value;
    }
    syncSpeakers(seg);
  }

  // ---------- the speakers: the whole list is sent, in order, each with its id when known ----------

  function syncSpeakers(seg) {
    const box = editor.$speakers;
    const base = JSON.stringify((seg.speakers || []).map(speakerInput));
    box.$plan = base;
    if (box.$segment === seg.id && box.contains(document.activeElement)) return;
    box.$segment = seg.id;
    box.$base = base;
    const L = lang();
    const list = el('ol', { class: 'pe-speaker-list' }, ...(seg.speakers || []).map((sp) => speakerRow(sp)));
    const addBtn = el('button', { class: 'pe-tool', text: `+ ${t(L, 'plan_sp_add')}`, attrs: { type: 'button' } });
    addBtn.addEventListener('click', () => {
      const li = speakerRow(null);
      list.append(li);
      li.querySelector('input').focus();
    });
    box.replaceChildren(el('span', { class: 'label', text: t(L, 'plan_speakers') }), list, addBtn,
      el('span', { class: 'pe-error', data: { for: 'speakers' }, attrs: { role: 'alert' } }));
  }

  function speakerRow(sp) {
    const L = lang();
    const text = (name, value, max) => {
      const node = el('input', { class: `pe-sp-${name}`, attrs: { type: 'text', autocomplete: 'off', maxlength: String(max), 'aria-label': t(L, `plan_sp_${name}`), placeholder: t(L, `plan_sp_${name}`) } });
      node.value = value;
      return node;
    };
    const mode = el('select', { class: 'pe-sp-mode', attrs: { 'aria-label': t(L, 'plan_sp_mode') } },
      el('option', { text: t(L, 'plan_mode_none'), attrs: { value: '' } }),
      el('option', { text: t(L, 'q_mode_in_room'), attrs: { value: 'in_room' } }),
      el('option', { text: t(L, 'q_mode_remote'), attrs: { value: 'remote' } }));
    mode.value = (sp && sp.mode) || '';
    // The language the speaker speaks in: the interpretation booth and the caption desk read it.
    const speaks = el('select', { class: 'pe-sp-lang', attrs: { 'aria-label': t(L, 'plan_sp_lang') } },
      el('option', { text: t(L, 'plan_sp_lang_none'), attrs: { value: '' } }),
      ...LANGS.map((l) => el('option', { text: LANG_NAMES[l], attrs: { value: l } })));
    speaks.value = (sp && sp.lang) || '';
    const minutes = el('input', { class: 'pe-sp-minutes', attrs: { type: 'number', min: '1', max: '1440', step: '1', 'aria-label': t(L, 'plan_sp_minutes'), placeholder: t(L, 'plan_sp_minutes') } });
    minutes.value = sp && sp.duration_ms != null ? String(Math.round(sp.duration_ms / MINUTE)) : '';
    const li = el('li', { class: 'pe-speaker' },
      text('name', sp ? localized(sp.name, L) : '', 80),
      text('affiliation', sp && sp.affiliation ? localized(sp.affiliation, L) : '', 200),
      text('topic', sp && sp.topic ? localized(sp.topic, L) : '', 200),
      mode, speaks, minutes);
    li.$orig = sp;
    const button = (label, title, action) => {
      const b = el('button', { class: 'pe-sp-btn', text: label, attrs: { type: 'button', title: t(L, title), 'aria-label': t(L, title) } });
      b.addEventListener('click', () => { action(); commitSpeakers(); });
      return b;
    };
    li.append(
      button('↑', 'plan_up', () => { if (li.previousElementSibling) li.parentNode.insertBefore(li, li.previousElementSibling); }),
      button('↓', 'plan_down', () => { if (li.nextElementSibling) li.parentNode.insertBefore(li.nextElementSibling, li); }),
      button('✕', 'plan_sp_remove', () => li.remove()));
    for (const input of li.querySelectorAll('input')) {
      input.addEventListener('blur', () => commitSpeakers());
      input.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' && !e.isComposing) { e.preventDefault(); input.blur(); }
        else if (e.key === 'Escape') {
          // Back to the plan's list: the blur sends nothing, the rows are drawn again.
          const box = li.closest('.pe-speakers');
          box.$segment = null;
          input.blur();
          const seg = selectedSeg();
          if (seg) syncSpeakers(seg);
        }
      });
    }
    mode.addEventListener('change', () => commitSpeakers());
    speaks.addEventListener('change', () => commitSpeakers());
    return li;
  }

  function rowInput(li) {
    const L = lang();
    const o = li.$orig;
    const get = (cls) => li.querySelector(`.pe-sp-${cls}`).value.trim();
    const name = get('name');
    if (!name) return null; // a row not filled in yet is not sent
    const out = o ? speakerInput(o) : {};
    out.name = o ? mergeText(o.name, L, name) : name;
    for (const f of ['affiliation', 'topic']) {
      const v = get(f);
      if (!v) delete out[f];
      else out[f] = o ? mergeText(o[f], L, v) : v;
    }
    const mode = li.querySelector('.pe-sp-mode').value;
    if (mode) out.mode = mode; else delete out.mode;
    const speaks = li.querySelector('.pe-sp-lang').value;
    if (speaks) out.lang = speaks; else delete out.lang;
    const minutes = Number(get('minutes'));
    if (get('minutes') && Number.isInteger(minutes)) out.minutes = minutes; else delete out.minutes;
    return out;
  }

  async function commitSpeakers() {
    const seg = selectedSeg();
    const box = editor && editor.$speakers;
    if (!seg || !box || box.$segment !== seg.id) return;
    const rows = [...box.querySelectorAll('.pe-speaker')];
    const sent = rows.filter((li) => rowInput(li));
    const speakers = sent.map(rowInput);
    if (JSON.stringify(speakers) === box.$plan) return;
    const errorBox = box.querySelector('.pe-error[data-for="speakers"]');
    if (box.$base !== box.$plan) {
      // The list changed on the server while it was being edited here: show theirs.
      say(t(lang(), 'plan_conflict'), 'conflict');
      box.$segment = null;
      syncSpeakers(seg);
      return;
    }
    const { ack, error } = await send('plan_update_segment', { segment: seg.id, speakers }, (err) => {
      setText(errorBox, errorLine(err));
      errorBox.hidden = false;
    });
    if (ack) {
      errorBox.hidden = true;
      const now = selectedSeg();
      // The rows stand for the speakers as they are now, so a further edit builds on them.
      if (now) sent.forEach((li, k) => { if (now.speakers[k]) li.$orig = now.speakers[k]; });
      box.$base = box.$plan;
    } else if (error.code === 'conflict' && !box.contains(document.activeElement)) {
      box.$segment = null;
      const fresh = selectedSeg();
      if (fresh) syncSpeakers(fresh);
    }
  }

  // ---------- the rows: selection, drag and drop, and the kept row ----------

  function decorate(li, seg) {
    li.classList.add('pe-row');
    li.draggable = !hasRun(seg.id);
    li.addEventListener('click', (e) => {
      if (e.target.closest('button, input, select, textarea, a, .plan-fields')) return;
      select(selected === seg.id ? null : seg.id);
    });
    li.addEventListener('dragstart', (e) => {
      if (e.target.closest && e.target.closest('.plan-fields')) { e.preventDefault(); return; }
      dragging = seg.id;
      e.dataTransfer.effectAllowed = 'move';
      e.dataTransfer.setData('text/plain', seg.id);
      li.classList.add('dragging');
    });
    li.addEventListener('dragend', () => {
      dragging = null;
      for (const n of document.querySelectorAll('.segments .drop-before, .segments .drop-after, .segments .dragging')) {
        n.classList.remove('drop-before', 'drop-after', 'dragging');
      }
    });
    li.addEventListener('dragover', (e) => {
      if (!dragging) return;
      e.preventDefault();
      const r = li.getBoundingClientRect();
      const below = e.clientY > r.top + r.height / 2;
      li.classList.toggle('drop-after', below);
      li.classList.toggle('drop-before', !below);
    });
    li.addEventListener('dragleave', () => li.classList.remove('drop-before', 'drop-after'));
    li.addEventListener('drop', (e) => {
      e.preventDefault();
      const id = dragging || e.dataTransfer.getData('text/plain');
      const below = li.classList.contains('drop-after');
      li.classList.remove('drop-before', 'drop-after');
      if (!id || id === seg.id) return;
      const i = segmentIndex(seg.id);
      moveAfter(id, below ? seg.id : i > 0 ? hub.state.segments[i - 1].id : null);
    });
    return li;
  }

  /**
   * Puts the rows console.js drew into the list. The selected row's <li> and its editor stay
   * the same nodes (only its summary is replaced) and the others move around it, so that a
   * field being typed in keeps its focus, its text and its caret.
   */
  function arrange(list, items) {
    const segs = hub.state.segments;
    items.forEach((li, i) => decorate(li, segs[i]));
    if (draft) {
      // The draft stands after the row it was added after, and takes the selection's place.
      const at = draft.$after == null ? 0 : segs.findIndex((g) => g.id === draft.$after) + 1;
      items.splice(at, 0, draft);
      selected = null; row = null; editor = null;
    }
    const at = selected ? segs.findIndex((s) => s.id === selected) : -1;
    if (at < 0) {
      if (selected && selected !== pendingSelect) { selected = null; row = null; editor = null; }
      list.replaceChildren(...items);
      return;
    }
    const seg = segs[at];
    const fresh = items[at];
    if (!row) {
      row = fresh;
      editor = buildEditor(seg);
    } else {
      row.className = fresh.className;
      for (const n of [...row.childNodes]) if (n !== editor) n.remove();
      row.prepend(...fresh.childNodes);
    }
    row.classList.add('selected');
    row.append(editor);
    syncEditor(seg);
    const before = items.slice(0, at), after = items.slice(at + 1);
    if (row.parentNode !== list) {
      list.replaceChildren(...before, row, ...after);
      return;
    }
    for (const n of [...list.children]) if (n !== row) n.remove();
    for (const n of before) list.insertBefore(n, row);
    list.append(...after);
  }

  /** The rundown's own controls: the toggle, the edit tools, the import box. */
  function renderTools() {
    const L = lang();
    const ok = canControl();
    const on = editing && ok;
    const toggleBtn = $('btn-plan-edit');
    toggleBtn.hidden = !ok;
    toggleBtn.setAttribute('aria-pressed', String(on));
    toggleBtn.classList.toggle('active', on);
    setText($('plan-edit-label'), t(L, on ? 'plan_done' : 'plan_edit'));
    $('plan-tools').hidden = !on;
    const live = connected();
    for (const id of ['btn-plan-add', 'btn-plan-undo']) $(id).disabled = !live;
    $('btn-plan-import').hidden = !(hub.you && hub.you.role === 'organizer');
    const s = hub.state;
    if (s && s.event && s.segments.length) {
      const tz = s.event.time_zone;
      setText($('plan-summary'), t(L, 'plan_planned', {
        start: opts.clock(s.event.planned_start, tz), end: opts.clock(s.event.planned_end, tz), n: s.segments.length,
      }));
    }
  }

  // ---------- the keyboard: E, and in edit mode ↑ ↓ Shift+↑ Shift+↓ A D Delete Enter Ctrl+Shift+Z ----------

  /** Handles a key pressed outside any field; true when it was the editor's. */
  function onKey(e) {
    const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    if (!canControl()) return false;
    if (editing && (e.ctrlKey || e.metaKey) && e.shiftKey && key === 'z') { e.preventDefault(); undo(); return true; }
    if (e.ctrlKey || e.metaKey || e.repeat) return false;
    if (key === 'e') { e.preventDefault(); toggle(); return true; }
    if (!editing) return false;
    const segs = hub.state ? hub.state.segments : [];
    const i = selected ? segmentIndex(selected) : -1;
    if ((key === 'ArrowUp' || key === 'ArrowDown') && e.shiftKey) { e.preventDefault(); move(key === 'ArrowUp' ? -1 : 1); return true; }
    if (key === 'ArrowUp' || key === 'ArrowDown') {
      e.preventDefault();
      const j = i < 0 ? 0 : Math.max(0, Math.min(segs.length - 1, i + (key === 'ArrowUp' ? -1 : 1)));
      if (segs[j]) select(segs[j].id);
      return true;
    }
    if (key === 'a') { e.preventDefault(); add(); return true; }
    if (key === 'd') { e.preventDefault(); duplicate(); return true; }
    if (key === 'Delete' && editor) {
      e.preventDefault();
      remove(editor.querySelector('.pe-tool.danger'));
      return true;
    }
    if (key === 'Enter' && !(e.target.closest && e.target.closest('button')) && selected) {
      e.preventDefault();
      select(selected, { focus: true });
      return true;
    }
    return false;
  }

  /** Esc outside a field: the selection is let go. */
  function escape() {
    if (!editing || !selected) return false;
    select(null);
    return true;
  }

  // ---------- import from a spreadsheet (organizers): check, see the differences, apply ----------

  let checked = null; // {file, plan_version} of the last dry run that passed

  async function upload(file, params) {
    const type = /\.xlsx$/i.test(file.name) || file.type === XLSX ? XLSX : 'text/csv';
    const url = `/api/events/${encodeURIComponent(opts.event)}/plan?token=${encodeURIComponent(opts.token)}&${params}`;
    const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': type }, body: file });
    let body = null;
    try { body = await res.json(); } catch { body = null; }
    return { ok: res.ok, status: res.status, body: body || { code: `http_${res.status}`, message: res.statusText } };
  }

  function importSay(text, kind = 'info') {
    const node = $('plan-import-status');
    setText(node, text);
    node.dataset.kind = kind;
  }

  function showResult(body) {
    const out = $('plan-import-result');
    const L = lang();
    if (Array.isArray(body.errors) && body.errors.length) {
      out.replaceChildren(el('p', { text: t(L, 'plan_import_errors') }),
        el('ul', {}, ...body.errors.map((e) => el('li', { text: t(L, 'plan_import_row', { row: e.row ?? '?', column: e.column ?? '?', message: e.message ?? '' }) }))));
      return;
    }
    const diffs = Array.isArray(body.differences) ? body.differences : [];
    out.replaceChildren(el('p', { text: diffs.length ? t(L, 'plan_import_diff', { n: diffs.length }) : t(L, 'plan_import_same') }),
      el('ul', {}, ...diffs.map((d) => el('li', { text: String(d) }))));
  }

  async function check() {
    const file = $('plan-import-file').files[0];
    checked = null;
    $('btn-plan-import-apply').hidden = true;
    $('btn-plan-import-force').hidden = true;
    $('plan-import-result').replaceChildren();
    if (!file) return;
    importSay(t(lang(), 'plan_import_checking'));
    try {
      const { ok, body } = await upload(file, 'apply=false');
      showResult(body);
      if (!ok) { importSay(t(lang(), 'plan_import_failed', { message: body.message || body.code }), 'error'); return; }
      importSay('');
      checked = { file, plan_version: body.plan_version };
      $('btn-plan-import-apply').hidden = false;
    } catch (err) {
      importSay(t(lang(), 'plan_import_failed', { message: String(err.message || err) }), 'error');
    }
  }

  async function apply(force) {
    if (!checked) return;
    if (hub.state && checked.plan_version != null && hub.state.plan_version !== checked.plan_version) {
      await check(); // the differences shown were against an older plan
      importSay(t(lang(), 'plan_import_stale'), 'warning');
      return;
    }
    try {
      const { ok, status: code, body } = await upload(checked.file, `apply=true${force ? '&force=true' : ''}`);
      if (!ok && code === 409 && body.code === 'invalid_state' && !force) {
        importSay(t(lang(), 'plan_import_live'), 'warning');
        $('btn-plan-import-force').hidden = false;
        return;
      }
      if (!ok) { showResult(body); importSay(t(lang(), 'plan_import_failed', { message: body.message || body.code }), 'error'); return; }
      importSay(t(lang(), 'plan_import_done', { file: checked.file.name }), 'done');
      checked = null;
      $('btn-plan-import-apply').hidden = true;
      $('btn-plan-import-force').hidden = true;
    } catch (err) {
      importSay(t(lang(), 'plan_import_failed', { message: String(err.message || err) }), 'error');
    }
  }

  $('btn-plan-edit').addEventListener('click', () => toggle());
  $('btn-plan-add').addEventListener('click', () => add());
  $('btn-plan-undo').addEventListener('click', () => undo());
  $('btn-plan-import').addEventListener('click', () => {
    const box = $('plan-import');
    box.hidden = !box.hidden;
    $('btn-plan-import').setAttribute('aria-expanded', String(!box.hidden));
  });
  $('plan-import-file').addEventListener('change', () => check());
  $('btn-plan-import-check').addEventListener('click', () => check());
  $('btn-plan-import-apply').addEventListener('click', () => apply(false));
  $('btn-plan-import-force').addEventListener('click', () => apply(true));

  return {
    get editing() { return editing && canControl(); },
    toggle, arrange, renderTools, onKey, escape,
    /** The language changed: the editor is built again in it. */
    relabel() { row = null; editor = null; },
  };
}
