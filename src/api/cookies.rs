//! The HTTP side of sessions: where a request presents its token (`Authorization: Bearer`, or the
//! session cookie), how the cookie is written and cleared, dynauth's cookies kept from origins,
//! and the device a session is made from.
//!
//! The cookie is `__Host-dynauth` (`Secure; HttpOnly; SameSite=Lax; Path=/`). Plain-http local
//! development cannot carry a `__Host-`/`Secure` cookie, so with `INSECURE_LOCAL_COOKIES=true`,
//! and only for requests over `http://` to `localhost` or `127.0.0.1`, `dynauth_local` is used.
//!
//! A login start gives a browser its login binding ([`crate::domain::login::Binding`]) as
//! `__Host-dynauth-login` (`Secure; HttpOnly; SameSite=Strict; Path=/`, living as long as the
//! code; `dynauth_local_login` in the local mode). The `__Host-` prefix requires `Path=/`, so it
//! is kept to the login routes by dynauth itself: only they read it, and it never reaches an
//! origin.

use super::{Request, Response};
use crate::app::Config;
use crate::domain::sessions::authjs::AuthjsToken;
use crate::domain::sessions::{Device, SessionToken};
use crate::values::host;

/// The session cookie (`Secure`, so only over https).
pub const COOKIE: &str = "__Host-dynauth";
/// The cookie used instead for plain-http local development when `INSECURE_LOCAL_COOKIES` is on.
pub const LOCAL_COOKIE: &str = "dynauth_local";
/// The signed session snapshot of tenants that cache sessions ([`crate::domain::sessions::snapshot`]).
pub const CACHE_COOKIE: &str = "__Host-dynauth-cache";
/// Its plain-http local development twin.
pub const LOCAL_CACHE_COOKIE: &str = "dynauth_local_cache";
/// The login binding of a browser that started a login.
pub const BINDING_COOKIE: &str = "__Host-dynauth-login";
/// Its plain-http local development twin.
pub const LOCAL_BINDING_COOKIE: &str = "dynauth_local_login";

/// A token as a request presents it, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented {
    pub raw: String,
    /// It came in `Authorization` (not a cookie): no CSRF check, and it is not forwarded.
    pub bearer: bool,
}

impl Presented {
    /// The token, when it is one (43 base64url characters of 32 bytes).
    pub fn token(&self) -> Option<SessionToken> {
        SessionToken::parse(&self.raw)
    }
}

/// The token `request` presents: `Authorization: Bearer`, else the session cookie (the local
/// cookie only in [`CookieMode::Local`]).
pub fn presented(request: &Request, mode: CookieMode) -> Option<Presented> {
    let headers = request.headers();
    if let Some(token) = bearer(request) {
        return Some(Presented { raw: token.to_string(), bearer: true });
    }
    let raw = cookie_value(headers, COOKIE)
        .or_else(|| if mode == CookieMode::Local { cookie_value(headers, LOCAL_COOKIE) } else { None })?;
    Some(Presented { raw, bearer: false })
}

/// The Auth.js session token `request` presents to a tenant of `store`: `Authorization: Bearer`,
/// else the first of the store's cookies it carries.
pub fn authjs_presented(
    request: &Request,
    store: &crate::domain::tenants::AuthjsStore,
) -> Option<(Presented, AuthjsToken)> {
    let presented = match bearer(request) {
        Some(token) => Presented { raw: token.to_string(), bearer: true },
        None => {
            let raw = store.cookies.iter().find_map(|name| cookie_value(request.headers(), name))?;
            Presented { raw, bearer: false }
        }
    };
    let token = AuthjsToken::parse(&presented.raw)?;
    Some((presented, token))
}

#[cfg(cold)]
/// Clears the session cookie and, when the browser has one, its snapshot (which goes with its
/// session, at once).
pub fn clear_session(request: &Request, mode: CookieMode, response: &mut Response) {
    set_cookie(response, &mode.clear());
    if cookie_value(request.headers(), mode.cache_name()).is_some() {
        set_cookie(response, &mode.set_cache("", 0));
    }
}

#[cfg(cold)]
/// Clears the Auth.js cookies of `store` the request carried, and the snapshot.
pub fn clear_authjs(
    request: &Request,
    store: &crate::domain::tenants::AuthjsStore,
    mode: CookieMode,
    response: &mut Response,
) {
    for name in &store.cookies {
        if cookie_value(request.headers(), name).is_some() {
            set_cookie(response, &clear_named(name));
        }
    }
    if cookie_value(request.headers(), mode.cache_name()).is_some() {
        set_cookie(response, &mode.set_cache("", 0));
    }
}

/// `Set-Cookie` that clears cookie `name` (an Auth.js one: `Path=/`, and `Secure` for the
/// `__Secure-` and `__Host-` names, which browsers require).
pub fn clear_named(name: &str) -> String {
    let secure = if name.starts_with("__Secure-") || name.starts_with("__Host-") { "; Secure" } else { "" };
    format!("{name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}")
}

/// The credentials of `Authorization: Bearer <token>`, trimmed; the scheme's case does not
/// matter (RFC 9110: `bearer x` and `BEARER x` are the same).
pub fn bearer(request: &Request) -> Option<&str> {
    bearer_credentials(request.headers().get(http::header::AUTHORIZATION)?.to_str().ok()?)
}

/// The credentials of an `Authorization` value of the Bearer scheme.
fn bearer_credentials(value: &str) -> Option<&str> {
    let (scheme, credentials) = value.trim_start().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| credentials.trim())
}

/// Whether an `Authorization` value is a bearer token in dynauth's format (32 bytes, base64url):
/// the gateway never forwards one, live or not, this tenant's or another's.
pub fn is_dynauth_bearer(value: &http::HeaderValue) -> bool {
    value.to_str().ok().and_then(bearer_credentials).and_then(SessionToken::parse).is_some()
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie_value(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
}

/// `Cookie` header values without dynauth's own cookies (so the origin never sees a token).
pub fn strip_session_cookies(value: &str) -> String {
    value
        .split(';')
        .map(str::trim)
        .filter(|pair| {
            let name = pair.split('=').next().unwrap_or("");
            ![COOKIE, LOCAL_COOKIE, CACHE_COOKIE, LOCAL_CACHE_COOKIE, BINDING_COOKIE, LOCAL_BINDING_COOKIE]
                .contains(&name)
                && !pair.is_empty()
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// How session cookies are written for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieMode {
    /// `__Host-dynauth=..; Path=/; Secure; HttpOnly; SameSite=Lax`.
    Secure,
    /// `dynauth_local=..; Path=/; HttpOnly; SameSite=Lax`: plain-http local development only.
    Local,
}

impl CookieMode {
    /// `Local` only when `INSECURE_LOCAL_COOKIES` is on and `request` came over plain http to
    /// localhost or 127.0.0.1.
    pub fn of(config: &Config, request: &Request) -> Self {
        let local_host = super::request_host(request)
            .and_then(|h| host::canonical(&h).ok())
            .is_some_and(|h| matches!(h.as_str(), "localhost" | "127.0.0.1"));
        if config.insecure_local_cookies && request.uri().scheme_str() == Some("http") && local_host {
            Self::Local
        } else {
            Self::Secure
        }
    }

    /// `Set-Cookie` for `token`, living `max_age` seconds.
    pub fn set(self, token: &SessionToken, max_age: i64) -> String {
        self.build(token.expose(), max_age.max(0))
    }

    /// `Set-Cookie` that clears the cookie.
    pub fn clear(self) -> String {
        self.build("", 0)
    }

    /// The snapshot cookie's name in this mode.
    pub fn cache_name(self) -> &'static str {
        match self {
            Self::Secure => CACHE_COOKIE,
            Self::Local => LOCAL_CACHE_COOKIE,
        }
    }

    /// `Set-Cookie` for a session snapshot, living `max_age` seconds (0 clears it).
    pub fn set_cache(self, value: &str, max_age: i64) -> String {
        let name = self.cache_name();
        match self {
            Self::Secure => {
                format!("{name}={value}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={}", max_age.max(0))
            }
            Self::Local => format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}", max_age.max(0)),
        }
    }

    /// The login binding cookie's name in this mode.
    pub fn binding_name(self) -> &'static str {
        match self {
            Self::Secure => BINDING_COOKIE,
            Self::Local => LOCAL_BINDING_COOKIE,
        }
    }

    /// The binding the request's cookie presents (in this mode), when it is one.
    pub fn binding(self, request: &Request) -> Option<crate::domain::login::Binding> {
        cookie_value(request.headers(), self.binding_name()).and_then(|v| crate::domain::login::Binding::parse(&v))
    }

    /// `Set-Cookie` for a login binding, living `max_age` seconds (0 clears it).
    pub fn set_binding(self, value: &str, max_age: i64) -> String {
        let name = self.binding_name();
        match self {
            Self::Secure => {
                format!("{name}={value}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={}", max_age.max(0))
            }
            Self::Local => format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}", max_age.max(0)),
        }
    }

    fn build(self, value: &str, max_age: i64) -> String {
        match self {
            Self::Secure => format!("{COOKIE}={value}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={max_age}"),
            Self::Local => format!("{LOCAL_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}"),
        }
    }
}

/// Adds a `Set-Cookie` header.
pub fn set_cookie(response: &mut Response, cookie: &str) {
    if let Ok(v) = http::HeaderValue::from_str(cookie) {
        response.headers_mut().append(http::header::SET_COOKIE, v);
    }
}

/// Where a request comes from: its `User-Agent` and `CF-Connecting-IP` (each cut to 256
/// characters).
pub fn device(request: &Request) -> Device {
    let get = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(256).collect::<String>())
            .filter(|v| !v.is_empty())
    };
    Device { user_agent: get("user-agent"), ip: get("cf-connecting-ip") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fakes::ManualRuntime;

    fn request(headers: &[(&str, &str)]) -> Request {
        let mut b = http::Request::builder().uri("https://auth.acme.test/v1/session").header("host", "auth.acme.test");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(Vec::new()).unwrap_or_default()
    }

    #[test]
    fn cookies() {
        let rt = ManualRuntime::new(0, 1);
        let token = SessionToken::generate(&rt);
        assert_eq!(
            CookieMode::Secure.set(&token, 3600),
            format!("__Host-dynauth={}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=3600", token.expose())
        );
        assert_eq!(CookieMode::Secure.clear(), "__Host-dynauth=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0");
        assert_eq!(CookieMode::Local.clear(), "dynauth_local=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");

        let cookie = request(&[("cookie", "a=1; __Host-dynauth=tok; b=2")]);
        assert_eq!(presented(&cookie, CookieMode::Secure), Some(Presented { raw: "tok".into(), bearer: false }));
        let local = request(&[("cookie", "dynauth_local=loc")]);
        assert_eq!(presented(&local, CookieMode::Secure), None, "the local cookie only counts when allowed");
        assert_eq!(presented(&local, CookieMode::Local), Some(Presented { raw: "loc".into(), bearer: false }));
        for scheme in ["bearer", "BEARER", "BeArEr"] {
            let r = request(&[("authorization", &format!("{scheme}  tok "))]);
            assert_eq!(presented(&r, CookieMode::Secure), Some(Presented { raw: "tok".into(), bearer: true }));
        }
        for other in ["Basic tok", "Bearertok", "Bearer"] {
            assert_eq!(bearer(&request(&[("authorization", other)])), None, "{other}");
        }
        let both = request(&[("cookie", "__Host-dynauth=tok"), ("authorization", "Bearer bear")]);
        assert_eq!(presented(&both, CookieMode::Secure), Some(Presented { raw: "bear".into(), bearer: true }));
        assert_eq!(strip_session_cookies("a=1; __Host-dynauth=tok; dynauth_local=x; b=2"), "a=1; b=2");
        assert_eq!(strip_session_cookies("__Host-dynauth=tok"), "");
        let value = |v: &str| http::HeaderValue::from_str(v).expect("the test's own input");
        assert!(is_dynauth_bearer(&value(&format!("bearer {}", token.expose()))));
        for theirs in ["Bearer eyJhbGciOiJFZERTQSJ9.e30.sig", "Basic dXNlcjpwYXNz", "Bearer short", "Bearer"] {
            assert!(!is_dynauth_bearer(&value(theirs)), "{theirs}");
        }
        assert_eq!(strip_session_cookies("a=1; __Host-dynauth-login=b; dynauth_local_login=c"), "a=1");
        assert_eq!(
            CookieMode::Secure.set_binding("bind", 600),
            "__Host-dynauth-login=bind; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=600"
        );
        assert_eq!(
            CookieMode::Local.set_binding("", 0),
            "dynauth_local_login=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
        );
        let binding = crate::domain::login::Binding::generate(&rt);
        let with = request(&[("cookie", &format!("x=1; __Host-dynauth-login={}", binding.expose()))]);
        assert_eq!(CookieMode::Secure.binding(&with), Some(binding));
        assert_eq!(CookieMode::Local.binding(&with), None, "each mode reads its own cookie");
        assert_eq!(CookieMode::Secure.binding(&request(&[("cookie", "__Host-dynauth-login=junk")])), None);
    }

    #[test]
    fn devices() {
        let long = "x".repeat(300);
        let d = device(&request(&[("user-agent", &long), ("cf-connecting-ip", "203.0.113.9")]));
        assert_eq!(d.user_agent.map(|u| u.len()), Some(256));
        assert_eq!(d.ip.as_deref(), Some("203.0.113.9"));
        assert_eq!(device(&request(&[])), Device::default());
    }
}
