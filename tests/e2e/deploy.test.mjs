// The deploy path, offline: `npm run deploy -- --dry-run` (scripts/deploy.sh) on the current build
// bundles both Workers with wrangler, lists their bindings, and needs no Rust toolchain to do it
// (the build is current, so only the npm packages are checked). Nothing is uploaded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;

test('npm run deploy -- --dry-run bundles both Workers with their bindings, offline', () => {
  const out = mkdtempSync(join(tmpdir(), 'dynauth-deploy-'));
  try {
    const run = spawnSync('bash', ['scripts/deploy.sh', '--dry-run'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 180_000,
      // No account, no telemetry: a dry run must not need (or reach) Cloudflare.
      env: { ...process.env, DEPLOY_OUTDIR: out, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_API_TOKEN: '', CI: 'true' },
    });
    const output = `${run.stdout}\n${run.stderr}`;
    assert.equal(run.status, 0, output);
    assert.match(output, /deploy: build\/ and build-admin\/ are current; installing only the npm packages/);
    assert.doesNotMatch(output, /cargo install|worker-build --release/, 'no toolchain, no rebuild');
    for (const [worker, name] of [['admin', 'dynauth-admin'], ['edge', 'dynauth']]) {
      const files = readdirSync(join(out, worker));
      assert.ok(files.includes('index.js'), `${worker}: ${files}`);
      const wasm = files.find((f) => f.endsWith('.wasm'));
      assert.ok(wasm && statSync(join(out, worker, wasm)).size > 100_000, `${worker}: a wasm module in ${files}`);
      assert.match(readFileSync(join(out, worker, 'index.js'), 'utf8'), /WebAssembly|\.wasm/, `${name} loads its wasm`);
    }
    // The edge reaches the admin Worker through its service binding; both get the vars.
    assert.match(output, /env\.ADMIN \(dynauth-admin\)\s+Worker/);
    assert.equal(output.match(/env\.DYNAMODB_TABLE \("dynauth"\)\s+Environment Variable/g)?.length, 2, output);
    assert.equal(output.match(/--dry-run: exiting now\./g)?.length, 2);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
