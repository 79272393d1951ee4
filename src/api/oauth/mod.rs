//! The OpenID Provider's endpoints on a tenant host (served by the admin Worker), one file each:
//! [`authorize`], [`token`], [`userinfo`], [`revoke`], [`introspect`], [`end_session`] and
//! [`discovery`] (the discovery document and the JWKS). Each checks that this deployment has a
//! provider at all (`JWT_MASTER_KEY`, else 404), reads the request into typed input, calls its
//! one use case in [`crate::app::oauth`], and renders what it answers; this module holds what
//! they share: the parameters of a request, client credentials, the session a browser presents,
//! the issuer, redirects and the provider's own pages.

pub mod authorize;
pub mod discovery;
pub mod end_session;
pub mod introspect;
pub mod revoke;
pub mod token;
pub mod userinfo;

use http::HeaderValue;

use super::browser::self_origin;
use super::cookies::{self, CookieMode};
use super::page::{add_html_security_headers, html_escape};
use super::{ApiError, Ctx, Outcome, Request, Response, body, empty_response};
use crate::app::oauth::client_auth::Credentials;
use crate::app::oauth::{PresentedSession, oauth_error};
use crate::domain::oidc::{OAuthError, OAuthErrorCode, Params};
use crate::domain::tenants::Tenant;
use crate::domain::tenants::clients::ClientSecret;
use crate::values::codes::ErrorCode;

/// The issuer of this host's tokens: `https://{host}` (the origin the request came to).
pub(crate) fn issuer(request: &Request) -> Result<String, ApiError> {
    self_origin(request).ok_or_else(|| ApiError::bad_request(ErrorCode::InvalidHost, "the request has no valid Host"))
}

/// The request's parameters: the query of a GET, the form body of a POST.
fn params(request: &Request) -> Result<Params, OAuthError> {
    if request.method() == http::Method::POST {
        if !form_content(request) {
            return Err(OAuthError::request("the body must be application/x-www-form-urlencoded"));
        }
        let raw = std::str::from_utf8(request.body()).map_err(|_| OAuthError::request("the body is not UTF-8"))?;
        return params_of(raw);
    }
    params_of(request.uri().query().unwrap_or_default())
}

fn params_of(raw: &str) -> Result<Params, OAuthError> {
    body::form_pairs(raw)
        .map(Params::new)
        .ok_or_else(|| OAuthError::request("the parameters are not validly percent-encoded UTF-8"))
}

/// The parameters of a token, revocation or introspection request: 400 in the standard's shape
/// when they cannot be read.
fn form(request: &Request) -> Result<Params, ApiError> {
    params(request).map_err(|e| oauth_error(400, e))
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

/// The client credentials of a token, revocation or introspection request: HTTP Basic
/// (`client_secret_basic`, each half form-decoded: RFC 6749 §2.3.1), or `client_id` (and
/// `client_secret`) in the body; using both is refused (400, or 401 `invalid_client` for Basic
/// credentials that cannot be read).
fn credentials(request: &Request, params: &Params) -> Result<Credentials, ApiError> {
    let status = |e: OAuthError| oauth_error(if e.error == OAuthErrorCode::InvalidClient { 401 } else { 400 }, e);
    let address = super::client_ip(request).map(str::to_string);
    let header = request.headers().get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let basic = header.and_then(|v| v.trim_start().split_once(' ')).filter(|(s, _)| s.eq_ignore_ascii_case("basic"));
    let (body_id, body_secret) =
        (params.get("client_id").map_err(status)?, params.get("client_secret").map_err(status)?);
    let Some((_, encoded)) = basic else {
        let secret = body_secret.as_deref().map(ClientSecret::presented);
        return Ok(Credentials { id: body_id, secret, basic: false, address });
    };
    let bad = || status(OAuthError::new(OAuthErrorCode::InvalidClient, "the Basic credentials are malformed"));
    let decoded = base64_standard(encoded.trim()).ok_or_else(bad)?;
    let text = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    let pairs = body::form_pairs(&format!("i={id}&s={secret}")).ok_or_else(bad)?;
    let (id, secret) = (pairs[0].1.clone(), pairs.get(1).map(|p| p.1.clone()).unwrap_or_default());
    if body_secret.is_some() || body_id.as_ref().is_some_and(|b| b != &id) {
        return Err(status(OAuthError::request("use one client authentication method, not two")));
    }
    Ok(Credentials { id: Some(id), secret: Some(ClientSecret::presented(&secret)), basic: true, address })
}

fn base64_standard(text: &str) -> Option<Vec<u8>> {
    crate::platform::crypto::b64_decode(text)
}

/// The session the browser presents to `tenant`: dynauth's token (bearer or cookie) and, with a
/// cookie, the snapshot cookie; for a tenant whose sessions are its Auth.js app's, the Auth.js
/// token and the snapshot cookie.
fn presented_session(ctx: &Ctx<'_>, request: &Request, tenant: &Tenant) -> PresentedSession {
    let mode = CookieMode::of(ctx.config, request);
    let snapshot = || cookies::cookie_value(request.headers(), mode.cache_name());
    if let Some(store) = &tenant.authjs {
        let authjs = cookies::authjs_presented(request, store).map(|(_, token)| token);
        return PresentedSession { token: None, authjs, snapshot: snapshot() };
    }
    let Some(presented) = cookies::presented(request, mode) else { return PresentedSession::default() };
    let snapshot = if presented.bearer { None } else { snapshot() };
    PresentedSession { token: presented.token(), authjs: None, snapshot }
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

/// 400: a request that cannot go back to any client, on a page of its own.
fn error_page(message: &str) -> Outcome {
    let body = format!(
        "<h1>This sign-in request cannot be completed</h1><p id=\"error\">{}</p>\
         <p>Go back to the application and try again; if it keeps happening, tell its developers.</p>",
        html_escape(message)
    );
    Outcome::Respond(page(400, "Sign-in request refused", &body))
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

fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(authorization: Option<&str>, body: &str) -> (Request, Params) {
        let mut b = http::Request::builder()
            .method("POST")
            .uri("https://auth.acme.test/v1/oauth/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cf-connecting-ip", "192.0.2.7");
        if let Some(value) = authorization {
            b = b.header("authorization", value);
        }
        let request = b.body(body.as_bytes().to_vec()).unwrap_or_default();
        let params = params(&request).unwrap_or_default();
        (request, params)
    }

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", crate::platform::crypto::b64(format!("{id}:{secret}").as_bytes()))
    }

    fn refused(result: Result<Credentials, ApiError>) -> (u16, &'static str) {
        let e = result.expect_err("refused");
        (e.status(), e.code())
    }

    #[test]
    fn credentials_come_as_basic_or_in_the_body_never_both() {
        let (request, params) = post(Some(&basic("web", "s%3Acret")), "grant_type=refresh_token");
        let c = credentials(&request, &params).expect("Basic");
        assert_eq!((c.id.as_deref(), c.secret.as_ref().map(ClientSecret::expose)), (Some("web"), Some("s:cret")));
        assert_eq!((c.basic, c.address.as_deref()), (true, Some("192.0.2.7")));
        let (request, params) = post(None, "client_id=web&client_secret=s");
        let c = credentials(&request, &params).expect("in the body");
        assert_eq!(
            (c.id.as_deref(), c.secret.as_ref().map(ClientSecret::expose), c.basic),
            (Some("web"), Some("s"), false)
        );
        assert!(format!("{c:?}").contains("ClientSecret(** redacted **)"), "{c:?}");
        let (request, params) = post(Some(&basic("web", "s")), "client_secret=s");
        assert_eq!(refused(credentials(&request, &params)), (400, "invalid_request"));
        let (request, params) = post(Some(&basic("web", "s")), "client_id=other");
        assert_eq!(refused(credentials(&request, &params)), (400, "invalid_request"));
        let (request, params) = post(Some("Basic !!!"), "");
        assert_eq!(refused(credentials(&request, &params)), (401, "invalid_client"));
        let (request, params) = post(None, "client_id=a&client_id=b");
        assert_eq!(refused(credentials(&request, &params)), (400, "invalid_request"));
    }
}
