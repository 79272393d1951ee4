// DynauthError: every failure of a dynauth call, as a typed value.

/**
 * A non-2xx answer from dynauth (`code` is the API's `error.code`), a fetch that failed
 * (`network_error`, status 0), or an answer that is not what the API describes
 * (`unexpected_response`).
 */
export class DynauthError extends Error {
  /**
   * @param {string} message
   * @param {{ status?: number, code?: string, retryAfter?: number | null, attemptsLeft?: number | null, cause?: unknown }} [details]
   */
  constructor(message, { status = 0, code = 'unexpected_response', retryAfter = null, attemptsLeft = null, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'DynauthError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
    this.attemptsLeft = attemptsLeft;
  }
}

/** Seconds from a `Retry-After` value (delay-seconds or an HTTP date); null when absent or unreadable. */
export function parseRetryAfter(value, nowMs = Date.now()) {
  if (value == null) return null;
  const text = String(value).trim();
  if (/^\d+$/.test(text)) return Number(text);
  // An HTTP date starts with the day's name ("Sun, 06 Nov 1994 08:49:37 GMT").
  const at = /^[A-Za-z]/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.ceil((at - nowMs) / 1000));
}
