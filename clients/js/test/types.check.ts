// Type checks of the hand-written declarations (not run; compiled with `tsc --noEmit`, see the
// README's "Types"): what must compile does, and what must not is marked @ts-expect-error.
import { createClient, DynauthError } from '@dynauth/client';
import type { DynauthClient, LoginStarted, Session, SessionInfo, SessionJwt, User } from '@dynauth/client';
import { createClient as createBrowserClient } from '@dynauth/client/browser';
import {
  MAX_AGE_SECS, sessionJwt, startLogin, verifyIdentity, verifyIdentityHeader, verifyLogin, verifySession,
} from '@dynauth/client/server';
import type { Identity, SessionWithToken } from '@dynauth/client/server';

export async function browserSide(): Promise<void> {
  const client: DynauthClient = createClient({ baseUrl: '' });
  createBrowserClient({ baseUrl: 'https://auth.acme.com', fetch });
  const started: LoginStarted = await client.startLogin('ann@example.com');
  const loginId: string = started.loginId;
  const code: string | undefined = started.code;
  const verified: SessionInfo = await client.verify(loginId, code ?? '');
  // @ts-expect-error the browser client never returns a token
  verified.token;
  const me: SessionInfo | null = await client.session();
  // @ts-expect-error session() may be null
  me.user;
  const user: User | undefined = me?.user;
  const email: string | null | undefined = user?.email;
  const session: Session | undefined = me?.session;
  const idle: string | undefined = session?.idleExpiresAt;
  const jwt: SessionJwt | null = await client.token();
  const bearer: string | undefined = jwt?.token;
  const seconds: number | undefined = jwt?.expiresIn;
  // @ts-expect-error token() may be null
  jwt.token;
  const none: void = await client.logout();
  // @ts-expect-error baseUrl is required
  createClient({});
  void [email, idle, none, bearer, seconds];
}

export async function serverSide(request: Request): Promise<void> {
  const options = { baseUrl: 'https://auth.acme.com' };
  const a: SessionInfo | null = await verifySession(request, options);
  const b: SessionInfo | null = await verifySession('token', { ...options, fetch: globalThis.fetch });
  const c: SessionInfo | null = await verifySession(undefined, options);
  const forBackends: SessionJwt | null = await sessionJwt(request, options);
  // @ts-expect-error not a token or a request
  await sessionJwt(42, options);
  void forBackends;
  // @ts-expect-error not a token or a request
  await verifySession(42, options);
  const started = await startLogin('ann@example.com', options);
  const binding: string = started.binding;
  const logged: SessionWithToken = await verifyLogin(started, '123456', options);
  await verifyLogin(started.loginId, '123456', { ...options, binding });
  await startLogin('ann@example.com', { ...options, binding });
  // @ts-expect-error a login needs its binding
  await verifyLogin({ loginId: started.loginId }, '123456', options);
  const token: string = logged.token;
  const who: Identity | null = await verifyIdentity(request, { tenant: 'acme', secrets: ['s1', 's2'] });
  const who2: Identity | null = await verifyIdentityHeader(request.headers.get('x-dynauth-identity'), {
    tenant: 'acme', secrets: ['s'], method: 'GET', host: 'app.acme.com', pathAndQuery: '/', now: 1, maxAgeSecs: MAX_AGE_SECS,
  });
  // @ts-expect-error secrets is a list
  await verifyIdentity(request, { tenant: 'acme', secrets: 's' });
  void [a, b, c, token, who, who2];
}

export function errors(e: unknown): number | null {
  if (e instanceof DynauthError) {
    const status: number = e.status;
    const code: string = e.code;
    const attempts: number | null = e.attemptsLeft;
    if (code === 'too_many_requests' || e.code === 'network_error') return e.retryAfter;
    void [status, attempts];
  }
  const made = new DynauthError('x', { status: 429, code: 'too_many_requests', retryAfter: 3 });
  const name: string = made.name;
  void name;
  return null;
}

// A custom fetch needs only what the package reads.
createClient({
  baseUrl: '',
  fetch: async (url, init) => ({ status: 200, headers: { get: () => null }, text: async () => `${url} ${init.method}` }),
});
