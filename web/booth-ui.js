// The booth's controls as screens draw them: the side timers (the stage and cue screens, the
// console) and the stage screens' layer over the clock (blackout, a flash, ON AIR, a
// full-screen message). Pure DOM; the time of a timer comes from the synchronized clock.

import { fmtDuration } from './client.js';
import { t } from './i18n.js';
import { el, setText } from './ui.js';

/** A timer's time at `now`: left of a count down (below zero once over), counted of a count up. */
export function timerMs(timer, now) {
  const elapsed = timer.elapsed_ms + (timer.running_since != null ? Math.max(0, now - timer.running_since) : 0);
  return timer.direction === 'up' ? elapsed : timer.duration_ms - elapsed;
}

/** "4:59", "-0:12" once a count down is over, "12:03" counted up. */
export function timerText(timer, now) {
  const ms = timerMs(timer, now);
  return timer.direction === 'up' ? fmtDuration(ms) : fmtDuration(ms, { ceil: ms > 0 });
}

/**
 * Draws the timers that show `where` ('stage' or 'cues') into `box` as name and time; the
 * box hides when none does. Each row keeps its node, so a tick changes only the digits.
 */
export function drawTimers(box, timers, now, where) {
  const shown = (timers || []).filter((timer) => timer[where]);
  box.hidden = shown.length === 0;
  const rows = shown.map((timer) => {
    let row = box.querySelector(`[data-timer="${CSS.escape(timer.id)}"]`);
    if (!row) {
      row = el('div', { class: 'side-timer', data: { timer: timer.id } },
        el('span', { class: 'side-timer-name' }), el('span', { class: 'side-timer-time' }));
    }
    const ms = timerMs(timer, now);
    setText(row.firstChild, timer.name);
    setText(row.lastChild, timerText(timer, now));
    row.dataset.state = timer.running_since != null ? 'running' : 'stopped';
    row.classList.toggle('over', timer.direction === 'down' && ms < 0);
    return row;
  });
  if (rows.length !== box.children.length || rows.some((row, i) => box.children[i] !== row)) box.replaceChildren(...rows);
}

/**
 * The event's look (snapshot.branding: a logo as a data: URL, a background and an accent
 * colour) on a screen: the colours as the CSS variables `--brand-bg` and `--brand-accent` of
 * `root`, the logo in `logo` (an img), hidden without one.
 */
export function brand(root, logo, branding) {
  const b = branding || {};
  const colour = (c) => (typeof c === 'string' && /^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$/.test(c) ? c : '');
  root.style.setProperty('--brand-bg', colour(b.background) || '#000');
  root.style.setProperty('--brand-accent', colour(b.accent) || 'transparent');
  const src = typeof b.logo === 'string' && b.logo.startsWith('data:image/') ? b.logo : '';
  if (logo.getAttribute('src') !== src) { if (src) logo.src = src; else logo.removeAttribute('src'); }
  logo.hidden = !src;
}

/**
 * The stage screen's layer over its view: builds it inside `root` (a stage view) and returns
 * draw(state, now, lang). A flash plays once for each new `flash_at`, not for the one the
 * screen found when it joined.
 */
export function createBoothLayer(root, { ids = false } = {}) {
  const id = (name) => (ids ? { id: name } : {});
  const onAir = el('span', { class: 'sv-on-air', attrs: { ...id('stage-on-air'), role: 'status' } });
  const timers = el('div', { class: 'sv-timers', attrs: id('stage-timers') });
  const fullText = el('p', { class: 'sv-fullscreen-text' });
  const full = el('div', { class: 'sv-fullscreen', attrs: { ...id('stage-fullscreen'), role: 'alert' } }, fullText);
  const black = el('div', { class: 'sv-blackout', attrs: id('stage-blackout') });
  const logo = el('img', { class: 'sv-logo', attrs: { ...id('stage-logo'), alt: '' } });
  const bar = root.querySelector('.sv-bar');
  bar.append(onAir, logo);
  root.append(timers, full, black);
  onAir.hidden = true;
  full.hidden = true;
  black.hidden = true;
  let flashSeen;

  return function draw(state, now, lang) {
    brand(root, logo, state.branding);
    const screen = state.screen || {};
    onAir.hidden = !screen.on_air;
    setText(onAir, t(lang, 'on_air'));
    drawTimers(timers, state.timers, now, 'stage');
    const shown = screen.fullscreen && (screen.fullscreen.until == null || screen.fullscreen.until > now)
      ? screen.fullscreen : null;
    full.hidden = !shown;
    setText(fullText, shown ? shown.text : '');
    black.hidden = !screen.blackout;
    if (root.dataset.blackout !== String(Boolean(screen.blackout))) root.dataset.blackout = String(Boolean(screen.blackout));
    const flash = screen.flash_at ?? null;
    if (flashSeen !== undefined && flash !== flashSeen && flash != null) {
      root.classList.remove('flash');
      void root.offsetWidth; // restarts the animation for a second flash
      root.classList.add('flash');
    }
    flashSeen = flash;
  };
}
