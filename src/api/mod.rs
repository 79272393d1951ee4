//! The HTTP API as a pure function: an `http::Request` in, an [`Outcome`] (a response, or a
//! request to forward to the tenant's origin) and a log line out. The edge feeds it requests from
//! the Worker runtime; tests call it directly.
//!
//! This is the rim: each handler reads the request into typed input, calls a use case of the
//! domain modules (`sessions`, `login`, `users`, `tenants`) with the request's one `now` and the
//! services it needs, and renders a typed view ([`views`]) or an [`ApiError`].
//!
//! # Layout
//! - [`route`]: every route, parsed once: its log name, whether dynauth answers it, its browser
//!   methods, and whether the edge Worker serves it (the hot path) or the admin Worker.
//! - [`error`]: [`ApiError`] and its one mapping to a response.
//! - [`body`]: JSON bodies into typed input, path segments, query and page parameters.
//! - [`cookies`]: the token a request presents, the session, snapshot and binding cookies.
//! - [`views`]: what the answers look like.
//! - [`session`]: session lookup (hot) and logout.
//! - [`jwks`]: what the JWT routes share; [`token`]: session JWTs.
//! - [`oidc`]: the OpenID Provider: authorize, token, userinfo, discovery and the JWKS.
//! - [`login`]: login codes: start and verify; [`page`]: the hosted login page.
//! - [`admin`]: the admin API (Bearer `ADMIN_TOKEN`).
//! - [`proxy`]: forwarding requests on tenant hosts to the tenant's origin (and the gateway).
//! - [`browser`]: CORS and the CSRF check.
//!
//! Cold modules and items (everything but the hot path) are compiled into the admin Worker and
//! every native build, not into the edge Worker, which hands their routes to the admin Worker.

#[cfg(any(not(target_arch = "wasm32"), feature = "admin"))]
pub mod admin;
pub mod body;
pub mod browser;
pub mod cookies;
pub mod error;
#[cfg(any(not(target_arch = "wasm32"), feature = "admin"))]
pub mod jwks;
#[cfg(any(not(target_arch = "wasm32"), feature = "admin"))]
pub mod login;
#[cfg(any(not(target_arch = "wasm32"), feature = "admin"))]
pub mod oidc;
#[cfg(any(not(target_arch = "wasm32"), feature = "admin"))]
pub mod page;
pub mod proxy;
pub mod route;
pub mod session;
#[cfg(any(not(target_arch = "wasm32"), feature = "admin"))]
pub mod token;
pub mod views;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::SystemTime;

use serde::Serialize;

pub use error::ApiError;
pub use proxy::Forward;
pub use route::Route;

use crate::config::{Config, ConfigError};
use crate::domain::regions::{Location, Regions};
use crate::domain::resolve::Caches;
use crate::domain::sessions::{self, Slide};
use crate::domain::tenants::Tenant;
use crate::dynamo::Client;
use crate::platform::runtime::{Clock, Random, Runtime, Transport, epoch_secs};
use crate::table::store::Store;
use crate::values::host;

pub type Request = http::Request<Vec<u8>>;
pub type Response = http::Response<Vec<u8>>;

/// What a request is handled with: the configuration, the table (over a DynamoDB client made for
/// this request), the webhook's transport, the random source, the isolate's caches, and the one
/// `now` of this request; and what it leaves for after the response.
pub struct Ctx<'a> {
    pub config: &'a Config,
    /// The home region: every write, and every read that must be current.
    pub store: Store<'a>,
    /// Home and the replica region nearest to the client: session lookups and host resolution
    /// read the replica first.
    pub regions: Regions<'a>,
    /// Makes a DynamoDB client for any configured region (the admin health check reads every
    /// replica).
    pub connect: &'a dyn Connect,
    pub webhook: &'a dyn Transport,
    pub random: &'a dyn Random,
    /// The time as it goes on (waits on another request's host resolution end by it).
    pub clock: &'a dyn Clock,
    pub caches: &'a Caches,
    /// The time of this request, read once where it came in.
    pub now: SystemTime,
    later: RefCell<Vec<Deferred>>,
    dev_login: RefCell<Option<DevLogin>>,
    audit: RefCell<Option<Audit>>,
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx").field("now", &self.now).finish_non_exhaustive()
    }
}

/// What a host (the edge Worker, the tests' app) hands every request: the configuration, the
/// isolate's caches, the way to make a DynamoDB client for a region, the webhook's transport and
/// the runtime (clock, randomness).
#[derive(Clone, Copy)]
pub struct Services<'a> {
    pub config: &'a Config,
    pub caches: &'a Caches,
    pub connect: &'a dyn Connect,
    pub webhook: &'a dyn Transport,
    pub runtime: &'a dyn Runtime,
}

impl std::fmt::Debug for Services<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").finish_non_exhaustive()
    }
}

impl<'a> Ctx<'a> {
    /// A request's context, as every host makes it: `db`, the home region's client for this
    /// request, and, with replica regions, the region nearest to `location` among home and the
    /// replicas whose breakers let reads through ([`Config::nearest`]), its client made into
    /// `replica` when it is not home. One deadline for the whole request, counted from `now`,
    /// when it came in.
    pub fn new<'c: 'a>(
        services: Services<'c>,
        db: &'a Client<'a>,
        replica: &'a std::cell::OnceCell<Client<'c>>,
        location: Option<Location>,
        now: SystemTime,
    ) -> Self {
        let Services { config, caches, connect, webhook, runtime } = services;
        db.set_deadline(now + config.request_deadline);
        let store = Store::new(db, &config.schema);
        let mut regions = Regions::home(store, &caches.breakers);
        if let Some((region, replica_config)) = config.nearest(location, |r| caches.breakers.usable(r, now)) {
            let near = replica_config.map(|c| {
                let db = replica.get_or_init(|| connect.client(c));
                db.set_deadline(now + config.request_deadline);
                Store::new(db, &config.schema)
            });
            regions = regions.with_nearest(region, near);
        }
        Self {
            config,
            store,
            regions,
            connect,
            webhook,
            random: runtime,
            clock: runtime,
            caches,
            now,
            later: RefCell::new(Vec::new()),
            dev_login: RefCell::new(None),
            audit: RefCell::new(None),
        }
    }

    /// DynamoDB calls and time of this request, every region's.
    fn stats(&self) -> crate::dynamo::Stats {
        let home = self.store.db.stats();
        match &self.regions.near {
            Some(near) => {
                let replica = near.store.db.stats();
                crate::dynamo::Stats { calls: home.calls + replica.calls, millis: home.millis + replica.millis }
            }
            None => home,
        }
    }

    /// `now` in epoch seconds, as the use cases take it.
    pub fn now_secs(&self) -> i64 {
        epoch_secs(self.now)
    }

    /// The `TOKEN_SECRET` bytes.
    pub fn token_secret(&self) -> &[u8] {
        self.config.token_secret.expose().as_bytes()
    }

    #[cfg(any(not(target_arch = "wasm32"), feature = "admin"))]
    /// `DEV_MODE` only: puts the issued code in this request's log line.
    pub(crate) fn log_dev_code(&self, code: &str, login_id: &str, email: &str) {
        *self.dev_login.borrow_mut() =
            Some(DevLogin { code: code.to_string(), login_id: login_id.to_string(), email: email.to_string() });
    }

    /// Queues work for after the response.
    pub fn defer(&self, work: Deferred) {
        self.later.borrow_mut().push(work);
    }

    /// Runs deferred work (the edge runs it inside `wait_until`); returns log lines for the
    /// failures, which can only be logged: the answer has been sent. Each line carries the
    /// `request_id` of the request that queued the work.
    pub async fn run_deferred(&self, request_id: &str, work: Vec<Deferred>) -> Vec<String> {
        let mut log = Vec::new();
        for item in work {
            match item {
                Deferred::Slide(slide) => {
                    if let Err(e) = sessions::apply_slide(&self.store, &slide).await {
                        let line = DeferredFailure {
                            request_id,
                            deferred: "slide",
                            tenant: slide.tenant.as_str(),
                            error_detail: e.to_string(),
                        };
                        log.push(serde_json::to_string(&line).unwrap_or_default());
                    }
                }
            }
        }
        log
    }
}

/// Makes a DynamoDB client (over the host's transport and runtime) for a region's settings.
pub trait Connect {
    fn client(&self, config: &crate::dynamo::ClientConfig) -> Client<'_>;
}

/// The log line of deferred work that failed.
#[derive(Debug, Serialize)]
pub struct DeferredFailure<'a> {
    pub request_id: &'a str,
    pub deferred: &'static str,
    pub tenant: &'a str,
    pub error_detail: String,
}

/// Work that must not make the response wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deferred {
    /// Extend a session's idle expiry.
    Slide(Slide),
}

/// What to do with a request.
#[derive(Debug)]
pub enum Outcome {
    /// Answer with this response.
    Respond(Response),
    /// Send the request on to the tenant's origin and stream its answer back.
    Forward(Forward),
}

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

/// `DEV_MODE` only: `dev_login_code`, `dev_login_id` and `dev_login_email` in the log line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DevLogin {
    #[serde(rename = "dev_login_code")]
    pub code: String,
    #[serde(rename = "dev_login_id")]
    pub login_id: String,
    #[serde(rename = "dev_login_email")]
    pub email: String,
}

/// The audit part of an admin write's log line: the route, tenant and request id are the line's
/// own; never a secret (no token, no body).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Audit {
    /// `admin_write`, so audit lines are found with one filter.
    pub event: &'static str,
    /// What the write names below the tenant (`domains/app.acme.com`, `secrets/origin`, ...),
    /// empty for the tenant itself.
    pub target: String,
    /// `CF-Connecting-IP`, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
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
    let err = ApiError::bad_request("invalid_request", "the request could not be read");
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
    fn new(route: &'static str, result: Result<Outcome, ApiError>) -> Self {
        Self { route, tenant: None, result, cors: None }
    }

    fn respond(route: &'static str, result: Result<Response, ApiError>) -> Self {
        Self::new(route, result.map(Outcome::Respond))
    }
}

/// `Strict-Transport-Security` of every answer dynauth makes over https.
pub const HSTS: &str = "max-age=31536000";

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
        region: ctx.regions.nearest.map(str::to_string),
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
        #[cfg(any(not(target_arch = "wasm32"), feature = "admin"))]
        Route::OpenApi => {
            let spec = only(request.method(), "GET").map(|()| admin::openapi());
            Routed::respond(route.name(), spec)
        }
        // The admin API is a future of its own (not inlined into this one: it is most of the code).
        #[cfg(any(not(target_arch = "wasm32"), feature = "admin"))]
        Route::Admin => {
            let rest: Vec<&str> = segments.iter().skip(2).map(|s| s.as_ref()).collect();
            let admin: crate::platform::runtime::LocalFuture<'_, Routed> = Box::pin(admin::route(ctx, request, &rest));
            admin.await
        }
        #[cfg(any(not(target_arch = "wasm32"), feature = "admin"))]
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
    match ctx.store.get::<serde::de::IgnoredAny>(&crate::table::keys::readiness_probe(), false).await {
        Ok(_) => Ok(json_response(200, &views::Status { status: "ready" })),
        Err(e) => Err(ApiError::Unavailable { detail: e.to_string(), retry_after: 1 }),
    }
}

#[cfg(any(not(target_arch = "wasm32"), feature = "admin"))]
/// `GET /.well-known/dynauth-domain-verification`: the verification token of the claimed host
/// the request came to (any status, so a `pending` host can prove it reaches this Worker), as
/// text; 404 `unknown_host` when no tenant claims it. `POST /v1/admin/tenants/{id}/domains/{host}/verify`
/// fetches it.
async fn domain_verification(ctx: &Ctx<'_>, request: &Request) -> Result<Response, ApiError> {
    let raw = request_host(request).ok_or_else(|| ApiError::bad_request("invalid_host", "the request has no Host"))?;
    let host = host::canonical(&raw)
        .map_err(|e| ApiError::bad_request("invalid_host", format!("the Host is invalid: {e}")))?;
    let domain = crate::domain::tenants::resolve(&ctx.store, &host).await?.ok_or_else(|| ApiError::NotFound {
        code: "unknown_host",
        message: format!("no tenant claims the host {host}"),
    })?;
    let mut response = empty_response(200);
    *response.body_mut() = crate::domain::tenants::verification_token(ctx.token_secret(), &domain).into_bytes();
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
        #[cfg(any(not(target_arch = "wasm32"), feature = "admin"))]
        Route::SessionToken => token::issue(ctx, request, tenant).await,
        #[cfg(any(not(target_arch = "wasm32"), feature = "admin"))]
        Route::Logout => session::logout(ctx, request, tenant).await,
        #[cfg(any(not(target_arch = "wasm32"), feature = "admin"))]
        Route::LoginStart => login::start(ctx, request, tenant).await,
        #[cfg(any(not(target_arch = "wasm32"), feature = "admin"))]
        Route::LoginVerify => login::verify(ctx, request, tenant).await,
        #[cfg(any(not(target_arch = "wasm32"), feature = "admin"))]
        Route::Jwks => oidc::jwks(ctx, request, &tenant).await,
        #[cfg(any(not(target_arch = "wasm32"), feature = "admin"))]
        Route::Discovery => oidc::discovery(ctx, request, &tenant),
        #[cfg(any(not(target_arch = "wasm32"), feature = "admin"))]
        Route::Authorize => oidc::authorize(ctx, request, tenant).await,
        #[cfg(any(not(target_arch = "wasm32"), feature = "admin"))]
        Route::OAuthToken => oidc::token(ctx, request, tenant).await,
        #[cfg(any(not(target_arch = "wasm32"), feature = "admin"))]
        Route::UserInfo => oidc::userinfo(ctx, request, tenant).await,
        #[cfg(any(not(target_arch = "wasm32"), feature = "admin"))]
        Route::Revoke => oidc::revoke(ctx, request, tenant).await,
        #[cfg(any(not(target_arch = "wasm32"), feature = "admin"))]
        Route::Introspect => oidc::introspect(ctx, request, tenant).await,
        #[cfg(any(not(target_arch = "wasm32"), feature = "admin"))]
        Route::EndSession => oidc::end_session(ctx, request, tenant).await,
        #[cfg(any(not(target_arch = "wasm32"), feature = "admin"))]
        Route::LoginPage => page::login_page(&tenant, request, ctx.random).map(Outcome::Respond),
        _ => Err(ApiError::not_found(format!("no route for {} here", request.uri().path()))),
    };
    Routed { route: route.name(), tenant: id, result, cors }
}

/// The tenant of the request's Host: 400 `invalid_host` when the Host is malformed, 404
/// `unknown_host` when no tenant serves it.
async fn resolve_tenant(ctx: &Ctx<'_>, request: &Request) -> Result<Rc<Tenant>, ApiError> {
    let raw = request_host(request).ok_or_else(|| ApiError::bad_request("invalid_host", "the request has no Host"))?;
    let host = host::canonical(&raw)
        .map_err(|e| ApiError::bad_request("invalid_host", format!("the Host is invalid: {e}")))?;
    let default_tenant = ctx.config.default_tenant.as_ref();
    ctx.caches.resolve(&ctx.regions, &host, default_tenant, ctx.now, ctx.clock).await?.ok_or_else(|| {
        ApiError::NotFound { code: "unknown_host", message: format!("no tenant serves the host {host}") }
    })
}

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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::domain::resolve::Caches;
    use crate::platform::native::block_on;
    use crate::platform::runtime::Clock;
    use crate::platform::testing::{ManualRuntime, ScriptedTransport};
    use crate::values::ids::{SessionId, TenantId};

    #[test]
    fn a_failed_deferred_slide_is_logged_with_its_request_id() {
        let vars: HashMap<&str, &str> = HashMap::from([
            ("AWS_REGION", "us-east-1"),
            ("DYNAMODB_TABLE", "dynauth"),
            ("DYNAMODB_ENDPOINT", "http://127.0.0.1:9"),
            ("AWS_ACCESS_KEY_ID", "AKIDTEST"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("ADMIN_TOKEN", "admin-token-0123456789"),
            ("TOKEN_SECRET", "token-secret-0123456789-0123456789-0123"),
        ]);
        let config = Config::from_lookup(|n| vars.get(n).map(|v| v.to_string())).expect("the test's own input");
        let transport = ScriptedTransport::new();
        transport.respond(400, r#"{"__type":"com.amazon.coral.validate#ValidationException","message":"no"}"#);
        let rt = ManualRuntime::new(1_800_000_000, 1);
        let db = Client::new(&config.dynamo, &transport, &rt);
        let caches = Caches::new(config.cache);
        struct Connected<'a>(&'a ScriptedTransport, &'a ManualRuntime);
        impl Connect for Connected<'_> {
            fn client(&self, config: &crate::dynamo::ClientConfig) -> Client<'_> {
                Client::new(config, self.0, self.1)
            }
        }
        let connect = Connected(&transport, &rt);
        let services =
            Services { config: &config, caches: &caches, connect: &connect, webhook: &transport, runtime: &rt };
        let replica = std::cell::OnceCell::new();
        let ctx = Ctx::new(services, &db, &replica, None, rt.now());
        let slide = sessions::Slide {
            tenant: TenantId::parse("acme").expect("the test's own input"),
            session_id: SessionId::parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").expect("the test's own input"),
            now: 1_800_000_000,
            idle_expires_at: 1_800_600_000,
            ttl: 1_802_000_000,
        };
        let lines = block_on(ctx.run_deferred("req-7", vec![Deferred::Slide(slide)]));
        assert_eq!(lines.len(), 1);
        let line: serde_json::Value = serde_json::from_str(&lines[0]).unwrap_or_default();
        assert_eq!(line["request_id"], "req-7");
        assert_eq!(line["deferred"], "slide");
        assert_eq!(line["tenant"], "acme");
        assert!(line["error_detail"].as_str().is_some_and(|d| d.contains("ValidationException")), "{line}");
    }
}
