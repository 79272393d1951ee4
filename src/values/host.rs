//! Hosts, origins and URLs, read the way browsers read them: through the WHATWG URL and host
//! parser ([`whatwg`]: the `url` crate natively, the runtime's own `URL` in the Worker). What a
//! browser puts in `Host` and `Origin` is what this parser makes of the same text, so a stored host
//! or origin compares equal to what requests carry: `Bücher.example` is `xn--bcher-kva.example`,
//! `0x7f.0.0.2` is `127.0.0.2`.
//!
//! On top of the parser, dynauth's own rules: a tenant host is a DNS name of letters, digits and
//! hyphens with a dot (or `localhost`, or an IPv4 address, for local development), at most 253
//! characters, one trailing dot dropped, no IPv6 literal; an allowed origin is `https://` (`http://`
//! only for `localhost` and `127.0.0.1`).

use std::fmt;

use crate::values::whatwg::{self, HostError};

/// A host in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Host(String);

impl Host {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// This machine: `localhost`, `127.0.0.1`, or a name under `.localhost` (loopback by
    /// RFC 6761). Local development's hosts: DEV_MODE answers only them, and domain checks fetch
    /// them over plain http.
    pub fn is_local(&self) -> bool {
        matches!(self.0.as_str(), "localhost" | "127.0.0.1") || self.0.ends_with(".localhost")
    }

    /// A host read back from the table (canonical when it was written).
    pub(crate) fn stored(host: &str) -> Self {
        Self(host.to_string())
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a host, origin or URL was refused (the message is safe to show to the client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidHost(pub &'static str);

impl fmt::Display for InvalidHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

const NOT_A_DOMAIN: InvalidHost = InvalidHost("the host is not a valid domain name");
const BAD_PORT: InvalidHost = InvalidHost("the port is not a number from 0 to 65535");
const SINGLE_LABEL: InvalidHost = InvalidHost("the host needs a dot (only localhost may be a single label)");

/// Canonicalize `raw`, a host with an optional `:port` (a `Host` header, a domain in an admin
/// request): the host as the WHATWG parser serializes it, one trailing dot dropped, port removed.
pub fn canonical(raw: &str) -> Result<Host, InvalidHost> {
    let name = strip_port(raw.trim())?;
    let host = parse_host(name)?;
    if !host.contains('.') && host != "localhost" {
        return Err(SINGLE_LABEL);
    }
    Ok(Host(host))
}

/// `raw` without its `:port` (checked).
fn strip_port(raw: &str) -> Result<&str, InvalidHost> {
    if raw.is_empty() {
        return Err(InvalidHost("the host is empty"));
    }
    if raw.len() > 1024 {
        return Err(InvalidHost("the host is too long"));
    }
    if raw.starts_with('[') {
        return Err(InvalidHost("IPv6 literals are not accepted as tenant hosts"));
    }
    match raw.rsplit_once(':') {
        Some((name, port)) => {
            if port.is_empty()
                || port.len() > 5
                || !port.bytes().all(|b| b.is_ascii_digit())
                || port.parse::<u16>().is_err()
            {
                return Err(BAD_PORT);
            }
            Ok(name)
        }
        None => Ok(raw),
    }
}

/// The canonical form of a host name or IPv4 address (single labels allowed).
fn parse_host(name: &str) -> Result<String, InvalidHost> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.ends_with('.') {
        return Err(InvalidHost("the host has an empty label"));
    }
    // Letters, digits, hyphens and dots, no punycode label and no number at the end (so not an
    // IPv4 form): all the parser would do is lowercase it. The common case (every Host header a
    // browser sends) takes no trip through the parser.
    let plain = name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && !name.split('.').any(|l| l.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("xn--")))
        && !whatwg::ends_in_number(name);
    let parsed = if plain { Ok(name.to_ascii_lowercase()) } else { whatwg::host(name) };
    match parsed {
        Ok(host) if host.starts_with('[') => Err(InvalidHost("IPv6 literals are not accepted as tenant hosts")),
        Ok(host) if is_ipv4(&host) => Ok(host),
        Ok(domain) => {
            if domain.len() > 253 {
                return Err(InvalidHost("the host is longer than 253 characters"));
            }
            let label_ok = |l: &str| {
                (1..=63).contains(&l.len())
                    && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            };
            if domain.split('.').all(label_ok) { Ok(domain) } else { Err(NOT_A_DOMAIN) }
        }
        Err(HostError::InvalidIpv4) => Err(InvalidHost("the host looks like an IPv4 address but is not one")),
        Err(HostError::Invalid) => Err(NOT_A_DOMAIN),
    }
}

/// The parser's serialization of an IPv4 address: four decimal numbers.
fn is_ipv4(host: &str) -> bool {
    host.split('.').count() == 4 && host.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// A web origin as browsers send it in `Origin`: `scheme://host[:port]`, lowercase, the default
/// port left out. Only `https`, and `http` for `localhost` and `127.0.0.1`.
pub fn web_origin(raw: &str) -> Result<String, InvalidHost> {
    let (scheme, rest) = split_scheme(raw)?;
    if rest.contains(['/', '?', '#', '@']) {
        return Err(InvalidHost("an origin is scheme://host[:port] with no path, query or user"));
    }
    let (host, port) = host_and_port(rest)?;
    if scheme == "http" && !matches!(host.as_str(), "localhost" | "127.0.0.1") {
        return Err(InvalidHost("http:// origins are allowed only for localhost and 127.0.0.1"));
    }
    Ok(join_origin(scheme, &host, port))
}

/// A base URL to route to: `http(s)://host[:port][/path]`, normalized (canonical host, default
/// port and trailing slash removed). No query, fragment or user.
pub fn base_url(raw: &str) -> Result<String, InvalidHost> {
    let (scheme, rest) = split_scheme(raw)?;
    if rest.contains(['?', '#', '@']) {
        return Err(InvalidHost("a base URL has no query, fragment or user"));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (host, port) = host_and_port(authority)?;
    let path = path.trim_end_matches('/');
    let path_ok =
        path.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~/%!$&'()*+,;=:@".contains(&b)) && !path.contains("//");
    if !path_ok {
        return Err(InvalidHost("the path of the base URL has characters that are not allowed"));
    }
    Ok(format!("{}{path}", join_origin(scheme, &host, port)))
}

/// A URL dynauth posts secrets to (the login-code webhook): `https://...`, or `http://` only to
/// `localhost` and `127.0.0.1`; no query or fragment.
pub fn webhook_url(raw: &str) -> Result<String, InvalidHost> {
    let url = base_url(raw)?;
    let local = ["http://localhost", "http://127.0.0.1"]
        .iter()
        .any(|p| url == *p || url.starts_with(&format!("{p}:")) || url.starts_with(&format!("{p}/")));
    if url.starts_with("https://") || local {
        Ok(url)
    } else {
        Err(InvalidHost("must be https:// (http:// only for localhost and 127.0.0.1)"))
    }
}

/// An OAuth redirect URI as a client registers it: `https://host[:port][/path][?query]`, or, for
/// native apps (RFC 8252 §7.3), `http://localhost` or `http://127.0.0.1` (a port, or none: at
/// authorization any port matches). Never a fragment, user info or wildcard; at most 2,000
/// characters; the host written as browsers send it (lowercase, no trailing dot, default port
/// left out). Kept exactly as given: redirect URIs are compared exactly.
pub fn redirect_uri(raw: &str) -> Result<String, InvalidHost> {
    if raw.is_empty() || raw.len() > 2000 {
        return Err(InvalidHost("a redirect URI is 1-2000 characters"));
    }
    if raw.contains('#') {
        return Err(InvalidHost("a redirect URI has no fragment"));
    }
    if raw.contains('*') {
        return Err(InvalidHost("a redirect URI is exact: no wildcards"));
    }
    let (scheme, rest) = match raw {
        _ if raw.starts_with("https://") => ("https", &raw[8..]),
        _ if raw.starts_with("http://") => ("http", &raw[7..]),
        _ => return Err(InvalidHost("a redirect URI starts with https:// (or http:// for localhost and 127.0.0.1)")),
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.contains('@') {
        return Err(InvalidHost("a redirect URI has no user info"));
    }
    let (host, port) = host_and_port(authority)?;
    if join_origin(scheme, &host, port) != format!("{scheme}://{authority}") {
        return Err(InvalidHost(
            "the host of a redirect URI is written as browsers send it: lowercase, no trailing dot, no default port",
        ));
    }
    if scheme == "http" && !matches!(host.as_str(), "localhost" | "127.0.0.1") {
        return Err(InvalidHost("http:// redirect URIs are for localhost and 127.0.0.1 only (native apps)"));
    }
    if !tail.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()+,;=:@%/?".contains(&b)) {
        return Err(InvalidHost("the path or query of the redirect URI has characters that are not allowed"));
    }
    Ok(raw.to_string())
}

/// Whether `url` (a normalized base URL) is a target dynauth may send requests and secrets to in
/// production: `https://` to a public host. Refused: `http://`, single-label hosts (`backend`,
/// `localhost`), and IP literals in the loopback, private, link-local, shared (CGNAT),
/// unspecified and broadcast ranges.
pub fn public_target(url: &str) -> Result<(), &'static str> {
    let Some(rest) = url.strip_prefix("https://") else {
        return Err("must be https://");
    };
    let authority = rest.split('/').next().unwrap_or("");
    let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
    if let Ok(ip) = host.parse::<std::net::Ipv4Addr>() {
        let [a, b, ..] = ip.octets();
        let shared = a == 100 && (64..128).contains(&b);
        if ip.is_loopback()
            || ip.is_private()
            || ip.is_link_local()
            || ip.is_unspecified()
            || ip.is_broadcast()
            || shared
        {
            return Err("must be a public host, not a loopback, private or link-local address");
        }
        return Ok(());
    }
    if !host.contains('.') {
        return Err("must be a public host name, not a single label");
    }
    Ok(())
}

/// The origin (`scheme://host[:port]`, as browsers serialize it) of an `Origin` header or of an
/// absolute `http(s)` URL such as a `Referer`; `None` when it has none (`null`, relative, another
/// scheme, user info, malformed).
pub fn origin_of(raw: &str) -> Option<String> {
    let url = whatwg::url(raw.trim())?;
    if !matches!(url.scheme.as_str(), "http" | "https") || url.userinfo {
        return None;
    }
    let host = parse_host(&url.host).ok()?;
    Some(join_origin(&url.scheme, &host, url.port))
}

/// The scheme (`http` or `https`, any case) and the rest.
fn split_scheme(raw: &str) -> Result<(&'static str, &str), InvalidHost> {
    let raw = raw.trim();
    let lower = raw.get(..8).map(str::to_ascii_lowercase).unwrap_or_default();
    if lower.starts_with("https://") {
        Ok(("https", &raw[8..]))
    } else if lower.starts_with("http://") {
        Ok(("http", &raw[7..]))
    } else {
        Err(InvalidHost("must start with https:// (or http://)"))
    }
}

/// The canonical host (single labels allowed: a base URL may point at `http://backend:8080`)
/// and the port of an authority.
fn host_and_port(authority: &str) -> Result<(String, Option<u16>), InvalidHost> {
    let name = strip_port(authority)?;
    let port = match authority.rsplit_once(':') {
        Some((_, p)) => Some(p.parse::<u16>().map_err(|_| BAD_PORT)?),
        None => None,
    };
    Ok((parse_host(name)?, port))
}

fn join_origin(scheme: &str, host: &str, port: Option<u16>) -> String {
    match (scheme, port) {
        ("https", Some(443)) | ("http", Some(80)) | (_, None) => format!("{scheme}://{host}"),
        (_, Some(p)) => format!("{scheme}://{host}:{p}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redirect_uris_are_exact_https_or_loopback_http() {
        for ok in [
            "https://app.acme.test/callback",
            "https://app.acme.test:8443/cb?x=1&y=2",
            "https://app.acme.test",
            "http://localhost/cb",
            "http://localhost:53124/cb",
            "http://127.0.0.1:8080",
            "https://8.8.8.8/cb",
        ] {
            assert_eq!(super::redirect_uri(ok).as_deref(), Ok(ok), "{ok}");
        }
        let cases = [
            ("", "a redirect URI is 1-2000 characters"),
            ("https://app.acme.test/cb#frag", "a redirect URI has no fragment"),
            ("https://*.acme.test/cb", "a redirect URI is exact: no wildcards"),
            ("javascript:alert(1)", "a redirect URI starts with https:// (or http:// for localhost and 127.0.0.1)"),
            ("/relative", "a redirect URI starts with https:// (or http:// for localhost and 127.0.0.1)"),
            ("HTTPS://app.acme.test/", "a redirect URI starts with https:// (or http:// for localhost and 127.0.0.1)"),
            ("http://app.acme.test/cb", "http:// redirect URIs are for localhost and 127.0.0.1 only (native apps)"),
            ("https://user@app.acme.test/cb", "a redirect URI has no user info"),
            (
                "https://App.acme.test/cb",
                "the host of a redirect URI is written as browsers send it: lowercase, no trailing dot, no default port",
            ),
            (
                "https://app.acme.test:443/cb",
                "the host of a redirect URI is written as browsers send it: lowercase, no trailing dot, no default port",
            ),
            ("https://app.acme.test/c b", "the path or query of the redirect URI has characters that are not allowed"),
            ("https://app.acme.test/<x>", "the path or query of the redirect URI has characters that are not allowed"),
        ];
        for (raw, problem) in cases {
            assert_eq!(super::redirect_uri(raw).map_err(|e| e.0), Err(problem), "{raw}");
        }
    }

    #[test]
    fn public_targets() {
        for ok in ["https://app.acme.test", "https://app.acme.test:8443/base", "https://8.8.8.8", "https://100.128.0.1"]
        {
            assert_eq!(super::public_target(ok), Ok(()), "{ok}");
        }
        for bad in [
            "http://app.acme.test",
            "https://127.0.0.1:9",
            "https://10.1.2.3",
            "https://172.16.0.1",
            "https://192.168.1.1/x",
            "https://169.254.169.254",
            "https://100.64.0.1",
            "https://0.0.0.0",
            "https://255.255.255.255",
            "https://localhost",
            "https://backend:8080",
        ] {
            assert!(super::public_target(bad).is_err(), "{bad}");
        }
    }

    use super::*;

    #[test]
    fn canonicalization_table() {
        let table: serde_json::Value = serde_json::from_str(include_str!("../../tests/fixtures/hosts.json"))
            .unwrap_or_else(|e| panic!("tests/fixtures/hosts.json: {e}"));
        let cases = table["cases"].as_array().cloned().unwrap_or_default();
        assert!(cases.len() > 40);
        for case in cases {
            let input = case["input"].as_str().unwrap_or_default();
            let got = canonical(input);
            match (case["host"].as_str(), case["error"].as_str()) {
                (Some(host), _) => assert_eq!(got.as_ref().map(Host::as_str), Ok(host), "{input:?}"),
                (None, Some(message)) => assert_eq!(got.map_err(|e| e.0), Err(message), "{input:?}"),
                _ => panic!("a case needs a host or an error: {case}"),
            }
        }
    }

    #[test]
    fn web_origins() {
        let ok = [
            ("https://App.Example.com", "https://app.example.com"),
            ("https://app.example.com:443", "https://app.example.com"),
            ("https://app.example.com:8443", "https://app.example.com:8443"),
            ("http://localhost:3000", "http://localhost:3000"),
            ("http://127.0.0.1:5173", "http://127.0.0.1:5173"),
            ("https://bücher.example", "https://xn--bcher-kva.example"),
        ];
        for (raw, want) in ok {
            assert_eq!(web_origin(raw).as_deref(), Ok(want), "{raw}");
        }
        let bad = [
            ("http://app.example.com", "http:// origins are allowed only for localhost and 127.0.0.1"),
            ("https://app.example.com/", "an origin is scheme://host[:port] with no path, query or user"),
            ("https://app.example.com/x", "an origin is scheme://host[:port] with no path, query or user"),
            ("ftp://app.example.com", "must start with https:// (or http://)"),
            ("app.example.com", "must start with https:// (or http://)"),
            ("https://user@app.example.com", "an origin is scheme://host[:port] with no path, query or user"),
            ("https://app.example.com:0x1", "the port is not a number from 0 to 65535"),
            ("https://", "the host is empty"),
        ];
        for (raw, want) in bad {
            assert_eq!(web_origin(raw), Err(InvalidHost(want)), "{raw}");
        }
    }

    #[test]
    fn origins_of_headers_and_urls() {
        assert_eq!(origin_of("https://App.Example.com").as_deref(), Some("https://app.example.com"));
        assert_eq!(origin_of("https://app.example.com:443/path?q#f").as_deref(), Some("https://app.example.com"));
        assert_eq!(origin_of("http://localhost:8787/login").as_deref(), Some("http://localhost:8787"));
        assert_eq!(origin_of("http://evil.example:80").as_deref(), Some("http://evil.example"));
        assert_eq!(origin_of("https://bücher.example/x").as_deref(), Some("https://xn--bcher-kva.example"));
        assert_eq!(origin_of("http://0x7f.0.0.1:8787/").as_deref(), Some("http://127.0.0.1:8787"));
        assert_eq!(origin_of("null"), None);
        assert_eq!(origin_of("/relative"), None);
        assert_eq!(origin_of("https://user@app.example.com"), None);
        assert_eq!(origin_of("javascript:alert(1)"), None);
        assert_eq!(origin_of("data:text/html,x"), None);
    }

    #[test]
    fn webhook_urls() {
        assert_eq!(webhook_url("https://hooks.example.com/codes").as_deref(), Ok("https://hooks.example.com/codes"));
        assert_eq!(webhook_url("http://127.0.0.1:9999/hook").as_deref(), Ok("http://127.0.0.1:9999/hook"));
        assert_eq!(webhook_url("http://localhost/hook").as_deref(), Ok("http://localhost/hook"));
        assert!(webhook_url("http://hooks.example.com/codes").is_err());
        assert!(webhook_url("http://localhost.evil.com/x").is_err());
        assert!(webhook_url("http://127.0.0.1.nip.io/x").is_err());
    }

    #[test]
    fn base_urls() {
        assert_eq!(base_url("https://Origin.Example.com/").as_deref(), Ok("https://origin.example.com"));
        assert_eq!(base_url("http://127.0.0.1:9000/app/").as_deref(), Ok("http://127.0.0.1:9000/app"));
        assert_eq!(base_url("http://backend:8080").as_deref(), Ok("http://backend:8080"));
        assert_eq!(base_url("https://o.example.com:443/a/b").as_deref(), Ok("https://o.example.com/a/b"));
        assert!(base_url("https://o.example.com/?x=1").is_err());
        assert!(base_url("https://o.example.com/a b").is_err());
        assert!(base_url("https://o.example.com//a").is_err());
        assert!(base_url("javascript:alert(1)").is_err());
    }
}
