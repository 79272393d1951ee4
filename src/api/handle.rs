//! One request through the rim: its route parsed, its tenant resolved from the Host (through the
//! isolate's caches), CORS and the browser checks, the route's handler called, the error
//! rendered, and one log line.

use std::rc::Rc;

use serde::Serialize;

#[cfg(cold)]
use super::http::empty_response;
use super::http::{HSTS, Routed, json_response, only, request_host};
use super::{ApiError, Outcome, Request, Response, Route, body, browser, proxy, session, views};
#[cfg(cold)]
use super::{admin, login, oauth, page, token};
use crate::app::hosts;
use crate::app::{Audit, ConfigError, Ctx, Deferred, DevLogin};
use crate::domain::tenants::Tenant;
use crate::platform::runtime::Random;
use crate::values::codes::ErrorCode;
use crate::values::host::{self, Host};

/// One structured log line per request.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LogLine {
    pub request_id: String,
    pub method: String,
    pub route: &'static str,
    pub tenant: Option<String>,
    pub status: u16,
    /// Filled in by the caller, whose clock measured the request.
    pub duration_ms: u64,
    pub dynamodb_calls: u32,
    pub dynamodb_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<String>,
    /// `DEV_MODE` only: the login code issued, its login and email, so a developer can sign in
    /// without a webhook.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub dev_login: Option<DevLogin>,
    /// Admin writes only (whatever their outcome): what was written, and from where.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit: Option<Audit>,
    /// With replica regions: the region nearest to the client, which its lookups read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl LogLine {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A handled request: what to do, its log line (for a forward, the edge fills in the status the
/// origin answered), and work to finish after the response (the edge hands it to `wait_until`).
#[derive(Debug)]
pub struct Handled {
    pub outcome: Outcome,
    pub log: LogLine,
    pub deferred: Vec<Deferred>,
}

/// Handle a request when the configuration could not be read: every route answers 500
/// `config_error` naming the variable.
pub fn config_failure(request: &Request, error: &ConfigError, request_id: String) -> Handled {
    let err = ApiError::Config(error.clone());
    failed(err, "config_error", request.method().to_string(), error.to_string(), request_id)
}

/// Handle a request whose head or body could not be read: 400 `invalid_request`.
pub fn unreadable_request(detail: &str, request_id: String) -> Handled {
    let err = ApiError::bad_request(ErrorCode::InvalidRequest, "the request could not be read");
    failed(err, "unreadable_request", String::new(), detail.to_string(), request_id)
}

/// What the host answers for a body over [`crate::values::input::MAX_BODY`] (declared or read so far):
/// the edge stops reading it and answers [`body_too_large`].
pub const BODY_TOO_LARGE: &str = "the body is over the limit";

/// Handle a request whose body was refused unread (its `Content-Length`) or cut off while
/// streaming, for being over [`crate::values::input::MAX_BODY`]: 413 `payload_too_large`.
pub fn body_too_large(method: &str, request_id: String) -> Handled {
    let err = ApiError::from(crate::values::input::Invalid::TooLarge);
    failed(err, "body_too_large", method.to_string(), BODY_TOO_LARGE.to_string(), request_id)
}

fn failed(err: ApiError, route: &'static str, method: String, detail: String, request_id: String) -> Handled {
    let log = LogLine {
        request_id,
        method,
        route,
        status: err.status(),
        error_code: Some(err.code()),
        error_detail: Some(detail),
        ..LogLine::default()
    };
    Handled { outcome: Outcome::Respond(err.into_response()), log, deferred: Vec::new() }
}

/// Handle one request.
pub async fn handle(ctx: &Ctx<'_>, request: Request) -> Handled {
    let request_id = request_id(&request, ctx.random);
    let method = request.method().to_string();
    let routed = route(ctx, &request).await;
    let (mut outcome, status, error_code, error_detail) = match routed.result {
        Ok(Outcome::Respond(response)) => {
            let status = response.status().as_u16();
            (Outcome::Respond(response), status, None, None)
        }
        Ok(Outcome::Forward(forward)) => (Outcome::Forward(forward), 0, None, None),
        Err(e) => {
            let code = e.code();
            let detail = e.log_detail().map(str::to_string);
            let response = e.into_response();
            let status = response.status().as_u16();
            (Outcome::Respond(response), status, Some(code), detail)
        }
    };
    if let (Some(origin), Outcome::Respond(response)) = (&routed.cors, &mut outcome) {
        browser::add_cors_headers(response, origin);
    }
    // Answered over https: browsers keep to https for this host for a year (no subdomains: a
    // tenant's other hosts are not dynauth's to decide).
    if let (Some("https"), Outcome::Respond(response)) = (request.uri().scheme_str(), &mut outcome) {
        response.headers_mut().insert(http::header::STRICT_TRANSPORT_SECURITY, http::HeaderValue::from_static(HSTS));
    }
    let stats = ctx.stats();
    let log = LogLine {
        request_id,
        method,
        route: routed.route,
        tenant: routed.tenant,
        status,
        duration_ms: 0,
        dynamodb_calls: stats.calls,
        dynamodb_ms: stats.millis,
        error_code,
        error_detail,
        dev_login: ctx.dev_login.take(),
        audit: ctx.audit.take(),
        region: ctx.nearest_region().map(str::to_string),
    };
    Handled { outcome, log, deferred: ctx.later.take() }
}

async fn route(ctx: &Ctx<'_>, request: &Request) -> Routed {
    let path = request.uri().path();
    let segments = match body::segments(path) {
        Ok(s) => s,
        Err(e) => return Routed::new("bad_path", Err(e)),
    };
    let route = Route::of(&segments);
    match route {
        Route::Health => {
            let ok = only(request.method(), "GET").map(|()| json_response(200, &views::Status { status: "ok" }));
            Routed::respond(route.name(), ok)
        }
        Route::Ready => {
            let ready = match only(request.method(), "GET") {
                Ok(()) => ready(ctx).await,
                Err(e) => Err(e),
            };
            Routed::respond(route.name(), ready)
        }
        #[cfg(cold)]
        Route::OpenApi => {
            let spec = only(request.method(), "GET").map(|()| admin::openapi());
            Routed::respond(route.name(), spec)
        }
        // The admin API is a future of its own (not inlined into this one: it is most of the code).
        #[cfg(cold)]
        Route::Admin => {
            let rest: Vec<&str> = segments.iter().skip(2).map(|s| s.as_ref()).collect();
            let admin: crate::platform::runtime::LocalFuture<'_, Routed> = Box::pin(admin::route(ctx, request, &rest));
            admin.await
        }
        #[cfg(cold)]
        Route::DomainVerification => {
            let token = match only(request.method(), "GET") {
                Ok(()) => domain_verification(ctx, request).await,
                Err(e) => Err(e),
            };
            Routed::respond(route.name(), token)
        }
        Route::NotFound => Routed::respond(route.name(), Err(ApiError::not_found(format!("no route for {path}")))),
        _ if route.on_tenant() => with_tenant(ctx, request, route).await,
        // A cold route that reached the edge Worker (it hands them to the admin Worker first).
        _ => Routed::respond(route.name(), Err(ApiError::not_found(format!("no route for {path} here")))),
    }
}

/// `GET /ready`: 200 `{"status":"ready"}` when one cheap DynamoDB read succeeds (credentials,
/// table and network all work), 503 `unavailable` + Retry-After otherwise, whatever the failure.
async fn ready(ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    hosts::ready(ctx).await?;
    Ok(json_response(200, &views::Status { status: "ready" }))
}

#[cfg(cold)]
/// `GET /.well-known/dynauth-domain-verification`: the verification token of the claimed host
/// the request came to (any status, so a `pending` host can prove it reaches this Worker), as
/// text; 404 `unknown_host` when no tenant claims it. `POST /v1/admin/tenants/{id}/domains/{host}/verify`
/// fetches it.
async fn domain_verification(ctx: &Ctx<'_>, request: &Request) -> Result<Response, ApiError> {
    let token = hosts::verification_token(ctx, &host_of(request)?).await?;
    let mut response = empty_response(200);
    *response.body_mut() = token.into_bytes();
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; charset=utf-8"));
    Ok(response)
}

/// Resolves the request's tenant from its Host, then runs the route with it; the tenant is
/// logged. For a route browsers call, `OPTIONS` is answered as a CORS preflight and an allowed
/// cross origin gets CORS headers on whatever the route answers.
async fn with_tenant(ctx: &Ctx<'_>, request: &Request, route: Route) -> Routed {
    let tenant = match resolve_tenant(ctx, request).await {
        Ok(t) => t,
        Err(e) => return Routed::new(route.name(), Err(e)),
    };
    let id = Some(tenant.id.to_string());
    let mut cors = None;
    if let Some(methods) = route.browser_methods() {
        if request.method() == http::Method::OPTIONS {
            let result = browser::preflight(&tenant, request, methods).map(Outcome::Respond);
            return Routed { route: "preflight", tenant: id, result, cors: None };
        }
        cors = browser::cors_origin(&tenant, request);
    }
    let result = match route {
        Route::Session => session::lookup(ctx, request, tenant).await,
        Route::Proxy => proxy::gateway(ctx, request, tenant).await,
        Route::Tenant => only(request.method(), "GET")
            .map(|()| Outcome::Respond(json_response(200, &views::TenantName { id: &tenant.id, name: &tenant.name }))),
        #[cfg(cold)]
        Route::SessionToken => token::issue(ctx, request, tenant).await,
        #[cfg(cold)]
        Route::Logout => session::logout(ctx, request, tenant).await,
        #[cfg(cold)]
        Route::LoginStart => login::start(ctx, request, tenant).await,
        #[cfg(cold)]
        Route::LoginVerify => login::verify(ctx, request, tenant).await,
        #[cfg(cold)]
        Route::Jwks => oauth::discovery::jwks(ctx, request, &tenant).await,
        #[cfg(cold)]
        Route::Discovery => oauth::discovery::discovery(ctx, request, &tenant),
        #[cfg(cold)]
        Route::Authorize => oauth::authorize::authorize(ctx, request, tenant).await,
        #[cfg(cold)]
        Route::OAuthToken => oauth::token::token(ctx, request, tenant).await,
        #[cfg(cold)]
        Route::UserInfo => oauth::userinfo::userinfo(ctx, request, tenant).await,
        #[cfg(cold)]
        Route::Revoke => oauth::revoke::revoke(ctx, request, tenant).await,
        #[cfg(cold)]
        Route::Introspect => oauth::introspect::introspect(ctx, request, tenant).await,
        #[cfg(cold)]
        Route::EndSession => oauth::end_session::end_session(ctx, request, tenant).await,
        #[cfg(cold)]
        Route::LoginPage => page::login_page(&tenant, request, ctx.random).map(Outcome::Respond),
        _ => Err(ApiError::not_found(format!("no route for {} here", request.uri().path()))),
    };
    Routed { route: route.name(), tenant: id, result, cors }
}

/// The tenant of the request's Host: 400 `invalid_host` when the Host is malformed, 404
/// `unknown_host` when no tenant serves it.
async fn resolve_tenant(ctx: &Ctx<'_>, request: &Request) -> Result<Rc<Tenant>, ApiError> {
    hosts::tenant_of(ctx, &host_of(request)?).await
}

/// The request's Host, canonical: 400 `invalid_host` when it has none or it is malformed.
fn host_of(request: &Request) -> Result<Host, ApiError> {
    let raw = request_host(request)
        .ok_or_else(|| ApiError::bad_request(ErrorCode::InvalidHost, "the request has no Host"))?;
    host::canonical(&raw)
        .map_err(|e| ApiError::bad_request(ErrorCode::InvalidHost, format!("the Host is invalid: {e}")))
}

/// The request id: Cloudflare's `cf-ray` when present, else 16 random hex digits.
fn request_id(request: &Request, random: &dyn Random) -> String {
    if let Some(ray) = request.headers().get("cf-ray").and_then(|v| v.to_str().ok())
        && !ray.is_empty()
        && ray.len() <= 64
    {
        return ray.to_string();
    }
    hex::encode(random.bytes::<8>())
}
