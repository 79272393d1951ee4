//! The OpenID Provider's use cases: one function per endpoint, over the request's services
//! ([`Ctx`]) and what the rim parsed from the request; each answers a typed value that the rim
//! renders, or an [`ApiError`].
//!
//! - [`authorize`]: the authorization endpoint's decision (a code, an error for the client, the
//!   login page, or a page of its own).
//! - [`token`]: the token endpoint, one module per grant.
//! - [`client_auth`]: client authentication, with its failure budgets.
//! - [`userinfo`], [`revoke`], [`introspect`]: what an access or refresh token is worth.
//! - [`end_session`]: RP-initiated logout.
//! - [`discovery`]: the provider's metadata and its public keys.
//! - [`signing`]: which of the tenant's keys signs or verifies a token.

pub mod authorize;
pub mod client_auth;
pub mod discovery;
pub mod end_session;
pub mod introspect;
pub mod revoke;
pub mod signing;
pub mod token;
pub mod userinfo;

use crate::app::{ApiError, Ctx};
use crate::domain::oidc::keys::KeyError;
use crate::domain::oidc::tokens::{self, AccessClaims};
use crate::domain::oidc::{self, Grant, OAuthError, OAuthErrorCode, Params, RedeemError};
use crate::domain::sessions::authjs::AuthjsToken;
use crate::domain::sessions::{Session, SessionToken};
use crate::domain::tenants::Tenant;

pub use signing::master_key;

/// The session a browser's request presents, as the rim read it: for a tenant of dynauth's own
/// sessions, its token (bearer or cookie) and, with a cookie, its snapshot cookie; for a tenant
/// whose sessions are its Auth.js app's, the Auth.js token and the snapshot cookie.
#[derive(Debug, Clone, Default)]
pub struct PresentedSession {
    pub token: Option<SessionToken>,
    pub authjs: Option<AuthjsToken>,
    pub snapshot: Option<String>,
}

/// An OAuth endpoint's error with `status`, in its standard's shape.
pub fn oauth_error(status: u16, e: OAuthError) -> ApiError {
    ApiError::OAuth { status, error: e.error, description: e.description, challenge: None }
}

impl From<RedeemError> for ApiError {
    fn from(e: RedeemError) -> Self {
        match e {
            RedeemError::OAuth(e) => oauth_error(400, e),
            RedeemError::Store(e) => e.into(),
        }
    }
}

impl From<KeyError> for ApiError {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::Store(e) => e.into(),
            KeyError::Unsealable | KeyError::Crypto(_) => ApiError::Internal { detail: e.to_string() },
        }
    }
}

/// The live session of dynauth's own that `presented` names (from the browser's signed snapshot
/// when the tenant caches sessions and it holds, else read with one request), a due slide
/// deferred; `None` for anything else.
pub(crate) async fn browser_session(
    ctx: &Ctx<'_>,
    tenant: &Tenant,
    presented: &PresentedSession,
) -> Result<Option<Session>, ApiError> {
    let Some(token) = &presented.token else { return Ok(None) };
    let credential = crate::app::sessions::Credential::Token(token.clone());
    let found =
        crate::app::sessions::find(ctx, tenant, &credential, presented.snapshot.as_deref(), true, false).await?;
    Ok(found.map(|(session, _)| session))
}

/// The claims of the access token `token` of this tenant, when it verifies, has not expired, and
/// its grant and session still stand.
pub(crate) async fn access_claims(
    ctx: &Ctx<'_>,
    tenant: &Tenant,
    issuer: &str,
    token: &str,
) -> Result<Option<(AccessClaims, Grant)>, ApiError> {
    let master = master_key(ctx)?;
    let now = ctx.now_secs();
    let Some(key) = signing::named_key(ctx, master, tenant, token).await? else { return Ok(None) };
    let Some(claims) = tokens::verify_access(ctx.crypto, &key, token, issuer, now).await? else { return Ok(None) };
    let Some(grant) = oidc::grant(&ctx.store, tenant, &claims.gid).await? else { return Ok(None) };
    if oidc::grant_live(&ctx.store, tenant, &grant, now).await?.is_none() {
        return Ok(None);
    }
    Ok(Some((claims, grant)))
}

/// The `token` parameter of a revocation or introspection request (`token_type_hint` may name
/// either kind, or none: both are looked up, RFC 7009 §2.1 and RFC 7662 §2.1).
fn token_param(params: &Params) -> Result<String, ApiError> {
    if let Some(hint) = params.get("token_type_hint").map_err(|e| oauth_error(400, e))?
        && !["access_token", "refresh_token"].contains(&hint.as_str())
    {
        return Err(oauth_error(
            400,
            OAuthError::new(
                OAuthErrorCode::UnsupportedTokenType,
                "token_type_hint must be access_token or refresh_token",
            ),
        ));
    }
    params
        .get("token")
        .map_err(|e| oauth_error(400, e))?
        .ok_or_else(|| oauth_error(400, OAuthError::request("token is missing")))
}
