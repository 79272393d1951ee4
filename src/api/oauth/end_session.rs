//! `GET|POST /v1/oauth/logout` (OpenID Connect RP-Initiated Logout 1.0): whether and what ends
//! is [`crate::app::oauth::end_session`]'s; here its answer becomes a page (refused, confirm, not
//! signed out, signed out) or the way back to the client, and the session's cookies are cleared.

use std::rc::Rc;

use super::{error_page, found, get_or_post, issuer, page, params, presented_session};
use crate::api::page::html_escape;
use crate::api::{ApiError, Ctx, Outcome, Request, browser, cookies};
use crate::app::oauth::end_session::{self, EndSessionRequest, LoggedOut};
use crate::app::oauth::master_key;
use crate::domain::oidc::Params;
use crate::domain::tenants::Tenant;

/// `GET|POST /v1/oauth/logout`.
pub(crate) async fn end_session(ctx: &Ctx<'_>, request: &Request, tenant: Rc<Tenant>) -> Result<Outcome, ApiError> {
    get_or_post(request)?;
    master_key(ctx)?;
    let issuer = issuer(request)?;
    let params = match params(request) {
        Ok(p) => p,
        Err(e) => return Ok(error_page(&e.description)),
    };
    let confirmed =
        request.method() == http::Method::POST && matches!(params.get("confirm"), Ok(Some(v)) if v == "yes");
    let asked = EndSessionRequest {
        issuer: &issuer,
        params: &params,
        session: presented_session(ctx, request, &tenant),
        confirmed,
        same_origin: browser::check_origin(&tenant, request),
    };
    let mut response = match end_session::end_session(ctx, &tenant, asked).await? {
        LoggedOut::Page(message) => return Ok(error_page(&message)),
        LoggedOut::Confirm => return Ok(confirm_page(&params)),
        LoggedOut::NotSignedOut => {
            let body = "<h1>You are not signed out</h1><p id=\"error\">This site's sessions belong to its own \
                        application: sign out there.</p>";
            return Ok(Outcome::Respond(page(403, "Not signed out", body)));
        }
        LoggedOut::SignedOut { back: Some(location) } => found(&location),
        LoggedOut::SignedOut { back: None } => {
            page(200, "Signed out", "<h1>You are signed out</h1><p>You can close this window.</p>")
        }
    };
    let mode = cookies::CookieMode::of(ctx.config, request);
    match &tenant.authjs {
        Some(store) => cookies::clear_authjs(request, store, mode, &mut response),
        None => cookies::clear_session(request, mode, &mut response),
    }
    Ok(Outcome::Respond(response))
}

/// The page asking the user to confirm a logout no `id_token_hint` of theirs asked for: a form
/// posting the same request back, confirmed.
fn confirm_page(params: &Params) -> Outcome {
    let mut fields = String::new();
    for (k, v) in params.pairs().iter().filter(|(k, _)| k != "confirm") {
        fields.push_str(&format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", html_escape(k), html_escape(v)));
    }
    let body = format!(
        "<h1>Sign out?</h1><p>An application asks to sign you out of this site.</p>\
         <form method=\"post\" action=\"/v1/oauth/logout\">{fields}<input type=\"hidden\" name=\"confirm\" value=\"yes\">\
         <button type=\"submit\" id=\"confirm\">Sign out</button></form>"
    );
    Outcome::Respond(page(200, "Sign out?", &body))
}
