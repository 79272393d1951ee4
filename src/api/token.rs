//! JWTs for backends on a tenant host: `POST /v1/session/token` (a live session -> a signed JWT),
//! `GET /.well-known/jwks.json` (the tenant's public keys) and `GET
//! /.well-known/openid-configuration` (its issuer and JWKS address). All need `JWT_MASTER_KEY`.

use std::rc::Rc;

use super::browser::{self, self_origin};
use super::cookies::{self, CookieMode};
use super::session::{invalid_session, looked_up};
use super::{ApiError, Ctx, Outcome, Request, Response, json_response, only, views};
use crate::domain::jwt;
use crate::domain::jwt::MasterKey;
use crate::domain::tenants::Tenant;

/// How long a JWKS or discovery document may be cached: a verifier that meets an unknown `kid`
/// fetches again (jose and PyJWT both do), so a rotation does not wait for it.
const PUBLIC_MAX_AGE: &str = "public, max-age=300";

/// `JWT_MASTER_KEY`, or 404: without it this deployment issues no JWTs.
pub(crate) fn master_key<'a>(ctx: &Ctx<'a>) -> Result<&'a MasterKey, ApiError> {
    ctx.config
        .jwt_master_key
        .as_ref()
        .ok_or_else(|| ApiError::not_found("this deployment issues no JWTs: JWT_MASTER_KEY is not set"))
}

/// The issuer of this host's tokens: `https://{host}` (the origin the request came to).
fn issuer(request: &Request) -> Result<String, ApiError> {
    self_origin(request).ok_or_else(|| ApiError::bad_request("invalid_host", "the request has no valid Host"))
}

/// `POST /v1/session/token`: 200 `{"token", "token_type", "expires_at", "expires_in"}`, a JWT for
/// the presented live session (always read from DynamoDB, never from the snapshot: a token
/// outlives the request by up to `jwt.ttl_secs`), or 401 `invalid_session`. Presented by cookie,
/// the request must come from the host itself or an allowed origin.
pub(crate) async fn issue(ctx: &Ctx<'_>, request: &Request, tenant: Rc<Tenant>) -> Result<Outcome, ApiError> {
    only(request.method(), "POST")?;
    let master = master_key(ctx)?;
    let mode = CookieMode::of(ctx.config, request);
    if !cookies::presented(request, mode).is_some_and(|p| p.bearer) {
        browser::check_origin(&tenant, request)?;
    }
    let issuer = issuer(request)?;
    let Some((session, _, _)) = looked_up(ctx, request, &tenant, mode, false).await? else {
        return Err(invalid_session());
    };
    let now = ctx.now_secs();
    let keys = ctx.caches.jwt_keys(master, &tenant, ctx.now);
    // A tenant always has a key (version 1 until its first rotation).
    let key = keys.first().ok_or_else(|| ApiError::Internal { detail: "the tenant has no JWT key".into() })?;
    let issued = jwt::issue(key, &tenant, &session, &issuer, now, ctx.random.bytes::<16>());
    let view = views::SessionJwt {
        token: &issued.token,
        token_type: "Bearer",
        expires_at: views::Time(issued.expires_at),
        expires_in: issued.expires_at - now,
    };
    Ok(Outcome::Respond(json_response(200, &view)))
}

/// `GET /.well-known/jwks.json`: the tenant's public keys, the signing one first.
pub(crate) fn jwks(ctx: &Ctx<'_>, request: &Request, tenant: &Tenant) -> Result<Outcome, ApiError> {
    only(request.method(), "GET")?;
    let keys = ctx.caches.jwt_keys(master_key(ctx)?, tenant, ctx.now).iter().map(|k| k.jwk()).collect();
    Ok(Outcome::Respond(public(json_response(200, &jwt::Jwks { keys }))))
}

/// `GET /.well-known/openid-configuration`: `{"issuer", "jwks_uri", ...}` of this host.
pub(crate) fn discovery(ctx: &Ctx<'_>, request: &Request) -> Result<Outcome, ApiError> {
    only(request.method(), "GET")?;
    master_key(ctx)?;
    let issuer = issuer(request)?;
    let view = views::Discovery {
        jwks_uri: format!("{issuer}/.well-known/jwks.json"),
        issuer,
        id_token_signing_alg_values_supported: ["EdDSA"],
        subject_types_supported: ["public"],
    };
    Ok(Outcome::Respond(public(json_response(200, &view))))
}

fn public(mut response: Response) -> Response {
    response.headers_mut().insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static(PUBLIC_MAX_AGE));
    response
}
