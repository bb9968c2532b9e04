//! Verification: counts and order-independent checksums per tenant and collection, read back
//! from the databases and compared with what the generator says.

use std::collections::HashMap;

use futures_util::{StreamExt, TryStreamExt, stream};
use mongodb::bson::{RawBsonRef, RawDocumentBuf, doc};

use super::{Context, MongoError, Servers, inspect};
use crate::backend::marker::{definition_hash, verify_problem};
use crate::backend::seed::progress_bar;
use crate::backend::verify::{VerifyReport, compare, expected_digests};
use crate::datagen::{CanonicalEncoder, Collection, Digest};
use crate::layout::Placement;
use crate::population::Population;
use crate::scenario::Scenario;

/// What one database held: its index in the placement, a marker problem if any, and per
/// collection the digests by tenant and the number of documents read.
type DbScan = (
    usize,
    Option<String>,
    Vec<(Collection, HashMap<String, Digest>, u64)>,
);

/// Hashes a BSON document read back from a database in canonical form.
pub(super) fn hash_raw(enc: &mut CanonicalEncoder, d: &mongodb::bson::RawDocument) -> u128 {
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
    let pb = progress_bar("verifying", "docs", pop.documents(), progress);
    let hash = definition_hash(scenario, placement.layout);
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
                let problem = verify_problem(&d.name, &inspect(&db).await?, &hash);
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
