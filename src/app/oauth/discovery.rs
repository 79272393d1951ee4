//! What the provider publishes: whether it offers RP-initiated logout (its metadata, OpenID
//! Connect Discovery 1.0 §3) and the tenant's public keys (its JWKS).

use super::signing::{master_key, rsa_keys_of};
use crate::app::{ApiError, Ctx};
use crate::domain::jwt::Jwk;
use crate::domain::tenants::Tenant;

/// What the discovery document of `tenant` says beyond what every tenant's says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metadata {
    /// RP-initiated logout is offered: not on a tenant whose Auth.js app keeps its sessions to
    /// itself (`authjs.logout` off).
    pub end_session: bool,
}

/// The provider's metadata for `tenant` (404 without `JWT_MASTER_KEY`).
pub fn metadata(ctx: &Ctx<'_>, tenant: &Tenant) -> Result<Metadata, ApiError> {
    master_key(ctx)?;
    Ok(Metadata { end_session: tenant.authjs.as_ref().is_none_or(|a| a.logout) })
}

/// The tenant's public keys, the signing ones first (Ed25519 and RSA, each newest first). RSA
/// keys are made here when they are not yet: a key is published before any token it signs.
pub async fn jwks(ctx: &Ctx<'_>, tenant: &Tenant) -> Result<Vec<Jwk>, ApiError> {
    let master = master_key(ctx)?;
    let ed = ctx.caches.jwt_keys(master, tenant, ctx.now);
    let rsa = rsa_keys_of(ctx, master, tenant).await?;
    let mut keys: Vec<Jwk> = Vec::new();
    for (i, key) in ed.iter().enumerate() {
        keys.push(key.jwk());
        if let Some(r) = rsa.get(i) {
            keys.push(r.jwk());
        }
    }
    Ok(keys)
}
