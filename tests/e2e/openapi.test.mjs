// The API description: served at GET /openapi.json (by the admin Worker, on any host), equal to
// docs/openapi.yaml, its schemas compile under JSON Schema 2020-12, and its error codes are
// exactly those the code answers with. (Every answer of the other end-to-end tests is validated
// against it by the harness: tests/e2e/openapi.mjs.)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';

import { ROOT, call, createTable, dynamodb, startWorker, stopAll, uniqueName } from './harness.mjs';

const table = uniqueName('e2e-openapi');
const spec = parse(readFileSync(`${ROOT}/docs/openapi.yaml`, 'utf8'));
let worker;

before(async () => {
  createTable(table);
  worker = await startWorker({ DYNAMODB_TABLE: table });
});

after(async () => {
  await stopAll();
  await dynamodb('DeleteTable', { TableName: table }).catch(() => {});
});

test('GET /openapi.json serves docs/openapi.yaml as JSON, without a token', async () => {
  const r = await call(`${worker.url}/openapi.json`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'application/json');
  assert.deepEqual(r.body, spec);
  assert.equal(r.body.openapi, '3.1.0');
  assert.equal((await call(`${worker.url}/openapi.json`, { method: 'POST', body: {} })).status, 405);
});

test('every schema compiles under JSON Schema 2020-12', () => {
  const ajv = new Ajv2020({ strict: false });
  addFormats(ajv);
  ajv.addSchema({ ...spec, $id: 'doc' });
  for (const name of Object.keys(spec.components.schemas)) {
    assert.ok(ajv.getSchema(`doc#/components/schemas/${name}`), name);
  }
});

test('the error codes documented are exactly those the code answers with', () => {
  const documented = spec.components.schemas.ErrorCode.enum;
  // The codes are one enum (src/values/codes.rs): its `as_str` arms, in order, are the codes.
  const codes = readFileSync(`${ROOT}/src/values/codes.rs`, 'utf8');
  const asStr = codes.slice(codes.indexOf('pub const fn as_str'));
  const arms = [...asStr.slice(0, asStr.indexOf('\n    }\n')).matchAll(/Self::([A-Za-z]+) => "([a-z_]+)"/g)];
  assert.deepEqual(arms.map((m) => m[2]), documented, 'the enum and the description list the same codes in the same order');
  // Every code is answered somewhere: its variant is named outside the enum's own file.
  const files = (dir) => readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) return files(path);
    return e.name.endsWith('.rs') && !path.endsWith('values/codes.rs') ? [path] : [];
  });
  const source = files(`${ROOT}/src`).map((f) => readFileSync(f, 'utf8')).join('\n');
  const unused = arms.filter(([, variant]) => !new RegExp(`ErrorCode::${variant}\\b`).test(source)).map((m) => m[2]);
  assert.deepEqual(unused, [], 'codes the description lists but no code answers with');
});
