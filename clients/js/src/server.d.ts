import type { ClientOptions, RequestLike, ServerLoginStarted, SessionInfo, SessionJwt, SessionWithToken } from './types.js';

export { DynauthError } from './errors.js';
export type { DynauthErrorCode, DynauthErrorDetails } from './errors.js';
export { MAX_AGE_SECS, verifyIdentity, verifyIdentityHeader } from './identity.js';
export type { VerifyIdentityHeaderOptions, VerifyIdentityOptions } from './identity.js';
export type {
  ClientOptions,
  FetchLike,
  Identity,
  LoginStarted,
  RequestLike,
  ServerLoginStarted,
  Session,
  SessionInfo,
  SessionJwt,
  SessionWithToken,
  User,
} from './types.js';

/**
 * `GET {baseUrl}/v1/session` with `Authorization: Bearer <token>`. Takes the token itself, or a
 * request presenting it (`Authorization: Bearer`, else the `__Host-dynauth` cookie). Resolves to
 * null when there is no live session (no or malformed token, 401 `invalid_session`); rejects with
 * a `DynauthError` otherwise.
 */
export declare function verifySession(
  tokenOrRequest: string | RequestLike | null | undefined,
  options: ClientOptions,
): Promise<SessionInfo | null>;

/**
 * `POST {baseUrl}/v1/session/token` with `Authorization: Bearer <token>`: a short-lived JWT of the
 * session (for services that verify it offline against the tenant's JWKS). Takes what
 * `verifySession` takes; null when there is no live session.
 */
export declare function sessionJwt(
  tokenOrRequest: string | RequestLike | null | undefined,
  options: ClientOptions,
): Promise<SessionJwt | null>;

/** Options of a server-side login: `binding`, the binding of an earlier start for the same user. */
export interface LoginOptions extends ClientOptions {
  binding?: string;
}

/**
 * `POST {baseUrl}/v1/login/start` from a backend, with the login binding in the answer (`"deliver":
 * "body"`). `code` only from a DEV_MODE dynauth. Keep `binding` with your user's state: only a
 * verify presenting it can use the code.
 */
export declare function startLogin(email: string, options: LoginOptions): Promise<ServerLoginStarted>;

/**
 * `POST {baseUrl}/v1/login/verify` with `"deliver": "body"` and the login binding: the session
 * token comes in the answer, no cookie is set. `login` is what startLogin resolved to, or the login
 * id with `options.binding`. Backends only (a browser is refused with 403 `body_delivery_refused`).
 */
export declare function verifyLogin(
  login: string | Pick<ServerLoginStarted, 'loginId' | 'binding'>,
  code: string,
  options: LoginOptions,
): Promise<SessionWithToken>;
