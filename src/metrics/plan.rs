//! Plan evidence of one call ([`ExplainRecord`]) and the guard against measuring empty
//! queries: a read whose plan found no record for a tenant that has some ([`empty_plans`]) —
//! a tenant value of the wrong type, a misspelt field, a filter no document matches.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::op::Op;

/// `explain` of one call.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct ExplainRecord {
    /// Operation.
    pub op: Op,
    /// Tenant id.
    pub tenant: String,
    /// Its class.
    pub class: String,
    /// Documents of that tenant in the collection queried.
    pub tenant_documents: u64,
    /// Documents in the collection queried (all tenants sharing it).
    pub collection_documents: u64,
    /// Winning plan stages, outermost first.
    pub stages: Vec<String>,
    /// `totalKeysExamined`.
    pub keys_examined: u64,
    /// `totalDocsExamined`.
    pub docs_examined: u64,
    /// `nReturned`.
    pub returned: u64,
    /// The query's limit, when it has one: work bounded by the query is at most a small
    /// multiple of it.
    pub limit: Option<u64>,
    /// PostgreSQL: rows the scan nodes read and a filter removed.
    #[serde(default)]
    pub rows_removed: Option<u64>,
    /// PostgreSQL: shared buffers hit (top plan node, so the whole query).
    #[serde(default)]
    pub buffers_hit: Option<u64>,
    /// PostgreSQL: shared buffers read from outside the buffer cache.
    #[serde(default)]
    pub buffers_read: Option<u64>,
    /// Records the query found: MongoDB's `nReturned`; on PostgreSQL the rows the plan's scan
    /// nodes kept (a count's one row is not a record). Absent in results written before.
    #[serde(default)]
    pub found: Option<u64>,
    /// The query found nothing for a tenant that has records: the largest tenant on an
    /// existing database, or a tenant the generator gave records. Its figures measure an empty
    /// query ([`empty_plans`] says so).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty: bool,
}

impl ExplainRecord {
    /// Whether the call found nothing though the tenant has records: `existing` (a team's
    /// database, where the largest tenant is explained) or the generator's count of the
    /// tenant's records in the collection.
    pub fn found_nothing(&self, existing: bool) -> bool {
        self.found == Some(0) && (existing || self.tenant_documents > 0)
    }
}

/// One sentence per variant and operation whose plan evidence found no record for a tenant
/// that has some (the records marked [`ExplainRecord::empty`]), over each trial's variant and
/// explain records: what the terminal, the report's
/// caveats and the gate's plan rules say of a run that measured empty queries.
pub fn empty_plans<'a>(
    trials: impl Iterator<Item = (&'a str, &'a [ExplainRecord])>,
    existing: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut seen: Vec<(&str, Op)> = Vec::new();
    for (variant, explain) in trials {
        for e in explain.iter().filter(|e| e.empty) {
            if seen.contains(&(variant, e.op)) {
                continue;
            }
            seen.push((variant, e.op));
            let has = if existing && e.tenant_documents == 0 {
                "the largest tenant".to_string()
            } else {
                format!("which has {} in the collection queried", e.tenant_documents)
            };
            out.push(format!(
                "{} in {}: the plan found 0 records for tenant {} ({has}){}: its figures measure an empty query — check the tenant value's type, the field names and the filter",
                e.op,
                variant,
                e.tenant,
                if existing { " on the existing database" } else { "" }
            ));
        }
    }
    out
}
