//! Session lookup (`GET /v1/session`) and logout (`POST /v1/logout`) on a tenant host, and the
//! one function that finds the live session a request presents.

use std::rc::Rc;

use super::cookies::{self, CookieMode, Presented};
use super::{ApiError, Ctx, Deferred, Outcome, Request, empty_response, json_response, only, views};
use crate::sessions::{self, Session};
use crate::tenants::Tenant;

/// The live session a request presents (cookie or bearer token), with ONE DynamoDB request; a
/// slide, when due, is deferred. Also how it was presented. Anything else (no token, malformed,
/// unknown, expired, idle-expired, revoked, another tenant's) is `None`.
pub(crate) async fn live_session(
    ctx: &Ctx<'_>,
    request: &Request,
    tenant: &Tenant,
) -> Result<Option<(Session, Presented)>, ApiError> {
    let Some(presented) = cookies::presented(request, CookieMode::of(ctx.config, request)) else {
        return Ok(None);
    };
    let Some(token) = presented.token() else {
        return Ok(None);
    };
    let Some(live) = sessions::look_up(&ctx.store, tenant, &token, ctx.now_secs()).await? else {
        return Ok(None);
    };
    if let Some(slide) = live.slide {
        ctx.defer(Deferred::Slide(slide));
    }
    Ok(Some((live.session, presented)))
}

/// The one answer for every kind of missing or dead session: it says nothing about which.
pub(crate) fn invalid_session() -> ApiError {
    ApiError::Unauthorized { code: "invalid_session", message: "no live session: sign in again".into() }
}

/// `GET /v1/session`: 200 `{"session", "user"}` or 401 `invalid_session`.
pub(crate) async fn lookup(ctx: &Ctx<'_>, request: &Request, tenant: Rc<Tenant>) -> Result<Outcome, ApiError> {
    only(request.method(), "GET")?;
    match live_session(ctx, request, &tenant).await? {
        Some((session, _)) => Ok(Outcome::Respond(json_response(200, &views::LookedUp::from(&session)))),
        None => Err(invalid_session()),
    }
}

/// `POST /v1/logout`: revokes the presented session (if any) and clears the cookie; always 204.
pub(crate) async fn logout(ctx: &Ctx<'_>, request: &Request, tenant: Rc<Tenant>) -> Result<Outcome, ApiError> {
    only(request.method(), "POST")?;
    let mode = CookieMode::of(ctx.config, request);
    let presented = cookies::presented(request, mode);
    if !presented.as_ref().is_some_and(|p| p.bearer) {
        // It relies on the cookie: a foreign page must not be able to log a browser out.
        super::browser::check_origin(&tenant, request)?;
    }
    if let Some(token) = presented.and_then(|p| p.token()) {
        sessions::revoke(&ctx.store, &tenant.id, &token.id(), ctx.now_secs()).await?;
    }
    let mut response = empty_response(204);
    cookies::set_cookie(&mut response, &mode.clear());
    Ok(Outcome::Respond(response))
}
