//! The tenant's public side of its JWTs, on its host: `GET /.well-known/jwks.json` (the public
//! keys) and `GET /.well-known/openid-configuration` (its issuer and JWKS address). Both need
//! `JWT_MASTER_KEY`. Served by the edge Worker; minting is `token` (the admin Worker's).

use super::browser::self_origin;
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
pub(crate) fn issuer(request: &Request) -> Result<String, ApiError> {
    self_origin(request).ok_or_else(|| ApiError::bad_request("invalid_host", "the request has no valid Host"))
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
