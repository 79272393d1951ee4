//! The tenant's keys as the OpenID Provider signs and verifies with them: which key signs a
//! client's tokens (its `id_token_signed_response_alg`), which one a presented token names, and
//! the RSA keys, cached per isolate and made when first needed.

use std::rc::Rc;

use crate::app::{ApiError, Ctx};
use crate::domain::jwt::{MasterKey, TenantKey};
use crate::domain::oidc::keys::{self as rsa_keys, RsaKey};
use crate::domain::oidc::tokens::{self, Signer};
use crate::domain::tenants::Tenant;
use crate::domain::tenants::clients::IdTokenAlg;

/// `JWT_MASTER_KEY`, or 404: without it this deployment issues no JWTs.
pub fn master_key<'a>(ctx: &Ctx<'a>) -> Result<&'a MasterKey, ApiError> {
    ctx.config
        .jwt_master_key
        .as_ref()
        .ok_or_else(|| ApiError::not_found("this deployment issues no JWTs: JWT_MASTER_KEY is not set"))
}

/// The tenant's RSA keys, newest (the signing one) first.
pub(crate) async fn rsa_keys_of(
    ctx: &Ctx<'_>,
    master: &MasterKey,
    tenant: &Tenant,
) -> Result<Vec<Rc<RsaKey>>, ApiError> {
    let mut out = Vec::new();
    for version in tenant.jwt_versions() {
        out.push(rsa_key(ctx, master, tenant, &version).await?);
    }
    Ok(out)
}

/// One of the tenant's keys, held.
pub(crate) enum SigningKey {
    Ed(Rc<TenantKey>),
    Rsa(Rc<RsaKey>),
}

impl SigningKey {
    pub(crate) fn signer(&self) -> Signer<'_> {
        match self {
            Self::Ed(key) => Signer::Ed(key),
            Self::Rsa(key) => Signer::Rsa(key),
        }
    }
}

/// The tenant's newest key of `alg`: the one that signs a client's tokens.
pub(crate) async fn signing_key(
    ctx: &Ctx<'_>,
    master: &MasterKey,
    tenant: &Tenant,
    alg: IdTokenAlg,
) -> Result<SigningKey, ApiError> {
    match alg {
        IdTokenAlg::EdDsa => {
            let keys = ctx.caches.jwt_keys(master, tenant, ctx.now);
            let key = keys.first().ok_or_else(|| ApiError::Internal { detail: "the tenant has no JWT key".into() })?;
            Ok(SigningKey::Ed(key.clone()))
        }
        IdTokenAlg::Rs256 => {
            let version = tenant.jwt_versions().into_iter().next().unwrap_or_default();
            Ok(SigningKey::Rsa(rsa_key(ctx, master, tenant, &version).await?))
        }
    }
}

/// What `check` makes of `token` with the tenant key its header names (any live version, Ed25519
/// or RSA); `None` when no key of the tenant has that id.
pub(crate) async fn with_named_key<T>(
    ctx: &Ctx<'_>,
    master: &MasterKey,
    tenant: &Tenant,
    token: &str,
    check: impl Fn(Signer<'_>) -> Option<T>,
) -> Result<Option<T>, ApiError> {
    let Some((kid, alg)) = tokens::named_key(token) else { return Ok(None) };
    Ok(match alg.as_str() {
        "EdDSA" => ctx
            .caches
            .jwt_keys(master, tenant, ctx.now)
            .iter()
            .find(|k| k.kid() == kid)
            .and_then(|k| check(Signer::Ed(k))),
        "RS256" => {
            rsa_keys_of(ctx, master, tenant).await?.iter().find(|k| k.kid() == kid).and_then(|k| check(Signer::Rsa(k)))
        }
        _ => None,
    })
}

/// The tenant's RSA key of `version`, from the isolate's cache, else read (or made) in the table.
pub(crate) async fn rsa_key(
    ctx: &Ctx<'_>,
    master: &MasterKey,
    tenant: &Tenant,
    version: &str,
) -> Result<Rc<RsaKey>, ApiError> {
    let load = async || rsa_keys::key(&ctx.store, master, tenant, version, ctx.random, ctx.now_secs()).await;
    Ok(ctx.caches.rsa_key(master, tenant, version, ctx.now, load).await?)
}
