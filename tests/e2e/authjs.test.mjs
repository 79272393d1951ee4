// Auth.js tables at the edge, proven with the real adapter: @auth/dynamodb-adapter (over the AWS
// SDK's DocumentClient) makes users and sessions in DynamoDB Local tables, with its default and
// with custom key names; the built Worker under wrangler dev looks them up by each cookie name
// and the bearer, refuses an expired one still in the table, follows updateSession and
// deleteSession, signs the identity header for the gateway and mints JWTs (verified by jose
// against the tenant's JWKS). Then a minimal Auth.js app
// (@auth/core's Auth(), the Nodemailer email provider sending to an SMTP sink on loopback,
// database sessions, the same adapter) signs a user in for real through dynauth's gateway, and a
// protected path is reached with the session it made. Last, as attackers and real DynamoDB would
// have it: crafted tokens and logouts all in flight from many addresses, and a second Worker
// behind the fault proxy (throttling, a lost answer).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';

import { Auth } from '@auth/core';
import { createLocalJWKSet, jwtVerify } from 'jose';
import Nodemailer from '@auth/core/providers/nodemailer';
import { DynamoDBAdapter } from '@auth/dynamodb-adapter';
import { DynamoDB } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocument } from '@aws-sdk/lib-dynamodb';

import { verifyIdentityHeader } from '../../examples/verify-identity.mjs';
import { DYNAMODB, admin, createTable, dynamodb, rawRequest, startWorker, stopAll, uniqueName } from './harness.mjs';
import { startFaultProxy } from './fault-proxy.mjs';

const table = uniqueName('e2e-authjs-dynauth');
const defaultTable = uniqueName('e2e-authjs-next-auth');
const customTable = uniqueName('e2e-authjs-custom');
const SHOP = 'app.shop.test'; // default names, read_users, logout; fronts the Auth.js app
const MALL = 'app.mall.test'; // custom names, its own cookie name
const CUSTOM = { partitionKey: 'PK', sortKey: 'SK', indexName: 'byToken', indexPartitionKey: 'tokPK', indexSortKey: 'tokSK' };
const NO_SESSION = { error: { code: 'invalid_session', message: 'no live session: sign in again' } };

let worker;
let app; // the Auth.js app, shop's origin
let smtp; // the mail it sends
let shopSecret;
let defaults; // the adapter on defaultTable
let custom; // the adapter on customTable, custom names
let proxy; // the fault proxy in front of DynamoDB Local, for the second Worker

/** The adapter's table as its docs create it (any key names). */
async function createAuthjsTable(name, n = {}) {
  const [pk, sk, index, ipk, isk] = [n.partitionKey ?? 'pk', n.sortKey ?? 'sk', n.indexName ?? 'GSI1', n.indexPartitionKey ?? 'GSI1PK', n.indexSortKey ?? 'GSI1SK'];
  const keys = (h, r) => [{ AttributeName: h, KeyType: 'HASH' }, { AttributeName: r, KeyType: 'RANGE' }];
  await dynamodb('CreateTable', {
    TableName: name, BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [pk, sk, ipk, isk].map((a) => ({ AttributeName: a, AttributeType: 'S' })),
    KeySchema: keys(pk, sk),
    GlobalSecondaryIndexes: [{ IndexName: index, KeySchema: keys(ipk, isk), Projection: { ProjectionType: 'ALL' } }],
  });
}

function documentClient() {
  const db = new DynamoDB({
    endpoint: DYNAMODB, region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDLOCALE2E', secretAccessKey: 'e2e-local-secret-not-real' },
  });
  // The marshalling the adapter's docs ask for.
  return DynamoDBDocument.from(db, {
    marshallOptions: { convertEmptyValues: true, removeUndefinedValues: true, convertClassInstanceToMap: true },
  });
}

/** An SMTP server on loopback keeping each message it is given (what a test transport is). */
async function startSmtp() {
  const messages = [];
  const server = createTcpServer((socket) => {
    let buffer = '';
    let data = false;
    socket.write('220 sink.test ESMTP\r\n');
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      for (;;) {
        if (data) {
          const end = buffer.indexOf('\r\n.\r\n');
          if (end < 0) return;
          messages.push(buffer.slice(0, end));
          buffer = buffer.slice(end + 5);
          data = false;
          socket.write('250 queued\r\n');
          continue;
        }
        const eol = buffer.indexOf('\r\n');
        if (eol < 0) return;
        const line = buffer.slice(0, eol);
        buffer = buffer.slice(eol + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO' || verb === 'HELO') socket.write('250 sink.test\r\n');
        else if (verb === 'DATA') { data = true; socket.write('354 go on\r\n'); } else if (verb === 'QUIT') socket.end('221 bye\r\n');
        else socket.write('250 ok\r\n');
      }
    });
    socket.on('error', () => {});
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { port: server.address().port, messages, close: () => new Promise((ok) => server.close(ok)) };
}

/** The sign-in link of the last message (its text part, quoted-printable). */
function lastLink(messages) {
  const message = messages.at(-1) ?? '';
  const text = message.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
  const link = /https?:\/\/[^\s"<>]+\/api\/auth\/callback\/nodemailer\?[^\s"<>]+/.exec(text);
  assert.ok(link, `a sign-in link in the mail:\n${message}`);
  return new URL(link[0].replace(/&amp;/g, '&'));
}

/** The minimal Auth.js app: Auth() on every request (database sessions, the email provider),
 *  and its own protected page answering with what it was sent. */
async function startApp(adapter) {
  const config = {
    adapter,
    providers: [Nodemailer({ server: { host: '127.0.0.1', port: smtp.port, secure: false, ignoreTLS: true }, from: 'Shop <login@shop.test>' })],
    session: { strategy: 'database' },
    secret: 'e2e-authjs-secret-not-real-0123456789abcdef',
    trustHost: true,
    basePath: '/api/auth',
  };
  const requests = [];
  const server = createHttpServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    const seen = { method: req.method, url: req.url, headers: req.headers };
    requests.push(seen);
    if (!req.url.startsWith('/api/auth')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(seen));
    }
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
    const request = new Request(`http://${req.headers.host}${req.url}`, {
      method: req.method, headers, body: ['GET', 'HEAD'].includes(req.method) ? undefined : body,
    });
    const answer = await Auth(request, config);
    const out = {};
    answer.headers.forEach((v, k) => { if (k !== 'set-cookie') out[k] = v; });
    const cookies = answer.headers.getSetCookie();
    res.writeHead(answer.status, cookies.length ? { ...out, 'set-cookie': cookies } : out);
    res.end(Buffer.from(await answer.arrayBuffer()));
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${server.address().port}`, requests, close: () => new Promise((ok) => server.close(ok)) };
}

const sessionId = (token) => createHash('sha256').update(token).digest('base64url');
const secs = (date) => `${new Date(Math.floor(date.getTime() / 1000) * 1000).toISOString().slice(0, 19)}Z`;
const lookup = (host, headers) => rawRequest(`${worker.url}/v1/session`, { host, headers });

before(async () => {
  createTable(table);
  await createAuthjsTable(defaultTable);
  await createAuthjsTable(customTable, CUSTOM);
  defaults = DynamoDBAdapter(documentClient(), { tableName: defaultTable });
  custom = DynamoDBAdapter(documentClient(), { tableName: customTable, ...CUSTOM });
  smtp = await startSmtp();
  app = await startApp(defaults);
  worker = await startWorker({ DYNAMODB_TABLE: table, ALLOW_LOCAL_TARGETS: 'true' });
  const shop = await admin(worker, 'PUT', '/v1/admin/tenants/shop', {
    name: 'Shop', origin: app.url, protect: true, authjs: { table: defaultTable, read_users: true, logout: true },
  });
  assert.equal(shop.status, 201, JSON.stringify(shop.body));
  shopSecret = shop.body.secrets.origin;
  const mall = await admin(worker, 'PUT', '/v1/admin/tenants/mall', {
    name: 'Mall',
    authjs: {
      table: customTable, partition_key: 'PK', sort_key: 'SK', index_name: 'byToken',
      index_partition_key: 'tokPK', index_sort_key: 'tokSK', cookies: ['app.sid'], logout: true,
    },
  });
  assert.equal(mall.status, 201, JSON.stringify(mall.body));
  for (const [tenant, host] of [['shop', SHOP], ['mall', MALL]]) {
    assert.equal((await admin(worker, 'PUT', `/v1/admin/tenants/${tenant}/domains/${host}`, { status: 'ready' })).status, 201);
  }
});

after(async () => {
  await stopAll();
  await app?.close();
  await smtp?.close();
  await proxy?.close();
  for (const name of [table, defaultTable, customTable]) await dynamodb('DeleteTable', { TableName: name }).catch(() => {});
});

describe('an Auth.js table read by dynauth', () => {
  test("the adapter's sessions, by each cookie name and the bearer; expired, updated, deleted", async () => {
    const user = await defaults.createUser({ email: 'ada@shop.test', emailVerified: null, name: 'Ada' });
    const sessionToken = randomUUID();
    const expires = new Date(Date.now() + 3600_000);
    await defaults.createSession({ sessionToken, userId: user.id, expires });
    const expected = {
      session: { id: sessionId(sessionToken), user_id: user.id, email: 'ada@shop.test', expires_at: secs(expires), idle_expires_at: secs(expires) },
      user: { id: user.id, email: 'ada@shop.test' },
    };
    for (const name of ['__Secure-authjs.session-token', 'authjs.session-token', '__Secure-next-auth.session-token', 'next-auth.session-token']) {
      const r = await lookup(SHOP, { cookie: `theme=dark; ${name}=${sessionToken}` });
      assert.equal(r.status, 200, `${name}: ${JSON.stringify(r.body)}`);
      assert.deepEqual(r.body, expected, name);
    }
    const bearer = await lookup(SHOP, { authorization: `Bearer ${sessionToken}` });
    assert.deepEqual([bearer.status, bearer.body], [200, expected]);
    // The index Query and the user's GetItem (read_users: the answer shows the email).
    await worker.waitForLog(/"route":"session","tenant":"shop","status":200,"duration_ms":\d+,"dynamodb_calls":2,/);

    // An item past its expires, still in the table (TTL has not run): refused.
    const stale = randomUUID();
    await defaults.createSession({ sessionToken: stale, userId: user.id, expires: new Date(Date.now() - 1000) });
    const got = await dynamodb('GetItem', { TableName: defaultTable, Key: { pk: { S: `USER#${user.id}` }, sk: { S: `SESSION#${stale}` } } });
    assert.ok(got.Item, 'the expired item is still there');
    assert.ok(/^\d+(\.\d+)?$/.test(got.Item.expires.N), `the adapter stores epoch seconds: ${JSON.stringify(got.Item.expires)}`);
    assert.deepEqual((await lookup(SHOP, { cookie: `authjs.session-token=${stale}` })).body, NO_SESSION);

    // The app extends it (updateSession): dynauth follows, and the stale one comes back too.
    const later = new Date(Date.now() + 7200_000);
    assert.ok(await defaults.updateSession({ sessionToken: stale, expires: later }));
    const extended = await lookup(SHOP, { cookie: `authjs.session-token=${stale}` });
    assert.equal(extended.status, 200, JSON.stringify(extended.body));
    assert.equal(extended.body.session.expires_at, secs(later));

    // The gateway: the origin sees who it is, signed; the app's own cookie reaches it.
    const seen = await rawRequest(`${worker.url}/dashboard?tab=1`, { host: SHOP, headers: { cookie: `authjs.session-token=${sessionToken}` } });
    assert.equal(seen.status, 200, JSON.stringify(seen.body));
    assert.equal(seen.body.url, '/dashboard?tab=1');
    assert.equal(seen.body.headers['x-dynauth-user'], user.id);
    assert.equal(seen.body.headers['x-dynauth-session'], sessionId(sessionToken));
    assert.equal(seen.body.headers.cookie, `authjs.session-token=${sessionToken}`);
    const request = { tenant: 'shop', method: 'GET', host: seen.body.headers['x-forwarded-host'], pathAndQuery: '/dashboard?tab=1' };
    assert.equal(request.host, SHOP);
    assert.deepEqual(
      await verifyIdentityHeader(seen.body.headers['x-dynauth-identity'], { ...request, secrets: [shopSecret] }),
      { tenant: 'shop', user: user.id, session: sessionId(sessionToken) },
    );
    const anonymous = await rawRequest(`${worker.url}/dashboard`, { host: SHOP, headers: { accept: 'application/json' } });
    assert.deepEqual([anonymous.status, anonymous.body], [401, NO_SESSION]);

    // A JWT of the Auth.js session for the app's backends, verified against the tenant's JWKS.
    const minted = await rawRequest(`${worker.url}/v1/session/token`, { method: 'POST', host: SHOP, headers: { authorization: `Bearer ${sessionToken}` } });
    assert.equal(minted.status, 200, JSON.stringify(minted.body));
    const jwks = await rawRequest(`${worker.url}/.well-known/jwks.json`, { host: SHOP });
    const { payload } = await jwtVerify(minted.body.token, createLocalJWKSet(jwks.body), { algorithms: ['EdDSA'], issuer: `http://${SHOP}`, audience: 'shop' });
    assert.deepEqual(
      [payload.sub, payload.sid, payload.tid, payload.email],
      [user.id, sessionId(sessionToken), 'shop', 'ada@shop.test'],
    );

    // The app ends it (deleteSession): refused from then on.
    await defaults.deleteSession(sessionToken);
    assert.deepEqual((await lookup(SHOP, { authorization: `Bearer ${sessionToken}` })).body, NO_SESSION);
    assert.ok(!worker.logs().includes(sessionToken), 'the token never appears in the log');
  });

  test('custom key names and cookie; logout deletes what the adapter then cannot find', async () => {
    const user = await custom.createUser({ email: 'bob@mall.test', emailVerified: null });
    const sessionToken = randomUUID();
    const expires = new Date(Date.now() + 3600_000);
    await custom.createSession({ sessionToken, userId: user.id, expires });
    // The default names are not this tenant's (the request that resolves its host, too).
    assert.deepEqual((await lookup(MALL, { cookie: `authjs.session-token=${sessionToken}` })).body, NO_SESSION);
    const r = await lookup(MALL, { cookie: `app.sid=${sessionToken}` });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, {
      session: { id: sessionId(sessionToken), user_id: user.id, email: null, expires_at: secs(expires), idle_expires_at: secs(expires) },
      user: { id: user.id, email: null },
    });
    // One index Query: no user read without read_users.
    await worker.waitForLog(/"route":"session","tenant":"mall","status":200,"duration_ms":\d+,"dynamodb_calls":1,/);

    const out = await rawRequest(`${worker.url}/v1/logout`, { method: 'POST', host: MALL, headers: { cookie: `app.sid=${sessionToken}` } });
    assert.equal(out.status, 204, JSON.stringify(out.body));
    assert.deepEqual(out.headers['set-cookie'], ['app.sid=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0']);
    assert.equal(await custom.getSessionAndUser(sessionToken), null, 'the adapter finds no session');
    assert.deepEqual((await lookup(MALL, { authorization: `Bearer ${sessionToken}` })).body, NO_SESSION);
  });

  test('an Auth.js app signs a user in through the gateway; its session opens a protected path', async () => {
    const jar = new Map();
    const keep = (r) => {
      for (const c of [r.headers['set-cookie'] ?? []].flat()) {
        const [pair] = c.split(';');
        const at = pair.indexOf('=');
        const value = pair.slice(at + 1);
        if (value && !/Max-Age=0/i.test(c)) jar.set(pair.slice(0, at), value);
        else jar.delete(pair.slice(0, at));
      }
    };
    const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const through = async (path, options = {}) => {
      const r = await rawRequest(`${worker.url}${path}`, { ...options, host: SHOP, headers: { ...(options.headers ?? {}), cookie: cookie() } });
      keep(r);
      return r;
    };
    // Not signed in: the protected page sends the browser to the app's sign-in.
    const first = await through('/orders?page=2', { headers: { accept: 'text/html' } });
    assert.equal(first.status, 302);
    assert.equal(first.headers.location, '/api/auth/signin?callbackUrl=%2Forders%3Fpage%3D2');
    // The app's Auth.js routes pass the gateway: its CSRF token, then the email sign-in.
    const csrf = await through('/api/auth/csrf');
    assert.equal(csrf.status, 200, JSON.stringify(csrf.body));
    const form = new URLSearchParams({ email: 'eve@shop.test', csrfToken: csrf.body.csrfToken, callbackUrl: '/orders?page=2' }).toString();
    const sent = smtp.messages.length;
    const signin = await through('/api/auth/signin/nodemailer', {
      method: 'POST', body: form, headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(signin.status, 302, JSON.stringify(signin.body));
    assert.match(signin.headers.location, /\/api\/auth\/verify-request\?provider=nodemailer&type=email$/);
    assert.equal(smtp.messages.length, sent + 1, 'one mail sent');
    // The link in the mail, opened through dynauth: Auth.js makes the user and the session.
    const link = lastLink(smtp.messages);
    const callback = await through(link.pathname + link.search);
    assert.equal(callback.status, 302, JSON.stringify(callback.body));
    assert.match(callback.headers.location, /\/orders\?page=2$/);
    const name = [...jar.keys()].find((k) => k.endsWith('authjs.session-token'));
    assert.ok(name, `a session cookie: ${[...jar.keys()]}`);
    const user = await defaults.getUserByEmail('eve@shop.test');
    assert.ok(user, 'the adapter made the user');

    // With the cookie Auth.js set, the protected page opens, and the origin knows who it is.
    const page = await through('/orders?page=2');
    assert.equal(page.status, 200, JSON.stringify(page.body));
    assert.equal(page.body.headers['x-dynauth-user'], user.id);
    const token = jar.get(name);
    assert.deepEqual(
      await verifyIdentityHeader(page.body.headers['x-dynauth-identity'], {
        tenant: 'shop', method: 'GET', host: SHOP, pathAndQuery: '/orders?page=2', secrets: [shopSecret],
      }),
      { tenant: 'shop', user: user.id, session: sessionId(token) },
    );
    // The app's own session endpoint agrees (Auth.js reading its table through the gateway).
    const own = await through('/api/auth/session');
    assert.equal(own.body.user.email, 'eve@shop.test');
    const mine = await lookup(SHOP, { cookie: `${name}=${token}` });
    assert.equal(mine.body.user.email, 'eve@shop.test');
  });
});

describe('an Auth.js table under attack and under faults', () => {
  test('strangers at once from many addresses: crafted tokens get the same 401, the real one its session', async () => {
    const user = await defaults.createUser({ email: 'ivy@shop.test', emailVerified: null });
    const sessionToken = randomUUID();
    await defaults.createSession({ sessionToken, userId: user.id, expires: new Date(Date.now() + 3600_000) });
    const expired = randomUUID();
    await defaults.createSession({ sessionToken: expired, userId: user.id, expires: new Date(Date.now() - 1000) });
    const crafted = [
      ...Array.from({ length: 30 }, () => randomUUID()),
      `${sessionToken}x`, sessionToken.toUpperCase(), sessionToken.slice(0, -1),
      user.id, `USER#${user.id}`, `SESSION#${sessionToken}`, `${sessionToken}#x`, sessionId(sessionToken), expired,
      'a'.repeat(512), 'a'.repeat(513), '%00', 'x"y', '\\', '*', 'SESSION#',
    ];
    const names = ['authjs.session-token', '__Secure-authjs.session-token', 'next-auth.session-token', '__Secure-next-auth.session-token'];
    const asks = [
      ...crafted.map((token, i) => ({ token, real: false, i })),
      ...Array.from({ length: 12 }, (_, i) => ({ token: sessionToken, real: true, i: crafted.length + i })),
    ];
    const answers = await Promise.all(asks.map(({ token, i }) => {
      const headers = { 'cf-connecting-ip': `198.51.${100 + (i >> 8)}.${i & 255}` };
      if (i % 5 === 4) headers.authorization = `Bearer ${token}`;
      else headers.cookie = `${names[i % 4]}=${token}`;
      return lookup(SHOP, headers);
    }));
    asks.forEach(({ token, real }, k) => {
      const r = answers[k];
      if (real) assert.deepEqual([r.status, r.body.user], [200, { id: user.id, email: 'ivy@shop.test' }]);
      else assert.deepEqual([r.status, r.body], [401, NO_SESSION], `crafted token ${JSON.stringify(token)}`);
    });
  });

  test('twenty logouts of one session at once from twenty addresses: each 204, the item gone', async () => {
    const user = await custom.createUser({ email: 'max@mall.test', emailVerified: null });
    const sessionToken = randomUUID();
    await custom.createSession({ sessionToken, userId: user.id, expires: new Date(Date.now() + 3600_000) });
    const outs = await Promise.all(Array.from({ length: 20 }, (_, i) => rawRequest(`${worker.url}/v1/logout`, {
      method: 'POST', host: MALL, headers: { cookie: `app.sid=${sessionToken}`, 'cf-connecting-ip': `203.0.113.${i + 1}` },
    })));
    assert.deepEqual(outs.map((r) => r.status), Array(20).fill(204));
    assert.equal(await custom.getSessionAndUser(sessionToken), null);
    assert.deepEqual((await lookup(MALL, { cookie: `app.sid=${sessionToken}` })).body, NO_SESSION);
  });

  test('DynamoDB faults: a throttled Query is retried, a throttled table is 503 (never a sign-out), a lost delete answer retried', async () => {
    proxy = await startFaultProxy(DYNAMODB);
    const faulty = await startWorker({
      DYNAMODB_TABLE: table, DYNAMODB_ENDPOINT: proxy.url, ALLOW_LOCAL_TARGETS: 'true',
      REQUEST_DEADLINE_MS: '3000', DYNAMODB_TIMEOUT_MS: '2000', DYNAMODB_ATTEMPT_TIMEOUT_MS: '500',
    });
    const user = await defaults.createUser({ email: 'kim@shop.test', emailVerified: null });
    const sessionToken = randomUUID();
    await defaults.createSession({ sessionToken, userId: user.id, expires: new Date(Date.now() + 3600_000) });
    const via = (path, headers, method = 'GET') => rawRequest(`${faulty.url}${path}`, { method, host: SHOP, headers });
    const cookie = { cookie: `authjs.session-token=${sessionToken}` };
    assert.equal((await via('/v1/session', cookie)).status, 200, 'the host resolved, no fault');

    // Two throttled Queries, then DynamoDB answers: the lookup is retried to its session.
    let throttled = 0;
    proxy.plan = (op) => (op === 'Query' && throttled++ < 2 ? 'throttle' : null);
    const retried = await via('/v1/session', cookie);
    assert.deepEqual([retried.status, retried.body.user?.id, throttled], [200, user.id, 3]);

    // Every Query throttled: 503 with Retry-After, not the 401 that would sign the user out,
    // and the gateway neither forwards nor sends the browser to the sign-in page.
    proxy.plan = (op) => (op === 'Query' ? 'throttle' : null);
    const seen = app.requests.length;
    const down = await via('/v1/session', cookie);
    assert.deepEqual([down.status, down.body.error?.code], [503, 'unavailable']);
    assert.ok(down.headers['retry-after']);
    const gated = await via('/orders', { ...cookie, accept: 'text/html' });
    assert.equal(gated.status, 503, JSON.stringify(gated.body));
    assert.equal(app.requests.length, seen, 'nothing reached the origin');

    // The logout's DeleteItem applied, its answer lost (500 after): retried, 204, the item gone.
    let lost = 0;
    proxy.plan = (op) => (op === 'DeleteItem' && lost++ < 1 ? '500-after' : null);
    const out = await via('/v1/logout', cookie, 'POST');
    assert.equal(out.status, 204, JSON.stringify(out.body));
    assert.equal(lost, 2, 'the delete was sent again');
    assert.equal(await defaults.getSessionAndUser(sessionToken), null);
    proxy.plan = () => null;
    await faulty.stop();
  });
});
