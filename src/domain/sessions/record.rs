//! The session record and its token: what a session is, apart from the ways it is found, opened
//! and ended (the use cases beside it).

use serde::{Deserialize, Serialize};

use crate::domain::tenants::Tenant;
use crate::platform::crypto::{b64url, b64url_decode, hmac_parts};
use crate::platform::runtime::Random;
use crate::values::email::Email;
use crate::values::ids::{SessionId, TenantId, UserId};

crate::values::secret::secret! {
    /// A session token. `Debug` never shows it.
    pub struct SessionToken;
}

impl SessionToken {
    /// 32 random bytes, base64url (43 characters).
    pub fn generate(random: &dyn Random) -> Self {
        Self(random.secret_b64())
    }

    /// A token derived with HMAC-SHA256 under `key` from `parts` (32 bytes, like a random one):
    /// the same inputs give the same token, so a retried verify can hand out the session it
    /// opened. Nothing about it is stored but its hash.
    pub fn derived(key: &[u8], parts: &[&[u8]]) -> Self {
        Self(b64url(&hmac_parts(key, parts)))
    }

    /// A token as a client presents it; `None` unless it is 43 base64url characters of 32 bytes.
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        (raw.len() == 43 && b64url_decode(raw).is_some_and(|b| b.len() == 32)).then(|| Self(raw.to_string()))
    }

    /// `h(token)`: the session id and the only form that is stored.
    pub fn id(&self) -> SessionId {
        SessionId::of_token(&self.0)
    }
}

/// Where a session was made from (the HTTP side reads it from the request).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
}

/// A session as stored (times in epoch seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: SessionId,
    pub tenant: TenantId,
    pub tenant_generation: String,
    pub user_id: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    /// 0 for an Auth.js session ([`authjs`]): its item does not say.
    pub created_at: i64,
    pub expires_at: i64,
    pub idle_expires_at: i64,
    pub last_seen_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
    pub device: Device,
    pub ttl: i64,
}

impl Session {
    /// Live: of this tenant incarnation, not revoked, before both expiries.
    pub fn is_live(&self, tenant: &Tenant, now: i64) -> bool {
        tenant.holds(self) && self.revoked_at.is_none() && now < self.expires_at && now < self.idle_expires_at
    }
}

/// A session to open: for whom, and for how long when not the tenant's lifetime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub user_id: UserId,
    pub email: Option<Email>,
    pub lifetime_secs: Option<u64>,
    pub device: Device,
}

/// A new session and its random token, not yet stored (for a transaction that stores it).
pub fn open(random: &dyn Random, tenant: &Tenant, new: NewSession, now: i64) -> (SessionToken, Session) {
    open_with(SessionToken::generate(random), tenant, new, now)
}

/// A new session for `token` (a random or derived one), not yet stored.
pub fn open_with(token: SessionToken, tenant: &Tenant, new: NewSession, now: i64) -> (SessionToken, Session) {
    let lifetime = i64::try_from(new.lifetime_secs.unwrap_or(tenant.session.lifetime_secs)).unwrap_or(i64::MAX);
    let idle = i64::try_from(tenant.session.idle_lifetime_secs).unwrap_or(i64::MAX);
    let expires_at = now.saturating_add(lifetime);
    let idle_expires_at = now.saturating_add(idle).min(expires_at);
    let session = Session {
        id: token.id(),
        tenant: tenant.id.clone(),
        tenant_generation: tenant.generation.clone(),
        user_id: new.user_id,
        email: new.email,
        created_at: now,
        expires_at,
        idle_expires_at,
        last_seen_at: now,
        revoked_at: None,
        device: new.device,
        ttl: expires_at.max(idle_expires_at),
    };
    (token, session)
}

crate::domain::tenants::of_tenant!(Session);
