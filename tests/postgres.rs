//! The PostgreSQL backend against the local server: seed and verify in every layout with the
//! generator's checksums (the same MongoDB verifies against), the same answers in every layout
//! and on MongoDB, plans without and with indexes, the connection check of the per-tenant
//! layout, and the marker protecting databases it did not create. Each test has its own prefix.

use std::time::Duration;

use tenantbench::backend::mongo::{Answer, MongoBackend};
use tenantbench::backend::postgres::{self, PgBackend};
use tenantbench::layout::Layout;
use tenantbench::layout::Placement;
use tenantbench::op::{Op, Request};
use tenantbench::scenario::Scenario;

use crate::util::{pg, pg_clean as clean, pg_seeded as seeded, seed_opts, tenantbench, tiny};

fn backend(uri: &str, s: &Scenario, placement: &Placement) -> PgBackend {
    let pools = placement
        .databases
        .iter()
        .map(|d| postgres::pool(uri, &d.name, 2).expect("pool"))
        .collect();
    PgBackend::new(pools, placement, &s.build_population(), s.seed)
}

const LAYOUTS: [Layout; 5] = [
    Layout::Shared,
    Layout::PerTenant,
    Layout::SchemaPerTenant,
    Layout::Rls,
    Layout::Hybrid,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_layout_seeds_and_verifies_and_a_changed_row_is_found() {
    let Some(uri) = pg().await else { return };
    let prefix = "tbt_pg_verify";
    clean(&uri, prefix).await;
    let s = tiny(prefix, 12, 6000, "");
    let pop = s.build_population();
    for layout in LAYOUTS {
        let placement = seeded(&uri, &s, layout, "tenant").await;
        let r = postgres::verify(&uri, &s, &pop, &placement, false)
            .await
            .expect("verify");
        assert!(
            r.ok(),
            "{layout}: {:?} {:?}",
            r.mismatches,
            r.marker_problems
        );
        assert_eq!(r.documents, pop.documents(), "{layout}");
        assert_eq!(r.checked, 12 * 5, "{layout}");
    }
    // One changed value is a checksum mismatch for exactly that tenant and table.
    let placement = s.placement(&pop, Layout::Shared);
    let c = postgres::connect(&uri, Some(&placement.databases[0].name))
        .await
        .expect("connect");
    let n = c
        .execute(
            "UPDATE orders SET amount_cents = amount_cents + 1 WHERE id = 't00003:ord:0'",
            &[],
        )
        .await
        .expect("update");
    assert_eq!(n, 1);
    let r = postgres::verify(&uri, &s, &pop, &placement, false)
        .await
        .expect("verify");
    assert_eq!(r.mismatches.len(), 1, "{:?}", r.mismatches);
    let m = &r.mismatches[0];
    assert_eq!(
        (m.tenant.as_str(), m.collection.name()),
        ("t00003", "orders")
    );
    assert!(m.expected_count == m.actual_count && !m.checksum_matches);
    clean(&uri, prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_read_answers_the_same_in_every_layout_and_on_mongodb() {
    let Some(uri) = pg().await else { return };
    let prefix = "tbt_pg_same";
    clean(&uri, prefix).await;
    let s = tiny(prefix, 12, 6000, "");
    let mut answers: Vec<Vec<(Request, Answer)>> = Vec::new();
    for layout in LAYOUTS {
        let placement = seeded(&uri, &s, layout, "compound").await;
        let b = backend(&uri, &s, &placement);
        let mut these = Vec::new();
        for tenant in [0usize, 3, 11] {
            for op in crate::util::READS {
                for key in [0u64, 1, 2] {
                    let req = Request { tenant, op, key };
                    these.push((req, b.answer(&req).await.expect("answer")));
                }
            }
        }
        answers.push(these);
    }
    assert_eq!(answers[0], answers[1], "shared vs per-tenant");
    assert_eq!(answers[0], answers[2], "shared vs schema-per-tenant");
    assert_eq!(answers[0], answers[3], "shared vs rls");
    assert_eq!(answers[0], answers[4], "shared vs hybrid");
    let found = |op: Op| answers[0].iter().find(|(r, _)| r.op == op).map(|x| &x.1);
    assert!(matches!(found(Op::ListRecent), Some(Answer::Ids(ids)) if ids.len() == 20));
    assert!(matches!(found(Op::GetById), Some(Answer::One(Some(_)))));
    assert!(matches!(found(Op::AdminCrossTenant), Some(Answer::PerTenant(t)) if t.len() == 12));

    // The same requests on MongoDB answer the same (when a MongoDB server is there).
    if let Some(client) = crate::util::server().await {
        crate::util::clean(&client, prefix).await;
        let su = crate::util::setup(s.clone(), Layout::Shared).await;
        su.seed("compound").await;
        let m = MongoBackend::new(&su.servers, &su.placement, &su.pop, su.scenario.seed);
        for (req, want) in &answers[0] {
            let got = m.answer(req).await.expect("mongo answer");
            assert_eq!(&got, want, "{:?} on MongoDB", req);
        }
        su.servers.shutdown().await;
        crate::util::clean(&client, prefix).await;
    }
    clean(&uri, prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_tenant_is_a_sequential_scan_without_an_index_and_an_index_scan_with_it() {
    let Some(uri) = pg().await else { return };
    let prefix = "tbt_pg_plan";
    clean(&uri, prefix).await;
    // Enough rows that the planner prefers an index for a small tenant once there is one.
    let s = tiny(prefix, 60, 60_000, "");
    let small = 40usize;
    let mut plans = Vec::new();
    for profile in ["none", "compound"] {
        let placement = seeded(&uri, &s, Layout::Shared, profile).await;
        let b = backend(&uri, &s, &placement);
        let e = b
            .explain(&Request {
                tenant: small,
                op: Op::ListRecent,
                key: 0,
            })
            .await
            .expect("explain")
            .expect("a read has a plan");
        plans.push(e);
    }
    let none = plans[0].stages.join(" > ");
    let with = plans[1].stages.join(" > ");
    assert!(none.contains("Seq Scan"), "{none}");
    assert!(
        ["Index Scan", "Index Only Scan", "Bitmap Index Scan"]
            .iter()
            .any(|s| with.contains(&format!("{s} (orders_compound_0)"))),
        "{with}"
    );
    // Rows examined: the whole table without the index, at most the limit with it.
    assert!(plans[0].docs_examined > 10_000, "{:?}", plans[0]);
    assert!(plans[1].docs_examined <= 20, "{:?}", plans[1]);

    // The partial profile, for the largest tenant: the hot status (key 0 → `paid`) is served
    // by the partial index, another status (key 1 → `shipped`) is not.
    let placement = seeded(&uri, &s, Layout::Shared, "partial").await;
    let b = backend(&uri, &s, &placement);
    let plan = |key| {
        let b = &b;
        async move {
            b.explain(&Request {
                tenant: 0,
                op: Op::ListRecent,
                key,
            })
            .await
            .expect("explain")
            .expect("a plan")
            .stages
            .join(" > ")
        }
    };
    let hot = plan(0).await;
    let other = plan(1).await;
    assert!(hot.contains("orders_partial_hot"), "{hot}");
    assert!(!other.contains("orders_partial_hot"), "{other}");
    clean(&uri, prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_per_tenant_for_1200_tenants_fits_the_lock_table() {
    // 7,200 tables and their foreign keys: more locks than one transaction may hold with the
    // defaults (64 × max_connections 100), so the seeding must not create them in one.
    let Some(uri) = pg().await else { return };
    let prefix = "tbt_pg_locks";
    clean(&uri, prefix).await;
    let s = tiny(prefix, 1200, 6000, "");
    let pop = s.build_population();
    let placement = seeded(&uri, &s, Layout::SchemaPerTenant, "none").await;
    let r = postgres::verify(&uri, &s, &pop, &placement, false)
        .await
        .expect("verify");
    assert!(r.ok(), "{:?} {:?}", r.mismatches, r.marker_problems);
    let c = postgres::connect(&uri, Some(&placement.databases[0].name))
        .await
        .expect("connect");
    let tables: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname LIKE 't\\_%' AND tablename <> '_tenantbench'",
            &[],
        )
        .await
        .expect("pg_tables")
        .get(0);
    assert_eq!(tables, 1200 * 5);
    let fks: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f'",
            &[],
        )
        .await
        .expect("pg_constraint")
        .get(0);
    assert_eq!(fks, 1200 * 5, "a tenant_id foreign key per table");
    clean(&uri, prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warming_opens_min_pool_size_connections_in_every_pool_before_the_load() {
    let Some(uri) = pg().await else { return };
    let prefix = "tbt_pg_warm";
    clean(&uri, prefix).await;
    let s = tiny(prefix, 8, 800, "");
    let placement = seeded(&uri, &s, Layout::PerTenant, "tenant").await;
    let pools: Vec<_> = placement
        .databases
        .iter()
        .map(|d| postgres::pool(&uri, &d.name, 2).expect("pool"))
        .collect();
    let admin = postgres::connect(&uri, None).await.expect("admin");
    let count = async || -> i64 {
        admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE $1",
                &[&format!("{prefix}%")],
            )
            .await
            .expect("pg_stat_activity")
            .get(0)
    };
    // The seeding's own connections end asynchronously: wait until the server has let them go.
    let mut before = count().await;
    for _ in 0..50 {
        if before == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        before = count().await;
    }
    assert_eq!(before, 0, "pools open nothing until asked");
    let opened = postgres::warm(&pools, 1).await.expect("warm");
    assert_eq!(opened, 8, "one per database");
    assert_eq!(
        count().await,
        8,
        "the warmed connections stay in their pools"
    );
    assert_eq!(
        postgres::warm(&pools, 5).await.expect("warm"),
        16,
        "capped by the pool's size"
    );
    for p in &pools {
        p.close();
    }
    clean(&uri, prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_tenant_pools_beyond_max_connections_are_refused_before_anything_is_created() {
    let Some(uri) = pg().await else { return };
    let prefix = "tbt_pg_conns";
    clean(&uri, prefix).await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("conns.toml");
    // 150 tenants, a database and pool each: more connections than max_connections (100).
    std::fs::write(
        &file,
        format!(
            "name = \"conns\"\nprefix = \"{prefix}\"\n[population]\ntenants = 150\ndocuments = 3000\n\
             distribution = {{ zipf = {{ s = 1.0 }} }}\n[connections]\nmax_pool_size = 2\n\
             [workload]\nconcurrency = 4\nduration_s = 3\nwarmup_s = 1\n"
        ),
    )
    .expect("write");
    let stderr = tenantbench()
        .args([
            "run",
            "--backend",
            "postgres",
            "--layout",
            "per-tenant",
            "--no-progress",
        ])
        .arg("--scenario")
        .arg(&file)
        .arg("--out")
        .arg(tmp.path().join("out"))
        .assert_exit_code(1)
        .stderr_text();
    assert!(
        stderr.contains("150 databases × 2 connections per pool")
            && stderr.contains("max_connections"),
        "{stderr}"
    );
    assert!(
        postgres::list_marked(&uri, Some(prefix))
            .await
            .expect("ls")
            .is_empty(),
        "nothing was created"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_marker_protects_databases_tenantbench_did_not_create() {
    let Some(uri) = pg().await else { return };
    let prefix = "tbt_pg_foreign";
    clean(&uri, prefix).await;
    let admin = postgres::connect(&uri, None).await.expect("connect");
    let foreign = format!("{prefix}_shared");
    for sql in [
        format!("DROP DATABASE IF EXISTS {foreign}"),
        format!("CREATE DATABASE {foreign}"),
    ] {
        admin
            .batch_execute(&sql)
            .await
            .expect("create a foreign database");
    }
    let s = tiny(prefix, 5, 500, "");
    let pop = s.build_population();
    let placement = s.placement(&pop, Layout::Shared);
    let err = postgres::seed(
        &uri,
        &s,
        &pop,
        &placement,
        &seed_opts(&s, Layout::Shared, "none"),
    )
    .await
    .expect_err("a database without our marker is refused");
    assert!(err.to_string().contains(&foreign), "{err}");
    let out = postgres::drop_marked(&uri, prefix, None)
        .await
        .expect("drop");
    assert!(out.dropped.is_empty());
    assert_eq!(out.refused.len(), 1, "{:?}", out.refused);
    assert!(
        postgres::database_exists(&admin, &foreign)
            .await
            .expect("exists"),
        "left untouched"
    );
    admin
        .batch_execute(&format!("DROP DATABASE {foreign}"))
        .await
        .expect("clean the foreign database");
}

/// As the rls layout's application role, bound to `tenant`: (orders visible, orders of `other`).
async fn visible(c: &tokio_postgres::Client, role: &str, tenant: &str, other: &str) -> (i64, i64) {
    c.batch_execute(&format!(
        "BEGIN; SET LOCAL ROLE {}; SET LOCAL app.tenant_id = '{tenant}'",
        postgres::ident(role)
    ))
    .await
    .expect("bind the tenant");
    let all: i64 = c
        .query_one("SELECT count(*) FROM orders", &[])
        .await
        .expect("count")
        .get(0);
    let of_other: i64 = c
        .query_one(
            "SELECT count(*) FROM orders WHERE tenant_id = $1",
            &[&other],
        )
        .await
        .expect("count")
        .get(0);
    c.batch_execute("COMMIT").await.expect("commit");
    (all, of_other)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rls_binds_a_session_to_its_tenant_and_the_check_fails_without_the_policy() {
    let Some(uri) = pg().await else { return };
    let prefix = "tbt_pg_rls";
    clean(&uri, prefix).await;
    let s = tiny(prefix, 8, 2000, "");
    let pop = s.build_population();
    let placement = seeded(&uri, &s, Layout::Rls, "tenant").await;
    let db = &placement.databases[0].name;
    let role = postgres::rls_role(db);
    let c = postgres::connect(&uri, Some(db)).await.expect("connect");
    let (a, b) = (&pop.tenants[0], &pop.tenants[1]);
    let a_orders = a.count(tenantbench::datagen::Collection::Orders) as i64;
    let b_orders = b.count(tenantbench::datagen::Collection::Orders) as i64;
    assert_ne!(a_orders, b_orders);

    // The role the operations run as is neither superuser nor the tables' owner.
    let r = c
        .query_one(
            "SELECT r.rolsuper, r.rolbypassrls, pg_get_userbyid(t.relowner) = r.rolname
               FROM pg_roles r, pg_class t WHERE r.rolname = $1 AND t.relname = 'orders'",
            &[&role],
        )
        .await
        .expect("role");
    assert_eq!((r.get(0), r.get(1), r.get(2)), (false, false, false));

    assert_eq!(visible(&c, &role, &a.id, &b.id).await, (a_orders, 0));
    // Without the policy and with RLS disabled, the same session sees B's orders too: the
    // check above would fail.
    c.batch_execute(
        "DROP POLICY tenant_isolation ON orders; ALTER TABLE orders DISABLE ROW LEVEL SECURITY",
    )
    .await
    .expect("drop the policy");
    let (all, of_b) = visible(&c, &role, &a.id, &b.id).await;
    assert_ne!(all, a_orders);
    assert_eq!(of_b, b_orders);
    drop(c);
    clean(&uri, prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_tenantbench_did_not_create_keeps_its_database_from_reload_and_drop() {
    let Some(uri) = pg().await else { return };
    let prefix = "tbt_pg_fschema";
    clean(&uri, prefix).await;
    let s = tiny(prefix, 4, 400, "");
    let pop = s.build_population();
    let placement = seeded(&uri, &s, Layout::SchemaPerTenant, "tenant").await;
    let db = &placement.databases[0].name;
    let c = postgres::connect(&uri, Some(db)).await.expect("connect");
    c.batch_execute("CREATE SCHEMA billing; CREATE TABLE billing.invoices (id int)")
        .await
        .expect("someone else's schema");
    // A reload would drop the database, and their schema with it: refused.
    let mut opts = seed_opts(&s, Layout::SchemaPerTenant, "tenant");
    opts.reseed = true;
    let err = postgres::seed(&uri, &s, &pop, &placement, &opts)
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("billing"), "{err}");
    let out = postgres::drop_marked(&uri, prefix, None)
        .await
        .expect("drop");
    assert!(out.dropped.is_empty(), "{:?}", out.dropped);
    assert!(out.refused[0].1.contains("billing"), "{:?}", out.refused);
    // Without it, the database is ours again.
    c.batch_execute("DROP SCHEMA billing CASCADE")
        .await
        .expect("drop their schema");
    drop(c);
    let out = postgres::drop_marked(&uri, prefix, None)
        .await
        .expect("drop");
    assert_eq!(out.dropped, std::slice::from_ref(db));
}
