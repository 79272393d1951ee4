//! The OpenID Provider's endpoints on a tenant host (served by the admin Worker):
//! `GET|POST /v1/oauth/authorize` (the authorization code flow with PKCE, the hosted login page
//! when there is no session), `POST /v1/oauth/token` (`authorization_code`, `refresh_token`),
//! `GET|POST /v1/oauth/userinfo`, the discovery document and the JWKS (Ed25519 and RSA keys).
//! The use cases are [`crate::domain::oidc`]'s.

use std::rc::Rc;

use http::HeaderValue;

use super::jwks::{issuer, master_key};
use super::page::{add_html_security_headers, html_escape};
use super::{ApiError, Ctx, Outcome, Request, Response, body, empty_response, json_response, only, session, views};
use crate::domain::jwt::{self, Jwk, MasterKey, TenantKey};
use crate::domain::oidc::keys::{self as rsa_keys, KeyError, RsaKey};
use crate::domain::oidc::tokens::{self, Signer};
use crate::domain::oidc::{self, AuthRequest, OAuthError, Prompt, RedeemError};
use crate::domain::tenants::Tenant;
use crate::domain::tenants::clients::{self, IdTokenAlg};
use crate::values::ids::ClientId;

/// The parameters of a request (its query, or its form body): each at most once (RFC 6749 §3.1),
/// one sent without a value as if omitted.
struct Params(Vec<(String, String)>);

impl Params {
    fn of(raw: &str) -> Result<Self, OAuthError> {
        body::form_pairs(raw)
            .map(Self)
            .ok_or_else(|| OAuthError::new("invalid_request", "the parameters are not validly percent-encoded UTF-8"))
    }

    fn get(&self, name: &'static str) -> Result<Option<String>, OAuthError> {
        let mut values = self.0.iter().filter(|(k, v)| k == name && !v.is_empty()).map(|(_, v)| v);
        let first = values.next().cloned();
        if values.next().is_some() {
            return Err(OAuthError::new("invalid_request", format!("the {name} parameter is given more than once")));
        }
        Ok(first)
    }
}

/// The request's parameters: the query of a GET, the form body of a POST.
fn params(request: &Request) -> Result<Params, OAuthError> {
    if request.method() == http::Method::POST {
        if !form_content(request) {
            return Err(OAuthError::new("invalid_request", "the body must be application/x-www-form-urlencoded"));
        }
        let raw = std::str::from_utf8(request.body())
            .map_err(|_| OAuthError::new("invalid_request", "the body is not UTF-8"))?;
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
    let client_id = match params.get("client_id") {
        Ok(Some(id)) => id,
        Ok(None) => return Ok(error_page("client_id is missing")),
        Err(e) => return Ok(error_page(&e.description)),
    };
    let client = match ClientId::parse(&client_id) {
        Ok(id) => clients::get(&ctx.store, &tenant, &id).await?,
        Err(_) => None,
    };
    let Some(client) = client else {
        return Ok(error_page("this application (client_id) is not registered here"));
    };
    let redirect_uri = match params.get("redirect_uri") {
        Ok(Some(uri)) if client.redirect_uris.contains(&uri) => uri,
        Ok(Some(_)) => return Ok(error_page("the redirect_uri is not one this application registered")),
        Ok(None) => return Ok(error_page("redirect_uri is missing")),
        Err(e) => return Ok(error_page(&e.description)),
    };
    let state = params.get("state").ok().flatten().filter(|s| s.len() <= oidc::MAX_STATE);
    let request_ = AuthRequest { client, redirect_uri, state };
    let back = |e: OAuthError| Ok(Outcome::Respond(redirect_error(&request_, &issuer, &e)));
    let authorization = match oidc::authorization(&|name| params.get(name), &request_.client) {
        Ok(a) => a,
        Err(e) => return back(e),
    };
    if let Some((session, _)) = session::live_session(ctx, request, &tenant).await?
        && authorization.satisfied_by(&session, ctx.now_secs())
    {
        let code =
            oidc::issue_code(&ctx.store, ctx.random, &tenant, &request_, &authorization, &session, ctx.now_secs())
                .await?;
        let mut query = vec![("code", code.as_str())];
        if let Some(state) = &request_.state {
            query.push(("state", state));
        }
        query.push(("iss", &issuer));
        return Ok(Outcome::Respond(found(&with_query(&request_.redirect_uri, &query))));
    }
    if authorization.prompt == Prompt::None {
        return back(OAuthError::new("login_required", "the user is not signed in (prompt=none)"));
    }
    // To the login page, which comes back to this same request: without `prompt` and `max_age`,
    // which the new session satisfies, and with the time it must be made after when they asked
    // for a fresh sign-in.
    let mut again: Vec<(String, String)> = params
        .0
        .iter()
        .filter(|(k, _)| !["prompt", "max_age", "dynauth_after"].contains(&k.as_str()))
        .cloned()
        .collect();
    if authorization.prompt == Prompt::Login || authorization.max_age.is_some() {
        again.push(("dynauth_after".into(), ctx.now_secs().to_string()));
    }
    let again: Vec<(&str, &str)> = again.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let return_to = with_query("/v1/oauth/authorize", &again);
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
    let mut query = vec![("error", e.error), ("error_description", e.description.as_str())];
    if let Some(state) = &request.state {
        query.push(("state", state));
    }
    query.push(("iss", issuer));
    found(&with_query(&request.redirect_uri, &query))
}

/// 400: an authorization request that cannot go back to any client, on a page of its own.
fn error_page(message: &str) -> Outcome {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"robots\" content=\"noindex\">\
         <title>Sign-in request refused</title></head><body><main><h1>This sign-in request cannot be completed</h1>\
         <p id=\"error\">{}</p><p>Go back to the application and try again; if it keeps happening, tell its developers.</p>\
         </main></body></html>",
        html_escape(message)
    );
    let mut response = empty_response(400);
    *response.body_mut() = html.into_bytes();
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    add_html_security_headers(&mut response);
    Outcome::Respond(response)
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
    let bad = || OAuthError::new("invalid_client", "the Basic credentials are malformed");
    let decoded = base64_standard(encoded.trim()).ok_or_else(bad)?;
    let text = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    let pairs = body::form_pairs(&format!("i={id}&s={secret}")).ok_or_else(bad)?;
    let (id, secret) = (pairs[0].1.clone(), pairs.get(1).map(|p| p.1.clone()).unwrap_or_default());
    if body_secret.is_some() || body_id.as_ref().is_some_and(|b| b != &id) {
        return Err(OAuthError::new("invalid_request", "use one client authentication method, not two"));
    }
    Ok((Some(id), Some(secret), true))
}

fn base64_standard(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// `POST /v1/oauth/token`.
pub(crate) async fn token(ctx: &Ctx<'_>, request: &Request, tenant: Rc<Tenant>) -> Result<Outcome, ApiError> {
    only(request.method(), "POST")?;
    let master = master_key(ctx)?;
    let issuer = issuer(request)?;
    let params = params(request).map_err(|e| oauth(400, e))?;
    let (id, secret, basic) =
        credentials(request, &params).map_err(|e| oauth(if e.error == "invalid_client" { 401 } else { 400 }, e))?;
    let client = match id.as_deref().map(ClientId::parse) {
        Some(Ok(id)) => clients::get(&ctx.store, &tenant, &id).await?,
        _ => None,
    };
    let client = oidc::authenticate(client, secret.as_deref().filter(|s| !s.is_empty() || basic))
        .map_err(|e| ApiError::OAuth {
            status: 401,
            error: e.error,
            description: e.description,
            challenge: basic.then(|| "Basic realm=\"dynauth\"".to_string()),
        })?
        .client;
    let now = ctx.now_secs();
    let p = |name| params.get(name).map_err(|e| oauth(400, e));
    let granted = match p("grant_type")?.as_deref() {
        Some("authorization_code") => {
            let code = p("code")?.ok_or_else(|| oauth(400, OAuthError::new("invalid_request", "code is missing")))?;
            let redirect_uri = p("redirect_uri")?;
            let verifier = p("code_verifier")?;
            let presented =
                oidc::Redemption { code: &code, redirect_uri: redirect_uri.as_deref(), verifier: verifier.as_deref() };
            oidc::redeem(&ctx.store, ctx.random, &tenant, &client, presented, now).await?
        }
        Some("refresh_token") => {
            let token = p("refresh_token")?
                .ok_or_else(|| oauth(400, OAuthError::new("invalid_request", "refresh_token is missing")))?;
            let mut granted = oidc::refresh(&ctx.store, ctx.random, &tenant, &client, &token, now).await?;
            if let Some(scope) = p("scope")? {
                let asked: Vec<String> = scope.split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect();
                if asked.iter().any(|s| !granted.grant.has_scope(s)) {
                    return Err(oauth(
                        400,
                        OAuthError::new("invalid_scope", "a refresh may only narrow the granted scope"),
                    ));
                }
                granted.grant.scopes = asked;
            }
            granted
        }
        Some(_) => {
            return Err(oauth(
                400,
                OAuthError::new("unsupported_grant_type", "grant_type must be authorization_code or refresh_token"),
            ));
        }
        None => return Err(oauth(400, OAuthError::new("invalid_request", "grant_type is missing"))),
    };
    let jti = ctx.random.bytes::<16>();
    let issued = match client.id_token_signed_response_alg {
        IdTokenAlg::EdDsa => {
            let keys = ctx.caches.jwt_keys(master, &tenant, ctx.now);
            let key = keys.first().ok_or_else(|| ApiError::Internal { detail: "the tenant has no JWT key".into() })?;
            tokens::issue(Signer::Ed(key), &tenant, &granted, &issuer, now, jti)
        }
        IdTokenAlg::Rs256 => {
            let key = newest_rsa_key(ctx, master, &tenant).await?;
            tokens::issue(Signer::Rsa(&key), &tenant, &granted, &issuer, now, jti)
        }
    };
    let view = views::TokenResponse {
        access_token: &issued.access_token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
        id_token: &issued.id_token,
        refresh_token: granted.refresh_token.as_deref(),
        scope: granted.grant.scope(),
    };
    let mut response = json_response(200, &view);
    response.headers_mut().insert(http::header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(Outcome::Respond(response))
}

/// The tenant's RSA keys, newest (the signing one) first.
async fn rsa_keys_of(ctx: &Ctx<'_>, master: &MasterKey, tenant: &Tenant) -> Result<Vec<Rc<RsaKey>>, ApiError> {
    let mut out = Vec::new();
    for version in tenant.jwt_versions() {
        out.push(rsa_key(ctx, master, tenant, &version).await?);
    }
    Ok(out)
}

/// The tenant's newest RSA key: the one that signs.
async fn newest_rsa_key(ctx: &Ctx<'_>, master: &MasterKey, tenant: &Tenant) -> Result<Rc<RsaKey>, ApiError> {
    let version = tenant.jwt_versions().into_iter().next().unwrap_or_default();
    rsa_key(ctx, master, tenant, &version).await
}

/// The tenant's RSA key of `version`, from the isolate's cache, else read (or made) in the table.
async fn rsa_key(ctx: &Ctx<'_>, master: &MasterKey, tenant: &Tenant, version: &str) -> Result<Rc<RsaKey>, ApiError> {
    let load = async || rsa_keys::key(&ctx.store, master, tenant, version, ctx.random, ctx.now_secs()).await;
    Ok(ctx.caches.rsa_key(master, tenant, version, ctx.now, load).await?)
}

// ----- userinfo -----

fn invalid_token(description: &str) -> ApiError {
    ApiError::OAuth {
        status: 401,
        error: "invalid_token",
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
    let Some((kid, alg)) = tokens::named_key(token) else { return Ok(None) };
    let now = ctx.now_secs();
    let claims = match alg.as_str() {
        "EdDSA" => {
            let keys = ctx.caches.jwt_keys(master, tenant, ctx.now);
            let key: Option<&Rc<TenantKey>> = keys.iter().find(|k| k.kid() == kid);
            key.and_then(|k| tokens::verify_access(Signer::Ed(k), token, issuer, now))
        }
        "RS256" => {
            let keys = rsa_keys_of(ctx, master, tenant).await?;
            keys.iter().find(|k| k.kid() == kid).and_then(|k| tokens::verify_access(Signer::Rsa(k), token, issuer, now))
        }
        _ => None,
    };
    let Some(claims) = claims else { return Ok(None) };
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
        (Some(_), Some(_)) => return Err(oauth(400, OAuthError::new("invalid_request", "send the access token once"))),
        (Some(t), None) => t.to_string(),
        (None, Some(t)) => t,
        (None, None) => {
            return Err(ApiError::OAuth {
                status: 401,
                error: "invalid_request",
                description: "an access token is required (Authorization: Bearer)".into(),
                challenge: Some("Bearer".into()),
            });
        }
    };
    let Some((claims, grant)) = access_claims(ctx, &tenant, &issuer, &token).await? else {
        return Err(invalid_token("the access token is invalid, expired or revoked"));
    };
    let email = grant.email.as_ref().filter(|_| claims.scope.split(' ').any(|s| s == "email"));
    let view = views::UserInfo { sub: &claims.sub, email, email_verified: email.map(|_| true) };
    Ok(Outcome::Respond(json_response(200, &view)))
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
pub(crate) fn discovery(ctx: &Ctx<'_>, request: &Request) -> Result<Outcome, ApiError> {
    only(request.method(), "GET")?;
    master_key(ctx)?;
    let issuer = issuer(request)?;
    let at = |path: &str| format!("{issuer}{path}");
    let view = views::Discovery {
        authorization_endpoint: at("/v1/oauth/authorize"),
        token_endpoint: at("/v1/oauth/token"),
        userinfo_endpoint: at("/v1/oauth/userinfo"),
        jwks_uri: at("/.well-known/jwks.json"),
        response_types_supported: ["code"],
        response_modes_supported: ["query"],
        grant_types_supported: ["authorization_code", "refresh_token"],
        code_challenge_methods_supported: ["S256"],
        token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post", "none"],
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
        ],
        prompt_values_supported: ["none", "login", "consent", "select_account"],
        authorization_response_iss_parameter_supported: true,
        request_parameter_supported: false,
        request_uri_parameter_supported: false,
        claims_parameter_supported: false,
        issuer,
    };
    Ok(Outcome::Respond(super::jwks::public(json_response(200, &view))))
}
