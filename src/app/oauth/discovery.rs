//! What the provider publishes: whether it offers RP-initiated logout (its metadata, OpenID
//! Connect Discovery 1.0 §3) and the tenant's public keys (its JWKS).

use super::signing::{keys_of, master_key, published_key};
use crate::app::{ApiError, Ctx};
use crate::domain::jwt::Jwk;
use crate::domain::tenants::Tenant;
use crate::platform::signature::Alg;

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

/// The tenant's public keys, newest version first, each version's Ed25519, RSA and P-256 keys in
/// that order. What is published of an RSA or P-256 key is the public half stored in its item
/// (nothing opened); one that is not there yet is made here (a key is published before any token
/// it signs). The Ed25519 ones' are computed by the crypto service, once per isolate.
pub async fn jwks(ctx: &Ctx<'_>, tenant: &Tenant) -> Result<Vec<Jwk>, ApiError> {
    let master = master_key(ctx)?;
    let ed = keys_of(ctx, master, tenant, Alg::EdDsa).await?;
    let mut keys: Vec<Jwk> = Vec::new();
    for (key, version) in ed.iter().zip(tenant.jwt_versions()) {
        keys.push(key.jwk());
        for alg in [Alg::Rs256, Alg::Es256] {
            keys.push(published_key(ctx, master, tenant, &version, alg).await?);
        }
    }
    Ok(keys)
}
