//! A tenant's custom domains: list them, claim a host (or change its status), release it, and
//! verify that a claimed host reaches this deployment before it routes. Every write forgets the
//! host in this isolate's cache.

use crate::app::tenants::{no_tenant, tenant_error};
use crate::app::{ApiError, Ctx};
use crate::domain::tenants::{self, Domain, DomainEntry, DomainStatus, Unverified};
use crate::values::codes::ErrorCode;
use crate::values::host::Host;
use crate::values::ids::TenantId;

/// The tenant's domains; 404 when there is no such tenant.
pub async fn list(ctx: &Ctx<'_>, id: &TenantId) -> Result<Vec<DomainEntry>, ApiError> {
    tenants::domains(&ctx.store, id).await?.ok_or_else(no_tenant)
}

/// Claims `host` for tenant `id` with `status` (or changes the status of its claim): the domain
/// and whether it was claimed now; 409 when another tenant holds it or the tenant has claimed
/// the most hosts it may.
pub async fn claim(
    ctx: &Ctx<'_>,
    id: &TenantId,
    host: &Host,
    status: DomainStatus,
) -> Result<(Domain, bool), ApiError> {
    let claimed =
        tenants::claim(&ctx.store, ctx.random, id, host, status, ctx.now_secs()).await.map_err(tenant_error)?;
    ctx.caches.forget_host(host);
    Ok(claimed)
}

/// Releases tenant `id`'s claim on `host`; 404 when it has none.
pub async fn release(ctx: &Ctx<'_>, id: &TenantId, host: &Host) -> Result<(), ApiError> {
    tenants::release(&ctx.store, ctx.random, id, host).await.map_err(tenant_error)?;
    ctx.caches.forget_host(host);
    Ok(())
}

/// Proves `host` reaches this deployment, then makes its claim `ready`. It fetches
/// `https://{host}/.well-known/dynauth-domain-verification` (no redirects), which only this
/// deployment answers with the host's token (derived from `TOKEN_SECRET`, the host and its
/// tenant); when the answer is that token the domain becomes `ready`, otherwise 409
/// `domain_unverified` saying what came back. 404 when the tenant has not claimed the host. With
/// `ALLOW_LOCAL_TARGETS`, loopback hosts are fetched over plain http, on `DOMAIN_CHECK_PORT` when
/// set (local development and tests).
pub async fn verify(ctx: &Ctx<'_>, id: &TenantId, host: &Host) -> Result<Domain, ApiError> {
    let check = tenants::DomainCheck {
        transport: ctx.webhook,
        token_secret: ctx.token_secret(),
        local_targets: ctx.config.allow_local_targets,
        port: ctx.config.domain_check_port,
    };
    let domain = tenants::verify(&ctx.store, ctx.random, check, id, host, ctx.now_secs()).await.map_err(|e| match e {
        Unverified::Tenant(e) => tenant_error(e),
        Unverified::Unfetchable(e) => ApiError::bad_request(ErrorCode::InvalidHost, format!("the host cannot be fetched: {e}")),
        Unverified::NotShown { url, problem } => ApiError::Conflict {
            code: ErrorCode::DomainUnverified,
            message: format!(
                "{url} does not show this claim: {problem}; route the host to this Worker (a route, a Custom Domain \
                 or a Cloudflare for SaaS custom hostname) and verify again"
            ),
        },
    })?;
    ctx.caches.forget_host(host);
    Ok(domain)
}
