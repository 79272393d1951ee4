// The foundation under wrangler dev: health, admin health against a good table and against a
// table that lacks GSI2, and configuration errors.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { ADMIN_TOKEN, call, createTable, dynamodb, startWorker, stopAll, uniqueName } from './harness.mjs';

const good = uniqueName('e2e-good');
const noGsi2 = uniqueName('e2e-nogsi2');
let ok;
let broken;
let misconfigured;
let edgeOnly;

before(async () => {
  createTable(good);
  const attrs = ['PK', 'SK', 'GSI1PK', 'GSI1SK'].map((n) => ({ AttributeName: n, AttributeType: 'S' }));
  await dynamodb('CreateTable', {
    TableName: noGsi2,
    AttributeDefinitions: attrs,
    KeySchema: [{ AttributeName: 'PK', KeyType: 'HASH' }, { AttributeName: 'SK', KeyType: 'RANGE' }],
    GlobalSecondaryIndexes: [{
      IndexName: 'GSI1',
      KeySchema: [{ AttributeName: 'GSI1PK', KeyType: 'HASH' }, { AttributeName: 'GSI1SK', KeyType: 'RANGE' }],
      Projection: { ProjectionType: 'ALL' },
    }],
    BillingMode: 'PAY_PER_REQUEST',
  });
  await dynamodb('UpdateTimeToLive', { TableName: noGsi2, TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true } });
  [ok, broken, misconfigured, edgeOnly] = await Promise.all([
    startWorker({ DYNAMODB_TABLE: good }),
    startWorker({ DYNAMODB_TABLE: noGsi2 }),
    startWorker({ DYNAMODB_TABLE: good, TOKEN_SECRET: null }),
    startWorker({ DYNAMODB_TABLE: good }, { withoutAdmin: true }),
  ]);
});

after(async () => {
  await stopAll();
  for (const t of [good, noGsi2]) await dynamodb('DeleteTable', { TableName: t }).catch(() => {});
});

describe('GET /health', () => {
  test('answers 200 without touching the database', async () => {
    const r = await call(`${ok.url}/health`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { status: 'ok' });
    assert.equal(r.headers.get('content-type'), 'application/json');
    await ok.waitForLog(/"route":"health","tenant":null,"status":200,"duration_ms":\d+,"dynamodb_calls":0/);
  });

  test('other methods are 405 with Allow', async () => {
    const r = await call(`${ok.url}/health`, { method: 'POST', body: '{}' });
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'GET');
    assert.equal(r.body.error.code, 'method_not_allowed');
  });

  test('unknown dynauth paths are a JSON 404; other paths need a tenant host', async () => {
    const r = await call(`${ok.url}/v1/nope`);
    assert.equal(r.status, 404);
    assert.deepEqual(r.body, { error: { code: 'not_found', message: 'no route for /v1/nope' } });
    const other = await call(`${ok.url}/nope`);
    assert.equal(other.status, 404);
    assert.deepEqual(other.body, { error: { code: 'unknown_host', message: 'no tenant serves the host 127.0.0.1' } });
  });
});

describe('GET /v1/admin/health', () => {
  test('401 without the token, with a wrong token, and with another scheme', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong-token' }, { authorization: `Basic ${ADMIN_TOKEN}` }]) {
      const r = await call(`${ok.url}/v1/admin/health`, { headers });
      assert.equal(r.status, 401, JSON.stringify(headers));
      assert.deepEqual(r.body, {
        error: { code: 'unauthorized', message: 'this admin route needs Authorization: Bearer <ADMIN_TOKEN>' },
      });
      assert.equal(r.headers.get('www-authenticate'), 'Bearer');
    }
  });

  test('200 with the live table details when the table is right', async () => {
    const r = await call(`${ok.url}/v1/admin/health`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, {
      status: 'ok',
      table: {
        table: good, status: 'ACTIVE', item_count: 0, indexes: ['GSI1', 'GSI2'],
        ttl_attribute: 'ttl', ttl_status: 'ENABLED', mismatches: [],
      },
    });
    await ok.waitForLog(/"route":"admin_health","tenant":null,"status":200,"duration_ms":\d+,"dynamodb_calls":2,/);
  });

  test('503 naming the problem when the table lacks GSI2', async () => {
    const r = await call(`${broken.url}/v1/admin/health`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('retry-after'), '1');
    assert.equal(r.body.error.code, 'table_mismatch');
    assert.deepEqual(r.body.error.mismatches, ['index GSI2: missing']);
    assert.equal(r.body.error.message, 'the table does not match what dynauth expects: index GSI2: missing');
  });
});

describe('configuration', () => {
  test('a missing secret is a 500 config_error naming it, on every route', async () => {
    for (const path of ['/health', '/v1/admin/health']) {
      const r = await call(`${misconfigured.url}${path}`);
      assert.equal(r.status, 500);
      assert.deepEqual(r.body, {
        error: { code: 'config_error', message: 'dynauth is misconfigured: configuration variable TOKEN_SECRET is not set' },
      });
    }
  });

  test('the edge without its ADMIN binding answers the admin API with a config_error naming it', async () => {
    const r = await call(`${edgeOnly.url}/v1/admin/health`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(r.status, 500);
    assert.equal(r.body.error.code, 'config_error');
    assert.match(r.body.error.message, /^dynauth is misconfigured: configuration variable ADMIN is not bound/);
    assert.equal((await call(`${edgeOnly.url}/health`)).status, 200, 'everything else is served');
  });

  test('no secret value is ever logged', async () => {
    for (const w of [ok, broken, misconfigured]) {
      assert.ok(!w.logs().includes(ADMIN_TOKEN), 'admin token in logs');
      assert.ok(!w.logs().includes('local-e2e-secret-not-real'), 'AWS secret in logs');
    }
  });
});
