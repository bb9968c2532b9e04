//! The reference tenant API (`serve`) against the real servers: every operation in every layout
//! on both databases answers over HTTP what the database answers directly; bad tenants and
//! bad requests get their status codes (never a 500); shutdown answers the requests in flight;
//! the binary stops on SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tenantbench::app::serve::{ServePlan, serve_app, serve_with};
use tenantbench::backend::null::NullBackend;
use tenantbench::backend::{Admin, AnyDriver, Backend, Dataset, FullDriver, TrialSetup};
use tenantbench::http::api::{Api, TENANT_HEADER, body_of, call_of, router};
use tenantbench::layout::Layout;
use tenantbench::metrics::results::Evidence;
use tenantbench::op::{BackendKind, Op, Request};
use tenantbench::scenario::Scenario;
use tenantbench::with_driver;
use tokio_util::sync::CancellationToken;

use crate::util::{READS, seed_opts, tiny};

/// Sends `call` to the API at `base`; returns the status and the JSON body.
async fn send(
    http: &reqwest::Client,
    base: &str,
    call: &tenantbench::http::api::Call,
) -> (u16, Value) {
    let url = format!("{base}{}", call.path);
    let rb = match call.method {
        "GET" => http.get(&url),
        "POST" => http.post(&url),
        "PATCH" => http.patch(&url),
        m => panic!("method {m}"),
    };
    let rb = match &call.body {
        Some(b) => rb.json(b),
        None => rb,
    };
    let r = rb.send().await.expect("the API answers");
    let status = r.status().as_u16();
    (status, r.json().await.expect("a JSON body"))
}

/// Serves `layout` of `s` through driver `d` and checks every operation against the same
/// backend opened directly. Returns how many calls were compared.
async fn same_answers<D: FullDriver>(
    d: &D,
    s: &Scenario,
    kind: BackendKind,
    layout: Layout,
) -> usize {
    let pop = s.build_population();
    let placement = s.placement(&pop, layout);
    let mut v = s.matrix.variants[0].clone();
    v.backend = kind;
    v.layout = layout;
    v.indexes = "tenant".into();
    // Two pools (the direct backend's and the API's) of a database per tenant fit PostgreSQL's
    // 100 connections.
    v.max_pool_size = 2;
    d.seed(
        &Dataset::new(s, &pop, &placement),
        &seed_opts(s, layout, "tenant"),
    )
    .await
    .expect("seed");
    let setup = TrialSetup {
        data: Dataset::new(s, &pop, &placement),
        variant: &v,
        worker: None,
    };
    let (direct, session) = d.open(&setup).await.expect("open");
    let plan = ServePlan {
        scenario: s.clone(),
        variant: v.clone(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        evidence: None,
    };
    let listener = tokio::net::TcpListener::bind(plan.listen)
        .await
        .expect("listen");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let stop = CancellationToken::new();
    let http = reqwest::Client::new();
    let ids: Vec<String> = pop.tenants.iter().map(|t| t.id.clone()).collect();
    let client = async {
        let mut compared = 0;
        for tenant in [0usize, 5, 11] {
            for op in READS {
                for key in [0u64, 1, 2] {
                    let req = Request { tenant, op, key };
                    let want = direct.respond(&req).await.expect("direct answer");
                    let (status, body) = send(&http, &base, &call_of(&req, &ids[tenant])).await;
                    let code = if want.outcome() == tenantbench::op::Outcome::NotFound {
                        404
                    } else {
                        200
                    };
                    assert_eq!(status, code, "{kind:?} {layout} {req:?}: {body}");
                    if code == 200 {
                        assert_eq!(body, body_of(&want), "{kind:?} {layout} {req:?}");
                    }
                    compared += 1;
                }
            }
        }
        // A record that does not exist is a 404; writes answer what they wrote.
        let missing = Request {
            tenant: 3,
            op: Op::GetById,
            key: 1_000_000,
        };
        let (status, _) = send(&http, &base, &call_of(&missing, &ids[3])).await;
        assert_eq!(status, 404, "{kind:?} {layout}");
        for (op, code) in [(Op::UpdateStatus, 200), (Op::InsertOne, 201)] {
            let req = Request {
                tenant: 2,
                op,
                key: 1,
            };
            let (status, body) = send(&http, &base, &call_of(&req, &ids[2])).await;
            assert_eq!(
                (status, body["written"].as_u64()),
                (code, Some(1)),
                "{op:?}"
            );
            compared += 1;
        }
        // The same tenant by header under /api.
        let r = http
            .get(format!("{base}/api/orders/0"))
            .header(TENANT_HEADER, &ids[0])
            .send()
            .await
            .expect("answers");
        assert_eq!(r.status().as_u16(), 200);
        stop.cancel();
        compared
    };
    let served = serve_with(d, &plan, listener, stop.clone());
    tokio::pin!(served);
    let compared = tokio::select! {
        r = &mut served => panic!("{kind:?} {layout}: serve ended before the client: {r:?}"),
        n = client => n,
    };
    served.await.expect("served");
    d.close(&setup, session, direct, &mut Evidence::default())
        .await;
    compared
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_every_operation_as_the_database_does_in_every_layout() {
    let mongo = crate::util::server().await;
    let pg = crate::util::pg().await;
    let prefix = "tbt_http_same";
    let s = tiny(prefix, 12, 3000, "");
    let mut compared = Vec::new();
    for (kind, up) in [
        (BackendKind::Mongodb, mongo.is_some()),
        (BackendKind::Postgres, pg.is_some()),
    ] {
        if !up {
            continue;
        }
        let any = AnyDriver::new(kind, None);
        with_driver!(&any, |d| {
            let _ = d.drop(prefix, None).await;
            for layout in Layout::POSTGRES.into_iter().filter(|l| l.on(kind)) {
                let n = same_answers(d, &s, kind, layout).await;
                compared.push((kind, layout, n));
            }
            d.drop(prefix, None).await.expect("clean up");
        });
    }
    // 3 tenants × 6 reads × 3 keys, and 2 writes, in every layout of each database up.
    for (kind, layout, n) in &compared {
        assert_eq!(*n, 56, "{kind:?} {layout}");
    }
    if mongo.is_some() && pg.is_some() {
        assert_eq!(compared.len(), 3 + 5, "{compared:?}");
    }
}

/// An API over a null backend: status codes need no database.
fn null_api(delay: Duration) -> axum::Router {
    let ids = vec!["t00001".to_string(), "t00002".to_string()];
    router(Arc::new(Api::new(Arc::new(NullBackend::new(delay)), ids)))
}

async fn start(app: axum::Router) -> (String, CancellationToken, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listen");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let stop = CancellationToken::new();
    let s = stop.clone();
    let task = tokio::spawn(async move { serve_app(listener, app, s).await.expect("serves") });
    (base, stop, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tenants_and_bad_requests_get_their_status_never_a_500() {
    let (base, stop, task) = start(null_api(Duration::ZERO)).await;
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{base}{path}"));
    let json = |rb: reqwest::RequestBuilder, body: &str| {
        rb.header("content-type", "application/json")
            .body(body.to_string())
    };
    let cases: Vec<(&str, reqwest::RequestBuilder, u16)> = vec![
        ("health", get("/healthz"), 200),
        ("a known tenant", get("/t/t00001/orders?status=paid"), 200),
        ("unknown tenant", get("/t/t99999/orders?status=paid"), 400),
        ("no tenant header", get("/api/orders/3"), 400),
        (
            "unknown tenant header",
            get("/api/orders/3").header(TENANT_HEADER, "nobody"),
            400,
        ),
        (
            "header and path disagree",
            get("/t/t00001/orders/3").header(TENANT_HEADER, "t00002"),
            400,
        ),
        ("no status", get("/t/t00001/orders"), 400),
        ("unknown status", get("/t/t00001/orders?status=lost"), 422),
        (
            "order number not a number",
            get("/t/t00001/orders/abc"),
            400,
        ),
        ("user lookup without n", get("/t/t00001/users/lookup"), 400),
        ("unknown path", get("/t/t00001/invoices"), 404),
        (
            "wrong method",
            http.delete(format!("{base}/t/t00001/orders/1")),
            405,
        ),
        (
            "insert without a JSON content type",
            http.post(format!("{base}/t/t00001/orders"))
                .body("{\"n\": 1}"),
            415,
        ),
        (
            "insert with broken JSON",
            json(http.post(format!("{base}/t/t00001/orders")), "{\"n\": "),
            400,
        ),
        (
            "insert of the wrong shape",
            json(
                http.post(format!("{base}/t/t00001/orders")),
                "{\"n\": \"x\"}",
            ),
            422,
        ),
        (
            "insert",
            json(http.post(format!("{base}/t/t00001/orders")), "{\"n\": 4}"),
            201,
        ),
        (
            "update to another status",
            json(
                http.patch(format!("{base}/t/t00001/orders/1")),
                "{\"status\": \"paid\"}",
            ),
            422,
        ),
    ];
    for (what, rb, want) in cases {
        let r = rb.send().await.expect("answers");
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        assert_eq!(status, want, "{what}: {text}");
        if status >= 400 && status != 405 {
            let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            assert!(
                v["error"].as_str().is_some_and(|e| !e.is_empty()),
                "{what}: an error body says why: {text}"
            );
        }
    }
    stop.cancel();
    task.await.expect("stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_answers_the_requests_in_flight() {
    let (base, stop, task) = start(null_api(Duration::from_millis(800))).await;
    let http = reqwest::Client::new();
    let inflight = tokio::spawn({
        let http = http.clone();
        let url = format!("{base}/t/t00002/orders/count?status=paid");
        async move { http.get(url).send().await.map(|r| r.status().as_u16()) }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.cancel();
    // The request in flight is answered, then the server ends; new connections are refused.
    assert_eq!(inflight.await.expect("joined").expect("answered"), 200);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the server ends after draining")
        .expect("joined");
    assert!(http.get(format!("{base}/healthz")).send().await.is_err());
}
