//! The userinfo endpoint (OpenID Connect Core 5.3): the claims a live access token grants.

use super::access_claims;
use crate::app::{ApiError, Ctx};
use crate::domain::oidc::OAuthErrorCode;
use crate::domain::tenants::Tenant;
use crate::domain::users::{self, Profile};
use crate::values::email::Email;
use crate::values::ids::UserId;

/// The claims of the user an access token speaks for, as far as its scope reaches.
#[derive(Debug, Clone)]
pub struct Claims {
    pub sub: UserId,
    /// With the `email` scope (an address a login code was sent to and typed back from).
    pub email: Option<Email>,
    /// With the `profile` scope.
    pub profile: Option<Profile>,
}

/// The user's claims for the access token `token` presented on this host (`issuer`): 401
/// `invalid_token` unless it verifies, has not expired, and its grant and session stand.
pub async fn userinfo(ctx: &Ctx<'_>, tenant: &Tenant, issuer: &str, token: &str) -> Result<Claims, ApiError> {
    let Some((claims, grant)) = access_claims(ctx, tenant, issuer, token).await? else {
        return Err(invalid_token("the access token is invalid, expired or revoked"));
    };
    let scoped = |name: &str| claims.scope.split(' ').any(|s| s == name);
    let email = grant.email.clone().filter(|_| scoped("email"));
    let user = match scoped("profile") {
        true => users::get(&ctx.store, tenant, &grant.user_id).await?,
        false => None,
    };
    Ok(Claims { sub: claims.sub, email, profile: user.map(|u| u.profile) })
}

/// 401 `invalid_token`, with its Bearer challenge (RFC 6750 §3).
fn invalid_token(description: &str) -> ApiError {
    ApiError::OAuth {
        status: 401,
        error: OAuthErrorCode::InvalidToken,
        description: description.into(),
        challenge: Some(format!("Bearer error=\"invalid_token\", error_description=\"{description}\"")),
    }
}
