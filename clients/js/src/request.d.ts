// Internal: the transport shared by the browser and server modules (not an entry point).
import type { FetchLike, LoginStarted, SessionInfo, SessionWithToken } from './types.js';
import type { DynauthError } from './errors.js';

export interface Answer {
  status: number;
  json: unknown;
}

export declare function baseUrlOf(options: { baseUrl: string } | undefined): string;
export declare function fetchOf(options: { fetch?: FetchLike } | undefined): FetchLike;
export declare function send(
  fetchFn: FetchLike,
  url: string,
  init: { method: string; headers?: Record<string, string>; body?: unknown; credentials?: 'include' | 'same-origin' | 'omit' },
): Promise<Answer>;
export declare function sessionAnswer(answer: Answer): SessionInfo;
export declare function sessionAnswer(answer: Answer, options: { token: true }): SessionWithToken;
export declare function loginStarted(answer: Answer, options?: { binding?: boolean }): LoginStarted & { binding?: string };
export declare function isNoSession(e: unknown): e is DynauthError;
