//! Sessions: tokens, records, and every read and write of them.
//!
//! A token is 32 random bytes, base64url; it is shown to its owner once and never stored. The
//! item is keyed by `h(token)` (unpadded base64url SHA-256), which is also the public session id.
//! A lookup is one consistent GetItem; expiry (absolute and idle), revocation and the tenant's
//! generation are checked on every read, because DynamoDB's TTL deletion lags.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::crypto::{b64url, b64url_decode, hash_b64};
use crate::dynamo::expr::and;
use crate::dynamo::table::Schema;
use crate::dynamo::{
    Client, DynamoError, Expr, GetItemInput, Item, PutItemInput, QueryInput, ReturnValues, UpdateItemInput, Write,
    from_item, n, s, to_typed_item,
};
use crate::input::Invalid;
use crate::keys;
use crate::runtime::{Runtime, Transport, epoch_secs, rfc3339};
use crate::tenants::Tenant;

/// The session cookie (`Secure`, so only over https).
pub const COOKIE: &str = "__Host-dynauth";
/// The cookie used instead for plain-http local development when `INSECURE_LOCAL_COOKIES` is on.
pub const LOCAL_COOKIE: &str = "dynauth_local";

/// A session token. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    /// 32 bytes from the runtime's random source, base64url (43 characters).
    pub fn generate(rt: &impl Runtime) -> Self {
        let mut bytes = [0u8; 32];
        rt.fill_random(&mut bytes);
        Self(b64url(&bytes))
    }

    /// A token as a client presents it; `None` unless it is 43 base64url characters of 32 bytes.
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        (raw.len() == 43 && b64url_decode(raw).is_some_and(|b| b.len() == 32)).then(|| Self(raw.to_string()))
    }

    /// `h(token)`: the session id and the only form that is stored.
    pub fn id(&self) -> String {
        hash_b64(self.0.as_bytes())
    }

    /// The token itself, to hand to its owner (once) or put in a cookie.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(** redacted **)")
    }
}

/// A user id given by an admin (users made by dynauth have random ids of the same alphabet).
pub fn user_id(raw: &str) -> Result<String, Invalid> {
    let ok =
        (1..=128).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:@+|".contains(&b));
    if ok {
        Ok(raw.to_string())
    } else {
        Err(Invalid::field("user_id", "must be 1-128 characters of A-Z a-z 0-9 - _ . : @ + |"))
    }
}

/// Where a session was made from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
}

impl Device {
    /// From the request's `User-Agent` and `CF-Connecting-IP` (each cut to 256 characters).
    pub fn from_headers(headers: &http::HeaderMap) -> Self {
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(256).collect::<String>())
                .filter(|v| !v.is_empty())
        };
        Self { user_agent: get("user-agent"), ip: get("cf-connecting-ip") }
    }
}

/// A session as stored (times in epoch seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub tenant: String,
    pub tenant_generation: String,
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
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
        self.tenant == tenant.id.as_str()
            && self.tenant_generation == tenant.generation
            && self.revoked_at.is_none()
            && now < self.expires_at
            && now < self.idle_expires_at
    }

    /// What `GET /v1/session` shows of it.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "user_id": self.user_id,
            "email": self.email,
            "created_at": rfc3339_secs(self.created_at),
            "expires_at": rfc3339_secs(self.expires_at),
            "idle_expires_at": rfc3339_secs(self.idle_expires_at),
        })
    }

    /// What the admin listing shows of it.
    pub fn to_admin_json(&self) -> Value {
        let mut v = self.to_json();
        if let Some(o) = v.as_object_mut() {
            o.insert("last_seen_at".into(), json!(rfc3339_secs(self.last_seen_at)));
            o.insert("device".into(), json!(self.device));
        }
        v
    }

    /// The user part of a lookup answer.
    pub fn user_json(&self) -> Value {
        json!({ "id": self.user_id, "email": self.email })
    }
}

/// An extension of a session's idle expiry, done after the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slide {
    pub tenant: String,
    pub session_id: String,
    pub now: i64,
    pub idle_expires_at: i64,
    pub ttl: i64,
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

/// What happened to a revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    Now,
    Already,
    NoSuchSession,
}

/// Session storage over one DynamoDB client.
#[derive(Debug)]
pub struct Store<'a, T, R> {
    pub db: &'a Client<T, R>,
    pub schema: &'a Schema,
}

impl<T: Transport, R: Runtime> Store<'_, T, R> {
    /// Creates a session for `user_id` in `tenant`; `lifetime_secs` overrides the tenant's
    /// lifetime. The item is written on condition that it does not exist.
    pub async fn create(
        &self,
        tenant: &Tenant,
        user_id: &str,
        email: Option<&str>,
        lifetime_secs: Option<u64>,
        device: Device,
    ) -> Result<(SessionToken, Session), DynamoError> {
        let (token, session) = self.build(tenant, user_id, email, lifetime_secs, device);
        let input = self.put_input(&session)?;
        self.db.put_new(&self.schema.table, &self.schema.pk, input.item).await?;
        Ok((token, session))
    }

    /// A new session and its token, not yet stored.
    pub fn build(
        &self,
        tenant: &Tenant,
        user_id: &str,
        email: Option<&str>,
        lifetime_secs: Option<u64>,
        device: Device,
    ) -> (SessionToken, Session) {
        let rt = self.db.runtime();
        let now = epoch_secs(rt.now());
        let token = SessionToken::generate(rt);
        let lifetime = i64::try_from(lifetime_secs.unwrap_or(tenant.session.lifetime_secs)).unwrap_or(i64::MAX);
        let idle = i64::try_from(tenant.session.idle_lifetime_secs).unwrap_or(i64::MAX);
        let expires_at = now.saturating_add(lifetime);
        let idle_expires_at = now.saturating_add(idle).min(expires_at);
        let session = Session {
            id: token.id(),
            tenant: tenant.id.to_string(),
            tenant_generation: tenant.generation.clone(),
            user_id: user_id.to_string(),
            email: email.map(str::to_string),
            created_at: now,
            expires_at,
            idle_expires_at,
            last_seen_at: now,
            revoked_at: None,
            device,
            ttl: expires_at.max(idle_expires_at),
        };
        (token, session)
    }

    /// The PutItem that creates `session` (also used inside transactions).
    pub fn put_input(&self, session: &Session) -> Result<PutItemInput, DynamoError> {
        let mut item = to_typed_item("session", session)?;
        keys::session(&session.tenant, &session.id, &session.user_id, &rfc3339_secs(session.created_at))
            .add_to(self.schema, &mut item);
        let mut e = Expr::new();
        let cond = e.not_exists(&self.schema.pk);
        Ok(PutItemInput::new(&self.schema.table, item).condition(cond, e))
    }

    /// The session with id `session_id` in `tenant`, whatever its state: ONE consistent GetItem.
    pub async fn get(&self, tenant: &str, session_id: &str) -> Result<Option<Session>, DynamoError> {
        let get =
            GetItemInput::consistent(&self.schema.table, keys::session_by_id(tenant, session_id).key(self.schema));
        self.db.get::<Session>(&get).await
    }

    /// Applies a slide. The condition repeats every check (exists, not revoked, not expired,
    /// only forward), so a slide can never revive or extend a dead session.
    pub async fn apply_slide(&self, slide: &Slide) -> Result<bool, DynamoError> {
        let mut e = Expr::new();
        let idle = e.name("idle_expires_at");
        let update = format!(
            "SET {idle} = {}, {} = {}, {} = {}",
            e.num(slide.idle_expires_at),
            e.name("last_seen_at"),
            e.num(slide.now),
            e.name(&self.schema.ttl),
            e.num(slide.ttl)
        );
        let now = e.num(slide.now);
        let cond = and(&[
            e.exists(&self.schema.pk),
            e.not_exists("revoked_at"),
            format!("{} > {now}", e.name("expires_at")),
            format!("{idle} > {now}"),
            format!("{idle} < {}", e.num(slide.idle_expires_at)),
        ]);
        let input = UpdateItemInput::new(
            &self.schema.table,
            keys::session_by_id(&slide.tenant, &slide.session_id).key(self.schema),
            update,
            cond,
            e,
        );
        match self.db.update_item(input, Write::Idempotent).await {
            Ok(_) => Ok(true),
            Err(DynamoError::ConditionalCheckFailed { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Revokes one session (sets `revoked_at`, on condition that it exists and is not revoked).
    pub async fn revoke(&self, tenant: &str, session_id: &str, now: i64) -> Result<Revoked, DynamoError> {
        let mut e = Expr::new();
        let update = format!("SET {} = {}", e.name("revoked_at"), e.num(now));
        let cond = and(&[e.exists(&self.schema.pk), e.not_exists("revoked_at")]);
        let mut input = UpdateItemInput::new(
            &self.schema.table,
            keys::session_by_id(tenant, session_id).key(self.schema),
            update,
            cond,
            e,
        );
        input.return_values_on_condition_check_failure = Some(ReturnValues::AllOld);
        // After a lost answer, a retry that finds `revoked_at` set to this very time recognises
        // the earlier attempt as its own, so revoke-all counts it once.
        let ours = n(now);
        let recognise = move |old: Option<&Item>| old.and_then(|o| o.get("revoked_at")) == Some(&ours);
        match self.db.update_item(input, Write::Recognise(&recognise)).await {
            Ok(_) => Ok(Revoked::Now),
            Err(DynamoError::ConditionalCheckFailed { item: Some(_), .. }) => Ok(Revoked::Already),
            Err(DynamoError::ConditionalCheckFailed { item: None, .. }) => Ok(Revoked::NoSuchSession),
            Err(e) => Err(e),
        }
    }

    /// One page of `user_id`'s live sessions in `tenant`, newest first: up to `limit` sessions
    /// and the key to continue from. The index is read until the page is full or the user has
    /// no more sessions (at most 25 reads), so filtered-out sessions never leave a page empty.
    pub async fn list_live(
        &self,
        tenant: &Tenant,
        user_id: &str,
        limit: u32,
        start: Option<Item>,
        now: i64,
    ) -> Result<(Vec<Session>, Option<Item>), DynamoError> {
        let mut q = self.user_query(tenant, user_id, now);
        q.exclusive_start_key = start;
        let mut sessions = Vec::new();
        for _ in 0..25 {
            q.limit = Some(limit - u32::try_from(sessions.len()).unwrap_or(limit));
            let page = self.db.query(&q).await?;
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

    /// Revokes every live session of `user_id` in `tenant`, across all pages; the number revoked.
    pub async fn revoke_all(&self, tenant: &Tenant, user_id: &str, now: i64) -> Result<u32, DynamoError> {
        let mut q = self.user_query(tenant, user_id, now);
        q.limit = Some(100);
        let mut revoked = 0;
        loop {
            let page = self.db.query(&q).await?;
            for item in page.items {
                let session = from_item::<Session>(item)?;
                if self.revoke(&session.tenant, &session.id, now).await? == Revoked::Now {
                    revoked += 1;
                }
            }
            match page.last_evaluated_key {
                Some(k) => q.exclusive_start_key = Some(k),
                None => return Ok(revoked),
            }
        }
    }

    /// GSI1 query of a user's sessions, newest first, filtered to live ones of this tenant
    /// incarnation.
    fn user_query(&self, tenant: &Tenant, user_id: &str, now: i64) -> QueryInput {
        let mut e = Expr::new();
        let key = e.equals(&self.schema.gsi1.pk, s(keys::user_sessions(tenant.id.as_str(), user_id)));
        let now = e.value(n(now));
        let filter = and(&[
            e.not_exists("revoked_at"),
            format!("{} > {now}", e.name("expires_at")),
            format!("{} > {now}", e.name("idle_expires_at")),
            e.equals("tenant_generation", s(&tenant.generation)),
        ]);
        let mut q = QueryInput::new(&self.schema.table, Some(&self.schema.gsi1.name), key, e);
        q.filter_expression = filter;
        q.scan_index_forward = false;
        q
    }
}

/// Epoch seconds as RFC 3339.
pub fn rfc3339_secs(secs: i64) -> String {
    rfc3339(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(secs).unwrap_or(0)))
}

/// The token a request presents: `Authorization: Bearer`, else the session cookie (the local
/// cookie only when `local_cookie` allows it). The second value says whether it came from the
/// Authorization header.
pub fn presented_token(headers: &http::HeaderMap, local_cookie: bool) -> Option<(String, bool)> {
    if let Some(bearer) =
        headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some((bearer.trim().to_string(), true));
    }
    let cookie = cookie_value(headers, COOKIE)
        .or_else(|| if local_cookie { cookie_value(headers, LOCAL_COOKIE) } else { None })?;
    Some((cookie, false))
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
            name != COOKIE && name != LOCAL_COOKIE && !pair.is_empty()
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
    pub fn name(self) -> &'static str {
        match self {
            Self::Secure => COOKIE,
            Self::Local => LOCAL_COOKIE,
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

    fn build(self, value: &str, max_age: i64) -> String {
        match self {
            Self::Secure => format!("{COOKIE}={value}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={max_age}"),
            Self::Local => {
                format!("{LOCAL_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::ManualRuntime;

    fn tenant(idle: u64) -> Tenant {
        let mut t = crate::testing::tenant();
        t.session.idle_lifetime_secs = idle;
        t
    }

    fn session(now: i64, idle: i64, lifetime: i64) -> Session {
        Session {
            id: "h".into(),
            tenant: "acme".into(),
            tenant_generation: "g1".into(),
            user_id: "u1".into(),
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
        assert_eq!(t.id().len(), 43);
        assert_ne!(t.id(), t.expose());
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
        let other = Session { tenant: "globex".into(), ..s };
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
    fn cookies() {
        let rt = ManualRuntime::new(0, 1);
        let token = SessionToken::generate(&rt);
        assert_eq!(
            CookieMode::Secure.set(&token, 3600),
            format!("__Host-dynauth={}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=3600", token.expose())
        );
        assert_eq!(CookieMode::Secure.clear(), "__Host-dynauth=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0");
        assert_eq!(CookieMode::Local.clear(), "dynauth_local=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");

        let mut h = http::HeaderMap::new();
        h.append(http::header::COOKIE, http::HeaderValue::from_static("a=1; __Host-dynauth=tok; b=2"));
        assert_eq!(presented_token(&h, false), Some(("tok".into(), false)));
        let mut local = http::HeaderMap::new();
        local.append(http::header::COOKIE, http::HeaderValue::from_static("dynauth_local=loc"));
        assert_eq!(presented_token(&local, false), None, "the local cookie only counts when allowed");
        assert_eq!(presented_token(&local, true), Some(("loc".into(), false)));
        h.insert(http::header::AUTHORIZATION, http::HeaderValue::from_static("Bearer bear"));
        assert_eq!(presented_token(&h, false), Some(("bear".into(), true)));
        assert_eq!(strip_session_cookies("a=1; __Host-dynauth=tok; dynauth_local=x; b=2"), "a=1; b=2");
        assert_eq!(strip_session_cookies("__Host-dynauth=tok"), "");
    }

    #[test]
    fn user_ids() {
        assert_eq!(user_id("auth0|abc.123@x"), Ok("auth0|abc.123@x".into()));
        assert!(user_id("").is_err());
        assert!(user_id("a b").is_err());
        assert!(user_id(&"a".repeat(129)).is_err());
        assert!(user_id("a#b").is_err(), "no key separators");
    }
}
