// The JSON HTTP APIs the organizer's pages poll (/rooms, /links): one authorized request with
// a deadline, and a refusal said in the page's language.

import { t } from './i18n.js';

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
