//! The Worker: wiring from the Cloudflare runtime to the pure core. Configuration is parsed once
//! per isolate; each request gets a DynamoDB client over `fetch`, the JS clock and random source.

use std::cell::OnceCell;
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::{Either, select};
use worker::{Context, Env, Headers, Method, RequestInit, console_log, event};

use crate::api::{self, Ctx};
use crate::config::{Config, ConfigError, VARIABLES};
use crate::dynamo::Client;
use crate::runtime::{Runtime, Transport, TransportError};

thread_local! {
    static CONFIG: OnceCell<Rc<Result<Config, ConfigError>>> = const { OnceCell::new() };
}

fn config(env: &Env) -> Rc<Result<Config, ConfigError>> {
    CONFIG.with(|cell| {
        cell.get_or_init(|| {
            let lookup = |name: &str| {
                if !VARIABLES.contains(&name) {
                    return None;
                }
                env.var(name).map(|v| v.to_string()).ok()
            };
            Rc::new(Config::from_lookup(lookup))
        })
        .clone()
    })
}

#[event(fetch)]
async fn fetch(req: worker::Request, env: Env, _ctx: Context) -> worker::Result<worker::Response> {
    let request = match into_http(req).await {
        Ok(r) => r,
        Err(e) => {
            console_log!(
                "{}",
                serde_json::json!({"error": "could not read request", "detail": e.to_string()})
            );
            return worker::Response::error("bad request", 400);
        }
    };
    let config = config(&env);
    let handled = match config.as_ref() {
        Err(e) => api::config_failure(&request, e, random_id()),
        Ok(config) => match Client::new(
            config.dynamo.clone(),
            FetchTransport {
                timeout: config.dynamo.retry.deadline,
            },
            EdgeRuntime,
        ) {
            Ok(db) => api::handle(&Ctx { config, db: &db }, request).await,
            Err(problem) => api::config_failure(
                &request,
                &ConfigError {
                    variable: "DYNAMODB_ENDPOINT",
                    problem,
                },
                random_id(),
            ),
        },
    };
    console_log!("{}", handled.log.to_json());
    from_http(handled.response)
}

fn random_id() -> String {
    let mut b = [0u8; 8];
    EdgeRuntime.fill_random(&mut b);
    crate::crypto::hex(&b)
}

async fn into_http(mut req: worker::Request) -> worker::Result<http::Request<Vec<u8>>> {
    let body = match req.method() {
        Method::Get | Method::Head => Vec::new(),
        _ => req.bytes().await?,
    };
    let url = req.url()?;
    let mut builder = http::Request::builder()
        .method(req.method().as_ref())
        .uri(url.as_str());
    for (name, value) in req.headers().entries() {
        builder = builder.header(name, value);
    }
    builder
        .body(body)
        .map_err(|e| worker::Error::RustError(e.to_string()))
}

fn from_http(response: http::Response<Vec<u8>>) -> worker::Result<worker::Response> {
    let (parts, body) = response.into_parts();
    let headers = Headers::new();
    for (name, value) in &parts.headers {
        if let Ok(value) = value.to_str() {
            headers.append(name.as_str(), value)?;
        }
    }
    let builder = worker::ResponseBuilder::new()
        .with_status(parts.status.as_u16())
        .with_headers(headers);
    if body.is_empty() {
        Ok(builder.empty())
    } else {
        Ok(builder.fixed(body))
    }
}

/// `fetch`, raced against a timer so one hung request cannot outlive the retry deadline.
struct FetchTransport {
    timeout: Duration,
}

impl Transport for FetchTransport {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        let err = |e: worker::Error| TransportError(e.to_string());
        let (parts, body) = request.into_parts();
        let headers = Headers::new();
        for (name, value) in &parts.headers {
            if name == http::header::HOST {
                continue;
            }
            let value = value
                .to_str()
                .map_err(|_| TransportError(format!("header {name} is not ASCII")))?;
            headers.set(name.as_str(), value).map_err(err)?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::from(parts.method.to_string()))
            .with_headers(headers);
        if !body.is_empty() {
            init.with_body(Some(js_sys_uint8(&body)));
        }
        let req = worker::Request::new_with_init(&parts.uri.to_string(), &init).map_err(err)?;
        let send = Box::pin(async move {
            let mut resp = worker::Fetch::Request(req).send().await?;
            let status = resp.status_code();
            let mut builder = http::Response::builder().status(status);
            for (name, value) in resp.headers().entries() {
                builder = builder.header(name, value);
            }
            let bytes = resp.bytes().await?;
            builder
                .body(bytes)
                .map_err(|e| worker::Error::RustError(e.to_string()))
        });
        let timer = Box::pin(worker::Delay::from(self.timeout));
        match select(send, timer).await {
            Either::Left((result, _)) => result.map_err(err),
            Either::Right(((), _)) => Err(TransportError(format!(
                "no response within {:?}",
                self.timeout
            ))),
        }
    }
}

fn js_sys_uint8(bytes: &[u8]) -> wasm_bindgen::JsValue {
    worker::js_sys::Uint8Array::from(bytes).into()
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
