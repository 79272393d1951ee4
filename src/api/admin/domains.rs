//! A tenant's domains: `GET .../domains`, `PUT|DELETE .../domains/{host}` and
//! `POST .../domains/{host}/verify` ([`crate::app::domains`]).

use serde::Deserialize;

use crate::api::body::host_of;
use crate::api::{ApiError, Ctx, Request, Response, body, empty_response, json_response, views};
use crate::app::domains;
use crate::domain::tenants::DomainStatus;
use crate::values::ids::TenantId;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimBody {
    status: DomainStatus,
}

/// `{"domains": [...]}`.
pub(super) async fn list(ctx: &Ctx<'_>, id: &TenantId) -> Result<Response, ApiError> {
    let domains = domains::list(ctx, id).await?;
    Ok(json_response(200, &views::Domains { domains: domains.iter().map(views::DomainView::from).collect() }))
}

/// `PUT` `{"status"}` claims the host (201) or changes its status (200); `DELETE` releases it (204).
pub(super) async fn domain(
    ctx: &Ctx<'_>,
    request: &Request,
    id: &TenantId,
    raw_host: &str,
) -> Result<Response, ApiError> {
    let host = host_of(raw_host)?;
    match request.method().as_str() {
        "PUT" => {
            let ClaimBody { status } = body::json(request)?;
            let (domain, created) = domains::claim(ctx, id, &host, status).await?;
            Ok(json_response(if created { 201 } else { 200 }, &views::DomainView::from(&domain.entry())))
        }
        "DELETE" => {
            domains::release(ctx, id, &host).await?;
            Ok(empty_response(204))
        }
        _ => Err(ApiError::MethodNotAllowed { allow: "PUT, DELETE" }),
    }
}

/// Proves the host reaches this deployment ([`domains::verify`]): 200 with the `ready` domain.
pub(super) async fn verify(ctx: &Ctx<'_>, id: &TenantId, raw_host: &str) -> Result<Response, ApiError> {
    let domain = domains::verify(ctx, id, &host_of(raw_host)?).await?;
    Ok(json_response(200, &views::DomainView::from(&domain.entry())))
}
