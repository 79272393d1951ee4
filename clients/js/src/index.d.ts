export { createClient } from './browser.js';
export type { DynauthClient } from './browser.js';
export { DynauthError } from './errors.js';
export type { DynauthErrorCode, DynauthErrorDetails } from './errors.js';
export type {
  ClientOptions,
  FetchLike,
  Identity,
  LoginStarted,
  RequestInitLike,
  RequestLike,
  ResponseLike,
  ServerLoginStarted,
  Session,
  SessionInfo,
  SessionJwt,
  SessionWithToken,
  User,
} from './types.js';
