//! Which tenant a request belongs to: canonical Host -> in-isolate cache -> one DynamoDB GetItem
//! (the domain item carries its tenant's record). Unknown, `pending` and `disabled` hosts resolve
//! to nothing (cached briefly, as negative entries); `DEFAULT_TENANT`, when configured, serves
//! hosts with no claim at all.

use std::rc::Rc;
use std::time::{Duration, SystemTime};

use crate::cache::TtlCache;
use crate::dynamo::DynamoError;
use crate::host::Host;
use crate::runtime::{Runtime, Transport};
use crate::tenants::{DomainStatus, Store, Tenant, TenantId};

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

/// The per-isolate caches: host -> tenant (or nothing), and tenant id -> tenant.
#[derive(Debug)]
pub struct Caches {
    settings: CacheSettings,
    hosts: TtlCache<Host, Option<Rc<Tenant>>>,
    tenants: TtlCache<TenantId, Rc<Tenant>>,
}

impl Caches {
    pub fn new(settings: CacheSettings) -> Self {
        Self { settings, hosts: TtlCache::new(settings.max_entries), tenants: TtlCache::new(settings.max_entries) }
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

    /// A tenant by id, from the cache or one GetItem (for routes that name the tenant).
    pub async fn tenant<T: Transport, R: Runtime>(
        &self,
        store: &Store<'_, T, R>,
        id: &TenantId,
        now: SystemTime,
    ) -> Result<Option<Rc<Tenant>>, DynamoError> {
        if let Some(t) = self.tenants.get(id, now) {
            return Ok(Some(t));
        }
        let Some(t) = store.get(id).await? else {
            return Ok(None);
        };
        let t = Rc::new(t);
        self.tenants.insert(id.clone(), t.clone(), now, now + self.settings.positive_ttl);
        Ok(Some(t))
    }

    /// The tenant serving `host`, or `None` (unknown, pending or disabled host).
    pub async fn resolve<T: Transport, R: Runtime>(
        &self,
        store: &Store<'_, T, R>,
        host: &Host,
        default_tenant: Option<&TenantId>,
        now: SystemTime,
    ) -> Result<Option<Rc<Tenant>>, DynamoError> {
        if let Some(hit) = self.hosts.get(host, now) {
            return Ok(hit);
        }
        let resolved = match store.resolve(host.as_str()).await? {
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
    }
}
