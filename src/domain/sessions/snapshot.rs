//! The edge session cache: after a lookup that read DynamoDB, a tenant with `session.cache_secs`
//! above 0 gets a second cookie holding a MAC-protected snapshot of the session (its id, user,
//! email, times, and until when the snapshot holds). A later lookup with a snapshot that is
//! authentic, unexpired, of this tenant incarnation and of the presented token (its session id
//! is h(token)) answers without DynamoDB.
//!
//! The MAC key is HMAC(`TOKEN_SECRET`, tenant, generation): deleting or re-creating the tenant
//! invalidates every snapshot. A snapshot holds at most `cache_secs` and never past the
//! session's absolute or idle expiry, so a revocation elsewhere takes effect within `cache_secs`.

use serde::{Deserialize, Serialize};

use crate::domain::sessions::record::{Device, Session, SessionToken};
use crate::domain::tenants::Tenant;
use crate::platform::crypto::{b64url, b64url_decode, constant_time_eq, hmac_parts};
use crate::values::email::Email;
use crate::values::ids::{SessionId, UserId};

/// The most a tenant may cache a session, in seconds.
pub const MAX_CACHE_SECS: u64 = 300;

/// What the cookie holds (short field names: it travels with every request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Snapshot {
    s: SessionId,
    u: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    e: Option<Email>,
    c: i64,
    x: i64,
    i: i64,
    /// Issued at.
    t: i64,
    /// Valid until (exclusive).
    v: i64,
}

fn key(token_secret: &[u8], tenant: &Tenant) -> [u8; 32] {
    hmac_parts(
        token_secret,
        &[b"dynauth-session-cache-v1", tenant.id.as_str().as_bytes(), tenant.generation.as_bytes()],
    )
}

/// The cookie value for `session` read at `now`, and how many seconds it holds; `None` when the
/// tenant does not cache or the session ends too soon to be worth it.
pub fn seal(token_secret: &[u8], tenant: &Tenant, session: &Session, now: i64) -> Option<(String, i64)> {
    let cache = i64::try_from(tenant.session.snapshot_secs().min(MAX_CACHE_SECS)).unwrap_or(0);
    let until = (now + cache).min(session.expires_at).min(session.idle_expires_at);
    if cache == 0 || until <= now {
        return None;
    }
    let snapshot = Snapshot {
        s: session.id.clone(),
        u: session.user_id.clone(),
        e: session.email.clone(),
        c: session.created_at,
        x: session.expires_at,
        i: session.idle_expires_at,
        t: now,
        v: until,
    };
    let payload = b64url(&serde_json::to_vec(&snapshot).ok()?);
    let mac = b64url(&hmac_parts(&key(token_secret, tenant), &[payload.as_bytes()]));
    Some((format!("{payload}.{mac}"), until - now))
}

/// The session a snapshot cookie vouches for, when it is authentic (this tenant incarnation's
/// key), unexpired at `now`, and of `token`. Anything else is `None`: the caller reads DynamoDB.
pub fn unseal(token_secret: &[u8], tenant: &Tenant, raw: &str, token: &SessionToken, now: i64) -> Option<Session> {
    unseal_id(token_secret, tenant, raw, &token.id(), now)
}

/// The snapshot's contents when it is authentic (this tenant incarnation's key) and of session
/// `id`, however old.
fn authentic(token_secret: &[u8], tenant: &Tenant, raw: &str, id: &SessionId) -> Option<Snapshot> {
    let (payload, mac) = raw.split_once('.')?;
    let expected = b64url(&hmac_parts(&key(token_secret, tenant), &[payload.as_bytes()]));
    if !constant_time_eq(mac.as_bytes(), expected.as_bytes()) {
        return None;
    }
    let snap: Snapshot = serde_json::from_slice(&b64url_decode(payload)?).ok()?;
    (snap.s == *id).then_some(snap)
}

/// The user an authentic snapshot of session `id` names, however old it is: not an answer (it
/// may be long revoked), only where to read the session consistently
/// ([`super::authjs`]).
pub fn vouched_user(token_secret: &[u8], tenant: &Tenant, raw: &str, id: &SessionId) -> Option<UserId> {
    authentic(token_secret, tenant, raw, id).map(|snap| snap.u)
}

/// [`unseal`] for the session whose id is `id`.
pub fn unseal_id(token_secret: &[u8], tenant: &Tenant, raw: &str, id: &SessionId, now: i64) -> Option<Session> {
    let snap = authentic(token_secret, tenant, raw, id)?;
    let holds = now < snap.v && snap.v <= snap.x && snap.v <= snap.i && now >= snap.t;
    if !holds {
        return None;
    }
    Some(Session {
        id: snap.s,
        tenant: tenant.id.clone(),
        tenant_generation: tenant.generation.clone(),
        user_id: snap.u,
        email: snap.e,
        created_at: snap.c,
        expires_at: snap.x,
        idle_expires_at: snap.i,
        last_seen_at: snap.t,
        revoked_at: None,
        device: Device::default(),
        ttl: snap.x,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::sessions::record::{NewSession, open as open_session};
    use crate::domain::tenants::SessionSettings;
    use crate::testing::fakes::ManualRuntime;

    fn cached(secs: u64) -> Tenant {
        let t = crate::domain::tenants::Tenant::example();
        Tenant { session: SessionSettings { cache_secs: secs, ..t.session }, ..t }
    }

    #[test]
    fn a_snapshot_answers_only_for_its_token_tenant_and_time() {
        let rt = ManualRuntime::new(0, 7);
        let tenant = cached(60);
        let new = NewSession {
            user_id: UserId::parse("u-1").expect("the test's own input"),
            email: None,
            lifetime_secs: None,
            device: Device::default(),
        };
        let (token, session) = open_session(&rt, &tenant, new, 1_000);
        let (cookie, max_age) = seal(b"k", &tenant, &session, 1_010).unwrap_or_default();
        assert_eq!(max_age, 60);
        let back = unseal(b"k", &tenant, &cookie, &token, 1_069).unwrap_or_else(|| panic!("valid"));
        assert_eq!(
            (back.id.clone(), back.user_id.clone(), back.expires_at),
            (session.id.clone(), session.user_id.clone(), session.expires_at)
        );
        assert_eq!(unseal(b"k", &tenant, &cookie, &token, 1_070), None, "expired after cache_secs");
        assert_eq!(unseal(b"k", &tenant, &cookie, &token, 1_009), None, "not before it was made");
        let (other, _) = open_session(
            &rt,
            &tenant,
            NewSession {
                email: None,
                lifetime_secs: None,
                device: Device::default(),
                user_id: session.user_id.clone(),
            },
            1_000,
        );
        assert_eq!(unseal(b"k", &tenant, &cookie, &other, 1_020), None, "another token");
        assert_eq!(unseal(b"other-secret", &tenant, &cookie, &token, 1_020), None, "another TOKEN_SECRET");
        let recreated = Tenant { generation: "g2".into(), ..tenant.clone() };
        assert_eq!(unseal(b"k", &recreated, &cookie, &token, 1_020), None, "a re-created tenant");
        let globex = Tenant {
            id: crate::values::ids::TenantId::parse("globex").expect("the test's own input"),
            ..tenant.clone()
        };
        assert_eq!(unseal(b"k", &globex, &cookie, &token, 1_020), None, "another tenant");
        // Tampering with the payload (a longer validity) breaks the MAC.
        let (payload, mac) = cookie.split_once('.').unwrap_or_default();
        let mut snap: Snapshot =
            serde_json::from_slice(&b64url_decode(payload).unwrap_or_default()).expect("the test's own input");
        snap.v += 3_600;
        let forged = format!("{}.{mac}", b64url(&serde_json::to_vec(&snap).unwrap_or_default()));
        assert_eq!(unseal(b"k", &tenant, &forged, &token, 1_020), None, "tampered");
        assert_eq!(unseal(b"k", &tenant, "garbage", &token, 1_020), None);
        // Never past the idle expiry; nothing for a tenant that does not cache.
        let idle_soon = Session { idle_expires_at: 1_030, ..session.clone() };
        assert_eq!(seal(b"k", &tenant, &idle_soon, 1_010).map(|(_, a)| a), Some(20));
        assert_eq!(seal(b"k", &cached(0), &session, 1_010), None);
        let strict =
            Tenant { session: SessionSettings { strict_revocation: true, ..tenant.session }, ..tenant.clone() };
        assert_eq!(seal(b"k", &strict, &session, 1_010), None, "strict_revocation: no snapshot at all");
    }
}
