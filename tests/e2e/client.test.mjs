// The JS client package (clients/js, @dynauth/client) against the built Worker under wrangler dev:
// server-side login (start, verify with the token in the answer), session checks by token, by a
// request's bearer header and by its cookie, every error as a DynauthError with the API's code,
// status, Retry-After and attempts left, fetch failures as network_error, and the origin-side
// verifier of x-dynauth-identity on what a protected origin really receives. The tenant claims
// 127.0.0.1 in this file's own table, so the client talks to wrangler dev with the global fetch.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';

import { createClient } from '../../clients/js/src/index.js';
import {
  DynauthError, sessionJwt, startLogin, verifyIdentity, verifyIdentityHeader, verifyLogin, verifySession,
} from '../../clients/js/src/server.js';
import { admin, createTable, dynamodb, rawRequest, startOrigin, startWorker, stopAll, uniqueName } from './harness.mjs';

const table = uniqueName('e2e-client');
const HOST = '127.0.0.1'; // DEV_MODE answers codes to plain http on 127.0.0.1
let dev; // DEV_MODE, default budgets
let tight; // DEV_MODE, one code per email per window
let origin; // the tenant's protected origin, verifying the identity with the package
let originSecret;

/** The WHATWG Request an origin server would build from what node:http gave it. */
function asRequest(seen, port) {
  return new Request(`http://127.0.0.1:${port}${seen.url}`, { method: seen.method, headers: seen.headers });
}

before(async () => {
  createTable(table);
  origin = await startOrigin((seen, res) => {
    // What an origin does on each request: who is calling, by the package's verifier.
    const request = asRequest(seen, origin.port);
    Promise.all([
      verifyIdentity(request, { tenant: 'acme', secrets: [originSecret] }),
      verifyIdentity(request, { tenant: 'acme', secrets: ['not-the-origin-secret'] }),
    ]).then(([who, forged]) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ who, forged }));
    });
  });
  [dev, tight] = await Promise.all([
    startWorker({ DYNAMODB_TABLE: table, DEV_MODE: 'true' }),
    startWorker({ DYNAMODB_TABLE: table, DEV_MODE: 'true', LOGIN_RATE_LIMIT: '1', LOGIN_EMAIL_LIMIT: '1' }),
  ]);
  const put = await admin(dev, 'PUT', '/v1/admin/tenants/acme', { name: 'Acme', origin: origin.url, protect: true });
  assert.equal(put.status, 201, JSON.stringify(put.body));
  originSecret = put.body.secrets.origin;
  assert.equal((await admin(dev, 'PUT', `/v1/admin/tenants/acme/domains/${HOST}`, { status: 'ready' })).status, 201);
});

after(async () => {
  await stopAll();
  await origin?.close();
  await dynamodb('DeleteTable', { TableName: table }).catch(() => {});
});

/** The global fetch, counting the requests the package makes. */
function counting() {
  const counter = { calls: 0 };
  counter.fetch = (input, init) => { counter.calls += 1; return fetch(input, init); };
  return counter;
}

/** The rejection of `promise` (it must reject with a DynauthError), as plain fields. */
async function failure(promise) {
  let error;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof DynauthError, `rejects with a DynauthError, got ${error}`);
  const { name, message, status, code, retryAfter, attemptsLeft } = error;
  return { name, message, status, code, retryAfter, attemptsLeft };
}

const h = (token) => createHash('sha256').update(token).digest('base64url');
const opts = () => ({ baseUrl: dev.url });

/** A server-side login for `email`: { session, user, token }. */
async function login(email) {
  const started = await startLogin(email, opts());
  return verifyLogin(started, started.code, opts());
}

describe('@dynauth/client against the Worker', () => {
  let logged;

  test('startLogin + verifyLogin (server) open a session and return its token', async () => {
    const t0 = Math.floor(Date.now() / 1000);
    const started = await startLogin('Cleo@Example.com', opts());
    const t1 = Math.ceil(Date.now() / 1000);
    assert.deepEqual(Object.keys(started).sort(), ['binding', 'code', 'expiresAt', 'loginId']);
    assert.match(started.loginId, /^[A-Za-z0-9_-]{22}$/);
    assert.match(started.binding, /^[A-Za-z0-9_-]{43}$/);
    assert.match(started.code, /^\d{6}$/);
    const expires = Date.parse(started.expiresAt) / 1000;
    assert.ok(expires >= t0 + 600 && expires <= t1 + 600, `the code lives 600 s: ${started.expiresAt}`);

    // Without its binding the code does nothing.
    assert.equal((await failure(verifyLogin(started.loginId, started.code, opts()))).code, 'invalid_code');
    logged = await verifyLogin(started, started.code, opts());
    assert.deepEqual(Object.keys(logged).sort(), ['session', 'token', 'user']);
    assert.match(logged.token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(logged.session.id, h(logged.token), 'the session id is the hash of the token');
    assert.match(logged.user.id, /^[A-Za-z0-9_-]{22}$/);
    assert.deepEqual(logged.user, { id: logged.user.id, email: 'cleo@example.com' });
    assert.deepEqual(Object.keys(logged.session).sort(), ['createdAt', 'email', 'expiresAt', 'id', 'idleExpiresAt', 'userId']);
    assert.equal(logged.session.userId, logged.user.id);
    assert.equal(logged.session.email, 'cleo@example.com');
    const created = Date.parse(logged.session.createdAt) / 1000;
    assert.equal(Date.parse(logged.session.expiresAt) / 1000 - created, 2_592_000, 'the default 30-day lifetime');
    assert.equal(Date.parse(logged.session.idleExpiresAt) / 1000 - created, 604_800, 'the default 7-day idle lifetime');
  });

  test('verifySession: the token, a Request with the bearer, a Request with the cookie -> the user', async () => {
    const expected = { session: logged.session, user: logged.user };
    const counter = counting();
    const options = { baseUrl: dev.url, fetch: counter.fetch };
    assert.deepEqual(await verifySession(logged.token, options), expected);
    const bearer = new Request('https://app.example.com/orders', { headers: { authorization: `Bearer ${logged.token}` } });
    assert.deepEqual(await verifySession(bearer, options), expected);
    const cookie = new Request('https://app.example.com/orders', { headers: { cookie: `theme=dark; __Host-dynauth=${logged.token}` } });
    assert.deepEqual(await verifySession(cookie, options), expected);
    assert.equal(counter.calls, 3);
  });

  test('verifySession of garbage, an unknown token or a logged-out one -> null', async () => {
    const counter = counting();
    const options = { baseUrl: dev.url, fetch: counter.fetch };
    assert.equal(await verifySession('garbage', options), null);
    assert.equal(await verifySession(new Request('https://app.example.com/'), options), null);
    assert.equal(counter.calls, 0, 'nothing is sent for what cannot be a token');
    assert.equal(await verifySession('A'.repeat(43), options), null);
    assert.equal(counter.calls, 1, "an unknown token is dynauth's 401, answered null");

    const { token } = await login('dora@example.com');
    assert.equal((await verifySession(token, options)).user.email, 'dora@example.com');
    const out = await rawRequest(`${dev.url}/v1/logout`, { method: 'POST', host: HOST, headers: { authorization: `Bearer ${token}` } });
    assert.equal(out.status, 204);
    assert.equal(await verifySession(token, options), null);
    assert.equal(counter.calls, 3);
  });

  test('sessionJwt: a JWT of the session for services behind the backend; null once logged out', async () => {
    const options = { baseUrl: dev.url };
    const { token, session } = await login('finn@example.com');
    const jwt = await sessionJwt(new Request('https://app.example.com/', { headers: { authorization: `Bearer ${token}` } }), options);
    assert.equal(jwt.expiresIn, 300);
    const claims = JSON.parse(Buffer.from(jwt.token.split('.')[1], 'base64url'));
    assert.equal(Date.parse(jwt.expiresAt) / 1000, claims.exp);
    assert.deepEqual([claims.sid, claims.email, claims.exp - claims.iat], [session.id, 'finn@example.com', 300]);
    await rawRequest(`${dev.url}/v1/logout`, { method: 'POST', host: HOST, headers: { authorization: `Bearer ${token}` } });
    assert.equal(await sessionJwt(token, options), null);
  });

  test('a wrong code: invalid_code, 401, attempts left', async () => {
    const started = await startLogin('eve@example.com', opts());
    const wrong = started.code === '000000' ? '111111' : '000000';
    assert.deepEqual(await failure(verifyLogin(started, wrong, opts())), {
      name: 'DynauthError', message: 'the code is wrong, or there is no such login',
      status: 401, code: 'invalid_code', retryAfter: null, attemptsLeft: 4,
    });
    // The browser client, with no cookie jar here, carries no binding: the same error, nothing
    // spent, and the message says why no code can work.
    const browser = createClient({ baseUrl: dev.url });
    const unbound = await failure(browser.verify(started.loginId, started.code));
    assert.deepEqual({ ...unbound, message: unbound.message.split(';')[0] }, {
      name: 'DynauthError', message: 'the code is wrong, or there is no such login',
      status: 401, code: 'invalid_code', retryAfter: null, attemptsLeft: 4,
    });
    assert.match(unbound.message, /this request presents no login binding/);
    // No such login: invalid_code without attempts.
    assert.deepEqual(await failure(verifyLogin('L'.repeat(22), '123456', { ...opts(), binding: started.binding })), {
      name: 'DynauthError', message: 'the code is wrong, or there is no such login',
      status: 401, code: 'invalid_code', retryAfter: null, attemptsLeft: null,
    });
    // The right code still works after a wrong one, with the binding in the options too.
    assert.equal((await verifyLogin(started.loginId, started.code, { ...opts(), binding: started.binding })).user.email, 'eve@example.com');
  });

  test('a superseded code: code_superseded, 410', async () => {
    const first = await startLogin('finn@example.com', opts());
    // The same user's backend starts again, keeping the binding.
    const second = await startLogin('finn@example.com', { ...opts(), binding: first.binding });
    assert.equal(second.binding, first.binding);
    assert.deepEqual(await failure(verifyLogin(first, first.code, opts())), {
      name: 'DynauthError', message: 'a newer code was requested for this email from this client; only the newest one works',
      status: 410, code: 'code_superseded', retryAfter: null, attemptsLeft: null,
    });
    assert.equal((await verifyLogin(second, second.code, opts())).user.email, 'finn@example.com');
  });

  test('a spent budget: too_many_requests, 429, with Retry-After in seconds', async () => {
    const options = { baseUrl: tight.url };
    const started = await startLogin('gus@example.com', options);
    assert.match(started.code, /^\d{6}$/);
    const e = await failure(startLogin('gus@example.com', options));
    assert.ok(Number.isInteger(e.retryAfter) && e.retryAfter >= 1 && e.retryAfter <= 900, `Retry-After ${e.retryAfter} within the 900 s window`);
    assert.deepEqual(e, {
      name: 'DynauthError', message: `too many codes were requested for this email; retry in ${e.retryAfter} s`,
      status: 429, code: 'too_many_requests', retryAfter: e.retryAfter, attemptsLeft: null,
    });
  });

  test('verifyIdentity: what a protected origin receives is {tenant, user, session}; null with a wrong secret', async () => {
    const { token, session, user } = await login('hana@example.com');
    const before = origin.requests.length;
    const anonymous = await fetch(`${dev.url}/dashboard?tab=1`, { headers: { accept: 'application/json' } });
    assert.equal(anonymous.status, 401, 'the gateway lets no anonymous request through');
    assert.equal(origin.requests.length, before);

    const res = await fetch(`${dev.url}/dashboard?tab=1`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    const who = { tenant: 'acme', user: user.id, session: session.id };
    // The origin's own verdicts, by the package's verifier, with its secret and a wrong one.
    assert.deepEqual(await res.json(), { who, forged: null });

    const seen = origin.requests.at(-1);
    assert.equal(seen.url, '/dashboard?tab=1');
    const request = asRequest(seen, origin.port);
    const header = seen.headers['x-dynauth-identity'];
    const t = Number(/; t=(\d+);/.exec(header)[1]);
    assert.deepEqual(await verifyIdentity(request, { tenant: 'acme', secrets: ['rotated-out-secret', originSecret] }), who);
    assert.equal(await verifyIdentity(request, { tenant: 'acme', secrets: ['not-the-origin-secret'] }), null);
    assert.equal(await verifyIdentity(request, { tenant: 'globex', secrets: [originSecret] }), null);
    assert.equal(await verifyIdentity(request, { tenant: 'acme', secrets: [originSecret], now: t + 61 }), null, 'older than 60 s');
    assert.deepEqual(await verifyIdentity(request, { tenant: 'acme', secrets: [originSecret], now: t + 61, maxAgeSecs: 120 }), who);
    const elsewhere = asRequest({ ...seen, url: '/admin' }, origin.port);
    assert.equal(await verifyIdentity(elsewhere, { tenant: 'acme', secrets: [originSecret] }), null, 'another path');
    const host = seen.headers['x-forwarded-host'];
    const fields = { tenant: 'acme', secrets: [originSecret], method: 'GET', host, pathAndQuery: '/dashboard?tab=1' };
    assert.deepEqual(await verifyIdentityHeader(header, fields), who);
    assert.equal(await verifyIdentityHeader(header.replace(`user=${user.id}`, 'user=someone-else'), fields), null, 'tampered');
  });

  test('fetch failing (a closed port) is network_error', async () => {
    const server = createServer();
    await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
    const { port } = server.address();
    await new Promise((ok) => server.close(ok));
    const closed = { baseUrl: `http://127.0.0.1:${port}` };
    for (const call of [() => verifySession('A'.repeat(43), closed), () => createClient(closed).session(), () => startLogin('ivy@example.com', closed)]) {
      let error;
      try { await call(); } catch (e) { error = e; }
      assert.ok(error instanceof DynauthError);
      assert.equal(error.status, 0);
      assert.equal(error.code, 'network_error');
      assert.equal(error.retryAfter, null);
      assert.equal(error.attemptsLeft, null);
      assert.equal(error.message, 'dynauth could not be reached: fetch failed');
      assert.equal(error.cause.cause.code, 'ECONNREFUSED');
    }
  });
});
