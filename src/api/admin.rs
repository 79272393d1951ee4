//! The admin API: every route needs `Authorization: Bearer <ADMIN_TOKEN>`.
//!
//! - `GET /v1/admin/health`: the live table checked against the expected schema.
//! - `GET /v1/admin/tenants?limit=&cursor=`: tenants, a page at a time.
//! - `PUT|GET|DELETE /v1/admin/tenants/{id}`: create or replace, read, delete.
//! - `GET /v1/admin/tenants/{id}/domains`: the tenant's custom domains.
//! - `PUT|DELETE /v1/admin/tenants/{id}/domains/{host}`: claim (or change status), release.
//! - `POST /v1/admin/tenants/{id}/sessions`: mint a session for a user authenticated elsewhere.
//! - `DELETE /v1/admin/tenants/{id}/sessions/{session_id}`: revoke one session.
//! - `GET|DELETE /v1/admin/tenants/{id}/users/{user_id}/sessions`: list or revoke a user's
//!   live sessions.
//! - `GET|DELETE /v1/admin/tenants/{id}/users/{user_id}`, `GET /v1/admin/tenants/{id}/users?email=`:
//!   users (deleting one also revokes its sessions and frees its email).
//! - `POST /v1/admin/tenants/{id}/codes`: issue a login code for a backend that delivers it.

use serde_json::json;

use super::{ApiError, Ctx, Outcome, Request, Response, Routed, content_type, empty_response, json_response, only};
use crate::crypto::constant_time_eq;
use crate::cursor;
use crate::dynamo::table;
use crate::host;
use crate::input::{Fields, Invalid, json_body, json_object, query_param};
use crate::runtime::{Runtime, Transport, epoch_secs, rfc3339};
use crate::sessions::{self, Revoked};
use crate::tenants::{DomainStatus, Tenant, TenantError, TenantId, TenantSpec};

/// Routes `/v1/admin/{rest..}`; the token is checked before anything else.
pub(crate) async fn route<T: Transport, R: Runtime>(ctx: &Ctx<'_, T, R>, request: &Request, rest: &[&str]) -> Routed {
    let (name, result) = match rest {
        ["health"] => ("admin_health", health(ctx, request).await),
        ["tenants"] => ("admin_tenants_list", authorized(ctx, request, list_tenants(ctx, request)).await),
        ["tenants", id] => ("admin_tenant", authorized(ctx, request, tenant(ctx, request, id)).await),
        ["tenants", id, "domains"] => {
            ("admin_domains_list", authorized(ctx, request, list_domains(ctx, request, id)).await)
        }
        ["tenants", id, "domains", host] => {
            ("admin_domain", authorized(ctx, request, domain(ctx, request, id, host)).await)
        }
        ["tenants", id, "sessions"] => {
            ("admin_session_mint", authorized(ctx, request, mint_session(ctx, request, id)).await)
        }
        ["tenants", id, "sessions", sid] => {
            ("admin_session_revoke", authorized(ctx, request, revoke_session(ctx, request, id, sid)).await)
        }
        ["tenants", id, "users", uid, "sessions"] => {
            ("admin_user_sessions", authorized(ctx, request, user_sessions(ctx, request, id, uid)).await)
        }
        ["tenants", id, "users", uid] => ("admin_user", authorized(ctx, request, user(ctx, request, id, uid)).await),
        ["tenants", id, "users"] => ("admin_users_find", authorized(ctx, request, find_users(ctx, request, id)).await),
        ["tenants", id, "codes"] => ("admin_code", authorized(ctx, request, issue_code(ctx, request, id)).await),
        _ => ("not_found", authorized(ctx, request, async { Err(ApiError::not_found("no such admin route")) }).await),
    };
    Routed { route: name, tenant: tenant_of(rest), result: result.map(Outcome::Respond), cors: None }
}

fn tenant_of(rest: &[&str]) -> Option<String> {
    match rest {
        ["tenants", id, ..] => TenantId::parse(id).ok().map(|t| t.to_string()),
        _ => None,
    }
}

async fn authorized<T>(
    ctx: &Ctx<'_, impl Transport, impl Runtime>,
    request: &Request,
    f: impl Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    authorize(ctx, request)?;
    f.await
}

/// Checks the admin bearer token in constant time; 401 `unauthorized` otherwise.
pub fn authorize<T, R>(ctx: &Ctx<'_, T, R>, request: &Request) -> Result<(), ApiError> {
    let presented = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("");
    if !presented.is_empty() && constant_time_eq(presented.as_bytes(), ctx.config.admin_token.expose().as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized {
            code: "unauthorized",
            message: "this admin route needs Authorization: Bearer <ADMIN_TOKEN>".into(),
        })
    }
}

/// `GET /v1/admin/health`: 200 with the details, or 503 `table_mismatch` listing every mismatch.
async fn health<T: Transport, R: Runtime>(ctx: &Ctx<'_, T, R>, request: &Request) -> Result<Response, ApiError> {
    only(request.method(), "GET")?;
    authorize(ctx, request)?;
    let report = table::check(ctx.db, &ctx.config.schema).await?;
    if report.ok() {
        Ok(json_response(200, &json!({ "status": "ok", "table": report })))
    } else {
        Err(ApiError::Detailed {
            status: 503,
            code: "table_mismatch",
            message: format!("the table does not match what dynauth expects: {}", report.mismatches.join("; ")),
            details: json!({ "mismatches": report.mismatches, "table": report }),
        })
    }
}

async fn list_tenants<T: Transport, R: Runtime>(ctx: &Ctx<'_, T, R>, request: &Request) -> Result<Response, ApiError> {
    only(request.method(), "GET")?;
    let (limit, start) = page_params(ctx, request, "tenants")?;
    let (tenants, next) = ctx.store().list(limit, start).await?;
    let secret = ctx.config.token_secret.expose().as_bytes();
    Ok(json_response(
        200,
        &json!({
            "tenants": tenants.iter().map(|t| t.to_json()).collect::<Vec<_>>(),
            "next_cursor": next.map(|k| cursor::encode(secret, "tenants", &k)),
        }),
    ))
}

/// `limit` (1-100, default 20) and the decoded `cursor` of a list request; `scope` binds the
/// cursor to its list.
pub(crate) fn page_params<T, R>(
    ctx: &Ctx<'_, T, R>,
    request: &Request,
    scope: &str,
) -> Result<(u32, Option<crate::dynamo::Item>), ApiError> {
    let query = request.uri().query();
    let limit = match query_param(query, "limit") {
        None => 20,
        Some(raw) => match raw.parse::<u32>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => {
                return Err(Invalid::field("limit", "must be a whole number from 1 to 100").into());
            }
        },
    };
    let start = match query_param(query, "cursor").filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(cursor::decode(ctx.config.token_secret.expose().as_bytes(), scope, &c).ok_or_else(|| {
            ApiError::bad_request("invalid_cursor", "the cursor is not one this list gave out; start again without it")
        })?),
    };
    Ok((limit, start))
}

async fn tenant<T: Transport, R: Runtime>(
    ctx: &Ctx<'_, T, R>,
    request: &Request,
    id: &str,
) -> Result<Response, ApiError> {
    let id = TenantId::parse(id)?;
    let store = ctx.store();
    match request.method().as_str() {
        "PUT" => {
            let body = json_body(content_type(request), request.body())?;
            let spec = TenantSpec::from_json(&body)?;
            let now = rfc3339(ctx.db.runtime().now());
            let (tenant, created) = store.put(&id, spec, &now).await.map_err(tenant_error)?;
            ctx.caches.forget_tenant(&id);
            Ok(json_response(if created { 201 } else { 200 }, &tenant.to_json()))
        }
        "GET" | "HEAD" => match store.get(&id).await? {
            Some(t) => Ok(json_response(200, &t.to_json())),
            None => Err(ApiError::not_found("no tenant with this id")),
        },
        "DELETE" => {
            store.delete(&id).await.map_err(tenant_error)?;
            ctx.caches.forget_tenant(&id);
            Ok(empty_response(204))
        }
        _ => Err(ApiError::MethodNotAllowed { allow: "GET, PUT, DELETE" }),
    }
}

async fn list_domains<T: Transport, R: Runtime>(
    ctx: &Ctx<'_, T, R>,
    request: &Request,
    id: &str,
) -> Result<Response, ApiError> {
    only(request.method(), "GET")?;
    let id = TenantId::parse(id)?;
    match ctx.store().domains(&id).await? {
        Some(domains) => {
            Ok(json_response(200, &json!({ "domains": domains.iter().map(|d| d.to_json()).collect::<Vec<_>>() })))
        }
        None => Err(ApiError::not_found("no tenant with this id")),
    }
}

async fn domain<T: Transport, R: Runtime>(
    ctx: &Ctx<'_, T, R>,
    request: &Request,
    id: &str,
    raw_host: &str,
) -> Result<Response, ApiError> {
    let id = TenantId::parse(id)?;
    let host = host::canonical(raw_host)
        .map_err(|e| ApiError::bad_request("invalid_host", format!("the host is invalid: {e}")))?;
    let store = ctx.store();
    match request.method().as_str() {
        "PUT" => {
            let body = json_object(content_type(request), request.body(), &["status"])?;
            let status = DomainStatus::parse(Fields::new(&body, "").string("status")?)?;
            let now = rfc3339(ctx.db.runtime().now());
            let (domain, created) = store.claim(&id, &host, status, &now).await.map_err(tenant_error)?;
            ctx.caches.forget_host(&host);
            Ok(json_response(if created { 201 } else { 200 }, &domain.to_json()))
        }
        "DELETE" => {
            store.release(&id, &host).await.map_err(tenant_error)?;
            ctx.caches.forget_host(&host);
            Ok(empty_response(204))
        }
        _ => Err(ApiError::MethodNotAllowed { allow: "PUT, DELETE" }),
    }
}

/// The tenant named in an admin path (a consistent read), or 404.
async fn existing_tenant<T: Transport, R: Runtime>(ctx: &Ctx<'_, T, R>, id: &str) -> Result<Tenant, ApiError> {
    let id = TenantId::parse(id)?;
    ctx.store().get(&id).await?.ok_or_else(|| ApiError::not_found("no tenant with this id"))
}

/// `POST /v1/admin/tenants/{id}/sessions` `{"user_id", "email"?, "lifetime_secs"?}`: 201
/// `{"token", "session"}`. The token is shown here once and never again.
async fn mint_session<T: Transport, R: Runtime>(
    ctx: &Ctx<'_, T, R>,
    request: &Request,
    id: &str,
) -> Result<Response, ApiError> {
    only(request.method(), "POST")?;
    let tenant = TenantId::parse(id)?;
    let body = json_object(content_type(request), request.body(), &["user_id", "email", "lifetime_secs"])?;
    let f = Fields::new(&body, "");
    let user_id = sessions::user_id(f.string("user_id")?)?;
    let email = match f.opt_string("email")? {
        Some(raw) => Some(crate::email::normalize(raw).map_err(|e| Invalid::field("email", e))?),
        None => None,
    };
    let lifetime = f.opt_int("lifetime_secs", 300, 400 * 86_400)?;
    let tenant = ctx.store().get(&tenant).await?.ok_or_else(|| ApiError::not_found("no tenant with this id"))?;
    let device = sessions::Device::from_headers(request.headers());
    let (token, session) = ctx.sessions().create(&tenant, &user_id, email.as_deref(), lifetime, device).await?;
    Ok(json_response(201, &json!({ "token": token.expose(), "session": session.to_json() })))
}

/// `DELETE /v1/admin/tenants/{id}/sessions/{session_id}`: 204 (also when already revoked), 404
/// when there is no such session.
async fn revoke_session<T: Transport, R: Runtime>(
    ctx: &Ctx<'_, T, R>,
    request: &Request,
    id: &str,
    session_id: &str,
) -> Result<Response, ApiError> {
    only(request.method(), "DELETE")?;
    let tenant = existing_tenant(ctx, id).await?;
    let well_formed = session_id.len() == 43 && crate::crypto::b64url_decode(session_id).is_some();
    if !well_formed {
        return Err(ApiError::not_found("no such session"));
    }
    let now = epoch_secs(ctx.db.runtime().now());
    match ctx.sessions().revoke(tenant.id.as_str(), session_id, now).await? {
        Revoked::Now | Revoked::Already => Ok(empty_response(204)),
        Revoked::NoSuchSession => Err(ApiError::not_found("no such session")),
    }
}

/// `GET` lists a user's live sessions, newest first (signed cursor); `DELETE` revokes all of
/// them, across pages, and answers `{"revoked": n}`.
async fn user_sessions<T: Transport, R: Runtime>(
    ctx: &Ctx<'_, T, R>,
    request: &Request,
    id: &str,
    uid: &str,
) -> Result<Response, ApiError> {
    let user_id = sessions::user_id(uid)?;
    match request.method().as_str() {
        "GET" | "HEAD" => {
            let tenant = existing_tenant(ctx, id).await?;
            let scope = format!("sessions:{}:{user_id}", tenant.id);
            let (limit, start) = page_params(ctx, request, &scope)?;
            let now = epoch_secs(ctx.db.runtime().now());
            let (list, next) = ctx.sessions().list_live(&tenant, &user_id, limit, start, now).await?;
            let secret = ctx.config.token_secret.expose().as_bytes();
            Ok(json_response(
                200,
                &json!({
                    "sessions": list.iter().map(|s| s.to_admin_json()).collect::<Vec<_>>(),
                    "next_cursor": next.map(|k| cursor::encode(secret, &scope, &k)),
                }),
            ))
        }
        "DELETE" => {
            let tenant = existing_tenant(ctx, id).await?;
            let now = epoch_secs(ctx.db.runtime().now());
            let revoked = ctx.sessions().revoke_all(&tenant, &user_id, now).await?;
            Ok(json_response(200, &json!({ "revoked": revoked })))
        }
        _ => Err(ApiError::MethodNotAllowed { allow: "GET, DELETE" }),
    }
}

/// `GET` a user (200 / 404); `DELETE` it: its sessions are revoked, then the user and its email
/// claim are deleted together (204 / 404).
async fn user<T: Transport, R: Runtime>(
    ctx: &Ctx<'_, T, R>,
    request: &Request,
    id: &str,
    uid: &str,
) -> Result<Response, ApiError> {
    let user_id = sessions::user_id(uid)?;
    let tenant = existing_tenant(ctx, id).await?;
    let not_found = || ApiError::not_found("no user with this id");
    match request.method().as_str() {
        "GET" | "HEAD" => match ctx.users().get(&tenant, &user_id).await? {
            Some(u) => Ok(json_response(200, &u.to_json())),
            None => Err(not_found()),
        },
        "DELETE" => {
            let user = ctx.users().get(&tenant, &user_id).await?.ok_or_else(not_found)?;
            let now = epoch_secs(ctx.db.runtime().now());
            ctx.sessions().revoke_all(&tenant, &user.id, now).await?;
            if ctx.users().delete(&tenant, &user).await? { Ok(empty_response(204)) } else { Err(not_found()) }
        }
        _ => Err(ApiError::MethodNotAllowed { allow: "GET, DELETE" }),
    }
}

/// `GET /v1/admin/tenants/{id}/users?email=`: `{"users": [...]}`, the one user with that email or
/// none.
async fn find_users<T: Transport, R: Runtime>(
    ctx: &Ctx<'_, T, R>,
    request: &Request,
    id: &str,
) -> Result<Response, ApiError> {
    only(request.method(), "GET")?;
    let tenant = existing_tenant(ctx, id).await?;
    let raw = query_param(request.uri().query(), "email")
        .ok_or_else(|| Invalid::field("email", "is required (users are found by email)"))?;
    let email = crate::email::normalize(&raw).map_err(|e| Invalid::field("email", e))?;
    let users = ctx.users().by_email(&tenant, &email).await?;
    Ok(json_response(200, &json!({ "users": users.iter().map(|u| u.to_json()).collect::<Vec<_>>() })))
}

/// `POST /v1/admin/tenants/{id}/codes` `{"email"}`: 201 `{"login_id", "code", "expires_at"}` for
/// a backend that delivers codes itself (no webhook, no rate limit: the backend owns both).
async fn issue_code<T: Transport, R: Runtime>(
    ctx: &Ctx<'_, T, R>,
    request: &Request,
    id: &str,
) -> Result<Response, ApiError> {
    only(request.method(), "POST")?;
    let tenant_id = TenantId::parse(id)?;
    let body = json_object(content_type(request), request.body(), &["email"])?;
    let email =
        crate::email::normalize(Fields::new(&body, "").string("email")?).map_err(|e| Invalid::field("email", e))?;
    let tenant = ctx.store().get(&tenant_id).await?.ok_or_else(|| ApiError::not_found("no tenant with this id"))?;
    let now = epoch_secs(ctx.db.runtime().now());
    let hint = ctx.users().claim_of(&tenant, &email, false).await?;
    let secret = ctx.config.token_secret.expose().as_bytes();
    let (login, code) = crate::login::issue(ctx.db.runtime(), secret, &tenant, &email, hint, now);
    ctx.logins().put(&login).await?;
    Ok(json_response(
        201,
        &json!({ "login_id": login.login_id, "code": code.expose(), "expires_at": sessions::rfc3339_secs(login.expires_at) }),
    ))
}

fn tenant_error(e: TenantError) -> ApiError {
    match e {
        TenantError::NotFound(message) => ApiError::not_found(message),
        TenantError::HostTaken => {
            ApiError::Conflict { code: "conflict", message: "this host is claimed by another tenant".into() }
        }
        TenantError::TooManyDomains => ApiError::Conflict {
            code: "too_many_domains",
            message: format!("a tenant may claim at most {} hosts; release one first", crate::tenants::MAX_DOMAINS),
        },
        TenantError::Contended => {
            ApiError::Conflict { code: "conflict", message: "the tenant was changed concurrently; retry".into() }
        }
        TenantError::Db(e) => e.into(),
    }
}
