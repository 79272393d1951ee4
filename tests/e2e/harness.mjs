// End-to-end harness: runs the built Worker under `wrangler dev` against the DynamoDB Local that
// `npm test` started, each instance on its own free ports with its own vars, and stops every
// process it started (by process group) when the tests end, pass or fail.
import { spawn, execFileSync } from 'node:child_process';
import { request as httpRequest, createServer as createHttpServer } from 'node:http';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { checkAnswer } from './openapi.mjs';

export const ROOT = resolve(import.meta.dirname, '../..');
export const DYNAMODB = process.env.DYNAUTH_TEST_DYNAMODB;
if (!DYNAMODB) throw new Error('DYNAUTH_TEST_DYNAMODB is not set: run with `npm test`');
/** A second DynamoDB Local: a replica region for the multi-region tests. */
export const DYNAMODB_REPLICA = process.env.DYNAUTH_TEST_DYNAMODB_REPLICA;

export const ADMIN_TOKEN = 'e2e-admin-token-not-secret-0123';
const BASE_VARS = {
  AWS_ACCESS_KEY_ID: 'AKIDLOCALE2E',
  AWS_SECRET_ACCESS_KEY: 'local-e2e-secret-not-real',
  ADMIN_TOKEN,
  TOKEN_SECRET: 'e2e-token-secret-not-secret-0123456789abcdef',
  JWT_MASTER_KEY: 'e2e-jwt-master-key-not-secret-0123456789abcdef',
  DYNAMODB_ENDPOINT: DYNAMODB,
  DYNAMODB_TIMEOUT_MS: '5000',
  ALLOW_LOCAL_TARGETS: 'true', // origins and webhooks on 127.0.0.1 (the tests' own servers)
};

const running = new Set();
process.on('exit', () => {
  for (const pid of running) {
    try { process.kill(-pid, 'SIGKILL'); } catch { /* already gone */ }
  }
});

/** A unique table name for one test file. */
export function uniqueName(prefix) {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Creates dynauth's table with the CLI (the same code the operator uses), on `endpoint`. */
export function createTable(table, endpoint = DYNAMODB) {
  execFileSync(join(ROOT, 'target/debug/dynauth'), ['table', 'create', '--table', table], {
    env: { ...process.env, ...BASE_VARS, AWS_REGION: 'us-east-1', DYNAMODB_ENDPOINT: endpoint },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

/** A raw DynamoDB JSON 1.0 call to DynamoDB Local (it checks that a signature header exists,
 *  not what it says), for setting up states the CLI will not make, like a wrong table. */
export async function dynamodb(operation, body, endpoint = DYNAMODB) {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': `DynamoDB_20120810.${operation}`,
      authorization: 'AWS4-HMAC-SHA256 Credential=AKIDLOCALE2E/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
    },
    body: JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${operation}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/**
 * Starts `wrangler dev` on the built Worker, on a port of its own choosing (`--port 0`, read back
 * from its "Ready on" line, so parallel test files never race for a port). `vars` override the
 * defaults; a var set to null is left out. Returns { url, port, logs(), waitForLog(re), stop() }. A start that
 * fails is retried once; every worker is stopped by `stopAll()` (call it in `after`) or at exit.
 */
export async function startWorker(vars = {}, options = {}) {
  try {
    return await startWorkerOnce(vars, options);
  } catch (first) {
    process.stderr.write(`wrangler dev failed to start, retrying once:\n${first.message}\n`);
    return startWorkerOnce(vars, options);
  }
}

const workers = new Set();

/** Stops every worker this process started. */
export async function stopAll() {
  await Promise.all([...workers].map((w) => w.stop()));
}

/** `options.withoutAdmin`: only the edge Worker, its ADMIN binding removed. */
async function startWorkerOnce(vars, { withoutAdmin = false } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'dynauth-e2e-'));
  const all = { ...BASE_VARS, ...vars };
  const lines = Object.entries(all).filter(([, v]) => v !== null).map(([k, v]) => `${k}=${v}`);
  // Both Workers in one session: the edge (wrangler.toml, first: it gets the port) and the admin
  // Worker it hands /v1/admin/* to through the ADMIN service binding. Their configs are copied
  // here (the builds referenced by absolute path, no build step) beside a .dev.vars that both
  // read: every instance has vars of its own.
  const configs = withoutAdmin ? ['wrangler.toml'] : ['wrangler.toml', 'wrangler.admin.toml'];
  for (const config of configs) {
    let text = readFileSync(join(ROOT, config), 'utf8')
      .replace(/^main = "(.*)"$/m, (_, main) => `main = "${join(ROOT, main)}"`)
      .replace(/^\[build\]\ncommand = .*\n/m, '');
    if (withoutAdmin) text = text.replace(/^\[\[services\]\]\nbinding = "ADMIN"\nservice = .*\n/m, '');
    writeFileSync(join(dir, config), text);
  }
  writeFileSync(join(dir, '.dev.vars'), lines.join('\n') + '\n');
  const args = [
    'dev', ...configs.flatMap((c) => ['-c', join(dir, c)]),
    '--ip', '127.0.0.1', '--port', '0', '--inspector-port', '0',
    '--persist-to', join(dir, 'state'),
    '--show-interactive-dev-session=false', '--log-level', 'log',
  ];
  const child = spawn(join(ROOT, 'node_modules/.bin/wrangler'), args, {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      DYNAUTH_SKIP_BUILD: '1',
      WRANGLER_SEND_METRICS: 'false',
      CLOUDFLARE_CF_FETCH_ENABLED: 'false',
      XDG_CONFIG_HOME: join(dir, 'xdg'),
      WRANGLER_LOG_PATH: join(dir, 'logs'),
    },
  });
  running.add(child.pid);
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const exited = new Promise((ok) => child.on('exit', ok));
  const worker = {
    url: '',
    port: 0,
    logs: () => output,
    /** Waits (up to 5 s) until the log matches `pattern`: log lines arrive after the answer. */
    waitForLog: async (pattern, ms = 5000) => {
      const deadline = Date.now() + ms;
      while (!pattern.test(output)) {
        if (Date.now() > deadline) throw new Error(`no log line matches ${pattern}:\n${output}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stop: async () => {
      if (!running.has(child.pid)) return;
      try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
      const timer = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
      await exited;
      clearTimeout(timer);
      running.delete(child.pid);
      workers.delete(worker);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  workers.add(worker);
  const deadline = Date.now() + 90_000;
  let ready;
  while (!(ready = /Ready on http:\/\/127\.0\.0\.1:(\d+)/.exec(output))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await new Promise((r) => setTimeout(r, 200)); // let the last output arrive
      await worker.stop();
      throw new Error(`wrangler dev did not start (exit ${child.exitCode}):\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  worker.port = Number(ready[1]);
  worker.url = `http://127.0.0.1:${worker.port}`;
  return worker;
}

/** GET/POST helper returning { status, headers, body (parsed JSON or text) }. */
export async function call(url, { method = 'GET', headers = {}, body } = {}) {
  const res = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
    redirect: 'manual',
  });
  const text = await res.text();
  let parsed = text;
  try { parsed = JSON.parse(text); } catch { /* not JSON */ }
  checkAnswer(method, new URL(url).pathname, res.status, res.headers.get('content-type'), parsed);
  return { status: res.status, headers: res.headers, body: parsed };
}

/** A request with any Host header (fetch cannot set Host): { status, headers, body }. */
export function rawRequest(url, { method = 'GET', host, headers = {}, body } = {}) {
  const u = new URL(url);
  const payload = body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body));
  return new Promise((ok, fail) => {
    const req = httpRequest({
      host: u.hostname, port: u.port, path: u.pathname + u.search, method,
      headers: { ...(host ? { host } : {}), ...(payload !== undefined ? { 'content-length': Buffer.byteLength(payload) } : {}), ...headers },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed = text;
        try { parsed = JSON.parse(text); } catch { /* not JSON */ }
        try {
          checkAnswer(method, u.pathname, res.statusCode, res.headers['content-type'], parsed);
        } catch (e) {
          fail(e);
          return;
        }
        ok({ status: res.statusCode, headers: res.headers, body: parsed });
      });
    });
    req.on('error', fail);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** A local origin on 127.0.0.1 that records each request and answers with `handler`
 *  (default: 200 JSON echo of method, url, headers and body). Returns { url, requests, close }. */
export async function startOrigin(handler) {
  const requests = [];
  const server = createHttpServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const seen = { method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(seen);
      if (handler) return handler(seen, res);
      res.writeHead(200, { 'content-type': 'application/json', 'x-origin': 'yes' });
      res.end(JSON.stringify(seen));
    });
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}`, port, requests, close: () => new Promise((ok) => server.close(ok)) };
}

/** An admin API call with the test token. */
export function admin(worker, method, path, body) {
  return call(`${worker.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body,
  });
}
