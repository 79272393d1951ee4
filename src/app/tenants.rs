//! Tenants, as the admin API and the CLI keep them: create or replace one (its input checked
//! against this deployment's settings: its limits, whether local targets are allowed, its Auth.js
//! table's description), read, list and delete them, and rotate their secrets. Every write
//! forgets the tenant in this isolate's cache.

use crate::app::pages::{Listed, Page};
use crate::app::{ApiError, Ctx};
use crate::domain::sessions;
use crate::domain::tenants::{
    self, SecretChange, SecretKind, Tenant, TenantBody, TenantError, TenantSecret, TenantSpec,
};
use crate::values::codes::ErrorCode;
use crate::values::ids::TenantId;
use crate::values::input::Invalid;

/// A tenant put: the tenant as saved, whether it was created, and, for a new tenant, its
/// secrets (shown this once: only seeds are stored).
#[derive(Debug, Clone)]
pub struct Saved {
    pub tenant: Tenant,
    pub created: bool,
    pub secrets: Option<NewSecrets>,
}

/// A new tenant's secrets: the origin's and the webhook's.
#[derive(Debug, Clone)]
pub struct NewSecrets {
    pub origin: TenantSecret,
    pub webhook: TenantSecret,
}

/// Creates or replaces tenant `id` from `body`, validated with this deployment's settings (its
/// login limits bound the login-code settings; local targets only with `ALLOW_LOCAL_TARGETS`);
/// an Auth.js table is checked against its description before anything is written.
pub async fn put(ctx: &Ctx<'_>, id: &TenantId, body: TenantBody) -> Result<Saved, ApiError> {
    let spec = TenantSpec::from_body(body, ctx.config.allow_local_targets, &ctx.config.login.limits)?;
    if let Some(store) = &spec.authjs {
        sessions::authjs::check_table(ctx.store.db, store)
            .await?
            .map_err(|m| Invalid::with_code(ErrorCode::InvalidRequest, m))?;
    }
    let (tenant, created) =
        tenants::put(&ctx.store, ctx.random, id, spec, ctx.now_secs()).await.map_err(tenant_error)?;
    ctx.caches.forget_tenant(id);
    let secrets = created.then(|| {
        let first = |kind| tenant.secrets(ctx.token_secret(), kind).into_iter().next();
        first(SecretKind::Origin)
            .zip(first(SecretKind::Webhook))
            .map(|(origin, webhook)| NewSecrets { origin, webhook })
    });
    Ok(Saved { secrets: secrets.flatten(), tenant, created })
}

/// The tenant `id` (a consistent read), or 404.
pub async fn get(ctx: &Ctx<'_>, id: &TenantId) -> Result<Tenant, ApiError> {
    tenants::get(&ctx.store, id).await?.ok_or_else(no_tenant)
}

/// A page of the tenants.
pub async fn list(ctx: &Ctx<'_>, page: &Page) -> Result<Listed<Tenant>, ApiError> {
    let start = page.start(ctx, "tenants")?;
    Ok(Listed::of(ctx, "tenants", tenants::list(&ctx.store, page.limit, start).await?))
}

/// Deletes tenant `id` and releases its domains, in one transaction; 404 when there is none.
pub async fn delete(ctx: &Ctx<'_>, id: &TenantId) -> Result<(), ApiError> {
    tenants::delete(&ctx.store, ctx.random, id).await.map_err(tenant_error)?;
    ctx.caches.forget_tenant(id);
    Ok(())
}

/// A tenant secret changed.
#[derive(Debug, Clone)]
pub struct SecretChanged {
    pub kind: SecretKind,
    /// The new secret, after a rotation of the origin's or the webhook's (shown this once).
    pub secret: Option<TenantSecret>,
    /// The JWT key's: the `kid` that signs from now on.
    pub kid: Option<String>,
    /// How many are valid now.
    pub valid: usize,
}

/// Rotates a tenant secret (the previous one stays valid) or ends the overlap. The JWT key
/// (with `JWT_MASTER_KEY`) moves to its next version; its answer names the `kid`, no secret.
pub async fn change_secret(
    ctx: &Ctx<'_>,
    id: &TenantId,
    kind: SecretKind,
    change: SecretChange,
) -> Result<SecretChanged, ApiError> {
    let master = if kind == SecretKind::Jwt { Some(crate::app::oauth::signing::master_key(ctx)?) } else { None };
    let tenant =
        tenants::change_secret(&ctx.store, ctx.random, id, kind, change, ctx.now_secs()).await.map_err(tenant_error)?;
    ctx.caches.forget_tenant(id);
    if let Some(master) = master {
        let keys = ctx.caches.jwt_keys(ctx.crypto, master, &tenant, ctx.now).await?;
        let kid = keys.first().map(|k| k.kid().to_string());
        return Ok(SecretChanged { kind, secret: None, kid, valid: keys.len() });
    }
    let secrets = tenant.secrets(ctx.token_secret(), kind);
    let valid = secrets.len();
    let secret = if change == SecretChange::Rotate { secrets.into_iter().next() } else { None };
    Ok(SecretChanged { kind, secret, kid: None, valid })
}

/// The 404 of a tenant that is not there.
pub fn no_tenant() -> ApiError {
    ApiError::not_found("no tenant with this id")
}

/// What a tenant write's failure answers.
pub(crate) fn tenant_error(e: TenantError) -> ApiError {
    match e {
        TenantError::NotFound(message) => ApiError::not_found(message),
        TenantError::HostTaken => {
            ApiError::Conflict { code: ErrorCode::Conflict, message: "this host is claimed by another tenant".into() }
        }
        TenantError::TooManyDomains => ApiError::Conflict {
            code: ErrorCode::TooManyDomains,
            message: format!("a tenant may claim at most {} hosts; release one first", tenants::MAX_DOMAINS),
        },
        TenantError::Contended => ApiError::Conflict {
            code: ErrorCode::Conflict,
            message: "the tenant was changed concurrently; retry".into(),
        },
        TenantError::Db(e) => e.into(),
    }
}
