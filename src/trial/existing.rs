//! Runs against a team's own database (`[target] existing = true`): its tenants — counted in
//! the database, read-only, through the driver's `profile` reader, or read from a tenants file
//! — ranked into the run's population. What `run` refuses for one is `settings`' (flags
//! resolved once).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Result, bail};

use super::plan::RunPlan;
use crate::audit::Scope;
use crate::backend::Inspect;
use crate::datagen::Collection;
use crate::metrics::results::TargetInfo;
use crate::op::BackendKind;
use crate::population::{Population, TenantValue};
use crate::scenario::Scenario;
use crate::scenario::target::{TargetSpec, TenantsFrom};
use crate::with_driver;

/// Collections of up to this many documents are counted exactly; larger ones from a sample of
/// this size (as `profile`'s default).
const EXACT_UP_TO: u64 = 1_000_000;
/// Documents sampled per collection to find which carry the tenant field.
const FIELD_SAMPLE: u64 = 1000;

/// An existing target's tenants: the population, and each tenant's documents in the
/// collections that were counted (by tenant index; empty with a tenants file).
#[derive(Debug, Clone, Default)]
pub struct Existing {
    /// The tenants, heaviest first.
    pub pop: Population,
    /// Collection → documents of each tenant (by index).
    pub documents: BTreeMap<String, Vec<u64>>,
    /// Collection → its documents (the server's count or estimate).
    pub totals: BTreeMap<String, u64>,
    /// The tenant field they were counted by (given or detected); `None` with a tenants file.
    pub field: Option<String>,
}

impl Existing {
    /// Documents of tenant `i` in `collection`, when they were counted.
    pub fn documents_of(&self, collection: &str, i: usize) -> u64 {
        self.documents
            .get(collection)
            .and_then(|d| d.get(i))
            .copied()
            .unwrap_or(0)
    }
}

/// What the results record of an existing target: the database, how its tenants were found,
/// and whether the run only read.
pub fn info(s: &Scenario, t: &TargetSpec, e: &Existing, kind: BackendKind) -> TargetInfo {
    TargetInfo {
        backend: kind.name().into(),
        database: t.database.clone(),
        schema: t.schema.clone(),
        tenant_field: e.field.clone(),
        tenants_from: t.tenants_from(),
        read_only: s.mix_writes().is_none(),
    }
}

/// The run's tenants on an existing target: from its tenants file, or counted in the database
/// through the run's driver of `kind` (read-only).
///
/// # Errors
/// An unreadable tenants file, an unreachable server, no tenant field or no tenants, a
/// collection of `[target]` or of an operation that the database lacks.
pub async fn tenants(plan: &RunPlan, t: &TargetSpec, kind: BackendKind) -> Result<Existing> {
    let s = &plan.scenario;
    let collections = match &t.tenants {
        TenantsFrom::File(file) => {
            let dir = s.path.parent().unwrap_or(Path::new("."));
            let rows = crate::http::staging::tenant_rows(file, dir)?;
            return Ok(Existing {
                pop: Population::ranked(rows, Some(&s.population), |_| [0; Collection::COUNT]),
                documents: BTreeMap::new(),
                totals: BTreeMap::new(),
                field: t.tenant_field.clone(),
            });
        }
        TenantsFrom::Database { collections } => collections,
    };
    let scope = Scope {
        databases: vec![t.database.clone()],
        schemas: t.schema.iter().cloned().collect(),
        field: t.tenant_field.clone(),
        sample: FIELD_SAMPLE,
    };
    let driver = plan.driver(kind);
    eprintln!(
        "{}: counting the tenants of {} (read-only) …",
        s.name, t.database
    );
    let counted = with_driver!(&driver, |d| d.profile(&scope, EXACT_UP_TO).await?);
    let Some(field) = counted.field.clone() else {
        bail!(
            "{}: no collection of {} carries a tenant field tenantbench knows (tenant, tenantId, tenant_id, companyId, orgId, accountId, …); name yours with [target] tenant_field",
            s.path.display(),
            t.database
        );
    };
    check_collections(s, t, &counted, &field, collections)?;
    let weighed = |name: &str| collections.is_empty() || collections.iter().any(|c| c == name);
    let mut weight: BTreeMap<&str, u64> = BTreeMap::new();
    for c in counted.collections.iter().filter(|c| weighed(&c.name)) {
        for (tenant, n) in &c.per_tenant {
            *weight.entry(tenant).or_default() += n;
        }
    }
    if weight.is_empty() {
        bail!(
            "{}: {} has no documents with `{field}`: no tenants to run",
            s.path.display(),
            t.database
        );
    }
    let rows = weight
        .iter()
        .map(|(id, w)| (id.to_string(), (*w).max(1), None))
        .collect();
    let mut pop = Population::ranked(rows, Some(&s.population), |_| [0; Collection::COUNT]);
    pop.values = typed_values(&pop, &counted.collections);
    let documents = counted
        .collections
        .iter()
        .map(|c| {
            let per: Vec<u64> = pop
                .tenants
                .iter()
                .map(|tn| c.per_tenant.get(&tn.id).copied().unwrap_or(0))
                .collect();
            (c.name.clone(), per)
        })
        .collect();
    eprintln!(
        "  {} tenants by `{field}` ({}), {} documents; the largest: {} ({})",
        pop.tenants.len(),
        pop.value(0).type_name(),
        pop.documents(),
        pop.tenants[0].id,
        pop.tenants[0].documents
    );
    let totals = counted
        .collections
        .iter()
        .map(|c| (c.name.clone(), c.documents))
        .collect();
    Ok(Existing {
        pop,
        documents,
        totals,
        field: Some(field),
    })
}

/// Refuses a count whose collections do not hold what the run reads: none carries the tenant
/// field, or `[target] collections` or an operation names one that does not.
fn check_collections(
    s: &Scenario,
    t: &TargetSpec,
    counted: &crate::profile::Profiled,
    field: &str,
    collections: &[String],
) -> Result<()> {
    let have: Vec<&str> = counted
        .collections
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    if have.is_empty() {
        bail!(
            "{}: no collection of {} carries `{field}`",
            s.path.display(),
            t.database
        );
    }
    let missing = |name: &str| !have.contains(&name);
    if let Some(c) = collections.iter().find(|c| missing(c)) {
        bail!(
            "{}: [target] collections names `{c}`, but the collections of {} that carry `{field}` are {}",
            s.path.display(),
            t.database,
            have.join(", ")
        );
    }
    for op in s.mix_ops() {
        if let Some(o) = s.operations.iter().find(|o| o.op == op)
            && missing(&o.collection)
        {
            bail!(
                "{}: operation `{op}` reads `{}`, but the collections of {} that carry `{field}` are {}",
                s.path.display(),
                o.collection,
                t.database,
                have.join(", ")
            );
        }
    }
    Ok(())
}

/// The typed value of each tenant (by index) where a collection stores it as something other
/// than a string — what `{{tenant}}` must send to match — or nothing when every value is a
/// string. A tenant stored in several types is asked for in the first collection's type, and
/// said so.
fn typed_values(pop: &Population, colls: &[crate::profile::Counted]) -> Vec<TenantValue> {
    if colls.iter().all(|c| c.values.is_empty()) {
        return Vec::new();
    }
    let mut mixed: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let values = pop
        .tenants
        .iter()
        .map(|tn| {
            let mut found: Option<TenantValue> = None;
            for c in colls.iter().filter(|c| c.per_tenant.contains_key(&tn.id)) {
                let v = c
                    .values
                    .get(&tn.id)
                    .cloned()
                    .unwrap_or_else(|| TenantValue::Text(tn.id.clone()));
                match &found {
                    Some(f) if f.type_name() != v.type_name() => {
                        mixed
                            .entry(c.name.as_str())
                            .or_default()
                            .push(v.type_name());
                    }
                    Some(_) => {}
                    None => found = Some(v),
                }
            }
            found.unwrap_or_else(|| TenantValue::Text(tn.id.clone()))
        })
        .collect();
    for (c, types) in mixed {
        eprintln!(
            "  warning: {c} stores some tenants' values as {} where another collection stores them in another type; their queries on {c} ask in the other collection's type",
            types[0]
        );
    }
    values
}
