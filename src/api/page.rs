//! The hosted login page (`GET /login?return_to=...`): tenant-branded, strict headers, and a
//! `return_to` that never leaves the tenant's host and allowed origins. Served by the admin
//! Worker (a cold path).

use http::HeaderValue;

use super::browser::self_origin;
use super::{ApiError, Request, Response, body, empty_response, only};
use crate::domain::tenants::Tenant;
use crate::platform::crypto::b64url;
use crate::platform::runtime::Random;
use crate::values::host::origin_of;

/// The longest `return_to` the login page takes.
pub(crate) const MAX_RETURN_TO: usize = 2048;

/// Where the login page may send the user afterwards: a path on this host, or a URL on the host
/// itself or on an allowed origin; anything else (other hosts, `//host`, `javascript:`, longer
/// than [`MAX_RETURN_TO`]) is `/`.
pub(crate) fn safe_return_to(tenant: &Tenant, request: &Request, raw: Option<&str>) -> String {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty() && r.len() <= MAX_RETURN_TO) else {
        return "/".into();
    };
    if raw.chars().any(|c| c.is_control() || c == '\\' || c.is_whitespace()) {
        return "/".into();
    }
    if raw.starts_with('/') {
        // The path as the browser will resolve it (dot segments, `%2e` among them): one that
        // then starts with `//` would name another host.
        return if normalized_path(raw).starts_with("//") { "/".into() } else { raw.to_string() };
    }
    // With whitespace, control characters, backslashes and user info refused, the origin parsed
    // here is the one a browser navigates to.
    match origin_of(raw) {
        Some(origin) if tenant.allowed_origins.contains(&origin) || Some(&origin) == self_origin(request).as_ref() => {
            raw.to_string()
        }
        _ => "/".into(),
    }
}

/// The path of `raw` (a path-absolute reference) with its dot segments removed as the WHATWG URL
/// parser removes them (`.`, `..`, `%2e` in any case and mix).
fn normalized_path(raw: &str) -> String {
    let path = raw.split(['?', '#']).next().unwrap_or(raw);
    let dot = |s: &str| s == "." || s.eq_ignore_ascii_case("%2e");
    let dots = |s: &str| s == ".." || [".%2e", "%2e.", "%2e%2e"].iter().any(|d| s.eq_ignore_ascii_case(d));
    let parts: Vec<&str> = path.split('/').skip(1).collect();
    let mut out: Vec<&str> = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        if dots(part) {
            out.pop();
            if last {
                out.push("");
            }
        } else if dot(part) {
            if last {
                out.push("");
            }
        } else {
            out.push(part);
        }
    }
    format!("/{}", out.join("/"))
}

/// The page's accent colour when the tenant sets none.
const DEFAULT_ACCENT: &str = "#2f5bd3";

/// `GET /login?return_to=&login_hint=`: the hosted login page, branded with the tenant's name,
/// its email field filled with the hint.
pub(crate) fn login_page(tenant: &Tenant, request: &Request, random: &dyn Random) -> Result<Response, ApiError> {
    only(request.method(), "GET")?;
    // A malformed return_to is treated as none: the page falls back to its default target.
    let raw = body::query(request, "return_to").ok().flatten();
    let return_to = safe_return_to(tenant, request, raw.as_deref());
    // An OpenID Connect `login_hint`: the email field starts with it.
    let hint = body::query(request, "login_hint").ok().flatten().filter(|h| h.len() <= 254).unwrap_or_default();
    let nonce = b64url(&random.bytes::<18>());
    // Branding: the accent is `#rrggbb` (checked when set), the logo an https URL whose origin
    // alone the CSP lets images come from.
    let accent = tenant.branding.accent_color.as_deref().unwrap_or(DEFAULT_ACCENT);
    let logo = tenant.branding.logo_url.as_deref().and_then(|url| Some((url, origin_of(url)?)));
    let logo_tag = logo.as_ref().map_or_else(String::new, |(url, _)| {
        format!("<img id=\"logo\" src=\"{}\" alt=\"\" height=\"48\">", html_escape(url))
    });
    let img_src = logo.map_or_else(|| "'self'".to_string(), |(_, origin)| format!("'self' {origin}"));
    let (name, return_to, hint) = (html_escape(&tenant.name), html_escape(&return_to), html_escape(&hint));
    let html = fill(
        include_str!("login_page.html"),
        &[
            ("logo", &logo_tag),
            ("accent", accent),
            ("name", &name),
            ("return_to", &return_to),
            ("login_hint", &hint),
            ("nonce", &nonce),
        ],
    );
    let mut response = empty_response(200);
    *response.body_mut() = html.into_bytes();
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; connect-src 'self'; img-src {img_src}; \
         form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    );
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&csp) {
        headers.insert(http::header::CONTENT_SECURITY_POLICY, v);
    }
    add_html_security_headers(&mut response);
    Ok(response)
}

/// `template` with each `{{key}}` replaced by its value, in one pass: a value is never read
/// again, so one holding `{{nonce}}` stays that text. An unknown key is left as it is.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}").and_then(|end| values.iter().find(|(k, _)| *k == &after[..end]).map(|(_, v)| (end, v))) {
            Some((end, value)) => {
                out.push_str(value);
                rest = &after[end + 2..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The headers every HTML answer carries.
pub(crate) fn add_html_security_headers(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(http::header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(http::header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(http::header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(http::header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            http::header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
}

/// Escapes text for HTML content and double-quoted attributes.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::api::browser::tests::{request, tenant};

    #[test]
    fn return_to_is_never_an_open_redirect() {
        let t = tenant();
        let r = request(&[]);
        let cases = [
            (None, "/"),
            (Some(""), "/"),
            (Some("/dashboard?tab=1#x"), "/dashboard?tab=1#x"),
            (Some("//evil.test/x"), "/"),
            (Some("/\\evil.test"), "/"),
            (Some("https://evil.test/x"), "/"),
            (Some("https://app.acme.test/after"), "https://app.acme.test/after"),
            (Some("https://app.acme.test"), "https://app.acme.test"),
            (Some("https://app.acme.test.evil.test/"), "/"),
            (Some("https://app.acme.test@evil.test/"), "/"),
            (Some("https://auth.acme.test/home"), "https://auth.acme.test/home"),
            (Some("http://localhost:3000/x"), "http://localhost:3000/x"),
            (Some("http://localhost:3001/x"), "/"),
            (Some("javascript:alert(1)"), "/"),
            (Some("data:text/html,x"), "/"),
            (Some("/ok\nLocation: x"), "/"),
            (Some("dashboard"), "/"),
            (Some("/.//evil.test"), "/"),
            (Some("/a/..//evil.test"), "/"),
            (Some("/%2e//evil.test"), "/"),
            (Some("/%2E%2e/%2e//evil.test/x?y"), "/"),
            (Some("/./ok"), "/./ok"),
            (Some("/a/../b"), "/a/../b"),
        ];
        for (raw, want) in cases {
            assert_eq!(safe_return_to(&t, &r, raw), want, "{raw:?}");
        }
    }

    #[test]
    fn paths_normalize_as_browsers_resolve_them() {
        for (raw, want) in [
            ("/", "/"),
            ("/a/./b/../c", "/a/c"),
            ("/a/..", "/"),
            ("/a/.", "/a/"),
            ("/.//x", "//x"),
            ("/..//x", "//x"),
            ("/%2E/%2e%2E/x?q=/../", "/x"),
        ] {
            assert_eq!(normalized_path(raw), want, "{raw}");
        }
    }

    #[test]
    fn placeholders_are_filled_once() {
        let filled = fill("<p a=\"{{a}}\">{{b}}</p>{{c}}{{", &[("a", "{{b}}"), ("b", "x")]);
        assert_eq!(filled, "<p a=\"{{b}}\">x</p>{{c}}{{");
    }

    #[test]
    fn escaping() {
        assert_eq!(html_escape(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }
}
