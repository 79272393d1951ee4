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
  const documented = new Set(spec.components.schemas.ErrorCode.enum);
  const read = (f) => readFileSync(`${ROOT}/src/api/${f}`, 'utf8');
  const source = readdirSync(`${ROOT}/src/api`).filter((f) => f.endsWith('.rs')).map(read)
    .concat(readFileSync(`${ROOT}/src/values/input.rs`, 'utf8')).join('\n');
  // `code: "x"`, `with_code("x"`, `bad_request("x"`, `gone("x"` anywhere in the API, and
  // `Self::X { .. } => "x"` in ApiError::code.
  const found = new Set();
  for (const re of [/code: "([a-z_]+)"/g, /with_code\(\s*"([a-z_]+)"/g, /bad_request\(\s*"([a-z_]+)"/g, /gone\(\s*"([a-z_]+)"/g]) {
    for (const m of source.matchAll(re)) found.add(m[1]);
  }
  for (const m of read('error.rs').matchAll(/Self::[A-Za-z]+(?: \{ \.\. \}|\(_\))? => "([a-z_]+)",/g)) found.add(m[1]);
  const missing = [...found].filter((c) => !documented.has(c));
  assert.deepEqual(missing, [], 'codes the code answers with but the description lacks');
  const unused = [...documented].filter((c) => !found.has(c));
  assert.deepEqual(unused, [], 'codes the description lists but no code answers with');
});
