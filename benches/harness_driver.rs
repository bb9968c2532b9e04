//! Harness overhead against the local server: saturated `get_by_id` through the runner
//! (workload, routing, timing, HDR recording, timeline) against a bare `mongodb`-driver loop
//! issuing the same `find_one` calls, same client options, same concurrency, same tenants and
//! keys — side by side in one run, alternating, so both see the same server state. The issue's
//! target: runner >= 90% of the bare loop's operations per second.
//!
//! Seeds `scenarios/quickstart.toml` (shared, `{tenant: 1}`) when needed. Prints a skip line
//! when no server answers.
//!
//! Run: `cargo bench --bench harness_driver` (server URI from `TENANTBENCH_MONGO_URI`).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mongodb::bson::{Document, doc};
use tenantbench::backend::mongo::{self, ConnectOptions, MongoBackend, Servers};
use tenantbench::backend::seed::SeedOptions;
use tenantbench::datagen::{Collection, record_id};
use tenantbench::layout::Layout;
use tenantbench::op::{Op, Request};
use tenantbench::pacing::{Pacer, StopCondition};
use tenantbench::runner::{RequestSource, RunConfig, RunIo, run};
use tenantbench::scenario::Scenario;
use tenantbench::workload::Workload;

const CONCURRENCY: usize = 8;
const OPS: u64 = 20_000;
const ROUNDS: usize = 8;

/// The workload's get_by_id requests, pre-drawn so both sides issue the same ones.
fn requests(w: &Workload, n: u64) -> Vec<Request> {
    let mut rng = w.worker(0);
    (0..n).map(|_| w.next(&mut rng, 0).0).collect()
}

/// Replays a fixed list of requests, one index per operation across all workers.
struct Replay(Arc<Vec<Request>>, std::sync::atomic::AtomicUsize);

impl RequestSource for Replay {
    type Worker = ();
    fn worker(&self, _: usize) {}
    fn next(&self, _: &mut (), _: u16) -> (Request, u16) {
        let i = self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        (self.0[i % self.0.len()], 0)
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    // criterion's harness flags (`--bench`) are not ours; ignore arguments.
    let uri = std::env::var(mongo::URI_ENV).unwrap_or_else(|_| mongo::DEFAULT_URI.into());
    let probe = mongo::client(
        &uri,
        &ConnectOptions {
            server_selection_timeout: Duration::from_secs(3),
            ..Default::default()
        },
    )
    .await
    .expect("client");
    if let Err(e) = mongo::ping(&probe).await {
        println!("SKIPPED driver bench: no MongoDB server at {uri} ({e})");
        return;
    }
    let s = Scenario::load(Path::new("scenarios/quickstart.toml")).expect("quickstart scenario");
    let pop = s.build_population();
    let placement = s.placement(&pop, Layout::Shared);
    let conn = ConnectOptions {
        max_pool_size: CONCURRENCY as u32 + 4,
        ..Default::default()
    };
    let servers = Servers::for_placement(&uri, &placement, &conn)
        .await
        .expect("servers");
    let opts = SeedOptions {
        layout: Layout::Shared,
        indexes: "tenant".into(),
        batch_size: 1000,
        workers: 4,
        index_build: s.load.index_build,
        reseed: false,
        progress: false,
    };
    mongo::seed(&servers, &s, &pop, &placement, &opts)
        .await
        .expect("seed");
    let mut spec = s.workload.clone();
    spec.mix = vec![(Op::GetById, 1.0)];
    let w = Workload::from_spec(&pop, &spec, s.seed);
    let reqs = Arc::new(requests(&w, OPS));
    let ids: Arc<Vec<String>> = Arc::new(pop.tenants.iter().map(|t| t.id.clone()).collect());
    let db = servers.db(&placement.databases[0].server, &placement.databases[0].name);
    let orders = db.collection::<Document>(Collection::Orders.name());
    let backend = Arc::new(MongoBackend::new(&servers, &placement, &pop, s.seed));

    let bare = || {
        let (reqs, ids, orders) = (reqs.clone(), ids.clone(), orders.clone());
        async move {
            let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let t = Instant::now();
            let tasks: Vec<_> = (0..CONCURRENCY)
                .map(|_| {
                    let (reqs, ids, orders, next) =
                        (reqs.clone(), ids.clone(), orders.clone(), next.clone());
                    tokio::spawn(async move {
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            if i as u64 >= OPS {
                                break;
                            }
                            let r = reqs[i];
                            let tenant = ids[r.tenant].as_str();
                            let id = record_id(tenant, Collection::Orders, r.key);
                            let d = orders
                                .find_one(doc! {"_id": id, "tenant": tenant})
                                .projection(doc! {"_id": 1})
                                .await;
                            std::hint::black_box(d.ok());
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.expect("task");
            }
            OPS as f64 / t.elapsed().as_secs_f64()
        }
    };
    let harness = || {
        let (reqs, backend) = (reqs.clone(), backend.clone());
        async move {
            let source = Arc::new(Replay(reqs, std::sync::atomic::AtomicUsize::new(0)));
            let pacer = Pacer::Closed {
                concurrency: CONCURRENCY,
                think: Duration::ZERO,
            };
            let t = Instant::now();
            let r = run(
                backend,
                source,
                RunConfig::simple(pacer, StopCondition::Count(OPS)),
                RunIo::default(),
            )
            .await;
            assert_eq!(r.recorder.count(), OPS);
            OPS as f64 / t.elapsed().as_secs_f64()
        }
    };
    // Warm both paths (connections, caches).
    bare().await;
    harness().await;
    let mut ratios = Vec::new();
    // Pooled: all operations of a side over all of its time (1 / mean of 1 / rate).
    let (mut bare_s, mut runner_s) = (0.0, 0.0);
    println!("get_by_id, closed loop, concurrency {CONCURRENCY}, {OPS} operations per measurement");
    for round in 0..ROUNDS {
        // Alternate which goes first.
        let (b, h) = if round % 2 == 0 {
            let b = bare().await;
            (b, harness().await)
        } else {
            let h = harness().await;
            (bare().await, h)
        };
        ratios.push(h / b);
        bare_s += OPS as f64 / b;
        runner_s += OPS as f64 / h;
        println!(
            "  round {}: bare driver {b:>8.0} ops/s, runner {h:>8.0} ops/s, runner/bare {:.3}",
            round + 1,
            h / b
        );
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "runner/bare: median {:.3} (min {:.3}, max {:.3}); target >= 0.90",
        ratios[ratios.len() / 2],
        ratios[0],
        ratios[ratios.len() - 1]
    );
    println!(
        "pooled over {ROUNDS} rounds: bare {:.0} ops/s, runner {:.0} ops/s, runner/bare {:.3}",
        (ROUNDS as u64 * OPS) as f64 / bare_s,
        (ROUNDS as u64 * OPS) as f64 / runner_s,
        bare_s / runner_s
    );
    servers.shutdown().await;
}
