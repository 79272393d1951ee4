//! The key formats of the single table: every `PK`/`SK`/`GSI*` value dynauth writes or reads is
//! made here and nowhere else. Attribute *names* come from the configured [`Schema`]; these are
//! the *values*. Every function takes typed identities only, and every tenant-owned key takes a
//! [`TenantId`]: "the tenant is in every key" is a fact the compiler checks.

use crate::dynamo::{Item, s};
use crate::table::schema::Schema;
use crate::values::email::Email;
use crate::values::host::Host;
use crate::values::ids::{ClientId, LoginId, SessionId, TenantId, UserId};

/// The key attributes of one item: the table key, and optionally its two index keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    pub pk: String,
    pub sk: &'static str,
    pub gsi1: Option<(String, String)>,
    pub gsi2: Option<(String, &'static str)>,
}

impl Keys {
    fn new(pk: String, sk: &'static str) -> Self {
        Self { pk, sk, gsi1: None, gsi2: None }
    }

    /// The table key only, as an item (for GetItem, UpdateItem, DeleteItem).
    pub fn key(&self, schema: &Schema) -> Item {
        Item::from([(schema.pk.clone(), s(&self.pk)), (schema.sk.clone(), s(self.sk))])
    }

    /// Adds every key attribute (table and indexes) to `item`.
    pub fn add_to(&self, schema: &Schema, item: &mut Item) {
        item.insert(schema.pk.clone(), s(&self.pk));
        item.insert(schema.sk.clone(), s(self.sk));
        if let Some((pk, sk)) = &self.gsi1 {
            item.insert(schema.gsi1.pk.clone(), s(pk));
            item.insert(schema.gsi1.sk.clone(), s(sk));
        }
        if let Some((pk, sk)) = &self.gsi2 {
            item.insert(schema.gsi2.pk.clone(), s(pk));
            item.insert(schema.gsi2.sk.clone(), s(*sk));
        }
    }
}

/// The GSI1 partition that lists every tenant.
pub const TENANTS: &str = "TENANTS";

/// A tenant: `TENANT#{t}` / `TENANT`, listed under GSI1 `TENANTS`.
pub fn tenant(tenant: &TenantId) -> Keys {
    let mut k = Keys::new(format!("TENANT#{tenant}"), "TENANT");
    k.gsi1 = Some((TENANTS.to_string(), format!("TENANT#{tenant}")));
    k
}

/// A custom domain: `DOMAIN#{host}` / `DOMAIN`, listed per tenant under GSI1 and found by host
/// under GSI2 (the AuthHero adapter's custom-domain index).
pub fn domain(tenant: &TenantId, host: &Host) -> Keys {
    let mut k = domain_by_host(host);
    k.gsi1 = Some((tenant_domains(tenant), format!("DOMAIN#{host}")));
    k.gsi2 = Some((format!("DOMAIN#{host}"), "CUSTOM_DOMAIN"));
    k
}

/// The table key of a domain, for lookups by host (the tenant is not known yet).
pub fn domain_by_host(host: &Host) -> Keys {
    Keys::new(format!("DOMAIN#{host}"), "DOMAIN")
}

/// The GSI1 partition of one tenant's domains.
pub fn tenant_domains(tenant: &TenantId) -> String {
    format!("TENANT#{tenant}#DOMAINS")
}

/// An OpenID Connect client: `TENANT#{t}#CLIENT#{c}` / `CLIENT`, listed per tenant under GSI1.
pub fn client(tenant: &TenantId, client: &ClientId) -> Keys {
    let mut k = Keys::new(format!("TENANT#{tenant}#CLIENT#{client}"), "CLIENT");
    k.gsi1 = Some((tenant_clients(tenant), format!("CLIENT#{client}")));
    k
}

/// The GSI1 partition of one tenant's clients.
pub fn tenant_clients(tenant: &TenantId) -> String {
    format!("TENANT#{tenant}#CLIENTS")
}

/// A session, keyed by `h(token)` only: `TENANT#{t}#SESSION#{h}` / `SESSION`, listed per user
/// under GSI1, in creation order by `{created_at}#{h}`.
pub fn session(tenant: &TenantId, session: &SessionId, user: &UserId, created_at: &str) -> Keys {
    let mut k = session_by_id(tenant, session);
    k.gsi1 = Some((user_sessions(tenant, user), format!("{created_at}#{session}")));
    k
}

/// The table key of a session, for lookups by `h(token)`.
pub fn session_by_id(tenant: &TenantId, session: &SessionId) -> Keys {
    Keys::new(format!("TENANT#{tenant}#SESSION#{session}"), "SESSION")
}

/// The GSI1 partition of one user's sessions.
pub fn user_sessions(tenant: &TenantId, user: &UserId) -> String {
    format!("TENANT#{tenant}#USER#{user}#SESSIONS")
}

/// A user: `TENANT#{t}#USER#{uid}` / `USER`, found by email under GSI1.
pub fn user(tenant: &TenantId, user: &UserId, email: &Email) -> Keys {
    let mut k = user_by_id(tenant, user);
    k.gsi1 = Some((format!("TENANT#{tenant}#EMAIL#{email}"), "USER".to_string()));
    k
}

/// The table key of a user.
pub fn user_by_id(tenant: &TenantId, user: &UserId) -> Keys {
    Keys::new(format!("TENANT#{tenant}#USER#{user}"), "USER")
}

/// The claim that makes an email belong to exactly one user: `TENANT#{t}#EMAIL#{email}` / `EMAIL`.
pub fn email_claim(tenant: &TenantId, email: &Email) -> Keys {
    Keys::new(format!("TENANT#{tenant}#EMAIL#{email}"), "EMAIL")
}

/// A login code: `TENANT#{t}#LOGIN#{login_id}` / `CODE`.
pub fn login(tenant: &TenantId, login: &LoginId) -> Keys {
    Keys::new(format!("TENANT#{tenant}#LOGIN#{login}"), "CODE")
}

/// A tenant's RSA key of one version under one `JWT_MASTER_KEY` (its fingerprint's first
/// characters): `TENANT#{t}#RSA_KEY#{generation}#{fingerprint}#{version}` / `RSA_KEY`.
pub fn rsa_key(tenant: &TenantId, generation: &str, fingerprint: &str, version: &str) -> Keys {
    Keys::new(format!("TENANT#{tenant}#RSA_KEY#{generation}#{fingerprint}#{version}"), "RSA_KEY")
}

/// A tenant's P-256 key of one version under one `JWT_MASTER_KEY`, as [`rsa_key`]:
/// `TENANT#{t}#EC_KEY#{generation}#{fingerprint}#{version}` / `EC_KEY`.
pub fn ec_key(tenant: &TenantId, generation: &str, fingerprint: &str, version: &str) -> Keys {
    Keys::new(format!("TENANT#{tenant}#EC_KEY#{generation}#{fingerprint}#{version}"), "EC_KEY")
}

/// An OpenID Connect authorization code, keyed by its hash: `TENANT#{t}#AUTH_CODE#{h}` / `AUTH_CODE`.
pub fn authorization_code(tenant: &TenantId, code_hash: &str) -> Keys {
    Keys::new(format!("TENANT#{tenant}#AUTH_CODE#{code_hash}"), "AUTH_CODE")
}

/// An authorization request waiting on the login page for a fresh sign-in, keyed by the hash of
/// its id: `TENANT#{t}#PENDING_AUTHZ#{h}` / `PENDING_AUTHZ`.
pub fn pending_authorization(tenant: &TenantId, id_hash: &str) -> Keys {
    Keys::new(format!("TENANT#{tenant}#PENDING_AUTHZ#{id_hash}"), "PENDING_AUTHZ")
}

/// An OpenID Connect grant (what one authorization code started: its refresh tokens, and what its
/// access tokens stand on), keyed by the hash of its secret: `TENANT#{t}#GRANT#{id}` / `GRANT`.
pub fn grant(tenant: &TenantId, grant_id: &str) -> Keys {
    Keys::new(format!("TENANT#{tenant}#GRANT#{grant_id}"), "GRANT")
}

/// A grant as written: listed per session under GSI1 (the clients a session's end is told to,
/// by back-channel logout) and per client under GSI2 (revoked when the client is deleted).
pub fn grant_listed(tenant: &TenantId, grant_id: &str, session: &SessionId, client: &ClientId) -> Keys {
    Keys {
        gsi1: Some((session_grants(tenant, session), format!("GRANT#{grant_id}"))),
        gsi2: Some((client_grants(tenant, client), "GRANT")),
        ..grant(tenant, grant_id)
    }
}

/// The GSI1 partition of one session's grants.
pub fn session_grants(tenant: &TenantId, session: &SessionId) -> String {
    format!("TENANT#{tenant}#SESSION#{session}#GRANTS")
}

/// The GSI2 partition of one client's grants.
pub fn client_grants(tenant: &TenantId, client: &ClientId) -> String {
    format!("TENANT#{tenant}#CLIENT#{client}#GRANTS")
}

/// The key `GET /ready` reads (no item lives there): one eventually consistent GetItem proves the
/// credentials, the table and the network path (half a read unit).
pub fn readiness_probe() -> Keys {
    Keys::new("DYNAUTH#READY".to_string(), "READY")
}

/// The newest login of an email for one client (`scope`: `b.{h(binding)}`, or `a.{address}` for
/// starts that presented no binding): `TENANT#{t}#EMAIL#{email}#LOGIN#{scope}` / `NEWEST`. A new
/// start makes itself the newest of its scopes, so it supersedes only that client's earlier codes.
pub fn newest_login(tenant: &TenantId, email: &Email, scope: &str) -> Keys {
    Keys::new(format!("TENANT#{tenant}#EMAIL#{email}#LOGIN#{scope}"), "NEWEST")
}

/// One window of one abuse budget: `TENANT#{t}#BUDGET#{kind}#{subject}#{window start}` / `BUDGET`.
pub fn budget(tenant: &TenantId, kind: &str, subject: &str, window_start: i64) -> Keys {
    Keys::new(format!("TENANT#{tenant}#BUDGET#{kind}#{subject}#{window_start}"), "BUDGET")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(id: &str) -> TenantId {
        TenantId::parse(id).expect("the test's own input")
    }

    fn host(h: &str) -> Host {
        crate::values::host::canonical(h).expect("the test's own input")
    }

    fn email(e: &str) -> Email {
        Email::parse(e).expect("the test's own input")
    }

    #[test]
    fn key_formats() {
        let schema = Schema::new("t");
        let mut item = Item::default();
        domain(&t("acme"), &host("auth.acme.com")).add_to(&schema, &mut item);
        let get = |k: &str| item.get(k).cloned();
        assert_eq!(get("PK"), Some(s("DOMAIN#auth.acme.com")));
        assert_eq!(get("SK"), Some(s("DOMAIN")));
        assert_eq!(get("GSI1PK"), Some(s("TENANT#acme#DOMAINS")));
        assert_eq!(get("GSI1SK"), Some(s("DOMAIN#auth.acme.com")));
        assert_eq!(get("GSI2PK"), Some(s("DOMAIN#auth.acme.com")));
        assert_eq!(get("GSI2SK"), Some(s("CUSTOM_DOMAIN")));
        assert_eq!(
            domain_by_host(&host("auth.acme.com")).key(&schema),
            domain(&t("x"), &host("auth.acme.com")).key(&schema)
        );

        let k = tenant(&t("acme"));
        assert_eq!((k.pk.as_str(), k.sk), ("TENANT#acme", "TENANT"));
        assert_eq!(k.gsi1, Some(("TENANTS".to_string(), "TENANT#acme".to_string())));
        assert_eq!(k.gsi2, None);
    }

    #[test]
    fn client_keys() {
        let c = client(&t("acme"), &ClientId::parse("web").expect("the test's own input"));
        assert_eq!((c.pk.as_str(), c.sk), ("TENANT#acme#CLIENT#web", "CLIENT"));
        assert_eq!(c.gsi1, Some(("TENANT#acme#CLIENTS".to_string(), "CLIENT#web".to_string())));
        assert_eq!(c.gsi2, None);
    }

    #[test]
    fn session_keys() {
        let id = SessionId::of_token("token");
        let user = UserId::parse("u1").expect("the test's own input");
        let k = session(&t("acme"), &id, &user, "2026-01-01T00:00:00Z");
        assert_eq!((k.pk.as_str(), k.sk), (format!("TENANT#acme#SESSION#{id}").as_str(), "SESSION"));
        assert_eq!(k.gsi1, Some(("TENANT#acme#USER#u1#SESSIONS".to_string(), format!("2026-01-01T00:00:00Z#{id}"))));
        assert_eq!(session_by_id(&t("acme"), &id).key(&Schema::new("t")), k.key(&Schema::new("t")));
    }

    #[test]
    fn user_and_login_keys() {
        let user_id = UserId::parse("u1").expect("the test's own input");
        let u = user(&t("acme"), &user_id, &email("a@b.example"));
        assert_eq!((u.pk.as_str(), u.sk), ("TENANT#acme#USER#u1", "USER"));
        assert_eq!(u.gsi1, Some(("TENANT#acme#EMAIL#a@b.example".to_string(), "USER".to_string())));
        let c = email_claim(&t("acme"), &email("a@b.example"));
        assert_eq!((c.pk.as_str(), c.sk), ("TENANT#acme#EMAIL#a@b.example", "EMAIL"));
        let login_id = LoginId::parse("AAAAAAAAAAAAAAAAAAAAAA").expect("the test's own input");
        let l = login(&t("acme"), &login_id);
        assert_eq!((l.pk.as_str(), l.sk), ("TENANT#acme#LOGIN#AAAAAAAAAAAAAAAAAAAAAA", "CODE"));
        let r = newest_login(&t("acme"), &email("a@b.example"), "b.h4sh");
        assert_eq!((r.pk.as_str(), r.sk), ("TENANT#acme#EMAIL#a@b.example#LOGIN#b.h4sh", "NEWEST"));
        let k = rsa_key(&t("acme"), "g1", "fp", "2");
        assert_eq!((k.pk.as_str(), k.sk), ("TENANT#acme#RSA_KEY#g1#fp#2", "RSA_KEY"));
        let k = authorization_code(&t("acme"), "h4sh");
        assert_eq!((k.pk.as_str(), k.sk), ("TENANT#acme#AUTH_CODE#h4sh", "AUTH_CODE"));
        let k = grant(&t("acme"), "g1d");
        assert_eq!((k.pk.as_str(), k.sk), ("TENANT#acme#GRANT#g1d", "GRANT"));
        let web = ClientId::parse("web").expect("the test's own input");
        let listed = grant_listed(&t("acme"), "g1d", &SessionId::of_token("token"), &web);
        assert_eq!(listed.key(&Schema::new("t")), k.key(&Schema::new("t")));
        let sid = SessionId::of_token("token");
        assert_eq!(listed.gsi1, Some((format!("TENANT#acme#SESSION#{sid}#GRANTS"), "GRANT#g1d".to_string())));
        assert_eq!(listed.gsi2, Some(("TENANT#acme#CLIENT#web#GRANTS".to_string(), "GRANT")));
        let b = budget(&t("acme"), "start_ip", "192.0.2.1", 1_800_000_000);
        assert_eq!((b.pk.as_str(), b.sk), ("TENANT#acme#BUDGET#start_ip#192.0.2.1#1800000000", "BUDGET"));
    }

    #[test]
    fn custom_attribute_names_are_used() {
        let mut schema = Schema::new("t");
        schema.pk = "pk".into();
        schema.gsi1.pk = "ix1pk".into();
        let mut item = Item::default();
        tenant(&t("a")).add_to(&schema, &mut item);
        assert_eq!(item.get("pk"), Some(&s("TENANT#a")));
        assert_eq!(item.get("ix1pk"), Some(&s("TENANTS")));
        assert!(!item.contains_key("PK"));
        assert_eq!(tenant(&t("a")).key(&schema).len(), 2);
    }
}
