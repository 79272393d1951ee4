// Sessions under wrangler dev: mint, look up with the cookie and with the bearer header, log out,
// 401 afterwards; a protected origin is reached only with a live session and sees who it is.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { verifyIdentityHeader } from '../../examples/verify-identity.mjs';
import { admin, createTable, dynamodb, rawRequest, startOrigin, startWorker, stopAll, uniqueName } from './harness.mjs';

const table = uniqueName('e2e-sessions');
const HOST = 'app.acme.test';
let worker;
let origin;
let originSecret;

before(async () => {
  createTable(table);
  origin = await startOrigin((seen, res) => {
    if (seen.url === '/set-cookies') {
      // An origin trying to plant, overwrite or clear dynauth's cookies beside its own.
      res.writeHead(200, {
        'set-cookie': ['__Host-dynauth=planted; Path=/; Secure; HttpOnly', 'theme=light; Path=/', 'DYNAUTH_LOCAL=x', '__Host-dynauth-cache=x; Path=/; Secure'],
      });
      return res.end('ok');
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(seen));
  });
  worker = await startWorker({ DYNAMODB_TABLE: table });
  const put = await admin(worker, 'PUT', '/v1/admin/tenants/acme', { name: 'Acme', origin: origin.url, protect: true });
  assert.equal(put.status, 201, JSON.stringify(put.body));
  originSecret = put.body.secrets.origin;
  assert.equal((await admin(worker, 'PUT', `/v1/admin/tenants/acme/domains/${HOST}`, { status: 'ready' })).status, 201);
});

after(async () => {
  await stopAll();
  await origin?.close();
  await dynamodb('DeleteTable', { TableName: table }).catch(() => {});
});

async function mint(userId) {
  const r = await admin(worker, 'POST', '/v1/admin/tenants/acme/sessions', { user_id: userId, email: `${userId}@example.com` });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

describe('sessions', () => {
  test('mint, look up (cookie and bearer), log out, then 401', async () => {
    const { token, session } = await mint('u-1');
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    const expected = { session, user: { id: 'u-1', email: 'u-1@example.com' } };
    const byCookie = await rawRequest(`${worker.url}/v1/session`, { host: HOST, headers: { cookie: `__Host-dynauth=${token}` } });
    assert.equal(byCookie.status, 200);
    assert.deepEqual(byCookie.body, expected);
    const byBearer = await rawRequest(`${worker.url}/v1/session`, { host: HOST, headers: { authorization: `Bearer ${token}` } });
    assert.deepEqual(byBearer.body, expected);
    await worker.waitForLog(/"route":"session","tenant":"acme","status":200,"duration_ms":\d+,"dynamodb_calls":1,/);

    const out = await rawRequest(`${worker.url}/v1/logout`, { method: 'POST', host: HOST, headers: { cookie: `__Host-dynauth=${token}` } });
    assert.equal(out.status, 204);
    assert.deepEqual(out.headers['set-cookie'], ['__Host-dynauth=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0']);
    const after = await rawRequest(`${worker.url}/v1/session`, { host: HOST, headers: { cookie: `__Host-dynauth=${token}` } });
    assert.equal(after.status, 401);
    assert.deepEqual(after.body, { error: { code: 'invalid_session', message: 'no live session: sign in again' } });
    await worker.waitForLog(/"route":"logout","tenant":"acme","status":204/);
    assert.ok(!worker.logs().includes(token), 'the token never appears in the log');
  });

  test('a protected origin is reached only with a live session, and sees who it is', async () => {
    const { token, session } = await mint('u-2');
    const before = origin.requests.length;
    const anonymous = await rawRequest(`${worker.url}/dashboard?tab=1`, { host: HOST, headers: { accept: 'text/html' } });
    assert.equal(anonymous.status, 302);
    assert.equal(anonymous.headers.location, '/login?return_to=%2Fdashboard%3Ftab%3D1');
    const api = await rawRequest(`${worker.url}/api/orders`, { host: HOST, headers: { accept: 'application/json' } });
    assert.equal(api.status, 401);
    assert.equal(api.body.error.code, 'invalid_session');
    assert.equal(origin.requests.length, before, 'nothing reached the origin');

    const ok = await rawRequest(`${worker.url}/dashboard`, {
      host: HOST,
      headers: { cookie: `theme=dark; __Host-dynauth=${token}`, 'x-dynauth-user': 'admin' },
    });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.headers['x-dynauth-user'], 'u-2');
    assert.equal(ok.body.headers['x-dynauth-session'], session.id);
    assert.equal(ok.body.headers['x-dynauth-tenant'], 'acme');
    assert.equal(ok.body.headers.cookie, 'theme=dark');

    // The signed identity, checked by the reference verifier docs/sessions.md points origins to.
    const header = ok.body.headers['x-dynauth-identity'];
    const request = { tenant: 'acme', method: 'GET', host: ok.body.headers['x-forwarded-host'], pathAndQuery: '/dashboard' };
    assert.equal(request.host, HOST);
    assert.deepEqual(await verifyIdentityHeader(header, { ...request, secrets: [originSecret] }), { tenant: 'acme', user: 'u-2', session: session.id });
    const t = Number(/; t=(\d+);/.exec(header)[1]);
    assert.ok(Math.abs(t - Date.now() / 1000) < 30, 'stamped now');
    assert.equal(await verifyIdentityHeader(header, { ...request, secrets: [originSecret], now: t + 61 }), null, 'older than 60 s');
    assert.equal(await verifyIdentityHeader(header, { ...request, secrets: ['not-the-secret'] }), null, 'forged');
    assert.equal(await verifyIdentityHeader(header.replace('user=u-2', 'user=u-1'), { ...request, secrets: [originSecret] }), null, 'tampered');
    assert.equal(await verifyIdentityHeader(header, { ...request, pathAndQuery: '/admin', secrets: [originSecret] }), null, 'another path');
    assert.equal(await verifyIdentityHeader(header, { ...request, tenant: 'globex', secrets: [originSecret] }), null, 'another tenant');
  });

  test('with session.cache_secs, a browser\'s second lookup makes no DynamoDB call', async () => {
    const put = await admin(worker, 'PUT', '/v1/admin/tenants/beta', { name: 'Beta', session: { cache_secs: 60 } });
    assert.equal(put.status, 201);
    assert.equal((await admin(worker, 'PUT', '/v1/admin/tenants/beta/domains/beta.acme.test', { status: 'ready' })).status, 201);
    const minted = await admin(worker, 'POST', '/v1/admin/tenants/beta/sessions', { user_id: 'b-1' });
    const cookie = `__Host-dynauth=${minted.body.token}`;
    const first = await rawRequest(`${worker.url}/v1/session`, { host: 'beta.acme.test', headers: { cookie } });
    assert.equal(first.status, 200);
    const snapshot = first.headers['set-cookie'].find((c) => c.startsWith('__Host-dynauth-cache='));
    assert.match(snapshot, /^__Host-dynauth-cache=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}; Path=\/; Secure; HttpOnly; SameSite=Lax; Max-Age=60$/);
    const both = `${cookie}; ${snapshot.split(';')[0]}`;
    const second = await rawRequest(`${worker.url}/v1/session`, { host: 'beta.acme.test', headers: { cookie: both } });
    assert.deepEqual([second.status, second.body], [200, first.body]);
    await worker.waitForLog(/"route":"session","tenant":"beta","status":200,"duration_ms":\d+,"dynamodb_calls":0,/);
  });

  test("the origin cannot set dynauth's cookies", async () => {
    const { token } = await mint('u-3');
    const r = await rawRequest(`${worker.url}/set-cookies`, { host: HOST, headers: { cookie: `__Host-dynauth=${token}` } });
    assert.equal(r.status, 200);
    assert.deepEqual(r.headers['set-cookie'], ['theme=light; Path=/']);
  });
});
