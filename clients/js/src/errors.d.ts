/** Error codes dynauth answers (`error.code`), plus the client's own `network_error` and `unexpected_response`. */
export type DynauthErrorCode =
  | 'invalid_request'
  | 'invalid_json'
  | 'unknown_fields'
  | 'invalid_path'
  | 'invalid_host'
  | 'invalid_session'
  | 'invalid_code'
  | 'forbidden_origin'
  | 'body_delivery_refused'
  | 'not_found'
  | 'unknown_host'
  | 'method_not_allowed'
  | 'conflict'
  | 'code_used'
  | 'code_expired'
  | 'code_superseded'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'too_many_requests'
  | 'too_many_attempts'
  | 'config_error'
  | 'internal_error'
  | 'bad_gateway'
  | 'delivery_failed'
  | 'unavailable'
  /** fetch itself failed (DNS, refused connection, reset, abort): `status` is 0. */
  | 'network_error'
  /** dynauth (or something in front of it) answered without the JSON the API describes. */
  | 'unexpected_response'
  | (string & {});

export interface DynauthErrorDetails {
  status?: number;
  code?: DynauthErrorCode;
  retryAfter?: number | null;
  attemptsLeft?: number | null;
  cause?: unknown;
}

/** Every rejection of this package's calls. */
export declare class DynauthError extends Error {
  constructor(message: string, details?: DynauthErrorDetails);
  readonly name: 'DynauthError';
  /** The HTTP status; 0 for `network_error`. */
  status: number;
  /** The API's `error.code`, or `network_error` / `unexpected_response`. */
  code: DynauthErrorCode;
  /** Seconds to wait, from `Retry-After` (429, 503); null without one. */
  retryAfter: number | null;
  /** Wrong codes this login still takes (`invalid_code` for a known login); null otherwise. */
  attemptsLeft: number | null;
}

/** Seconds from a `Retry-After` value (delay-seconds or an HTTP date); null when absent or unreadable. */
export declare function parseRetryAfter(value: string | null | undefined, nowMs?: number): number | null;
