//! Several load generators: `scripts/run-workers.sh 3` against a single process on both
//! databases (merged counts and intended rate equal, the report naming every generator and its
//! CPU); the quickstart's three index profiles, whose variants share a layout, with a mix that
//! writes (issue 29: every trial complete, on a copy of the data of its own); and PostgreSQL's
//! connection arithmetic over the generators.

use std::path::Path;
use std::process::{Command, Output};

use tenantbench::metrics::results::{Results, TrialStatus};
use tenantbench::op::Op;

use crate::util::{clean, pg, pg_clean, server, tenantbench};

const RATE: u32 = 300;
const SECONDS: u32 = 4;

fn scenario(prefix: &str) -> String {
    format!(
        "name = \"workers\"\nprefix = \"{prefix}\"\nseed = 11\n\
         [population]\ntenants = 60\ndocuments = 6000\ndistribution = {{ zipf = {{ s = 1.0 }} }}\nmin_per_tenant = 10\n\
         [population.tiers]\nenterprise = 5\npremium = 15\nbasic = 40\n\
         [load]\nbatch_size = 500\nworkers = 2\nindexes = \"tenant\"\n\
         [workload]\nrate = {RATE}\nworkers = 6\nduration_s = {SECONDS}\nwarmup_s = 1\n\
         mix = {{ get_by_id = 50, list_recent = 20, count_by_status = 20, insert_one = 10 }}\n\
         [[matrix.variant]]\nbackend = \"mongodb\"\nlayout = \"shared\"\n\
         [[matrix.variant]]\nbackend = \"postgres\"\nlayout = \"shared\"\n"
    )
}

fn read(dir: &Path) -> Results {
    let p = dir.join("results.json");
    serde_json::from_str(&std::fs::read_to_string(&p).expect("results.json")).expect("results")
}

fn ok(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} exited {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs scenario `file` (with `flags`) as one process into `<tmp>/single` and with
/// `scripts/run-workers.sh 3` into `<tmp>/many`: seeded, aligned, merged and reported. Their
/// results: one process's and the merged run's.
///
/// The two run side by side: the generators' data is databases of their own (per index
/// profile, and per trial when the mix writes), apart from the one process's, and what the
/// tests compare is counts (intended, ran or unissued, per generator), not latencies. So a
/// test takes the longer of the two (the generators' aligned trials), not their sum.
fn one_process_and_three_generators(file: &Path, flags: &[&str], tmp: &Path) -> (Results, Results) {
    let bin = env!("CARGO_BIN_EXE_tenantbench");
    let single = tmp.join("single");
    let many = tmp.join("many");
    let (one, three) = std::thread::scope(|s| {
        let three = s.spawn(|| {
            Command::new(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/scripts/run-workers.sh"
            ))
            .arg("3")
            .arg("--scenario")
            .arg(file)
            .args(flags)
            // The aligned trials' gap: these small data sets are ready in a second or two.
            .args(["--trial-gap", "6"])
            .arg("--out")
            .arg(&many)
            .env("TENANTBENCH", bin)
            .env("LEAD", "3")
            .output()
            .expect("scripts/run-workers.sh")
        });
        let one = tenantbench()
            .args(["run", "--no-progress", "--no-report", "--scenario"])
            .arg(file)
            .args(flags)
            .arg("--out")
            .arg(&single)
            .output();
        (one, three.join().expect("the script's thread"))
    });
    ok("the single run", &one);
    ok("scripts/run-workers.sh 3", &three);
    (read(&single), read(&many.join("merged")))
}

/// Each generator of the merged run: a third of the rate and in-flight cap, its operations and
/// CPU in each trial, adding up to the merged trial's operations.
fn each_generator_ran_its_third(merged: &Results) {
    assert_eq!(merged.generators.len(), 3);
    let mut workers: Vec<&str> = merged
        .generators
        .iter()
        .map(|g| g.worker.as_str())
        .collect();
    workers.sort_unstable();
    assert_eq!(workers, ["0/3", "1/3", "2/3"]);
    for g in &merged.generators {
        assert_eq!(g.shares.len(), 2);
        for s in &g.shares {
            assert_eq!(
                s.rate,
                Some(f64::from(RATE) / 3.0),
                "{}: a third of the rate",
                g.worker
            );
            assert_eq!(
                s.workers,
                Some(2),
                "{}: a third of the in-flight cap",
                g.worker
            );
        }
        assert_eq!(g.trials.len(), 2, "{}: one trial per variant", g.worker);
        assert!(
            g.trials
                .iter()
                .all(|t| t.harness_s > 0.0 && t.operations > 0),
            "{}: {:?}",
            g.worker,
            g.trials
        );
    }
    for t in &merged.trials {
        let ops: u64 = merged
            .generators
            .iter()
            .flat_map(|g| &g.trials)
            .filter(|x| x.variant == t.variant && x.trial == t.trial)
            .map(|x| x.operations)
            .sum();
        assert_eq!(ops, t.operations, "{}: generators' operations", t.variant);
    }
}

/// The merged run's report and summary say how many generators ran and each one's CPU.
fn the_report_names_three_generators(merged: &Path) {
    let html = std::fs::read_to_string(merged.join("index.html")).expect("index.html");
    let page = scraper::Html::parse_document(&html);
    let p = scraper::Selector::parse("p").expect("selector");
    assert!(
        page.select(&p)
            .any(|e| e.text().collect::<String>().contains("from 3 generators")),
        "the report names the generators"
    );
    let rows = scraper::Selector::parse("tr").expect("selector");
    for w in ["0/3", "1/3", "2/3"] {
        assert!(
            page.select(&rows).any(|r| {
                let text = r.text().collect::<String>();
                text.starts_with(w) && text.contains("% of a core")
            }),
            "no row for generator {w} with its CPU"
        );
    }
    let md = std::fs::read_to_string(merged.join("summary.md")).expect("summary.md");
    assert!(md.contains("Load from 3 generators"), "{md}");
    assert_eq!(md.matches("- generator ").count(), 3, "{md}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_generators_merged_equal_one_process_on_both_databases() {
    let Some(client) = server().await else { return };
    let Some(pg_uri) = pg().await else { return };
    let prefix = "tbt_workers";
    clean(&client, prefix).await;
    pg_clean(&pg_uri, prefix).await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("workers.toml");
    std::fs::write(&file, scenario(prefix)).expect("write scenario");

    // One process, which seeds; three generators through the script.
    let (one, merged) = one_process_and_three_generators(&file, &[], tmp.path());
    let many = tmp.path().join("many");
    assert_eq!(merged.worker, None);
    assert_eq!(merged.variants.len(), 2);
    for (a, b) in one.variants.iter().zip(&merged.variants) {
        assert_eq!(a.id, b.id, "the merge names the whole variant");
        assert_eq!(a.rate, b.rate, "intended rate");
        assert_eq!(b.rate, Some(f64::from(RATE)));
        assert_eq!(a.max_pool_size, b.max_pool_size);
    }
    for v in &one.variants {
        let t1 = one.trials_of(&v.id).next().expect("single trial");
        let tn = merged.trials_of(&v.id).next().expect("merged trial");
        assert_eq!(t1.status, TrialStatus::Complete, "{}: {:?}", v.id, t1.error);
        assert_eq!(tn.status, TrialStatus::Complete, "{}: {:?}", v.id, tn.error);
        let intended = u64::from(RATE * SECONDS);
        assert_eq!(t1.intended, Some(intended), "{}: single intended", v.id);
        assert_eq!(tn.intended, Some(intended), "{}: merged intended", v.id);
        assert_eq!(
            tn.operations + tn.unissued,
            intended,
            "{}: every intended operation ran or is counted unissued",
            v.id
        );
        assert_eq!(
            t1.operations + t1.unissued,
            tn.operations + tn.unissued,
            "{}",
            v.id
        );
        let grouped: u64 = tn.groups.iter().map(|g| g.response.count).sum();
        assert_eq!(
            grouped, tn.operations,
            "{}: the merged histograms hold every operation",
            v.id
        );
        let per_second: u64 = tn.timeline.iter().map(|s| s.response.count).sum();
        assert_eq!(tn.errors, 0, "{}: generators' inserts do not collide", v.id);
        assert_eq!(per_second, tn.operations, "{}: interval logs merged", v.id);
    }

    each_generator_ran_its_third(&merged);
    the_report_names_three_generators(&many.join("merged"));

    clean(&client, prefix).await;
    pg_clean(&pg_uri, prefix).await;
}

/// The quickstart's intended rate in the issue-29 test (an open loop, so that every generator
/// intends its share of one schedule), and its trial length at `--scale 0.05`.
const QS_RATE: u32 = 100;
const QS_SECONDS: u32 = 3;

/// scenarios/quickstart.toml as it is — population, data, layouts, the three index profiles,
/// two trials, the default mix (which writes) — under a prefix of the test's own, on both
/// databases, with an open-loop workload of `QS_RATE`/s whose times `--scale 0.05` makes
/// `QS_SECONDS` s (1 s warm-up).
fn quickstart_on_both(prefix: &str) -> String {
    let q = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/quickstart.toml"
    ))
    .expect("scenarios/quickstart.toml");
    let (head, rest) = q.split_once("\n[workload]\n").expect("a [workload]");
    let (_, matrix) = rest.split_once("\n[matrix]\n").expect("a [matrix]");
    assert!(matrix.contains("indexes = [\"none\", \"tenant\", \"compound\"]"));
    let named = "name = \"quickstart\"\n";
    assert!(head.contains(named));
    let head = head.replacen(named, &format!("{named}prefix = \"{prefix}\"\n"), 1);
    format!(
        "{head}\n[workload]\nrate = {QS_RATE}.0\nworkers = 6\nduration_s = {}\nwarmup_s = 20\n\n\
         [matrix]\nbackend = [\"mongodb\", \"postgres\"]\n{matrix}",
        QS_SECONDS * 20
    )
}

/// The orders in database `db` of a backend (`mongodb` or `postgres`).
async fn orders_in(client: &mongodb::Client, pg_uri: &str, backend: &str, db: &str) -> u64 {
    if backend == "mongodb" {
        return client
            .database(db)
            .collection::<mongodb::bson::Document>("orders")
            .count_documents(mongodb::bson::doc! {})
            .await
            .unwrap_or_else(|e| panic!("{db}: {e}"));
    }
    let c = tenantbench::backend::postgres::connect(pg_uri, Some(db))
        .await
        .unwrap_or_else(|e| panic!("{db}: {e}"));
    let n: i64 = c
        .query_one("SELECT count(*) FROM orders", &[])
        .await
        .expect("count")
        .get(0);
    n as u64
}

/// Issue 29: a matrix whose variants share a database (the quickstart's three index profiles
/// in one shared layout, a workload that writes, two trials) runs with three generators on both
/// databases. Every trial is complete, each variant's merged intended operations equal one
/// process's, and each trial ran on a copy of the data of its own: the orders its generators
/// inserted are all its copy holds beyond the seeded ones (a copy shared with another trial, or
/// seeded data a trial found dirty, would hold more).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_29_quickstart_index_profiles_run_with_three_generators_on_both_databases() {
    let Some(client) = server().await else { return };
    let Some(pg_uri) = pg().await else { return };
    let prefix = "tbt_workers_qs";
    clean(&client, prefix).await;
    pg_clean(&pg_uri, prefix).await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("quickstart.toml");
    std::fs::write(&file, quickstart_on_both(prefix)).expect("write scenario");
    let (one, merged) = one_process_and_three_generators(&file, &["--scale", "0.05"], tmp.path());
    let ids = |r: &Results| r.variants.iter().map(|v| v.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&one), ids(&merged));
    assert_eq!(merged.variants.len(), 6, "3 index profiles × 2 databases");
    assert_eq!(merged.trials.len(), 12, "every variant's 2 trials");
    assert_eq!(merged.generators.len(), 3);
    let scaled = tenantbench::scenario::Scenario::load(&file)
        .expect("loads")
        .scaled(0.05, true)
        .expect("scales");
    let seeded: u64 = scaled
        .build_population()
        .tenants
        .iter()
        .map(|t| t.count(tenantbench::datagen::Collection::Orders))
        .sum();
    let intended = u64::from(QS_RATE * QS_SECONDS);
    for v in &merged.variants {
        for trial in 1..=2 {
            let of = |r: &Results| {
                r.trials
                    .iter()
                    .find(|t| t.variant == v.id && t.trial == trial)
                    .cloned()
                    .unwrap_or_else(|| panic!("{} trial {trial} missing", v.id))
            };
            let (t1, tn) = (of(&one), of(&merged));
            let what = format!("{} trial {trial}", v.id);
            assert_eq!(t1.status, TrialStatus::Complete, "{what}: {:?}", t1.error);
            assert_eq!(tn.status, TrialStatus::Complete, "{what}: {:?}", tn.error);
            assert_eq!(t1.intended, Some(intended), "{what}: one process");
            assert_eq!(tn.intended, t1.intended, "{what}: merged as one process");
            assert_eq!(tn.operations + tn.unissued, intended, "{what}");
            assert_eq!(tn.errors, 0, "{what}");
            let ran = merged
                .generators
                .iter()
                .filter(|g| {
                    g.trials
                        .iter()
                        .any(|x| x.variant == v.id && x.trial == trial && x.operations > 0)
                })
                .count();
            assert_eq!(ran, 3, "{what}: every generator ran it");

            // Its copy: the seeded orders and the ones this trial's generators inserted.
            let inserted: u64 = tn
                .groups
                .iter()
                .filter(|g| {
                    g.op == Op::InsertOne
                        && g.outcome == tenantbench::metrics::results::GroupOutcome::Ok
                })
                .map(|g| g.response.count)
                .sum();
            assert!(inserted > 0, "{what}: the mix writes");
            let db = format!("{}_g{}_c{trial}_shared", scaled.prefix, v.indexes);
            let orders = orders_in(&client, &pg_uri, &v.backend, &db).await;
            assert_eq!(orders, seeded + inserted, "{what}: {db}");
        }
    }

    clean(&client, prefix).await;
    pg_clean(&pg_uri, prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_generators_are_refused_when_their_pools_together_exceed_max_connections() {
    let Some(uri) = pg().await else { return };
    let c = tenantbench::backend::postgres::connect(&uri, None)
        .await
        .expect("connect");
    let max: i64 = c
        .query_one("SELECT current_setting('max_connections')::bigint", &[])
        .await
        .expect("max_connections")
        .get(0);
    if max >= 129 {
        eprintln!("SKIPPED: max_connections {max} fits three generators' 129 connections");
        return;
    }
    let prefix = "tbt_workers_conns";
    pg_clean(&uri, prefix).await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("conns.toml");
    // 40 tenants, a database each with a pool of 1: 40 + 3 connections for one process; three
    // generators hold a connection each per database (a pool cannot be split below one):
    // 40 × (1 + 1 + 1) + 3 × 3 = 129, over the 100 of a default server.
    std::fs::write(
        &file,
        format!(
            "name = \"conns\"\nprefix = \"{prefix}\"\n[population]\ntenants = 40\ndocuments = 800\n\
             distribution = {{ zipf = {{ s = 1.0 }} }}\n[connections]\nmax_pool_size = 1\n\
             [workload]\nconcurrency = 3\nduration_s = 2\n"
        ),
    )
    .expect("write");
    // Generator 0 of 3 on PostgreSQL in a layout: it must fail (status 1), naming why in
    // `wanted`, and create nothing.
    let generator0 = async |layout: &str, wanted: &[&str]| {
        let stderr = tenantbench()
            .args(["run", "--backend", "postgres", "--layout", layout])
            .args([
                "--no-progress",
                "--no-report",
                "--worker",
                "0/3",
                "--scenario",
            ])
            .arg(&file)
            .arg("--out")
            .arg(tmp.path().join(format!("g0-{layout}")))
            .assert_exit_code(1)
            .stderr_text();
        for w in wanted {
            assert!(stderr.contains(w), "{layout}: lacks {w:?}: {stderr}");
        }
        assert!(
            tenantbench::backend::postgres::list_marked(&uri, Some(prefix))
                .await
                .expect("ls")
                .is_empty(),
            "a generator creates nothing"
        );
    };
    generator0(
        "per-tenant",
        &[
            "3 generators: 40 databases × (1 + 1 + 1) connections per pool",
            "+ 3 × 3 for the harness = 129 connections",
            "max_connections",
        ],
    )
    .await;
    // Within the connections, on data nobody seeded: refused, naming how to seed it.
    generator0("shared", &["does not exist", "--seed-only"]).await;
}
