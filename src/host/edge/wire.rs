//! The edge's wire codec: how a request, an answer from outside and a response cross between
//! `edge.js` and the wasm core. Each crossing costs CPU, so each is one string: a request head is
//! `METHOD\nURL\nlatitude,longitude,continent\nname:value...` (see `requestHead` in edge.js), an
//! answer's or a response's headers are `name:value` lines. Pure functions, built and tested
//! natively too.

use crate::api;
use crate::domain::regions::Location;
use crate::platform::runtime::TransportError;

/// A request head, read: the request, whether its body must be read (dynauth's own routes;
/// forwarded bodies are streamed to the origin untouched), and where it came from.
pub type Head = (http::Request<Vec<u8>>, bool, Option<Location>);

/// The request of a request head.
pub fn parse_head(head: &str) -> Result<Head, String> {
    let mut lines = head.split('\n');
    let method = lines.next().unwrap_or("GET");
    let url = lines.next().unwrap_or("/");
    // Where the request came from (request.cf), never from a header a client could send.
    let mut place = lines.next().unwrap_or("").splitn(3, ',');
    let location = Location::of(place.next(), place.next(), place.next());
    let mut builder = http::Request::builder().method(method).uri(url);
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            builder = builder.header(name, value);
        }
    }
    let request = builder.body(Vec::new()).map_err(|e| e.to_string())?;
    let own = api::Route::parse(request.uri().path()).map_or(true, api::Route::own);
    let needs_body = !matches!(method, "GET" | "HEAD") && own;
    Ok((request, needs_body, location))
}

/// The path of a request head's URL (before the head is parsed: it decides where the request
/// goes).
pub fn path_of(head: &str) -> &str {
    let url = head.split('\n').nth(1).unwrap_or("/");
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
    path.split(['?', '#']).next().unwrap_or("/")
}

/// An answer from outside (DynamoDB, a webhook, a domain check): its status, `name:value` header
/// lines and body.
pub fn response(status: u16, head: &str, body: Vec<u8>) -> Result<http::Response<Vec<u8>>, TransportError> {
    let mut builder = http::Response::builder().status(status);
    for line in head.split('\n') {
        if let Some((name, value)) = line.split_once(':') {
            builder = builder.header(name, value);
        }
    }
    builder.body(body).map_err(|e| TransportError(e.to_string()))
}

/// Headers as `edge.js` takes them: `name:value` lines (values that are not text are left out).
pub fn join_headers(map: &http::HeaderMap) -> String {
    let mut head = String::with_capacity(map.len() * 32);
    for (name, value) in map {
        if let Ok(value) = value.to_str() {
            if !head.is_empty() {
                head.push('\n');
            }
            head.push_str(name.as_str());
            head.push(':');
            head.push_str(value);
        }
    }
    head
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_head_becomes_the_request_its_body_need_and_its_place() {
        let head = "POST\nhttps://auth.acme.test/v1/login/start?x=1\n53.35,-6.26,EU\nhost:auth.acme.test\ncontent-type:application/json\nx-a:b:c";
        let (request, needs_body, location) = parse_head(head).expect("the test's own input");
        assert_eq!(request.method(), "POST");
        assert_eq!(request.uri().path(), "/v1/login/start");
        assert_eq!(request.uri().query(), Some("x=1"));
        assert_eq!(request.headers()["host"], "auth.acme.test");
        assert_eq!(request.headers()["content-type"], "application/json");
        assert_eq!(request.headers()["x-a"], "b:c", "a value may hold colons");
        assert!(needs_body, "dynauth's own route: the body is read");
        assert_eq!(location, Some(Location { latitude: 53.35, longitude: -6.26 }));

        // A forwarded request's body is streamed to the origin, never read; GET has none.
        let (_, forwarded, _) = parse_head("POST\nhttps://app.acme.test/upload\n\nhost:app.acme.test").expect("ok");
        assert!(!forwarded);
        let (_, get, nowhere) = parse_head("GET\nhttps://auth.acme.test/v1/session\n\n").expect("ok");
        assert!(!get);
        assert_eq!(nowhere, None, "no request.cf: no place");
        // Only the continent: its middle.
        let (_, _, continent) = parse_head("GET\nhttps://a.test/\n,,OC\n").expect("ok");
        assert_eq!(continent, Some(Location { latitude: -25.0, longitude: 135.0 }));
    }

    #[test]
    fn a_head_that_is_not_http_is_an_error_not_a_panic() {
        assert!(parse_head("GET\nhttps://a.test/\n\nbad header:x").is_err(), "a space in a header name");
        assert!(parse_head("NOT A METHOD\nhttps://a.test/\n\n").is_err());
        assert!(parse_head("GET\nhttps://a test/\n\n").is_err());
        assert!(parse_head("").is_err(), "no method");
    }

    #[test]
    fn the_path_is_read_from_the_head_alone() {
        assert_eq!(path_of("GET\nhttps://auth.acme.test/v1/admin/tenants?limit=5\n\n"), "/v1/admin/tenants");
        assert_eq!(path_of("GET\nhttps://auth.acme.test\n\n"), "/");
        assert_eq!(path_of("GET\nhttps://auth.acme.test/login#top\n\n"), "/login");
        assert_eq!(path_of("GET"), "/");
    }

    #[test]
    fn headers_cross_as_lines_and_come_back_the_same() {
        let mut map = http::HeaderMap::new();
        map.insert("content-type", http::HeaderValue::from_static("application/json"));
        map.append("set-cookie", http::HeaderValue::from_static("a=1"));
        map.append("set-cookie", http::HeaderValue::from_static("b=2"));
        map.insert("x-binary", http::HeaderValue::from_bytes(b"\xff\xfe").expect("opaque bytes are a header value"));
        let head = join_headers(&map);
        assert_eq!(head, "content-type:application/json\nset-cookie:a=1\nset-cookie:b=2", "not text: left out");
        let back = response(201, &head, b"{}".to_vec()).expect("the test's own input");
        assert_eq!(back.status(), 201);
        assert_eq!(back.headers().get_all("set-cookie").iter().count(), 2);
        assert_eq!(back.body(), b"{}");
        assert_eq!(join_headers(&http::HeaderMap::new()), "");
        assert!(response(99, "", Vec::new()).is_err(), "not a status");
    }
}
