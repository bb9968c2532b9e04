//! A scenario's own operations (`[[operation]]`): written as the built-ins' twins — a find
//! with sort, limit and projection, a count, an aggregation with a date placeholder, a lookup
//! by email — they return the same answers as the built-ins on MongoDB (shared and per-tenant)
//! and PostgreSQL (shared, schema-per-tenant, rls); bad templates are refused at load time at
//! the line and column of the bad character.

use std::path::Path;

use tenantbench::backend::mongo::MongoBackend;
use tenantbench::backend::postgres;
use tenantbench::backend::{Answer, Backend};
use tenantbench::layout::Layout;
use tenantbench::op::{Op, Request};
use tenantbench::scenario::Scenario;

use crate::util::tiny;

/// The built-ins' twins, on both databases.
const TWINS: &str = r#"
[[operation]]
name = "recent_by_status"
collection = "orders"
filter = '{"tenant": "{{tenant}}", "status": "{{status}}"}'
sort = '{"createdAt": -1}'
limit = 20
projection = '{"_id": 1}'
sql = "SELECT id FROM orders WHERE tenant_id = $tenant AND status = {{status}} ORDER BY created_at DESC LIMIT 20"

[[operation]]
name = "count_status"
collection = "orders"
filter = '{"tenant": "{{tenant}}", "status": "{{status}}"}'
count = true
sql = "SELECT count(*) FROM orders WHERE tenant_id = {{tenant}} AND status = {{status}}"

[[operation]]
name = "revenue_30d"
collection = "orders"
pipeline = '''[
  {"$match": {"tenant": "{{tenant}}", "status": {"$in": ["paid", "shipped"]}, "createdAt": {"$gte": "{{days_ago:30}}"}}},
  {"$group": {"_id": {"$dateToString": {"format": "%Y-%m-%d", "date": "$createdAt"}}, "cents": {"$sum": "$amountCents"}}},
  {"$sort": {"_id": 1}}
]'''
sql = """SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), sum(amount_cents)::bigint
  FROM orders WHERE tenant_id = {{tenant}} AND status IN ('paid', 'shipped') AND created_at >= {{days_ago:30}}
 GROUP BY 1 ORDER BY 1"""

[[operation]]
name = "user_by_email"
collection = "users"
filter = '{"tenant": "{{tenant}}", "email": "{{email}}"}'
projection = '{"_id": 1}'
limit = 1
sql = "SELECT id FROM users WHERE tenant_id = {{tenant}} AND email = {{email}} LIMIT 1"

[workload]
mix = { list_recent = 1, recent_by_status = 1, count_status = 1, revenue_30d = 1, user_by_email = 1 }
"#;

/// (built-in, its twin).
fn pairs() -> [(Op, Op); 4] {
    [
        (
            Op::ListRecent,
            Op::named("recent_by_status").expect("interned"),
        ),
        (
            Op::CountByStatus,
            Op::named("count_status").expect("interned"),
        ),
        (
            Op::RevenueByDay,
            Op::named("revenue_30d").expect("interned"),
        ),
        (
            Op::FindUserByEmail,
            Op::named("user_by_email").expect("interned"),
        ),
    ]
}

/// A built-in's answer in the shape of a custom operation's rows.
fn as_rows(a: Answer) -> Answer {
    match a {
        Answer::Ids(ids) => Answer::Rows(ids.into_iter().map(|i| vec![i]).collect()),
        Answer::One(id) => Answer::Rows(id.into_iter().map(|i| vec![i]).collect()),
        Answer::Revenue(days) => Answer::Rows(
            days.into_iter()
                .map(|(d, c)| vec![d, c.to_string()])
                .collect(),
        ),
        Answer::Count(n) => Answer::Rows(vec![vec![n.to_string()]]),
        other => other,
    }
}

/// Compares built-ins and twins on a backend for a few tenants and keys; returns how many
/// answers were compared that were not empty.
async fn compare<B: Backend>(b: &B, what: &str) -> usize {
    let mut real = 0;
    for tenant in [0usize, 2, 7] {
        for key in [0u64, 1, 5] {
            for (builtin, twin) in pairs() {
                let want = b
                    .respond(&Request {
                        tenant,
                        op: builtin,
                        key,
                    })
                    .await
                    .expect("built-in");
                let got = b
                    .respond(&Request {
                        tenant,
                        op: twin,
                        key,
                    })
                    .await
                    .unwrap_or_else(|e| panic!("{what}: {twin} failed: {e:?}"));
                let (want, got) = (as_rows(want), as_rows(got));
                assert_eq!(
                    got, want,
                    "{what}: {twin} vs {builtin} (tenant {tenant}, key {key})"
                );
                if !matches!(&got, Answer::Rows(r) if r.is_empty()) {
                    real += 1;
                }
            }
        }
    }
    real
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongodb_twins_answer_as_the_builtins() {
    let Some(client) = crate::util::server().await else {
        return;
    };
    let prefix = "tbt_custom_ops";
    crate::util::clean(&client, prefix).await;
    for layout in [Layout::Shared, Layout::PerTenant] {
        let su = crate::util::setup(tiny(prefix, 10, 4000, TWINS), layout).await;
        su.seed("tenant").await;
        let b = MongoBackend::new(&su.servers, &su.placement, &su.pop, su.scenario.seed)
            .with_operations(su.scenario.operations.clone());
        let real = compare(&b, layout.name()).await;
        assert!(real >= 20, "{layout:?}: only {real} non-empty answers");
        // Plan evidence for a find of the scenario's own, as for the built-ins.
        let e = b
            .explain(&Request {
                tenant: 0,
                op: Op::named("recent_by_status").expect("interned"),
                key: 0,
            })
            .await
            .expect("explain")
            .expect("a find explains");
        assert!(e.stages.iter().any(|s| s == "IXSCAN"), "{e:?}");
        su.servers.shutdown().await;
    }
    crate::util::clean(&client, prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_twins_answer_as_the_builtins() {
    let Some(uri) = crate::util::pg().await else {
        return;
    };
    let prefix = "tbt_custom_pg";
    crate::util::pg_clean(&uri, prefix).await;
    for layout in [Layout::Shared, Layout::SchemaPerTenant, Layout::Rls] {
        let s = tiny(prefix, 10, 4000, TWINS);
        let placement = crate::util::pg_seeded(&uri, &s, layout, "tenant").await;
        let pools = placement
            .databases
            .iter()
            .map(|d| postgres::pool(&uri, &d.name, 2).expect("pool"))
            .collect();
        let b = postgres::PgBackend::new(pools, &placement, &s.build_population(), s.seed)
            .with_operations(s.operations.clone());
        let real = compare(&b, layout.name()).await;
        assert!(real >= 20, "{layout:?}: only {real} non-empty answers");
        let e = b
            .explain(&Request {
                tenant: 0,
                op: Op::named("count_status").expect("interned"),
                key: 0,
            })
            .await
            .expect("explain")
            .expect("a read explains");
        assert!(e.returned >= 1, "{e:?}");
    }
    crate::util::pg_clean(&uri, prefix).await;
}

/// (case, `[[operation]]` TOML appended to a valid scenario, `file:line:col`, words).
const BAD: &[(&str, &str, &str, &str)] = &[
    (
        "unknown placeholder",
        "[[operation]]\nname = \"x\"\ncollection = \"orders\"\nfilter = '{\"tenant\": \"{{tenat}}\"}'\n",
        "ops.toml:10:23",
        "unknown placeholder {{tenat}}",
    ),
    (
        "bad JSON",
        "[[operation]]\nname = \"x\"\ncollection = \"orders\"\nfilter = '{\"tenant\": }'\n",
        "ops.toml:10:22",
        "filter: expected value",
    ),
    (
        "numbered SQL parameter",
        "[[operation]]\nname = \"x\"\ncollection = \"orders\"\nsql = \"SELECT id FROM orders WHERE tenant_id = $1\"\n",
        "ops.toml:10:48",
        "numbered parameter $1",
    ),
    (
        "a write marked read-only",
        "[[operation]]\nname = \"x\"\ncollection = \"orders\"\nfilter = '{}'\nupdate = '{\"$set\": {\"a\": 1}}'\n",
        "ops.toml:11:10",
        "set read_only = false",
    ),
    (
        "a built-in's name",
        "[[operation]]\nname = \"list_recent\"\ncollection = \"orders\"\nfilter = '{}'\n",
        "ops.toml:8:8",
        "is a built-in operation",
    ),
    (
        "days_ago without days",
        "[[operation]]\nname = \"x\"\ncollection = \"orders\"\nsql = \"SELECT 1 FROM orders WHERE created_at > {{days_ago}}\"\n",
        "ops.toml:10:48",
        "{{days_ago:N}}",
    ),
    (
        "an unknown operation in the mix",
        "[workload]\nmix = { recent_paid = 1 }\n",
        "ops.toml:8:9",
        "unknown operation `recent_paid`",
    ),
    (
        "a mix operation without the backend's form",
        "[[operation]]\nname = \"only_sql\"\ncollection = \"orders\"\nsql = \"SELECT 1\"\n[workload]\nmix = { only_sql = 1 }\n",
        "ops.toml:7:1",
        "has no MongoDB form",
    ),
];

#[test]
fn bad_operations_are_refused_at_their_line_and_column() {
    let head = "name = \"ops\"\n[population]\ntenants = 10\ndocuments = 100\ndistribution = \"uniform\"\n\n";
    let mut wrong = Vec::new();
    for (case, toml, at, words) in BAD {
        let text = format!("{head}{toml}");
        let e = Scenario::parse(Path::new("ops.toml"), &text)
            .expect_err(case)
            .to_string();
        if !e.contains(at) || !e.contains(words) {
            wrong.push(format!("{case}: expected {at} and {words:?} in:\n{e}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // The twins load, and their names are operations of the mix.
    let s = tiny("tbt_x", 10, 100, TWINS);
    assert_eq!(s.operations.len(), 4);
    assert!(
        s.workload
            .mix
            .iter()
            .any(|(o, _)| o.name() == "revenue_30d")
    );
}
