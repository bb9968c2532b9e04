//! Harness overhead: the runner (scheduling, timing, HDR recording) over a zero-delay null
//! backend against a bare loop calling the same backend, same task count, same runtime. The
//! issue's target: runner >= 90% of the bare loop's operations per second.
//!
//! Run: `cargo bench --bench runner`

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tenantbench::backend::null::NullBackend;
use tenantbench::backend::{Backend, Op, Request};
use tenantbench::runner::{Pacer, PhaseWindow, RequestSource, StopCondition, run};

const OPS: u64 = 200_000;
const CONCURRENCY: usize = 4;

struct Fixed;
impl RequestSource for Fixed {
    type Worker = ();
    fn worker(&self, _: usize) {}
    fn next(&self, _: &mut (), _: u16) -> (Request, u16) {
        (
            Request {
                tenant: 0,
                op: Op::GetById,
                key: 0,
            },
            0,
        )
    }
}

fn overhead(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut g = c.benchmark_group("harness_overhead");
    g.throughput(Throughput::Elements(OPS));
    g.bench_function("bare_loop", |b| {
        b.to_async(&rt).iter(|| async {
            let backend = Arc::new(NullBackend::new(Duration::ZERO));
            let per = OPS / CONCURRENCY as u64;
            let tasks: Vec<_> = (0..CONCURRENCY)
                .map(|_| {
                    let backend = backend.clone();
                    tokio::spawn(async move {
                        let req = Request {
                            tenant: 0,
                            op: Op::GetById,
                            key: 0,
                        };
                        for _ in 0..per {
                            std::hint::black_box(backend.execute(&req).await);
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.expect("task");
            }
        })
    });
    // The floor of any harness that times operations: the bare loop plus two clock reads and a
    // histogram record per operation.
    g.bench_function("bare_loop_timed", |b| {
        b.to_async(&rt).iter(|| async {
            let backend = Arc::new(NullBackend::new(Duration::ZERO));
            let per = OPS / CONCURRENCY as u64;
            let tasks: Vec<_> = (0..CONCURRENCY)
                .map(|_| {
                    let backend = backend.clone();
                    tokio::spawn(async move {
                        let req = Request {
                            tenant: 0,
                            op: Op::GetById,
                            key: 0,
                        };
                        let mut h = tenantbench::metrics::histogram();
                        for _ in 0..per {
                            let t = tokio::time::Instant::now();
                            std::hint::black_box(backend.execute(&req).await);
                            h.saturating_record(tenantbench::metrics::micros(t.elapsed()));
                        }
                        h
                    })
                })
                .collect();
            for t in tasks {
                std::hint::black_box(t.await.expect("task"));
            }
        })
    });
    g.bench_function("runner_closed_loop", |b| {
        b.to_async(&rt).iter(|| async {
            let backend = Arc::new(NullBackend::new(Duration::ZERO));
            let phases = Arc::new(vec![PhaseWindow {
                name: "steady".into(),
                start: Duration::ZERO,
            }]);
            let pacer = Pacer::Closed {
                concurrency: CONCURRENCY,
                think: Duration::ZERO,
            };
            std::hint::black_box(
                run(
                    backend,
                    Arc::new(Fixed),
                    pacer,
                    StopCondition::Count(OPS),
                    phases,
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
