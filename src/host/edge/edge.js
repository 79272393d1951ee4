// The JavaScript half of the Worker's edge (src/host/edge/worker.rs). The Rust core runs as a task that
// the code here drives: it performs the operations the task asks for (an HTTP exchange, a
// sleep, reading the request body, forwarding to the origin) and hands each result back through
// `resume`, until the task answers with a Response. Each step is one call across the wasm
// boundary: no promise is bridged per await and nothing wakes up in between.
//
// Headers travel as one string of "name:value" lines joined by "\n" (header names never contain
// ":" and values never contain a line break). No logic of dynauth's lives here: only the
// runtime's fetch, timers, Request and Response.

/** (task, op, nowMs, status, head, body, error) => Response | op[] | null; set once by Rust. */
let resume;

export function setResume(f) {
  resume = f;
}

/** "METHOD\nURL\nLATITUDE,LONGITUDE,CONTINENT\nname:value\n..." of an incoming request (where
 *  Cloudflare saw it come from: request.cf; empty fields when it does not say). */
export function requestHead(request) {
  const cf = request.cf ?? {};
  let head = `${request.method}\n${request.url}\n${cf.latitude ?? ''},${cf.longitude ?? ''},${cf.continent ?? ''}`;
  for (const [name, value] of request.headers) head += `\n${name}:${value}`;
  return head;
}

function headerPairs(head) {
  if (!head) return [];
  return head.split('\n').map((line) => {
    const i = line.indexOf(':');
    return [line.slice(0, i), line.slice(i + 1)];
  });
}

/** The headers named in `keep` ("name\nname"), as "name:value" lines. */
function kept(headers, keep) {
  let head = '';
  if (!keep) return head;
  for (const name of keep.split('\n')) {
    const value = headers.get(name);
    if (value !== null) head += `${head ? '\n' : ''}${name}:${value}`;
  }
  return head;
}

/** A Response, after writing the request's log line; `body` is a view of wasm memory: copied. */
export function respond(status, head, body, line) {
  if (line) console.log(line);
  return new Response(body.length ? body.slice() : null, { status, headers: headerPairs(head) });
}

export function log(line) {
  console.log(line);
}

// The operations a task asks for. Byte arrays are views of wasm memory: copied here, at once.
export const sendOp = (id, method, url, head, body, timeoutMs, keep, limit) =>
  ({ id, kind: 'send', method, url, head, body: body.length ? body.slice() : undefined, timeoutMs, keep, limit });
export const sleepOp = (id, ms) => ({ id, kind: 'sleep', ms });
export const bodyOp = (id, limit, tooLarge) => ({ id, kind: 'body', limit, tooLarge });
export const forwardOp = (id, method, url, head) => ({ id, kind: 'forward', method, url, head });
export const parkOp = (id) => ({ id, kind: 'park' });
/** Parked operations: a task waiting on another task, resumed when Rust says so. */
const parked = new Map();
/** A parked task is resumed at least this often (ms), whether woken or not. */
const PARK_MS = 100;

export function unpark(id) {
  const resume = parked.get(id);
  if (resume) {
    parked.delete(id);
    resume();
  }
}

const EMPTY = new Uint8Array(0);

async function perform(op, request) {
  try {
    switch (op.kind) {
      case 'send': {
        const response = await fetch(op.url, {
          method: op.method,
          headers: headerPairs(op.head),
          body: op.body,
          redirect: 'manual', // a 3xx is an answer (a webhook that redirects has failed)
          signal: AbortSignal.timeout(op.timeoutMs),
        });
        // An answer from outside (a webhook, a domain check) is read up to its limit, never whole.
        const read = op.limit
          ? await readLimited(response, op.limit, `the answer is larger than ${op.limit} bytes`)
          : { body: new Uint8Array(await response.arrayBuffer()) };
        if (read.error) return { op, error: read.error };
        return { op, status: response.status, head: kept(response.headers, op.keep), body: read.body };
      }
      case 'sleep':
        await new Promise((done) => setTimeout(done, op.ms));
        return { op };
      case 'body':
        return { op, ...(await readLimited(request, op.limit, op.tooLarge)) };
      case 'park':
        // Woken from the request it waits on (another request's context), or by this timer of
        // its own: the runtime cancels a request that waits on nothing of its own as hung, and
        // the task rechecks whether what it waits on was abandoned.
        await new Promise((done) => {
          parked.set(op.id, done);
          setTimeout(done, PARK_MS);
        });
        parked.delete(op.id);
        return { op };
      case 'run': // an operation that carries its own work (the admin Worker's crypto.js)
        return { op, body: await op.run() };
      case 'forward': {
        const init = { method: op.method, headers: headerPairs(op.head), redirect: 'manual' };
        if (op.method !== 'GET' && op.method !== 'HEAD') init.body = request.body;
        const response = withoutDynauthCookies(await fetch(op.url, init));
        return { op, status: response.status, response };
      }
      default:
        return { op, error: `unknown operation ${op.kind}` };
    }
  } catch (e) {
    return { op, error: String(e) || 'failed' };
  }
}

/** dynauth's cookie names (src/api/cookies.rs): `__Host-dynauth...` and `dynauth_local`. */
const DYNAUTH_COOKIE = /^\s*(__host-dynauth|dynauth_local)[^=]*=/i;

/**
 * The origin's answer without any Set-Cookie that names a dynauth cookie: an origin (or whoever
 * controls it) cannot plant, overwrite or clear the session cookie of dynauth's host.
 */
function withoutDynauthCookies(response) {
  const cookies = response.headers.getSetCookie();
  if (!cookies.some((c) => DYNAUTH_COOKIE.test(c))) return response;
  const filtered = new Response(response.body, response);
  filtered.headers.delete('set-cookie');
  for (const c of cookies) if (!DYNAUTH_COOKIE.test(c)) filtered.headers.append('set-cookie', c);
  return filtered;
}

/**
 * The body of `message` (the request, or an answer from outside), at most `limit` bytes: refused
 * unread when its Content-Length says more, cut off (and the rest left unread) when the stream
 * brings more; then `{ error: tooLarge }`.
 */
async function readLimited(message, limit, tooLarge) {
  const declared = Number(message.headers.get('content-length'));
  if (declared > limit) {
    await message.body?.cancel().catch(() => {});
    return { error: tooLarge };
  }
  if (!message.body) return { body: EMPTY };
  const reader = message.body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      return { error: tooLarge };
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.length;
  }
  return { body };
}

/**
 * Runs task `task` of `request` until it answers: performs `ops` (and those each step asks for
 * next), resuming the task as each completes. Resolves to the task's Response (undefined for
 * background work).
 */
export async function drive(task, request, ops) {
  const inFlight = new Map();
  for (;;) {
    for (const op of ops) inFlight.set(op.id, perform(op, request));
    if (inFlight.size === 0) throw new Error(`task ${task} waits for nothing`);
    const r = await (inFlight.size === 1 ? inFlight.values().next().value : Promise.race(inFlight.values()));
    inFlight.delete(r.op.id);
    const next = resume(task, r.op.id, Date.now(), r.status ?? 0, r.head ?? '', r.body ?? EMPTY, r.error ?? '');
    if (next === null) return r.response;
    if (!Array.isArray(next)) return next;
    ops = next;
  }
}

// The WHATWG host and URL parsers (src/whatwg.rs): the runtime's own URL, IDNA included.

/** The serialization of host `input` (no port), or undefined when it is not a host. */
export function whatwgHost(input) {
  try {
    return new URL(`http://${input}/`).hostname;
  } catch {
    return undefined;
  }
}

/** "scheme\nuserinfo (1 or 0)\nhost\nport" of URL `input`, or undefined. */
export function whatwgUrl(input) {
  try {
    const url = new URL(input);
    return `${url.protocol.slice(0, -1)}\n${url.username || url.password ? 1 : 0}\n${url.hostname}\n${url.port}`;
  } catch {
    return undefined;
  }
}

/** The admin API lives in the dynauth-admin Worker: hand it the request through the binding. */
export function toAdmin(env, request) {
  return env.ADMIN ? env.ADMIN.fetch(request) : undefined;
}
