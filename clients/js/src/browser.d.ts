import type { ClientOptions, LoginStarted, SessionInfo, SessionJwt } from './types.js';

export { DynauthError } from './errors.js';
export type { DynauthErrorCode, DynauthErrorDetails } from './errors.js';
export type { ClientOptions, FetchLike, LoginStarted, Session, SessionInfo, SessionJwt, User } from './types.js';

/** dynauth's browser API, with the session in dynauth's HttpOnly cookie. Every method rejects with a `DynauthError`. */
export interface DynauthClient {
  /** `POST /v1/login/start`: asks for a code for `email`. `code` only from a DEV_MODE dynauth. */
  startLogin(email: string): Promise<LoginStarted>;
  /** `POST /v1/login/verify`: verifies the code; dynauth sets the session cookie. No token is ever returned. */
  verify(loginId: string, code: string): Promise<SessionInfo>;
  /** `GET /v1/session`: the live session and its user; null when there is none (401 `invalid_session`). */
  session(): Promise<SessionInfo | null>;
  /** `POST /v1/session/token`: a short-lived JWT of the session for backends; null when there is none. */
  token(): Promise<SessionJwt | null>;
  /** `POST /v1/logout`: revokes the session and clears the cookie (idempotent). */
  logout(): Promise<void>;
}

/** A client for dynauth at `baseUrl` (`''` for the page's own origin). Every call uses `credentials: 'include'`. */
export declare function createClient(options: ClientOptions): DynauthClient;
