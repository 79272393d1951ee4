//! `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §3, RFC 8414) and
//! `GET /.well-known/jwks.json`: public documents, cacheable and readable from any origin.

use super::issuer;
use crate::api::{ApiError, Ctx, Outcome, Request, Response, json_response, only, views};
use crate::app::oauth::discovery;
use crate::domain::jwt;
use crate::domain::tenants::Tenant;
use crate::domain::tenants::clients;

/// How long a JWKS or discovery document may be cached: a verifier that meets an unknown `kid`
/// fetches again (jose and PyJWT both do), so a rotation does not wait for it.
const PUBLIC_MAX_AGE: &str = "public, max-age=300";

/// `GET /.well-known/jwks.json`: the tenant's public keys, the signing ones first.
pub(crate) async fn jwks(ctx: &Ctx<'_>, request: &Request, tenant: &Tenant) -> Result<Outcome, ApiError> {
    only(request.method(), "GET")?;
    let keys = discovery::jwks(ctx, tenant).await?;
    Ok(Outcome::Respond(public(json_response(200, &jwt::Jwks { keys }))))
}

/// `GET /.well-known/openid-configuration`: the provider's metadata.
pub(crate) fn discovery(ctx: &Ctx<'_>, request: &Request, tenant: &Tenant) -> Result<Outcome, ApiError> {
    only(request.method(), "GET")?;
    let metadata = discovery::metadata(ctx, tenant)?;
    let issuer = issuer(request)?;
    let at = |path: &str| format!("{issuer}{path}");
    let view = views::Discovery {
        authorization_endpoint: at("/v1/oauth/authorize"),
        token_endpoint: at("/v1/oauth/token"),
        userinfo_endpoint: at("/v1/oauth/userinfo"),
        revocation_endpoint: at("/v1/oauth/revoke"),
        introspection_endpoint: at("/v1/oauth/introspect"),
        end_session_endpoint: metadata.end_session.then(|| at("/v1/oauth/logout")),
        jwks_uri: at("/.well-known/jwks.json"),
        response_types_supported: ["code"],
        response_modes_supported: ["query"],
        grant_types_supported: ["authorization_code", "refresh_token"],
        code_challenge_methods_supported: ["S256"],
        token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post", "none"],
        revocation_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post", "none"],
        introspection_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
        id_token_signing_alg_values_supported: ["RS256", "ES256", "EdDSA"],
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
    Ok(Outcome::Respond(public(json_response(200, &view))))
}

/// `Cache-Control: public` for a key set or discovery document, readable by a page of any origin
/// (no credentials: single-page apps such as oidc-client-ts read both with `fetch`).
fn public(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static(PUBLIC_MAX_AGE));
    headers.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, http::HeaderValue::from_static("*"));
    response
}
