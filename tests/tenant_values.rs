//! Issue 29.1: tenant values keep the type the database stores them in. A Mongoose model's
//! `companyId: { type: Schema.Types.ObjectId }` stores ObjectIds, and a run that sent
//! `{{tenant}}` as a string measured thousands of empty queries a second without a word. Here
//! databases made with the driver (ObjectId, int32, int64, double, UUID and string tenants;
//! PostgreSQL `uuid` and `bigint` columns) are run as existing targets: every query finds the
//! tenant's records and tenants read as plain values. And the guard: a query that finds nothing
//! for the largest tenant — on an existing database or on generated data — is said so in the
//! terminal, results.json, the report's caveats, and fails a gate `[[plan]] forbid_empty`.

use std::path::Path;

use mongodb::bson::spec::BinarySubtype;
use mongodb::bson::{Binary, Bson, Document, doc, oid::ObjectId};
use tenantbench::metrics::results::{ExplainRecord, Results, TrialStatus};
use tenantbench::metrics::store::read_results;

use crate::util::{Ran, pg, run_toml, tenantbench};

/// `tenantbench run` of `toml` (written into `dir`) with `flags`, into `dir/<out>`.
fn run(dir: &Path, out: &str, toml: &str, flags: &[&str]) -> (Ran, Results) {
    let o = run_toml(dir, out, toml).args(flags).output();
    let r = read_results(&dir.join(out)).unwrap_or_else(|e| panic!("{e:#}\n{}", o.text()));
    (o, r)
}

/// The largest tenant's plan evidence of `op` in every trial.
fn largest<'a>(r: &'a Results, op: &str) -> Vec<&'a ExplainRecord> {
    let first = r
        .trials
        .iter()
        .flat_map(|t| &t.evidence.explain)
        .find(|e| e.op.name() == op)
        .map(|e| e.tenant.clone());
    r.trials
        .iter()
        .flat_map(|t| &t.evidence.explain)
        .filter(|e| e.op.name() == op && Some(&e.tenant) == first.as_ref())
        .collect()
}

/// A scenario over the existing database `db` with a find and a count of the tenant's open
/// deals, `{{tenant}}` written as `tenant` (a lone placeholder, or inside a string).
fn deals_scenario(db: &str, tenant: &str) -> String {
    format!(
        r#"name = "typed"
[target]
existing = true
database = "{db}"
tenant_field = "companyId"

[[operation]]
name = "open_deals"
collection = "deals"
filter = '{{"companyId": "{tenant}", "stage": "open"}}'
limit = 5

[[operation]]
name = "count_deals"
collection = "deals"
filter = '{{"companyId": "{tenant}"}}'
count = true

[workload]
mix = {{ open_deals = 3, count_deals = 1 }}
concurrency = 2
duration_s = 1
warmup_s = 0.2

[matrix]
repeat = 1
"#
    )
}

/// Deals of three companies (30, 20 and 10 of them, half `open`) whose `companyId` is each
/// company's value, inserted with the driver as an application's model would store them.
async fn deals(client: &mongodb::Client, db: &str, companies: &[Bson]) {
    let d = client.database(db);
    d.drop().await.expect("drop");
    let mut docs = Vec::new();
    for (c, n) in companies.iter().zip([30, 20, 10]) {
        for i in 0..n {
            docs.push(doc! {
                "_id": ObjectId::new(),
                "companyId": c.clone(),
                "title": format!("deal {i}"),
                "stage": if i % 2 == 0 { "open" } else { "won" },
                "amount": i * 100,
            });
        }
    }
    d.collection::<Document>("deals")
        .insert_many(docs)
        .await
        .expect("insert");
}

#[tokio::test]
async fn mongodb_tenant_values_keep_their_stored_type() {
    let Some(client) = crate::util::server().await else {
        return;
    };
    let uuid = |b: u8| {
        Bson::Binary(Binary {
            subtype: BinarySubtype::Uuid,
            bytes: vec![b; 16],
        })
    };
    let oid = |s: &str| Bson::ObjectId(ObjectId::parse_str(s).expect("oid"));
    let cases: [(&str, [Bson; 3], &str); 6] = [
        (
            "oid",
            [
                oid("6b16f749a1b2c3d4e5f60718"),
                oid("6b16f749a1b2c3d4e5f60719"),
                oid("6b16f749a1b2c3d4e5f6071a"),
            ],
            "6b16f749a1b2c3d4e5f60718",
        ),
        ("int", [Bson::Int32(7), Bson::Int32(8), Bson::Int32(9)], "7"),
        (
            "long",
            [
                Bson::Int64(9_000_000_001),
                Bson::Int64(9_000_000_002),
                Bson::Int64(9_000_000_003),
            ],
            "9000000001",
        ),
        (
            "double",
            [Bson::Double(1.5), Bson::Double(2.5), Bson::Double(3.5)],
            "1.5",
        ),
        (
            "uuid",
            [uuid(0x11), uuid(0x22), uuid(0x33)],
            "11111111-1111-1111-1111-111111111111",
        ),
        (
            "str",
            [
                Bson::String("acme".into()),
                Bson::String("globex".into()),
                Bson::String("initech".into()),
            ],
            "acme",
        ),
    ];
    let tmp = tempfile::tempdir().expect("tempdir");
    let uri = crate::util::uri();
    for (name, companies, largest_text) in cases {
        let db = format!("tbt_typed_{name}");
        deals(&client, &db, &companies).await;
        let (o, r) = run(
            tmp.path(),
            name,
            &deals_scenario(&db, "{{tenant}}"),
            &["--uri", &uri],
        );
        let out = o.text();
        assert!(o.status.success(), "{name}: {out}");
        assert!(
            !out.contains("$oid") && !out.contains("WARNING"),
            "{name}: {out}"
        );
        assert_eq!(r.scenario.tenants, 3, "{name}");
        for t in &r.trials {
            assert_eq!(t.status, TrialStatus::Complete, "{name}");
            assert!(t.operations > 0 && t.errors == 0, "{name}: {out}");
        }
        // The largest company's queries found its records: 5 of its 15 open deals, and its
        // 30 deals counted — asked for in the type they are stored in.
        let open = largest(&r, "open_deals");
        let count = largest(&r, "count_deals");
        assert!(!open.is_empty() && !count.is_empty(), "{name}: evidence");
        for e in open {
            assert_eq!(e.tenant, largest_text, "{name}: shown as its plain value");
            assert_eq!((e.found, e.empty), (Some(5), false), "{name}: {e:?}");
            assert_eq!(e.tenant_documents, 30, "{name}");
        }
        for e in count {
            assert_eq!((e.found, e.empty), (Some(30), false), "{name}: {e:?}");
            assert_eq!(e.collection_documents, 60, "{name}");
        }
        if name == "oid" {
            audit_and_profile_read_object_ids(tmp.path(), &db, largest_text);
        }
        client.database(&db).drop().await.expect("drop");
    }
}

/// `audit` and `profile` read ObjectId tenants as they are: the audit's probe asks for the
/// largest company by its ObjectId (and finds its 30 deals), shown as plain hex; the profile
/// counts the three companies (30, 20, 10 deals) and copies none of their ids.
fn audit_and_profile_read_object_ids(dir: &Path, db: &str, largest_text: &str) {
    let uri = crate::util::uri();
    let json = dir.join("audit.json");
    let a = tenantbench()
        .args([
            "audit",
            "--uri",
            &uri,
            "--db",
            db,
            "--tenant-field",
            "companyId",
        ])
        .arg("--json")
        .arg(&json)
        .output();
    assert!(a.status.code().is_some_and(|c| c <= 1), "{}", a.text());
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("audit json")).expect("json");
    let deals = v["collections"]
        .as_array()
        .expect("collections")
        .iter()
        .find(|c| c["name"] == "deals")
        .expect("deals audited");
    let probe = &deals["probe"];
    assert_eq!(probe["tenant"], largest_text, "{probe}");
    assert_eq!(
        probe["rows"], 30,
        "the probe found the company's deals: {probe}"
    );
    assert!(!a.text().contains("$oid"), "{}", a.text());
    let toml = dir.join("profiled.toml");
    tenantbench()
        .args([
            "profile",
            "--uri",
            &uri,
            "--db",
            db,
            "--tenant-field",
            "companyId",
            "--force",
        ])
        .arg("-o")
        .arg(&toml)
        .success();
    let scenario = std::fs::read_to_string(&toml).expect("profile scenario");
    assert!(scenario.contains("tenants = 3"), "{scenario}");
    assert!(scenario.contains("documents = 60"), "{scenario}");
    assert!(
        !scenario.contains(&largest_text[..12]),
        "no tenant id copied"
    );
}

#[tokio::test]
async fn mongodb_queries_that_find_nothing_are_said_so_and_fail_the_gate() {
    let Some(client) = crate::util::server().await else {
        return;
    };
    let db = "tbt_typed_empty";
    let companies = [
        Bson::ObjectId(ObjectId::new()),
        Bson::ObjectId(ObjectId::new()),
        Bson::ObjectId(ObjectId::new()),
    ];
    deals(&client, db, &companies).await;
    let tmp = tempfile::tempdir().expect("tempdir");
    // The id sent as a string (what every run did before): nothing matches.
    let (o, r) = run(
        tmp.path(),
        "strings",
        &deals_scenario(db, "id-{{tenant}}"),
        &["--uri", &crate::util::uri()],
    );
    let out = o.text();
    assert!(o.status.success(), "{out}");
    for e in largest(&r, "open_deals")
        .into_iter()
        .chain(largest(&r, "count_deals"))
    {
        assert_eq!((e.found, e.empty), (Some(0), true), "{e:?}");
    }
    assert!(
        out.contains("WARNING: open_deals") && out.contains("found 0 records"),
        "{out}"
    );
    let json = std::fs::read_to_string(tmp.path().join("strings/results.json")).expect("json");
    assert!(json.contains("\"empty\": true"), "results.json says so");
    check_report_and_gate(&tmp.path().join("strings"), "open_deals");
    client.database(db).drop().await.expect("drop");
}

/// The report's caveats name the empty query and a gate with `forbid_empty` fails on it
/// (exit 1), while the same rules without it pass the plan.
fn check_report_and_gate(run: &Path, op: &str) {
    let html = std::fs::read_to_string(run.join("index.html")).expect("report");
    let doc = scraper::Html::parse_document(&html);
    let sel = scraper::Selector::parse("p.caveat").expect("selector");
    let caveat = doc
        .select(&sel)
        .map(|li| li.text().collect::<String>())
        .find(|t| t.contains("found 0 records") && t.contains(op));
    assert!(caveat.is_some(), "the report's caveats say so");
    let rules = run.join("rules.toml");
    std::fs::write(&rules, "[[plan]]\nforbid_empty = true\n").expect("rules");
    let g = tenantbench()
        .arg("gate")
        .arg(run)
        .arg("--rules")
        .arg(&rules)
        .assert_exit_code(1);
    assert!(
        g.text().contains("an empty query was measured"),
        "{}",
        g.text()
    );
}

#[tokio::test]
async fn generated_data_query_that_finds_nothing_is_flagged() {
    let Some(_client) = crate::util::server().await else {
        return;
    };
    // The generator gives every tenant orders; a filter on a status no order has finds none.
    let prefix = format!("tbt_empty_{}", std::process::id());
    let toml = format!(
        r#"name = "empty-gen"
prefix = "{prefix}"
seed = 3
[population]
tenants = 10
documents = 2000
distribution = {{ zipf = {{ s = 1.0 }} }}
min_per_tenant = 20

[[operation]]
name = "lost_orders"
collection = "orders"
filter = '{{"tenant": "{{{{tenant}}}}", "status": "no-such-status"}}'
limit = 20

[workload]
mix = {{ lost_orders = 1, list_recent = 1 }}
concurrency = 2
duration_s = 1
warmup_s = 0.2

[matrix]
repeat = 1
"#
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let (o, r) = run(tmp.path(), "gen", &toml, &["--uri", &crate::util::uri()]);
    assert!(o.status.success(), "{}", o.text());
    let lost = largest(&r, "lost_orders");
    assert!(!lost.is_empty());
    for e in lost {
        assert!(
            e.tenant_documents > 0,
            "the generator gave it orders: {e:?}"
        );
        assert_eq!((e.found, e.empty), (Some(0), true), "{e:?}");
    }
    for e in largest(&r, "list_recent") {
        assert!(
            !e.empty && e.found > Some(0),
            "the built-in finds orders: {e:?}"
        );
    }
    check_report_and_gate(&tmp.path().join("gen"), "lost_orders");
    tenantbench()
        .args(["drop", "--prefix", &prefix, "--uri", &crate::util::uri()])
        .success();
}

#[tokio::test]
async fn postgres_uuid_and_bigint_tenant_columns_are_asked_in_their_type() {
    let Some(uri) = pg().await else {
        return;
    };
    const DB: &str = "tbt_typed_pg";
    let admin = tenantbench::backend::postgres::connect(&uri, None)
        .await
        .expect("connect");
    for sql in [
        format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)"),
        format!("CREATE DATABASE {DB}"),
    ] {
        admin.batch_execute(&sql).await.expect(&sql);
    }
    let c = tenantbench::backend::postgres::connect(&uri, Some(DB))
        .await
        .expect("connect");
    c.batch_execute(
        "CREATE TABLE deals_uuid (id serial PRIMARY KEY, company_id uuid NOT NULL, stage text NOT NULL);
         CREATE TABLE deals_big (id serial PRIMARY KEY, company_id bigint NOT NULL, stage text NOT NULL);
         INSERT INTO deals_uuid (company_id, stage)
           SELECT ('0000000' || c || '-0000-4000-8000-000000000000')::uuid,
                  CASE WHEN i % 2 = 0 THEN 'open' ELSE 'won' END
             FROM (VALUES (1, 30), (2, 20), (3, 10)) AS t(c, n), generate_series(1, n) AS i;
         INSERT INTO deals_big (company_id, stage)
           SELECT 9000000000 + c, CASE WHEN i % 2 = 0 THEN 'open' ELSE 'won' END
             FROM (VALUES (1, 30), (2, 20), (3, 10)) AS t(c, n), generate_series(1, n) AS i;
         ANALYZE",
    )
    .await
    .expect("tables");
    drop(c);
    let tmp = tempfile::tempdir().expect("tempdir");
    let db_uri = format!("{}/{DB}", uri.rsplit_once('/').expect("a database").0);
    for (table, largest_text) in [
        ("deals_uuid", "00000001-0000-4000-8000-000000000000"),
        ("deals_big", "9000000001"),
    ] {
        let toml = format!(
            r#"name = "typed-pg"
[target]
existing = true
database = "{DB}"
tenant_field = "company_id"
collections = ["{table}"]

[[operation]]
name = "open_deals"
collection = "{table}"
sql = "SELECT id FROM {table} WHERE company_id = {{{{tenant}}}} AND stage = 'open' LIMIT 5"

[workload]
mix = {{ open_deals = 1 }}
concurrency = 2
duration_s = 1
warmup_s = 0.2

[matrix]
backend = ["postgres"]
repeat = 1
"#
        );
        let (o, r) = run(
            tmp.path(),
            table,
            &toml,
            &["--backend", "postgres", "--uri", &db_uri],
        );
        let out = o.text();
        assert!(o.status.success(), "{table}: {out}");
        assert!(!out.contains("WARNING"), "{table}: {out}");
        for t in &r.trials {
            assert!(t.operations > 0 && t.errors == 0, "{table}: {out}");
        }
        let open = largest(&r, "open_deals");
        assert!(!open.is_empty(), "{table}: evidence");
        for e in open {
            assert_eq!(e.tenant, largest_text, "{table}");
            assert_eq!((e.found, e.empty), (Some(5), false), "{table}: {e:?}");
            assert_eq!((e.tenant_documents, e.collection_documents), (30, 60));
        }
    }
    admin
        .batch_execute(&format!("DROP DATABASE {DB} WITH (FORCE)"))
        .await
        .expect("drop");
}
