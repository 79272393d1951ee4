//! The admin API: every route needs `Authorization: Bearer <ADMIN_TOKEN>`.

use serde_json::json;

use super::{ApiError, Ctx, Request, Response, json_response, only};
use crate::crypto::constant_time_eq;
use crate::dynamo::table;
use crate::runtime::{Runtime, Transport};

/// Checks the admin bearer token in constant time; 401 `unauthorized` otherwise.
pub fn authorize<T, R>(ctx: &Ctx<'_, T, R>, request: &Request) -> Result<(), ApiError> {
    let presented = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("");
    if !presented.is_empty()
        && constant_time_eq(
            presented.as_bytes(),
            ctx.config.admin_token.expose().as_bytes(),
        )
    {
        Ok(())
    } else {
        Err(ApiError::Unauthorized {
            code: "unauthorized",
            message: "this admin route needs Authorization: Bearer <ADMIN_TOKEN>".into(),
        })
    }
}

/// `GET /v1/admin/health`: the live table checked against the expected schema; 200 with the
/// details, or 503 `table_mismatch` listing every mismatch.
pub async fn health<T: Transport, R: Runtime>(
    ctx: &Ctx<'_, T, R>,
    request: &Request,
) -> Result<Response, ApiError> {
    only(request.method(), "GET")?;
    authorize(ctx, request)?;
    let report = table::check(ctx.db, &ctx.config.schema).await?;
    if report.ok() {
        Ok(json_response(
            200,
            &json!({ "status": "ok", "table": report }),
        ))
    } else {
        Err(ApiError::Unhealthy {
            code: "table_mismatch",
            message: format!(
                "the table does not match what dynauth expects: {}",
                report.mismatches.join("; ")
            ),
            details: json!({ "mismatches": report.mismatches, "table": report }),
        })
    }
}
