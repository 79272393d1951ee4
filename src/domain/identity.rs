//! The signed identity header an origin receives: `x-dynauth-identity: v1; t=<unix>;
//! tenant=<id>; user=<id>; session=<id>; sig=<hex>[; sig=<hex>]`.
//!
//! Each `sig` is the hex HMAC-SHA256, keyed with one of the tenant's origin secrets (UTF-8 bytes),
//! of the canonical string: the lines `v1`, `t`, tenant, user, session, method, host and
//! path+query, joined by `\n`. During a rotation's overlap both secrets sign, newest first; an
//! origin accepts the header when any `sig` matches a secret it holds and `t` is at most 60 s
//! old. Binding method, host and path+query means a captured header cannot be replayed on a
//! request to another method, host or path+query, nor after 60 s. The body is not covered (the
//! gateway streams it to the origin unread): within those 60 s the same request line with another
//! body verifies, when sent straight to the origin (through dynauth, client-sent `x-dynauth-*`
//! headers are dropped). An origin that must bind the body accepts requests only through dynauth.

use crate::domain::tenants::TenantSecret;
use crate::platform::crypto::hmac_hex;

pub const HEADER: &str = "x-dynauth-identity";
/// How old a header an origin should accept, in seconds (docs/sessions.md and the reference verifier
/// say the same).
pub const MAX_AGE_SECS: i64 = 60;

/// What the header asserts about one request.
#[derive(Debug, Clone, Copy)]
pub struct Identity<'a> {
    pub tenant: &'a str,
    pub user: &'a str,
    pub session: &'a str,
    pub method: &'a str,
    pub host: &'a str,
    pub path_and_query: &'a str,
}

impl Identity<'_> {
    /// The string every signature covers.
    pub fn canonical(&self, t: i64) -> String {
        ["v1", &t.to_string(), self.tenant, self.user, self.session, self.method, self.host, self.path_and_query]
            .join("\n")
    }

    /// The header value at `t`, signed with each of `secrets` (newest first).
    pub fn header(&self, t: i64, secrets: &[TenantSecret]) -> String {
        let canonical = self.canonical(t);
        let mut value = format!("v1; t={t}; tenant={}; user={}; session={}", self.tenant, self.user, self.session);
        for secret in secrets {
            value.push_str("; sig=");
            value.push_str(&hmac_hex(secret.expose().as_bytes(), canonical.as_bytes()));
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_signs_the_canonical_string_with_every_secret() {
        let id = Identity {
            tenant: "acme",
            user: "u-1",
            session: "sid",
            method: "GET",
            host: "app.acme.com",
            path_and_query: "/a?b=1",
        };
        assert_eq!(id.canonical(1_700_000_000), "v1\n1700000000\nacme\nu-1\nsid\nGET\napp.acme.com\n/a?b=1");
        let secrets = [TenantSecret::new("new".into()), TenantSecret::new("old".into())];
        let canonical = id.canonical(1_700_000_000);
        assert_eq!(
            id.header(1_700_000_000, &secrets),
            format!(
                "v1; t=1700000000; tenant=acme; user=u-1; session=sid; sig={}; sig={}",
                hmac_hex(b"new", canonical.as_bytes()),
                hmac_hex(b"old", canonical.as_bytes())
            )
        );
    }
}
