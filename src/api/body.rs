//! Reading a request: a JSON body into its typed input (size, content type and JSON checked
//! here, fields by the input type's own rules), the path's segments and the query parameters
//! (both decoded with `percent-encoding`; query values as forms are, `+` a space), and a list's
//! page parameters.

pub use crate::values::input::encode_component;
use std::borrow::Cow;

use serde::de::DeserializeOwned;

use super::{ApiError, Request};
use crate::values::codes::ErrorCode;
use crate::values::ids::{ClientId, UserId};
use crate::values::input::{self, Invalid, MAX_BODY};

/// The request's JSON body as `T`: 413 over [`MAX_BODY`], 415 unless declared as JSON, 400
/// `invalid_json` unless a JSON object, then `T`'s own rules (unknown fields named, every other
/// problem naming its field).
pub fn json<T: DeserializeOwned>(request: &Request) -> Result<T, ApiError> {
    let body = request.body();
    if body.len() > MAX_BODY {
        return Err(Invalid::TooLarge.into());
    }
    let is_json = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(Invalid::NotJson.into());
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| Invalid::with_code(ErrorCode::InvalidJson, format!("the body is not valid JSON: {e}")))?;
    Ok(input::decode(&value)?)
}

/// The path's segments, percent-decoded (`+` is a plus in a path); 400 `invalid_path` for a
/// malformed escape or bytes that are not UTF-8.
pub fn segments(path: &str) -> Result<Vec<Cow<'_, str>>, ApiError> {
    let invalid = || ApiError::bad_request(ErrorCode::InvalidPath, "the path has an invalid percent-encoding");
    path.trim_start_matches('/').split('/').map(|segment| percent_decode_strict(segment).ok_or_else(invalid)).collect()
}

/// `text` percent-decoded; `None` for a malformed escape or bytes that are not UTF-8 (never a
/// silently altered value).
fn percent_decode_strict(text: &str) -> Option<Cow<'_, str>> {
    if !escapes_are_valid(text) {
        return None;
    }
    percent_encoding::percent_decode_str(text).decode_utf8().ok()
}

/// Every `%` starts an escape of two hex digits.
fn escapes_are_valid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'%')
        .all(|(i, _)| bytes.get(i + 1..i + 3).is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)))
}

/// Query parameter `name`, decoded as forms are (`+` is a space); `None` when absent; 400
/// `invalid_request` naming the parameter when its value is not validly percent-encoded UTF-8
/// (`%ZZ`, `%e9`), never a silently altered value.
pub fn query(request: &Request, name: &str) -> Result<Option<String>, ApiError> {
    let Some(query) = request.uri().query() else {
        return Ok(None);
    };
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if form_decode(key).as_deref() == Some(name) {
            return form_decode(value)
                .map(Some)
                .ok_or_else(|| Invalid::field(name, "is not validly percent-encoded UTF-8").into());
        }
    }
    Ok(None)
}

/// The pairs of an `application/x-www-form-urlencoded` string (a query, or a form body), keys
/// and values decoded; `None` for a malformed escape or bytes that are not UTF-8.
pub fn form_pairs(raw: &str) -> Option<Vec<(String, String)>> {
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((form_decode(key)?, form_decode(value)?))
        })
        .collect()
}

/// One form-encoded key or value: `+` is a space, `%XX` a byte; `None` for a malformed escape or
/// bytes that are not UTF-8.
fn form_decode(raw: &str) -> Option<String> {
    percent_decode_strict(&raw.replace('+', " ")).map(Cow::into_owned)
}

/// A list's page parameters: `limit` (1-100, default 20) and `cursor` (as given: the use case
/// reads it, for the list it gave it out for).
#[cfg(cold)]
pub fn page(request: &Request) -> Result<crate::app::pages::Page, ApiError> {
    let limit = match query(request, "limit")? {
        None => 20,
        Some(raw) => match raw.parse::<u32>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => return Err(Invalid::field("limit", "must be a whole number from 1 to 100").into()),
        },
    };
    Ok(crate::app::pages::Page { limit, cursor: query(request, "cursor")? })
}

/// A client id in a path; 400 `invalid_request` otherwise.
pub fn client_id_of(raw: &str) -> Result<ClientId, ApiError> {
    ClientId::parse(raw).map_err(|rule| Invalid::field("client_id", rule).into())
}

/// A user id in a path; 400 `invalid_request` otherwise.
pub fn user_id_of(raw: &str) -> Result<UserId, ApiError> {
    UserId::parse(raw).map_err(|rule| Invalid::field("user_id", rule).into())
}

/// A host in an admin path, canonical; 400 `invalid_host` otherwise.
pub fn host_of(raw: &str) -> Result<crate::values::host::Host, ApiError> {
    crate::values::host::canonical(raw)
        .map_err(|e| ApiError::bad_request(ErrorCode::InvalidHost, format!("the host is invalid: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(uri: &str) -> Request {
        http::Request::builder().uri(uri).body(Vec::new()).unwrap_or_default()
    }

    #[test]
    fn query_strings() {
        let r = get("https://x.test/p?limit=5&cursor=a%2Bb.c&email=a%40b.example&x&q=a+b&bad=%ZZ");
        let q = |r: &Request, name: &str| query(r, name).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(q(&r, "limit").as_deref(), Some("5"));
        assert_eq!(q(&r, "cursor").as_deref(), Some("a+b.c"));
        assert_eq!(q(&r, "email").as_deref(), Some("a@b.example"));
        assert_eq!(q(&r, "x").as_deref(), Some(""));
        assert_eq!(q(&r, "q").as_deref(), Some("a b"));
        assert_eq!(q(&r, "nope"), None);
        assert_eq!(q(&get("https://x.test/p"), "limit"), None);
        for (uri, name) in [
            ("https://x.test/p?cursor=%ZZ", "cursor"),
            ("https://x.test/p?limit=%ZZ", "limit"),
            ("https://x.test/p?email=a%e9b", "email"),
            ("https://x.test/p?email=a%4", "email"),
        ] {
            let err = query(&get(uri), name).map_err(|e| (e.status(), e.code(), e.message()));
            assert_eq!(
                err,
                Err((400, "invalid_request", format!("{name}: is not validly percent-encoded UTF-8"))),
                "{uri}"
            );
        }
        assert!(page(&get("https://x.test/p?limit=%ZZ")).is_err());
        assert!(page(&get("https://x.test/p?limit=0")).is_err());
        assert_eq!(encode_component("/a b?c=d&e"), "%2Fa%20b%3Fc%3Dd%26e");
    }

    #[test]
    fn path_segments() {
        let parts = segments("/v1/admin/tenants/acme/users/auth0%7Cabc+1/sessions").unwrap_or_default();
        assert_eq!(parts, ["v1", "admin", "tenants", "acme", "users", "auth0|abc+1", "sessions"]);
        assert!(segments("/v1/%zz").is_err());
        assert!(segments("/v1/%e9").is_err(), "not UTF-8");
        assert!(segments("/v1/a%").is_err());
    }
}
