//! `audit` over a database tenantbench did not seed: a team's own collections with a
//! `companyId` field, some missing the tenant index and one with a unique index that is not
//! tenant-scoped — exactly those are flagged, with the commands that fix them, and the reader
//! sends nothing but reads.

use std::sync::{Arc, Mutex};

use mongodb::bson::doc;
use mongodb::event::EventHandler;
use mongodb::event::command::CommandEvent;
use mongodb::options::{ClientOptions, IndexOptions};
use mongodb::{Client, IndexModel};
use tenantbench::audit::{Verdict, detect_field, judge};
use tenantbench::op::BackendKind;

const DB: &str = "tbt_audit_app";

/// A team's own database, made with the driver (no tenantbench marker).
async fn team_database(c: &Client) {
    let db = c.database(DB);
    let _ = db.drop().await;
    let orders: Vec<_> = (0..300)
        .map(|i| doc! {"companyId": format!("co{}", i % 7), "status": "paid", "n": i})
        .collect();
    db.collection("orders")
        .insert_many(orders.clone())
        .await
        .expect("orders");
    db.collection::<mongodb::bson::Document>("orders")
        .create_index(
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
        .map(|i| doc! {"companyId": format!("co{}", i % 7), "email": format!("u{i}@x.io")})
        .collect();
    let u = db.collection::<mongodb::bson::Document>("users");
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

#[tokio::test]
async fn audit_flags_exactly_the_collections_without_a_tenant_index_and_only_reads() {
    let Some(setup) = crate::util::server().await else {
        return;
    };
    team_database(&setup).await;
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
    let facts = tenantbench::backend::mongo::audit::facts(&reader, &[DB.to_string()], 100)
        .await
        .expect("facts");
    let names: Vec<&str> = facts.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["events", "orders", "settings", "users"]);
    let field = detect_field(&facts).expect("a tenant field");
    assert_eq!(field, "companyId");
    let verdicts: Vec<(String, Verdict)> = facts
        .iter()
        .flat_map(|c| judge(c, &field, BackendKind::Mongodb))
        .map(|f| (f.collection, f.verdict))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("events".to_string(), Verdict::MissingTenantIndex),
            ("orders".to_string(), Verdict::Ok),
            ("settings".to_string(), Verdict::NoTenantField),
            (
                "users".to_string(),
                Verdict::UniqueNotTenantScoped {
                    index: "email_1".into(),
                    keys: vec!["email".into()]
                }
            ),
        ]
    );
    let reads = [
        "listDatabases",
        "listCollections",
        "listIndexes",
        "aggregate",
        "find",
        "getMore",
        "count",
        "killCursors",
        "endSessions",
        "hello",
        "isMaster",
        "ping",
        "buildInfo",
    ];
    let sent = sent.lock().expect("lock").clone();
    assert!(!sent.is_empty());
    for c in &sent {
        assert!(
            reads.contains(&c.as_str()),
            "the reader sent {c:?}: {sent:?}"
        );
    }
    setup.database(DB).drop().await.expect("drop");
}
