//! `POST /v1/oauth/token` (RFC 6749 §3.2, OpenID Connect Core 3.1.3): the grants are
//! [`crate::app::oauth::token`]'s; here the answer is rendered (RFC 6749 §5.1).

use std::rc::Rc;

use http::HeaderValue;

use super::{credentials, form, issuer};
use crate::api::{ApiError, Ctx, Outcome, Request, json_response, only, views};
use crate::app::oauth::master_key;
use crate::app::oauth::token::{self, TokenRequest};
use crate::domain::oidc::RefreshToken;
use crate::domain::tenants::Tenant;

/// `POST /v1/oauth/token`.
pub(crate) async fn token(ctx: &Ctx<'_>, request: &Request, tenant: Rc<Tenant>) -> Result<Outcome, ApiError> {
    only(request.method(), "POST")?;
    master_key(ctx)?;
    let issuer = issuer(request)?;
    let params = form(request)?;
    let credentials = credentials(request, &params)?;
    let issued = token::token(ctx, &tenant, TokenRequest { issuer: &issuer, params: &params, credentials }).await?;
    let view = views::TokenResponse {
        access_token: &issued.tokens.access_token,
        token_type: "Bearer",
        expires_in: issued.tokens.expires_in,
        id_token: &issued.tokens.id_token,
        refresh_token: issued.refresh_token.as_ref().map(RefreshToken::expose),
        scope: issued.scope,
    };
    let mut response = json_response(200, &view);
    response.headers_mut().insert(http::header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(Outcome::Respond(response))
}
