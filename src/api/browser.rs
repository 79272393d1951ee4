//! What browsers need: CORS for the tenant's allowed origins and the CSRF check of state-changing
//! requests (the hosted login page is [`super::page`]).
//!
//! - CORS: a request whose `Origin` is in the tenant's `allowed_origins` gets
//!   `Access-Control-Allow-Origin: <origin>`, `Access-Control-Allow-Credentials: true` and
//!   `Vary: Origin`; its preflight answers 204. Any other origin gets no CORS headers, and its
//!   preflight 403. Same-origin requests need none.
//! - CSRF: state-changing requests that rely on the cookie are refused with 403 `forbidden_origin`
//!   when `Origin` (or, lacking it, `Referer`) is neither the tenant host itself nor an allowed
//!   origin. Requests with neither header (not from a browser) and bearer-token requests pass.

use http::HeaderValue;

use super::{ApiError, Request, Response, empty_response, request_host};
use crate::domain::tenants::Tenant;
use crate::values::codes::ErrorCode;
use crate::values::host::origin_of;

/// How long browsers may cache a preflight answer.
const PREFLIGHT_MAX_AGE: &str = "600";

/// The origin of the dynauth host this request was sent to (`scheme://host[:port]`).
pub(crate) fn self_origin(request: &Request) -> Option<String> {
    let scheme = request.uri().scheme_str().unwrap_or("https");
    origin_of(&format!("{scheme}://{}", request_host(request)?))
}

/// The request's `Origin` header, normalized; `Err` for a present but opaque or malformed one
/// (`null`).
fn origin_header(request: &Request) -> Result<Option<String>, ()> {
    match request.headers().get(http::header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => Ok(None),
        Some(raw) => origin_of(raw).map(Some).ok_or(()),
    }
}

/// The allowed cross origin to echo in CORS headers, if the request comes from one.
pub(crate) fn cors_origin(tenant: &Tenant, request: &Request) -> Option<String> {
    let origin = origin_header(request).ok().flatten()?;
    (tenant.allowed_origins.contains(&origin) && Some(&origin) != self_origin(request).as_ref()).then_some(origin)
}

/// Adds the CORS headers for `origin` to `response`.
pub(crate) fn add_cors_headers(response: &mut Response, origin: &str) {
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(origin) {
        headers.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    headers.insert(http::header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
    // A page must be able to read when to retry a 429 or 503.
    headers.insert(http::header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("Retry-After"));
    headers.append(http::header::VARY, HeaderValue::from_static("Origin"));
}

/// The answer to an `OPTIONS` request on a browser route that accepts `methods`: 204 with the
/// CORS grant for an allowed origin (or the tenant host itself), 403 `forbidden_origin` for any
/// other origin, and a plain 204 with `Allow` when it is not a CORS preflight at all.
pub(crate) fn preflight(tenant: &Tenant, request: &Request, methods: &'static str) -> Result<Response, ApiError> {
    let allowed = |o: &String| tenant.allowed_origins.contains(o) || Some(o) == self_origin(request).as_ref();
    let origin = match origin_header(request) {
        Ok(None) => {
            let mut response = empty_response(204);
            response.headers_mut().insert(http::header::ALLOW, HeaderValue::from_static(methods));
            return Ok(response);
        }
        Ok(Some(o)) if allowed(&o) => o,
        _ => return Err(forbidden_origin()),
    };
    let mut response = empty_response(204);
    add_cors_headers(&mut response, &origin);
    let headers = response.headers_mut();
    headers.insert(http::header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(methods));
    headers.insert(http::header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("authorization, content-type"));
    headers.insert(http::header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(PREFLIGHT_MAX_AGE));
    Ok(response)
}

#[cfg(cold)]
/// The CSRF check: the request's `Origin` (or, lacking it, its `Referer`'s origin) must be the
/// tenant host itself or one of the tenant's allowed origins.
pub(crate) fn check_origin(tenant: &Tenant, request: &Request) -> Result<(), ApiError> {
    let source = match origin_header(request) {
        Err(()) => return Err(forbidden_origin()),
        Ok(Some(origin)) => origin,
        Ok(None) => match request.headers().get(http::header::REFERER).and_then(|v| v.to_str().ok()) {
            None => return Ok(()),
            Some(referer) => origin_of(referer).ok_or_else(forbidden_origin)?,
        },
    };
    if Some(&source) == self_origin(request).as_ref() || tenant.allowed_origins.contains(&source) {
        Ok(())
    } else {
        Err(forbidden_origin())
    }
}

fn forbidden_origin() -> ApiError {
    ApiError::Forbidden {
        code: ErrorCode::ForbiddenOrigin,
        message: "requests from this origin are not allowed; add it to the tenant's allowed_origins".into(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A tenant with a name to escape and two allowed origins (also the login page's tests').
    pub(crate) fn tenant() -> Tenant {
        Tenant {
            name: "Acme <b>&</b>".into(),
            allowed_origins: vec!["https://app.acme.test".into(), "http://localhost:3000".into()],
            ..crate::domain::tenants::Tenant::example()
        }
    }

    /// A POST on the tenant host with `headers`.
    pub(crate) fn request(headers: &[(&str, &str)]) -> Request {
        let mut b = http::Request::builder()
            .method("POST")
            .uri("https://auth.acme.test/v1/logout")
            .header("host", "auth.acme.test");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(Vec::new()).unwrap_or_default()
    }

    #[test]
    fn csrf_origins() {
        let t = tenant();
        assert!(check_origin(&t, &request(&[])).is_ok(), "no Origin, no Referer: not a browser");
        assert!(check_origin(&t, &request(&[("origin", "https://auth.acme.test")])).is_ok());
        assert!(check_origin(&t, &request(&[("origin", "https://app.acme.test")])).is_ok());
        assert!(check_origin(&t, &request(&[("origin", "https://evil.test")])).is_err());
        assert!(check_origin(&t, &request(&[("origin", "null")])).is_err());
        assert!(check_origin(&t, &request(&[("origin", "http://auth.acme.test")])).is_err(), "another scheme");
        assert!(check_origin(&t, &request(&[("referer", "https://app.acme.test/page")])).is_ok());
        assert!(check_origin(&t, &request(&[("referer", "https://evil.test/page")])).is_err());
        assert!(
            check_origin(&t, &request(&[("origin", "https://evil.test"), ("referer", "https://app.acme.test/")]))
                .is_err(),
            "Origin wins"
        );
    }

    #[test]
    fn cors_only_for_allowed_cross_origins() {
        let t = tenant();
        assert_eq!(
            cors_origin(&t, &request(&[("origin", "https://app.acme.test")])).as_deref(),
            Some("https://app.acme.test")
        );
        assert_eq!(cors_origin(&t, &request(&[("origin", "https://evil.test")])), None);
        assert_eq!(cors_origin(&t, &request(&[("origin", "https://auth.acme.test")])), None, "same origin needs none");
        assert_eq!(cors_origin(&t, &request(&[])), None);
    }
}
