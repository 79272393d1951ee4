//! A tenant's OpenID Connect clients: `GET .../clients`, `PUT|GET|DELETE .../clients/{client_id}`,
//! `POST .../clients/{client_id}/secret` and `DELETE .../secret/previous` ([`crate::app::clients`]).

use crate::api::body::client_id_of;
use crate::api::{ApiError, Ctx, Request, Response, body, empty_response, json_response, views};
use crate::app::clients;
use crate::domain::tenants::SecretChange;
use crate::domain::tenants::clients::{ClientBody, ClientSecret};
use crate::values::ids::TenantId;

/// A page of the tenant's clients.
pub(super) async fn list(ctx: &Ctx<'_>, request: &Request, id: &TenantId) -> Result<Response, ApiError> {
    let listed = clients::list(ctx, id, &body::page(request)?).await?;
    let view = views::Clients {
        clients: listed.items.iter().map(views::ClientView::from).collect(),
        next_cursor: listed.next_cursor,
    };
    Ok(json_response(200, &view))
}

/// Register (201, a confidential client's secret shown this once) or replace (200) a client,
/// show it, delete it (204).
pub(super) async fn client(ctx: &Ctx<'_>, request: &Request, id: &TenantId, raw: &str) -> Result<Response, ApiError> {
    let client_id = client_id_of(raw)?;
    match request.method().as_str() {
        "PUT" => {
            let saved = clients::put(ctx, id, &client_id, body::json::<ClientBody>(request)?).await?;
            let view = views::ClientSaved {
                client: views::ClientView::from(&saved.client),
                client_secret: saved.secret.as_ref().map(ClientSecret::expose),
            };
            Ok(json_response(if saved.created { 201 } else { 200 }, &view))
        }
        "GET" => Ok(json_response(200, &views::ClientView::from(&clients::get(ctx, id, &client_id).await?))),
        "DELETE" => {
            clients::delete(ctx, id, &client_id).await?;
            Ok(empty_response(204))
        }
        _ => Err(ApiError::MethodNotAllowed { allow: "GET, PUT, DELETE" }),
    }
}

/// Rotate (the new secret shown this once, the newest old one still valid) or end the overlap.
pub(super) async fn change_secret(
    ctx: &Ctx<'_>,
    id: &TenantId,
    raw: &str,
    change: SecretChange,
) -> Result<Response, ApiError> {
    let client_id = client_id_of(raw)?;
    let (client, secret) = clients::change_secret(ctx, id, &client_id, change).await?;
    let view = views::ClientSecretChanged {
        client_id: &client.client_id,
        client_secret: secret.as_ref().map(ClientSecret::expose),
        valid: client.secret_hashes.len(),
    };
    Ok(json_response(200, &view))
}
