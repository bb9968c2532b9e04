//! Verification, shared by every database: what the generator says each tenant's collections
//! hold (counts and order-independent checksums), and the comparison with what a database
//! read back, as a [`VerifyReport`]. Each database kind reads its records its own way.

use std::collections::HashMap;

use crate::datagen::{Collection, Digest, expected_digest};
use crate::layout::DbPlan;
use crate::population::Population;

/// One tenant collection whose contents differ from the generator's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mismatch {
    /// Database.
    pub database: String,
    /// Tenant id (as found in the documents; may be unknown to the scenario).
    pub tenant: String,
    /// Collection.
    pub collection: Collection,
    /// Expected record count.
    pub expected_count: u64,
    /// Records found.
    pub actual_count: u64,
    /// Whether the checksums agree.
    pub checksum_matches: bool,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}.{} tenant {}: expected {} documents, found {}",
            self.database,
            self.collection.name(),
            self.tenant,
            self.expected_count,
            self.actual_count
        )?;
        if self.expected_count == self.actual_count && !self.checksum_matches {
            write!(f, "; checksum differs (a document was modified)")?;
        } else if !self.checksum_matches {
            write!(f, "; checksum differs")?;
        }
        Ok(())
    }
}

/// The result of a verification.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct VerifyReport {
    /// Databases checked.
    pub databases: usize,
    /// (tenant, collection) pairs checked.
    pub checked: usize,
    /// Documents read.
    pub documents: u64,
    /// Differences found.
    pub mismatches: Vec<Mismatch>,
    /// Problems with markers (missing, incomplete, another definition, dirty).
    pub marker_problems: Vec<String>,
    /// Records a migration left in the database a tenant moved out of (database, tenant,
    /// collection, records): expected unless the move deleted its source, never a mismatch.
    pub left_behind: Vec<(String, String, Collection, u64)>,
}

impl VerifyReport {
    /// Whether everything matched.
    pub fn ok(&self) -> bool {
        self.mismatches.is_empty() && self.marker_problems.is_empty()
    }
}

/// What the generator says every tenant's collections hold, computed on a blocking thread.
pub fn expected_digests(
    seed: u64,
    pop: &Population,
) -> tokio::task::JoinHandle<HashMap<(usize, Collection), Digest>> {
    let jobs: Vec<(usize, Collection, String, u64)> = pop
        .tenants
        .iter()
        .enumerate()
        .flat_map(|(i, t)| Collection::ALL.map(|c| (i, c, t.id.clone(), t.count(c))))
        .collect();
    tokio::task::spawn_blocking(move || {
        jobs.into_iter()
            .map(|(i, c, id, n)| ((i, c), expected_digest(seed, &id, c, n)))
            .collect()
    })
}

/// Compares what one database held (per collection: digests by tenant, records read) with the
/// generator's digests of the tenants placed there; adds the differences to the report.
pub fn compare(
    report: &mut VerifyReport,
    d: &DbPlan,
    pop: &Population,
    expected: &HashMap<(usize, Collection), Digest>,
    per: Vec<(Collection, HashMap<String, Digest>, u64)>,
) {
    for (c, mut found, n) in per {
        report.documents += n;
        for &t in &d.tenants {
            let tenant = &pop.tenants[t];
            let want = expected[&(t, c)];
            let got = found.remove(&tenant.id).unwrap_or_default();
            report.checked += 1;
            if want != got {
                report.mismatches.push(Mismatch {
                    database: d.name.clone(),
                    tenant: tenant.id.clone(),
                    collection: c,
                    expected_count: want.count,
                    actual_count: got.count,
                    checksum_matches: want.checksum == got.checksum,
                });
            }
        }
        // Records of tenants that do not belong in this database: a moved tenant's copy left
        // in its former database, or strangers.
        let mut extra: Vec<(String, Digest)> = found.into_iter().collect();
        extra.sort_by(|a, b| a.0.cmp(&b.0));
        for (tenant, got) in extra {
            if d.moved_out.iter().any(|&t| pop.tenants[t].id == tenant) {
                report
                    .left_behind
                    .push((d.name.clone(), tenant, c, got.count));
                continue;
            }
            report.mismatches.push(Mismatch {
                database: d.name.clone(),
                tenant,
                collection: c,
                expected_count: 0,
                actual_count: got.count,
                checksum_matches: false,
            });
        }
    }
}
