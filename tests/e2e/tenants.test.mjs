// Tenants and routing under wrangler dev: a request with a claimed Host reaches a local origin
// with x-dynauth-tenant (and without the client's spoofed one); unknown hosts are 404.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { admin, createTable, dynamodb, rawRequest, startOrigin, startWorker, stopAll, uniqueName } from './harness.mjs';

const table = uniqueName('e2e-tenants');
let worker;
let origin;

before(async () => {
  createTable(table);
  origin = await startOrigin((seen, res) => {
    if (seen.url.startsWith('/base/redirect')) {
      res.writeHead(302, { location: '/elsewhere' });
      return res.end();
    }
    res.writeHead(201, { 'content-type': 'application/json', 'x-origin': 'yes', 'set-cookie': 'app=1; Path=/' });
    res.end(JSON.stringify(seen));
  });
  worker = await startWorker({ DYNAMODB_TABLE: table });
  const put = await admin(worker, 'PUT', '/v1/admin/tenants/acme', { name: 'Acme', origin: `${origin.url}/base` });
  assert.equal(put.status, 201, JSON.stringify(put.body));
  const claim = await admin(worker, 'PUT', '/v1/admin/tenants/acme/domains/auth.acme.test', { status: 'ready' });
  assert.equal(claim.status, 201, JSON.stringify(claim.body));
  const pending = await admin(worker, 'PUT', '/v1/admin/tenants/acme/domains/soon.acme.test', { status: 'pending' });
  assert.equal(pending.status, 201);
});

after(async () => {
  await stopAll();
  await origin?.close();
  await dynamodb('DeleteTable', { TableName: table }).catch(() => {});
});

describe('routing to the tenant origin', () => {
  test('a claimed host reaches the origin with x-dynauth-tenant, never the spoofed one', async () => {
    const r = await rawRequest(`${worker.url}/app/hello?x=1&y=%20`, {
      host: 'Auth.Acme.Test',
      headers: { 'x-dynauth-tenant': 'globex', 'x-dynauth-user': 'root', 'x-custom': 'kept' },
    });
    assert.equal(r.status, 201);
    assert.equal(r.headers['x-origin'], 'yes');
    assert.equal(r.headers['set-cookie']?.[0], 'app=1; Path=/');
    assert.equal(r.body.method, 'GET');
    assert.equal(r.body.url, '/base/app/hello?x=1&y=%20');
    assert.equal(r.body.headers['x-dynauth-tenant'], 'acme');
    assert.equal(r.body.headers['x-dynauth-user'], undefined);
    // workerd hands the Worker the URL's host, lowercased.
    assert.equal(r.body.headers['x-forwarded-host'], 'auth.acme.test');
    assert.equal(r.body.headers['x-custom'], 'kept');
    await worker.waitForLog(/"route":"proxy","tenant":"acme","status":201/);
  });

  test('bodies go through, and redirects come back unfollowed', async () => {
    const r = await rawRequest(`${worker.url}/submit`, { method: 'POST', host: 'auth.acme.test', headers: { 'content-type': 'text/plain' }, body: 'hello origin' });
    assert.equal(r.status, 201);
    assert.equal(r.body.method, 'POST');
    assert.equal(r.body.body, 'hello origin');
    const redirect = await rawRequest(`${worker.url}/redirect`, { host: 'auth.acme.test' });
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.location, '/elsewhere');
  });

  test('GET /v1/tenant names the tenant of the host', async () => {
    const r = await rawRequest(`${worker.url}/v1/tenant`, { host: 'auth.acme.test' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { id: 'acme', name: 'Acme' });
  });

  test('unknown and pending hosts are 404 unknown_host and reach no origin', async () => {
    const before = origin.requests.length;
    for (const host of ['nobody.example.test', 'soon.acme.test']) {
      const r = await rawRequest(`${worker.url}/app`, { host });
      assert.equal(r.status, 404, host);
      assert.deepEqual(r.body, { error: { code: 'unknown_host', message: `no tenant serves the host ${host}` } });
    }
    assert.equal(origin.requests.length, before);
  });

  test('an invalid Host is 400 invalid_host', async () => {
    const r = await rawRequest(`${worker.url}/app`, { host: 'bad_host.example' });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'invalid_host');
  });
});
