//! Moving a tenant (`migrate`) on both servers: a move verifies, cuts over in the tenant
//! directory and routes the tenant's next operations to the new place with the same answers;
//! the other tenants' data is untouched (checksums against the generator); a corrupted copy
//! fails verification and does not cut over; a stopped migration resumes without duplicates or
//! gaps; writes issued during the copy are all in the destination; destinations that would break
//! the marker rules are refused; a `migrate` process killed mid-copy continues when run again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures_util::FutureExt;
use tenantbench::backend::migrate::{Fault, Live, MigrateOptions, MigrationReport, MoveSpec};
use tenantbench::backend::{
    Admin, Answer, AnyDriver, Backend, Dataset, Driver, FullDriver, Migrate, TrialSetup,
};
use tenantbench::layout::{Layout, Placement, PlacementKind};
use tenantbench::metrics::results::Evidence;
use tenantbench::op::{BackendKind, Op, Request};
use tenantbench::population::Population;
use tenantbench::scenario::Scenario;
use tenantbench::with_driver;

use crate::util::{READS, pg, seed_opts, tenantbench, tiny};

/// The drivers of the servers that answer (a missing one skips, or fails with `CI` set).
async fn drivers() -> Vec<AnyDriver> {
    let mut out = Vec::new();
    if crate::util::server().await.is_some() {
        out.push(AnyDriver::new(
            BackendKind::Mongodb,
            Some(&crate::util::uri()),
        ));
    }
    if let Some(uri) = pg().await {
        out.push(AnyDriver::new(BackendKind::Postgres, Some(&uri)));
    }
    out
}

/// A scenario of 20 tenants, 6,000 records, its own prefix per kind.
fn scenario(prefix: &str, kind: BackendKind) -> Scenario {
    tiny(&format!("{prefix}_{}", &kind.name()[..2]), 20, 6000, "")
}

/// A tiny scenario of prefix `prefix` seeded (afresh) in the shared layout with the tenant
/// index: the scenario, its population and the rules' placement.
async fn seeded<D: FullDriver>(d: &D, prefix: &str) -> (Scenario, Population, Placement) {
    let s = scenario(prefix, d.kind());
    d.drop(&s.prefix, None).await.expect("clean");
    let pop = s.build_population();
    let base = s.placement(&pop, Layout::Shared);
    d.seed(
        &Dataset::new(&s, &pop, &base),
        &seed_opts(&s, Layout::Shared, "tenant"),
    )
    .await
    .expect("seed");
    (s, pop, base)
}

/// Where tenant `t` moves to a placement of `kind`: the placement now with the destination in
/// it, its index, and where the rules put the tenant.
async fn plan<D: FullDriver>(
    d: &D,
    s: &Scenario,
    pop: &Population,
    t: usize,
    kind: PlacementKind,
) -> (Placement, usize, String) {
    let (mut p, _) = d.placed(s, pop, Layout::Shared).await.expect("placed");
    let name = p
        .destination(&s.prefix, &pop.tenants[t].id, kind)
        .expect("destination");
    let to = p.database_named(&name, kind);
    let base = s.placement(pop, Layout::Shared);
    let rules = base.databases[base.tenant_db[t]].name.clone();
    (p, to, rules)
}

/// Moves tenant `t` to a dedicated database.
async fn move_tenant<D: FullDriver>(
    d: &D,
    s: &Scenario,
    pop: &Population,
    t: usize,
    opts: &MigrateOptions,
) -> Result<MigrationReport, D::Error> {
    let (p, to, rules) = plan(d, s, pop, t, PlacementKind::Dedicated).await;
    let spec = MoveSpec {
        data: Dataset {
            scenario: s,
            pop,
            placement: &p,
        },
        tenant: t,
        to,
        rules_db: &rules,
        indexes: "tenant",
    };
    d.migrate(&spec, opts, None).await
}

/// Answers of the read operations for tenant `t` through a backend opened on `placement`.
async fn answers<D: FullDriver>(
    d: &D,
    s: &Scenario,
    pop: &Population,
    placement: &Placement,
    t: usize,
) -> Vec<Answer> {
    let mut v = s.matrix.variants[0].clone();
    v.backend = d.kind();
    v.layout = Layout::Shared;
    v.indexes = "tenant".into();
    v.max_pool_size = 2;
    let setup = TrialSetup {
        data: Dataset::new(s, pop, placement),
        variant: &v,
        worker: None,
    };
    let (b, session) = d.open(&setup).await.expect("open");
    let mut out = Vec::new();
    for op in READS {
        for key in [0u64, 1, 7] {
            let req = Request { tenant: t, op, key };
            out.push(b.respond(&req).await.expect("answer"));
        }
    }
    d.close(&setup, session, b, &mut Evidence::default()).await;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_verifies_routes_the_tenant_and_leaves_the_others_untouched() {
    for any in drivers().await {
        with_driver!(&any, |d| {
            let (s, pop, base) = seeded(d, "tb_mig_move").await;
            let t = 1;
            let before = answers(d, &s, &pop, &base, t).await;

            let opts = MigrateOptions {
                delete_source: true,
                batch_size: 300,
                ..MigrateOptions::default()
            };
            let r = move_tenant(d, &s, &pop, t, &opts).await.expect("migrate");
            let kind = d.kind();
            assert!(r.verified, "{kind:?}: {:?}", r.checks);
            assert_eq!(r.version, Some(1));
            assert_eq!(r.copied, pop.tenants[t].documents, "{kind:?}");
            assert_eq!(r.deleted_source, Some(pop.tenants[t].documents));
            assert_eq!(r.to, format!("{}_shared_mv_t_t00002", s.prefix));
            assert!(!r.resumed);

            // The directory routes the tenant to its database; verify follows it, and every
            // tenant (the moved one and the 19 others) matches the generator.
            let (after, version) = d.placed(&s, &pop, Layout::Shared).await.expect("placed");
            assert_eq!(version, 1);
            assert_eq!(after.databases[after.tenant_db[t]].name, r.to);
            assert_eq!(after.databases[after.tenant_db[0]].name, r.from);
            let v = d
                .verify(&Dataset::new(&s, &pop, &after), false)
                .await
                .expect("verify");
            assert!(
                v.ok(),
                "{kind:?}: {:?} {:?}",
                v.mismatches,
                v.marker_problems
            );
            assert_eq!(v.checked, 20 * 5);
            assert!(v.left_behind.is_empty(), "the source was deleted");

            // Its next operations go to the new database and answer as before (the source no
            // longer holds its records, so a wrong route would find nothing).
            assert_eq!(answers(d, &s, &pop, &after, t).await, before, "{kind:?}");
            d.drop(&s.prefix, None).await.expect("clean");
        });
    }
}

/// A function that corrupts one order of `tenant` in database `db` (MongoDB or PostgreSQL).
fn corrupter(
    kind: BackendKind,
    db: String,
    tenant: String,
) -> Box<dyn Fn() -> futures_util::future::BoxFuture<'static, ()> + Send + Sync> {
    Box::new(move || {
        let (db, tenant) = (db.clone(), tenant.clone());
        async move {
            match kind {
                BackendKind::Mongodb => {
                    let c = crate::util::server().await.expect("server");
                    c.database(&db)
                        .collection::<mongodb::bson::Document>("orders")
                        .update_one(
                            mongodb::bson::doc! {"tenant": &tenant},
                            mongodb::bson::doc! {"$set": {"status": "corrupted"}},
                        )
                        .await
                        .expect("corrupt");
                }
                BackendKind::Postgres => {
                    let uri = pg().await.expect("pg");
                    let c = tenantbench::backend::postgres::connect(&uri, Some(&db))
                        .await
                        .expect("connect");
                    c.execute(
                        "UPDATE orders SET status = 'corrupted' WHERE id = (SELECT min(id) FROM orders WHERE tenant_id = $1)",
                        &[&tenant],
                    )
                    .await
                    .expect("corrupt");
                }
            }
        }
        .boxed()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_copy_fails_verification_and_does_not_cut_over() {
    for any in drivers().await {
        with_driver!(&any, |d| {
            let (s, pop, base) = seeded(d, "tb_mig_bad").await;
            let t = 2;
            let dest = format!("{}_shared_mv_t_{}", s.prefix, pop.tenants[t].id);
            let opts = MigrateOptions {
                delete_source: true,
                fault: Some(Fault::BeforeVerify(corrupter(
                    d.kind(),
                    dest.clone(),
                    pop.tenants[t].id.clone(),
                ))),
                ..MigrateOptions::default()
            };
            let r = move_tenant(d, &s, &pop, t, &opts).await.expect("migrate");
            let kind = d.kind();
            assert!(!r.verified, "{kind:?}");
            assert_eq!(r.version, None, "no cut-over");
            assert_eq!(r.deleted_source, None, "the source is kept");
            let orders = r
                .checks
                .iter()
                .find(|c| c.collection.name() == "orders")
                .expect("orders");
            assert_eq!(orders.source, orders.destination, "same count");
            assert!(!orders.checksum_matches, "{kind:?}: the corruption is seen");
            assert_eq!(r.checks.iter().filter(|c| !c.ok()).count(), 1);

            // Nothing moved: the directory is empty, the tenant is where it was, complete and
            // verified there; the destination stays incomplete.
            let (after, version) = d.placed(&s, &pop, Layout::Shared).await.expect("placed");
            assert_eq!(version, 0);
            assert_eq!(after.tenant_db, base.tenant_db);
            assert!(
                d.verify(&Dataset::new(&s, &pop, &base), false)
                    .await
                    .expect("verify")
                    .ok()
            );
            let listed = d.list(Some(&s.prefix), false).await.expect("ls");
            let m = listed.iter().find(|m| m.name == dest).expect("destination");
            assert!(!m.marker.complete, "{kind:?}");

            // Run again without the fault: the catch-up repairs the copy, and it cuts over.
            let r = move_tenant(d, &s, &pop, t, &MigrateOptions::default())
                .await
                .expect("migrate");
            assert!(r.verified && r.resumed, "{kind:?}: {:?}", r.checks);
            assert!(r.caught_up >= 1, "the corrupted order was re-copied");
            assert_eq!(r.version, Some(1));
            d.drop(&s.prefix, None).await.expect("clean");
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_migration_resumes_without_duplicates_or_gaps() {
    for any in drivers().await {
        with_driver!(&any, |d| {
            let (s, pop, base) = seeded(d, "tb_mig_resume").await;
            let t = 0;
            let total = pop.tenants[t].documents;
            let stop = MigrateOptions {
                batch_size: 200,
                fault: Some(Fault::StopAfter(total / 2)),
                ..MigrateOptions::default()
            };
            let e = move_tenant(d, &s, &pop, t, &stop)
                .await
                .expect_err("stopped");
            assert!(e.to_string().contains("checkpoint is kept"), "{e}");
            let (after, version) = d.placed(&s, &pop, Layout::Shared).await.expect("placed");
            assert_eq!(
                (version, after.tenant_db.clone()),
                (0, base.tenant_db.clone())
            );

            let opts = MigrateOptions {
                batch_size: 200,
                ..MigrateOptions::default()
            };
            let r = move_tenant(d, &s, &pop, t, &opts).await.expect("resume");
            let kind = d.kind();
            assert!(r.resumed, "{kind:?}");
            assert!(
                r.resumed_at >= total / 2 && r.resumed_at < total,
                "{}",
                r.resumed_at
            );
            // Each record was copied once across both runs, and none was missing.
            assert_eq!(r.resumed_at + r.copied, total, "{kind:?}");
            assert_eq!(r.caught_up, 0, "{kind:?}: nothing was missing or extra");
            assert!(r.verified);
            let (after, _) = d.placed(&s, &pop, Layout::Shared).await.expect("placed");
            let v = d
                .verify(&Dataset::new(&s, &pop, &after), false)
                .await
                .expect("verify");
            assert!(v.ok(), "{kind:?}: {:?}", v.mismatches);
            // The source was kept: verify counts it as left behind, not as a mismatch.
            let left: u64 = v.left_behind.iter().map(|x| x.3).sum();
            assert_eq!(left, total);
            d.drop(&s.prefix, None).await.expect("clean");
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_during_the_copy_are_all_in_the_destination() {
    for any in drivers().await {
        with_driver!(&any, |d| {
            let (s, pop, _) = seeded(d, "tb_mig_live").await;
            let t = 0;
            let (p, to, rules) = plan(d, &s, &pop, t, PlacementKind::Dedicated).await;
            let mut v = s.matrix.variants[0].clone();
            v.backend = d.kind();
            v.layout = Layout::Shared;
            v.indexes = "tenant".into();
            let setup = TrialSetup {
                data: Dataset::new(&s, &pop, &p),
                variant: &v,
                worker: None,
            };
            let (b, session) = d.open(&setup).await.expect("open");
            let dir = b.directory().expect("the backend routes by a directory");
            // A writer inserts and updates the migrating tenant's orders through the backend,
            // through the whole migration, then inserts ten more after its cut-over.
            let done = Arc::new(AtomicBool::new(false));
            let written = Arc::new(AtomicU64::new(0));
            let inserted = Arc::new(AtomicU64::new(0));
            let writer = {
                let (b, done, written, inserted) =
                    (b.clone(), done.clone(), written.clone(), inserted.clone());
                tokio::spawn(async move {
                    let mut errors = 0;
                    let mut after = 0;
                    for k in 0u64.. {
                        for op in [Op::InsertOne, Op::UpdateStatus] {
                            if op == Op::UpdateStatus && after > 0 {
                                continue;
                            }
                            let req = Request {
                                tenant: 0,
                                op,
                                key: k % 200,
                            };
                            match b.respond(&req).await {
                                Ok(Answer::Written(n)) => {
                                    written.fetch_add(n, Ordering::Relaxed);
                                    if op == Op::InsertOne {
                                        inserted.fetch_add(n, Ordering::Relaxed);
                                    }
                                }
                                _ => errors += 1,
                            }
                        }
                        if done.load(Ordering::Relaxed) {
                            after += 1;
                            if after > 10 {
                                break;
                            }
                        } else {
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                    }
                    errors
                })
            };
            tokio::time::sleep(Duration::from_millis(100)).await;
            let spec = MoveSpec {
                data: Dataset {
                    scenario: &s,
                    pop: &pop,
                    placement: &p,
                },
                tenant: t,
                to,
                rules_db: &rules,
                indexes: "tenant",
            };
            // A rate limit stretches the copy to about two seconds of concurrent writes.
            let opts = MigrateOptions {
                batch_size: 200,
                copy_rate: Some(pop.tenants[t].documents as f64 / 2.0),
                ..MigrateOptions::default()
            };
            let live = Live {
                directory: &dir,
                tenant: t,
                to,
            };
            let r = d.migrate(&spec, &opts, Some(live)).await.expect("migrate");
            done.store(true, Ordering::Relaxed);
            let errors = writer.await.expect("writer");
            let kind = d.kind();
            assert!(r.verified, "{kind:?}: {:?}", r.checks);
            assert_eq!(
                errors, 0,
                "{kind:?}: operations were held during the freeze, not failed"
            );
            assert_eq!(
                dir.db_of(t),
                to,
                "the backend routes the tenant to its destination"
            );
            d.close(&setup, session, b, &mut Evidence::default()).await;

            // Every insert is in the destination: its orders are the generated ones plus each
            // insert, whether made before, during or after the cut-over.
            let (after, _) = d.placed(&s, &pop, Layout::Shared).await.expect("placed");
            let v = d
                .verify(&Dataset::new(&s, &pop, &after), false)
                .await
                .expect("verify");
            let orders = pop.tenants[t].count(tenantbench::datagen::Collection::Orders);
            let m = v
                .mismatches
                .iter()
                .find(|m| m.tenant == pop.tenants[t].id && m.collection.name() == "orders")
                .expect("the tenant's orders differ from the generator's (written)");
            assert_eq!(m.database, r.to);
            assert_eq!(
                m.actual_count,
                orders + inserted.load(Ordering::Relaxed),
                "{kind:?}: every insert is in the destination"
            );
            assert!(written.load(Ordering::Relaxed) > inserted.load(Ordering::Relaxed));
            // Only that tenant's orders differ: the other tenants are untouched.
            assert_eq!(v.mismatches.len(), 1, "{kind:?}: {:?}", v.mismatches);
            d.drop(&s.prefix, None).await.expect("clean");
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destinations_that_break_the_marker_rules_are_refused() {
    let Some(client) = crate::util::server().await else {
        return;
    };
    let d = AnyDriver::new(BackendKind::Mongodb, Some(&crate::util::uri()));
    let AnyDriver::Mongodb(d) = &d else {
        unreachable!()
    };
    let s = scenario("tb_mig_refuse", BackendKind::Mongodb);
    d.drop(&s.prefix, None).await.expect("clean");
    let pop = s.build_population();
    let base = s.placement(&pop, Layout::Shared);
    d.seed(
        &Dataset::new(&s, &pop, &base),
        &seed_opts(&s, Layout::Shared, "tenant"),
    )
    .await
    .expect("seed");
    // Somebody else's database where the destination would go: refused, left as it was.
    let dest = format!("{}_shared_mv_t_{}", s.prefix, pop.tenants[3].id);
    client
        .database(&dest)
        .collection::<mongodb::bson::Document>("orders")
        .insert_one(mongodb::bson::doc! {"theirs": true})
        .await
        .expect("foreign");
    let e = move_tenant(d, &s, &pop, 3, &MigrateOptions::default())
        .await
        .expect_err("refused");
    assert!(
        e.to_string().contains("without a tenantbench marker"),
        "{e}"
    );
    let n = client
        .database(&dest)
        .collection::<mongodb::bson::Document>("orders")
        .count_documents(mongodb::bson::doc! {})
        .await
        .expect("count");
    assert_eq!(n, 1, "their data is untouched");
    client.database(&dest).drop().await.expect("drop theirs");
    let (after, version) = d.placed(&s, &pop, Layout::Shared).await.expect("placed");
    assert_eq!((version, after.tenant_db), (0, base.tenant_db));
    d.drop(&s.prefix, None).await.expect("clean");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_migrate_process_continues_from_its_checkpoint() {
    if crate::util::server().await.is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("mig.toml");
    let prefix = "tb_mig_kill";
    std::fs::write(
        &file,
        format!(
            "name = \"mig\"\nprefix = \"{prefix}\"\nseed = 7\n[population]\ntenants = 20\ndocuments = 6000\n\
             distribution = {{ zipf = {{ s = 1.0 }} }}\nmin_per_tenant = 5\n[load]\nindexes = \"tenant\"\n\
             [workload]\nconcurrency = 4\nduration_s = 2\nwarmup_s = 0\nmix = {{ get_by_id = 1, find_user_by_email = 1 }}\n"
        ),
    )
    .expect("scenario");
    let uri = crate::util::uri();
    // The migrations this test measures are kept apart from the machine's.
    let state = dir.path().join("state");
    let cmd = |args: &[&str]| {
        let mut c = tenantbench();
        c.args(args)
            .arg("--scenario")
            .arg(&file)
            .args(["--uri", &uri, "--no-progress"])
            .env("TENANTBENCH_STATE_DIR", &state);
        c
    };
    tenantbench()
        .args(["drop", "--prefix", prefix, "--uri", &uri])
        .success();
    cmd(&["seed"]).success();

    // Bad input: an unknown tenant, a layout without a tenant directory (exit 2, nothing moved).
    let o = cmd(&["migrate", "--tenant", "t09999", "--to", "dedicated"]).assert_exit_code(2);
    assert!(
        o.text()
            .contains("--tenant t09999: the scenario has no such tenant")
    );
    let o = cmd(&[
        "migrate",
        "--tenant",
        "t00001",
        "--to",
        "dedicated",
        "--layout",
        "per-tenant",
    ])
    .assert_exit_code(2);
    assert!(
        o.text()
            .contains("tenants are moved in the shared and hybrid layouts"),
        "{}",
        o.text()
    );

    // A dry run writes nothing.
    let out = cmd(&[
        "migrate",
        "--tenant",
        "t00001",
        "--to",
        "dedicated",
        "--dry-run",
    ])
    .success()
    .text();
    assert!(
        out.contains("would move t00001 from tb_mig_kill_shared to tb_mig_kill_shared_mv_t_t00001"),
        "{out}"
    );
    assert!(
        out.contains("destination new") && out.contains("nothing was written"),
        "{out}"
    );
    // Issue 29.6: with no migration measured on this server, no estimate is made up.
    assert!(
        out.contains("estimate  none: no migration of 100 records or more has been measured"),
        "{out}"
    );
    let ls = tenantbench()
        .args(["ls", "--prefix", prefix, "--uri", &uri])
        .output()
        .text();
    assert!(!ls.contains("_mv_t_"), "{ls}");

    // Killed (SIGKILL) in the middle of a rate-limited copy...
    let mut child = cmd(&[
        "migrate",
        "--tenant",
        "t00001",
        "--to",
        "dedicated",
        "--copy-rate",
        "500",
        "--batch-size",
        "100",
    ])
    .quiet()
    .spawn();
    // Killed once a checkpoint is saved in the destination (a fixed wait would race the
    // process's start on a loaded machine).
    let client = crate::util::server().await.expect("server");
    let marker = client
        .database("tb_mig_kill_shared_mv_t_t00001")
        .collection::<mongodb::bson::Document>("_tenantbench");
    let t0 = std::time::Instant::now();
    while marker
        .find_one(mongodb::bson::doc! {"_id": "migration:t00001"})
        .await
        .ok()
        .flatten()
        .is_none()
    {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no checkpoint saved"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        child.try_wait().expect("wait").is_none(),
        "still copying when killed"
    );
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");

    // ...continues from its checkpoint when run again, verifies and cuts over.
    let out = cmd(&["migrate", "--tenant", "t00001", "--to", "dedicated"])
        .success()
        .text();
    assert!(out.contains("resumed after"), "{out}");
    assert!(
        out.contains("OK: t00001 verified and moved to tb_mig_kill_shared_mv_t_t00001"),
        "{out}"
    );
    // Moving it there again is refused; verify follows the directory.
    let o = cmd(&["migrate", "--tenant", "t00001", "--to", "dedicated"]).assert_exit_code(2);
    assert!(o.text().contains("already lives in"), "{}", o.text());
    let out = cmd(&["verify"]).success().text();
    assert!(
        out.contains("tenant directory version 1") && out.contains("left behind"),
        "{out}"
    );
    // A run routes by the directory: with t00002's records deleted from the shared database,
    // every lookup of every tenant still finds its record.
    cmd(&[
        "migrate",
        "--tenant",
        "t00002",
        "--to",
        "dedicated",
        "--delete-source",
    ])
    .success();
    // That move (verified, not resumed) is what the next dry run's estimate scales from; the
    // resumed one is not kept (its copy was partial). The store names no user.
    let kept = std::fs::read_to_string(state.join("migrations.json")).expect("rates kept");
    let v: serde_json::Value = serde_json::from_str(&kept).expect("json");
    let server = v.as_object().expect("by server");
    assert_eq!(server.len(), 1, "{kept}");
    let (key, list) = server.iter().next().expect("one server");
    assert!(key.starts_with("mongodb ") && !key.contains('@'), "{key}");
    let moved = list.as_array().expect("measurements");
    assert_eq!(moved.len(), 1, "{kept}");
    let records = moved[0]["records"].as_u64().expect("records");
    let dry = cmd(&[
        "migrate",
        "--tenant",
        "t00003",
        "--to",
        "dedicated",
        "--dry-run",
    ])
    .output()
    .text();
    assert!(
        dry.contains(&format!(
            "scaled from the {records} records `migrate` moved on this server"
        )),
        "{dry}"
    );
    let out = dir.path().join("run");
    cmd(&["run", "--repeat", "1"])
        .arg("--out")
        .arg(&out)
        .success();
    let r = tenantbench::metrics::store::read_results(&out).expect("results");
    let t = &r.trials[0];
    assert!(t.operations > 0);
    let missed: Vec<_> = t
        .groups
        .iter()
        .filter(|g| g.outcome != tenantbench::metrics::results::GroupOutcome::Ok)
        .map(|g| (g.op, g.class.clone(), g.outcome))
        .collect();
    assert!(missed.is_empty(), "a lookup missed: {missed:?}");
    let drop = tenantbench()
        .args(["drop", "--prefix", prefix, "--uri", &uri])
        .output()
        .text();
    assert!(drop.contains("tb_mig_kill_shared_mv_t_t00001"), "{drop}");
}
