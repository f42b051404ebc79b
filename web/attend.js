// The attendee view (remote or in the room, phone first): what runs now, who speaks, what is next.

import {
  connectHub, timing, localized, preferredLang, readFragment, load, save, cleanName,
} from './client.js';
import { applyLabels } from './i18n.js';
import {
  $, setText, showMessage, renderStatus, setupLang, markBody, renderNow, drawCountdown,
} from './ui.js';

const frag = readFragment();
let lang = preferredLang(frag);
let status = 'connecting', statusDetail;
let hub = null;

setupLang(lang, (picked) => {
  lang = picked;
  save('hub.lang', picked); // remembered even before the first connection
  if (hub) hub.setLang(picked);
  applyLabels(picked);
  renderStatus(lang, status, statusDetail);
  render();
});
renderStatus(lang, status);
addEventListener('hashchange', () => location.reload());

const MODES = ['in_room', 'remote'];
const storedMode = MODES.includes(load('hub.mode')) ? load('hub.mode') : null;
const mode = frag.mode || storedMode || 'remote';
const knownName = cleanName(frag.name) || cleanName(load('hub.name'));

if (!frag.event || !frag.token) {
  status = 'closed';
  statusDetail = { code: 'missing_fragment', message: 'the page address needs #event=…&token=…' };
  renderStatus(lang, status, statusDetail);
} else if (knownName) {
  start(knownName, mode);
} else {
  askName();
}

/** The first visit: a small form for the display name (and in-room or remote). */
function askName() {
  const form = $('name-form');
  const input = $('name-input');
  for (const radio of form.elements.mode) radio.checked = radio.value === mode;
  form.hidden = false;
  $('view').hidden = true;
  input.focus();
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (hub) return;
    const name = cleanName(input.value);
    if (!name) { input.focus(); return; }
    const picked = MODES.includes(form.elements.mode.value) ? form.elements.mode.value : mode;
    save('hub.name', name);
    save('hub.mode', picked);
    form.hidden = true;
    $('view').hidden = false;
    start(name, picked);
  });
}

function start(name, pickedMode) {
  $('name-form').hidden = true;
  hub = connectHub({
    name, mode: pickedMode, lang,
    onWelcome: render,
    onChange: render,
    onStatus: (s, detail) => {
      status = s; statusDetail = detail;
      renderStatus(lang, s, detail);
    },
    onError: (err) => showMessage(`${err.code}: ${err.message}`),
  });
  setInterval(tick, 100);
}

function render() {
  const s = hub && hub.state;
  if (!s) return;
  markBody(hub);
  const title = localized(s.event.title, lang);
  setText($('event-title'), title);
  document.title = title;
  setText($('venue'), localized(s.event.venue, lang));
  renderNow(s, lang);
  tick();
}

/** Countdown from the synchronized clock: nothing is needed from the server while a segment runs. */
function tick() {
  const s = hub && hub.state;
  if (!s) return;
  drawCountdown(timing(s, hub.serverNow()), lang);
}
