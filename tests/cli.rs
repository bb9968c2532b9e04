//! The binary as a user runs it: help, bad input, exit codes.

use crate::util::tenantbench;

#[test]
fn help_lists_commands_with_examples() {
    let text = tenantbench().arg("--help").stdout();
    for word in [
        "seed",
        "verify",
        "ls",
        "drop",
        "doctor",
        "run",
        "plan",
        "merge",
        "gate",
        "serve",
        "EXAMPLES",
        "TENANTBENCH_MONGO_URI",
    ] {
        assert!(text.contains(word), "--help lacks {word}:\n{text}");
    }
}

#[test]
fn a_bad_scenario_is_a_clear_error_not_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("broken.toml");
    std::fs::write(
        &path,
        "name = \"x\"\n[population]\ntenants = 0\ndocuments = 10\ndistribution = \"uniform\"\n",
    )
    .expect("write");
    let err = tenantbench()
        .args(["seed", "--scenario"])
        .arg(&path)
        .assert_exit_code(2)
        .stderr_text();
    assert!(err.contains(&format!("{}:3:11", path.display())), "{err}");
    assert!(
        err.contains("expected between 1 and 1,000,000 tenants"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_flags_name_the_flag() {
    let err = tenantbench()
        .args([
            "seed",
            "--scenario",
            "scenarios/quickstart.toml",
            "--layout",
            "sharded",
        ])
        .assert_exit_code(2)
        .stderr_text();
    assert!(
        err.contains("--layout") && err.contains("sharded") && err.contains("per-tenant"),
        "{err}"
    );

    let err = tenantbench()
        .args([
            "seed",
            "--scenario",
            "scenarios/quickstart.toml",
            "--indexes",
            "fastest",
            "--uri",
            "mongodb://127.0.0.1:1",
        ])
        .assert_exit_code(2)
        .stderr_text();
    assert!(
        err.contains("--indexes \"fastest\"") && err.contains("none, tenant, compound"),
        "{err}"
    );

    let out = tenantbench()
        .args(["drop", "--prefix", "Bad-Prefix"])
        .assert_exit_code(2);
    assert!(out.stderr_text().contains("--prefix \"Bad-Prefix\""));
}

#[test]
fn doctor_explains_an_unreachable_server_naming_the_user_not_the_password() {
    let text = tenantbench()
        .args([
            "doctor",
            "--uri",
            "mongodb://alice:s3cret@127.0.0.1:1/?serverSelectionTimeoutMS=500",
        ])
        .assert_exit_code(1)
        .text();
    assert!(text.contains("reachable    no"), "{text}");
    assert!(text.contains("scripts/mongo-local.sh start"), "{text}");
    // The user is named (which account to check), the password never.
    assert!(text.contains("as user alice"), "{text}");
    assert!(!text.contains("s3cret"), "the password printed:\n{text}");
}

#[test]
fn run_seeds_runs_and_prints_a_summary_with_plan_evidence() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let Some(client) = rt.block_on(crate::util::server()) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("run.toml");
    std::fs::write(
        &path,
        "name = \"runsmoke\"\nprefix = \"tbt_cli_run\"\n[population]\ntenants = 10\ndocuments = 2000\n\
         distribution = { zipf = { s = 1.0 } }\n[workload]\nconcurrency = 2\ncount = 300\n\
         mix = { list_recent = 2, get_by_id = 1 }\n",
    )
    .expect("write");
    let out = tenantbench()
        .args([
            "run",
            "--no-progress",
            "--indexes",
            "tenant",
            "--uri",
            &crate::util::uri(),
            "--scenario",
        ])
        .arg(&path)
        .current_dir(dir.path())
        .success();
    let (text, err) = (out.stdout_text(), out.stderr_text());
    assert!(err.contains("Complete: 300 operations"), "{err}");
    // The default run directory, under reports/ of the working directory.
    let runs: Vec<_> = std::fs::read_dir(dir.path().join("reports"))
        .expect("reports/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(runs.len(), 1);
    assert!(
        runs[0].starts_with("runsmoke-") && runs[0].ends_with('Z'),
        "{runs:?}"
    );
    for word in ["list_recent", "get_by_id", "free", "IXSCAN", "p99.9 ms"] {
        assert!(text.contains(word), "missing {word}:\n{text}");
    }
    rt.block_on(crate::util::clean(&client, "tbt_cli_run"));
}

#[test]
fn report_compares_a_baseline_run_with_a_current_one_and_refuses_other_formats() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let fixture = include_str!("fixtures/quickstart-results.json");
    let (before, after, out) = (
        tmp.path().join("before"),
        tmp.path().join("after"),
        tmp.path().join("out"),
    );
    for d in [&before, &after] {
        std::fs::create_dir_all(d).expect("mkdir");
        std::fs::write(d.join("results.json"), fixture).expect("write");
    }
    let stdout = tenantbench()
        .arg("report")
        .args([&before, &after])
        .arg("-o")
        .arg(&out)
        .stdout();
    assert!(stdout.contains(&out.join("index.html").display().to_string()));
    let html = std::fs::read_to_string(out.join("index.html")).expect("index.html");
    assert!(html.contains("Against the baseline run") && html.contains("<b>before</b>"));
    assert!(out.join("compare-all.svg").exists() && out.join("summary.md").exists());
    // The same run twice: every delta is "same".
    assert!(!html.contains("<td class=\"better\">") && !html.contains("<td class=\"worse\">"));
    assert!(html.contains("<td class=\"same\">"));

    // Results of another format version: a message naming the file and both versions.
    let old = tmp.path().join("old");
    std::fs::create_dir_all(&old).expect("mkdir");
    std::fs::write(
        old.join("results.json"),
        fixture.replacen("\"schema_version\": 2", "\"schema_version\": 1", 1),
    )
    .expect("write");
    let stderr = tenantbench()
        .arg("report")
        .arg(&old)
        .assert_exit_code(2)
        .stderr_text();
    assert!(
        stderr.contains("results.json") && stderr.contains("format 1, expected 2"),
        "{stderr}"
    );
}

#[test]
fn serve_refuses_unseeded_data_then_serves_seeded_data_and_stops_on_sigterm() {
    use std::io::{BufRead, BufReader};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let Some(client) = rt.block_on(crate::util::server()) else {
        return;
    };
    rt.block_on(crate::util::clean(&client, "tbt_cli_serve"));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("serve.toml");
    std::fs::write(
        &path,
        "name = \"servesmoke\"\nprefix = \"tbt_cli_serve\"\n[population]\ntenants = 10\ndocuments = 2000\n\
         distribution = { zipf = { s = 1.0 } }\n",
    )
    .expect("write");
    let uri = crate::util::uri();
    let serve = |listen: &str| {
        let mut c = tenantbench();
        c.args(["serve", "--uri", &uri, "--listen", listen, "--scenario"])
            .arg(&path);
        c
    };
    // Nothing seeded: a clear error that says how to seed, never a panic.
    let err = serve("127.0.0.1:0").fails().stderr_text();
    assert!(
        err.contains("seed it first with `tenantbench seed"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    tenantbench()
        .args(["seed", "--no-progress", "--uri", &uri, "--scenario"])
        .arg(&path)
        .success();
    let mut child = serve("127.0.0.1:0").piped_stderr().spawn();
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let addr = crate::util::served_address(&mut lines);
    let body = rt.block_on(async {
        reqwest::get(format!("http://{addr}/t/t00001/orders/count?status=paid"))
            .await
            .expect("answers")
            .text()
            .await
            .expect("body")
    });
    assert!(body.contains("\"count\""), "{body}");
    // SAFETY: kill(2) with a pid this test spawned and a valid signal number.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(rc, 0);
    let status = child.wait().expect("exits");
    assert!(status.success(), "SIGTERM ends serve cleanly: {status}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter()
            .any(|l| l.contains("requests in flight were answered")),
        "{rest:?}"
    );
    rt.block_on(crate::util::clean(&client, "tbt_cli_serve"));
}

#[test]
fn plan_projects_a_scenario_to_a_million_tenants_without_a_server() {
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/skewed-100k.toml");
    let text = tenantbench()
        .args(["plan", "--scenario", scenario, "--project", "1000000"])
        .env("TENANTBENCH_MONGO_URI", "mongodb://127.0.0.1:1")
        .env(
            "TENANTBENCH_PG_URI",
            "postgres://postgres@127.0.0.1:1/postgres",
        )
        .stdout();
    for want in [
        "to 1,000,000 tenants and 50,000,000 documents",
        "mongodb    per-tenant          1,000,000",
        "17,000,000 files",
        "postgres per-tenant: 1,000,000 databases",
        "harness memory:",
    ] {
        assert!(
            text.contains(want),
            "the projection lacks {want:?}:\n{text}"
        );
    }
    // Every layout on both databases has a row.
    for layout in ["shared", "per-tenant", "hybrid", "schema-per-tenant", "rls"] {
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().nth(1) == Some(layout)),
            "no row for {layout}:\n{text}"
        );
    }
    let err = tenantbench()
        .args(["plan", "--scenario", scenario, "--project", "0"])
        .fails()
        .stderr_text();
    assert!(err.contains("--project 0"), "{err}");
}
