//! `POST /v1/oauth/revoke` (RFC 7009): the revocation is [`crate::app::oauth::revoke`]'s; the
//! answer is 200 whatever the token was (§2.2).

use std::rc::Rc;

use super::{credentials, form, issuer, no_store};
use crate::api::{ApiError, Ctx, Outcome, Request, empty_response, only};
use crate::app::oauth::master_key;
use crate::app::oauth::revoke::{self, RevokeRequest};
use crate::domain::tenants::Tenant;

/// `POST /v1/oauth/revoke`.
pub(crate) async fn revoke(ctx: &Ctx<'_>, request: &Request, tenant: Rc<Tenant>) -> Result<Outcome, ApiError> {
    only(request.method(), "POST")?;
    master_key(ctx)?;
    let issuer = issuer(request)?;
    let params = form(request)?;
    let credentials = credentials(request, &params)?;
    revoke::revoke(ctx, &tenant, RevokeRequest { issuer: &issuer, params: &params, credentials }).await?;
    Ok(Outcome::Respond(no_store(empty_response(200))))
}
