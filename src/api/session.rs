//! Session lookup (`GET /v1/session`) and logout (`POST /v1/logout`) on a tenant host, and the
//! one function that finds the live session a request presents.

use std::rc::Rc;

use super::cookies::{self, CookieMode, Presented};
use super::{ApiError, Ctx, Outcome, Request, json_response, only, views};
#[cfg(cold)]
use crate::app::sessions::Ending;
use crate::app::sessions::{self, Credential};
use crate::domain::sessions::Session;
use crate::domain::tenants::Tenant;
use crate::values::codes::ErrorCode;

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

/// [`live_session`], and whether it came from the snapshot: the token the request presents
/// (dynauth's cookie or bearer token, or an Auth.js tenant's cookies or bearer token) and its
/// snapshot cookie (a browser's), handed to [`sessions::find`]. `use_cache: false` reads home
/// consistently and never uses the snapshot.
pub(crate) async fn looked_up(
    ctx: &Ctx<'_>,
    request: &Request,
    tenant: &Tenant,
    mode: CookieMode,
    use_cache: bool,
    email: bool,
) -> Result<Option<(Session, Presented, bool)>, ApiError> {
    let (presented, credential) = match &tenant.authjs {
        Some(store) => match cookies::authjs_presented(request, store) {
            Some((presented, token)) => (presented, Credential::Authjs(store, token)),
            None => return Ok(None),
        },
        None => match cookies::presented(request, mode) {
            Some(presented) => match presented.token() {
                Some(token) => (presented, Credential::Token(token)),
                None => return Ok(None),
            },
            None => return Ok(None),
        },
    };
    let snapshot = (!presented.bearer).then(|| cookies::cookie_value(request.headers(), mode.cache_name())).flatten();
    let found = sessions::find(ctx, tenant, &credential, snapshot.as_deref(), use_cache, email).await?;
    Ok(found.map(|(session, from_snapshot)| (session, presented, from_snapshot)))
}

/// The one answer for every kind of missing or dead session: it says nothing about which.
pub(crate) fn invalid_session() -> ApiError {
    ApiError::Unauthorized { code: ErrorCode::InvalidSession, message: "no live session: sign in again".into() }
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
    if let Some((value, max_age)) = sessions::snapshot_of(ctx, tenant, session) {
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
        sessions::end(ctx, &tenant, Ending::Session(&token.id())).await?;
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
            code: ErrorCode::LogoutNotAllowed,
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
        sessions::end_authjs(ctx, tenant, store, &token, snapshot.as_deref()).await?;
    }
    cookies::clear_authjs(request, store, mode, response);
    Ok(())
}
