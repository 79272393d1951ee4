//! The Worker itself (wasm32 only): wiring from the Cloudflare runtime to the pure core. Configuration and caches live
//! once per isolate. Each request becomes a [`driver::Task`] that `src/host/edge/edge.js` drives: the core
//! runs until it needs I/O, the JavaScript performs it (`fetch` to DynamoDB or the webhook, a
//! timer, the body read, the forward to the tenant's origin) and resumes the task with the result.
//!
//! Every crossing between wasm and JavaScript costs CPU, so each step is one call: the request
//! comes in as one string (method, URL, headers), a response goes out as status, one header
//! string, the body and the log line, and an exchange comes back whole (the body read with
//! `arrayBuffer()`, the timeout an `AbortSignal`). A request that needs no I/O (`/health`, a
//! cached unknown host) is answered synchronously, without a promise.
//!
//! This takes the place of the `worker` crate's `#[event(fetch)]` wrapper, which bridges a
//! promise per await (measured: a third of dynauth's own CPU per lookup); `worker` still provides
//! the environment, the context and the bindings.

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use wasm_bindgen::prelude::*;
use worker::js_sys::{self, Uint8Array};
use worker::worker_sys::Context;
use worker::{Env, web_sys};

#[cfg(not(feature = "admin"))]
use super::wire::path_of;
use super::wire::{join_headers, parse_head, response};
use crate::api::{self, ApiError, Handled, LogLine, Outcome};
use crate::app::settings::VARIABLES;
use crate::app::{Config, ConfigError};
use crate::app::{Ctx, Deferred, DeferredFailure};
use crate::domain::resolve::Caches;
use crate::dynamo::Client;
use crate::platform::driver::{self, Done, HostTransport, Op, Step, Task};
use crate::platform::runtime::{AnswerLimit, Clock, LocalFuture, Random, TransportError};

type Resume = dyn FnMut(u32, u32, f64, u16, String, Uint8Array, String) -> JsValue;

#[wasm_bindgen(module = "/src/host/edge/edge.js")]
extern "C" {
    #[wasm_bindgen(js_name = setResume)]
    fn set_resume(resume: &Closure<Resume>);
    #[wasm_bindgen(js_name = requestHead)]
    fn request_head(request: &web_sys::Request) -> String;
    fn respond(status: u16, head: &str, body: &[u8], line: &str) -> web_sys::Response;
    fn log(line: &str);
    fn drive(task: u32, request: &JsValue, ops: &js_sys::Array) -> js_sys::Promise;
    #[wasm_bindgen(js_name = sendOp)]
    #[allow(clippy::too_many_arguments)] // one JS call carries the whole operation
    fn send_op(
        id: u32,
        method: &str,
        url: &str,
        head: &str,
        body: &[u8],
        timeout_ms: u32,
        keep: &str,
        limit: u32,
    ) -> JsValue;
    #[wasm_bindgen(js_name = sleepOp)]
    fn sleep_op(id: u32, ms: u32) -> JsValue;
    #[wasm_bindgen(js_name = bodyOp)]
    fn body_op(id: u32, limit: u32, too_large: &str) -> JsValue;
    #[wasm_bindgen(js_name = forwardOp)]
    fn forward_op(id: u32, method: &str, url: &str, head: &str) -> JsValue;
    /// `env.ADMIN.fetch(request)`, or undefined when there is no such binding.
    #[wasm_bindgen(js_name = toAdmin)]
    fn to_admin(env: &Env, request: &web_sys::Request) -> JsValue;
    #[wasm_bindgen(js_name = parkOp)]
    fn park_op(id: u32) -> JsValue;

    fn unpark(id: u32);
}

#[cfg(feature = "admin")]
#[wasm_bindgen(module = "/src/host/edge/crypto.js")]
extern "C" {
    #[wasm_bindgen(js_name = cryptoOp)]
    #[allow(clippy::too_many_arguments)] // one JS call carries the whole operation
    fn crypto_op(
        id: u32,
        kind: &str,
        alg: &str,
        key_id: &str,
        format: &str,
        key: &[u8],
        data: &[u8],
        signature: &[u8],
    ) -> JsValue;
}

/// What lives as long as the isolate.
struct Isolate {
    config: Config,
    caches: Caches,
}

type State = Rc<Result<Isolate, ConfigError>>;

/// What a task ends with (one per task, moved once: its size does not matter).
#[allow(clippy::large_enum_variant)]
enum Finished {
    /// A request, handled.
    Request(Handled),
    /// Work after the response, with its failures to log.
    Background(Vec<String>),
}

/// What an operation in flight was, so its result can be read back.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Send,
    Sleep,
    Body,
    Forward,
    /// Waiting on another task (a shared host resolution): resolved when the task is woken.
    Park,
    #[cfg(feature = "admin")]
    Crypto,
}

/// A task in flight.
struct Running {
    task: Task<Finished>,
    kinds: HashMap<u32, Kind>,
    ctx: Context,
    /// When the request came in (its duration goes in the log line).
    started: std::time::SystemTime,
    /// Once the request is forwarded: its log line, waiting for the origin's status.
    forwarding: Option<LogLine>,
}

impl Running {
    fn new(id: u32, future: impl std::future::Future<Output = Finished> + 'static, ctx: Context) -> Self {
        Self { task: Task::new(id, future), kinds: HashMap::new(), ctx, started: driver::now(), forwarding: None }
    }
}

/// What the JavaScript does next with a task.
enum Next {
    /// Answer with this.
    Respond(web_sys::Response),
    /// Perform these operations, then resume the task.
    Ops(js_sys::Array),
    /// Nothing: background work is done, or the origin's answer (of the forward just completed)
    /// is the answer.
    Done,
}

thread_local! {
    static ISOLATE: OnceCell<State> = const { OnceCell::new() };
    static RUNNING: RefCell<HashMap<u32, Running>> = RefCell::new(HashMap::new());
    static NEXT_TASK: Cell<u32> = const { Cell::new(0) };
    static RESUME: OnceCell<Closure<Resume>> = const { OnceCell::new() };
}

/// The isolate's configuration and caches, made on the first request.
fn isolate(env: &Env) -> State {
    ISOLATE.with(|cell| {
        cell.get_or_init(|| {
            let lookup = |name: &str| {
                if !VARIABLES.contains(&name) {
                    return None;
                }
                env.var(name).map(|v| v.to_string()).ok()
            };
            Rc::new(Config::from_lookup(lookup).map(|config| {
                let caches = Caches::new(config.cache);
                Isolate { config, caches }
            }))
        })
        .clone()
    })
}

/// The Worker's `fetch` handler (worker-build's entry point calls it with the request, the
/// environment and the context): a Response, or a promise of one when the request needs I/O.
#[wasm_bindgen]
pub fn fetch(request: web_sys::Request, env: Env, ctx: Context) -> JsValue {
    RESUME.with(|cell| {
        cell.get_or_init(|| {
            let closure = Closure::<Resume>::new(resume);
            set_resume(&closure);
            closure
        });
    });
    driver::set_now(js_sys::Date::now() as u64);
    sweep(driver::now());
    let head = request_head(&request);
    // The cold paths (logins, the login page, JWT minting, logout, the admin API) are the admin
    // Worker's; a path that does not parse is answered here (400).
    #[cfg(not(feature = "admin"))]
    if api::Route::parse(path_of(&head)).is_ok_and(|route| !route.hot()) {
        return admin(&env, &request);
    }
    let state = isolate(&env);
    let id = new_task_id();
    let running = Running::new(id, handle(state.clone(), head), ctx);
    let next = step(id, running, &state);
    wake_parked();
    match next {
        Next::Respond(response) => response.into(),
        Next::Ops(ops) => drive(id, &request, &ops).into(),
        Next::Done => JsValue::UNDEFINED,
    }
}

/// A task older than this belongs to a request the runtime cancelled (its client went away, or
/// it was taken for hung): nothing resumes it, and no request or work after one lasts as long.
const ABANDONED: Duration = Duration::from_secs(120);

/// Drops abandoned tasks (outside the borrow: dropping one lands a host resolution it had under
/// way, which wakes the requests waiting on it).
fn sweep(now: std::time::SystemTime) {
    let abandoned: Vec<(u32, Running)> = RUNNING.with(|r| {
        r.borrow_mut().extract_if(|_, t| now.duration_since(t.started).is_ok_and(|age| age > ABANDONED)).collect()
    });
    drop(abandoned);
}

/// This Worker serves the hot path only: every other route (the admin API, logins, the login
/// page, JWT minting, logout) goes to the admin Worker (`dynauth-admin`, the same crate built with
/// everything) through the `ADMIN` service binding, body and all.
#[cfg(not(feature = "admin"))]
fn admin(env: &Env, request: &web_sys::Request) -> JsValue {
    let forwarded = to_admin(env, request);
    if !forwarded.is_undefined() {
        return forwarded;
    }
    let error = ConfigError {
        variable: "ADMIN",
        problem: "is not bound: logins, the login page, JWT minting, logout and the admin API are served by the \
                  dynauth-admin Worker through this service binding"
            .into(),
    };
    let err = ApiError::Config(error.clone());
    let line = LogLine {
        request_id: random_id(),
        route: api::Route::parse(path_of(&request_head(request))).map_or("bad_path", api::Route::name),
        status: err.status(),
        error_code: Some(err.code()),
        error_detail: Some(error.to_string()),
        ..LogLine::default()
    };
    let response = err.into_response();
    respond(response.status().as_u16(), &join_headers(response.headers()), response.body(), &line.to_json()).into()
}

/// Called by `drive` (src/host/edge/edge.js) when operation `op` of task `task` is done: hands the result
/// in and polls the task again.
fn resume(task: u32, op: u32, now_ms: f64, status: u16, head: String, body: Uint8Array, error: String) -> JsValue {
    driver::set_now(now_ms as u64);
    let Some(mut running) = RUNNING.with(|r| r.borrow_mut().remove(&task)) else {
        return JsValue::UNDEFINED;
    };
    let Some(state) = ISOLATE.with(|cell| cell.get().cloned()) else {
        return JsValue::UNDEFINED;
    };
    match running.kinds.remove(&op) {
        Some(Kind::Forward) => return forwarded(running.forwarding.take(), status, &error),
        Some(Kind::Send) => {
            let answer =
                if error.is_empty() { response(status, &head, body.to_vec()) } else { Err(TransportError(error)) };
            driver::complete(op, Done::Sent(answer));
        }
        Some(Kind::Sleep) => driver::complete(op, Done::Slept),
        Some(Kind::Body) => {
            driver::complete(op, Done::Body(if error.is_empty() { Ok(body.to_vec()) } else { Err(error) }))
        }
        #[cfg(feature = "admin")]
        Some(Kind::Crypto) => {
            driver::complete(op, Done::Crypto(if error.is_empty() { Ok(body.to_vec()) } else { Err(error) }))
        }
        Some(Kind::Park) | None => {}
    }
    let next = step(task, running, &state);
    wake_parked();
    match next {
        Next::Respond(response) => response.into(),
        Next::Ops(ops) => ops.into(),
        Next::Done => JsValue::UNDEFINED,
    }
}

/// Tasks woken by the step just taken (waiting on a resolution it finished) are resumed: their
/// park operations resolve.
fn wake_parked() {
    for task in driver::take_woken() {
        let parked = RUNNING.with(|r| {
            r.borrow()
                .get(&task)
                .and_then(|running| running.kinds.iter().find(|(_, k)| **k == Kind::Park).map(|(id, _)| *id))
        });
        if let Some(op) = parked {
            unpark(op);
        }
    }
}

/// A request through the core: the head parsed, the body read when the route needs it.
async fn handle(state: State, head: String) -> Finished {
    let (mut request, needs_body, location) = match parse_head(&head) {
        Ok(r) => r,
        Err(detail) => return Finished::Request(api::unreadable_request(&detail, random_id())),
    };
    if needs_body {
        match driver::perform(Op::ReadBody).await {
            Done::Body(Ok(body)) => *request.body_mut() = body,
            Done::Body(Err(e)) if e == api::BODY_TOO_LARGE => {
                return Finished::Request(api::body_too_large(request.method().as_str(), random_id()));
            }
            other => {
                let detail = match other {
                    Done::Body(Err(e)) => e,
                    _ => "no body".to_string(),
                };
                return Finished::Request(api::unreadable_request(&detail, random_id()));
            }
        }
    }
    Finished::Request(match state.as_ref() {
        Err(e) => api::config_failure(&request, e, random_id()),
        Ok(isolate) => {
            let db = isolate.client();
            let webhook = isolate.transport();
            let replica = std::cell::OnceCell::new();
            let ctx = Ctx::new(isolate.services(&webhook), &db, &replica, location, driver::now());
            api::handle(&ctx, request).await
        }
    })
}

/// Polls task `id` and says what happens next; a waiting task is kept for `resume`.
fn step(id: u32, mut running: Running, state: &State) -> Next {
    match running.task.poll() {
        Step::Waiting(ops) => {
            let array = js_sys::Array::new();
            if ops.is_empty() && !running.kinds.values().any(|k| *k == Kind::Park) {
                // Waiting on another task, not on I/O: park until woken.
                let op_id = driver::new_op_id();
                running.kinds.insert(op_id, Kind::Park);
                array.push(&park_op(op_id));
            }
            for (op_id, op) in ops {
                let (kind, value) = op_value(op_id, op);
                running.kinds.insert(op_id, kind);
                array.push(&value);
            }
            RUNNING.with(|r| r.borrow_mut().insert(id, running));
            Next::Ops(array)
        }
        Step::Done(Finished::Background(failures)) => {
            for line in failures {
                log(&line);
            }
            Next::Done
        }
        Step::Done(Finished::Request(Handled { outcome, log: mut line, deferred })) => {
            let elapsed = driver::now().duration_since(running.started).unwrap_or_default();
            line.duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
            if !deferred.is_empty() {
                spawn_deferred(line.request_id.clone(), deferred, &running.ctx, state);
            }
            match outcome {
                Outcome::Respond(response) => Next::Respond(respond(
                    response.status().as_u16(),
                    &join_headers(response.headers()),
                    response.body(),
                    &line.to_json(),
                )),
                Outcome::Forward(plan) => {
                    let op_id = driver::new_op_id();
                    let op = forward_op(op_id, plan.method.as_str(), &plan.url, &join_headers(&plan.headers));
                    running.kinds.insert(op_id, Kind::Forward);
                    running.forwarding = Some(line);
                    RUNNING.with(|r| r.borrow_mut().insert(id, running));
                    Next::Ops(js_sys::Array::of1(&op))
                }
            }
        }
    }
}

/// The forward to the origin is done: log the request with the origin's status (the origin's
/// answer goes to the client as it is), or answer 502 when the origin could not be reached.
fn forwarded(line: Option<LogLine>, status: u16, error: &str) -> JsValue {
    let mut line = line.unwrap_or_default();
    if error.is_empty() {
        line.status = status;
        log(&line.to_json());
        return JsValue::NULL;
    }
    let err = ApiError::BadGateway { detail: error.to_string() };
    line.status = err.status();
    line.error_code = Some(err.code());
    line.error_detail = err.log_detail().map(str::to_string);
    let response = err.into_response();
    respond(response.status().as_u16(), &join_headers(response.headers()), response.body(), &line.to_json()).into()
}

/// Deferred work runs as a task of its own inside `waitUntil`, after the response.
fn spawn_deferred(request_id: String, work: Vec<Deferred>, ctx: &Context, state: &State) {
    let isolate = state.clone();
    let future = async move {
        let failures = match isolate.as_ref() {
            Ok(isolate) => {
                let db = isolate.client();
                let webhook = isolate.transport();
                let replica = std::cell::OnceCell::new();
                let ctx = Ctx::new(isolate.services(&webhook), &db, &replica, None, driver::now());
                ctx.run_deferred(&request_id, work).await
            }
            Err(e) => {
                let line = DeferredFailure {
                    request_id: &request_id,
                    deferred: "all",
                    tenant: "",
                    error_detail: e.to_string(),
                };
                vec![serde_json::to_string(&line).unwrap_or_default()]
            }
        };
        Finished::Background(failures)
    };
    let id = new_task_id();
    if let Next::Ops(ops) = step(id, Running::new(id, future, same_context(ctx)), state) {
        // Background work never reads the body or forwards: it needs no request.
        let _ = ctx.wait_until(&drive(id, &JsValue::UNDEFINED, &ops));
    }
}

/// Another handle to the same context (the binding has no `Clone`).
fn same_context(ctx: &Context) -> Context {
    let value: &JsValue = ctx.as_ref();
    value.clone().unchecked_into()
}

fn new_task_id() -> u32 {
    NEXT_TASK.with(|n| {
        n.set(n.get().wrapping_add(1));
        n.get()
    })
}

/// An operation as `src/host/edge/edge.js` takes it.
fn op_value(id: u32, op: Op) -> (Kind, JsValue) {
    match op {
        Op::Send { request, timeout, keep } => {
            let (parts, body) = request.into_parts();
            // 0: read the whole answer (DynamoDB's).
            let limit = parts.extensions.get::<AnswerLimit>().map_or(0, |l| u32::try_from(l.0).unwrap_or(u32::MAX));
            let mut headers = parts.headers;
            headers.remove(http::header::HOST);
            let ms = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX);
            let (method, url, head) = (parts.method.as_str(), parts.uri.to_string(), join_headers(&headers));
            let value = send_op(id, method, &url, &head, &body, ms, &keep.join("\n"), limit);
            (Kind::Send, value)
        }
        Op::Sleep(d) => (Kind::Sleep, sleep_op(id, u32::try_from(d.as_millis()).unwrap_or(u32::MAX))),
        Op::ReadBody => {
            let limit = u32::try_from(crate::values::input::MAX_BODY).unwrap_or(u32::MAX);
            (Kind::Body, body_op(id, limit, api::BODY_TOO_LARGE))
        }
        #[cfg(feature = "admin")]
        Op::Crypto(c) => {
            let value = crypto_op(id, c.kind.name(), c.alg.name(), &c.key_id, c.format, &c.key, &c.data, &c.signature);
            (Kind::Crypto, value)
        }
    }
}

fn random_id() -> String {
    let mut b = [0u8; 8];
    HostRuntime.fill_random(&mut b);
    hex::encode(b)
}

impl api::Connect for Isolate {
    fn client(&self, config: &crate::dynamo::ClientConfig) -> Client<'_> {
        self.client_in(config)
    }
}

impl Isolate {
    /// What this isolate hands each request, with `webhook` its transport for outside calls.
    fn services<'a>(&'a self, webhook: &'a HostTransport) -> api::Services<'a> {
        api::Services {
            config: &self.config,
            caches: &self.caches,
            connect: self,
            webhook,
            runtime: &HostRuntime,
            #[cfg(feature = "admin")]
            crypto: &driver::HostCrypto,
            // The edge's own routes (lookups, routing, the proxy) sign nothing: the ones that do
            // are the admin Worker's. Its bundle carries no crypto glue.
            #[cfg(not(feature = "admin"))]
            crypto: &crate::platform::signature::Unsupported,
        }
    }

    /// A DynamoDB client for one request (its counters are that request's).
    fn client(&self) -> Client<'static> {
        self.client_in(&self.config.dynamo)
    }

    /// A DynamoDB client of one request for the region of `config` (home or a replica).
    fn client_in(&self, config: &crate::dynamo::ClientConfig) -> Client<'static> {
        let transport = HostTransport { keep: crate::dynamo::RESPONSE_HEADERS, ..self.transport() };
        Client::new(config, transport, HostRuntime)
    }

    /// HTTP through the host: one `fetch`, its whole answer, and an `AbortSignal` so one hung
    /// request cannot outlive its timeout, nor the request its deadline (counted from now: made
    /// when a request, or its deferred work, starts).
    fn transport(&self) -> HostTransport {
        let deadline = Some(driver::now() + self.config.request_deadline);
        HostTransport { timeout: self.config.dynamo.retry.deadline, keep: &[], deadline }
    }
}

/// The host's clock (as of the last step), its timers, and `crypto.getRandomValues` through
/// getrandom.
#[derive(Debug, Clone, Copy)]
struct HostRuntime;

impl Clock for HostRuntime {
    fn now(&self) -> std::time::SystemTime {
        driver::now()
    }

    fn sleep(&self, duration: Duration) -> LocalFuture<'_, ()> {
        Box::pin(async move {
            driver::perform(Op::Sleep(duration)).await;
        })
    }
}

impl Random for HostRuntime {
    fn fill_random(&self, buf: &mut [u8]) {
        if getrandom::fill(buf).is_err() {
            // crypto.getRandomValues is always present in Workers; if it ever failed, nothing
            // secret could be made, so fail the request rather than go on with zeros.
            panic!("crypto.getRandomValues failed");
        }
    }
}
