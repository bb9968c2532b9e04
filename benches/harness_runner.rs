//! Harness overhead: the runner (scheduling, timing, HDR recording) over a zero-delay null
//! backend against a bare loop calling the same backend, same task count, same runtime. The
//! issue's target: runner >= 90% of the bare loop's operations per second.
//!
//! Run: `cargo bench --bench harness_runner`

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tenantbench::backend::Backend;
use tenantbench::backend::null::NullBackend;
use tenantbench::metrics::{histogram, micros};
use tenantbench::op::{Op, Request};
use tenantbench::pacing::{Pacer, StopCondition};
use tenantbench::runner::{Repeat, RunConfig, RunIo, run};

const OPS: u64 = 200_000;
const CONCURRENCY: usize = 4;

const GET: Request = Request {
    tenant: 0,
    op: Op::GetById,
    key: 0,
};

/// `CONCURRENCY` tasks calling the backend directly, `OPS` calls in all; with `timed`, each call
/// is also timed into a histogram (the floor of any harness that measures operations).
async fn bare(timed: bool) {
    let backend = Arc::new(NullBackend::new(Duration::ZERO));
    let per = OPS / CONCURRENCY as u64;
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let backend = backend.clone();
            tokio::spawn(async move {
                let mut h = histogram();
                for _ in 0..per {
                    if timed {
                        let t = tokio::time::Instant::now();
                        std::hint::black_box(backend.execute(&GET).await);
                        h.saturating_record(micros(t.elapsed()));
                    } else {
                        std::hint::black_box(backend.execute(&GET).await);
                    }
                }
                h
            })
        })
        .collect();
    for t in tasks {
        std::hint::black_box(t.await.expect("task"));
    }
}

fn overhead(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut g = c.benchmark_group("harness_overhead");
    g.throughput(Throughput::Elements(OPS));
    g.bench_function("bare_loop", |b| b.to_async(&rt).iter(|| bare(false)));
    g.bench_function("bare_loop_timed", |b| b.to_async(&rt).iter(|| bare(true)));
    g.bench_function("runner_closed_loop", |b| {
        b.to_async(&rt).iter(|| async {
            let backend = Arc::new(NullBackend::new(Duration::ZERO));
            let pacer = Pacer::Closed {
                concurrency: CONCURRENCY,
                think: Duration::ZERO,
            };
            std::hint::black_box(
                run(
                    backend,
                    Arc::new(Repeat(GET)),
                    RunConfig::simple(pacer, StopCondition::Count(OPS)),
                    RunIo::default(),
                )
                .await,
            );
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(5));
    targets = overhead
}
criterion_main!(benches);
