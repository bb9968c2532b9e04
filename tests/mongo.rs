//! Seeding, verification, listing and dropping against a real MongoDB-wire server.

use mongodb::bson::{Document, doc};
use tenantbench::backend::mongo::{self, MARKER_COLLECTION, MongoError};
use tenantbench::layout::Layout;
use tenantbench::scenario::IndexBuild;

use crate::util::{clean, seed_opts, server, setup, tiny};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_and_verify_in_all_three_layouts() {
    let Some(client) = server().await else { return };
    let prefix = "tbt_layouts";
    clean(&client, prefix).await;
    for layout in Layout::ALL {
        let s = tiny(prefix, 30, 6000, "");
        let su = setup(s, layout).await;
        let sum = su.seed("tenant").await;
        assert_eq!(sum.documents, 6000, "{layout}");
        assert_eq!(sum.loaded, su.placement.databases.len(), "{layout}");
        assert_eq!(
            sum.indexes,
            su.placement.databases.len() * 5,
            "{layout}: one {{tenant: 1}} per collection"
        );
        let expected_dbs = match layout {
            Layout::Shared => 1,
            Layout::PerTenant => 30,
            // 3 enterprise dedicated, 6 premium in 2 pools of 4, 1 shared.
            Layout::Hybrid => 3 + 2 + 1,
            Layout::SchemaPerTenant | Layout::Rls => unreachable!("PostgreSQL layouts"),
        };
        assert_eq!(su.placement.databases.len(), expected_dbs, "{layout}");

        let r = su.verify().await;
        assert!(
            r.ok(),
            "{layout}: {:?} {:?}",
            r.marker_problems,
            r.mismatches
        );
        assert_eq!(r.checked, 30 * 5, "{layout}");
        assert_eq!(r.documents, 6000, "{layout}");

        // Every database carries a complete marker with the layout's name.
        for d in &su.placement.databases {
            let m: Document = client
                .database(&d.name)
                .collection::<Document>(MARKER_COLLECTION)
                .find_one(doc! {"_id": "marker"})
                .await
                .expect("read marker")
                .expect("marker present");
            assert_eq!(m.get_bool("complete"), Ok(true), "{}", d.name);
            assert_eq!(m.get_str("layout"), Ok(layout.name()), "{}", d.name);
            assert_eq!(m.get_str("prefix"), Ok(prefix), "{}", d.name);
        }
        su.servers.shutdown().await;
    }
    // All three layouts live side by side; `ls` shows them all.
    let listed = mongo::list_marked(&client, Some(prefix)).await.expect("ls");
    let ours = listed.iter().filter(|d| d.marker.prefix == prefix).count();
    assert_eq!(ours, 1 + 30 + 6);
    clean(&client, prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_detects_a_deleted_and_a_modified_document() {
    let Some(client) = server().await else { return };
    let prefix = "tbt_tamper";
    clean(&client, prefix).await;
    let su = setup(tiny(prefix, 20, 4000, ""), Layout::Shared).await;
    su.seed("tenant").await;
    let db = client.database(&su.placement.databases[0].name);
    let gone = db
        .collection::<Document>("orders")
        .delete_one(doc! {"_id": "t00002:ord:3"})
        .await
        .expect("delete");
    assert_eq!(gone.deleted_count, 1);
    let changed = db
        .collection::<Document>("tickets")
        .update_one(
            doc! {"_id": "t00005:tkt:0"},
            doc! {"$set": {"priority": "tampered"}},
        )
        .await
        .expect("update");
    assert_eq!(changed.modified_count, 1);

    let r = su.verify().await;
    assert!(!r.ok());
    assert_eq!(r.mismatches.len(), 2, "{:?}", r.mismatches);
    let t2 = &su.pop.tenants[1];
    let del = r
        .mismatches
        .iter()
        .find(|m| m.tenant == "t00002")
        .expect("deleted document reported");
    assert_eq!(del.collection.name(), "orders");
    assert_eq!(
        (del.expected_count, del.actual_count),
        (t2.count(del.collection), t2.count(del.collection) - 1)
    );
    let modi = r
        .mismatches
        .iter()
        .find(|m| m.tenant == "t00005")
        .expect("modified document reported");
    assert_eq!(modi.collection.name(), "tickets");
    assert_eq!(modi.expected_count, modi.actual_count);
    assert!(!modi.checksum_matches);
    assert!(
        modi.to_string().contains("a document was modified"),
        "{modi}"
    );

    su.servers.shutdown().await;
    clean(&client, prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_databases_are_never_written_listed_or_dropped() {
    let Some(client) = server().await else { return };
    let prefix = "tbt_foreign";
    clean(&client, prefix).await;
    // Somebody else's database that happens to carry our prefix and layout name.
    let foreign = client.database("tbt_foreign_shared");
    foreign.drop().await.expect("reset foreign");
    foreign
        .collection::<Document>("orders")
        .insert_one(doc! {"_id": 1, "mine": true})
        .await
        .expect("foreign doc");

    let su = setup(tiny(prefix, 10, 1000, ""), Layout::Shared).await;
    let opts = seed_opts(&su.scenario, Layout::Shared, "tenant");
    match mongo::seed(&su.servers, &su.scenario, &su.pop, &su.placement, &opts).await {
        Err(MongoError::Foreign(names)) => {
            assert_eq!(names, vec!["tbt_foreign_shared".to_string()])
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let msg = MongoError::Foreign(vec!["tbt_foreign_shared".into()]).to_string();
    assert!(
        msg.contains("refusing to write") && msg.contains("tbt_foreign_shared"),
        "{msg}"
    );
    // Nothing was written into it.
    let names = foreign.list_collection_names().await.expect("list");
    assert_eq!(names, vec!["orders".to_string()]);

    // Our own per-tenant layout of the same prefix seeds fine beside it.
    let pt = setup(tiny(prefix, 10, 1000, ""), Layout::PerTenant).await;
    pt.seed("none").await;

    // ls lists ours, not the foreign one.
    let listed = mongo::list_marked(&client, Some(prefix)).await.expect("ls");
    assert!(listed.iter().all(|d| d.name != "tbt_foreign_shared"));
    assert_eq!(
        listed.iter().filter(|d| d.marker.prefix == prefix).count(),
        10
    );

    // drop removes ours and refuses the foreign one, which survives.
    let out = mongo::drop_marked(&client, prefix, None)
        .await
        .expect("drop");
    assert_eq!(out.dropped.len(), 10);
    assert_eq!(out.refused.len(), 1);
    assert_eq!(out.refused[0].0, "tbt_foreign_shared");
    let left = foreign
        .collection::<Document>("orders")
        .count_documents(doc! {})
        .await
        .expect("count");
    assert_eq!(left, 1, "the foreign database must be untouched");
    foreign
        .drop()
        .await
        .expect("test cleans up its own foreign database");
    pt.servers.shutdown().await;
    su.servers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_only_the_index_profile_rebuilds_indexes_without_reseeding() {
    let Some(client) = server().await else { return };
    let prefix = "tbt_reindex";
    clean(&client, prefix).await;
    let su = setup(tiny(prefix, 12, 2400, ""), Layout::Hybrid).await;
    let mut opts = seed_opts(&su.scenario, Layout::Hybrid, "none");
    opts.index_build = IndexBuild::Before;
    let first = mongo::seed(&su.servers, &su.scenario, &su.pop, &su.placement, &opts)
        .await
        .expect("seed");
    assert_eq!(first.documents, 2400);
    assert_eq!(first.indexes_built, 0);

    opts.indexes = "compound".into();
    let second = mongo::seed(&su.servers, &su.scenario, &su.pop, &su.placement, &opts)
        .await
        .expect("reindex");
    assert_eq!(second.documents, 0, "no document re-inserted");
    assert_eq!(second.reused, su.placement.databases.len());
    assert_eq!(second.indexes_built, su.placement.databases.len() * 5);
    let shared = su.placement.databases.last().expect("a shared database");
    let names = client
        .database(&shared.name)
        .collection::<Document>("orders")
        .list_index_names()
        .await
        .expect("indexes");
    assert!(
        names.iter().any(|n| n == "tenant_1_status_1_createdAt_-1"),
        "{names:?}"
    );

    // The same profile again does nothing at all.
    let third = mongo::seed(&su.servers, &su.scenario, &su.pop, &su.placement, &opts)
        .await
        .expect("noop");
    assert_eq!((third.documents, third.indexes_built), (0, 0));

    // An incomplete marker (an interrupted seed) is reloaded.
    client
        .database(&shared.name)
        .collection::<Document>(MARKER_COLLECTION)
        .update_one(doc! {"_id": "marker"}, doc! {"$set": {"complete": false}})
        .await
        .expect("mark incomplete");
    let fourth = mongo::seed(&su.servers, &su.scenario, &su.pop, &su.placement, &opts)
        .await
        .expect("reload");
    assert_eq!(fourth.loaded, 1);
    assert_eq!(
        fourth.documents,
        shared
            .tenants
            .iter()
            .map(|&t| su.pop.tenants[t].documents)
            .sum::<u64>()
    );
    let r = su.verify().await;
    assert!(r.ok(), "{:?} {:?}", r.marker_problems, r.mismatches);
    su.servers.shutdown().await;
    clean(&client, prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_names_the_server() {
    let Some(client) = server().await else { return };
    let r = mongo::doctor(&client).await;
    assert!(r.reachable);
    assert!(r.version.is_some());
    assert_eq!(r.rtt_us.len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hybrid_can_place_a_tenant_on_a_second_server() {
    let Some(client) = server().await else { return };
    // scripts/test.sh starts a second server on port 27018 and exports this variable.
    let Ok(second_uri) = std::env::var("TENANTBENCH_MONGO_URI_2") else {
        if std::env::var_os("CI").is_some() {
            panic!("CI is set but TENANTBENCH_MONGO_URI_2 (the second server) is not");
        }
        eprintln!(
            "SKIPPED: TENANTBENCH_MONGO_URI_2 not set (scripts/mongo-local.sh start --port 27018)"
        );
        return;
    };
    let prefix = "tbt_twoservers";
    let second = mongo::client(&second_uri, &Default::default())
        .await
        .expect("second client");
    clean(&client, prefix).await;
    clean(&second, prefix).await;
    let rules = "[population.roles]\nnoisy = [\"t00001\"]\n[[layout.hybrid.rule]]\nclass = \"noisy\"\nplacement = \"dedicated\"\nuri_env = \"TENANTBENCH_MONGO_URI_2\"\n";
    let su = setup(tiny(prefix, 8, 1600, rules), Layout::Hybrid).await;
    su.seed("tenant").await;
    let r = su.verify().await;
    assert!(r.ok(), "{:?} {:?}", r.marker_problems, r.mismatches);

    let on_second: Vec<String> = mongo::list_marked(&second, Some(prefix))
        .await
        .expect("ls second")
        .into_iter()
        .filter(|d| d.marker.prefix == prefix)
        .map(|d| d.name)
        .collect();
    assert_eq!(on_second, vec![format!("{prefix}_hy_t_t00001")]);
    let on_first: Vec<String> = mongo::list_marked(&client, Some(prefix))
        .await
        .expect("ls first")
        .into_iter()
        .filter(|d| d.marker.prefix == prefix)
        .map(|d| d.name)
        .collect();
    assert_eq!(
        on_first,
        vec![format!("{prefix}_hy_shared")],
        "everyone else stays on the default server"
    );
    su.servers.shutdown().await;
    clean(&client, prefix).await;
    clean(&second, prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_registry_never_holds_more_than_max_clients() {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    use std::time::Duration;
    let Some(_client) = server().await else {
        return;
    };
    let reg = Arc::new(mongo::ClientRegistry::new(
        &crate::util::uri(),
        mongo::ConnectOptions {
            max_pool_size: 2,
            ..Default::default()
        },
        3,
        Duration::from_secs(60),
    ));
    // Single flight: 20 concurrent first uses of one tenant create one client.
    let first: Vec<_> = (0..20)
        .map(|_| {
            let reg = reg.clone();
            tokio::spawn(async move { reg.get("t00001").await.expect("client").1 })
        })
        .collect();
    let mut creators = 0;
    for t in first {
        creators += usize::from(t.await.expect("task"));
    }
    assert_eq!(reg.stats.created.load(Ordering::Relaxed), 1);
    assert_eq!(
        creators, 1,
        "exactly one caller is told it created the client"
    );

    // Ten tenants, round robin, from four tasks: never more than three clients. With three
    // clients for four concurrent tenants the registry thrashes: clients are evicted and shut
    // down while another task still uses them, and those operations fail (counted errors in a
    // run), so this part checks only the bound.
    let tasks: Vec<_> = (0..4)
        .map(|w| {
            let reg = reg.clone();
            tokio::spawn(async move {
                for i in 0..30 {
                    let tenant = format!("t{:05}", (i * 4 + w) % 10 + 1);
                    let (c, _) = reg.get(&tenant).await.expect("client");
                    assert!(reg.len().await <= 3);
                    let _ = mongo::ping(&c).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    assert!(reg.stats.max_held.load(Ordering::Relaxed) <= 3);
    assert!(reg.stats.evicted_lru.load(Ordering::Relaxed) > 0);
    let created = reg.stats.created.load(Ordering::Relaxed);
    let evicted = reg.stats.evicted_lru.load(Ordering::Relaxed);
    assert_eq!(
        created - evicted,
        reg.len().await as u64,
        "every client created is held or was evicted"
    );

    // Used one tenant at a time, every client works until it is evicted.
    for i in 0..30 {
        let (c, _) = reg
            .get(&format!("t{:05}", i % 10 + 1))
            .await
            .expect("client");
        mongo::ping(&c)
            .await
            .expect("a client not yet evicted answers");
    }
    assert!(reg.len().await <= 3);

    // Idle clients go after the TTL.
    let idle = mongo::ClientRegistry::new(
        &crate::util::uri(),
        Default::default(),
        10,
        Duration::from_millis(50),
    );
    idle.get("t00001").await.expect("client");
    idle.get("t00002").await.expect("client");
    tokio::time::sleep(Duration::from_millis(120)).await;
    idle.get("t00003").await.expect("client");
    assert_eq!(idle.len().await, 1);
    assert_eq!(idle.stats.evicted_idle.load(Ordering::Relaxed), 2);
    idle.shutdown().await;
    reg.shutdown().await;
    assert!(reg.is_empty().await);
}
