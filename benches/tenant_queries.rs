//! The product's questions as criterion benches: the same tenant query for a small, the median
//! and the largest tenant, in a shared database with no index, `{tenant: 1}` and a compound
//! index, and in a database per tenant — on MongoDB and on PostgreSQL.
//!
//! Groups read `<database>/<op>`, benches `<layout and indexes>/<tenant>`, e.g.
//! `mongodb/list_recent/shared-compound/largest`, so that `--save-baseline` / `--baseline` and
//! criterion's HTML report (target/criterion/report) compare them naturally. The dataset (40
//! tenants, 40,000 records, zipf sizes) is seeded once per layout and reused by marker; changing
//! the index profile rebuilds only the indexes.
//!
//! Run: `cargo bench --bench tenant_queries` (about 4 minutes with both servers);
//! `cargo bench --bench tenant_queries -- mongodb/get_by_id` for one group. URIs from
//! `TENANTBENCH_MONGO_URI` / `TENANTBENCH_PG_URI`; a server that does not answer is skipped with
//! one line saying how to start it.

mod common;

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use tenantbench::backend::seed::SeedOptions;
use tenantbench::backend::{Backend, Dataset, Driver, TrialSetup};
use tenantbench::layout::Layout;
use tenantbench::metrics::results::Evidence;
use tenantbench::op::{Op, Request};
use tenantbench::population::Population;
use tenantbench::scenario::{Scenario, Variant};
use tenantbench::workload::collection_of;

/// Layout and index profile of each compared configuration, by name.
const CONFIGS: [(&str, Layout, &str); 4] = [
    ("shared-none", Layout::Shared, "none"),
    ("shared-tenant", Layout::Shared, "tenant"),
    ("shared-compound", Layout::Shared, "compound"),
    ("per-tenant", Layout::PerTenant, "tenant"),
];

const OPS: [Op; 3] = [Op::ListRecent, Op::GetById, Op::CountByStatus];

/// The tenants compared: (name, index).
fn tenants(pop: &Population) -> [(&'static str, usize); 3] {
    let n = pop.tenants.len();
    [("small", n - 1), ("median", n / 2), ("largest", 0)]
}

/// One configuration's backend, open for the benches, with what closes it.
async fn open<D: Driver>(
    d: &D,
    s: &Scenario,
    pop: &Population,
    v: &Variant,
) -> Result<(Arc<D::Backend>, D::Session), String> {
    let placement = s.placement(pop, v.layout);
    let opts = SeedOptions::from_scenario(s, v.layout, &v.indexes);
    d.seed(&Dataset::new(s, pop, &placement), &opts)
        .await
        .map_err(|e| e.to_string())?;
    let setup = TrialSetup {
        data: Dataset::new(s, pop, &placement),
        variant: v,
        worker: None,
    };
    d.preflight(&setup).await.map_err(|e| e.to_string())?;
    let (b, session) = d.open(&setup).await.map_err(|e| e.to_string())?;
    Ok((b, session))
}

struct TenantQueries;

impl common::KindBench for TenantQueries {
    /// Benches every configuration of one database kind.
    fn bench<D: Driver>(&self, c: &mut Criterion, rt: &tokio::runtime::Runtime, d: &D) {
        let kind = d.kind().name();
        let s = common::scenario();
        let pop = s.build_population();
        let base = s.matrix.variants[0].clone();
        for op in OPS {
            let mut g = c.benchmark_group(format!("{kind}/{}", op.name()));
            for (name, layout, indexes) in CONFIGS {
                let v = Variant {
                    backend: d.kind(),
                    layout,
                    indexes: indexes.to_string(),
                    ..base.clone()
                };
                let (backend, session) = match rt.block_on(open(d, &s, &pop, &v)) {
                    Ok(x) => x,
                    Err(e) => {
                        println!("SKIPPED {kind}/{} {name}: {e}", op.name());
                        continue;
                    }
                };
                for (who, tenant) in tenants(&pop) {
                    let key = pop.tenants[tenant].count(collection_of(op)) / 2;
                    let req = Request { tenant, op, key };
                    g.bench_function(format!("{name}/{who}"), |b| {
                        b.to_async(rt)
                            .iter(|| async { std::hint::black_box(backend.execute(&req).await) })
                    });
                }
                let placement = s.placement(&pop, layout);
                let setup = TrialSetup {
                    data: Dataset::new(&s, &pop, &placement),
                    variant: &v,
                    worker: None,
                };
                rt.block_on(d.close(&setup, session, backend, &mut Evidence::default()));
            }
            g.finish();
        }
    }
}

fn tenant_queries(c: &mut Criterion) {
    common::each_kind(c, "tenant_queries", &TenantQueries);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = tenant_queries
}
criterion_main!(benches);
