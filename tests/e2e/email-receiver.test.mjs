// The example code-webhook receiver (examples/code-webhook-receiver.mjs) against a fake Postmark API
// on loopback: deliveries signed as dynauth signs them (hex HMAC-SHA256 of "<t>.<raw body>") are
// emailed once and answered 204; a bad, stale or replayed signature, a refused mail or a wrong request
// is answered so that dynauth reports the delivery as failed, and nothing is sent.
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import { createReceiver } from '../../examples/code-webhook-receiver.mjs';

const SECRET = 'e2e-receiver-secret-new-0123456789';
const OLD_SECRET = 'e2e-receiver-secret-old-0123456789';
const TOKEN = 'postmark-server-token-test';
const FROM = 'Acme <login@acme.example>';

/** The fake Postmark API: records every request; answers 422 while `failing`. */
const postmark = { sent: [], failing: false, server: null, url: '' };
let receiver;
let receiverUrl;
const logs = [];

const listen = (server) =>
  new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`)));
const close = (server) => new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));

before(async () => {
  postmark.server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks));
      postmark.sent.push({ method: req.method, url: req.url, headers: req.headers, body });
      res.setHeader('content-type', 'application/json');
      if (postmark.failing) {
        const refusal = { ErrorCode: 406, Message: 'You tried to send to an inactive recipient.' };
        res.writeHead(422).end(JSON.stringify(refusal));
      } else {
        const MessageID = `msg-${postmark.sent.length}`;
        res.writeHead(200).end(JSON.stringify({ ErrorCode: 0, Message: 'OK', MessageID, To: 'x', SubmittedAt: '' }));
      }
    });
  });
  postmark.url = await listen(postmark.server);
  receiver = createReceiver({
    secrets: [SECRET, OLD_SECRET],
    mailApiUrl: `${postmark.url}/email`,
    mailApiToken: TOKEN,
    mailFrom: FROM,
    subject: '{tenant}: your login code',
    log: (entry) => logs.push(entry),
  });
  receiverUrl = await listen(receiver);
});

after(async () => {
  await Promise.all([close(receiver), close(postmark.server)]);
});

beforeEach(() => {
  postmark.sent = [];
  postmark.failing = false;
});

/** A delivery body as dynauth serializes it (a fresh login_id each time). */
function delivery(overrides = {}) {
  return JSON.stringify({
    tenant: 'acme',
    email: 'ann@example.com',
    code: '493021',
    login_id: randomBytes(16).toString('base64url'),
    expires_at: new Date(Date.now() + 600_000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    ...overrides,
  });
}

/** `x-dynauth-signature` for `rawBody` at `t`, one v1 per secret, as dynauth makes it. */
function sign(rawBody, secrets, t = Math.floor(Date.now() / 1000)) {
  const v1 = secrets.map((s) => `,v1=${createHmac('sha256', s).update(`${t}.${rawBody}`).digest('hex')}`);
  return `t=${t}${v1.join('')}`;
}

/** POSTs like dynauth's webhook call; answers `{ status, body }` (body text). */
async function post(rawBody, signature, { method = 'POST', path = '/' } = {}) {
  const headers = { 'content-type': 'application/json', 'user-agent': 'dynauth-webhook/1' };
  if (signature !== undefined) headers['x-dynauth-signature'] = signature;
  const res = await fetch(receiverUrl + path, { method, headers, body: method === 'GET' ? undefined : rawBody });
  return { status: res.status, body: await res.text() };
}

test('a correctly signed delivery is emailed once through the provider, then 204', async () => {
  const raw = delivery();
  const { login_id, expires_at } = JSON.parse(raw);
  assert.deepEqual(await post(raw, sign(raw, [SECRET])), { status: 204, body: '' });
  assert.equal(postmark.sent.length, 1);
  const [mail] = postmark.sent;
  assert.equal(mail.method, 'POST');
  assert.equal(mail.url, '/email');
  assert.equal(mail.headers['x-postmark-server-token'], TOKEN);
  assert.equal(mail.headers.accept, 'application/json');
  assert.equal(mail.headers['content-type'], 'application/json');
  assert.deepEqual(Object.keys(mail.body).sort(), ['From', 'HtmlBody', 'MessageStream', 'Subject', 'TextBody', 'To']);
  assert.equal(mail.body.From, FROM);
  assert.equal(mail.body.To, 'ann@example.com');
  assert.equal(mail.body.Subject, 'acme: your login code');
  assert.equal(mail.body.MessageStream, 'outbound');
  assert.match(mail.body.TextBody, /\n493021\n/);
  assert.match(mail.body.HtmlBody, /<strong>493021<\/strong>/);
  assert.ok(mail.body.TextBody.includes(expires_at.replace('T', ' ').replace('Z', ' UTC')));
  assert.ok(mail.body.TextBody.includes('If you did not ask for it, ignore this email.'));
  // The log line names the delivery, never the code or the address.
  const line = logs.find((l) => l.login_id === login_id);
  assert.equal(line.status, 204);
  assert.equal(line.provider.message_id, 'msg-1');
  assert.ok(!JSON.stringify(line).includes('493021') && !JSON.stringify(line).includes('ann@'));
});

test('during a rotation the header carries two v1: one made with the old secret is enough', async () => {
  const raw = delivery();
  const t = Math.floor(Date.now() / 1000);
  const wrongNew = sign(raw, ['not-the-new-secret'], t).split(',')[1];
  const header = `t=${t},${wrongNew},${sign(raw, [OLD_SECRET], t).split(',')[1]}`;
  assert.deepEqual(await post(raw, header), { status: 204, body: '' });
  const both = delivery();
  assert.deepEqual(await post(both, sign(both, [SECRET, OLD_SECRET])), { status: 204, body: '' });
  assert.equal(postmark.sent.length, 2);
});

test('a tampered body is refused (401) and nothing is sent', async () => {
  const raw = delivery();
  const tampered = raw.replace('ann@example.com', 'eve@example.com');
  assert.notEqual(tampered, raw);
  assert.deepEqual(await post(tampered, sign(raw, [SECRET])), { status: 401, body: '{"error":"bad_signature"}' });
  assert.equal(postmark.sent.length, 0);
});

test('a wrong secret, a missing or malformed header are refused (401)', async () => {
  const raw = delivery();
  const unauthorized = { status: 401, body: '{"error":"bad_signature"}' };
  assert.deepEqual(await post(raw, sign(raw, ['some-other-secret'])), unauthorized);
  assert.deepEqual(await post(raw, undefined), unauthorized);
  assert.deepEqual(await post(raw, 'garbage'), unauthorized);
  assert.deepEqual(await post(raw, sign(raw, [SECRET]).replace(/v1=[0-9a-f]{2}/, 'v1=zz')), unauthorized);
  assert.equal(postmark.sent.length, 0);
});

test('a timestamp outside the 300 s window is refused (401), even correctly signed', async () => {
  const raw = delivery();
  const now = Math.floor(Date.now() / 1000);
  const unauthorized = { status: 401, body: '{"error":"bad_signature"}' };
  assert.deepEqual(await post(raw, sign(raw, [SECRET], now - 301)), unauthorized);
  assert.deepEqual(await post(raw, sign(raw, [SECRET], now + 301)), unauthorized);
  assert.equal(postmark.sent.length, 0);
  assert.deepEqual(await post(raw, sign(raw, [SECRET], now - 250)), { status: 204, body: '' }, 'inside the window');
});

test('the same delivery twice: the copy is refused (409) and one email is sent', async () => {
  const raw = delivery();
  const header = sign(raw, [SECRET]);
  assert.deepEqual(await post(raw, header), { status: 204, body: '' });
  assert.deepEqual(await post(raw, header), { status: 409, body: '{"error":"replayed"}' });
  assert.equal(postmark.sent.length, 1);
});

test('the provider refusing the email (422) makes the receiver answer 502', async () => {
  postmark.failing = true;
  const raw = delivery();
  const { login_id } = JSON.parse(raw);
  assert.deepEqual(await post(raw, sign(raw, [SECRET])), { status: 502, body: '{"error":"provider_refused"}' });
  assert.equal(postmark.sent.length, 1);
  const { provider } = logs.find((l) => l.login_id === login_id);
  assert.equal(provider.status, 422);
  assert.equal(provider.error_code, 406);
});

test('a provider that cannot be reached makes the receiver answer 502', async () => {
  const unreachable = createReceiver({
    secrets: [SECRET],
    mailApiUrl: 'http://127.0.0.1:1/email',
    mailApiToken: TOKEN,
    mailFrom: FROM,
    log: () => {},
  });
  const url = await listen(unreachable);
  try {
    const raw = delivery();
    const headers = { 'content-type': 'application/json', 'x-dynauth-signature': sign(raw, [SECRET]) };
    const res = await fetch(url, { method: 'POST', headers, body: raw });
    assert.equal(res.status, 502);
    assert.equal(await res.text(), '{"error":"provider_unreachable"}');
  } finally {
    await close(unreachable);
  }
});

test('only POST to its path: GET 405, another path 404', async () => {
  const raw = delivery();
  assert.deepEqual(await post(raw, sign(raw, [SECRET]), { method: 'GET' }), {
    status: 405,
    body: '{"error":"method_not_allowed"}',
  });
  assert.deepEqual(await post(raw, sign(raw, [SECRET]), { path: '/other' }), {
    status: 404,
    body: '{"error":"not_found"}',
  });
  assert.equal(postmark.sent.length, 0);
});

test('a signed but malformed body is refused (400), a body over 16 KB 413', async () => {
  const cases = [
    ['{not json', '{"error":"bad_json"}'],
    [delivery({ code: 493021 }), '{"error":"bad_code"}'],
    [delivery({ code: '<b>1</b>' }), '{"error":"bad_code"}'],
    [delivery({ email: 'ann@example.com,eve@example.com' }), '{"error":"bad_email"}'],
    [delivery({ email: 'Eve <eve@example.com>' }), '{"error":"bad_email"}'],
    [delivery({ login_id: undefined }), '{"error":"bad_login_id"}'],
  ];
  for (const [raw, body] of cases) assert.deepEqual(await post(raw, sign(raw, [SECRET])), { status: 400, body }, raw);
  const big = delivery({ padding: 'x'.repeat(17 * 1024) });
  assert.equal((await post(big, sign(big, [SECRET]))).status, 413);
  assert.equal(postmark.sent.length, 0);
});

test('HTML-ish values are escaped in HtmlBody (and left as they are in TextBody)', async () => {
  // `'` and `&` are allowed before the @ (dynauth accepts them too).
  const raw = delivery({ email: "o'brien&co@example.ie" });
  assert.deepEqual(await post(raw, sign(raw, [SECRET])), { status: 204, body: '' });
  const [{ body: mail }] = postmark.sent;
  assert.equal(mail.To, "o'brien&co@example.ie");
  assert.ok(mail.HtmlBody.includes('o&#39;brien&amp;co@example.ie'), mail.HtmlBody);
  assert.ok(!mail.HtmlBody.includes("o'brien&co"));
  assert.ok(mail.TextBody.includes("o'brien&co@example.ie"));
});
