//! Every route dynauth answers, parsed once from the request's path: the log name, whether it is
//! dynauth's own (its body is read) or the tenant origin's, the methods browsers call it with, and
//! which Worker serves it are all derived from the one [`Route`], never kept in step by hand.

use std::borrow::Cow;

use super::{ApiError, body};

/// A route, from the path's decoded segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Health,
    Ready,
    OpenApi,
    /// `/v1/admin/...`: the admin API, which routes the rest itself.
    Admin,
    DomainVerification,
    Tenant,
    Session,
    SessionToken,
    Jwks,
    Discovery,
    Logout,
    LoginStart,
    LoginVerify,
    LoginPage,
    /// The OpenID Provider's endpoints (`/v1/oauth/...`).
    Authorize,
    OAuthToken,
    UserInfo,
    Revoke,
    Introspect,
    EndSession,
    /// Under `/v1/` or `/login/`, but no route: 404.
    NotFound,
    /// Anything else on a tenant host: forwarded to the tenant's origin (through the gateway).
    Proxy,
}

impl Route {
    /// The route of `path`: 400 `invalid_path` for an invalid percent-encoding.
    pub fn parse(path: &str) -> Result<Self, ApiError> {
        Ok(Self::of(&body::segments(path)?))
    }

    /// The route of decoded path segments.
    pub fn of(segments: &[Cow<'_, str>]) -> Self {
        let segments: Vec<&str> = segments.iter().map(|s| s.as_ref()).collect();
        match segments.as_slice() {
            ["health"] => Self::Health,
            ["ready"] => Self::Ready,
            ["openapi.json"] => Self::OpenApi,
            ["v1", "admin", ..] => Self::Admin,
            [".well-known", "dynauth-domain-verification"] => Self::DomainVerification,
            ["v1", "tenant"] => Self::Tenant,
            ["v1", "session"] => Self::Session,
            ["v1", "session", "token"] => Self::SessionToken,
            [".well-known", "jwks.json"] => Self::Jwks,
            [".well-known", "openid-configuration"] => Self::Discovery,
            ["v1", "logout"] => Self::Logout,
            ["v1", "login", "start"] => Self::LoginStart,
            ["v1", "login", "verify"] => Self::LoginVerify,
            ["login"] => Self::LoginPage,
            ["v1", "oauth", "authorize"] => Self::Authorize,
            ["v1", "oauth", "token"] => Self::OAuthToken,
            ["v1", "oauth", "userinfo"] => Self::UserInfo,
            ["v1", "oauth", "revoke"] => Self::Revoke,
            ["v1", "oauth", "introspect"] => Self::Introspect,
            ["v1", "oauth", "logout"] => Self::EndSession,
            ["v1", ..] | ["login", ..] => Self::NotFound,
            _ => Self::Proxy,
        }
    }

    /// The route's name in the log line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Health => "health",
            Self::Ready => "ready",
            Self::OpenApi => "openapi",
            Self::Admin => "admin",
            Self::DomainVerification => "domain_verification",
            Self::Tenant => "tenant",
            Self::Session => "session",
            Self::SessionToken => "session_token",
            Self::Jwks => "jwks",
            Self::Discovery => "openid_configuration",
            Self::Logout => "logout",
            Self::LoginStart => "login_start",
            Self::LoginVerify => "login_verify",
            Self::LoginPage => "login_page",
            Self::Authorize => "oauth_authorize",
            Self::OAuthToken => "oauth_token",
            Self::UserInfo => "oauth_userinfo",
            Self::Revoke => "oauth_revoke",
            Self::Introspect => "oauth_introspect",
            Self::EndSession => "oauth_logout",
            Self::NotFound => "not_found",
            Self::Proxy => "proxy",
        }
    }

    /// Whether dynauth answers it itself (then a request body is read, within its limit), rather
    /// than forwarding it to the tenant's origin, which gets the body streamed.
    pub fn own(self) -> bool {
        self != Self::Proxy
    }

    /// Whether it is served on a tenant's host (the tenant is resolved from the Host first).
    pub fn on_tenant(self) -> bool {
        matches!(
            self,
            Self::Tenant
                | Self::Session
                | Self::SessionToken
                | Self::Jwks
                | Self::Discovery
                | Self::Logout
                | Self::LoginStart
                | Self::LoginVerify
                | Self::LoginPage
                | Self::Authorize
                | Self::OAuthToken
                | Self::UserInfo
                | Self::Revoke
                | Self::Introspect
                | Self::EndSession
                | Self::Proxy
        )
    }

    /// The methods of a route browsers call (CORS applies to it), `None` for the others.
    pub fn browser_methods(self) -> Option<&'static str> {
        match self {
            Self::Tenant | Self::Session => Some("GET"),
            Self::SessionToken
            | Self::Logout
            | Self::LoginStart
            | Self::LoginVerify
            | Self::OAuthToken
            | Self::Revoke => Some("POST"),
            // Single-page apps call them with `fetch` (oidc-client-ts, openid-client in a browser).
            Self::UserInfo => Some("GET, POST"),
            _ => None,
        }
    }

    /// Whether the edge Worker serves it: what most requests need (host resolution and the
    /// tenant's name, the session lookup, the gateway, health). Every other route (logins, the
    /// login page, JWT minting and the keys, the OpenID Provider, logout, the admin API) is served by
    /// the admin Worker, which the edge hands the request to through the `ADMIN` service binding.
    pub fn hot(self) -> bool {
        matches!(self, Self::Health | Self::Ready | Self::Tenant | Self::Session | Self::NotFound | Self::Proxy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_to_routes_and_their_traits() {
        let route = |p: &str| Route::parse(p).unwrap_or_else(|e| panic!("{p}: {e:?}"));
        for (path, expected) in [
            ("/health", Route::Health),
            ("/ready", Route::Ready),
            ("/openapi.json", Route::OpenApi),
            ("/v1/admin", Route::Admin),
            ("/v1/admin/tenants/acme", Route::Admin),
            ("/.well-known/dynauth-domain-verification", Route::DomainVerification),
            ("/.well-known/jwks.json", Route::Jwks),
            ("/.well-known/openid-configuration", Route::Discovery),
            ("/v1/session", Route::Session),
            ("/v1/session/token", Route::SessionToken),
            ("/v1/login/start", Route::LoginStart),
            ("/v1/lo%67in/verify", Route::LoginVerify),
            ("/login", Route::LoginPage),
            ("/v1/oauth/authorize", Route::Authorize),
            ("/v1/oauth/token", Route::OAuthToken),
            ("/v1/oauth/userinfo", Route::UserInfo),
            ("/v1/oauth/revoke", Route::Revoke),
            ("/v1/oauth/introspect", Route::Introspect),
            ("/v1/oauth/logout", Route::EndSession),
            ("/v1/oauth", Route::NotFound),
            ("/v1", Route::NotFound),
            ("/v1/x", Route::NotFound),
            ("/v1/administrator", Route::NotFound),
            ("/login/x", Route::NotFound),
        ] {
            assert_eq!(route(path), expected, "{path}");
            assert!(route(path).own(), "{path} is dynauth's");
        }
        for theirs in ["/", "/app", "/.well-known/security.txt", "/v10", "/loginx", "/openapi.yaml", "/v1%2Fsession"] {
            assert_eq!(route(theirs), Route::Proxy, "{theirs}");
            assert!(!route(theirs).own() && route(theirs).hot(), "{theirs}");
        }
        assert!(Route::parse("/v1/%zz").is_err(), "an invalid escape");
        // The edge keeps the hot path; the rest goes to the admin Worker.
        let hot: Vec<&str> = [
            Route::Health,
            Route::Ready,
            Route::OpenApi,
            Route::Admin,
            Route::DomainVerification,
            Route::Tenant,
            Route::Session,
            Route::SessionToken,
            Route::Jwks,
            Route::Discovery,
            Route::Logout,
            Route::LoginStart,
            Route::LoginVerify,
            Route::LoginPage,
            Route::Authorize,
            Route::OAuthToken,
            Route::UserInfo,
            Route::Revoke,
            Route::Introspect,
            Route::EndSession,
            Route::NotFound,
            Route::Proxy,
        ]
        .into_iter()
        .filter(|r| r.hot())
        .map(Route::name)
        .collect();
        assert_eq!(hot, ["health", "ready", "tenant", "session", "not_found", "proxy"]);
        assert_eq!(Route::LoginVerify.browser_methods(), Some("POST"));
        assert!(Route::Proxy.on_tenant() && !Route::Admin.on_tenant());
    }
}
