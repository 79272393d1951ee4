//! Hosts as callers ask about them: which tenant serves a Host (through the isolate's caches,
//! the nearest replica first), the verification token a claimed host shows, and whether the
//! table answers at all (`/ready`).

use std::rc::Rc;

use crate::app::{ApiError, Ctx};
use crate::domain::tenants::Tenant;
use crate::values::codes::ErrorCode;
use crate::values::host::Host;

/// The tenant that serves `host` (or the configured default tenant, in local development): 404
/// `unknown_host` when none does.
pub async fn tenant_of(ctx: &Ctx<'_>, host: &Host) -> Result<Rc<Tenant>, ApiError> {
    let default_tenant = ctx.config.default_tenant.as_ref();
    ctx.caches.resolve(&ctx.regions, host, default_tenant, ctx.now, ctx.clock).await?.ok_or_else(|| {
        ApiError::NotFound { code: ErrorCode::UnknownHost, message: format!("no tenant serves the host {host}") }
    })
}

/// The verification token of the claimed `host` (whatever its status, so a `pending` host can
/// prove it reaches this Worker); 404 `unknown_host` when no tenant claims it.
#[cfg(cold)]
pub async fn verification_token(ctx: &Ctx<'_>, host: &Host) -> Result<String, ApiError> {
    let domain = crate::domain::tenants::resolve(&ctx.store, host).await?.ok_or_else(|| ApiError::NotFound {
        code: ErrorCode::UnknownHost,
        message: format!("no tenant claims the host {host}"),
    })?;
    Ok(crate::domain::tenants::verification_token(ctx.token_secret(), &domain))
}

/// Whether one cheap DynamoDB read succeeds (credentials, table and network all work): else 503
/// `unavailable` with Retry-After, whatever the failure.
pub async fn ready(ctx: &Ctx<'_>) -> Result<(), ApiError> {
    match ctx.store.get::<serde::de::IgnoredAny>(&crate::table::keys::readiness_probe(), false).await {
        Ok(_) => Ok(()),
        Err(e) => Err(ApiError::Unavailable { detail: e.to_string(), retry_after: 1 }),
    }
}
