//! `tenantbench run` end to end against the real server: a matrix of two variants × two trials
//! into a run directory whose results validate against the committed schema, show the index's
//! effect in plan evidence and latency, and never contain the URI's password; `--resume`,
//! `plan` and `merge` on the same directory.

use std::path::Path;

use tenantbench::metrics::results::{Results, TrialStatus, decode, schema_json};

use crate::util::{Ran, clean, mongo_user_uri, server, tenantbench, uri};

const PASSWORD: &str = "s3cret-pw-7Qx";

fn scenario(prefix: &str) -> String {
    format!(
        r#"name = "runtest"
prefix = "{prefix}"
seed = 11
[population]
tenants = 30
documents = 12000
distribution = {{ zipf = {{ s = 1.0 }} }}
min_per_tenant = 20
[population.roles]
noisy = ["t00001"]
[load]
batch_size = 500
workers = 2
[workload]
concurrency = 2
duration_s = 3
warmup_s = 1
mix = {{ list_recent = 3, get_by_id = 2, count_by_status = 1 }}
[[phase]]
name = "burst"
start_s = 2
duration_s = 0.5
share = {{ noisy = 0.5 }}
[matrix]
indexes = ["none", "tenant"]
repeat = 2
"#
    )
}

fn run(args: &[&str], dir: &Path, uri: &str) -> Ran {
    tenantbench()
        .args(args)
        .current_dir(dir)
        .env("TENANTBENCH_MONGO_URI", uri)
        .output()
}

fn no_password_in(what: &str, bytes: &[u8]) {
    assert!(
        !String::from_utf8_lossy(bytes).contains(PASSWORD),
        "the password appears in {what}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_matrix_run_writes_results_that_validate_and_show_the_index_effect() {
    let Some(client) = server().await else { return };
    let prefix = "tbt_run_matrix";
    clean(&client, prefix).await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("runtest.toml");
    std::fs::write(&file, scenario(prefix)).expect("write scenario");
    // A URI carrying a user name and password, so the test can check the password never leaks.
    let secret_uri = mongo_user_uri(&client, "tbtest", PASSWORD).await;
    let out_dir = tmp.path().join("out");

    let out = run(
        &[
            "run",
            "--scenario",
            file.to_str().expect("utf-8"),
            "--out",
            out_dir.to_str().expect("utf-8"),
            "--no-progress",
        ],
        tmp.path(),
        &secret_uri,
    );
    let (stdout, stderr) = (out.stdout_text(), out.stderr_text());
    assert!(out.status.success(), "run failed:\n{stdout}\n{stderr}");
    no_password_in("stdout", &out.stdout);
    no_password_in("stderr", &out.stderr);
    assert!(stdout.contains("runtest — phase steady"), "{stdout}");
    assert!(
        stdout.contains("report: "),
        "run ends with the report's path: {stdout}"
    );
    let html = std::fs::read_to_string(out_dir.join("index.html")).expect("index.html");
    assert!(out_dir.join("summary.md").exists());
    assert!(
        html.contains("Relative latency") && html.contains(">burst</td>"),
        "the burst phase is compared with steady"
    );

    // Every file of the run directory: no password; the results validate against the schema.
    let mut hlogs = 0;
    for e in std::fs::read_dir(&out_dir).expect("run dir") {
        let p = e.expect("entry").path();
        let bytes = std::fs::read(&p).expect("read");
        no_password_in(&p.display().to_string(), &bytes);
        if p.extension().is_some_and(|x| x == "hlog") {
            hlogs += 1;
        }
    }
    assert_eq!(hlogs, 4, "one interval log per trial");
    let text = std::fs::read_to_string(out_dir.join("results.json")).expect("results.json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("json");
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/results.schema.json"
        ))
        .expect("committed schema"),
    )
    .expect("schema json");
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    let errors: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "results.json violates the schema: {errors:?}"
    );

    let r: Results = serde_json::from_str(&text).expect("results");
    assert_eq!(r.variants.len(), 2);
    assert_eq!(r.trials.len(), 4);
    // Interleaved: A B A B.
    let order: Vec<(&str, u32)> = r
        .trials
        .iter()
        .map(|t| (t.variant.as_str(), t.trial))
        .collect();
    assert_eq!(
        order,
        [
            ("shared-none-p100-single-c2", 1),
            ("shared-tenant-p100-single-c2", 1),
            ("shared-none-p100-single-c2", 2),
            ("shared-tenant-p100-single-c2", 2)
        ]
    );
    assert!(r.trials.iter().all(|t| t.status == TrialStatus::Complete));
    assert_eq!(
        r.phases.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["warmup", "steady", "burst"]
    );

    // Plan evidence: docs examined for a small tenant's list_recent = the whole collection
    // without the index, the tenant's orders with it.
    let explain = |variant: &str| {
        r.trials
            .iter()
            .find(|t| t.variant == variant)
            .and_then(|t| {
                t.evidence
                    .explain
                    .iter()
                    .find(|e| e.op == tenantbench::op::Op::ListRecent && e.tenant != "t00001")
                    .cloned()
            })
            .expect("list_recent evidence")
    };
    let none = explain("shared-none-p100-single-c2");
    let tenant = explain("shared-tenant-p100-single-c2");
    assert!(none.stages.iter().any(|s| s == "COLLSCAN"), "{none:?}");
    assert_eq!(none.docs_examined, none.collection_documents);
    assert!(tenant.stages.iter().any(|s| s == "IXSCAN"), "{tenant:?}");
    assert_eq!(tenant.docs_examined, tenant.tenant_documents);
    assert!(tenant.docs_examined < none.docs_examined);

    for t in &r.trials {
        // Histograms decode and agree with the counts beside them.
        let ops: u64 = t.groups.iter().map(|g| g.response.count).sum();
        assert_eq!(ops, t.operations);
        for g in &t.groups {
            assert_eq!(
                decode(&g.response_histogram).expect("decodes").len(),
                g.response.count
            );
        }
        // The burst gives the noisy tenant half of the operations.
        let burst_noisy: u64 = t
            .groups
            .iter()
            .filter(|g| g.phase == "burst" && g.class == "noisy")
            .map(|g| g.response.count)
            .sum();
        let burst: u64 = t
            .groups
            .iter()
            .filter(|g| g.phase == "burst")
            .map(|g| g.response.count)
            .sum();
        assert!(
            burst > 0 && burst_noisy * 10 >= burst * 3,
            "{burst_noisy} of {burst}"
        );
        assert!(!t.timeline.is_empty());
        assert!(!t.tenants.is_empty());
        assert!(t.evidence.checkout.checkouts > 0);
        assert!(!t.evidence.connections.is_empty());
        assert!(t.evidence.cpu.harness_s > 0.0);
        assert_eq!(t.evidence.data.databases, 1);
    }
    assert!(
        r.spread
            .iter()
            .any(|s| s.class == "all" && s.p99_us.len() == 2)
    );
    assert!(!r.scenario.text.is_empty());

    // --resume skips the complete trials.
    let out = run(
        &[
            "run",
            "--scenario",
            file.to_str().expect("utf-8"),
            "--resume",
            out_dir.to_str().expect("utf-8"),
            "--no-progress",
        ],
        tmp.path(),
        &secret_uri,
    );
    assert!(out.status.success(), "{}", out.stderr_text());
    let skipped = out
        .stderr_text()
        .matches("already complete, skipped")
        .count();
    assert_eq!(skipped, 4);

    // Two load generators on the data `run --seed-only` seeds for them with their flags (they
    // never seed), then merged.
    let generator_flags = ["--indexes", "tenant", "--repeat", "1"];
    let mut seed_only = vec!["run", "--scenario", file.to_str().expect("utf-8")];
    seed_only.extend(generator_flags);
    seed_only.extend(["--seed-only", "--no-progress"]);
    let out = run(&seed_only, tmp.path(), &secret_uri);
    assert!(
        out.status.success(),
        "run --seed-only: {}",
        out.stderr_text()
    );
    let mut gens = Vec::new();
    for i in 0..2 {
        let g = tmp.path().join(format!("g{i}"));
        let worker = format!("{i}/2");
        let mut args = vec!["run", "--scenario", file.to_str().expect("utf-8")];
        args.extend(generator_flags);
        args.extend(["--worker", &worker, "--out", g.to_str().expect("utf-8")]);
        args.push("--no-progress");
        let out = run(&args, tmp.path(), &secret_uri);
        assert!(out.status.success(), "generator {i}: {}", out.stderr_text());
        let gr: Results = serde_json::from_str(
            &std::fs::read_to_string(g.join("results.json")).expect("generator results"),
        )
        .expect("results");
        assert_eq!(gr.worker.as_deref(), Some(worker.as_str()));
        assert_eq!(
            gr.variants[0].concurrency,
            Some(2),
            "a generator's results name the whole variant"
        );
        assert_eq!(
            gr.generators[0].shares[0].concurrency,
            Some(1),
            "concurrency 2 split in two"
        );
        assert_eq!(
            gr.trials[0].evidence.data.loaded, 0,
            "generators never seed"
        );
        gens.push((g, gr));
    }
    let merged_gens = tmp.path().join("merged-gens");
    let out = run(
        &[
            "merge",
            gens[0].0.to_str().expect("utf-8"),
            gens[1].0.to_str().expect("utf-8"),
            "-o",
            merged_gens.to_str().expect("utf-8"),
        ],
        tmp.path(),
        &secret_uri,
    );
    assert!(out.status.success(), "{}", out.stderr_text());
    let mg: Results = serde_json::from_str(
        &std::fs::read_to_string(merged_gens.join("results.json")).expect("merged"),
    )
    .expect("results");
    assert_eq!(mg.worker, None);
    assert_eq!(
        mg.trials[0].operations,
        gens[0].1.trials[0].operations + gens[1].1.trials[0].operations
    );

    // merge of a directory with a copy of itself: every count doubles, percentiles stay.
    let copy = tmp.path().join("copy");
    std::fs::create_dir_all(&copy).expect("mkdir");
    for e in std::fs::read_dir(&out_dir).expect("run dir") {
        let p = e.expect("entry").path();
        std::fs::copy(&p, copy.join(p.file_name().expect("name"))).expect("copy");
    }
    let merged = tmp.path().join("merged");
    let out = run(
        &[
            "merge",
            out_dir.to_str().expect("utf-8"),
            copy.to_str().expect("utf-8"),
            "-o",
            merged.to_str().expect("utf-8"),
        ],
        tmp.path(),
        &secret_uri,
    );
    assert!(out.status.success(), "{}", out.stderr_text());
    let m: Results = serde_json::from_str(
        &std::fs::read_to_string(merged.join("results.json")).expect("merged"),
    )
    .expect("results");
    for (a, b) in r.trials.iter().zip(&m.trials) {
        assert_eq!(b.operations, 2 * a.operations);
        for (ga, gb) in a.groups.iter().zip(&b.groups) {
            assert_eq!(gb.response.count, 2 * ga.response.count);
            assert_eq!(gb.response.p99_us, ga.response.p99_us);
        }
        let secs_a: u64 = a.timeline.iter().map(|s| s.response.count).sum();
        let secs_b: u64 = b.timeline.iter().map(|s| s.response.count).sum();
        assert_eq!(secs_b, 2 * secs_a, "interval logs merged");
    }
    clean(&client, prefix).await;
}

#[test]
fn plan_needs_no_server_and_names_variants_and_estimates() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("runtest.toml");
    std::fs::write(&file, scenario("tbt_plan")).expect("write");
    let text = tenantbench()
        .args(["plan", "--scenario", file.to_str().expect("utf-8")])
        .env("TENANTBENCH_MONGO_URI", "mongodb://127.0.0.1:1")
        .stdout();
    for want in [
        "2 variants × 2 trials = 4 trials",
        "shared-none-p100-single-c2",
        "shared-tenant-p100-single-c2",
        "12000 documents",
        "connections",
        "estimated time",
    ] {
        assert!(text.contains(want), "plan lacks {want:?}:\n{text}");
    }
}

#[test]
fn the_committed_results_schema_is_current() {
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/results.schema.json"
    ))
    .expect("docs/results.schema.json");
    assert!(
        committed == schema_json(),
        "docs/results.schema.json is stale: regenerate it with `cargo run --release -- schema > docs/results.schema.json`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_per_tenant_runs_through_a_bounded_registry() {
    let Some(client) = server().await else { return };
    let prefix = "tbt_run_cpt";
    clean(&client, prefix).await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("cpt.toml");
    let text = format!(
        r#"name = "cpt"
prefix = "{prefix}"
[population]
tenants = 40
documents = 4000
distribution = "uniform"
[workload]
concurrency = 4
duration_s = 2
warmup_s = 0
mix = {{ get_by_id = 1 }}
tenants = "uniform"
[connections]
strategy = "client-per-tenant"
max_clients = 3
max_pool_size = 2
"#
    );
    std::fs::write(&file, text).expect("write");
    let out_dir = tmp.path().join("out");
    let out = run(
        &[
            "run",
            "--scenario",
            file.to_str().expect("utf-8"),
            "--out",
            out_dir.to_str().expect("utf-8"),
            "--no-progress",
        ],
        tmp.path(),
        &uri(),
    );
    assert!(out.status.success(), "{}", out.text());
    let r: Results = serde_json::from_str(
        &std::fs::read_to_string(out_dir.join("results.json")).expect("results"),
    )
    .expect("results");
    assert_eq!(r.variants[0].strategy, "client-per-tenant");
    let t = &r.trials[0];
    let reg = t.evidence.registry.as_ref().expect("registry evidence");
    assert_eq!(reg.max_clients, 3);
    assert!(reg.max_held <= 3, "{reg:?}");
    assert!(reg.created > 3, "40 tenants through 3 clients: {reg:?}");
    assert!(reg.evicted_lru > 0, "{reg:?}");
    // Every operation is counted, failed ones (a client shut down under a worker) included.
    let counted: u64 = t.groups.iter().map(|g| g.response.count).sum();
    assert_eq!(counted, t.operations);
    assert!(t.operations > 0);
    clean(&client, prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_cleanly_and_keeps_what_ran() {
    let Some(client) = server().await else { return };
    let prefix = "tbt_run_sigint";
    clean(&client, prefix).await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("sigint.toml");
    let text = format!(
        "name = \"sigint\"\nprefix = \"{prefix}\"\n[population]\ntenants = 10\ndocuments = 1000\ndistribution = \"uniform\"\n\
         [workload]\nconcurrency = 2\nduration_s = 60\nwarmup_s = 0\nmix = {{ get_by_id = 1 }}\n[matrix]\nrepeat = 3\n"
    );
    std::fs::write(&file, text).expect("write");
    let out_dir = tmp.path().join("out");
    let child = tenantbench()
        .args(["run", "--no-progress", "--scenario"])
        .arg(&file)
        .arg("--out")
        .arg(&out_dir)
        .env("TENANTBENCH_MONGO_URI", uri())
        .current_dir(tmp.path())
        .piped()
        .spawn();
    // Interrupt once the first trial's interval log exists (the trial is running).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !out_dir
        .join("shared-tenant-p100-single-c2-t1.hlog")
        .exists()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the trial never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    // SAFETY: sending SIGINT to our own child process.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("--resume"), "{stdout}");
    let r: Results = serde_json::from_str(
        &std::fs::read_to_string(out_dir.join("results.json")).expect("results written"),
    )
    .expect("results");
    assert!(r.interrupted);
    assert_eq!(r.trials.len(), 1, "the later trials did not start");
    assert_eq!(r.trials[0].status, TrialStatus::Interrupted);
    assert!(r.trials[0].operations > 0);
    assert!(r.trials[0].elapsed_s < 30.0);
    clean(&client, prefix).await;
}
