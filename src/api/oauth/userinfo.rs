//! `GET|POST /v1/oauth/userinfo` (OpenID Connect Core 5.3): the access token read from
//! `Authorization: Bearer` or a form body's `access_token` (RFC 6750 §2), the claims from
//! [`crate::app::oauth::userinfo`].

use std::rc::Rc;

use super::{form, form_content, get_or_post, issuer};
use crate::api::{ApiError, Ctx, Outcome, Request, cookies, json_response, views};
use crate::app::oauth::{oauth_error, userinfo};
use crate::domain::oidc::{OAuthError, OAuthErrorCode};
use crate::domain::tenants::Tenant;

/// `GET|POST /v1/oauth/userinfo`: the user's claims for a live access token, 401 `invalid_token`
/// otherwise.
pub(crate) async fn userinfo(ctx: &Ctx<'_>, request: &Request, tenant: Rc<Tenant>) -> Result<Outcome, ApiError> {
    get_or_post(request)?;
    let issuer = issuer(request)?;
    let from_body = if request.method() == http::Method::POST && form_content(request) {
        form(request)?.get("access_token").map_err(|e| oauth_error(400, e))?
    } else {
        None
    };
    let token = match (cookies::bearer(request), from_body) {
        (Some(_), Some(_)) => return Err(oauth_error(400, OAuthError::request("send the access token once"))),
        (Some(t), None) => t.to_string(),
        (None, Some(t)) => t,
        (None, None) => {
            return Err(ApiError::OAuth {
                status: 401,
                error: OAuthErrorCode::InvalidRequest,
                description: "an access token is required (Authorization: Bearer)".into(),
                challenge: Some("Bearer".into()),
            });
        }
    };
    let claims = userinfo::userinfo(ctx, &tenant, &issuer, &token).await?;
    let email = claims.email.as_ref();
    let view = views::UserInfo {
        sub: &claims.sub,
        email,
        email_verified: email.map(|_| true),
        profile: claims.profile.as_ref(),
    };
    Ok(Outcome::Respond(json_response(200, &view)))
}
