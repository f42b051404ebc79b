// The hall's side screens (/captions, a display token): one or two caption tracks stacked,
// `#event=…&token=…&tracks=zh,ja`, in huge type on black, the last few lines of each.
// Each track is a websocket connection of its own, joined as a screen (not counted).

import { connectHub, localized, readFragment, TRACKS } from './client.js';
import { t, LANGS } from './i18n.js';
import { $, el, setText, keyedList, renderStatus } from './ui.js';
import { obeyDirective, screenView } from './screen-directive.js';

const SHOWN = 3; // lines per band: a side screen is read at a glance
const frag = readFragment();
const extra = Object.fromEntries(location.hash.replace(/^#/, '').split('&').map((p) => p.split('=')));
const tracks = [...new Set(String(extra.tracks || frag.lang || 'en').split(',').filter((tr) => TRACKS.includes(tr)))].slice(0, 2);
if (!tracks.length) tracks.push('en');
// The screen's own words (status, "no captions yet") in its first language track.
const lang = LANGS.includes(tracks[0]) ? tracks[0] : 'en';
document.body.dataset.tracks = tracks.join(',');
document.documentElement.lang = lang === 'zh' ? 'zh-Hans' : lang;

const bands = tracks.map((track, index) => {
  const lines = el('ol', { class: 'cap-band-lines', attrs: { 'aria-live': 'polite' } });
  const empty = el('p', { class: 'cap-band-empty', text: t(LANGS.includes(track) ? track : lang, 'cap_waiting') });
  const node = el('section', { class: 'cap-band', data: { track }, attrs: { id: `band-${track}` } },
    el('span', { class: 'cap-band-name', text: bandName(track, '') }), lines, empty);
  if (track !== 'floor') node.lang = track;
  $('bands').append(node);
  const band = { track, node, lines, empty, status: 'connecting', hub: null };
  // The first band's connection stands for the screen in the chair's list of screens.
  const managed = index === 0 ? { page: 'captions', view: screenView(), onDirective: obeyDirective } : {};
  band.hub = connectHub({
    ...managed,
    name: frag.name || `Caption screen (${track})`, mode: 'in_room', screen: true, captions: track,
    lang: LANGS.includes(track) ? track : lang,
    onCaption: () => draw(band),
    onWelcome: () => draw(band),
    onStatus: (status, detail) => { band.status = status; band.detail = detail; showStatus(); },
  });
  return band;
});
document.body.classList.toggle('two', bands.length === 2);

/** The page is connected when every band is; closed when any band is closed for good. */
function showStatus() {
  const order = ['closed', 'reconnecting', 'connecting', 'connected'];
  const worst = bands.reduce((w, b) => (order.indexOf(b.status) < order.indexOf(w.status) ? b : w), bands[0]);
  renderStatus(lang, worst.status, worst.detail);
  document.body.dataset.state = worst.status;
}

function draw(band) {
  const { lines: all = [] } = band.hub.captions || {};
  const shown = all.slice(-SHOWN);
  keyedList(band.lines, shown, (l) => l.seq, (l) => JSON.stringify([l.text, l.final]), (l) => el('li', {
    class: l.final === false ? 'cap-band-line partial' : 'cap-band-line', data: { seq: l.seq },
  }, el('span', { text: l.text })));
  band.empty.hidden = shown.length > 0;
  const last = all[all.length - 1];
  const who = last && last.speaker ? localized(last.speaker.name, LANGS.includes(band.track) ? band.track : lang) : '';
  setText(band.node.querySelector('.cap-band-name'), bandName(band.track, who));
}

/** "日本語 · 張英": each band named in its own language (the floor's in the screen's). */
function bandName(track, who) {
  const name = t(LANGS.includes(track) ? track : lang, `track_${track}`);
  return who ? `${name} · ${who}` : name;
}
