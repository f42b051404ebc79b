// The speaker's confidence screen (/stage, role speaker): a huge countdown for the current
// speaker from the synchronized clock, amber and red at the segment's warning_ms and
// danger_ms, the overrun counted up in red; the chair's message; who speaks now and next.

import { timing, localized, preferredLang, readFragment, fmtCountdown, fmtDuration } from './client.js';
import { t } from './i18n.js';
import { $, setText, startPage, markBody, stageText } from './ui.js';

const frag = readFragment();
let lang = preferredLang(frag);
let shownMessageAt = null;

const page = startPage({ lang, render, onLang: (picked) => { lang = picked; } });
const hub = page.connect({
  name: frag.name || 'Stage screen',
  mode: frag.mode || 'in_room',
  onWelcome: render,
  onChange: render,
});

/** The speaker after the current one: in this segment, else the first of a later segment. */
function nextSpeaker({ segments, live }) {
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
 * The stage clock: the speaker's planned time if set, else the segment's, and its level
 * against the segment's warning_ms / danger_ms.
 */
function stageClock(s, now) {
  const tm = timing(s, now);
  if (tm.phase !== 'live') return { tm, remaining: null, level: 'normal' };
  const seg = s.segments[s.live.segment];
  const remaining = tm.speaker_remaining_ms ?? tm.remaining_ms;
  const warning = seg.warning_ms ?? 120_000, danger = seg.danger_ms ?? 30_000;
  let level = 'normal';
  if (remaining < 0) level = 'overrun';
  else if (remaining <= danger) level = 'danger';
  else if (remaining <= warning) level = 'warning';
  return { tm, remaining, level, warning, danger };
}

/** "Less than 2 minutes left" for a threshold of 120000 ms; "Less than 30 seconds left" for 30000. */
function thresholdText(ms) {
  if (ms >= 60_000 && ms % 60_000 === 0) {
    const n = ms / 60_000;
    return n === 1 ? t(lang, 'stage_auto_min_one') : t(lang, 'stage_auto_min', { n });
  }
  return t(lang, 'stage_auto_sec', { n: Math.round(ms / 1000) });
}

function render() {
  const s = hub.state;
  if (!s) return;
  markBody(hub);
  const { segments, live } = s;
  document.title = `${t(lang, 'stage_screen')} — ${localized(s.event.title, lang)}`;
  const seg = live.phase === 'live' ? segments[live.segment] : null;
  const sp = seg && live.speaker != null ? (seg.speakers || [])[live.speaker] : null;
  setText($('current-title'), seg ? localized(seg.title, lang) : t(lang, live.phase === 'ended' ? 'ended' : 'standby'));
  setText($('current-speaker'), sp ? localized(sp.name, lang) : '—');
  const next = nextSpeaker(s);
  setText($('next-speaker'), next ? localized(next.name, lang) : '—');
  $('held-badge').hidden = !(seg && live.held_since != null);

  // The chair's message: a signal's label in the screen's language, or the chair's own words.
  const box = $('stage-message');
  const m = s.stage;
  box.hidden = !m;
  box.dataset.kind = m ? m.kind : 'none';
  setText(box, m ? stageText(lang, m) : '');
  const at = m ? m.at : null;
  if (m && at !== shownMessageAt) { // a new message: flash it once
    box.classList.remove('fresh');
    void box.offsetWidth;
    box.classList.add('fresh');
  }
  shownMessageAt = at;
  tick();
}

function tick() {
  const s = hub.state;
  if (!s) return;
  const { tm, remaining, level, warning, danger } = stageClock(s, hub.serverNow());
  const cd = $('countdown');
  let label = '';
  if (tm.phase === 'live') {
    setText(cd, fmtCountdown(remaining)); // "+1:05" once over
    label = tm.held ? 'on_hold' : remaining < 0 ? 'overrun' : 'remaining';
  } else if (tm.phase === 'standby' && tm.starts_in_ms > 0) {
    setText(cd, fmtDuration(tm.starts_in_ms, { ceil: true }));
    label = 'starts_in';
  } else {
    setText(cd, '--:--');
  }
  setText($('countdown-label'), label ? t(lang, label) : '');
  if (cd.dataset.level !== level) cd.dataset.level = level;
  if (document.body.dataset.level !== level) document.body.dataset.level = level;
  cd.classList.toggle('held', tm.held);
  cd.classList.toggle('idle', tm.phase !== 'live');

  // The screen's own warning, without any message from the chair (which takes its place).
  let hint = '';
  if (level === 'warning') hint = thresholdText(warning);
  else if (level === 'danger') hint = thresholdText(danger);
  else if (level === 'overrun') hint = t(lang, 'stage_time_up');
  const hintBox = $('stage-hint');
  hintBox.hidden = !hint || Boolean(s.stage);
  hintBox.dataset.level = level;
  setText(hintBox, hint);
}

setInterval(tick, 100);
