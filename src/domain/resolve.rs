//! Which tenant a request belongs to: canonical Host -> in-isolate cache -> one DynamoDB GetItem
//! (the domain item carries its tenant's record). Unknown, `pending` and `disabled` hosts resolve
//! to nothing (cached briefly, as negative entries); `DEFAULT_TENANT`, when configured, serves
//! hosts with no claim at all.
//!
//! Single flight: requests that arrive for a host while its resolution is under way wait for that
//! one resolution instead of each reading the table, but never past the resolving request's
//! deadline: a resolution still under way after it belongs to a request the runtime cancelled
//! (its client went away), and the next request resolves the host itself.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime};

use crate::domain::jwt::Key;
use crate::domain::jwt::MasterKey;
use crate::domain::regions::{Breakers, Regions};
use crate::domain::tenants::{self, DomainStatus, Tenant};
use crate::dynamo::DynamoError;
use crate::platform::cache::TtlCache;
use crate::platform::runtime::Clock;
#[cfg(cold)]
use crate::platform::signature::Alg;
use crate::platform::signature::{Crypto, CryptoError};
use crate::table::store::Store;
use crate::values::host::Host;
use crate::values::ids::TenantId;

/// Cache lifetimes and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    pub positive_ttl: Duration,
    pub negative_ttl: Duration,
    pub max_entries: usize,
    /// How long others wait on a resolution under way (the request deadline: no request
    /// resolving a host is still at it after that, unless the runtime cancelled it).
    pub wait_limit: Duration,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            positive_ttl: Duration::from_secs(60),
            negative_ttl: Duration::from_secs(5),
            max_entries: 1000,
            wait_limit: Duration::from_secs(5),
        }
    }
}

type Resolution = Result<Option<Rc<Tenant>>, DynamoError>;

/// How long an isolate keeps a derived JWT key. Nothing about it goes stale (the master key,
/// tenant, generation and version name it); the lifetime only bounds what an idle tenant holds.
const JWT_KEY_TTL: Duration = Duration::from_secs(3600);

/// A derived JWT key's name: a fingerprint of the master key, the tenant, its generation, the
/// key version.
type JwtKeyName = (String, TenantId, String, String);

/// The name of `tenant`'s key of `version` under `master`.
fn key_name(master: &MasterKey, tenant: &Tenant, version: &str) -> JwtKeyName {
    (master.fingerprint().to_string(), tenant.id.clone(), tenant.generation.clone(), version.to_string())
}

/// The per-isolate caches: host -> tenant (or nothing), and tenant id -> tenant; the resolutions
/// under way; and the tenants' signing keys (deriving an Ed25519 one asks the crypto service for
/// its public half; an RSA or P-256 one is read and opened).
#[derive(Debug)]
pub struct Caches {
    settings: CacheSettings,
    hosts: TtlCache<Host, Option<Rc<Tenant>>>,
    tenants: TtlCache<TenantId, Rc<Tenant>>,
    in_flight: RefCell<HashMap<Host, Rc<Flight>>>,
    jwt_keys: TtlCache<JwtKeyName, Rc<Key>>,
    #[cfg(cold)]
    stored_keys: TtlCache<(JwtKeyName, Alg), Rc<Key>>,
    /// What the JWKS publishes of stored keys this isolate has not opened.
    #[cfg(cold)]
    published: TtlCache<(JwtKeyName, Alg), Rc<crate::domain::jwt::Jwk>>,
    /// The replica regions' circuit breakers.
    pub breakers: Breakers,
}

impl Caches {
    pub fn new(settings: CacheSettings) -> Self {
        Self {
            settings,
            hosts: TtlCache::new(settings.max_entries),
            tenants: TtlCache::new(settings.max_entries),
            in_flight: RefCell::new(HashMap::new()),
            jwt_keys: TtlCache::new(settings.max_entries),
            #[cfg(cold)]
            stored_keys: TtlCache::new(settings.max_entries),
            #[cfg(cold)]
            published: TtlCache::new(settings.max_entries),
            breakers: Breakers::default(),
        }
    }

    /// The tenant's Ed25519 JWT keys under `master` (`JWT_MASTER_KEY`), newest (the signing one)
    /// first, each derived once per isolate.
    pub async fn jwt_keys(
        &self,
        crypto: &dyn Crypto,
        master: &MasterKey,
        tenant: &Tenant,
        now: SystemTime,
    ) -> Result<Vec<Rc<Key>>, CryptoError> {
        let mut keys = Vec::new();
        for version in tenant.jwt_versions() {
            let name = key_name(master, tenant, &version);
            if let Some(key) = self.jwt_keys.get(&name, now) {
                keys.push(key);
                continue;
            }
            let key = Rc::new(Key::derive(crypto, master.expose(), &tenant.id, &tenant.generation, &name.3).await?);
            self.jwt_keys.insert(name, key.clone(), now, now + JWT_KEY_TTL);
            keys.push(key);
        }
        Ok(keys)
    }

    /// The tenant's stored key of `alg` and `version` under `master`, loaded (read, or made) once
    /// per isolate.
    #[cfg(cold)]
    pub async fn stored_key<E>(
        &self,
        master: &MasterKey,
        tenant: &Tenant,
        version: &str,
        alg: Alg,
        now: SystemTime,
        load: impl AsyncFnOnce() -> Result<Key, E>,
    ) -> Result<Rc<Key>, E> {
        let name = (key_name(master, tenant, version), alg);
        if let Some(key) = self.stored_keys.get(&name, now) {
            return Ok(key);
        }
        let key = Rc::new(load().await?);
        self.stored_keys.insert(name, key.clone(), now, now + JWT_KEY_TTL);
        Ok(key)
    }

    /// The public half of the tenant's stored key of `alg` and `version` under `master` as the
    /// JWKS publishes it: from the key this isolate holds, or from what it read of its item
    /// before (`load`, once per isolate: the JWKS is public, and costs no read once warm).
    #[cfg(cold)]
    pub async fn published<E>(
        &self,
        master: &MasterKey,
        tenant: &Tenant,
        version: &str,
        alg: Alg,
        now: SystemTime,
        load: impl AsyncFnOnce() -> Result<crate::domain::jwt::Jwk, E>,
    ) -> Result<Rc<crate::domain::jwt::Jwk>, E> {
        if let Some(key) = self.held_key(master, tenant, version, alg, now) {
            return Ok(Rc::new(key.jwk()));
        }
        let name = (key_name(master, tenant, version), alg);
        if let Some(jwk) = self.published.get(&name, now) {
            return Ok(jwk);
        }
        let jwk = Rc::new(load().await?);
        self.published.insert(name, jwk.clone(), now, now + JWT_KEY_TTL);
        Ok(jwk)
    }

    /// The tenant's stored key of `alg` and `version` under `master`, if this isolate holds it.
    #[cfg(cold)]
    pub fn held_key(
        &self,
        master: &MasterKey,
        tenant: &Tenant,
        version: &str,
        alg: Alg,
        now: SystemTime,
    ) -> Option<Rc<Key>> {
        self.stored_keys.get(&(key_name(master, tenant, version), alg), now)
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

    /// The tenant serving `host`, or `None` (unknown, pending or disabled host). With a nearest
    /// replica, the host is read there first; anything but a `ready` domain there (not yet
    /// replicated, or a failing replica) is read again at home before it is believed. `clock`
    /// tells a wait on another request's resolution when to give up on it.
    pub async fn resolve(
        &self,
        regions: &Regions<'_>,
        host: &Host,
        default_tenant: Option<&TenantId>,
        now: SystemTime,
        clock: &dyn Clock,
    ) -> Resolution {
        if let Some(hit) = self.hosts.get(host, now) {
            return Ok(hit);
        }
        self.once(host, now, clock, async {
            let store = &regions.home;
            let replicated = regions.from_replica(now, |near| async move { tenants::resolve(&near, host).await }).await;
            let replicated = replicated.flatten().filter(|d| d.status == DomainStatus::Ready);
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

    /// Runs `read`, the resolution of `host`, unless one is under way: then waits for that one
    /// (until the [`CacheSettings::wait_limit`] of its start, after which it is taken over).
    async fn once(
        &self,
        host: &Host,
        now: SystemTime,
        clock: &dyn Clock,
        read: impl Future<Output = Resolution>,
    ) -> Resolution {
        let existing = self.in_flight.borrow().get(host).cloned();
        if let Some(flight) = existing
            && let Some(result) = (Wait { flight, clock }).await
        {
            return result;
        }
        let flight = Rc::new(Flight {
            until: now + self.settings.wait_limit,
            result: RefCell::new(None),
            waiters: RefCell::new(Vec::new()),
        });
        // Replaces an abandoned flight, if any (its waiters have given up on it too).
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

/// A resolution under way: until when it is waited for, its result once known, and who waits.
#[derive(Debug)]
struct Flight {
    until: SystemTime,
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
        let mut in_flight = self.caches.in_flight.borrow_mut();
        // Not a flight that took over from this one (when this one was given up for abandoned).
        if in_flight.get(self.host).is_some_and(|f| Rc::ptr_eq(f, self.flight)) {
            in_flight.remove(self.host);
        }
        drop(in_flight);
        for waker in self.flight.waiters.borrow_mut().drain(..) {
            waker.wake();
        }
    }
}

/// Waits for a flight's result: `None` once the flight is past its `until` without one.
struct Wait<'a> {
    flight: Rc<Flight>,
    clock: &'a dyn Clock,
}

impl Future for Wait<'_> {
    type Output = Option<Resolution>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Resolution>> {
        if let Some(result) = self.flight.result.borrow().as_ref() {
            return Poll::Ready(Some(result.clone()));
        }
        if self.clock.now() >= self.flight.until {
            return Poll::Ready(None);
        }
        let mut waiters = self.flight.waiters.borrow_mut();
        if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
            waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tenants::SecretSeeds;
    use crate::platform::native_crypto::NativeCrypto;
    use crate::testing::fakes::ManualRuntime;
    use std::pin::pin;

    struct Nobody;

    impl std::task::Wake for Nobody {
        fn wake(self: std::sync::Arc<Self>) {}
    }

    thread_local! {
        /// One waker for every poll, as a task has.
        static WAKER: Waker = Waker::from(std::sync::Arc::new(Nobody));
    }

    fn poll<F: Future>(future: Pin<&mut F>) -> Poll<F::Output> {
        WAKER.with(|waker| future.poll(&mut Context::from_waker(waker)))
    }

    #[test]
    fn a_resolution_under_way_is_waited_for_until_its_deadline_then_taken_over() {
        let clock = ManualRuntime::new(1_000, 1);
        let caches = Caches::new(CacheSettings::default());
        let Ok(host) = crate::values::host::canonical("app.acme.test") else { panic!("a host") };
        let tenant = Rc::new(crate::domain::tenants::Tenant::example());
        let now = clock.now();
        // The first request's resolution never ends: the runtime cancelled that request, and
        // nothing polls or drops its task.
        let mut owner = Box::pin(caches.once(&host, now, &clock, std::future::pending()));
        assert!(poll(owner.as_mut()).is_pending());
        assert_eq!(caches.in_flight(), 1);
        // The next request waits for it (without reading) while it may still answer...
        let answer = Ok(Some(tenant.clone()));
        let mut waiter = pin!(caches.once(&host, now, &clock, async { answer }));
        assert!(poll(waiter.as_mut()).is_pending());
        clock.advance(Duration::from_millis(4_999));
        assert!(poll(waiter.as_mut()).is_pending());
        // ...and past the first request's deadline resolves the host itself.
        clock.advance(Duration::from_millis(1));
        let Poll::Ready(Ok(Some(resolved))) = poll(waiter.as_mut()) else { panic!("the waiter did not take over") };
        assert!(Rc::ptr_eq(&resolved, &tenant));
        assert_eq!(caches.in_flight(), 0);
        // A flight that took over is not removed by the abandoned one's late end.
        let mut third = Box::pin(caches.once(&host, clock.now(), &clock, std::future::pending()));
        assert!(poll(third.as_mut()).is_pending());
        drop(owner);
        assert_eq!(caches.in_flight(), 1, "the abandoned flight's end leaves the current one");
        drop(third);
        assert_eq!(caches.in_flight(), 0);
    }

    #[test]
    fn a_waiter_polled_again_and_again_registers_its_waker_once() {
        let clock = ManualRuntime::new(1_000, 1);
        let caches = Caches::new(CacheSettings::default());
        let Ok(host) = crate::values::host::canonical("app.acme.test") else { panic!("a host") };
        let mut owner = Box::pin(caches.once(&host, clock.now(), &clock, std::future::pending()));
        assert!(poll(owner.as_mut()).is_pending());
        let mut waiter = pin!(caches.once(&host, clock.now(), &clock, std::future::pending()));
        for _ in 0..50 {
            assert!(poll(waiter.as_mut()).is_pending());
        }
        let Some(flight) = caches.in_flight.borrow().get(&host).cloned() else { panic!("no flight") };
        assert_eq!(flight.waiters.borrow().len(), 1);
    }

    #[test]
    fn jwt_keys_are_derived_once_per_isolate_and_named_by_all_they_depend_on() {
        let caches = Caches::new(CacheSettings::default());
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let tenant = crate::domain::tenants::Tenant::example();
        let master = &MasterKey::new("master-one-0123456789-0123456789");
        let keys = |master: &MasterKey, tenant: &Tenant, now| {
            crate::platform::native::block_on(caches.jwt_keys(&NativeCrypto, master, tenant, now)).expect("keys")
        };
        let first = keys(master, &tenant, now);
        let again = keys(master, &tenant, now);
        assert_eq!((first.len(), Rc::ptr_eq(&first[0], &again[0])), (1, true), "derived once");
        let other_master = keys(&MasterKey::new("master-two-0123456789-0123456789"), &tenant, now);
        assert_ne!(other_master[0].kid(), first[0].kid());
        let rotated = Tenant {
            secrets: SecretSeeds { jwt: vec!["2".into(), "1".into()], ..SecretSeeds::default() },
            ..tenant.clone()
        };
        let both = keys(master, &rotated, now);
        assert_eq!(both.len(), 2);
        assert!(Rc::ptr_eq(&both[1], &first[0]), "version 1 is the same key");
        assert_ne!(both[0].kid(), first[0].kid());
        let reborn = Tenant { generation: "g2".into(), ..tenant.clone() };
        assert_ne!(keys(master, &reborn, now)[0].kid(), first[0].kid());
        // An hour later it is derived again (the same key).
        let later = keys(master, &tenant, now + JWT_KEY_TTL);
        assert!(!Rc::ptr_eq(&later[0], &first[0]) && later[0].kid() == first[0].kid());
    }
}
