//! Verification on PostgreSQL: every row read back, hashed in the same canonical form as a
//! generated record (so the checksums equal MongoDB's for the same scenario), and compared per
//! tenant and table with the generator; markers checked against the scenario's definition.

use std::collections::HashMap;

use futures_util::{TryStreamExt, pin_mut};
use tokio_postgres::types::Type;

use super::schema::columns;
use super::{Context, PgError, connect, ident, ms_of, read_marker};
use crate::backend::marker::{DbState, definition_hash, verify_problem};
use crate::backend::seed::progress_bar;
use crate::backend::verify::{VerifyReport, compare, expected_digests};
use crate::datagen::{CanonicalEncoder, Collection, Digest};
use crate::layout::Layout;
use crate::layout::Placement;
use crate::population::Population;
use crate::scenario::Scenario;

/// The canonical hash of a row read with `cols` in order (the form every record is hashed in,
/// so a row's hash equals its generated record's and MongoDB's document's).
pub(super) fn hash_row(
    enc: &mut CanonicalEncoder,
    cols: &[super::schema::Column],
    row: &tokio_postgres::Row,
) -> u128 {
    enc.begin();
    for (i, col) in cols.iter().enumerate() {
        match col.ty {
            Type::INT8 => enc.int(col.field, row.get::<_, i64>(i)),
            Type::TIMESTAMPTZ => enc.time(col.field, ms_of(row.get::<_, std::time::SystemTime>(i))),
            Type::BOOL => enc.bool(col.field, row.get::<_, bool>(i)),
            _ => enc.str(col.field, row.get::<_, &str>(i)),
        }
    }
    enc.finish()
}

/// Verifies a placement on the PostgreSQL server of `uri`.
///
/// # Errors
/// Server errors; differences are reported in the [`VerifyReport`], not as errors.
pub async fn verify(
    uri: &str,
    scenario: &Scenario,
    pop: &Population,
    placement: &Placement,
    progress: bool,
) -> Result<VerifyReport, PgError> {
    let pb = progress_bar("verifying", "rows", pop.documents(), progress);
    let hash = definition_hash(scenario, placement.layout);
    let expected = expected_digests(scenario.seed, pop);
    let admin = connect(uri, None).await?;
    let mut report = VerifyReport {
        databases: placement.databases.len(),
        ..Default::default()
    };
    let mut scans = Vec::new();
    for d in &placement.databases {
        if !super::database_exists(&admin, &d.name).await? {
            report
                .marker_problems
                .extend(verify_problem(&d.name, &DbState::Empty, &hash));
            scans.push((d, Vec::new()));
            continue;
        }
        let c = connect(uri, Some(&d.name)).await?;
        let state = match read_marker(&c, "public").await? {
            None => DbState::Foreign,
            Some(m) => DbState::Marked(Box::new(m)),
        };
        let problem = verify_problem(&d.name, &state, &hash);
        report.marker_problems.extend(problem);
        let schemas: Vec<String> = if placement.layout == Layout::SchemaPerTenant {
            d.tenants
                .iter()
                .map(|&t| super::tenant_schema(&pop.tenants[t].id))
                .collect()
        } else {
            vec!["public".into()]
        };
        let mut per: Vec<(Collection, HashMap<String, Digest>, u64)> = Collection::ALL
            .iter()
            .map(|&coll| (coll, HashMap::new(), 0))
            .collect();
        for s in &schemas {
            for (coll, digests, n) in per.iter_mut() {
                let cols = columns(*coll);
                let list: Vec<String> = cols.iter().map(|c| ident(&c.name)).collect();
                let sql = format!(
                    "SELECT {} FROM {}.{}",
                    list.join(", "),
                    ident(s),
                    ident(coll.name())
                );
                let what = || format!("reading {}.{}.{}", d.name, s, coll.name());
                let rows = c
                    .query_raw(&sql, std::iter::empty::<i32>())
                    .await
                    .ctx(what)?;
                pin_mut!(rows);
                let mut enc = CanonicalEncoder::default();
                while let Some(row) = rows.try_next().await.ctx(what)? {
                    let h = hash_row(&mut enc, &cols, &row);
                    let tenant: String = row.get(1);
                    digests.entry(tenant).or_default().add(h);
                    *n += 1;
                    pb.inc(1);
                }
            }
        }
        scans.push((d, per));
    }
    pb.finish_and_clear();
    let expected = expected
        .await
        .map_err(|e| PgError::State(format!("checksum worker failed: {e}")))?;
    for (d, per) in scans {
        if !per.is_empty() {
            compare(&mut report, d, pop, &expected, per);
        }
    }
    Ok(report)
}
