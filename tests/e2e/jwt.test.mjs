// Session JWTs under wrangler dev, proved by two independent verifiers: npm `jose` (fetching the
// tenant's JWKS from the Worker, as a backend would) and Python's PyJWT with `cryptography`
// (tests/verify_jwt.py). Both accept a fresh token and refuse an expired one, one for another
// audience, another tenant's and a tampered one.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';

import { createRemoteJWKSet, customFetch, jwtVerify } from 'jose';

import { ROOT, admin, createTable, dynamodb, rawRequest, startWorker, stopAll, uniqueName } from './harness.mjs';

const table = uniqueName('e2e-jwt');
const ACME = 'app.acme.test';
const GLOBEX = 'app.globex.test';
const AUDIENCE = 'https://api.acme.test';
let worker;

before(async () => {
  createTable(table);
  // No host cache: a rotation made through the admin Worker shows at once on the edge.
  worker = await startWorker({ DYNAMODB_TABLE: table, HOST_CACHE_TTL_SECS: '0' });
  const acme = await admin(worker, 'PUT', '/v1/admin/tenants/acme', { name: 'Acme', jwt: { ttl_secs: 60, audience: AUDIENCE } });
  assert.equal(acme.status, 201, JSON.stringify(acme.body));
  assert.deepEqual(acme.body.jwt, { ttl_secs: 60, audience: AUDIENCE });
  assert.equal((await admin(worker, 'PUT', '/v1/admin/tenants/globex', { name: 'Globex' })).status, 201);
  for (const [tenant, host] of [['acme', ACME], ['globex', GLOBEX]]) {
    assert.equal((await admin(worker, 'PUT', `/v1/admin/tenants/${tenant}/domains/${host}`, { status: 'ready' })).status, 201);
  }
});

after(async () => {
  await stopAll();
  await dynamodb('DeleteTable', { TableName: table }).catch(() => {});
});

/** fetch for jose: the Worker listens on 127.0.0.1, so the URL's host becomes the Host header. */
function viaWorker(url, options = {}) {
  const u = new URL(url);
  return new Promise((ok, fail) => {
    const req = httpRequest({ host: '127.0.0.1', port: worker.port, path: u.pathname, method: options.method ?? 'GET', headers: { ...options.headers, host: u.host } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => ok(new Response(Buffer.concat(chunks), { status: res.statusCode, headers: res.headers })));
    });
    req.on('error', fail);
    req.end();
  });
}

async function session(tenant, userId) {
  const r = await admin(worker, 'POST', `/v1/admin/tenants/${tenant}/sessions`, { user_id: userId, email: `${userId}@example.com` });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

async function jwtFor(host, sessionToken) {
  const r = await rawRequest(`${worker.url}/v1/session/token`, { method: 'POST', host, headers: { authorization: `Bearer ${sessionToken}` } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

function tamper(token) {
  const [h, p, s] = token.split('.');
  const sig = Buffer.from(s, 'base64url');
  sig[10] ^= 1;
  return `${h}.${p}.${sig.toString('base64url')}`;
}

/** jose's answer: the payload, or the error code. */
async function jose(token, options, jwks) {
  try {
    const { payload } = await jwtVerify(token, jwks, { algorithms: ['EdDSA'], issuer: `http://${ACME}`, audience: AUDIENCE, ...options });
    return { ok: payload };
  } catch (e) {
    return { error: e.code ?? String(e) };
  }
}

function pyjwt(cases) {
  const input = JSON.stringify({ jwks_url: `${worker.url}/.well-known/jwks.json`, host: ACME, issuer: `http://${ACME}`, cases });
  const out = execFileSync(join(ROOT, '.tools/venv/bin/python'), [join(ROOT, 'tests/verify_jwt.py')], { input, encoding: 'utf8' });
  return JSON.parse(out);
}

describe('session JWTs', () => {
  test('jose and PyJWT verify a token from the JWKS, and both refuse expired, wrong-audience, other-tenant and tampered ones', async () => {
    const { token: sessionToken, session: s } = await session('acme', 'u-1');
    const issued = await jwtFor(ACME, sessionToken);
    assert.equal(issued.token_type, 'Bearer');
    assert.equal(issued.expires_in, 60);

    // A backend finds the JWKS through the discovery document of the issuer.
    const discovery = await rawRequest(`${worker.url}/.well-known/openid-configuration`, { host: ACME });
    assert.equal(discovery.status, 200);
    assert.equal(discovery.body.issuer, `http://${ACME}`); // https://{host} in production
    assert.equal(discovery.body.jwks_uri, `http://${ACME}/.well-known/jwks.json`);
    const published = await rawRequest(`${worker.url}/.well-known/jwks.json`, { host: ACME });
    assert.equal(published.headers['cache-control'], 'public, max-age=300');
    // The session JWTs' Ed25519 key, and beside it the OpenID Provider's RSA (RS256) and P-256
    // (ES256) keys.
    assert.deepEqual(
      published.body.keys.map((k) => [k.kty, k.crv, k.alg, k.use]),
      [['OKP', 'Ed25519', 'EdDSA', 'sig'], ['RSA', undefined, 'RS256', 'sig'], ['EC', 'P-256', 'ES256', 'sig']],
    );
    const jwks = createRemoteJWKSet(new URL(discovery.body.jwks_uri), { [customFetch]: viaWorker });

    const fresh = await jose(issued.token, {}, jwks);
    assert.ok(fresh.ok, JSON.stringify(fresh));
    const { jti, iat, exp, ...claims } = fresh.ok;
    assert.deepEqual(claims, { iss: `http://${ACME}`, sub: 'u-1', aud: AUDIENCE, sid: s.id, tid: 'acme', email: 'u-1@example.com' });
    assert.equal(exp - iat, 60);
    assert.match(jti, /^[A-Za-z0-9_-]{22}$/);

    const { token: globexSession } = await session('globex', 'u-1');
    const foreign = (await jwtFor(GLOBEX, globexSession)).token;
    const later = new Date((exp + 1) * 1000);
    assert.deepEqual(
      [
        await jose(issued.token, { currentDate: later }, jwks),
        await jose(issued.token, { audience: 'https://api.globex.test' }, jwks),
        await jose(foreign, {}, jwks),
        await jose(foreign, { issuer: `http://${GLOBEX}`, audience: 'globex' }, jwks),
        await jose(tamper(issued.token), {}, jwks),
      ],
      [
        { error: 'ERR_JWT_EXPIRED' },
        { error: 'ERR_JWT_CLAIM_VALIDATION_FAILED' },
        { error: 'ERR_JWKS_NO_MATCHING_KEY' },
        { error: 'ERR_JWKS_NO_MATCHING_KEY' },
        { error: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' },
      ],
    );
    // A forged payload under a real signature fails too.
    const [h, , sig] = issued.token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...fresh.ok, sub: 'admin' })).toString('base64url');
    assert.deepEqual(await jose(`${h}.${forged}.${sig}`, {}, jwks), { error: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });

    const py = pyjwt([
      { token: issued.token, audience: AUDIENCE },
      { token: issued.token, audience: AUDIENCE, at: exp + 1 },
      { token: issued.token, audience: 'https://api.globex.test' },
      { token: foreign, audience: 'globex' },
      { token: tamper(issued.token), audience: AUDIENCE },
    ]);
    assert.deepEqual(py, [
      { ok: fresh.ok },
      { error: 'ExpiredSignatureError' },
      { error: 'InvalidAudienceError' },
      { error: 'PyJWKSetError' },
      { error: 'InvalidSignatureError' },
    ]);
  });

  test('rotation: the new key signs, old tokens verify until the overlap ends; a revoked session gets no token', async () => {
    const { token: sessionToken, session: s } = await session('acme', 'u-2');
    const old = (await jwtFor(ACME, sessionToken)).token;
    const rotated = await admin(worker, 'POST', '/v1/admin/tenants/acme/secrets/jwt');
    assert.equal(rotated.status, 200);
    assert.equal(rotated.body.valid, 2);
    const fresh = (await jwtFor(ACME, sessionToken)).token;
    const kid = (t) => JSON.parse(Buffer.from(t.split('.')[0], 'base64url')).kid;
    assert.equal(kid(fresh), rotated.body.kid);
    assert.notEqual(kid(old), kid(fresh));
    const jwks = () => createRemoteJWKSet(new URL(`http://${ACME}/.well-known/jwks.json`), { [customFetch]: viaWorker });
    const during = jwks();
    assert.ok((await jose(old, {}, during)).ok, 'the previous key still verifies');
    assert.ok((await jose(fresh, {}, during)).ok);
    assert.deepEqual(pyjwt([{ token: old, audience: AUDIENCE }, { token: fresh, audience: AUDIENCE }]).map((r) => Object.keys(r)[0]), ['ok', 'ok']);

    const ended = await admin(worker, 'DELETE', '/v1/admin/tenants/acme/secrets/jwt/previous');
    assert.deepEqual(ended.body, { kind: 'jwt', kid: rotated.body.kid, valid: 1 });
    const afterwards = jwks();
    assert.deepEqual(await jose(old, {}, afterwards), { error: 'ERR_JWKS_NO_MATCHING_KEY' });
    assert.ok((await jose(fresh, {}, afterwards)).ok);
    assert.deepEqual(pyjwt([{ token: old, audience: AUDIENCE }]), [{ error: 'PyJWKSetError' }]);

    // A page of another origin cannot have the browser mint one; the host itself can.
    const cookie = `__Host-dynauth=${sessionToken}`;
    const own = await rawRequest(`${worker.url}/v1/session/token`, { method: 'POST', host: ACME, headers: { cookie, origin: `http://${ACME}` } });
    assert.equal(own.status, 200);
    const evil = await rawRequest(`${worker.url}/v1/session/token`, { method: 'POST', host: ACME, headers: { cookie, origin: 'https://evil.test' } });
    assert.deepEqual([evil.status, evil.body.error.code], [403, 'forbidden_origin']);

    assert.equal((await admin(worker, 'DELETE', `/v1/admin/tenants/acme/sessions/${s.id}`)).status, 204);
    const revoked = await rawRequest(`${worker.url}/v1/session/token`, { method: 'POST', host: ACME, headers: { authorization: `Bearer ${sessionToken}` } });
    assert.deepEqual([revoked.status, revoked.body.error.code], [401, 'invalid_session']);
    await worker.waitForLog(/"route":"session_token","tenant":"acme","status":401/);
  });
});
