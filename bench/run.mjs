// `npm run bench`: dynauth's session lookup against its JavaScript peers, side by side, in one run.
//
// Every Worker runs in its own bare `workerd serve` (the workerd binary of the wrangler install, no
// dev proxy) against the same DynamoDB Local, table, tenant, domain and session:
//   noop       answers "ok": what any Worker costs
//   floor      one unsigned fetch of the same GetItem: the least a lookup can cost on workerd
//   aws4fetch  the lookup of bench/peers/lookup.js over aws4fetch
//   sdk        the same lookup over the AWS SDK v3 DocumentClient
//   dynauth    the built Worker (build/), GET /v1/session with the bearer token (one GetItem)
//   dynauth-cached  the same build, a browser's lookup with the session cookie and its signed
//              snapshot (tenant session.cache_secs): no DynamoDB call at all
//   dynauth-jwt  the same build, POST /v1/session/token with the bearer token, handed to the admin
//              Worker through the ADMIN binding: the lookup (one GetItem) and an Ed25519-signed JWT
//   aws4fetch-jwt  its JavaScript peer (bench/peers/jwt.js): the aws4fetch lookup, then one
//              EdDSA JWT signed with jose over Web Crypto
//   dynauth-authjs  the same build, GET /v1/session with the bearer token of a session in an
//              Auth.js table (@auth/dynamodb-adapter's layout; tenant authjs): one index Query
//   dynauth-authjs-email  the same, for a tenant with authjs.read_users: the Query and the user's
//              GetItem for the email
// plus any other dynauth builds named in BENCH_EXTRA ("name=dir,name2=dir2", e.g. an older build).
// BENCH_ONLY=aws4fetch,sdk runs only those peers (and dynauth), for more rounds in the same time.
// (`npm run bench -- --oidc` puts the session JWT beside the token request and their peers.)
//
// Runs are interleaved: each round sends BENCH_REQUESTS lookups to every Worker in a shuffled
// order, for each concurrency of BENCH_CONCURRENCY. CPU per request is the CPU time of that
// Worker's workerd process (all threads, from /proc) over the requests it served. Cold start is
// the time from spawning a fresh workerd to its first answered lookup, and the CPU the process
// used by then (the median of BENCH_COLD starts).
//
// Prints one markdown table with ratios to each peer; writes .run/bench/result.{json,md}.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';

import {
  ROOT, RUN, WORKERD, dynauth, firstAnswer, lookups, pct, peer, seed, seedAuthjs, shuffle, snapshotHeaders, startWorkerd,
  statNanos,
} from './lib.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 300);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,16').split(',').map(Number);
const COLD = Number(process.env.BENCH_COLD ?? 5);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 500);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];


async function main() {
  mkdirSync(RUN, { recursive: true });
  const only = (process.env.BENCH_ONLY ?? '').split(',').filter(Boolean);
  const peers = ['noop', 'floor', 'aws4fetch', 'sdk'].filter((name) => !only.length || only.includes(name));
  const workers = [...peers.map(peer), dynauth('dynauth', join(ROOT, 'build'))];
  if (!only.length || only.includes('aws4fetch-jwt')) {
    workers.push({ ...peer('jwt'), name: 'aws4fetch-jwt', path: '/v1/session/token', method: 'POST' });
  }
  if (!only.length || only.includes('dynauth-cached')) workers.push({ ...dynauth('dynauth-cached', join(ROOT, 'build')), cached: true });
  if (!only.length || only.includes('dynauth-jwt')) {
    // Minting is served by the admin Worker behind the edge's ADMIN binding, as deployed: this
    // row's workerd runs both (its CPU is both Workers').
    const admin = dynauth('admin', join(ROOT, 'build-admin'));
    workers.push({
      ...dynauth('dynauth-jwt', join(ROOT, 'build')), path: '/v1/session/token', method: 'POST', admin: admin.modules,
    });
  }
  for (const spec of (process.env.BENCH_EXTRA ?? '').split(',').filter(Boolean)) {
    const [name, dir] = spec.split('=');
    workers.push(dynauth(name, resolve(dir)));
  }
  // The session is minted through the admin API (the admin Worker's build).
  const { bindings, headers, token } = await seed(dynauth('minter', join(ROOT, 'build-admin')));
  const want = (name) => !only.length || only.includes(name);
  if (want('dynauth-authjs') || want('dynauth-authjs-email')) {
    const authjs = await seedAuthjs(bindings);
    if (want('dynauth-authjs')) workers.push({ ...dynauth('dynauth-authjs', join(ROOT, 'build')), headers: authjs.headers });
    if (want('dynauth-authjs-email')) {
      workers.push({ ...dynauth('dynauth-authjs-email', join(ROOT, 'build')), headers: authjs.emailHeaders });
    }
  }
  // A snapshot holds at most 300 s: the cached Worker gets a fresh one before each batch.
  const headersOf = async (w) => (w.cached ? snapshotHeaders(w, token) : (w.headers ?? headers));

  for (const worker of workers) {
    const ms = [];
    const cpu = [];
    for (let i = 0; i < COLD; i += 1) {
      const w = await startWorkerd(worker, bindings);
      const first = await firstAnswer(w, worker.headers ?? headers); // cold: the first lookup reads, cached or not
      ms.push(Number(process.hrtime.bigint() - w.t0) / 1e6);
      cpu.push(statNanos(w.pid) / 1e6);
      await w.stop();
      if (first.status !== 200) throw new Error(`${worker.name}: first lookup answered ${first.status} ${first.body}`);
    }
    worker.cold = { ms: median(ms), cpu_ms: median(cpu) };
  }

  const live = [];
  const results = [];
  try {
    for (const worker of workers) {
      const w = await startWorkerd(worker, bindings);
      live.push(w);
      await firstAnswer(w, worker.headers ?? headers);
      const warm = await lookups(w, await headersOf(w), WARMUP, 4);
      if (warm.failures) throw new Error(`${w.name}: ${warm.failures} of ${WARMUP} warm-up lookups failed\n${w.output()}`);
    }
    for (const c of CONCURRENCY) {
      const acc = new Map(live.map((w) => [w.name, { times: [], wall: 0, cpu: 0, stat: 0, failures: 0, calls: 0, logged: 0 }]));
      for (let round = 0; round < ROUNDS; round += 1) {
        for (const w of shuffle(live, round * 7919 + c)) {
          const batch = await headersOf(w);
          if (w.cached) await new Promise((done) => setTimeout(done, 20)); // the refresh's own log line
          const before = w.log();
          const r = await lookups(w, batch, REQUESTS, c);
          await new Promise((done) => setTimeout(done, 20)); // the last log lines
          const after = w.log();
          const a = acc.get(w.name);
          a.calls += after.calls - before.calls;
          a.logged += after.requests - before.requests;
          a.times.push(...r.times);
          a.wall += r.wall;
          a.cpu += r.cpu;
          a.stat += r.stat;
          a.failures += r.failures;
        }
      }
      for (const w of live) {
        const a = acc.get(w.name);
        const sorted = a.times.sort((x, y) => x - y);
        results.push({
          worker: w.name, concurrency: c, requests: sorted.length, failures: a.failures,
          rps: Math.round(sorted.length / a.wall), p50_ms: pct(sorted, 50), p99_ms: pct(sorted, 99),
          cpu_us: a.cpu / sorted.length / 1000, cpu_us_stat: a.stat / sorted.length / 1000,
          gzip_bytes: w.gzip, cold_ms: w.cold.ms, cold_cpu_ms: w.cold.cpu_ms,
          // dynauth's own log: DynamoDB calls per request (peers do not log them).
          dynamodb_calls: a.logged ? a.calls / a.logged : null,
        });
      }
    }
  } finally {
    await Promise.all(live.map((w) => w.stop()));
  }
  report(results);
}

function report(results) {
  const fixed = (x, d = 0) => Number(x).toFixed(d);
  const lines = [
    '| Worker | c | req/s | p50 ms | p99 ms | CPU µs/req | vs aws4fetch | vs sdk | vs noop | DynamoDB calls/req | gzip | cold start ms (CPU ms) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    const ratio = (name) => {
      const p = results.find((x) => x.worker === name && x.concurrency === r.concurrency);
      return p ? `${(r.cpu_us / p.cpu_us).toFixed(2)}x` : '';
    };
    lines.push(`| ${r.worker} | ${r.concurrency} | ${r.rps} | ${fixed(r.p50_ms, 2)} | ${fixed(r.p99_ms, 2)} | `
      + `${fixed(r.cpu_us)} | ${ratio('aws4fetch')} | ${ratio('sdk')} | ${ratio('noop')} | `
      + `${r.dynamodb_calls === null ? '' : fixed(r.dynamodb_calls, 2)} | ${(r.gzip_bytes / 1024).toFixed(1)} KB | `
      + `${fixed(r.cold_ms)} (${fixed(r.cold_cpu_ms)}) |`);
  }
  const version = execFileSync(WORKERD, ['--version'], { encoding: 'utf8' }).trim();
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${version}, node ${process.version}`;
  const header = `${new Date().toISOString().slice(0, 10)}: ${ROUNDS} interleaved rounds × ${REQUESTS} lookups per Worker and concurrency on ${machine}`;
  const text = `${header}\n\n${lines.join('\n')}\n`;
  console.log(`\n${text}`);
  writeFileSync(join(RUN, 'result.json'), JSON.stringify({ header, results }, null, 2));
  writeFileSync(join(RUN, 'result.md'), text);
  const failed = results.filter((r) => r.failures);
  if (failed.length) {
    console.log(`failed lookups: ${failed.map((r) => `${r.worker} at c=${r.concurrency}: ${r.failures}`).join(', ')}`);
    process.exitCode = 1;
  }
}

await main();
