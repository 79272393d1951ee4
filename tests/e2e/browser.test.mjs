// A real browser (Debian's Chromium, driven by playwright-core) against wrangler dev + DynamoDB
// Local: the hosted login page from email to session, the session used from the page, logout;
// then a page on another port of localhost (same site, another origin) calling dynauth with
// credentials: allowed when listed in allowed_origins, blocked when not. Screenshots of each
// step go to tests/e2e/artifacts/ (git-ignored).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

import { ROOT, admin, createTable, dynamodb, startOrigin, startWorker, stopAll, uniqueName } from './harness.mjs';

const ARTIFACTS = join(ROOT, 'tests/e2e/artifacts');
const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

const table = uniqueName('e2e-browser');
let worker;
let tenantApp; // the tenant's origin, behind dynauth
let listed; // another localhost origin, in allowed_origins
let unlisted; // another localhost origin, not listed
let browser;
let base;

/** A page on its own localhost port, for cross-origin calls. */
function appPage(title) {
  return (seen, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>${title}</title><h1>${title}</h1>`);
  };
}

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  createTable(table);
  tenantApp = await startOrigin((seen, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>Acme app</title><h1>Welcome to the Acme app</h1><p id="path">${seen.url}</p>`);
  });
  listed = await startOrigin(appPage('Listed app'));
  unlisted = await startOrigin(appPage('Unlisted app'));
  worker = await startWorker({ DYNAMODB_TABLE: table, DEV_MODE: 'true', INSECURE_LOCAL_COOKIES: 'true' });
  base = `http://localhost:${worker.port}`;
  const put = await admin(worker, 'PUT', '/v1/admin/tenants/demo', {
    name: 'Acme Demo',
    origin: tenantApp.url,
    allowed_origins: [`http://localhost:${listed.port}`],
  });
  assert.equal(put.status, 201, JSON.stringify(put.body));
  assert.equal((await admin(worker, 'PUT', '/v1/admin/tenants/demo/domains/localhost', { status: 'ready' })).status, 201);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS, headless: true });
});

after(async () => {
  await browser?.close();
  await stopAll();
  for (const s of [tenantApp, listed, unlisted]) await s?.close();
  await dynamodb('DeleteTable', { TableName: table }).catch(() => {});
});

/** fetch() from inside a page; a blocked request comes back as { error }. */
function fetchFrom(page, url, init = {}) {
  return page.evaluate(async ([u, i]) => {
    try {
      const r = await fetch(u, i);
      const text = await r.text();
      let body = text;
      try { body = JSON.parse(text); } catch { /* not JSON */ }
      return { status: r.status, body };
    } catch (e) {
      return { error: String(e) };
    }
  }, [url, init]);
}

describe('in a real browser', () => {
  let context;
  let page;

  test('the hosted login page: email -> code -> signed in -> return_to', async () => {
    context = await browser.newContext({ viewport: { width: 720, height: 640 } });
    page = await context.newPage();
    const shot = (name) => page.screenshot({ path: join(ARTIFACTS, `login-${name}.png`) });

    const response = await page.goto(`${base}/login?return_to=${encodeURIComponent('/app/welcome?from=login')}`);
    assert.equal(response.status(), 200);
    assert.match(response.headers()['content-security-policy'], /^default-src 'none'; script-src 'nonce-/);
    assert.equal(await page.title(), 'Sign in to Acme Demo');
    await shot('1-email');

    await page.getByLabel('Email address', { exact: true }).fill('Ann@Example.com');
    const started = page.waitForResponse((r) => r.url().endsWith('/v1/login/start'));
    await page.getByRole('button', { name: 'Send code' }).click();
    const start = await started;
    assert.equal(start.status(), 202);
    const { code } = await start.json(); // the development channel (DEV_MODE)
    assert.match(code, /^\d{6}$/);
    await page.getByLabel('Code', { exact: true }).waitFor();
    await page.getByText("Development mode: no email is sent. The code for ann@example.com is in dynauth's log", { exact: false }).waitFor();
    await shot('2-code');

    const wrongCode = code === '000000' ? '111111' : '000000';
    await page.getByLabel('Code', { exact: true }).fill(wrongCode);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('That code is not right. 4 attempts left.').waitFor();
    await shot('3-wrong-code');

    await page.getByLabel('Code', { exact: true }).fill(code);
    const verifying = page.waitForResponse((r) => r.url().endsWith('/v1/login/verify'));
    await page.getByRole('button', { name: 'Sign in' }).click();
    const verified = await (await verifying).json();
    assert.deepEqual(Object.keys(verified).sort(), ['session', 'user'], 'no token in what the page script reads');
    await page.getByText('Signed in as ann@example.com', { exact: false }).waitFor();
    await shot('4-signed-in');

    await page.waitForURL(`${base}/app/welcome?from=login`);
    assert.equal(await page.locator('h1').textContent(), 'Welcome to the Acme app');
    await shot('5-return-to');

    const cookies = await context.cookies(base);
    const session = cookies.find((c) => c.name === 'dynauth_local');
    assert.ok(session, 'the session cookie is set');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Lax');
    assert.ok(!(await page.evaluate(() => document.cookie)).includes(session.value), 'document.cookie does not show it');
  });

  test('page JavaScript cannot obtain the session token', async () => {
    const own = await browser.newContext(); // its own cookie jar: the other tests keep Ann's session
    const page = await own.newPage();
    await page.goto(`${base}/login`);
    const post = (path, body) =>
      fetchFrom(page, path, { method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const start = await post('/v1/login/start', { email: 'script@example.com' });
    assert.equal(start.status, 202);
    assert.equal(start.body.binding, undefined, 'the login binding never reaches the page');
    const binding = (await own.cookies(base)).find((c) => c.name === 'dynauth_local_login');
    assert.deepEqual([binding?.httpOnly, binding?.sameSite, binding?.value.length], [true, 'Strict', 43]);
    assert.ok(!(await page.evaluate(() => document.cookie)).includes(binding.value), 'nor document.cookie');
    const refused = await post('/v1/login/start', { email: 'script@example.com', deliver: 'body' });
    assert.equal(refused.body.error.code, 'body_delivery_refused', 'a page cannot ask for the binding');
    // Asking for the token in the body from a page is refused, and spends nothing.
    const asked = await post('/v1/login/verify', { login_id: start.body.login_id, code: start.body.code, deliver: 'body' });
    assert.equal(asked.status, 403, JSON.stringify(asked));
    assert.equal(asked.body.error.code, 'body_delivery_refused');
    const ok = await post('/v1/login/verify', { login_id: start.body.login_id, code: start.body.code });
    assert.equal(ok.status, 200, JSON.stringify(ok));
    assert.equal(ok.body.token, undefined);
    assert.equal(ok.body.user.email, 'script@example.com');
    assert.equal((await own.cookies(base)).find((c) => c.name === 'dynauth_local_login'), undefined, 'the used binding is cleared');
    const token = (await own.cookies(base)).find((c) => c.name === 'dynauth_local').value;
    const seen = await page.evaluate(() => document.cookie + JSON.stringify(Object.assign({}, localStorage, sessionStorage)));
    assert.ok(!seen.includes(token), 'neither document.cookie nor storage holds the token');
    const me = await fetchFrom(page, '/v1/session', { credentials: 'include' });
    assert.equal(me.body.user.email, 'script@example.com', 'the cookie the page cannot read is the session');
    await own.close();
  });

  test("fetch('/v1/session', {credentials: 'include'}) from the page succeeds", async () => {
    const r = await fetchFrom(page, '/v1/session', { credentials: 'include' });
    assert.equal(r.status, 200);
    assert.equal(r.body.user.email, 'ann@example.com');
  });

  test('another localhost origin: allowed when listed, blocked when not', async () => {
    const other = await context.newPage();
    await other.goto(`http://localhost:${listed.port}/`);
    const ok = await fetchFrom(other, `${base}/v1/session`, { credentials: 'include' });
    assert.equal(ok.status, 200, JSON.stringify(ok));
    assert.equal(ok.body.user.email, 'ann@example.com');
    await other.screenshot({ path: join(ARTIFACTS, 'cors-listed.png') });

    const stranger = await context.newPage();
    await stranger.goto(`http://localhost:${unlisted.port}/`);
    const blocked = await fetchFrom(stranger, `${base}/v1/session`, { credentials: 'include' });
    assert.ok(blocked.error, `blocked by CORS: ${JSON.stringify(blocked)}`);
    // A forged logout from the unlisted origin is refused (CSRF): the session survives.
    await fetchFrom(stranger, `${base}/v1/logout`, { method: 'POST', credentials: 'include', mode: 'no-cors' });
    await worker.waitForLog(/"route":"logout","tenant":"demo","status":403/);
    assert.equal((await fetchFrom(page, '/v1/session', { credentials: 'include' })).status, 200);
    await other.close();
    await stranger.close();
  });

  test('logout clears it', async () => {
    const out = await fetchFrom(page, '/v1/logout', { method: 'POST', credentials: 'include' });
    assert.equal(out.status, 204);
    const after = await fetchFrom(page, '/v1/session', { credentials: 'include' });
    assert.equal(after.status, 401);
    assert.equal(after.body.error.code, 'invalid_session');
    assert.equal((await context.cookies(base)).find((c) => c.name === 'dynauth_local'), undefined);
    await context.close();
  });
});
