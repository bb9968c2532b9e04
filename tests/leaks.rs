//! The tenant check: every record a read returns is checked, by its own tenant field, against
//! the tenant the operation asked for. A row-level security policy written wrong and a router
//! that resolves the wrong tenant are both caught as `leak` outcomes — counted in results.json,
//! red in the report, failing the gate — while the correct layouts show none.

use std::path::Path;

use tenantbench::backend::mongo::{Answer, MongoBackend};
use tenantbench::backend::postgres::{self, PgBackend};
use tenantbench::backend::{Backend, leak_in};
use tenantbench::layout::Layout;
use tenantbench::metrics::results::Results;
use tenantbench::op::{Op, Outcome, Request};
use tenantbench::scenario::Scenario;

use crate::util::{clean, pg, pg_clean, pg_seeded as seeded, server, setup, tenantbench, tiny};

/// The reads that return records, which the check applies to.
const RECORD_READS: [Op; 3] = [Op::ListRecent, Op::GetById, Op::FindUserByEmail];

#[test]
fn the_check_counts_records_of_other_tenants_and_records_without_a_tenant() {
    assert_eq!(leak_in("t1", [Some("t1"), Some("t1")]), None);
    assert_eq!(leak_in("t1", []), None, "nothing returned, nothing leaked");
    assert_eq!(
        leak_in("t1", [Some("t1"), Some("t2"), None]),
        Some(Answer::Leak {
            returned: 3,
            foreign: 2
        })
    );
    assert_eq!(
        Answer::Leak {
            returned: 1,
            foreign: 1
        }
        .outcome(),
        Outcome::Leak
    );
}

/// Every record read of every tenant, through `b`: (operations, leaks).
async fn leaks_of<B: Backend>(b: &B, tenants: usize) -> (u64, u64) {
    let (mut ops, mut leaks) = (0, 0);
    for tenant in 0..tenants {
        for op in RECORD_READS {
            for key in 0..3 {
                ops += 1;
                leaks += u64::from(b.execute(&Request { tenant, op, key }).await == Outcome::Leak);
            }
        }
    }
    (ops, leaks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_that_resolves_the_wrong_tenant_leaks_on_both_databases_and_a_right_one_does_not()
{
    let prefix = "tbt_leak_route";
    let s = tiny(prefix, 10, 3000, "");
    if let Some(client) = server().await {
        clean(&client, prefix).await;
        for layout in [Layout::Shared, Layout::PerTenant] {
            let su = setup(s.clone(), layout).await;
            su.seed("tenant").await;
            let right = MongoBackend::new(&su.servers, &su.placement, &su.pop, s.seed);
            assert_eq!(leaks_of(&right, 10).await, (90, 0), "{layout:?}: no leaks");
            let wrong =
                MongoBackend::new(&su.servers, &su.placement, &su.pop, s.seed).with_misrouting();
            // Each tenant gets its neighbour's records (in per-tenant, from the neighbour's
            // database): every list or lookup that finds one is caught.
            let (ops, leaks) = leaks_of(&wrong, 10).await;
            assert!(leaks >= 10, "{layout:?}: {leaks} of {ops} caught");
            let r = wrong
                .respond(&Request {
                    tenant: 0,
                    op: Op::ListRecent,
                    key: 0,
                })
                .await;
            assert!(
                matches!(r, Ok(Answer::Leak { returned, foreign }) if returned > 0 && foreign == returned),
                "{r:?}"
            );
            su.servers.shutdown().await;
        }
        clean(&client, prefix).await;
    }
    if let Some(uri) = pg().await {
        pg_clean(&uri, prefix).await;
        let placement = seeded(&uri, &s, Layout::Shared, "tenant").await;
        let pools = || {
            placement
                .databases
                .iter()
                .map(|d| postgres::pool(&uri, &d.name, 2).expect("pool"))
                .collect()
        };
        let pop = s.build_population();
        let right = PgBackend::new(pools(), &placement, &pop, s.seed);
        assert_eq!(leaks_of(&right, 10).await, (90, 0));
        let wrong = PgBackend::new(pools(), &placement, &pop, s.seed).with_misrouting();
        let (ops, leaks) = leaks_of(&wrong, 10).await;
        assert!(leaks >= 10, "{leaks} of {ops} caught");
        pg_clean(&uri, prefix).await;
    }
}

/// A scenario file for a short read-only run on PostgreSQL's rls layout.
fn rls_scenario(prefix: &str) -> String {
    format!(
        r#"name = "leaktest"
prefix = "{prefix}"
seed = 5
[population]
tenants = 12
documents = 4000
distribution = {{ zipf = {{ s = 1.0 }} }}
min_per_tenant = 20
[load]
batch_size = 500
workers = 2
[workload]
concurrency = 2
duration_s = 2
warmup_s = 0
mix = {{ list_recent = 3, get_by_id = 2, find_user_by_email = 1, count_by_status = 1 }}
[[matrix.variant]]
backend = "postgres"
layout = "rls"
indexes = "tenant"
"#
    )
}

fn run_results(dir: &Path, out: &str, gate: Option<&Path>) -> (Option<i32>, Results, String) {
    let mut cmd = tenantbench();
    cmd.args(["run", "--scenario", "leak.toml", "--no-progress", "-o", out])
        .current_dir(dir);
    if let Some(g) = gate {
        cmd.arg("--gate").arg(g);
    }
    let o = cmd.output();
    // The gate's table goes to stdout, the run's lines to stderr.
    let stderr = format!("{}{}", o.stderr_text(), o.stdout_text());
    let text = std::fs::read_to_string(dir.join(out).join("results.json"))
        .unwrap_or_else(|e| panic!("results.json: {e}\n{stderr}"));
    let r: Results = serde_json::from_str(&text).expect("results parse");
    (o.status.code(), r, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_rls_policy_is_a_leak_the_run_counts_the_report_shows_red_and_the_gate_fails() {
    let Some(uri) = pg().await else { return };
    let prefix = "tbt_leak_rls";
    pg_clean(&uri, prefix).await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("leak.toml"), rls_scenario(prefix)).expect("write");
    let gate = Path::new(env!("CARGO_MANIFEST_DIR")).join("gates/default.toml");

    // The policy as seeded: thousands of checked reads, no leak.
    let (code, r, err) = run_results(dir.path(), "right", Some(&gate));
    assert_eq!(r.trials.len(), 1, "{err}");
    let t = &r.trials[0];
    assert!(t.operations > 100, "{err}");
    assert_eq!(t.leaks, 0, "{err}");
    assert_eq!(code, Some(0), "the gate passes: {err}");

    // The policy written wrong, as a migration script might: USING (true).
    let s = Scenario::load(&dir.path().join("leak.toml")).expect("scenario");
    let pop = s.build_population();
    let db = s.placement(&pop, Layout::Rls).databases[0].name.clone();
    let c = postgres::connect(&uri, Some(&db)).await.expect("connect");
    c.batch_execute(
        "ALTER POLICY tenant_isolation ON public.orders USING (true);
         ALTER POLICY tenant_isolation ON public.users USING (true)",
    )
    .await
    .expect("break the policy");
    drop(c);

    let (code, r, err) = run_results(dir.path(), "wrong", Some(&gate));
    let t = &r.trials[0];
    assert!(t.leaks > 0, "{err}");
    assert!(
        t.groups.iter().any(
            |g| g.outcome == tenantbench::metrics::results::GroupOutcome::Leak
                && g.op == Op::ListRecent
        ),
        "leaks are their own outcome"
    );
    assert_eq!(code, Some(1), "the gate fails on a leak: {err}");
    assert!(err.contains("ISOLATION FAILURE"), "{err}");
    assert!(err.contains("tenant isolation (built in)"), "{err}");
    let html = std::fs::read_to_string(dir.path().join("wrong/index.html")).expect("report");
    let page = scraper::Html::parse_document(&html);
    let red = scraper::Selector::parse("p.leak, td.leak").expect("selector");
    let shown: Vec<String> = page
        .select(&red)
        .map(|e| e.text().collect::<String>())
        .collect();
    assert!(
        shown.iter().any(|x| x.contains("Isolation failure")),
        "{shown:?}"
    );
    assert!(
        shown.iter().any(|x| x.trim() == t.leaks.to_string()),
        "{shown:?}"
    );
    pg_clean(&uri, prefix).await;
}
