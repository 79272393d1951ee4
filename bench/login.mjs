// `npm run bench -- --login`: what a login costs end to end, start and verify, through the edge
// Worker with its ADMIN binding (the admin Worker behind it, as deployed), side by side with any
// other dynauth builds in BENCH_EXTRA ("before=dir": an older edge that served logins itself),
// interleaved: each round runs BENCH_LOGINS logins (start with "deliver":"body", then verify with
// the binding and the code that DEV_MODE returns) on every Worker in a shuffled order, one at a
// time, each from an address and email of its own (no budget is hit). Reports p50/p99 of start
// and verify per Worker; writes .run/bench/login.{json,md}.
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';

import { ROOT, RUN, cli, dynauth, firstAnswer, pct, seed, send, shuffle, startWorkerd } from './lib.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const LOGINS = Number(process.env.BENCH_LOGINS ?? 25);
const admin = dynauth('admin', join(ROOT, 'build-admin'));

async function main() {
  const workers = [{ ...dynauth('dynauth', join(ROOT, 'build')), admin: admin.modules }];
  for (const spec of (process.env.BENCH_EXTRA ?? '').split(',').filter(Boolean)) {
    const [name, dir] = spec.split('=');
    workers.push({ ...dynauth(name, resolve(dir)), admin: admin.modules });
  }
  const { env: table, bindings, headers } = await seed(admin);
  // DEV_MODE answers codes only to plain http on a local host: the logins are on localhost.
  cli(table, ['domain', 'claim', 'acme', 'localhost', '--status', 'ready']);
  const env = { ...bindings, DEV_MODE: 'true' };
  const live = [];
  const times = new Map(workers.map((w) => [w.name, { start: [], verify: [] }]));
  let n = 0;
  const login = async (w, agent) => {
    n += 1;
    const from = { host: 'localhost', 'cf-connecting-ip': `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`, 'content-type': 'application/json' };
    const started = await send(agent, w.port, '/v1/login/start', from, 'POST',
      JSON.stringify({ email: `bench-${n}@example.com`, deliver: 'body' }));
    if (started.status !== 202) throw new Error(`${w.name}: start answered ${started.status} ${started.body}`);
    const { login_id, code, binding } = JSON.parse(started.body);
    const verified = await send(agent, w.port, '/v1/login/verify', from, 'POST',
      JSON.stringify({ login_id, code, binding, deliver: 'body' }));
    if (verified.status !== 200) throw new Error(`${w.name}: verify answered ${verified.status} ${verified.body}`);
    return { start: started.ms, verify: verified.ms };
  };
  try {
    for (const worker of workers) {
      const w = await startWorkerd(worker, env);
      live.push(w);
      await firstAnswer(w, headers);
      for (let i = 0; i < 5; i += 1) await login(w); // warm both Workers
    }
    for (let round = 0; round < ROUNDS; round += 1) {
      process.stderr.write(`[bench] login round ${round + 1}/${ROUNDS}\n`);
      for (const w of shuffle(live, round * 7919)) {
        for (let i = 0; i < LOGINS; i += 1) {
          const t = await login(w);
          times.get(w.name).start.push(t.start);
          times.get(w.name).verify.push(t.verify);
        }
      }
    }
  } finally {
    await Promise.all(live.map((w) => w.stop()));
  }
  const sorted = (xs) => [...xs].sort((a, b) => a - b);
  const lines = ['| Worker | logins | start p50 ms | start p99 ms | verify p50 ms | verify p99 ms |', '|---|---|---|---|---|---|'];
  const results = [];
  for (const w of workers) {
    const t = times.get(w.name);
    const start = sorted(t.start);
    const verify = sorted(t.verify);
    const r = {
      worker: w.name, logins: start.length,
      start_p50_ms: pct(start, 50), start_p99_ms: pct(start, 99), verify_p50_ms: pct(verify, 50), verify_p99_ms: pct(verify, 99),
    };
    results.push(r);
    lines.push(`| ${r.worker} | ${r.logins} | ${r.start_p50_ms.toFixed(2)} | ${r.start_p99_ms.toFixed(2)} | `
      + `${r.verify_p50_ms.toFixed(2)} | ${r.verify_p99_ms.toFixed(2)} |`);
  }
  const header = `${new Date().toISOString().slice(0, 10)}: ${ROUNDS} interleaved rounds × ${LOGINS} logins per Worker, `
    + `one at a time, on ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`;
  const text = `${header}\n\n${lines.join('\n')}\n`;
  console.log(`\n${text}`);
  writeFileSync(join(RUN, 'login.json'), JSON.stringify({ header, results }, null, 2));
  writeFileSync(join(RUN, 'login.md'), text);
}

await main();
