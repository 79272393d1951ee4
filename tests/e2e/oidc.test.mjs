// The OpenID Provider proven by clients nobody here wrote, against wrangler dev + DynamoDB Local,
// the hosted login page driven in Debian's Chromium (playwright-core):
// - openid-client (Node): discovery, code + PKCE, the ID token and userinfo, refresh with
//   rotation (a reused token ending the family), introspection, revocation, RP-initiated logout
//   and the back-channel logout token it sends (verified with jose);
// - authlib (Python) as a confidential client with client_secret_basic: token (the ID token
//   validated with at_hash and nonce), refresh, introspection, revocation (tests/e2e/authlib_client.py);
// - oidc-client-ts in Chromium as a single-page app (public client, PKCE, silent prompt=none in
//   an iframe, login_required once the session ends);
// - an Auth.js app (@auth/core, dynauth as a generic OIDC provider) signing a user in end to end.
// Every answer of dynauth's own routes that `call` sees is checked against docs/openapi.yaml.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { setDefaultResultOrder } from 'node:dns';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { join } from 'node:path';

import * as client from 'openid-client';
import * as jose from 'jose';
import { Auth } from '@auth/core';
import { chromium } from 'playwright-core';

import { ROOT, admin, call, createTable, dynamodb, startOrigin, startWorker, stopAll, uniqueName } from './harness.mjs';

setDefaultResultOrder('ipv4first'); // `localhost` is the tenant's host; wrangler listens on 127.0.0.1

const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const PYTHON = join(ROOT, '.tools/venv/bin/python');
const OIDC_CLIENT_TS = readFileSync(join(ROOT, 'node_modules/oidc-client-ts/dist/browser/oidc-client-ts.min.js'));

const table = uniqueName('e2e-oidc');
let worker;
let base; // the issuer: http://localhost:<port>
let app; // the openid-client app's callback and post-logout pages
let backchannel; // the openid-client app's back-channel logout receiver
let spa; // the oidc-client-ts single-page app, on localhost (same site as the issuer)
let authjs; // the Auth.js app
let browser;
const secrets = {};

/** A page saying what it is and the URL it was reached at. */
function plainPage(title) {
  return (seen, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>${title}</title><h1>${title}</h1>`);
  };
}

/** The single-page app: oidc-client-ts from node_modules, its UserManager as window.mgr. */
function spaHandler(seen, res) {
  const path = seen.url.split('?')[0];
  if (path === '/oidc-client-ts.js') {
    res.writeHead(200, { 'content-type': 'text/javascript' });
    res.end(OIDC_CLIENT_TS);
    return;
  }
  const origin = `http://localhost:${spa.port}`;
  const settings = {
    authority: base, client_id: 'spa', redirect_uri: `${origin}/cb`, silent_redirect_uri: `${origin}/silent`,
    response_type: 'code', scope: 'openid email', automaticSilentRenew: false,
  };
  const script = {
    '/': '',
    '/cb': 'mgr.signinRedirectCallback().then((u) => { document.getElementById("out").textContent = JSON.stringify(u.profile); }, (e) => { document.getElementById("out").textContent = "error: " + e.message; });',
    '/silent': 'mgr.signinSilentCallback();',
  }[path];
  if (script === undefined) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><title>SPA</title><script src="/oidc-client-ts.js"></script>
<script>window.mgr = new oidc.UserManager(${JSON.stringify(settings)});</script>
<pre id="out"></pre><script>${script}</script>`);
}

/** The Auth.js app: @auth/core's Auth() behind node:http, dynauth a generic OIDC provider. */
async function startAuthJs(clientSecret) { // clientSecret(): known once the client is registered
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const url = `http://127.0.0.1:${server.address().port}${req.url}`;
    const config = {
      basePath: '/auth',
      trustHost: true,
      secret: 'authjs-test-secret-not-secret-0123456789',
      providers: [{ id: 'dynauth', name: 'dynauth', type: 'oidc', issuer: base, clientId: 'authjs', clientSecret: clientSecret() }],
    };
    if (req.url.startsWith('/auth/')) {
      const request = new Request(url, {
        method: req.method,
        headers: Object.entries(req.headers).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x]) : [[k, v]])),
        body: ['GET', 'HEAD'].includes(req.method) ? undefined : Buffer.concat(chunks),
      });
      const response = await Auth(request, config);
      const headers = {};
      for (const [k, v] of response.headers) (headers[k] ??= []).push(v);
      res.writeHead(response.status, headers);
      res.end(Buffer.from(await response.arrayBuffer()));
      return;
    }
    // The app's own page: who is signed in, as Auth.js's session says.
    const session = await Auth(new Request(`http://127.0.0.1:${server.address().port}/auth/session`, { headers: { cookie: req.headers.cookie ?? '' } }), config);
    const body = await session.json();
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>Auth.js app</title><p id="user">${body?.user?.email ?? 'nobody'}</p>`);
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}`, port, close: () => new Promise((ok) => server.close(ok)) };
}

async function putClient(id, body) {
  const r = await admin(worker, 'PUT', `/v1/admin/tenants/demo/clients/${id}`, body);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  secrets[id] = r.body.client_secret;
}

before(async () => {
  createTable(table);
  app = await startOrigin(plainPage('Node app'));
  backchannel = await startOrigin((seen, res) => res.writeHead(200).end());
  spa = await startOrigin(spaHandler);
  worker = await startWorker({ DYNAMODB_TABLE: table, DEV_MODE: 'true', INSECURE_LOCAL_COOKIES: 'true' });
  base = `http://localhost:${worker.port}`;
  const tenant = await admin(worker, 'PUT', '/v1/admin/tenants/demo', {
    name: 'Acme Demo', allowed_origins: [`http://localhost:${spa.port}`],
  });
  assert.equal(tenant.status, 201, JSON.stringify(tenant.body));
  assert.equal((await admin(worker, 'PUT', '/v1/admin/tenants/demo/domains/localhost', { status: 'ready' })).status, 201);
  const scopes = ['openid', 'email', 'offline_access'];
  await putClient('node-app', {
    name: 'Node app', type: 'confidential', scopes, redirect_uris: [`${app.url}/cb`],
    post_logout_redirect_uris: [`${app.url}/bye`], backchannel_logout_uri: `${backchannel.url}/logout`,
  });
  await putClient('py-app', { name: 'Python app', type: 'confidential', scopes, redirect_uris: [`${app.url}/py`] });
  await putClient('ed-app', {
    name: 'EdDSA app', type: 'confidential', scopes, redirect_uris: [`${app.url}/cb`], id_token_signed_response_alg: 'EdDSA',
  });
  await putClient('es-app', {
    name: 'ES256 app', type: 'confidential', scopes, redirect_uris: [`${app.url}/cb`], id_token_signed_response_alg: 'ES256',
  });
  await putClient('spa', {
    name: 'SPA', type: 'public', scopes: ['openid', 'email'],
    redirect_uris: [`http://localhost:${spa.port}/cb`, `http://localhost:${spa.port}/silent`],
  });
  authjs = await startAuthJs(() => secrets.authjs);
  await putClient('authjs', {
    name: 'Auth.js app', type: 'confidential', scopes: ['openid', 'email', 'profile'],
    redirect_uris: [`${authjs.url}/auth/callback/dynauth`],
  });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS, headless: true });
});

after(async () => {
  await browser?.close();
  await stopAll();
  for (const s of [app, backchannel, spa, authjs]) await s?.close();
  await dynamodb('DeleteTable', { TableName: table }).catch(() => {});
});

/** On the hosted login page: the email (if not filled in already), the code (DEV_MODE hands it
 *  to the local page's request), signed in. */
async function signIn(page, email) {
  const field = page.getByLabel('Email address', { exact: true });
  await field.waitFor();
  if ((await field.inputValue()) === '') await field.fill(email);
  const started = page.waitForResponse((r) => r.url().endsWith('/v1/login/start'));
  await page.getByRole('button', { name: 'Send code' }).click();
  const { code } = await (await started).json();
  await page.getByLabel('Code', { exact: true }).fill(code);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** The Python client's step `step` with `args`: its JSON output. */
function authlib(step, args) {
  return new Promise((ok, fail) => {
    execFile(PYTHON, [join(ROOT, 'tests/e2e/authlib_client.py'), step, JSON.stringify(args)], {
      env: { ...process.env, AUTHLIB_INSECURE_TRANSPORT: '1' }, timeout: 60_000,
    }, (error, stdout, stderr) => {
      if (error) return fail(new Error(`authlib ${step}: ${error.message}\n${stderr}`));
      try { ok(JSON.parse(stdout)); } catch (e) { fail(new Error(`authlib ${step}: ${stdout}\n${stderr}`)); }
    });
  });
}

describe('stock clients against every tenant host as an OpenID Provider', () => {
  let context; // one browser: its session cookie is the provider's
  let page;
  let config;

  /** openid-client's authorization URL for node-app, and what its callback must match. */
  async function authorization(extra = {}, cfg = config) {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(cfg, {
      redirect_uri: `${app.url}/cb`, scope: 'openid email offline_access', state, nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', ...extra,
    });
    return { url, verifier, state, nonce };
  }

  async function codeGrant(request, cfg = config) {
    await page.goto(request.url.href);
    await page.waitForURL(`${app.url}/cb?**`);
    return client.authorizationCodeGrant(cfg, new URL(page.url()), {
      pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce,
    });
  }

  before(async () => {
    context = await browser.newContext();
    page = await context.newPage();
    config = await client.discovery(new URL(base), 'node-app', secrets['node-app'], undefined, {
      execute: [client.allowInsecureRequests],
    });
  });

  after(() => context?.close());

  test('openid-client: discovery, code + PKCE through the hosted page, ID token, userinfo', async () => {
    const meta = config.serverMetadata();
    assert.equal(meta.issuer, base);
    assert.equal(meta.end_session_endpoint, `${base}/v1/oauth/logout`);
    assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
    const request = await authorization({ login_hint: 'ann@example.com' });
    await page.goto(request.url.href);
    assert.match(page.url(), new RegExp(`^${base}/login\\?`), 'no session: the login page');
    assert.equal(await page.getByLabel('Email address', { exact: true }).inputValue(), 'ann@example.com', 'login_hint');
    await signIn(page, 'ann@example.com');
    await page.waitForURL(`${app.url}/cb?**`);
    const back = new URL(page.url());
    assert.equal(back.searchParams.get('iss'), base, 'RFC 9207');
    const tokens = await client.authorizationCodeGrant(config, back, {
      pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce,
    });
    const claims = tokens.claims();
    assert.equal(claims.iss, base);
    assert.equal(claims.aud, 'node-app');
    assert.equal(claims.email, 'ann@example.com');
    assert.equal(claims.email_verified, true);
    assert.match(claims.sid, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    assert.ok(tokens.refresh_token, 'offline_access: a refresh token');
    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    assert.deepEqual(info, { sub: claims.sub, email: 'ann@example.com', email_verified: true });
    // The same code again: refused by the provider, as openid-client reports it.
    await assert.rejects(
      client.authorizationCodeGrant(config, back, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce }),
      (e) => e.error === 'invalid_grant',
    );
    await assert.rejects(client.fetchUserInfo(config, tokens.access_token, claims.sub), 'the reuse revoked its tokens');
  });

  test('openid-client: refresh rotates; a reused refresh token ends the family', async () => {
    const tokens = await codeGrant(await authorization()); // the browser's session: a code at once
    const sub = tokens.claims().sub;
    const next = await client.refreshTokenGrant(config, tokens.refresh_token);
    assert.notEqual(next.refresh_token, tokens.refresh_token);
    assert.equal(next.claims().sub, sub);
    assert.deepEqual((await client.fetchUserInfo(config, next.access_token, sub)).sub, sub);
    await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token), (e) => e.error === 'invalid_grant');
    await assert.rejects(client.refreshTokenGrant(config, next.refresh_token), (e) => e.error === 'invalid_grant', 'the family is revoked');
    assert.equal((await client.tokenIntrospection(config, next.access_token)).active, false);
  });

  test('jose: a session JWT and the OpenID tokens cannot pass for one another (audience and typ)', async () => {
    const ed = await client.discovery(new URL(base), 'ed-app', secrets['ed-app'], undefined, { execute: [client.allowInsecureRequests] });
    const eddsa = await codeGrant(await authorization({}, ed), ed); // the browser's session: a code at once
    const rs256 = await codeGrant(await authorization());
    // The session JWT of the same browser session (the bearer token of a session minted for it).
    const minted = await admin(worker, 'POST', '/v1/admin/tenants/demo/sessions', { user_id: eddsa.claims().sub });
    const sessionJwt = await (await fetch(`${base}/v1/session/token`, { method: 'POST', headers: { authorization: `Bearer ${minted.body.token}` } })).json();
    const jwks = jose.createRemoteJWKSet(new URL(`${base}/.well-known/jwks.json`));
    // docs/sessions.md's recipe, and docs/oidc.md's for access tokens.
    const asSession = (t, pin = {}) => jose.jwtVerify(t, jwks, { issuer: base, audience: 'demo', algorithms: ['EdDSA'], typ: 'session+jwt', ...pin });
    const asAccess = (t, pin = {}) => jose.jwtVerify(t, jwks, { issuer: base, audience: `${base}/v1/oauth/userinfo`, algorithms: ['RS256', 'EdDSA'], typ: 'at+jwt', ...pin });
    assert.equal((await asSession(sessionJwt.token)).payload.sub, eddsa.claims().sub);
    assert.equal((await asAccess(eddsa.access_token)).payload.client_id, 'ed-app');
    assert.equal((await asAccess(rs256.access_token)).payload.client_id, 'node-app');
    const refused = async (check, code) => assert.rejects(check, (e) => e.code === code, code);
    for (const t of [eddsa.access_token, eddsa.id_token]) {
      // Each pin alone refuses it: the audience, and the type.
      await refused(asSession(t), 'ERR_JWT_CLAIM_VALIDATION_FAILED');
      await refused(asSession(t, { typ: undefined }), 'ERR_JWT_CLAIM_VALIDATION_FAILED');
      await refused(asSession(t, { audience: undefined }), 'ERR_JWT_CLAIM_VALIDATION_FAILED');
    }
    for (const t of [rs256.access_token, rs256.id_token]) await refused(asSession(t), 'ERR_JOSE_ALG_NOT_ALLOWED');
    await refused(asAccess(sessionJwt.token), 'ERR_JWT_CLAIM_VALIDATION_FAILED');
    await refused(asAccess(sessionJwt.token, { typ: undefined }), 'ERR_JWT_CLAIM_VALIDATION_FAILED');
    await refused(asAccess(sessionJwt.token, { audience: undefined }), 'ERR_JWT_CLAIM_VALIDATION_FAILED');
    await refused(asAccess(eddsa.id_token), 'ERR_JWT_CLAIM_VALIDATION_FAILED');
    // And dynauth itself: a session JWT is no access token at userinfo.
    const info = await fetch(`${base}/v1/oauth/userinfo`, { headers: { authorization: `Bearer ${sessionJwt.token}` } });
    assert.equal(info.status, 401);
  });

  test('jose verifies what the Worker signs with Web Crypto, for each algorithm, against the JWKS', async () => {
    const jwks = jose.createRemoteJWKSet(new URL(`${base}/.well-known/jwks.json`));
    const published = (await (await fetch(`${base}/.well-known/jwks.json`)).json()).keys;
    assert.deepEqual(published.map((k) => k.alg), ['EdDSA', 'RS256', 'ES256']);
    for (const [id, alg] of [['node-app', 'RS256'], ['es-app', 'ES256'], ['ed-app', 'EdDSA']]) {
      const cfg = id === 'node-app' ? config
        : await client.discovery(new URL(base), id, secrets[id], undefined, { execute: [client.allowInsecureRequests] });
      const tokens = await codeGrant(await authorization({}, cfg), cfg); // the browser's session: a code at once
      const kid = published.find((k) => k.alg === alg).kid;
      const id_token = await jose.jwtVerify(tokens.id_token, jwks, { issuer: base, audience: id, algorithms: [alg], typ: 'JWT' });
      assert.deepEqual([id_token.protectedHeader.alg, id_token.protectedHeader.kid], [alg, kid], alg);
      const access = await jose.jwtVerify(tokens.access_token, jwks, {
        issuer: base, audience: `${base}/v1/oauth/userinfo`, algorithms: [alg], typ: 'at+jwt',
      });
      assert.equal(access.payload.client_id, id);
      // at_hash: the left half of the algorithm's hash (SHA-512 for Ed25519, else SHA-256).
      const hash = createHash(alg === 'EdDSA' ? 'sha512' : 'sha256').update(tokens.access_token).digest();
      assert.equal(id_token.payload.at_hash, hash.subarray(0, hash.length / 2).toString('base64url'), alg);
      // dynauth verifies its own signature (Web Crypto) where the access token comes back.
      const info = await fetch(`${base}/v1/oauth/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      assert.equal(info.status, 200, alg);
      const [h, c, s] = tokens.access_token.split('.');
      const forged = `${h}.${c}.${s.startsWith('A') ? 'B' : 'A'}${s.slice(1)}`;
      const refused = await fetch(`${base}/v1/oauth/userinfo`, { headers: { authorization: `Bearer ${forged}` } });
      assert.equal(refused.status, 401, `${alg}: a changed signature`);
      const cut = await fetch(`${base}/v1/oauth/userinfo`, { headers: { authorization: `Bearer ${h}.${c}.${s.slice(0, 8)}` } });
      assert.equal(cut.status, 401, `${alg}: a signature cut short is refused, never a 500`);
    }
  });

  test('openid-client: introspection and revocation', async () => {
    const tokens = await codeGrant(await authorization());
    const live = await client.tokenIntrospection(config, tokens.access_token);
    assert.equal(live.active, true);
    assert.equal(live.client_id, 'node-app');
    assert.equal(live.sub, tokens.claims().sub);
    assert.equal(live.scope, 'openid email offline_access');
    const refresh = await client.tokenIntrospection(config, tokens.refresh_token, { token_type_hint: 'refresh_token' });
    assert.deepEqual([refresh.active, refresh.token_type], [true, 'refresh_token']);
    await client.tokenRevocation(config, tokens.refresh_token);
    assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, false);
    assert.equal((await client.tokenIntrospection(config, tokens.refresh_token)).active, false);
    await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token), (e) => e.error === 'invalid_grant');
    // A public client may not introspect.
    const spaConfig = await client.discovery(new URL(base), 'spa', undefined, client.None(), { execute: [client.allowInsecureRequests] });
    await assert.rejects(client.tokenIntrospection(spaConfig, tokens.access_token), (e) => e.error === 'invalid_client');
  });

  test('authlib (Python): a confidential client with client_secret_basic: token, refresh, introspect, revoke', async () => {
    const common = { issuer: base, client_id: 'py-app', client_secret: secrets['py-app'], redirect_uri: `${app.url}/py` };
    const started = await authlib('authorize', common);
    await page.goto(started.url);
    await page.waitForURL(`${app.url}/py?**`);
    const out = await authlib('finish', { ...common, ...started, callback: page.url() });
    assert.equal(out.claims.iss, base);
    assert.equal(out.claims.aud, 'py-app');
    assert.equal(out.claims.email, 'ann@example.com');
    assert.equal(out.claims.nonce, started.nonce);
    assert.equal(out.token_type, 'Bearer');
    assert.notEqual(out.refreshed_refresh_token, out.refresh_token, 'rotated');
    assert.deepEqual([out.introspected.active, out.introspected.client_id, out.introspected.token_type], [true, 'py-app', 'Bearer']);
    assert.equal(out.revoke_status, 200);
    assert.deepEqual(out.after_revoke, { active: false });
    assert.equal(out.refresh_after_revoke.error, 'invalid_grant');
  });

  test('openid-client: RP-initiated logout ends the session, and node-app is told by a signed logout token', async () => {
    const tokens = await codeGrant(await authorization());
    const claims = tokens.claims();
    backchannel.requests.length = 0;
    const state = client.randomState();
    const url = client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token, post_logout_redirect_uri: `${app.url}/bye`, state });
    await page.goto(url.href);
    await page.waitForURL(`${app.url}/bye?**`);
    assert.equal(new URL(page.url()).searchParams.get('state'), state);
    assert.equal(backchannel.requests.length, 1, 'node-app is told once');
    const told = backchannel.requests[0];
    assert.equal(told.headers['content-type'], 'application/x-www-form-urlencoded');
    const logoutToken = new URLSearchParams(told.body).get('logout_token');
    const jwks = jose.createLocalJWKSet((await call(`${base}/.well-known/jwks.json`)).body);
    const { payload, protectedHeader } = await jose.jwtVerify(logoutToken, jwks, { issuer: base, audience: 'node-app', typ: 'logout+jwt' });
    assert.equal(protectedHeader.alg, 'RS256');
    assert.equal(payload.sid, claims.sid);
    assert.equal(payload.sub, claims.sub);
    assert.deepEqual(payload.events, { 'http://schemas.openid.net/event/backchannel-logout': {} });
    assert.equal(payload.nonce, undefined);
    assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, false, 'its tokens ended with it');
    // Signed out: the next authorization asks for a sign-in again.
    await page.goto((await authorization()).url.href);
    assert.match(page.url(), new RegExp(`^${base}/login\\?`));
  });

  test("openid-client: an id_token_hint the provider did not issue is refused on a page", async () => {
    const forged = await new jose.SignJWT({ sub: 'u', aud: 'node-app', sid: 'x' })
      .setProtectedHeader({ alg: 'HS256' }).setIssuer(base).setIssuedAt().setExpirationTime('5m')
      .sign(new TextEncoder().encode('not-the-providers-key-0123456789abcdef'));
    const url = client.buildEndSessionUrl(config, { id_token_hint: forged, post_logout_redirect_uri: `${app.url}/bye` });
    const answer = await page.goto(url.href);
    assert.equal(answer.status(), 400);
    assert.equal(await page.locator('#error').textContent(), 'the id_token_hint is not an ID token this provider issued');
    assert.equal(page.url(), url.href, 'not redirected');
  });
});

describe('oidc-client-ts in Chromium: a single-page app (public client, PKCE, silent renew)', () => {
  test('sign in by redirect, renew silently with prompt=none, login_required once signed out', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      await page.goto(`http://localhost:${spa.port}/`);
      await page.evaluate(() => { window.mgr.signinRedirect(); }); // it navigates away: not awaited in the page
      await page.waitForURL(`${base}/login?**`);
      await signIn(page, 'spa@example.com');
      await page.waitForURL(`http://localhost:${spa.port}/cb?**`);
      await page.locator('#out').filter({ hasText: /\S/ }).waitFor();
      const profile = JSON.parse(await page.locator('#out').textContent());
      assert.equal(profile.iss, base);
      assert.equal(profile.aud, 'spa');
      assert.equal(profile.email, 'spa@example.com');
      const first = await page.evaluate(() => window.mgr.getUser().then((u) => u.access_token));
      // Silent renew: an iframe to the authorization endpoint with prompt=none.
      const renewed = await page.evaluate(() => window.mgr.signinSilent().then((u) => ({ sub: u.profile.sub, at: u.access_token })));
      assert.equal(renewed.sub, profile.sub);
      assert.notEqual(renewed.at, first);
      // userinfo from the page: CORS for the tenant's allowed origin.
      const info = await page.evaluate(([issuer, at]) => fetch(`${issuer}/v1/oauth/userinfo`, {
        headers: { authorization: `Bearer ${at}` },
      }).then((r) => r.json()), [base, renewed.at]);
      assert.deepEqual(info, { sub: profile.sub, email: 'spa@example.com', email_verified: true });
      // Signed out at the provider: silent renew says login_required.
      await page.goto(`${base}/login`);
      const out = await page.evaluate(() => fetch('/v1/logout', { method: 'POST', credentials: 'include' }).then((r) => r.status));
      assert.equal(out, 204);
      await page.goto(`http://localhost:${spa.port}/`);
      const silent = await page.evaluate(() => window.mgr.signinSilent().then(() => 'signed in', (e) => e.error ?? e.message));
      assert.equal(silent, 'login_required');
    } finally {
      await context.close();
    }
  });
});

describe('Auth.js (@auth/core) with dynauth as a generic OIDC provider', () => {
  test('a user signs in to the Auth.js app end to end', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      await page.goto(`${authjs.url}/`);
      assert.equal(await page.locator('#user').textContent(), 'nobody');
      await page.goto(`${authjs.url}/auth/signin`);
      await page.getByRole('button', { name: 'Sign in with dynauth' }).click();
      await page.waitForURL(`${base}/login?**`);
      await signIn(page, 'authjs@example.com');
      await page.waitForURL(`${authjs.url}/**`);
      await page.goto(`${authjs.url}/`);
      assert.equal(await page.locator('#user').textContent(), 'authjs@example.com');
    } finally {
      await context.close();
    }
  });
});
