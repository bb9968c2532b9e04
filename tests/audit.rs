//! `audit` over databases tenantbench did not seed, on both servers: a team's own collections
//! or tables with a `companyId` field, some missing the tenant index and one with a unique
//! index that is not tenant-scoped — exactly those are flagged, with the commands that fix
//! them; the data is unchanged after the audit (checksums), the MongoDB reader sends nothing
//! but reads, and the PostgreSQL audit runs as a role that may only SELECT.

use std::path::Path;
use std::sync::{Arc, Mutex};

use futures_util::TryStreamExt;
use mongodb::bson::{Document, doc};
use mongodb::event::EventHandler;
use mongodb::event::command::CommandEvent;
use mongodb::options::{ClientOptions, IndexOptions};
use mongodb::{Client, IndexModel};
use tenantbench::audit::{Audit, Verdict, detect_field, judge};
use tenantbench::cli::{AuditArgs, FailOn, OwnDatabase, ServerArgs};
use tenantbench::op::BackendKind;

mod fixes;

const DB: &str = "tbt_audit_app";
const READER: &str = "tbt_audit_reader";

/// The company of record `i`: `acme` holds 60 of 300, five others 48 each.
fn company(i: i32) -> String {
    if i < 60 {
        "acme".into()
    } else {
        format!("co{}", i % 5)
    }
}

/// A team's own database `name`, made with the driver (no tenantbench marker): orders and
/// events of six companies by `companyId` (acme 60 of 300, co0 … co4 48 each), users, and
/// settings without a tenant field.
pub(crate) async fn team_database(c: &Client, name: &str) {
    let db = c.database(name);
    let _ = db.drop().await;
    let orders: Vec<_> = (0..300)
        .map(|i| doc! {"companyId": company(i), "status": "paid", "n": i})
        .collect();
    let o = db.collection::<Document>("orders");
    o.insert_many(orders.clone()).await.expect("orders");
    o.create_index(
        IndexModel::builder()
            .keys(doc! {"companyId": 1, "n": -1})
            .build(),
    )
    .await
    .expect("index");
    db.collection("events")
        .insert_many(orders)
        .await
        .expect("events");
    let users: Vec<_> = (0..50)
        .map(|i| doc! {"companyId": company(i * 6), "email": format!("u{i}@x.io")})
        .collect();
    let u = db.collection::<Document>("users");
    u.insert_many(users).await.expect("users");
    u.create_index(IndexModel::builder().keys(doc! {"companyId": 1}).build())
        .await
        .expect("index");
    u.create_index(
        IndexModel::builder()
            .keys(doc! {"email": 1})
            .options(IndexOptions::builder().unique(true).build())
            .build(),
    )
    .await
    .expect("unique index");
    db.collection("settings")
        .insert_one(doc! {"key": "theme", "value": "dark"})
        .await
        .expect("settings");
}

/// Every document and index of the team's database `name`, as one comparable text.
pub(crate) async fn mongo_checksum(c: &Client, name: &str) -> String {
    let db = c.database(name);
    let mut names = db.list_collection_names().await.expect("names");
    names.sort();
    let mut out = String::new();
    for n in names {
        let coll = db.collection::<Document>(&n);
        let docs: Vec<Document> = coll
            .find(doc! {})
            .sort(doc! {"_id": 1})
            .await
            .expect("find")
            .try_collect()
            .await
            .expect("docs");
        let ix: Vec<_> = coll
            .list_indexes()
            .await
            .expect("indexes")
            .try_collect()
            .await
            .expect("indexes");
        out.push_str(&format!("{n}: {docs:?} {:?}\n", ix));
    }
    out
}

/// The verdicts of an audit file, per collection, in order.
fn verdicts(a: &Audit) -> Vec<(String, Verdict)> {
    a.findings()
        .map(|(c, f)| (c.name.clone(), f.verdict.clone()))
        .collect()
}

/// What a team's database must be judged as, on either server.
fn expected(unique: &str) -> Vec<(String, Verdict)> {
    vec![
        ("events".to_string(), Verdict::MissingTenantIndex),
        ("orders".to_string(), Verdict::Ok),
        ("settings".to_string(), Verdict::NoTenantField),
        (
            "users".to_string(),
            Verdict::UniqueNotTenantScoped {
                index: unique.into(),
                keys: vec!["email".into()],
            },
        ),
    ]
}

/// `tenantbench audit` as the binary runs it, writing JSON and Markdown into `dir`; returns
/// the exit status and the audit file.
async fn audit_command(
    backend: BackendKind,
    uri: String,
    databases: Vec<String>,
    dir: &Path,
) -> (u8, Audit) {
    let json = dir.join("audit.json");
    let a = AuditArgs {
        own: OwnDatabase {
            server: ServerArgs {
                backend: tenantbench::cli::Backend {
                    kind: Some(backend),
                },
                uri: Some(uri),
            },
            databases,
            schemas: Vec::new(),
            tenant_field: None,
        },
        sample: 1000,
        json: Some(json.clone()),
        markdown: Some(dir.join("audit.md")),
        fail_on: vec![FailOn::Missing],
    };
    let code = tenantbench::app::audit::audit(&a).await.expect("audit");
    let text = std::fs::read_to_string(&json).expect("audit.json");
    let value: serde_json::Value = serde_json::from_str(&text).expect("json");
    let schema: serde_json::Value =
        serde_json::from_str(&tenantbench::audit::schema_json()).expect("schema json");
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "audit.json violates its schema: {errors:?}"
    );
    let md = std::fs::read_to_string(dir.join("audit.md")).expect("audit.md");
    assert!(
        md.contains("| events |") || md.contains(".events |"),
        "{md}"
    );
    (code, serde_json::from_str(&text).expect("audit file"))
}

/// The fixes of [`team_database`]'s audit: the tenant index events lacks, then users' unique
/// index rebuilt with `companyId` first before the old one goes.
const MONGO_FIXES: [&str; 2] = [
    r#"db.getSiblingDB("tbt_audit_app").getCollection("events").createIndex({ "companyId": 1 });"#,
    concat!(
        r#"db.getSiblingDB("tbt_audit_app").getCollection("users").createIndex({ "companyId": 1, "email": 1 }, { "unique": true });"#,
        "\n",
        r#"db.getSiblingDB("tbt_audit_app").getCollection("users").dropIndex("email_1");"#
    ),
];

#[tokio::test]
async fn mongodb_audit_flags_exactly_the_unindexed_and_unscoped_and_only_reads() {
    let Some(setup) = crate::util::server().await else {
        return;
    };
    team_database(&setup, DB).await;
    let before = mongo_checksum(&setup, DB).await;

    // The reader's own client records every command it sends.
    let sent: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut o = ClientOptions::parse(crate::util::uri()).await.expect("uri");
    let log = sent.clone();
    o.command_event_handler = Some(EventHandler::callback(move |e: CommandEvent| {
        if let CommandEvent::Started(s) = e {
            log.lock().expect("lock").push(s.command_name);
        }
    }));
    let reader = Client::with_options(o).expect("client");
    use tenantbench::backend::mongo::audit as reading;
    let facts = reading::facts(&reader, &[DB.to_string()], 1000)
        .await
        .expect("facts");
    let names: Vec<&str> = facts.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["events", "orders", "settings", "users"]);
    let field = detect_field(&facts).expect("a tenant field");
    assert_eq!(field, "companyId");
    let judged: Vec<(String, Verdict)> = facts
        .iter()
        .flat_map(|c| {
            judge(c, &field, BackendKind::Mongodb)
                .into_iter()
                .map(|f| (c.name.clone(), f.verdict))
        })
        .collect();
    assert_eq!(judged, expected("email_1"));
    // The largest tenant's query: a scan of all 300 events, 60 index keys of orders.
    let events = reading::probe(&reader, &facts[0], &field, 1000)
        .await
        .expect("probe")
        .expect("events carry companyId");
    assert_eq!(
        (
            events.tenant.as_str(),
            events.stages.as_slice(),
            events.docs_examined
        ),
        ("acme", &["COLLSCAN".to_string()][..], Some(300))
    );
    let orders = reading::probe(&reader, &facts[1], &field, 1000)
        .await
        .expect("probe")
        .expect("orders carry companyId");
    assert!(orders.stages.iter().any(|s| s == "IXSCAN"), "{orders:?}");
    assert_eq!((orders.keys_examined, orders.rows), (Some(60), 60));
    let reads = [
        "listDatabases",
        "listCollections",
        "listIndexes",
        "aggregate",
        "find",
        "getMore",
        "count",
        "explain",
        "killCursors",
        "endSessions",
        "hello",
        "isMaster",
        "ping",
        "buildInfo",
    ];
    let sent = sent.lock().expect("lock").clone();
    assert!(sent.iter().any(|c| c == "explain"), "{sent:?}");
    for c in &sent {
        assert!(
            reads.contains(&c.as_str()),
            "the reader sent {c:?}: {sent:?}"
        );
    }

    // The command: the same verdicts, the fixes, exit 1 for --fail-on missing.
    let tmp = tempfile::tempdir().expect("tempdir");
    let (code, a) = audit_command(
        BackendKind::Mongodb,
        crate::util::uri(),
        vec![DB.into()],
        tmp.path(),
    )
    .await;
    assert_eq!(code, 1);
    assert_eq!(verdicts(&a), expected("email_1"));
    assert!(a.tenant_field_detected);
    let fixes: Vec<&str> = a.findings().filter_map(|(_, f)| f.fix.as_deref()).collect();
    assert_eq!(fixes, MONGO_FIXES);
    assert_eq!(
        mongo_checksum(&setup, DB).await,
        before,
        "the audit changed data"
    );
    setup.database(DB).drop().await.expect("drop");
}

/// The team's database `db` on PostgreSQL — the tables of [`team_database`] — with role
/// `reader`, which may only read it.
pub(crate) async fn team_tables(admin: &tokio_postgres::Client, uri: &str, db: &str, reader: &str) {
    // One statement per call: DROP and CREATE DATABASE refuse a transaction block.
    for sql in [
        format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
        format!("DROP ROLE IF EXISTS {reader}"),
        format!("CREATE DATABASE {db}"),
        format!("CREATE ROLE {reader} LOGIN"),
    ] {
        admin.batch_execute(&sql).await.expect(&sql);
    }
    let c = tenantbench::backend::postgres::connect(uri, Some(db))
        .await
        .expect("connect");
    let company = "CASE WHEN i < 60 THEN 'acme' ELSE 'co' || (i % 5) END";
    c.batch_execute(&format!(
        r#"CREATE TABLE orders ("companyId" text NOT NULL, status text, n int);
           INSERT INTO orders SELECT {company}, 'paid', i FROM generate_series(0, 299) i;
           CREATE INDEX orders_company_n ON orders ("companyId", n DESC);
           CREATE TABLE events (LIKE orders);
           INSERT INTO events SELECT * FROM orders;
           CREATE TABLE users (id serial PRIMARY KEY, "companyId" text, email text);
           ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);
           INSERT INTO users ("companyId", email)
             SELECT {company}, 'u' || i || '@x.io' FROM generate_series(0, 49) i;
           CREATE INDEX users_company ON users ("companyId");
           CREATE TABLE settings (key text PRIMARY KEY, value text);
           INSERT INTO settings VALUES ('theme', 'dark');
           ANALYZE orders; ANALYZE users;
           GRANT CONNECT ON DATABASE {db} TO {reader};
           GRANT USAGE ON SCHEMA public TO {reader};
           GRANT SELECT ON ALL TABLES IN SCHEMA public TO {reader};"#
    ))
    .await
    .expect("tables");
}

/// Every row and index of the team's tables, as one comparable text.
pub(crate) async fn pg_checksum(c: &tokio_postgres::Client) -> String {
    let mut out = String::new();
    for t in ["events", "orders", "settings", "users"] {
        let r = c
            .query_one(
                &format!("SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {t} t"),
                &[],
            )
            .await
            .expect("checksum");
        out.push_str(&format!("{t}: {:?}\n", r.get::<_, Option<String>>(0)));
    }
    let ix = c
        .query_one(
            "SELECT string_agg(indexdef, '; ' ORDER BY indexdef) FROM pg_indexes WHERE schemaname = 'public'",
            &[],
        )
        .await
        .expect("indexes");
    out.push_str(&ix.get::<_, String>(0));
    out
}

#[tokio::test]
async fn postgres_audit_runs_as_a_select_only_role_and_flags_the_same_tables() {
    let Some(uri) = crate::util::pg().await else {
        return;
    };
    let admin = tenantbench::backend::postgres::connect(&uri, None)
        .await
        .expect("connect");
    team_tables(&admin, &uri, DB, READER).await;
    let owner = tenantbench::backend::postgres::connect(&uri, Some(DB))
        .await
        .expect("connect");
    let before = pg_checksum(&owner).await;
    // The reader's URI: the server under test, as the SELECT-only role, on the team's database.
    let cfg: tokio_postgres::Config = uri.parse().expect("uri");
    let host = match &cfg.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(h) => h.clone(),
        tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
    };
    let port = cfg.get_ports().first().copied().unwrap_or(5432);
    let reader_uri = format!("postgres://{READER}@{host}:{port}/{DB}");
    // The role really may not write: the audit's success below is a reader's.
    let reader = tenantbench::backend::postgres::connect(&reader_uri, None)
        .await
        .expect("reader connects");
    let refused = reader
        .batch_execute("INSERT INTO settings VALUES ('x', 'y')")
        .await
        .expect_err("a SELECT-only role cannot insert");
    assert_eq!(
        refused.as_db_error().map(|e| e.code().clone()),
        Some(tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
        "{refused:?}"
    );

    let tmp = tempfile::tempdir().expect("tempdir");
    let (code, a) = audit_command(BackendKind::Postgres, reader_uri, Vec::new(), tmp.path()).await;
    assert_eq!(code, 1);
    assert_eq!(a.databases, [DB]);
    assert_eq!(a.tenant_field, "companyId");
    assert_eq!(verdicts(&a), expected("users_email_key"));
    let fixes: Vec<&str> = a.findings().filter_map(|(_, f)| f.fix.as_deref()).collect();
    assert_eq!(
        fixes,
        [
            r#"CREATE INDEX CONCURRENTLY ON "public"."events" ("companyId");"#,
            // users_email_key backs a constraint: swapped through ALTER TABLE, never DROP INDEX.
            concat!(
                r#"CREATE UNIQUE INDEX CONCURRENTLY "users_companyId_email_key" ON "public"."users" USING btree ("companyId", email);"#,
                "\n",
                r#"ALTER TABLE "public"."users" ADD CONSTRAINT "users_companyId_email_key" UNIQUE USING INDEX "users_companyId_email_key", DROP CONSTRAINT "users_email_key";"#
            ),
        ]
    );
    // EXPLAIN without ANALYZE of the largest tenant's query: a scan where no index exists.
    let events = a.collections[0].probe.as_ref().expect("events probe");
    assert_eq!(
        (
            events.tenant.as_str(),
            events.stages[0].as_str(),
            events.executed
        ),
        ("acme", "Seq Scan", false)
    );
    let orders = a.collections[1].probe.as_ref().expect("orders probe");
    assert_eq!(
        (orders.tenant.as_str(), orders.tenant_from.as_str()),
        ("acme", "pg_stats")
    );
    assert_eq!(pg_checksum(&owner).await, before, "the audit changed data");
    drop((reader, owner));
    for sql in [
        format!("DROP DATABASE {DB} WITH (FORCE)"),
        format!("DROP ROLE {READER}"),
    ] {
        admin.batch_execute(&sql).await.expect(&sql);
    }
}

#[test]
fn the_committed_audit_schema_is_current() {
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/audit.schema.json"
    ))
    .expect("docs/audit.schema.json");
    assert!(
        committed == tenantbench::audit::schema_json(),
        "docs/audit.schema.json is stale: regenerate it with `cargo run --release -- schema audit > docs/audit.schema.json`"
    );
}
