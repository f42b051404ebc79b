// The hall display (/wall, a display token; 1920×1080): in huge type, the audience's question
// the chair put on screen and who asked it (unless anonymous), and a poll's results once the
// chair shows them; with neither, the event's title and the segment running now. A screen,
// not a person: it is not counted among those here. `&lang=ja` picks its language.

import { connectHub, localized, preferredLang, readFragment } from './client.js';
import { t } from './i18n.js';
import { $, el, setText, renderStatus, markBody } from './ui.js';
import { drawHighlight, pollBars, pollNote } from './voice-ui.js';
import { obeyDirective, screenView } from './screen-directive.js';
import { brand } from './booth-ui.js';

const lang = preferredLang(readFragment());
document.documentElement.lang = lang === 'zh' ? 'zh-Hans' : lang;

const hub = connectHub({
  page: 'wall', view: screenView(), onDirective: obeyDirective,
  name: t(lang, 'wall_name'), mode: 'in_room', screen: true, lang,
  onWelcome: render,
  onChange: render,
  onStatus: (status, detail) => {
    renderStatus(lang, status, detail);
    document.body.dataset.state = status;
  },
});

/** The poll whose results the chair shows: the latest opened or closed of those shown. */
function shownPoll(state) {
  const at = (p) => Math.max(p.opened_at || 0, p.closed_at || 0);
  return state.polls.polls.filter((p) => p.shown && p.counts).sort((a, b) => at(b) - at(a))[0] || null;
}

function drawPoll(node, poll) {
  node.hidden = !poll;
  const key = poll ? JSON.stringify([poll, lang]) : '';
  if (node.dataset.key === key) return;
  node.dataset.key = key;
  if (!poll) { node.replaceChildren(); return; }
  node.dataset.poll = poll.id;
  node.replaceChildren(
    el('p', { class: 'wall-poll-head' },
      el('span', { text: t(lang, 'wall_results') }),
      poll.state === 'open' ? el('span', { class: 'wall-live', text: t(lang, 'wall_live') }) : null),
    el('p', { class: 'wall-poll-question', text: localized(poll.question, lang) }),
    pollBars(poll, lang),
    el('p', { class: 'wall-poll-voters', text: pollNote(poll, lang) }),
  );
}

function render() {
  const s = hub.state;
  if (!s) return;
  markBody(hub);
  const live = s.live;
  const seg = live.phase === 'live' ? s.segments[live.segment] : null;
  const title = localized(s.event.title, lang);
  document.title = `${t(lang, 'wall_name')} — ${title}`;
  const now = seg ? localized(seg.title, lang) : t(lang, live.phase === 'ended' ? 'ended' : 'standby');
  setText($('event-title'), title);
  setText($('current-title'), now);
  brand(document.body, $('wall-logo'), s.branding);
  drawHighlight($('wall-question'), s, lang);
  const poll = shownPoll(s);
  drawPoll($('wall-poll'), poll);
  const question = !$('wall-question').hidden;
  document.body.dataset.show = question && poll ? 'both' : question ? 'question' : poll ? 'poll' : 'idle';
  $('wall-idle').hidden = question || Boolean(poll);
  setText($('idle-event'), title);
  setText($('idle-venue'), localized(s.event.venue, lang));
  setText($('idle-now'), seg ? `${t(lang, 'now')} · ${now}` : now);
}
