// The values this package returns and the options it takes (types only; no runtime module).

/** A session as its owner sees it (the API's `session`, in camelCase). Times are RFC 3339 UTC. */
export interface Session {
  /** The public session id: the unpadded base64url SHA-256 of the token. */
  id: string;
  userId: string;
  /** The email snapshot; null for a minted session without one. */
  email: string | null;
  createdAt: string;
  /** Absolute expiry. */
  expiresAt: string;
  /** Idle expiry, never past `expiresAt`; slides on use. */
  idleExpiresAt: string;
}

export interface User {
  id: string;
  email: string | null;
}

/** `GET /v1/session` and a browser verify. */
export interface SessionInfo {
  session: Session;
  user: User;
}

/** A server-side verify (`"deliver": "body"`): the session token comes in the answer. */
export interface SessionWithToken extends SessionInfo {
  /** The session token (43 base64url characters). Shown once: keep it secret. */
  token: string;
}

/** `POST /v1/session/token`: a JWT (EdDSA) that backends verify against the tenant's JWKS. */
export interface SessionJwt {
  /** The compact JWT: send it as `Authorization: Bearer <token>`. */
  token: string;
  /** Its `exp` (RFC 3339 UTC). */
  expiresAt: string;
  /** Seconds until then. */
  expiresIn: number;
}

/** `POST /v1/login/start`. */
export interface LoginStarted {
  loginId: string;
  /** When the code stops working (RFC 3339 UTC). */
  expiresAt: string;
  /** Only from a dynauth in DEV_MODE (local development). */
  code?: string;
}

/** A login started by a backend: what verifyLogin needs, `binding` included (keep it secret). */
export interface ServerLoginStarted extends LoginStarted {
  /** The login binding: only a verify presenting it can use the code. */
  binding: string;
}

/** Who is calling, from a valid `x-dynauth-identity` header. */
export interface Identity {
  tenant: string;
  user: string;
  session: string;
}

/** What this package reads of a fetch answer (a WHATWG `Response` fits). */
export interface ResponseLike {
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}

/** What this package passes to fetch. */
export interface RequestInitLike {
  method: string;
  headers: Record<string, string>;
  body?: string;
  credentials?: 'include' | 'same-origin' | 'omit';
}

/** A fetch-compatible function (the global `fetch` fits). */
export type FetchLike = (input: string, init: RequestInitLike) => Promise<ResponseLike>;

/** What this package reads of an incoming request (a WHATWG `Request` fits). */
export interface RequestLike {
  url: string;
  method: string;
  headers: { get(name: string): string | null };
}

export interface ClientOptions {
  /** dynauth's URL, e.g. `https://auth.acme.com`; `''` for the page's own origin (browser only). */
  baseUrl: string;
  /** Defaults to the global `fetch`. */
  fetch?: FetchLike;
}
