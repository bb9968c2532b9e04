//! `tenantbench load`: `run`'s matrix, trials and results with the workload going through the
//! tenant API — the plan `run` resolves, with what `load` needs checked (a duration, no phase
//! rates, `--host`'s one configuration, a staging API's endpoints, secrets and read-only
//! default). Each trial's measurement through the API is `app::trial`'s (`measure_http`):
//! `serve --variant` as a child (`app::api_process`) or `--host`'s API, and a goose attack
//! ([`crate::http::attack`]).

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};

use super::settings::{HttpPlan, RunPlan, StagingPlan};
use crate::cli::LoadArgs;
use crate::http::attack;
use crate::http::staging::{Staging, check_base_url, tenants_file};
use crate::pacing::{Pacer, StopCondition};
use crate::scenario::{Scenario, Variant};

/// `tenantbench load`.
///
/// # Errors
/// Bad flags or scenario (one `load` cannot run), and whatever `run` refuses.
pub async fn load(a: LoadArgs) -> Result<u8> {
    if a.run.worker.is_some() || a.run.start_at.is_some() {
        bail!(
            "--worker and --start-at split `run`'s open loop across generators; `load` runs one goose attack per trial"
        );
    }
    let mut plan = RunPlan::resolve(&a.run)?;
    check_scenario(&plan.scenario)?;
    if let Some((phase, _)) = plan.scenario.migration_phase() {
        bail!(
            "{}: phase `{phase}` migrates a tenant, which `run` measures on the database; `load` does not run migrations through the API yet",
            plan.scenario.path.display()
        );
    }
    if let Some(f) = plan.scenario.faults.first() {
        bail!(
            "{}: the scenario injects faults ({}), which `run` times on the database; `load` does not inject faults yet",
            plan.scenario.path.display(),
            f.describe()
        );
    }
    if let Some(host) = &a.host {
        // First, so no message below can print credentials in it.
        check_base_url(host, "--host")?;
        if plan.scenario.http.is_some() {
            bail!(
                "--host {host}: {} has an [http] table, whose base_url_env names the API; --host is for the reference API (`serve`)",
                plan.scenario.path.display()
            );
        }
        one_configuration(&plan.scenario, &format!("--host {host}: the API there"))?;
    }
    let staging = match &plan.scenario.http {
        Some(spec) => Some(open_staging(&plan.scenario, spec, a.run.allow_writes)?),
        None => None,
    };
    if staging.is_some() {
        // Layouts and indexes are the team's: a staging variant is its load.
        for v in &mut plan.scenario.matrix.variants {
            if v.name.is_none() {
                v.name = Some(match v.pacer {
                    Pacer::Closed { concurrency, .. } => format!("staging · {concurrency} users"),
                    Pacer::Open { rate, .. } => format!("staging · {rate}/s"),
                });
            }
        }
    }
    let t = &a.run.seed.target;
    let mut serve_args = vec![
        "serve".to_string(),
        "--scenario".into(),
        t.scenario.display().to_string(),
    ];
    if let Some(p) = &t.prefix {
        serve_args.extend(["--prefix".into(), p.clone()]);
    }
    if let Some(s) = t.scale {
        serve_args.extend(["--scale".into(), s.to_string()]);
    }
    plan.http = Some(HttpPlan {
        exe: std::env::current_exe().context("finding this program, to start `serve`")?,
        serve_args,
        host: a.host.clone(),
        staging,
    });
    super::run::run_plan(plan).await
}

/// What goose can run: a workload stopped by duration, in whole seconds, with no phase that
/// sets its own rate (goose's throttle is one rate for a whole attack).
fn check_scenario(s: &Scenario) -> Result<()> {
    if let Some(t) = &s.target {
        bail!(
            "{}: its [target] is the database {} itself, which `run` reads directly; `load` goes through an API (`serve`'s over generated data, or yours with [http])",
            s.path.display(),
            t.database
        );
    }
    let StopCondition::Duration(d) = s.workload.stop else {
        bail!(
            "{}: the workload stops after a count of operations; `load` runs goose for a duration (set [workload] duration)",
            s.path.display()
        );
    };
    attack::test_plan(1, s.workload.warmup, d)
        .map_err(|e| anyhow::anyhow!("{}: {e}", s.path.display()))?;
    if let Some(p) = s.phases.iter().find(|p| p.rate.is_some()) {
        bail!(
            "{}: phase {:?} sets its own rate; goose's throttle holds one rate for a whole attack, so `load` cannot change it mid-run (`run` can)",
            s.path.display(),
            p.name
        );
    }
    // The reference API serves the built-in catalogue; a team's API ([http]) has an endpoint
    // for every operation of the mix, or open_staging refuses it.
    let reference_api = s.http.is_none();
    if let Some(op) = s
        .mix_ops()
        .into_iter()
        .find(|op| reference_api && !op.is_builtin())
    {
        bail!(
            "{}: operation `{op}` is the scenario's own ([[operation]]); the API has no endpoint for it, so `load` cannot send it (`run` can)",
            s.path.display()
        );
    }
    Ok(())
}

/// An API that `load` does not start runs one configuration: the matrix may vary only the
/// load (concurrency, rate), not layouts, indexes, pools, strategies or scale.
fn one_configuration(s: &Scenario, what: &str) -> Result<()> {
    let server_side = |v: &Variant| {
        (
            v.backend,
            v.layout,
            v.hybrid.clone(),
            v.indexes.clone(),
            v.max_pool_size,
            v.min_pool_size,
            v.strategy,
            v.scale.to_bits(),
        )
    };
    let mut configs: Vec<_> = s.matrix.variants.iter().map(server_side).collect();
    configs.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    configs.dedup();
    if configs.len() > 1 {
        bail!(
            "{what} runs one configuration, but the matrix of {} has {} (layouts, indexes, pools, strategies or scales differ); narrow it with --layout and --indexes, or vary only concurrency and rate",
            s.path.display(),
            configs.len()
        );
    }
    Ok(())
}

/// A scenario's `[http]` API: its base URL and secrets from the environment, its tenants
/// file, an endpoint for every operation the workload can draw, and no write unless
/// `--allow-writes`.
fn open_staging(
    s: &Scenario,
    spec: &crate::scenario::http::HttpSpec,
    allow_writes: bool,
) -> Result<StagingPlan> {
    one_configuration(s, "a staging API")?;
    for op in s.mix_ops() {
        let Some(e) = spec.endpoint(op) else {
            bail!(
                "{}: the workload's mix has {} but [http] has no endpoint for it; add an [[http.endpoint]] with op = \"{}\"",
                s.path.display(),
                op.name(),
                op.name()
            );
        };
        if e.writes() && !allow_writes {
            bail!(
                "{}: {} is a write ({}); against a staging API `load` only reads unless --allow-writes is given",
                e.at,
                e.route,
                op.name()
            );
        }
    }
    let staging = Staging::open(spec)?;
    let dir = s.path.parent().unwrap_or(Path::new("."));
    let pop = tenants_file(&spec.tenants, dir, spec.max_record)?;
    Ok(StagingPlan {
        api: Arc::new(staging),
        tenants: pop,
    })
}
