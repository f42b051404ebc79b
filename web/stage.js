// The speaker's confidence screen (/stage, role speaker): the page wiring around the shared
// stage view (stage-view.js), which draws the clock, the chair's message and who speaks.
// `&speaker=K` in the address makes it the screen of speaker K (an index in the current
// segment): a message aimed at another speaker is not shown here. Without it, it serves
// whoever is speaking. `&second=ja` picks the second language of the chair's messages.
// `&captions=ja` shows the latest caption line of that track under the countdown.
// The audience's question the chair put on screen shows under the clock too.

import { localized, preferredLang, readFragment, TRACKS } from './client.js';
import { t } from './i18n.js';
import { $, el, setText, startPage, markBody } from './ui.js';
import { createStageView } from './stage-view.js';
import { drawHighlight } from './voice-ui.js';
import { obeyDirective, screenView } from './screen-directive.js';

const frag = readFragment();
let lang = preferredLang(frag);
const extra = Object.fromEntries(location.hash.replace(/^#/, '').split('&').map((p) => p.split('=')));
const serves = /^\d{1,3}$/.test(extra.speaker ?? '') ? Number(extra.speaker) : null;
const captionTrack = TRACKS.includes(extra.captions) ? extra.captions : null;

const view = createStageView($('stage-view'), {
  lang: () => lang, second: () => extra.second, serves: () => serves, ids: true,
});
// The caption line sits right under the clock, where the speaker already looks.
const captionLine = el('p', { class: 'stage-caption', attrs: { id: 'stage-caption', 'aria-live': 'polite' } });
captionLine.hidden = true;
if (captionTrack && captionTrack !== 'floor') captionLine.lang = captionTrack;
$('countdown').after(captionLine);
// The question the chair put on screen goes under the clock (and its caption line); the
// clock shrinks to make room for it rather than being pushed out of the screen.
const questionBox = el('section', { class: 'stage-question', attrs: { id: 'stage-question', 'aria-live': 'polite' } });
questionBox.hidden = true;
captionLine.after(questionBox);
const page = startPage({
  lang, render, onLang: (picked) => { lang = picked; }, captions: () => captionTrack,
});
const hub = page.connect({
  page: 'stage', view: screenView(), onDirective: obeyDirective,
  name: frag.name || t(lang, 'default_name_stage'),
  screen: true,
  mode: frag.mode || 'in_room',
  captions: captionTrack,
  onCaption: drawCaption,
  onWelcome: render,
  onChange: render,
});

function render() {
  const s = hub.state;
  if (!s) return;
  markBody(hub);
  document.title = `${t(lang, 'stage_screen')} — ${localized(s.event.title, lang)}`;
  const live = s.live;
  const seg = live.phase === 'live' ? s.segments[live.segment] : null;
  const sp = seg && serves != null ? (seg.speakers || [])[serves] : null;
  setText($('serves'), serves == null ? '' : t(lang, 'stage_serves', { name: sp ? localized(sp.name, lang) : `#${serves + 1}` }));
  view.render(s, hub.serverNow());
  drawHighlight(questionBox, s, lang);
  $('stage-view').classList.toggle('has-question', !questionBox.hidden);
  document.body.dataset.level = $('stage-view').dataset.level || 'normal';
}

function drawCaption(captions) {
  const lines = captions && captions.track === captionTrack ? captions.lines : [];
  const lastLine = lines[lines.length - 1];
  captionLine.hidden = !lastLine;
  captionLine.classList.toggle('partial', Boolean(lastLine && lastLine.final === false));
  setText(captionLine, lastLine ? lastLine.text : '');
}

setInterval(() => {
  if (!hub.state) return;
  view.tick(hub.state, hub.serverNow());
  const level = $('stage-view').dataset.level || 'normal';
  if (document.body.dataset.level !== level) document.body.dataset.level = level;
}, 100);
