//! Tenants and their custom domains: the records and the use cases (put, delete, list, rotate a
//! secret); [`body`]: the admin's body and its rules; [`domains`]: claim, release, list, resolve
//! and verify a tenant's hosts.
//!
//! A domain item carries a snapshot of its tenant's record, so resolving a Host is ONE GetItem.
//! The tenant item keeps the map of its domains (host -> status) and a version number; every
//! write that touches a tenant's domains, or its record, is one transaction conditioned on that
//! version, so the snapshots never go stale and no domain ever outlives its tenant.

mod body;
pub mod clients;
mod domains;

pub use body::{TenantBody, TenantSpec};
pub use domains::*;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::dynamo::expr::and;
use crate::dynamo::{DynamoError, Expr, Item, TransactItem, Transaction, TxError, n, s, to_item};
use crate::platform::runtime::{Random, rfc3339_secs};
use crate::table::keys;
use crate::table::store::Store;
use crate::values::host::Host;
use crate::values::ids::TenantId;

/// The version of a tenant's first JWT key.
const LEGACY_JWT_VERSION: &str = "1";
/// Most custom domains one tenant may claim (a tenant write is one transaction over all of them).
pub const MAX_DOMAINS: usize = 50;
/// How often a write that lost a race is re-read and tried again.
const WRITE_ATTEMPTS: usize = 4;
const DAY: u64 = 86_400;

/// Session lifetimes of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSettings {
    pub lifetime_secs: u64,
    pub idle_lifetime_secs: u64,
    /// How long a browser's signed session snapshot answers lookups without DynamoDB (0: off,
    /// at most 300): also how long a revocation elsewhere may take to reach that browser.
    #[serde(default)]
    pub cache_secs: u64,
    /// Lookups read home consistently, never a replica region, and never a snapshot (it
    /// overrides `cache_secs`): a revocation holds at once everywhere, at the cost of the round
    /// trip to home.
    #[serde(default)]
    pub strict_revocation: bool,
}

impl SessionSettings {
    /// How long a browser's session snapshot may answer lookups: `cache_secs`, or 0 (no
    /// snapshot at all) with `strict_revocation`, which promises that a revocation holds at once.
    pub fn snapshot_secs(&self) -> u64 {
        if self.strict_revocation { 0 } else { self.cache_secs }
    }
}

/// Login-code rules of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginCodeSettings {
    pub length: u8,
    pub ttl_secs: u64,
    pub max_attempts: u32,
}

/// How long a session JWT lives unless the tenant says otherwise (`jwt.ttl_secs`).
pub const DEFAULT_JWT_TTL_SECS: u64 = 300;

/// The JWTs a tenant's sessions are turned into (`POST /v1/session/token`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwtSettings {
    /// How long a token lives (60-3600 s; never past its session).
    pub ttl_secs: u64,
    /// The `aud` claim; `None`: the tenant id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
}

impl Default for JwtSettings {
    fn default() -> Self {
        Self { ttl_secs: DEFAULT_JWT_TTL_SECS, audience: None }
    }
}

/// How the tenant's hosted login page looks besides its name (admin Worker only: the edge never
/// shows a page, and never reads these fields).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Branding {
    /// An https image shown above the name (the page's CSP allows images from its origin only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_url: Option<String>,
    /// `#rrggbb`, lowercase: the page's buttons and links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accent_color: Option<String>,
}

/// When the OpenID Provider issues refresh tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefreshTokens {
    /// Only when the authorization asked for (and the client may have) `offline_access`.
    #[default]
    OfflineAccess,
    /// With every code redeemed.
    Always,
}

/// The tenant's OpenID Provider settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcSettings {
    #[serde(default)]
    pub refresh_tokens: RefreshTokens,
}

/// An Auth.js store the tenant's sessions live in (`@auth/dynamodb-adapter`'s table): session
/// lookups (and the gateway, the snapshot, session JWTs and logout resting on them) read it; all
/// of the tenant's other records stay in dynauth's table. The names are the adapter's options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthjsStore {
    pub table: String,
    pub partition_key: String,
    pub sort_key: String,
    pub index_name: String,
    pub index_partition_key: String,
    pub index_sort_key: String,
    /// The cookies that may carry the session token, in the order they are read.
    pub cookies: Vec<String>,
    /// Whether answers that show the email read the user item for it (one more GetItem).
    pub read_users: bool,
    /// Whether `POST /v1/logout` deletes the session item (as the adapter's `deleteSession`).
    pub logout: bool,
    /// Where the app's Auth.js routes are (`/api/auth`): never gated, and the gateway sends a
    /// protected request without a session to `<base_path>/signin`.
    pub base_path: String,
}

/// The session cookies of Auth.js v5 and v4 (NextAuth.js), each plain and `__Secure-`.
pub const AUTHJS_COOKIES: [&str; 4] = [
    "__Secure-authjs.session-token",
    "authjs.session-token",
    "__Secure-next-auth.session-token",
    "next-auth.session-token",
];

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
    #[serde(default)]
    pub jwt: JwtSettings,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authjs: Option<AuthjsStore>,
    #[cfg(cold)]
    #[serde(default)]
    pub branding: Branding,
    #[cfg(cold)]
    #[serde(default)]
    pub oidc: OidcSettings,
    pub created_at: String,
    pub updated_at: String,
    pub generation: String,
    /// The seeds its origin and webhook secrets are derived from (see [`Tenant::secrets`]).
    #[serde(default)]
    pub secrets: SecretSeeds,
}

/// Which of a tenant's secrets: the origin secret signs `x-dynauth-identity`, the webhook secret
/// signs its own `code_webhook_url` deliveries, the JWT key signs its session JWTs ([`crate::domain::jwt`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    Origin,
    Webhook,
    Jwt,
}

impl SecretKind {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "origin" => Some(Self::Origin),
            "webhook" => Some(Self::Webhook),
            "jwt" => Some(Self::Jwt),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Origin => "origin",
            Self::Webhook => "webhook",
            Self::Jwt => "jwt",
        }
    }
}

/// The random seeds of a tenant's secrets, newest first: one, or two while a rotation overlaps.
/// A seed alone reveals nothing: the secret is HMAC(`TOKEN_SECRET`, kind, tenant, generation,
/// seed), so a table scan does not yield it. The JWT key's "seeds" are its versions ("1", "2",
/// ...): the key is derived from `JWT_MASTER_KEY` ([`crate::domain::jwt`]), so they need not be secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretSeeds {
    #[serde(default)]
    pub origin: Vec<String>,
    #[serde(default)]
    pub webhook: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jwt: Vec<String>,
}

impl SecretSeeds {
    /// Fresh seeds from the platform's CSPRNG.
    pub fn generate(random: &dyn Random) -> Self {
        Self { origin: vec![random.request_token()], webhook: vec![random.request_token()], jwt: Vec::new() }
    }

    /// The seed a rotation adds: a random one, or the next JWT key version.
    fn next(&self, kind: SecretKind, random: &dyn Random) -> String {
        match kind {
            SecretKind::Jwt => {
                let newest = self.jwt.iter().filter_map(|v| v.parse::<u64>().ok()).max().unwrap_or(1);
                (newest + 1).to_string()
            }
            SecretKind::Origin | SecretKind::Webhook => random.request_token(),
        }
    }

    fn of(&self, kind: SecretKind) -> &Vec<String> {
        match kind {
            SecretKind::Origin => &self.origin,
            SecretKind::Webhook => &self.webhook,
            SecretKind::Jwt => &self.jwt,
        }
    }

    fn of_mut(&mut self, kind: SecretKind) -> &mut Vec<String> {
        match kind {
            SecretKind::Origin => &mut self.origin,
            SecretKind::Webhook => &mut self.webhook,
            SecretKind::Jwt => &mut self.jwt,
        }
    }
}

crate::values::secret::secret! {
    /// A tenant secret (base64url, 43 characters). `Debug` never shows it.
    pub struct TenantSecret;
}

impl TenantSecret {
    pub fn new(value: String) -> Self {
        Self(value)
    }
}

/// A record written for one incarnation of a tenant: it keeps the tenant's id and generation, and
/// counts only while the tenant it names is that incarnation (deleting and re-creating a tenant
/// makes every record of the old one dead at once, whatever DynamoDB has yet to delete).
pub trait OfTenant {
    fn tenant_id(&self) -> &TenantId;
    fn tenant_generation(&self) -> &str;
}

/// Implements [`OfTenant`] for records that keep the tenant as `tenant` and `tenant_generation`.
macro_rules! of_tenant {
    ($($record:ty),+) => {
        $(impl $crate::domain::tenants::OfTenant for $record {
            fn tenant_id(&self) -> &$crate::values::ids::TenantId {
                &self.tenant
            }

            fn tenant_generation(&self) -> &str {
                &self.tenant_generation
            }
        })+
    };
}

pub(crate) use of_tenant;

impl Tenant {
    /// Whether `record` belongs to this incarnation of the tenant: the one check of a record's
    /// tenant and generation, on every read.
    pub fn holds(&self, record: &impl OfTenant) -> bool {
        record.tenant_id() == &self.id && record.tenant_generation() == self.generation
    }

    /// The same check as a condition of a write (the item's `tenant_generation` is this one's).
    pub fn generation_condition(&self, e: &mut Expr) -> String {
        e.equals("tenant_generation", s(&self.generation))
    }
}

impl Tenant {
    /// The versions of the tenant's JWT signing keys, newest first (`["1"]` until a rotation).
    pub fn jwt_versions(&self) -> Vec<String> {
        if self.secrets.jwt.is_empty() { vec![LEGACY_JWT_VERSION.to_string()] } else { self.secrets.jwt.clone() }
    }

    /// The `aud` of the tenant's JWTs.
    pub fn jwt_audience(&self) -> &str {
        self.jwt.audience.as_deref().unwrap_or(self.id.as_str())
    }

    /// The tenant's `kind` secrets, newest first, derived under `token_secret`. A tenant stored
    /// before secrets existed derives its one secret from its generation (rotate to replace it).
    pub fn secrets(&self, token_secret: &[u8], kind: SecretKind) -> Vec<TenantSecret> {
        let seeds = self.secrets.of(kind);
        let legacy = [self.generation.clone()];
        let seeds = if seeds.is_empty() { &legacy[..] } else { &seeds[..] };
        seeds
            .iter()
            .map(|seed| {
                TenantSecret(crate::platform::crypto::b64url(&crate::platform::crypto::hmac_parts(
                    token_secret,
                    &[
                        b"dynauth-tenant-secret-v1",
                        kind.as_str().as_bytes(),
                        self.id.as_str().as_bytes(),
                        self.generation.as_bytes(),
                        seed.as_bytes(),
                    ],
                )))
            })
            .collect()
    }
}

/// The tenant item: the record plus its domains and the version every tenant write checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TenantItem {
    record: Tenant,
    domains: BTreeMap<String, DomainStatus>,
    version: i64,
}

/// What can go wrong in a tenant or domain use case.
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

impl From<TxError> for TenantError {
    fn from(e: TxError) -> Self {
        Self::Db(e.into())
    }
}

const NO_TENANT: TenantError = TenantError::NotFound("no tenant with this id");

/// What one optimistic attempt came to: done, or lost to a concurrent writer (read again).
enum Attempt<T> {
    Done(T),
    Lost,
}

/// Runs `attempt` (read, decide, write on condition of what was read) until it is done: an
/// attempt whose write lost to a concurrent one reads again, at most [`WRITE_ATTEMPTS`] times in
/// all, then `Contended`. Every read-modify-write of tenants and domains goes through it.
async fn optimistically<T>(
    mut attempt: impl AsyncFnMut() -> Result<Attempt<T>, TenantError>,
) -> Result<T, TenantError> {
    for _ in 0..WRITE_ATTEMPTS {
        if let Attempt::Done(value) = attempt().await? {
            return Ok(value);
        }
    }
    Err(TenantError::Contended)
}

/// A conditional write's outcome as an attempt: `Done(value)`, `Lost` when another writer got
/// there first, or its error.
fn settled<T>(written: Result<(), TxError>, value: T) -> Result<Attempt<T>, TenantError> {
    match written {
        Ok(()) => Ok(Attempt::Done(value)),
        Err(e) if e.lost_race() => Ok(Attempt::Lost),
        Err(e) => Err(e.into()),
    }
}

/// The tenant `id` (consistent read).
pub async fn get(store: &Store<'_>, id: &TenantId) -> Result<Option<Tenant>, DynamoError> {
    Ok(store.tenant_item(id).await?.map(|t| t.record))
}

/// Creates or replaces a tenant: the stored record, and whether it was created. A replace keeps
/// `created_at`, `generation` and the domains, and refreshes the tenant snapshot on every domain
/// in the same transaction.
pub async fn put(
    store: &Store<'_>,
    random: &dyn Random,
    id: &TenantId,
    spec: TenantSpec,
    now: i64,
) -> Result<(Tenant, bool), TenantError> {
    let now = rfc3339_secs(now);
    optimistically(async || {
        let existing = store.tenant_item(id).await?;
        let (created_at, generation, secrets) = match &existing {
            Some(e) => (e.record.created_at.clone(), e.record.generation.clone(), e.record.secrets.clone()),
            None => (now.clone(), random.request_token(), SecretSeeds::generate(random)),
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
            jwt: spec.jwt.clone(),
            authjs: spec.authjs.clone(),
            #[cfg(cold)]
            branding: spec.branding.clone(),
            #[cfg(cold)]
            oidc: spec.oidc,
            created_at,
            updated_at: now.clone(),
            generation,
            secrets,
        };
        match existing {
            None => {
                let item = TenantItem { record: record.clone(), domains: BTreeMap::new(), version: 1 };
                match store.create(store.item("tenant", &item, &keys::tenant(id))?).await {
                    Ok(()) => Ok(Attempt::Done((record, true))),
                    Err(DynamoError::ConditionalCheckFailed { .. }) => Ok(Attempt::Lost), // created meanwhile
                    Err(e) => Err(e.into()),
                }
            }
            Some(e) => settled(store.replace_tenant(random, e, &record).await, (record, false)),
        }
    })
    .await
}

/// How a secret changes: `Rotate` makes a new one and keeps the newest old one valid beside it;
/// `EndOverlap` keeps only the newest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretChange {
    Rotate,
    EndOverlap,
}

/// Rotates a tenant's `kind` secret, or ends the overlap of a rotation: the record as stored.
pub async fn change_secret(
    store: &Store<'_>,
    random: &dyn Random,
    id: &TenantId,
    kind: SecretKind,
    change: SecretChange,
    now: i64,
) -> Result<Tenant, TenantError> {
    let now = rfc3339_secs(now);
    optimistically(async || {
        let Some(existing) = store.tenant_item(id).await? else {
            return Err(NO_TENANT);
        };
        let mut record = existing.record.clone();
        let seeds = record.secrets.of_mut(kind);
        if seeds.is_empty() {
            // A tenant from before secrets: its legacy seed is the generation (a JWT key's: 1).
            let legacy = if kind == SecretKind::Jwt { LEGACY_JWT_VERSION } else { record.generation.as_str() };
            seeds.push(legacy.to_string());
        }
        match change {
            SecretChange::Rotate => {
                let next = record.secrets.next(kind, random);
                let seeds = record.secrets.of_mut(kind);
                seeds.insert(0, next);
                seeds.truncate(2);
            }
            SecretChange::EndOverlap => record.secrets.of_mut(kind).truncate(1),
        }
        record.updated_at = now.clone();
        let written = store.replace_tenant(random, existing, &record).await;
        settled(written, record)
    })
    .await
}

/// Deletes a tenant and releases all its domains in one transaction.
pub async fn delete(store: &Store<'_>, random: &dyn Random, id: &TenantId) -> Result<(), TenantError> {
    optimistically(async || {
        let Some(existing) = store.tenant_item(id).await? else {
            return Err(NO_TENANT);
        };
        let mut tx = Transaction::new(random.request_token());
        let mut e = Expr::new();
        let cond = e.equals("version", n(existing.version));
        tx.add("tenant", TransactItem::Delete(store.delete(&keys::tenant(id), cond, e)));
        for host in existing.domains.keys() {
            tx.add("domain", TransactItem::Delete(store.domain_delete(id, host)));
        }
        settled(store.transact(&tx).await, ())
    })
    .await
}

/// One page of tenants in id order, and the key to continue from.
pub async fn list(
    store: &Store<'_>,
    limit: u32,
    start: Option<Item>,
) -> Result<(Vec<Tenant>, Option<Item>), DynamoError> {
    let (items, next) = store.page_gsi1::<TenantItem>(keys::TENANTS, limit, start).await?;
    Ok((items.into_iter().map(|i| i.record).collect(), next))
}

/// The tenant's domains with their statuses: ONE query of the tenant's GSI1 partition (a tenant
/// with none is read once more, to tell it from no tenant at all). `None` when there is no such
/// tenant. The index is eventually consistent: a host claimed a moment ago may be missing.
pub async fn domains(store: &Store<'_>, id: &TenantId) -> Result<Option<Vec<DomainEntry>>, DynamoError> {
    let mut e = Expr::new();
    let key = store.gsi1_key(&keys::tenant_domains(id), &mut e);
    let projection = ["host", "tenant", "status", "created_at", "updated_at"].map(|f| e.name(f)).join(", ");
    let mut q = store.query_gsi1(key, e, true);
    q.projection_expression = Some(projection);
    let items = store.db.query_all(&q, MAX_DOMAINS * 2).await?;
    if items.is_empty() && store.tenant_item(id).await?.is_none() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        out.push(crate::dynamo::from_item::<DomainEntry>(item)?);
    }
    Ok(Some(out))
}

impl Store<'_> {
    async fn tenant_item(&self, id: &TenantId) -> Result<Option<TenantItem>, DynamoError> {
        self.get(&keys::tenant(id), true).await
    }

    /// Replaces the tenant item (on condition of its version) and refreshes every domain's
    /// snapshot, in one transaction.
    async fn replace_tenant(&self, random: &dyn Random, existing: TenantItem, record: &Tenant) -> Result<(), TxError> {
        let id = &record.id;
        let item =
            TenantItem { record: record.clone(), domains: existing.domains.clone(), version: existing.version + 1 };
        let mut e = Expr::new();
        let cond = e.equals("version", n(existing.version));
        let mut tx = Transaction::new(random.request_token());
        tx.add("tenant", TransactItem::Put(self.put(self.item("tenant", &item, &keys::tenant(id))?, cond, e)));
        let snapshot = crate::dynamo::AttributeValue::M(to_item(record).map_err(|e| TxError::Db(e.into()))?);
        for host in existing.domains.keys() {
            let mut e = Expr::new();
            let update = format!("SET {} = {}", e.name("tenant_record"), e.value(snapshot.clone()));
            let cond = e.equals("tenant", s(id.as_str()));
            let keys = keys::domain_by_host(&Host::stored(host));
            tx.add("domain", TransactItem::Update(self.update(&keys, update, Some(cond), e)));
        }
        self.transact(&tx).await
    }

    fn domain_delete(&self, id: &TenantId, host: &str) -> crate::dynamo::DeleteItemInput {
        let mut e = Expr::new();
        let cond = e.equals("tenant", s(id.as_str()));
        self.delete(&keys::domain_by_host(&Host::stored(host)), cond, e)
    }

    /// Sets (or with `None` removes) one host in the tenant's domain map and bumps its version,
    /// on condition that the version is the one read.
    fn tenant_domains_update(
        &self,
        tenant: &TenantItem,
        host: &Host,
        status: Option<DomainStatus>,
    ) -> crate::dynamo::UpdateItemInput {
        let mut e = Expr::new();
        let path = format!("{}.{}", e.name("domains"), e.name(host.as_str()));
        let version = e.name("version");
        let bump = format!("{version} = {version} + {}", e.num(1));
        let update = match status {
            Some(st) => format!("SET {path} = {}, {bump}", e.str(st.as_str())),
            None => format!("SET {bump} REMOVE {path}"),
        };
        let cond = and(&[e.exists(&self.schema.pk), format!("{version} = {}", e.num(tenant.version))]);
        self.update(&keys::tenant(&tenant.record.id), update, cond, e)
    }
}

#[cfg(any(test, feature = "testing"))]
impl Tenant {
    /// A tenant record for tests: id `acme`, name `Acme`, generation `g1`, the default settings;
    /// adjust the fields a test cares about.
    pub fn example() -> Self {
        use crate::values::ids::TenantId;
        Self {
            id: TenantId::parse("acme").unwrap_or_else(|_| unreachable!("a valid literal id")),
            name: "Acme".into(),
            allowed_origins: Vec::new(),
            session: SessionSettings {
                lifetime_secs: 30 * 86_400,
                idle_lifetime_secs: 7 * 86_400,
                cache_secs: 0,
                strict_revocation: false,
            },
            login_code: LoginCodeSettings { length: 6, ttl_secs: 600, max_attempts: 5 },
            origin: None,
            protect: false,
            code_webhook_url: None,
            jwt: JwtSettings::default(),
            authjs: None,
            #[cfg(cold)]
            branding: crate::domain::tenants::Branding::default(),
            #[cfg(cold)]
            oidc: crate::domain::tenants::OidcSettings::default(),
            created_at: String::new(),
            updated_at: String::new(),
            generation: "g1".into(),
            secrets: crate::domain::tenants::SecretSeeds::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::domain::budgets::Limits;
    use crate::dynamo::from_item;
    use crate::values::codes::ErrorCode;
    use crate::values::input::{Invalid, decode};

    fn spec(v: Value) -> Result<TenantSpec, Invalid> {
        TenantSpec::from_body(decode::<TenantBody>(&v)?, true, &Limits::default())
    }

    #[test]
    fn defaults() {
        let s = spec(json!({"name": " Acme "})).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            s,
            TenantSpec {
                name: "Acme".into(),
                allowed_origins: vec![],
                session: SessionSettings {
                    lifetime_secs: 2_592_000,
                    idle_lifetime_secs: 604_800,
                    cache_secs: 0,
                    strict_revocation: false
                },
                login_code: LoginCodeSettings { length: 6, ttl_secs: 600, max_attempts: 5 },
                origin: None,
                protect: false,
                code_webhook_url: None,
                jwt: JwtSettings { ttl_secs: 300, audience: None },
                authjs: None,
                branding: Branding::default(),
                oidc: OidcSettings::default(),
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
            "protect": true,
            "jwt": {"ttl_secs": 60, "audience": "https://api.acme.com"}
        }))
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(s.allowed_origins, vec!["https://app.acme.com", "http://localhost:3000"]);
        assert_eq!(
            s.session,
            SessionSettings { lifetime_secs: 86400, idle_lifetime_secs: 3600, cache_secs: 0, strict_revocation: false }
        );
        assert_eq!(s.login_code, LoginCodeSettings { length: 8, ttl_secs: 300, max_attempts: 3 });
        assert_eq!(s.origin.as_deref(), Some("https://origin.acme.com"));
        assert!(s.protect);
        assert_eq!(s.jwt, JwtSettings { ttl_secs: 60, audience: Some("https://api.acme.com".into()) });
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
            (json!({"name": "A", "jwt": {"ttl_secs": 59}}), "jwt.ttl_secs: must be a whole number from 60 to 3600"),
            (json!({"name": "A", "jwt": {"ttl_secs": 3601}}), "jwt.ttl_secs: must be a whole number from 60 to 3600"),
            (
                json!({"name": "A", "jwt": {"audience": "my api"}}),
                "jwt.audience: must be 1-200 visible ASCII characters (no spaces)",
            ),
            (
                json!({"name": "A", "jwt": {"audience": ""}}),
                "jwt.audience: must be 1-200 visible ASCII characters (no spaces)",
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
            (json!({"name": "A", "session": [3600, 600]}), "session: must be an object"),
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
            (
                json!({"name": "A", "code_webhook_url": "http://hooks.example.com/x"}),
                "code_webhook_url: must be https:// (http:// only for localhost and 127.0.0.1)",
            ),
            (
                json!({"name": "A", "branding": {"accent_color": "#12345g"}}),
                "branding.accent_color: must be a colour as #rrggbb",
            ),
            (
                json!({"name": "A", "branding": {"accent_color": "#fff"}}),
                "branding.accent_color: must be a colour as #rrggbb",
            ),
            (
                json!({"name": "A", "branding": {"logo_url": "http://cdn.example.com/l.png"}}),
                "branding.logo_url: must be https:// (http:// only for localhost and 127.0.0.1)",
            ),
        ];
        for (body, message) in cases {
            let (field, problem) = message.split_once(": ").unwrap_or_default();
            assert_eq!(spec(body.clone()), Err(Invalid::field(field, problem)), "{body}");
        }
    }

    #[test]
    fn branding_and_oidc_settings() {
        let s = spec(
            json!({"name": "A", "branding": {"logo_url": "https://cdn.example.com/l.png", "accent_color": "#AB12cd"},
            "oidc": {"refresh_tokens": "always"}}),
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            s.branding,
            Branding { logo_url: Some("https://cdn.example.com/l.png".into()), accent_color: Some("#ab12cd".into()) }
        );
        assert_eq!(s.oidc.refresh_tokens, RefreshTokens::Always);
        let s = spec(json!({"name": "A"})).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!((s.branding, s.oidc.refresh_tokens), (Branding::default(), RefreshTokens::OfflineAccess));
        assert!(spec(json!({"name": "A", "oidc": {"refresh_tokens": "sometimes"}})).is_err());
        // In production a logo is https to a public host, as a webhook is.
        let body = decode::<TenantBody>(&json!({"name": "A", "branding": {"logo_url": "https://127.0.0.1/l.png"}}));
        let refused = TenantSpec::from_body(body.unwrap_or_else(|e| panic!("{e:?}")), false, &Limits::default());
        let message = match refused {
            Err(Invalid::Field { message, .. }) => message,
            other => panic!("{other:?}"),
        };
        assert!(message.starts_with("branding.logo_url: "), "{message}");
    }

    #[test]
    fn unknown_fields_are_named_at_every_level() {
        assert_eq!(
            spec(json!({"name": "A", "colour": "red", "id": "x"})),
            Err(Invalid::with_code(
                ErrorCode::UnknownFields,
                "unknown field(s): colour, id; accepted: name, allowed_origins, session, login_code, origin, protect, code_webhook_url, jwt, branding, oidc, authjs"
            ))
        );
        assert_eq!(
            spec(json!({"name": "A", "session": {"ttl": 1}})),
            Err(Invalid::with_code(
                ErrorCode::UnknownFields,
                "unknown field(s): session.ttl; accepted: session.lifetime_secs, session.idle_lifetime_secs, session.cache_secs, session.strict_revocation"
            ))
        );
        assert_eq!(
            spec(json!({"name": "A", "jwt": {"aud": "x"}})),
            Err(Invalid::with_code(
                ErrorCode::UnknownFields,
                "unknown field(s): jwt.aud; accepted: jwt.ttl_secs, jwt.audience"
            ))
        );
    }

    #[test]
    fn secrets_are_derived_per_kind_tenant_generation_and_seed() {
        let t = crate::domain::tenants::Tenant::example();
        let seeded = Tenant {
            secrets: SecretSeeds { origin: vec!["b".into(), "a".into()], webhook: vec!["a".into()], jwt: vec![] },
            ..t.clone()
        };
        let origin = seeded.secrets(b"k", SecretKind::Origin);
        assert_eq!(origin.len(), 2, "both secrets of an overlap");
        assert_eq!(origin[1].expose().len(), 43);
        assert_ne!(origin[1], seeded.secrets(b"k", SecretKind::Webhook)[0], "the kind is bound");
        assert_ne!(origin[1], seeded.secrets(b"other", SecretKind::Origin)[1], "TOKEN_SECRET is the key");
        let other_gen = Tenant { generation: "g2".into(), ..seeded.clone() };
        assert_ne!(origin[1], other_gen.secrets(b"k", SecretKind::Origin)[1], "a re-created tenant gets new secrets");
        let other_id = Tenant { id: TenantId::parse("globex").expect("the test's own input"), ..seeded.clone() };
        assert_ne!(origin[1], other_id.secrets(b"k", SecretKind::Origin)[1]);
        // No seeds stored (a tenant from before secrets): one, from the generation.
        let legacy = t.secrets(b"k", SecretKind::Origin);
        let as_seed = Tenant { secrets: SecretSeeds { origin: vec!["g1".into()], webhook: vec![], jwt: vec![] }, ..t };
        assert_eq!(legacy, as_seed.secrets(b"k", SecretKind::Origin));
        assert!(!format!("{:?}", legacy[0]).contains(legacy[0].expose()));
    }

    #[test]
    fn stored_shapes_round_trip() {
        let record = Tenant {
            id: TenantId::parse("acme").expect("the test's own input"),
            name: "Acme".into(),
            allowed_origins: vec!["https://app.acme.com".into()],
            session: SessionSettings {
                lifetime_secs: 10_000,
                idle_lifetime_secs: 1_000,
                cache_secs: 30,
                strict_revocation: true,
            },
            login_code: LoginCodeSettings { length: 6, ttl_secs: 600, max_attempts: 5 },
            origin: None,
            protect: false,
            code_webhook_url: Some("https://hooks.acme.test/codes".into()),
            jwt: JwtSettings { ttl_secs: 120, audience: Some("api".into()) },
            authjs: None,
            branding: Branding {
                logo_url: Some("https://cdn.acme.test/l.svg".into()),
                accent_color: Some("#ff6600".into()),
            },
            oidc: OidcSettings { refresh_tokens: RefreshTokens::Always },
            created_at: "2026-01-01T00:00:00Z".into(),
            updated_at: "2026-01-02T00:00:00Z".into(),
            generation: "g1".into(),
            secrets: SecretSeeds {
                origin: vec!["o2".into(), "o1".into()],
                webhook: vec!["w1".into()],
                jwt: vec!["3".into(), "2".into()],
            },
        };
        let item = TenantItem {
            record: record.clone(),
            domains: BTreeMap::from([("a.acme.com".into(), DomainStatus::Ready)]),
            version: 3,
        };
        let back: TenantItem = from_item(to_item(&item).unwrap_or_default()).expect("the test's own input");
        assert_eq!(back, item);
        let domain = Domain {
            host: "a.acme.com".into(),
            tenant: record.id.clone(),
            status: DomainStatus::Pending,
            created_at: "x".into(),
            updated_at: "y".into(),
            tenant_record: record,
        };
        let stored = crate::dynamo::to_typed_item("domain", &domain).unwrap_or_default();
        assert_eq!(stored.get("type"), Some(&s("domain")));
        assert_eq!(stored.get("status"), Some(&s("pending")));
        assert_eq!(stored.get("tenant"), Some(&s("acme")));
        let back: Domain = from_item(stored).expect("the test's own input");
        assert_eq!(back.entry(), domain.entry());
        assert_eq!(back, domain);
        assert_eq!(DomainStatus::parse("ready"), Ok(DomainStatus::Ready));
        assert!(DomainStatus::parse("live").is_err());
    }
}
