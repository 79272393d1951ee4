//! Forwarding: a request on a tenant host whose path is not dynauth's own goes to the tenant's
//! `origin` (method, path, query, headers, body), marked with `x-dynauth-tenant` and
//! `x-forwarded-host`. Whatever `x-dynauth-*` headers the client sent are removed first, so the
//! origin can trust the ones it sees.

use http::{HeaderMap, HeaderName, HeaderValue};

use super::{ApiError, Request};
use crate::tenants::Tenant;

/// A request to send on to the origin; the edge streams the body and the answer through.
#[derive(Debug, Clone, PartialEq)]
pub struct Forward {
    pub method: http::Method,
    pub url: String,
    pub headers: HeaderMap,
}

/// Headers that belong to one connection and are never forwarded.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
];

/// The forward of `request` to `tenant`'s origin; 404 `not_found` when the tenant has none.
pub fn forward(tenant: &Tenant, request: &Request) -> Result<Forward, ApiError> {
    let Some(origin) = &tenant.origin else {
        return Err(ApiError::not_found("this tenant has no origin to route to"));
    };
    let path_and_query = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let url = format!("{origin}{path_and_query}");
    let mut headers = HeaderMap::with_capacity(request.headers().len() + 3);
    for (name, value) in request.headers() {
        let n = name.as_str();
        if n.starts_with("x-dynauth-") || HOP_BY_HOP.contains(&n) {
            continue;
        }
        headers.append(name.clone(), value.clone());
    }
    let set = |headers: &mut HeaderMap, name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    };
    set(&mut headers, "x-dynauth-tenant", tenant.id.as_str());
    if let Some(host) = super::request_host(request) {
        set(&mut headers, "x-forwarded-host", &host);
    }
    let proto = request.uri().scheme_str().unwrap_or("https");
    set(&mut headers, "x-forwarded-proto", proto);
    Ok(Forward {
        method: request.method().clone(),
        url,
        headers,
    })
}
