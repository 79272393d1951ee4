//! The table's health: the live table checked against what dynauth expects, in every region.

use crate::app::{ApiError, Ctx};
use crate::table::schema::{self, TableReport};

/// The home table's report (with every replica's mismatches added, named by region) and, with
/// replica regions, each region's own report or why it could not be read, home first.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    pub report: TableReport,
    pub regions: Vec<RegionHealth>,
}

/// One region's table: its report, or why it could not be read.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionHealth {
    pub region: String,
    pub table: Result<TableReport, String>,
}

/// Checks the table in every region: the details when all match, else 503 `table_mismatch`
/// listing every mismatch (a replica that cannot be read is one).
pub async fn check(ctx: &Ctx<'_>) -> Result<Health, ApiError> {
    let mut report = schema::check(ctx.store.db, ctx.store.schema).await?;
    let mut regions = Vec::new();
    if !ctx.config.replicas.is_empty() {
        regions.push(RegionHealth { region: ctx.config.dynamo.region.clone(), table: Ok(report.clone()) });
        for replica in &ctx.config.replicas {
            let db = ctx.connect.client(replica);
            db.set_deadline(ctx.now + ctx.config.request_deadline);
            let table = match schema::check(&db, ctx.store.schema).await {
                Ok(r) => {
                    report.mismatches.extend(r.mismatches.iter().map(|m| format!("{}: {m}", replica.region)));
                    Ok(r)
                }
                Err(e) => {
                    report.mismatches.push(format!("{}: the table could not be read: {e}", replica.region));
                    Err(e.to_string())
                }
            };
            regions.push(RegionHealth { region: replica.region.clone(), table });
        }
    }
    if report.ok() {
        return Ok(Health { report, regions });
    }
    Err(ApiError::TableMismatch {
        message: format!("the table does not match what dynauth expects: {}", report.mismatches.join("; ")),
        report: Box::new(report),
    })
}
