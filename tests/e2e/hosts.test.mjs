// Host canonicalization in the Worker, where the WHATWG host parser is the runtime's own URL:
// every case of tests/fixtures/hosts.json (the table the native unit test checks against the url
// crate) claimed through the admin API gives the same host, or the same refusal.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { ROOT, admin, createTable, dynamodb, startWorker, stopAll, uniqueName } from './harness.mjs';

const { cases } = JSON.parse(readFileSync(join(ROOT, 'tests/fixtures/hosts.json'), 'utf8'));
const table = uniqueName('e2e-hosts');
let worker;

before(async () => {
  createTable(table);
  worker = await startWorker({ DYNAMODB_TABLE: table });
  assert.equal((await admin(worker, 'PUT', '/v1/admin/tenants/hosts', { name: 'Hosts' })).status, 201);
});

after(async () => {
  await stopAll();
  await dynamodb('DeleteTable', { TableName: table }).catch(() => {});
});

test('the runtime URL parser and the url crate agree on every case of the table', async () => {
  // A path cannot carry "." or ".." (URLs drop such segments): those cases are the unit test's.
  const pathSafe = cases.filter((c) => c.input !== '.' && c.input !== '..');
  assert.ok(pathSafe.length >= 40);
  for (const c of pathSafe) {
    const r = await admin(worker, 'PUT', `/v1/admin/tenants/hosts/domains/${encodeURIComponent(c.input)}`, { status: 'pending' });
    if (c.host !== undefined) {
      assert.ok([200, 201].includes(r.status), `${JSON.stringify(c.input)}: ${r.status} ${JSON.stringify(r.body)}`);
      assert.equal(r.body.host, c.host, JSON.stringify(c.input));
    } else {
      assert.deepEqual([r.status, r.body.error?.code, r.body.error?.message],
        [400, 'invalid_host', `the host is invalid: ${c.error}`], JSON.stringify(c.input));
    }
  }
});
