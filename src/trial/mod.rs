//! One trial of one variant, written once for every database kind (generic over its
//! [`Driver`]): refuse what the server cannot run, prepare the data (seed, reuse, or check it is
//! there), open the trial's clients with connection sampling, record the plan evidence, run the
//! workload with the interval log and the live line while measuring CPU and memory, then close
//! and turn the runner's report into the trial's figures.

use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use tokio_util::sync::CancellationToken;

use crate::backend::custom::{generated, spec_of};
use crate::backend::seed::SeedSummary;
use crate::backend::{Backend, Dataset, Driver, FullDriver, TrialSetup};
use crate::layout::Placement;
use crate::metrics::collector::tenant_sample;
use crate::metrics::results::{
    self as res, DataEvidence, Evidence, ExplainRecord, Trial, TrialStatus,
};
use crate::metrics::store as res_store;
use crate::metrics::timeline::Timeline;
use crate::op::Request;
use crate::pacing::Pacer;
use crate::population::Population;
use crate::runner::{Checkpoint, Live, RunConfig, RunIo, RunReport};
use crate::scenario::{PhasePlan, Scenario, Variant};
use crate::workload::{Workload, classes, collection_of};
use existing::Existing;
use plan::{RunPlan, generator_scenario};

mod api_process;
mod cpu;
pub mod existing;
mod faults;
mod figures;
mod http;
pub mod interrupt;
mod moving;
pub mod plan;
use cpu::CpuMark;

/// Tenants kept individually: the largest this many, then log-spaced ranks.
const SAMPLE_LARGEST: usize = 10;
/// Log-spaced sample ranks per factor of ten.
const SAMPLE_PER_DECADE: usize = 5;

/// What every trial over one dataset shares: the run's plan and this dataset's scenario (the
/// run's own, or a variant's scaled or rule-set copy), population, classes and tenant sample.
pub struct Trials<'a> {
    /// The run's settings.
    pub plan: &'a RunPlan,
    /// The scenario the data is defined by.
    pub scenario: &'a Scenario,
    /// Its population.
    pub pop: &'a Population,
    /// Phases of every trial (the run's).
    pub phases: &'a PhasePlan,
    class_names: Vec<String>,
    class_of: Vec<u16>,
    sample: Vec<usize>,
    /// The run directory (interval logs).
    pub dir: PathBuf,
    /// Cancels the trial (Ctrl-C).
    pub cancel: CancellationToken,
    /// An existing target's tenants, counted in its database (`None`: generated data).
    existing: Option<&'a Existing>,
    /// The run's results before the trial under way: what a checkpoint writes the partial
    /// trial beside ([`Trials::checkpoint_over`]).
    checkpoint_base: std::sync::Mutex<Option<res::Results>>,
}

impl<'a> Trials<'a> {
    /// The trials over a scenario's data.
    pub fn new(
        plan: &'a RunPlan,
        scenario: &'a Scenario,
        pop: &'a Population,
        phases: &'a PhasePlan,
        dir: PathBuf,
        cancel: CancellationToken,
    ) -> Trials<'a> {
        let (class_names, class_of) = classes(pop);
        Trials {
            plan,
            scenario,
            pop,
            phases,
            class_names,
            class_of,
            sample: tenant_sample(pop.tenants.len(), SAMPLE_LARGEST, SAMPLE_PER_DECADE),
            dir,
            cancel,
            existing: None,
            checkpoint_base: std::sync::Mutex::new(None),
        }
    }

    /// Checkpoints of the next trial write it as `partial` beside `results` (the run's so far).
    pub fn checkpoint_over(&self, results: &res::Results) {
        *self
            .checkpoint_base
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(results.clone());
    }

    /// A checkpoint of trial `t` (as it stands when the workload starts): results.json with
    /// the trial so far as `partial`, rewritten at the run's interval.
    fn checkpoint(&self, t: &Trial) -> Option<Checkpoint> {
        let base = self
            .checkpoint_base
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()?;
        let (dir, head) = (self.dir.clone(), t.clone());
        let mut warned = false;
        Some(Checkpoint {
            every: self.plan.checkpoint_every,
            write: Box::new(move |tl: &Timeline| {
                let mut r = base.clone();
                let p = figures::partial(&head, tl);
                r.trials
                    .retain(|x| !(x.variant == p.variant && x.trial == p.trial));
                r.trials.push(p);
                if let Err(e) = res_store::write_results(&dir, &r)
                    && !warned
                {
                    warned = true;
                    eprintln!("  warning: saving the trial so far in results.json failed: {e}");
                }
            }),
        })
    }

    /// The trials over an existing target's database, whose tenants are `existing`'s.
    #[must_use]
    pub fn with_existing(mut self, existing: Option<&'a Existing>) -> Trials<'a> {
        self.existing = existing;
        self
    }

    /// Runs trial `trial` of a variant on a driver; a failure is recorded in the trial, never
    /// returned.
    pub async fn run<D: FullDriver>(&self, d: &D, v: &Variant, trial: u32) -> Trial {
        let mut t = Trial {
            variant: v.id(),
            trial,
            status: TrialStatus::Failed,
            error: None,
            started_at: crate::clock::rfc3339(std::time::SystemTime::now()),
            elapsed_s: 0.0,
            operations: 0,
            errors: 0,
            leaks: 0,
            late_starts: 0,
            intended: None,
            start_lag: None,
            timer: None,
            unissued: 0,
            groups: Vec::new(),
            tenants: Vec::new(),
            timeline: Vec::new(),
            hlog: None,
            evidence: Evidence::default(),
        };
        if let Err(e) = self.steps(d, v, &mut t).await {
            t.status = TrialStatus::Failed;
            t.error = Some(crate::backend::redact_text(&format!("{e:#}")));
        }
        t
    }

    /// `run --seed-only`: seeds (or reuses) copy `copy` of variant `v`'s data for load
    /// generators ([`generator_scenario`]), without a trial.
    ///
    /// # Errors
    /// The driver's seeding errors.
    pub async fn seed_only<D: Driver>(
        &self,
        d: &D,
        v: &Variant,
        copy: u32,
    ) -> Result<crate::backend::seed::SeedSummary> {
        let s = generator_scenario(self.scenario, &v.indexes, copy);
        let base = s.placement(self.pop, v.layout);
        let opts = self.plan.seed.options(v.layout, &v.indexes, false);
        Ok(d.seed(&Dataset::new(&s, self.pop, &base), &opts).await?)
    }

    /// The steps of a trial, in order.
    async fn steps<D: FullDriver>(&self, d: &D, v: &Variant, t: &mut Trial) -> Result<()> {
        if let Some(api) = &self.plan.http
            && api.staging.is_some()
        {
            // A team's own API over its own data: nothing of ours to seed, explain or sample.
            let report = self.measure_http(api, v, t, &[], |_| None).await?;
            self.figures(t, report);
            return Ok(());
        }
        // Load generators run each trial on the databases of its index profile and copy,
        // which `run --seed-only` seeded; a single run reloads its own as it goes.
        let copied = self
            .copy_of(v, t.trial)
            .map(|c| generator_scenario(self.scenario, &v.indexes, c));
        let s = copied.as_ref().unwrap_or(self.scenario);
        let base = s.placement(self.pop, v.layout);
        // A migrating variant's backend knows the destination from the start (empty until the
        // cut-over routes the tenant there); its data is seeded without it.
        let moving = v
            .migration
            .as_ref()
            .map(|m| self.plan_move(m, &base))
            .transpose()?;
        let placement = moving
            .as_ref()
            .map_or_else(|| base.clone(), |mv| mv.placement.clone());
        let setup = TrialSetup {
            data: Dataset::new(s, self.pop, &placement),
            variant: v,
            worker: self.plan.worker,
        };
        let id = v.id();
        tracing::debug!(variant = %id, trial = t.trial, "trial: preflight");
        d.preflight(&setup).await.inspect_err(|e| {
            tracing::info!(variant = %id, error = %e, "trial: refused by preflight");
        })?;

        tracing::debug!(variant = %id, trial = t.trial, databases = base.databases.len(), "trial: preparing data");
        self.prepare_data(d, s, v, &base, moving.is_some(), t)
            .await?;

        // Tenants `tenantbench migrate` moved are where the tenant directory has them; a
        // migrating variant starts from the rules' placement (its directory was reset).
        let routed = if moving.is_none() && s.target.is_none() {
            Some(d.placed(s, self.pop, v.layout).await?.0)
        } else {
            None
        };
        let placement = routed.as_ref().unwrap_or(&placement);
        let setup = TrialSetup {
            data: Dataset {
                placement,
                ..setup.data
            },
            ..setup
        };
        tracing::debug!(variant = %id, trial = t.trial, "trial: opening clients");
        let (backend, session) = d.open(&setup).await?;
        // Plan evidence before the load, on the data as seeded.
        t.evidence.explain = self.explain(d, &backend).await;
        tracing::debug!(
            variant = %id,
            trial = t.trial,
            records = t.evidence.explain.len(),
            "trial: plan evidence read"
        );
        tracing::debug!(variant = %id, trial = t.trial, "trial: measuring");
        if let Some(api) = &self.plan.http {
            let local = d.local_servers(placement);
            // Through the API: these clients only explained; the API opens its own.
            d.close(&setup, session, backend, &mut Evidence::default())
                .await;
            let report = self
                .measure_http(api, v, t, &local, |pid| d.server_cpu(pid))
                .await?;
            self.figures(t, report);
            return Ok(());
        }
        let report = self
            .measure_variant(d, v, t, backend.clone(), placement, moving.as_ref())
            .await;
        tracing::debug!(variant = %id, trial = t.trial, "trial: closing clients");
        d.close(&setup, session, backend, &mut t.evidence).await;
        self.figures(t, report?);
        tracing::debug!(
            variant = %id,
            trial = t.trial,
            operations = t.operations,
            errors = t.errors,
            "trial: done"
        );
        Ok(())
    }

    /// Runs the workload with what the variant runs beside it: faults, a migration, or
    /// nothing.
    async fn measure_variant<D: FullDriver>(
        &self,
        d: &D,
        v: &Variant,
        t: &mut Trial,
        backend: Arc<D::Backend>,
        placement: &Placement,
        moving: Option<&moving::Moving>,
    ) -> Result<RunReport> {
        let local = &d.local_servers(placement);
        match moving {
            None if !self.faults_of(v).is_empty() => {
                let (report, ev) = self
                    .measure_faulty(d, v, t, backend, local, placement)
                    .await;
                t.evidence.faults = ev;
                report
            }
            None => {
                self.measure(v, t, backend, local, |pid| d.server_cpu(pid))
                    .await
            }
            Some(mv) => {
                let (report, ev) = self.measure_moving(d, v, t, backend, local, mv).await;
                t.evidence.migration = Some(ev);
                report
            }
        }
    }

    /// Which copy of its data a load generator's trial runs on ([`RunPlan::generator_copy`]);
    /// `None` for a single run, which prepares its own data.
    fn copy_of(&self, v: &Variant, trial: u32) -> Option<u32> {
        self.plan.worker.map(|_| self.plan.generator_copy(v, trial))
    }

    /// A trial's data in scenario `s`'s databases (`base`, the layout's placement): reused when
    /// the markers match, complete and clean, else (re)loaded or its indexes rebuilt; a load
    /// generator only checks its copy is there; an existing target is read as it is. A
    /// `moving` variant first drops what an earlier trial moved a tenant to.
    async fn prepare_data<D: FullDriver>(
        &self,
        d: &D,
        s: &Scenario,
        v: &Variant,
        base: &Placement,
        moving: bool,
        t: &mut Trial,
    ) -> Result<()> {
        // Data: reuse when the markers match, complete and clean; else (re)load or rebuild
        // indexes. Several generators must not seed at once: they only check it is there.
        // An existing target's data is the team's: read as it is, never seeded or marked.
        if let Some(target) = &s.target {
            eprintln!(
                "  data: the existing database {}, read as it is (nothing seeded, no marker)",
                target.database
            );
        } else {
            if moving {
                // Every trial starts with the tenants where the layout's rules put them.
                let dropped = d.reset_moves(&s.prefix, base).await?;
                if !dropped.is_empty() {
                    eprintln!(
                        "  migration: dropped {} an earlier trial moved a tenant to",
                        dropped.join(", ")
                    );
                }
            }
            let opts = self.plan.seed.options(v.layout, &v.indexes, false);
            let sum = if let Some(c) = self.copy_of(v, t.trial) {
                eprintln!(
                    "  data: the generators' copy {c} of this data (databases {}_*)",
                    s.prefix
                );
                d.check_ready(&Dataset::new(s, self.pop, base), &opts)
                    .await
                    .map_err(|e| seed_generators_first(e, s))?
            } else {
                d.seed(&Dataset::new(s, self.pop, base), &opts).await?
            };
            t.evidence.data = data_evidence(&sum);
        }
        Ok(())
    }

    /// The plan evidence of each operation in the mix for the largest and the median tenant.
    async fn explain<D: Driver>(&self, d: &D, backend: &D::Backend) -> Vec<ExplainRecord> {
        let s = self.scenario;
        let mut out = Vec::new();
        for op in s.mix_ops() {
            for tenant in [0, self.pop.tenants.len() / 2] {
                // A record from the middle of the tenant's range: the first one would be found
                // at once by a scan in insertion order and understate what a typical call does.
                let tn = &self.pop.tenants[tenant];
                // The generated collection the operation reads: a scenario's own operation's
                // collection by name, a built-in's by the catalogue.
                let coll = spec_of(&s.operations, op).map_or(collection_of(op), generated);
                let key = tn.count(coll) / 2;
                if let Some(mut e) = d.explain(backend, &Request { tenant, op, key }).await {
                    e.tenant = tn.id.clone();
                    e.class = self.class_names[usize::from(self.class_of[tenant])].clone();
                    e.tenant_documents = match (self.existing, spec_of(&s.operations, op)) {
                        (Some(x), Some(o)) => {
                            if e.collection_documents == 0 {
                                e.collection_documents =
                                    x.totals.get(&o.collection).copied().unwrap_or(0);
                            }
                            x.documents_of(&o.collection, tenant)
                        }
                        _ => tn.count(coll),
                    };
                    // The guard against measuring empty queries (a tenant value of the wrong
                    // type, a misspelt field): the largest tenant has records to find.
                    e.empty = tenant == 0 && e.found_nothing(self.existing.is_some());
                    out.push(e);
                }
            }
        }
        out
    }

    /// Runs the workload against a backend: the interval log, the live line, and the CPU of the
    /// harness and of the local servers (`server_cpu` of each pid).
    pub(super) async fn measure<B: Backend>(
        &self,
        v: &Variant,
        t: &mut Trial,
        backend: Arc<B>,
        servers: &[(String, u32)],
        server_cpu: impl Fn(u32) -> Option<f64>,
    ) -> Result<RunReport> {
        self.measure_with(v, t, backend, servers, server_cpu, Side::default())
            .await
    }

    /// [`Trials::measure`], with what runs beside the workload: offsets to watch for the first
    /// success after, and where to send the run's start instant.
    pub(super) async fn measure_with<B: Backend>(
        &self,
        v: &Variant,
        t: &mut Trial,
        backend: Arc<B>,
        servers: &[(String, u32)],
        server_cpu: impl Fn(u32) -> Option<f64>,
        side: Side,
    ) -> Result<RunReport> {
        let mark = CpuMark::take(servers, &server_cpu);
        let source = Arc::new(self.workload());
        let (mut cfg, mut io, live_bar) = self.run_setup(v, t, v.pacer)?;
        cfg.watch = side.watch;
        io.started = side.started;
        let report = crate::runner::run(backend, source, cfg, io).await;
        live_bar.finish_and_clear();
        mark.evidence(t, servers, &server_cpu, Vec::new());
        Ok(report)
    }

    /// The workload of this dataset (a `run --worker`'s own stream of it).
    fn workload(&self) -> Workload {
        let stream = self.plan.worker.map_or(0, |(i, _)| i);
        Workload::from_scenario(self.pop, self.scenario, self.phases).with_stream(u64::from(stream))
    }

    /// A trial's run configuration for `pacer` and its I/O: the interval log (named in `t`),
    /// the live line and Ctrl-C; the live line's bar, to clear when the run ends.
    fn run_setup(
        &self,
        v: &Variant,
        t: &mut Trial,
        pacer: Pacer,
    ) -> Result<(RunConfig, RunIo, indicatif::ProgressBar)> {
        let hlog_name = format!("{}-t{}.hlog", v.id(), t.trial);
        let hlog_path = self.dir.join(&hlog_name);
        let hlog_file = std::fs::File::create(&hlog_path)
            .with_context(|| format!("creating {}", hlog_path.display()))?;
        t.hlog = Some(hlog_name);
        if matches!(pacer, Pacer::Open { .. }) {
            t.timer = Some(self.plan.timer.name().to_string());
        }
        let s = self.scenario;
        let cfg = RunConfig {
            pacer,
            stop: s.workload.stop,
            overrun: s.workload.overrun_for(pacer),
            windows: self.phases.windows.clone(),
            measured: self.phases.measured.clone(),
            classes: self.class_names.clone(),
            tenants: self.pop.tenants.len(),
            tenant_sample: self.sample.clone(),
            timer: self.plan.timer,
            watch: None,
            slice: v.share.as_ref().map(|x| x.worker),
        };
        let live_bar = live_bar(self.plan.progress);
        let io = RunIo {
            cancel: self.cancel.clone(),
            hlog: Some(Box::new(BufWriter::new(hlog_file))),
            live: Some(live_callback(
                live_bar.clone(),
                v.id(),
                self.phases.names.clone(),
            )),
            started: None,
            checkpoint: self.checkpoint(t),
        };
        Ok((cfg, io, live_bar))
    }
}

/// The data evidence of a seed, printed as the trial's `data:` line.
fn data_evidence(sum: &SeedSummary) -> DataEvidence {
    eprintln!(
        "  data: {} databases, {} loaded, {} reused, {} indexes built ({:.1} s)",
        sum.databases, sum.loaded, sum.reused, sum.indexes_built, sum.total_seconds
    );
    DataEvidence {
        databases: sum.databases as u64,
        loaded: sum.loaded as u64,
        reused: sum.reused as u64,
        collections: sum.collections as u64,
        indexes: sum.indexes as u64,
        indexes_built: sum.indexes_built as u64,
        storage_bytes: sum.storage_bytes,
        index_bytes: sum.index_bytes,
        prepare_s: round3(sum.total_seconds),
    }
}

/// What a trial runs beside its workload (faults): see [`Trials::measure_with`].
#[derive(Default)]
pub(super) struct Side {
    /// Points of the run (armed as faults end) to note the first success after.
    pub(super) watch: Option<Arc<crate::runner::Watches>>,
    /// Receives the run's start instant once the runner has it.
    pub(super) started: Option<tokio::sync::oneshot::Sender<tokio::time::Instant>>,
}

pub(super) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn live_bar(show: bool) -> indicatif::ProgressBar {
    let pb = if show {
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::hidden()
    };
    pb.set_style(
        indicatif::ProgressStyle::with_template("  {spinner} {msg}").expect("static template"),
    );
    pb
}

fn live_callback(
    pb: indicatif::ProgressBar,
    id: String,
    phases: Vec<String>,
) -> crate::runner::LiveFn {
    Box::new(move |l: &Live| {
        pb.set_message(format!(
            "{id} · {} · {} s · {} ops/s · p99 so far {:.2} ms · {} errors",
            phases.get(usize::from(l.phase)).map_or("?", String::as_str),
            l.second + 1,
            l.ops,
            l.p99_us as f64 / 1000.0,
            l.errors
        ));
        pb.tick();
    })
}

/// A `check_ready` failure with the `seed` command that makes the data ready (`serve` never
/// seeds).
pub(super) fn seed_first(e: impl std::fmt::Display, s: &Scenario, v: &Variant) -> anyhow::Error {
    anyhow::anyhow!(
        "{e}; seed it first with `tenantbench seed --scenario {} --backend {} --layout {} --indexes {}`",
        s.path.display(),
        v.backend.name(),
        v.layout,
        v.indexes
    )
}

/// A load generator's `check_ready` failure with the command that seeds the generators' data
/// (`run --worker` never seeds).
fn seed_generators_first(e: impl std::fmt::Display, s: &Scenario) -> anyhow::Error {
    anyhow::anyhow!(
        "{e}; seed the generators' data first with `tenantbench run --scenario {} --seed-only` and the generators' other flags (--backend, --layout, --indexes, --repeat, --scale, --prefix)",
        s.path.display()
    )
}
