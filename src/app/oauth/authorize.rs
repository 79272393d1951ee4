//! The authorization endpoint (RFC 6749 §4.1.1, OpenID Connect Core 3.1.2): an authorization
//! request decided. An unknown client, or a redirect URI it did not register, is shown on a page
//! and never redirected to; every other error goes back to the client (RFC 6749 §4.1.2.1). A
//! browser whose session satisfies the request gets a code at once; `prompt=none` without one
//! gets `login_required`; otherwise the hosted login page, which comes back here.

use super::{PresentedSession, browser_session};
use crate::app::{ApiError, Ctx};
use crate::domain::oidc::{self, AuthRequest, OAuthError, OAuthErrorCode, Params, Pending, Prompt, with_query};
use crate::domain::tenants::Tenant;
use crate::domain::tenants::clients;
use crate::values::ids::ClientId;

/// The path of the authorization endpoint, which the login page comes back to.
const AUTHORIZE_PATH: &str = "/v1/oauth/authorize";

/// An authorization request, as the rim read it.
#[derive(Debug)]
pub struct AuthorizeRequest<'a> {
    pub params: &'a Params,
    /// The browser's session, if it presents one.
    pub session: PresentedSession,
    /// The longest `return_to` the login page takes back.
    pub max_return_to: usize,
}

/// What the browser is sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorized {
    /// Back to the client's `redirect_uri` with a code (and its `state`).
    Code { redirect_uri: String, code: String, state: Option<String> },
    /// Back to the client's `redirect_uri` with an error (and its `state`).
    Refused { redirect_uri: String, error: OAuthError, state: Option<String> },
    /// To the login page, which comes back to `return_to`.
    SignIn { return_to: String, login_hint: Option<String> },
    /// A page of the provider's own saying why: the request cannot go back to any client.
    Page(String),
}

/// Decides the authorization request `request` of `tenant`.
pub async fn authorize(ctx: &Ctx<'_>, tenant: &Tenant, request: AuthorizeRequest<'_>) -> Result<Authorized, ApiError> {
    let AuthorizeRequest { params, session: presented, max_return_to } = request;
    let page = |message: &str| Ok(Authorized::Page(message.to_string()));
    // A request back from the login page names its pending record, which holds its parameters
    // and the time the sign-in must come after; nothing else in it counts.
    let resumed;
    let (params, pending) = match params.get("resume") {
        Ok(Some(resume)) => match Pending::open(ctx.token_secret(), tenant, &resume, ctx.now_secs()) {
            Ok(p) => {
                resumed = Params::new(p.params.clone());
                (&resumed, Some((resume, p)))
            }
            Err(message) => return page(message),
        },
        Ok(None) => (params, None),
        Err(e) => return page(&e.description),
    };
    let client_id = match params.get("client_id") {
        Ok(Some(id)) => id,
        Ok(None) => return page("client_id is missing"),
        Err(e) => return page(&e.description),
    };
    let client = match ClientId::parse(&client_id) {
        Ok(id) => clients::get(&ctx.store, tenant, &id).await?,
        Err(_) => None,
    };
    let Some(client) = client.filter(|c| pending.as_ref().is_none_or(|(_, p)| p.client_id == c.client_id)) else {
        return page("this application (client_id) is not registered here");
    };
    let redirect_uri = match params.get("redirect_uri") {
        Ok(Some(uri)) if clients::redirect_registered(&client.redirect_uris, &uri) => uri,
        Ok(Some(_)) => return page("the redirect_uri is not one this application registered"),
        Ok(None) => return page("redirect_uri is missing"),
        Err(e) => return page(&e.description),
    };
    let state = params.get("state").ok().flatten().filter(|s| s.len() <= oidc::MAX_STATE);
    let request = AuthRequest { client, redirect_uri, state, resumed: pending };
    let back = |error: OAuthError| {
        Ok(Authorized::Refused { redirect_uri: request.redirect_uri.clone(), error, state: request.state.clone() })
    };
    let mut authorization = match oidc::authorization(&|name| params.get(name), &request.client) {
        Ok(a) => a,
        Err(e) => return back(e),
    };
    authorization.authenticated_after = request.resumed.as_ref().map(|(_, p)| p.created_at);
    // Its users sign in with its Auth.js app, whose sessions do not say when that was (no
    // `auth_time`) and whose sign-in dynauth cannot send them to.
    if tenant.authjs.is_some() {
        return back(OAuthError::new(
            OAuthErrorCode::AccessDenied,
            "this tenant signs its users in with its Auth.js app: dynauth is not its OpenID Provider",
        ));
    }
    if let Some(session) = browser_session(ctx, tenant, &presented).await?
        && authorization.satisfied_by(&session, ctx.now_secs())
    {
        let issued =
            oidc::issue_code(&ctx.store, ctx.random, tenant, &request, &authorization, &session, ctx.now_secs())
                .await?;
        let Some(code) = issued else {
            return page("this sign-in request was already completed: start again from the application");
        };
        return Ok(Authorized::Code { redirect_uri: request.redirect_uri, code, state: request.state });
    }
    if authorization.prompt == Prompt::None {
        return back(OAuthError::new(OAuthErrorCode::LoginRequired, "the user is not signed in (prompt=none)"));
    }
    // To the login page, which comes back to this request: as it is when any session will do;
    // else kept as a pending record, which only a sign-in made from now on satisfies.
    let return_to = match &request.resumed {
        Some((resume, _)) => with_query(AUTHORIZE_PATH, &[("resume", resume)]),
        None if authorization.wants_fresh_sign_in() => {
            let pending = Pending {
                client_id: request.client.client_id.clone(),
                params: params.pairs().to_vec(),
                created_at: ctx.now_secs(),
            };
            with_query(AUTHORIZE_PATH, &[("resume", &pending.seal(ctx.token_secret(), tenant))])
        }
        None => {
            let again: Vec<(&str, &str)> = params.pairs().iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            with_query(AUTHORIZE_PATH, &again)
        }
    };
    if return_to.len() > max_return_to {
        // The login page could not bring the user back to it: say so, rather than sign the user
        // in and leave the client waiting.
        return back(OAuthError::request(format!(
            "the request is too long to come back to after a sign-in (over {max_return_to} characters): shorten state or nonce"
        )));
    }
    Ok(Authorized::SignIn { return_to, login_hint: authorization.login_hint })
}
