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
//!
//! This file holds the route table, the token and admin-host checks and the audit line; each
//! resource's handlers are a file of their own (`tenants`, `domains`, `secrets`, `sessions`,
//! `users`, `codes`, `clients`, `health`), and each handler only parses the request, calls one
//! use case of [`crate::app`] and renders a view or the [`ApiError`].

mod clients;
mod codes;
mod domains;
mod health;
mod secrets;
mod sessions;
mod tenants;
mod users;

use super::{ApiError, Ctx, Outcome, Request, Response, Routed, empty_response, only};
use crate::domain::tenants::SecretChange;
use crate::platform::crypto::constant_time_eq;
use crate::values::codes::ErrorCode;
use crate::values::ids::TenantId;
use crate::values::input::Invalid;

/// `GET /openapi.json`: the API description (docs/openapi.yaml, as JSON), on any host, no token.
pub(crate) fn openapi() -> Response {
    let mut response = empty_response(200);
    *response.body_mut() = include_bytes!("../../../docs/openapi.json").to_vec();
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
            health::check(ctx).await
        }
        AdminRoute::Tenants => {
            only(method, "GET")?;
            tenants::list(ctx, request).await
        }
        AdminRoute::Tenant(_) => tenants::tenant(ctx, request, tid()?).await,
        AdminRoute::Domains(_) => {
            only(method, "GET")?;
            domains::list(ctx, tid()?).await
        }
        AdminRoute::Domain(_, host) => domains::domain(ctx, request, tid()?, host).await,
        AdminRoute::DomainVerify(_, host) => {
            only(method, "POST")?;
            domains::verify(ctx, tid()?, host).await
        }
        AdminRoute::SessionMint(_) => {
            only(method, "POST")?;
            sessions::mint(ctx, request, tid()?).await
        }
        AdminRoute::SessionRevoke(_, session_id) => {
            only(method, "DELETE")?;
            sessions::revoke(ctx, tid()?, session_id).await
        }
        AdminRoute::UserSessions(_, user_id) => sessions::of_user(ctx, request, tid()?, user_id).await,
        AdminRoute::User(_, user_id) => users::user(ctx, request, tid()?, user_id).await,
        AdminRoute::UsersFind(_) => {
            only(method, "GET")?;
            users::find(ctx, request, tid()?).await
        }
        AdminRoute::Code(_) => {
            only(method, "POST")?;
            codes::issue(ctx, request, tid()?).await
        }
        AdminRoute::SecretRotate(_, kind) => {
            only(method, "POST")?;
            secrets::change(ctx, tid()?, kind, SecretChange::Rotate).await
        }
        AdminRoute::SecretEndOverlap(_, kind) => {
            only(method, "DELETE")?;
            secrets::change(ctx, tid()?, kind, SecretChange::EndOverlap).await
        }
        AdminRoute::Clients(_) => {
            only(method, "GET")?;
            clients::list(ctx, request, tid()?).await
        }
        AdminRoute::Client(_, client_id) => clients::client(ctx, request, tid()?, client_id).await,
        AdminRoute::ClientSecret(_, client_id) => {
            only(method, "POST")?;
            clients::change_secret(ctx, tid()?, client_id, SecretChange::Rotate).await
        }
        AdminRoute::ClientSecretPrevious(_, client_id) => {
            only(method, "DELETE")?;
            clients::change_secret(ctx, tid()?, client_id, SecretChange::EndOverlap).await
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
