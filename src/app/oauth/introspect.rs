//! Token introspection (RFC 7662), for confidential clients only: an access token of the tenant
//! (any of its confidential clients may ask: resource servers do), or the caller's own refresh
//! token, is active with what it grants while it verifies, has not expired, and its grant and
//! session stand (read at home).

use super::client_auth::{self, Credentials};
use super::{access_claims, master_key, oauth_error, token_param};
use crate::app::{ApiError, Ctx};
use crate::domain::oidc::tokens::AccessClaims;
use crate::domain::oidc::{self, Grant, OAuthError, OAuthErrorCode, Params, RefreshToken};
use crate::domain::tenants::Tenant;
use crate::domain::tenants::clients::ClientType;

/// An introspection request, as the rim read it.
#[derive(Debug)]
pub struct IntrospectRequest<'a> {
    pub issuer: &'a str,
    pub params: &'a Params,
    pub credentials: Credentials,
}

/// What the presented token is.
#[derive(Debug, Clone)]
pub enum Introspected {
    /// A live access token of the tenant.
    Access(Box<AccessClaims>),
    /// The caller's current, live refresh token, and its grant.
    Refresh(Box<Grant>),
    /// Anything else.
    Inactive,
}

/// What the token `request` presents is.
pub async fn introspect(
    ctx: &Ctx<'_>,
    tenant: &Tenant,
    request: IntrospectRequest<'_>,
) -> Result<Introspected, ApiError> {
    let IntrospectRequest { issuer, params, credentials } = request;
    master_key(ctx)?;
    let client = client_auth::authenticate(ctx, tenant, &credentials).await?;
    if client.client_type == ClientType::Public {
        return Err(oauth_error(
            401,
            OAuthError::new(OAuthErrorCode::InvalidClient, "introspection is for confidential clients only"),
        ));
    }
    let token = token_param(params)?;
    let now = ctx.now_secs();
    if let Some((claims, _)) = access_claims(ctx, tenant, issuer, &token).await? {
        return Ok(Introspected::Access(Box::new(claims)));
    }
    let refresh = RefreshToken::presented(&token);
    Ok(match oidc::current_refresh(&ctx.store, tenant, &client.client_id, &refresh, now).await? {
        Some(grant) => Introspected::Refresh(Box::new(grant)),
        None => Introspected::Inactive,
    })
}
