// Shared by bench/run.mjs and bench/profile.mjs: the Workers under test, bare `workerd serve`
// processes for them (one process per Worker, on loopback, stopped by PID), the seeded table, HTTP
// load, and CPU readings from /proc.
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';

export const ROOT = resolve(import.meta.dirname, '..');
export const RUN = join(ROOT, '.run/bench');
export const HOST = 'bench.acme.test';
/** The path every Worker is asked for (BENCH_PATH, e.g. /health to see dynauth without DynamoDB). */
const PATH = process.env.BENCH_PATH ?? '/v1/session';
export const WORKERD = join(ROOT, 'node_modules/@cloudflare/workerd-linux-64/bin/workerd');
const COMPAT_DATE = /compatibility_date\s*=\s*"([^"]+)"/.exec(readFileSync(join(ROOT, 'wrangler.toml'), 'utf8'))[1];
export const ADMIN_TOKEN = 'bench-admin-token-not-secret-0123';
/** A signature header DynamoDB Local accepts (it checks that one is there, not what it says). */
const UNSIGNED = 'AWS4-HMAC-SHA256 Credential=AKIDLOCALBENCH/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0';

/** The vars every Worker gets (the peers read the ones they need). */
export function vars(table) {
  const endpoint = process.env.DYNAUTH_TEST_DYNAMODB;
  if (!endpoint) throw new Error('DYNAUTH_TEST_DYNAMODB is not set: run with `npm run bench`');
  return {
    AWS_REGION: 'us-east-1',
    DYNAMODB_TABLE: table,
    DYNAMODB_ENDPOINT: endpoint,
    AWS_ACCESS_KEY_ID: 'AKIDLOCALBENCH',
    AWS_SECRET_ACCESS_KEY: 'local-bench-secret-not-real',
    ADMIN_TOKEN,
    TOKEN_SECRET: 'bench-token-secret-not-secret-0123456789abcdef',
    JWT_MASTER_KEY: 'bench-jwt-master-key-not-secret-0123456789abcdef',
  };
}

// ---- the Workers ------------------------------------------------------------------------------

/** A peer of bench/peers, bundled (minified) as wrangler would. */
export function peer(name) {
  const out = join(RUN, 'peers', `${name}.js`);
  execFileSync(join(ROOT, 'node_modules/.bin/esbuild'), [
    join(ROOT, 'bench/peers', `${name}.js`), '--bundle', '--format=esm', '--platform=browser',
    '--conditions=workerd,worker,browser', '--minify', '--target=es2022', `--outfile=${out}`, '--log-level=warning',
  ], { cwd: join(ROOT, 'bench') });
  return withSize({ name, modules: [{ name: 'worker.js', kind: 'esModule', path: out }] });
}

/** A dynauth build (worker-build's index.js and its wasm) in `dir`. */
export function dynauth(name, dir) {
  const wasm = existsSync(dir) && readdirSync(dir).find((f) => f.endsWith('.wasm'));
  if (!existsSync(join(dir, 'index.js')) || !wasm) throw new Error(`${dir} holds no built Worker (index.js + wasm)`);
  return withSize({
    name,
    modules: [
      { name: 'index.js', kind: 'esModule', path: join(dir, 'index.js') },
      { name: wasm, kind: 'wasm', path: join(dir, wasm) },
    ],
  });
}

function withSize(worker) {
  worker.gzip = worker.modules.reduce((n, m) => n + gzipSync(readFileSync(m.path), { level: 9 }).length, 0);
  return worker;
}

// ---- workerd ----------------------------------------------------------------------------------

export function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

const capnp = (s) => JSON.stringify(String(s));

// A request's `cf-blob` header (JSON) becomes its request.cf, as Cloudflare's edge sets it: the
// multi-region bench says where its clients are.
// A Worker with `admin` (the admin Worker's modules) gets it as a second service, bound as ADMIN,
// as wrangler.toml binds it: the edge hands every route off its hot path to it.
function writeConfig(worker, port, bindings) {
  const dir = join(RUN, 'workers', `${worker.name}-${port}`);
  mkdirSync(join(dir, 'admin'), { recursive: true });
  for (const m of worker.modules) copyFileSync(m.path, join(dir, m.name));
  for (const m of worker.admin ?? []) copyFileSync(m.path, join(dir, 'admin', m.name));
  const embed = (prefix) => (m) => `(name = ${capnp(m.name)}, ${m.kind} = embed ${capnp(prefix + m.name)})`;
  const modules = worker.modules.map(embed(''));
  const text = Object.entries(bindings).map(([k, v]) => `(name = ${capnp(k)}, text = ${capnp(v)})`);
  const admin = worker.admin ? `
const admin :Workerd.Worker = (
  modules = [${worker.admin.map(embed('admin/')).join(', ')}],
  compatibilityDate = ${capnp(COMPAT_DATE)},
  bindings = [${text.join(', ')}],
  globalOutbound = "loopback",
);
` : '';
  if (worker.admin) text.push('(name = "ADMIN", service = "admin")');
  writeFileSync(join(dir, 'config.capnp'), `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),${worker.admin ? '\n    (name = "admin", worker = .admin),' : ''}
    (name = "loopback", network = (allow = ["local", "private", "public"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (cfBlobHeader = "cf-blob"), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [${modules.join(', ')}],
  compatibilityDate = ${capnp(COMPAT_DATE)},
  bindings = [${text.join(', ')}],
  globalOutbound = "loopback",
);
${admin}`);
  return dir;
}

const running = new Set();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Starts `workerd serve` for `worker` on a free port: { port, pid, t0, output(), stop() }. */
export async function startWorkerd(worker, bindings, { inspectorPort } = {}) {
  const port = await freePort();
  const dir = writeConfig(worker, port, bindings);
  const args = ['serve', join(dir, 'config.capnp')];
  if (inspectorPort) args.push(`--inspector-addr=127.0.0.1:${inspectorPort}`);
  const t0 = process.hrtime.bigint();
  // BENCH_WORKERD_CPUS pins workerd (e.g. "1") away from the load generator and DynamoDB Local.
  const pin = process.env.BENCH_WORKERD_CPUS;
  const child = pin
    ? spawn('taskset', ['-c', pin, WORKERD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(WORKERD, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  // dynauth's log lines, counted as they stream by: requests, the DynamoDB calls they made, and
  // the regions they were served from (with replica regions).
  const log = { requests: 0, calls: 0, regions: {} };
  let partial = '';
  const file = createWriteStream(join(dir, 'output.log')); // all of it, for a post-mortem
  const keep = (d) => {
    file.write(d);
    output = (output + d).slice(-20_000); // the latest, where an error shows
    const lines = (partial + d).split('\n');
    partial = lines.pop();
    for (const line of lines) {
      const m = /"dynamodb_calls":(\d+)/.exec(line);
      if (m) {
        log.requests += 1;
        log.calls += Number(m[1]);
        const region = /"region":"([^"]+)"/.exec(line)?.[1];
        if (region) log.regions[region] = (log.regions[region] ?? 0) + 1;
      }
    }
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((ok) => child.on('exit', ok));
  return {
    ...worker,
    port,
    pid: child.pid,
    t0,
    output: () => output,
    log: () => ({ ...log, regions: { ...log.regions } }),
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
      running.delete(child);
    },
  };
}

/** CPU nanoseconds used so far by every thread of `pid` (schedstat: nanosecond resolution). */
export function cpuNanos(pid) {
  let total = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    } catch { /* the thread ended between the listing and the read */ }
  }
  return total;
}

/** utime + stime of `pid` (all threads, ended ones too) in nanoseconds (10 ms resolution). */
export function statNanos(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 1e7;
}

// ---- HTTP -------------------------------------------------------------------------------------

/** One request to 127.0.0.1:`port` with Host `HOST`: { status, body, ms }. */
export function send(agent, port, path, headers = {}, method = 'GET', body = undefined) {
  return new Promise((ok, fail) => {
    const t0 = process.hrtime.bigint();
    const req = request({ host: '127.0.0.1', port, path, method, headers: { host: HOST, ...headers }, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => ok({
        status: res.statusCode,
        body: Buffer.concat(chunks).toString('utf8'),
        ms: Number(process.hrtime.bigint() - t0) / 1e6,
      }));
    });
    req.on('error', fail);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** Polls until the Worker answers a lookup (the first answer of a fresh process). */
export async function firstAnswer(w, headers, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await send(undefined, w.port, w.path ?? PATH, headers, w.method);
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`${w.name} did not start: ${e.message}\n${w.output()}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  }
}

/** `n` lookups at `concurrency`: latencies, wall time, and the CPU of the Worker's process. */
export async function lookups(w, headers, n, concurrency) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const times = [];
  let next = 0;
  let failures = 0;
  let failure; // the first failed answer, for the report
  const cpu0 = cpuNanos(w.pid);
  const stat0 = statNanos(w.pid);
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) {
      next += 1;
      const r = await send(agent, w.port, w.path ?? PATH, headers, w.method);
      if (r.status !== 200) {
        failures += 1;
        failure ??= `${r.status} ${r.body.slice(0, 300)}`;
      }
      times.push(r.ms);
    }
  }));
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const result = { times, wall, cpu: cpuNanos(w.pid) - cpu0, stat: statNanos(w.pid) - stat0, failures, failure };
  agent.destroy();
  return result;
}

// ---- rounds and figures -----------------------------------------------------------------------

/** The `p`th percentile of `sorted`. */
export const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/** `list` in an order drawn from `seed` (the same seed, the same order: a run can be replayed). */
export function shuffle(list, seed) {
  const a = [...list];
  let s = seed;
  for (let i = a.length - 1; i > 0; i -= 1) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const j = s % (i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

// ---- the data ---------------------------------------------------------------------------------

/** Runs the CLI (`target/debug/dynauth`) with `env` over the process environment. It is setup,
 *  not measured: patient with a DynamoDB Local whose JVM has only just started. */
export function cli(env, args) {
  const patient = { DYNAMODB_TIMEOUT_MS: '30000', DYNAMODB_ATTEMPT_TIMEOUT_MS: '15000' };
  return execFileSync(join(ROOT, 'target/debug/dynauth'), args, {
    env: { ...process.env, ...env, ...patient }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * A fresh table with tenant `acme` serving `HOST` and one session minted through the admin API
 * of the dynauth build `minter` (one with the admin API): { env, bindings, headers, token, sessionId }.
 * Every Worker looks up that session; `bindings` are the vars for all of them (the floor's fixed
 * request included).
 */
export async function seed(minter) {
  const table = `bench-${Date.now().toString(36)}`;
  const env = vars(table);
  cli(env, ['table', 'create']);
  // Browsers of this tenant may keep a session snapshot (the dynauth-cached row); bearer lookups
  // (the dynauth row) never use one.
  cli(env, ['tenant', 'put', 'acme', '--body', '{"name": "Acme", "session": {"cache_secs": 300}}']);
  cli(env, ['domain', 'claim', 'acme', HOST, '--status', 'ready']);
  const { token, session } = await mintSession(minter, env);
  const bindings = {
    ...env,
    FLOOR_BODY: JSON.stringify({
      TableName: table, ConsistentRead: true,
      Key: { PK: { S: `TENANT#acme#SESSION#${session.id}` }, SK: { S: 'SESSION' } },
    }),
    FLOOR_AUTHORIZATION: UNSIGNED,
  };
  return { env, bindings, headers: { authorization: `Bearer ${token}` }, token, sessionId: session.id };
}

/** One more session of tenant `acme` in `env`'s table, minted through `minter`'s admin API:
 *  { token, session }. */
export async function mintSession(minter, env) {
  const w = await startWorkerd(minter, env);
  let minted;
  try {
    await firstAnswer(w, {});
    minted = await send(undefined, w.port, '/v1/admin/tenants/acme/sessions', {
      authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json',
    }, 'POST', JSON.stringify({ user_id: 'u-bench', email: 'bench@example.com' }));
  } finally {
    await w.stop();
  }
  if (minted.status !== 201) throw new Error(`minting the session: ${minted.status} ${minted.body}`);
  return JSON.parse(minted.body);
}

/** Cookie headers for `w` carrying the session and a fresh snapshot (one lookup that reads). */
export async function snapshotHeaders(w, token) {
  const cookie = `__Host-dynauth=${token}`;
  const r = await new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port: w.port, path: PATH, headers: { host: HOST, cookie } }, (res) => {
      res.resume();
      res.on('end', () => ok(res));
    });
    req.on('error', fail);
    req.end();
  });
  const snapshot = (r.headers['set-cookie'] ?? []).find((c) => c.startsWith('__Host-dynauth-cache='));
  if (r.statusCode !== 200 || !snapshot) throw new Error(`${w.name}: no session snapshot (${r.statusCode})`);
  return { cookie: `${cookie}; ${snapshot.split(';')[0]}` };
}

/** One DynamoDB JSON call to DynamoDB Local (which checks that a signature is there, not what it
 *  says): how the Auth.js table is made and filled, as the adapter would fill it. */
async function dynamodb(target, body) {
  const r = await fetch(process.env.DYNAUTH_TEST_DYNAMODB, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `DynamoDB_20120810.${target}`,
      authorization: UNSIGNED,
    },
    body: JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`${target}: ${r.status} ${await r.text()}`);
  return r.json();
}

/**
 * An Auth.js table (@auth/dynamodb-adapter's layout) with one user and one session, and two
 * tenants whose sessions live there: `shop` (serving AUTHJS_HOST, no user reads: one Query per
 * lookup) and `mall` (AUTHJS_EMAIL_HOST, read_users: the Query and the user's GetItem). The
 * headers each row sends: { headers, emailHeaders }.
 */
export const AUTHJS_HOST = 'bench.shop.test';
export const AUTHJS_EMAIL_HOST = 'bench.mall.test';
export async function seedAuthjs(env) {
  const table = `${env.DYNAMODB_TABLE}-authjs`;
  const attr = (name) => ({ AttributeName: name, AttributeType: 'S' });
  const keys = (h, r) => [{ AttributeName: h, KeyType: 'HASH' }, { AttributeName: r, KeyType: 'RANGE' }];
  await dynamodb('CreateTable', {
    TableName: table, BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: ['pk', 'sk', 'GSI1PK', 'GSI1SK'].map(attr), KeySchema: keys('pk', 'sk'),
    GlobalSecondaryIndexes: [{ IndexName: 'GSI1', KeySchema: keys('GSI1PK', 'GSI1SK'), Projection: { ProjectionType: 'ALL' } }],
  });
  const user = 'b3f1c2d4-0000-4000-8000-00000000bench';
  const token = 'a9d3e1f0-1111-4222-8333-4444bench0001';
  const s = (v) => ({ S: v });
  await dynamodb('PutItem', { TableName: table, Item: {
    pk: s(`USER#${user}`), sk: s(`USER#${user}`), GSI1PK: s('USER#bench@example.com'), GSI1SK: s('USER#bench@example.com'),
    type: s('USER'), id: s(user), email: s('bench@example.com'), emailVerified: s(new Date().toISOString()),
  } });
  await dynamodb('PutItem', { TableName: table, Item: {
    pk: s(`USER#${user}`), sk: s(`SESSION#${token}`), GSI1PK: s(`SESSION#${token}`), GSI1SK: s(`SESSION#${token}`),
    type: s('SESSION'), sessionToken: s(token), userId: s(user), expires: { N: String(Date.now() / 1000 + 86400) },
  } });
  for (const [tenant, host, readUsers] of [['shop', AUTHJS_HOST, false], ['mall', AUTHJS_EMAIL_HOST, true]]) {
    const body = { name: tenant, authjs: { table, read_users: readUsers } };
    cli(env, ['tenant', 'put', tenant, '--body', JSON.stringify(body)]);
    cli(env, ['domain', 'claim', tenant, host, '--status', 'ready']);
  }
  const bearer = `Bearer ${token}`;
  return { headers: { host: AUTHJS_HOST, authorization: bearer }, emailHeaders: { host: AUTHJS_EMAIL_HOST, authorization: bearer } };
}
