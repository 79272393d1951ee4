//! What the tenant's JWT routes share: `JWT_MASTER_KEY` (without it, 404), the issuer (the
//! tenant host the request came to) and the caching of public documents. The JWKS and the
//! discovery document are [`super::oidc`]'s, minting session JWTs is [`super::token`]'s.

use super::browser::self_origin;
use super::{ApiError, Request, Response};
use crate::values::codes::ErrorCode;

/// How long a JWKS or discovery document may be cached: a verifier that meets an unknown `kid`
/// fetches again (jose and PyJWT both do), so a rotation does not wait for it.
const PUBLIC_MAX_AGE: &str = "public, max-age=300";

/// The issuer of this host's tokens: `https://{host}` (the origin the request came to).
pub(crate) fn issuer(request: &Request) -> Result<String, ApiError> {
    self_origin(request).ok_or_else(|| ApiError::bad_request(ErrorCode::InvalidHost, "the request has no valid Host"))
}

/// `Cache-Control: public` for a key set or discovery document, readable by a page of any origin
/// (no credentials: single-page apps such as oidc-client-ts read both with `fetch`).
pub(crate) fn public(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static(PUBLIC_MAX_AGE));
    headers.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, http::HeaderValue::from_static("*"));
    response
}
