// The console's Polls panel (#poll-panel): the live segment's prepared polls first, then the
// whole event's and the rest; open, close, reopen, show or hide the results, live bars with
// counts and voters; a form to define a new poll in zh/ja/en. `P` (pressKey) opens the next
// draft of the live segment (else of the whole event), or closes the poll that is open.

import { localized, liveSegmentId } from './client.js';
import { t, LANGS, LANG_NAMES } from './i18n.js';
import { $, el, setText, showMessage, keyedList } from './ui.js';
import { pollBars } from './voice-ui.js';

const MIN_OPTIONS = 2, MAX_OPTIONS = 10;
const MAX_QUESTION = 280, MAX_OPTION = 100;
const RESULTS = ['closed', 'live', 'chair'];
const STATE_RANK = { open: 0, draft: 1, closed: 2 };

/**
 * createPollPanel({hub, lang, canControl, connected, showError}) → {render(), pressKey()}.
 * lang(), canControl() and connected() are read at each render.
 */
export function createPollPanel({ hub, lang, canControl, connected, showError }) {
  const root = $('poll-panel');
  const heading = el('h2', { attrs: { id: 'poll-heading' } });
  const newButton = el('button', { class: 'poll-new', attrs: { type: 'button', id: 'btn-poll-new', 'aria-expanded': 'false' } });
  const form = el('form', { class: 'poll-form', attrs: { id: 'poll-form' } });
  form.hidden = true;
  const list = el('ol', { class: 'poll-list', attrs: { id: 'poll-list' } });
  const empty = el('p', { class: 'muted poll-empty' });
  root.replaceChildren(el('div', { class: 'q-head poll-head' }, heading, newButton), form, list, empty);

  const polls = () => (hub.state && hub.state.polls ? hub.state.polls.polls : []);
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

  /** The live segment's polls, then the whole event's, then the others; open, draft, closed. */
  function ordered() {
    const live = liveSegmentId(hub.state);
    const group = (p) => (live && p.segment === live ? 0 : p.segment == null ? 1 : 2);
    return polls().map((p, i) => ({ p, i }))
      .sort((a, b) => group(a.p) - group(b.p) || STATE_RANK[a.p.state] - STATE_RANK[b.p.state] || a.i - b.i)
      .map(({ p }) => p);
  }

  /**
   * The key: closes the open poll (the latest opened, when several are); else opens the
   * first draft of the live segment, else of the whole event.
   */
  async function pressKey() {
    if (!enabled()) return;
    const L = lang();
    const open = polls().filter((p) => p.state === 'open').sort((a, b) => (b.opened_at || 0) - (a.opened_at || 0))[0];
    const live = liveSegmentId(hub.state);
    const next = open || polls().find((p) => p.state === 'draft' && live && p.segment === live)
      || polls().find((p) => p.state === 'draft' && p.segment == null);
    if (!next) { showMessage(t(L, 'poll_key_none'), 'info', 4000); return; }
    const question = localized(next.question, L);
    if (await command(open ? 'poll_close' : 'poll_open', { poll: next.id })) {
      showMessage(t(L, open ? 'poll_key_closed' : 'poll_key_opened', { question }), 'info', 4000);
    }
  }

  list.addEventListener('click', (e) => {
    const button = e.target.closest('button[data-action]');
    if (!button || button.disabled) return;
    const poll = button.closest('li[data-poll]').dataset.poll;
    const act = {
      open: () => command('poll_open', { poll }),
      close: () => command('poll_close', { poll }),
      show: () => command('poll_show', { poll, shown: true }),
      hide: () => command('poll_show', { poll, shown: false }),
    }[button.dataset.action];
    if (act) act();
  });

  // ---------- a new poll ----------

  // Each input's placeholder is its data-key's text (an option's with its number, data-n).
  const localizedInputs = (cls, max, key) => LANGS.map((l) => el('input', {
    class: cls, data: { lang: l, key }, attrs: { type: 'text', maxlength: String(max), lang: l, autocomplete: 'off' },
  }));

  function optionRow() {
    const remove = el('button', { class: 'poll-option-remove', text: '×', data: { action: 'remove' }, attrs: { type: 'button' } });
    return el('li', { class: 'poll-option-row' }, ...localizedInputs('poll-option', MAX_OPTION, 'poll_option'), remove);
  }

  const options = el('ol', { class: 'poll-options' });
  const addOption = el('button', { class: 'poll-add-option', attrs: { type: 'button' } });
  const multiple = el('select', { class: 'poll-multiple' }, el('option', { attrs: { value: 'single' } }), el('option', { attrs: { value: 'multiple' } }));
  const results = el('select', { class: 'poll-results' }, ...RESULTS.map((r) => el('option', { attrs: { value: r } })));
  const anonymous = el('input', { attrs: { type: 'checkbox', checked: '' } });
  const anonymousLabel = el('span');
  const forSegment = el('p', { class: 'muted poll-for' });
  const hint = el('p', { class: 'muted poll-hint' });
  const save = el('button', { class: 'poll-save', data: { then: 'draft' }, attrs: { type: 'submit' } });
  const saveOpen = el('button', { class: 'primary poll-save-open', data: { then: 'open' }, attrs: { type: 'submit' } });
  const cancel = el('button', { class: 'poll-cancel', attrs: { type: 'button' } });
  form.append(
    el('div', { class: 'poll-langs' }, ...LANGS.map((l) => el('span', { class: 'label', text: LANG_NAMES[l] }))),
    el('div', { class: 'poll-question-row' }, ...localizedInputs('poll-question', MAX_QUESTION, 'poll_question')),
    options, addOption,
    el('div', { class: 'poll-settings' }, multiple, results, el('label', { class: 'poll-anon' }, anonymous, ' ', anonymousLabel)),
    forSegment, hint,
    el('div', { class: 'btn-row' }, save, saveOpen, cancel),
  );

  function resetForm() {
    options.replaceChildren(...Array.from({ length: MIN_OPTIONS }, optionRow));
    for (const input of form.querySelectorAll('.poll-question')) input.value = '';
    multiple.value = 'single';
    results.value = 'closed';
    anonymous.checked = true;
  }
  resetForm();

  function showForm(show) {
    form.hidden = !show;
    newButton.setAttribute('aria-expanded', String(show));
    if (show) form.querySelector('.poll-question').focus();
    render();
  }
  newButton.addEventListener('click', () => showForm(form.hidden));
  cancel.addEventListener('click', () => { resetForm(); showForm(false); });
  addOption.addEventListener('click', () => {
    if (options.children.length < MAX_OPTIONS) options.append(optionRow());
    render();
  });
  options.addEventListener('click', (e) => {
    if (!e.target.closest('button[data-action="remove"]') || options.children.length <= MIN_OPTIONS) return;
    e.target.closest('li').remove();
    render();
  });

  /** {zh, ja, en} from three inputs; a language left empty takes the first one filled. */
  function texts(inputs) {
    const value = Object.fromEntries([...inputs].map((i) => [i.dataset.lang, i.value.trim()]));
    const first = LANGS.map((l) => value[l]).find(Boolean);
    if (!first) return null;
    return Object.fromEntries(LANGS.map((l) => [l, value[l] || first]));
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const L = lang();
    const question = texts(form.querySelectorAll('.poll-question'));
    const choices = [...options.children].map((row) => texts(row.querySelectorAll('.poll-option'))).filter(Boolean);
    if (!question || choices.length < MIN_OPTIONS) { showMessage(t(L, 'poll_form_incomplete'), 'warning', 5000); return; }
    // Ids only need to be unique within the event: the time the chair defined it will do.
    const poll = `poll-${Date.now().toString(36)}`;
    const def = {
      poll, question, options: choices, multiple: multiple.value === 'multiple',
      anonymous: anonymous.checked, results: results.value,
    };
    const live = liveSegmentId(hub.state);
    if (live) def.segment = live;
    if (!(await command('poll_define', def))) return;
    if (e.submitter && e.submitter.dataset.then === 'open') await command('poll_open', { poll });
    resetForm();
    showForm(false);
  });

  // ---------- drawing ----------

  function row(p) {
    const L = lang();
    const button = (action, key, cls = '') => {
      const b = el('button', { class: cls, text: t(L, key), data: { action }, attrs: { type: 'button' } });
      b.disabled = !enabled();
      return b;
    };
    const acts = [];
    if (p.state === 'draft') acts.push(button('open', 'poll_btn_open', 'primary'));
    if (p.state === 'open') acts.push(button('close', 'poll_btn_close', 'danger'));
    if (p.state === 'closed') acts.push(button('open', 'poll_btn_reopen'));
    if (p.state !== 'draft') acts.push(p.shown ? button('hide', 'poll_btn_hide', 'active') : button('show', 'poll_btn_show'));
    const seg = p.segment && hub.state.segments.find((g) => g.id === p.segment);
    const tags = el('p', { class: 'poll-tags' },
      el('span', { class: `badge poll-state poll-state-${p.state}`, text: t(L, `poll_state_${p.state}`) }),
      el('span', { class: 'muted', text: t(L, p.multiple ? 'poll_multiple' : 'poll_single') }),
      el('span', { class: 'muted', text: t(L, `poll_results_${p.results}`) }),
      p.shown ? el('span', { class: 'badge poll-shown', text: t(L, 'poll_shown') }) : null,
      el('span', { class: 'poll-seg muted', text: seg ? localized(seg.title, L) : t(L, 'qa_whole_event') }));
    const body = p.state === 'draft'
      ? el('ol', { class: 'poll-draft-options' }, ...p.options.map((o) => el('li', { text: localized(o, L) })))
      : pollBars(p, L);
    return el('li', { class: `poll-row poll-${p.state}`, data: { poll: p.id, state: p.state } },
      el('p', { class: 'poll-question-text', text: localized(p.question, L) }),
      tags, body,
      p.state === 'draft' ? null : el('p', { class: 'muted poll-voters', text: t(L, 'poll_voters', { n: p.voters }) }),
      el('div', { class: 'poll-actions' }, ...acts));
  }

  function render() {
    if (!hub.state || !hub.state.polls) return;
    const L = lang();
    setText(heading, t(L, 'poll_title'));
    setText(newButton, form.hidden ? t(L, 'poll_new') : t(L, 'poll_cancel'));
    newButton.disabled = !canControl();
    setText(addOption, t(L, 'poll_add_option'));
    addOption.disabled = options.children.length >= MAX_OPTIONS;
    for (const b of options.querySelectorAll('button[data-action="remove"]')) {
      b.disabled = options.children.length <= MIN_OPTIONS;
      b.title = t(L, 'poll_remove_option');
    }
    [...options.children].forEach((row, i) => {
      for (const input of row.querySelectorAll('input')) input.dataset.n = String(i + 1);
    });
    for (const input of form.querySelectorAll('input[data-key]')) {
      const label = t(L, input.dataset.key, { n: input.dataset.n });
      input.placeholder = label;
      input.setAttribute('aria-label', `${label} (${LANG_NAMES[input.dataset.lang]})`);
    }
    setText(multiple.options[0], t(L, 'poll_single'));
    setText(multiple.options[1], t(L, 'poll_multiple'));
    for (const o of results.options) setText(o, t(L, `poll_results_${o.value}`));
    setText(anonymousLabel, t(L, 'poll_anonymous'));
    const live = liveSegmentId(hub.state);
    const seg = live && hub.state.segments.find((g) => g.id === live);
    setText(forSegment, t(L, 'poll_for', { title: seg ? localized(seg.title, L) : t(L, 'qa_whole_event') }));
    setText(hint, t(L, 'poll_form_hint'));
    setText(save, t(L, 'poll_save'));
    setText(saveOpen, t(L, 'poll_save_open'));
    setText(cancel, t(L, 'poll_cancel'));
    save.disabled = saveOpen.disabled = !enabled();
    const items = ordered();
    const flags = JSON.stringify([L, enabled(), live]);
    keyedList(list, items, (p) => p.id, (p) => JSON.stringify([p, flags]), row);
    empty.hidden = items.length > 0;
    setText(empty, t(L, 'poll_none'));
  }

  return { render, pressKey };
}
