//! `POST /v1/admin/tenants/{id}/secrets/{origin|webhook|jwt}` and `DELETE .../previous`
//! ([`crate::app::tenants::change_secret`]).

use crate::api::{ApiError, Ctx, Response, json_response, views};
use crate::domain::tenants::{SecretChange, SecretKind};
use crate::values::ids::TenantId;

/// Rotate: 200 `{"kind", "secret", "valid": 2}`, a new secret (shown this once) beside the
/// previous one, both valid. End the overlap: 200 `{"kind", "valid": 1}`. The JWT key rotates
/// the same way to its next version: the answer names the `kid` that signs from now on (no
/// secret: the JWKS publishes the key).
pub(super) async fn change(
    ctx: &Ctx<'_>,
    id: &TenantId,
    kind: &str,
    change: SecretChange,
) -> Result<Response, ApiError> {
    let kind = SecretKind::parse(kind).ok_or_else(|| ApiError::not_found("no such secret: origin, webhook or jwt"))?;
    let changed = crate::app::tenants::change_secret(ctx, id, kind, change).await?;
    let secret = (kind != SecretKind::Jwt && change == SecretChange::Rotate)
        .then(|| changed.secret.as_ref().map_or("", |s| s.expose()));
    let view = views::SecretRotated { kind: kind.as_str(), secret, kid: changed.kid, valid: changed.valid };
    Ok(json_response(200, &view))
}
