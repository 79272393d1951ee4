//! The token endpoint (`POST /v1/oauth/token`): the client authenticated, then the grant its
//! `grant_type` names, one module each ([`authorization_code`], [`refresh_token`]), then the
//! tokens signed with the tenant's key of the client's algorithm.
//!
//! A 503 here (a write's outcome unknown) asks the client to retry after the time the first
//! request may still be answering ([`settle_secs`]): its identical retry then completes it
//! ([`oidc::Grants`]).

pub mod authorization_code;
pub mod refresh_token;

use super::client_auth::{self, Credentials};
use super::oauth_error;
use super::signing::{master_key, signing_key};
use crate::app::{ApiError, Ctx};
use crate::domain::oidc::tokens::{self, Tokens};
use crate::domain::oidc::{self, OAuthError, OAuthErrorCode, Params, RefreshToken};
use crate::domain::tenants::Tenant;
use crate::domain::users;

/// A token request, as the rim read it.
#[derive(Debug)]
pub struct TokenRequest<'a> {
    /// The issuer of this host's tokens.
    pub issuer: &'a str,
    pub params: &'a Params,
    pub credentials: Credentials,
}

/// What a token request is answered with.
#[derive(Debug)]
pub struct Issued {
    pub tokens: Tokens,
    pub refresh_token: Option<RefreshToken>,
    pub scope: String,
}

/// The token request `request` of `tenant`: the tokens of the grant it asks for, or why not.
pub async fn token(ctx: &Ctx<'_>, tenant: &Tenant, request: TokenRequest<'_>) -> Result<Issued, ApiError> {
    let TokenRequest { issuer, params, credentials } = request;
    let master = master_key(ctx)?;
    let client = client_auth::authenticate(ctx, tenant, &credentials).await?;
    let grants = oidc::Grants {
        store: &ctx.store,
        random: ctx.random,
        secret: master.expose(),
        settle_secs: settle_secs(ctx),
        now: ctx.now_secs(),
    };
    let settle = |e: ApiError| settle(e, grants.settle_secs);
    let granted = match params.get("grant_type").map_err(|e| oauth_error(400, e))?.as_deref() {
        Some("authorization_code") => authorization_code::grant(&grants, tenant, &client, issuer, params).await,
        Some("refresh_token") => refresh_token::grant(&grants, tenant, &client, params).await,
        Some(_) => {
            return Err(oauth_error(
                400,
                OAuthError::new(
                    OAuthErrorCode::UnsupportedGrantType,
                    "grant_type must be authorization_code or refresh_token",
                ),
            ));
        }
        None => return Err(oauth_error(400, OAuthError::request("grant_type is missing"))),
    }
    .map_err(settle)?;
    let user = match granted.grant.has_scope("profile") {
        true => users::get(&ctx.store, tenant, &granted.grant.user_id).await.map_err(|e| settle(e.into()))?,
        false => None,
    };
    let key = signing_key(ctx, master, tenant, client.id_token_signed_response_alg.alg()).await.map_err(settle)?;
    let profile = user.as_ref().map(|u| &u.profile);
    let jti = ctx.random.bytes::<16>();
    let tokens = tokens::issue(ctx.crypto, &key, tenant, &granted, issuer, profile, grants.now, jti)
        .await
        .map_err(|e| settle(e.into()))?;
    grants.delivered(tenant, &granted).await;
    Ok(Issued { tokens, scope: granted.grant.scope(), refresh_token: granted.refresh_token })
}

/// How long a token request may still be answering after its write: the request deadline,
/// rounded up to whole seconds, and one more.
fn settle_secs(ctx: &Ctx<'_>) -> i64 {
    i64::try_from(ctx.config.request_deadline.as_millis().div_ceil(1_000)).unwrap_or(60) + 1
}

/// A 503 of a token request asks for a retry after `settle_secs`, when the first attempt has
/// surely answered; any other error is left as it is.
fn settle(e: ApiError, settle_secs: i64) -> ApiError {
    match e {
        ApiError::Unavailable { detail, .. } => {
            ApiError::Unavailable { detail, retry_after: u64::try_from(settle_secs).unwrap_or(1) }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unavailable_answer_waits_for_the_first_attempt_to_settle() {
        let busy = ApiError::Unavailable { detail: "throttled".into(), retry_after: 1 };
        assert_eq!(settle(busy, 6), ApiError::Unavailable { detail: "throttled".into(), retry_after: 6 });
        let refused = oauth_error(400, OAuthError::request("code is missing"));
        assert_eq!(settle(refused.clone(), 6), refused);
    }
}
