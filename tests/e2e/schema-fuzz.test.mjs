// A schema-driven fuzzer nobody here wrote (Schemathesis) against the Workers under wrangler dev:
// every request docs/openapi.json allows is taken (no 400 for a request the schema accepts), no
// answer is a 5xx, and every answer has a status, Content-Type, headers and body the description
// declares. tests/e2e/schemathesis_hooks.py excuses the two rules that are not shapes (and says
// which), and keeps generated requests off the tenant that serves the Worker's host.
//
// Left out of the run: `POST .../domains/{host}/verify`, which fetches https://{host}/ from the
// internet (a generated host is anyone's), and the `cursor` query parameter, which is a signed
// value only a list hands out (it is sent empty: no cursor).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ADMIN_TOKEN, ROOT, admin, createTable, dynamodb, startWorker, stopAll, uniqueName } from './harness.mjs';

const table = uniqueName('e2e-fuzz');
// The tenant that serves the Worker's own host (127.0.0.1), so the tenant routes reach their
// logic; the hooks send no generated request to it (its host stays, no generated URL is set on it).
const OWNER = 'zz-fuzz-owner-7f3kq';
const SCHEMATHESIS = join(ROOT, '.tools/fuzz-venv/bin/schemathesis');
let worker;

before(async () => {
  createTable(table);
  worker = await startWorker({ DYNAMODB_TABLE: table, DEV_MODE: 'true' });
  assert.equal((await admin(worker, 'PUT', `/v1/admin/tenants/${OWNER}`, { name: 'Fuzz owner' })).status, 201);
  const claimed = await admin(worker, 'PUT', `/v1/admin/tenants/${OWNER}/domains/127.0.0.1`, { status: 'ready' });
  assert.equal(claimed.status, 201);
});

after(async () => {
  await stopAll();
  await dynamodb('DeleteTable', { TableName: table }).catch(() => {});
});

/** Runs schemathesis with `args`; resolves { code, output }, printing its progress as it goes. */
function schemathesis(cwd, args) {
  return new Promise((done, fail) => {
    const child = spawn(SCHEMATHESIS, args, {
      cwd,
      env: {
        ...process.env, PYTHONPATH: join(ROOT, 'tests/e2e'), SCHEMATHESIS_HOOKS: 'schemathesis_hooks',
        DYNAUTH_FUZZ_OWNER: OWNER, NO_COLOR: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (d) => {
      output += d;
      for (const line of String(d).split('\n')) if (/^\s*(✅|❌|🚫|⏭)|passed|failed/.test(line)) process.stderr.write(`[schemathesis] ${line}\n`);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', fail);
    child.on('close', (code) => done({ code, output }));
  });
}

test('Schemathesis: every request the description allows is taken, and every answer is as described', { timeout: 900_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dynauth-fuzz-'));
  writeFileSync(join(dir, 'schemathesis.toml'), [
    `headers = { Authorization = "Bearer ${ADMIN_TOKEN}" }`,
    '[parameters]',
    '"query.cursor" = ""',
    '',
  ].join('\n'));
  const checks = [
    'not_a_server_error', 'positive_data_acceptance', 'status_code_conformance', 'content_type_conformance',
    'response_headers_conformance', 'response_schema_conformance',
  ];
  // One worker: with two, Hypothesis's lambda-description cache (hypothesis/internal/lambda_sources.py)
  // is raced by the threads and a run ends in a KeyError now and then (seen in CI, 2026-12-03).
  const { code, output } = await schemathesis(dir, [
    'run', join(ROOT, 'docs/openapi.json'), '--url', worker.url,
    '--checks', checks.join(','), '--phases', 'examples,coverage,fuzzing',
    '--max-examples', process.env.DYNAUTH_FUZZ_EXAMPLES ?? '30', '--seed', process.env.DYNAUTH_FUZZ_SEED ?? '22',
    '--exclude-path-regex', '/domains/.*/verify$', '--workers', '1', '--request-timeout', '30',
  ]);
  const summary = output.slice(output.lastIndexOf('SUMMARY'));
  assert.equal(code, 0, `schemathesis found failures:\n${output.slice(-12_000)}`);
  // It ran what it should: every operation but the excluded one, and made thousands of requests.
  const selected = /Selected: (\d+)\/(\d+)/.exec(summary);
  assert.ok(selected, summary);
  assert.equal(Number(selected[1]), Number(selected[2]) - 1, summary);
  const generated = /(\d+) generated/.exec(summary);
  assert.ok(generated && Number(generated[1]) > 500, summary);
});
