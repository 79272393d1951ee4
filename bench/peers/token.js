// The token-request peer: dynauth's `POST /v1/oauth/token` for an authorization_code grant and
// an RS256 client, as a JavaScript Worker would do it over aws4fetch and jose (Web Crypto). It
// redeems the codes dynauth's own authorization endpoint issued, in the same table, and does per
// request what dynauth does (src/app/oauth/token/mod.rs, src/app/oauth/client_auth.rs,
// src/domain/oidc/mod.rs `Grants::redeem` and `delivered`, src/domain/oidc/tokens.rs):
//   tenant by Host (the in-isolate cache of bench/peers/lookup.js: no call once warm)
//   1. GetItem (consistent) of the client; HTTP Basic, each half form-decoded; the secret's
//      SHA-256 (crypto.subtle) compared in constant time with each stored hash
//   2. GetItem of the client's failure budget for this address (dynauth reads it before it
//      compares a confidential client's secret)
//   3. GetItem (consistent) of the code by its SHA-256: tenant incarnation, client, unused,
//      unexpired, redirect_uri, PKCE S256 (compared in constant time)
//   4. GetItem (consistent) of the session it was issued in: live (not revoked, not expired)
//   the grant secret HMAC-SHA256 under JWT_MASTER_KEY (dynauth's length-prefixed parts), its
//   SHA-256 the grant id
//   5. TransactWriteItems (with a ClientRequestToken): Update of the code (SET used_at, grant_id
//      if it exists and has no used_at) and Put of the grant (its GSI1/GSI2 keys, if new)
//   two RS256 JWTs signed with jose: the access token (`typ: at+jwt`, RFC 9068 claims and `gid`),
//   then the ID token (`at_hash`: the left half of the access token's SHA-256)
//   6. UpdateItem of the code: SET delivered_at (if it exists), before the 200
//   the JSON answer (no-store, Pragma: no-cache) and one JSON log line.
// Six DynamoDB calls, as dynauth's log counts for the same request.
//
// Differences from dynauth, none of them in the measured steady state:
// - The RSA key is generated once per isolate (crypto.subtle, exported as a JWK and imported with
//   jose's importJWK); dynauth reads the tenant's stored key once per isolate, opens it (AES-GCM
//   under a key derived from JWT_MASTER_KEY) and caches it.
// - It is one Worker; dynauth's edge hands /v1/oauth/* to its admin Worker through the ADMIN
//   service binding, and that hop is part of dynauth's CPU.
// - Paths no bench request takes are shorter: a failed transaction condition or a second use of a
//   code answers invalid_grant without revoking the grant dynauth revokes; a wrong secret answers
//   401 without spending the failure budget; the `profile` scope's user read and the retry of an
//   answer that was lost (dynauth's `redeemed_again`) are left out; refresh_token grants are not
//   served.
import { SignJWT, calculateJwkThumbprint, importJWK } from 'jose';

import { awsDb } from './aws4fetch.js';
import { b64url, canonicalHost, fail, requestId, tenantOf } from './lookup.js';

const BUDGET_WINDOW_SECS = 900; // dynauth's budgets::Limits: window_secs
const BUDGET_PER_ADDRESS = 20; // and client_auth_failures_per_ip
const enc = new TextEncoder();

let db;
let signing; // Promise<{ key: CryptoKey, kid }>, once per isolate
let master; // Promise<CryptoKey>: HMAC-SHA256 under JWT_MASTER_KEY, once per isolate

function signingKey() {
  signing ??= (async () => {
    const pair = await crypto.subtle.generateKey(
      { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
      true, ['sign', 'verify'],
    );
    const jwk = await crypto.subtle.exportKey('jwk', pair.privateKey);
    const kid = await calculateJwkThumbprint({ kty: 'RSA', e: jwk.e, n: jwk.n });
    return { key: await importJWK(jwk, 'RS256'), kid };
  })();
  return signing;
}

function masterKey(env) {
  master ??= crypto.subtle.importKey('raw', enc.encode(env.JWT_MASTER_KEY), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return master;
}

const sha256 = async (text) => new Uint8Array(await crypto.subtle.digest('SHA-256', enc.encode(text)));
const hashB64 = async (text) => b64url(await sha256(text));

/** Equality that takes the same time wherever the strings differ. */
function constantTimeEq(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i += 1) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** dynauth's hmac_parts: HMAC-SHA256 over each part prefixed by its length (u64, big-endian). */
async function hmacParts(key, parts) {
  const bytes = parts.map((p) => enc.encode(p));
  const out = new Uint8Array(bytes.reduce((n, b) => n + 8 + b.length, 0));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const b of bytes) {
    view.setBigUint64(at, BigInt(b.length));
    out.set(b, at + 8);
    at += 8 + b.length;
  }
  return b64url(new Uint8Array(await crypto.subtle.sign('HMAC', key, out)));
}

const oauthError = (status, error, description, headers = {}) => new Response(
  JSON.stringify({ error, error_description: description }),
  { status, headers: { 'content-type': 'application/json', 'cache-control': 'no-store', pragma: 'no-cache', ...headers } },
);
const invalidGrant = (description) => oauthError(400, 'invalid_grant', description);
const s = (v) => ({ S: v });
const n = (v) => ({ N: String(v) });

/** A stored item (DynamoDB JSON) as a plain object: strings, numbers, lists, maps. */
function plain(item) {
  const one = (v) => ('S' in v ? v.S : 'N' in v ? Number(v.N) : 'L' in v ? v.L.map(one) : 'M' in v ? plain(v.M)
    : 'BOOL' in v ? v.BOOL : null);
  return Object.fromEntries(Object.entries(item).map(([k, v]) => [k, one(v)]));
}

export default {
  async fetch(request, env) {
    db ??= awsDb(env);
    const started = Date.now();
    const stats = { calls: 0 };
    const log = { request_id: requestId(request), method: request.method, route: 'oauth_token', tenant: null };
    let response;
    try {
      response = await token(request, env, log, stats);
    } catch (e) {
      log.error_detail = String(e);
      response = fail(503, 'unavailable', 'the database is busy or unreachable; retry after the time in Retry-After');
    }
    Object.assign(log, { status: response.status, duration_ms: Date.now() - started, dynamodb_calls: stats.calls });
    console.log(JSON.stringify(log));
    return response;
  },
};

async function token(request, env, log, stats) {
  const url = new URL(request.url);
  if (url.pathname === '/health') return new Response('{"status":"ok"}', { headers: { 'content-type': 'application/json' } });
  if (url.pathname !== '/v1/oauth/token') return fail(404, 'not_found', `no route for ${url.pathname}`);
  if (request.method !== 'POST') return fail(405, 'method_not_allowed', 'this path accepts only POST');
  const host = canonicalHost(request.headers.get('host'));
  if (!host) return fail(400, 'invalid_host', 'the Host is invalid');
  const tenant = await tenantOf(db, host, stats);
  if (!tenant) return fail(404, 'unknown_host', `no tenant serves the host ${host}`);
  log.tenant = tenant.id;
  const issuer = `${url.protocol}//${host}`;
  const table = env.DYNAMODB_TABLE;
  const type = (request.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') return oauthError(400, 'invalid_request', 'the body must be a form');
  const params = new URLSearchParams(await request.text());

  // Client authentication: HTTP Basic (client_secret_basic).
  const unauthorized = (d) => oauthError(401, 'invalid_client', d, { 'www-authenticate': 'Basic realm="dynauth"' });
  const basic = /^\s*basic\s+(\S+)\s*$/i.exec(request.headers.get('authorization') ?? '');
  if (!basic) return unauthorized('client authentication failed');
  let id;
  let secret;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(atob(basic[1]), (c) => c.charCodeAt(0)));
    const colon = text.indexOf(':');
    if (colon < 0) throw new Error('no colon');
    const pairs = new URLSearchParams(`i=${text.slice(0, colon)}&s=${text.slice(colon + 1)}`);
    [id, secret] = [pairs.get('i'), pairs.get('s')];
  } catch {
    return unauthorized('the Basic credentials are malformed');
  }
  const tenantHolds = (r) => r && r.tenant === tenant.id && r.tenant_generation === tenant.generation;
  stats.calls += 1;
  const client = await db.get({ PK: `TENANT#${tenant.id}#CLIENT#${id}`, SK: 'CLIENT' }, true);
  if (!tenantHolds(client) || client.client_type !== 'confidential') return unauthorized('client authentication failed');
  const now = Math.floor(Date.now() / 1000);
  const window = now - (now % BUDGET_WINDOW_SECS);
  const address = request.headers.get('cf-connecting-ip')?.trim() || 'unknown';
  stats.calls += 1;
  const spent = await db.get({ PK: `TENANT#${tenant.id}#BUDGET#client_auth_ip#${id}|${address}#${window}`, SK: 'BUDGET' }, false);
  if ((spent?.count ?? 0) >= BUDGET_PER_ADDRESS) return fail(429, 'too_many_requests', 'too many failed client authentications');
  const presented = await hashB64(secret);
  if (!client.secret_hashes.reduce((found, h) => found | constantTimeEq(h, presented), false)) {
    return unauthorized('client authentication failed');
  }

  // The grant: an authorization code, redeemed once.
  if (params.get('grant_type') !== 'authorization_code') {
    return oauthError(400, 'unsupported_grant_type', 'grant_type must be authorization_code');
  }
  const code = params.get('code');
  if (!code) return oauthError(400, 'invalid_request', 'code is missing');
  const redirectUri = params.get('redirect_uri');
  const verifier = params.get('code_verifier');
  const codeHash = await hashB64(code);
  const codeKey = { PK: s(`TENANT#${tenant.id}#AUTH_CODE#${codeHash}`), SK: s('AUTH_CODE') };
  stats.calls += 1;
  const got = await db.call('GetItem', { TableName: table, Key: codeKey, ConsistentRead: true });
  const stored = got.Item && plain(got.Item);
  if (!tenantHolds(stored)) return invalidGrant('the code is unknown or has expired');
  if (stored.client_id !== client.client_id) return invalidGrant('the code was issued to another client');
  if (stored.used_at !== undefined) return invalidGrant('the code has already been used');
  if (now >= stored.expires_at) return invalidGrant('the code has expired');
  if (redirectUri !== stored.redirect_uri) return invalidGrant('redirect_uri is not the one the code was issued for');
  if (!verifier) return invalidGrant('code_verifier is required (PKCE)');
  const wellFormed = verifier.length >= 43 && verifier.length <= 128 && /^[A-Za-z0-9._~-]+$/.test(verifier);
  if (!wellFormed || !constantTimeEq(await hashB64(verifier), stored.code_challenge)) {
    return invalidGrant('code_verifier does not match the code_challenge');
  }
  stats.calls += 1;
  const session = await db.get({ PK: `TENANT#${tenant.id}#SESSION#${stored.session_id}`, SK: 'SESSION' }, true);
  if (!tenantHolds(session) || session.revoked_at !== undefined || now >= session.expires_at) {
    return invalidGrant('the session the code was issued in has ended');
  }
  const key = await masterKey(env);
  const grantSecret = await hmacParts(key, ['dynauth-oidc-grant-v1', tenant.id, code]);
  const grantId = await hashB64(grantSecret);
  const offline = stored.scopes.includes('offline_access') || tenant.oidc?.refresh_tokens === 'always';
  let refreshToken;
  let refreshHash;
  if (offline) {
    const rotating = await hmacParts(key, ['dynauth-oidc-refresh-v1', grantId, '']);
    refreshToken = `${grantSecret}.${rotating}`;
    refreshHash = await hashB64(rotating);
  }
  const grant = {
    PK: s(`TENANT#${tenant.id}#GRANT#${grantId}`), SK: s('GRANT'),
    GSI1PK: s(`TENANT#${tenant.id}#SESSION#${stored.session_id}#GRANTS`), GSI1SK: s(`GRANT#${grantId}`),
    GSI2PK: s(`TENANT#${tenant.id}#CLIENT#${client.client_id}#GRANTS`), GSI2SK: s('GRANT'),
    type: s('grant'), tenant: s(tenant.id), tenant_generation: s(tenant.generation), grant_id: s(grantId),
    issuer: s(issuer), client_id: s(client.client_id), user_id: s(stored.user_id), session_id: s(stored.session_id),
    scopes: { L: stored.scopes.map(s) }, auth_time: n(stored.auth_time), created_at: n(now),
    expires_at: n(session.expires_at), ttl: n(session.expires_at),
  };
  if (stored.email !== undefined) grant.email = s(stored.email);
  if (refreshHash) grant.refresh_hash = s(refreshHash);
  const requestToken = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
  stats.calls += 1;
  try {
    await db.call('TransactWriteItems', {
      ClientRequestToken: requestToken,
      TransactItems: [
        { Update: {
          TableName: table, Key: codeKey,
          UpdateExpression: 'SET #n0 = :v0, #n1 = :v1',
          ConditionExpression: 'attribute_exists(#n2) AND attribute_not_exists(#n0)',
          ExpressionAttributeNames: { '#n0': 'used_at', '#n1': 'grant_id', '#n2': 'PK' },
          ExpressionAttributeValues: { ':v0': n(now), ':v1': s(grantId) },
        } },
        { Put: {
          TableName: table, Item: grant,
          ConditionExpression: 'attribute_not_exists(#n0)', ExpressionAttributeNames: { '#n0': 'PK' },
        } },
      ],
    });
  } catch (e) {
    if (String(e).includes('TransactionCanceled')) return invalidGrant('the code has already been used');
    throw e;
  }

  // The tokens: an access token (RFC 9068) and an ID token, RS256.
  const { key: rsa, kid } = await signingKey();
  const scope = stored.scopes.join(' ');
  const exp = Math.min(now + (tenant.jwt?.ttl_secs ?? 300), session.expires_at);
  const jti = b64url(crypto.getRandomValues(new Uint8Array(16)));
  const accessToken = await new SignJWT({
    iss: issuer, sub: stored.user_id, aud: `${issuer}/v1/oauth/userinfo`, exp, iat: now, jti,
    client_id: client.client_id, scope, sid: stored.session_id, auth_time: stored.auth_time, gid: grantId,
  }).setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid }).sign(rsa);
  const idClaims = { iss: issuer, sub: stored.user_id, aud: client.client_id, exp, iat: now, auth_time: stored.auth_time };
  if (stored.nonce !== undefined) idClaims.nonce = stored.nonce;
  idClaims.sid = stored.session_id;
  if (stored.email !== undefined && stored.scopes.includes('email')) {
    Object.assign(idClaims, { email: stored.email, email_verified: true });
  }
  idClaims.at_hash = b64url((await sha256(accessToken)).slice(0, 16));
  const idToken = await new SignJWT(idClaims).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid }).sign(rsa);

  // Marked as handed out before the 200 (a failed mark is left: the tokens go out all the same).
  stats.calls += 1;
  await db.call('UpdateItem', {
    TableName: table, Key: codeKey, UpdateExpression: 'SET #n0 = :v0', ConditionExpression: 'attribute_exists(#n1)',
    ExpressionAttributeNames: { '#n0': 'delivered_at', '#n1': 'PK' }, ExpressionAttributeValues: { ':v0': n(now) },
  }).catch(() => {});
  const body = { access_token: accessToken, token_type: 'Bearer', expires_in: exp - now, id_token: idToken };
  if (refreshToken) body.refresh_token = refreshToken;
  body.scope = scope;
  return new Response(JSON.stringify(body), {
    status: 200, headers: { 'content-type': 'application/json', 'cache-control': 'no-store', pragma: 'no-cache' },
  });
}
