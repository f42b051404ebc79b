// What a managed screen (stage, cues, captions, hall) does when the chair tells it to
// (docs/protocol.md, "Screens"): show its name big for a while, take a new name, or open
// another view; the last two rewrite the screen's own address, keeping its token, so that a
// reload or a restarted kiosk stays where the chair put it.

import { el } from './ui.js';

/** The view settings a chair may change, as the page's address carries them. */
const VIEW_KEYS = ['lang', 'speaker', 'captions', 'tracks', 'crew', 'second'];

/** The page's fragment as ordered [key, value] pairs. */
function fragmentPairs() {
  return location.hash.replace(/^#/, '').split('&').filter(Boolean).map((part) => {
    const i = part.indexOf('=');
    if (i <= 0) return [part, ''];
    try { return [part.slice(0, i), decodeURIComponent(part.slice(i + 1))]; } catch { return [part.slice(0, i), '']; }
  });
}

/** This screen's view settings, for its hello: the keys a chair may change, as they are now. */
export function screenView() {
  return Object.fromEntries(fragmentPairs().filter(([k, v]) => VIEW_KEYS.includes(k) && v !== ''));
}

/** The address with `changes` applied to its fragment (an empty value drops the key). */
function addressWith(changes, page) {
  const pairs = fragmentPairs().filter(([k]) => !(k in changes));
  for (const [k, v] of Object.entries(changes)) if (v !== '') pairs.push([k, v]);
  const hash = pairs.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
  return `${page ? `/${page}` : location.pathname}#${hash}`;
}

let shown = null;

/** Acts on one `directive` frame. */
export function obeyDirective(frame) {
  if (frame.do === 'identify') {
    if (shown) shown.remove();
    const name = el('span', { class: 'screen-identify-name', text: String(frame.name || '') });
    shown = el('div', { class: 'screen-identify', attrs: { id: 'screen-identify', role: 'alert' } }, name);
    // Styled here: the hall's screens load none of the console's style sheets.
    Object.assign(shown.style, {
      position: 'fixed', inset: '0', zIndex: '1000', display: 'flex', alignItems: 'center',
      justifyContent: 'center', background: '#0050d0', color: '#fff', padding: '4vh 4vw',
    });
    Object.assign(name.style, {
      fontSize: 'min(16vh, 10vw)', fontWeight: '900', textAlign: 'center', overflowWrap: 'anywhere',
      fontFamily: 'system-ui, sans-serif',
    });
    document.body.append(shown);
    const mine = shown;
    setTimeout(() => { mine.remove(); if (shown === mine) shown = null; }, Number(frame.ms) || 5000);
  } else if (frame.do === 'rename' && typeof frame.name === 'string') {
    reopen(addressWith({ name: frame.name }));
  } else if (frame.do === 'view' && frame.view && typeof frame.view === 'object') {
    const changes = Object.fromEntries(Object.entries(frame.view).filter(([k]) => VIEW_KEYS.includes(k)).map(([k, v]) => [k, String(v)]));
    reopen(addressWith(changes, typeof frame.page === 'string' ? frame.page : null));
  }
}

/** Opens `address` for good: another page is navigated to; the same page with another
 * fragment is reloaded, since a changed fragment alone does not restart every page. */
function reopen(address) {
  if (!address.startsWith(`${location.pathname}#`)) { location.replace(address); return; }
  history.replaceState(null, '', address);
  location.reload();
}
