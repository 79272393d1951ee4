//! `GET|POST /v1/oauth/authorize` (the authorization code flow with PKCE): the decision is
//! [`crate::app::oauth::authorize`]'s; here it becomes a redirect (to the client with `code` or
//! `error`, `state` and `iss`, RFC 6749 §4.1.2 and RFC 9207; or to the login page) or a page.

use std::rc::Rc;

use super::{error_page, found, get_or_post, issuer, params, presented_session};
use crate::api::page::MAX_RETURN_TO;
use crate::api::{ApiError, Ctx, Outcome, Request};
use crate::app::oauth::authorize::{self, AuthorizeRequest, Authorized};
use crate::app::oauth::master_key;
use crate::domain::oidc::with_query;
use crate::domain::tenants::Tenant;

/// `GET|POST /v1/oauth/authorize`.
pub(crate) async fn authorize(ctx: &Ctx<'_>, request: &Request, tenant: Rc<Tenant>) -> Result<Outcome, ApiError> {
    get_or_post(request)?;
    master_key(ctx)?;
    let issuer = issuer(request)?;
    let params = match params(request) {
        Ok(p) => p,
        Err(e) => return Ok(error_page(&e.description)),
    };
    let session = presented_session(ctx, request, &tenant);
    let asked = AuthorizeRequest { params: &params, session, max_return_to: MAX_RETURN_TO };
    let location = match authorize::authorize(ctx, &tenant, asked).await? {
        Authorized::Code { redirect_uri, code, state } => {
            let mut query = vec![("code", code.as_str())];
            if let Some(state) = &state {
                query.push(("state", state));
            }
            query.push(("iss", &issuer));
            with_query(&redirect_uri, &query)
        }
        Authorized::Refused { redirect_uri, error, state } => {
            let mut query = vec![("error", error.error.as_str()), ("error_description", error.description.as_str())];
            if let Some(state) = &state {
                query.push(("state", state));
            }
            query.push(("iss", &issuer));
            with_query(&redirect_uri, &query)
        }
        Authorized::SignIn { return_to, login_hint } => {
            let mut login = vec![("return_to", return_to.as_str())];
            if let Some(hint) = &login_hint {
                login.push(("login_hint", hint));
            }
            with_query("/login", &login)
        }
        Authorized::Page(message) => return Ok(error_page(&message)),
    };
    Ok(Outcome::Respond(found(&location)))
}
