// What a stage screen shows, and the one rule for its clock: used by the speaker's screen
// (stage.js) and by the console's live miniature of it, so the two cannot disagree.
// Pure DOM and timing; no socket, no page wiring.

import { timing, localized, fmtCountdown, fmtDuration, activeQueueName } from './client.js';
import { t, LANGS } from './i18n.js';
import { el, setText, stageText } from './ui.js';

/**
 * The clock the stage shows. With a planned speaker slot (the current speaker's
 * `duration_ms`, plus `live.speaker_extended_ms` once the chair extended it) it is the
 * speaker's; otherwise the segment's. Both figures are returned, so the console can show
 * "Speaker 3:55 · Segment 12:10" and mark which one the stage shows.
 *   {tm, which: 'speaker'|'segment'|null, remaining, speaker_remaining, speaker_elapsed,
 *    segment_remaining, level: 'normal'|'warning'|'danger'|'overrun', warning, danger}
 */
export function stageClock(state, now) {
  const tm = timing(state, now);
  const out = {
    tm, which: null, remaining: null, speaker_remaining: null, speaker_elapsed: tm.speaker_elapsed_ms,
    segment_remaining: tm.remaining_ms, level: 'normal', warning: null, danger: null,
  };
  if (tm.phase !== 'live') return out;
  const { live, segments } = state;
  const seg = segments[live.segment];
  const sp = live.speaker != null && seg.speakers ? seg.speakers[live.speaker] : null;
  if (sp && sp.duration_ms != null && tm.speaker_elapsed_ms != null) {
    out.speaker_remaining = sp.duration_ms + (live.speaker_extended_ms || 0) - tm.speaker_elapsed_ms;
  }
  out.which = out.speaker_remaining != null ? 'speaker' : 'segment';
  out.remaining = out.which === 'speaker' ? out.speaker_remaining : tm.remaining_ms;
  out.warning = seg.warning_ms ?? 120_000;
  out.danger = seg.danger_ms ?? 30_000;
  if (out.remaining < 0) out.level = 'overrun';
  else if (out.remaining <= out.danger) out.level = 'danger';
  else if (out.remaining <= out.warning) out.level = 'warning';
  return out;
}

/**
 * Who has the floor: the person speaking from the current segment's queue (someone called
 * from the floor), else the programme speaker. {name, affiliation, fromQueue} or null.
 */
export function floorHolder(state, lang) {
  const { live, segments } = state;
  if (live.phase !== 'live') return null;
  const seg = segments[live.segment];
  const q = state.queues && state.queues[activeQueueName(state)];
  if (q && q.speaking) return { name: q.speaking.name, affiliation: q.speaking.affiliation, fromQueue: true };
  const sp = live.speaker != null ? (seg.speakers || [])[live.speaker] : null;
  return sp ? { name: localized(sp.name, lang), affiliation: localized(sp.affiliation, lang), fromQueue: false } : null;
}

/** The speaker after the current one: in this segment, else the first of a later segment. */
export function nextSpeaker({ segments, live }) {
  let from = 0;
  if (live.phase === 'live') {
    const seg = segments[live.segment];
    const sp = live.speaker != null ? (seg.speakers || [])[live.speaker + 1] : null;
    if (sp) return sp;
    from = live.segment + 1;
  } else if (live.phase === 'ended') {
    return null;
  }
  const later = segments.slice(from).find((g) => g.speakers && g.speakers.length);
  return later ? later.speakers[0] : null;
}

/**
 * The stage message this screen shows: a message aimed at one speaker (`speaker`, an index
 * in the current segment) only on that speaker's screen. `serves` is the index the screen
 * was opened for, or null for "whoever is speaking".
 */
export function messageFor(state, serves) {
  const m = state.stage;
  if (!m) return null;
  if (m.speaker == null) return m;
  const live = state.live;
  const mine = serves ?? (live.phase === 'live' ? live.speaker : null);
  return mine === m.speaker ? m : null;
}

/** The second language of a screen: `wanted` if valid and different, else the event's next one. */
export function secondLang(state, lang, wanted) {
  if (LANGS.includes(wanted) && wanted !== lang) return wanted;
  const langs = (state && state.event && state.event.languages) || LANGS;
  return langs.find((l) => l !== lang && LANGS.includes(l)) || LANGS.find((l) => l !== lang);
}

/** "Less than 2 minutes left" for 120000 ms; "Less than 30 seconds left" for 30000. */
function thresholdText(lang, ms) {
  if (ms >= 60_000 && ms % 60_000 === 0) {
    const n = ms / 60_000;
    return n === 1 ? t(lang, 'stage_auto_min_one') : t(lang, 'stage_auto_min', { n });
  }
  return t(lang, 'stage_auto_sec', { n: Math.round(ms / 1000) });
}

const PART_IDS = {
  title: 'current-title', held: 'held-badge', speaker: 'current-speaker', countdown: 'countdown',
  label: 'countdown-label', hint: 'stage-hint', message: 'stage-message', next: 'next-speaker',
  over: 'stage-over',
};

/**
 * Builds a stage view inside `root` and returns {render(state, now), tick(state, now)}.
 * opts: {lang(), second(), serves(), ids}: ids gives the parts the stage page's element ids
 * (the console's miniature has none, so they do not clash with its own).
 */
export function createStageView(root, { lang, second = () => null, serves = () => null, ids = false }) {
  const part = (name, tag, cls, attrs = {}) => {
    const node = el(tag, { class: cls, attrs: ids && PART_IDS[name] ? { ...attrs, id: PART_IDS[name] } : attrs });
    parts[name] = node;
    return node;
  };
  const parts = {};
  const nowLabel = el('span', { class: 'label' });
  const nextLabel = el('span', { class: 'label' });
  const msgMain = el('span', { class: 'sv-message-main' });
  const msgSecond = el('span', { class: 'sv-message-second' });
  const fromFloor = el('span', { class: 'sv-from-floor' });
  root.classList.add('stage-view');
  root.replaceChildren(
    el('div', { class: 'sv-bar' }, part('title', 'span', 'sv-segment'), part('held', 'span', 'badge held')),
    el('p', { class: 'sv-who' }, nowLabel, part('speaker', 'span', 'sv-speaker'), fromFloor),
    part('label', 'div', 'sv-countdown-label'),
    part('countdown', 'div', 'sv-countdown', { role: 'timer', 'data-level': 'normal' }),
    part('over', 'div', 'sv-over'),
    part('hint', 'p', 'sv-hint', { role: 'status' }),
    part('message', 'p', 'sv-message', { role: 'alert', 'data-kind': 'none' }),
    el('p', { class: 'sv-who sv-next' }, nextLabel, part('next', 'span', 'sv-speaker')),
  );
  parts.message.append(msgMain, msgSecond);
  parts.held.hidden = true;
  parts.over.hidden = true;
  let shownMessageAt = null;

  function render(state, now) {
    if (!state) return;
    const L = lang(), L2 = secondLang(state, L, second());
    const { segments, live } = state;
    const seg = live.phase === 'live' ? segments[live.segment] : null;
    setText(nowLabel, t(L, 'now_speaking'));
    setText(nextLabel, t(L, 'next_speaker_label'));
    setText(parts.held, t(L, 'on_hold'));
    setText(parts.title, seg ? localized(seg.title, L) : t(L, live.phase === 'ended' ? 'ended' : 'standby'));
    const floor = floorHolder(state, L);
    setText(parts.speaker, floor ? floor.name : '—');
    setText(fromFloor, floor && floor.fromQueue ? t(L, 'stage_from_floor') : '');
    fromFloor.hidden = !(floor && floor.fromQueue);
    const next = nextSpeaker(state);
    setText(parts.next, next ? localized(next.name, L) : '—');
    parts.held.hidden = !(seg && live.held_since != null);

    // The chair's message in the screen's language, and below, smaller, in one more.
    const m = messageFor(state, serves());
    const box = parts.message;
    box.hidden = !m;
    box.dataset.kind = m ? m.kind : 'none';
    box.classList.toggle('pinned', Boolean(m && m.pinned));
    setText(msgMain, m ? stageText(L, m) : '');
    const other = !m ? '' : m.kind === 'message' ? t(L2, 'stage_from_chair') : stageText(L2, { ...m, text: null });
    setText(msgSecond, other);
    msgSecond.hidden = !other;
    msgSecond.lang = L2;
    const at = m ? m.at : null;
    if (m && at !== shownMessageAt) { // a new message: flash it once
      box.classList.remove('fresh');
      void box.offsetWidth;
      box.classList.add('fresh');
    }
    shownMessageAt = at;
    tick(state, now);
  }

  function tick(state, now) {
    if (!state) return;
    const L = lang();
    const clock = stageClock(state, now);
    const { tm, remaining, level } = clock;
    const cd = parts.countdown;
    let label = '';
    if (tm.phase === 'live') {
      setText(cd, fmtCountdown(remaining)); // "+1:05" once over
      const whose = clock.which === 'speaker' ? 'stage_clock_speaker' : 'stage_clock_segment';
      label = tm.held ? t(L, 'on_hold') : `${t(L, whose)} · ${t(L, remaining < 0 ? 'overrun' : 'remaining')}`;
    } else if (tm.phase === 'standby' && tm.starts_in_ms > 0) {
      setText(cd, fmtDuration(tm.starts_in_ms, { ceil: true }));
      label = t(L, 'starts_in');
    } else {
      setText(cd, '--:--');
    }
    setText(parts.label, label);
    if (cd.dataset.level !== level) cd.dataset.level = level;
    if (root.dataset.level !== level) root.dataset.level = level;
    cd.classList.toggle('held', tm.held);
    cd.classList.toggle('idle', tm.phase !== 'live');
    // Overtime: a flashing banner with a shape and words, not only the red colour.
    parts.over.hidden = level !== 'overrun';
    setText(parts.over, level === 'overrun' ? `▲ ${t(L, 'stage_overtime')} ▲` : '');

    // The screen's own warning, without any message from the chair (which takes its place).
    let hint = '';
    if (level === 'warning') hint = thresholdText(L, clock.warning);
    else if (level === 'danger') hint = thresholdText(L, clock.danger);
    else if (level === 'overrun') hint = t(L, 'stage_time_up');
    parts.hint.hidden = !hint || !parts.message.hidden;
    parts.hint.dataset.level = level;
    setText(parts.hint, hint);
  }

  return { render, tick };
}
