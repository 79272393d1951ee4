//! The key formats of the single table: every `PK`/`SK`/`GSI*` value dynauth writes or reads is
//! made here and nowhere else. Attribute *names* come from the configured [`Schema`]; these are
//! the *values*. The tenant id is inside every tenant-owned key, so a lookup can never cross
//! tenants.

use std::collections::HashMap;

use crate::dynamo::table::Schema;
use crate::dynamo::{AttributeValue, Item, s};

/// The key attributes of one item: the table key, and optionally its two index keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    pub pk: String,
    pub sk: String,
    pub gsi1: Option<(String, String)>,
    pub gsi2: Option<(String, String)>,
}

impl Keys {
    fn new(pk: String, sk: &str) -> Self {
        Self { pk, sk: sk.to_string(), gsi1: None, gsi2: None }
    }

    /// The table key only, as an item (for GetItem, UpdateItem, DeleteItem).
    pub fn key(&self, schema: &Schema) -> Item {
        Item::from(HashMap::from([(schema.pk.clone(), s(&self.pk)), (schema.sk.clone(), s(&self.sk))]))
    }

    /// Adds every key attribute (table and indexes) to `item`.
    pub fn add_to(&self, schema: &Schema, item: &mut Item) {
        let mut put = |name: &str, value: &str| {
            item.insert(name.to_string(), AttributeValue::S(value.to_string()));
        };
        put(&schema.pk, &self.pk);
        put(&schema.sk, &self.sk);
        if let Some((pk, sk)) = &self.gsi1 {
            put(&schema.gsi1.pk, pk);
            put(&schema.gsi1.sk, sk);
        }
        if let Some((pk, sk)) = &self.gsi2 {
            put(&schema.gsi2.pk, pk);
            put(&schema.gsi2.sk, sk);
        }
    }
}

/// A tenant: `TENANT#{t}` / `TENANT`, listed under GSI1 `TENANTS`.
pub fn tenant(tenant: &str) -> Keys {
    let mut k = Keys::new(format!("TENANT#{tenant}"), "TENANT");
    k.gsi1 = Some((TENANTS.to_string(), format!("TENANT#{tenant}")));
    k
}

/// The GSI1 partition that lists every tenant.
pub const TENANTS: &str = "TENANTS";

/// A custom domain: `DOMAIN#{host}` / `DOMAIN`, listed per tenant under GSI1 and found by host
/// under GSI2 (the AuthHero adapter's custom-domain index).
pub fn domain(tenant: &str, host: &str) -> Keys {
    let mut k = Keys::new(format!("DOMAIN#{host}"), "DOMAIN");
    k.gsi1 = Some((format!("TENANT#{tenant}#DOMAINS"), format!("DOMAIN#{host}")));
    k.gsi2 = Some((format!("DOMAIN#{host}"), "CUSTOM_DOMAIN".to_string()));
    k
}

/// The table key of a domain, for lookups by host (the tenant is not known yet).
pub fn domain_by_host(host: &str) -> Keys {
    Keys::new(format!("DOMAIN#{host}"), "DOMAIN")
}

/// A session, keyed by `h(token)` only: `TENANT#{t}#SESSION#{h}` / `SESSION`, listed per user
/// under GSI1, newest last by `{created_at}#{h}`.
pub fn session(tenant: &str, session_id: &str, user_id: &str, created_at: &str) -> Keys {
    let mut k = session_by_id(tenant, session_id);
    k.gsi1 = Some((user_sessions(tenant, user_id), format!("{created_at}#{session_id}")));
    k
}

/// The table key of a session, for lookups by `h(token)`.
pub fn session_by_id(tenant: &str, session_id: &str) -> Keys {
    Keys::new(format!("TENANT#{tenant}#SESSION#{session_id}"), "SESSION")
}

/// The GSI1 partition of one user's sessions.
pub fn user_sessions(tenant: &str, user_id: &str) -> String {
    format!("TENANT#{tenant}#USER#{user_id}#SESSIONS")
}

/// A user: `TENANT#{t}#USER#{uid}` / `USER`, found by email under GSI1.
pub fn user(tenant: &str, user_id: &str, email: &str) -> Keys {
    let mut k = user_by_id(tenant, user_id);
    k.gsi1 = Some((format!("TENANT#{tenant}#EMAIL#{email}"), "USER".to_string()));
    k
}

/// The table key of a user.
pub fn user_by_id(tenant: &str, user_id: &str) -> Keys {
    Keys::new(format!("TENANT#{tenant}#USER#{user_id}"), "USER")
}

/// The claim that makes an email belong to exactly one user: `TENANT#{t}#EMAIL#{email}` / `EMAIL`.
pub fn email_claim(tenant: &str, email: &str) -> Keys {
    Keys::new(format!("TENANT#{tenant}#EMAIL#{email}"), "EMAIL")
}

/// A login code: `TENANT#{t}#LOGIN#{login_id}` / `CODE`.
pub fn login(tenant: &str, login_id: &str) -> Keys {
    Keys::new(format!("TENANT#{tenant}#LOGIN#{login_id}"), "CODE")
}

/// The rate-limit record of code issuance for one email: `TENANT#{t}#LOGINRATE#{email}` / `RATE`.
pub fn login_rate(tenant: &str, email: &str) -> Keys {
    Keys::new(format!("TENANT#{tenant}#LOGINRATE#{email}"), "RATE")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_formats() {
        let schema = Schema::new("t");
        let mut item = Item::default();
        domain("acme", "auth.acme.com").add_to(&schema, &mut item);
        let get = |k: &str| item.get(k).cloned();
        assert_eq!(get("PK"), Some(s("DOMAIN#auth.acme.com")));
        assert_eq!(get("SK"), Some(s("DOMAIN")));
        assert_eq!(get("GSI1PK"), Some(s("TENANT#acme#DOMAINS")));
        assert_eq!(get("GSI1SK"), Some(s("DOMAIN#auth.acme.com")));
        assert_eq!(get("GSI2PK"), Some(s("DOMAIN#auth.acme.com")));
        assert_eq!(get("GSI2SK"), Some(s("CUSTOM_DOMAIN")));
        assert_eq!(domain_by_host("auth.acme.com").key(&schema), domain("x", "auth.acme.com").key(&schema));

        let t = tenant("acme");
        assert_eq!((t.pk.as_str(), t.sk.as_str()), ("TENANT#acme", "TENANT"));
        assert_eq!(t.gsi1, Some(("TENANTS".to_string(), "TENANT#acme".to_string())));
        assert_eq!(t.gsi2, None);
    }

    #[test]
    fn session_keys() {
        let k = session("acme", "h1", "u1", "2026-01-01T00:00:00Z");
        assert_eq!((k.pk.as_str(), k.sk.as_str()), ("TENANT#acme#SESSION#h1", "SESSION"));
        assert_eq!(k.gsi1, Some(("TENANT#acme#USER#u1#SESSIONS".to_string(), "2026-01-01T00:00:00Z#h1".to_string())));
        assert_eq!(session_by_id("acme", "h1").key(&Schema::new("t")), k.key(&Schema::new("t")));
    }

    #[test]
    fn user_and_login_keys() {
        let u = user("acme", "u1", "a@b.example");
        assert_eq!((u.pk.as_str(), u.sk.as_str()), ("TENANT#acme#USER#u1", "USER"));
        assert_eq!(u.gsi1, Some(("TENANT#acme#EMAIL#a@b.example".to_string(), "USER".to_string())));
        let c = email_claim("acme", "a@b.example");
        assert_eq!((c.pk.as_str(), c.sk.as_str()), ("TENANT#acme#EMAIL#a@b.example", "EMAIL"));
        let l = login("acme", "L1");
        assert_eq!((l.pk.as_str(), l.sk.as_str()), ("TENANT#acme#LOGIN#L1", "CODE"));
        let r = login_rate("acme", "a@b.example");
        assert_eq!((r.pk.as_str(), r.sk.as_str()), ("TENANT#acme#LOGINRATE#a@b.example", "RATE"));
    }

    #[test]
    fn custom_attribute_names_are_used() {
        let mut schema = Schema::new("t");
        schema.pk = "pk".into();
        schema.gsi1.pk = "ix1pk".into();
        let mut item = Item::default();
        tenant("a").add_to(&schema, &mut item);
        assert_eq!(item.get("pk"), Some(&s("TENANT#a")));
        assert_eq!(item.get("ix1pk"), Some(&s("TENANTS")));
        assert!(item.get("PK").is_none());
        assert_eq!(tenant("a").key(&schema).len(), 2);
    }
}
