// Where a lookup's CPU goes: runs one Worker under `workerd serve` with the inspector on, records a
// V8 CPU profile over BENCH_REQUESTS lookups (after a warm-up), and prints the functions with the
// most self time and the most total time. The profile is saved under .run/bench/ (open it in
// Chrome DevTools' Performance panel).
//
//   scripts/with-servers.sh node bench/profile.mjs dynauth [build dir]   (a build with its `name`
//                                                                        section: `npm run build` keeps one in .run/names/build/)
//   scripts/with-servers.sh node bench/profile.mjs aws4fetch|sdk|floor|noop
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { ROOT, RUN, dynauth, firstAnswer, freePort, lookups, peer, seed, startWorkerd } from './lib.mjs';

const name = process.argv[2] ?? 'dynauth';
const dir = resolve(process.argv[3] ?? join(ROOT, '.run/names/build'));
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 3000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const TOP = Number(process.env.PROFILE_TOP ?? 45);

const worker = name === 'dynauth' || name.startsWith('dynauth') ? dynauth(name, dir) : peer(name);
const { bindings, headers } = await seed(dynauth('minter', join(ROOT, 'build-admin')));
const inspectorPort = await freePort();
const w = await startWorkerd(worker, bindings, { inspectorPort });
try {
  await firstAnswer(w, headers);
  await lookups(w, headers, 1000, 4);
  const cdp = await connect(inspectorPort);
  await cdp('Profiler.enable');
  await cdp('Profiler.setSamplingInterval', { interval: Number(process.env.PROFILE_INTERVAL_US ?? 50) });
  await cdp('Profiler.start');
  const run = await lookups(w, headers, REQUESTS, CONCURRENCY);
  const { profile } = await cdp('Profiler.stop');
  const file = join(RUN, `profile-${name}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  console.log(`${name}: ${REQUESTS} lookups at c=${CONCURRENCY}, ${(run.cpu / REQUESTS / 1000).toFixed(0)} µs CPU each (whole process); profile in ${file}\n`);
  summarize(profile);
} finally {
  await w.stop();
}

function connect(port) {
  return new Promise((ok, fail) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/main`);
    let id = 0;
    const pending = new Map();
    ws.onmessage = (event) => {
      const msg = JSON.parse(event.data);
      const p = pending.get(msg.id);
      if (!p) return;
      pending.delete(msg.id);
      if (msg.error) p.fail(new Error(JSON.stringify(msg.error)));
      else p.ok(msg.result);
    };
    ws.onerror = () => fail(new Error('inspector connection failed'));
    ws.onopen = () => ok((method, params = {}) => new Promise((res, rej) => {
      id += 1;
      pending.set(id, { ok: res, fail: rej });
      ws.send(JSON.stringify({ id, method, params }));
    }));
  });
}

/** Self time and total (inclusive) time per function, as shares of the sampled time. */
function summarize(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (n) => {
    const f = n.callFrame;
    const fn = f.functionName || '(anonymous)';
    const where = f.url ? `${f.url.split('/').pop()}:${f.lineNumber + 1}` : '';
    return where && !fn.startsWith('(') ? `${fn}  [${where}]` : fn;
  };
  const self = new Map();
  const total = new Map();
  let sum = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    sum += dt;
    const node = byId.get(id);
    self.set(label(node), (self.get(label(node)) ?? 0) + dt);
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(byId.get(cur));
      if (!seen.has(l)) {
        seen.add(l);
        total.set(l, (total.get(l) ?? 0) + dt);
      }
    }
  });
  const show = (title, map) => {
    console.log(title);
    for (const [l, t] of [...map].sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
      console.log(`${((100 * t) / sum).toFixed(1).padStart(6)}%  ${l.slice(0, 150)}`);
    }
    console.log('');
  };
  show('self time', self);
  show('total time', total);
}
