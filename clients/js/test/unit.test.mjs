// Unit tests of the package against a scripted fetch (no server): the exact requests each call
// makes, how answers and failures become values and DynauthErrors, where a request's token is
// read, and the identity verifier against an independent node:crypto HMAC. The calls against the
// real Worker are in the repository's tests/e2e/client*.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';

import { createClient, DynauthError } from '../src/index.js';
import * as browser from '../src/browser.js';
import { sessionJwt, startLogin, verifyIdentity, verifyIdentityHeader, verifyLogin, verifySession } from '../src/server.js';
import { parseRetryAfter } from '../src/errors.js';

const TOKEN = 'A'.repeat(43);
const BINDING = 'B'.repeat(43);
const SESSION = {
  id: 'S'.repeat(43), user_id: 'u-1', email: 'ann@example.com',
  created_at: '2026-11-21T10:00:00Z', expires_at: '2026-12-21T10:00:00Z', idle_expires_at: '2026-11-28T10:00:00Z',
};
const USER = { id: 'u-1', email: 'ann@example.com' };
const CAMEL = {
  session: {
    id: 'S'.repeat(43), userId: 'u-1', email: 'ann@example.com',
    createdAt: '2026-11-21T10:00:00Z', expiresAt: '2026-12-21T10:00:00Z', idleExpiresAt: '2026-11-28T10:00:00Z',
  },
  user: USER,
};

/** A fetch answering `answers` in turn (status, json or text, headers), recording each call. */
function scripted(...answers) {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, init });
    const a = answers.shift();
    if (a instanceof Error) throw a;
    const body = a.text ?? (a.json === undefined ? '' : JSON.stringify(a.json));
    return new Response(a.status === 204 ? null : body, { status: a.status, headers: a.headers });
  };
  return { fetch, calls };
}

test('the browser client: exact requests, camelCase answers, no token, cookie credentials', async () => {
  const { fetch, calls } = scripted(
    { status: 202, json: { login_id: 'L'.repeat(22), expires_at: '2026-11-21T10:10:00Z', code: '123456' } },
    { status: 200, json: { session: SESSION, user: USER, token: TOKEN } },
    { status: 200, json: { session: SESSION, user: USER } },
    { status: 204 },
    { status: 401, json: { error: { code: 'invalid_session', message: 'no live session: sign in again' } } },
  );
  const client = createClient({ baseUrl: 'https://auth.acme.com/', fetch });
  assert.equal(browser.createClient, createClient);
  assert.deepEqual(await client.startLogin('ann@example.com'), { loginId: 'L'.repeat(22), expiresAt: '2026-11-21T10:10:00Z', code: '123456' });
  const verified = await client.verify('L'.repeat(22), '123456');
  assert.deepEqual(verified, CAMEL, 'a token in the answer is not passed on');
  assert.deepEqual(await client.session(), CAMEL);
  assert.equal(await client.logout(), undefined);
  assert.equal(await client.session(), null);
  const json = { accept: 'application/json', 'content-type': 'application/json' };
  assert.deepEqual(calls, [
    { url: 'https://auth.acme.com/v1/login/start', init: { method: 'POST', headers: json, body: '{"email":"ann@example.com"}', credentials: 'include' } },
    { url: 'https://auth.acme.com/v1/login/verify', init: { method: 'POST', headers: json, body: `{"login_id":"${'L'.repeat(22)}","code":"123456"}`, credentials: 'include' } },
    { url: 'https://auth.acme.com/v1/session', init: { method: 'GET', headers: { accept: 'application/json' }, credentials: 'include' } },
    { url: 'https://auth.acme.com/v1/logout', init: { method: 'POST', headers: { accept: 'application/json' }, credentials: 'include' } },
    { url: 'https://auth.acme.com/v1/session', init: { method: 'GET', headers: { accept: 'application/json' }, credentials: 'include' } },
  ]);
  // Same origin: relative URLs.
  const same = scripted({ status: 202, json: { login_id: 'x', expires_at: 't' } });
  assert.deepEqual(await createClient({ baseUrl: '', fetch: same.fetch }).startLogin('a@b.co'), { loginId: 'x', expiresAt: 't' });
  assert.equal(same.calls[0].url, '/v1/login/start');
  assert.throws(() => createClient({}), TypeError);
});

test('errors: the API code and message, Retry-After, attempts_left, network and unexpected answers', async () => {
  const { fetch } = scripted(
    { status: 401, json: { error: { code: 'invalid_code', message: 'the code is wrong, or there is no such login', attempts_left: 3 } } },
    { status: 429, json: { error: { code: 'too_many_requests', message: 'slow down' } }, headers: { 'retry-after': '42' } },
    { status: 502, text: '<html>bad gateway</html>', headers: { 'retry-after': 'nonsense' } },
    { status: 200, text: 'not json' },
    { status: 200, json: { user: USER } },
    new TypeError('fetch failed'),
    { status: 500, json: { error: { code: 'internal_error', message: 'an internal error occurred; it has been logged' } } },
  );
  const client = createClient({ baseUrl: 'https://auth.acme.com', fetch });
  const rejects = async (promise) => {
    try { await promise; } catch (e) { assert.ok(e instanceof DynauthError); assert.ok(e instanceof Error); return e; }
    assert.fail('did not reject');
  };
  const pick = (e) => ({ name: e.name, message: e.message, status: e.status, code: e.code, retryAfter: e.retryAfter, attemptsLeft: e.attemptsLeft });
  assert.deepEqual(pick(await rejects(client.verify('l', 'c'))),
    { name: 'DynauthError', message: 'the code is wrong, or there is no such login', status: 401, code: 'invalid_code', retryAfter: null, attemptsLeft: 3 });
  assert.deepEqual(pick(await rejects(client.startLogin('a@b.co'))),
    { name: 'DynauthError', message: 'slow down', status: 429, code: 'too_many_requests', retryAfter: 42, attemptsLeft: null });
  assert.deepEqual(pick(await rejects(client.session())),
    { name: 'DynauthError', message: 'dynauth answered 502 without a JSON error', status: 502, code: 'unexpected_response', retryAfter: null, attemptsLeft: null });
  assert.deepEqual(pick(await rejects(client.session())),
    { name: 'DynauthError', message: 'dynauth answered 200, but its answer is not JSON', status: 200, code: 'unexpected_response', retryAfter: null, attemptsLeft: null });
  assert.deepEqual(pick(await rejects(client.session())),
    { name: 'DynauthError', message: 'dynauth answered 200, but its answer lacks the session', status: 200, code: 'unexpected_response', retryAfter: null, attemptsLeft: null });
  const network = await rejects(client.logout());
  assert.deepEqual(pick(network),
    { name: 'DynauthError', message: 'dynauth could not be reached: fetch failed', status: 0, code: 'network_error', retryAfter: null, attemptsLeft: null });
  assert.equal(network.cause.message, 'fetch failed');
  // session() is null only for invalid_session: other failures reject.
  assert.equal((await rejects(client.session())).code, 'internal_error');
});

test('Retry-After: seconds or an HTTP date', () => {
  assert.equal(parseRetryAfter('120'), 120);
  assert.equal(parseRetryAfter(' 0 '), 0);
  assert.equal(parseRetryAfter(null), null);
  assert.equal(parseRetryAfter('-5'), null);
  const now = Date.parse('2026-11-21T10:00:00Z');
  assert.equal(parseRetryAfter('Sat, 21 Nov 2026 10:01:30 GMT', now), 90);
  assert.equal(parseRetryAfter('Sat, 21 Nov 2026 09:00:00 GMT', now), 0);
});

test('verifySession reads the bearer token, else the cookie, and asks dynauth with the bearer', async () => {
  const seen = [];
  const fetch = async (url, init) => {
    seen.push(init.headers.authorization);
    return new Response(JSON.stringify({ session: SESSION, user: USER }), { status: 200 });
  };
  const options = { baseUrl: 'https://auth.acme.com', fetch };
  const B = 'B'.repeat(43);
  const C = 'C'.repeat(43);
  const req = (url, headers) => new Request(url, { headers });
  assert.deepEqual(await verifySession(TOKEN, options), CAMEL);
  assert.deepEqual(await verifySession(req('https://app.acme.com/', { authorization: `bEaReR  ${B} ` }), options), CAMEL);
  await verifySession(req('https://app.acme.com/', { cookie: `theme=dark; __Host-dynauth=${C}; x=1` }), options);
  await verifySession(req('https://app.acme.com/', { authorization: `Bearer ${B}`, cookie: `__Host-dynauth=${C}` }), options);
  await verifySession(req('https://app.acme.com/', { authorization: 'Basic dTpw', cookie: `__Host-dynauth=${C}` }), options);
  await verifySession(req('http://localhost:3000/', { cookie: `dynauth_local=${B}` }), options);
  assert.deepEqual(seen, [`Bearer ${TOKEN}`, `Bearer ${B}`, `Bearer ${C}`, `Bearer ${B}`, `Bearer ${C}`, `Bearer ${B}`]);
  // No request at all when nothing could be a session.
  const none = [
    undefined, null, '', 'garbage', `${TOKEN}x`,
    req('https://app.acme.com/', {}),
    req('https://app.acme.com/', { cookie: `dynauth_local=${B}` }), // the local cookie only on plain-http localhost
    req('http://localhost:3000/', { cookie: `__Host-dynauthx=${B}` }),
    req('https://app.acme.com/', { authorization: 'Bearer' }),
  ];
  for (const value of none) assert.equal(await verifySession(value, options), null);
  assert.equal(seen.length, 6);
  await assert.rejects(verifySession(42, options), TypeError);
});

test('session JWTs: the browser asks with the cookie, the server with the bearer token; null without a session', async () => {
  const JWT = { token: 'h.p.s', token_type: 'Bearer', expires_at: '2026-11-21T10:05:00Z', expires_in: 300 };
  const CAMEL_JWT = { token: 'h.p.s', expiresAt: '2026-11-21T10:05:00Z', expiresIn: 300 };
  const noSession = { status: 401, json: { error: { code: 'invalid_session', message: 'no live session: sign in again' } } };
  const { fetch, calls } = scripted({ status: 200, json: JWT }, noSession, { status: 200, json: JWT }, noSession, { status: 200, json: {} });
  const client = createClient({ baseUrl: 'https://auth.acme.com', fetch });
  assert.deepEqual(await client.token(), CAMEL_JWT);
  assert.equal(await client.token(), null);
  const options = { baseUrl: 'https://auth.acme.com', fetch };
  assert.deepEqual(await sessionJwt(new Request('https://app.acme.com/', { headers: { cookie: `__Host-dynauth=${TOKEN}` } }), options), CAMEL_JWT);
  assert.equal(await sessionJwt(TOKEN, options), null);
  assert.equal(await sessionJwt('not-a-token', options), null, 'no request for what cannot be a session');
  assert.equal((await sessionJwt(TOKEN, options).catch((e) => e)).code, 'unexpected_response', 'an answer without the token');
  assert.deepEqual(calls.map((c) => [c.url, c.init.method, c.init.credentials, c.init.headers.authorization]), [
    ['https://auth.acme.com/v1/session/token', 'POST', 'include', undefined],
    ['https://auth.acme.com/v1/session/token', 'POST', 'include', undefined],
    ['https://auth.acme.com/v1/session/token', 'POST', undefined, `Bearer ${TOKEN}`],
    ['https://auth.acme.com/v1/session/token', 'POST', undefined, `Bearer ${TOKEN}`],
    ['https://auth.acme.com/v1/session/token', 'POST', undefined, `Bearer ${TOKEN}`],
  ]);
});

test('startLogin and verifyLogin on the server: no credentials mode, deliver body, the token returned', async () => {
  const { fetch, calls } = scripted(
    { status: 202, json: { login_id: 'L'.repeat(22), expires_at: '2026-11-21T10:10:00Z', binding: BINDING } },
    { status: 200, json: { session: SESSION, user: USER, token: TOKEN } },
    { status: 200, json: { session: SESSION, user: USER } },
    { status: 202, json: { login_id: 'L'.repeat(22), expires_at: '2026-11-21T10:10:00Z' } },
    { status: 200, json: { session: SESSION, user: USER, token: TOKEN } },
  );
  const options = { baseUrl: 'https://auth.acme.com', fetch };
  const started = await startLogin('ann@example.com', options);
  assert.deepEqual(started, { loginId: 'L'.repeat(22), expiresAt: '2026-11-21T10:10:00Z', binding: BINDING });
  assert.deepEqual(await verifyLogin(started, '123456', options), { ...CAMEL, token: TOKEN });
  const e = await verifyLogin('L'.repeat(22), '123456', { ...options, binding: BINDING }).catch((x) => x);
  assert.equal(e.code, 'unexpected_response', 'a verify answer without the token');
  const noBinding = await startLogin('ann@example.com', { ...options, binding: BINDING }).catch((x) => x);
  assert.equal(noBinding.code, 'unexpected_response', 'a start answer without the binding');
  await verifyLogin('L'.repeat(22), '123456', options);
  await assert.rejects(verifyLogin({ binding: BINDING }, '123456', options), TypeError);
  const json = { accept: 'application/json', 'content-type': 'application/json' };
  assert.deepEqual(calls, [
    { url: 'https://auth.acme.com/v1/login/start', init: { method: 'POST', headers: json, body: '{"email":"ann@example.com","deliver":"body"}' } },
    { url: 'https://auth.acme.com/v1/login/verify', init: { method: 'POST', headers: json, body: `{"login_id":"${'L'.repeat(22)}","code":"123456","deliver":"body","binding":"${BINDING}"}` } },
    { url: 'https://auth.acme.com/v1/login/verify', init: { method: 'POST', headers: json, body: `{"login_id":"${'L'.repeat(22)}","code":"123456","deliver":"body","binding":"${BINDING}"}` } },
    { url: 'https://auth.acme.com/v1/login/start', init: { method: 'POST', headers: json, body: `{"email":"ann@example.com","deliver":"body","binding":"${BINDING}"}` } },
    { url: 'https://auth.acme.com/v1/login/verify', init: { method: 'POST', headers: json, body: `{"login_id":"${'L'.repeat(22)}","code":"123456","deliver":"body"}` } },
  ]);
});

test('verifyIdentity accepts exactly what an independent HMAC signed for this request', async () => {
  const secret = 'origin-secret-0123456789';
  const next = 'origin-secret-next-987654';
  const t = 1_795_248_000;
  const sign = (key, fields) => createHmac('sha256', key).update(fields.join('\n')).digest('hex');
  const canonical = ['v1', String(t), 'acme', 'u-7', 'sess-1', 'POST', 'app.acme.com', '/orders?page=2'];
  const header = `v1; t=${t}; tenant=acme; user=u-7; session=sess-1; sig=${sign(next, canonical)}; sig=${sign(secret, canonical)}`;
  const request = (h, url = 'http://10.0.0.5:8080/orders?page=2', method = 'post') =>
    new Request(url, { method, headers: { 'x-dynauth-identity': h, 'x-forwarded-host': 'app.acme.com' } });
  const who = { tenant: 'acme', user: 'u-7', session: 'sess-1' };
  assert.deepEqual(await verifyIdentity(request(header), { tenant: 'acme', secrets: [secret], now: t + 60 }), who);
  assert.deepEqual(await verifyIdentity(request(header), { tenant: 'acme', secrets: [next], now: t - 60 }), who);
  assert.equal(await verifyIdentity(request(header), { tenant: 'acme', secrets: [secret], now: t + 61 }), null);
  assert.deepEqual(await verifyIdentity(request(header), { tenant: 'acme', secrets: [secret], now: t + 61, maxAgeSecs: 61 }), who);
  assert.equal(await verifyIdentity(request(header), { tenant: 'globex', secrets: [secret], now: t }), null);
  assert.equal(await verifyIdentity(request(header), { tenant: 'acme', secrets: ['other'], now: t }), null);
  assert.equal(await verifyIdentity(request(header, 'http://10.0.0.5:8080/orders?page=3'), { tenant: 'acme', secrets: [secret], now: t }), null);
  assert.equal(await verifyIdentity(request(header, undefined, 'GET'), { tenant: 'acme', secrets: [secret], now: t }), null);
  assert.equal(await verifyIdentity(request(header.replace('user=u-7', 'user=u-8')), { tenant: 'acme', secrets: [secret], now: t }), null);
  assert.equal(await verifyIdentity(request(header.replace('v1;', 'v2;')), { tenant: 'acme', secrets: [secret], now: t }), null);
  assert.equal(await verifyIdentity(new Request('http://x/orders?page=2', { method: 'POST' }), { tenant: 'acme', secrets: [secret], now: t }), null);
  assert.deepEqual(
    await verifyIdentityHeader(header, { tenant: 'acme', secrets: [secret], method: 'POST', host: 'app.acme.com', pathAndQuery: '/orders?page=2', now: t }),
    who,
  );
  await assert.rejects(verifyIdentity(request(header), { tenant: 'acme', secrets: [], now: t }), TypeError);
  await assert.rejects(verifyIdentity(request(header), { tenant: 'acme', secrets: secret, now: t }), TypeError);
});

test('the entry points of package.json exports, each with its types', async () => {
  const { readFileSync, existsSync } = await import('node:fs');
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  assert.deepEqual(Object.keys(pkg.exports), ['.', './browser', './server', './package.json']);
  for (const entry of ['.', './browser', './server']) {
    assert.ok(existsSync(new URL(`.${pkg.exports[entry].types.slice(1)}`, `${new URL('../', import.meta.url)}`)), `${entry} types`);
  }
  assert.deepEqual(pkg.dependencies, undefined, 'no runtime dependencies');
  // Self-reference by the package's name goes through its exports map.
  const names = async (spec) => Object.keys(await import(spec)).sort();
  assert.deepEqual(await names('@dynauth/client'), ['DynauthError', 'createClient']);
  assert.deepEqual(await names('@dynauth/client/browser'), ['DynauthError', 'createClient']);
  assert.deepEqual(await names('@dynauth/client/server'),
    ['DynauthError', 'MAX_AGE_SECS', 'sessionJwt', 'startLogin', 'verifyIdentity', 'verifyIdentityHeader', 'verifyLogin', 'verifySession']);
  assert.equal((await import('@dynauth/client/server')).DynauthError, DynauthError, 'one error class for every entry point');
});
