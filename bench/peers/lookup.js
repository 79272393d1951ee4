// The session lookup every JavaScript peer does, written once so the peers differ only in how
// they talk to DynamoDB. It is what dynauth's `GET /v1/session` does: resolve the tenant from the
// Host (an in-isolate cache in front of one GetItem of the domain item, 60 s for a hit, 5 s for a
// miss), take the token from `Authorization: Bearer` or the `__Host-dynauth` cookie, hash it,
// read the session with ONE consistent GetItem, check tenant, generation, revocation and both
// expiries, defer the idle slide when due, answer the same JSON, and log one JSON line.
//
// `db` is { get(key, consistent) -> Promise<plain object | undefined>, update(params) -> Promise }
// with the peer's own client behind it. With `jwt` (bench/peers/jwt.js), the handler serves
// `POST /v1/session/token` too: the same lookup, then `jwt(...)` answers with a token for the
// live session.

const HIT_MS = 60_000;
const MISS_MS = 5_000;
const MAX_ENTRIES = 1000;
const hosts = new Map(); // canonical host -> { tenant: object | null, expires: ms }

export const json = (status, body) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  });

export const fail = (status, code, message) => json(status, { error: { code, message } });

export function canonicalHost(raw) {
  if (!raw) return null;
  try {
    const host = new URL(`http://${raw}`).hostname;
    return host.endsWith('.') ? host.slice(0, -1) : host;
  } catch {
    return null;
  }
}

export async function tenantOf(db, host, stats) {
  const now = Date.now();
  const hit = hosts.get(host);
  if (hit && hit.expires > now) return hit.tenant;
  stats.calls += 1;
  const domain = await db.get({ PK: `DOMAIN#${host}`, SK: 'DOMAIN' }, false);
  const tenant = domain && domain.status === 'ready' ? domain.tenant_record : null;
  if (hosts.size >= MAX_ENTRIES) hosts.clear();
  hosts.set(host, { tenant, expires: now + (tenant ? HIT_MS : MISS_MS) });
  return tenant;
}

function presentedToken(headers) {
  const auth = headers.get('authorization');
  if (auth && auth.startsWith('Bearer ')) return auth.slice(7).trim();
  const cookie = headers.get('cookie');
  if (!cookie) return null;
  for (const pair of cookie.split(';')) {
    const i = pair.indexOf('=');
    if (i > 0 && pair.slice(0, i).trim() === '__Host-dynauth') return pair.slice(i + 1).trim();
  }
  return null;
}

const TOKEN = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/; // 43 base64url characters of 32 bytes

export function b64url(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export const rfc3339 = (secs) => new Date(secs * 1000).toISOString().replace('.000Z', 'Z');

export function requestId(request) {
  const ray = request.headers.get('cf-ray');
  if (ray && ray.length <= 64) return ray;
  const b = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** The fetch handler of a lookup peer over `db`. */
export function lookupHandler(makeDb, { jwt } = {}) {
  let db;
  return async function fetch(request, env, ctx) {
    db ??= makeDb(env);
    const started = Date.now();
    const stats = { calls: 0 };
    const log = { request_id: requestId(request), method: request.method, route: 'session', tenant: null };
    let response;
    try {
      response = await lookup(request, env, ctx, log, stats);
    } catch (e) {
      log.error_detail = String(e);
      response = fail(503, 'unavailable', 'the database is busy or unreachable; retry after the time in Retry-After');
    }
    Object.assign(log, { status: response.status, duration_ms: Date.now() - started, dynamodb_calls: stats.calls });
    console.log(JSON.stringify(log));
    return response;
  };

  async function lookup(request, env, ctx, log, stats) {
    const url = new URL(request.url);
    if (url.pathname === '/health') {
      log.route = 'health';
      return json(200, { status: 'ok' });
    }
    const minting = jwt && url.pathname === '/v1/session/token';
    if (minting) {
      log.route = 'session_token';
      if (request.method !== 'POST') return fail(405, 'method_not_allowed', 'this path accepts only POST');
    } else {
      if (url.pathname !== '/v1/session') return fail(404, 'not_found', `no route for ${url.pathname}`);
      if (request.method !== 'GET' && request.method !== 'HEAD') return fail(405, 'method_not_allowed', 'this path accepts only GET');
    }
    const host = canonicalHost(request.headers.get('host'));
    if (!host) return fail(400, 'invalid_host', 'the Host is invalid');
    const tenant = await tenantOf(db, host, stats);
    if (!tenant) return fail(404, 'unknown_host', `no tenant serves the host ${host}`);
    log.tenant = tenant.id;
    const invalid = () => fail(401, 'invalid_session', 'no live session: sign in again');
    const token = presentedToken(request.headers);
    if (!token || !TOKEN.test(token)) return invalid();
    const id = b64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token))));
    stats.calls += 1;
    const s = await db.get({ PK: `TENANT#${tenant.id}#SESSION#${id}`, SK: 'SESSION' }, true);
    const now = Math.floor(Date.now() / 1000);
    const live = s && s.tenant === tenant.id && s.tenant_generation === tenant.generation && s.revoked_at === undefined
      && now < s.expires_at && now < s.idle_expires_at;
    if (!live) return invalid();
    const idle = tenant.session.idle_lifetime_secs;
    if (now - s.last_seen_at >= Math.max(Math.floor(idle / 10), 60)) {
      const idleExpires = Math.min(now + idle, s.expires_at);
      if (idleExpires > s.idle_expires_at) ctx.waitUntil(db.update(slide(env, tenant.id, s, now, idleExpires)).catch(() => {}));
    }
    if (minting) return jwt(env, tenant, s, now, `${url.protocol}//${host}`);
    return json(200, {
      session: {
        id: s.id, user_id: s.user_id, email: s.email ?? null, created_at: rfc3339(s.created_at),
        expires_at: rfc3339(s.expires_at), idle_expires_at: rfc3339(s.idle_expires_at),
      },
      user: { id: s.user_id, email: s.email ?? null },
    });
  }
}

/** The UpdateItem of an idle slide, with dynauth's conditions. */
function slide(env, tenant, s, now, idleExpires) {
  return {
    TableName: env.DYNAMODB_TABLE,
    Key: { PK: `TENANT#${tenant}#SESSION#${s.id}`, SK: 'SESSION' },
    UpdateExpression: 'SET #i = :i, #l = :now, #t = :t',
    ConditionExpression: 'attribute_exists(#pk) AND attribute_not_exists(#r) AND #e > :now AND #i > :now AND #i < :i',
    ExpressionAttributeNames: { '#i': 'idle_expires_at', '#l': 'last_seen_at', '#t': 'ttl', '#pk': 'PK', '#r': 'revoked_at', '#e': 'expires_at' },
    ExpressionAttributeValues: { ':i': idleExpires, ':now': now, ':t': Math.max(idleExpires, s.expires_at) },
  };
}
