// `npm run bench -- --regions`: session lookup latency with one region against a global table,
// side by side in one run. The client is in Dublin (request.cf, through workerd's cf-blob header);
// a latency-injecting proxy on loopback (tests/e2e/fault-proxy.mjs) puts each region away:
//   home     us-east-1, the first DynamoDB Local, BENCH_HOME_MS (150) away
//   replica  eu-west-1, the second DynamoDB Local, BENCH_REPLICA_MS (10) away
// The replica holds a copy of the home table as replication left it (the tenant, its domain and
// the session); a second session is minted afterwards, at home only: a replica that lags.
// Rows, each a bare `workerd serve` of the built Worker (or, for the round trips, this process):
//   single-region        DYNAMODB_ENDPOINT home: every lookup crosses to home
//   multi-region         DYNAMODB_REGIONS="us-east-1,eu-west-1": the lookup reads the replica
//   multi-region (miss)  the same, with the session the replica lacks: replica, then home
//   GetItem replica/home one GetItem sent from here through the proxy: the round trip itself
// Runs are interleaved (shuffled per round, for each concurrency). The target: the multi-region
// lookup's p50 within 1.5x of the replica's round trip.
// Writes .run/bench/regions.{json,md}; exits 1 if any lookup failed.
import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus } from 'node:os';
import { join } from 'node:path';

import { startFaultProxy } from '../tests/e2e/fault-proxy.mjs';
import { HOST, ROOT, RUN, cli, dynauth, firstAnswer, lookups, mintSession, pct, seed, shuffle, startWorkerd } from './lib.mjs';

const HOME_MS = Number(process.env.BENCH_HOME_MS ?? 150);
const REPLICA_MS = Number(process.env.BENCH_REPLICA_MS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 100);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,16').split(',').map(Number);
const WARMUP = 20;
const DUBLIN = JSON.stringify({ latitude: '53.34981', longitude: '-6.26031', continent: 'EU' });
const AUTH = 'AWS4-HMAC-SHA256 Credential=AKIDLOCALBENCH/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0';



/** One DynamoDB JSON 1.0 call (DynamoDB Local checks that a signature exists, not what it says). */
function call(url, operation, body, agent) {
  const payload = JSON.stringify(body);
  const u = new URL(url);
  return new Promise((ok, fail) => {
    const t0 = process.hrtime.bigint();
    const req = request({
      host: u.hostname, port: u.port, path: '/', method: 'POST', agent,
      headers: {
        'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `DynamoDB_20120810.${operation}`,
        authorization: AUTH, 'content-length': Buffer.byteLength(payload),
      },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        const json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        if (res.statusCode !== 200) fail(new Error(`${operation}: ${res.statusCode} ${JSON.stringify(json)}`));
        else ok({ json, ms });
      });
    });
    req.on('error', fail);
    req.end(payload);
  });
}

/** Copies every item of `table` from `from` to `to`: the replica as replication left it. */
async function copyTable(from, to, table) {
  let start;
  let copied = 0;
  do {
    const { json } = await call(from, 'Scan', { TableName: table, ConsistentRead: true, ...(start ? { ExclusiveStartKey: start } : {}) });
    for (const Item of json.Items) await call(to, 'PutItem', { TableName: table, Item });
    copied += json.Items.length;
    start = json.LastEvaluatedKey;
  } while (start);
  return copied;
}

/** `n` GetItems of `key` through `url` at `concurrency`: the round trip a lookup cannot beat. */
async function getItems(url, table, key, consistent, n, concurrency) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const times = [];
  let next = 0;
  let failures = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) {
      next += 1;
      const { json, ms } = await call(url, 'GetItem', { TableName: table, Key: key, ConsistentRead: consistent }, agent);
      if (!json.Item) failures += 1;
      times.push(ms);
    }
  }));
  agent.destroy();
  return { times, failures };
}

async function main() {
  mkdirSync(RUN, { recursive: true });
  const replicaUrl = process.env.DYNAUTH_TEST_DYNAMODB_REPLICA;
  if (!replicaUrl) throw new Error('DYNAUTH_TEST_DYNAMODB_REPLICA is not set: run with `npm run bench -- --regions`');
  const minter = dynauth('minter', join(ROOT, 'build-admin'));
  const { env, token, sessionId } = await seed(minter);
  const table = env.DYNAMODB_TABLE;
  cli({ ...env, DYNAMODB_ENDPOINT: replicaUrl }, ['table', 'create']);
  const copied = await copyTable(env.DYNAMODB_ENDPOINT, replicaUrl, table);
  const fresh = await mintSession(minter, env); // after the copy: at home only

  const home = await startFaultProxy(env.DYNAMODB_ENDPOINT);
  home.plan = () => ({ latency: HOME_MS });
  const replica = await startFaultProxy(replicaUrl);
  replica.plan = () => ({ latency: REPLICA_MS });

  const single = { ...env, DYNAMODB_ENDPOINT: home.url };
  const multi = { ...single, DYNAMODB_REGIONS: 'us-east-1,eu-west-1', DYNAMODB_ENDPOINTS: `eu-west-1=${replica.url}` };
  const from = (bearer) => ({ authorization: `Bearer ${bearer}`, 'cf-blob': DUBLIN });
  const key = { PK: { S: `TENANT#acme#SESSION#${sessionId}` }, SK: { S: 'SESSION' } };
  const rows = [
    { name: 'single-region', bindings: single, headers: from(token) },
    { name: 'multi-region', bindings: multi, headers: from(token) },
    { name: 'multi-region (replica miss)', bindings: multi, headers: from(fresh.token) },
    { name: 'GetItem replica', direct: { url: replica.url, consistent: false } },
    { name: 'GetItem home', direct: { url: home.url, consistent: true } },
  ];

  const live = [];
  const results = [];
  try {
    for (const row of rows.filter((r) => !r.direct)) {
      const build = dynauth(row.name.replace(/\W+/g, '-'), join(ROOT, 'build'));
      row.w = await startWorkerd(build, row.bindings);
      live.push(row.w);
      const first = await firstAnswer(row.w, row.headers);
      if (first.status !== 200) throw new Error(`${row.name}: first lookup answered ${first.status} ${first.body}\n${row.w.output()}`);
      const warm = await lookups(row.w, row.headers, WARMUP, 4);
      if (warm.failures) throw new Error(`${row.name}: ${warm.failures} of ${WARMUP} warm-up lookups failed\n${row.w.output()}`);
    }
    for (const c of CONCURRENCY) {
      const acc = new Map(rows.map((r) => [r.name, { times: [], failures: 0, calls: 0, logged: 0, regions: {} }]));
      for (let round = 0; round < ROUNDS; round += 1) {
        for (const row of shuffle(rows, round * 7919 + c)) {
          const a = acc.get(row.name);
          if (row.direct) {
            const r = await getItems(row.direct.url, table, key, row.direct.consistent, REQUESTS, c);
            a.times.push(...r.times);
            a.failures += r.failures;
            continue;
          }
          const before = row.w.log();
          const r = await lookups(row.w, row.headers, REQUESTS, c);
          await new Promise((done) => setTimeout(done, 20)); // the last log lines
          const after = row.w.log();
          a.times.push(...r.times);
          a.failures += r.failures;
          if (r.failure && !a.failure) {
            // What the Worker's process said besides its request log lines.
            const said = row.w.output().split('\n').filter((l) => l && !l.includes('"dynamodb_calls"'));
            a.failure = `${r.failure}; workerd said: ${said.slice(-40).join(' | ') || 'nothing'}`;
          }
          a.calls += after.calls - before.calls;
          a.logged += after.requests - before.requests;
          for (const [region, n] of Object.entries(after.regions)) {
            a.regions[region] = (a.regions[region] ?? 0) + n - (before.regions[region] ?? 0);
          }
        }
      }
      for (const row of rows) {
        const a = acc.get(row.name);
        const sorted = a.times.sort((x, y) => x - y);
        results.push({
          row: row.name, concurrency: c, requests: sorted.length, failures: a.failures,
          p50_ms: pct(sorted, 50), p99_ms: pct(sorted, 99),
          dynamodb_calls: a.logged ? a.calls / a.logged : null,
          regions: a.regions, ...(a.failure ? { first_failure: a.failure } : {}),
        });
      }
    }
  } finally {
    await Promise.all(live.map((w) => w.stop()));
    await home.close();
    await replica.close();
  }
  report(results, copied);
}

function report(results, copied) {
  const lines = [
    '| row | c | p50 ms | p99 ms | p50 vs GetItem replica | DynamoDB calls/req | region logged (nearest) |',
    '|---|---|---|---|---|---|---|',
  ];
  const verdicts = [];
  for (const r of results) {
    const base = results.find((x) => x.row === 'GetItem replica' && x.concurrency === r.concurrency);
    const ratio = r.p50_ms / base.p50_ms;
    const regions = Object.entries(r.regions).map(([k, v]) => `${k} × ${v}`).join(', ') || (r.dynamodb_calls === null ? '' : 'none (one region)');
    lines.push(`| ${r.row} | ${r.concurrency} | ${r.p50_ms.toFixed(1)} | ${r.p99_ms.toFixed(1)} | ${ratio.toFixed(2)}x | `
      + `${r.dynamodb_calls === null ? '' : r.dynamodb_calls.toFixed(2)} | ${regions} |`);
    if (r.row === 'multi-region') {
      verdicts.push(`c=${r.concurrency}: multi-region p50 ${r.p50_ms.toFixed(1)} ms = ${ratio.toFixed(2)}x the replica's round trip `
        + `(${base.p50_ms.toFixed(1)} ms): ${ratio <= 1.5 ? 'within' : 'MISSES'} the 1.5x target`);
    }
  }
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`;
  const header = `${new Date().toISOString().slice(0, 10)}: ${ROUNDS} interleaved rounds × ${REQUESTS} lookups per row and `
    + `concurrency, client in Dublin (${HOST}); home us-east-1 ${HOME_MS} ms away, replica eu-west-1 ${REPLICA_MS} ms away `
    + `(loopback proxy); ${copied} items copied to the replica, one session minted after the copy; ${machine}`;
  const text = `${header}\n\n${lines.join('\n')}\n\n${verdicts.join('\n')}\n`;
  console.log(`\n${text}`);
  writeFileSync(join(RUN, 'regions.json'), JSON.stringify({ header, results }, null, 2));
  writeFileSync(join(RUN, 'regions.md'), text);
  const failed = results.filter((r) => r.failures);
  if (failed.length) {
    for (const r of failed) console.log(`failed: ${r.row} at c=${r.concurrency}: ${r.failures}, the first answered ${r.first_failure ?? 'no item'}`);
    process.exitCode = 1;
  }
}

await main();
