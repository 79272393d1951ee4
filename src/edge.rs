//! The Worker: wiring from the Cloudflare runtime to the pure core. Configuration and caches live
//! once per isolate; each request gets a DynamoDB client over `fetch`, the JS clock and random
//! source. Requests the core forwards go to the tenant's origin with their body and answer
//! streamed through.

use std::cell::OnceCell;
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::{Either, select};
use worker::{Context, Env, Headers, Method, RequestInit, RequestRedirect, console_log, event};

use crate::api::{self, ApiError, Ctx, Forward, Handled, Outcome};
use crate::config::{Config, ConfigError, VARIABLES};
use crate::dynamo::Client;
use crate::resolve::Caches;
use crate::runtime::{Runtime, Transport, TransportError};

/// What lives as long as the isolate.
struct Isolate {
    config: Config,
    caches: Caches,
}

thread_local! {
    static ISOLATE: OnceCell<Rc<Result<Isolate, ConfigError>>> = const { OnceCell::new() };
}

fn isolate(env: &Env) -> Rc<Result<Isolate, ConfigError>> {
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

#[event(fetch)]
async fn fetch(mut req: worker::Request, env: Env, wctx: Context) -> worker::Result<worker::Response> {
    let own = api::is_own_path(&req.path());
    let request = match into_http(&mut req, own).await {
        Ok(r) => r,
        Err(e) => {
            let response = ApiError::bad_request("invalid_request", "the request could not be read").into_response();
            console_log!(
                "{}",
                serde_json::json!({"route": "unreadable_request", "status": 400, "error_detail": e.to_string()})
            );
            return from_http(response);
        }
    };
    let state = isolate(&env);
    let handled = match state.as_ref() {
        Err(e) => api::config_failure(&request, e, random_id()),
        Ok(isolate) => match isolate.client() {
            Ok(db) => api::handle(&Ctx::new(&isolate.config, &db, &isolate.caches), request).await,
            Err(problem) => {
                api::config_failure(&request, &ConfigError { variable: "DYNAMODB_ENDPOINT", problem }, random_id())
            }
        },
    };
    let Handled { outcome, mut log, deferred } = handled;
    if !deferred.is_empty() {
        let state = state.clone();
        wctx.wait_until(async move {
            if let Ok(isolate) = state.as_ref()
                && let Ok(db) = isolate.client()
            {
                for line in Ctx::new(&isolate.config, &db, &isolate.caches).run_deferred(deferred).await {
                    console_log!("{line}");
                }
            }
        });
    }
    let response = match outcome {
        Outcome::Respond(response) => from_http(response),
        Outcome::Forward(forward) => match send_forward(forward, &req).await {
            Ok(response) => {
                log.status = response.status_code();
                Ok(response)
            }
            Err(e) => {
                let err = ApiError::BadGateway { detail: e.to_string() };
                log.status = err.status();
                log.error_code = Some(err.code());
                log.error_detail = err.log_detail().map(str::to_string);
                from_http(err.into_response())
            }
        },
    };
    console_log!("{}", log.to_json());
    response
}

impl Isolate {
    /// A DynamoDB client for one request (its counters are that request's).
    fn client(&self) -> Result<Client<FetchTransport, EdgeRuntime>, String> {
        let transport = FetchTransport { timeout: self.config.dynamo.retry.deadline };
        Client::new(self.config.dynamo.clone(), transport, EdgeRuntime)
    }
}

fn random_id() -> String {
    let mut b = [0u8; 8];
    EdgeRuntime.fill_random(&mut b);
    crate::crypto::hex(&b)
}

/// The request as `http::Request`; the body is read only for dynauth's own routes (forwarded
/// bodies are streamed to the origin untouched).
async fn into_http(req: &mut worker::Request, read_body: bool) -> worker::Result<http::Request<Vec<u8>>> {
    let body = match req.method() {
        Method::Get | Method::Head => Vec::new(),
        _ if read_body => req.bytes().await?,
        _ => Vec::new(),
    };
    let url = req.url()?;
    let mut builder = http::Request::builder().method(req.method().as_ref()).uri(url.as_str());
    for (name, value) in req.headers().entries() {
        builder = builder.header(name, value);
    }
    builder.body(body).map_err(|e| worker::Error::RustError(e.to_string()))
}

fn from_http(response: http::Response<Vec<u8>>) -> worker::Result<worker::Response> {
    let (parts, body) = response.into_parts();
    let headers = to_headers(&parts.headers)?;
    let builder = worker::ResponseBuilder::new().with_status(parts.status.as_u16()).with_headers(headers);
    if body.is_empty() { Ok(builder.empty()) } else { Ok(builder.fixed(body)) }
}

fn to_headers(map: &http::HeaderMap) -> worker::Result<Headers> {
    let headers = Headers::new();
    for (name, value) in map {
        if let Ok(value) = value.to_str() {
            headers.append(name.as_str(), value)?;
        }
    }
    Ok(headers)
}

/// Sends a forward to the origin with the original body stream; the answer comes back as it is
/// (redirects included: they are the client's to follow).
async fn send_forward(forward: Forward, original: &worker::Request) -> worker::Result<worker::Response> {
    let mut init = RequestInit::new();
    init.with_method(Method::from(forward.method.to_string()))
        .with_headers(to_headers(&forward.headers)?)
        .with_redirect(RequestRedirect::Manual);
    if !matches!(forward.method, http::Method::GET | http::Method::HEAD)
        && let Some(body) = original.inner().body()
    {
        init.with_body(Some(body.into()));
    }
    let request = worker::Request::new_with_init(&forward.url, &init)?;
    worker::Fetch::Request(request).send().await
}

/// `fetch`, raced against a timer so one hung request cannot outlive the retry deadline.
struct FetchTransport {
    timeout: Duration,
}

impl Transport for FetchTransport {
    async fn send(&self, request: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, TransportError> {
        let err = |e: worker::Error| TransportError(e.to_string());
        let (parts, body) = request.into_parts();
        let headers = Headers::new();
        for (name, value) in &parts.headers {
            if name == http::header::HOST {
                continue;
            }
            let value = value.to_str().map_err(|_| TransportError(format!("header {name} is not ASCII")))?;
            headers.set(name.as_str(), value).map_err(err)?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::from(parts.method.to_string())).with_headers(headers);
        if !body.is_empty() {
            init.with_body(Some(worker::js_sys::Uint8Array::from(body.as_slice()).into()));
        }
        let req = worker::Request::new_with_init(&parts.uri.to_string(), &init).map_err(err)?;
        let send = Box::pin(async move {
            let mut resp = worker::Fetch::Request(req).send().await?;
            let mut builder = http::Response::builder().status(resp.status_code());
            for (name, value) in resp.headers().entries() {
                builder = builder.header(name, value);
            }
            let bytes = resp.bytes().await?;
            builder.body(bytes).map_err(|e| worker::Error::RustError(e.to_string()))
        });
        let timer = Box::pin(worker::Delay::from(self.timeout));
        match select(send, timer).await {
            Either::Left((result, _)) => result.map_err(err),
            Either::Right(((), _)) => Err(TransportError(format!("no response within {:?}", self.timeout))),
        }
    }
}

/// `Date.now()`, timers and `crypto.getRandomValues` through getrandom.
#[derive(Debug, Clone, Copy)]
struct EdgeRuntime;

impl Runtime for EdgeRuntime {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(worker::Date::now().as_millis())
    }

    async fn sleep(&self, duration: Duration) {
        worker::Delay::from(duration).await;
    }

    fn fill_random(&self, buf: &mut [u8]) {
        if getrandom::fill(buf).is_err() {
            // crypto.getRandomValues is always present in Workers; if it ever failed, nothing
            // secret could be made, so fail the request rather than go on with zeros.
            panic!("crypto.getRandomValues failed");
        }
    }
}
