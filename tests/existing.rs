//! `run` against databases tenantbench did not create (`[target] existing = true`), on both
//! servers: the team's own queries run on the team's own tenants (counted in the database),
//! the data is unchanged afterwards (checksums), no marker is written, PostgreSQL runs as a
//! role that may only SELECT, a write is refused unless `--allow-writes`, and the results and
//! report say which database was read.

use std::path::Path;

use tenantbench::metrics::results::{Results, TrialStatus};
use tenantbench::metrics::store::read_results;

use crate::util::{Ran, pg, run_toml};

/// `tenantbench run` of scenario text `toml` (written into `dir`) against `uri`, with `extra`
/// flags, into `dir/run` (replaced); the output, and the results when it wrote them.
fn run(dir: &Path, toml: &str, backend: &str, uri: &str, extra: &[&str]) -> (Ran, Option<Results>) {
    let o = run_toml(dir, "run", toml)
        .args(["--backend", backend, "--uri", uri])
        .args(extra)
        .output();
    (o, read_results(&dir.join("run")).ok())
}

/// What every existing-target run must show: complete trials of only the scenario's own
/// operations, without errors, over the six companies of the team's data, the largest first.
fn check_run(o: &Ran, r: &Results, db: &str, ops: &[&str]) -> Results {
    assert!(o.status.success(), "{}", o.text());
    let t = r
        .scenario
        .target
        .as_ref()
        .expect("the results name the database read");
    assert_eq!(t.database, db);
    assert!(t.read_only);
    assert_eq!(t.tenant_field.as_deref(), Some("companyId"), "detected");
    assert_eq!(r.scenario.tenants, 6);
    assert_eq!(
        r.scenario.documents,
        300 + 300 + 50,
        "orders, events, users"
    );
    assert!(!r.trials.is_empty());
    for trial in &r.trials {
        assert_eq!(trial.status, TrialStatus::Complete, "{:?}", trial.error);
        assert!(trial.operations > 0);
        assert_eq!(trial.errors, 0, "{}", o.text());
        assert_eq!(trial.evidence.data.loaded, 0, "nothing seeded");
        let mut ran: Vec<String> = trial
            .groups
            .iter()
            .map(|g| g.op.name().to_string())
            .collect();
        ran.sort();
        ran.dedup();
        assert_eq!(ran, ops);
        // The largest tenant's plan of the events count: its 60 of the 300 events.
        let e = trial
            .evidence
            .explain
            .iter()
            .find(|e| e.op.name() == "count_events" && e.tenant == "acme")
            .expect("the largest tenant's events plan");
        assert_eq!((e.tenant_documents, e.collection_documents), (60, 300));
    }
    r.clone()
}

const OPS: [&str; 2] = ["count_events", "recent_orders"];

#[tokio::test]
async fn postgres_existing_database_is_read_as_a_select_only_role_and_left_unchanged() {
    let Some(uri) = pg().await else {
        return;
    };
    const DB: &str = "tbt_existing_app";
    const READER: &str = "tbt_existing_reader";
    let admin = tenantbench::backend::postgres::connect(&uri, None)
        .await
        .expect("connect");
    crate::audit::team_tables(&admin, &uri, DB, READER).await;
    let owner = tenantbench::backend::postgres::connect(&uri, Some(DB))
        .await
        .expect("connect");
    let before = crate::audit::pg_checksum(&owner).await;
    let cfg: tokio_postgres::Config = uri.parse().expect("uri");
    let host = match &cfg.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(h) => h.clone(),
        tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
    };
    let port = cfg.get_ports().first().copied().unwrap_or(5432);
    let reader = format!("postgres://{READER}@{host}:{port}/{DB}");
    let scenario = format!(
        r#"name = "own-pg"
[target]
existing = true
database = "{DB}"

[[operation]]
name = "recent_orders"
collection = "orders"
sql = 'SELECT n, status FROM orders WHERE "companyId" = $tenant AND n >= 10 ORDER BY n DESC LIMIT 5'

[[operation]]
name = "count_events"
collection = "events"
sql = 'SELECT count(*) FROM events WHERE "companyId" = {{{{tenant}}}}'

[workload]
mix = {{ recent_orders = 3, count_events = 1 }}
concurrency = 2
duration_s = 1
warmup_s = 0.2

[matrix]
backend = ["postgres"]
repeat = 2
"#
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let (o, r) = run(tmp.path(), &scenario, "postgres", &reader, &[]);
    let r = check_run(&o, &r.unwrap_or_else(|| panic!("{}", o.text())), DB, &OPS);
    assert_eq!(r.trials.len(), 2);
    let html = std::fs::read_to_string(tmp.path().join("run/index.html")).expect("report");
    assert!(
        html.contains("Read the existing database <code>tbt_existing_app</code>"),
        "the report says which database it read"
    );
    let marker: i64 = owner
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE tablename LIKE '%tenantbench%'",
            &[],
        )
        .await
        .expect("marker")
        .get(0);
    assert_eq!(marker, 0, "no marker table was created");
    assert_eq!(
        crate::audit::pg_checksum(&owner).await,
        before,
        "the run changed data"
    );

    // A write is refused before anything is sent, naming the operation and the flag.
    let writes = scenario.replace(
        "[workload]",
        "[[operation]]\nname = \"touch\"\ncollection = \"settings\"\nread_only = false\nsql = \"UPDATE settings SET value = 'light'\"\n\n[workload]",
    )
    .replace("count_events = 1 }", "count_events = 1, touch = 1 }");
    let (o, r) = run(tmp.path(), &writes, "postgres", &reader, &[]);
    assert!(!o.status.success() && r.is_none(), "{}", o.text());
    let e = o.stderr_text();
    assert!(
        e.contains("`touch` writes") && e.contains("--allow-writes"),
        "{e}"
    );
    assert_eq!(crate::audit::pg_checksum(&owner).await, before);

    drop(owner);
    for sql in [
        format!("DROP DATABASE {DB} WITH (FORCE)"),
        format!("DROP ROLE {READER}"),
    ] {
        admin.batch_execute(&sql).await.expect(&sql);
    }
}

#[tokio::test]
async fn mongodb_existing_database_is_read_without_a_marker_and_left_unchanged() {
    let Some(setup) = crate::util::server().await else {
        return;
    };
    const DB: &str = "tbt_existing_app";
    crate::audit::team_database(&setup, DB).await;
    let before = crate::audit::mongo_checksum(&setup, DB).await;
    let scenario = format!(
        r#"name = "own-mongo"
[target]
existing = true
database = "{DB}"
tenant_field = "companyId"

[[operation]]
name = "recent_orders"
collection = "orders"
filter = '{{"companyId": "{{{{tenant}}}}", "n": {{"$gte": 10}}}}'
sort = '{{"n": -1}}'
projection = '{{"n": 1, "status": 1}}'
limit = 5

[[operation]]
name = "count_events"
collection = "events"
filter = '{{"companyId": "{{{{tenant}}}}"}}'
count = true

[workload]
mix = {{ recent_orders = 3, count_events = 1 }}
concurrency = 2
duration_s = 1
warmup_s = 0.2

[matrix]
repeat = 1
"#
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let (o, r) = run(tmp.path(), &scenario, "mongodb", &crate::util::uri(), &[]);
    check_run(&o, &r.unwrap_or_else(|| panic!("{}", o.text())), DB, &OPS);
    let names = setup
        .database(DB)
        .list_collection_names()
        .await
        .expect("names");
    assert!(
        !names.iter().any(|n| n.contains("tenantbench")),
        "no marker collection: {names:?}"
    );
    assert_eq!(
        crate::audit::mongo_checksum(&setup, DB).await,
        before,
        "the run changed data"
    );
    setup.database(DB).drop().await.expect("drop");
}
