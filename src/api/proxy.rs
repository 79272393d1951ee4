//! Forwarding: a request on a tenant host whose path is not dynauth's own goes to the tenant's
//! `origin` (method, path, query, headers, body), marked with `x-dynauth-tenant` and
//! `x-forwarded-host`. Whatever `x-dynauth-*` headers the client sent are removed first, so the
//! origin can trust the ones it sees; dynauth's session cookies never reach it; hop-by-hop headers
//! (and those `Connection` names, and `proxy-*`) stay behind; `x-forwarded-for`, `x-real-ip` and
//! `forwarded` carry `CF-Connecting-IP`, never what the client claimed.
//!
//! The gateway: for a tenant with `protect: true`, only requests with a live session are
//! forwarded; others get 401 `invalid_session` (when they accept JSON) or a redirect to
//! `/login?return_to=...`. Any forwarded request with a live session (protected tenant or not)
//! carries `x-dynauth-identity`, signed with the tenant's origin secret ([`crate::domain::identity`]),
//! beside the plain `x-dynauth-user` and `x-dynauth-session`. A bearer token in dynauth's format
//! (a session token's, live or not, of any tenant) never reaches an origin; other `Authorization`
//! values are the origin's and pass.

use std::rc::Rc;

use http::{HeaderMap, HeaderName, HeaderValue};

use super::cookies::{is_dynauth_bearer, strip_session_cookies};
use super::session::{invalid_session, live_session};
use super::{ApiError, Ctx, Forward, Outcome, Request, body, empty_response};
use crate::app::gateway::{self, Admission, Target};
use crate::domain::identity;
use crate::domain::tenants::Tenant;

/// Forwards `request` to the tenant's origin, through the session gate when the tenant is
/// protected. A live session (required when protected, looked up whenever a token is presented
/// otherwise) is passed on signed, in `x-dynauth-identity`; a bearer token in dynauth's format
/// stays behind whoever's it is (see [`forward`]).
pub(crate) async fn gateway(ctx: &Ctx<'_>, request: &Request, tenant: Rc<Tenant>) -> Result<Outcome, ApiError> {
    let mut plan = forward(&tenant, request)?;
    let live = live_session(ctx, request, &tenant, false).await?;
    let session = live.as_ref().map(|(session, _)| session);
    // An Auth.js app's own routes (its sign-in among them) are never gated.
    let own_route = tenant.authjs.as_ref().is_some_and(|a| under(request.uri().path(), &a.base_path));
    let host = plan.headers.get("x-forwarded-host").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let target = Target {
        method: request.method().as_str(),
        host: &host,
        path_and_query: request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/"),
    };
    match gateway::admit(ctx, &tenant, session, target, own_route) {
        Admission::Anonymous => Ok(Outcome::Forward(plan)),
        Admission::SignIn if accepts_json(request) => Err(invalid_session()),
        Admission::SignIn => Ok(Outcome::Respond(login_redirect(request, &tenant))),
        Admission::As { identity } => {
            let session =
                session.ok_or_else(|| ApiError::Internal { detail: "an identity without a session".into() })?;
            let headers = [
                (identity::HEADER, identity.as_str()),
                ("x-dynauth-user", session.user_id.as_str()),
                ("x-dynauth-session", session.id.as_str()),
            ];
            for (name, value) in headers {
                if let Ok(v) = HeaderValue::from_str(value) {
                    plan.headers.insert(HeaderName::from_static(name), v);
                }
            }
            Ok(Outcome::Forward(plan))
        }
    }
}

fn accepts_json(request: &Request) -> bool {
    request
        .headers()
        .get_all(http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/json") || v.contains("+json"))
}

/// Whether `path` is `base` or below it (`/api/auth`, `/api/auth/signin`; not `/api/authx`).
fn under(path: &str, base: &str) -> bool {
    path.strip_prefix(base).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// 302 to the hosted login page (an Auth.js tenant's: its app's sign-in page), returning to
/// this path and query.
fn login_redirect(request: &Request, tenant: &Tenant) -> super::Response {
    let back = body::encode_component(request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    let location = match &tenant.authjs {
        Some(a) => format!("{}/signin?callbackUrl={back}", a.base_path),
        None => format!("/login?return_to={back}"),
    };
    let mut response = empty_response(302);
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(http::header::LOCATION, v);
    }
    response
}

/// Headers that belong to one connection and are never forwarded (with those the `Connection`
/// header names, and every `proxy-*`).
const HOP_BY_HOP: &[&str] =
    &["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "host"];

/// Who the client is, as a client may claim it: replaced by what Cloudflare saw.
const CLIENT_CLAIMS: &[&str] = &["x-forwarded-for", "x-real-ip", "forwarded"];

/// The forward of `request` to `tenant`'s origin; 404 `not_found` when the tenant has none.
pub(crate) fn forward(tenant: &Tenant, request: &Request) -> Result<Forward, ApiError> {
    let Some(origin) = &tenant.origin else {
        return Err(ApiError::not_found("this tenant has no origin to route to"));
    };
    let path_and_query = request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let url = format!("{origin}{path_and_query}");
    let mut headers = HeaderMap::with_capacity(request.headers().len() + 3);
    // Names listed in `Connection` are hop-by-hop too (RFC 9110 7.6.1).
    let named: Vec<String> = request
        .headers()
        .get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect();
    for (name, value) in request.headers() {
        let n = name.as_str();
        if n.starts_with("x-dynauth-")
            || (name == http::header::AUTHORIZATION && is_dynauth_bearer(value))
            || n.starts_with("proxy-")
            || HOP_BY_HOP.contains(&n)
            || CLIENT_CLAIMS.contains(&n)
            || named.iter().any(|c| c == n)
        {
            continue;
        }
        if name == http::header::COOKIE {
            let kept = strip_session_cookies(value.to_str().unwrap_or(""));
            if let (false, Ok(v)) = (kept.is_empty(), HeaderValue::from_str(&kept)) {
                headers.append(name.clone(), v);
            }
            continue;
        }
        headers.append(name.clone(), value.clone());
    }
    let set = |headers: &mut HeaderMap, name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    };
    set(&mut headers, "x-dynauth-tenant", tenant.id.as_str());
    if let Some(host) = super::request_host(request) {
        set(&mut headers, "x-forwarded-host", &host);
    }
    let proto = request.uri().scheme_str().unwrap_or("https");
    set(&mut headers, "x-forwarded-proto", proto);
    // The client's address as Cloudflare saw it, never as the client claimed it.
    let client = request.headers().get("cf-connecting-ip").and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(ip) = client.filter(|ip| ip.parse::<std::net::IpAddr>().is_ok()) {
        set(&mut headers, "x-forwarded-for", ip);
        set(&mut headers, "x-real-ip", ip);
        let node = if ip.contains(':') { format!("\"[{ip}]\"") } else { ip.to_string() };
        set(&mut headers, "forwarded", &format!("for={node};proto={proto}"));
    }
    Ok(Forward { method: request.method().clone(), url, headers })
}
