// The console's stage-screen controls (#stage-panel): signal the speaker ("2 minutes left",
// "Please wrap up", "Time is up", or the chair's own words), optionally pinned (kept past the
// segment's end) or aimed at the current speaker's screen only; clear it; see what it shows.

import { fmtClock, localized } from './client.js';
import { t } from './i18n.js';
import { $, setText, showMessage, warningText, stageText } from './ui.js';

const SIGNALS = {
  'btn-stage-two-minutes': 'two_minutes',
  'btn-stage-wrap-up': 'wrap_up',
  'btn-stage-time-up': 'time_up',
};

/** createStagePanel({hub, lang, canControl, connected, showError}) → {render()}. */
export function createStagePanel({ hub, lang, canControl, connected, showError }) {
  let sending = false;
  const enabled = () => Boolean(hub.state) && connected() && canControl();

  async function send(type, fields) {
    if (!enabled() || sending) return null;
    sending = true;
    render();
    try {
      const ack = await hub.send(type, fields);
      if (ack.warning) showMessage(warningText(lang(), ack.warning), 'warning');
      return ack;
    } catch (err) {
      showError(err);
      return null;
    } finally {
      sending = false;
      render();
    }
  }

  /** A signal with the chair's options: `pinned`, and `speaker` for the current one's screen. */
  function signal(fields) {
    const live = hub.state && hub.state.live;
    const out = { ...fields };
    if ($('stage-pin').checked) out.pinned = true;
    if ($('stage-aim').checked && live && live.phase === 'live' && live.speaker != null) out.speaker = live.speaker;
    return send('stage_signal', out);
  }

  for (const [id, kind] of Object.entries(SIGNALS)) {
    $(id).addEventListener('click', () => signal({ signal: kind }));
  }
  $('stage-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = $('stage-text');
    const text = [...input.value.replace(/\p{Cc}/gu, ' ').trim()].slice(0, 140).join('').trim();
    if (!text) { input.focus(); return; }
    input.blur(); // back to the page: the shortcuts work again at once
    if (await signal({ signal: 'message', text })) input.value = '';
  });
  $('btn-stage-clear').addEventListener('click', () => send('stage_clear', {}));

  function render() {
    const s = hub.state;
    if (!s) return;
    const L = lang(), ok = enabled() && !sending;
    const m = s.stage;
    const node = $('stage-current');
    node.dataset.kind = m ? m.kind : 'none';
    let aimed = '';
    if (m && m.speaker != null && s.live.phase === 'live') {
      const sp = (s.segments[s.live.segment].speakers || [])[m.speaker];
      aimed = ` → ${sp ? localized(sp.name, L) : `#${m.speaker + 1}`}`;
    }
    setText(node, m
      ? `${m.pinned ? '📌 ' : ''}${stageText(L, m)}${aimed} · ${m.by} · ${fmtClock(m.at, s.event.time_zone, L, { seconds: true })}`
      : t(L, 'stage_nothing'));
    for (const [id, kind] of Object.entries(SIGNALS)) {
      $(id).disabled = !ok;
      $(id).classList.toggle('active', Boolean(m) && m.kind === kind);
    }
    $('stage-text').disabled = !enabled(); // not while sending: the chair may be typing
    $('btn-stage-message').disabled = !ok;
    $('btn-stage-clear').disabled = !ok || !m;
  }

  return { render };
}
