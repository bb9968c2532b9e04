//! A trial through the tenant API (`load`): start `serve` for the variant (unless `--host` or a
//! staging API is given), attack it with goose's users, stop it, and keep the API's CPU,
//! connections and goose's own counts beside the harness's histograms.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

use super::api_process::ApiProcess;
use super::cpu::CpuMark;
use super::plan::HttpPlan;
use super::{Trials, round3};
use crate::http::attack::{self, AttackPlan};
use crate::metrics::evidence as sys;
use crate::metrics::results::{HttpEvidence, ServerCpu, Trial};
use crate::pacing::{Pacer, StopCondition};
use crate::runner::RunReport;
use crate::runner::external::External;
use crate::scenario::Variant;

/// Per-request timeout of goose's users (`load`).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

impl Trials<'_> {
    /// One trial through the API: start it (unless `--host`), attack it, stop it; the runner's
    /// report, with the API's CPU, connections and goose's counts in `t.evidence`.
    pub(super) async fn measure_http(
        &self,
        api: &HttpPlan,
        v: &Variant,
        t: &mut Trial,
        servers: &[(String, u32)],
        server_cpu: impl Fn(u32) -> Option<f64>,
    ) -> Result<RunReport> {
        let stem = format!("{}-t{}", v.id(), t.trial);
        let staging = api.staging.as_ref().map(|s| s.api.clone());
        let (started, base_url) = self.api_to_attack(api, v, &stem).await?;
        let (users, throttle, think) = match v.pacer {
            Pacer::Closed { concurrency, think } => (concurrency, None, think),
            Pacer::Open { rate, workers, .. } => (
                workers,
                Some(rate.round().max(1.0) as usize),
                Duration::ZERO,
            ),
        };
        let s = self.scenario;
        let StopCondition::Duration(duration) = s.workload.stop else {
            bail!("`load` runs for a duration");
        };
        let test_plan = attack::test_plan(users, s.workload.warmup, duration)?;
        let reports = vec![format!("{stem}-goose.html"), format!("{stem}-goose.json")];
        let plan = AttackPlan {
            base_url: base_url.clone(),
            users,
            throttle,
            think,
            test_plan: test_plan.clone(),
            reports: reports.iter().map(|r| self.dir.join(r)).collect(),
            seed: s.seed,
            session_ops: s.workload.session_ops,
            timeout: REQUEST_TIMEOUT,
            staging,
            fixed_path: None,
        };
        let pid = started.as_ref().map(ApiProcess::pid);
        let started_api = started.is_some();
        let api0 = pid.and_then(sys::process_cpu_seconds);
        let mark = CpuMark::take(servers, &server_cpu);
        let users_pacer = Pacer::Closed {
            concurrency: users,
            think: Duration::ZERO,
        };
        let (cfg, io, live_bar) = self.run_setup(v, t, users_pacer)?;
        let run = Arc::new(External::start(&cfg, io));
        let ids = self.pop.tenants.iter().map(|x| x.id.clone()).collect();
        let counts = self.attack_unless_cancelled(&plan, ids, run.clone()).await;
        let run = Arc::into_inner(run).context("goose's users still hold the run")?;
        let report = run.finish().await;
        live_bar.finish_and_clear();
        let api_cpu = match (pid.and_then(sys::process_cpu_seconds), api0) {
            (Some(b), Some(a)) => vec![ServerCpu {
                role: "api".into(),
                cpu_s: round3(b - a),
                cpus: pid.and_then(sys::cpus_allowed),
            }],
            _ => Vec::new(),
        };
        mark.evidence(t, servers, &server_cpu, api_cpu);
        if let Some(p) = started {
            let ev = p.stop().await?;
            t.evidence.connections = ev.connections;
            t.evidence.checkout = ev.checkout;
            t.evidence.registry = ev.registry;
        }
        let counts = counts?;
        t.evidence.http = Some(HttpEvidence {
            engine: attack::ENGINE.into(),
            base_url: crate::backend::redact_uri(&base_url),
            started_api,
            users: users as u64,
            throttle_rps: throttle.map(|r| r as u64),
            test_plan,
            co_mitigation: attack::co_mitigation_name(),
            requests: counts.requests,
            goose_failures: counts.failures,
            synthetic_requests: counts.synthetic,
            co_events: counts.co_events,
            goose_p99_us: counts.p99_us,
            goose_p99_backfilled_us: counts.p99_backfilled_us,
            reports,
        });
        Ok(report)
    }

    /// The API a trial attacks: `serve` started for variant `v` (its run directory files named
    /// by `stem`) unless `--host` or a staging API is given; its base URL.
    async fn api_to_attack(
        &self,
        api: &HttpPlan,
        v: &Variant,
        stem: &str,
    ) -> Result<(Option<ApiProcess>, String)> {
        let staging = api.staging.as_ref().map(|s| &s.api.base_url);
        let started = match (&api.host, staging) {
            (None, None) => {
                Some(ApiProcess::start(api, &self.dir, self.uri(), &v.id(), stem).await?)
            }
            _ => None,
        };
        let base_url = match (&api.host, staging, &started) {
            (_, Some(url), _) => url.clone(),
            (Some(h), None, _) => h.trim_end_matches('/').to_string(),
            (None, None, Some(p)) => p.base_url.clone(),
            (None, None, None) => bail!("no API to attack"),
        };
        Ok((started, base_url))
    }

    /// goose's attack, none when Ctrl-C came before it. During it, Ctrl-C pulls goose's kill
    /// switch, again every 100 ms until the attack returns, because goose clears the switch
    /// when it starts and a press while it was starting would otherwise be lost.
    async fn attack_unless_cancelled(
        &self,
        plan: &AttackPlan,
        ids: Vec<String>,
        run: Arc<External>,
    ) -> Result<attack::GooseCounts, attack::AttackError> {
        if self.cancel.is_cancelled() {
            return Ok(attack::GooseCounts::default());
        }
        let cancel = self.cancel.clone();
        let stopper = tokio::spawn(async move {
            cancel.cancelled().await;
            loop {
                attack::stop("Ctrl-C");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        let c = attack::attack(plan, self.workload(), ids, run).await;
        stopper.abort();
        c
    }

    /// The server's URI for the API's environment: `--uri`'s variable and value.
    fn uri(&self) -> Option<(&'static str, &str)> {
        let s = &self.plan.server;
        s.uri
            .as_deref()
            .map(|u| (crate::backend::uri_env(s.backend()), u))
    }
}
