//! The tenant's keys as the OpenID Provider signs and verifies with them: which key signs a
//! client's tokens (its `id_token_signed_response_alg`), which one a presented token names, and
//! the stored keys (RSA, P-256), cached per isolate and made when first needed. Every signature
//! is the crypto service's (`ctx.crypto`: Web Crypto on the Worker).

use std::rc::Rc;

use crate::app::{ApiError, Ctx};
use crate::domain::jwt::{Jwk, Key, MasterKey};
use crate::domain::oidc::keys as stored_keys;
use crate::domain::oidc::tokens;
use crate::domain::tenants::Tenant;
use crate::platform::signature::Alg;

/// `JWT_MASTER_KEY`, or 404: without it this deployment issues no JWTs.
pub fn master_key<'a>(ctx: &Ctx<'a>) -> Result<&'a MasterKey, ApiError> {
    ctx.config
        .jwt_master_key
        .as_ref()
        .ok_or_else(|| ApiError::not_found("this deployment issues no JWTs: JWT_MASTER_KEY is not set"))
}

/// The tenant's keys of `alg`, newest (the signing one) first: the Ed25519 ones derived, the RSA
/// and P-256 ones read (or made).
pub(crate) async fn keys_of(
    ctx: &Ctx<'_>,
    master: &MasterKey,
    tenant: &Tenant,
    alg: Alg,
) -> Result<Vec<Rc<Key>>, ApiError> {
    if alg == Alg::EdDsa {
        return Ok(ctx.caches.jwt_keys(ctx.crypto, master, tenant, ctx.now).await?);
    }
    let mut out = Vec::new();
    for version in tenant.jwt_versions() {
        out.push(stored_key(ctx, master, tenant, &version, alg).await?);
    }
    Ok(out)
}

/// The tenant's newest key of `alg`: the one that signs.
pub(crate) async fn signing_key(
    ctx: &Ctx<'_>,
    master: &MasterKey,
    tenant: &Tenant,
    alg: Alg,
) -> Result<Rc<Key>, ApiError> {
    if alg == Alg::EdDsa {
        let keys = keys_of(ctx, master, tenant, alg).await?;
        // A tenant always has a key (version 1 until its first rotation).
        return keys
            .into_iter()
            .next()
            .ok_or_else(|| ApiError::Internal { detail: "the tenant has no JWT key".into() });
    }
    let version = tenant.jwt_versions().into_iter().next().unwrap_or_default();
    stored_key(ctx, master, tenant, &version, alg).await
}

/// The tenant key `token`'s header names (any live version, of any algorithm); `None` when no
/// key of the tenant has that id.
pub(crate) async fn named_key(
    ctx: &Ctx<'_>,
    master: &MasterKey,
    tenant: &Tenant,
    token: &str,
) -> Result<Option<Rc<Key>>, ApiError> {
    let Some((kid, alg)) = tokens::named_key(token) else { return Ok(None) };
    let Some(alg) = Alg::of_name(&alg) else { return Ok(None) };
    Ok(keys_of(ctx, master, tenant, alg).await?.into_iter().find(|k| k.kid() == kid))
}

/// The public half of the tenant's stored key of `alg` and `version` as the JWKS publishes it:
/// from the key this isolate holds, else from the item's public members (nothing opened, nothing
/// computed; read once per isolate), else the key is made (a key is published before any token
/// it signs).
pub(crate) async fn published_key(
    ctx: &Ctx<'_>,
    master: &MasterKey,
    tenant: &Tenant,
    version: &str,
    alg: Alg,
) -> Result<Jwk, ApiError> {
    let load = async || -> Result<Jwk, ApiError> {
        if let Some(jwk) = stored_keys::published(&ctx.store, master, tenant, version, alg).await? {
            return Ok(jwk);
        }
        Ok(stored_key(ctx, master, tenant, version, alg).await?.jwk())
    };
    Ok((*ctx.caches.published(master, tenant, version, alg, ctx.now, load).await?).clone())
}

/// The tenant's stored key of `alg` and `version`, from the isolate's cache, else read (or made)
/// in the table.
async fn stored_key(
    ctx: &Ctx<'_>,
    master: &MasterKey,
    tenant: &Tenant,
    version: &str,
    alg: Alg,
) -> Result<Rc<Key>, ApiError> {
    let load = async || {
        stored_keys::key(&ctx.store, ctx.crypto, master, tenant, version, alg, ctx.random, ctx.now_secs()).await
    };
    Ok(ctx.caches.stored_key(master, tenant, version, alg, ctx.now, load).await?)
}
