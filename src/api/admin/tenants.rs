//! `GET /v1/admin/tenants` and `PUT|GET|DELETE /v1/admin/tenants/{id}` ([`crate::app::tenants`]).

use crate::api::{ApiError, Ctx, Request, Response, body, empty_response, json_response, views};
use crate::app::tenants;
use crate::domain::tenants::TenantBody;
use crate::values::ids::TenantId;

/// A page of the tenants (`?limit=&cursor=`).
pub(super) async fn list(ctx: &Ctx<'_>, request: &Request) -> Result<Response, ApiError> {
    let listed = tenants::list(ctx, &body::page(request)?).await?;
    let view = views::Tenants {
        tenants: listed.items.iter().map(views::TenantView::from).collect(),
        next_cursor: listed.next_cursor,
    };
    Ok(json_response(200, &view))
}

/// `PUT` creates (201, with its secrets shown this once) or replaces (200) a tenant; `GET` shows
/// it; `DELETE` deletes it with its domains (204).
pub(super) async fn tenant(ctx: &Ctx<'_>, request: &Request, id: &TenantId) -> Result<Response, ApiError> {
    match request.method().as_str() {
        "PUT" => {
            let saved = tenants::put(ctx, id, body::json::<TenantBody>(request)?).await?;
            if !saved.created {
                return Ok(json_response(200, &views::TenantView::from(&saved.tenant)));
            }
            let secrets = saved.secrets.as_ref();
            let view = views::TenantCreated {
                tenant: views::TenantView::from(&saved.tenant),
                secrets: views::ShownSecrets {
                    origin: secrets.map_or("", |s| s.origin.expose()),
                    webhook: secrets.map_or("", |s| s.webhook.expose()),
                },
            };
            Ok(json_response(201, &view))
        }
        "GET" | "HEAD" => Ok(json_response(200, &views::TenantView::from(&tenants::get(ctx, id).await?))),
        "DELETE" => {
            tenants::delete(ctx, id).await?;
            Ok(empty_response(204))
        }
        _ => Err(ApiError::MethodNotAllowed { allow: "GET, PUT, DELETE" }),
    }
}
