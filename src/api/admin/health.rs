//! `GET /v1/admin/health`: the table checked in every region ([`crate::app::health`]).

use crate::api::{ApiError, Ctx, Response, json_response, views};

/// 200 with the details, or 503 `table_mismatch` listing every mismatch.
pub(super) async fn check(ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let health = crate::app::health::check(ctx).await?;
    let regions: Vec<views::RegionHealth> = health
        .regions
        .into_iter()
        .map(|r| {
            let (table, error) = match r.table {
                Ok(report) => (Some(report), None),
                Err(e) => (None, Some(e)),
            };
            views::RegionHealth { region: r.region, table, error }
        })
        .collect();
    Ok(json_response(200, &views::AdminHealth { status: "ok", table: &health.report, regions: &regions }))
}
