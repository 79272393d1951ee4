// The browser side: log in with a code and read the session, with dynauth's HttpOnly cookies.
// Neither the login binding nor the session token ever reaches page JavaScript: start and verify
// never ask for them ("deliver" is never sent), and every call sends and receives the cookies
// (credentials: 'include'), so a login started here can be verified only by this browser.
import { DynauthError } from './errors.js';
import { baseUrlOf, fetchOf, jwtIssued, loginStarted, orNoSession, send, sessionAnswer } from './request.js';

export { DynauthError };

/**
 * A client for dynauth's browser API. `baseUrl` is dynauth's URL (`https://auth.acme.com`), or
 * `''` when the page is served on the tenant host itself.
 */
export function createClient(options) {
  const base = baseUrlOf(options);
  const fetchFn = fetchOf(options);
  const call = (method, path, body) => send(fetchFn, base + path, { method, body, credentials: 'include' });
  return Object.freeze({
    /** Asks for a code for `email`: `{ loginId, expiresAt }` (plus `code` from a DEV_MODE dynauth). */
    async startLogin(email) {
      return loginStarted(await call('POST', '/v1/login/start', { email }));
    },
    /**
     * Verifies the code the user typed, with the login binding the start left in this browser's
     * cookie; on success dynauth sets the session cookie.
     */
    async verify(loginId, code) {
      return sessionAnswer(await call('POST', '/v1/login/verify', { login_id: loginId, code }));
    },
    /** The signed-in session and user, or null when there is none. */
    async session() {
      return orNoSession(call('GET', '/v1/session').then(sessionAnswer));
    },
    /**
     * A short-lived JWT of the session for your backends (`{ token, expiresAt, expiresIn }`), or
     * null when there is no session. It is not the session token: send it as a bearer token.
     */
    async token() {
      return orNoSession(call('POST', '/v1/session/token').then(jwtIssued));
    },
    /** Revokes the session and clears the cookie (also fine without a session). */
    async logout() {
      await call('POST', '/v1/logout');
    },
  });
}
