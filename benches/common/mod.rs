//! What the product benches share: the small dataset they seed once and reuse by marker, the
//! seeding options, and running a bench on every database kind whose server answers (the others
//! are skipped with one line saying how to start them).

use std::path::Path;

use criterion::Criterion;
use tenantbench::backend::{Admin, AnyDriver, Driver};
use tenantbench::op::BackendKind;
use tenantbench::scenario::Scenario;
use tenantbench::with_driver;

/// 40 tenants, 40,000 records, zipf sizes; `get_by_id` for workload-driven benches; one variant
/// (pool 2, concurrency 1) that benches vary.
const SCENARIO: &str = r#"
name = "bench"
prefix = "tb_bench"
question = "What does a tenant query cost by tenant size, index, layout and pool size?"
[population]
tenants = 40
documents = 40000
distribution = { zipf = { s = 1.1 } }
[workload.mix]
get_by_id = 1
[matrix]
max_pool_size = [2]
concurrency = [1]
"#;

/// The benches' scenario.
pub fn scenario() -> Scenario {
    Scenario::parse(Path::new("bench.toml"), SCENARIO).expect("the bench scenario parses")
}

/// A bench over one database kind's driver.
pub trait KindBench {
    /// Benches `d`; called once per kind whose server answers.
    fn bench<D: Driver>(&self, c: &mut Criterion, rt: &tokio::runtime::Runtime, d: &D);
}

/// Runs `b` on every database kind whose server answers; says why for the others.
pub fn each_kind(c: &mut Criterion, what: &str, b: &impl KindBench) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for kind in BackendKind::ALL {
        let any = AnyDriver::new(kind, None);
        with_driver!(&any, |d| {
            let doctor = rt.block_on(d.doctor());
            match doctor.unreachable {
                Some(why) => println!(
                    "SKIPPED {} {what}: {} does not answer ({why}); {}",
                    kind.name(),
                    d.redacted_uri(),
                    doctor.hints.first().map_or("", String::as_str)
                ),
                None => b.bench(c, &rt, d),
            }
        });
    }
}
