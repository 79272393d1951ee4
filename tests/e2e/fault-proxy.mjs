// A fault-injecting proxy between the Worker and DynamoDB Local, on 127.0.0.1: every request
// passes through `plan(op, body)`, which names the fault (or none) for it. The faults are the ones
// a real network and a real DynamoDB produce:
//   { latency: ms }  the answer is delayed (the request is forwarded after the wait)
//   'reset-before'   the connection is reset; nothing reached DynamoDB
//   'reset-after'    forwarded and applied, then the connection is reset: the answer is lost
//   'throttle'       400 ThrottlingException; nothing reached DynamoDB (as throttling means)
//   '500-before'     500 InternalServerError; nothing reached DynamoDB
//   '500-after'      forwarded and applied, then answered 500 instead of DynamoDB's answer
//   'lose'           forwarded and applied, then no answer at all (until the client gives up)
//   'conflict'       a TransactWriteItems is cancelled as real DynamoDB cancels one whose item
//                    another transaction holds: 400 TransactionCanceledException, reason
//                    TransactionConflict on the tenant's counter (else the first part); nothing
//                    reached DynamoDB. DynamoDB Local serialises transactions and never answers so.
//                    Other operations pass untouched.
// `random(seed, rate)` is a plan that injects one of these into `rate` of the requests, from a
// seeded generator, so a failing run can be replayed.
import { createServer, request as httpRequest } from 'node:http';

export const FAULTS = ['latency', 'reset-before', 'reset-after', 'throttle', '500-before', '500-after', 'lose', 'conflict'];

const ERROR = (type) => JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message: 'injected by the fault proxy' });

/** The TransactionCanceledException of a transaction (its JSON `body`) that lost a race on one item. */
export function transactionConflict(body) {
  let items = [];
  try { items = JSON.parse(body).TransactItems ?? []; } catch { /* not JSON: one reason */ }
  const hot = Math.max(0, items.findIndex((item) => JSON.stringify(item).includes('_tenant#')));
  const reasons = Array.from({ length: Math.max(1, items.length) }, (_, i) => (i === hot
    ? { Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' }
    : { Code: 'None' }));
  return JSON.stringify({
    __type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException',
    Message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => r.Code).join(', ')}]`,
    CancellationReasons: reasons,
  });
}

/** mulberry32: a small seeded generator of floats in [0, 1). */
export function generator(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A plan that faults `rate` of the requests, each fault drawn uniformly from `kinds`. */
export function random(seed, rate, kinds = FAULTS) {
  const next = generator(seed);
  return () => {
    if (next() >= rate) return null;
    const kind = kinds[Math.floor(next() * kinds.length)];
    return kind === 'latency' ? { latency: 50 + Math.floor(next() * 400) } : kind;
  };
}

/** Starts the proxy in front of `target` (DynamoDB Local's URL). */
export async function startFaultProxy(target) {
  const upstream = new URL(target);
  const hung = new Set();
  const proxy = {
    url: '',
    /** (op, body) => fault | null */
    plan: () => null,
    /** Requests seen, and faults injected, by kind. */
    seen: 0,
    injected: {},
    /** Every request as { op, fault }. */
    log: [],
    close: () => new Promise((ok) => {
      for (const socket of hung) socket.destroy();
      server.close(ok);
      server.closeAllConnections?.();
    }),
  };

  const forward = (req, body) => new Promise((ok, fail) => {
    const out = httpRequest({
      host: upstream.hostname, port: upstream.port, path: '/', method: req.method,
      headers: { ...req.headers, host: upstream.host, 'content-length': body.length },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => ok({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    out.on('error', fail);
    out.end(body);
  });

  const answer = (res, status, headers, body) => {
    const h = { ...headers };
    delete h['transfer-encoding'];
    h['content-length'] = Buffer.byteLength(body);
    res.writeHead(status, h);
    res.end(body);
  };

  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const op = String(req.headers['x-amz-target'] ?? '').split('.').pop();
      const fault = proxy.plan(op, body.toString('utf8'));
      let kind = fault === null ? 'none' : (typeof fault === 'object' ? 'latency' : fault);
      if (kind === 'conflict' && op !== 'TransactWriteItems') kind = 'none';
      proxy.seen += 1;
      if (kind !== 'none') proxy.injected[kind] = (proxy.injected[kind] ?? 0) + 1;
      proxy.log.push({ op, fault: kind });
      const json = { 'content-type': 'application/x-amz-json-1.0' };
      try {
        switch (kind) {
          case 'reset-before': return req.socket.destroy();
          case 'throttle': return answer(res, 400, json, ERROR('ThrottlingException'));
          case '500-before': return answer(res, 500, json, ERROR('InternalServerError'));
          case 'conflict': return answer(res, 400, json, transactionConflict(body.toString('utf8')));
          default: break;
        }
        if (kind === 'latency') await new Promise((r) => setTimeout(r, fault.latency));
        const up = await forward(req, body);
        switch (kind) {
          case 'reset-after': return req.socket.destroy();
          case '500-after': return answer(res, 500, json, ERROR('InternalServerError'));
          case 'lose': {
            // Applied, never answered: the client's timeout ends it (the socket is dropped at close).
            hung.add(req.socket);
            return undefined;
          }
          default: return answer(res, up.status, up.headers, up.body);
        }
      } catch (e) {
        return answer(res, 502, { 'content-type': 'text/plain' }, `fault proxy: ${e.message}`);
      }
    });
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  proxy.url = `http://127.0.0.1:${server.address().port}`;
  return proxy;
}
