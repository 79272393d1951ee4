// The origin-side verifier of dynauth's signed identity header (also dynauth's reference verifier:
// examples/verify-identity.mjs re-exports it). WebCrypto only: Node 20+, Deno, Bun, Workers.
//
// The header: `x-dynauth-identity: v1; t=<unix>; tenant=<id>; user=<id>; session=<id>; sig=<hex>[; sig=<hex>]`.
// Each sig is hex HMAC-SHA256(origin secret, "v1\n<t>\n<tenant>\n<user>\n<session>\n<METHOD>\n<host>\n<path+query>"),
// where host is the `x-forwarded-host` dynauth sends. During a rotation dynauth signs with both
// secrets; hold both (`secrets: [next, current]`) until the overlap ends.

const encoder = new TextEncoder();

/** How old a header may be, in seconds. */
export const MAX_AGE_SECS = 60;

function checkOptions(secrets, tenant) {
  if (!Array.isArray(secrets) || secrets.length === 0 || !secrets.every((s) => typeof s === 'string' && s !== '')) {
    throw new TypeError('dynauth: secrets must be a non-empty array of the tenant\'s origin secrets');
  }
  if (typeof tenant !== 'string' || tenant === '') throw new TypeError('dynauth: tenant must be the tenant id');
}

/**
 * Who is calling, `{ tenant, user, session }`, when `header` is a valid dynauth identity for this
 * request; null otherwise (missing, malformed, another tenant, older than `maxAgeSecs`, or no
 * signature made with one of `secrets`).
 */
export async function verifyIdentityHeader(header, { secrets, tenant, method, host, pathAndQuery, now, maxAgeSecs }) {
  checkOptions(secrets, tenant);
  if (typeof header !== 'string') return null;
  const fields = {};
  const sigs = [];
  const parts = header.split(';').map((p) => p.trim());
  if (parts[0] !== 'v1') return null;
  for (const part of parts.slice(1)) {
    const at = part.indexOf('=');
    if (at < 0) return null;
    const [key, value] = [part.slice(0, at), part.slice(at + 1)];
    if (key === 'sig') sigs.push(value);
    else fields[key] = value;
  }
  const t = Number(fields.t);
  const clock = now ?? Math.floor(Date.now() / 1000);
  if (!Number.isSafeInteger(t) || Math.abs(clock - t) > (maxAgeSecs ?? MAX_AGE_SECS)) return null;
  if (fields.tenant !== tenant || !fields.user || !fields.session) return null;
  const canonical = encoder.encode(
    ['v1', String(t), fields.tenant, fields.user, fields.session, method.toUpperCase(), host, pathAndQuery].join('\n'),
  );
  for (const secret of secrets) {
    const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
    for (const sig of sigs) {
      const bytes = hexBytes(sig);
      // crypto.subtle.verify compares in constant time.
      if (bytes && (await crypto.subtle.verify('HMAC', key, bytes, canonical))) {
        return { tenant: fields.tenant, user: fields.user, session: fields.session };
      }
    }
  }
  return null;
}

/** `verifyIdentityHeader` for a WHATWG `Request` as the origin received it from dynauth. */
export async function verifyIdentity(request, { secrets, tenant, now, maxAgeSecs }) {
  const url = new URL(request.url);
  return verifyIdentityHeader(request.headers.get('x-dynauth-identity'), {
    secrets,
    tenant,
    method: request.method,
    host: request.headers.get('x-forwarded-host') ?? url.host,
    pathAndQuery: url.pathname + url.search,
    now,
    maxAgeSecs,
  });
}

function hexBytes(hex) {
  if (!/^[0-9a-f]{64}$/.test(hex)) return null;
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}
