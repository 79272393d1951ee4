//! Custom domains: a tenant's hosts, their status, claiming and releasing one (on the tenant
//! item's version), resolving a host (one GetItem of the domain item, which carries its
//! tenant's record), and proving a host reaches this deployment ([`verify`]).

use serde::{Deserialize, Serialize};

#[allow(clippy::wildcard_imports)]
use super::*;
use crate::dynamo::DynamoError;
use crate::platform::crypto::constant_time_eq;
use crate::platform::runtime::{AnswerLimit, OUTSIDE_ANSWER_LIMIT, Random, Transport};
use crate::table::keys;
use crate::table::store::Store;
use crate::values::host::Host;
use crate::values::ids::TenantId;

/// The status of a custom domain; only `ready` domains route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum DomainStatus {
    Ready,
    Pending,
    Disabled,
}

impl TryFrom<String> for DomainStatus {
    type Error = &'static str;
    fn try_from(raw: String) -> Result<Self, &'static str> {
        Self::parse(&raw)
    }
}

impl DomainStatus {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        match raw {
            "ready" => Ok(Self::Ready),
            "pending" => Ok(Self::Pending),
            "disabled" => Ok(Self::Disabled),
            _ => Err("must be \"ready\", \"pending\" or \"disabled\""),
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

/// A custom domain as listed: the host, its tenant, its status and when it changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainEntry {
    pub host: String,
    pub tenant: TenantId,
    pub status: DomainStatus,
    pub created_at: String,
    pub updated_at: String,
}

/// A custom domain as stored: its entry and the snapshot of its tenant.
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
    pub fn entry(&self) -> DomainEntry {
        DomainEntry {
            host: self.host.clone(),
            tenant: self.tenant.clone(),
            status: self.status,
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
        }
    }
}

/// Claims `host` for tenant `id` with `status` (true when newly claimed), or changes the status of
/// a host the tenant already has. A host of another tenant is `HostTaken`; of two tenants racing
/// for one host exactly one wins (the domain is created with a condition).
pub async fn claim(
    store: &Store<'_>,
    random: &dyn Random,
    id: &TenantId,
    host: &Host,
    status: DomainStatus,
    now: i64,
) -> Result<(Domain, bool), TenantError> {
    let now = rfc3339_secs(now);
    optimistically(async || {
        let Some(tenant) = store.tenant_item(id).await? else {
            return Err(NO_TENANT);
        };
        let current: Option<Domain> = store.get(&keys::domain_by_host(host), true).await?;
        let (domain, created) = match current {
            Some(d) if &d.tenant != id => return Err(TenantError::HostTaken),
            Some(d) if d.status == status && tenant.domains.get(host.as_str()) == Some(&status) => {
                return Ok(Attempt::Done((d, false)));
            }
            Some(d) => (Domain { status, updated_at: now.clone(), tenant_record: tenant.record.clone(), ..d }, false),
            None if tenant.domains.len() >= MAX_DOMAINS => return Err(TenantError::TooManyDomains),
            None => {
                let domain = Domain {
                    host: host.as_str().to_string(),
                    tenant: id.clone(),
                    status,
                    created_at: now.clone(),
                    updated_at: now.clone(),
                    tenant_record: tenant.record.clone(),
                };
                (domain, true)
            }
        };
        let item = store.item("domain", &domain, &keys::domain(id, host))?;
        let put = if created {
            store.create_part(item)
        } else {
            let mut e = Expr::new();
            let cond = e.equals("tenant", s(id.as_str()));
            TransactItem::Put(store.put(item, cond, e))
        };
        let tx = Transaction::new(random.request_token())
            .with("domain", put)
            .with("tenant", TransactItem::Update(store.tenant_domains_update(&tenant, host, Some(status))));
        settled(store.transact(&tx).await, (domain, created))
    })
    .await
}

/// Releases a host the tenant holds.
pub async fn release(store: &Store<'_>, random: &dyn Random, id: &TenantId, host: &Host) -> Result<(), TenantError> {
    optimistically(async || {
        let Some(tenant) = store.tenant_item(id).await? else {
            return Err(NO_TENANT);
        };
        if !tenant.domains.contains_key(host.as_str()) {
            return Err(TenantError::NotFound("this tenant has not claimed this host"));
        }
        let tx = Transaction::new(random.request_token())
            .with("domain", TransactItem::Delete(store.domain_delete(id, host.as_str())))
            .with("tenant", TransactItem::Update(store.tenant_domains_update(&tenant, host, None)));
        settled(store.transact(&tx).await, ())
    })
    .await
}

/// The domain item of `host`, whatever its status (a consistent read).
pub async fn claimed(store: &Store<'_>, host: &Host) -> Result<Option<Domain>, DynamoError> {
    store.get(&keys::domain_by_host(host), true).await
}

/// The token `GET /.well-known/dynauth-domain-verification` answers on a claimed host: derived
/// (never stored) from `TOKEN_SECRET`, the host, its tenant and the tenant's generation, so only
/// this deployment can answer it, and only for the tenant that claimed the host.
pub fn verification_token(token_secret: &[u8], domain: &Domain) -> String {
    crate::platform::crypto::b64url(&crate::platform::crypto::hmac_parts(
        token_secret,
        &[
            b"dynauth-domain-verification-v1",
            domain.host.as_bytes(),
            domain.tenant.as_str().as_bytes(),
            domain.tenant_record.generation.as_bytes(),
        ],
    ))
}

/// The domain item for `host` with its tenant snapshot: the one read of host resolution.
/// Eventually consistent: resolution is cached for longer than replication takes anyway.
pub async fn resolve(store: &Store<'_>, host: &Host) -> Result<Option<Domain>, DynamoError> {
    store.get(&keys::domain_by_host(host), false).await
}

/// Where and how [`verify`] checks a host: over `transport`, at `https://{host}`, or, with
/// `local_targets` (local development and tests), plain http to a loopback host, on `port` when
/// set; the token it expects is derived from `token_secret`.
#[derive(Clone, Copy)]
pub struct DomainCheck<'a> {
    pub transport: &'a dyn Transport,
    pub token_secret: &'a [u8],
    pub local_targets: bool,
    pub port: Option<u16>,
}

impl std::fmt::Debug for DomainCheck<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DomainCheck").field("local_targets", &self.local_targets).field("port", &self.port).finish()
    }
}

/// Why [`verify`] did not make a host ready.
#[derive(Debug, Clone, PartialEq)]
pub enum Unverified {
    /// Not claimed by this tenant, or the claim could not be written.
    Tenant(TenantError),
    /// The check's request could not be made for this host.
    Unfetchable(String),
    /// The host does not show this deployment's token for the claim: `url` and what came back.
    NotShown { url: String, problem: String },
}

impl From<DynamoError> for Unverified {
    fn from(e: DynamoError) -> Self {
        Self::Tenant(TenantError::Db(e))
    }
}

/// Proves `host`, claimed by tenant `id`, reaches this deployment before it routes: fetches
/// `{origin}/.well-known/dynauth-domain-verification` (no redirects, the answer read up to
/// [`OUTSIDE_ANSWER_LIMIT`]), which only this deployment answers with the host's
/// [`verification_token`]; when the answer is that token the domain becomes `ready`.
pub async fn verify(
    store: &Store<'_>,
    random: &dyn Random,
    check: DomainCheck<'_>,
    id: &TenantId,
    host: &Host,
    now: i64,
) -> Result<Domain, Unverified> {
    let domain = claimed(store, host)
        .await?
        .filter(|d| &d.tenant == id)
        .ok_or(Unverified::Tenant(TenantError::NotFound("this tenant has not claimed this host")))?;
    let origin = match check.port {
        _ if !(check.local_targets && host.is_local()) => format!("https://{host}"),
        Some(port) => format!("http://{host}:{port}"),
        None => format!("http://{host}"),
    };
    let url = format!("{origin}/.well-known/dynauth-domain-verification");
    let expected = verification_token(check.token_secret, &domain);
    let request = http::Request::builder()
        .method(http::Method::GET)
        .uri(&url)
        .header(http::header::USER_AGENT, "dynauth-domain-check/1")
        .extension(AnswerLimit(OUTSIDE_ANSWER_LIMIT))
        .body(Vec::new())
        .map_err(|e| Unverified::Unfetchable(e.to_string()))?;
    let problem = match check.transport.send(request).await {
        Ok(r) if r.status() == 200 => {
            let body = String::from_utf8_lossy(r.body());
            (!constant_time_eq(body.trim().as_bytes(), expected.as_bytes())).then(|| {
                "it answered with another token (the host reaches another dynauth deployment, or the claim changed)"
                    .to_string()
            })
        }
        Ok(r) => Some(format!("it answered HTTP {}", r.status().as_u16())),
        Err(e) => Some(format!("it could not be reached ({e})")),
    };
    if let Some(problem) = problem {
        return Err(Unverified::NotShown { url, problem });
    }
    let (domain, _) = claim(store, random, id, host, DomainStatus::Ready, now).await.map_err(Unverified::Tenant)?;
    Ok(domain)
}
