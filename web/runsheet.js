// The run sheet (/runsheet, a chair's or the crew's token): the plan as a page to print for
// the crew's clipboards, A4 from the browser's "save as PDF": planned times (and the
// expected ones once the show runs late or early), speakers with their languages, AV notes
// and the planned cues by crew position, in the page's language (`&lang=ja`). It follows
// plan edits while open. A screen, not a person: it is not counted among those here.

import { connectHub, fmtClock, localized, preferredLang, readFragment, timing, zoneCity } from './client.js';
import { t, kindName, applyLabels } from './i18n.js';
import { $, el, setText, renderStatus, targetName } from './ui.js';

const lang = preferredLang(readFragment());
document.documentElement.lang = lang === 'zh' ? 'zh-Hans' : lang;
applyLabels(lang);

const hub = connectHub({
  name: t(lang, 'rs_name'), mode: 'in_room', screen: true, lang,
  onWelcome: render,
  onChange: render,
  onStatus: (status, detail) => renderStatus(lang, status, detail),
});

$('btn-print').addEventListener('click', () => window.print());

/** When each segment is expected to start, as the show runs now; null before it starts. */
function expectedStarts(s, now) {
  const live = s.live;
  if (!live || live.phase !== 'live' || live.segment == null) return s.segments.map(() => null);
  const tm = timing(s, now);
  let at = now + Math.max(tm.remaining_ms ?? 0, 0);
  return s.segments.map((seg, i) => {
    if (i <= live.segment) return null;
    const start = at;
    at += seg.duration_ms || 0;
    return start;
  });
}

function speakerLine(sp) {
  const parts = [localized(sp.name, lang)];
  if (sp.lang) parts.push(sp.lang.toUpperCase());
  if (sp.mode) parts.push(t(lang, sp.mode));
  if (sp.duration_ms) parts.push(t(lang, 'rs_minutes', { n: Math.round(sp.duration_ms / 60000) }));
  return el('li', { text: parts.join(' · ') });
}

function row(s, seg, expected) {
  const zone = s.event.time_zone;
  const clock = (ms) => fmtClock(ms, zone, lang);
  const start = seg.planned_start;
  const late = expected != null && Math.abs(expected - start) >= 60000;
  const time = el('td', { class: 'rs-time' },
    el('span', { class: 'rs-clock', text: `${clock(start)}–${clock(start + seg.duration_ms)}` }),
    late ? el('span', { class: 'rs-expected', text: t(lang, 'rs_expected', { time: clock(expected) }) }) : null);
  const chair = seg.chair ? el('p', { class: 'rs-chair', text: `${t(lang, 'chair')}: ${localized(seg.chair, lang)}` }) : null;
  const segment = el('td', { class: 'rs-segment' },
    el('p', { class: 'rs-seg-title', text: localized(seg.title, lang) }),
    el('p', { class: 'rs-kind', text: `${kindName(lang, seg.kind)} · ${t(lang, 'rs_minutes', { n: Math.round(seg.duration_ms / 60000) })}` }),
    chair);
  const speakers = el('td', { class: 'rs-speakers' }, el('ul', {}, ...(seg.speakers || []).map(speakerLine)));
  const cues = (seg.cues || []).map((cue) => el('li', {},
    el('strong', { text: `${targetName(lang, cue.target)}: ` }), el('span', { text: localized(cue.text, lang) })));
  const av = el('td', { class: 'rs-av' },
    seg.av_notes ? el('p', { class: 'rs-notes', text: seg.av_notes }) : null,
    cues.length ? el('ul', { class: 'rs-cues' }, ...cues) : null);
  return el('tr', { data: { segment: seg.id } }, time, segment, speakers, av);
}

function render() {
  const s = hub.state;
  if (!s) return;
  const title = localized(s.event.title, lang);
  document.title = `${t(lang, 'rs_name')} — ${title}`;
  setText($('event-title'), title);
  const day = new Intl.DateTimeFormat(lang, { dateStyle: 'full', timeZone: s.event.time_zone }).format(s.event.planned_start);
  setText($('event-where'), `${localized(s.event.venue, lang)} · ${day} · ${zoneCity(s.event.time_zone)}`);
  const now = hub.serverNow();
  const expected = expectedStarts(s, now);
  $('rows').replaceChildren(...s.segments.map((seg, i) => row(s, seg, expected[i])));
  setText($('printed'), t(lang, 'rs_printed', { time: fmtClock(now, s.event.time_zone, lang), version: s.plan_version }));
}
