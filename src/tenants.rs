//! Tenants and their custom domains: the record, its validation, and every read and write of
//! them in the table.
//!
//! A domain item carries a snapshot of its tenant's record, so resolving a Host is ONE GetItem.
//! The tenant item keeps the map of its domains (host -> status) and a version number; every
//! write that touches a tenant's domains, or its record, is one transaction conditioned on that
//! version, so the snapshots never go stale and no domain ever outlives its tenant.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::dynamo::expr::and;
use crate::dynamo::table::Schema;
use crate::dynamo::{
    Client, DeleteItemInput, DynamoError, Expr, GetItemInput, Item, PutItemInput, QueryInput, TransactItem,
    TransactWriteItemsInput, UpdateItemInput, from_item, n, s, to_item, to_typed_item,
};
use crate::host::{self, Host};
use crate::input::{Fields, Invalid, check_fields};
use crate::keys;
use crate::runtime::{Runtime, Transport};

/// Most custom domains one tenant may claim (a tenant write is one transaction over all of them).
pub const MAX_DOMAINS: usize = 50;
/// How often a write that lost a race is re-read and tried again.
const WRITE_ATTEMPTS: usize = 4;

/// A validated tenant id: `[a-z0-9][a-z0-9-]{0,62}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

impl TenantId {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let ok = (1..=63).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !raw.starts_with('-');
        if ok {
            Ok(Self(raw.to_string()))
        } else {
            Err(Invalid::with_code(
                "invalid_tenant_id",
                "a tenant id is 1-63 characters of a-z, 0-9 and -, not starting with -",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TenantId {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        Self::parse(&value).map_err(|_| format!("invalid tenant id {value:?}"))
    }
}

impl From<TenantId> for String {
    fn from(id: TenantId) -> String {
        id.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Session lifetimes of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSettings {
    pub lifetime_secs: u64,
    pub idle_lifetime_secs: u64,
}

/// Login-code rules of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginCodeSettings {
    pub length: u8,
    pub ttl_secs: u64,
    pub max_attempts: u32,
}

/// What an admin sets on a tenant (everything but the id and the timestamps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantSpec {
    pub name: String,
    pub allowed_origins: Vec<String>,
    pub session: SessionSettings,
    pub login_code: LoginCodeSettings,
    pub origin: Option<String>,
    pub protect: bool,
    pub code_webhook_url: Option<String>,
}

/// A tenant as stored. `generation` is a random id made when the tenant is created and kept when
/// it is replaced: records of a deleted tenant never come back to life under a new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub allowed_origins: Vec<String>,
    pub session: SessionSettings,
    pub login_code: LoginCodeSettings,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    pub protect: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_webhook_url: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub generation: String,
}

impl Tenant {
    /// The record as the admin API shows it.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "allowed_origins": self.allowed_origins,
            "session": self.session,
            "login_code": self.login_code,
            "origin": self.origin,
            "protect": self.protect,
            "code_webhook_url": self.code_webhook_url,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}

const SPEC_FIELDS: &[&str] =
    &["name", "allowed_origins", "session", "login_code", "origin", "protect", "code_webhook_url"];
const DAY: u64 = 86_400;

impl TenantSpec {
    /// Validates a PUT body. Unknown fields (also inside `session` and `login_code`) are refused
    /// naming them; every other problem names its field.
    pub fn from_json(map: &Map<String, Value>) -> Result<Self, Invalid> {
        check_fields(map, SPEC_FIELDS, "")?;
        let f = Fields::new(map, "");
        let name = f.string("name")?.trim().to_string();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(Invalid::field("name", "must be 1-100 characters without control characters"));
        }
        let mut allowed_origins = Vec::new();
        for (i, v) in f.opt_array("allowed_origins")?.into_iter().flatten().enumerate() {
            let field = format!("allowed_origins[{i}]");
            let raw = v.as_str().ok_or_else(|| Invalid::field(&field, "must be a string"))?;
            let origin = host::web_origin(raw).map_err(|e| Invalid::field(&field, e))?;
            if !allowed_origins.contains(&origin) {
                allowed_origins.push(origin);
            }
        }
        if allowed_origins.len() > 50 {
            return Err(Invalid::field("allowed_origins", "may list at most 50 origins"));
        }

        let session = match f.opt_object("session")? {
            None => SessionSettings { lifetime_secs: 30 * DAY, idle_lifetime_secs: 7 * DAY },
            Some(m) => {
                check_fields(m, &["lifetime_secs", "idle_lifetime_secs"], "session.")?;
                let sf = Fields::new(m, "session.");
                let lifetime_secs = sf.opt_int("lifetime_secs", 300, 400 * DAY)?.unwrap_or(30 * DAY);
                let idle_lifetime_secs =
                    sf.opt_int("idle_lifetime_secs", 300, 400 * DAY)?.unwrap_or((7 * DAY).min(lifetime_secs));
                if idle_lifetime_secs > lifetime_secs {
                    return Err(Invalid::field(
                        "session.idle_lifetime_secs",
                        "must not be longer than session.lifetime_secs",
                    ));
                }
                SessionSettings { lifetime_secs, idle_lifetime_secs }
            }
        };
        let login_code = match f.opt_object("login_code")? {
            None => LoginCodeSettings { length: 6, ttl_secs: 600, max_attempts: 5 },
            Some(m) => {
                check_fields(m, &["length", "ttl_secs", "max_attempts"], "login_code.")?;
                let lf = Fields::new(m, "login_code.");
                LoginCodeSettings {
                    length: u8::try_from(lf.opt_int("length", 6, 10)?.unwrap_or(6)).unwrap_or(6),
                    ttl_secs: lf.opt_int("ttl_secs", 60, 3600)?.unwrap_or(600),
                    max_attempts: u32::try_from(lf.opt_int("max_attempts", 1, 20)?.unwrap_or(5)).unwrap_or(5),
                }
            }
        };
        let origin = match f.opt_string("origin")? {
            None => None,
            Some(raw) => Some(host::base_url(raw).map_err(|e| Invalid::field("origin", e))?),
        };
        let protect = f.opt_bool("protect")?.unwrap_or(false);
        let code_webhook_url = match f.opt_string("code_webhook_url")? {
            None => None,
            Some(raw) => Some(host::webhook_url(raw).map_err(|e| Invalid::field("code_webhook_url", e))?),
        };
        Ok(Self { name, allowed_origins, session, login_code, origin, protect, code_webhook_url })
    }
}

/// The status of a custom domain; only `ready` domains route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DomainStatus {
    Ready,
    Pending,
    Disabled,
}

impl DomainStatus {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        match raw {
            "ready" => Ok(Self::Ready),
            "pending" => Ok(Self::Pending),
            "disabled" => Ok(Self::Disabled),
            _ => Err(Invalid::field("status", "must be \"ready\", \"pending\" or \"disabled\"")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::Pending => "pending",
            Self::Disabled => "disabled",
        }
    }
}

/// A custom domain as stored, with the snapshot of its tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Domain {
    pub host: String,
    pub tenant: TenantId,
    pub status: DomainStatus,
    pub created_at: String,
    pub updated_at: String,
    pub tenant_record: Tenant,
}

impl Domain {
    pub fn to_json(&self) -> Value {
        json!({
            "host": self.host,
            "tenant": self.tenant,
            "status": self.status,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}

/// The tenant item: the record plus its domains and the version every tenant write checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TenantItem {
    #[serde(rename = "type")]
    kind: String,
    record: Tenant,
    domains: BTreeMap<String, DomainStatus>,
    version: i64,
}

/// What can go wrong in a tenant or domain operation.
#[derive(Debug, Clone, PartialEq)]
pub enum TenantError {
    NotFound(&'static str),
    /// The host belongs to another tenant.
    HostTaken,
    TooManyDomains,
    /// Concurrent writers kept winning; the caller may retry.
    Contended,
    Db(DynamoError),
}

impl From<DynamoError> for TenantError {
    fn from(e: DynamoError) -> Self {
        Self::Db(e)
    }
}

/// Tenant and domain storage over one DynamoDB client.
#[derive(Debug)]
pub struct Store<'a, T, R> {
    pub db: &'a Client<T, R>,
    pub schema: &'a Schema,
}

impl<T: Transport, R: Runtime> Store<'_, T, R> {
    /// The tenant `id` (consistent read).
    pub async fn get(&self, id: &TenantId) -> Result<Option<Tenant>, DynamoError> {
        Ok(self.get_item(id).await?.map(|t| t.record))
    }

    /// The tenant's domains with their statuses, or `None` when there is no such tenant.
    pub async fn domains(&self, id: &TenantId) -> Result<Option<Vec<Domain>>, DynamoError> {
        let Some(item) = self.get_item(id).await? else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(item.domains.len());
        for host in item.domains.keys() {
            if let Some(d) = self.domain(host).await? {
                out.push(d);
            }
        }
        Ok(Some(out))
    }

    /// Creates or replaces a tenant. Returns the stored record and whether it was created.
    /// A replace keeps `created_at`, `generation` and the domains, and refreshes the tenant
    /// snapshot on every domain in the same transaction.
    pub async fn put(&self, id: &TenantId, spec: TenantSpec, now: &str) -> Result<(Tenant, bool), TenantError> {
        for _ in 0..WRITE_ATTEMPTS {
            let existing = self.get_item(id).await?;
            let (created_at, generation) = match &existing {
                Some(e) => (e.record.created_at.clone(), e.record.generation.clone()),
                None => (now.to_string(), self.db.request_token()),
            };
            let record = Tenant {
                id: id.clone(),
                name: spec.name.clone(),
                allowed_origins: spec.allowed_origins.clone(),
                session: spec.session,
                login_code: spec.login_code,
                origin: spec.origin.clone(),
                protect: spec.protect,
                code_webhook_url: spec.code_webhook_url.clone(),
                created_at,
                updated_at: now.to_string(),
                generation,
            };
            let result = match existing {
                None => self.create(record.clone()).await,
                Some(e) => self.replace(e, record.clone()).await,
            };
            match result {
                Ok(created) => return Ok((record, created)),
                Err(e) if lost_race(&e) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(TenantError::Contended)
    }

    /// Deletes a tenant and releases all its domains in one transaction.
    pub async fn delete(&self, id: &TenantId) -> Result<(), TenantError> {
        for _ in 0..WRITE_ATTEMPTS {
            let Some(existing) = self.get_item(id).await? else {
                return Err(TenantError::NotFound("no tenant with this id"));
            };
            let mut actions = vec![TransactItem::Delete(self.tenant_delete(&existing))];
            for host in existing.domains.keys() {
                actions.push(TransactItem::Delete(self.domain_delete(id, host)));
            }
            match self.transact(actions).await {
                Ok(()) => return Ok(()),
                Err(e) if lost_race(&e) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(TenantError::Contended)
    }

    /// One page of tenants in id order, and the key to continue from.
    pub async fn list(&self, limit: u32, start: Option<Item>) -> Result<(Vec<Tenant>, Option<Item>), DynamoError> {
        let mut e = Expr::new();
        let cond = e.equals(&self.schema.gsi1.pk, s(keys::TENANTS));
        let mut q = QueryInput::new(&self.schema.table, Some(&self.schema.gsi1.name), cond, e);
        q.limit = Some(limit);
        q.exclusive_start_key = start;
        let page = self.db.query(&q).await?;
        let mut tenants = Vec::with_capacity(page.items.len());
        for item in page.items {
            tenants.push(from_item::<TenantItem>(item)?.record);
        }
        Ok((tenants, page.last_evaluated_key))
    }

    /// Claims `host` for tenant `id` with `status` (true when newly claimed), or changes the
    /// status of a host the tenant already has. A host of another tenant is `HostTaken`; two
    /// tenants racing for one host: exactly one wins (the domain is created with a condition).
    pub async fn claim(
        &self,
        id: &TenantId,
        host: &Host,
        status: DomainStatus,
        now: &str,
    ) -> Result<(Domain, bool), TenantError> {
        for _ in 0..WRITE_ATTEMPTS {
            let Some(tenant) = self.get_item(id).await? else {
                return Err(TenantError::NotFound("no tenant with this id"));
            };
            let current = self.domain(host.as_str()).await?;
            let (domain, actions, created) = match current {
                Some(d) if &d.tenant != id => return Err(TenantError::HostTaken),
                Some(d) if d.status == status && tenant.domains.get(host.as_str()) == Some(&status) => {
                    return Ok((d, false));
                }
                Some(d) => {
                    let domain =
                        Domain { status, updated_at: now.to_string(), tenant_record: tenant.record.clone(), ..d };
                    let actions = vec![
                        TransactItem::Put(self.domain_put(&domain, Some(id))?),
                        TransactItem::Update(self.tenant_domains_update(&tenant, host, Some(status))),
                    ];
                    (domain, actions, false)
                }
                None => {
                    if tenant.domains.len() >= MAX_DOMAINS {
                        return Err(TenantError::TooManyDomains);
                    }
                    let domain = Domain {
                        host: host.as_str().to_string(),
                        tenant: id.clone(),
                        status,
                        created_at: now.to_string(),
                        updated_at: now.to_string(),
                        tenant_record: tenant.record.clone(),
                    };
                    let actions = vec![
                        TransactItem::Put(self.domain_put(&domain, None)?),
                        TransactItem::Update(self.tenant_domains_update(&tenant, host, Some(status))),
                    ];
                    (domain, actions, true)
                }
            };
            match self.transact(actions).await {
                Ok(()) => return Ok((domain, created)),
                Err(e) if lost_race(&e) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(TenantError::Contended)
    }

    /// Releases a host the tenant holds.
    pub async fn release(&self, id: &TenantId, host: &Host) -> Result<(), TenantError> {
        for _ in 0..WRITE_ATTEMPTS {
            let Some(tenant) = self.get_item(id).await? else {
                return Err(TenantError::NotFound("no tenant with this id"));
            };
            if !tenant.domains.contains_key(host.as_str()) {
                return Err(TenantError::NotFound("this tenant has not claimed this host"));
            }
            let actions = vec![
                TransactItem::Delete(self.domain_delete(id, host.as_str())),
                TransactItem::Update(self.tenant_domains_update(&tenant, host, None)),
            ];
            match self.transact(actions).await {
                Ok(()) => return Ok(()),
                Err(e) if lost_race(&e) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(TenantError::Contended)
    }

    /// The domain item for `host` with its tenant snapshot: the one read of host resolution.
    /// Eventually consistent: resolution is cached for longer than replication takes anyway.
    pub async fn resolve(&self, host: &str) -> Result<Option<Domain>, DynamoError> {
        let mut get = GetItemInput::consistent(&self.schema.table, keys::domain_by_host(host).key(self.schema));
        get.consistent_read = false;
        self.db.get::<Domain>(&get).await
    }

    async fn domain(&self, host: &str) -> Result<Option<Domain>, DynamoError> {
        let get = GetItemInput::consistent(&self.schema.table, keys::domain_by_host(host).key(self.schema));
        self.db.get::<Domain>(&get).await
    }

    async fn get_item(&self, id: &TenantId) -> Result<Option<TenantItem>, DynamoError> {
        let get = GetItemInput::consistent(&self.schema.table, keys::tenant(id.as_str()).key(self.schema));
        self.db.get::<TenantItem>(&get).await
    }

    async fn create(&self, record: Tenant) -> Result<bool, DynamoError> {
        let id = record.id.clone();
        let item = TenantItem { kind: "tenant".into(), record, domains: BTreeMap::new(), version: 1 };
        let mut attrs = to_item(&item)?;
        keys::tenant(id.as_str()).add_to(self.schema, &mut attrs);
        self.db.put_new(&self.schema.table, &self.schema.pk, attrs).await?;
        Ok(true)
    }

    async fn replace(&self, existing: TenantItem, record: Tenant) -> Result<bool, DynamoError> {
        let id = record.id.clone();
        let item = TenantItem {
            kind: "tenant".into(),
            record: record.clone(),
            domains: existing.domains.clone(),
            version: existing.version + 1,
        };
        let mut attrs = to_item(&item)?;
        keys::tenant(id.as_str()).add_to(self.schema, &mut attrs);
        let mut e = Expr::new();
        let cond = e.equals("version", n(existing.version));
        let mut actions = vec![TransactItem::Put(PutItemInput::new(&self.schema.table, attrs).condition(cond, e))];
        for host in existing.domains.keys() {
            let mut e = Expr::new();
            let update = format!("SET {} = {}", e.name("tenant_record"), e.value(record_value(&record)?));
            let cond = e.equals("tenant", s(id.as_str()));
            actions.push(TransactItem::Update(UpdateItemInput::new(
                &self.schema.table,
                keys::domain_by_host(host).key(self.schema),
                update,
                Some(cond),
                e,
            )));
        }
        self.transact(actions).await?;
        Ok(false)
    }

    fn tenant_delete(&self, existing: &TenantItem) -> DeleteItemInput {
        let mut e = Expr::new();
        let cond = e.equals("version", n(existing.version));
        DeleteItemInput::new(&self.schema.table, keys::tenant(existing.record.id.as_str()).key(self.schema))
            .condition(cond, e)
    }

    fn domain_delete(&self, id: &TenantId, host: &str) -> DeleteItemInput {
        let mut e = Expr::new();
        let cond = e.equals("tenant", s(id.as_str()));
        DeleteItemInput::new(&self.schema.table, keys::domain_by_host(host).key(self.schema)).condition(cond, e)
    }

    /// Puts a domain item: new (`owner` None: it must not exist) or replacing one of `owner`.
    fn domain_put(&self, domain: &Domain, owner: Option<&TenantId>) -> Result<PutItemInput, DynamoError> {
        let mut attrs = to_typed_item("domain", domain)?;
        keys::domain(domain.tenant.as_str(), &domain.host).add_to(self.schema, &mut attrs);
        let mut e = Expr::new();
        let cond = match owner {
            None => e.not_exists(&self.schema.pk),
            Some(id) => e.equals("tenant", s(id.as_str())),
        };
        Ok(PutItemInput::new(&self.schema.table, attrs).condition(cond, e))
    }

    /// Sets (or with `None` removes) one host in the tenant's domain map and bumps its version,
    /// on condition that the version is the one read.
    fn tenant_domains_update(&self, tenant: &TenantItem, host: &Host, status: Option<DomainStatus>) -> UpdateItemInput {
        let mut e = Expr::new();
        let path = format!("{}.{}", e.name("domains"), e.name(host.as_str()));
        let version = e.name("version");
        let bump = format!("{version} = {version} + {}", e.num(1));
        let update = match status {
            Some(st) => format!("SET {path} = {}, {bump}", e.str(st.as_str())),
            None => format!("SET {bump} REMOVE {path}"),
        };
        let cond = and(&[e.exists(&self.schema.pk), format!("{version} = {}", e.num(tenant.version))]);
        UpdateItemInput::new(
            &self.schema.table,
            keys::tenant(tenant.record.id.as_str()).key(self.schema),
            update,
            cond,
            e,
        )
    }

    async fn transact(&self, actions: Vec<TransactItem>) -> Result<(), DynamoError> {
        let input =
            TransactWriteItemsInput { transact_items: actions, client_request_token: Some(self.db.request_token()) };
        self.db.transact_write_items(&input).await
    }
}

/// A write that failed because another writer got there first: read again and retry.
fn lost_race(e: &DynamoError) -> bool {
    match e {
        DynamoError::ConditionalCheckFailed { .. } => true,
        DynamoError::TransactionCanceled { reasons, .. } => reasons
            .iter()
            .filter_map(|r| r.code.as_deref())
            .all(|c| matches!(c, "ConditionalCheckFailed" | "TransactionConflict")),
        DynamoError::Service { code, .. } => code == "TransactionConflictException",
        _ => false,
    }
}

fn record_value(record: &Tenant) -> Result<crate::dynamo::AttributeValue, DynamoError> {
    let item: HashMap<String, crate::dynamo::AttributeValue> = to_item(record)?.into();
    Ok(crate::dynamo::AttributeValue::M(item))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(v: Value) -> Result<TenantSpec, Invalid> {
        let Value::Object(m) = v else { panic!("not an object") };
        TenantSpec::from_json(&m)
    }

    #[test]
    fn tenant_ids() {
        for ok in ["a", "acme", "acme-2", "0", &"a".repeat(63)] {
            assert!(TenantId::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "Acme", "a_b", "a.b", "a b", &"a".repeat(64), "ä"] {
            assert!(TenantId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults() {
        let s = spec(json!({"name": " Acme "})).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            s,
            TenantSpec {
                name: "Acme".into(),
                allowed_origins: vec![],
                session: SessionSettings { lifetime_secs: 2_592_000, idle_lifetime_secs: 604_800 },
                login_code: LoginCodeSettings { length: 6, ttl_secs: 600, max_attempts: 5 },
                origin: None,
                protect: false,
                code_webhook_url: None,
            }
        );
    }

    #[test]
    fn everything_set_and_normalized() {
        let s = spec(json!({
            "name": "Acme",
            "allowed_origins": ["https://App.acme.com:443", "http://localhost:3000", "https://app.acme.com"],
            "session": {"lifetime_secs": 86400, "idle_lifetime_secs": 3600},
            "login_code": {"length": 8, "ttl_secs": 300, "max_attempts": 3},
            "origin": "https://origin.acme.com/",
            "protect": true
        }))
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(s.allowed_origins, vec!["https://app.acme.com", "http://localhost:3000"]);
        assert_eq!(s.session, SessionSettings { lifetime_secs: 86400, idle_lifetime_secs: 3600 });
        assert_eq!(s.login_code, LoginCodeSettings { length: 8, ttl_secs: 300, max_attempts: 3 });
        assert_eq!(s.origin.as_deref(), Some("https://origin.acme.com"));
        assert!(s.protect);
        // A short lifetime caps the default idle lifetime.
        let s = spec(json!({"name": "A", "session": {"lifetime_secs": 3600}})).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(s.session.idle_lifetime_secs, 3600);
    }

    #[test]
    fn each_invalid_field_is_named() {
        let cases = [
            (json!({}), "name: is required"),
            (json!({"name": ""}), "name: must be 1-100 characters without control characters"),
            (json!({"name": 5}), "name: must be a string"),
            (json!({"name": "a\u{7}"}), "name: must be 1-100 characters without control characters"),
            (json!({"name": "A", "allowed_origins": "https://x.com"}), "allowed_origins: must be an array"),
            (json!({"name": "A", "allowed_origins": [1]}), "allowed_origins[0]: must be a string"),
            (
                json!({"name": "A", "allowed_origins": ["https://ok.com", "http://evil.com"]}),
                "allowed_origins[1]: http:// origins are allowed only for localhost and 127.0.0.1",
            ),
            (
                json!({"name": "A", "session": {"lifetime_secs": 10}}),
                "session.lifetime_secs: must be a whole number from 300 to 34560000",
            ),
            (
                json!({"name": "A", "session": {"lifetime_secs": 3600, "idle_lifetime_secs": 7200}}),
                "session.idle_lifetime_secs: must not be longer than session.lifetime_secs",
            ),
            (json!({"name": "A", "session": 5}), "session: must be an object"),
            (
                json!({"name": "A", "login_code": {"length": 5}}),
                "login_code.length: must be a whole number from 6 to 10",
            ),
            (
                json!({"name": "A", "login_code": {"length": 11}}),
                "login_code.length: must be a whole number from 6 to 10",
            ),
            (
                json!({"name": "A", "login_code": {"ttl_secs": 59}}),
                "login_code.ttl_secs: must be a whole number from 60 to 3600",
            ),
            (
                json!({"name": "A", "login_code": {"max_attempts": 0}}),
                "login_code.max_attempts: must be a whole number from 1 to 20",
            ),
            (json!({"name": "A", "origin": "ftp://x.com"}), "origin: must start with https:// (or http://)"),
            (json!({"name": "A", "protect": "yes"}), "protect: must be true or false"),
        ];
        for (body, message) in cases {
            assert_eq!(
                spec(body.clone()),
                Err(Invalid::field(
                    message.split(": ").next().unwrap_or(""),
                    message.split_once(": ").map(|x| x.1).unwrap_or("")
                )),
                "{body}"
            );
        }
    }

    #[test]
    fn unknown_fields_are_named_at_every_level() {
        assert_eq!(
            spec(json!({"name": "A", "colour": "red", "id": "x"})),
            Err(Invalid::with_code(
                "unknown_fields",
                "unknown field(s): colour, id; accepted: name, allowed_origins, session, login_code, origin, protect, code_webhook_url"
            ))
        );
        assert_eq!(
            spec(json!({"name": "A", "session": {"ttl": 1}})),
            Err(Invalid::with_code(
                "unknown_fields",
                "unknown field(s): session.ttl; accepted: session.lifetime_secs, session.idle_lifetime_secs"
            ))
        );
    }

    #[test]
    fn stored_shapes_round_trip() {
        let record = Tenant {
            id: TenantId("acme".into()),
            name: "Acme".into(),
            allowed_origins: vec!["https://app.acme.com".into()],
            session: SessionSettings { lifetime_secs: 10_000, idle_lifetime_secs: 1_000 },
            login_code: LoginCodeSettings { length: 6, ttl_secs: 600, max_attempts: 5 },
            origin: None,
            protect: false,
            code_webhook_url: Some("https://hooks.acme.test/codes".into()),
            created_at: "2026-01-01T00:00:00Z".into(),
            updated_at: "2026-01-02T00:00:00Z".into(),
            generation: "g1".into(),
        };
        let item = TenantItem {
            kind: "tenant".into(),
            record: record.clone(),
            domains: BTreeMap::from([("a.acme.com".into(), DomainStatus::Ready)]),
            version: 3,
        };
        let back: TenantItem = from_item(to_item(&item).unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, item);
        let domain = Domain {
            host: "a.acme.com".into(),
            tenant: record.id.clone(),
            status: DomainStatus::Pending,
            created_at: "x".into(),
            updated_at: "y".into(),
            tenant_record: record.clone(),
        };
        let stored = to_typed_item("domain", &domain).unwrap_or_default();
        assert_eq!(stored.get("type"), Some(&s("domain")));
        assert_eq!(stored.get("status"), Some(&s("pending")));
        assert_eq!(stored.get("tenant"), Some(&s("acme")));
        let back: Domain = from_item(stored).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, domain);
        assert!(record.to_json().get("generation").is_none(), "internal fields stay internal");
    }
}
