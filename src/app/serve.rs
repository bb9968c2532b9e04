//! `tenantbench serve`: the reference tenant API ([`crate::http::api`]) over the data `seed`
//! made, in one configuration (layout, indexes, pool size, connection strategy), until Ctrl-C
//! or SIGTERM, which drain the requests in flight.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use tokio_util::sync::CancellationToken;

use super::settings::{driver, load_scenario, narrow};
use crate::backend::seed::SeedOptions;
use crate::backend::{Dataset, Migrate, TrialSetup};
use crate::cli::ServeArgs;
use crate::http::api::{Api, router};
use crate::metrics::results::Evidence;
use crate::scenario::{MAX_POOL, Scenario, Variant};
use crate::trial::seed_first;
use crate::with_driver;

/// The configuration `serve` runs: the scenario's data (a variant's scaled or rule-set copy)
/// and the variant.
pub struct ServePlan {
    /// The scenario whose data is served.
    pub scenario: Scenario,
    /// The variant: layout, indexes, pool, strategy.
    pub variant: Variant,
    /// Where to listen.
    pub listen: SocketAddr,
    /// Where to write the connection evidence on shutdown (`load`).
    pub evidence: Option<PathBuf>,
}

impl ServePlan {
    /// The scenario's first matrix variant in the layout and index profile `seed` uses by
    /// default (or the flags'), with the flags' backend, pool size and strategy.
    ///
    /// # Errors
    /// A bad scenario or flag value.
    pub fn resolve(a: &ServeArgs) -> Result<ServePlan> {
        let t = &a.target;
        let s = load_scenario(&t.scenario, t.prefix.as_deref(), t.scale)?;
        super::settings::database_ops(&s, "serve")?;
        super::settings::generated_data(&s, "serve")?;
        if let Some(id) = &a.variant {
            let Some(v) = s.matrix.variants.iter().find(|v| v.id() == *id).cloned() else {
                bail!(
                    "--variant {id:?}: no such variant in {}; expected one of {}",
                    s.path.display(),
                    s.matrix
                        .variants
                        .iter()
                        .map(|v| v.id())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            };
            return Ok(ServePlan {
                scenario: s.for_variant(&v)?.unwrap_or(s),
                variant: v,
                listen: a.listen,
                evidence: a.evidence.clone(),
            });
        }
        // The data `seed` makes by default: the scenario's default layout and `[load]` indexes.
        let layout = t.layout.unwrap_or(s.default_layout);
        let indexes = a
            .indexes
            .profile
            .clone()
            .unwrap_or_else(|| s.load.indexes.clone());
        let s = narrow(
            &s,
            t.server.backend.kind,
            Some(layout),
            Some(&indexes),
            None,
        )?;
        let mut v = s.matrix.variants[0].clone();
        if let Some(p) = a.max_pool_size {
            if !(1..=MAX_POOL).contains(&i64::from(p)) {
                bail!("--max-pool-size {p}: expected 1 to {MAX_POOL} connections");
            }
            v.max_pool_size = p;
            v.min_pool_size = v.min_pool_size.min(p);
        }
        if let Some(st) = a.strategy {
            v.strategy = st;
        }
        let scenario = match s.for_variant(&v)? {
            Some(derived) => derived,
            None => s,
        };
        Ok(ServePlan {
            scenario,
            variant: v,
            listen: a.listen,
            evidence: a.evidence.clone(),
        })
    }
}

/// `tenantbench serve`.
///
/// # Errors
/// Bad flags, data that `seed` has not made, an unreachable server, an address in use.
pub async fn serve(a: ServeArgs) -> Result<u8> {
    let plan = ServePlan::resolve(&a)?;
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    let listener = tokio::net::TcpListener::bind(plan.listen)
        .await
        .with_context(|| format!("--listen {}: cannot listen there", plan.listen))?;
    let any = driver(&a.target.server, plan.variant.backend);
    with_driver!(&any, |d| serve_with(d, &plan, listener, shutdown).await)?;
    Ok(0)
}

/// Serves `plan` on `listener` through driver `d` until `shutdown` is cancelled, then drains
/// the requests in flight and closes the backend's clients. Tests call it directly.
///
/// # Errors
/// Data not seeded (or not complete), a server that refuses the configuration, I/O errors.
pub async fn serve_with<D: Migrate>(
    d: &D,
    plan: &ServePlan,
    listener: tokio::net::TcpListener,
    shutdown: CancellationToken,
) -> Result<()> {
    let s = &plan.scenario;
    let v = &plan.variant;
    let pop = s.build_population();
    let base = s.placement(&pop, v.layout);
    let opts = SeedOptions::from_scenario(s, v.layout, &v.indexes);
    d.check_ready(&Dataset::new(s, &pop, &base), &opts)
        .await
        .map_err(|e| seed_first(e, s, v))?;
    // Tenants a migration moved are served where the tenant directory has them.
    let (placement, _) = d.placed(s, &pop, v.layout).await?;
    let setup = TrialSetup {
        data: Dataset::new(s, &pop, &placement),
        variant: v,
        worker: None,
    };
    d.preflight(&setup).await?;
    let (backend, session) = d.open(&setup).await?;
    let ids = pop.tenants.iter().map(|t| t.id.clone()).collect();
    let app = router(Arc::new(Api::new(backend.clone(), ids)));
    let addr = listener.local_addr().context("the listening address")?;
    eprintln!(
        "serving {} on http://{addr}: {} on {} {}, {} tenants ({} … {}); Ctrl-C or SIGTERM stops",
        s.name,
        v.description(),
        d.kind().name(),
        d.redacted_uri(),
        pop.tenants.len(),
        pop.tenants.first().map_or("", |t| t.id.as_str()),
        pop.tenants.last().map_or("", |t| t.id.as_str()),
    );
    let served = serve_app(listener, app, shutdown).await;
    eprintln!("serve: stopped; requests in flight were answered");
    let mut evidence = Evidence::default();
    d.close(&setup, session, backend, &mut evidence).await;
    if let Some(f) = &plan.evidence {
        let json = serde_json::to_vec_pretty(&evidence).context("the API's evidence")?;
        std::fs::write(f, json).with_context(|| format!("writing {}", f.display()))?;
    }
    served.context("serving HTTP")?;
    Ok(())
}

/// Serves `app` on `listener` until `shutdown` is cancelled; then stops accepting and returns
/// once every request in flight has been answered.
///
/// # Errors
/// The listener failed.
pub async fn serve_app(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

/// Cancels `token` on Ctrl-C or SIGTERM.
async fn stop_on_signal(token: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            token.cancel();
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    token.cancel();
}
