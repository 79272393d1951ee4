// The JS client package's browser side (clients/js, @dynauth/client) in a real browser (Debian's
// Chromium, driven by playwright-core) against wrangler dev + DynamoDB Local. A tiny app server
// serves a page and the package's modules as they are (no build); the page imports the package
// and runs startLogin -> verify -> session() -> logout() -> session() === null, twice: served by
// dynauth as the tenant's origin (same origin, baseUrl '') and from another localhost origin
// listed in allowed_origins (CORS with credentials). The page never holds the session token: not
// in what verify returns, not in document.cookie, and the server's startLogin and verifyLogin are
// refused there.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

import { ROOT, admin, createTable, dynamodb, startOrigin, startWorker, stopAll, uniqueName } from './harness.mjs';

const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const PACKAGE_SRC = join(ROOT, 'clients/js/src');

const table = uniqueName('e2e-client-browser');
let worker;
let app; // serves the page and the package; the tenant's origin, and an allowed origin of its own
let browser;
let base;

before(async () => {
  createTable(table);
  app = await startOrigin((seen, res) => {
    const pkg = /^\/pkg\/([a-z]+\.js)$/.exec(seen.url);
    if (pkg) {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
      return res.end(readFileSync(join(PACKAGE_SRC, pkg[1])));
    }
    if (seen.url === '/app.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return res.end('<!doctype html><title>Client app</title><h1>Client app</h1>');
    }
    res.writeHead(404);
    res.end();
  });
  worker = await startWorker({ DYNAMODB_TABLE: table, DEV_MODE: 'true', INSECURE_LOCAL_COOKIES: 'true' });
  base = `http://localhost:${worker.port}`;
  const put = await admin(worker, 'PUT', '/v1/admin/tenants/demo', {
    name: 'Client Demo', origin: app.url, allowed_origins: [`http://localhost:${app.port}`],
  });
  assert.equal(put.status, 201, JSON.stringify(put.body));
  assert.equal((await admin(worker, 'PUT', '/v1/admin/tenants/demo/domains/localhost', { status: 'ready' })).status, 201);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS, headless: true });
});

after(async () => {
  await browser?.close();
  await stopAll();
  await app?.close();
  await dynamodb('DeleteTable', { TableName: table }).catch(() => {});
});

const h = (token) => createHash('sha256').update(token).digest('base64url');

/**
 * Opens `pageUrl` in a fresh context and runs the whole flow there with the package's browser
 * client at `baseUrl`; returns what the page saw and what the test observed around it.
 */
async function flow(pageUrl, baseUrl, email) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const verifyBodies = [];
  page.on('request', (r) => { if (r.url().endsWith('/v1/login/verify')) verifyBodies.push(JSON.parse(r.postData())); });
  const loaded = await page.goto(pageUrl);
  assert.equal(loaded.status(), 200);

  const signedIn = await page.evaluate(async ([baseUrl, email]) => {
    const { createClient, DynauthError } = await import('/pkg/index.js');
    const client = createClient({ baseUrl });
    const before = await client.session();
    const started = await client.startLogin(email);
    let wrong = null;
    try {
      await client.verify(started.loginId, started.code === '000000' ? '111111' : '000000');
    } catch (e) {
      wrong = { isDynauthError: e instanceof DynauthError, name: e.name, status: e.status, code: e.code, attemptsLeft: e.attemptsLeft, message: e.message };
    }
    const verified = await client.verify(started.loginId, started.code);
    const me = await client.session();
    const jwt = await client.token();
    return { before, started, wrong, verified, me, jwt, cookie: document.cookie };
  }, [baseUrl, email]);

  const cookie = (await context.cookies(base)).find((c) => c.name === 'dynauth_local');
  const signedOut = await page.evaluate(async (baseUrl) => {
    const { createClient } = await import('/pkg/index.js');
    const client = createClient({ baseUrl });
    const out = await client.logout();
    return { out: out === undefined ? 'undefined' : out, after: await client.session(), jwtAfter: await client.token() };
  }, baseUrl);
  const cookieAfter = (await context.cookies(base)).find((c) => c.name === 'dynauth_local');
  return { context, page, signedIn, cookie, signedOut, cookieAfter, verifyBodies };
}

/** What every run of the flow must show. */
function check({ signedIn, cookie, signedOut, cookieAfter, verifyBodies }, email) {
  assert.equal(signedIn.before, null, 'no session before the login');
  assert.deepEqual(Object.keys(signedIn.started).sort(), ['code', 'expiresAt', 'loginId'], 'DEV_MODE answers the code');
  assert.deepEqual(signedIn.wrong, {
    isDynauthError: true, name: 'DynauthError', status: 401, code: 'invalid_code', attemptsLeft: 4,
    message: 'the code is wrong, or there is no such login',
  });
  assert.deepEqual(Object.keys(signedIn.verified).sort(), ['session', 'user'], 'no token in what the page gets');
  assert.deepEqual(signedIn.verified.user, { id: signedIn.verified.session.userId, email });
  assert.deepEqual(signedIn.me, signedIn.verified, 'session() answers the session verify opened');
  // token(): a JWT of this session for the page's backends (not the session token).
  assert.equal(signedIn.jwt.expiresIn, 300);
  const claims = JSON.parse(Buffer.from(signedIn.jwt.token.split('.')[1], 'base64url'));
  assert.deepEqual([claims.sub, claims.sid, claims.email], [signedIn.verified.user.id, signedIn.verified.session.id, email]);
  // Both verifies asked for the cookie: "deliver" is never sent from the browser client.
  assert.deepEqual(verifyBodies, [
    { login_id: signedIn.started.loginId, code: signedIn.started.code === '000000' ? '111111' : '000000' },
    { login_id: signedIn.started.loginId, code: signedIn.started.code },
  ]);
  assert.ok(cookie, 'the session cookie is set');
  assert.equal(cookie.httpOnly, true);
  assert.equal(h(cookie.value), signedIn.verified.session.id, 'the cookie holds the session');
  assert.ok(!signedIn.cookie.includes(cookie.value), 'document.cookie does not show the token');
  assert.ok(!JSON.stringify(signedIn).includes(cookie.value), 'nothing the page got holds the token');
  assert.deepEqual(signedOut, { out: 'undefined', after: null, jwtAfter: null }, 'logout() resolves to nothing; then session() and token() are null');
  assert.equal(cookieAfter, undefined, 'logout cleared the cookie');
}

describe('@dynauth/client in a real browser', () => {
  test('same origin (the app behind dynauth, baseUrl ""): login, session, logout', async () => {
    const run = await flow(`${base}/app.html`, '', 'pia@example.com');
    check(run, 'pia@example.com');
    // The server's startLogin and verifyLogin ("deliver": "body": the binding and the token in
    // the answer) are refused in a page, which holds neither.
    const refused = await run.page.evaluate(async () => {
      const { startLogin, verifyLogin } = await import('/pkg/server.js');
      const { loginId, code } = await (await import('/pkg/index.js')).createClient({ baseUrl: '' }).startLogin('quinn@example.com');
      const attempt = async (f) => { try { return { got: await f() }; } catch (e) { return { status: e.status, code: e.code }; } };
      return [
        await attempt(() => startLogin('quinn@example.com', { baseUrl: '' })),
        await attempt(() => verifyLogin(loginId, code, { baseUrl: '' })),
      ];
    });
    assert.deepEqual(refused, [{ status: 403, code: 'body_delivery_refused' }, { status: 403, code: 'body_delivery_refused' }]);
    await run.context.close();
  });

  test('another origin listed in allowed_origins (CORS with credentials): login, session, logout', async () => {
    const run = await flow(`http://localhost:${app.port}/app.html`, base, 'rae@example.com');
    check(run, 'rae@example.com');
    await run.context.close();
  });
});
