// The Worker's half of the crypto service (src/host/edge/crypto.js: Web Crypto, in workerd, the
// runtime Cloudflare runs) against the cross-verification vectors in tests/fixtures/signatures.json,
// whose keys and `native` signatures the Rust crates made (src/platform/native_crypto.rs checks the
// other direction). RS256 and Ed25519 signatures are deterministic: Web Crypto must sign the same
// bytes; ES256 ones are not: each side verifies the other's. Node's own Web Crypto (OpenSSL) is a
// third opinion on the keys workerd generates. `DYNAUTH_WRITE_VECTORS=1` records workerd's
// signatures in the vectors.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const WORKERD = join(ROOT, 'node_modules/@cloudflare/workerd-linux-64/bin/workerd');
const COMPAT_DATE = /compatibility_date\s*=\s*"([^"]+)"/.exec(readFileSync(join(ROOT, 'wrangler.toml'), 'utf8'))[1];

const VECTORS = join(ROOT, 'tests/fixtures/signatures.json');
const vectors = JSON.parse(readFileSync(VECTORS, 'utf8'));
const message = Buffer.from(vectors.message, 'base64url');
const ED25519_PKCS8 = Buffer.from('302e020100300506032b657004220420', 'hex');

// A Worker that runs crypto.js's operations as dynauth's Rust core asks for them (cryptoOp, then
// its `run`), one request per operation: {what, alg, keyId, format, key, data, signature} in
// base64url, the answer's bytes back, or 500 and the error.
const MAIN = `
import { cryptoOp } from './crypto.js';
const bytes = (s) => Uint8Array.from(atob((s ?? '').replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
export default {
  async fetch(request) {
    const o = await request.json();
    try {
      const op = cryptoOp(1, o.what, o.alg, o.keyId ?? '', o.format ?? '', bytes(o.key), bytes(o.data), bytes(o.signature));
      return new Response(await op.run());
    } catch (e) {
      return new Response(String(e), { status: 500 });
    }
  },
};`;

let workerd;
let port;
let dir;

/** A free loopback port. */
const freePort = () => new Promise((ok, fail) => {
  const server = createServer().on('error', fail);
  server.listen(0, '127.0.0.1', () => {
    const { port: free } = server.address();
    server.close(() => ok(free));
  });
});

/** Runs one crypto operation in workerd: its answer's bytes. */
async function run(what, alg, { keyId = '', format = '', key = Buffer.alloc(0), data = Buffer.alloc(0), signature = Buffer.alloc(0) } = {}) {
  const b = (x) => Buffer.from(x).toString('base64url');
  const r = await fetch(`http://127.0.0.1:${port}/`, {
    method: 'POST',
    body: JSON.stringify({ what, alg, keyId, format, key: b(key), data: b(data), signature: b(signature) }),
  });
  const body = Buffer.from(await r.arrayBuffer());
  if (r.status !== 200) throw new Error(`${what} ${alg}: ${body}`);
  return body;
}

/** How dynauth hands a private key over: a JWK as JSON, an Ed25519 seed as PKCS#8. */
function privateKey(alg, entry) {
  return alg === 'EdDSA'
    ? { format: 'pkcs8', key: Buffer.concat([ED25519_PKCS8, Buffer.from(entry.seed, 'base64url')]) }
    : { format: 'jwk', key: Buffer.from(JSON.stringify(entry.private)) };
}

const publicKey = (entry) => ({ format: 'jwk', key: Buffer.from(JSON.stringify(entry.public)) });

// workerd itself (what wrangler dev runs), serving the test Worker on a loopback port.
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dynauth-crypto-'));
  port = await freePort();
  writeFileSync(join(dir, 'main.js'), MAIN);
  copyFileSync(join(ROOT, 'src/host/edge/crypto.js'), join(dir, 'crypto.js'));
  writeFileSync(join(dir, 'config.capnp'), `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [(name = "main.js", esModule = embed "main.js"), (name = "crypto.js", esModule = embed "crypto.js")],
  compatibilityDate = "${COMPAT_DATE}",
);
`);
  let output = '';
  workerd = spawn(WORKERD, ['serve', join(dir, 'config.capnp')], { stdio: ['ignore', 'pipe', 'pipe'] });
  workerd.stdout.on('data', (d) => { output += d; });
  workerd.stderr.on('data', (d) => { output += d; });
  for (let i = 0; ; i += 1) {
    try {
      await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: '{}' });
      return;
    } catch (e) {
      if (i > 100 || workerd.exitCode !== null) throw new Error(`workerd did not start: ${output}`, { cause: e });
      await new Promise((done) => setTimeout(done, 100));
    }
  }
});

after(async () => {
  if (workerd && workerd.exitCode === null) {
    const exited = new Promise((done) => workerd.on('exit', done));
    workerd.kill('SIGTERM');
    await exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the crypto service in workerd (Web Crypto) and natively (RustCrypto) agree', () => {
  const write = process.env.DYNAUTH_WRITE_VECTORS === '1';

  for (const alg of ['RS256', 'ES256', 'EdDSA']) {
    test(`${alg}: each verifies what the other signs`, async () => {
      const entry = vectors.keys[alg];
      const native = Buffer.from(entry.native, 'base64url');
      const ours = await run('sign', alg, { keyId: `${alg}.private`, ...privateKey(alg, entry), data: message });
      // Signed again with the key it kept (imported once, under its id): the same answer.
      const again = await run('sign', alg, { keyId: `${alg}.private`, ...privateKey(alg, entry), data: message });
      if (alg !== 'ES256') {
        assert.deepEqual(ours, native, 'deterministic: the same bytes as the native crate');
        assert.deepEqual(again, native);
      }
      const verify = async (signature, data = message) =>
        (await run('verify', alg, { keyId: alg, ...publicKey(entry), data, signature }))[0] === 1;
      assert.equal(await verify(native), true, 'the native signature');
      assert.equal(await verify(ours), true, 'its own');
      assert.equal(await verify(again), true);
      const tampered = Buffer.from(native);
      tampered[7] ^= 1;
      assert.equal(await verify(tampered), false, 'a changed signature');
      assert.equal(await verify(native, Buffer.from('another message')), false, 'another message');
      assert.equal(await verify(Buffer.from('short')), false, 'not a signature at all');
      if (write) entry.webcrypto = ours.toString('base64url');
      else assert.equal(await verify(Buffer.from(entry.webcrypto, 'base64url')), true, 'the recorded one');
      // The public half of the private key, as the Worker derives an Ed25519 key's.
      const exported = JSON.parse(await run('public', alg, privateKey(alg, entry)));
      for (const [name, value] of Object.entries(entry.public)) assert.equal(exported[name], value, `${alg} ${name}`);
    });
  }

  test('keys generated in workerd sign what Node (OpenSSL) verifies, and carry every JWK member', async () => {
    const params = {
      RS256: [{ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, { name: 'RSASSA-PKCS1-v1_5' }],
      ES256: [{ name: 'ECDSA', namedCurve: 'P-256' }, { name: 'ECDSA', hash: 'SHA-256' }],
      EdDSA: [{ name: 'Ed25519' }, { name: 'Ed25519' }],
    };
    const members = { RS256: ['n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi'], ES256: ['crv', 'x', 'y', 'd'], EdDSA: ['crv', 'x', 'd'] };
    for (const [alg, [importParams, signParams]] of Object.entries(params)) {
      const jwk = JSON.parse(await run('generate', alg));
      for (const m of members[alg]) assert.equal(typeof jwk[m], 'string', `${alg}: ${m}`);
      if (alg === 'RS256') assert.equal(Buffer.from(jwk.n, 'base64url').length, 256, '2048 bits');
      const key = { format: 'jwk', key: Buffer.from(JSON.stringify(jwk)) };
      const signature = await run('sign', alg, { keyId: `generated-${alg}`, ...key, data: message });
      const { d, p, q, dp, dq, qi, key_ops, ext, ...pub } = jwk;
      const verifier = await crypto.subtle.importKey('jwk', pub, importParams, false, ['verify']);
      assert.equal(await crypto.subtle.verify(signParams, verifier, signature, message), true, alg);
    }
  });

  after(() => {
    if (write) writeFileSync(VECTORS, `${JSON.stringify(vectors, null, 2)}\n`);
  });
});
