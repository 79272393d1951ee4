//! The OpenID Provider's endpoints on a tenant host (served by the admin Worker):
//! `GET|POST /v1/oauth/authorize` (the authorization code flow with PKCE, the hosted login page
//! when there is no session), `POST /v1/oauth/token` (`authorization_code`, `refresh_token`),
//! `GET|POST /v1/oauth/userinfo`, the discovery document and the JWKS (Ed25519 and RSA keys).
//! The use cases are [`crate::domain::oidc`]'s.

use std::rc::Rc;

use http::HeaderValue;

use super::jwks::issuer;
use super::page::{add_html_security_headers, html_escape};
use super::{ApiError, Ctx, Outcome, Request, Response, body, empty_response, json_response, only, session, views};
use crate::app::oauth::signing::{master_key, rsa_keys_of, signing_key, with_named_key};
use crate::app::sessions::{self, Ending};
use crate::domain::jwt::{self, Jwk};
use crate::domain::oidc::keys::KeyError;
use crate::domain::oidc::tokens;
use crate::domain::oidc::{self, AuthRequest, OAuthError, OAuthErrorCode, Pending, Prompt, RedeemError};
use crate::domain::tenants::Tenant;
use crate::domain::tenants::clients::{self, Client, ClientType};
use crate::domain::users;
use crate::values::ids::ClientId;

/// The parameters of a request (its query, or its form body): each at most once (RFC 6749 §3.1),
/// one sent without a value as if omitted.
struct Params(Vec<(String, String)>);

impl Params {
    fn of(raw: &str) -> Result<Self, OAuthError> {
        body::form_pairs(raw)
            .map(Self)
            .ok_or_else(|| OAuthError::request("the parameters are not validly percent-encoded UTF-8"))
    }

    fn get(&self, name: &'static str) -> Result<Option<String>, OAuthError> {
        let mut values = self.0.iter().filter(|(k, v)| k == name && !v.is_empty()).map(|(_, v)| v);
        let first = values.next().cloned();
        if values.next().is_some() {
            return Err(OAuthError::request(format!("the {name} parameter is given more than once")));
        }
        Ok(first)
    }
}

/// The request's parameters: the query of a GET, the form body of a POST.
fn params(request: &Request) -> Result<Params, OAuthError> {
    if request.method() == http::Method::POST {
        if !form_content(request) {
            return Err(OAuthError::request("the body must be application/x-www-form-urlencoded"));
        }
        let raw = std::str::from_utf8(request.body()).map_err(|_| OAuthError::request("the body is not UTF-8"))?;
        return Params::of(raw);
    }
    Params::of(request.uri().query().unwrap_or_default())
}

fn form_content(request: &Request) -> bool {
    request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

fn get_or_post(request: &Request) -> Result<(), ApiError> {
    match *request.method() {
        http::Method::GET | http::Method::HEAD | http::Method::POST => Ok(()),
        _ => Err(ApiError::MethodNotAllowed { allow: "GET, POST" }),
    }
}

/// An error of a token or userinfo request as its standard renders it.
fn oauth(status: u16, e: OAuthError) -> ApiError {
    ApiError::OAuth { status, error: e.error, description: e.description, challenge: None }
}

impl From<RedeemError> for ApiError {
    fn from(e: RedeemError) -> Self {
        match e {
            RedeemError::OAuth(e) => oauth(400, e),
            RedeemError::Store(e) => e.into(),
        }
    }
}

impl From<KeyError> for ApiError {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::Store(e) => e.into(),
            KeyError::Unsealable => ApiError::Internal { detail: e.to_string() },
        }
    }
}

// ----- authorization endpoint -----

/// `GET|POST /v1/oauth/authorize`. An unknown client, or a redirect URI it did not register, is
/// shown on a page and never redirected to; every other error goes back to the client with
/// `error`, `state` and `iss` (RFC 6749 §4.1.2.1, RFC 9207). A browser whose session satisfies the
/// request gets a code at once; `prompt=none` without one gets `login_required`; otherwise the
/// hosted login page, which comes back here.
pub(crate) async fn authorize(ctx: &Ctx<'_>, request: &Request, tenant: Rc<Tenant>) -> Result<Outcome, ApiError> {
    get_or_post(request)?;
    master_key(ctx)?;
    let issuer = issuer(request)?;
    let params = match params(request) {
        Ok(p) => p,
        Err(e) => return Ok(error_page(&e.description)),
    };
    // A request back from the login page names its pending record, which holds its parameters
    // and the time the sign-in must come after; nothing else in it counts.
    let (params, pending) = match params.get("resume") {
        Ok(Some(resume)) => match Pending::open(ctx.token_secret(), &tenant, &resume, ctx.now_secs()) {
            Ok(p) => (Params(p.params.clone()), Some((resume, p))),
            Err(message) => return Ok(error_page(message)),
        },
        Ok(None) => (params, None),
        Err(e) => return Ok(error_page(&e.description)),
    };
    let client_id = match params.get("client_id") {
        Ok(Some(id)) => id,
        Ok(None) => return Ok(error_page("client_id is missing")),
        Err(e) => return Ok(error_page(&e.description)),
    };
    let client = match ClientId::parse(&client_id) {
        Ok(id) => clients::get(&ctx.store, &tenant, &id).await?,
        Err(_) => None,
    };
    let Some(client) = client.filter(|c| pending.as_ref().is_none_or(|(_, p)| p.client_id == c.client_id)) else {
        return Ok(error_page("this application (client_id) is not registered here"));
    };
    let redirect_uri = match params.get("redirect_uri") {
        Ok(Some(uri)) if clients::redirect_registered(&client.redirect_uris, &uri) => uri,
        Ok(Some(_)) => return Ok(error_page("the redirect_uri is not one this application registered")),
        Ok(None) => return Ok(error_page("redirect_uri is missing")),
        Err(e) => return Ok(error_page(&e.description)),
    };
    let state = params.get("state").ok().flatten().filter(|s| s.len() <= oidc::MAX_STATE);
    let request_ = AuthRequest { client, redirect_uri, state, resumed: pending };
    let back = |e: OAuthError| Ok(Outcome::Respond(redirect_error(&request_, &issuer, &e)));
    let mut authorization = match oidc::authorization(&|name| params.get(name), &request_.client) {
        Ok(a) => a,
        Err(e) => return back(e),
    };
    authorization.authenticated_after = request_.resumed.as_ref().map(|(_, p)| p.created_at);
    // Its users sign in with its Auth.js app, whose sessions do not say when that was (no
    // `auth_time`) and whose sign-in dynauth cannot send them to.
    if tenant.authjs.is_some() {
        return back(OAuthError::new(
            OAuthErrorCode::AccessDenied,
            "this tenant signs its users in with its Auth.js app: dynauth is not its OpenID Provider",
        ));
    }
    if let Some((session, _)) = session::live_session(ctx, request, &tenant, true).await?
        && authorization.satisfied_by(&session, ctx.now_secs())
    {
        let issued =
            oidc::issue_code(&ctx.store, ctx.random, &tenant, &request_, &authorization, &session, ctx.now_secs())
                .await?;
        let Some(code) = issued else {
            return Ok(error_page("this sign-in request was already completed: start again from the application"));
        };
        let mut query = vec![("code", code.as_str())];
        if let Some(state) = &request_.state {
            query.push(("state", state));
        }
        query.push(("iss", &issuer));
        return Ok(Outcome::Respond(found(&with_query(&request_.redirect_uri, &query))));
    }
    if authorization.prompt == Prompt::None {
        return back(OAuthError::new(OAuthErrorCode::LoginRequired, "the user is not signed in (prompt=none)"));
    }
    // To the login page, which comes back to this request: as it is when any session will do;
    // else kept as a pending record, which only a sign-in made from now on satisfies.
    let return_to = match &request_.resumed {
        Some((resume, _)) => with_query("/v1/oauth/authorize", &[("resume", resume)]),
        None if authorization.wants_fresh_sign_in() => {
            let pending = Pending {
                client_id: request_.client.client_id.clone(),
                params: params.0.clone(),
                created_at: ctx.now_secs(),
            };
            with_query("/v1/oauth/authorize", &[("resume", &pending.seal(ctx.token_secret(), &tenant))])
        }
        None => {
            let again: Vec<(&str, &str)> = params.0.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            with_query("/v1/oauth/authorize", &again)
        }
    };
    if return_to.len() > super::page::MAX_RETURN_TO {
        // The login page could not bring the user back to it: say so, rather than sign the user
        // in and leave the client waiting.
        return back(OAuthError::new(
            OAuthErrorCode::InvalidRequest,
            format!(
                "the request is too long to come back to after a sign-in (over {} characters): shorten state or nonce",
                super::page::MAX_RETURN_TO
            ),
        ));
    }
    let mut login = vec![("return_to", return_to.as_str())];
    if let Some(hint) = &authorization.login_hint {
        login.push(("login_hint", hint));
    }
    Ok(Outcome::Respond(found(&with_query("/login", &login))))
}

/// `uri` with `pairs` added to its query.
fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = uri.to_string();
    let mut sep = if uri.contains('?') { '&' } else { '?' };
    for (k, v) in pairs {
        out.push(sep);
        out.push_str(&body::encode_component(k));
        out.push('=');
        out.push_str(&body::encode_component(v));
        sep = '&';
    }
    out
}

/// 302 to `location`.
fn found(location: &str) -> Response {
    let mut response = empty_response(302);
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(http::header::LOCATION, v);
    }
    response.headers_mut().insert(http::header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// The error sent back to the client's redirect URI.
fn redirect_error(request: &AuthRequest, issuer: &str, e: &OAuthError) -> Response {
    let mut query = vec![("error", e.error.as_str()), ("error_description", e.description.as_str())];
    if let Some(state) = &request.state {
        query.push(("state", state));
    }
    query.push(("iss", issuer));
    found(&with_query(&request.redirect_uri, &query))
}

/// 400: a request that cannot go back to any client, on a page of its own.
fn error_page(message: &str) -> Outcome {
    let body = format!(
        "<h1>This sign-in request cannot be completed</h1><p id=\"error\">{}</p>\
         <p>Go back to the application and try again; if it keeps happening, tell its developers.</p>",
        html_escape(message)
    );
    Outcome::Respond(page(400, "Sign-in request refused", &body))
}

// ----- token endpoint -----

/// The client credentials of a token request: HTTP Basic (`client_secret_basic`, each half
/// form-decoded: RFC 6749 §2.3.1), or `client_id` (and `client_secret`) in the body. Using both
/// is refused.
fn credentials(request: &Request, params: &Params) -> Result<(Option<String>, Option<String>, bool), OAuthError> {
    let header = request.headers().get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let basic = header.and_then(|v| v.trim_start().split_once(' ')).filter(|(s, _)| s.eq_ignore_ascii_case("basic"));
    let (body_id, body_secret) = (params.get("client_id")?, params.get("client_secret")?);
    let Some((_, encoded)) = basic else { return Ok((body_id, body_secret, false)) };
    let bad = || OAuthError::new(OAuthErrorCode::InvalidClient, "the Basic credentials are malformed");
    let decoded = base64_standard(encoded.trim()).ok_or_else(bad)?;
    let text = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    let pairs = body::form_pairs(&format!("i={id}&s={secret}")).ok_or_else(bad)?;
    let (id, secret) = (pairs[0].1.clone(), pairs.get(1).map(|p| p.1.clone()).unwrap_or_default());
    if body_secret.is_some() || body_id.as_ref().is_some_and(|b| b != &id) {
        return Err(OAuthError::request("use one client authentication method, not two"));
    }
    Ok((Some(id), Some(secret), true))
}

fn base64_standard(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// The client a token, revocation or introspection request authenticates as (RFC 6749 §2.3):
/// 401 `invalid_client` otherwise, with a Basic challenge when Basic was tried.
///
/// A confidential client's wrong secrets are budgeted ([`Limits::client_auth`]): per (client,
/// address), and a ceiling per client over all addresses. A secret is compared only while the
/// address's budget has some left and, for an address that has sent a wrong secret this window,
/// while the ceiling has too; a wrong one spends a unit of each (of the address's alone once the
/// ceiling is spent): 429 + Retry-After past either. So one address locks out only itself, and
/// the ceiling holds back every address that guesses without ever holding back the rightful
/// client, whose addresses send no wrong secret.
///
/// [`Limits::client_auth`]: crate::domain::budgets::Limits::client_auth
async fn client_of(ctx: &Ctx<'_>, request: &Request, tenant: &Tenant, params: &Params) -> Result<Client, ApiError> {
    let (id, secret, basic) = credentials(request, params)
        .map_err(|e| oauth(if e.error == OAuthErrorCode::InvalidClient { 401 } else { 400 }, e))?;
    let client = match id.as_deref().map(ClientId::parse) {
        Some(Ok(id)) => clients::get(&ctx.store, tenant, &id).await?,
        _ => None,
    };
    let secret = secret.as_deref().filter(|s| !s.is_empty() || basic);
    let compared = client.as_ref().filter(|c| c.client_type == ClientType::Confidential && secret.is_some());
    let now = ctx.now_secs();
    let budgets = compared.map(|c| {
        let address = crate::domain::budgets::client_subject(super::client_ip(request));
        ctx.config.login.limits.client_auth(c.client_id.as_str(), &address)
    });
    if let Some([here, ceiling]) = &budgets {
        let spent_here = here.count(&ctx.store, &tenant.id, now).await?;
        if let Some(exceeded) = here.exceeded(spent_here, now) {
            return Err(super::login::too_many(exceeded));
        }
        if spent_here > 0
            && let Some(exceeded) = ceiling.exceeded(ceiling.count(&ctx.store, &tenant.id, now).await?, now)
        {
            return Err(super::login::too_many(exceeded));
        }
    }
    let refused = match oidc::authenticate(client, secret.map(clients::ClientSecret::presented).as_ref()) {
        Ok(authenticated) => return Ok(authenticated.client),
        Err(e) => e,
    };
    if let Some([here, ceiling]) = budgets {
        let spend = async |budgets: &mut [crate::domain::budgets::Budget]| {
            crate::domain::budgets::spend(&ctx.store, ctx.random, &tenant.id, budgets, now).await
        };
        match spend(&mut [here.clone(), ceiling]).await? {
            Ok(()) => {}
            Err(exceeded) => {
                if exceeded.kind != here.kind {
                    // The ceiling is spent: this address's own guess still counts against it.
                    let _ = spend(&mut [here]).await?;
                }
                return Err(super::login::too_many(exceeded));
            }
        }
    }
    Err(ApiError::OAuth {
        status: 401,
        error: refused.error,
        description: refused.description,
        challenge: basic.then(|| "Basic realm=\"dynauth\"".to_string()),
    })
}

/// `POST /v1/oauth/token`. A 503 here (the write's outcome unknown) asks the client to retry
/// after the time the first request may still be answering: its identical retry then completes
/// it ([`oidc::Grants`]).
pub(crate) async fn token(ctx: &Ctx<'_>, request: &Request, tenant: Rc<Tenant>) -> Result<Outcome, ApiError> {
    only(request.method(), "POST")?;
    let master = master_key(ctx)?;
    let issuer = issuer(request)?;
    let params = params(request).map_err(|e| oauth(400, e))?;
    let client = client_of(ctx, request, &tenant, &params).await?;
    let grants = oidc::Grants {
        store: &ctx.store,
        random: ctx.random,
        secret: master.expose(),
        settle_secs: settle_secs(ctx),
        now: ctx.now_secs(),
    };
    let settle = |e: ApiError| match e {
        ApiError::Unavailable { detail, .. } => {
            ApiError::Unavailable { detail, retry_after: u64::try_from(grants.settle_secs).unwrap_or(1) }
        }
        other => other,
    };
    let p = |name| params.get(name).map_err(|e| oauth(400, e));
    let granted = match p("grant_type")?.as_deref() {
        Some("authorization_code") => {
            let code = p("code")?.ok_or_else(|| oauth(400, OAuthError::request("code is missing")))?;
            let redirect_uri = p("redirect_uri")?;
            let verifier = p("code_verifier")?;
            let presented = oidc::Redemption {
                issuer: &issuer,
                code: &code,
                redirect_uri: redirect_uri.as_deref(),
                verifier: verifier.as_deref(),
            };
            grants.redeem(&tenant, &client, presented).await.map_err(|e| settle(e.into()))?
        }
        Some("refresh_token") => {
            let token =
                p("refresh_token")?.ok_or_else(|| oauth(400, OAuthError::request("refresh_token is missing")))?;
            let scope = p("scope")?;
            let token = oidc::RefreshToken::presented(&token);
            grants.refresh(&tenant, &client, &token, scope.as_deref()).await.map_err(|e| settle(e.into()))?
        }
        Some(_) => {
            return Err(oauth(
                400,
                OAuthError::new(
                    OAuthErrorCode::UnsupportedGrantType,
                    "grant_type must be authorization_code or refresh_token",
                ),
            ));
        }
        None => return Err(oauth(400, OAuthError::request("grant_type is missing"))),
    };
    let user = match granted.grant.has_scope("profile") {
        true => users::get(&ctx.store, &tenant, &granted.grant.user_id).await.map_err(|e| settle(e.into()))?,
        false => None,
    };
    let key = signing_key(ctx, master, &tenant, client.id_token_signed_response_alg).await.map_err(settle)?;
    let profile = user.as_ref().map(|u| &u.profile);
    let issued = tokens::issue(key.signer(), &tenant, &granted, &issuer, profile, grants.now, ctx.random.bytes::<16>());
    grants.delivered(&tenant, &granted).await;
    let view = views::TokenResponse {
        access_token: &issued.access_token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
        id_token: &issued.id_token,
        refresh_token: granted.refresh_token.as_ref().map(oidc::RefreshToken::expose),
        scope: granted.grant.scope(),
    };
    let mut response = json_response(200, &view);
    response.headers_mut().insert(http::header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(Outcome::Respond(response))
}

/// How long a token request may still be answering after its write: the request deadline,
/// rounded up to whole seconds, and one more.
fn settle_secs(ctx: &Ctx<'_>) -> i64 {
    i64::try_from(ctx.config.request_deadline.as_millis().div_ceil(1_000)).unwrap_or(60) + 1
}

// ----- userinfo -----

fn invalid_token(description: &str) -> ApiError {
    ApiError::OAuth {
        status: 401,
        error: OAuthErrorCode::InvalidToken,
        description: description.into(),
        challenge: Some(format!("Bearer error=\"invalid_token\", error_description=\"{description}\"")),
    }
}

/// The claims of the access token `token` of this tenant, when it verifies, has not expired, and
/// its grant and session still stand.
pub(crate) async fn access_claims(
    ctx: &Ctx<'_>,
    tenant: &Tenant,
    issuer: &str,
    token: &str,
) -> Result<Option<(tokens::AccessClaims, oidc::Grant)>, ApiError> {
    let master = master_key(ctx)?;
    let now = ctx.now_secs();
    let verified = with_named_key(ctx, master, tenant, token, |k| tokens::verify_access(k, token, issuer, now)).await?;
    let Some(claims) = verified else { return Ok(None) };
    let Some(grant) = oidc::grant(&ctx.store, tenant, &claims.gid).await? else { return Ok(None) };
    if oidc::grant_live(&ctx.store, tenant, &grant, now).await?.is_none() {
        return Ok(None);
    }
    Ok(Some((claims, grant)))
}

/// `GET|POST /v1/oauth/userinfo`: the user's claims for a live access token (`Authorization:
/// Bearer`, or `access_token` in a form body), 401 `invalid_token` otherwise.
pub(crate) async fn userinfo(ctx: &Ctx<'_>, request: &Request, tenant: Rc<Tenant>) -> Result<Outcome, ApiError> {
    get_or_post(request)?;
    let issuer = issuer(request)?;
    let from_body = if request.method() == http::Method::POST && form_content(request) {
        params(request).map_err(|e| oauth(400, e))?.get("access_token").map_err(|e| oauth(400, e))?
    } else {
        None
    };
    let token = match (super::cookies::bearer(request), from_body) {
        (Some(_), Some(_)) => return Err(oauth(400, OAuthError::request("send the access token once"))),
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
    let Some((claims, grant)) = access_claims(ctx, &tenant, &issuer, &token).await? else {
        return Err(invalid_token("the access token is invalid, expired or revoked"));
    };
    let scoped = |name: &str| claims.scope.split(' ').any(|s| s == name);
    let email = grant.email.as_ref().filter(|_| scoped("email"));
    let user = match scoped("profile") {
        true => users::get(&ctx.store, &tenant, &grant.user_id).await?,
        false => None,
    };
    let profile = user.as_ref().map(|u| &u.profile);
    let view = views::UserInfo { sub: &claims.sub, email, email_verified: email.map(|_| true), profile };
    Ok(Outcome::Respond(json_response(200, &view)))
}

// ----- revocation and introspection -----

/// The `token` parameter of a revocation or introspection request (`token_type_hint` may name
/// either kind, or none: both are looked up, RFC 7009 §2.1 and RFC 7662 §2.1).
fn token_param(params: &Params) -> Result<String, ApiError> {
    if let Some(hint) = params.get("token_type_hint").map_err(|e| oauth(400, e))?
        && !["access_token", "refresh_token"].contains(&hint.as_str())
    {
        return Err(oauth(
            400,
            OAuthError::new(
                OAuthErrorCode::UnsupportedTokenType,
                "token_type_hint must be access_token or refresh_token",
            ),
        ));
    }
    params.get("token").map_err(|e| oauth(400, e))?.ok_or_else(|| oauth(400, OAuthError::request("token is missing")))
}

fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /v1/oauth/revoke` (RFC 7009): the client's refresh token, or its access token, ends its
/// whole grant (every token the code started). 200 whatever the token was (unknown, already
/// revoked, another client's: that client's token is left alone), as §2.2 requires.
pub(crate) async fn revoke(ctx: &Ctx<'_>, request: &Request, tenant: Rc<Tenant>) -> Result<Outcome, ApiError> {
    only(request.method(), "POST")?;
    master_key(ctx)?;
    let issuer = issuer(request)?;
    let params = params(request).map_err(|e| oauth(400, e))?;
    let client = client_of(ctx, request, &tenant, &params).await?;
    let token = token_param(&params)?;
    let now = ctx.now_secs();
    let grant = match oidc::current_refresh(
        &ctx.store,
        &tenant,
        &client.client_id,
        &oidc::RefreshToken::presented(&token),
        now,
    )
    .await?
    {
        Some(grant) => Some(grant.grant_id),
        None => access_claims(ctx, &tenant, &issuer, &token)
            .await?
            .filter(|(claims, _)| claims.client_id == client.client_id)
            .map(|(claims, _)| claims.gid),
    };
    if let Some(id) = grant {
        oidc::revoke_grant(&ctx.store, &tenant.id, &id, now).await?;
    }
    Ok(Outcome::Respond(no_store(empty_response(200))))
}

/// `POST /v1/oauth/introspect` (RFC 7662), for confidential clients only: an access token of the
/// tenant (any of its confidential clients may ask: resource servers do), or the caller's own
/// refresh token, is `active` with what it grants while it verifies, has not expired, and its
/// grant and session stand (read at home); anything else is `{"active": false}`.
pub(crate) async fn introspect(ctx: &Ctx<'_>, request: &Request, tenant: Rc<Tenant>) -> Result<Outcome, ApiError> {
    only(request.method(), "POST")?;
    master_key(ctx)?;
    let issuer = issuer(request)?;
    let params = params(request).map_err(|e| oauth(400, e))?;
    let client = client_of(ctx, request, &tenant, &params).await?;
    if client.client_type == ClientType::Public {
        return Err(oauth(
            401,
            OAuthError::new(OAuthErrorCode::InvalidClient, "introspection is for confidential clients only"),
        ));
    }
    let token = token_param(&params)?;
    let now = ctx.now_secs();
    let access = access_claims(ctx, &tenant, &issuer, &token).await?;
    let refresh = match access {
        Some(_) => None,
        None => {
            oidc::current_refresh(&ctx.store, &tenant, &client.client_id, &oidc::RefreshToken::presented(&token), now)
                .await?
        }
    };
    let view = match (&access, &refresh) {
        (Some((claims, _)), _) => views::Introspection {
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
        (None, Some(grant)) => views::Introspection {
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
        (None, None) => views::Introspection::default(),
    };
    Ok(Outcome::Respond(no_store(json_response(200, &view))))
}

// ----- logout -----

/// `GET|POST /v1/oauth/logout` (OpenID Connect RP-Initiated Logout 1.0). An `id_token_hint` must
/// be an ID token this tenant issued on this host (its expiry does not matter); `client_id`, if
/// also given, its audience; a `post_logout_redirect_uri` one the client registered. Anything
/// else is shown on a page and never redirected to. The browser's session ends at once when the
/// hint names it; otherwise the user confirms on a page (a foreign site cannot sign a browser out
/// by a link). Then back to the client with `state`, or a page saying the user is signed out.
pub(crate) async fn end_session(ctx: &Ctx<'_>, request: &Request, tenant: Rc<Tenant>) -> Result<Outcome, ApiError> {
    get_or_post(request)?;
    let master = master_key(ctx)?;
    let issuer = issuer(request)?;
    let params = match params(request) {
        Ok(p) => p,
        Err(e) => return Ok(error_page(&e.description)),
    };
    let get = |name| params.get(name).map_err(|e: OAuthError| e.description);
    let checked = async || -> Result<Result<_, String>, ApiError> {
        let hint = match get("id_token_hint") {
            Ok(Some(raw)) => {
                let verified =
                    with_named_key(ctx, master, &tenant, &raw, |k| tokens::verify_id_token(k, &raw, &issuer)).await?;
                match verified {
                    Some(hint) => Some(hint),
                    None => return Ok(Err("the id_token_hint is not an ID token this provider issued".into())),
                }
            }
            Ok(None) => None,
            Err(e) => return Ok(Err(e)),
        };
        let named = match get("client_id") {
            Ok(id) => id,
            Err(e) => return Ok(Err(e)),
        };
        if let (Some(hint), Some(named)) = (&hint, &named)
            && hint.aud.as_str() != named
        {
            return Ok(Err("client_id is not the application the id_token_hint was issued to".into()));
        }
        let client_id = hint.as_ref().map(|h| h.aud.to_string()).or(named);
        let client = match client_id.as_deref().map(ClientId::parse) {
            Some(Ok(id)) => match clients::get(&ctx.store, &tenant, &id).await? {
                Some(c) => Some(c),
                None => return Ok(Err("this application (client_id) is not registered here".into())),
            },
            Some(Err(_)) => return Ok(Err("this application (client_id) is not registered here".into())),
            None => None,
        };
        let back = match (get("post_logout_redirect_uri"), &client) {
            (Ok(None), _) => None,
            (Ok(Some(uri)), Some(c)) if c.post_logout_redirect_uris.contains(&uri) => Some(uri),
            (Ok(Some(_)), Some(_)) => {
                return Ok(Err("the post_logout_redirect_uri is not one this application registered".into()));
            }
            (Ok(Some(_)), None) => {
                return Ok(Err("a post_logout_redirect_uri needs the id_token_hint or client_id it belongs to".into()));
            }
            (Err(e), _) => return Ok(Err(e)),
        };
        Ok(Ok((hint, back)))
    };
    let (hint, back) = match checked().await? {
        Ok(c) => c,
        Err(message) => return Ok(error_page(&message)),
    };
    let state = params.get("state").ok().flatten().filter(|s| s.len() <= oidc::MAX_STATE);
    let mode = super::cookies::CookieMode::of(ctx.config, request);
    if let Some(store) = &tenant.authjs {
        return authjs_end_session(ctx, request, &tenant, store, &params, back, state).await;
    }
    if let Some((session, _)) = session::live_session(ctx, request, &tenant, false).await? {
        let named = hint.as_ref().is_some_and(|h| match &h.sid {
            Some(sid) => *sid == session.id,
            None => h.sub == session.user_id,
        });
        let confirmed =
            request.method() == http::Method::POST && matches!(params.get("confirm"), Ok(Some(v)) if v == "yes");
        if confirmed {
            super::browser::check_origin(&tenant, request)?;
        }
        if !named && !confirmed {
            return Ok(confirm_page(&params));
        }
        sessions::end(ctx, &tenant, Ending::Session(&session.id)).await?;
    }
    let mut response = match back {
        Some(uri) => {
            let query: Vec<(&str, &str)> = state.iter().map(|s| ("state", s.as_str())).collect();
            found(&with_query(&uri, &query))
        }
        None => page(200, "Signed out", "<h1>You are signed out</h1><p>You can close this window.</p>"),
    };
    super::session::clear_cookies(request, mode, &mut response);
    Ok(Outcome::Respond(response))
}

/// RP-initiated logout on a tenant whose sessions are its Auth.js app's (no ID token of this
/// tenant exists, so no hint names the session): with `authjs.logout`, the user confirms, then the
/// Auth.js session ends as `POST /v1/logout` ends it, and back to the client; without it, a page
/// saying the user is NOT signed out (403), and no way back that would suggest otherwise.
async fn authjs_end_session(
    ctx: &Ctx<'_>,
    request: &Request,
    tenant: &Tenant,
    store: &crate::domain::tenants::AuthjsStore,
    params: &Params,
    back: Option<String>,
    state: Option<String>,
) -> Result<Outcome, ApiError> {
    if !store.logout {
        let body = "<h1>You are not signed out</h1><p id=\"error\">This site's sessions belong to its own \
                    application: sign out there.</p>";
        return Ok(Outcome::Respond(page(403, "Not signed out", body)));
    }
    let mode = super::cookies::CookieMode::of(ctx.config, request);
    // Whenever the request carries the app's session (live or not as read here: a replica may
    // lag), the user confirms from the tenant's own page first.
    if super::cookies::authjs_presented(request, store).is_some() {
        let confirmed =
            request.method() == http::Method::POST && matches!(params.get("confirm"), Ok(Some(v)) if v == "yes");
        if !confirmed {
            return Ok(confirm_page(params));
        }
        super::browser::check_origin(tenant, request)?;
    }
    let mut response = match back {
        Some(uri) => {
            let query: Vec<(&str, &str)> = state.iter().map(|s| ("state", s.as_str())).collect();
            found(&with_query(&uri, &query))
        }
        None => page(200, "Signed out", "<h1>You are signed out</h1><p>You can close this window.</p>"),
    };
    session::end_authjs_session(ctx, request, tenant, store, mode, &mut response).await?;
    Ok(Outcome::Respond(response))
}

/// The page asking the user to confirm a logout no `id_token_hint` of theirs asked for: a form
/// posting the same request back, confirmed.
fn confirm_page(params: &Params) -> Outcome {
    let mut fields = String::new();
    for (k, v) in params.0.iter().filter(|(k, _)| k != "confirm") {
        fields.push_str(&format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", html_escape(k), html_escape(v)));
    }
    let body = format!(
        "<h1>Sign out?</h1><p>An application asks to sign you out of this site.</p>\
         <form method=\"post\" action=\"/v1/oauth/logout\">{fields}<input type=\"hidden\" name=\"confirm\" value=\"yes\">\
         <button type=\"submit\" id=\"confirm\">Sign out</button></form>"
    );
    Outcome::Respond(page(200, "Sign out?", &body))
}

/// An HTML page of the provider's own (no script, no style, never framed).
fn page(status: u16, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"robots\" content=\"noindex\">\
         <title>{}</title></head><body><main>{body}</main></body></html>",
        html_escape(title)
    );
    let mut response = empty_response(status);
    *response.body_mut() = html.into_bytes();
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    response.headers_mut().insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    add_html_security_headers(&mut response);
    response
}

// ----- discovery and keys -----

/// `GET /.well-known/jwks.json`: the tenant's public keys, the signing ones first (Ed25519 and
/// RSA, each newest first). RSA keys are made here when they are not yet: a key is published
/// before any token it signs.
pub(crate) async fn jwks(ctx: &Ctx<'_>, request: &Request, tenant: &Tenant) -> Result<Outcome, ApiError> {
    only(request.method(), "GET")?;
    let master = master_key(ctx)?;
    let ed = ctx.caches.jwt_keys(master, tenant, ctx.now);
    let rsa = rsa_keys_of(ctx, master, tenant).await?;
    let mut keys: Vec<Jwk> = Vec::new();
    for (i, key) in ed.iter().enumerate() {
        keys.push(key.jwk());
        if let Some(r) = rsa.get(i) {
            keys.push(r.jwk());
        }
    }
    Ok(Outcome::Respond(super::jwks::public(json_response(200, &jwt::Jwks { keys }))))
}

/// `GET /.well-known/openid-configuration`: the provider's metadata (OpenID Connect Discovery
/// 1.0 §3, RFC 8414).
pub(crate) fn discovery(ctx: &Ctx<'_>, request: &Request, tenant: &Tenant) -> Result<Outcome, ApiError> {
    only(request.method(), "GET")?;
    master_key(ctx)?;
    let issuer = issuer(request)?;
    let at = |path: &str| format!("{issuer}{path}");
    let view = views::Discovery {
        authorization_endpoint: at("/v1/oauth/authorize"),
        token_endpoint: at("/v1/oauth/token"),
        userinfo_endpoint: at("/v1/oauth/userinfo"),
        revocation_endpoint: at("/v1/oauth/revoke"),
        introspection_endpoint: at("/v1/oauth/introspect"),
        end_session_endpoint: tenant.authjs.as_ref().is_none_or(|a| a.logout).then(|| at("/v1/oauth/logout")),
        jwks_uri: at("/.well-known/jwks.json"),
        response_types_supported: ["code"],
        response_modes_supported: ["query"],
        grant_types_supported: ["authorization_code", "refresh_token"],
        code_challenge_methods_supported: ["S256"],
        token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post", "none"],
        revocation_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post", "none"],
        introspection_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
        id_token_signing_alg_values_supported: ["RS256", "EdDSA"],
        subject_types_supported: ["public"],
        scopes_supported: clients::SCOPES,
        claims_supported: [
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "sid",
            "email",
            "email_verified",
            "at_hash",
            "name",
            "given_name",
            "family_name",
            "picture",
            "locale",
            "updated_at",
        ],
        prompt_values_supported: ["none", "login", "consent", "select_account"],
        authorization_response_iss_parameter_supported: true,
        request_parameter_supported: false,
        request_uri_parameter_supported: false,
        claims_parameter_supported: false,
        backchannel_logout_supported: true,
        backchannel_logout_session_supported: true,
        issuer,
    };
    Ok(Outcome::Respond(super::jwks::public(json_response(200, &view))))
}
