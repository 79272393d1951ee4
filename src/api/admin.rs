//! The admin API: every route needs `Authorization: Bearer <ADMIN_TOKEN>`, checked (in constant
//! time, before anything else, with no database call) for all of them in [`route`], which also
//! checks the method and parses the tenant id once.
//!
//! - `GET /v1/admin/health`: the live table checked against the expected schema.
//! - `GET /v1/admin/tenants?limit=&cursor=`: tenants, a page at a time.
//! - `PUT|GET|DELETE /v1/admin/tenants/{id}`: create or replace, read, delete.
//! - `GET /v1/admin/tenants/{id}/domains`: the tenant's custom domains.
//! - `PUT|DELETE /v1/admin/tenants/{id}/domains/{host}`: claim (or change status), release.
//! - `POST /v1/admin/tenants/{id}/domains/{host}/verify`: check the host reaches this Worker,
//!   then make it `ready`.
//! - `POST /v1/admin/tenants/{id}/sessions`: mint a session for a user authenticated elsewhere.
//! - `DELETE /v1/admin/tenants/{id}/sessions/{session_id}`: revoke one session.
//! - `GET|DELETE /v1/admin/tenants/{id}/users/{user_id}/sessions`: list or revoke a user's
//!   live sessions.
//! - `GET|DELETE /v1/admin/tenants/{id}/users/{user_id}`, `GET /v1/admin/tenants/{id}/users?email=`:
//!   users (deleting one also revokes its sessions and frees its email).
//! - `POST /v1/admin/tenants/{id}/codes`: issue a login code for a backend that delivers it.
//! - `POST /v1/admin/tenants/{id}/secrets/{origin|webhook}`: rotate a tenant secret (the previous
//!   one stays valid); `DELETE .../secrets/{kind}/previous` ends the overlap.

use serde::Deserialize;

use super::{
    ApiError, Ctx, Outcome, Request, Response, Routed, body, cookies, empty_response, json_response, only, views,
};
use crate::app::sessions::{Ended, Ending, end};
use crate::domain::login;
use crate::domain::sessions::{self, NewSession};
use crate::domain::tenants::clients::{self, ClientBody, ClientSpec};
use crate::domain::tenants::{
    self, DomainStatus, SecretChange, SecretKind, Tenant, TenantBody, TenantError, TenantSpec, Unverified,
};
use crate::domain::users;
use crate::platform::crypto::constant_time_eq;
use crate::table::cursor;
use crate::table::schema;
use crate::values::codes::ErrorCode;
use crate::values::email::Email;
use crate::values::host;
use crate::values::ids::{ClientId, SessionId, TenantId, UserId};
use crate::values::input::{Bounded, Invalid};

/// `GET /openapi.json`: the API description (docs/openapi.yaml, as JSON), on any host, no token.
pub(crate) fn openapi() -> Response {
    let mut response = empty_response(200);
    *response.body_mut() = include_bytes!("../../docs/openapi.json").to_vec();
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    headers.insert(http::header::X_CONTENT_TYPE_OPTIONS, http::HeaderValue::from_static("nosniff"));
    headers.insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("public, max-age=300"));
    response
}

/// An admin route, parsed once from the path after `/v1/admin/`: its log name and its dispatch
/// come from this one table. Tenant routes carry the tenant id as sent (checked in dispatch,
/// after the token) and the other segments they need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AdminRoute<'a> {
    Health,
    Tenants,
    Tenant(&'a str),
    Domains(&'a str),
    Domain(&'a str, &'a str),
    DomainVerify(&'a str, &'a str),
    SessionMint(&'a str),
    SessionRevoke(&'a str, &'a str),
    UserSessions(&'a str, &'a str),
    User(&'a str, &'a str),
    UsersFind(&'a str),
    Code(&'a str),
    SecretRotate(&'a str, &'a str),
    SecretEndOverlap(&'a str, &'a str),
    Clients(&'a str),
    Client(&'a str, &'a str),
    ClientSecret(&'a str, &'a str),
    ClientSecretPrevious(&'a str, &'a str),
    /// Under a tenant, but no route (its id is still checked first: 400 before 404).
    OfTenant(&'a str),
    NotFound,
}

impl<'a> AdminRoute<'a> {
    fn parse(rest: &[&'a str]) -> Self {
        match *rest {
            ["health"] => Self::Health,
            ["tenants"] => Self::Tenants,
            ["tenants", id] => Self::Tenant(id),
            ["tenants", id, "domains"] => Self::Domains(id),
            ["tenants", id, "domains", host] => Self::Domain(id, host),
            ["tenants", id, "domains", host, "verify"] => Self::DomainVerify(id, host),
            ["tenants", id, "sessions"] => Self::SessionMint(id),
            ["tenants", id, "sessions", session] => Self::SessionRevoke(id, session),
            ["tenants", id, "users", user, "sessions"] => Self::UserSessions(id, user),
            ["tenants", id, "users", user] => Self::User(id, user),
            ["tenants", id, "users"] => Self::UsersFind(id),
            ["tenants", id, "codes"] => Self::Code(id),
            ["tenants", id, "secrets", kind] => Self::SecretRotate(id, kind),
            ["tenants", id, "secrets", kind, "previous"] => Self::SecretEndOverlap(id, kind),
            ["tenants", id, "clients"] => Self::Clients(id),
            ["tenants", id, "clients", client] => Self::Client(id, client),
            ["tenants", id, "clients", client, "secret"] => Self::ClientSecret(id, client),
            ["tenants", id, "clients", client, "secret", "previous"] => Self::ClientSecretPrevious(id, client),
            ["tenants", id, ..] => Self::OfTenant(id),
            _ => Self::NotFound,
        }
    }

    /// The route's name in the log line.
    fn name(self) -> &'static str {
        match self {
            Self::Health => "admin_health",
            Self::Tenants => "admin_tenants_list",
            Self::Tenant(_) => "admin_tenant",
            Self::Domains(_) => "admin_domains_list",
            Self::Domain(..) => "admin_domain",
            Self::DomainVerify(..) => "admin_domain_verify",
            Self::SessionMint(_) => "admin_session_mint",
            Self::SessionRevoke(..) => "admin_session_revoke",
            Self::UserSessions(..) => "admin_user_sessions",
            Self::User(..) => "admin_user",
            Self::UsersFind(_) => "admin_users_find",
            Self::Code(_) => "admin_code",
            Self::SecretRotate(..) => "admin_secret_rotate",
            Self::SecretEndOverlap(..) => "admin_secret_end_overlap",
            Self::Clients(_) => "admin_clients_list",
            Self::Client(..) => "admin_client",
            Self::ClientSecret(..) => "admin_client_secret_rotate",
            Self::ClientSecretPrevious(..) => "admin_client_secret_end_overlap",
            Self::OfTenant(_) | Self::NotFound => "not_found",
        }
    }

    /// The tenant id as sent, for tenant routes.
    fn tenant(self) -> Option<&'a str> {
        match self {
            Self::Health | Self::Tenants | Self::NotFound => None,
            Self::Tenant(id)
            | Self::Domains(id)
            | Self::Domain(id, _)
            | Self::DomainVerify(id, _)
            | Self::SessionMint(id)
            | Self::SessionRevoke(id, _)
            | Self::UserSessions(id, _)
            | Self::User(id, _)
            | Self::UsersFind(id)
            | Self::Code(id)
            | Self::SecretRotate(id, _)
            | Self::SecretEndOverlap(id, _)
            | Self::Clients(id)
            | Self::Client(id, _)
            | Self::ClientSecret(id, _)
            | Self::ClientSecretPrevious(id, _)
            | Self::OfTenant(id) => Some(id),
        }
    }
}

/// Routes `/v1/admin/{rest..}`.
pub(crate) async fn route(ctx: &Ctx<'_>, request: &Request, rest: &[&str]) -> Routed {
    let admin_route = AdminRoute::parse(rest);
    let tenant = admin_route.tenant().and_then(|id| TenantId::parse(id).ok()).map(|t| t.to_string());
    if matches!(request.method().as_str(), "PUT" | "POST" | "DELETE" | "PATCH") {
        let target = match rest {
            ["tenants", _, tail @ ..] => tail.join("/"),
            _ => rest.join("/"),
        };
        let client_ip = super::client_ip(request).map(|ip| ip.trim().chars().take(64).collect());
        *ctx.audit.borrow_mut() = Some(super::Audit { event: "admin_write", target, client_ip });
    }
    let result = dispatch(ctx, request, admin_route).await.map(Outcome::Respond);
    Routed { route: admin_route.name(), tenant, result, cors: None }
}

async fn dispatch(ctx: &Ctx<'_>, request: &Request, route: AdminRoute<'_>) -> Result<Response, ApiError> {
    if !ctx.config.admin_hosts.is_empty() {
        // Not an admin host: as if there were no admin API here at all.
        let host = super::request_host(request).and_then(|h| crate::values::host::canonical(&h).ok());
        if !host.is_some_and(|h| ctx.config.admin_hosts.iter().any(|a| a == h.as_str())) {
            return Err(ApiError::not_found(format!("no route for {}", request.uri().path())));
        }
    }
    authorize(ctx, request)?;
    let method = request.method();
    let id = match route.tenant() {
        Some(id) => Some(TenantId::parse(id).map_err(|rule| Invalid::with_code(ErrorCode::InvalidTenantId, rule))?),
        None => None,
    };
    let id = id.as_ref();
    // Every tenant route has its id (checked just above).
    let tid = || id.ok_or_else(|| ApiError::not_found("no such admin route"));
    match route {
        AdminRoute::Health => {
            only(method, "GET")?;
            health(ctx).await
        }
        AdminRoute::Tenants => {
            only(method, "GET")?;
            list_tenants(ctx, request).await
        }
        AdminRoute::Tenant(_) => tenant(ctx, request, tid()?).await,
        AdminRoute::Domains(_) => {
            only(method, "GET")?;
            list_domains(ctx, tid()?).await
        }
        AdminRoute::Domain(_, host) => domain(ctx, request, tid()?, host).await,
        AdminRoute::DomainVerify(_, host) => {
            only(method, "POST")?;
            verify_domain(ctx, tid()?, host).await
        }
        AdminRoute::SessionMint(_) => {
            only(method, "POST")?;
            mint_session(ctx, request, tid()?).await
        }
        AdminRoute::SessionRevoke(_, session_id) => {
            only(method, "DELETE")?;
            revoke_session(ctx, tid()?, session_id).await
        }
        AdminRoute::UserSessions(_, user_id) => user_sessions(ctx, request, tid()?, user_id).await,
        AdminRoute::User(_, user_id) => user(ctx, request, tid()?, user_id).await,
        AdminRoute::UsersFind(_) => {
            only(method, "GET")?;
            find_users(ctx, request, tid()?).await
        }
        AdminRoute::Code(_) => {
            only(method, "POST")?;
            issue_code(ctx, request, tid()?).await
        }
        AdminRoute::SecretRotate(_, kind) => {
            only(method, "POST")?;
            change_secret(ctx, tid()?, kind, SecretChange::Rotate).await
        }
        AdminRoute::SecretEndOverlap(_, kind) => {
            only(method, "DELETE")?;
            change_secret(ctx, tid()?, kind, SecretChange::EndOverlap).await
        }
        AdminRoute::Clients(_) => {
            only(method, "GET")?;
            list_clients(ctx, request, tid()?).await
        }
        AdminRoute::Client(_, client_id) => client(ctx, request, tid()?, client_id).await,
        AdminRoute::ClientSecret(_, client_id) => {
            only(method, "POST")?;
            change_client_secret(ctx, tid()?, client_id, SecretChange::Rotate).await
        }
        AdminRoute::ClientSecretPrevious(_, client_id) => {
            only(method, "DELETE")?;
            change_client_secret(ctx, tid()?, client_id, SecretChange::EndOverlap).await
        }
        AdminRoute::OfTenant(_) | AdminRoute::NotFound => Err(ApiError::not_found("no such admin route")),
    }
}

/// Checks the admin bearer token in constant time; 401 `unauthorized` otherwise.
fn authorize(ctx: &Ctx<'_>, request: &Request) -> Result<(), ApiError> {
    let presented = super::cookies::bearer(request).unwrap_or("");
    // Both tokens are compared, always, so the time taken says nothing about which one matched.
    let current = constant_time_eq(presented.as_bytes(), ctx.config.admin_token.expose().as_bytes());
    let next = ctx
        .config
        .admin_token_next
        .as_ref()
        .is_some_and(|t| constant_time_eq(presented.as_bytes(), t.expose().as_bytes()));
    if !presented.is_empty() && (current | next) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized {
            code: ErrorCode::Unauthorized,
            message: "this admin route needs Authorization: Bearer <ADMIN_TOKEN>".into(),
        })
    }
}

/// `GET /v1/admin/health`: 200 with the details, or 503 `table_mismatch` listing every mismatch.
async fn health(ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let mut report = schema::check(ctx.store.db, ctx.store.schema).await?;
    // With replica regions, each one's table too: a problem in one is a mismatch of the whole.
    let mut regions = Vec::new();
    if !ctx.config.replicas.is_empty() {
        regions.push(views::RegionHealth {
            region: ctx.config.dynamo.region.clone(),
            table: Some(report.clone()),
            error: None,
        });
        for replica in &ctx.config.replicas {
            let db = ctx.connect.client(replica);
            db.set_deadline(ctx.now + ctx.config.request_deadline);
            let health = match schema::check(&db, ctx.store.schema).await {
                Ok(r) => {
                    report.mismatches.extend(r.mismatches.iter().map(|m| format!("{}: {m}", replica.region)));
                    views::RegionHealth { region: replica.region.clone(), table: Some(r), error: None }
                }
                Err(e) => {
                    report.mismatches.push(format!("{}: the table could not be read: {e}", replica.region));
                    views::RegionHealth { region: replica.region.clone(), table: None, error: Some(e.to_string()) }
                }
            };
            regions.push(health);
        }
    }
    if report.ok() {
        return Ok(json_response(200, &views::AdminHealth { status: "ok", table: &report, regions: &regions }));
    }
    Err(ApiError::TableMismatch {
        message: format!("the table does not match what dynauth expects: {}", report.mismatches.join("; ")),
        report: Box::new(report),
    })
}

async fn list_tenants(ctx: &Ctx<'_>, request: &Request) -> Result<Response, ApiError> {
    let (limit, start) = body::page(request, ctx.token_secret(), "tenants")?;
    let (tenants, next) = tenants::list(&ctx.store, limit, start).await?;
    let view = views::Tenants {
        tenants: tenants.iter().map(views::TenantView::from).collect(),
        next_cursor: next.map(|k| cursor::encode(ctx.token_secret(), "tenants", &k)),
    };
    Ok(json_response(200, &view))
}

async fn tenant(ctx: &Ctx<'_>, request: &Request, id: &TenantId) -> Result<Response, ApiError> {
    match request.method().as_str() {
        "PUT" => {
            let body = body::json::<TenantBody>(request)?;
            let spec = TenantSpec::from_body(body, ctx.config.allow_local_targets, &ctx.config.login.limits)?;
            if let Some(store) = &spec.authjs {
                sessions::authjs::check_table(ctx.store.db, store)
                    .await?
                    .map_err(|m| Invalid::with_code(ErrorCode::InvalidRequest, m))?;
            }
            let (tenant, created) =
                tenants::put(&ctx.store, ctx.random, id, spec, ctx.now_secs()).await.map_err(tenant_error)?;
            ctx.caches.forget_tenant(id);
            if !created {
                return Ok(json_response(200, &views::TenantView::from(&tenant)));
            }
            // Shown this once: only seeds are stored, and the admin API never shows them again.
            let origin = tenant.secrets(ctx.token_secret(), SecretKind::Origin);
            let webhook = tenant.secrets(ctx.token_secret(), SecretKind::Webhook);
            let view = views::TenantCreated {
                tenant: views::TenantView::from(&tenant),
                secrets: views::ShownSecrets {
                    origin: origin.first().map_or("", |s| s.expose()),
                    webhook: webhook.first().map_or("", |s| s.expose()),
                },
            };
            Ok(json_response(201, &view))
        }
        "GET" | "HEAD" => {
            let tenant = existing(ctx, id).await?;
            Ok(json_response(200, &views::TenantView::from(&tenant)))
        }
        "DELETE" => {
            tenants::delete(&ctx.store, ctx.random, id).await.map_err(tenant_error)?;
            ctx.caches.forget_tenant(id);
            Ok(empty_response(204))
        }
        _ => Err(ApiError::MethodNotAllowed { allow: "GET, PUT, DELETE" }),
    }
}

async fn list_domains(ctx: &Ctx<'_>, id: &TenantId) -> Result<Response, ApiError> {
    let domains = tenants::domains(&ctx.store, id).await?.ok_or_else(no_tenant)?;
    Ok(json_response(200, &views::Domains { domains: domains.iter().map(views::DomainView::from).collect() }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimBody {
    status: DomainStatus,
}

async fn domain(ctx: &Ctx<'_>, request: &Request, id: &TenantId, raw_host: &str) -> Result<Response, ApiError> {
    let host = host::canonical(raw_host)
        .map_err(|e| ApiError::bad_request(ErrorCode::InvalidHost, format!("the host is invalid: {e}")))?;
    match request.method().as_str() {
        "PUT" => {
            let ClaimBody { status } = body::json(request)?;
            let (domain, created) = tenants::claim(&ctx.store, ctx.random, id, &host, status, ctx.now_secs())
                .await
                .map_err(tenant_error)?;
            ctx.caches.forget_host(&host);
            Ok(json_response(if created { 201 } else { 200 }, &views::DomainView::from(&domain.entry())))
        }
        "DELETE" => {
            tenants::release(&ctx.store, ctx.random, id, &host).await.map_err(tenant_error)?;
            ctx.caches.forget_host(&host);
            Ok(empty_response(204))
        }
        _ => Err(ApiError::MethodNotAllowed { allow: "PUT, DELETE" }),
    }
}

/// `POST /v1/admin/tenants/{id}/domains/{host}/verify`: proves the host reaches this deployment
/// before it routes. It fetches `https://{host}/.well-known/dynauth-domain-verification` (no
/// redirects), which only this deployment answers with the host's token (derived from
/// `TOKEN_SECRET`, the host and its tenant); when the answer is that token the domain becomes
/// `ready` (200, the domain), otherwise 409 `domain_unverified` saying what came back. 404 when the
/// tenant has not claimed the host. With `ALLOW_LOCAL_TARGETS`, loopback hosts are fetched over
/// plain http, on `DOMAIN_CHECK_PORT` when set (local development and tests).
async fn verify_domain(ctx: &Ctx<'_>, id: &TenantId, raw_host: &str) -> Result<Response, ApiError> {
    let host = host::canonical(raw_host)
        .map_err(|e| ApiError::bad_request(ErrorCode::InvalidHost, format!("the host is invalid: {e}")))?;
    let check = tenants::DomainCheck {
        transport: ctx.webhook,
        token_secret: ctx.token_secret(),
        local_targets: ctx.config.allow_local_targets,
        port: ctx.config.domain_check_port,
    };
    let domain = tenants::verify(&ctx.store, ctx.random, check, id, &host, ctx.now_secs()).await.map_err(|e| match e {
        Unverified::Tenant(e) => tenant_error(e),
        Unverified::Unfetchable(e) => ApiError::bad_request(ErrorCode::InvalidHost, format!("the host cannot be fetched: {e}")),
        Unverified::NotShown { url, problem } => ApiError::Conflict {
            code: ErrorCode::DomainUnverified,
            message: format!(
                "{url} does not show this claim: {problem}; route the host to this Worker (a route, a Custom Domain \
                 or a Cloudflare for SaaS custom hostname) and verify again"
            ),
        },
    })?;
    ctx.caches.forget_host(&host);
    Ok(json_response(200, &views::DomainView::from(&domain.entry())))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MintBody {
    user_id: UserId,
    #[serde(default)]
    email: Option<Email>,
    #[serde(default)]
    lifetime_secs: Option<Bounded<300, { 400 * 86_400 }>>,
}

/// `POST /v1/admin/tenants/{id}/sessions` `{"user_id", "email"?, "lifetime_secs"?}`: 201
/// `{"token", "session"}`. The token is shown here once and never again.
async fn mint_session(ctx: &Ctx<'_>, request: &Request, id: &TenantId) -> Result<Response, ApiError> {
    let MintBody { user_id, email, lifetime_secs } = body::json(request)?;
    let tenant = existing(ctx, id).await?;
    let new =
        NewSession { user_id, email, lifetime_secs: lifetime_secs.map(|b| b.0), device: cookies::device(request) };
    let (token, session) = sessions::mint(&ctx.store, ctx.random, &tenant, new, ctx.now_secs()).await?;
    Ok(json_response(201, &views::Minted { token: token.expose(), session: (&session).into() }))
}

/// `DELETE /v1/admin/tenants/{id}/sessions/{session_id}`: 204 (also when already revoked), 404
/// when there is no such session.
async fn revoke_session(ctx: &Ctx<'_>, id: &TenantId, session_id: &str) -> Result<Response, ApiError> {
    let tenant = existing(ctx, id).await?;
    let no_session = || ApiError::not_found("no such session");
    let session_id = SessionId::parse(session_id).map_err(|_| no_session())?;
    match end(ctx, &tenant, Ending::Session(&session_id)).await? {
        Ended::Now(_) | Ended::Already => Ok(empty_response(204)),
        Ended::Nothing => Err(no_session()),
    }
}

/// `GET` lists a user's live sessions, newest first (signed cursor); `DELETE` revokes all of
/// them, across pages, and answers `{"revoked": n}`.
async fn user_sessions(ctx: &Ctx<'_>, request: &Request, id: &TenantId, user_id: &str) -> Result<Response, ApiError> {
    let user_id = user_id_of(user_id)?;
    match request.method().as_str() {
        "GET" | "HEAD" => {
            let tenant = existing(ctx, id).await?;
            let scope = format!("sessions:{}:{user_id}", tenant.id);
            let (limit, start) = body::page(request, ctx.token_secret(), &scope)?;
            let (list, next) = sessions::list_live(&ctx.store, &tenant, &user_id, limit, start, ctx.now_secs()).await?;
            let view = views::Sessions {
                sessions: list.iter().map(views::AdminSessionView::from).collect(),
                next_cursor: next.map(|k| cursor::encode(ctx.token_secret(), &scope, &k)),
            };
            Ok(json_response(200, &view))
        }
        "DELETE" => {
            let tenant = existing(ctx, id).await?;
            let ended = match end(ctx, &tenant, Ending::AllOf(&user_id)).await? {
                Ended::Now(ended) => ended.len(),
                Ended::Already | Ended::Nothing => 0,
            };
            Ok(json_response(200, &views::RevokedCount { revoked: u32::try_from(ended).unwrap_or(u32::MAX) }))
        }
        _ => Err(ApiError::MethodNotAllowed { allow: "GET, DELETE" }),
    }
}

/// `GET` a user (200 / 404); `PATCH` its profile (`{"name", "given_name", "family_name",
/// "picture", "locale"}`, each a value or `null` to remove; 200 with the user / 404); `DELETE` it: its sessions are revoked, then the user and its email
/// claim are deleted together (204 / 404).
async fn user(ctx: &Ctx<'_>, request: &Request, id: &TenantId, user_id: &str) -> Result<Response, ApiError> {
    let user_id = user_id_of(user_id)?;
    let tenant = existing(ctx, id).await?;
    let no_user = || ApiError::not_found("no user with this id");
    match request.method().as_str() {
        "GET" | "HEAD" => {
            let user = users::get(&ctx.store, &tenant, &user_id).await?.ok_or_else(no_user)?;
            Ok(json_response(200, &views::UserView::from(&user)))
        }
        "PATCH" => {
            let change: users::ProfileChange = body::json(request)?;
            let user = users::change_profile(&ctx.store, &tenant, &user_id, change, ctx.now_secs())
                .await?
                .ok_or_else(no_user)?;
            Ok(json_response(200, &views::UserView::from(&user)))
        }
        "DELETE" => match end(ctx, &tenant, Ending::User(&user_id)).await? {
            Ended::Now(_) | Ended::Already => Ok(empty_response(204)),
            Ended::Nothing => Err(no_user()),
        },
        _ => Err(ApiError::MethodNotAllowed { allow: "GET, PATCH, DELETE" }),
    }
}

/// `GET /v1/admin/tenants/{id}/users?email=`: `{"users": [...]}`, the one user with that email or
/// none.
async fn find_users(ctx: &Ctx<'_>, request: &Request, id: &TenantId) -> Result<Response, ApiError> {
    let tenant = existing(ctx, id).await?;
    let raw = body::query(request, "email")?
        .ok_or_else(|| Invalid::field("email", "is required (users are found by email)"))?;
    let email = Email::parse(&raw).map_err(|e| Invalid::field("email", e))?;
    let user = users::find_by_email(&ctx.store, &tenant, &email).await?;
    Ok(json_response(200, &views::Users { users: user.iter().map(views::UserView::from).collect() }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueBody {
    email: Email,
    /// The binding of an earlier code for the same end user, to keep (that code is superseded).
    #[serde(default)]
    binding: Option<String>,
}

/// `POST /v1/admin/tenants/{id}/codes` `{"email", "binding"?}`: 201 `{"login_id", "code",
/// "expires_at", "binding"}` for a backend that delivers codes itself (no webhook, no rate limit:
/// the backend owns both). The binding is what the verify must present: the backend keeps it for
/// its user.
async fn issue_code(ctx: &Ctx<'_>, request: &Request, id: &TenantId) -> Result<Response, ApiError> {
    let IssueBody { email, binding } = body::json(request)?;
    let binding = match binding {
        Some(raw) => Some(login::Binding::parse(&raw).ok_or_else(|| {
            ApiError::bad_request(
                ErrorCode::InvalidRequest,
                "binding: must be the binding an earlier code was issued with",
            )
        })?),
        None => None,
    };
    let tenant = existing(ctx, id).await?;
    let address = crate::domain::budgets::client_subject(super::client_ip(request));
    let caller = login::Caller { address: &address, binding: binding.as_ref() };
    let issued = super::login::logins(ctx).issue(caller, &tenant, &email, ctx.now_secs()).await?;
    let view = views::CodeIssued {
        login_id: &issued.login.login_id,
        code: issued.code.expose(),
        expires_at: views::Time(issued.login.expires_at),
        binding: issued.binding.expose(),
    };
    Ok(json_response(201, &view))
}

/// `POST /v1/admin/tenants/{id}/secrets/{origin|webhook}`: 200 `{"kind", "secret", "valid": 2}`,
/// a new secret (shown this once) beside the previous one, both valid. `DELETE
/// .../secrets/{kind}/previous`: 200 `{"kind", "valid": 1}`, the previous one no longer valid.
/// The JWT key (`secrets/jwt`, with `JWT_MASTER_KEY`) rotates the same way to its next version:
/// the answer names the `kid` that signs from now on (no secret: the JWKS publishes the key).
async fn change_secret(ctx: &Ctx<'_>, id: &TenantId, kind: &str, change: SecretChange) -> Result<Response, ApiError> {
    let kind = SecretKind::parse(kind).ok_or_else(|| ApiError::not_found("no such secret: origin, webhook or jwt"))?;
    let master = if kind == SecretKind::Jwt { Some(crate::app::oauth::signing::master_key(ctx)?) } else { None };
    let tenant =
        tenants::change_secret(&ctx.store, ctx.random, id, kind, change, ctx.now_secs()).await.map_err(tenant_error)?;
    ctx.caches.forget_tenant(id);
    let kind_name = kind.as_str();
    if let Some(master) = master {
        let keys = ctx.caches.jwt_keys(master, &tenant, ctx.now);
        let kid = keys.first().map(|k| k.kid().to_string());
        return Ok(json_response(200, &views::SecretRotated { kind: kind_name, secret: None, kid, valid: keys.len() }));
    }
    let secrets = tenant.secrets(ctx.token_secret(), kind);
    let secret = (change == SecretChange::Rotate).then(|| secrets.first().map_or("", |s| s.expose()));
    Ok(json_response(200, &views::SecretRotated { kind: kind_name, secret, kid: None, valid: secrets.len() }))
}

fn client_id_of(raw: &str) -> Result<ClientId, ApiError> {
    ClientId::parse(raw).map_err(|rule| Invalid::field("client_id", rule).into())
}

/// `GET /v1/admin/tenants/{id}/clients`: a page of the tenant's OpenID Connect clients.
async fn list_clients(ctx: &Ctx<'_>, request: &Request, id: &TenantId) -> Result<Response, ApiError> {
    let scope = format!("clients:{id}");
    let (limit, start) = body::page(request, ctx.token_secret(), &scope)?;
    let tenant = existing(ctx, id).await?;
    let (clients, next) = clients::list(&ctx.store, &tenant, limit, start).await?;
    let view = views::Clients {
        clients: clients.iter().map(views::ClientView::from).collect(),
        next_cursor: next.map(|k| cursor::encode(ctx.token_secret(), &scope, &k)),
    };
    Ok(json_response(200, &view))
}

/// `PUT|GET|DELETE /v1/admin/tenants/{id}/clients/{client_id}`: register (201, a confidential
/// client's secret shown this once) or replace (200) a client, show it, delete it (204).
async fn client(ctx: &Ctx<'_>, request: &Request, id: &TenantId, raw: &str) -> Result<Response, ApiError> {
    let client_id = client_id_of(raw)?;
    match request.method().as_str() {
        "PUT" => {
            let spec = ClientSpec::from_body(body::json::<ClientBody>(request)?, ctx.config.allow_local_targets)?;
            let tenant = existing(ctx, id).await?;
            let (client, secret, created) =
                clients::put(&ctx.store, ctx.random, &tenant, &client_id, spec, ctx.now_secs())
                    .await
                    .map_err(tenant_error)?;
            let view = views::ClientSaved {
                client: views::ClientView::from(&client),
                client_secret: secret.as_ref().map(clients::ClientSecret::expose),
            };
            Ok(json_response(if created { 201 } else { 200 }, &view))
        }
        "GET" => {
            let tenant = existing(ctx, id).await?;
            let client = clients::get(&ctx.store, &tenant, &client_id).await?.ok_or_else(no_client)?;
            Ok(json_response(200, &views::ClientView::from(&client)))
        }
        "DELETE" => {
            let tenant = existing(ctx, id).await?;
            if clients::delete(&ctx.store, &tenant, &client_id).await? {
                // Its refresh tokens end now, its access tokens wherever they are checked at home.
                crate::domain::oidc::revoke_client_grants(&ctx.store, &tenant, &client_id, ctx.now_secs()).await?;
                Ok(empty_response(204))
            } else {
                Err(no_client())
            }
        }
        _ => Err(ApiError::MethodNotAllowed { allow: "GET, PUT, DELETE" }),
    }
}

/// `POST .../clients/{client_id}/secret` (rotate: the new secret shown this once, the newest old
/// one still valid) and `DELETE .../clients/{client_id}/secret/previous` (end the overlap).
async fn change_client_secret(
    ctx: &Ctx<'_>,
    id: &TenantId,
    raw: &str,
    change: SecretChange,
) -> Result<Response, ApiError> {
    let client_id = client_id_of(raw)?;
    let tenant = existing(ctx, id).await?;
    let (client, secret) = clients::change_secret(&ctx.store, ctx.random, &tenant, &client_id, change, ctx.now_secs())
        .await
        .map_err(tenant_error)?;
    let view = views::ClientSecretChanged {
        client_id: &client.client_id,
        client_secret: secret.as_ref().map(clients::ClientSecret::expose),
        valid: client.secret_hashes.len(),
    };
    Ok(json_response(200, &view))
}

fn no_client() -> ApiError {
    ApiError::not_found("no client with this id")
}

/// The tenant named in an admin path (a consistent read), or 404.
async fn existing(ctx: &Ctx<'_>, id: &TenantId) -> Result<Tenant, ApiError> {
    tenants::get(&ctx.store, id).await?.ok_or_else(no_tenant)
}

fn no_tenant() -> ApiError {
    ApiError::not_found("no tenant with this id")
}

fn user_id_of(raw: &str) -> Result<UserId, ApiError> {
    UserId::parse(raw).map_err(|rule| Invalid::field("user_id", rule).into())
}

fn tenant_error(e: TenantError) -> ApiError {
    match e {
        TenantError::NotFound(message) => ApiError::not_found(message),
        TenantError::HostTaken => {
            ApiError::Conflict { code: ErrorCode::Conflict, message: "this host is claimed by another tenant".into() }
        }
        TenantError::TooManyDomains => ApiError::Conflict {
            code: ErrorCode::TooManyDomains,
            message: format!("a tenant may claim at most {} hosts; release one first", tenants::MAX_DOMAINS),
        },
        TenantError::Contended => ApiError::Conflict {
            code: ErrorCode::Conflict,
            message: "the tenant was changed concurrently; retry".into(),
        },
        TenantError::Db(e) => e.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::AdminRoute;

    #[test]
    fn every_admin_path_has_one_route_its_log_name_and_its_tenant() {
        let cases: [(&str, &str, Option<&str>); 21] = [
            ("health", "admin_health", None),
            ("tenants", "admin_tenants_list", None),
            ("tenants/acme", "admin_tenant", Some("acme")),
            ("tenants/acme/domains", "admin_domains_list", Some("acme")),
            ("tenants/acme/domains/a.test", "admin_domain", Some("acme")),
            ("tenants/acme/domains/a.test/verify", "admin_domain_verify", Some("acme")),
            ("tenants/acme/sessions", "admin_session_mint", Some("acme")),
            ("tenants/acme/sessions/s1", "admin_session_revoke", Some("acme")),
            ("tenants/acme/users/u1/sessions", "admin_user_sessions", Some("acme")),
            ("tenants/acme/users/u1", "admin_user", Some("acme")),
            ("tenants/acme/users", "admin_users_find", Some("acme")),
            ("tenants/acme/codes", "admin_code", Some("acme")),
            ("tenants/acme/secrets/jwt", "admin_secret_rotate", Some("acme")),
            ("tenants/acme/secrets/jwt/previous", "admin_secret_end_overlap", Some("acme")),
            ("tenants/acme/clients", "admin_clients_list", Some("acme")),
            ("tenants/acme/clients/web", "admin_client", Some("acme")),
            ("tenants/acme/clients/web/secret", "admin_client_secret_rotate", Some("acme")),
            ("tenants/acme/clients/web/secret/previous", "admin_client_secret_end_overlap", Some("acme")),
            ("tenants/ACME/nothing", "not_found", Some("ACME")),
            ("nothing", "not_found", None),
            ("health/more", "not_found", None),
        ];
        for (path, name, tenant) in cases {
            let segments: Vec<&str> = path.split('/').collect();
            let route = AdminRoute::parse(&segments);
            assert_eq!((route.name(), route.tenant()), (name, tenant), "{path}");
        }
        assert_eq!(AdminRoute::parse(&["tenants", "acme", "domains", "a.test"]), AdminRoute::Domain("acme", "a.test"));
    }
}
