//! Credentials never leave the command line: a MongoDB URI and a PostgreSQL URI carrying a
//! user and password go through every command (plan, seed, verify, ls, doctor, run, report,
//! gate, load, audit, profile, drop); every byte printed and every file written (results,
//! interval logs, HTML, Markdown, JUnit, goose's reports, audit and profile output) and every
//! marker stored in the databases is searched for the password — it is absent. A wrong password
//! is refused in one line that names the server and the user, never the password.

use std::path::{Path, PathBuf};

use mongodb::bson::{Document, doc};

use crate::util::{Ran, clean, hosts_of, mongo_user_uri, pg, server, tenantbench, uri};

const PASSWORD: &str = "cr3d-Zq81-never";
const WRONG: &str = "wr0ng-Zq81-never";
const PREFIX: &str = "tbt_cred";

fn scenario(prefix: &str) -> String {
    format!(
        "name = \"credentials\"\nprefix = \"{prefix}\"\nseed = 3\n\
         [population]\ntenants = 8\ndocuments = 1600\ndistribution = {{ zipf = {{ s = 1.0 }} }}\n\
         [load]\nindexes = \"compound\"\n\
         [workload]\nconcurrency = 2\nduration_s = 2\nwarmup_s = 0.5\n\
         mix = {{ list_recent = 2, get_by_id = 2, update_status = 1 }}\n\
         [matrix]\nlayout = [\"shared\"]\nrepeat = 1\n"
    )
}

/// Runs one command; fails the test with its output when it fails (or, with `ok` false, when
/// it succeeds); checks its output for the password. Returns the output.
fn step(label: &str, args: &[&str], dir: &Path, ok: bool, seen: &mut Vec<String>) -> Ran {
    let out = tenantbench()
        .args(args)
        .current_dir(dir)
        .env_remove("TENANTBENCH_MONGO_URI")
        .env_remove("TENANTBENCH_PG_URI")
        .output();
    let text = out.text();
    assert_eq!(
        out.status.success(),
        ok,
        "{label} ({}) exit {:?}:\n{text}",
        args.join(" "),
        out.status.code()
    );
    assert!(
        !text.contains(PASSWORD),
        "{label} printed the password:\n{text}"
    );
    seen.push(label.to_string());
    out
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// No file under `dir` holds the password; returns how many files were searched, by extension.
fn no_password_in_files(dir: &Path) -> std::collections::BTreeMap<String, usize> {
    let mut kinds = std::collections::BTreeMap::new();
    for p in files_under(dir) {
        let bytes = std::fs::read(&p).expect("read");
        assert!(
            !bytes
                .windows(PASSWORD.len())
                .any(|w| w == PASSWORD.as_bytes()),
            "{} holds the password",
            p.display()
        );
        let ext = p
            .extension()
            .map_or("(none)".to_string(), |e| e.to_string_lossy().into_owned());
        *kinds.entry(ext).or_insert(0) += 1;
    }
    kinds
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_in_the_mongodb_uri_is_in_no_output_file_or_marker() {
    let Some(client) = server().await else { return };
    clean(&client, PREFIX).await;
    let hosts = hosts_of(&uri());
    let secret = mongo_user_uri(&client, "tbcred", PASSWORD).await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    std::fs::write(dir.join("s.toml"), scenario(PREFIX)).expect("scenario");
    let shared = format!("{PREFIX}_shared");
    let mut seen = Vec::new();
    let u = secret.as_str();
    let steps: Vec<(&str, Vec<&str>)> = vec![
        ("plan", vec!["plan", "-s", "s.toml"]),
        (
            "seed",
            vec!["seed", "-s", "s.toml", "--uri", u, "--no-progress"],
        ),
        (
            "verify",
            vec!["verify", "-s", "s.toml", "--uri", u, "--no-progress"],
        ),
        ("ls", vec!["ls", "--uri", u, "--prefix", PREFIX]),
        ("doctor", vec!["doctor", "--uri", u]),
        (
            "run",
            vec![
                "run",
                "-s",
                "s.toml",
                "--uri",
                u,
                "--out",
                "run",
                "--no-progress",
            ],
        ),
        ("report", vec!["report", "run", "-o", "report"]),
        (
            "gate",
            vec![
                "gate",
                "run",
                "--baseline",
                "run",
                "--rules",
                "rules.toml",
                "--junit",
                "gate.xml",
                "--markdown",
                "gate.md",
            ],
        ),
        (
            "load",
            vec![
                "load",
                "-s",
                "s.toml",
                "--uri",
                u,
                "--out",
                "load",
                "--no-progress",
            ],
        ),
        (
            "audit",
            vec![
                "audit",
                "--uri",
                u,
                "--db",
                &shared,
                "--json",
                "audit.json",
                "--markdown",
                "audit.md",
            ],
        ),
        (
            "profile",
            vec!["profile", "--uri", u, "--db", &shared, "-o", "profile.toml"],
        ),
    ];
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("gates/default.toml"),
        dir.join("rules.toml"),
    )
    .expect("rules");
    for (label, args) in &steps {
        step(label, args, dir, true, &mut seen);
    }

    // The markers (and directory) the harness stored in its databases.
    let mut markers = 0;
    for name in client
        .list_database_names()
        .await
        .expect("databases")
        .into_iter()
        .filter(|n| n.starts_with(PREFIX))
    {
        let mut cur = client
            .database(&name)
            .collection::<Document>("_tenantbench")
            .find(doc! {})
            .await
            .expect("markers");
        while cur.advance().await.expect("marker") {
            let d: Document = cur.deserialize_current().expect("marker document");
            let text = format!("{d:?}");
            assert!(
                !text.contains(PASSWORD),
                "marker in {name} holds the password"
            );
            markers += 1;
        }
    }
    assert!(markers > 0, "no marker was read");

    let doc = step(
        "wrong password",
        &["doctor", "--uri", &secret.replace(PASSWORD, WRONG)],
        dir,
        false,
        &mut seen,
    );
    let doc = doc.stdout_text();
    assert!(
        doc.contains("as user tbcred") && doc.contains("reachable    yes, refused us: "),
        "the doctor says the server refused the user: {doc}"
    );
    assert!(!doc.contains(WRONG), "{doc}");
    let err = tenantbench()
        .args([
            "run",
            "-s",
            "s.toml",
            "--out",
            "bad",
            "--no-progress",
            "--uri",
        ])
        .arg(secret.replace(PASSWORD, WRONG))
        .current_dir(dir)
        .fails()
        .stderr_text();
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "one error line:\n{err}");
    let line = lines[0];
    assert!(line.contains("authentication failed"), "{line}");
    assert!(
        line.contains("tbcred") && line.contains(&hosts),
        "names user and server: {line}"
    );
    assert!(!line.contains(WRONG) && !line.contains(PASSWORD), "{line}");
    for noise in ["Kind:", "labels:", "source: Some"] {
        assert!(
            !err.contains(noise),
            "the driver's debug structure ({noise}):\n{err}"
        );
    }

    step(
        "drop",
        &["drop", "--uri", u, "--prefix", PREFIX],
        dir,
        true,
        &mut seen,
    );
    let kinds = no_password_in_files(dir);
    for ext in ["json", "hlog", "html", "md", "xml", "toml", "svg"] {
        assert!(
            kinds.contains_key(ext),
            "no .{ext} file was written: {kinds:?}"
        );
    }
    assert_eq!(seen.len(), steps.len() + 2, "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_in_the_postgres_uri_is_in_no_output_file() {
    // The local server trusts 127.0.0.1, so a password in the URI is accepted and unused:
    // what matters here is where the harness copies the URI.
    let Some(base) = pg().await else {
        return;
    };
    let hosts = hosts_of(&base);
    let secret = format!("postgres://postgres:{PASSWORD}@{hosts}/postgres");
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let prefix = "tbt_credpg";
    std::fs::write(dir.join("s.toml"), scenario(prefix)).expect("scenario");
    let u = secret.as_str();
    let pg = ["--backend", "postgres", "--uri", u];
    let with = |head: &[&'static str], tail: &[&str]| -> Vec<String> {
        head.iter()
            .map(|s| s.to_string())
            .chain(pg.iter().map(|s| s.to_string()))
            .chain(tail.iter().map(|s| s.to_string()))
            .collect()
    };
    let mut seen = Vec::new();
    let steps: Vec<(&str, Vec<String>)> = vec![
        ("drop before", with(&["drop"], &["--prefix", prefix])),
        ("seed", with(&["seed", "-s", "s.toml"], &["--no-progress"])),
        ("doctor", with(&["doctor"], &[])),
        ("ls", with(&["ls"], &["--prefix", prefix])),
        (
            "run",
            with(&["run", "-s", "s.toml"], &["--out", "run", "--no-progress"]),
        ),
        (
            "report",
            vec!["report".into(), "run".into(), "-o".into(), "report".into()],
        ),
        ("drop", with(&["drop"], &["--prefix", prefix])),
    ];
    for (label, args) in &steps {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        step(label, &args, dir, true, &mut seen);
        if *label == "run" {
            // Audit and profile read one database: the shared layout's, named in the URI.
            let db = format!("postgres://postgres:{PASSWORD}@{hosts}/{prefix}_shared");
            for (label, cmd, out) in [("audit", "audit", "--json"), ("profile", "profile", "-o")] {
                let file = format!("{cmd}-pg.{}", if cmd == "audit" { "json" } else { "toml" });
                step(
                    label,
                    &[cmd, "--backend", "postgres", "--uri", &db, out, &file],
                    dir,
                    true,
                    &mut seen,
                );
            }
        }
    }
    let kinds = no_password_in_files(dir);
    for ext in ["json", "hlog", "html", "md"] {
        assert!(
            kinds.contains_key(ext),
            "no .{ext} file was written: {kinds:?}"
        );
    }
}
