//! Seeding throughput against bare `insert_many` (MongoDB) and bare binary `COPY`
//! (PostgreSQL), side by side in one run.
//!
//! Seeds a scenario (default `scenarios/skewed-10k.toml`) into the `shared` layout with the
//! library's seeder (generation, marker, batching, progress), then loads the *same*
//! pre-generated documents or rows with the same batches and workers and nothing else
//! ("bare"), alternating A B, B A for several trials. Both use the index profile `none`, so
//! both do the same server work; only the loads are timed. Targets: seed >= 0.9x bare.
//!
//! Needs the servers (`scripts/mongo-local.sh start`, PostgreSQL); prints a skip line for a
//! database that does not answer.
//!
//! Run: `cargo bench --bench harness_seeding`
//! Env: TENANTBENCH_MONGO_URI, TENANTBENCH_PG_URI, TENANTBENCH_BENCH_BACKEND (`mongodb`,
//! `postgres` or `both`, the default), TENANTBENCH_BENCH_SCENARIO (path),
//! TENANTBENCH_BENCH_DOCS (override the document count), TENANTBENCH_BENCH_TRIALS (default 2).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tenantbench::backend::marker;
use tenantbench::backend::mongo::{self, ConnectOptions, Servers};
use tenantbench::backend::seed::{self as seeding, SeedOptions};
use tenantbench::layout::Layout;
use tenantbench::scenario::{IndexBuild, Scenario};

fn env_or<T: std::str::FromStr>(k: &str, d: T) -> T {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

/// The scenario under test, with the document count of `TENANTBENCH_BENCH_DOCS` if set.
fn scenario(prefix: &str) -> Scenario {
    let path = std::env::var("TENANTBENCH_BENCH_SCENARIO")
        .unwrap_or_else(|_| "scenarios/skewed-10k.toml".into());
    let mut scenario = Scenario::load(Path::new(&path)).expect("scenario");
    if let Ok(d) = std::env::var("TENANTBENCH_BENCH_DOCS") {
        scenario.population.documents = d.parse().expect("TENANTBENCH_BENCH_DOCS is a number");
    }
    scenario.prefix = prefix.into();
    scenario
}

fn options(scenario: &Scenario) -> SeedOptions {
    SeedOptions {
        layout: Layout::Shared,
        indexes: "none".into(),
        batch_size: scenario.load.batch_size,
        workers: scenario.load.workers,
        index_build: IndexBuild::After,
        reseed: true,
        progress: false,
    }
}

/// Prints trial `trial`'s rates (seed first in odd trials) and their ratio.
fn trial_line(trial: usize, unit: &str, bare_name: &str, seeded: &[f64], bare: &[f64]) {
    let (s, b) = (seeded[trial - 1], bare[trial - 1]);
    let order = if trial % 2 == 1 {
        "seed first"
    } else {
        "bare first"
    };
    println!(
        "  trial {trial} ({order}): seed {s:>9.0} {unit}   {bare_name} {b:>9.0} {unit}   ratio {:.3}",
        s / b
    );
}

/// Prints the trials' ratios and their total.
fn summary(what: &str, seeded: &[f64], bare: &[f64]) {
    let ratios: Vec<f64> = seeded.iter().zip(bare).map(|(s, b)| s / b).collect();
    let min = ratios.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = ratios.iter().cloned().fold(0.0, f64::max);
    let total_ratio = seeded.iter().sum::<f64>() / bare.iter().sum::<f64>();
    println!(
        "seeding bench ({what}): seed / bare = {total_ratio:.3} (trials {min:.3} to {max:.3}; target >= 0.90)"
    );
}

fn main() {
    // `cargo bench` passes `--bench`; criterion-style filters are not used here.
    let which = std::env::var("TENANTBENCH_BENCH_BACKEND").unwrap_or_else(|_| "both".into());
    let trials: usize = env_or("TENANTBENCH_BENCH_TRIALS", 2);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if which == "mongodb" || which == "both" {
        rt.block_on(mongodb_bench(trials));
    }
    if which == "postgres" || which == "both" {
        rt.block_on(postgres_bench(trials));
    }
}

/// PostgreSQL: the seeder against binary COPY of the same pre-generated rows into the same
/// (truncated) tables.
async fn postgres_bench(trials: usize) {
    use tenantbench::backend::postgres::{self, Pregenerated};
    let uri = postgres::resolve_uri(None);
    if postgres::connect(&uri, None).await.is_err() {
        println!(
            "seeding bench (postgres): SKIPPED, PostgreSQL does not answer at {}",
            tenantbench::backend::redact_uri(&uri)
        );
        return;
    }
    let scenario = scenario("tb_bench_pgseed");
    let pop = scenario.build_population();
    let placement = scenario.placement(&pop, Layout::Shared);
    let opts = options(&scenario);
    let t = Instant::now();
    let pre = Arc::new(Pregenerated::new(
        &scenario,
        &pop,
        &placement,
        opts.batch_size,
    ));
    println!(
        "seeding bench (postgres): {} ({} tenants, {} rows, batch {}, {} workers); pre-generated in {:.1} s",
        scenario.name,
        pop.tenants.len(),
        pre.rows(),
        opts.batch_size,
        opts.workers,
        t.elapsed().as_secs_f64()
    );
    postgres::drop_marked(&uri, &scenario.prefix, None)
        .await
        .expect("drop");
    let db = &placement.databases[0].name;
    let mut seeded = Vec::new();
    let mut bare = Vec::new();
    // The seeder runs first in trial 1 (it creates the tables the bare COPY reuses); then the
    // order alternates.
    for trial in 1..=trials {
        for step in 0..2 {
            if (step == 0) == (trial % 2 == 1) {
                // Both start after a checkpoint, so neither pays for the other's dirty pages.
                let admin = postgres::connect(&uri, None).await.expect("connect");
                admin.batch_execute("CHECKPOINT").await.expect("checkpoint");
                let s = postgres::seed(&uri, &scenario, &pop, &placement, &opts)
                    .await
                    .expect("seed");
                seeded.push(s.docs_per_sec());
            } else {
                let c = postgres::connect(&uri, Some(db)).await.expect("connect");
                let tables: Vec<String> = tenantbench::datagen::Collection::ALL
                    .iter()
                    .map(|c| format!("public.{}", postgres::ident(c.name())))
                    .collect();
                // The tables as the seeder loads them: keys, no foreign keys (it adds those
                // after the load, untimed).
                let fks: Vec<String> = tenantbench::datagen::Collection::ALL
                    .iter()
                    .map(|c| {
                        format!(
                            "ALTER TABLE public.{} DROP CONSTRAINT IF EXISTS {}",
                            postgres::ident(c.name()),
                            postgres::ident(&format!("{}_tenant_fk", c.name()))
                        )
                    })
                    .collect();
                c.batch_execute(&format!(
                    "{}; TRUNCATE {}; CHECKPOINT",
                    fks.join("; "),
                    tables.join(", ")
                ))
                .await
                .expect("truncate");
                let t = Instant::now();
                let n = pre
                    .copy(&uri, &placement, opts.workers)
                    .await
                    .expect("bare COPY");
                bare.push(n as f64 / t.elapsed().as_secs_f64());
            }
        }
        trial_line(trial, "rows/s", "bare COPY", &seeded, &bare);
    }
    summary("postgres", &seeded, &bare);
    postgres::drop_marked(&uri, &scenario.prefix, None)
        .await
        .expect("drop");
}

/// MongoDB: the seeder against `insert_many` of the same pre-generated documents.
async fn mongodb_bench(trials: usize) {
    let uri = std::env::var(mongo::URI_ENV).unwrap_or_else(|_| mongo::DEFAULT_URI.into());
    {
        let probe = ConnectOptions {
            server_selection_timeout: Duration::from_secs(2),
            ..Default::default()
        };
        let client = mongo::client(&uri, &probe).await.expect("client");
        if mongo::ping(&client).await.is_err() {
            println!(
                "seeding bench (mongodb): SKIPPED, no MongoDB server answers at {} (scripts/mongo-local.sh start)",
                tenantbench::backend::redact_uri(&uri)
            );
            return;
        }
        let scenario = scenario("tb_bench_seed");
        let pop = scenario.build_population();
        let placement = scenario.placement(&pop, Layout::Shared);
        let opts = options(&scenario);
        let conn = ConnectOptions {
            max_pool_size: opts.workers as u32 + 4,
            ..Default::default()
        };
        let servers = Servers::for_placement(&uri, &placement, &conn)
            .await
            .expect("servers");

        // Pre-generate the bare run's documents once (not timed).
        let all: Vec<usize> = (0..placement.databases.len()).collect();
        let units = seeding::work_units(&pop, &placement, &all, opts.batch_size);
        let ids: Vec<String> = pop.tenants.iter().map(|t| t.id.clone()).collect();
        let t = Instant::now();
        let pregen: Vec<Vec<_>> = units
            .iter()
            .map(|u| mongo::unit_documents(scenario.seed, &ids, u))
            .collect();
        println!(
            "seeding bench (mongodb): {} ({} tenants, {} documents, batch {}, {} workers); pre-generated in {:.1} s",
            scenario.name,
            pop.tenants.len(),
            pop.documents(),
            opts.batch_size,
            opts.workers,
            t.elapsed().as_secs_f64()
        );
        let units = Arc::new(units);
        let mut seeded = Vec::new();
        let mut bare = Vec::new();
        let client = servers.client(&placement.databases[0].server).clone();
        for trial in 1..=trials {
            // Alternate the order (A B, B A, ...) so drift in the server cancels out; each run
            // starts from a server without the other run's data.
            for step in 0..2 {
                if (step == 0) == (trial % 2 == 1) {
                    // A: the seeder.
                    let s = mongo::seed(&servers, &scenario, &pop, &placement, &opts)
                        .await
                        .expect("seed");
                    seeded.push(s.docs_per_sec());
                    mongo::drop_marked(&client, "tb_bench_seed", None)
                        .await
                        .expect("drop");
                } else {
                    // B: bare insert_many of the same documents into a fresh database.
                    let bare_db =
                        servers.db(&placement.databases[0].server, "tb_bench_bare_shared");
                    let mut marker = marker::new_marker(
                        &scenario,
                        Layout::Shared,
                        &placement.databases[0],
                        &pop,
                        "none",
                    );
                    marker.prefix = "tb_bench_bare".into();
                    mongo::write_marker(&bare_db, &marker)
                        .await
                        .expect("marker");
                    let docs: Arc<Vec<Mutex<Option<Vec<_>>>>> = Arc::new(
                        pregen
                            .iter()
                            .cloned()
                            .map(|d| Mutex::new(Some(d)))
                            .collect(),
                    );
                    let pb = seeding::progress_bar("bare", "docs", 0, false);
                    let t = Instant::now();
                    mongo::insert_units(
                        vec![(bare_db.clone(), "tb_bench_bare_shared".into())],
                        units.clone(),
                        opts.workers,
                        &pb,
                        move |i, _| {
                            docs[i]
                                .lock()
                                .expect("unit lock")
                                .take()
                                .expect("each unit inserted once")
                        },
                    )
                    .await
                    .expect("bare insert");
                    bare.push(pop.documents() as f64 / t.elapsed().as_secs_f64());
                    mongo::drop_marked(&client, "tb_bench_bare", None)
                        .await
                        .expect("drop");
                }
            }
            trial_line(trial, "docs/s", "bare insert_many", &seeded, &bare);
        }
        summary("mongodb", &seeded, &bare);
        servers.shutdown().await;
    }
}
