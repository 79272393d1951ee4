//! Which tenant a request belongs to: canonical Host -> in-isolate cache -> one DynamoDB GetItem
//! (the domain item carries its tenant's record). Unknown, `pending` and `disabled` hosts resolve
//! to nothing (cached briefly, as negative entries); `DEFAULT_TENANT`, when configured, serves
//! hosts with no claim at all.
//!
//! Single flight: requests that arrive for a host while its resolution is under way wait for that
//! one resolution instead of each reading the table.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime};

use crate::cache::TtlCache;
use crate::dynamo::DynamoError;
use crate::host::Host;
use crate::ids::TenantId;
use crate::jwt::TenantKey;
use crate::store::Store;
use crate::tenants::{self, DomainStatus, Tenant};

/// Cache lifetimes and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    pub positive_ttl: Duration,
    pub negative_ttl: Duration,
    pub max_entries: usize,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self { positive_ttl: Duration::from_secs(60), negative_ttl: Duration::from_secs(5), max_entries: 1000 }
    }
}

type Resolution = Result<Option<Rc<Tenant>>, DynamoError>;

/// How long an isolate keeps a derived JWT key. Nothing about it goes stale (the master key,
/// tenant, generation and version name it); the lifetime only bounds what an idle tenant holds.
const JWT_KEY_TTL: Duration = Duration::from_secs(3600);

/// Consecutive failures (errors, or no answer within the replica budget) after which a replica
/// region is skipped for the next nearest (or home).
pub const BREAKER_FAILURES: u32 = 3;
/// How long a tripped replica is skipped before one request tries it again (half-open): a success
/// closes the breaker, a failure opens it for another cooldown.
pub const BREAKER_COOLDOWN: Duration = Duration::from_secs(30);

/// A replica region's circuit breaker.
#[derive(Debug, Default, Clone, Copy)]
struct Breaker {
    failures: u32,
    open_until: Option<SystemTime>,
}

/// A derived JWT key's name: a fingerprint of the master key, the tenant, its generation, the
/// key version.
type JwtKeyName = (String, TenantId, String, String);

/// The per-isolate caches: host -> tenant (or nothing), and tenant id -> tenant; the resolutions
/// under way; and the tenants' derived JWT keys (deriving one costs an Ed25519 base-point
/// multiplication).
#[derive(Debug)]
pub struct Caches {
    settings: CacheSettings,
    hosts: TtlCache<Host, Option<Rc<Tenant>>>,
    tenants: TtlCache<TenantId, Rc<Tenant>>,
    in_flight: RefCell<HashMap<Host, Rc<Flight>>>,
    jwt_keys: TtlCache<JwtKeyName, Rc<TenantKey>>,
    /// Per replica region (at most 8: a list, not a map).
    breakers: RefCell<Vec<(String, Breaker)>>,
}

impl Caches {
    pub fn new(settings: CacheSettings) -> Self {
        Self {
            settings,
            hosts: TtlCache::new(settings.max_entries),
            tenants: TtlCache::new(settings.max_entries),
            in_flight: RefCell::new(HashMap::new()),
            jwt_keys: TtlCache::new(settings.max_entries),
            breakers: RefCell::new(Vec::new()),
        }
    }

    /// Whether reads may go to replica `region` now: its breaker is closed, or its cooldown is
    /// over (the next read probes it).
    pub fn region_usable(&self, region: &str, now: SystemTime) -> bool {
        let breakers = self.breakers.borrow();
        let open_until = breakers.iter().find(|(r, _)| r == region).and_then(|(_, b)| b.open_until);
        open_until.is_none_or(|until| now >= until)
    }

    /// Records how a read of replica `region` went: a success closes its breaker; the
    /// [`BREAKER_FAILURES`]th failure in a row (and any failure of a probe) opens it for
    /// [`BREAKER_COOLDOWN`].
    pub fn region_answered(&self, region: &str, ok: bool, now: SystemTime) {
        let mut breakers = self.breakers.borrow_mut();
        let at = breakers.iter().position(|(r, _)| r == region);
        match (ok, at) {
            (true, Some(i)) => {
                breakers.swap_remove(i);
            }
            (true, None) => {}
            (false, at) => {
                let i = at.unwrap_or_else(|| {
                    breakers.push((region.to_string(), Breaker::default()));
                    breakers.len() - 1
                });
                let breaker = &mut breakers[i].1;
                breaker.failures += 1;
                if breaker.failures >= BREAKER_FAILURES {
                    breaker.open_until = Some(now + BREAKER_COOLDOWN);
                }
            }
        }
    }

    /// The tenant's JWT keys under `master` (`JWT_MASTER_KEY`), newest (the signing one) first,
    /// each derived once per isolate.
    pub fn jwt_keys(&self, master: &[u8], tenant: &Tenant, now: SystemTime) -> Vec<Rc<TenantKey>> {
        let fingerprint = crate::crypto::hash_b64(master);
        tenant
            .jwt_versions()
            .into_iter()
            .map(|version| {
                let name = (fingerprint.clone(), tenant.id.clone(), tenant.generation.clone(), version);
                if let Some(key) = self.jwt_keys.get(&name, now) {
                    return key;
                }
                let key = Rc::new(TenantKey::derive(master, &tenant.id, &tenant.generation, &name.3));
                self.jwt_keys.insert(name, key.clone(), now, now + JWT_KEY_TTL);
                key
            })
            .collect()
    }

    /// Forgets what this isolate knows of tenant `id` (after an admin change to it). Other
    /// isolates see the change when their entries expire.
    pub fn forget_tenant(&self, id: &TenantId) {
        self.tenants.remove(id);
        self.hosts.remove_where(|_, t| t.as_ref().is_some_and(|t| &t.id == id));
    }

    /// Forgets what this isolate knows of `host`.
    pub fn forget_host(&self, host: &Host) {
        self.hosts.remove(host);
    }

    /// The tenant serving `host`, or `None` (unknown, pending or disabled host). With a `near`
    /// replica, the host is read there first; anything but a `ready` domain there (not yet
    /// replicated, or a failing replica) is read again at home before it is believed.
    pub async fn resolve(
        &self,
        store: &Store<'_>,
        near: Option<(&Store<'_>, &str)>,
        host: &Host,
        default_tenant: Option<&TenantId>,
        now: SystemTime,
    ) -> Resolution {
        if let Some(hit) = self.hosts.get(host, now) {
            return Ok(hit);
        }
        self.once(host, async {
            let replicated = match near {
                Some((near, region)) => {
                    let read = tenants::resolve(near, host).await;
                    self.region_answered(region, read.is_ok(), now);
                    read.ok().flatten().filter(|d| d.status == DomainStatus::Ready)
                }
                None => None,
            };
            let domain = match replicated {
                Some(d) => Some(d),
                None => tenants::resolve(store, host).await?,
            };
            let resolved = match domain {
                Some(d) if d.status == DomainStatus::Ready => Some(Rc::new(d.tenant_record)),
                Some(_) => None,
                None => match default_tenant {
                    Some(id) => self.tenant(store, id, now).await?,
                    None => None,
                },
            };
            let ttl = if resolved.is_some() { self.settings.positive_ttl } else { self.settings.negative_ttl };
            if let Some(t) = &resolved {
                self.tenants.insert(t.id.clone(), t.clone(), now, now + ttl);
            }
            self.hosts.insert(host.clone(), resolved.clone(), now, now + ttl);
            Ok(resolved)
        })
        .await
    }

    /// Runs `read`, the resolution of `host`, unless one is under way: then waits for that one.
    async fn once(&self, host: &Host, read: impl Future<Output = Resolution>) -> Resolution {
        let existing = self.in_flight.borrow().get(host).cloned();
        if let Some(flight) = existing {
            return Wait(flight).await;
        }
        let flight = Rc::new(Flight::default());
        self.in_flight.borrow_mut().insert(host.clone(), flight.clone());
        // However the resolution ends (an answer, an error, or this request given up), the
        // waiters hear of it and the flight is gone.
        let landing = Landing { caches: self, host, flight: &flight, result: None };
        landing.land(read.await)
    }

    /// A tenant by id, from the cache or one GetItem (`DEFAULT_TENANT`).
    async fn tenant(&self, store: &Store<'_>, id: &TenantId, now: SystemTime) -> Resolution {
        if let Some(t) = self.tenants.get(id, now) {
            return Ok(Some(t));
        }
        let Some(t) = tenants::get(store, id).await? else {
            return Ok(None);
        };
        let t = Rc::new(t);
        self.tenants.insert(id.clone(), t.clone(), now, now + self.settings.positive_ttl);
        Ok(Some(t))
    }

    /// How many resolutions are under way (for tests).
    pub fn in_flight(&self) -> usize {
        self.in_flight.borrow().len()
    }
}

/// A resolution under way: its result once known, and who waits for it.
#[derive(Debug, Default)]
struct Flight {
    result: RefCell<Option<Resolution>>,
    waiters: RefCell<Vec<Waker>>,
}

/// Ends a flight: publishes the result to the waiters (or, when dropped without one, tells them
/// the resolution was abandoned) and removes it.
struct Landing<'a> {
    caches: &'a Caches,
    host: &'a Host,
    flight: &'a Rc<Flight>,
    result: Option<Resolution>,
}

impl Landing<'_> {
    fn land(mut self, result: Resolution) -> Resolution {
        self.result = Some(result.clone());
        result
    }
}

impl Drop for Landing<'_> {
    fn drop(&mut self) {
        let result = self.result.take().unwrap_or_else(|| {
            Err(DynamoError::Transport { message: "the resolution of this host was abandoned".into() })
        });
        *self.flight.result.borrow_mut() = Some(result);
        self.caches.in_flight.borrow_mut().remove(self.host);
        for waker in self.flight.waiters.borrow_mut().drain(..) {
            waker.wake();
        }
    }
}

/// Waits for a flight's result.
struct Wait(Rc<Flight>);

impl Future for Wait {
    type Output = Resolution;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Resolution> {
        if let Some(result) = self.0.result.borrow().as_ref() {
            return Poll::Ready(result.clone());
        }
        self.0.waiters.borrow_mut().push(cx.waker().clone());
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenants::SecretSeeds;

    #[test]
    fn jwt_keys_are_derived_once_per_isolate_and_named_by_all_they_depend_on() {
        let caches = Caches::new(CacheSettings::default());
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let tenant = crate::testing::tenant();
        let master = b"master-one-0123456789-0123456789";
        let first = caches.jwt_keys(master, &tenant, now);
        let again = caches.jwt_keys(master, &tenant, now);
        assert_eq!((first.len(), Rc::ptr_eq(&first[0], &again[0])), (1, true), "derived once");
        let other_master = caches.jwt_keys(b"master-two-0123456789-0123456789", &tenant, now);
        assert_ne!(other_master[0].kid(), first[0].kid());
        let rotated = Tenant {
            secrets: SecretSeeds { jwt: vec!["2".into(), "1".into()], ..SecretSeeds::default() },
            ..tenant.clone()
        };
        let both = caches.jwt_keys(master, &rotated, now);
        assert_eq!(both.len(), 2);
        assert!(Rc::ptr_eq(&both[1], &first[0]), "version 1 is the same key");
        assert_ne!(both[0].kid(), first[0].kid());
        let reborn = Tenant { generation: "g2".into(), ..tenant.clone() };
        assert_ne!(caches.jwt_keys(master, &reborn, now)[0].kid(), first[0].kid());
        // An hour later it is derived again (the same key).
        let later = caches.jwt_keys(master, &tenant, now + JWT_KEY_TTL);
        assert!(!Rc::ptr_eq(&later[0], &first[0]) && later[0].kid() == first[0].kid());
    }
}
