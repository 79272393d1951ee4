// Login codes under wrangler dev: start (DEV_MODE) -> the binding cookie -> verify -> session
// cookie -> GET /v1/session 200 -> logout -> 401; 200 guesses at one login at once, each from its
// own address, compare at most max_attempts codes; strangers who saw the code (each from its own
// address) can neither use it nor spend its attempts; the webhook is received by a local server
// that checks the signature with node:crypto (an independent HMAC), which fails for a tampered
// body; outside DEV_MODE the code is neither answered nor logged.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { request as httpRequest } from 'node:http';

import { admin, createTable, dynamodb, rawRequest, startOrigin, startWorker, stopAll, uniqueName } from './harness.mjs';

const table = uniqueName('e2e-login');
const HOST = 'login.acme.localhost'; // DEV_MODE answers codes only to local hosts
const SECRET = 'e2e-webhook-secret-not-secret-0123456789';
let dev;
let prod;
let hook;

/** What a receiver does with `x-dynauth-signature: t=<unix>,v1=<hex>`. */
function verifySignature(header, rawBody, secret, toleranceSecs = 300) {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=')));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > toleranceSecs) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${rawBody}`).digest();
  const given = Buffer.from(parts.v1 ?? '', 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

before(async () => {
  createTable(table);
  hook = await startOrigin((seen, res) => { res.writeHead(204); res.end(); });
  const webhookVars = { CODE_WEBHOOK_URL: `${hook.url}/codes`, CODE_WEBHOOK_SECRET: SECRET };
  [dev, prod] = await Promise.all([
    // Patient: 200 verifies at once make DynamoDB Local (which runs transactions one at a time)
    // take seconds to answer some of them on a 2-core machine.
    startWorker({
      DYNAMODB_TABLE: table, DEV_MODE: 'true', ...webhookVars,
      REQUEST_DEADLINE_MS: '30000', DYNAMODB_TIMEOUT_MS: '30000', DYNAMODB_ATTEMPT_TIMEOUT_MS: '25000',
    }),
    startWorker({ DYNAMODB_TABLE: table, ...webhookVars }),
  ]);
  assert.equal((await admin(dev, 'PUT', '/v1/admin/tenants/acme', { name: 'Acme' })).status, 201);
  assert.equal((await admin(dev, 'PUT', `/v1/admin/tenants/acme/domains/${HOST}`, { status: 'ready' })).status, 201);
});

after(async () => {
  await stopAll();
  await hook?.close();
  await dynamodb('DeleteTable', { TableName: table }).catch(() => {});
});

const post = (worker, path, body, headers = {}) =>
  rawRequest(`${worker.url}${path}`, { method: 'POST', host: HOST, headers: { 'content-type': 'application/json', ...headers }, body });

/** The `name=value` of cookie `name` an answer sets. */
const setCookie = (answer, name) => (answer.headers['set-cookie'] ?? []).find((c) => c.startsWith(`${name}=`));
const pairOf = (cookie) => cookie?.split(';')[0];
const wrongCode = (code, i = 0) => String((Number(code) + 1 + i) % 1_000_000).padStart(6, '0');

describe('login codes', () => {
  test('start (DEV_MODE) -> verify -> cookie -> session -> logout -> 401', async () => {
    const started = await post(dev, '/v1/login/start', { email: 'Ann@Example.com' });
    assert.equal(started.status, 202);
    assert.deepEqual(Object.keys(started.body).sort(), ['code', 'expires_at', 'login_id']);
    assert.match(started.body.code, /^\d{6}$/);
    // The login's binding: an HttpOnly cookie, for as long as the code lives.
    const bound = setCookie(started, '__Host-dynauth-login');
    assert.match(bound, /^__Host-dynauth-login=[A-Za-z0-9_-]{43}; Path=\/; Secure; HttpOnly; SameSite=Strict; Max-Age=600$/);
    const binding = pairOf(bound);
    // DEV_MODE logs the code, with its login and email.
    await dev.waitForLog(new RegExp(`"dev_login_code":"${started.body.code}","dev_login_id":"${started.body.login_id}","dev_login_email":"ann@example.com"`));

    const wrong = await post(dev, '/v1/login/verify', { login_id: started.body.login_id, code: wrongCode(started.body.code) }, { cookie: binding });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error.attempts_left, 4);
    // Without the binding the right code does nothing, and spends none of the attempts.
    const unbound = await post(dev, '/v1/login/verify', { login_id: started.body.login_id, code: started.body.code });
    assert.deepEqual([unbound.status, unbound.body.error.code, unbound.body.error.attempts_left], [401, 'invalid_code', 4]);

    const verified = await post(dev, '/v1/login/verify', { login_id: started.body.login_id, code: started.body.code }, { cookie: binding });
    assert.equal(verified.status, 200, JSON.stringify(verified.body));
    assert.equal(verified.body.user.email, 'ann@example.com');
    assert.equal(verified.body.token, undefined, 'the token only in the HttpOnly cookie');
    const cookie = setCookie(verified, '__Host-dynauth');
    const pair = cookie.split(';')[0];
    assert.equal(setCookie(verified, '__Host-dynauth-login'), '__Host-dynauth-login=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0');
    assert.equal(cookie, `${pair}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=2592000`);
    assert.match(pair, /^__Host-dynauth=[A-Za-z0-9_-]{43}$/);

    const session = await rawRequest(`${dev.url}/v1/session`, { host: HOST, headers: { cookie: pair } });
    assert.equal(session.status, 200);
    assert.equal(session.body.user.id, verified.body.user.id);
    // The read, the reservation, the consuming transaction.
    await dev.waitForLog(/"route":"login_verify","tenant":"acme","status":200,"duration_ms":\d+,"dynamodb_calls":3,/);

    // The same verify again (as a client whose answer was lost would): the same session, only
    // for the same binding (here a server-side client presenting it in the body).
    const again = await post(dev, '/v1/login/verify', { login_id: started.body.login_id, code: started.body.code, deliver: 'body', binding: binding.split('=')[1] });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(`__Host-dynauth=${again.body.token}`, pair, 'a server-side client asks for the token in the body');
    assert.equal(again.body.session.id, verified.body.session.id);

    const out = await post(dev, '/v1/logout', {}, { cookie: pair, origin: `http://${HOST}` });
    assert.equal(out.status, 204);
    const gone = await rawRequest(`${dev.url}/v1/session`, { host: HOST, headers: { cookie: pair } });
    assert.equal(gone.status, 401);
    // Its session revoked, the used code opens nothing.
    const used = await post(dev, '/v1/login/verify', { login_id: started.body.login_id, code: started.body.code }, { cookie: binding });
    assert.equal(used.status, 410);
    assert.equal(used.body.error.code, 'code_used');
  });

  test('200 guesses and the right code at once, each from its own address: at most 5 codes compared', async () => {
    let wins = 0;
    for (let trial = 0; trial < 3; trial += 1) {
      const started = await post(dev, '/v1/login/start', { email: `guess${trial}@example.com`, deliver: 'body' });
      assert.equal(started.status, 202, JSON.stringify(started.body));
      const { login_id, code, binding } = started.body;
      const rightAt = Math.floor(Math.random() * 201);
      const answers = await Promise.all(Array.from({ length: 201 }, (_, i) => post(
        dev, '/v1/login/verify',
        { login_id, code: i === rightAt ? code : wrongCode(code, i), deliver: 'body', binding },
        { 'cf-connecting-ip': `10.${trial}.${i >> 8}.${i & 255}` },
      )));
      const statuses = answers.map((a) => a.status);
      // 429: no attempt left to reserve; 410: the right code was consumed first. Neither compared.
      assert.ok(statuses.every((st) => [200, 401, 410, 429].includes(st)), JSON.stringify(statuses));
      const compared = answers.filter((a) => a.status === 200 || (a.status === 401 && Number.isInteger(a.body.error.attempts_left))).length;
      assert.ok(compared <= 5, `trial ${trial}: ${compared} codes compared`);
      assert.ok(answers.filter((a) => a.status === 429).every((a) => a.body.error.code === 'too_many_attempts'));
      assert.ok(answers.filter((a) => a.status === 410).every((a) => a.body.error.code === 'code_used'));
      assert.notEqual(answers[rightAt].status, 401, 'the right code is never answered as wrong');
      assert.equal(statuses.filter((st) => st === 200).length, answers[rightAt].status === 200 ? 1 : 0);
      const stored = await dynamodb('GetItem', { TableName: table, Key: { PK: { S: `TENANT#acme#LOGIN#${login_id}` }, SK: { S: 'CODE' } } });
      assert.equal(Number(stored.Item.attempts.N), compared, 'one reserved attempt per compared code');
      wins += answers[rightAt].status === 200 ? 1 : 0;
    }
    assert.ok(wins <= 2, `the right code won ${wins} of 3 trials`);
  });

  test('onlookers who saw the code, 40 at once from 40 addresses, neither use it nor spend its attempts', async () => {
    const started = await post(dev, '/v1/login/start', { email: 'seen@example.com', deliver: 'body' }, { 'cf-connecting-ip': '203.0.113.9' });
    const { login_id, code, binding } = started.body;
    const other = (await post(dev, '/v1/login/start', { email: 'them@example.com', deliver: 'body' })).body.binding;
    const onlookers = await Promise.all(Array.from({ length: 40 }, (_, i) => post(
      dev, '/v1/login/verify', { login_id, code, deliver: 'body', ...(i % 2 ? { binding: other } : {}) }, { 'cf-connecting-ip': `192.0.2.${i}` },
    )));
    assert.deepEqual([...new Set(onlookers.map((a) => `${a.status} ${a.body.error?.code} ${a.body.error?.attempts_left}`))], ['401 invalid_code 5']);
    const owner = await post(dev, '/v1/login/verify', { login_id, code, deliver: 'body', binding }, { 'cf-connecting-ip': '203.0.113.9' });
    assert.equal(owner.status, 200, JSON.stringify(owner.body));
    const after = await Promise.all(Array.from({ length: 20 }, (_, i) => post(
      dev, '/v1/login/verify', { login_id, code, deliver: 'body', binding: other }, { 'cf-connecting-ip': `198.51.100.${i}` },
    )));
    assert.deepEqual([...new Set(after.map((a) => `${a.status} ${a.body.error?.code}`))], ['410 code_used'], 'a used code is nobody else\'s');
    const retry = await post(dev, '/v1/login/verify', { login_id, code, deliver: 'body', binding });
    assert.deepEqual([retry.status, retry.body.token], [200, owner.body.token], 'the owner\'s retry gets its session');
  });

  test('bodies over 16 KB are 413: refused unread by Content-Length, cut off when streamed', async () => {
    // Sends `chunks` to dev's login/start with `headers`, ending the body only when `end`; resolves
    // to { status, body } as soon as an answer comes (or null after `ms`).
    const send = (headers, chunks, end, ms = 5000) => new Promise((ok, fail) => {
      const u = new URL(dev.url);
      const req = httpRequest({
        host: u.hostname, port: u.port, path: '/v1/login/start', method: 'POST',
        headers: { host: HOST, 'content-type': 'application/json', ...headers },
      }, (res) => {
        const parts = [];
        res.on('data', (c) => parts.push(c));
        res.on('end', () => { clearTimeout(timer); req.destroy(); ok({ status: res.statusCode, body: JSON.parse(Buffer.concat(parts).toString() || 'null') }); });
      });
      const timer = setTimeout(() => { req.destroy(); ok(null); }, ms);
      req.on('error', (e) => { clearTimeout(timer); if (e.code === 'ECONNRESET') ok(null); else fail(e); });
      for (const c of chunks) req.write(c);
      if (end) req.end();
    });
    const tooLarge = { error: { code: 'payload_too_large', message: 'the request body is larger than 16384 bytes' } };
    const big = JSON.stringify({ email: `${'x'.repeat(20_000)}@example.com` });
    const declared = await send({ 'content-length': Buffer.byteLength(big) }, [big], true);
    assert.deepEqual(declared, { status: 413, body: tooLarge });
    const streamed = await send({ 'transfer-encoding': 'chunked' }, Array.from({ length: 6 }, () => ' '.repeat(4096)), true);
    assert.deepEqual(streamed, { status: 413, body: tooLarge });
    // (A body declared far over the limit is refused before it is read; under wrangler dev that
    // cannot be seen from outside: its local proxy hands the Worker a request only once the body is
    // complete.)
    // Within the limit, streamed: read whole.
    const ok = await send({ 'transfer-encoding': 'chunked' }, ['{"email":', '"chunk@example.com"}'], true);
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
  });

  test('a webhook that redirects has not taken the code: the redirect is not followed', async () => {
    const target = await startOrigin((seen, res) => { res.writeHead(204); res.end(); });
    const redirect = await startOrigin((seen, res) => { res.writeHead(307, { location: `${target.url}/codes` }); res.end(); });
    try {
      const body = { name: 'Redir', code_webhook_url: `${redirect.url}/codes` };
      assert.equal((await admin(prod, 'PUT', '/v1/admin/tenants/redir', body)).status, 201);
      assert.equal((await admin(prod, 'PUT', '/v1/admin/tenants/redir/domains/redir.acme.test', { status: 'ready' })).status, 201);
      const r = await rawRequest(`${prod.url}/v1/login/start`, {
        method: 'POST', host: 'redir.acme.test', headers: { 'content-type': 'application/json' }, body: { email: 'rex@example.com' },
      });
      assert.equal(r.status, 502, JSON.stringify(r.body));
      assert.equal(r.body.error.code, 'delivery_failed');
      assert.equal(redirect.requests.length, 1);
      assert.equal(target.requests.length, 0, 'the redirect was not followed');
    } finally {
      await target.close();
      await redirect.close();
    }
  });

  test('a webhook whose answer is over 16 KB is not read whole: the delivery fails', async () => {
    const chatty = await startOrigin((seen, res) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('x'.repeat(1_000_000)); });
    try {
      const body = { name: 'Chatty', code_webhook_url: `${chatty.url}/codes` };
      assert.equal((await admin(prod, 'PUT', '/v1/admin/tenants/chatty', body)).status, 201);
      assert.equal((await admin(prod, 'PUT', '/v1/admin/tenants/chatty/domains/chatty.acme.test', { status: 'ready' })).status, 201);
      const r = await rawRequest(`${prod.url}/v1/login/start`, {
        method: 'POST', host: 'chatty.acme.test', headers: { 'content-type': 'application/json' }, body: { email: 'cat@example.com' },
      });
      assert.deepEqual([r.status, r.body.error?.code], [502, 'delivery_failed'], JSON.stringify(r.body));
      await prod.waitForLog(/"error_detail":"[^"]*the answer is larger than 16384 bytes/);
    } finally {
      await chatty.close();
    }
  });

  test('the webhook is signed: the receiver accepts it, and refuses it tampered', async () => {
    const before = hook.requests.length;
    const started = await post(prod, '/v1/login/start', { email: 'bea@example.com' });
    assert.equal(started.status, 202);
    const binding = pairOf(setCookie(started, '__Host-dynauth-login'));
    assert.deepEqual(Object.keys(started.body).sort(), ['expires_at', 'login_id'], 'no code outside DEV_MODE');
    assert.equal(hook.requests.length, before + 1);
    const delivered = hook.requests.at(-1);
    assert.equal(delivered.url, '/codes');
    const payload = JSON.parse(delivered.body);
    assert.deepEqual(Object.keys(payload).sort(), ['code', 'email', 'expires_at', 'login_id', 'tenant']);
    assert.equal(payload.login_id, started.body.login_id);
    const header = delivered.headers['x-dynauth-signature'];
    assert.ok(verifySignature(header, delivered.body, SECRET), 'signature check passes');
    assert.ok(!verifySignature(header, delivered.body.replace(payload.code, '999999'), SECRET), 'fails for a tampered body');
    assert.ok(!verifySignature(header, delivered.body, 'wrong-secret'), 'fails with another secret');
    await prod.waitForLog(/"route":"login_start","tenant":"acme","status":202/);
    assert.ok(!prod.logs().includes(payload.code), 'outside DEV_MODE the code is never logged');

    const verified = await post(prod, '/v1/login/verify', { login_id: payload.login_id, code: payload.code }, { cookie: binding });
    assert.equal(verified.status, 200);
  });
});
