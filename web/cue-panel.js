// The console's cue panel (#cue-panel): the open cues first, each with its segment, then give
// standby (typed text, a preset, or the segment's planned cues), watch the crew answer, call GO
// or cancel (docs/protocol.md "Cues"); and the cockpit's line naming the cue G will fire.

import { localized, fmtClock, cueClosed } from './client.js';
import { t } from './i18n.js';
import { $, el, setText, showMessage, runCommand, warningText, targetName, keyedList } from './ui.js';
import { redrawIf } from './queue-ui.js';

const SHOW_CLOSED = 5; // the latest closed cues stay at the foot of the list

const cleanText = (text) => [...String(text).replace(/\p{Cc}/gu, ' ').trim()].slice(0, 140).join('').trim();
const sameTarget = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const sameText = (a, b) => a && b && a.zh === b.zh && a.ja === b.ja && a.en === b.en;
const seconds = (ms) => (Math.max(0, ms) / 1000).toFixed(1);

// Shared with the cue screen (cues.js), so that the chair and the crew read the same words.

/** The segment a cue belongs to, by title; a cue of no segment belongs to the whole day. */
export function cueSegmentTitle(L, segments, cue) {
  const seg = cue.segment != null ? (segments || [])[cue.segment] : null;
  return seg ? localized(seg.title, L) : t(L, 'cue_segment_none');
}

/** "Closed with Opening ceremony" for a cue its segment's end cancelled, else null. */
export function cueClosedWith(L, segments, cue) {
  return cue.reason === 'segment_ended' ? t(L, 'cue_closed_with', { title: cueSegmentTitle(L, segments, cue) }) : null;
}

/** "[Video] Slides": who a cue is for and what it says, as the cockpit and the toast name it. */
export const cueName = (L, cue) => `[${targetName(L, cue.target)}] ${localized(cue.text, L)}`;

/**
 * createCuePanel({hub, lang, canControl, connected}) → {render(), tick(now), goNext(), standbyPlanned()}.
 */
export function createCuePanel({ hub, lang, canControl, connected }) {
  const list = $('cue-list');
  const busy = new Set(); // cue ids with a command awaiting its reply
  let sendingPlanned = false;

  const enabled = () => Boolean(hub.state) && connected() && canControl();
  const cues = () => (hub.state && hub.state.cues) || [];
  /**
   * The current segment: the one live, or before the start the first one; none after the end.
   * The chair's cues belong to it, C gives its planned cues and G fires only its cues.
   */
  const currentSegment = () => {
    const s = hub.state;
    if (!s) return null;
    if (s.live.phase === 'live') return { seg: s.segments[s.live.segment], index: s.live.segment };
    if (s.live.phase === 'standby' && s.segments.length) return { seg: s.segments[0], index: 0 };
    return null;
  };
  const openFor = (planned, index) => cues().some((c) => !cueClosed(c) && c.segment === index
    && sameTarget(c.target, planned.target) && sameText(c.text, planned.text));

  /**
   * The open cues back in sight: the tools that give standby sit below the queue, and a cue
   * given from there must not land in a list scrolled away under the cockpit.
   */
  const showList = () => $('cue-panel').scrollIntoView({ block: 'nearest' });

  async function standby(fields) {
    const p = currentSegment();
    if (p && fields.segment === undefined) fields.segment = p.seg.id;
    const ack = await runCommand(hub, lang(), 'cue_standby', fields);
    if (ack) showList();
    return ack;
  }

  /** Sends `type` for `cue`; resolves with the ack, or null when refused or already under way. */
  async function cueCommand(type, cue) {
    if (busy.has(cue.id)) return null;
    busy.add(cue.id);
    render();
    const ack = await runCommand(hub, lang(), type, { cue: cue.id });
    busy.delete(cue.id);
    render();
    return ack;
  }

  /** GO, then a toast naming the cue that went, so that nobody has to guess which one it was. */
  async function go(cue) {
    const ack = await cueCommand('cue_go', cue);
    if (!ack) return;
    const L = lang(), fired = t(L, 'cue_fired', { what: cueName(L, cue) });
    if (ack.warning) showMessage(`${fired} · ${warningText(L, ack.warning)}`, 'warning');
    else showMessage(fired, 'info', 4000);
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
    const p = currentSegment();
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
    if (results.some((r) => r.status === 'fulfilled')) showList();
    render();
  }
  $('btn-cue-planned').addEventListener('click', standbyPlanned);

  list.addEventListener('click', (e) => {
    const button = e.target.closest('button[data-action]');
    if (!button || button.disabled) return;
    const id = Number(button.closest('li.cue').dataset.cueId);
    const cue = cues().find((c) => c.id === id);
    if (!cue) return;
    if (button.dataset.action === 'go') go(cue);
    else cueCommand('cue_cancel', cue);
  });

  /**
   * The cue G fires: of the current segment's cues that stand by (the crew answered), the
   * oldest; none when none does. A cue nobody answered, of another segment or of the whole
   * day goes only by its own GO button, never by a key pressed with it out of sight.
   */
  function nextToGo() {
    const p = currentSegment();
    if (!p) return null;
    return cues().filter((c) => c.state === 'standing_by' && c.segment === p.index && !busy.has(c.id))
      .sort((a, b) => a.id - b.id)[0] || null;
  }

  function goNext() {
    if (!enabled()) return;
    const cue = nextToGo();
    if (cue) go(cue);
    else showMessage(t(lang(), 'cue_go_none'), 'info', 4000);
  }

  // ---------- drawing ----------

  /** "standing by · Wang · 3.2 s", then what happened after. */
  function answerText(cue, L) {
    const parts = [];
    if (cue.standing_by) {
      parts.push(t(L, 'cue_answer', { name: cue.standing_by.by, s: seconds(cue.standing_by.at - cue.standby.at) }));
    }
    const closedWith = cueClosedWith(L, hub.state.segments, cue);
    if (closedWith) parts.push(closedWith);
    else if (cue.cancelled) parts.push(t(L, 'cue_cancelled_by', { name: cue.cancelled.by }));
    else if (cue.done) parts.push(t(L, 'cue_done_by', { name: cue.done.by }));
    else if (cue.go) parts.push(t(L, 'cue_went', { name: cue.go.by }));
    return parts.join(' · ');
  }

  function cueItem(cue, L, s) {
    const tz = s.event.time_zone;
    const open = !cueClosed(cue);
    const pos = typeof cue.target === 'string' ? cue.target : 'person';
    const li = el('li', { class: `cue${open ? '' : ' closed'}`, data: { cueId: String(cue.id), state: cue.state } },
      el('div', { class: 'cue-body' },
        el('div', { class: 'cue-line' },
          el('span', { class: 'cue-g', text: 'G', attrs: { title: t(L, 'key_cue_go') } }),
          el('span', { class: 'cue-state', text: t(L, `cue_state_${cue.state}`) }),
          el('span', { class: `cue-target target-${pos}`, text: targetName(L, cue.target) }),
          el('span', { class: 'cue-text', text: localized(cue.text, L) })),
        // One small line under it: where the cue belongs, the crew's answer, who gave it when.
        el('div', { class: 'cue-meta-line' },
          el('span', { class: `cue-seg${cue.segment == null ? ' whole-day' : ''}`, text: cueSegmentTitle(L, s.segments, cue) }),
          el('span', { class: 'cue-overdue-text', attrs: { role: 'status' } }),
          el('span', { class: 'cue-answer muted', text: answerText(cue, L) }),
          el('span', { class: 'cue-wait muted' }),
          el('span', { class: 'cue-given muted', text: `${cue.standby.by} · ${fmtClock(cue.standby.at, tz, L, { seconds: true })}` }))));
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
    const drawn = (c) => JSON.stringify([c, L, cueSegmentTitle(L, s.segments, c)]);
    keyedList(list, [...open, ...closed], (c) => c.id, drawn, (c) => cueItem(c, L, s));
    const next = nextToGo();
    for (const li of list.children) {
      const id = Number(li.dataset.cueId), state = li.dataset.state;
      li.classList.toggle('g-next', Boolean(next) && next.id === id);
      const go = li.querySelector('button.go'), cancel = li.querySelector('button.cancel');
      if (go) go.disabled = !ok || busy.has(id) || !(state === 'standby' || state === 'standing_by');
      if (cancel) cancel.disabled = !ok || busy.has(id);
    }
    $('cue-empty').hidden = open.length > 0;
  }

  /** The cockpit's line: which cue G fires now, or that it fires none. */
  function renderCockpit(L) {
    const cue = nextToGo();
    const line = $('ck-go');
    setText(line, cue ? t(L, 'ck_go', { what: cueName(L, cue) }) : t(L, 'ck_go_none'));
    line.dataset.ready = cue ? 'yes' : 'no';
    line.title = t(L, 'key_cue_go');
  }

  function renderPlanned(s, L, ok) {
    const p = currentSegment();
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
    renderCockpit(L);
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

  return { render, tick, goNext, standbyPlanned };
}
