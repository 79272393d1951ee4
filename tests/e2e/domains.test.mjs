// Domain verification under wrangler dev, for real: a `pending` host becomes `ready` only when
// the admin Worker, fetching http://<host>/.well-known/dynauth-domain-verification, reaches this
// very edge Worker and gets the claim's token back. Here the host is 127.0.0.1 and its "DNS" a
// TCP relay on DOMAIN_CHECK_PORT: first to nothing (unverified), then to the edge Worker.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect } from 'node:net';

import { admin, call, createTable, dynamodb, rawRequest, startWorker, stopAll, uniqueName } from './harness.mjs';

const table = uniqueName('e2e-domains');
let worker;
let relay;
let target = null; // the port the relay forwards to; null: it refuses

before(async () => {
  createTable(table);
  relay = createServer((socket) => {
    if (target === null) return socket.destroy();
    const upstream = connect(target, '127.0.0.1');
    socket.pipe(upstream).pipe(socket);
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  await new Promise((ok) => relay.listen(0, '127.0.0.1', ok));
  // No negative host cache: the edge sees the host go ready at once (in production it takes up
  // to HOST_CACHE_NEGATIVE_TTL_SECS, 5 s).
  worker = await startWorker({
    DYNAMODB_TABLE: table,
    DOMAIN_CHECK_PORT: String(relay.address().port),
    HOST_CACHE_NEGATIVE_TTL_SECS: '0',
  });
  assert.equal((await admin(worker, 'PUT', '/v1/admin/tenants/acme', { name: 'Acme' })).status, 201);
});

after(async () => {
  await stopAll();
  await new Promise((ok) => relay?.close(ok));
  await dynamodb('DeleteTable', { TableName: table }).catch(() => {});
});

test('a pending host goes ready only once it reaches this Worker', async () => {
  const claim = await admin(worker, 'PUT', '/v1/admin/tenants/acme/domains/127.0.0.1', { status: 'pending' });
  assert.equal(claim.status, 201);
  const before = await rawRequest(`${worker.url}/v1/tenant`, { host: '127.0.0.1' });
  assert.equal(before.status, 404, 'pending hosts do not route');
  const served = await call(`${worker.url}/.well-known/dynauth-domain-verification`);
  assert.equal(served.status, 200);
  assert.match(served.body, /^[A-Za-z0-9_-]{43}$/);

  const unreachable = await admin(worker, 'POST', '/v1/admin/tenants/acme/domains/127.0.0.1/verify');
  assert.equal(unreachable.status, 409, JSON.stringify(unreachable.body));
  assert.equal(unreachable.body.error.code, 'domain_unverified');
  assert.match(unreachable.body.error.message, /does not show this claim: it could not be reached/);

  target = worker.port; // the host now reaches the edge Worker
  const verified = await admin(worker, 'POST', '/v1/admin/tenants/acme/domains/127.0.0.1/verify');
  assert.equal(verified.status, 200, JSON.stringify(verified.body));
  assert.deepEqual([verified.body.host, verified.body.tenant, verified.body.status], ['127.0.0.1', 'acme', 'ready']);
  const routed = await rawRequest(`${worker.url}/v1/tenant`, { host: '127.0.0.1' });
  assert.deepEqual([routed.status, routed.body.id], [200, 'acme']);
  await worker.waitForLog(/"route":"admin_domain_verify","tenant":"acme","status":200/);
});
