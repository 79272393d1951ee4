//! A tenant's OpenID Connect clients: register or replace one (its input checked against this
//! deployment's settings), read, list and delete them (a deleted client's grants end with it),
//! rotate a confidential client's secret.

use crate::app::pages::{Listed, Page};
use crate::app::tenants::{self, tenant_error};
use crate::app::{ApiError, Ctx};
use crate::domain::oidc;
use crate::domain::tenants::SecretChange;
use crate::domain::tenants::clients::{self, Client, ClientBody, ClientSpec};
use crate::values::ids::{ClientId, TenantId};

/// A client put: the client as saved, a new confidential client's secret (shown this once), and
/// whether it was registered now.
#[derive(Debug, Clone)]
pub struct Saved {
    pub client: Client,
    pub secret: Option<clients::ClientSecret>,
    pub created: bool,
}

/// A page of tenant `id`'s clients.
pub async fn list(ctx: &Ctx<'_>, id: &TenantId, page: &Page) -> Result<Listed<Client>, ApiError> {
    let scope = format!("clients:{id}");
    let start = page.start(ctx, &scope)?;
    let tenant = tenants::get(ctx, id).await?;
    Ok(Listed::of(ctx, &scope, clients::list(&ctx.store, &tenant, page.limit, start).await?))
}

/// Registers or replaces client `client_id` of tenant `id` from `body` (http:// redirect URIs
/// beyond loopback only with `ALLOW_LOCAL_TARGETS`).
pub async fn put(ctx: &Ctx<'_>, id: &TenantId, client_id: &ClientId, body: ClientBody) -> Result<Saved, ApiError> {
    let spec = ClientSpec::from_body(body, ctx.config.allow_local_targets)?;
    let tenant = tenants::get(ctx, id).await?;
    let (client, secret, created) =
        clients::put(&ctx.store, ctx.random, &tenant, client_id, spec, ctx.now_secs()).await.map_err(tenant_error)?;
    Ok(Saved { client, secret, created })
}

/// Client `client_id` of tenant `id`; 404 when either is not there.
pub async fn get(ctx: &Ctx<'_>, id: &TenantId, client_id: &ClientId) -> Result<Client, ApiError> {
    let tenant = tenants::get(ctx, id).await?;
    clients::get(&ctx.store, &tenant, client_id).await?.ok_or_else(no_client)
}

/// Deletes client `client_id`: its refresh tokens end now, its access tokens wherever they are
/// checked at home. How many grants were revoked; 404 when there is no such client.
pub async fn delete(ctx: &Ctx<'_>, id: &TenantId, client_id: &ClientId) -> Result<u32, ApiError> {
    let tenant = tenants::get(ctx, id).await?;
    if !clients::delete(&ctx.store, &tenant, client_id).await? {
        return Err(no_client());
    }
    Ok(oidc::revoke_client_grants(&ctx.store, &tenant, client_id, ctx.now_secs()).await?)
}

/// Rotates a confidential client's secret (the new one shown this once, the newest old one still
/// valid) or ends the overlap: the client and its new secret.
pub async fn change_secret(
    ctx: &Ctx<'_>,
    id: &TenantId,
    client_id: &ClientId,
    change: SecretChange,
) -> Result<(Client, Option<clients::ClientSecret>), ApiError> {
    let tenant = tenants::get(ctx, id).await?;
    clients::change_secret(&ctx.store, ctx.random, &tenant, client_id, change, ctx.now_secs())
        .await
        .map_err(tenant_error)
}

/// The 404 of a client that is not there.
pub fn no_client() -> ApiError {
    ApiError::not_found("no client with this id")
}
