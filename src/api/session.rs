//! Session lookup (`GET /v1/session`) and logout (`POST /v1/logout`) on a tenant host, and the
//! one function that finds the live session a request presents.

use std::rc::Rc;

use super::cookies::{self, CookieMode, Presented};
use super::{ApiError, Ctx, Deferred, Outcome, Request, json_response, only, views};
#[cfg(cold)]
use crate::app::sessions::Ending;
use crate::domain::sessions::{self, Found, Session};
use crate::domain::sessions::{authjs, snapshot};
use crate::domain::tenants::Tenant;

/// The live session a request presents (cookie or bearer token), and how it was presented: from
/// the browser's signed snapshot when the tenant caches sessions and it holds (no DynamoDB call;
/// `cached` is true), else with ONE DynamoDB request; a slide, when due, is deferred. Anything
/// else (no token, malformed, unknown, expired, idle-expired, revoked, another tenant's) is
/// `None`.
/// `email`: the answer shows the email (an Auth.js tenant's user is read for it when it says so).
pub(crate) async fn live_session(
    ctx: &Ctx<'_>,
    request: &Request,
    tenant: &Tenant,
    email: bool,
) -> Result<Option<(Session, Presented)>, ApiError> {
    let mode = CookieMode::of(ctx.config, request);
    Ok(looked_up(ctx, request, tenant, mode, true, email).await?.map(|(session, presented, _)| (session, presented)))
}

/// [`live_session`], and whether it came from the snapshot: the token the request presents, its
/// snapshot cookie (a browser's), handed to [`sessions::find`]; a due slide is deferred.
/// `use_cache: false` reads home consistently and never uses the snapshot. A tenant whose
/// sessions are in an Auth.js table is read there ([`authjs::find`]), from its cookies or a
/// bearer token.
pub(crate) async fn looked_up(
    ctx: &Ctx<'_>,
    request: &Request,
    tenant: &Tenant,
    mode: CookieMode,
    use_cache: bool,
    email: bool,
) -> Result<Option<(Session, Presented, bool)>, ApiError> {
    if let Some(store) = &tenant.authjs {
        let Some((presented, token)) = cookies::authjs_presented(request, store) else {
            return Ok(None);
        };
        let raw = (!presented.bearer).then(|| cookies::cookie_value(request.headers(), mode.cache_name())).flatten();
        let snapshot = raw.as_deref().map(|raw| sessions::Presented { raw, token_secret: ctx.token_secret() });
        let found = authjs::find(&ctx.regions, tenant, store, &token, snapshot, ctx.now, !use_cache, email).await?;
        return Ok(found.map(|f| (f.session, presented, f.from_snapshot)));
    }
    let Some(presented) = cookies::presented(request, mode) else {
        return Ok(None);
    };
    let Some(token) = presented.token() else {
        return Ok(None);
    };
    let raw = (!presented.bearer).then(|| cookies::cookie_value(request.headers(), mode.cache_name())).flatten();
    let snapshot = raw.as_deref().map(|raw| sessions::Presented { raw, token_secret: ctx.token_secret() });
    let found = sessions::find(&ctx.regions, tenant, &token, snapshot, ctx.now, !use_cache).await?;
    let Some(Found { session, slide, from_snapshot }) = found else {
        return Ok(None);
    };
    if let Some(slide) = slide {
        ctx.defer(Deferred::Slide(slide));
    }
    Ok(Some((session, presented, from_snapshot)))
}

/// The one answer for every kind of missing or dead session: it says nothing about which.
pub(crate) fn invalid_session() -> ApiError {
    ApiError::Unauthorized { code: "invalid_session", message: "no live session: sign in again".into() }
}

/// `GET /v1/session`: 200 `{"session", "user"}` or 401 `invalid_session`. A browser of a tenant
/// that caches sessions gets (or keeps) its signed snapshot cookie when this read DynamoDB.
pub(crate) async fn lookup(ctx: &Ctx<'_>, request: &Request, tenant: Rc<Tenant>) -> Result<Outcome, ApiError> {
    only(request.method(), "GET")?;
    let mode = CookieMode::of(ctx.config, request);
    match looked_up(ctx, request, &tenant, mode, true, true).await? {
        Some((session, presented, cached)) => {
            let mut response = json_response(200, &views::LookedUp::from(&session));
            if !cached && !presented.bearer {
                set_snapshot(ctx, mode, &tenant, &session, &mut response);
            }
            Ok(Outcome::Respond(response))
        }
        None => Err(invalid_session()),
    }
}

/// Sets the snapshot cookie of `session` when `tenant` caches sessions.
pub(crate) fn set_snapshot(
    ctx: &Ctx<'_>,
    mode: CookieMode,
    tenant: &Tenant,
    session: &Session,
    response: &mut super::Response,
) {
    if let Some((value, max_age)) = snapshot::seal(ctx.token_secret(), tenant, session, ctx.now_secs()) {
        cookies::set_cookie(response, &mode.set_cache(&value, max_age));
    }
}

#[cfg(cold)]
/// `POST /v1/logout`: revokes the presented session (if any) and clears the cookie; always 204.
pub(crate) async fn logout(ctx: &Ctx<'_>, request: &Request, tenant: Rc<Tenant>) -> Result<Outcome, ApiError> {
    only(request.method(), "POST")?;
    let mode = CookieMode::of(ctx.config, request);
    let presented = cookies::presented(request, mode);
    if !presented.as_ref().is_some_and(|p| p.bearer) {
        // It relies on the cookie: a foreign page must not be able to log a browser out.
        super::browser::check_origin(&tenant, request)?;
    }
    if let Some(store) = &tenant.authjs {
        return authjs_logout(ctx, request, &tenant, store, mode).await;
    }
    if let Some(token) = presented.and_then(|p| p.token()) {
        crate::app::sessions::end(ctx, &tenant, Ending::Session(&token.id())).await?;
    }
    let mut response = super::empty_response(204);
    cookies::clear_session(request, mode, &mut response);
    Ok(Outcome::Respond(response))
}

#[cfg(cold)]
/// `POST /v1/logout` on a tenant whose sessions are Auth.js's: 403 `logout_not_allowed` unless
/// `authjs.logout`; else the session item is deleted (as the adapter's `deleteSession`), and the
/// Auth.js cookies the request carried and the snapshot are cleared: 204.
async fn authjs_logout(
    ctx: &Ctx<'_>,
    request: &Request,
    tenant: &Tenant,
    store: &crate::domain::tenants::AuthjsStore,
    mode: CookieMode,
) -> Result<Outcome, ApiError> {
    if !store.logout {
        return Err(ApiError::Forbidden {
            code: "logout_not_allowed",
            message: "this tenant's sessions are its Auth.js app's: sign out there (authjs.logout is off)".into(),
        });
    }
    let mut response = super::empty_response(204);
    end_authjs_session(ctx, request, tenant, store, mode, &mut response).await?;
    Ok(Outcome::Respond(response))
}

#[cfg(cold)]
/// Ends the Auth.js session `request` presents, if any (its item deleted, as the adapter's
/// `deleteSession`), and clears on `response` the Auth.js cookies the request carried and the
/// snapshot.
async fn end_authjs_session(
    ctx: &Ctx<'_>,
    request: &Request,
    tenant: &Tenant,
    store: &crate::domain::tenants::AuthjsStore,
    mode: CookieMode,
    response: &mut super::Response,
) -> Result<(), ApiError> {
    if let Some((_, token)) = cookies::authjs_presented(request, store) {
        let snapshot = cookies::cookie_value(request.headers(), mode.cache_name());
        crate::app::sessions::end_authjs(ctx, tenant, store, &token, snapshot.as_deref()).await?;
    }
    cookies::clear_authjs(request, store, mode, response);
    Ok(())
}
