// The one way this package talks to dynauth: a fetch whose every failure becomes a DynauthError,
// and the API's snake_case answers turned into the package's camelCase values.
import { DynauthError, parseRetryAfter } from './errors.js';

/** The base URL without trailing slashes ('' = the page's own origin). */
export function baseUrlOf(options) {
  const baseUrl = options?.baseUrl;
  if (typeof baseUrl !== 'string') {
    throw new TypeError('dynauth: options.baseUrl must be a string ("" for the same origin)');
  }
  return baseUrl.replace(/\/+$/, '');
}

/** The fetch to use: options.fetch, else the global one (looked up per call, unbound). */
export function fetchOf(options) {
  const custom = options?.fetch;
  if (custom !== undefined && typeof custom !== 'function') throw new TypeError('dynauth: options.fetch must be a function');
  return custom ?? ((input, init) => globalThis.fetch(input, init));
}

/**
 * Sends one request; resolves to `{ status, json }` for a 2xx answer (json null when empty),
 * rejects with a DynauthError for everything else.
 */
export async function send(fetchFn, url, { method, headers = {}, body, credentials }) {
  const init = {
    method,
    headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
  };
  if (body !== undefined) init.body = JSON.stringify(body);
  if (credentials) init.credentials = credentials;
  let response;
  let text;
  try {
    response = await fetchFn(url, init);
    text = await response.text();
  } catch (cause) {
    throw new DynauthError(`dynauth could not be reached: ${cause?.message ?? String(cause)}`, { code: 'network_error', cause });
  }
  const status = response.status;
  let json;
  try {
    json = text === '' ? null : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (status >= 200 && status < 300) {
    if (json === undefined) throw unexpected(status, 'its answer is not JSON');
    return { status, json };
  }
  const retryAfter = parseRetryAfter(response.headers.get('retry-after'));
  const error = json?.error;
  if (error && typeof error.code === 'string') {
    throw new DynauthError(typeof error.message === 'string' ? error.message : error.code, {
      status,
      code: error.code,
      retryAfter,
      attemptsLeft: Number.isInteger(error.attempts_left) ? error.attempts_left : null,
    });
  }
  throw new DynauthError(`dynauth answered ${status} without a JSON error`, { status, code: 'unexpected_response', retryAfter });
}

function unexpected(status, what) {
  return new DynauthError(`dynauth answered ${status}, but ${what}`, { status, code: 'unexpected_response' });
}

const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `{ session, user }` (and `token` when asked) from a verify or lookup answer. */
export function sessionAnswer({ status, json }, { token = false } = {}) {
  if (!isObject(json) || !isObject(json.session) || !isObject(json.user) || (token && typeof json.token !== 'string')) {
    throw unexpected(status, `its answer lacks the session${token ? ' or the token' : ''}`);
  }
  const s = json.session;
  const result = {
    session: {
      id: s.id,
      userId: s.user_id,
      email: s.email ?? null,
      createdAt: s.created_at,
      expiresAt: s.expires_at,
      idleExpiresAt: s.idle_expires_at,
    },
    user: { id: json.user.id, email: json.user.email ?? null },
  };
  if (token) result.token = json.token;
  return result;
}

/** `{ loginId, expiresAt, code?, binding? }` from a start answer (`binding` required when asked). */
export function loginStarted({ status, json }, { binding = false } = {}) {
  if (!isObject(json) || typeof json.login_id !== 'string') throw unexpected(status, 'its answer lacks the login_id');
  if (binding && typeof json.binding !== 'string') throw unexpected(status, 'its answer lacks the login binding');
  const started = { loginId: json.login_id, expiresAt: json.expires_at };
  if (typeof json.code === 'string') started.code = json.code;
  if (binding) started.binding = json.binding;
  return started;
}

/** `{ token, expiresAt, expiresIn }` from a `POST /v1/session/token` answer. */
export function jwtIssued({ status, json }) {
  if (!isObject(json) || typeof json.token !== 'string' || typeof json.expires_in !== 'number') {
    throw unexpected(status, 'its answer lacks the token');
  }
  return { token: json.token, expiresAt: json.expires_at, expiresIn: json.expires_in };
}

/** True for the one answer that means "no live session". */
export const isNoSession = (e) => e instanceof DynauthError && e.status === 401 && e.code === 'invalid_session';

/** What `pending` resolves to, or null when it fails with "no live session". */
export async function orNoSession(pending) {
  try {
    return await pending;
  } catch (e) {
    if (isNoSession(e)) return null;
    throw e;
  }
}
