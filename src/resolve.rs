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

/// The per-isolate caches: host -> tenant (or nothing), and tenant id -> tenant; and the
/// resolutions under way.
#[derive(Debug)]
pub struct Caches {
    settings: CacheSettings,
    hosts: TtlCache<Host, Option<Rc<Tenant>>>,
    tenants: TtlCache<TenantId, Rc<Tenant>>,
    in_flight: RefCell<HashMap<Host, Rc<Flight>>>,
}

impl Caches {
    pub fn new(settings: CacheSettings) -> Self {
        Self {
            settings,
            hosts: TtlCache::new(settings.max_entries),
            tenants: TtlCache::new(settings.max_entries),
            in_flight: RefCell::new(HashMap::new()),
        }
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

    /// The tenant serving `host`, or `None` (unknown, pending or disabled host).
    pub async fn resolve(
        &self,
        store: &Store<'_>,
        host: &Host,
        default_tenant: Option<&TenantId>,
        now: SystemTime,
    ) -> Resolution {
        if let Some(hit) = self.hosts.get(host, now) {
            return Ok(hit);
        }
        self.once(host, async {
            let resolved = match tenants::resolve(store, host).await? {
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
