// dynauth under DynamoDB faults: the built Worker under `wrangler dev` talks to DynamoDB Local
// through the fault proxy (tests/e2e/fault-proxy.mjs). First each defect's own scenario, exactly;
// then a seeded random run (FAULT_REQUESTS requests, 500 by default, FAULT_RATE 0.2 of DynamoDB
// requests faulted, FAULT_SEED) of logins, verifies, lookups, mints, logouts, tenant writes and
// domain claims, after which the table is read directly and checked: never a bare 500, every 503
// with Retry-After, no request past the deadline, no code that opened two sessions, no duplicate
// user, no host held by two tenants, and no write answered as done that is not in the table.
// `npm run faults` runs it longer.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';

import { admin, createTable, DYNAMODB, dynamodb, rawRequest, startWorker, stopAll, uniqueName } from './harness.mjs';
import { generator, random, startFaultProxy } from './fault-proxy.mjs';

const table = uniqueName('e2e-faults');
const HOST = 'faults.acme.localhost'; // DEV_MODE answers codes only to local hosts
const DEADLINE_MS = 3000;
// wrangler dev's own proxy and the Worker's start add to what the Worker itself may spend.
const SLACK_MS = 1500;
const REQUESTS = Number(process.env.FAULT_REQUESTS ?? 500);
const RATE = Number(process.env.FAULT_RATE ?? 0.2);
const SEED = Number(process.env.FAULT_SEED ?? 20261125);
let proxy;
let worker;

before(async () => {
  createTable(table);
  proxy = await startFaultProxy(DYNAMODB);
  worker = await startWorker({
    DYNAMODB_TABLE: table,
    DYNAMODB_ENDPOINT: proxy.url,
    DEV_MODE: 'true',
    LOGIN_RATE_LIMIT: '100',
    // Every request of this suite comes from one address: its budgets must not hide the faults.
    LOGIN_IP_LIMIT: '100000',
    VERIFY_IP_LIMIT: '100000',
    // As many wrong codes per address as per email (100: what 6-digit codes allow).
    VERIFY_FAILURE_IP_LIMIT: '100',
    VERIFY_FAILURE_LIMIT: '100',
    REQUEST_DEADLINE_MS: String(DEADLINE_MS),
    DYNAMODB_TIMEOUT_MS: '2000',
    DYNAMODB_ATTEMPT_TIMEOUT_MS: '500',
  });
  assert.equal((await admin(worker, 'PUT', '/v1/admin/tenants/acme', { name: 'Acme' })).status, 201);
  assert.equal((await admin(worker, 'PUT', `/v1/admin/tenants/acme/domains/${HOST}`, { status: 'ready' })).status, 201);
  assert.equal((await admin(worker, 'PUT', '/v1/admin/tenants/globex', { name: 'Globex' })).status, 201);
});

after(async () => {
  await stopAll();
  await proxy?.close();
  await dynamodb('DeleteTable', { TableName: table }).catch(() => {});
});

/** A request to the tenant host, timed: { status, headers, body, ms }. */
async function timed(method, path, { body, headers = {} } = {}) {
  const started = Date.now();
  const r = await rawRequest(`${worker.url}${path}`, {
    method, host: HOST, headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers }, body,
  });
  return { ...r, ms: Date.now() - started };
}

async function timedAdmin(method, path, body) {
  const started = Date.now();
  const r = await admin(worker, method, path, body);
  return { status: r.status, headers: Object.fromEntries(r.headers), body: r.body, ms: Date.now() - started };
}

/** Each login's binding, by login id, as the starts (server-side: in the body) got it. */
const bindings = new Map();
const start = async (email) => {
  const r = await timed('POST', '/v1/login/start', { body: { email, deliver: 'body' } });
  if (r.status === 202) bindings.set(r.body.login_id, r.body.binding);
  return r;
};
const verify = (login_id, code) => timed('POST', '/v1/login/verify', { body: { login_id, code, deliver: 'body', binding: bindings.get(login_id) } });
const lookup = (token) => timed('GET', '/v1/session', { headers: { authorization: `Bearer ${token}` } });
const wrong = (code) => `${(Number(code[0]) + 1) % 10}${code.slice(1)}`;

/** The first `n` requests of operation `op` get `fault`; everything else passes. */
function first(op, fault, n = 1) {
  return skipping(op, 0, fault, n);
}

/** The `n` requests of operation `op` after the next `skip` get `fault`; everything else passes. */
function skipping(op, skip, fault, n = 1) {
  let seen = 0;
  return (o) => {
    if (o !== op) return null;
    seen += 1;
    return seen > skip && seen <= skip + n ? fault : null;
  };
}

/** Every item of the table, read from DynamoDB Local directly (not through the proxy). */
async function scan() {
  const items = [];
  let start;
  do {
    const page = await dynamodb('Scan', { TableName: table, ...(start ? { ExclusiveStartKey: start } : {}) });
    items.push(...page.Items);
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

const S = (item, name) => item[name]?.S;

async function loginItem(loginId) {
  const out = await dynamodb('GetItem', { TableName: table, Key: { PK: { S: `TENANT#acme#LOGIN#${loginId}` }, SK: { S: 'CODE' } } });
  return out.Item;
}

describe('faults, one by one', () => {
  test('a wrong code answered 500 after it was applied spends one attempt, once', async () => {
    const s = await start('one@example.com');
    assert.equal(s.status, 202);
    // The reservation is a transaction with a token: sent again, DynamoDB applies it once.
    proxy.plan = first('TransactWriteItems', '500-after');
    const r = await verify(s.body.login_id, wrong(s.body.code));
    proxy.plan = () => null;
    assert.deepEqual([r.status, r.body.error?.attempts_left], [401, 4], JSON.stringify(r.body));
    assert.equal((await loginItem(s.body.login_id)).attempts.N, '1');
    const again = await verify(s.body.login_id, wrong(s.body.code));
    assert.deepEqual([again.status, again.body.error.attempts_left], [401, 3]);
  });

  test('a verify applied with every answer lost is answered on retry with its session', async () => {
    const s = await start('two@example.com');
    // The reservation goes through; the consuming transaction is applied and never answered.
    proxy.plan = skipping('TransactWriteItems', 1, 'lose', 10);
    const lost = await verify(s.body.login_id, s.body.code);
    proxy.plan = () => null;
    assert.equal(lost.status, 503, JSON.stringify(lost.body));
    assert.ok(lost.headers['retry-after']);
    assert.ok(lost.ms <= DEADLINE_MS + SLACK_MS, `${lost.ms} ms`);
    assert.equal((await loginItem(s.body.login_id)).used_at !== undefined, true, 'the verify was applied');
    const retry = await verify(s.body.login_id, s.body.code);
    assert.equal(retry.status, 200, JSON.stringify(retry.body));
    const session = await lookup(retry.body.token);
    assert.deepEqual([session.status, session.body.user.email], [200, 'two@example.com']);
  });

  test('a start whose budget answer is reset after it was applied counts once', async () => {
    proxy.plan = first('TransactWriteItems', 'reset-after');
    const r = await start('three@example.com');
    proxy.plan = () => null;
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const budget = (await scan()).find((i) => S(i, 'type') === 'budget' && S(i, 'PK').includes('#start_email#three@example.com#'));
    assert.equal(budget.count.N, '1', 'one unit spent');
  });

  test('a database 2.9 s slow is cut off at the request deadline with 503 + Retry-After', async () => {
    proxy.plan = () => ({ latency: 2900 });
    const r = await start('four@example.com');
    proxy.plan = () => null;
    assert.equal(r.status, 503, JSON.stringify(r.body));
    assert.ok(r.headers['retry-after']);
    assert.ok(r.ms <= DEADLINE_MS + SLACK_MS, `login/start took ${r.ms} ms`);
  });

  test('a burst for a host whose one read is slow: every request waits for it, none cancelled as hung', async () => {
    // The first request reads the domain; the others wait on that read, which is another
    // request's: without a timer of their own, workerd took them for hung and answered 500.
    const host = 'burst.acme.localhost';
    assert.equal((await admin(worker, 'PUT', `/v1/admin/tenants/acme/domains/${host}`, { status: 'ready' })).status, 201);
    const seen = proxy.log.length;
    proxy.plan = (op, body) => (op === 'GetItem' && body.includes(`DOMAIN#${host}`) ? { latency: 400 } : null);
    const answers = await Promise.all(Array.from({ length: 20 }, () => rawRequest(`${worker.url}/v1/tenant`, { host })));
    proxy.plan = () => null;
    assert.deepEqual(answers.map((a) => a.status), Array(20).fill(200), JSON.stringify(answers.find((a) => a.status !== 200)?.body));
    assert.deepEqual(answers[0].body, { id: 'acme', name: 'Acme' });
    assert.equal(proxy.log.slice(seen).filter((e) => e.op === 'GetItem').length, 1, 'one read for all 20');
  });

  test('transactions that real DynamoDB cancels as TransactionConflict are retried, not taken for a spent budget', async () => {
    // Three conflicts on the tenant's counter for the start, three for the verify: each is sent
    // again after a short wait, and the answers are the ones without conflicts.
    let seen = proxy.log.length;
    proxy.plan = first('TransactWriteItems', 'conflict', 3);
    const s = await start('six@example.com');
    assert.equal(s.status, 202, JSON.stringify(s.body));
    assert.equal(proxy.log.slice(seen).filter((e) => e.fault === 'conflict').length, 3);
    seen = proxy.log.length;
    proxy.plan = first('TransactWriteItems', 'conflict', 3);
    const v = await verify(s.body.login_id, s.body.code);
    proxy.plan = () => null;
    assert.equal(v.status, 200, JSON.stringify(v.body));
    assert.equal(proxy.log.slice(seen).filter((e) => e.fault === 'conflict').length, 3);
    // A counter that stays contended to the deadline: 503 + Retry-After, never 429, and nothing spent.
    proxy.plan = (op) => (op === 'TransactWriteItems' ? 'conflict' : null);
    const r = await start('seven@example.com');
    proxy.plan = () => null;
    assert.deepEqual([r.status, r.body.error?.code], [503, 'unavailable'], JSON.stringify(r.body));
    assert.ok(r.headers['retry-after']);
    assert.ok(r.ms <= DEADLINE_MS + SLACK_MS, `${r.ms} ms`);
    const spent = (await scan()).filter((i) => S(i, 'type') === 'budget' && S(i, 'PK').includes('seven@example.com'));
    assert.deepEqual(spent, [], 'a cancelled transaction spends nothing');
  });

  test('20 concurrent verifies of one code under faults open one session', async () => {
    const s = await start('five@example.com');
    proxy.plan = random(SEED, 0.3);
    const answers = await Promise.all(Array.from({ length: 20 }, () => verify(s.body.login_id, s.body.code)));
    proxy.plan = () => null;
    const statuses = answers.map((a) => a.status);
    // 429: no attempt left to reserve before the code was used.
    assert.ok(statuses.every((st) => [200, 409, 429, 503].includes(st)), JSON.stringify(statuses));
    const tokens = new Set(answers.filter((a) => a.status === 200).map((a) => a.body.token));
    assert.ok(tokens.size <= 1, `${tokens.size} different tokens`);
    const login = await loginItem(s.body.login_id);
    const sessions = (await scan()).filter((i) => S(i, 'type') === 'session' && S(i, 'email') === 'five@example.com');
    assert.ok(sessions.length <= 1, `${sessions.length} sessions`);
    if (tokens.size === 1) assert.equal(S(sessions[0], 'id'), S(login, 'session'));
  });
});

describe('the token endpoint under faults: a fault alone never costs the client its code or grant', () => {
  const REDIRECT = 'http://127.0.0.1:9/cb';
  const VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
  let basic;
  let session;

  before(async () => {
    const client = await admin(worker, 'PUT', '/v1/admin/tenants/acme/clients/web', {
      name: 'Web', type: 'confidential', redirect_uris: [REDIRECT], scopes: ['openid', 'offline_access'],
    });
    assert.equal(client.status, 201, JSON.stringify(client.body));
    basic = `Basic ${Buffer.from(`web:${client.body.client_secret}`).toString('base64')}`;
    const minted = await admin(worker, 'POST', '/v1/admin/tenants/acme/sessions', { user_id: 'u-oidc', email: 'oidc@example.com' });
    assert.equal(minted.status, 201, JSON.stringify(minted.body));
    session = minted.body.token;
  });

  /** A code for `web` in the session (presented as a bearer token). */
  async function code() {
    const query = new URLSearchParams({
      response_type: 'code', client_id: 'web', redirect_uri: REDIRECT, scope: 'openid offline_access', state: 's',
      code_challenge: createHash('sha256').update(VERIFIER).digest('base64url'), code_challenge_method: 'S256',
    });
    const r = await timed('GET', `/v1/oauth/authorize?${query}`, { headers: { authorization: `Bearer ${session}` } });
    assert.equal(r.status, 302, JSON.stringify(r.body));
    return new URL(r.headers.location).searchParams.get('code');
  }

  const token = async (form) => {
    const started = Date.now();
    const r = await rawRequest(`${worker.url}/v1/oauth/token`, {
      method: 'POST', host: HOST, body: new URLSearchParams(form).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
    });
    return { ...r, ms: Date.now() - started };
  };
  const redeem = (c) => token({ grant_type: 'authorization_code', code: c, redirect_uri: REDIRECT, code_verifier: VERIFIER });
  const refresh = (rt) => token({ grant_type: 'refresh_token', refresh_token: rt });
  const wait = (secs) => new Promise((ok) => setTimeout(ok, secs * 1000));

  /** The 503 of a request whose every write answer was lost: asked to come back after 4 s. */
  function lostAnswer(r) {
    assert.equal(r.status, 503, JSON.stringify(r.body));
    assert.equal(r.headers['retry-after'], '4', 'the request deadline (3 s), rounded up, and a second');
    assert.ok(r.ms <= DEADLINE_MS + SLACK_MS, `${r.ms} ms`);
  }

  for (const fault of ['500-after', 'reset-after']) {
    test(`a redemption applied with every answer lost (${fault}): its retries get one token set, and the grant goes on`, async () => {
      const c = await code();
      proxy.plan = (op) => (op === 'TransactWriteItems' ? fault : null);
      const lost = await redeem(c);
      proxy.plan = () => null;
      lostAnswer(lost);
      await wait(Number(lost.headers['retry-after']));
      const retries = await Promise.all([redeem(c), redeem(c), redeem(c)]);
      for (const r of retries) assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(new Set(retries.map((r) => r.body.refresh_token)).size, 1, 'one refresh token: one grant');
      const next = await refresh(retries[0].body.refresh_token);
      assert.equal(next.status, 200, JSON.stringify(next.body));
      const redeemed = (await scan()).find((i) => S(i, 'type') === 'auth_code' && i.delivered_at === undefined && i.used_at);
      const grant = (await scan()).find((i) => S(i, 'type') === 'grant' && S(i, 'grant_id') === S(redeemed, 'grant_id'));
      assert.equal(grant.revoked_at, undefined, 'the grant stands');
    });
  }

  test('a refresh applied with every answer lost: its retries get the next token, once rotated, and the family goes on', async () => {
    const first = await redeem(await code());
    assert.equal(first.status, 200, JSON.stringify(first.body));
    proxy.plan = (op) => (op === 'UpdateItem' ? '500-after' : null);
    const lost = await refresh(first.body.refresh_token);
    proxy.plan = () => null;
    lostAnswer(lost);
    await wait(Number(lost.headers['retry-after']));
    const retries = await Promise.all([refresh(first.body.refresh_token), refresh(first.body.refresh_token)]);
    for (const r of retries) assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(retries[0].body.refresh_token, retries[1].body.refresh_token, 'one new refresh token');
    const third = await refresh(retries[0].body.refresh_token);
    assert.equal(third.status, 200, JSON.stringify(third.body));
    // A token whose answer was delivered, used again: refused, and the family ends (as ever).
    const reused = await refresh(retries[0].body.refresh_token);
    assert.deepEqual([reused.status, reused.body.error], [400, 'invalid_grant']);
    assert.equal((await refresh(third.body.refresh_token)).status, 400);
  });

  test('a delivered code used again is refused and revokes what it gave', async () => {
    const c = await code();
    const first = await redeem(c);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const again = await redeem(c);
    assert.deepEqual([again.status, again.body.error], [400, 'invalid_grant']);
    assert.equal((await refresh(first.body.refresh_token)).status, 400);
  });
});

describe(`a seeded random run: ${REQUESTS} requests, ${RATE * 100}% of DynamoDB requests faulted, seed ${SEED}`, () => {
  test('integrity holds', { timeout: 30 * 60_000 }, async () => {
    const pick = generator(SEED + 1);
    const choose = (list) => list[Math.floor(pick() * list.length)];
    const emails = Array.from({ length: 25 }, (_, i) => `r${i}@example.com`);
    const hosts = Array.from({ length: 10 }, (_, i) => `h${i}.claims.test`);
    const logins = [];
    const tokens = [];
    const results = [];
    proxy.seen = 0;
    proxy.injected = {};
    proxy.plan = random(SEED, RATE);

    const one = async () => {
      const kind = logins.length === 0 ? 'start' : choose(['start', 'verify', 'verify', 'lookup', 'mint', 'logout', 'tenant', 'claim']);
      let r;
      let record = { kind };
      switch (kind) {
        case 'start':
          r = await start(choose(emails));
          if (r.status === 202) logins.push({ id: r.body.login_id, code: r.body.code });
          break;
        case 'verify': {
          const login = choose(logins);
          const right = pick() < 0.7;
          r = await verify(login.id, right ? login.code : wrong(login.code));
          record = { kind, login: login.id };
          if (r.status === 200) {
            tokens.push(r.body.token);
            record.session = r.body.session.id;
            record.token = r.body.token;
          }
          break;
        }
        case 'lookup':
          if (tokens.length === 0) return;
          r = await lookup(choose(tokens));
          break;
        case 'mint':
          r = await timedAdmin('POST', '/v1/admin/tenants/acme/sessions', { user_id: `m-${Math.floor(pick() * 5)}` });
          if (r.status === 201) {
            tokens.push(r.body.token);
            record.session = r.body.session.id;
          }
          break;
        case 'logout': {
          if (tokens.length === 0) return;
          const token = choose(tokens);
          r = await timed('POST', '/v1/logout', { headers: { authorization: `Bearer ${token}` } });
          record.token = token;
          break;
        }
        case 'tenant': {
          const id = `t${Math.floor(pick() * 8)}`;
          r = await timedAdmin('PUT', `/v1/admin/tenants/${id}`, { name: `Tenant ${id}` });
          record.tenant = id;
          break;
        }
        case 'claim': {
          const tenant = choose(['acme', 'globex']);
          const host = choose(hosts);
          r = await timedAdmin('PUT', `/v1/admin/tenants/${tenant}/domains/${host}`, { status: 'ready' });
          Object.assign(record, { tenant, host });
          break;
        }
        default:
          throw new Error(kind);
      }
      results.push({ ...record, status: r.status, ms: r.ms, retryAfter: r.headers['retry-after'], body: r.body });
    };

    // Eight clients at once, REQUESTS requests in all.
    let issued = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (issued < REQUESTS) {
        issued += 1;
        await one();
      }
    }));
    proxy.plan = () => null;

    const count = (f) => results.filter(f).length;
    const unavailable = results.filter((r) => r.status === 503);
    const worst = Math.max(...results.map((r) => r.ms));
    console.log(`fault run: ${results.length} requests, ${proxy.seen} DynamoDB requests, faults injected ${JSON.stringify(proxy.injected)}, `
      + `503s ${unavailable.length}, worst ${worst} ms (deadline ${DEADLINE_MS} ms), statuses ${JSON.stringify(Object.fromEntries(
        [...new Set(results.map((r) => r.status))].sort().map((s) => [s, count((r) => r.status === s)])))}`);

    assert.ok(results.length >= REQUESTS * 0.9, `${results.length} requests made`);
    const injected = Object.values(proxy.injected).reduce((a, b) => a + b, 0);
    assert.ok(injected >= proxy.seen * RATE * 0.5, `${injected} faults in ${proxy.seen} requests`);
    // Never a bare 500 (nor any 5xx but 503), and every 503 says when to retry.
    const bad = results.filter((r) => r.status >= 500 && r.status !== 503);
    const details = worker.logs().split('\n').filter((l) => /"status":5\d\d/.test(l) && !/"status":503/.test(l));
    assert.deepEqual(bad.map((r) => [r.kind, r.status, r.body]), [], details.join('\n'));
    assert.deepEqual(unavailable.filter((r) => !r.retryAfter).map((r) => r.kind), []);
    // No request waited past its deadline.
    assert.ok(worst <= DEADLINE_MS + SLACK_MS, `worst request ${worst} ms`);
    // No lost race (TransactionConflict among the faults) ever read as a spent budget: the
    // budgets here are far above what the run spends.
    assert.deepEqual(results.filter((r) => r.body?.error?.code === 'too_many_requests').map((r) => [r.kind, r.body]), []);

    const items = await scan();
    const ofType = (type) => items.filter((i) => S(i, 'type') === type);
    // One user per email, one email claim per email.
    const users = ofType('user').map((u) => S(u, 'email'));
    assert.equal(new Set(users).size, users.length, `duplicate users: ${users.sort().join(' ')}`);
    // No login compared more codes than it has attempts.
    for (const l of ofType('login_code')) {
      assert.ok(Number(l.attempts.N) <= Number(l.max_attempts.N), `login ${S(l, 'login_id')}: ${l.attempts.N} attempts`);
    }
    // No code opened two sessions: every verify answered 200 names the one session its login
    // recorded, and gave the one token.
    const loginsById = new Map(ofType('login_code').map((l) => [S(l, 'login_id'), l]));
    const sessionIds = new Set(ofType('session').map((s) => S(s, 'id')));
    const tokenOf = new Map();
    for (const r of results.filter((x) => x.kind === 'verify' && x.status === 200)) {
      assert.equal(S(loginsById.get(r.login), 'session'), r.session, `login ${r.login}`);
      assert.ok(sessionIds.has(r.session), `verify answered 200 but session ${r.session} is not stored`);
      if (tokenOf.has(r.login)) assert.equal(tokenOf.get(r.login), r.token, `login ${r.login} gave two tokens`);
      tokenOf.set(r.login, r.token);
    }
    // Every write answered as done is in the table.
    for (const r of results.filter((x) => x.kind === 'mint' && x.status === 201)) {
      assert.ok(sessionIds.has(r.session), `minted session ${r.session} is not stored`);
    }
    const tenants = new Set(ofType('tenant').map((t) => S(t, 'PK').slice('TENANT#'.length)));
    for (const r of results.filter((x) => x.kind === 'tenant' && x.status < 300)) {
      assert.ok(tenants.has(r.tenant), `tenant ${r.tenant} answered ${r.status} but is not stored`);
    }
    // No host held twice: every successful claim of a host names the tenant that holds it.
    const domains = new Map(ofType('domain').map((d) => [S(d, 'host'), S(d, 'tenant')]));
    for (const r of results.filter((x) => x.kind === 'claim' && x.status < 300)) {
      assert.equal(domains.get(r.host), r.tenant, `${r.host} claimed by ${r.tenant} (${r.status}) but held by ${domains.get(r.host)}`);
    }
    // A logout answered 204 leaves the session revoked.
    const revoked = new Set(ofType('session').filter((s) => s.revoked_at).map((s) => S(s, 'id')));
    const sessionOfToken = new Map(results.filter((r) => r.token && r.session).map((r) => [r.token, r.session]));
    for (const r of results.filter((x) => x.kind === 'logout' && x.status === 204 && sessionOfToken.has(x.token))) {
      assert.ok(revoked.has(sessionOfToken.get(r.token)), 'a logout answered 204 left its session live');
    }
  });
});
