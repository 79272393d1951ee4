//! The `authorization_code` grant (RFC 6749 §4.1.3, RFC 7636 §4.5): a code, its redirect URI and
//! PKCE verifier, redeemed once for the client it was issued to.

use crate::app::ApiError;
use crate::app::oauth::oauth_error;
use crate::domain::oidc::{Granted, Grants, OAuthError, Params, Redemption};
use crate::domain::tenants::Tenant;
use crate::domain::tenants::clients::Client;

/// Redeems the code `params` present for `client`, on this host (`issuer`).
pub async fn grant(
    grants: &Grants<'_>,
    tenant: &Tenant,
    client: &Client,
    issuer: &str,
    params: &Params,
) -> Result<Granted, ApiError> {
    let p = |name| params.get(name).map_err(|e| oauth_error(400, e));
    let code = p("code")?.ok_or_else(|| oauth_error(400, OAuthError::request("code is missing")))?;
    let redirect_uri = p("redirect_uri")?;
    let verifier = p("code_verifier")?;
    let presented =
        Redemption { issuer, code: &code, redirect_uri: redirect_uri.as_deref(), verifier: verifier.as_deref() };
    Ok(grants.redeem(tenant, client, presented).await?)
}
