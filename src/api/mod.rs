//! The HTTP API as a pure function: an `http::Request` in, an `http::Response` and a log line
//! out. The edge feeds it requests from the Worker runtime; tests call it directly.
//!
//! # Layout
//! - [`error`]: [`ApiError`] and its one mapping to a response.
//! - [`admin`]: the admin API (Bearer `ADMIN_TOKEN`).

pub mod admin;
pub mod error;

use std::time::Duration;

use serde::Serialize;
use serde_json::json;

pub use error::ApiError;

use crate::config::{Config, ConfigError};
use crate::crypto::hex;
use crate::dynamo::Client;
use crate::runtime::{Runtime, Transport};

pub type Request = http::Request<Vec<u8>>;
pub type Response = http::Response<Vec<u8>>;

/// What a request is handled with: the configuration (or why there is none) and a DynamoDB
/// client made for this request.
#[derive(Debug)]
pub struct Ctx<'a, T, R> {
    pub config: &'a Config,
    pub db: &'a Client<T, R>,
}

/// One structured log line per request.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LogLine {
    pub request_id: String,
    pub method: String,
    pub route: &'static str,
    pub tenant: Option<String>,
    pub status: u16,
    pub duration_ms: u64,
    pub dynamodb_calls: u32,
    pub dynamodb_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<String>,
}

impl LogLine {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A handled request: the response and its log line.
#[derive(Debug)]
pub struct Handled {
    pub response: Response,
    pub log: LogLine,
}

/// Handle a request when the configuration could not be read: every route answers 500
/// `config_error` naming the variable.
pub fn config_failure(request: &Request, error: &ConfigError, request_id: String) -> Handled {
    let err = ApiError::Config(error.clone());
    let log = LogLine {
        request_id,
        method: request.method().to_string(),
        route: "config_error",
        status: err.status(),
        error_code: Some(err.code()),
        error_detail: Some(error.to_string()),
        ..LogLine::default()
    };
    Handled {
        response: err.into_response(),
        log,
    }
}

/// Handle one request.
pub async fn handle<T: Transport, R: Runtime>(ctx: &Ctx<'_, T, R>, request: Request) -> Handled {
    let rt = ctx.db.runtime();
    let started = rt.now();
    let request_id = request_id(&request, rt);
    let method = request.method().to_string();
    let (route, result) = route(ctx, request).await;
    let (response, error_code, error_detail) = match result {
        Ok(response) => (response, None, None),
        Err(e) => {
            let code = e.code();
            let detail = e.log_detail().map(str::to_string);
            (e.into_response(), Some(code), detail)
        }
    };
    let stats = ctx.db.stats();
    let elapsed = rt.now().duration_since(started).unwrap_or(Duration::ZERO);
    let log = LogLine {
        request_id,
        method,
        route,
        tenant: None,
        status: response.status().as_u16(),
        duration_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        dynamodb_calls: stats.calls,
        dynamodb_ms: stats.millis,
        error_code,
        error_detail,
    };
    Handled { response, log }
}

async fn route<T: Transport, R: Runtime>(
    ctx: &Ctx<'_, T, R>,
    request: Request,
) -> (&'static str, Result<Response, ApiError>) {
    let path = request.uri().path().to_string();
    let method = request.method().clone();
    match path.as_str() {
        "/health" => (
            "health",
            only(&method, "GET").map(|()| json_response(200, &json!({"status": "ok"}))),
        ),
        "/v1/admin/health" => ("admin_health", admin::health(ctx, &request).await),
        _ => (
            "not_found",
            Err(ApiError::not_found(format!("no route for {path}"))),
        ),
    }
}

/// `Ok` when `method` is `allowed` (`GET` also allows `HEAD`), else 405.
pub fn only(method: &http::Method, allowed: &'static str) -> Result<(), ApiError> {
    let ok = method.as_str() == allowed || (allowed == "GET" && method == http::Method::HEAD);
    if ok {
        Ok(())
    } else {
        Err(ApiError::MethodNotAllowed { allow: allowed })
    }
}

/// A JSON response with `status`.
pub fn json_response(status: u16, body: &serde_json::Value) -> Response {
    let mut response = http::Response::new(serde_json::to_vec(body).unwrap_or_default());
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    response
}

/// The request id: Cloudflare's `cf-ray` when present, else 16 random hex digits.
fn request_id(request: &Request, rt: &impl Runtime) -> String {
    if let Some(ray) = request
        .headers()
        .get("cf-ray")
        .and_then(|v| v.to_str().ok())
        && !ray.is_empty()
        && ray.len() <= 64
    {
        return ray.to_string();
    }
    let mut b = [0u8; 8];
    rt.fill_random(&mut b);
    hex(&b)
}
