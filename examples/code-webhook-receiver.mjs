// Example receiver of dynauth's code webhook: checks the signature, then emails the login code
// through Postmark's HTTP API (https://postmarkapp.com/developer/api/email-api). Node 20+, no
// dependencies.
//
//   WEBHOOK_SECRETS=<webhook secret> MAIL_API_TOKEN=<server token> MAIL_FROM='Acme <login@acme.com>' \
//     node examples/code-webhook-receiver.mjs
//
// Put it behind a TLS proxy and make that https URL the tenant's `code_webhook_url` (then
// WEBHOOK_SECRETS is the tenant's webhook secret) or the platform's `CODE_WEBHOOK_URL` (then it is
// `CODE_WEBHOOK_SECRET`). During a rotation give it both secrets, comma-separated.
//
// Answers: 204 once Postmark accepted the email; 502 when it refused or did not answer within 4 s (dynauth
// then answers 502 delivery_failed and stores no code); 401 a missing, wrong or stale signature; 409 a
// delivery already seen (a replay); 400 a malformed body; 413 a body over 16 KB; 404, 405.
//
// Replays are remembered in memory, for one process. Several instances need a shared store for it (for
// example Redis `SET login:<id> 1 NX EX 600`). dynauth gives a whole request REQUEST_DEADLINE_MS (5 s by
// default), its webhook call included, so the provider gets 4 s here: a slower one is a 502, never a mail
// with a code dynauth did not store.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';

const MAX_BODY_BYTES = 16 * 1024;
/** How far `t` may be from our clock, in seconds (dynauth's replay window). */
const TOLERANCE_SECS = 300;

// The body's fields, as dynauth sends them. `email` cannot hold `,` `;` `<` `>` `"` or spaces: Postmark
// reads `To` as a list of `Name <address>` entries, and one delivery must reach one address.
const FIELDS = {
  tenant: /^[a-z0-9][a-z0-9-]{0,62}$/,
  email: /^(?=.{3,254}$)[^\s@,;:<>()[\]\\"]{1,64}@[^\s@,;:<>()[\]\\"]+\.[^\s@,;:<>()[\]\\"]+$/,
  code: /^[0-9]{6,10}$/,
  login_id: /^[A-Za-z0-9_-]{22}$/,
  expires_at: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
};

/** The `t` of a valid `x-dynauth-signature` for `raw` (any `v1`, any secret), or null. */
export function verifySignature(header, raw, secrets, nowSecs) {
  if (typeof header !== 'string') return null;
  let t = null;
  const given = [];
  for (const part of header.split(',')) {
    const [key, value = ''] = part.trim().split('=', 2);
    if (key === 't') t = value;
    else if (key === 'v1' && /^[0-9a-f]{64}$/i.test(value)) given.push(Buffer.from(value, 'hex'));
  }
  if (!/^[0-9]{1,12}$/.test(t ?? '') || Math.abs(nowSecs - Number(t)) > TOLERANCE_SECS) return null;
  for (const secret of secrets) {
    // The exact bytes dynauth signed: "<t>." then the raw body, never a re-serialized object.
    const expected = createHmac('sha256', secret).update(`${t}.`).update(raw).digest();
    if (given.some((sig) => timingSafeEqual(sig, expected))) return Number(t);
  }
  return null;
}

const escapeHtml = (s) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

/** The email for one delivery, in Postmark's JSON shape. Everything put into HTML is escaped. */
function composeMail({ tenant, email, code, expires_at }, { from, subject }) {
  const expiry = expires_at.replace('T', ' ').replace('Z', ' UTC');
  const h = escapeHtml;
  return {
    From: from,
    To: email,
    Subject: subject.replaceAll('{tenant}', tenant).replaceAll('{code}', code),
    TextBody: `Your login code for ${tenant} (${email}) is:\n\n${code}\n\nIt expires at ${expiry}.\n\n` +
      'If you did not ask for it, ignore this email.\n',
    HtmlBody: `<p>Your login code for ${h(tenant)} (${h(email)}) is:</p>\n` +
      `<p style="font-size:24px"><strong>${h(code)}</strong></p>\n` +
      `<p>It expires at ${h(expiry)}.</p>\n<p>If you did not ask for it, ignore this email.</p>\n`,
    MessageStream: 'outbound',
  };
}

/** The raw body, or null as soon as it is over `limit` bytes (the connection is then closed). */
function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    const onData = (chunk) => {
      size += chunk.length;
      if (size <= limit) return chunks.push(chunk);
      req.off('data', onData).pause();
      resolve(null);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * The receiver, an http.Server not yet listening. `secrets`: the webhook secrets (strings, one or two);
 * `mailApiToken`, `mailFrom`: the Postmark server token and sender; `subject` may use {tenant} and {code}.
 */
export function createReceiver({
  secrets,
  mailApiUrl = 'https://api.postmarkapp.com/email',
  mailApiToken,
  mailFrom,
  subject = 'Your login code',
  path = '/',
  timeoutMs = 4_000,
  log = (entry) => console.log(JSON.stringify(entry)),
}) {
  if (!secrets?.length || secrets.some((s) => !s)) throw new Error('WEBHOOK_SECRETS: at least one secret is required');
  if (!mailApiToken) throw new Error('MAIL_API_TOKEN is required');
  if (!mailFrom) throw new Error('MAIL_FROM is required');
  const seen = new Map(); // login_id -> unix second after which its timestamp is refused anyway

  async function handle(req, entry) {
    if (new URL(req.url, 'http://receiver').pathname !== path) return [404, 'not_found'];
    if (req.method !== 'POST') return [405, 'method_not_allowed'];
    const raw = await readBody(req, MAX_BODY_BYTES);
    if (raw === null) return [413, 'body_too_large'];

    const nowSecs = Math.floor(Date.now() / 1000);
    const t = verifySignature(req.headers['x-dynauth-signature'], raw, secrets, nowSecs);
    if (t === null) return [401, 'bad_signature'];

    let body;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return [400, 'bad_json'];
    }
    const bad = Object.keys(FIELDS).find((k) => typeof body?.[k] !== 'string' || !FIELDS[k].test(body[k]));
    if (bad) return [400, `bad_${bad}`];
    Object.assign(entry, { tenant: body.tenant, login_id: body.login_id });

    // A signed delivery replayed within the window: refuse the copy (past the window, `t` is refused).
    // The id is kept even if the send fails: dynauth never resends a login_id (a new start, a new login).
    for (const [id, until] of seen) if (until < nowSecs) seen.delete(id);
    if (seen.has(body.login_id)) return [409, 'replayed'];
    seen.set(body.login_id, t + TOLERANCE_SECS);

    try {
      const answer = await fetch(mailApiUrl, {
        method: 'POST',
        headers: {
          accept: 'application/json',
          'content-type': 'application/json',
          'x-postmark-server-token': mailApiToken,
        },
        body: JSON.stringify(composeMail(body, { from: mailFrom, subject })),
        redirect: 'error',
        signal: AbortSignal.timeout(timeoutMs),
      });
      const reply = await answer.json().catch(() => ({}));
      entry.provider = { status: answer.status, error_code: reply.ErrorCode, message_id: reply.MessageID };
      return answer.ok ? [204] : [502, 'provider_refused'];
    } catch (e) {
      entry.provider = { error: e.name }; // TimeoutError; TypeError: network error or a redirect
      return [502, 'provider_unreachable'];
    }
  }

  const server = createServer(async (req, res) => {
    const started = performance.now();
    const entry = { time: new Date().toISOString(), method: req.method, path: req.url };
    let status;
    let error;
    try {
      [status, error] = await handle(req, entry);
    } catch (e) {
      [status, error] = [500, 'internal'];
      entry.exception = e.message;
    }
    const headers = status === 405 ? { allow: 'POST' } : {};
    if (status === 413) headers.connection = 'close';
    if (error) res.writeHead(status, { ...headers, 'content-type': 'application/json' }).end(JSON.stringify({ error }));
    else res.writeHead(status, headers).end();
    // One line per request; never the code, the email address or a secret.
    log({ ...entry, status, error, ms: Math.round(performance.now() - started) });
  });
  server.requestTimeout = 30_000;
  return server;
}

// Run directly (not imported): configure from the environment and listen.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const env = process.env;
  const server = createReceiver({
    secrets: (env.WEBHOOK_SECRETS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    mailApiUrl: env.MAIL_API_URL || undefined,
    mailApiToken: env.MAIL_API_TOKEN,
    mailFrom: env.MAIL_FROM,
    subject: env.MAIL_SUBJECT || undefined,
    path: env.WEBHOOK_PATH || undefined,
  });
  const port = Number(env.PORT || 8788);
  const host = env.HOST || '127.0.0.1';
  server.listen(port, host, () => {
    console.log(JSON.stringify({ time: new Date().toISOString(), listening: `http://${host}:${port}` }));
  });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
}
