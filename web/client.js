// The one shared client of the hub's websocket protocol (docs/protocol.md, version 1):
// join, snapshot + gap-free changes, clock sync, commands with ack/error, reconnect.
// Pages are views on it; they never talk to the socket themselves.

import { LANGS } from './i18n.js';

export const PROTOCOL = 1;
/** The crew positions a cue may target (docs/protocol.md "Cues"). */
export const CREW = ['audio', 'video', 'lighting', 'interpretation', 'stage'];
const FATAL = new Set(['unauthorized', 'unknown_event', 'unsupported_version', 'link_expired', 'link_revoked']);
const MODES = ['in_room', 'remote'];
const PING_EVERY = 10_000, BURST = 5, BURST_GAP = 200, SAMPLES = 30;
const OPEN_TIMEOUT = 10_000, SILENCE_LIMIT = 30_000, COMMAND_TIMEOUT = 15_000;
const BACKOFF_MIN = 500, BACKOFF_MAX = 10_000, JITTER = 0.3;
// After a 1012 close ("server restarting") the first attempts wait at most this long.
const RESTART_CLOSE = 1012, RESTART_MAX = 2_000, RESTART_ATTEMPTS = 10;
// An archived event's sockets are closed with 4404: reconnecting cannot bring it back.
const ARCHIVED_CLOSE = 4404;
// A link that expired or was revoked closes its sockets with 4401 (after an error frame that
// says which): reconnecting with it is refused.
const LINK_CLOSE = 4401;
// Presence (docs/protocol.md "Presence"): the chair's full list is paged in this many at a
// time; the attendance chart gets a local sample a minute and keeps a day of them.
const PRESENCE_PAGE = 200, SAMPLE_EVERY = 60_000, HISTORY_MAX = 24 * 60, RESYNC_GAP = 10_000;
/** Caption tracks (docs/protocol.md "Captions"); a page keeps this many recent lines of its track. */
export const TRACKS = ['zh', 'ja', 'en', 'floor'];
const CAPTIONS_KEPT = 50;

// ---------- small storage and URL helpers ----------

export function load(key) {
  try { return localStorage.getItem(key); } catch { return null; }
}
export function save(key, value) {
  try { localStorage.setItem(key, value); } catch { /* private mode: keep going */ }
}

/**
 * Reads `#event=…&token=…&lang=…&name=…&mode=…&crew=audio,video&sound=1&edit=1`.
 * A '+' stays a '+' (tokens may hold one). crew is null when absent (all positions).
 */
export function readFragment(hash = location.hash) {
  const out = {};
  for (const part of hash.replace(/^#/, '').split('&')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    try { out[part.slice(0, i)] = decodeURIComponent(part.slice(i + 1)); } catch { /* skip */ }
  }
  const val = (k) => (out[k] ? out[k] : null);
  return {
    event: val('event'), token: val('token'), name: val('name'),
    lang: LANGS.includes(out.lang) ? out.lang : null,
    mode: MODES.includes(out.mode) ? out.mode : null,
    crew: parseCrew(out.crew),
    sound: out.sound === '1' || out.sound === 'true',
    edit: out.edit === '1' || out.edit === 'true',
  };
}

/** "audio,interpretation" → ['audio', 'interpretation'] in CREW order; null when none is valid. */
export function parseCrew(text) {
  const picked = new Set(String(text ?? '').split(',').map((p) => p.trim()));
  const crew = CREW.filter((p) => picked.has(p));
  return crew.length ? crew : null;
}

/** Fragment, then the remembered choice, then the browser's languages, then English. */
export function preferredLang(fragment = readFragment()) {
  if (fragment.lang) return fragment.lang;
  const stored = load('hub.lang');
  if (LANGS.includes(stored)) return stored;
  for (const l of navigator.languages || [navigator.language || '']) {
    const p = String(l).slice(0, 2).toLowerCase();
    if (LANGS.includes(p)) return p;
  }
  return 'en';
}

function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // Plain http on a LAN address is not a secure context: no randomUUID there.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function participantId() {
  let id = load('hub.participant');
  if (!id || id.length > 64) { id = uuid(); save('hub.participant', id); }
  return id;
}

/** Strips control characters and trims to the 1–80 characters hello allows. */
export function cleanName(name) {
  return [...String(name ?? '').replace(/\p{Cc}/gu, '').trim()].slice(0, 80).join('').trim();
}

// ---------- the connection ----------

/**
 * connectHub({ name, mode, lang, affiliation, crew, url, onWelcome, onChange, onStatus, onError })
 *   crew                            for AV screens: the positions watched (hello.crew); absent
 *                                   or empty means all
 *   onWelcome(state, welcomeFrame)  after every (re)join, once the state is usable: a fresh
 *                                   snapshot, or (welcomeFrame.resume === 'replay') the state
 *                                   held before the drop, with the missed changes to follow
 *   onChange(state, changeFrame)    after a change was applied (state.live or
 *                                   state.queues[change.queue], a cue in state.cues, or
 *                                   state.stage already replaced; a question, board, poll
 *                                   or votes change applied to state.questions =
 *                                   {board, items, voted} or state.polls = {polls, mine};
 *                                   a `hidden` change only moved the seq on)
 *   onStatus(status, detail)        'connecting' | 'connected' | 'reconnecting' | 'closed';
 *                                   detail = {code, message} when closed for good
 *   onError(error)                  error frames that answer no pending command
 *   captions                        the caption track to follow (hello.captions): 'zh', 'ja',
 *                                   'en', 'floor', or absent/null for none
 *   onCaption(captions, frame)      after a `caption` line or a `captions` batch was applied to
 *                                   captions = {track, lines, live}: the recent lines of the track (live: the tracks running now)
 *                                   followed, oldest first; a partial line (final: false) is
 *                                   replaced in place by the next line with its seq
 *   page, view                      a screen the chair manages (hello.page, hello.view)
 *   onDirective(frame)              a chair's directive to this screen (screen-directive.js)
 *   onLink(frame)                   on a cloud node: the link to the venue went down
 *                                   ({up: false, since}) or came back ({up: true}); a page
 *                                   joining while it is down gets one after its welcome
 *   onPresence(state, frame)        after state.presence changed: a `presence` frame, a page of
 *                                   the full list (frame.type 'presence_page'), or the local
 *                                   attendance sample (frame.type 'sample'). The welcome's
 *                                   presence is already in the state onWelcome gets.
 *
 * state.presence = {counts, recent, speakers, history, list, listComplete} (null from a server
 * without presence): counts, recent
 * and speakers as the server last sent them; history (attendance samples, chair and crew
 * only, else null); list (chair and crew only, else null): a Map who → entry of everyone
 * here, kept from the welcome's list, further pages and each frame's joined/left.
 */
export function connectHub(opts = {}) {
  const frag = readFragment();
  const cfg = {
    event: opts.event ?? frag.event, token: opts.token ?? frag.token,
    name: cleanName(opts.name ?? frag.name) || 'Guest',
    mode: MODES.includes(opts.mode) ? opts.mode : frag.mode || 'remote',
    lang: LANGS.includes(opts.lang) ? opts.lang : preferredLang(frag),
    affiliation: opts.affiliation,
    crew: validCrew(opts.crew),
    // A screen, not a person: presence lists it but does not count it (docs/protocol.md).
    screen: Boolean(opts.screen),
    captions: TRACKS.includes(opts.captions) ? opts.captions : null,
    // A screen the chair manages: its page and view settings (docs/protocol.md, "Screens").
    page: typeof opts.page === 'string' ? opts.page : null,
    view: opts.view && typeof opts.view === 'object' ? opts.view : {},
    url: opts.url ?? `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`,
  };
  const noop = () => {};
  const on = {
    welcome: opts.onWelcome || noop, change: opts.onChange || noop,
    status: opts.onStatus || noop, error: opts.onError || noop, presence: opts.onPresence || noop,
    caption: opts.onCaption || noop, link: opts.onLink || noop, directive: opts.onDirective || noop,
  };
  // The followed track's recent lines; kept across reconnects (a welcome's `captions` refills it).
  const captions = { track: cfg.captions, lines: [], live: [] };

  let ws = null, joined = false, openedAt = 0, lastRx = 0, lastPing = 0;
  let state = null, seq = null, status = null, attempt = 0, fatal = null, stopped = false;
  // Resume (memory only: a reload starts fresh). epoch is set by a welcome, so the first
  // connect of a page sends no resume; resumeOff is set if the server refuses the field.
  let epoch = null, resumeOff = false, sentResume = false, restarting = false;
  let retryTimer = null, burstTimers = [];
  let samples = [], offset = 0, synced = false;
  const pending = new Map();
  const idPrefix = `c-${uuid().slice(0, 8)}-`;
  let nextId = 1;
  let paging = null, lastResync = 0; // {id, into}: the presence page asked for

  function setStatus(s, detail) {
    if (s === status && !detail) return;
    status = s;
    on.status(s, detail);
  }

  function raw(frame) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
  }

  function open() {
    clearTimeout(retryTimer); retryTimer = null;
    if (stopped || fatal) return;
    if (!cfg.event || !cfg.token) {
      fatal = { code: 'missing_fragment', message: 'the page address needs #event=…&token=…' };
      setStatus('closed', fatal);
      return;
    }
    setStatus(attempt === 0 && seq === null ? 'connecting' : 'reconnecting');
    const sock = new WebSocket(cfg.url);
    ws = sock; joined = false; openedAt = lastRx = Date.now();
    sock.onopen = () => {
      const hello = {
        type: 'hello', protocol: PROTOCOL, event: cfg.event, token: cfg.token,
        name: cfg.name, mode: cfg.mode, lang: cfg.lang, participant: participantId(),
      };
      if (cfg.affiliation) hello.affiliation = String(cfg.affiliation).slice(0, 120);
      if (cfg.crew) hello.crew = cfg.crew;
      if (cfg.screen) hello.screen = true;
      if (cfg.captions) hello.captions = cfg.captions;
      if (cfg.page) { hello.page = cfg.page; hello.view = cfg.view; }
      sentResume = epoch != null && seq != null && state != null && !resumeOff;
      if (sentResume) {
        hello.resume = { epoch, seq };
        // The chair's list is kept across a reconnect: the server sends what it missed.
        const p = state.presence;
        if (p && p.list && p.listComplete && typeof p.version === 'number') hello.resume.presence = p.version;
      }
      raw(hello);
    };
    sock.onmessage = (e) => {
      if (ws !== sock) return;
      lastRx = Date.now();
      let msg;
      try { msg = JSON.parse(e.data); } catch { return; }
      if (msg && typeof msg === 'object') handle(msg);
    };
    sock.onclose = (e) => { if (ws === sock) lost(e.code); };
    sock.onerror = noop; // a close event always follows
  }

  /** Drops the current socket (if any) and schedules the next attempt. */
  function lost(closeCode) {
    const sock = ws;
    ws = null; joined = false;
    if (closeCode === ARCHIVED_CLOSE) fatal = { code: 'event_archived', message: 'this event has been archived' };
    if (closeCode === LINK_CLOSE && !fatal) fatal = { code: 'link_ended', message: 'this link no longer works' };
    if (sock) {
      sock.onopen = sock.onmessage = sock.onclose = sock.onerror = null;
      try { sock.close(); } catch { /* already closed */ }
    }
    burstTimers.forEach(clearTimeout); burstTimers = [];
    paging = null;
    // Commands without a reply stay pending: they are re-sent with the same id once joined
    // again, and the server answers a retry with its first outcome (docs/protocol.md,
    // "Retrying a command"); the command timeout still gives up on them.
    if (fatal || stopped) {
      for (const p of pending.values()) {
        clearTimeout(p.timer);
        p.reject({ code: 'disconnected', message: 'the connection was lost before the reply' });
      }
      pending.clear();
    }
    if (fatal || stopped) { setStatus('closed', fatal || undefined); return; }
    setStatus('reconnecting');
    if (closeCode === RESTART_CLOSE) { restarting = true; attempt = 0; }
    const base = Math.min(BACKOFF_MAX, BACKOFF_MIN * 2 ** attempt);
    let delay = base * (1 - JITTER + Math.random() * 2 * JITTER);
    if (restarting && attempt < RESTART_ATTEMPTS) delay = Math.min(delay, RESTART_MAX);
    attempt += 1;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(open, delay);
  }

  function ping() {
    lastPing = Date.now();
    raw({ type: 'ping', t: lastPing });
  }

  function pong(msg) {
    const now = Date.now(), rtt = now - msg.t;
    if (!(rtt >= 0) || typeof msg.server_time !== 'number') return;
    samples.push({ rtt, offset: msg.server_time - (msg.t + now) / 2 });
    if (samples.length > SAMPLES) samples.shift(); // a sliding window follows clock drift
    offset = samples.reduce((a, b) => (b.rtt < a.rtt ? b : a)).offset;
    synced = true;
    publishOffset();
  }

  /** Tests (and curious people) read the estimate on <body data-clock-offset="…"> (ms). */
  function publishOffset() {
    const text = String(Math.round(offset));
    if (document.body && document.body.dataset.clockOffset !== text) document.body.dataset.clockOffset = text;
  }

  function handle(msg) {
    switch (msg.type) {
      case 'welcome': {
        if (msg.resume === 'replay') {
          // Keep the state; the missed changes follow. Anything else is a server bug: start over.
          if (!sentResume || !state || msg.seq !== seq) { epoch = null; lost(); return; }
          state.you = msg.you;
        } else {
          const snap = msg.snapshot || {};
          state = {
            event: snap.event, segments: snap.segments || [], live: snap.live,
            plan_version: snap.plan_version ?? 0,
            queues: snap.queues || {}, you: msg.you,
            cues: Array.isArray(snap.cues) ? snap.cues : [],
            cue_presets: Array.isArray(snap.cue_presets) ? snap.cue_presets : [],
            automations: Array.isArray(snap.automations) ? snap.automations : [],
            stage: snap.stage ?? null,
            screen: snap.screen || {},
            timers: Array.isArray(snap.timers) ? snap.timers : [],
            notes: Array.isArray(snap.notes) ? snap.notes : [],
            note_presets: Array.isArray(snap.note_presets) ? snap.note_presets : [],
            branding: snap.branding || null,
            sides: Array.isArray(snap.sides) ? snap.sides : [],
            speaking: snap.speaking || { sides: [], people: [], open: [] },
            qa: snap.qa ?? 'off',
            questions: welcomeQuestions(snap.questions),
            polls: welcomePolls(snap.polls),
          };
          seq = msg.seq;
        }
        state.presence = welcomePresence(msg.presence, state.presence);
        epoch = msg.epoch ?? null; // absent from a server without resume: never resume then
        joined = true; attempt = 0; restarting = false;
        if (!synced && typeof msg.server_time === 'number') offset = msg.server_time - Date.now();
        publishOffset();
        setStatus('connected');
        on.welcome(state, msg);
        for (let i = 0; i < BURST; i++) burstTimers.push(setTimeout(ping, i * BURST_GAP));
        pageIn(false);
        for (const p of pending.values()) raw(p.frame);
        break;
      }
      case 'presence': {
        if (!joined || !state || !state.presence) return;
        applyPresence(state.presence, msg, paging && paging.into);
        pageIn(true);
        on.presence(state, msg);
        break;
      }
      case 'presence_page': {
        const p = state && state.presence;
        if (!paging || msg.id !== paging.id || !p || !p.list || !Array.isArray(msg.entries)) return;
        const { into } = paging;
        for (const e of msg.entries) if (e && e.who != null) into.set(e.who, e);
        paging = null;
        if (typeof msg.next === 'string') askPage(msg.next, into);
        else { p.list = into; p.listComplete = true; }
        on.presence(state, msg);
        break;
      }
      case 'change': {
        if (!joined || typeof msg.seq !== 'number' || msg.seq <= seq) return; // duplicate
        if (msg.seq !== seq + 1) { lost(); return; } // a gap: rejoin; resume replays what was missed
        seq = msg.seq; // every kind moves the seq on, `hidden` (a change for others) only that
        const ch = msg.change || {};
        if (ch.kind === 'live' && ch.live) state.live = ch.live;
        else if (ch.kind === 'queue' && typeof ch.queue === 'string' && ch.state) {
          if (!state.queues) state.queues = {};
          state.queues[ch.queue] = ch.state;
        } else if (ch.kind === 'cue' && ch.cue) putCue(state, ch.cue);
        else if (ch.kind === 'stage') state.stage = ch.message ?? null;
        else if (ch.kind === 'screen' && ch.screen) state.screen = ch.screen;
        else if (ch.kind === 'timers' && Array.isArray(ch.timers)) state.timers = ch.timers;
        else if (ch.kind === 'note' && ch.note) putNote(state, ch.note);
        else if (ch.kind === 'plan' && ch.plan && Array.isArray(ch.plan.segments)) {
          // The whole plan, as this page may see it: pages follow edits by a plain assignment.
          state.event = ch.plan.event;
          state.sides = ch.plan.sides || [];
          state.segments = ch.plan.segments;
          state.plan_version = ch.plan_version;
          if (Array.isArray(ch.plan.automations)) state.automations = ch.plan.automations;
          if (ch.plan.qa) state.qa = ch.plan.qa;
        } else applyVoice(state, ch);
        // The speaking record rides on the change of the command that moved it.
        if (ch.speaking) state.speaking = ch.speaking;
        on.change(state, msg);
        break;
      }
      case 'caption': {
        const line = msg.line;
        if (!joined || !line || line.track !== captions.track || typeof line.seq !== 'number') return;
        putCaption(captions.lines, line);
        on.caption(captions, msg);
        break;
      }
      case 'captions': {
        if (!joined || msg.track !== captions.track || !Array.isArray(msg.lines)) return;
        // The latest final lines; a partial line newer than all of them stays.
        const partial = captions.lines.filter((l) => l.final === false && !msg.lines.some((m) => m.seq >= l.seq));
        captions.lines = msg.lines.filter((l) => l && typeof l.seq === 'number').slice(-CAPTIONS_KEPT);
        captions.live = Array.isArray(msg.live) ? msg.live.filter((tr) => TRACKS.includes(tr)) : [];
        for (const l of partial) putCaption(captions.lines, l);
        on.caption(captions, msg);
        break;
      }
      case 'link': if (joined && typeof msg.up === 'boolean') on.link(msg); break;
      case 'directive': if (joined) on.directive(msg); break;
      case 'pong': pong(msg); break;
      case 'ack': settle(msg.id, (p) => {
        ownVote(state, p.frame);
        p.resolve({ ...msg, warning: msg.warning ?? null });
      }); break;
      case 'error': {
        const err = { code: msg.code, message: msg.message || msg.code, id: msg.id };
        if (paging && msg.id === paging.id) { // keep the list we have
          paging = null;
          if (state && state.presence) state.presence.listComplete = true;
          return;
        }
        if (msg.code === 'bad_resume' && msg.id == null) return; // a fresh snapshot follows
        if (!joined && sentResume && msg.code === 'invalid_field' && msg.id == null) {
          resumeOff = true; lost(); return; // a server from before resume: join plainly
        }
        if (FATAL.has(msg.code)) fatal = err;
        if (!settle(msg.id, (p) => p.reject(err)) && !fatal) on.error(err);
        if (fatal) lost();
        break;
      }
      default: break; // frames of later protocol additions are ignored
    }
  }

  /**
   * After a welcome: pages in the rest of the chair's list when it holds fewer people than
   * are listed. After a frame: a list that still disagrees with `listed` (someone listed
   * before the page asked for joined and left
   * between two frames) is read again from the start into a fresh map, at most every 10 s.
   */
  function pageIn(afterFrame) {
    const p = state && state.presence;
    if (!p || !p.list || paging) return;
    if (!afterFrame) {
      if (typeof p.next === 'string') { const after = p.next; p.next = null; askPage(after, p.list); }
    } else if (p.listComplete && p.list.size !== listed(p) && Date.now() - lastResync >= RESYNC_GAP) {
      lastResync = Date.now();
      askPage(null, new Map());
    }
  }

  /**
   * Asks for the page after cursor `after` (null: the first); `into` is the map it fills
   * (presence frames meanwhile update it too). Pages follow each other by cursor, so people
   * coming and going meanwhile neither shift nor repeat anyone.
   */
  function askPage(after, into) {
    if (into === state.presence.list) state.presence.listComplete = false;
    paging = { id: `p-${idPrefix.slice(2)}${nextId++}`, into };
    const frame = { type: 'presence_page', id: paging.id, limit: PRESENCE_PAGE };
    if (after != null) frame.after = after;
    raw(frame);
  }

  // The attendance chart's own sample a minute (the server records its own; a welcome brings them).
  const sampler = setInterval(() => {
    const p = state && state.presence;
    if (!p || !p.history || !joined) return;
    p.history.push({ at: Date.now() + offset, in_room: p.counts.in_room, remote: p.counts.remote });
    if (p.history.length > HISTORY_MAX) p.history.splice(0, p.history.length - HISTORY_MAX);
    on.presence(state, { type: 'sample' });
  }, SAMPLE_EVERY);

  function settle(id, fn) {
    const p = id != null && pending.get(id);
    if (!p) return false;
    pending.delete(id);
    clearTimeout(p.timer);
    fn(p);
    return true;
  }

  // One slow timer drives pings and notices dead sockets (no pong for a long time).
  const tick = setInterval(() => {
    const now = Date.now();
    if (!ws) return;
    if (!joined && now - openedAt > OPEN_TIMEOUT) lost();
    else if (joined && now - lastRx > SILENCE_LIMIT) lost();
    else if (joined && now - lastPing >= PING_EVERY) ping();
  }, 1000);

  const online = () => { if (!ws && retryTimer) open(); };
  addEventListener('online', online);

  queueMicrotask(open); // callbacks never run before connectHub has returned

  const api = {
    get state() { return state; },
    get seq() { return seq; },
    get status() { return status; },
    get lang() { return cfg.lang; },
    get you() { return state && state.you; },
    serverNow: () => Date.now() + offset,
    /** The current estimate of server clock − local clock, in ms. */
    get clockOffset() { return offset; },
    get crew() { return cfg.crew; },
    /**
     * Sends a command; resolves with the ack ({id, seq, warning}: warning is null, or a
     * sentence such as "nobody is watching the lighting cue screen"); rejects with {code, message}.
     */
    send(type, fields = {}) {
      return new Promise((resolve, reject) => {
        if (!joined) { reject({ code: 'not_connected', message: 'not connected' }); return; }
        const id = idPrefix + nextId++;
        const timer = setTimeout(() => {
          pending.delete(id);
          reject({ code: 'timeout', message: 'no reply from the server' });
        }, COMMAND_TIMEOUT);
        const frame = { ...fields, type, id };
        pending.set(id, { resolve, reject, timer, frame });
        raw(frame);
      });
    },
    /**
     * Watches other crew positions (null or [] = all): joins again without resume, so that
     * the fresh snapshot holds exactly the cues of the new positions.
     */
    setCrew(crew) {
      cfg.crew = validCrew(crew);
      epoch = null;
      if (stopped || fatal) return;
      lost();
      attempt = 0;
      open();
    },
    /** The caption track followed and its recent lines: {track, lines} (track null: none). */
    get captions() { return captions; },
    /**
     * Changes the language (remembered, and sent as `set_lang` when connected, which moves
     * the presence count) and the caption track: `captions` names a track, null for none;
     * absent, a connection that follows a language's track follows the new language's
     * ('floor' stays 'floor'). Resolves with the ack, or null when not connected or refused.
     */
    setLang(lang, track) {
      if (!LANGS.includes(lang)) return Promise.resolve(null);
      cfg.lang = lang;
      save('hub.lang', lang);
      let next = captions.track;
      if (track === null || TRACKS.includes(track)) next = track;
      else if (next && next !== 'floor') next = lang;
      if (next !== captions.track) { captions.track = next; captions.lines = []; on.caption(captions, { type: 'set_lang' }); }
      cfg.captions = next;
      if (!joined) return Promise.resolve(null);
      return api.send('set_lang', { lang, captions: next }).catch(() => null);
    },
    close() {
      stopped = true;
      clearInterval(tick);
      clearInterval(sampler);
      removeEventListener('online', online);
      clearTimeout(retryTimer);
      lost();
    },
  };
  return api;
}

const NO_COUNTS = { total: 0, in_room: 0, remote: 0, by_lang: { zh: 0, ja: 0, en: 0 } };

/**
 * state.presence from a welcome's `presence`; null from a server without presence. A
 * resumed chair's welcome brings the joins and leaves it missed instead of a list: they are
 * applied to the list it had (`before`).
 */
function welcomePresence(w, before) {
  if (!w || typeof w !== 'object') return null;
  const p = {
    counts: w.counts || NO_COUNTS, recent: Array.isArray(w.recent) ? w.recent : [],
    speakers: Array.isArray(w.speakers) ? w.speakers : [],
    speakers_in_room: Array.isArray(w.speakers_in_room) ? w.speakers_in_room : [],
    history: Array.isArray(w.history) ? w.history.slice(-HISTORY_MAX) : null,
    list: null, listComplete: true, version: w.version, next: typeof w.next === 'string' ? w.next : null,
    listed: typeof w.listed === 'number' ? w.listed : null,
  };
  if (Array.isArray(w.list)) {
    p.list = new Map(w.list.filter((e) => e && e.who != null).map((e) => [e.who, e]));
    p.listComplete = p.next == null;
  } else if (before && before.list && (Array.isArray(w.joined) || Array.isArray(w.left))) {
    p.list = before.list;
    applyPresence(p, w, null);
  }
  return p;
}

/**
 * A `presence` frame: counts, recent and speakers replaced; joined/left applied to the list
 * (and to the map a re-read is filling, if any).
 */
function applyPresence(p, msg, filling) {
  if (typeof msg.version === 'number') p.version = msg.version;
  if (typeof msg.listed === 'number') p.listed = msg.listed;
  if (msg.counts) p.counts = msg.counts;
  if (Array.isArray(msg.recent)) p.recent = msg.recent;
  if (Array.isArray(msg.speakers)) p.speakers = msg.speakers;
  if (Array.isArray(msg.speakers_in_room)) p.speakers_in_room = msg.speakers_in_room;
  for (const map of new Set([p.list, filling])) {
    if (!map) continue;
    for (const who of Array.isArray(msg.left) ? msg.left : []) map.delete(who);
    for (const e of Array.isArray(msg.joined) ? msg.joined : []) if (e && e.who != null) map.set(e.who, e);
  }
}

/**
 * How many the chair's full list holds on the server: consoles and screens are listed but
 * not in counts.total (a server without `listed` counted only the audience).
 */
export function listed(presence) {
  return typeof presence.listed === 'number' ? presence.listed : presence.counts.total;
}

/** Whether speaker `speaker` (-1: the chair) of segment `segment` is here. */
export function speakerPresent(presence, segment, speaker) {
  const list = presence && presence.speakers;
  return Boolean(list && list.some((pair) => pair[0] === segment && pair[1] === speaker));
}

/** Whether that programme speaker is connected from the hall (else online, when present). */
export function speakerInRoom(presence, segment, speaker) {
  const list = presence && presence.speakers_in_room;
  return Boolean(list && list.some((pair) => pair[0] === segment && pair[1] === speaker));
}

/** A caption line into the kept lines: it replaces a line of its seq (a partial one), else goes last. */
function putCaption(lines, line) {
  const i = lines.findIndex((l) => l.seq === line.seq);
  if (i >= 0) lines[i] = line;
  else {
    lines.push(line);
    lines.sort((a, b) => a.seq - b.seq);
  }
  if (lines.length > CAPTIONS_KEPT) lines.splice(0, lines.length - CAPTIONS_KEPT);
}

// ---------- written questions and polls (docs/protocol.md "Questions", "Polls") ----------

function welcomeQuestions(q) {
  const board = (q && q.board) || {};
  return {
    board: { order: board.order || [], highlighted: board.highlighted ?? null, modes: board.modes || {} },
    items: q && Array.isArray(q.items) ? q.items.filter((i) => i && i.text != null) : [],
    voted: q && Array.isArray(q.voted) ? q.voted : [],
  };
}

function welcomePolls(p) {
  return { polls: p && Array.isArray(p.polls) ? p.polls : [], mine: (p && p.mine) || {} };
}

/**
 * A question, board, poll or votes change into state.questions / state.polls. A question
 * that left this viewer's sight (rejected or withdrawn, sent as `{id, state}` alone) is
 * dropped; vote counts are updated in place, a poll's counts null while hidden from us.
 */
function applyVoice(state, ch) {
  const qs = state.questions, ps = state.polls;
  if (!qs || !ps) return;
  if (ch.kind === 'question' && ch.question) {
    const i = qs.items.findIndex((q) => q.id === ch.question.id);
    if (ch.question.text == null) { if (i >= 0) qs.items.splice(i, 1); } else if (i >= 0) qs.items[i] = ch.question;
    else qs.items.push(ch.question);
  } else if (ch.kind === 'board' && ch.board) qs.board = welcomeQuestions({ board: ch.board }).board;
  else if (ch.kind === 'poll' && ch.poll) {
    const i = ps.polls.findIndex((p) => p.id === ch.poll.id);
    if (i >= 0) ps.polls[i] = ch.poll; else ps.polls.push(ch.poll);
  } else if (ch.kind === 'votes') {
    for (const tally of Array.isArray(ch.questions) ? ch.questions : []) {
      const q = qs.items.find((item) => item.id === tally.question);
      if (q) q.votes = tally.votes;
    }
    for (const tally of Array.isArray(ch.polls) ? ch.polls : []) {
      const poll = ps.polls.find((p) => p.id === tally.poll);
      if (poll) { poll.counts = tally.counts ?? null; poll.voters = tally.voters; }
    }
  }
}

/** This page's own vote was acknowledged: what it voted for is known without a new welcome. */
function ownVote(state, frame) {
  if (!state || !frame) return;
  if (frame.type === 'question_vote' && state.questions) {
    const voted = state.questions.voted.filter((id) => id !== frame.question);
    if (frame.up !== false) voted.push(frame.question);
    state.questions.voted = voted;
  } else if (frame.type === 'poll_vote' && state.polls) {
    state.polls.mine = { ...state.polls.mine, [frame.poll]: frame.choices };
  }
}

/**
 * How a segment takes written questions, as the server decides (docs/protocol.md
 * "Questions"): the chair's live setting for it, else its plan's, else the chair's setting
 * for the whole event, else the event's plan. `segmentId` null: the event as a whole.
 */
export function qaMode(state, segmentId) {
  const modes = (state && state.questions && state.questions.board.modes) || {};
  const seg = segmentId != null ? (state.segments || []).find((g) => g.id === segmentId) : null;
  return (segmentId != null && modes[segmentId]) || (seg && seg.qa) || modes.event || (state && state.qa) || 'off';
}

/** The id of the segment running now, or null before the start, after the end. */
export function liveSegmentId(state) {
  const live = state && state.live;
  const seg = live && live.phase === 'live' && live.segment != null ? state.segments[live.segment] : null;
  return seg ? seg.id : null;
}

function validCrew(crew) {
  if (!Array.isArray(crew)) return null;
  const list = CREW.filter((p) => crew.includes(p));
  return list.length ? list : null;
}

/** The server keeps every open cue and the latest 50 closed ones; so does the client. */
const KEEP_CLOSED = 50;
export const cueClosed = (cue) => cue.state === 'done' || cue.state === 'cancelled';

function putCue(state, cue) {
  if (!state.cues) state.cues = [];
  const i = state.cues.findIndex((c) => c.id === cue.id);
  if (i >= 0) state.cues[i] = cue; else state.cues.push(cue);
  let extra = state.cues.filter(cueClosed).length - KEEP_CLOSED;
  if (extra > 0) state.cues = state.cues.filter((c) => !(cueClosed(c) && extra-- > 0));
}

/** A note to the chair, whole: replaced by id, else added; read ones beyond 50 forgotten. */
function putNote(state, note) {
  if (!state.notes) state.notes = [];
  const i = state.notes.findIndex((n) => n.id === note.id);
  if (i >= 0) state.notes[i] = note; else state.notes.push(note);
  let extra = state.notes.filter((n) => n.read).length - KEEP_READ_NOTES;
  if (extra > 0) state.notes = state.notes.filter((n) => !(n.read && extra-- > 0));
}
const KEEP_READ_NOTES = 50;

// ---------- pure helpers shared by the pages ----------

/** Countdown figures per docs/protocol.md "State". Fields not meaningful in a phase are null. */
export function timing(state, now) {
  const out = {
    phase: null, held: false, planned_ms: null, elapsed_ms: null, remaining_ms: null,
    overrun_ms: 0, speaker_elapsed_ms: null, speaker_remaining_ms: null,
    projected_end: null, drift_ms: null, starts_in_ms: null,
  };
  if (!state || !state.live) return out;
  const { event = {}, segments = [], live } = state;
  const sumFrom = (i) => segments.slice(i).reduce((s, g) => s + (g.duration_ms || 0), 0);
  out.phase = live.phase;
  const seg = live.segment != null ? segments[live.segment] : null;
  if (live.phase === 'live' && seg) {
    const t = live.held_since ?? now;
    out.held = live.held_since != null;
    out.elapsed_ms = t - live.segment_started_at - (live.segment_paused_ms || 0);
    out.planned_ms = seg.duration_ms + (live.extended_ms || 0);
    out.remaining_ms = out.planned_ms - out.elapsed_ms;
    out.overrun_ms = Math.max(0, -out.remaining_ms);
    const sp = live.speaker != null && seg.speakers ? seg.speakers[live.speaker] : null;
    if (sp && live.speaker_started_at != null) {
      out.speaker_elapsed_ms = t - live.speaker_started_at - (live.speaker_paused_ms || 0);
      if (sp.duration_ms != null) out.speaker_remaining_ms = sp.duration_ms - out.speaker_elapsed_ms;
    }
    out.projected_end = now + Math.max(out.remaining_ms, 0) + sumFrom(live.segment + 1);
  } else if (live.phase === 'ended') {
    out.projected_end = live.ended_at ?? now; // the day is over: the actual end
  } else {
    out.projected_end = Math.max(now, event.planned_start ?? now) + sumFrom(0);
    if (event.planned_start != null) out.starts_in_ms = event.planned_start - now;
  }
  if (event.planned_end != null) out.drift_ms = out.projected_end - event.planned_end;
  return out;
}

/** The queue that matters now: the current segment's while the show is live, else "event". */
export function activeQueueName(state) {
  const live = state && state.live;
  const seg = live && live.phase === 'live' && live.segment != null ? state.segments[live.segment] : null;
  return seg ? seg.id : 'event';
}

/**
 * The open entry of participant `who` in a queue state (docs/protocol.md "Speaker queues"):
 * {entry, slot: 'speaking'|'on_deck'|'waiting', position, ahead}, or null. position is the
 * 1-based place in `waiting` (null otherwise); ahead counts the waiting entries before it,
 * plus one if someone is on deck.
 */
export function myEntry(queue, who) {
  if (!queue || who == null) return null;
  if (queue.speaking && queue.speaking.who === who) {
    return { entry: queue.speaking, slot: 'speaking', position: null, ahead: 0 };
  }
  if (queue.on_deck && queue.on_deck.who === who) {
    return { entry: queue.on_deck, slot: 'on_deck', position: null, ahead: 0 };
  }
  const i = (queue.waiting || []).findIndex((e) => e.who === who);
  if (i < 0) return null;
  const speaking = queue.speaking ? 1 : 0, onDeck = queue.on_deck ? 1 : 0;
  return { entry: queue.waiting[i], slot: 'waiting', position: i + 1, ahead: i + speaking + onDeck, speaking, onDeck };
}

/**
 * This participant's open entry in any queue, the active one first (a request made in the
 * event queue before the show started stays theirs): {name, queue, mine} or null.
 */
export function findMyEntry(state, who) {
  if (!state || !state.queues || who == null) return null;
  const active = activeQueueName(state);
  const names = [active, ...Object.keys(state.queues).filter((n) => n !== active)];
  for (const name of names) {
    const mine = myEntry(state.queues[name], who);
    if (mine) return { name, queue: state.queues[name], mine };
  }
  return null;
}

/** The speaker's clock: {remaining_ms} against the queue's limit, else {elapsed_ms}; null if nobody speaks. */
export function speakingTime(queue, now) {
  const e = queue && queue.speaking;
  if (!e || e.started_at == null) return null;
  const elapsed = now - e.started_at;
  const limit = queue.speaking_limit_ms;
  return limit ? { elapsed_ms: elapsed, remaining_ms: limit - elapsed } : { elapsed_ms: elapsed, remaining_ms: null };
}

const pad = (n) => String(n).padStart(2, '0');

/**
 * 725000 → "12:05", -3800000 → "-1:03:20", fmtDuration(42000, {plus: true}) → "+0:42".
 * Whole seconds are floored unless {ceil: true} (a countdown shows 0:01 until it is 0).
 */
export function fmtDuration(ms, { plus = false, ceil = false } = {}) {
  if (ms == null || !Number.isFinite(ms)) return '--:--';
  const abs = Math.abs(ms) / 1000;
  const s = ceil ? Math.ceil(abs) : Math.floor(abs);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const body = h ? `${h}:${pad(m)}:${pad(sec)}` : `${m}:${pad(sec)}`;
  if (ms < 0 && s > 0) return `-${body}`;
  return ms >= 0 && plus ? `+${body}` : body;
}

/** A remaining time as a countdown: "4:59" while time is left, "+0:42" once overrun. */
export function fmtCountdown(remainingMs) {
  if (remainingMs == null) return '--:--';
  return remainingMs >= 0 ? fmtDuration(remainingMs, { ceil: true }) : fmtDuration(-remainingMs, { plus: true });
}

/** {zh, ja, en} → the text in lang, falling back to en, then to any language. */
export function localized(text, lang) {
  if (text == null) return '';
  if (typeof text !== 'object') return String(text);
  return text[lang] || text.en || Object.values(text).find((v) => typeof v === 'string' && v) || '';
}

const LOCALES = { zh: 'zh-CN', ja: 'ja-JP', en: 'en-GB' };
const clockFormats = new Map();

/** Wall-clock time of an epoch-ms instant in the event's time zone, e.g. "14:05". */
/** A time zone as people name it: the city of its IANA name ("Asia/Shanghai" → "Shanghai"). */
export function zoneCity(timeZone) {
  return String(timeZone || '').split('/').pop().replace(/_/g, ' ');
}

export function fmtClock(ms, timeZone, lang = 'en', { seconds = false } = {}) {
  if (ms == null || !Number.isFinite(ms)) return '--:--';
  const key = `${timeZone}|${lang}|${seconds}`;
  let f = clockFormats.get(key);
  if (!f) {
    const o = { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
    if (seconds) o.second = '2-digit';
    try { f = new Intl.DateTimeFormat(LOCALES[lang] || 'en-GB', { ...o, timeZone }); } catch {
      f = new Intl.DateTimeFormat(LOCALES[lang] || 'en-GB', o); // unknown zone: local time
    }
    clockFormats.set(key, f);
  }
  return f.format(ms);
}
