//! Verification: counts and order-independent checksums per tenant and collection, read back
//! from the databases and compared with what the generator says.

use std::collections::HashMap;

use futures_util::{StreamExt, TryStreamExt, stream};
use mongodb::bson::{RawBsonRef, RawDocumentBuf, doc};

use super::{Context, DbState, MongoError, Servers, inspect};
use crate::datagen::{CanonicalEncoder, Collection, Digest, expected_digest};
use crate::layout::Placement;
use crate::population::Population;
use crate::scenario::Scenario;

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
}

impl VerifyReport {
    /// Whether everything matched.
    pub fn ok(&self) -> bool {
        self.mismatches.is_empty() && self.marker_problems.is_empty()
    }
}

/// What one database held: its index in the placement, a marker problem if any, and per
/// collection the digests by tenant and the number of documents read.
type DbScan = (
    usize,
    Option<String>,
    Vec<(Collection, HashMap<String, Digest>, u64)>,
);

/// Hashes a BSON document read back from a database in canonical form.
fn hash_raw(enc: &mut CanonicalEncoder, d: &mongodb::bson::RawDocument) -> u128 {
    enc.begin();
    for el in d.iter() {
        let Ok((k, v)) = el else {
            enc.other("<malformed>", &[]);
            continue;
        };
        match v {
            RawBsonRef::String(s) => enc.str(k, s),
            RawBsonRef::Int64(i) => enc.int(k, i),
            RawBsonRef::Int32(i) => enc.int(k, i64::from(i)),
            RawBsonRef::DateTime(t) => enc.time(k, t.timestamp_millis()),
            RawBsonRef::Boolean(b) => enc.bool(k, b),
            RawBsonRef::Null => enc.null(k),
            other => {
                let raw = format!("{other:?}");
                enc.other(k, raw.as_bytes());
            }
        }
    }
    enc.finish()
}

/// What the generator says every tenant's collections hold, computed on a blocking thread.
pub(crate) fn expected_digests(
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
pub(crate) fn compare(
    report: &mut VerifyReport,
    d: &crate::layout::DbPlan,
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
        // Records of tenants that do not belong in this database.
        let mut extra: Vec<(String, Digest)> = found.into_iter().collect();
        extra.sort_by(|a, b| a.0.cmp(&b.0));
        for (tenant, got) in extra {
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

/// Verifies a placement: every tenant collection's count and checksum against the generator,
/// and every database's marker against the scenario's definition.
///
/// # Errors
/// Driver errors; differences are reported in the [`VerifyReport`], not as errors.
pub async fn verify(
    servers: &Servers,
    scenario: &Scenario,
    pop: &Population,
    placement: &Placement,
    progress: bool,
) -> Result<VerifyReport, MongoError> {
    let pb = super::progress_bar("verifying", "docs", pop.documents(), progress);
    let hash = super::definition_hash(scenario, placement.layout);
    let mut report = VerifyReport {
        databases: placement.databases.len(),
        ..Default::default()
    };

    // Expected digests, computed on blocking threads while the databases are read.
    let expected = expected_digests(scenario.seed, pop);

    let scans: Vec<DbScan> = stream::iter(placement.databases.iter().enumerate())
        .map(|(di, d)| {
            let db = servers.db(&d.server, &d.name);
            let hash = hash.clone();
            let pb = pb.clone();
            async move {
                let problem = match inspect(&db).await? {
                    DbState::Empty => {
                        Some(format!("{}: missing (not seeded in this layout?)", d.name))
                    }
                    DbState::Foreign => Some(format!("{}: no tenantbench marker", d.name)),
                    DbState::Marked(m) if m.definition_hash != hash => Some(format!(
                        "{}: seeded from another definition (marker {}, scenario {})",
                        d.name, m.definition_hash, hash
                    )),
                    DbState::Marked(m) if !m.complete => {
                        Some(format!("{}: seed did not complete", d.name))
                    }
                    DbState::Marked(m) if m.dirty => Some(format!(
                        "{}: dirty (write operations ran; differences are expected)",
                        d.name
                    )),
                    DbState::Marked(_) => None,
                };
                let mut per = Vec::new();
                for c in Collection::ALL {
                    let mut cursor = db
                        .collection::<RawDocumentBuf>(c.name())
                        .find(doc! {})
                        .batch_size(10_000)
                        .await
                        .ctx(|| format!("reading {}.{}", d.name, c.name()))?;
                    let mut digests: HashMap<String, Digest> = HashMap::new();
                    let mut enc = CanonicalEncoder::default();
                    let mut n = 0u64;
                    while let Some(doc) = cursor
                        .try_next()
                        .await
                        .ctx(|| format!("reading {}.{}", d.name, c.name()))?
                    {
                        let tenant = doc
                            .get_str("tenant")
                            .unwrap_or("<no tenant field>")
                            .to_string();
                        let h = hash_raw(&mut enc, &doc);
                        digests.entry(tenant).or_default().add(h);
                        n += 1;
                        pb.inc(1);
                    }
                    per.push((c, digests, n));
                }
                Ok::<_, MongoError>((di, problem, per))
            }
        })
        .buffer_unordered(8)
        .try_collect()
        .await?;

    let expected = expected
        .await
        .map_err(|e| MongoError::State(format!("checksum worker failed: {e}")))?;
    let mut scans = scans;
    scans.sort_by_key(|s| s.0);
    for (di, problem, per) in scans {
        report.marker_problems.extend(problem);
        compare(&mut report, &placement.databases[di], pop, &expected, per);
    }
    Ok(report)
}
