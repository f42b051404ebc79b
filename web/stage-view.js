// What a stage screen shows, and the one rule for its clock: used by the speaker's screen
// (stage.js) and by the console's live miniature of it, so the two cannot disagree.
// Pure DOM and timing; no socket, no page wiring.

import {
  timing, localized, fmtClock, fmtCountdown, fmtDuration, activeQueueName, speakingTime,
} from './client.js';
import { t, LANGS } from './i18n.js';
import { el, setText, stageText } from './ui.js';
import { createBoothLayer } from './booth-ui.js';

/** The queue whose speaker has the floor now (client.js `activeQueueName`), or null. */
function floorQueue(state) {
  return (state.queues && state.queues[activeQueueName(state)]) || null;
}

/**
 * The clock the stage shows: the clock of whoever has the floor. Someone speaking from the
 * segment's queue under a speaking limit gets their countdown (`limit - (now - started_at)`,
 * the one the console's queue panel and their phone show); a programme speaker with a
 * planned slot (`duration_ms`, plus `live.speaker_extended_ms` once the chair extended it)
 * gets theirs; otherwise the segment's. The programme speaker's and the segment's figures
 * are returned too, so the console can show "Speaker 3:55 · Segment 12:10" and mark which
 * one the stage shows.
 *   {tm, which: 'queue'|'speaker'|'segment'|null, remaining, speaker_remaining,
 *    speaker_elapsed, segment_remaining, level: 'normal'|'warning'|'danger'|'overrun',
 *    warning, danger}
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
  out.warning = seg.warning_ms ?? 120_000;
  out.danger = seg.danger_ms ?? 30_000;
  const turn = speakingTime(floorQueue(state), now);
  if (turn && turn.remaining_ms != null) {
    out.which = 'queue';
    out.remaining = turn.remaining_ms;
    // A turn from the floor is short: the segment's thresholds, but at most a quarter and a
    // twelfth of it, so that a 3-minute question is not amber after its first minute.
    const limit = floorQueue(state).speaking_limit_ms;
    out.warning = Math.min(out.warning, Math.round(limit / 4 / 1000) * 1000);
    out.danger = Math.min(out.danger, Math.round(limit / 12 / 1000) * 1000);
  } else {
    out.which = out.speaker_remaining != null ? 'speaker' : 'segment';
    out.remaining = out.which === 'speaker' ? out.speaker_remaining : tm.remaining_ms;
  }
  if (out.remaining < 0) out.level = 'overrun';
  else if (out.remaining <= out.danger) out.level = 'danger';
  else if (out.remaining <= out.warning) out.level = 'warning';
  return out;
}

/**
 * Who has the floor: the person speaking from the current segment's queue (someone called
 * from the floor), else the programme speaker. {name, affiliation, mode: 'in_room'|'remote'|
 * null, fromQueue} or null. The server credits caption lines by the same rule
 * (src/domain/captions.rs, `LineSpeaker::with_the_floor`).
 */
export function floorHolder(state, lang) {
  const { live, segments } = state;
  if (live.phase !== 'live') return null;
  const seg = segments[live.segment];
  const q = floorQueue(state);
  if (q && q.speaking) {
    return { name: q.speaking.name, affiliation: q.speaking.affiliation, mode: q.speaking.mode, fromQueue: true };
  }
  const sp = live.speaker != null ? (seg.speakers || [])[live.speaker] : null;
  return sp
    ? { name: localized(sp.name, lang), affiliation: localized(sp.affiliation, lang), mode: sp.mode ?? null, fromQueue: false }
    : null;
}

/**
 * Who really speaks next: the one on deck in the current segment's queue, whom the chair's
 * next call gives the floor; else the next programme speaker. {name, mode, fromQueue} or null.
 */
export function whoIsNext(state, lang) {
  const q = state.live.phase === 'live' ? floorQueue(state) : null;
  if (q && q.on_deck) return { name: q.on_deck.name, mode: q.on_deck.mode, fromQueue: true };
  const sp = nextSpeaker(state);
  return sp ? { name: localized(sp.name, lang), mode: sp.mode ?? null, fromQueue: false } : null;
}

/** Where a person speaks from ("audience · remote (online)"); nothing for a programme speaker in the hall. */
function whereText(lang, who) {
  if (!who) return '';
  if (who.fromQueue) return t(lang, who.mode === 'remote' ? 'stage_floor_remote' : 'stage_floor_hall');
  return who.mode === 'remote' ? t(lang, 'stage_speaker_remote') : '';
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
  title: 'current-title', held: 'held-badge', speaker: 'current-speaker', where: 'speaker-where',
  countdown: 'countdown', label: 'countdown-label', back: 'stage-back', closing: 'stage-closing',
  hint: 'stage-hint', message: 'stage-message', next: 'next-speaker', nextWhere: 'next-where', over: 'stage-over',
};

/**
 * Builds a stage view inside `root` and returns {render(state, now), tick(state, now)}.
 * opts: {lang(), second(), serves(), ids}: ids gives the parts the stage page's element ids
 * (the console's miniature has none, so they do not clash with its own).
 *
 * Both calls draw the whole view from the state: a host page need not know which changes
 * move the stage. The console redraws its miniature on show and stage changes but not on
 * queue changes, so a miniature drawn only on render kept the panellist on it for as long
 * as someone called from the queue spoke; drawn on every tick, it is the stage, always.
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
  const closingTitle = el('span', { class: 'sv-closing-title' });
  const closingEvent = el('span', { class: 'sv-closing-event' });
  const nowRow = el('p', { class: 'sv-who' }, nowLabel, part('speaker', 'span', 'sv-speaker'), part('where', 'span', 'sv-where'));
  const nextRow = el('p', { class: 'sv-who sv-next' }, nextLabel, part('next', 'span', 'sv-speaker'), part('nextWhere', 'span', 'sv-where'));
  root.classList.add('stage-view');
  root.replaceChildren(
    el('div', { class: 'sv-bar' }, part('title', 'span', 'sv-segment'), part('held', 'span', 'badge held')),
    nowRow,
    part('label', 'div', 'sv-countdown-label'),
    part('countdown', 'div', 'sv-countdown', { role: 'timer', 'data-level': 'normal' }),
    part('back', 'p', 'sv-back'),
    part('closing', 'p', 'sv-closing'),
    part('over', 'div', 'sv-over'),
    part('hint', 'p', 'sv-hint', { role: 'status' }),
    part('message', 'p', 'sv-message', { role: 'alert', 'data-kind': 'none' }),
    nextRow,
  );
  parts.message.append(msgMain, msgSecond);
  parts.closing.append(closingTitle, closingEvent);
  parts.held.hidden = true;
  parts.over.hidden = true;
  const booth = createBoothLayer(root, { ids });
  let shownMessageAt = null;

  /** Who is on stage, who is next, and the chair's message. */
  function drawPeople(state, L, screen) {
    const L2 = secondLang(state, L, second());
    const { segments, live } = state;
    const seg = live.phase === 'live' ? segments[live.segment] : null;
    setText(nextLabel, t(L, 'next_speaker_label'));
    setText(parts.held, t(L, 'on_hold'));
    setText(parts.title, seg ? localized(seg.title, L) : t(L, live.phase === 'ended' ? 'ended' : 'standby'));
    parts.held.hidden = !(seg && live.held_since != null);
    const floor = floorHolder(state, L);
    // A break has nobody speaking: the screen says it is a break instead of "Now speaking —".
    setText(nowLabel, screen === 'break' ? '' : t(L, 'now_speaking'));
    nowLabel.hidden = screen === 'break';
    setText(parts.speaker, screen === 'break' ? t(L, 'stage_break') : floor ? floor.name : '—');
    drawWhere(parts.where, L, screen === 'break' ? null : floor);
    const next = whoIsNext(state, L);
    setText(parts.next, next ? next.name : '—');
    drawWhere(parts.nextWhere, L, next);
    nowRow.hidden = screen === 'ended';
    nextRow.hidden = screen === 'ended';
    setText(closingTitle, t(L, 'stage_closed_title'));
    setText(closingEvent, localized(state.event.title, L));
    parts.closing.hidden = screen !== 'ended';

    // The chair's message in the screen's language, and below, smaller, in one more.
    const m = messageFor(state, serves());
    const box = parts.message;
    box.hidden = !m;
    if (box.dataset.kind !== (m ? m.kind : 'none')) box.dataset.kind = m ? m.kind : 'none';
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
  }

  function draw(state, now) {
    if (!state) return;
    const L = lang();
    const { live, segments } = state;
    const seg = live.phase === 'live' ? segments[live.segment] : null;
    const screen = live.phase === 'ended' ? 'ended' : seg && seg.kind === 'break' ? 'break' : live.phase;
    if (root.dataset.screen !== screen) root.dataset.screen = screen;
    drawPeople(state, L, screen);

    const clock = stageClock(state, now);
    const { tm, remaining, level } = clock;
    const cd = parts.countdown;
    let label = '';
    if (tm.phase === 'live') {
      setText(cd, fmtCountdown(remaining)); // "+1:05" once over
      const whose = { queue: 'stage_clock_floor', speaker: 'stage_clock_speaker', segment: 'stage_clock_segment' }[clock.which];
      label = tm.held && clock.which !== 'queue'
        ? t(L, 'on_hold') : `${t(L, whose)} · ${t(L, remaining < 0 ? 'overrun' : 'remaining')}`;
    } else if (tm.phase === 'standby' && tm.starts_in_ms > 0) {
      setText(cd, fmtDuration(tm.starts_in_ms, { ceil: true }));
      label = t(L, 'starts_in');
    } else {
      setText(cd, '--:--');
    }
    cd.hidden = screen === 'ended';
    setText(parts.label, label);
    // "Back at 11:20": the break's end in the event's time zone, to the nearest minute; it
    // moves on while the break is held.
    const back = screen === 'break' ? Math.round((now + tm.remaining_ms) / 60_000) * 60_000 : null;
    setText(parts.back, back == null ? '' : t(L, 'stage_back_at', { time: fmtClock(back, state.event.time_zone, L) }));
    parts.back.hidden = back == null;
    if (cd.dataset.level !== level) cd.dataset.level = level;
    if (root.dataset.level !== level) root.dataset.level = level;
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
    booth(state, now, L);
  }

  return { render: draw, tick: draw };
}

/** The tag after a name: where that person speaks from, or nothing. */
function drawWhere(node, lang, who) {
  const text = whereText(lang, who);
  setText(node, text);
  node.hidden = !text;
  const mode = who && text ? who.mode || 'in_room' : '';
  if (node.dataset.mode !== mode) node.dataset.mode = mode;
}
