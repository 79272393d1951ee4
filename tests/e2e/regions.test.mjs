// Reads from the nearest region under wrangler dev: two DynamoDB Local instances are home
// (us-east-1) and a replica (eu-west-1), each behind a fault proxy that counts (and, when told,
// fails) the DynamoDB requests it sees. Where the client is comes in as request.cf, through
// miniflare's MF-CF-Blob header, as Cloudflare's edge sets it. The replica is brought level with
// home by `replicate()` only when a test says (a full copy: what replication leaves), so each
// test chooses whether the replica lags. The native tests (tests/regions.rs) cover the same rules
// in more depth, with a stream replicator; these prove the Worker as deployed routes by request.cf.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { DYNAMODB, DYNAMODB_REPLICA, admin, createTable, dynamodb, rawRequest, startWorker, stopAll, uniqueName } from './harness.mjs';
import { startFaultProxy } from './fault-proxy.mjs';

const table = uniqueName('e2e-regions');
const ACME = 'app.acme.test';
const STRICT = 'app.strict.test';
const DUBLIN = { latitude: '53.34981', longitude: '-6.26031', continent: 'EU' };
const ASHBURN = { latitude: '39.04372', longitude: '-77.48749', continent: 'NA' };
let home;
let replica;
let worker;

before(async () => {
  assert.ok(DYNAMODB_REPLICA, 'DYNAUTH_TEST_DYNAMODB_REPLICA is not set: run with `npm test`');
  createTable(table);
  createTable(table, DYNAMODB_REPLICA);
  home = await startFaultProxy(DYNAMODB);
  replica = await startFaultProxy(DYNAMODB_REPLICA);
  worker = await startWorker({
    DYNAMODB_TABLE: table,
    DYNAMODB_ENDPOINT: home.url,
    DYNAMODB_REGIONS: 'us-east-1,eu-west-1',
    DYNAMODB_ENDPOINTS: `eu-west-1=${replica.url}`,
    DYNAMODB_TIMEOUT_MS: '2000',
    REQUEST_DEADLINE_MS: '3000',
  });
  assert.equal((await admin(worker, 'PUT', '/v1/admin/tenants/acme', { name: 'Acme' })).status, 201);
  const strict = await admin(worker, 'PUT', '/v1/admin/tenants/strict', { name: 'Strict', session: { strict_revocation: true } });
  assert.equal(strict.status, 201, JSON.stringify(strict.body));
  for (const [tenant, host] of [['acme', ACME], ['strict', STRICT]]) {
    assert.equal((await admin(worker, 'PUT', `/v1/admin/tenants/${tenant}/domains/${host}`, { status: 'ready' })).status, 201);
  }
  await replicate();
  // Each host resolved once, from the replica: later requests find it in the isolate's cache.
  for (const host of [ACME, STRICT]) {
    const r = await from(DUBLIN, 'GET', '/v1/tenant', host);
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
});

after(async () => {
  await stopAll();
  await home?.close();
  await replica?.close();
  for (const endpoint of [DYNAMODB, DYNAMODB_REPLICA]) {
    await dynamodb('DeleteTable', { TableName: table }, endpoint).catch(() => {});
  }
});

const key = (item) => `${item.PK.S}\n${item.SK.S}`;

async function scan(endpoint) {
  const items = [];
  let start;
  do {
    const page = await dynamodb('Scan', { TableName: table, ConsistentRead: true, ...(start ? { ExclusiveStartKey: start } : {}) }, endpoint);
    items.push(...page.Items);
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

/** Replication catching up: the replica becomes a copy of home (directly, not through the proxies). */
async function replicate() {
  const [at, there] = await Promise.all([scan(DYNAMODB), scan(DYNAMODB_REPLICA)]);
  const kept = new Set(at.map(key));
  for (const Item of at) await dynamodb('PutItem', { TableName: table, Item }, DYNAMODB_REPLICA);
  for (const item of there.filter((i) => !kept.has(key(i)))) {
    await dynamodb('DeleteItem', { TableName: table, Key: { PK: item.PK, SK: item.SK } }, DYNAMODB_REPLICA);
  }
}

/** A request from `cf` (null: wrangler's own default location, Austin) to `host`, with the
 *  DynamoDB operations it caused in each region: { status, headers, body, home: [op], replica: [op] }. */
async function from(cf, method, path, host, headers = {}) {
  const [h, r] = [home.log.length, replica.log.length];
  const answer = await rawRequest(`${worker.url}${path}`, {
    // clientAcceptEncoding as wrangler's own requests have it (no compressed answers).
    method, host, headers: { ...(cf ? { 'mf-cf-blob': JSON.stringify({ ...cf, clientAcceptEncoding: '' }) } : {}), ...headers },
  });
  return { ...answer, home: home.log.slice(h).map((e) => e.op), replica: replica.log.slice(r).map((e) => e.op) };
}

const lookup = (cf, token, host = ACME) => from(cf, 'GET', '/v1/session', host, { authorization: `Bearer ${token}` });

async function mint(tenant = 'acme') {
  const r = await admin(worker, 'POST', `/v1/admin/tenants/${tenant}/sessions`, { user_id: 'u-1', email: 'u1@example.com' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

async function revoke(tenant, id) {
  assert.equal((await admin(worker, 'DELETE', `/v1/admin/tenants/${tenant}/sessions/${id}`)).status, 204);
}

describe('the nearest region', () => {
  test('from Dublin a replicated session is one GetItem, in eu-west-1, and the log names the region', async () => {
    const { token, session } = await mint();
    await replicate();
    const r = await lookup(DUBLIN, token);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.session.id, session.id);
    assert.deepEqual([r.replica, r.home], [['GetItem'], []]);
    await worker.waitForLog(/"route":"session".*"region":"eu-west-1"/);
  });

  test('from Ashburn, and with no location but wrangler\'s own (Austin), lookups read home', async () => {
    const { token } = await mint();
    await replicate();
    for (const cf of [ASHBURN, null]) {
      const r = await lookup(cf, token);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual([r.replica, r.home], [[], ['GetItem']]);
    }
    await worker.waitForLog(/"route":"session".*"region":"us-east-1"/);
  });

  test('a session minted a moment ago works from a lagging replica: the miss is read again at home', async () => {
    const { token, session } = await mint();
    const r = await lookup(DUBLIN, token);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.session.id, session.id);
    assert.deepEqual([r.replica, r.home], [['GetItem'], ['GetItem']]);
  });

  test('a session that exists nowhere is 401 after both reads', async () => {
    const r = await lookup(DUBLIN, 'not-a-real-token-at-all-0000000000000000000000');
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'invalid_session');
  });
});

describe('revocation', () => {
  test('reaches the replica by replication: until then Dublin still answers 200, home 401', async () => {
    const { token, session } = await mint();
    await replicate();
    await revoke('acme', session.id);
    const stale = await lookup(DUBLIN, token);
    assert.equal(stale.status, 200, 'within the replication bound the replica still holds the session');
    assert.equal((await lookup(ASHBURN, token)).status, 401);
    await replicate();
    const gone = await lookup(DUBLIN, token);
    assert.equal(gone.status, 401);
    assert.deepEqual([gone.replica, gone.home], [['GetItem'], []], 'a revoked item is a hit, not a miss: no second read');
  });

  test('is at once under session.strict_revocation: lookups read home, consistently', async () => {
    const { token, session } = await mint('strict');
    await replicate();
    const live = await lookup(DUBLIN, token, STRICT);
    assert.equal(live.status, 200, JSON.stringify(live.body));
    assert.deepEqual([live.replica, live.home], [[], ['GetItem']]);
    await revoke('strict', session.id);
    assert.equal((await lookup(DUBLIN, token, STRICT)).status, 401);
  });

  test('logout from Dublin answers 204 only after the home write', async () => {
    const { token } = await mint();
    await replicate();
    const out = await from(DUBLIN, 'POST', '/v1/logout', ACME, { authorization: `Bearer ${token}` });
    assert.equal(out.status, 204);
    // Logout is the admin Worker's (through the ADMIN binding): it may resolve the host from the
    // nearest replica (once per isolate), and writes nothing there.
    assert.ok(out.replica.every((op) => op === 'GetItem') && out.replica.length <= 1, `the replica saw ${out.replica}`);
    assert.ok(out.home.some((op) => op !== 'GetItem' && op !== 'Query'), `a write at home: ${out.home}`);
    assert.equal((await lookup(ASHBURN, token)).status, 401);
  });
});

describe('faults', () => {
  test('home down: replicated sessions still answer 200 from the replica; writes and unreplicated reads 503 + Retry-After', async () => {
    const { token } = await mint();
    const fresh = await mint();
    await replicate();
    const unreplicated = await mint();
    home.plan = () => '500-before';
    try {
      const r = await lookup(DUBLIN, token);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual([r.replica, r.home], [['GetItem'], []]);
      const unsure = await lookup(DUBLIN, unreplicated.token);
      assert.equal(unsure.status, 503, JSON.stringify(unsure.body));
      assert.ok(Number(unsure.headers['retry-after']) > 0);
      const logout = await from(DUBLIN, 'POST', '/v1/logout', ACME, { authorization: `Bearer ${fresh.token}` });
      assert.equal(logout.status, 503, JSON.stringify(logout.body));
      assert.equal(logout.body.error.code, 'unavailable');
      assert.ok(Number(logout.headers['retry-after']) > 0);
    } finally {
      home.plan = () => null;
    }
    // Nothing was lost: the logout that answered 503 did not happen, and the session still works.
    assert.equal((await lookup(ASHBURN, fresh.token)).status, 200);
  });

  test('replica down: Dublin is answered through home, and after three failures the replica is skipped', async () => {
    // Last in this file: the open breaker keeps this isolate off the replica for 30 s.
    const { token } = await mint();
    await replicate();
    replica.plan = () => 'reset-before';
    try {
      for (let i = 0; i < 3; i += 1) {
        const r = await lookup(DUBLIN, token);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.deepEqual([r.replica, r.home], [['GetItem'], ['GetItem']], `failure ${i + 1}: one attempt at the replica, then home`);
      }
      const skipped = await lookup(DUBLIN, token);
      assert.equal(skipped.status, 200);
      assert.deepEqual([skipped.replica, skipped.home], [[], ['GetItem']], 'the breaker is open: home only');
    } finally {
      replica.plan = () => null;
    }
  });
});
