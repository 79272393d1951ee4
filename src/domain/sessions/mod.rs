//! Sessions: tokens, records, and their use cases (find the caller's: [`find`], through the
//! [`snapshot`], the nearest replica and home; open one, slide its idle expiry, revoke one or all
//! of a user's, list a user's live ones).
//!
//! A token is 32 random bytes, base64url; it is shown to its owner once and never stored. The
//! item is keyed by `h(token)` (unpadded base64url SHA-256), which is also the public session id.
//! A lookup is one consistent GetItem; expiry (absolute and idle), revocation and the tenant's
//! generation are checked on every read, because DynamoDB's TTL deletion lags.

pub mod authjs;
pub mod record;
pub mod snapshot;

pub use record::{Device, NewSession, Session, SessionToken, open, open_with};

use std::time::SystemTime;

use crate::domain::regions::Regions;
use crate::domain::tenants::Tenant;
use crate::dynamo::expr::and;
use crate::dynamo::{DynamoError, Expr, Item, ReturnValues, TransactItem, Write, from_item, n};
use crate::platform::runtime::{Random, epoch_secs, rfc3339_secs};
use crate::table::keys;
use crate::table::store::Store;
use crate::values::ids::{SessionId, TenantId, UserId};

/// A live session and the slide of its idle expiry that is due, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Live {
    pub session: Session,
    pub slide: Option<Slide>,
}

/// An extension of a session's idle expiry, done after the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slide {
    pub tenant: TenantId,
    pub session_id: SessionId,
    pub now: i64,
    pub idle_expires_at: i64,
    pub ttl: i64,
}

/// What happened to a revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    Now,
    Already,
    NoSuchSession,
}

/// The live session `token` opens in `tenant` at `now`, with ONE DynamoDB request (a consistent
/// GetItem at home), and the slide that is due. Unknown, expired, idle-expired, revoked and
/// another tenant's sessions are all `None`.
pub async fn look_up(
    store: &Store<'_>,
    tenant: &Tenant,
    token: &SessionToken,
    now: i64,
) -> Result<Option<Live>, DynamoError> {
    Ok(match look_up_in(store, tenant, token, now, true).await? {
        Lookup::Live(live) => Some(*live),
        Lookup::Dead | Lookup::Unsure => None,
    })
}

/// A session [`find`] found: live, with the slide that is due (none from a snapshot), and
/// whether it came from the snapshot (no DynamoDB read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub session: Session,
    pub slide: Option<Slide>,
    pub from_snapshot: bool,
}

/// The session cookie's snapshot as [`find`] takes it: its raw value and the `TOKEN_SECRET` its
/// MAC is keyed from.
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    pub raw: &'a str,
    pub token_secret: &'a [u8],
}

/// The session lookup, as every route that needs the caller's session makes it. First the signed
/// `snapshot` when the tenant caches sessions and it holds for `token` ([`snapshot::unseal`]);
/// then the nearest replica, unless `current` or the tenant's `strict_revocation` (a replica that
/// fails, or has not seen the session or its last slide, is no answer, and its breaker counts
/// the failure); then home, consistently, before anything says there is no session. `current`
/// also skips the snapshot.
pub async fn find(
    regions: &Regions<'_>,
    tenant: &Tenant,
    token: &SessionToken,
    snapshot: Option<Presented<'_>>,
    now: SystemTime,
    current: bool,
) -> Result<Option<Found>, DynamoError> {
    let secs = epoch_secs(now);
    if let Some(cookie) = snapshot.filter(|_| !current && tenant.session.snapshot_secs() > 0)
        && let Some(session) = snapshot::unseal(cookie.token_secret, tenant, cookie.raw, token, secs)
    {
        return Ok(Some(Found { session, slide: None, from_snapshot: true }));
    }
    let regions = if current || tenant.session.strict_revocation { regions.home_only() } else { *regions };
    let replica = regions.from_replica(now, |near| async move { look_up_in(&near, tenant, token, secs, false).await });
    let live = match replica.await.unwrap_or(Lookup::Unsure) {
        Lookup::Live(live) => Some(*live),
        Lookup::Dead => None,
        // Not in the replica (a session made a moment ago, not yet replicated), or no replica:
        // home, consistently, before anything says 401.
        Lookup::Unsure => look_up(&regions.home, tenant, token, secs).await?,
    };
    Ok(live.map(|Live { session, slide }| Found { session, slide, from_snapshot: false }))
}

/// What one read of a session said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Live(Box<Live>),
    /// Revoked, past its absolute expiry, or of another tenant incarnation: no replica, however
    /// late, can make it live again.
    Dead,
    /// Not there, or idle-expired: a replica may not have the newest write yet (a session just
    /// made, a slide), so home decides.
    Unsure,
}

/// [`look_up`] with ONE GetItem in `store`: consistent (home), or eventually consistent (a
/// replica region, half the read units), telling a final answer from one home must confirm.
pub async fn look_up_in(
    store: &Store<'_>,
    tenant: &Tenant,
    token: &SessionToken,
    now: i64,
    consistent: bool,
) -> Result<Lookup, DynamoError> {
    let Some(session) = store.get::<Session>(&keys::session_by_id(&tenant.id, &token.id()), consistent).await? else {
        return Ok(Lookup::Unsure);
    };
    if session.is_live(tenant, now) {
        let slide = slide_due(&session, tenant, now);
        return Ok(Lookup::Live(Box::new(Live { session, slide })));
    }
    let idle_only = session.revoked_at.is_none() && now < session.expires_at && tenant.holds(&session);
    Ok(if idle_only { Lookup::Unsure } else { Lookup::Dead })
}

/// Opens and stores a session (created on condition that its key is new).
pub async fn mint(
    store: &Store<'_>,
    random: &dyn Random,
    tenant: &Tenant,
    new: NewSession,
    now: i64,
) -> Result<(SessionToken, Session), DynamoError> {
    let (token, session) = open(random, tenant, new, now);
    store.create(store.session_item(&session)?).await?;
    Ok((token, session))
}

/// The write that stores `session`, as a part of a transaction.
pub fn create_part(store: &Store<'_>, session: &Session) -> Result<TransactItem, DynamoError> {
    Ok(store.create_part(store.session_item(session)?))
}

/// The slide due for `session` at `now`, if any: at most once per touch interval (a tenth of the
/// idle lifetime, at least 60 s), never past `expires_at`.
pub fn slide_due(session: &Session, tenant: &Tenant, now: i64) -> Option<Slide> {
    let idle = i64::try_from(tenant.session.idle_lifetime_secs).unwrap_or(i64::MAX);
    let interval = (idle / 10).max(60);
    if now - session.last_seen_at < interval {
        return None;
    }
    let idle_expires_at = now.saturating_add(idle).min(session.expires_at);
    (idle_expires_at > session.idle_expires_at).then(|| Slide {
        tenant: session.tenant.clone(),
        session_id: session.id.clone(),
        now,
        idle_expires_at,
        ttl: idle_expires_at.max(session.expires_at),
    })
}

/// Applies a slide. The condition repeats every check (exists, not revoked, not expired, only
/// forward), so a slide can never revive or extend a dead session. `false` when it no longer
/// applied.
pub async fn apply_slide(store: &Store<'_>, slide: &Slide) -> Result<bool, DynamoError> {
    let mut e = Expr::new();
    let idle = e.name("idle_expires_at");
    let update = format!(
        "SET {idle} = {}, {} = {}, {} = {}",
        e.num(slide.idle_expires_at),
        e.name("last_seen_at"),
        e.num(slide.now),
        e.name(&store.schema.ttl),
        e.num(slide.ttl)
    );
    let now = e.num(slide.now);
    let cond = and(&[
        e.exists(&store.schema.pk),
        e.not_exists("revoked_at"),
        format!("{} > {now}", e.name("expires_at")),
        format!("{idle} > {now}"),
        format!("{idle} < {}", e.num(slide.idle_expires_at)),
    ]);
    let input = store.update(&keys::session_by_id(&slide.tenant, &slide.session_id), update, cond, e);
    match store.db.update_item(input, Write::Idempotent).await {
        Ok(_) => Ok(true),
        Err(DynamoError::ConditionalCheckFailed { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Revokes one session (sets `revoked_at`, on condition that it exists and is not revoked).
pub async fn revoke(
    store: &Store<'_>,
    tenant: &TenantId,
    session_id: &SessionId,
    now: i64,
) -> Result<Revoked, DynamoError> {
    let mut e = Expr::new();
    let update = format!("SET {} = {}", e.name("revoked_at"), e.num(now));
    let cond = and(&[e.exists(&store.schema.pk), e.not_exists("revoked_at")]);
    let mut input = store.update(&keys::session_by_id(tenant, session_id), update, cond, e);
    input.return_values_on_condition_check_failure = Some(ReturnValues::AllOld);
    // After a lost answer, a retry that finds `revoked_at` set to this very time recognises the
    // earlier attempt as its own, so revoke-all counts it once.
    let ours = n(now);
    let recognise = move |old: Option<&Item>| old.and_then(|o| o.get("revoked_at")) == Some(&ours);
    match store.db.update_item(input, Write::Recognise(&recognise)).await {
        Ok(_) => Ok(Revoked::Now),
        Err(DynamoError::ConditionalCheckFailed { item: Some(_), .. }) => Ok(Revoked::Already),
        Err(DynamoError::ConditionalCheckFailed { item: None, .. }) => Ok(Revoked::NoSuchSession),
        Err(e) => Err(e),
    }
}

/// One page of `user`'s live sessions in `tenant`, newest first: up to `limit` sessions and the
/// key to continue from. The index is read until the page is full or the user has no more
/// sessions (at most 25 reads), so filtered-out sessions never leave a page empty.
pub async fn list_live(
    store: &Store<'_>,
    tenant: &Tenant,
    user: &UserId,
    limit: u32,
    start: Option<Item>,
    now: i64,
) -> Result<(Vec<Session>, Option<Item>), DynamoError> {
    let mut q = store.user_sessions_query(tenant, user, now);
    q.exclusive_start_key = start;
    let mut sessions = Vec::new();
    for _ in 0..25 {
        q.limit = Some(limit - u32::try_from(sessions.len()).unwrap_or(limit));
        let page = store.db.query(&q).await?;
        for item in page.items {
            sessions.push(from_item::<Session>(item)?);
        }
        match page.last_evaluated_key {
            Some(key) if sessions.len() < limit as usize => q.exclusive_start_key = Some(key),
            next => return Ok((sessions, next)),
        }
    }
    Ok((sessions, q.exclusive_start_key))
}

/// Revokes every live session of `user` in `tenant`, across all pages; the ones revoked.
pub async fn revoke_all(
    store: &Store<'_>,
    tenant: &Tenant,
    user: &UserId,
    now: i64,
) -> Result<Vec<SessionId>, DynamoError> {
    let mut q = store.user_sessions_query(tenant, user, now);
    q.limit = Some(100);
    let mut revoked = Vec::new();
    loop {
        let page = store.db.query(&q).await?;
        for item in page.items {
            let session = from_item::<Session>(item)?;
            if revoke(store, &session.tenant, &session.id, now).await? == Revoked::Now {
                revoked.push(session.id);
            }
        }
        match page.last_evaluated_key {
            Some(k) => q.exclusive_start_key = Some(k),
            None => return Ok(revoked),
        }
    }
}

impl Store<'_> {
    fn session_item(&self, session: &Session) -> Result<Item, DynamoError> {
        let keys = keys::session(&session.tenant, &session.id, &session.user_id, &rfc3339_secs(session.created_at));
        self.item("session", session, &keys)
    }

    /// GSI1 query of a user's sessions, newest first, filtered to live ones of this tenant
    /// incarnation.
    fn user_sessions_query(&self, tenant: &Tenant, user: &UserId, now: i64) -> crate::dynamo::QueryInput {
        let mut e = Expr::new();
        let key = self.gsi1_key(&keys::user_sessions(&tenant.id, user), &mut e);
        let now = e.value(n(now));
        let filter = and(&[
            e.not_exists("revoked_at"),
            format!("{} > {now}", e.name("expires_at")),
            format!("{} > {now}", e.name("idle_expires_at")),
            tenant.generation_condition(&mut e),
        ]);
        let mut q = self.query_gsi1(key, e, false);
        q.filter_expression = filter;
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fakes::ManualRuntime;

    fn tenant(idle: u64) -> Tenant {
        let mut t = crate::domain::tenants::Tenant::example();
        t.session.idle_lifetime_secs = idle;
        t
    }

    fn session(now: i64, idle: i64, lifetime: i64) -> Session {
        Session {
            id: SessionId::of_token("t"),
            tenant: crate::domain::tenants::Tenant::example().id,
            tenant_generation: "g1".into(),
            user_id: UserId::parse("u1").expect("the test's own input"),
            email: None,
            created_at: now,
            expires_at: now + lifetime,
            idle_expires_at: now + idle,
            last_seen_at: now,
            revoked_at: None,
            device: Device::default(),
            ttl: now + lifetime,
        }
    }

    #[test]
    fn tokens() {
        let rt = ManualRuntime::new(0, 42);
        let t = SessionToken::generate(&rt);
        assert_eq!(t.expose().len(), 43);
        assert_eq!(SessionToken::parse(t.expose()), Some(t.clone()));
        assert_eq!(t.id().as_str().len(), 43);
        assert_ne!(t.id().as_str(), t.expose());
        assert!(!format!("{t:?}").contains(t.expose()));
        let not_base64 = format!("{}!", &t.expose()[..42]);
        for bad in ["", "short", &"a".repeat(44), &not_base64, "a b"] {
            assert_eq!(SessionToken::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn liveness() {
        let t = tenant(7 * 86_400);
        let s = session(1000, 100, 1000);
        assert!(s.is_live(&t, 1000));
        assert!(s.is_live(&t, 1099));
        assert!(!s.is_live(&t, 1100), "idle expiry is exclusive");
        let mut long_idle = session(1000, 5000, 1000);
        long_idle.idle_expires_at = 99_999;
        assert!(!long_idle.is_live(&t, 2000), "absolute expiry");
        let revoked = Session { revoked_at: Some(1001), ..s.clone() };
        assert!(!revoked.is_live(&t, 1002));
        let foreign = Session { tenant_generation: "g0".into(), ..s.clone() };
        assert!(!foreign.is_live(&t, 1001), "an earlier tenant with the same id");
        let other = Session { tenant: TenantId::parse("globex").expect("the test's own input"), ..s };
        assert!(!other.is_live(&t, 1001));
    }

    #[test]
    fn slides_once_per_interval_and_never_past_the_absolute_expiry() {
        let t = tenant(7 * 86_400); // interval 60480 s
        let s = session(0, 7 * 86_400, 30 * 86_400);
        assert_eq!(slide_due(&s, &t, 60_479), None);
        let slide = slide_due(&s, &t, 60_480).unwrap_or_else(|| panic!("due"));
        assert_eq!(slide.idle_expires_at, 60_480 + 7 * 86_400);
        assert_eq!(slide.ttl, 30 * 86_400);
        let near_end = session(0, 7 * 86_400, 8 * 86_400);
        let slide = slide_due(&near_end, &t, 7 * 86_400 - 1).unwrap_or_else(|| panic!("due"));
        assert_eq!(slide.idle_expires_at, 8 * 86_400, "capped at expires_at");
        let short = tenant(300); // a tenth is 30 s: the interval is at least 60 s
        let s = session(0, 300, 3600);
        assert_eq!(slide_due(&s, &short, 59), None);
        assert!(slide_due(&s, &short, 60).is_some());
    }

    #[test]
    fn opening_sets_both_expiries() {
        let rt = ManualRuntime::new(0, 9);
        let t = tenant(3600);
        let new = NewSession {
            user_id: UserId::parse("u1").expect("the test's own input"),
            email: None,
            lifetime_secs: Some(1800),
            device: Device::default(),
        };
        let (token, s) = open(&rt, &t, new, 1000);
        assert_eq!(s.id, token.id());
        assert_eq!((s.created_at, s.expires_at, s.idle_expires_at, s.ttl), (1000, 2800, 2800, 2800));
    }
}
