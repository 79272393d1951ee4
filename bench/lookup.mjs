// Benchmark of the hot path under wrangler dev against DynamoDB Local: session lookups
// (GET /v1/session, one GetItem each) next to /health (no database call), sequential and with
// concurrency; prints latency percentiles, throughput and the DynamoDB calls per lookup taken
// from the Worker's own log lines. Run it with `npm run bench`.
import { Agent, request } from 'node:http';

import { admin, createTable, dynamodb, startWorker, stopAll, uniqueName } from '../tests/e2e/harness.mjs';

const N = Number(process.env.BENCH_REQUESTS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const HOST = 'bench.acme.test';
const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function get(url, headers) {
  const u = new URL(url);
  return new Promise((ok, fail) => {
    const t0 = process.hrtime.bigint();
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, headers: { host: HOST, ...headers }, agent }, (res) => {
      res.resume();
      res.on('end', () => ok({ status: res.statusCode, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
    });
    req.on('error', fail);
    req.end();
  });
}

async function run(label, url, headers, concurrency) {
  const times = [];
  let next = 0;
  let failures = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < N) {
      next += 1;
      const r = await get(url, headers);
      if (r.status !== 200) failures += 1;
      times.push(r.ms);
    }
  }));
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  times.sort((a, b) => a - b);
  const pct = (p) => times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))].toFixed(2);
  return { label, requests: times.length, concurrency, failures, p50_ms: pct(50), p95_ms: pct(95), p99_ms: pct(99), rps: Math.round(times.length / wall) };
}

const table = uniqueName('bench');
createTable(table);
const worker = await startWorker({ DYNAMODB_TABLE: table });
try {
  await admin(worker, 'PUT', '/v1/admin/tenants/acme', { name: 'Acme' });
  await admin(worker, 'PUT', `/v1/admin/tenants/acme/domains/${HOST}`, { status: 'ready' });
  const { body } = await admin(worker, 'POST', '/v1/admin/tenants/acme/sessions', { user_id: 'u-bench' });
  const auth = { authorization: `Bearer ${body.token}` };
  for (let i = 0; i < 100; i += 1) await get(`${worker.url}/v1/session`, auth); // warm up
  const before = worker.logs().length;
  const results = [
    await run('GET /health (no database)', `${worker.url}/health`, {}, 1),
    await run('GET /v1/session', `${worker.url}/v1/session`, auth, 1),
    await run('GET /health (no database)', `${worker.url}/health`, {}, CONCURRENCY),
    await run('GET /v1/session', `${worker.url}/v1/session`, auth, CONCURRENCY),
  ];
  const lines = worker.logs().slice(before).split('\n').filter((l) => l.includes('"route":"session"'));
  const calls = lines.map((l) => Number(/"dynamodb_calls":(\d+)/.exec(l)?.[1]));
  const perLookup = { lookups_logged: calls.length, min: Math.min(...calls), max: Math.max(...calls) };
  console.table(results);
  console.log(JSON.stringify({ results, dynamodb_calls_per_lookup: perLookup }, null, 2));
} finally {
  await stopAll();
  await dynamodb('DeleteTable', { TableName: table }).catch(() => {});
  agent.destroy();
}
