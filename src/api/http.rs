//! What every handler of the rim shares: the request and response types, what a handled request
//! turns into ([`Outcome`]: a response, or a [`Forward`] to the tenant's origin), and the small
//! readers and writers of HTTP (the client's address and Host, the method check, JSON and empty
//! responses).

use http::HeaderMap;
use serde::Serialize;

use super::ApiError;

pub type Request = http::Request<Vec<u8>>;
pub type Response = http::Response<Vec<u8>>;

/// What to do with a request.
#[derive(Debug)]
pub enum Outcome {
    /// Answer with this response.
    Respond(Response),
    /// Send the request on to the tenant's origin and stream its answer back.
    Forward(Forward),
}

/// `Strict-Transport-Security` of every answer dynauth makes over https.
pub const HSTS: &str = "max-age=31536000";

/// The client's address as Cloudflare saw it (`CF-Connecting-IP`), when there is one.
pub fn client_ip(request: &Request) -> Option<&str> {
    request.headers().get("cf-connecting-ip").and_then(|v| v.to_str().ok())
}

/// The Host the client asked for: the `Host` header, else the URI's authority.
pub fn request_host(request: &Request) -> Option<String> {
    request
        .headers()
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| request.uri().authority().map(|a| a.to_string()))
}

/// `Ok` when `method` is `allowed` (`GET` also allows `HEAD`), else 405.
pub fn only(method: &http::Method, allowed: &'static str) -> Result<(), ApiError> {
    let ok = method.as_str() == allowed || (allowed == "GET" && method == http::Method::HEAD);
    if ok { Ok(()) } else { Err(ApiError::MethodNotAllowed { allow: allowed }) }
}

/// A JSON response with `status`.
pub fn json_response(status: u16, body: &impl Serialize) -> Response {
    let mut response = empty_response(status);
    *response.body_mut() = serde_json::to_vec(body).unwrap_or_default();
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    headers.insert(http::header::X_CONTENT_TYPE_OPTIONS, http::HeaderValue::from_static("nosniff"));
    response
}

/// A response without a body (`Cache-Control: no-store`, as every API answer).
pub fn empty_response(status: u16) -> Response {
    let mut response = http::Response::new(Vec::new());
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    response
}

/// A request to send on to the origin; the edge streams the body and the answer through.
#[derive(Debug, Clone, PartialEq)]
pub struct Forward {
    pub method: http::Method,
    pub url: String,
    pub headers: HeaderMap,
}

/// What routing produced: the route's name for the log, the tenant when one was resolved, and
/// the result.
pub(crate) struct Routed {
    pub route: &'static str,
    pub tenant: Option<String>,
    pub result: Result<Outcome, ApiError>,
    /// An allowed cross origin: the response (errors included) gets its CORS headers.
    pub cors: Option<String>,
}

impl Routed {
    pub(crate) fn new(route: &'static str, result: Result<Outcome, ApiError>) -> Self {
        Self { route, tenant: None, result, cors: None }
    }

    pub(crate) fn respond(route: &'static str, result: Result<Response, ApiError>) -> Self {
        Self::new(route, result.map(Outcome::Respond))
    }
}
