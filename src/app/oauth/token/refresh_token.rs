//! The `refresh_token` grant (RFC 6749 §6): the client's current refresh token rotated, its scope
//! kept or narrowed.

use crate::app::ApiError;
use crate::app::oauth::oauth_error;
use crate::domain::oidc::{Granted, Grants, OAuthError, Params, RefreshToken};
use crate::domain::tenants::Tenant;
use crate::domain::tenants::clients::Client;

/// Rotates the refresh token `params` present for `client`.
pub async fn grant(
    grants: &Grants<'_>,
    tenant: &Tenant,
    client: &Client,
    params: &Params,
) -> Result<Granted, ApiError> {
    let p = |name| params.get(name).map_err(|e| oauth_error(400, e));
    let token = p("refresh_token")?.ok_or_else(|| oauth_error(400, OAuthError::request("refresh_token is missing")))?;
    let scope = p("scope")?;
    Ok(grants.refresh(tenant, client, &RefreshToken::presented(&token), scope.as_deref()).await?)
}
