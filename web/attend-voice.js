// The attendee's voice (#attend-voice on /attend): the open poll (vote, change the vote until
// it closes, the results when they are shown), and, while the current segment takes written
// questions, a form to ask one and the list to upvote: the one on screen first, then by votes
// or by time; the person's own questions with where they stand, and a way to withdraw them.

import { liveSegmentId, qaMode, localized } from './client.js';
import { t, LANGS, LANG_NAMES } from './i18n.js';
import { $, el, setText, showMessage, errorText, keyedList } from './ui.js';
import { askerName, currentPoll, langTag, pollBars, pollNote, sortQuestions } from './voice-ui.js';

const MAX_TEXT = 280;
const OPEN = new Set(['pending', 'approved']);

/** Why a question was refused, in the page's language when the reason is a known one. */
function askError(lang, err) {
  if (err.code === 'rate_limited') return t(lang, 'qa_err_rate');
  if (err.code === 'invalid_state' && /open questions/.test(err.message)) return t(lang, 'qa_err_open_limit');
  if (err.code === 'invalid_state' && /not open for this segment/.test(err.message)) return t(lang, 'qa_err_closed');
  return errorText(lang, err);
}

/**
 * createAttendVoice({hub, lang, connected}) → {render()}: hub() is the page's connection
 * (null before the attendee gave a name), lang() and connected() are read at each render.
 */
export function createAttendVoice({ hub, lang, connected }) {
  const root = $('attend-voice');
  let sort = 'votes';
  let pickedLang = null; // the question's language, once the attendee chose one
  let sending = false;
  const voting = new Set(); // questions whose upvote awaits its ack

  // ---------- the poll card ----------

  const pollLabel = el('span', { class: 'label' });
  const pollState = el('span', { class: 'badge poll-state' });
  const pollQuestion = el('h2', { class: 'poll-card-question', attrs: { id: 'poll-card-question' } });
  const pollHint = el('p', { class: 'muted poll-card-hint' });
  const pollForm = el('form', { class: 'poll-card-form', attrs: { id: 'poll-vote-form' } });
  const pollChoices = el('fieldset', { class: 'poll-choices' });
  const pollSubmit = el('button', { class: 'primary', attrs: { type: 'submit', id: 'btn-poll-vote' } });
  pollForm.append(pollChoices, pollSubmit);
  const pollCounted = el('p', { class: 'poll-counted', attrs: { id: 'poll-counted', role: 'status' } });
  const pollResults = el('div', { class: 'poll-card-results', attrs: { id: 'poll-results' } });
  const pollVoters = el('p', { class: 'muted poll-card-voters' });
  const pollCard = el('section', { class: 'panel poll-card', attrs: { id: 'poll-card', 'aria-labelledby': 'poll-card-question' } },
    el('div', { class: 'label-row' }, pollLabel, pollState), pollQuestion, pollHint, pollForm, pollCounted, pollResults, pollVoters);

  // ---------- questions ----------

  const askTitle = el('h2', { attrs: { id: 'qa-ask-title' } });
  const askNote = el('p', { class: 'muted qa-ask-note' });
  const text = el('textarea', { attrs: { id: 'qa-text', maxlength: String(MAX_TEXT), rows: '3', 'aria-labelledby': 'qa-ask-title' } });
  const counter = el('span', { class: 'qa-counter muted', attrs: { id: 'qa-count', 'aria-live': 'polite' } });
  const anonymous = el('input', { attrs: { type: 'checkbox', id: 'qa-anonymous' } });
  const anonymousLabel = el('span');
  const langLabel = el('span', { class: 'visually-hidden' });
  const langPick = el('select', { attrs: { id: 'qa-lang' } }, ...LANGS.map((l) => el('option', { text: LANG_NAMES[l], attrs: { value: l } })));
  const submit = el('button', { class: 'primary', attrs: { type: 'submit', id: 'btn-qa-submit' } });
  const form = el('form', { class: 'qa-form', attrs: { id: 'qa-form' } }, text,
    el('div', { class: 'qa-form-row' }, counter,
      el('label', { class: 'qa-anon-pick' }, anonymous, ' ', anonymousLabel),
      el('label', { class: 'qa-lang-pick' }, langLabel, langPick)),
    submit);
  const listTitle = el('h2', { attrs: { id: 'qa-list-title' } });
  const sortButtons = ['votes', 'time'].map((by) => el('button', { class: 'qa-sort-by', data: { sort: by }, attrs: { type: 'button', 'aria-pressed': 'false' } }));
  const list = el('ol', { class: 'qa-public-list', attrs: { id: 'qa-public-list', 'aria-labelledby': 'qa-list-title' } });
  const none = el('p', { class: 'muted qa-none', attrs: { id: 'qa-none' } });
  const qaSection = el('section', { class: 'panel qa-section', attrs: { id: 'qa-section', 'aria-labelledby': 'qa-ask-title' } },
    askTitle, askNote, form,
    el('div', { class: 'qa-list-head' }, listTitle, el('span', { class: 'qa-sorts', attrs: { role: 'group' } }, ...sortButtons)),
    list, none);

  root.replaceChildren(pollCard, qaSection);
  pollCard.hidden = true;
  qaSection.hidden = true;

  const state = () => hub() && hub().state;

  // ---------- actions ----------

  text.addEventListener('input', () => drawCounter());
  langPick.addEventListener('change', () => { pickedLang = langPick.value; });
  for (const b of sortButtons) b.addEventListener('click', () => { sort = b.dataset.sort; render(); });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const words = text.value.trim();
    if (!words || sending || !hub()) { text.focus(); return; }
    const L = lang();
    const moderated = qaMode(state(), liveSegmentId(state())) === 'moderated';
    sending = true;
    render();
    try {
      await hub().send('question_ask', { text: words, lang: langPick.value, anonymous: anonymous.checked });
      text.value = '';
      anonymous.checked = false;
      showMessage(t(L, moderated ? 'qa_sent_moderated' : 'qa_sent_open'), 'info', 6000);
    } catch (err) {
      showMessage(askError(L, err));
    } finally {
      sending = false;
      render();
    }
  });

  list.addEventListener('click', async (e) => {
    const button = e.target.closest('button[data-action]');
    if (!button || button.disabled || !hub()) return;
    const id = Number(button.closest('li[data-question]').dataset.question);
    if (button.dataset.action === 'withdraw') {
      hub().send('question_withdraw', { question: id }).catch((err) => showMessage(errorText(lang(), err)));
      return;
    }
    const up = !state().questions.voted.includes(id);
    voting.add(id);
    render();
    try {
      await hub().send('question_vote', { question: id, up });
    } catch (err) {
      showMessage(errorText(lang(), err));
    } finally {
      voting.delete(id);
      render();
    }
  });

  pollForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const poll = pollForm.dataset.poll;
    const choices = [...pollChoices.querySelectorAll('input:checked')].map((i) => Number(i.value));
    if (!poll || !hub()) return;
    if (!choices.length) { showMessage(t(lang(), 'poll_choose_first'), 'warning', 4000); return; }
    pollSubmit.disabled = true;
    try {
      await hub().send('poll_vote', { poll, choices });
    } catch (err) {
      showMessage(errorText(lang(), err));
    } finally {
      render();
    }
  });

  // ---------- drawing ----------

  function drawCounter() {
    const n = [...text.value].length;
    setText(counter, t(lang(), 'qa_count', { n, max: MAX_TEXT }));
    counter.classList.toggle('near', n > MAX_TEXT - 20);
  }

  /** The poll card: the ballot while open (its choices kept across redraws), then the results. */
  function drawPoll(s, L) {
    const live = liveSegmentId(s);
    const poll = currentPoll(s, live);
    pollCard.hidden = !poll;
    if (!poll) return;
    const mine = (s.polls.mine || {})[poll.id] || [];
    const open = poll.state === 'open';
    pollCard.dataset.poll = poll.id;
    pollCard.dataset.state = poll.state;
    setText(pollLabel, t(L, 'poll_title'));
    setText(pollState, t(L, `poll_state_${poll.state}`));
    pollState.className = `badge poll-state poll-state-${poll.state}`;
    setText(pollQuestion, localized(poll.question, L));
    setText(pollHint, open ? t(L, poll.multiple ? 'poll_pick_many' : 'poll_pick_one') : t(L, 'poll_closed_note'));
    pollForm.hidden = !open;
    const ballotKey = JSON.stringify([poll.id, poll.multiple, poll.options, mine, L]);
    if (open && pollForm.dataset.key !== ballotKey) {
      pollForm.dataset.key = ballotKey;
      pollForm.dataset.poll = poll.id;
      const type = poll.multiple ? 'checkbox' : 'radio';
      pollChoices.replaceChildren(...poll.options.map((option, i) => {
        const input = el('input', { attrs: { type, name: `poll-${poll.id}`, value: String(i) } });
        input.checked = mine.includes(i);
        return el('label', { class: 'poll-choice' }, input, el('span', { text: localized(option, L) }));
      }));
    }
    setText(pollSubmit, t(L, mine.length ? 'poll_change' : 'poll_vote_btn'));
    pollSubmit.disabled = !connected();
    pollCounted.hidden = !(open && mine.length);
    setText(pollCounted, t(L, 'poll_counted'));
    const resultsKey = JSON.stringify([poll.id, poll.counts, poll.voters, mine, L]);
    if (pollResults.dataset.key !== resultsKey) {
      pollResults.dataset.key = resultsKey;
      pollResults.replaceChildren(...(poll.counts ? [pollBars(poll, L, mine)] : []));
    }
    setText(pollVoters, pollNote(poll, L));
  }

  /** The questions of the current segment this person may see, the one on screen first. */
  function shownQuestions(s) {
    const live = liveSegmentId(s);
    const me = s.you && s.you.who;
    const { board, items } = s.questions;
    const here = items.filter((q) => (q.segment ?? null) === live && q.state !== 'withdrawn');
    const mine = (q) => me != null && q.who === me;
    const visible = here.filter((q) => q.state !== 'rejected' || mine(q));
    const open = sortQuestions(visible.filter((q) => OPEN.has(q.state)), sort);
    const closed = sortQuestions(visible.filter((q) => !OPEN.has(q.state)), 'time');
    const all = [...open, ...closed];
    const top = all.findIndex((q) => q.id === board.highlighted);
    if (top > 0) all.unshift(...all.splice(top, 1));
    return { all, mine };
  }

  function questionItem(q, s, L, mine) {
    const voted = s.questions.voted.includes(q.id);
    const onScreen = s.questions.board.highlighted === q.id;
    const own = mine(q);
    const words = el('p', { class: 'qa-text', text: q.text });
    words.lang = q.lang;
    const meta = el('p', { class: 'qa-meta' }, langTag(q),
      el('span', { class: q.name == null ? 'qa-anon' : 'qa-who', text: askerName(q, L) }),
      own ? el('span', { class: 'badge qa-yours', text: t(L, 'qa_yours') }) : null,
      q.edited ? el('span', { class: 'qa-mark', text: `✎ ${t(L, 'qa_edited')}` }) : null);
    const status = [];
    if (onScreen) status.push(el('p', { class: 'qa-on-screen-now', text: `◉ ${t(L, 'qa_on_screen_now')}` }));
    if (q.state === 'pending') status.push(el('p', { class: 'qa-status qa-waiting', text: t(L, 'qa_waiting') }));
    if (q.state === 'rejected') {
      status.push(el('p', { class: 'qa-status qa-rejected', text: q.reason ? t(L, 'qa_rejected_reason', { reason: q.reason }) : t(L, 'qa_state_rejected') }));
    }
    if (q.state === 'answered' || q.state === 'promoted') status.push(el('p', { class: 'qa-status', text: t(L, `qa_state_${q.state}`) }));
    const vote = el('button', {
      class: 'qa-upvote', text: `▲ ${q.votes}`, data: { action: 'vote' },
      attrs: { type: 'button', 'aria-pressed': String(voted), 'aria-label': `${t(L, 'qa_upvote')} (${q.votes})` },
    });
    vote.disabled = q.state !== 'approved' || voting.has(q.id) || !connected();
    const withdraw = own && OPEN.has(q.state)
      ? el('button', { class: 'qa-withdraw', text: t(L, 'qa_withdraw'), data: { action: 'withdraw' }, attrs: { type: 'button' } })
      : null;
    if (withdraw) withdraw.disabled = !connected();
    return el('li', {
      class: `qa-item${onScreen ? ' on-screen' : ''}${own ? ' mine' : ''}`, data: { question: String(q.id), state: q.state },
    }, vote, el('div', { class: 'qa-main' }, ...status, words, meta, withdraw));
  }

  function drawQuestions(s, L) {
    const live = liveSegmentId(s);
    const mode = qaMode(s, live);
    qaSection.hidden = mode === 'off';
    if (mode === 'off') return;
    qaSection.dataset.mode = mode;
    setText(askTitle, t(L, 'qa_ask_title'));
    askNote.hidden = mode !== 'moderated';
    setText(askNote, t(L, 'qa_moderated_note'));
    text.placeholder = t(L, 'qa_placeholder');
    setText(anonymousLabel, t(L, 'qa_anon_label'));
    setText(langLabel, t(L, 'qa_lang_label'));
    langPick.title = t(L, 'qa_lang_label');
    langPick.value = pickedLang || L;
    setText(submit, t(L, 'qa_submit'));
    submit.disabled = sending || !connected();
    drawCounter();
    setText(listTitle, t(L, 'qa_list_title'));
    for (const b of sortButtons) {
      setText(b, t(L, b.dataset.sort === 'votes' ? 'qa_sort_top' : 'qa_sort_new'));
      b.setAttribute('aria-pressed', String(b.dataset.sort === sort));
    }
    const { all, mine } = shownQuestions(s);
    const flags = JSON.stringify([L, s.questions.board.highlighted, s.questions.voted, [...voting], connected()]);
    keyedList(list, all, (q) => q.id, (q) => JSON.stringify([q, flags]), (q) => questionItem(q, s, L, mine));
    none.hidden = all.length > 0;
    setText(none, t(L, 'qa_none'));
  }

  function render() {
    const s = state();
    if (!s || !s.questions || !s.polls) return;
    const L = lang();
    drawPoll(s, L);
    drawQuestions(s, L);
  }

  return { render };
}
