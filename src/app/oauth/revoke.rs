//! Token revocation (RFC 7009): the client's refresh token, or its access token, ends its whole
//! grant (every token the code started).

use super::client_auth::{self, Credentials};
use super::{access_claims, master_key, token_param};
use crate::app::{ApiError, Ctx};
use crate::domain::oidc::{self, Params, RefreshToken};
use crate::domain::tenants::Tenant;

/// A revocation request, as the rim read it.
#[derive(Debug)]
pub struct RevokeRequest<'a> {
    pub issuer: &'a str,
    pub params: &'a Params,
    pub credentials: Credentials,
}

/// Revokes the grant of the token `request` presents when it is the authenticated client's;
/// whatever the token was (unknown, already revoked, another client's: that client's token is
/// left alone) that is success, as RFC 7009 §2.2 requires.
pub async fn revoke(ctx: &Ctx<'_>, tenant: &Tenant, request: RevokeRequest<'_>) -> Result<(), ApiError> {
    let RevokeRequest { issuer, params, credentials } = request;
    master_key(ctx)?;
    let client = client_auth::authenticate(ctx, tenant, &credentials).await?;
    let token = token_param(params)?;
    let now = ctx.now_secs();
    let refresh = RefreshToken::presented(&token);
    let grant = match oidc::current_refresh(&ctx.store, tenant, &client.client_id, &refresh, now).await? {
        Some(grant) => Some(grant.grant_id),
        None => access_claims(ctx, tenant, issuer, &token)
            .await?
            .filter(|(claims, _)| claims.client_id == client.client_id)
            .map(|(claims, _)| claims.gid),
    };
    if let Some(id) = grant {
        oidc::revoke_grant(&ctx.store, &tenant.id, &id, now).await?;
    }
    Ok(())
}
