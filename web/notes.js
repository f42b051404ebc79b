// Notes to the chair (/notes): the green room's and the stage crew's phone page (a speaker,
// AV or captioner token). One tap sends a preset of the plan ("Next speaker ready"), or a few
// typed words; each note shows whether the chair has read it, and who, and when.

import { localized, preferredLang, readFragment } from './client.js';
import { t } from './i18n.js';
import { $, setText, startPage, markBody, showMessage, errorText } from './ui.js';
import { createNoteSender } from './notes-ui.js';

const frag = readFragment();
let lang = preferredLang(frag);
let notes = null; // made once the hub is
const page = startPage({ lang, render, onLang: (picked) => { lang = picked; } });
const hub = page.connect({
  name: frag.name || t(lang, 'default_name_notes'),
  mode: frag.mode || 'in_room',
  onWelcome: render,
  onChange: render,
});
notes = createNoteSender($('notes-panel'), {
  hub, lang: () => lang, connected: () => page.status === 'connected',
  showError: (err) => showMessage(errorText(lang, err)),
});

function render() {
  const s = hub && hub.state;
  if (!s) return;
  markBody(hub);
  const title = localized(s.event.title, lang);
  setText($('event-title'), `${t(lang, 'notes_to_chair')} · ${title}`);
  document.title = `${t(lang, 'notes_to_chair')} — ${title}`;
  const seg = s.live.phase === 'live' ? s.segments[s.live.segment] : null;
  setText($('current-title'), seg ? localized(seg.title, lang) : t(lang, s.live.phase === 'ended' ? 'ended' : 'standby'));
  if (notes) notes.render();
}
