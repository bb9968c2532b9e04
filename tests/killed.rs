//! A harness killed with SIGKILL loses nothing it finished: `run` keeps results.json of the
//! trials done (written whole after each, by rename) and `--resume` runs only the rest; a long
//! trial is saved as `partial` at every checkpoint, so a kill loses at most that interval; `seed`
//! leaves the databases it had not finished without a complete marker, and the next `seed`
//! reloads only those. On PostgreSQL, as a user would run them.

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use tenantbench::metrics::results::{Results, TrialStatus};

use crate::util::{pg, pg_clean, tenantbench};

/// Polls `done` every 20 ms for up to 120 s; false when it never held.
fn wait_for(mut done: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(120) {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn kill(mut c: Child) {
    c.kill().expect("SIGKILL");
    let _ = c.wait();
}

fn results(dir: &Path) -> Option<Results> {
    let text = std::fs::read_to_string(dir.join("results.json")).ok()?;
    Some(serde_json::from_str(&text).expect("results.json parses whole after a SIGKILL"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_mid_trial_keeps_its_finished_trials_and_resume_runs_the_rest() {
    let Some(uri) = pg().await else { return };
    let prefix = "tbt_killed_run";
    pg_clean(&uri, prefix).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = format!(
        "name = \"killed\"\nprefix = \"{prefix}\"\n[population]\ntenants = 10\ndocuments = 2000\ndistribution = \"uniform\"\n\
         [load]\nbatch_size = 500\nworkers = 2\n[workload]\nconcurrency = 2\nduration_s = 2\nwarmup_s = 0\n\
         mix = {{ get_by_id = 1 }}\n[[matrix.variant]]\nbackend = \"postgres\"\n[matrix]\nrepeat = 4\n"
    );
    std::fs::write(dir.path().join("k.toml"), scenario).expect("write");
    let out = dir.path().join("out");
    let child = tenantbench()
        .args([
            "run",
            "--scenario",
            "k.toml",
            "--no-progress",
            "--no-report",
            "-o",
            "out",
        ])
        .current_dir(dir.path())
        .quiet()
        .spawn();
    // Killed once the first trial is in the file, while the second runs.
    assert!(
        wait_for(|| results(&out).is_some_and(|r| !r.trials.is_empty())),
        "the first trial was written"
    );
    kill(child);
    let before = results(&out).expect("results.json survives");
    let done = before.trials.len();
    assert!((1..4).contains(&done), "{done} trials before the kill");
    assert!(
        before
            .trials
            .iter()
            .all(|t| t.status == TrialStatus::Complete && t.operations > 0)
    );

    tenantbench()
        .args([
            "run",
            "--scenario",
            "k.toml",
            "--no-progress",
            "--no-report",
            "--resume",
            "out",
        ])
        .current_dir(dir.path())
        .success();
    let after = results(&out).expect("results.json");
    let mut numbers: Vec<u32> = after.trials.iter().map(|t| t.trial).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, [1, 2, 3, 4], "each trial once");
    assert_eq!(
        &after.trials[..done],
        &before.trials[..],
        "the trials finished before the kill are kept as they were"
    );
    pg_clean(&uri, prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_trial_is_saved_as_partial_at_each_checkpoint_and_resume_runs_it_again() {
    let Some(uri) = pg().await else { return };
    let prefix = "tbt_killed_cp";
    pg_clean(&uri, prefix).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = format!(
        "name = \"checkpoint\"\nprefix = \"{prefix}\"\n[population]\ntenants = 10\ndocuments = 2000\ndistribution = \"uniform\"\n\
         [workload]\nrate = 200\nworkers = 4\nduration_s = 8\nwarmup_s = 0\n\
         mix = {{ get_by_id = 1 }}\n[[matrix.variant]]\nbackend = \"postgres\"\n[matrix]\nrepeat = 1\n"
    );
    std::fs::write(dir.path().join("c.toml"), scenario).expect("write");
    let out = dir.path().join("out");
    let child = tenantbench()
        .args([
            "run",
            "--scenario",
            "c.toml",
            "--no-progress",
            "--no-report",
            "--checkpoint-every",
            "1",
            "-o",
            "out",
        ])
        .current_dir(dir.path())
        .quiet()
        .spawn();
    // Killed once a checkpoint holds three closed seconds of the only trial.
    let saved = |r: &Results| {
        r.trials
            .iter()
            .any(|t| t.status == TrialStatus::Partial && t.timeline.iter().any(|s| s.t >= 2))
    };
    assert!(
        wait_for(|| results(&out).is_some_and(|r| saved(&r))),
        "a checkpoint saved the trial so far"
    );
    kill(child);
    let before = results(&out).expect("results.json survives");
    let [t] = &before.trials[..] else {
        panic!("one trial: {:?}", before.trials.len())
    };
    assert_eq!(t.status, TrialStatus::Partial);
    assert!(t.operations > 0 && t.groups.is_empty(), "counts, no groups");
    assert!(t.error.as_deref().is_some_and(|e| e.contains("--resume")));
    let m = t.evidence.memory.as_ref().expect("memory so far");
    assert!(
        m.rss.len() >= 2 && m.rss.iter().all(|s| s.bytes > 0),
        "{m:?}"
    );
    assert!(
        before.trials_of(&t.variant).next().is_none(),
        "a partial trial is left out of every figure"
    );

    tenantbench()
        .args([
            "run",
            "--scenario",
            "c.toml",
            "--no-progress",
            "--no-report",
            "--resume",
            "out",
        ])
        .current_dir(dir.path())
        .success();
    let after = results(&out).expect("results.json");
    let [t] = &after.trials[..] else {
        panic!("one trial: {:?}", after.trials.len())
    };
    assert_eq!(
        t.status,
        TrialStatus::Complete,
        "the partial trial ran again"
    );
    let m = t.evidence.memory.as_ref().expect("memory");
    assert!(m.rss.len() >= 6, "a sample a second: {}", m.rss.len());
    pg_clean(&uri, prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_killed_midway_reloads_only_the_databases_it_had_not_finished() {
    let Some(uri) = pg().await else { return };
    let prefix = "tbt_killed_seed";
    pg_clean(&uri, prefix).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = format!(
        "name = \"killedseed\"\nprefix = \"{prefix}\"\n[population]\ntenants = 40\ndocuments = 40000\ndistribution = \"uniform\"\n\
         [load]\nbatch_size = 500\nworkers = 2\n"
    );
    std::fs::write(dir.path().join("s.toml"), scenario).expect("write");
    let seed = || {
        let mut c = tenantbench();
        c.args([
            "seed",
            "--scenario",
            "s.toml",
            "--backend",
            "postgres",
            "--layout",
            "per-tenant",
            "--no-progress",
        ])
        .current_dir(dir.path());
        c
    };
    let ls = || {
        let text = tenantbench()
            .args(["ls", "--backend", "postgres", "--prefix", prefix])
            .output()
            .stdout_text();
        let complete = text.lines().filter(|l| l.contains(" complete")).count();
        let rows = text.lines().filter(|l| l.starts_with(prefix)).count();
        (complete, rows)
    };
    let child = seed().quiet().spawn();
    assert!(
        wait_for(|| {
            let (c, _) = ls();
            c >= 3
        }),
        "some databases finished"
    );
    kill(child);
    let (complete, rows) = ls();
    assert!(
        complete < 40,
        "killed before the last database: {complete} of {rows}"
    );
    let o = seed().success();
    let said = o.stderr_text() + &o.stdout_text();
    // "databases    40 (N loaded, M reused as they were)": the finished ones reused.
    let line = said
        .lines()
        .find(|l| l.trim_start().starts_with("databases"))
        .unwrap_or_else(|| panic!("{said}"));
    let reused: usize = line
        .split(", ")
        .nth(1)
        .and_then(|x| x.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(
        reused >= complete && reused < 40,
        "{line}: {complete} were complete at the kill"
    );
    assert_eq!(ls().0, 40, "every database complete after the second seed");
    pg_clean(&uri, prefix).await;
}
