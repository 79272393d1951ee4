import type { Identity, RequestLike } from './types.js';

/** How old a header may be, in seconds (60). */
export declare const MAX_AGE_SECS: number;

export interface VerifyIdentityOptions {
  /** The tenant's origin secrets (both during a rotation). Throws a TypeError when empty. */
  secrets: readonly string[];
  /** This origin's tenant id: a header for another tenant is refused. */
  tenant: string;
  /** The current time in Unix seconds (default: the clock). */
  now?: number;
  /** How old a header may be (default `MAX_AGE_SECS`, 60). */
  maxAgeSecs?: number;
}

export interface VerifyIdentityHeaderOptions extends VerifyIdentityOptions {
  /** The request's method. */
  method: string;
  /** The `x-forwarded-host` dynauth sent. */
  host: string;
  /** The request's path and query, e.g. `/orders?page=2`. */
  pathAndQuery: string;
}

/** `{ tenant, user, session }` when `header` is a valid dynauth identity for this request; null otherwise. */
export declare function verifyIdentityHeader(
  header: string | null | undefined,
  options: VerifyIdentityHeaderOptions,
): Promise<Identity | null>;

/** `verifyIdentityHeader` for a request as the origin received it from dynauth (method, `x-forwarded-host`, path and query from it). */
export declare function verifyIdentity(request: RequestLike, options: VerifyIdentityOptions): Promise<Identity | null>;
