//! The WHATWG URL standard's host and URL parsers: what a browser makes of a host or a URL, IDNA
//! (UTS #46) and the IPv4 forms (`0x7f.0.0.2`) included. Natively this is the `url` crate; in the
//! Worker it is the runtime's own `URL` (workerd's implementation of the same standard, through
//! `src/host/edge/edge.js`), so the Worker does not ship a second copy of IDNA's Unicode tables (measured:
//! 70 KB of its gzip size). `host` rules on top of these (labels, single names, lengths) are
//! dynauth's and live in `host`; the cases of `tests/fixtures/hosts.json` are checked against
//! both implementations (unit tests natively, `tests/e2e/hosts.test.mjs` in the Worker).

/// Why a host is not one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostError {
    /// It ends in a number, so it is read as an IPv4 address, and it is not a valid one.
    InvalidIpv4,
    /// Anything else (forbidden characters, IDNA errors).
    Invalid,
}

/// The parts of a URL dynauth looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub scheme: String,
    /// A user name or password is present.
    pub userinfo: bool,
    /// The host's serialization (`[..]` for IPv6), empty when the URL has none.
    pub host: String,
    /// The port, when not the scheme's default.
    pub port: Option<u16>,
}

/// The host parser on `input` (a host without port): its serialization, lowercase ASCII.
pub fn host(input: &str) -> Result<String, HostError> {
    imp::host(input)
}

/// The URL parser on `input` (an absolute URL).
pub fn url(input: &str) -> Option<Url> {
    imp::url(input)
}

/// The standard's "ends in a number": the last label is digits, or `0x` and hex digits, so the
/// host parser reads the name as an IPv4 address.
pub fn ends_in_number(input: &str) -> bool {
    let mut labels: Vec<&str> = input.split('.').collect();
    if labels.last() == Some(&"") && labels.len() > 1 {
        labels.pop();
    }
    let last = labels.last().copied().unwrap_or("");
    if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    let hex = last.strip_prefix("0x").or_else(|| last.strip_prefix("0X"));
    hex.is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::{HostError, Url};

    pub(super) fn host(input: &str) -> Result<String, HostError> {
        match url::Host::parse(input) {
            Ok(url::Host::Domain(domain)) => Ok(domain),
            Ok(url::Host::Ipv4(address)) => Ok(address.to_string()),
            Ok(url::Host::Ipv6(address)) => Ok(format!("[{address}]")),
            Err(url::ParseError::InvalidIpv4Address) => Err(HostError::InvalidIpv4),
            Err(_) => Err(HostError::Invalid),
        }
    }

    pub(super) fn url(input: &str) -> Option<Url> {
        let url = url::Url::parse(input).ok()?;
        Some(Url {
            scheme: url.scheme().to_string(),
            userinfo: !url.username().is_empty() || url.password().is_some(),
            host: url.host_str().unwrap_or("").to_string(),
            port: url.port(),
        })
    }
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use wasm_bindgen::prelude::*;

    use super::{HostError, Url, ends_in_number};

    #[wasm_bindgen(module = "/src/host/edge/edge.js")]
    extern "C" {
        #[wasm_bindgen(js_name = whatwgHost)]
        fn whatwg_host(input: &str) -> Option<String>;
        #[wasm_bindgen(js_name = whatwgUrl)]
        fn whatwg_url(input: &str) -> Option<String>;
    }

    pub(super) fn host(input: &str) -> Result<String, HostError> {
        // The runtime parses `http://<input>/`: characters that would end the host there (or that
        // the URL parser strips before it gets to the host) are refused first, as the host
        // parser itself refuses them.
        if input.chars().any(|c| "/\\?#@:[]".contains(c) || c.is_whitespace() || c.is_control()) {
            return Err(HostError::Invalid);
        }
        match whatwg_host(input) {
            Some(host) if !host.is_empty() => Ok(host),
            _ if ends_in_number(input) => Err(HostError::InvalidIpv4),
            _ => Err(HostError::Invalid),
        }
    }

    pub(super) fn url(input: &str) -> Option<Url> {
        let parts = whatwg_url(input)?;
        let mut parts = parts.split('\n');
        let scheme = parts.next()?.to_string();
        let userinfo = parts.next()? == "1";
        let host = parts.next()?.to_string();
        let port = match parts.next()? {
            "" => None,
            p => Some(p.parse().ok()?),
        };
        Some(Url { scheme, userinfo, host, port })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_at_the_end() {
        for yes in ["1.2.3.4", "256.1.1.1", "a.1", "a.0x", "a.0x1F", "1.", "example.123."] {
            assert!(ends_in_number(yes), "{yes}");
        }
        for no in ["example.com", "a.1b", "a.0xg", "", "1.a"] {
            assert!(!ends_in_number(no), "{no}");
        }
    }

    #[test]
    fn urls() {
        let u = url("https://user@App.Example.com:8443/x?y#z").unwrap_or_else(|| panic!("parses"));
        assert_eq!(u, Url { scheme: "https".into(), userinfo: true, host: "app.example.com".into(), port: Some(8443) });
        assert_eq!(url("http://a.example:80/").map(|u| u.port), Some(None), "the default port is none");
        assert_eq!(url("null"), None);
    }
}
