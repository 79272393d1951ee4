//! The identities that travel through dynauth: [`TenantId`], [`UserId`], [`SessionId`],
//! [`LoginId`] and [`ClientId`] ([`Email`](crate::values::email::Email) has a module of its own). Each is checked once, where
//! it enters (a path, a body, an item read back), and trusted afterwards: a function that takes a
//! `TenantId` cannot be handed a user id, and the key formats (`keys`) take nothing else.
//!
//! `parse` says what is wrong in words a client can act on; deserializing checks the same rule,
//! so a body field or a stored attribute of one of these types is never taken unchecked.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::platform::crypto::{b64url, b64url_decode, hash_b64};
use crate::platform::runtime::Random;

/// Defines a string newtype: `parse`, `as_str`, `Display`, and serde as a checked string.
macro_rules! identity {
    ($(#[$doc:meta])* $name:ident, $check:expr, $problem:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// What a valid value looks like.
            pub const RULE: &'static str = $problem;

            /// `raw` if it is valid, else [`Self::RULE`].
            pub fn parse(raw: &str) -> Result<Self, &'static str> {
                if Self::valid(raw) { Ok(Self(raw.to_string())) } else { Err(Self::RULE) }
            }

            fn valid(raw: &str) -> bool {
                let check: fn(&str) -> bool = $check;
                check(raw)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(deserializer)?;
                if Self::valid(&raw) { Ok(Self(raw)) } else { Err(serde::de::Error::custom(Self::RULE)) }
            }
        }
    };
}

identity!(
    /// A tenant: `[a-z0-9][a-z0-9-]{0,62}`.
    TenantId,
    |raw| {
        (1..=63).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !raw.starts_with('-')
    },
    "a tenant id is 1-63 characters of a-z, 0-9 and -, not starting with -"
);

identity!(
    /// A user: 1-128 characters of `A-Z a-z 0-9 - _ . : @ + |`. dynauth's own users get 16 random
    /// bytes in base64url; an admin may mint sessions for ids from elsewhere (`auth0|abc`).
    UserId,
    |raw| (1..=128).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:@+|".contains(&b)),
    "must be 1-128 characters of A-Z a-z 0-9 - _ . : @ + |"
);

identity!(
    /// A session: `h(token)`, the unpadded base64url SHA-256 of its token (43 characters). The
    /// public id of a session and the only form of its token that is stored.
    SessionId,
    |raw| raw.len() == 43 && b64url_decode(raw).is_some_and(|b| b.len() == 32),
    "a session id is 43 base64url characters"
);

identity!(
    /// A login (one issued code): 16 random bytes, base64url (22 characters).
    LoginId,
    |raw| raw.len() == 22 && b64url_decode(raw).is_some_and(|b| b.len() == 16),
    "a login id is 22 base64url characters"
);

identity!(
    /// An OpenID Connect client of a tenant: 1-64 characters of `A-Z a-z 0-9 . _ -`, starting with
    /// a letter or digit (chosen by the admin who registers it).
    ClientId,
    |raw| {
        (1..=64).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            && raw.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
    },
    "a client id is 1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit"
);

impl UserId {
    /// A new user id: 16 random bytes, base64url.
    pub fn generate(random: &dyn Random) -> Self {
        Self(b64url(&random.bytes::<16>()))
    }
}

impl SessionId {
    /// The id of the session whose token is `token`.
    pub fn of_token(token: &str) -> Self {
        Self(hash_b64(token.as_bytes()))
    }
}

impl LoginId {
    pub fn generate(random: &dyn Random) -> Self {
        Self(b64url(&random.bytes::<16>()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fakes::ManualRuntime;

    #[test]
    fn tenant_ids() {
        for ok in ["a", "acme", "acme-2", "0", &"a".repeat(63)] {
            assert!(TenantId::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "Acme", "a_b", "a.b", "a b", &"a".repeat(64), "ä", "a#b"] {
            assert_eq!(TenantId::parse(bad), Err(TenantId::RULE), "{bad}");
        }
    }

    #[test]
    fn client_ids() {
        for ok in ["web", "App.2", "a_b-c", &"a".repeat(64), "0"] {
            assert!(ClientId::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", ".a", "a b", "a#b", "a/b", "a|b", &"a".repeat(65), "ä"] {
            assert_eq!(ClientId::parse(bad), Err(ClientId::RULE), "{bad}");
        }
    }

    #[test]
    fn user_ids() {
        assert_eq!(UserId::parse("auth0|abc.123@x").map(|u| u.to_string()), Ok("auth0|abc.123@x".into()));
        for bad in ["", "a b", &"a".repeat(129), "a#b", "a/b"] {
            assert_eq!(UserId::parse(bad), Err(UserId::RULE), "{bad}: no key separators or spaces");
        }
        let rt = ManualRuntime::new(0, 3);
        let made = UserId::generate(&rt);
        assert_eq!(made.as_str().len(), 22);
        assert!(UserId::parse(made.as_str()).is_ok());
    }

    #[test]
    fn session_and_login_ids() {
        let id = SessionId::of_token("token");
        assert_eq!(id.as_str(), hash_b64(b"token"));
        assert_eq!(SessionId::parse(id.as_str()), Ok(id));
        assert!(SessionId::parse("short").is_err());
        assert!(SessionId::parse(&"!".repeat(43)).is_err());
        let rt = ManualRuntime::new(0, 5);
        let login = LoginId::generate(&rt);
        assert_eq!(LoginId::parse(login.as_str()), Ok(login));
        assert!(LoginId::parse("short").is_err());
        assert!(LoginId::parse("!!!!!!!!!!!!!!!!!!!!!!").is_err());
    }

    #[test]
    fn serde_checks_the_rule() {
        assert_eq!(serde_json::from_str::<TenantId>(r#""acme""#).map(|t| t.to_string()).ok(), Some("acme".into()));
        let err = serde_json::from_str::<TenantId>(r#""Acme""#).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.starts_with(TenantId::RULE), "{err}");
        assert_eq!(serde_json::to_string(&TenantId::parse("acme").ok()).ok(), Some(r#""acme""#.into()));
    }
}
