//! `load`'s tenant-aware layer against goose alone, side by side on a static `/healthz`: the
//! same goose configuration (users, test plan, coordinated-omission mitigation), once with a
//! bare transaction that GETs `/healthz`, once with tenantbench's transaction (tenant binding,
//! the workload's draw, the endpoint built, the body read, the record into the run's
//! histograms) sending each request to `/healthz` instead of its endpoint. The target:
//! tenantbench >= 0.9 × goose's bare request rate. Rounds alternate (bare, tenantbench, …);
//! the figure is the median ratio.
//!
//! Run: `cargo bench --bench harness_http` (about a minute). `wrk` (Debian's package), when
//! installed, measures the server's own ceiling with the same connections.

use std::sync::Arc;
use std::time::{Duration, Instant};

use goose::config::GooseConfiguration;
use goose::prelude::{
    GooseAttack, GooseCoordinatedOmissionMitigation, GooseDefault, GooseDefaultType, Transaction,
    TransactionFunction,
};
use tenantbench::http::attack::{AttackPlan, attack};
use tenantbench::pacing::{Pacer, StopCondition};
use tenantbench::runner::external::External;
use tenantbench::runner::{RunConfig, RunIo};
use tenantbench::scenario::{PhasePlan, Scenario};
use tenantbench::workload::Workload;

const USERS: usize = 8;
const SECONDS: u64 = 5;
const ROUNDS: usize = 5;

/// A `/healthz` server on a thread and runtime of its own; its base URL.
fn healthz_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(listener).expect("listener");
            let app = axum::Router::new().route("/healthz", axum::routing::get(|| async { "ok" }));
            axum::serve(l, app).await.expect("serves");
        });
    });
    format!("http://{addr}")
}

fn plan() -> String {
    format!("{USERS},0s;{USERS},{SECONDS}s;0,0s")
}

/// Goose alone: one transaction, `GET /healthz`. Requests per second.
async fn bare(base: &str) -> f64 {
    let mut c = GooseConfiguration::default();
    c.host = Some(base.to_string());
    c.co_mitigation = Some(GooseCoordinatedOmissionMitigation::Average);
    c.no_telnet = true;
    c.quiet = 1;
    c.no_print_metrics = true;
    let get: TransactionFunction = Arc::new(|user| {
        Box::pin(async move {
            let r = user.get("/healthz").await?;
            if let Ok(resp) = r.response {
                let _ = resp.bytes().await;
            }
            Ok(())
        })
    });
    let t = Instant::now();
    let m = GooseAttack::initialize_with_config(c)
        .expect("config")
        .register_scenario(
            goose::prelude::Scenario::new("bare").register_transaction(Transaction::new(get)),
        )
        .set_default(GooseDefault::TestPlan, plan().as_str())
        .expect("plan")
        .execute()
        .await
        .expect("attack");
    let sent: usize = m.requests.values().map(|r| r.raw_data.counter).sum();
    sent as f64 / t.elapsed().as_secs_f64()
}

/// tenantbench's attack, every request sent to `/healthz`. Requests per second.
async fn tenant_aware(base: &str, s: &Scenario) -> f64 {
    let pop = s.build_population();
    let phases = PhasePlan::new(&s.workload, &s.phases);
    let mut cfg = RunConfig::simple(
        Pacer::Closed {
            concurrency: USERS,
            think: Duration::ZERO,
        },
        StopCondition::Duration(Duration::from_secs(SECONDS)),
    );
    let (classes, _) = tenantbench::workload::classes(&pop);
    cfg.classes = classes;
    cfg.tenants = pop.tenants.len();
    let run = Arc::new(External::start(&cfg, RunIo::default()));
    let p = AttackPlan {
        base_url: base.to_string(),
        users: USERS,
        throttle: None,
        think: Duration::ZERO,
        test_plan: plan(),
        reports: Vec::new(),
        seed: s.seed,
        session_ops: Some(20),
        timeout: Duration::from_secs(30),
        staging: None,
        fixed_path: Some("/healthz".into()),
    };
    let ids = pop.tenants.iter().map(|t| t.id.clone()).collect();
    let t = Instant::now();
    let counts = attack(
        &p,
        Workload::from_scenario(&pop, s, &phases),
        ids,
        run.clone(),
    )
    .await
    .expect("attack");
    let secs = t.elapsed().as_secs_f64();
    let report = Arc::into_inner(run).expect("users done").finish().await;
    assert_eq!(
        report.recorder.count(),
        counts.requests,
        "every request recorded"
    );
    counts.requests as f64 / secs
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; a filter that names another bench skips this one.
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"harness_http".contains(a.as_str()))
    {
        return;
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let s = Scenario::load(&root.join("scenarios/quickstart.toml")).expect("quickstart");
    let base = healthz_server();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (mut b, mut t, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=ROUNDS {
        let x = rt.block_on(bare(&base));
        let y = rt.block_on(tenant_aware(&base, &s));
        println!(
            "round {round}: goose bare {x:.0} req/s, tenantbench {y:.0} req/s, ratio {:.3}",
            y / x
        );
        b.push(x);
        t.push(y);
        ratios.push(y / x);
    }
    println!(
        "harness_http: {USERS} users × {SECONDS} s on /healthz, median of {ROUNDS} rounds: goose bare {:.0} req/s, tenantbench {:.0} req/s, ratio {:.3} (target >= 0.9)",
        median(b),
        median(t),
        median(ratios)
    );
    if let Ok(out) = std::process::Command::new("wrk")
        .args(["-t1", &format!("-c{USERS}"), &format!("-d{SECONDS}s")])
        .arg(format!("{base}/healthz"))
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        if let Some(line) = text.lines().find(|l| l.contains("Requests/sec")) {
            println!("wrk, same server and connections: {}", line.trim());
        }
    }
}
