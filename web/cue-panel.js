// The console's cue panel (#cue-panel): give standby (typed text, a preset, or the segment's
// planned cues), watch the crew answer, call GO or cancel (docs/protocol.md "Cues").

import { localized, fmtClock, cueClosed } from './client.js';
import { t } from './i18n.js';
import { $, el, setText, showMessage, runCommand, warningText, targetName, keyedList } from './ui.js';
import { redrawIf } from './queue-ui.js';

const SHOW_CLOSED = 5; // the latest closed cues stay at the foot of the list

const cleanText = (text) => [...String(text).replace(/\p{Cc}/gu, ' ').trim()].slice(0, 140).join('').trim();
const sameTarget = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const sameText = (a, b) => a && b && a.zh === b.zh && a.ja === b.ja && a.en === b.en;
const seconds = (ms) => (Math.max(0, ms) / 1000).toFixed(1);

/**
 * createCuePanel({hub, lang, canControl, connected}) → {render(), tick(now), goOldest(), standbyPlanned()}.
 */
export function createCuePanel({ hub, lang, canControl, connected }) {
  const list = $('cue-list');
  const busy = new Set(); // cue ids with a command awaiting its reply
  let sendingPlanned = false;

  const enabled = () => Boolean(hub.state) && connected() && canControl();
  const cues = () => (hub.state && hub.state.cues) || [];
  const liveSegment = () => {
    const s = hub.state;
    return s && s.live.phase === 'live' ? s.segments[s.live.segment] : null;
  };
  /** The segment whose planned cues the chair fires: the current one, or the first before the start. */
  const plannedSegment = () => {
    const s = hub.state;
    if (!s) return null;
    if (s.live.phase === 'live') return { seg: s.segments[s.live.segment], index: s.live.segment };
    if (s.live.phase === 'standby' && s.segments.length) return { seg: s.segments[0], index: 0 };
    return null;
  };
  const openFor = (planned, index) => cues().some((c) => !cueClosed(c) && c.segment === index
    && sameTarget(c.target, planned.target) && sameText(c.text, planned.text));

  async function standby(fields) {
    const seg = liveSegment();
    if (seg && fields.segment === undefined) fields.segment = seg.id;
    return runCommand(hub, lang(), 'cue_standby', fields);
  }

  async function cueCommand(type, cue) {
    if (busy.has(cue.id)) return;
    busy.add(cue.id);
    render();
    await runCommand(hub, lang(), type, { cue: cue.id });
    busy.delete(cue.id);
    render();
  }

  // ---------- controls ----------

  $('cue-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = $('cue-text');
    const text = cleanText(input.value);
    if (!text) { input.focus(); return; }
    if (!enabled()) return;
    // The chair types once: the same words go to every language.
    const ack = await standby({ target: $('cue-target').value, text: { zh: text, ja: text, en: text } });
    if (ack) input.value = '';
  });

  $('cue-presets').addEventListener('click', (e) => {
    const button = e.target.closest('button.cue-preset');
    if (button && !button.disabled && enabled()) standby({ preset: button.dataset.preset });
  });

  /** Standby for each planned cue of the segment that is not already open. */
  async function standbyPlanned() {
    const p = plannedSegment();
    if (!p || !enabled() || sendingPlanned) return;
    const todo = (p.seg.cues || []).filter((c) => !openFor(c, p.index));
    if (!todo.length) {
      if ((p.seg.cues || []).length) showMessage(t(lang(), 'cue_planned_open'), 'info', 4000);
      return;
    }
    sendingPlanned = true;
    render();
    const sent = todo.map((c) => {
      const fields = { target: c.target, text: c.text, segment: p.seg.id };
      if (c.preset) fields.preset = c.preset;
      return hub.send('cue_standby', fields);
    });
    const results = await Promise.allSettled(sent);
    sendingPlanned = false;
    const L = lang();
    const errors = results.filter((r) => r.status === 'rejected').map((r) => `${r.reason.code}: ${r.reason.message}`);
    const warnings = [...new Set(results.filter((r) => r.status === 'fulfilled' && r.value.warning)
      .map((r) => warningText(L, r.value.warning)))];
    if (errors.length) showMessage([...new Set(errors)].join(' · '));
    else if (warnings.length) showMessage(warnings.join(' · '), 'warning');
    render();
  }
  $('btn-cue-planned').addEventListener('click', standbyPlanned);

  list.addEventListener('click', (e) => {
    const button = e.target.closest('button[data-action]');
    if (!button || button.disabled) return;
    const id = Number(button.closest('li.cue').dataset.cueId);
    const cue = cues().find((c) => c.id === id);
    if (cue) cueCommand(button.dataset.action === 'go' ? 'cue_go' : 'cue_cancel', cue);
  });

  /** GO on the oldest cue standing by; if none answered yet, the oldest on standby. */
  function goOldest() {
    if (!enabled()) return;
    const open = cues().filter((c) => !busy.has(c.id)).sort((a, b) => a.id - b.id);
    const cue = open.find((c) => c.state === 'standing_by') || open.find((c) => c.state === 'standby');
    if (cue) cueCommand('cue_go', cue);
  }

  // ---------- drawing ----------

  /** "standing by · Wang · 3.2 s", then what happened after. */
  function answerText(cue, L) {
    const parts = [];
    if (cue.standing_by) {
      parts.push(t(L, 'cue_answer', { name: cue.standing_by.by, s: seconds(cue.standing_by.at - cue.standby.at) }));
    }
    if (cue.cancelled) parts.push(t(L, 'cue_cancelled_by', { name: cue.cancelled.by }));
    else if (cue.done) parts.push(t(L, 'cue_done_by', { name: cue.done.by }));
    else if (cue.go) parts.push(t(L, 'cue_went', { name: cue.go.by }));
    return parts.join(' · ');
  }

  function cueItem(cue, L, tz) {
    const open = !cueClosed(cue);
    const pos = typeof cue.target === 'string' ? cue.target : 'person';
    const li = el('li', { class: `cue${open ? '' : ' closed'}`, data: { cueId: String(cue.id), state: cue.state } },
      el('div', { class: 'cue-body' },
        el('div', { class: 'cue-line' },
          el('span', { class: 'cue-state', text: t(L, `cue_state_${cue.state}`) }),
          el('span', { class: `cue-target target-${pos}`, text: targetName(L, cue.target) }),
          el('span', { class: 'cue-text', text: localized(cue.text, L) })),
        el('span', { class: 'cue-answer muted', text: answerText(cue, L) }),
        el('span', { class: 'cue-wait muted' }),
        el('span', { class: 'cue-overdue-text', attrs: { role: 'status' } }),
        el('span', { class: 'cue-given muted', text: `${cue.standby.by} · ${fmtClock(cue.standby.at, tz, L, { seconds: true })}` })));
    if (open) {
      li.append(el('div', { class: 'cue-actions' },
        el('button', { class: 'go', text: t(L, 'btn_go'), data: { action: 'go' }, attrs: { type: 'button' } }),
        el('button', { class: 'cancel', text: t(L, 'btn_cancel'), data: { action: 'cancel' }, attrs: { type: 'button' } })));
    }
    return li;
  }

  function renderList(s, L, ok) {
    const all = s.cues || [];
    const open = all.filter((c) => !cueClosed(c)).sort((a, b) => a.id - b.id);
    const closedAt = (c) => (c.done || c.cancelled).at;
    const closed = all.filter(cueClosed).sort((a, b) => closedAt(b) - closedAt(a) || b.id - a.id).slice(0, SHOW_CLOSED);
    keyedList(list, [...open, ...closed], (c) => c.id, (c) => JSON.stringify([c, L]), (c) => cueItem(c, L, s.event.time_zone));
    for (const li of list.children) {
      const id = Number(li.dataset.cueId), state = li.dataset.state;
      const go = li.querySelector('button.go'), cancel = li.querySelector('button.cancel');
      if (go) go.disabled = !ok || busy.has(id) || !(state === 'standby' || state === 'standing_by');
      if (cancel) cancel.disabled = !ok || busy.has(id);
    }
    $('cue-empty').hidden = open.length > 0;
  }

  function renderPlanned(s, L, ok) {
    const p = plannedSegment();
    const planned = p ? p.seg.cues || [] : [];
    setText($('cue-planned-label'), p ? t(L, 'cue_planned_of', { title: localized(p.seg.title, L) }) : t(L, 'cue_planned'));
    const key = JSON.stringify([planned, L, p && p.index, planned.map((c) => openFor(c, p.index))]);
    redrawIf($('cue-planned-list'), key, () => (planned.length ? planned.map((c) => {
      const pos = typeof c.target === 'string' ? c.target : 'person';
      return el('li', { class: openFor(c, p.index) ? 'given' : '' },
        el('span', { class: `cue-target target-${pos}`, text: targetName(L, c.target) }),
        el('span', { text: localized(c.text, L) }));
    }) : [el('li', { class: 'muted', text: t(L, 'cue_planned_none') })]));
    $('btn-cue-planned').disabled = !ok || sendingPlanned || !planned.some((c) => !openFor(c, p.index));
  }

  function renderPresets(s, L, ok) {
    const presets = s.cue_presets || [];
    redrawIf($('cue-presets'), JSON.stringify([presets, L]), () => presets.map((pr) => el('button', {
      class: `cue-preset target-${typeof pr.target === 'string' ? pr.target : 'person'}`,
      data: { preset: pr.id }, attrs: { type: 'button', title: targetName(L, pr.target) },
    }, el('span', { class: 'cue-preset-target', text: targetName(L, pr.target) }), el('span', { text: localized(pr.text, L) }))));
    for (const b of $('cue-presets').children) b.disabled = !ok;
    $('cue-presets-row').hidden = presets.length === 0;
  }

  function render() {
    const s = hub.state;
    if (!s) return;
    const L = lang(), ok = enabled();
    for (const id of ['cue-target', 'cue-text', 'btn-cue-standby']) $(id).disabled = !ok;
    renderPresets(s, L, ok);
    renderPlanned(s, L, ok);
    renderList(s, L, ok);
    tick(hub.serverNow());
  }

  /** Unanswered standbys: how long they wait, and a warning past event.standby_alert_ms. */
  function tick(now) {
    const s = hub.state;
    if (!s) return;
    const L = lang();
    const alertMs = s.event.standby_alert_ms ?? 10_000;
    const byId = new Map(cues().map((c) => [c.id, c]));
    let overdue = 0;
    for (const li of list.children) {
      const cue = byId.get(Number(li.dataset.cueId));
      const waiting = cue && cue.state === 'standby';
      const age = waiting ? now - cue.standby.at : 0;
      const late = waiting && age > alertMs;
      overdue += late ? 1 : 0;
      li.classList.toggle('overdue', late);
      setText(li.querySelector('.cue-wait'), waiting && !late ? `${t(L, 'cue_waiting')} · ${Math.floor(Math.max(0, age) / 1000)} s` : '');
      setText(li.querySelector('.cue-overdue-text'), late ? t(L, 'cue_overdue', { s: Math.floor(age / 1000) }) : '');
    }
    $('cue-panel').classList.toggle('has-overdue', overdue > 0);
  }

  return { render, tick, goOldest, standbyPlanned };
}
