//! Session lookup (`GET /v1/session`) and logout (`POST /v1/logout`) on a tenant host, and the
//! one function that finds the live session a request presents.

use std::rc::Rc;

use serde_json::json;

use super::{ApiError, Ctx, Deferred, Outcome, Request, empty_response, json_response, only};
use crate::host;
use crate::runtime::{Runtime, Transport, epoch_secs};
use crate::sessions::{CookieMode, Session, SessionToken, presented_token, slide_due};
use crate::tenants::Tenant;

/// The live session a request presents (cookie or bearer token), with ONE DynamoDB request; a
/// slide, when due, is deferred. The flag says the token came in `Authorization`. Anything else
/// (no token, malformed, unknown, expired, idle-expired, revoked, another tenant's) is `None`.
pub(crate) async fn live_session<T: Transport, R: Runtime>(
    ctx: &Ctx<'_, T, R>,
    request: &Request,
    tenant: &Tenant,
) -> Result<Option<(Session, bool)>, ApiError> {
    let local = cookie_mode(ctx, request) == CookieMode::Local;
    let Some((raw, bearer)) = presented_token(request.headers(), local) else {
        return Ok(None);
    };
    let Some(token) = SessionToken::parse(&raw) else {
        return Ok(None);
    };
    let Some(session) = ctx.sessions().get(tenant.id.as_str(), &token.id()).await? else {
        return Ok(None);
    };
    let now = epoch_secs(ctx.db.runtime().now());
    if !session.is_live(tenant, now) {
        return Ok(None);
    }
    if let Some(slide) = slide_due(&session, tenant, now) {
        ctx.defer(Deferred::Slide(slide));
    }
    Ok(Some((session, bearer)))
}

/// The one answer for every kind of missing or dead session: it says nothing about which.
pub(crate) fn invalid_session() -> ApiError {
    ApiError::Unauthorized { code: "invalid_session", message: "no live session: sign in again".into() }
}

/// `GET /v1/session`: 200 `{"session", "user"}` or 401 `invalid_session`.
pub(crate) async fn lookup<T: Transport, R: Runtime>(
    ctx: &Ctx<'_, T, R>,
    request: &Request,
    tenant: Rc<Tenant>,
) -> Result<Outcome, ApiError> {
    only(request.method(), "GET")?;
    match live_session(ctx, request, &tenant).await? {
        Some((session, _)) => Ok(Outcome::Respond(json_response(
            200,
            &json!({ "session": session.to_json(), "user": session.user_json() }),
        ))),
        None => Err(invalid_session()),
    }
}

/// `POST /v1/logout`: revokes the presented session (if any) and clears the cookie; always 204.
pub(crate) async fn logout<T: Transport, R: Runtime>(
    ctx: &Ctx<'_, T, R>,
    request: &Request,
    tenant: Rc<Tenant>,
) -> Result<Outcome, ApiError> {
    only(request.method(), "POST")?;
    let mode = cookie_mode(ctx, request);
    let bearer = presented_token(request.headers(), false).is_some_and(|(_, bearer)| bearer);
    if !bearer {
        super::browser::check_origin(&tenant, request)?;
    }
    if let Some(token) =
        presented_token(request.headers(), mode == CookieMode::Local).and_then(|(raw, _)| SessionToken::parse(&raw))
    {
        let now = epoch_secs(ctx.db.runtime().now());
        ctx.sessions().revoke(tenant.id.as_str(), &token.id(), now).await?;
    }
    let mut response = empty_response(204);
    set_cookie(&mut response, &mode.clear());
    Ok(Outcome::Respond(response))
}

/// How this request's session cookie is written: `Local` only when `INSECURE_LOCAL_COOKIES` is
/// on and the request came over plain http to localhost or 127.0.0.1.
pub(crate) fn cookie_mode<T, R>(ctx: &Ctx<'_, T, R>, request: &Request) -> CookieMode {
    let local_host = super::request_host(request)
        .and_then(|h| host::canonical(&h).ok())
        .is_some_and(|h| matches!(h.as_str(), "localhost" | "127.0.0.1"));
    if ctx.config.insecure_local_cookies && request.uri().scheme_str() == Some("http") && local_host {
        CookieMode::Local
    } else {
        CookieMode::Secure
    }
}

/// Adds a `Set-Cookie` header.
pub(crate) fn set_cookie(response: &mut super::Response, cookie: &str) {
    if let Ok(v) = http::HeaderValue::from_str(cookie) {
        response.headers_mut().append(http::header::SET_COOKIE, v);
    }
}
