// The console's booth controls (#booth-panel, under the stage screen's): blackout, ON AIR and
// a flash for the stage screens, a full-screen message, and the side timers (make one; start,
// pause, reset, ±1 minute; where it shows; remove). The cockpit says when the stage is black,
// on air or covered by a full-screen message.

import { t } from './i18n.js';
import { $, el, setText, keyedList } from './ui.js';
import { timerMs, timerText } from './booth-ui.js';

/** createBoothPanel({hub, lang, canControl, connected, showError}) → {render(), tick(now)}. */
export function createBoothPanel({ hub, lang, canControl, connected, showError }) {
  let sending = false;
  const enabled = () => Boolean(hub.state) && connected() && canControl();

  async function send(type, fields) {
    if (!enabled() || sending) return null;
    sending = true;
    render();
    try {
      return await hub.send(type, fields);
    } catch (err) {
      showError(err);
      return null;
    } finally {
      sending = false;
      render();
    }
  }

  const screen = () => (hub.state && hub.state.screen) || {};
  $('btn-blackout').addEventListener('click', () => send('stage_blackout', { on: !screen().blackout }));
  $('btn-on-air').addEventListener('click', () => send('stage_on_air', { on: !screen().on_air }));
  $('btn-flash').addEventListener('click', () => send('stage_flash', {}));
  $('fullscreen-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = $('fullscreen-text');
    const text = input.value.trim();
    if (!text) { input.focus(); return; }
    const seconds = Number($('fullscreen-seconds').value);
    input.blur(); // back to the page: the shortcuts work again at once
    if (await send('stage_fullscreen', seconds > 0 ? { text, seconds } : { text })) input.value = '';
  });
  $('btn-fullscreen-clear').addEventListener('click', () => send('stage_fullscreen_clear', {}));
  $('timer-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = $('timer-name').value.trim();
    if (!name) { $('timer-name').focus(); return; }
    const direction = $('timer-direction').value;
    const minutes = Number($('timer-minutes').value);
    const fields = { name, direction, start: $('timer-start').checked };
    if (direction === 'down') fields.seconds = Math.round(minutes * 60);
    $('timer-name').blur();
    if (await send('timer_create', fields)) $('timer-name').value = '';
  });

  /** One timer's row: its time, its controls, where it shows. */
  function timerRow(timer) {
    const time = el('span', { class: 'bt-time', attrs: { role: 'timer' } });
    const button = (cls, act) => {
      const b = el('button', { class: cls, attrs: { type: 'button' } });
      b.addEventListener('click', act);
      return b;
    };
    const id = timer.id;
    const toggle = button('bt-toggle', () => {
      const now = hub.state.timers.find((x) => x.id === id);
      if (now) send(now.running_since != null ? 'timer_pause' : 'timer_start', { timer: id });
    });
    const place = (where) => {
      const box = el('input', { class: `bt-${where}`, attrs: { type: 'checkbox' } });
      box.addEventListener('change', () => send('timer_show', { timer: id, [where]: box.checked }));
      return el('label', { class: 'bt-place' }, box, el('span', { class: `bt-${where}-label` }));
    };
    return el('li', { class: 'booth-timer', data: { timer: id } },
      el('span', { class: 'bt-name' }), time,
      el('span', { class: 'bt-buttons' },
        toggle,
        button('bt-minus', () => send('timer_adjust', { timer: id, seconds: -60 })),
        button('bt-plus', () => send('timer_adjust', { timer: id, seconds: 60 })),
        button('bt-reset', () => send('timer_reset', { timer: id })),
        button('bt-remove danger', () => send('timer_remove', { timer: id }))),
      el('span', { class: 'bt-places' }, place('stage'), place('cues')));
  }

  function render() {
    const s = hub.state;
    if (!s) return;
    const L = lang(), ok = enabled() && !sending;
    const sc = s.screen || {};
    for (const [id, on, key] of [['btn-blackout', sc.blackout, 'blackout'], ['btn-on-air', sc.on_air, 'on_air']]) {
      const b = $(id);
      b.disabled = !ok;
      b.setAttribute('aria-pressed', String(Boolean(on)));
      setText(b, t(L, on ? `${key}_off` : key));
    }
    $('btn-flash').disabled = !ok;
    $('fullscreen-text').disabled = !enabled();
    $('btn-fullscreen').disabled = !ok;
    $('btn-fullscreen-clear').disabled = !ok || !fullscreenNow(s, hub.serverNow());
    $('btn-timer-create').disabled = !ok || (s.timers || []).length >= 12;
    $('timer-minutes').disabled = $('timer-direction').value === 'up';
    const list = $('booth-timers');
    keyedList(list, s.timers || [], (x) => x.id, (x) => `${x.name}|${x.direction}`, timerRow);
    for (const timer of s.timers || []) {
      const row = list.querySelector(`[data-timer="${CSS.escape(timer.id)}"]`);
      setText(row.querySelector('.bt-name'), timer.name);
      const running = timer.running_since != null;
      const toggle = row.querySelector('.bt-toggle');
      setText(toggle, t(L, running ? 'timer_pause_short' : 'timer_start_short'));
      toggle.title = t(L, running ? 'timer_pause' : 'timer_start');
      toggle.setAttribute('aria-label', toggle.title);
      for (const [cls, sign, key] of [['.bt-minus', '−1', 'timer_minus'], ['.bt-plus', '+1', 'timer_plus'], ['.bt-reset', '↺', 'timer_reset'], ['.bt-remove', '✕', 'timer_remove']]) {
        const b = row.querySelector(cls);
        setText(b, sign);
        b.title = t(L, key);
        b.setAttribute('aria-label', b.title);
      }
      for (const where of ['stage', 'cues']) {
        row.querySelector(`.bt-${where}`).checked = Boolean(timer[where]);
        setText(row.querySelector(`.bt-${where}-label`), t(L, `timer_on_${where}`));
      }
      row.querySelectorAll('button, input').forEach((node) => { node.disabled = !ok; });
    }
    $('booth-timers-empty').hidden = (s.timers || []).length > 0;
    drawCockpit(s, L, hub.serverNow());
    tick(hub.serverNow());
  }

  /** The cockpit's badges: the chair must see at a glance that the stage is black. */
  function drawCockpit(s, L, now) {
    const sc = s.screen || {};
    for (const [id, on, key] of [
      ['ck-blackout', sc.blackout, 'blackout_badge'], ['ck-on-air', sc.on_air, 'on_air'],
      ['ck-fullscreen', fullscreenNow(s, now), 'fullscreen_badge'],
    ]) {
      $(id).hidden = !on;
      setText($(id), t(L, key));
    }
  }

  /** Redraws the timers' digits (ten times a second, from the console's clock loop). */
  function tick(now) {
    const s = hub.state;
    if (!s) return;
    for (const timer of s.timers || []) {
      const row = $('booth-timers').querySelector(`[data-timer="${CSS.escape(timer.id)}"]`);
      if (!row) continue;
      setText(row.querySelector('.bt-time'), timerText(timer, now));
      row.classList.toggle('over', timer.direction === 'down' && timerMs(timer, now) < 0);
      row.dataset.state = timer.running_since != null ? 'running' : 'stopped';
    }
    $('ck-fullscreen').hidden = !fullscreenNow(s, now);
  }

  return { render, tick };
}

/** The full-screen message on the stage now, or null once past its end. */
function fullscreenNow(s, now) {
  const f = s.screen && s.screen.fullscreen;
  return f && (f.until == null || f.until > now) ? f : null;
}
