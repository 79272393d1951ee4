// The server side: check a session token (or the request that carries one) against dynauth, run a
// login from a backend (the token in the answer instead of a cookie), and verify the signed
// identity dynauth hands an origin behind it.
import { DynauthError } from './errors.js';
import { baseUrlOf, fetchOf, jwtIssued, loginStarted, orNoSession, send, sessionAnswer } from './request.js';

export { DynauthError };
export { MAX_AGE_SECS, verifyIdentity, verifyIdentityHeader } from './identity.js';

/** dynauth's session cookie, and the one plain-http local development uses instead. */
const COOKIE = '__Host-dynauth';
const LOCAL_COOKIE = 'dynauth_local';
/** Every token dynauth makes: 32 bytes in base64url. Anything else cannot be a live session. */
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/**
 * The session `tokenOrRequest` presents, as dynauth sees it: `{ session, user }`, or null when
 * there is no live session (no token, a malformed one, or dynauth's 401 `invalid_session`).
 * Rejects with a DynauthError for every other failure.
 */
export async function verifySession(tokenOrRequest, options) {
  return withSession(tokenOrRequest, options, 'GET', '/v1/session', sessionAnswer);
}

/**
 * A short-lived JWT of the session `tokenOrRequest` presents (`{ token, expiresAt, expiresIn }`),
 * for services that verify it offline against the tenant's JWKS; null when there is no live
 * session. Rejects with a DynauthError for every other failure.
 */
export async function sessionJwt(tokenOrRequest, options) {
  return withSession(tokenOrRequest, options, 'POST', '/v1/session/token', jwtIssued);
}

/** `read` of dynauth's answer to `method path` with the presented session as a bearer token; null without one. */
async function withSession(tokenOrRequest, options, method, path, read) {
  const base = baseUrlOf(options);
  const fetchFn = fetchOf(options);
  const token = presentedToken(tokenOrRequest);
  if (token === null || !TOKEN.test(token)) return null;
  return orNoSession(send(fetchFn, `${base}${path}`, { method, headers: { authorization: `Bearer ${token}` } }).then(read));
}

/**
 * Asks for a login code for `email` from a backend: `{ loginId, expiresAt, binding }` (plus `code`
 * in DEV_MODE). The login belongs to whoever holds `binding`: keep it with your user's state (a
 * signed, HttpOnly cookie of your own, a server-side session) and hand it back to verifyLogin.
 * `options.binding` (a binding from an earlier start for the same user) is kept, and that
 * start's code stops working.
 */
export async function startLogin(email, options) {
  const base = baseUrlOf(options);
  const body = { email, deliver: 'body', ...bindingOf(options?.binding) };
  return loginStarted(await send(fetchOf(options), `${base}/v1/login/start`, { method: 'POST', body }), { binding: true });
}

/**
 * Verifies a login code from a backend: `{ session, user, token }`. `login` is what startLogin
 * resolved to (`{ loginId, binding }`), or the login id with the binding in `options.binding`.
 * The token comes in the answer (`"deliver": "body"`), not as a cookie; dynauth refuses this from
 * a browser (403 `body_delivery_refused`).
 */
export async function verifyLogin(login, code, options) {
  const base = baseUrlOf(options);
  const { loginId, binding } = typeof login === 'string' ? { loginId: login, binding: options?.binding } : (login ?? {});
  if (typeof loginId !== 'string') throw new TypeError('dynauth: verifyLogin takes what startLogin resolved to, or a login id');
  const answer = await send(fetchOf(options), `${base}/v1/login/verify`, {
    method: 'POST',
    body: { login_id: loginId, code, deliver: 'body', ...bindingOf(binding) },
  });
  return sessionAnswer(answer, { token: true });
}

/** `{ binding }` for a request body, or nothing without one. */
function bindingOf(binding) {
  if (binding === undefined || binding === null) return {};
  if (typeof binding !== 'string') throw new TypeError('dynauth: a login binding is the string startLogin returned');
  return { binding };
}

/**
 * The token a value presents: a string is the token; a request presents `Authorization: Bearer`
 * (it wins, as in dynauth) or the `__Host-dynauth` cookie (`dynauth_local` too, but only on a
 * plain-http localhost request, as dynauth's INSECURE_LOCAL_COOKIES does). Null when none.
 */
function presentedToken(value) {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value.trim() || null;
  if (typeof value?.headers?.get !== 'function') {
    throw new TypeError('dynauth: verifySession and sessionJwt take a token string or a Request');
  }
  const bearer = bearerOf(value.headers.get('authorization'));
  if (bearer !== null) return bearer;
  const cookies = value.headers.get('cookie');
  return cookieOf(cookies, COOKIE) ?? (isLocalHttp(value.url) ? cookieOf(cookies, LOCAL_COOKIE) : null);
}

/** The credentials of `Bearer <token>`; the scheme in any case (RFC 9110). */
function bearerOf(header) {
  if (!header) return null;
  const text = header.trimStart();
  const space = text.indexOf(' ');
  if (space < 0 || text.slice(0, space).toLowerCase() !== 'bearer') return null;
  return text.slice(space + 1).trim() || null;
}

function cookieOf(header, name) {
  if (!header) return null;
  for (const pair of header.split(';')) {
    const at = pair.indexOf('=');
    if (at >= 0 && pair.slice(0, at).trim() === name) return pair.slice(at + 1).trim() || null;
  }
  return null;
}

function isLocalHttp(url) {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' && (u.hostname === 'localhost' || u.hostname === '127.0.0.1');
  } catch {
    return false;
  }
}
