//! `[[fault]]` end to end: a run goes on through each fault, and its results say when the fault
//! really ran, what it did, the errors by kind, the first success after it, and that every
//! intended operation ran or was counted. PostgreSQL: killed connections and a locked table.
//! MongoDB: a server of the test's own (port 27019, its own data folder) paused and restarted
//! by its pid file.

use std::path::Path;
use std::process::Command;

use tenantbench::metrics::results::{Results, Trial};

use crate::util::{pg, pg_clean, tenantbench};

fn scenario(prefix: &str, variant: &str, faults: &str) -> String {
    format!(
        r#"name = "faulttest"
prefix = "{prefix}"
seed = 3
[population]
tenants = 20
documents = 4000
distribution = {{ zipf = {{ s = 1.0 }} }}
min_per_tenant = 20
[load]
batch_size = 500
workers = 2
indexes = "compound"
[workload]
rate = 150
workers = 32
duration_s = 9
warmup_s = 0
mix = {{ list_recent = 2, get_by_id = 2, count_by_status = 1 }}
{faults}
[[matrix.variant]]
{variant}
"#
    )
}

/// Runs `run` in `dir` with `env`, returning the trial and everything it printed.
fn run(dir: &Path, env: &[(&str, &str)]) -> (Trial, String) {
    let o = tenantbench()
        .args(["run", "--scenario", "f.toml", "--no-progress", "-o", "out"])
        .envs(env.iter().copied())
        .current_dir(dir)
        .assert_exit_code(0);
    let said = format!("{}{}", o.stderr_text(), o.stdout_text());
    let r: Results = serde_json::from_str(
        &std::fs::read_to_string(dir.join("out/results.json")).expect("results.json"),
    )
    .expect("results parse");
    (r.trials.into_iter().next().expect("a trial"), said)
}

/// What every faulty trial must show: each fault ran (no error) with its times, the counts
/// add up, and the timeline's errors by kind add up to its errors.
fn check_accounting(t: &Trial, faults: usize, said: &str) {
    assert_eq!(t.evidence.faults.len(), faults, "{said}");
    for f in &t.evidence.faults {
        assert_eq!(f.error, None, "{}: {said}", f.kind);
        let (a, b) = (f.began_s.expect("began"), f.ended_s.expect("ended"));
        assert!(a <= b, "{}: {a} .. {b}", f.kind);
        assert!(
            f.p99_before_ms.is_some(),
            "{}: a before to compare with",
            f.kind
        );
    }
    assert_eq!(
        Some(t.operations + t.unissued),
        t.intended,
        "every intended operation ran or was counted as unissued"
    );
    for s in &t.timeline {
        assert_eq!(
            s.error_kinds.values().sum::<u64>(),
            s.errors,
            "second {} {}",
            s.t,
            s.class
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_connections_and_a_locked_table_on_postgresql_are_timed_and_recovered_from() {
    let Some(uri) = pg().await else { return };
    let prefix = "tbt_fault_pg";
    pg_clean(&uri, prefix).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let faults = "[[fault]]\nkind = \"kill_connections\"\nat_s = 2\nduration_s = 1\n\
                  [[fault]]\nkind = \"lock_tenant\"\ntenant = \"largest\"\nat_s = 4\nduration_s = 1.5\n";
    std::fs::write(
        dir.path().join("f.toml"),
        scenario(
            prefix,
            "backend = \"postgres\"\nlayout = \"shared\"",
            faults,
        ),
    )
    .expect("write");
    let (t, said) = run(dir.path(), &[]);
    check_accounting(&t, 2, &said);
    let (kill, lock) = (&t.evidence.faults[0], &t.evidence.faults[1]);
    assert_eq!(
        (kill.kind.as_str(), lock.kind.as_str()),
        ("kill_connections", "lock_tenant")
    );
    // The pools held connections to the shared database when the kill came.
    let ended: u64 = kill
        .detail
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{}", kill.detail));
    assert!(ended >= 1, "{}", kill.detail);
    assert!(kill.first_ok_after_s.is_some(), "the run recovered: {said}");
    assert!(
        lock.detail.contains("LOCK TABLE \"public\".orders"),
        "{}",
        lock.detail
    );
    assert_eq!(lock.tenant.as_deref(), Some("t00001"));
    // The report has the table, and the timeline the two faults.
    let html = std::fs::read_to_string(dir.path().join("out/index.html")).expect("report");
    let page = scraper::Html::parse_document(&html);
    let h2 = scraper::Selector::parse("h2").expect("selector");
    assert!(
        page.select(&h2)
            .any(|e| e.text().collect::<String>() == "Faults and recovery"),
        "the report's faults section"
    );
    let svg = std::fs::read_dir(dir.path().join("out"))
        .expect("run directory")
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy().starts_with("timeline-"))
        .map(|e| std::fs::read_to_string(e.path()).expect("svg"));
    let svg = svg.unwrap_or_else(|| {
        // Charts may be inline in the page.
        html.clone()
    });
    assert!(svg.contains("kill_connections") && svg.contains("lock_tenant"));
    pg_clean(&uri, prefix).await;
}

/// A MongoDB-wire server of this test's own, started (and stopped) by scripts/mongo-local.sh
/// on port 27019 with its data in `data`; `None` (a skip) when it cannot start without CI.
fn own_server(data: &Path) -> Option<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mongo-local.sh");
    let o = Command::new("bash")
        .arg(&script)
        .args(["start", "--port", "27019"])
        .env("TENANTBENCH_MONGO_DATA", data)
        .output()
        .expect("run mongo-local.sh");
    if o.status.success() {
        return Some("mongodb://127.0.0.1:27019".into());
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but no server started on 27019: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    eprintln!("SKIPPED: no local MongoDB-wire server could start");
    None
}

fn stop_server(data: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mongo-local.sh");
    let _ = Command::new("bash")
        .arg(&script)
        .args(["stop", "--port", "27019"])
        .env("TENANTBENCH_MONGO_DATA", data)
        .output();
}

#[test]
fn a_paused_and_a_restarted_mongodb_server_are_found_by_their_pid_file_and_the_run_goes_on() {
    let data = tempfile::tempdir().expect("tempdir");
    let Some(uri) = own_server(data.path()) else {
        return;
    };
    let pidfile = data.path().join("27019/server.pid");
    let pid_before = std::fs::read_to_string(&pidfile).expect("pid file");
    let dir = tempfile::tempdir().expect("tempdir");
    let faults = "[[fault]]\nkind = \"pause_server\"\nat_s = 2\nduration_s = 1\n\
                  [[fault]]\nkind = \"restart_server\"\nat_s = 4\nduration_s = 1\n";
    std::fs::write(
        dir.path().join("f.toml"),
        scenario(
            "tbt_fault_mg",
            "backend = \"mongodb\"\nlayout = \"shared\"",
            faults,
        ),
    )
    .expect("write");
    let data_dir = data.path().to_string_lossy().to_string();
    let (t, said) = run(
        dir.path(),
        &[
            ("TENANTBENCH_MONGO_URI", uri.as_str()),
            ("TENANTBENCH_MONGO_DATA", data_dir.as_str()),
        ],
    );
    let pid_after = std::fs::read_to_string(&pidfile).expect("pid file");
    stop_server(data.path());
    check_accounting(&t, 2, &said);
    let (pause, restart) = (&t.evidence.faults[0], &t.evidence.faults[1]);
    assert!(
        pause
            .detail
            .contains(&format!("paused pid {} (port 27019)", pid_before.trim())),
        "{}",
        pause.detail
    );
    assert_ne!(
        pid_before, pid_after,
        "the restarted server's pid is in the pid file"
    );
    assert!(
        restart
            .detail
            .contains(&format!("started it again as pid {}", pid_after.trim())),
        "{}",
        restart.detail
    );
    assert!(
        restart.first_ok_after_s.is_some(),
        "operations succeeded after the restart: {said}"
    );
}

#[test]
fn plan_lists_the_faults_each_variant_goes_through() {
    let dir = tempfile::tempdir().expect("tempdir");
    let faults = "[[fault]]\nkind = \"pause_server\"\nat_s = 1\nduration_s = 1\n\
                  [[fault]]\nkind = \"lock_tenant\"\nat_s = 3\nduration_s = 1\n";
    let text = scenario(
        "tbt_fault_plan",
        "backend = \"mongodb\"\n[[matrix.variant]]\nbackend = \"postgres\"",
        faults,
    );
    std::fs::write(dir.path().join("f.toml"), text).expect("write");
    let out = tenantbench()
        .args(["plan", "--scenario", "f.toml"])
        .current_dir(dir.path())
        .stdout();
    // Each variant's block: its id, then its lines.
    let line = |id: &str| {
        out.split("\n\n")
            .find(|b| b.trim_start().starts_with(id))
            .and_then(|b| b.lines().find(|l| l.trim_start().starts_with("faults")))
            .unwrap_or_default()
            .to_string()
    };
    let mongo = line("shared-compound");
    let pg = line("postgres-");
    assert!(
        mongo.contains("pause_server") && !mongo.contains("lock_tenant"),
        "{out}"
    );
    assert!(
        pg.contains("lock_tenant") && !pg.contains("pause_server"),
        "{out}"
    );
}
