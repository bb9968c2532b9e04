//! Issue 29: every fix the audit prints applies, exactly as printed, on the server it was read
//! from, and leaves nothing to fix. The example databases of both servers (the PostgreSQL one
//! of scripts/example-team-db.sql, whose `email text UNIQUE` is a constraint; the MongoDB one of
//! [`super::team_database`]), a PostgreSQL database of unique keys as apps declare them
//! (tests/fixtures/audit-constraints.sql: constraints, deferrable, a partial expression index,
//! NULLS NOT DISTINCT, a partitioned table) and a Mongoose app's database (ObjectId
//! `companyId`, `unique: true`, sparse and partial unique indexes) are audited by the binary;
//! the fixes block of its output is pasted into psql (autocommit, as a terminal paste runs it)
//! or run line by line through the driver; the audit must then be clean (`--fail-on any` exits
//! 0), and the data the same. The outputs agree: each command in the printed block, the
//! Markdown and the JSON, each replacement's trade in comments just before its command, each
//! MongoDB fix's Mongoose line after it. A unique constraint a foreign key depends on gets what
//! to do instead of a command, and once that is done, a command that applies.

use std::path::Path;
use std::process::Command;

use futures_util::TryStreamExt;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Bson, DateTime, Document, doc};
use mongodb::options::IndexOptions;
use mongodb::{Client, IndexModel};
use serde::de::DeserializeOwned;
use tenantbench::audit::{Audit, Verdict};

use crate::util::tenantbench;

/// What one `tenantbench audit --fail-on any` printed and wrote.
struct Printed {
    code: Option<i32>,
    stdout: String,
    audit: Audit,
    markdown: String,
}

/// `tenantbench audit` of database `db` at `uri`, with JSON and Markdown written into `dir`.
fn audit(dir: &Path, backend: &str, uri: &str, db: &str) -> Printed {
    let json = dir.join(format!("{db}.json"));
    let md = dir.join(format!("{db}.md"));
    let o = tenantbench()
        .args(["audit", "--backend", backend, "--uri", uri, "--db", db])
        .arg("--json")
        .arg(&json)
        .arg("--markdown")
        .arg(&md)
        .args(["--fail-on", "any"])
        .output();
    let stdout = o.stdout_text();
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "audit failed: {stdout}{}",
        o.stderr_text()
    );
    let text = std::fs::read_to_string(&json).expect("audit json");
    Printed {
        code: o.status.code(),
        stdout,
        audit: serde_json::from_str(&text).expect("audit file"),
        markdown: std::fs::read_to_string(&md).expect("audit markdown"),
    }
}

/// The block below the `fixes — …` line of the terminal output: what a user pastes.
fn block(stdout: &str) -> String {
    let Some(at) = stdout.find("\nfixes — ") else {
        return String::new();
    };
    let rest = &stdout[at + 1..];
    rest.split_once('\n').map_or("", |(_, b)| b).to_string()
}

/// The verdict as the block's comment names it.
fn named(v: &Verdict) -> String {
    match v {
        Verdict::UniqueNotTenantScoped { index, .. } => format!("{} ({index})", v.word()),
        v => v.word().to_string(),
    }
}

/// Checks that the printed block, the Markdown and the JSON say the same: per finding that
/// calls for a fix, a comment naming it, its trade and its `instead` as comments (the trade on
/// every replacement), its command, and on MongoDB the Mongoose line after it. Returns the
/// block.
fn check_outputs(p: &Printed, comment: &str) -> String {
    let block = block(&p.stdout);
    let lines: Vec<&str> = block.lines().collect();
    let a = &p.audit;
    let mut items = 0;
    for (c, f) in a.findings() {
        if f.fix.is_none() && f.instead.is_none() {
            continue;
        }
        items += 1;
        let name = match &c.schema {
            Some(s) => format!("{}.{s}.{}", c.database, c.name),
            None => format!("{}.{}", c.database, c.name),
        };
        let head = format!("{comment}{name}: {}", named(&f.verdict));
        let at = lines
            .iter()
            .position(|l| *l == head)
            .unwrap_or_else(|| panic!("{head:?} not in the block:\n{block}"));
        let item: Vec<&str> = lines[at + 1..]
            .iter()
            .take_while(|l| !l.starts_with(&format!("{comment}{}.", c.database)))
            .copied()
            .collect();
        let notes: Vec<&str> = item
            .iter()
            .take_while(|l| l.starts_with(comment))
            .map(|l| &l[comment.len()..])
            .collect();
        let said = [&f.trade, &f.instead]
            .into_iter()
            .flatten()
            .cloned()
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(notes.join(" "), said, "the notes beside {head}");
        if matches!(f.verdict, Verdict::UniqueNotTenantScoped { .. }) {
            let trade = f.trade.as_deref().unwrap_or_default();
            assert!(
                trade.starts_with("changes meaning, not only speed")
                    && trade.contains("may then exist in two tenants"),
                "a replacement says what it allows: {f:?}"
            );
        }
        let commands: Vec<&str> = item[notes.len()..]
            .iter()
            .take_while(|l| !l.starts_with(comment) && !l.starts_with('\\'))
            .copied()
            .collect();
        assert_eq!(
            f.fix.as_deref().unwrap_or(""),
            commands.join("\n"),
            "{head}"
        );
        if let Some(fix) = &f.fix {
            assert!(
                p.markdown.contains(fix.as_str()),
                "{fix} not in {}",
                p.markdown
            );
        }
        for note in [&f.trade, &f.instead].into_iter().flatten() {
            let first = note
                .split_whitespace()
                .take(8)
                .collect::<Vec<_>>()
                .join(" ");
            assert!(p.markdown.contains(&first), "{first:?} not in the Markdown");
        }
        if comment == "// " && f.fix.is_some() {
            let m = f
                .mongoose
                .as_deref()
                .expect("every MongoDB fix has its Mongoose line");
            let line = format!("// Mongoose, schema of {}: {m}", c.name);
            assert_eq!(item.get(notes.len() + commands.len()), Some(&line.as_str()));
            assert!(p.markdown.contains(&line), "{line} not in the Markdown");
        }
    }
    assert_eq!(items == 0, block.is_empty(), "{}", p.stdout);
    block
}

/// The audit after the fixes: exit 0 under `--fail-on any`, nothing missing or unscoped.
fn assert_clean(p: &Printed) {
    let n = &p.audit.counts;
    assert_eq!(
        (p.code, n.missing_tenant_index, n.unique_not_tenant_scoped),
        (Some(0), 0, 0),
        "not clean after the fixes:\n{}",
        p.stdout
    );
    assert!(block(&p.stdout).is_empty(), "{}", p.stdout);
}

// ---- PostgreSQL ----

/// `psql` on the test server's database `db`, reading `file`, stopping at the first error; its
/// output. Statements run one at a time outside a transaction block, as a paste runs them.
fn psql(uri: &str, db: &str, file: &Path, vars: &[&str]) -> String {
    let cfg: tokio_postgres::Config = uri.parse().expect("uri");
    let host = match &cfg.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(h) => h.clone(),
        tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
    };
    let port = cfg.get_ports().first().copied().unwrap_or(5432);
    let mut cmd = Command::new("psql");
    cmd.args([
        "-X",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        &host,
        "-p",
        &port.to_string(),
    ])
    .args(["-U", cfg.get_user().unwrap_or("postgres"), "-d", db]);
    if let Some(pw) = cfg.get_password() {
        cmd.env("PGPASSWORD", String::from_utf8_lossy(pw).into_owned());
    }
    for v in vars {
        cmd.args(["-v", v]);
    }
    let o = cmd.arg("-f").arg(file).output().expect("psql runs");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "psql -f {} failed: {out}{}",
        file.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// Rows per table of database `db`, as one comparable text.
async fn pg_rows(uri: &str, db: &str) -> String {
    let c = tenantbench::backend::postgres::connect(uri, Some(db))
        .await
        .expect("connect");
    let tables: Vec<String> = c
        .query(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
              WHERE schemaname = 'public' ORDER BY 1",
            &[],
        )
        .await
        .expect("tables")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut out = String::new();
    for t in tables {
        let n: i64 = c
            .query_one(&format!("SELECT count(*) FROM {t}"), &[])
            .await
            .expect("count")
            .get(0);
        out.push_str(&format!("{t} {n}\n"));
    }
    out
}

/// Audits `db`, pastes the printed fixes into psql, audits again: clean, rows the same.
/// Returns the first audit.
async fn fix_postgres(uri: &str, db: &str, dir: &Path) -> Printed {
    let rows = pg_rows(uri, db).await;
    let first = audit(dir, "postgres", uri, db);
    assert_eq!(first.code, Some(1), "{}", first.stdout);
    let block = check_outputs(&first, "-- ");
    let file = dir.join(format!("{db}-fixes.sql"));
    std::fs::write(&file, &block).expect("fixes file");
    let out = psql(uri, "postgres", &file, &[]);
    let statements = block
        .lines()
        .filter(|l| !l.starts_with("--") && !l.starts_with('\\'))
        .count();
    let done = out
        .lines()
        .filter(|l| ["CREATE INDEX", "DROP INDEX", "ALTER TABLE"].contains(l))
        .count();
    assert_eq!(done, statements, "every statement ran: {out}");
    assert_clean(&audit(dir, "postgres", uri, db));
    assert_eq!(pg_rows(uri, db).await, rows, "the fixes changed rows");
    first
}

async fn drop_pg(uri: &str, db: &str) {
    let admin = tenantbench::backend::postgres::connect(uri, None)
        .await
        .expect("connect");
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .await
        .expect("drop database");
}

#[tokio::test]
async fn issue_29_postgres_fixes_apply_as_printed_and_leave_a_clean_audit() {
    let Some(uri) = crate::util::pg().await else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));

    // The example database: `email text UNIQUE` is constraint users_email_key, which
    // DROP INDEX cannot drop; the fix swaps it through ALTER TABLE.
    const EXAMPLE: &str = "tbt_audit_example";
    psql(
        &uri,
        "postgres",
        &root.join("scripts/example-team-db.sql"),
        &[&format!("db={EXAMPLE}")],
    );
    let a = fix_postgres(&uri, EXAMPLE, tmp.path()).await;
    let users = a
        .audit
        .findings()
        .find(|(c, _)| c.name == "users")
        .map(|(_, f)| f.fix.clone().unwrap_or_default())
        .expect("users");
    assert!(
        users.contains(r#"DROP CONSTRAINT "users_email_key""#) && !users.contains("DROP INDEX"),
        "{users}"
    );
    drop_pg(&uri, EXAMPLE).await;

    // Unique keys as apps declare them: two constraints (one deferrable), a partial
    // expression index, NULLS NOT DISTINCT, a partitioned table.
    const OWN: &str = "tbt_audit_constraints";
    psql(
        &uri,
        "postgres",
        &root.join("tests/fixtures/audit-constraints.sql"),
        &[&format!("db={OWN}")],
    );
    let a = fix_postgres(&uri, OWN, tmp.path()).await;
    let scoped: Vec<String> = a
        .audit
        .findings()
        .filter_map(|(_, f)| match &f.verdict {
            Verdict::UniqueNotTenantScoped { index, .. } => Some(index.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        scoped,
        [
            "ledger_ref_day_key",
            "members_email_key",
            "members_invite_uniq",
            "members_username_live",
            "projects_slug"
        ]
    );
    // What the twins kept, read back from the server.
    let c = tenantbench::backend::postgres::connect(&uri, Some(OWN))
        .await
        .expect("connect");
    let defs: Vec<String> = c
        .query(
            "SELECT indexdef FROM pg_indexes WHERE indexdef LIKE '%\"companyId\", %' ORDER BY 1",
            &[],
        )
        .await
        .expect("indexes")
        .iter()
        .map(|r| r.get(0))
        .collect();
    for part in [
        r#"("companyId", lower(username)) INCLUDE (id) WHERE (deleted_at IS NULL)"#,
        r#"("companyId", slug DESC) NULLS NOT DISTINCT"#,
    ] {
        assert!(
            defs.iter().any(|d| d.contains(part)),
            "{part} not in {defs:?}"
        );
    }
    let deferred: bool = c
        .query_one(
            "SELECT condeferred FROM pg_constraint WHERE conname = 'members_companyId_invite_key'",
            &[],
        )
        .await
        .expect("the swapped constraint")
        .get(0);
    assert!(deferred, "the twin of a deferred constraint is deferred");
    drop(c);
    drop_pg(&uri, OWN).await;
}

#[tokio::test]
async fn issue_29_a_constraint_a_foreign_key_depends_on_gets_what_to_do_instead() {
    let Some(uri) = crate::util::pg().await else {
        return;
    };
    const DB: &str = "tbt_audit_fk";
    drop_pg(&uri, DB).await;
    let admin = tenantbench::backend::postgres::connect(&uri, None)
        .await
        .expect("connect");
    admin
        .batch_execute(&format!("CREATE DATABASE {DB}"))
        .await
        .expect("create");
    let c = tenantbench::backend::postgres::connect(&uri, Some(DB))
        .await
        .expect("connect");
    c.batch_execute(
        r#"CREATE TABLE members (id serial PRIMARY KEY, "companyId" int NOT NULL, email text NOT NULL UNIQUE);
           CREATE INDEX members_company ON members ("companyId");
           CREATE TABLE invites ("companyId" int NOT NULL, email text NOT NULL REFERENCES members (email));
           CREATE INDEX invites_company ON invites ("companyId");
           INSERT INTO members ("companyId", email) SELECT i % 5, 'm' || i || '@x.io' FROM generate_series(1, 50) i;
           INSERT INTO invites SELECT "companyId", email FROM members WHERE id % 2 = 0;
           ANALYZE;"#,
    )
    .await
    .expect("tables");
    let tmp = tempfile::tempdir().expect("tempdir");
    let first = audit(tmp.path(), "postgres", &uri, DB);
    assert_eq!(first.code, Some(1));
    let (_, f) = first
        .audit
        .findings()
        .find(|(_, f)| matches!(f.verdict, Verdict::UniqueNotTenantScoped { .. }))
        .expect("members_email_key flagged");
    assert_eq!(f.fix, None, "no command that would fail");
    let instead = f.instead.clone().expect("what to do instead");
    for part in [
        r#"constraint "members_email_key""#,
        r#""invites_email_fkey" on "public"."invites" (FOREIGN KEY (email) REFERENCES members(email))"#,
        r#"point each foreign key at ("companyId", email)"#,
    ] {
        assert!(instead.contains(part), "{part:?} not in {instead}");
    }
    // The printed block (comments only for members) applies and changes nothing.
    let block = check_outputs(&first, "-- ");
    let file = tmp.path().join("fixes.sql");
    std::fs::write(&file, &block).expect("fixes file");
    psql(&uri, "postgres", &file, &[]);
    assert_eq!(audit(tmp.path(), "postgres", &uri, DB).code, Some(1));

    // Doing what it says: its statement that builds the tenant-scoped key, the foreign key
    // pointed at it, the old one dropped; then the audit's command applies.
    let build = instead
        .split_once("first (")
        .and_then(|(_, r)| r.split_once(";)"))
        .map(|(s, _)| format!("{s};"))
        .expect("the build statement in the instructions");
    std::fs::write(&file, format!("{build}\n")).expect("file");
    psql(&uri, DB, &file, &[]);
    c.batch_execute(
        r#"ALTER TABLE invites ADD CONSTRAINT invites_member_fkey FOREIGN KEY ("companyId", email)
             REFERENCES members ("companyId", email), DROP CONSTRAINT invites_email_fkey"#,
    )
    .await
    .expect("the foreign key re-pointed at the tenant-scoped key");
    let second = audit(tmp.path(), "postgres", &uri, DB);
    let fixes: Vec<String> = second
        .audit
        .findings()
        .filter_map(|(_, f)| f.fix.clone())
        .collect();
    assert_eq!(
        fixes,
        [r#"ALTER TABLE "public"."members" DROP CONSTRAINT "members_email_key";"#]
    );
    let block = check_outputs(&second, "-- ");
    std::fs::write(&file, &block).expect("file");
    psql(&uri, "postgres", &file, &[]);
    assert_clean(&audit(tmp.path(), "postgres", &uri, DB));
    drop(c);
    drop_pg(&uri, DB).await;
}

// ---- MongoDB ----

/// A Mongoose app's database `name`, made with the driver as Mongoose makes it: ObjectId
/// `_id`s, `companyId` an ObjectId reference, `createdAt`/`updatedAt`, `__v`; indexes as
/// `autoIndex` builds them from schema options (`background: true`):
/// - users: `email: { unique: true }` (email_1), `googleId: { unique: true, sparse: true }`
///   (two of three users have none, several per company), `companyId: { index: true }`;
/// - invoices: `number` unique among issued invoices (partial; drafts repeat 0), and only a
///   partial index led by `companyId`, so no tenant index;
/// - projects: a sparse `externalRef` index and no tenant index;
/// - companies: the tenants themselves, no `companyId`.
async fn mongoose_database(c: &Client, name: &str) {
    let db = c.database(name);
    let _ = db.drop().await;
    let at = DateTime::from_millis(1_767_225_600_000);
    let ids: Vec<ObjectId> = (0u8..6)
        .map(|i| ObjectId::from_bytes([0x65, 0xf0, 0, 0, 0, 0, 0, 0, 0, 0, 0, i]))
        .collect();
    let companies: Vec<Document> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| doc! {"_id": id, "name": format!("Company {i}"), "createdAt": at, "updatedAt": at, "__v": 0})
        .collect();
    db.collection("companies")
        .insert_many(companies)
        .await
        .expect("companies");
    let users: Vec<Document> = (0..120)
        .map(|i| {
            let mut d = doc! {"companyId": ids[i % 6], "email": format!("u{i}@x.io"), "role": "member", "createdAt": at, "updatedAt": at, "__v": 0};
            if i % 3 == 0 {
                d.insert("googleId", format!("g{i}"));
            }
            d
        })
        .collect();
    let invoices: Vec<Document> = (0..200)
        .map(|i| {
            let issued = i % 4 != 0;
            doc! {"companyId": ids[i % 6], "number": if issued { i as i32 } else { 0 },
                  "status": if issued { "issued" } else { "draft" }, "totalCents": (i * 37) as i32, "createdAt": at}
        })
        .collect();
    let projects: Vec<Document> = (0..40)
        .map(|i| {
            let mut d = doc! {"companyId": ids[i % 6], "name": format!("p{i}")};
            if i % 2 == 0 {
                d.insert("externalRef", format!("x{}", i % 10));
            }
            d
        })
        .collect();
    // As Mongoose's autoIndex sends them: createIndexes with `background: true`.
    let spec = |key: Document, name: &str, options: Document| {
        let mut d = doc! {"key": key, "name": name, "background": true};
        d.extend(options);
        d
    };
    let issued = doc! {"status": "issued"};
    for (coll, docs, indexes) in [
        (
            "users",
            users,
            vec![
                spec(doc! {"email": 1}, "email_1", doc! {"unique": true}),
                spec(
                    doc! {"googleId": 1},
                    "googleId_1",
                    doc! {"unique": true, "sparse": true},
                ),
                spec(doc! {"companyId": 1}, "companyId_1", doc! {}),
            ],
        ),
        (
            "invoices",
            invoices,
            vec![
                spec(
                    doc! {"number": 1},
                    "number_1",
                    doc! {"unique": true, "partialFilterExpression": issued.clone()},
                ),
                spec(
                    doc! {"companyId": 1, "createdAt": -1},
                    "companyId_1_createdAt_-1",
                    doc! {"partialFilterExpression": issued.clone()},
                ),
            ],
        ),
        (
            "projects",
            projects,
            vec![spec(
                doc! {"externalRef": 1},
                "externalRef_1",
                doc! {"sparse": true},
            )],
        ),
    ] {
        db.collection::<Document>(coll)
            .insert_many(docs)
            .await
            .expect(coll);
        db.run_command(doc! {"createIndexes": coll, "indexes": indexes})
            .await
            .expect(coll);
    }
}

/// One JSON value at the start of `s`, and what follows it.
fn json_value<T: DeserializeOwned>(s: &str) -> (T, &str) {
    let mut it = serde_json::Deserializer::from_str(s).into_iter::<T>();
    let v = it
        .next()
        .expect("a value")
        .unwrap_or_else(|e| panic!("not JSON at {s:?}: {e}"));
    (v, &s[it.byte_offset()..])
}

/// Runs one printed mongosh line (`db.getSiblingDB(D).getCollection(C).createIndex(K, O);` or
/// `….dropIndex(N);`) through the driver, exactly as written.
async fn run_shell(client: &Client, line: &str) {
    let rest = line.strip_prefix("db.getSiblingDB(").expect(line);
    let (db, rest) = json_value::<String>(rest);
    let rest = rest.strip_prefix(").getCollection(").expect(line);
    let (coll, rest) = json_value::<String>(rest);
    let (method, mut rest) = rest
        .strip_prefix(").")
        .and_then(|r| r.split_once('('))
        .expect(line);
    let mut args: Vec<Bson> = Vec::new();
    loop {
        let (v, r) = json_value::<Bson>(rest);
        args.push(v);
        match r.strip_prefix(", ") {
            Some(r) => rest = r,
            None => {
                assert_eq!(r, ");", "{line}");
                break;
            }
        }
    }
    let c = client.database(&db).collection::<Document>(&coll);
    match (method, args.as_slice()) {
        ("createIndex", [Bson::Document(keys), rest @ ..]) => {
            let options = match rest {
                [Bson::Document(o)] => mongodb::bson::from_document::<IndexOptions>(o.clone())
                    .unwrap_or_else(|e| panic!("options of {line}: {e}")),
                [] => IndexOptions::default(),
                _ => panic!("createIndex arguments: {line}"),
            };
            let m = IndexModel::builder()
                .keys(keys.clone())
                .options(options)
                .build();
            c.create_index(m)
                .await
                .unwrap_or_else(|e| panic!("{line}: {e}"));
        }
        ("dropIndex", [Bson::String(name)]) => c
            .drop_index(name.as_str())
            .await
            .unwrap_or_else(|e| panic!("{line}: {e}")),
        _ => panic!("a command the test cannot run: {line}"),
    }
}

/// Documents per collection of `name`.
async fn mongo_counts(c: &Client, name: &str) -> Vec<(String, u64)> {
    let db = c.database(name);
    let mut names = db.list_collection_names().await.expect("names");
    names.sort();
    let mut out = Vec::new();
    for n in names {
        let count = db
            .collection::<Document>(&n)
            .count_documents(doc! {})
            .await
            .expect("count");
        out.push((n, count));
    }
    out
}

/// Audits `db`, runs every printed line through the driver, audits again: clean, documents
/// the same. Returns the first audit.
async fn fix_mongo(c: &Client, db: &str, dir: &Path) -> Printed {
    let counts = mongo_counts(c, db).await;
    let first = audit(dir, "mongodb", &crate::util::uri(), db);
    assert_eq!(first.code, Some(1), "{}", first.stdout);
    let block = check_outputs(&first, "// ");
    for line in block.lines().filter(|l| !l.starts_with("//")) {
        run_shell(c, line).await;
    }
    assert_clean(&audit(dir, "mongodb", &crate::util::uri(), db));
    assert_eq!(
        mongo_counts(c, db).await,
        counts,
        "the fixes changed documents"
    );
    first
}

#[tokio::test]
async fn issue_29_mongodb_fixes_apply_through_the_driver_and_leave_a_clean_audit() {
    let Some(client) = crate::util::server().await else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    const EXAMPLE: &str = "tbt_audit_fix_team";
    super::team_database(&client, EXAMPLE).await;
    fix_mongo(&client, EXAMPLE, tmp.path()).await;
    client.database(EXAMPLE).drop().await.expect("drop");

    const APP: &str = "tbt_audit_fix_mongoose";
    mongoose_database(&client, APP).await;
    let a = fix_mongo(&client, APP, tmp.path()).await;
    let found: Vec<(String, String)> = a
        .audit
        .findings()
        .map(|(c, f)| (c.name.clone(), named(&f.verdict)))
        .collect();
    let want = [
        ("companies", "no tenant field"),
        ("invoices", "missing tenant index"),
        ("invoices", "unique not tenant-scoped (number_1)"),
        ("projects", "missing tenant index"),
        ("users", "unique not tenant-scoped (email_1)"),
        ("users", "unique not tenant-scoped (googleId_1)"),
    ];
    assert_eq!(found, want.map(|(c, v)| (c.to_string(), v.to_string())));
    let fix = |index: &str| {
        a.audit
            .findings()
            .find(|(_, f)| named(&f.verdict).contains(&format!("({index})")))
            .map(|(_, f)| f.clone())
            .expect(index)
    };
    // Sparse becomes partial: with companyId first every user has a key, and a sparse twin
    // would refuse the many users of one company without a googleId.
    assert_eq!(
        fix("googleId_1").fix.as_deref(),
        Some(concat!(
            r#"db.getSiblingDB("tbt_audit_fix_mongoose").getCollection("users").createIndex({ "companyId": 1, "googleId": 1 }, { "unique": true, "partialFilterExpression": { "googleId": { "$exists": true } } });"#,
            "\n",
            r#"db.getSiblingDB("tbt_audit_fix_mongoose").getCollection("users").dropIndex("googleId_1");"#
        ))
    );
    assert_eq!(
        fix("email_1").mongoose.as_deref(),
        Some(
            "schema.index({ companyId: 1, email: 1 }, { unique: true }); // and remove `unique: true` from email (or the schema.index that declares email_1), or autoIndex builds email_1 again"
        )
    );
    assert!(
        fix("number_1").fix.as_deref().is_some_and(|f| f
            .contains(r#"{ "unique": true, "partialFilterExpression": { "status": "issued" } }"#)),
        "{:?}",
        fix("number_1")
    );
    // The indexes now on users, with their options, as the server lists them.
    let ix: Vec<IndexModel> = client
        .database(APP)
        .collection::<Document>("users")
        .list_indexes()
        .await
        .expect("indexes")
        .try_collect()
        .await
        .expect("indexes");
    let names: Vec<String> = ix
        .iter()
        .filter_map(|m| m.options.as_ref().and_then(|o| o.name.clone()))
        .collect();
    assert!(
        names.contains(&"companyId_1_googleId_1".to_string())
            && !names.contains(&"googleId_1".to_string()),
        "{names:?}"
    );
    client.database(APP).drop().await.expect("drop");
}
