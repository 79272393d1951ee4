//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0). An `id_token_hint` must be an ID
//! token this tenant issued on this host (its expiry does not matter); `client_id`, if also
//! given, its audience; a `post_logout_redirect_uri` one the client registered. Anything else is
//! shown on a page and never redirected to. The browser's session ends at once when the hint
//! names it; otherwise the user confirms on a page (a foreign site cannot sign a browser out by a
//! link). Then back to the client with `state`, or a page saying the user is signed out.
//!
//! A tenant whose sessions are its Auth.js app's has no ID token of its own, so no hint names the
//! session: with `authjs.logout` the user confirms, then the Auth.js session ends as
//! `POST /v1/logout` ends it; without it, the user is told they are NOT signed out.

use super::signing::{master_key, named_key};
use super::{PresentedSession, browser_session};
use crate::app::sessions::{self, Ending};
use crate::app::{ApiError, Ctx};
use crate::domain::oidc::tokens::{self, IdHint};
use crate::domain::oidc::{self, OAuthError, Params, with_query};
use crate::domain::tenants::clients::{self, Client};
use crate::domain::tenants::{AuthjsStore, Tenant};
use crate::values::ids::ClientId;

/// A logout request, as the rim read it.
#[derive(Debug)]
pub struct EndSessionRequest<'a> {
    /// The issuer of this host's tokens.
    pub issuer: &'a str,
    pub params: &'a Params,
    /// The browser's session, if it presents one.
    pub session: PresentedSession,
    /// The user confirmed on the provider's page (a POST with `confirm=yes`).
    pub confirmed: bool,
    /// The request's origin check (the CSRF check of a request that relies on the cookie): what
    /// a confirmation that ends a session answers when it fails.
    pub same_origin: Result<(), ApiError>,
}

/// What the browser is shown.
#[derive(Debug, Clone, PartialEq)]
pub enum LoggedOut {
    /// A page saying why the request is refused (400).
    Page(String),
    /// The page asking the user to confirm.
    Confirm,
    /// The page saying the user is NOT signed out: the tenant's Auth.js app signs them out (403).
    NotSignedOut,
    /// Signed out (if signed in at all): the session's cookies go, and the browser goes back to
    /// `back` (the client's URI, with `state`), or is shown a page saying so.
    SignedOut { back: Option<String> },
}

/// Ends the browser's session of `tenant` as `request` asks, when it may.
pub async fn end_session(
    ctx: &Ctx<'_>,
    tenant: &Tenant,
    request: EndSessionRequest<'_>,
) -> Result<LoggedOut, ApiError> {
    let EndSessionRequest { issuer, params, session: presented, confirmed, same_origin } = request;
    let (hint, back) = match checked(ctx, tenant, issuer, params).await? {
        Ok(checked) => checked,
        Err(message) => return Ok(LoggedOut::Page(message)),
    };
    let state = params.get("state").ok().flatten().filter(|s| s.len() <= oidc::MAX_STATE);
    let back = back.map(|uri| {
        let query: Vec<(&str, &str)> = state.iter().map(|s| ("state", s.as_str())).collect();
        with_query(&uri, &query)
    });
    if let Some(store) = &tenant.authjs {
        return authjs_end_session(ctx, tenant, store, presented, confirmed, same_origin, back).await;
    }
    if let Some(session) = browser_session(ctx, tenant, &presented).await? {
        let named = hint.as_ref().is_some_and(|h| match &h.sid {
            Some(sid) => *sid == session.id,
            None => h.sub == session.user_id,
        });
        if confirmed {
            same_origin?;
        }
        if !named && !confirmed {
            return Ok(LoggedOut::Confirm);
        }
        sessions::end(ctx, tenant, Ending::Session(&session.id)).await?;
    }
    Ok(LoggedOut::SignedOut { back })
}

/// The hint and the URI to go back to, when the request names them rightly; else what to tell
/// the user.
async fn checked(
    ctx: &Ctx<'_>,
    tenant: &Tenant,
    issuer: &str,
    params: &Params,
) -> Result<Result<(Option<IdHint>, Option<String>), String>, ApiError> {
    let master = master_key(ctx)?;
    let get = |name| params.get(name).map_err(|e: OAuthError| e.description);
    let hint = match get("id_token_hint") {
        Ok(Some(raw)) => {
            let verified = match named_key(ctx, master, tenant, &raw).await? {
                Some(key) => tokens::verify_id_token(ctx.crypto, &key, &raw, issuer).await?,
                None => None,
            };
            match verified {
                Some(hint) => Some(hint),
                None => return Ok(Err("the id_token_hint is not an ID token this provider issued".into())),
            }
        }
        Ok(None) => None,
        Err(e) => return Ok(Err(e)),
    };
    let named = match get("client_id") {
        Ok(id) => id,
        Err(e) => return Ok(Err(e)),
    };
    if let (Some(hint), Some(named)) = (&hint, &named)
        && hint.aud.as_str() != named
    {
        return Ok(Err("client_id is not the application the id_token_hint was issued to".into()));
    }
    let client_id = hint.as_ref().map(|h| h.aud.to_string()).or(named);
    let client: Option<Client> = match client_id.as_deref().map(ClientId::parse) {
        Some(Ok(id)) => match clients::get(&ctx.store, tenant, &id).await? {
            Some(c) => Some(c),
            None => return Ok(Err("this application (client_id) is not registered here".into())),
        },
        Some(Err(_)) => return Ok(Err("this application (client_id) is not registered here".into())),
        None => None,
    };
    let back = match (get("post_logout_redirect_uri"), &client) {
        (Ok(None), _) => None,
        (Ok(Some(uri)), Some(c)) if c.post_logout_redirect_uris.contains(&uri) => Some(uri),
        (Ok(Some(_)), Some(_)) => {
            return Ok(Err("the post_logout_redirect_uri is not one this application registered".into()));
        }
        (Ok(Some(_)), None) => {
            return Ok(Err("a post_logout_redirect_uri needs the id_token_hint or client_id it belongs to".into()));
        }
        (Err(e), _) => return Ok(Err(e)),
    };
    Ok(Ok((hint, back)))
}

/// RP-initiated logout on a tenant whose sessions are its Auth.js app's: with `authjs.logout`,
/// the user confirms whenever the request carries the app's session (live or not as read here: a
/// replica may lag), then it ends as `POST /v1/logout` ends it; without it, nothing ends.
async fn authjs_end_session(
    ctx: &Ctx<'_>,
    tenant: &Tenant,
    store: &AuthjsStore,
    presented: PresentedSession,
    confirmed: bool,
    same_origin: Result<(), ApiError>,
    back: Option<String>,
) -> Result<LoggedOut, ApiError> {
    if !store.logout {
        return Ok(LoggedOut::NotSignedOut);
    }
    if let Some(token) = &presented.authjs {
        if !confirmed {
            return Ok(LoggedOut::Confirm);
        }
        same_origin?;
        sessions::end_authjs(ctx, tenant, store, token, presented.snapshot.as_deref()).await?;
    }
    Ok(LoggedOut::SignedOut { back })
}
