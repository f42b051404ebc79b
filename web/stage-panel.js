// The console's stage-screen controls (#stage-panel): signal the speaker ("2 minutes left",
// "Please wrap up", "Time is up", or the chair's own words), clear it, and see what it shows.

import { fmtClock } from './client.js';
import { t } from './i18n.js';
import { $, setText, runCommand, stageText } from './ui.js';

const SIGNALS = {
  'btn-stage-two-minutes': 'two_minutes',
  'btn-stage-wrap-up': 'wrap_up',
  'btn-stage-time-up': 'time_up',
};

/** createStagePanel({hub, lang, canControl, connected}) → {render()}. */
export function createStagePanel({ hub, lang, canControl, connected }) {
  let sending = false;
  const enabled = () => Boolean(hub.state) && connected() && canControl();

  async function send(type, fields) {
    if (!enabled() || sending) return null;
    sending = true;
    render();
    const ack = await runCommand(hub, lang(), type, fields);
    sending = false;
    render();
    return ack;
  }

  for (const [id, signal] of Object.entries(SIGNALS)) {
    $(id).addEventListener('click', () => send('stage_signal', { signal }));
  }
  $('stage-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = $('stage-text');
    const text = [...input.value.replace(/\p{Cc}/gu, ' ').trim()].slice(0, 140).join('').trim();
    if (!text) { input.focus(); return; }
    if (await send('stage_signal', { signal: 'message', text })) input.value = '';
  });
  $('btn-stage-clear').addEventListener('click', () => send('stage_clear', {}));

  function render() {
    const s = hub.state;
    if (!s) return;
    const L = lang(), ok = enabled() && !sending;
    const m = s.stage;
    const node = $('stage-current');
    node.dataset.kind = m ? m.kind : 'none';
    setText(node, m
      ? `${stageText(L, m)} · ${m.by} · ${fmtClock(m.at, s.event.time_zone, L, { seconds: true })}`
      : t(L, 'stage_nothing'));
    for (const [id, signal] of Object.entries(SIGNALS)) {
      $(id).disabled = !ok;
      $(id).classList.toggle('active', Boolean(m) && m.kind === signal);
    }
    $('stage-text').disabled = !enabled(); // not while sending: the chair may be typing
    $('btn-stage-message').disabled = !ok;
    $('btn-stage-clear').disabled = !ok || !m;
  }

  return { render };
}
