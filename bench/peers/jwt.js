// The session JWT peer (aws4fetch-jwt): dynauth's `POST /v1/session/token` as a JavaScript Worker
// would write it. The lookup of bench/peers/lookup.js over aws4fetch (the same tenant resolution
// and ONE consistent GetItem of the session), then one EdDSA (Ed25519) JWT signed with jose over
// Web Crypto, with dynauth's header (`typ: session+jwt`, `kid`) and claims (iss, sub, aud, iat,
// exp, jti, sid, tid, email), answered as dynauth answers it. `GET /v1/session` stays the plain
// lookup, so one process serves both sides of the "session JWT / lookup" ratio.
//
// Differences from dynauth, none of them per-request work: the Ed25519 key is generated once per
// isolate (dynauth derives the tenant's key from JWT_MASTER_KEY once per isolate and caches it);
// the peer is one Worker, where dynauth's edge hands the route to its admin Worker through the
// ADMIN service binding (that hop is in dynauth's CPU, not here).
import { SignJWT, calculateJwkThumbprint, importJWK } from 'jose';

import { awsDb } from './aws4fetch.js';
import { b64url, json, lookupHandler, rfc3339 } from './lookup.js';

let signing; // Promise<{ key: CryptoKey, kid }>, once per isolate

function signingKey() {
  signing ??= (async () => {
    const pair = await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify']);
    const jwk = await crypto.subtle.exportKey('jwk', pair.privateKey);
    const kid = await calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x });
    return { key: await importJWK(jwk, 'EdDSA'), kid };
  })();
  return signing;
}

async function sessionJwt(env, tenant, s, now, issuer) {
  const { key, kid } = await signingKey();
  const ttl = tenant.jwt?.ttl_secs ?? 300;
  const exp = Math.min(now + ttl, s.expires_at, s.idle_expires_at);
  const claims = {
    iss: issuer, sub: s.user_id, aud: tenant.jwt?.audience ?? tenant.id, iat: now, exp,
    jti: b64url(crypto.getRandomValues(new Uint8Array(16))), sid: s.id, tid: tenant.id,
  };
  if (s.email !== undefined) claims.email = s.email;
  const token = await new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', typ: 'session+jwt', kid }).sign(key);
  return json(200, { token, token_type: 'Bearer', expires_at: rfc3339(exp), expires_in: exp - now });
}

export default { fetch: lookupHandler(awsDb, { jwt: sessionJwt }) };
