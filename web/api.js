// The JSON HTTP APIs the organizer's pages poll (/rooms, /links): one authorized request with
// a deadline, one poll of it with the page's connection status, and a refusal said in the
// page's language.

import { t } from './i18n.js';
import { setText } from './ui.js';

/**
 * `fetch(path)` with `token` as a bearer token, never cached, given up after `timeoutMs`:
 * {ok, status, body}, the body the answer's JSON (a refusal's {code, message}). Rejects when
 * the server does not answer.
 */
export async function apiCall(path, token, init = {}, timeoutMs = 5_000) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const headers = { ...(init.headers || {}), Authorization: `Bearer ${token}` };
    const response = await fetch(path, { ...init, headers, cache: 'no-store', signal: abort.signal });
    const body = await response.json().catch(() => ({ code: 'internal', message: `HTTP ${response.status}` }));
    return { ok: response.ok, status: response.status, body };
  } finally {
    clearTimeout(timer);
  }
}

/** A refusal `{code, message}` in `lang`, from the keys `${prefix}${code}`; raw when unknown. */
export function apiErrorText(lang, prefix, err) {
  const key = `${prefix}${err.code}`;
  const text = t(lang, key, { message: err.message || '' });
  return text === key ? `${err.code}: ${err.message}` : text;
}

/**
 * One poll of `path` through `call` (an `apiCall` with the page's token): the answer's body, or
 * null; `setStatus` is told 'live' or 'offline', and a refusal's {code, message} goes to
 * `showRefusal`.
 */
export async function pollOnce(call, path, setStatus, showRefusal) {
  try {
    const got = await call(path);
    if (got.ok) {
      setStatus('live');
      return got.body;
    }
    setStatus('offline');
    showRefusal(got.body);
  } catch {
    setStatus('offline');
  }
  return null;
}

/** Shows a poll's status ('connecting', 'live' or 'offline') in `node`, in `lang`. */
export function showPollStatus(node, lang, status) {
  node.dataset.state = status === 'live' ? 'connected' : status === 'offline' ? 'closed' : 'connecting';
  setText(node, t(lang, status === 'live' ? 'connected' : status === 'offline' ? 'rooms_offline' : 'connecting'));
}
