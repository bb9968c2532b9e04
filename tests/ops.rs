//! The operation catalogue against a real server: same logical answers in every layout, plan
//! evidence with and without the tenant index, writes marking data dirty.

use tenantbench::backend::Backend;
use tenantbench::backend::mongo::{self, Answer, MongoBackend};
use tenantbench::datagen::Collection;
use tenantbench::layout::Layout;
use tenantbench::op::{Op, Outcome, Request};

use crate::util::{READS, clean, server, setup, tiny};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_read_gives_the_same_answer_in_every_layout() {
    let Some(client) = server().await else { return };
    let prefix = "tbt_ops_same";
    clean(&client, prefix).await;
    let mut answers = Vec::new();
    for layout in Layout::ALL {
        let su = setup(tiny(prefix, 12, 6000, ""), layout).await;
        su.seed("tenant").await;
        let b = MongoBackend::new(&su.servers, &su.placement, &su.pop, su.scenario.seed);
        let mut these = Vec::new();
        for tenant in [0usize, 3, 11] {
            for op in READS {
                for key in [0u64, 1, 2] {
                    let req = Request { tenant, op, key };
                    these.push((req, b.answer(&req).await.expect("answer")));
                }
            }
        }
        answers.push(these);
        su.servers.shutdown().await;
    }
    assert_eq!(answers[0], answers[1], "shared vs per-tenant");
    assert_eq!(answers[0], answers[2], "shared vs hybrid");
    // The answers are real: the largest tenant has recent orders, ids and emails resolve.
    let first = &answers[0];
    let find = |op: Op, t: usize| {
        first
            .iter()
            .find(|(r, _)| r.op == op && r.tenant == t)
            .map(|(_, a)| a.clone())
    };
    assert!(
        matches!(find(Op::ListRecent, 0), Some(Answer::Ids(ids)) if ids.len() == mongo::LIST_LIMIT as usize)
    );
    assert!(matches!(find(Op::GetById, 0), Some(Answer::One(Some(_)))));
    assert!(matches!(
        find(Op::FindUserByEmail, 3),
        Some(Answer::One(Some(_)))
    ));
    match find(Op::AdminCrossTenant, 0) {
        Some(Answer::PerTenant(rows)) => assert_eq!(rows.len(), 12),
        other => panic!("admin_cross_tenant: {other:?}"),
    }
    clean(&client, prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_shows_a_collection_scan_without_the_tenant_index_and_an_index_scan_with_it() {
    let Some(client) = server().await else { return };
    let prefix = "tbt_ops_explain";
    clean(&client, prefix).await;
    let su = setup(tiny(prefix, 20, 8000, ""), Layout::Shared).await;
    let all_orders: u64 = su
        .pop
        .tenants
        .iter()
        .map(|t| t.count(Collection::Orders))
        .sum();
    let small = 15usize;
    let req = Request {
        tenant: small,
        op: Op::ListRecent,
        key: 0,
    };

    su.seed("none").await;
    let b = MongoBackend::new(&su.servers, &su.placement, &su.pop, su.scenario.seed);
    let without = b.explain(&req).await.expect("explain").expect("find-like");
    assert!(
        without.stages.iter().any(|s| s == "COLLSCAN"),
        "{without:?}"
    );
    assert_eq!(
        without.docs_examined, all_orders,
        "a scan reads every order of every tenant"
    );

    let re = su.seed("tenant").await;
    assert_eq!(re.documents, 0, "only indexes rebuilt");
    let with = b.explain(&req).await.expect("explain").expect("find-like");
    assert!(with.stages.iter().any(|s| s == "IXSCAN"), "{with:?}");
    assert_eq!(
        with.docs_examined,
        su.pop.tenants[small].count(Collection::Orders),
        "only the tenant's orders"
    );
    assert!(with.keys_examined >= with.docs_examined);
    su.servers.shutdown().await;
    clean(&client, prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_mark_the_data_dirty_and_the_next_seed_reloads_it() {
    let Some(client) = server().await else { return };
    let prefix = "tbt_ops_dirty";
    clean(&client, prefix).await;
    let su = setup(tiny(prefix, 6, 1200, ""), Layout::PerTenant).await;
    su.seed("tenant").await;
    let b = MongoBackend::new(&su.servers, &su.placement, &su.pop, su.scenario.seed);
    assert_eq!(
        b.execute(&Request {
            tenant: 2,
            op: Op::UpdateStatus,
            key: 1
        })
        .await,
        Outcome::Ok
    );
    assert_eq!(
        b.execute(&Request {
            tenant: 2,
            op: Op::InsertOne,
            key: 1
        })
        .await,
        Outcome::Ok
    );
    assert_eq!(
        b.execute(&Request {
            tenant: 2,
            op: Op::GetById,
            key: 1_000_000
        })
        .await,
        Outcome::NotFound
    );

    let r = su.verify().await;
    assert_eq!(r.marker_problems.len(), 1, "{:?}", r.marker_problems);
    assert!(
        r.marker_problems[0].contains("dirty"),
        "{:?}",
        r.marker_problems
    );
    assert!(!r.mismatches.is_empty());

    let again = su.seed("tenant").await;
    assert_eq!(again.loaded, 1, "only the dirty database is reloaded");
    let r = su.verify().await;
    assert!(r.ok(), "{:?} {:?}", r.marker_problems, r.mismatches);
    su.servers.shutdown().await;
    clean(&client, prefix).await;
}
