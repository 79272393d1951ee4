// Reference verifier of dynauth's signed identity header, for an origin behind dynauth. It is the
// JS client's own verifier (clients/js/src/identity.js), re-exported here so there is one copy:
// in an app, `import { verifyIdentity } from '@dynauth/client/server'`. WebCrypto only: runs on
// Node 20+, Deno, Bun and Workers.
//
//   import { verifyIdentity } from './verify-identity.mjs';
//   const who = await verifyIdentity(request, { tenant: 'acme', secrets: [process.env.DYNAUTH_ORIGIN_SECRET] });
//   if (!who) return new Response('forbidden', { status: 403 });
//   // who.user, who.session
//
// The header: `x-dynauth-identity: v1; t=<unix>; tenant=<id>; user=<id>; session=<id>; sig=<hex>[; sig=<hex>]`.
// Each sig is hex HMAC-SHA256(origin secret, "v1\n<t>\n<tenant>\n<user>\n<session>\n<METHOD>\n<host>\n<path+query>"),
// where host is the `x-forwarded-host` dynauth sends. During a rotation dynauth signs with both secrets; hold
// both (`secrets: [next, current]`) until the overlap ends.
export { MAX_AGE_SECS, verifyIdentity, verifyIdentityHeader } from '../clients/js/src/identity.js';
