//! `POST /v1/oauth/introspect` (RFC 7662): what the token is comes from
//! [`crate::app::oauth::introspect`]; here it is rendered (§2.2), `{"active": false}` for
//! anything not active.

use std::rc::Rc;

use super::{credentials, form, issuer, no_store};
use crate::api::{ApiError, Ctx, Outcome, Request, json_response, only, views};
use crate::app::oauth::introspect::{self, IntrospectRequest, Introspected};
use crate::app::oauth::master_key;
use crate::domain::tenants::Tenant;

/// `POST /v1/oauth/introspect`, for confidential clients only.
pub(crate) async fn introspect(ctx: &Ctx<'_>, request: &Request, tenant: Rc<Tenant>) -> Result<Outcome, ApiError> {
    only(request.method(), "POST")?;
    master_key(ctx)?;
    let issuer = issuer(request)?;
    let params = form(request)?;
    let credentials = credentials(request, &params)?;
    let asked = IntrospectRequest { issuer: &issuer, params: &params, credentials };
    let introspected = introspect::introspect(ctx, &tenant, asked).await?;
    let view = match &introspected {
        Introspected::Access(claims) => views::Introspection {
            active: true,
            scope: Some(claims.scope.clone()),
            client_id: Some(&claims.client_id),
            token_type: Some("Bearer"),
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            sub: Some(&claims.sub),
            aud: Some(&claims.aud),
            iss: Some(&claims.iss),
            jti: Some(&claims.jti),
            sid: Some(&claims.sid),
        },
        Introspected::Refresh(grant) => views::Introspection {
            active: true,
            scope: Some(grant.scope()),
            client_id: Some(&grant.client_id),
            token_type: Some("refresh_token"),
            exp: Some(grant.expires_at),
            iat: Some(grant.refreshed_at.unwrap_or(grant.created_at)),
            sub: Some(&grant.user_id),
            iss: Some(&grant.issuer),
            sid: Some(&grant.session_id),
            ..views::Introspection::default()
        },
        Introspected::Inactive => views::Introspection::default(),
    };
    Ok(Outcome::Respond(no_store(json_response(200, &view))))
}
