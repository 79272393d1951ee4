// `npm run bench -- --oidc`: what the OpenID Provider costs, through the edge Worker and its ADMIN
// binding (the admin Worker serves /v1/oauth/* and /v1/session/token), as deployed, side by side
// with JavaScript peers doing the same work: a tenant's first RSA key (generated in wasm, then
// stored sealed), and per request, one at a time, the CPU of the serving workerd process read from
// /proc around each:
//   dynauth authorize          GET /v1/oauth/authorize with the session: a code at once (302); it
//                              issues every code the token rows redeem
//   dynauth token RS256/EdDSA  POST /v1/oauth/token: a code redeemed (client, budget, code and
//                              session read, one transaction, the delivery mark) and an access
//                              token and an ID token signed, for an RS256 and an EdDSA client
//   peer token RS256 (jose)    the same request to bench/peers/token.js (aws4fetch, jose over Web
//                              Crypto), redeeming dynauth's own codes of the RS256 client
//   dynauth session JWT        POST /v1/session/token with the bearer session: the lookup and one
//                              Ed25519 signature (run.mjs's dynauth-jwt row)
//   peer session JWT (jose)    the same to bench/peers/jwt.js (the aws4fetch lookup, then jose)
//   dynauth lookup, peer lookup (aws4fetch)  GET /v1/session with the bearer session
//   dynauth cached lookup      GET /v1/session with the session cookie and its signed snapshot (no
//                              DynamoDB call)
//   dynauth token ES256        as the RS256 row, for an ES256 client
//   dynauth login start/verify POST /v1/login/start and /v1/login/verify (DEV_MODE answers the code),
//                              each from an address and an email of its own
//   dynauth userinfo           GET /v1/oauth/userinfo with an access token (re-issued every 200 s)
//   dynauth JWKS, discovery    GET /.well-known/jwks.json and /.well-known/openid-configuration
//   dynauth logout             POST /v1/logout with the bearer of a session minted for it
// With BENCH_BEFORE=DIR (DIR/build and DIR/build-admin: an older build of both Workers), that build
// runs beside, in its own workerd, on the same table: rows "before token RS256", "before token
// EdDSA", "before session JWT" and "before lookup".
// Each peer runs in its own workerd (lib.mjs: one Worker per process; dynauth's edge and admin
// Workers share one), against the same DynamoDB Local, table, tenant, clients and session. Rounds
// are interleaved: each sends BENCH_TOKENS requests of every row, the rows in a shuffled order.
// BENCH_WARM requests of each row warm it up first: one answer of each peer is checked to carry
// the same JSON fields, JWT headers and claims as dynauth's, and each row's DynamoDB calls per
// request are counted from the Workers' log lines (past the first, which may fill a cache).
// Writes .run/bench/oidc.{json,md}.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { request } from 'node:http';
import { join, resolve } from 'node:path';

import {
  ADMIN_TOKEN, HOST, ROOT, RUN, cli, cpuNanos, dynauth, firstAnswer, pct, peer, seed, send, shuffle, snapshotHeaders,
  startWorkerd,
} from './lib.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const TOKENS = Number(process.env.BENCH_TOKENS ?? 25);
const WARM = Number(process.env.BENCH_WARM ?? 10); // per row, before the rounds (at least 2)
const REDIRECT = 'https://app.bench.test/cb';
const VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
const CHALLENGE = createHash('sha256').update(VERIFIER).digest('base64url'); // RFC 7636 §4.2, S256

/** The shape of an answer: its JSON fields, and each JWT's header and claim names. */
function shape(body) {
  const json = JSON.parse(body);
  const out = { fields: Object.keys(json).sort() };
  for (const [k, v] of Object.entries(json)) {
    if (typeof v !== 'string' || v.split('.').length !== 3) continue;
    const [h, c] = v.split('.').map((p) => { try { return JSON.parse(Buffer.from(p, 'base64url')); } catch { return null; } });
    if (!h || !c) continue;
    out[k] = { alg: h.alg, typ: h.typ, header: Object.keys(h).sort(), claims: Object.keys(c).sort() };
  }
  return JSON.stringify(out);
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

async function main() {
  const admin = dynauth('admin', join(ROOT, 'build-admin'));
  const edge = { ...dynauth('dynauth', join(ROOT, 'build')), admin: admin.modules };
  const { env: table, bindings: seeded, headers, token } = await seed(admin);
  // DEV_MODE answers login codes only to plain http on a local host: the login rows are on
  // localhost.
  cli(table, ['domain', 'claim', 'acme', 'localhost', '--status', 'ready']);
  const bindings = { ...seeded, DEV_MODE: 'true' };
  const beforeDir = process.env.BENCH_BEFORE ? resolve(process.env.BENCH_BEFORE) : null;
  const live = [];
  const start = async (worker, first) => {
    const p = await startWorkerd(worker, bindings);
    live.push(p);
    await firstAnswer(p, first);
    return p;
  };
  try {
    const w = await start(edge, headers);
    // The peers: the token peer answers /health until it is asked for a token.
    const tokenPeer = await start({ ...peer('token'), path: '/health' }, {});
    const jwtPeer = await start(peer('jwt'), headers);
    const json = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
    const secrets = {};
    for (const [id, alg] of [['rs', 'RS256'], ['ed', 'EdDSA'], ['es', 'ES256']]) {
      const r = await send(undefined, w.port, `/v1/admin/tenants/acme/clients/${id}`, json, 'PUT', JSON.stringify({
        name: id, type: 'confidential', redirect_uris: [REDIRECT], id_token_signed_response_alg: alg,
      }));
      if (r.status !== 201) throw new Error(`client ${id}: ${r.status} ${r.body}`);
      secrets[id] = JSON.parse(r.body).client_secret;
    }
    // The tenant's first RSA (and P-256) key: generated by the first request that needs it (the
    // JWKS).
    const cpu0 = cpuNanos(w.pid);
    const keys = await send(undefined, w.port, '/.well-known/jwks.json');
    const keygen = { ms: keys.ms, cpu_ms: (cpuNanos(w.pid) - cpu0) / 1e6 };
    if (keys.status !== 200) throw new Error(`jwks: ${keys.status} ${keys.body}`);
    // The older build, beside (it reads the keys this one made: they keep its format too).
    const before = beforeDir
      ? await start({ ...dynauth('before', join(beforeDir, 'build')), admin: dynauth('before-admin', join(beforeDir, 'build-admin')).modules }, headers)
      : null;
    const bearer = { authorization: `Bearer ${token}` };
    // An authorization with the session: 302 with a code at once (read from its Location).
    const authorize = (id) => new Promise((ok, fail) => {
      const query = new URLSearchParams({
        response_type: 'code', client_id: id, redirect_uri: REDIRECT, scope: 'openid',
        code_challenge: CHALLENGE, code_challenge_method: 'S256', state: 's',
      });
      const c0 = cpuNanos(w.pid);
      const t0 = process.hrtime.bigint();
      const req = request({
        host: '127.0.0.1', port: w.port, path: `/v1/oauth/authorize?${query}`, headers: { host: HOST, ...bearer },
      }, (res) => {
        res.resume();
        res.on('end', () => {
          const location = res.headers.location ?? '';
          const code = new URL(location, 'https://x').searchParams.get('code');
          if (res.statusCode !== 302 || !code) return fail(new Error(`authorize ${id}: ${res.statusCode} ${location}`));
          ok({ code, ms: Number(process.hrtime.bigint() - t0) / 1e6, cpu_ms: (cpuNanos(w.pid) - c0) / 1e6 });
        });
      });
      req.on('error', fail);
      req.end();
    });
    const authorized = { times: [], cpu: [] }; // every authorization, whichever row redeems its code
    const code = async (id) => {
      const a = await authorize(id);
      authorized.times.push(a.ms);
      authorized.cpu.push(a.cpu_ms);
      return a.code;
    };
    const redeem = (target, id) => ({
      target,
      prepare: () => code(id),
      authorizes: true,
      send: (c) => send(undefined, target.port, '/v1/oauth/token', {
        authorization: `Basic ${Buffer.from(`${id}:${secrets[id]}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      }, 'POST', new URLSearchParams({
        grant_type: 'authorization_code', code: c, redirect_uri: REDIRECT, code_verifier: VERIFIER,
      }).toString()),
    });
    const ask = (target, path, method) => ({ target, send: () => send(undefined, target.port, path, bearer, method) });
    // The browser's cookie and snapshot (a snapshot holds 300 s: made again after 200).
    let snapshot = { at: 0 };
    const cookies = async () => {
      if (Date.now() - snapshot.at > 200_000) snapshot = { at: Date.now(), headers: await snapshotHeaders(w, token) };
      return snapshot.headers;
    };
    // An access token for userinfo, issued again after 200 s (they live 300 s).
    let access = { at: 0 };
    const accessToken = async () => {
      if (Date.now() - access.at > 200_000) {
        const r = await redeem(w, 'rs').send(await code('rs'));
        access = { at: Date.now(), token: JSON.parse(r.body).access_token };
      }
      return access.token;
    };
    let logins = 0;
    const local = () => {
      logins += 1;
      return {
        host: 'localhost', 'content-type': 'application/json',
        'cf-connecting-ip': `10.${(logins >> 16) & 255}.${(logins >> 8) & 255}.${logins & 255}`,
      };
    };
    const startLogin = async () => {
      const from = local();
      const r = await send(undefined, w.port, '/v1/login/start', from, 'POST',
        JSON.stringify({ email: `bench-${logins}@example.com`, deliver: 'body' }));
      if (r.status !== 202) throw new Error(`login start: ${r.status} ${r.body}`);
      return { ...r, status: 200, from, started: JSON.parse(r.body) };
    };
    const mint = async () => {
      const r = await send(undefined, w.port, '/v1/admin/tenants/acme/sessions', json, 'POST', JSON.stringify({ user_id: 'u-out' }));
      if (r.status !== 201) throw new Error(`minting: ${r.status} ${r.body}`);
      return JSON.parse(r.body).token;
    };
    // Answers other than 200 that are a row's success.
    const ok = (r, status) => ({ ...r, status: r.status === status ? 200 : r.status });
    // `peer`: the row it is compared with; `lookup`: the lookup of the same side, for a session JWT.
    const rows = [
      { name: 'dynauth token RS256', ...redeem(w, 'rs'), peer: 'peer token RS256 (jose)' },
      { name: 'dynauth token EdDSA', ...redeem(w, 'ed') },
      { name: 'peer token RS256 (jose)', ...redeem(tokenPeer, 'rs') },
      { name: 'dynauth session JWT', ...ask(w, '/v1/session/token', 'POST'), peer: 'peer session JWT (jose)', lookup: 'dynauth lookup' },
      { name: 'peer session JWT (jose)', ...ask(jwtPeer, '/v1/session/token', 'POST'), lookup: 'peer lookup (aws4fetch)' },
      { name: 'dynauth lookup', ...ask(w, '/v1/session', 'GET'), peer: 'peer lookup (aws4fetch)' },
      { name: 'peer lookup (aws4fetch)', ...ask(jwtPeer, '/v1/session', 'GET') },
      { name: 'dynauth token ES256', ...redeem(w, 'es') },
      {
        name: 'dynauth cached lookup', target: w, prepare: cookies,
        send: (h) => send(undefined, w.port, '/v1/session', h, 'GET'),
      },
      { name: 'dynauth login start', target: w, send: startLogin },
      {
        name: 'dynauth login verify', target: w, prepare: startLogin,
        send: async ({ from, started: { login_id, code: c, binding } }) => ok(await send(undefined, w.port, '/v1/login/verify', from, 'POST',
          JSON.stringify({ login_id, code: c, binding, deliver: 'body' })), 200),
      },
      {
        name: 'dynauth userinfo', target: w, prepare: accessToken,
        send: (t) => send(undefined, w.port, '/v1/oauth/userinfo', { authorization: `Bearer ${t}` }, 'GET'),
      },
      { name: 'dynauth JWKS', target: w, send: () => send(undefined, w.port, '/.well-known/jwks.json') },
      { name: 'dynauth discovery', target: w, send: () => send(undefined, w.port, '/.well-known/openid-configuration') },
      {
        name: 'dynauth logout', target: w, prepare: mint,
        send: async (t) => ok(await send(undefined, w.port, '/v1/logout', { authorization: `Bearer ${t}` }, 'POST'), 204),
      },
      ...(before ? [
        { name: 'before token RS256', ...redeem(before, 'rs') },
        { name: 'before token EdDSA', ...redeem(before, 'ed') },
        { name: 'before session JWT', ...ask(before, '/v1/session/token', 'POST'), lookup: 'before lookup' },
        { name: 'before lookup', ...ask(before, '/v1/session', 'GET') },
      ] : []),
    ];
    // BENCH_ROWS (a regular expression): only the rows it matches, and the rows they compare with.
    if (process.env.BENCH_ROWS) {
      const only = new RegExp(process.env.BENCH_ROWS);
      const keep = new Set(rows.filter((r) => only.test(r.name)).flatMap((r) => [r.name, r.peer, r.lookup]));
      rows.splice(0, rows.length, ...rows.filter((r) => keep.has(r.name)));
    }
    // One request of `row`, one at a time: its answer, wall time and the CPU of its process.
    const once = async (row) => {
      const ready = await row.prepare?.();
      const c0 = cpuNanos(row.target.pid);
      const r = await row.send(ready);
      const cpu_ms = (cpuNanos(row.target.pid) - c0) / 1e6;
      if (r.status !== 200) throw new Error(`${row.name}: ${r.status} ${r.body.slice(0, 300)}\n${row.target.output().slice(-2000)}`);
      return { ...r, cpu_ms };
    };
    // Warm-up: each row's DynamoDB calls per request (from the log lines), and each peer's
    // answer shaped as the dynauth answer it is compared with.
    const answers = new Map();
    const authorizeCalls = [];
    for (const row of rows) {
      row.seen = { times: [], cpu: [] };
      let calls = 0;
      for (let i = 0; i < WARM; i += 1) {
        const prepared = w.log().calls;
        const ready = await row.prepare?.();
        await sleep(30); // the log line of the authorization that prepared it
        if (row.authorizes && i > 0) authorizeCalls.push(w.log().calls - prepared);
        const before = row.target.log().calls;
        const r = await once({ ...row, prepare: () => ready });
        await sleep(30);
        if (i > 0) calls += row.target.log().calls - before; // the first may fill a cache
        answers.set(row.name, r.body);
      }
      row.calls = calls / (WARM - 1);
    }
    for (const row of rows.filter((r) => r.peer)) {
      const [mine, theirs] = [shape(answers.get(row.name)), shape(answers.get(row.peer))];
      if (mine !== theirs) throw new Error(`${row.peer} answers otherwise than ${row.name}:\n  dynauth ${mine}\n  peer    ${theirs}`);
    }
    authorized.times.length = 0;
    authorized.cpu.length = 0;
    for (let round = 0; round < ROUNDS; round += 1) {
      process.stderr.write(`[bench] oidc round ${round + 1}/${ROUNDS}\n`);
      for (const row of shuffle(rows, round * 7919)) {
        for (let i = 0; i < TOKENS; i += 1) {
          const r = await once(row);
          row.seen.times.push(r.ms);
          row.seen.cpu.push(r.cpu_ms);
        }
      }
    }

    const sorted = (xs) => [...xs].sort((a, b) => a - b);
    const stats = (name, seen, calls) => {
      const [t, c] = [sorted(seen.times), sorted(seen.cpu)];
      return {
        row: name, requests: t.length, cpu_p50_ms: pct(c, 50), cpu_p99_ms: pct(c, 99),
        p50_ms: pct(t, 50), p99_ms: pct(t, 99), dynamodb_calls: calls,
      };
    };
    const results = [
      ...rows.map((r) => ({ ...stats(r.name, r.seen, r.calls), peer: r.peer ?? null, lookup: r.lookup ?? null })),
      {
        ...stats('dynauth authorize', authorized, authorizeCalls.reduce((t, c) => t + c, 0) / authorizeCalls.length),
        peer: null, lookup: null,
      },
    ];
    const of = (name) => results.find((r) => r.row === name);
    for (const r of results) {
      r.cpu_vs_peer = r.peer ? r.cpu_p50_ms / of(r.peer).cpu_p50_ms : null;
      r.cpu_vs_lookup = r.lookup ? r.cpu_p50_ms / of(r.lookup).cpu_p50_ms : null;
    }
    const x = (v) => (v === null ? '' : `${v.toFixed(2)}x`);
    const lines = [
      '| Row | requests | CPU p50 ms | CPU p99 ms | p50 ms | p99 ms | DynamoDB calls/req | CPU p50 vs peer | CPU p50 vs lookup |',
      '|---|---|---|---|---|---|---|---|---|',
      ...results.map((r) => `| ${r.row} | ${r.requests} | ${r.cpu_p50_ms.toFixed(2)} | ${r.cpu_p99_ms.toFixed(2)} | `
        + `${r.p50_ms.toFixed(2)} | ${r.p99_ms.toFixed(2)} | ${r.dynamodb_calls.toFixed(1)} | ${x(r.cpu_vs_peer)} | ${x(r.cpu_vs_lookup)} |`),
    ];
    const header = `${new Date().toISOString().slice(0, 10)}: ${ROUNDS} interleaved rounds × ${TOKENS} requests per row, `
      + `one at a time, dynauth through the edge and its ADMIN binding, each peer in its own workerd, on ${cpus().length} × `
      + `${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB. The tenant's first RSA key (2048-bit, `
      + `and P-256 key, generated by the crypto service, sealed, stored): ${keygen.ms.toFixed(0)} ms, ${keygen.cpu_ms.toFixed(0)} ms CPU.`;
    const summary = `Token RS256, dynauth / peer (CPU p50): ${x(of('dynauth token RS256')?.cpu_vs_peer ?? null)}. `
      + `Session JWT / lookup (CPU p50): dynauth ${x(of('dynauth session JWT')?.cpu_vs_lookup ?? null)}, `
      + `peer ${x(of('peer session JWT (jose)')?.cpu_vs_lookup ?? null)}`
      + `${before ? `, before ${x(of('before session JWT')?.cpu_vs_lookup ?? null)}` : ''}. `
      + `Rows of dynauth with a CPU p99 over the Free plan's 10 ms: `
      + `${results.filter((r) => r.row.startsWith('dynauth') && r.cpu_p99_ms > 10).map((r) => r.row).join(', ') || 'none'}.`;
    const text = `${header}\n\n${lines.join('\n')}\n\n${summary}\n`;
    console.log(`\n${text}`);
    writeFileSync(join(RUN, 'oidc.json'), JSON.stringify({ header, keygen, results, summary }, null, 2));
    writeFileSync(join(RUN, 'oidc.md'), text);
  } finally {
    await Promise.all(live.map((p) => p.stop()));
  }
}

await main();
