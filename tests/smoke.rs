//! Every experiment scenario at tiny scale (`--scale 0.01 --repeat 1`), as CI smoke-runs them,
//! on the local MongoDB (and PostgreSQL where the scenario has it). Deterministic facts only:
//! every variant ran to completion, every variant's plans examined documents or rows, and the
//! report carries the headline the analysis gives — never which variant wins.

use std::path::Path;

use tenantbench::metrics::results::{Results, TrialStatus};
use tenantbench::metrics::store::read_results;
use tenantbench::report::analysis;

use crate::util::{pg, tenantbench};

/// Runs `scenarios/<name>.toml` at scale 0.01 under `prefix`, checks the facts every smoke run
/// must show, drops what it created, and returns the results for scenario-specific checks.
async fn smoke(name: &str, prefix: &str) -> Option<Results> {
    smoke_with("run", name, prefix).await
}

/// [`smoke`] with `command` (`run`, or `load` through the API).
async fn smoke_with(command: &str, name: &str, prefix: &str) -> Option<Results> {
    smoke_at(command, name, prefix, "0.01").await
}

/// [`smoke_with`] at another scale.
async fn smoke_at(command: &str, name: &str, prefix: &str, scale: &str) -> Option<Results> {
    crate::util::server().await?;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("run");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.toml"));
    let run = tenantbench()
        .arg(command)
        .arg("--scenario")
        .arg(&scenario)
        .args([
            "--scale",
            scale,
            "--repeat",
            "1",
            "--prefix",
            prefix,
            "--no-progress",
        ])
        .arg("--out")
        .arg(&out)
        .output();
    for backend in ["mongodb", "postgres"] {
        tenantbench()
            .args(["drop", "--backend", backend, "--prefix", prefix])
            .output();
    }
    assert!(
        run.status.success(),
        "{name} at scale {scale} failed:\n{}",
        run.text()
    );
    let r = read_results(&out).expect("results.json");
    assert_eq!(r.scenario.scale.to_string(), scale);
    assert!(!r.variants.is_empty());
    for v in &r.variants {
        let trials: Vec<_> = r.trials.iter().filter(|t| t.variant == v.id).collect();
        assert_eq!(
            trials.len(),
            1,
            "{name}: {} ran {} trials",
            v.id,
            trials.len()
        );
        let t = trials[0];
        assert_eq!(
            t.status,
            TrialStatus::Complete,
            "{name}: {} did not complete: {:?}",
            v.id,
            t.error
        );
        assert!(t.operations > 0, "{name}: {} ran no operation", v.id);
        assert!(
            t.evidence
                .explain
                .iter()
                .any(|e| e.docs_examined > 0 || e.keys_examined > 0),
            "{name}: {} has no plan evidence of documents or rows examined",
            v.id
        );
    }
    let html = std::fs::read_to_string(out.join("index.html")).expect("index.html");
    let answer = analysis::answer(&r);
    assert!(html.contains("class=\"headline\""), "{name}: no headline");
    // A smoke run has few operations per class: the headline names a winner only from enough
    // of them, and otherwise says there were too few and what to run (issue 29).
    let winner = match answer.winner {
        Some(w) => w,
        None => {
            assert!(
                answer
                    .lines
                    .iter()
                    .any(|l| l.starts_with("No winner named") || l.contains("disagree")),
                "{name}: no winner and no reason: {:#?}",
                answer.lines
            );
            answer.baseline.clone()
        }
    };
    if r.trials.iter().any(|t| t.evidence.migration.is_some()) {
        assert!(
            html.contains("<h2>Migration under load</h2>"),
            "{name}: no migration section"
        );
    }
    assert!(
        html.contains(&winner),
        "{name}: the headline's variant is missing"
    );
    Some(r)
}

#[tokio::test]
async fn http_layouts_smoke_goes_through_the_api_of_each_variant() {
    let Some(r) = smoke_with("load", "http-layouts", "tbs_httplay").await else {
        return;
    };
    assert_eq!(r.variants.len(), 7);
    for t in &r.trials {
        let h = t.evidence.http.as_ref().expect("through the API");
        assert!(h.started_api, "{}: load started serve", t.variant);
        assert_eq!(
            h.requests, t.operations,
            "{}: every request recorded",
            t.variant
        );
        assert!(
            t.evidence.cpu.servers.iter().any(|s| s.role == "api"),
            "{}: the API's CPU apart",
            t.variant
        );
    }
}

#[tokio::test]
async fn quickstart_smoke() {
    smoke("quickstart", "tbs_quickstart").await;
}

#[tokio::test]
async fn tenant_index_smoke_sweeps_data_size() {
    let Some(r) = smoke("tenant-index", "tbs_tenant_index").await else {
        return;
    };
    // Three data sizes per index profile on PostgreSQL, two on MongoDB; the report sweeps
    // documents.
    let sizes_on = |backend: &str| -> std::collections::BTreeSet<u64> {
        r.variants
            .iter()
            .filter(|v| v.backend == backend)
            .filter_map(|v| v.documents)
            .collect()
    };
    assert_eq!(sizes_on("mongodb").len(), 2, "{:?}", sizes_on("mongodb"));
    let sizes = sizes_on("postgres");
    assert_eq!(sizes.len(), 3, "three data sizes: {sizes:?}");
    assert!(
        r.variants
            .iter()
            .any(|v| v.backend == "postgres" && v.indexes == "partial")
    );
    assert!(
        analysis::sweeps(&r)
            .iter()
            .any(|s| s.knob == analysis::Knob::Documents)
    );
    // The headline compares variants at the largest size, and says how each grew.
    let largest = sizes.last().copied();
    let answer = analysis::answer(&r);
    assert!(answer.lines[0].starts_with("At the largest data size"));
    // The variant named (the winner, or the baseline when too few operations name none) is
    // one at the largest size.
    let named = answer.winner.unwrap_or(answer.baseline);
    assert_eq!(
        r.variants
            .iter()
            .find(|v| v.id == named)
            .and_then(|v| v.documents),
        largest
    );
    assert!(answer.lines.iter().any(|l| l.contains("indexes=none")));
}

#[tokio::test]
async fn layouts_smoke() {
    let Some(r) = smoke("layouts", "tbs_layouts").await else {
        return;
    };
    // Each layout's data: per-tenant has a database per tenant, shared one.
    let dbs = |id: &str| {
        r.trials
            .iter()
            .find(|t| t.variant == id)
            .map(|t| t.evidence.data.databases)
    };
    let tenants = r.scenario.tenants;
    assert_eq!(dbs("shared-compound-p100-single-c8"), Some(1));
    assert_eq!(dbs("per-tenant-compound-p100-single-c8"), Some(tenants));
}

#[tokio::test]
async fn pool_sweep_smoke() {
    let Some(r) = smoke("pool-sweep", "tbs_pool_sweep").await else {
        return;
    };
    assert_eq!(r.variants.len(), 18);
    // Every trial checked connections out of the pool.
    assert!(r.trials.iter().all(|t| t.evidence.checkout.checkouts > 0));
    assert!(
        analysis::sweeps(&r)
            .iter()
            .any(|s| s.knob == analysis::Knob::Pool)
    );
}

#[tokio::test]
async fn connection_strategy_smoke() {
    let Some(r) = smoke("connection-strategy", "tbs_conn_strategy").await else {
        return;
    };
    for t in &r.trials {
        let cpt = t.variant.contains("-cpt-");
        let reg = t.evidence.registry.as_ref();
        assert_eq!(reg.is_some(), cpt, "{}: registry evidence", t.variant);
        if let Some(g) = reg {
            assert!(g.created > 0 && g.max_held <= g.max_clients);
            assert!(g.cold_start.as_ref().is_some_and(|c| c.count > 0));
        }
        assert!(t.evidence.memory.is_some(), "{}: harness memory", t.variant);
    }
}

#[tokio::test]
async fn noisy_neighbour_smoke_reports_isolation() {
    if std::env::var_os("TENANTBENCH_MONGO_URI_2").is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but TENANTBENCH_MONGO_URI_2 (the second server) is not"
        );
        eprintln!(
            "SKIPPED: TENANTBENCH_MONGO_URI_2 is not set (scripts/mongo-local.sh start --port 27018)"
        );
        return;
    }
    let Some(r) = smoke("noisy-neighbour", "tbs_noisy").await else {
        return;
    };
    every_variant_has_relative_latency(&r);
    // The remote hybrid ran on two servers and reports the CPU of both.
    let remote = r
        .trials
        .iter()
        .find(|t| t.variant.starts_with("hybrid.remote"))
        .expect("the remote hybrid variant");
    assert_eq!(remote.evidence.cpu.servers.len(), 2);
}

#[tokio::test]
async fn noisy_neighbour_postgres_smoke_reports_isolation() {
    let Some(r) = smoke("noisy-neighbour-postgres", "tbs_noisy_pg").await else {
        return;
    };
    assert!(r.variants.iter().all(|v| v.backend == "postgres"));
    every_variant_has_relative_latency(&r);
}

/// Every variant has small tenants' relative latency for the `burst` phase.
fn every_variant_has_relative_latency(r: &Results) {
    let iso = analysis::isolation(r);
    for v in &r.variants {
        assert!(
            iso.iter().any(|i| i.variant == v.id && i.phase == "burst"),
            "{}: no relative latency",
            v.id
        );
    }
}

/// The README's migration run: `scenarios/migration.toml --scale 0.1` moves the largest and the
/// median tenant on both databases while the workload runs; every trial verifies and cuts over,
/// the moving tenant is measured apart, and the report has the section.
#[tokio::test]
async fn migration_smoke_moves_tenants_under_load() {
    if pg().await.is_none() {
        return;
    }
    let Some(r) = smoke_at("run", "migration", "tbs_mig", "0.1").await else {
        return;
    };
    assert_eq!(r.variants.len(), 8);
    let mut copied = std::collections::BTreeMap::new();
    for t in &r.trials {
        let m = t
            .evidence
            .migration
            .as_ref()
            .expect("a migration per trial");
        assert!(m.verified && m.cut_over, "{}: {:?}", t.variant, m.error);
        assert_eq!(m.error, None);
        assert!(m.records > 0);
        assert_eq!(m.class, format!("moving-{}", m.tenant));
        assert!(m.to.contains("_shared_mv_t_"), "{}", m.to);
        // The moving tenant's operations are kept apart in its own class.
        assert!(
            t.groups.iter().any(|g| g.class == m.class),
            "{}: no operation of the moving tenant",
            t.variant
        );
        copied.insert(t.variant.clone(), (m.tenant.clone(), m.records));
    }
    let largest: Vec<u64> = copied
        .values()
        .filter(|(t, _)| t == "t00001")
        .map(|x| x.1)
        .collect();
    let median: Vec<u64> = copied
        .values()
        .filter(|(t, _)| t != "t00001")
        .map(|x| x.1)
        .collect();
    assert_eq!((largest.len(), median.len()), (4, 4));
    assert!(largest.iter().min() > median.iter().max());
    let summaries = analysis::migrations(&r);
    assert_eq!(summaries.len(), 8);
    assert!(
        summaries
            .iter()
            .all(|s| s.small_steady_p99_us > 0 && s.small_phase_p99_us > 0)
    );
    // Issue 29.6: the answer (the report's headline and summary.md) gives each variant's
    // migration and what it cost small tenants.
    let lines = analysis::answer(&r).lines;
    let moved: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("Migration in ") && l.contains("cost small tenants p99"))
        .collect();
    assert_eq!(moved.len(), 8, "{lines:#?}");
    assert!(moved.iter().all(|l| l.contains("verified")), "{moved:#?}");
}
