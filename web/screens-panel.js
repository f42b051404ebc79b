// The console's screens (#screens-panel): every stage, cue, caption and hall screen joined
// now, with its name, page, language, view settings, address and since when (from
// GET /api/v1/events/{event}/screens, read every few seconds while the console is open);
// each can be told to show its name big for 5 s, to take a name, or to change its view (a
// stage screen to another speaker, a caption screen to other tracks, a cue screen to other
// crew positions, another language) without anyone touching it; and the event's short links
// (`/s/lectern`), made from a screen as it is now, or removed.

import { fmtClock, localized, CREW } from './client.js';
import { t, LANGS, LANG_NAMES } from './i18n.js';
import { $, el, setText, keyedList } from './ui.js';

const EVERY_MS = 3000;
const TRACK_CHOICES = ['zh', 'ja', 'en', 'floor', 'zh,ja', 'zh,en', 'ja,en'];

/** createScreensPanel({hub, lang, canControl, event, token, showError}) → {render()}. */
export function createScreensPanel({ hub, lang, canControl, event, token, showError }) {
  let screens = [];
  let links = [];
  const base = `/api/v1/events/${encodeURIComponent(event)}/screens`;
  const headers = { Authorization: `Bearer ${token}` };

  async function load() {
    if (!canControl() || document.hidden) return;
    try {
      const answer = await fetch(base, { headers, cache: 'no-store' });
      if (!answer.ok) return;
      const body = await answer.json();
      screens = Array.isArray(body.screens) ? body.screens : [];
      links = Array.isArray(body.short_links) ? body.short_links : [];
      render();
    } catch { /* offline: the next round tries again */ }
  }

  /** Sends the whole list of short links as a plan edit, then reads the list again. */
  async function saveLinks(next) {
    const s = hub.state;
    if (!s) return;
    try {
      await hub.send('plan_update_short_links', { plan_version: s.plan_version, short_links: next });
    } catch (err) {
      showError(err);
    }
    load();
  }
  const linkOf = (l) => ({ id: l.id, page: l.page, name: l.name ?? null, view: l.view || {} });

  async function act(action, args) {
    const query = new URLSearchParams(args).toString();
    try {
      const answer = await fetch(`${base}/${action}?${query}`, { method: 'POST', headers });
      if (!answer.ok) {
        const body = await answer.json().catch(() => ({}));
        showError({ code: body.code || 'internal', message: body.message || String(answer.status) });
      }
    } catch (err) {
      showError({ code: 'not_connected', message: String(err) });
    }
    setTimeout(load, 800); // a renamed or moved screen rejoins
  }

  /** The settings a chair may give a screen of `page`: a select each. */
  function viewChoices(screen, L) {
    const s = hub.state;
    const choices = [['lang', LANGS.map((l) => [l, LANG_NAMES[l]])]];
    if (screen.page === 'stage') {
      const seg = s && s.live.phase === 'live' ? s.segments[s.live.segment] : null;
      const speakers = ((seg && seg.speakers) || []).map((p, k) => [String(k), `${k + 1}. ${localized(p.name, L)}`]);
      choices.push(['speaker', [['', t(L, 'screens_whoever_speaks')], ...speakers]]);
    } else if (screen.page === 'captions') {
      choices.push(['tracks', TRACK_CHOICES.map((tr) => [tr, tr])]);
    } else if (screen.page === 'cues') {
      choices.push(['crew', [['', t(L, 'crew_all')], ...CREW.map((p) => [p, t(L, `crew_${p}`)])]]);
    }
    return choices;
  }

  function row(screen) {
    const L = lang();
    const id = String(screen.screen);
    const name = el('input', { class: 'scr-name', attrs: { type: 'text', maxlength: '80', value: screen.name, 'aria-label': t(L, 'screens_name') } });
    const rename = el('button', { class: 'scr-rename', attrs: { type: 'button' }, text: t(L, 'screens_rename') });
    rename.addEventListener('click', () => act('name', { screen: id, name: name.value.trim() }));
    const identify = el('button', { class: 'scr-identify primary', attrs: { type: 'button' }, text: t(L, 'screens_identify') });
    identify.addEventListener('click', () => act('identify', { screen: id }));
    const selects = viewChoices(screen, L).map(([key, options]) => {
      const select = el('select', { class: `scr-view scr-${key}`, data: { key }, attrs: { 'aria-label': t(L, `screens_view_${key}`) } },
        ...options.map(([value, label]) => el('option', { attrs: { value }, text: label })));
      select.value = key === 'lang' ? (screen.view.lang || screen.lang) : (screen.view[key] ?? '');
      return el('label', { class: 'scr-field' }, el('span', { class: 'label', text: t(L, `screens_view_${key}`) }), select);
    });
    const apply = el('button', { class: 'scr-apply', attrs: { type: 'button' }, text: t(L, 'screens_apply') });
    apply.addEventListener('click', () => {
      const args = { screen: id };
      for (const select of li.querySelectorAll('select.scr-view')) args[select.dataset.key] = select.value;
      act('view', args);
    });
    const linkId = el('input', { class: 'scr-link-id', attrs: { type: 'text', maxlength: '64', placeholder: 'lectern', 'aria-label': t(L, 'screens_link_id') } });
    const save = el('button', { class: 'scr-link-save', attrs: { type: 'button' }, text: t(L, 'screens_link_save') });
    save.addEventListener('click', () => {
      const id = linkId.value.trim();
      if (!id) { linkId.focus(); return; }
      const made = { id, page: screen.page, name: screen.name, view: screen.view };
      saveLinks([...links.filter((l) => l.id !== id).map(linkOf), made]);
    });
    const tz = hub.state ? hub.state.event.time_zone : 'UTC';
    const view = Object.entries(screen.view).map(([k, v]) => `${k}=${v}`).join(' · ');
    const li = el('li', { class: 'screen-row', data: { screen: id, page: screen.page } },
      el('div', { class: 'scr-head' },
        el('strong', { class: 'scr-title', text: screen.name }),
        el('span', { class: 'kind', text: `/${screen.page}` }),
        el('span', { class: 'muted', text: `${LANG_NAMES[screen.lang] || screen.lang}${view ? ` · ${view}` : ''}` }),
        el('span', { class: 'muted scr-where', text: `${screen.address} · ${t(L, 'screens_since', { time: fmtClock(screen.since, tz, L) })}` })),
      el('div', { class: 'scr-actions' }, identify, name, rename),
      el('div', { class: 'scr-actions' }, ...selects, apply),
      el('div', { class: 'scr-actions' }, el('span', { class: 'muted', text: '/s/' }), linkId, save));
    return li;
  }

  function render() {
    const L = lang();
    $('screens-panel').hidden = !canControl();
    setText($('screens-count'), screens.length ? String(screens.length) : '');
    keyedList($('screens-list'), screens, (s) => s.screen, (s) => JSON.stringify([s, L, hub.state && hub.state.live.segment]), row);
    $('screens-none').hidden = screens.length > 0;
    keyedList($('short-links'), links, (l) => l.id, (l) => JSON.stringify([l, L]), (l) => {
      const remove = el('button', { class: 'short-link-remove', attrs: { type: 'button', 'aria-label': t(L, 'screens_link_remove') }, text: '✕' });
      remove.addEventListener('click', () => saveLinks(links.filter((x) => x.id !== l.id).map(linkOf)));
      return el('span', { class: 'short-link', data: { link: l.id } },
        el('a', { attrs: { href: l.path, target: '_blank', rel: 'noopener' }, text: `${l.path}${l.name ? ` (${l.name})` : ''}` }), remove);
    });
  }

  setInterval(load, EVERY_MS);
  document.addEventListener('visibilitychange', load);
  return { render, load };
}
