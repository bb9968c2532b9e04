//! Which pool size? criterion benches of a tenant read (`get_by_id`, tenants drawn by size) at
//! concurrency 8 and 64 against connection pools of 1, 2, 10 and 100, on MongoDB and on
//! PostgreSQL (shared layout, `{tenant: 1}`). Each measurement runs its operations from that
//! many concurrent tasks (`iter_custom`), so the time per operation is the pool's throughput
//! under that concurrency: a pool smaller than the concurrency queues checkouts, a larger one
//! lets more requests reach the server at once.
//!
//! Groups read `<database>/pool_sizes/c<concurrency>`, benches `pool<size>`.
//! Run: `cargo bench --bench pool_sizes` (about 2 minutes with both servers). A server that does
//! not answer is skipped with one line saying how to start it.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use tenantbench::backend::seed::SeedOptions;
use tenantbench::backend::{Backend, Dataset, Driver, TrialSetup};
use tenantbench::layout::Layout;
use tenantbench::metrics::results::Evidence;
use tenantbench::op::Op;
use tenantbench::pacing::Pacer;
use tenantbench::runner::RequestSource;
use tenantbench::scenario::Variant;
use tenantbench::workload::Workload;

const CONCURRENCY: [usize; 2] = [8, 64];
const POOLS: [u32; 4] = [1, 2, 10, 100];

/// `iters` operations from `concurrency` tasks; the wall time they took.
async fn concurrent<B: Backend>(
    backend: &Arc<B>,
    w: &Arc<Workload>,
    concurrency: usize,
    iters: u64,
) -> Duration {
    let next = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|i| {
            let (backend, w, next) = (backend.clone(), w.clone(), next.clone());
            tokio::spawn(async move {
                let mut state = w.worker(i);
                while next.fetch_add(1, Ordering::Relaxed) < iters {
                    let (req, _) = w.next(&mut state, 0);
                    std::hint::black_box(backend.execute(&req).await);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("bench task");
    }
    t0.elapsed()
}

struct PoolSizes;

impl common::KindBench for PoolSizes {
    fn bench<D: Driver>(&self, c: &mut Criterion, rt: &tokio::runtime::Runtime, d: &D) {
        let kind = d.kind().name();
        let s = common::scenario();
        let pop = s.build_population();
        let placement = s.placement(&pop, Layout::Shared);
        let opts = SeedOptions::from_scenario(&s, Layout::Shared, "tenant");
        if let Err(e) = rt.block_on(d.seed(&Dataset::new(&s, &pop, &placement), &opts)) {
            println!("SKIPPED {kind} pool_sizes: seeding failed: {e}");
            return;
        }
        let phases = tenantbench::scenario::PhasePlan::new(&s.workload, &s.phases);
        let w = Arc::new(Workload::from_scenario(&pop, &s, &phases));
        assert!(s.workload.mix.iter().all(|(o, _)| *o == Op::GetById));
        for concurrency in CONCURRENCY {
            let mut g = c.benchmark_group(format!("{kind}/pool_sizes/c{concurrency}"));
            for pool in POOLS {
                let v = Variant {
                    backend: d.kind(),
                    indexes: "tenant".into(),
                    max_pool_size: pool,
                    pacer: Pacer::Closed {
                        concurrency,
                        think: Duration::ZERO,
                    },
                    ..s.matrix.variants[0].clone()
                };
                let setup = TrialSetup {
                    data: Dataset::new(&s, &pop, &placement),
                    variant: &v,
                    worker: None,
                };
                let (backend, session) = match rt.block_on(async {
                    d.preflight(&setup).await?;
                    d.open(&setup).await
                }) {
                    Ok(x) => x,
                    Err(e) => {
                        println!("SKIPPED {kind} pool {pool}: {e}");
                        continue;
                    }
                };
                g.bench_function(format!("pool{pool}"), |b| {
                    b.to_async(rt)
                        .iter_custom(|iters| concurrent(&backend, &w, concurrency, iters))
                });
                rt.block_on(d.close(&setup, session, backend, &mut Evidence::default()));
            }
            g.finish();
        }
    }
}

fn pool_sizes(c: &mut Criterion) {
    common::each_kind(c, "pool_sizes", &PoolSizes);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = pool_sizes
}
criterion_main!(benches);
