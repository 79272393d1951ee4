//! What the provider publishes: whether it offers RP-initiated logout (its metadata, OpenID
//! Connect Discovery 1.0 §3) and the tenant's public keys (its JWKS).

use super::signing::{keys_of, master_key};
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
/// that order. RSA and P-256 keys are made here when they are not yet (a key is published before
/// any token it signs); what is published is the public half stored in each key's item (the
/// Ed25519 ones' computed by the crypto service, once per isolate).
pub async fn jwks(ctx: &Ctx<'_>, tenant: &Tenant) -> Result<Vec<Jwk>, ApiError> {
    let master = master_key(ctx)?;
    let ed = keys_of(ctx, master, tenant, Alg::EdDsa).await?;
    let rsa = keys_of(ctx, master, tenant, Alg::Rs256).await?;
    let ec = keys_of(ctx, master, tenant, Alg::Es256).await?;
    let mut keys: Vec<Jwk> = Vec::new();
    for (i, key) in ed.iter().enumerate() {
        keys.push(key.jwk());
        keys.extend(rsa.get(i).map(|k| k.jwk()));
        keys.extend(ec.get(i).map(|k| k.jwk()));
    }
    Ok(keys)
}
