//! `tenantbench run`: run every variant of the plan's matrix `repeat` times interleaved
//! (A B A B), each trial on its database kind's driver, and keep a run directory with
//! `results.json` (rewritten after every trial, so Ctrl-C or a crash keeps what ran) and one
//! `.hlog` interval log per trial.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, Result, bail};
use tokio_util::sync::CancellationToken;

use super::settings::{GatePlan, RunDir, RunPlan, StartAt};
use crate::backend::Admin;
use crate::cli::RunArgs;
use crate::clock::rfc3339;
use crate::layout::Server;
use crate::metrics::evidence as sys;
use crate::metrics::results::{
    self as res, Environment, Generator, GeneratorShare, PhaseInfo, Results, ScenarioInfo,
    TrialStatus, VariantInfo,
};
use crate::metrics::store::{read_results, spread, write_results};
use crate::op::BackendKind;
use crate::pacing::{Pacer, StopCondition};
use crate::population::Population;
use crate::report::names::Names;
use crate::scenario::{PhasePlan, Scenario, Variant};
use crate::trial::Trials;
use crate::with_driver;

/// Exit status when a second Ctrl-C aborts the run (128 + SIGINT, as shells report it).
pub const EXIT_ABORTED: u8 = 130;

/// A variant's own dataset: its data scale and hybrid rule set.
type DataKey = (f64, Option<String>);

fn data_key(v: &Variant) -> DataKey {
    (v.scale, v.hybrid.clone())
}

/// Runs the matrix; returns the exit status.
///
/// # Errors
/// Bad flags or scenario, an unwritable run directory, an unreachable server.
pub async fn run(a: RunArgs) -> Result<u8> {
    let plan = RunPlan::resolve(&a)?;
    super::settings::database_ops(&plan.scenario, "run")?;
    run_plan(plan).await
}

/// Runs a resolved plan (`run`'s, or `load`'s through the API); returns the exit status.
///
/// # Errors
/// A bad gate rules file, an unwritable run directory, an unreachable server.
pub async fn run_plan(plan: RunPlan) -> Result<u8> {
    // Read the gate's rules before hours of running, so a bad file fails at once.
    let gate = plan
        .gate
        .as_ref()
        .map(|g| crate::gate::rules::Rules::load(&g.rules))
        .transpose()?;
    let scenario = &plan.scenario;
    let kind = scenario.matrix.variants[0].backend;
    let existing = match &scenario.target {
        Some(t) => Some(crate::trial::existing::tenants(&plan, t, kind).await?),
        None => None,
    };
    let pop = match (
        plan.http.as_ref().and_then(|h| h.staging.as_ref()),
        &existing,
    ) {
        (Some(staging), _) => staging.tenants.clone(),
        (None, Some(e)) => e.pop.clone(),
        (None, None) => scenario.build_population(),
    };
    let phases = PhasePlan::new(&scenario.workload, &scenario.phases);
    let derived = derived_data(scenario)?;
    if plan.seed_only {
        return seed_only(&plan, &pop, &phases, &derived).await;
    }
    let (dir, mut results) = open_run_dir(&plan, &pop, &phases).await?;
    if let (Some(t), Some(e)) = (&scenario.target, &existing) {
        results.scenario.target = Some(crate::trial::existing::info(scenario, t, e, kind));
    }
    results.interrupted = false;
    results.finished_at = None;
    results.worker = plan.worker.map(|(i, n)| format!("{i}/{n}"));
    results.generators = plan
        .worker
        .map(|w| vec![generator(w, scenario)])
        .unwrap_or_default();

    let (cancel, abort) = interruption(&plan);
    let base = Trials::new(&plan, scenario, &pop, &phases, dir.clone(), cancel.clone())
        .with_existing(existing.as_ref());
    let trials_of: Vec<(DataKey, Trials)> = derived
        .iter()
        .map(|(k, s, p)| {
            let t = Trials::new(&plan, s, p, &phases, dir.clone(), cancel.clone());
            (k.clone(), t)
        })
        .collect();
    let runner = Runner {
        plan: &plan,
        base: &base,
        trials_of: &trials_of,
        dir: &dir,
        cancel: &cancel,
        abort: &abort,
    };
    if runner.trials(&mut results).await? == Ran::Aborted {
        return Ok(EXIT_ABORTED);
    }
    results.interrupted = cancel.is_cancelled();
    results.finished_at = Some(rfc3339(SystemTime::now()));
    results.spread = spread(&results);
    write_results(&dir, &results)?;
    let status = finish(&plan, &results, &dir);
    let (Some(rules), Some(GatePlan { baseline, .. })) = (gate, &plan.gate) else {
        return Ok(status);
    };
    let (junit, markdown) = (dir.join("gate.xml"), dir.join("gate.md"));
    let judging = super::gate::Judging {
        baseline: baseline.as_deref(),
        junit: Some(&junit),
        markdown: Some(&markdown),
        ..Default::default()
    };
    let gated = super::gate::judge(&rules, &results, &judging)?;
    println!(
        "gate: {} and gate.xml in {}",
        dir.join("gate.md").display(),
        dir.display()
    );
    Ok(status.max(gated))
}

/// The scenario copies variants run on: those of the matrix's `scale` axis or with a hybrid
/// rule set of their own run on a derived copy, in databases of their own where the data
/// differs (one per data key).
fn derived_data(scenario: &Scenario) -> Result<Vec<(DataKey, Scenario, Population)>> {
    let mut derived: Vec<(DataKey, Scenario, Population)> = Vec::new();
    for v in &scenario.matrix.variants {
        if derived.iter().any(|(k, ..)| *k == data_key(v)) {
            continue;
        }
        if let Some(s) = scenario
            .for_variant(v)
            .map_err(|e| anyhow::anyhow!("variant {}: {e}", v.id()))?
        {
            let p = s.build_population();
            derived.push((data_key(v), s, p));
        }
    }
    Ok(derived)
}

/// The run's stop tokens (`cancel`: finish the trial under way, `abort`: stop now), watched
/// on Ctrl-C.
fn interruption(plan: &RunPlan) -> (CancellationToken, CancellationToken) {
    let (cancel, abort) = (CancellationToken::new(), CancellationToken::new());
    if plan.http.is_some() {
        // goose takes SIGINT over (its `ctrlc` handler replaces tokio's): install ours in
        // its place first, which also stops an attack under way.
        crate::trial::interrupt::for_goose(cancel.clone(), abort.clone());
    } else {
        tokio::spawn(crate::trial::interrupt::watch_ctrl_c(
            cancel.clone(),
            abort.clone(),
        ));
    }
    (cancel, abort)
}

/// How the matrix's trials ended.
#[derive(Debug, PartialEq, Eq)]
enum Ran {
    /// Every trial ran, or the run was cancelled between trials.
    Done,
    /// Aborted during a trial.
    Aborted,
}

/// What the matrix's trials run with.
struct Runner<'a> {
    plan: &'a RunPlan,
    /// The trials of the run's own data.
    base: &'a Trials<'a>,
    /// The trials of each derived copy's data.
    trials_of: &'a [(DataKey, Trials<'a>)],
    dir: &'a std::path::Path,
    cancel: &'a CancellationToken,
    abort: &'a CancellationToken,
}

impl Runner<'_> {
    /// Runs every trial of the matrix not complete in `results` yet, trial by trial, the
    /// variants in matrix order, rewriting results.json after each.
    async fn trials(&self, results: &mut Results) -> Result<Ran> {
        let scenario = &self.plan.scenario;
        let repeat = scenario.matrix.repeat;
        let variants = &scenario.matrix.variants;
        let total = repeat as usize * variants.len();
        eprintln!(
            "{}: {} variants × {} trials, run directory {}",
            scenario.name,
            variants.len(),
            repeat,
            self.dir.display()
        );
        let names = Names::of(results);
        let mut n = 0;
        for trial in 1..=repeat {
            for v in variants {
                n += 1;
                let id = v.id();
                if results.trials.iter().any(|t| {
                    t.variant == id && t.trial == trial && t.status == TrialStatus::Complete
                }) {
                    eprintln!("[{n}/{total}] {id} trial {trial}: already complete, skipped");
                    continue;
                }
                if self.cancel.is_cancelled()
                    || !wait_for_slot(self.plan, n, total, self.cancel).await
                {
                    return Ok(Ran::Done);
                }
                eprintln!("[{n}/{total}] {} · trial {trial}", names.with_id(&id));
                let trials = self
                    .trials_of
                    .iter()
                    .find(|(k, _)| *k == data_key(v))
                    .map_or(self.base, |(_, t)| t);
                let driver = self.plan.driver(v.backend);
                trials.checkpoint_over(results);
                let t = tokio::select! {
                    t = async { with_driver!(&driver, |d| trials.run(d, v, trial).await) } => t,
                    () = self.abort.cancelled() => {
                        eprintln!("aborted: the results hold the trials that completed before");
                        return Ok(Ran::Aborted);
                    }
                };
                if let Some(e) = &t.error {
                    eprintln!("  trial failed: {e}");
                }
                results
                    .trials
                    .retain(|x| !(x.variant == id && x.trial == trial));
                results.trials.push(t);
                results.spread = spread(results);
                write_results(self.dir, results)?;
            }
        }
        Ok(Ran::Done)
    }
}

/// `run --seed-only`: seeds (or reuses) every set of databases the load generators of this
/// plan run on ([`RunPlan::generator_data`]: a copy per (dataset, layout, index profile), and
/// per trial when the workload writes), and measures nothing.
async fn seed_only(
    plan: &RunPlan,
    pop: &Population,
    phases: &PhasePlan,
    derived: &[(DataKey, Scenario, Population)],
) -> Result<u8> {
    let scenario = &plan.scenario;
    if scenario.target.is_some() || plan.http.as_ref().is_some_and(|h| h.staging.is_some()) {
        bail!("--seed-only: the scenario runs on a team's own data, which tenantbench never seeds");
    }
    let cancel = CancellationToken::new();
    let sets = plan.generator_data();
    for (n, g) in sets.iter().enumerate() {
        let v = &g.variant;
        let (s, p) = derived
            .iter()
            .find(|(k, ..)| *k == data_key(v))
            .map_or((scenario, pop), |(_, s, p)| (s, p));
        let trials = Trials::new(plan, s, p, phases, PathBuf::new(), cancel.clone());
        let driver = plan.driver(v.backend);
        eprintln!(
            "[{}/{}] {}: {}, layout {}, index profile {}, copy {} (first used by trial {} of {}): databases {}_*",
            n + 1,
            sets.len(),
            scenario.name,
            v.backend.name(),
            v.layout,
            v.indexes,
            g.copy,
            g.trial,
            v.id(),
            g.prefix
        );
        let sum = with_driver!(&driver, |d| trials.seed_only(d, v, g.copy).await?);
        println!(
            "  {} databases ({} loaded, {} reused), {} documents loaded, {} indexes built, {:.1} s",
            sum.databases,
            sum.loaded,
            sum.reused,
            sum.documents,
            sum.indexes_built,
            sum.total_seconds
        );
    }
    let per_trial = if scenario.mix_writes().is_some() {
        " (the workload writes: a fresh copy for every trial)"
    } else {
        ""
    };
    println!(
        "seeded the generators' data for {} trials ({} variants × {}) in {} sets of databases{per_trial}; start the generators with `run --worker i/N` and the same flags",
        scenario.matrix.variants.len() * scenario.matrix.repeat as usize,
        scenario.matrix.variants.len(),
        scenario.matrix.repeat,
        sets.len()
    );
    Ok(0)
}

/// With `--start-at`: waits until trial `n` of the sequence is due (`at + (n − 1) × slot` on
/// every generator). `false` when cancelled while waiting.
async fn wait_for_slot(plan: &RunPlan, n: usize, total: usize, cancel: &CancellationToken) -> bool {
    let Some(StartAt { at, slot }) = plan.start_at else {
        return true;
    };
    let due = at + slot * (n as u32 - 1);
    match due.duration_since(SystemTime::now()) {
        Ok(wait) => {
            eprintln!(
                "[{n}/{total}] waiting {:.1} s for the aligned start {}",
                wait.as_secs_f64(),
                rfc3339(due)
            );
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = cancel.cancelled() => return false,
            }
        }
        Err(late) => eprintln!(
            "warning: [{n}/{total}] starts {:.1} s after its aligned start {} (its preparation took longer than --trial-gap); its phases are not aligned with the other generators'; raise --trial-gap",
            late.duration().as_secs_f64(),
            rfc3339(due)
        ),
    }
    true
}

/// The terminal summary and the HTML report at the end of a run; the exit status.
fn finish(plan: &RunPlan, results: &Results, dir: &std::path::Path) -> u8 {
    print!("{}", crate::report::terminal::summary_table(results));
    println!("results: {}", dir.join("results.json").display());
    if plan.report {
        match crate::report::html::write(results, dir) {
            Ok(html) => println!("report: {}", html.display()),
            Err(e) => eprintln!("warning: the HTML report failed: {e:#}"),
        }
    }
    let failed = results
        .trials
        .iter()
        .filter(|t| t.status == TrialStatus::Failed)
        .count();
    if results.interrupted {
        println!(
            "interrupted: the results hold the trials that ran; continue with --resume {}",
            dir.display()
        );
        return super::EXIT_FINDINGS;
    }
    if failed > 0 {
        println!("{failed} trials failed; see their `error` in results.json");
        return super::EXIT_FINDINGS;
    }
    0
}

/// The run directory: a new one with fresh results, or the one being resumed with its own.
async fn open_run_dir(
    plan: &RunPlan,
    pop: &Population,
    phases: &PhasePlan,
) -> Result<(PathBuf, Results)> {
    let s = &plan.scenario;
    match &plan.dir {
        RunDir::Resume(d) => {
            let r = read_results(d)?;
            if r.scenario.hash != scenario_hash(s) {
                bail!(
                    "--resume {}: its results are of a different scenario text (hash {} vs {}); start a new run instead",
                    d.display(),
                    r.scenario.hash,
                    scenario_hash(s)
                );
            }
            Ok((d.clone(), r))
        }
        RunDir::New(dir) => {
            if dir.join("results.json").exists() {
                bail!(
                    "{} already holds results.json; use --resume {} to continue it, or another --out",
                    dir.display(),
                    dir.display()
                );
            }
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the run directory {}", dir.display()))?;
            Ok((dir.clone(), new_results(plan, pop, phases).await?))
        }
    }
}

/// xxh3-128 of the scenario text.
pub fn scenario_hash(s: &Scenario) -> String {
    let mut text = s.source.clone();
    if s.scale != 1.0 {
        // A scaled copy is another experiment: `--resume` must not mix the two.
        text.push_str(&format!("\n# --scale {}", s.scale));
    }
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(text.as_bytes()))
}

/// The servers of every placement of a backend's variants, the default one first.
fn servers_of(s: &Scenario, pop: &Population, kind: BackendKind) -> Vec<Server> {
    let mut seen: Vec<Server> = Vec::new();
    for v in s.matrix.variants.iter().filter(|v| v.backend == kind) {
        // A variant's hybrid rule set may place tenants on other servers.
        let servers = match s.for_variant(v).ok().flatten() {
            Some(x) => x.placement(&x.build_population(), v.layout).servers(),
            None => s.placement(pop, v.layout).servers(),
        };
        for srv in servers {
            if !seen.contains(&srv) {
                seen.push(srv);
            }
        }
    }
    seen
}

/// Fresh results of a run: the scenario, the environment and every server the matrix uses.
async fn new_results(plan: &RunPlan, pop: &Population, phases: &PhasePlan) -> Result<Results> {
    let s = &plan.scenario;
    let mut servers = Vec::new();
    // A staging API's databases are the team's: none of ours is used.
    let staging = plan.http.as_ref().is_some_and(|h| h.staging.is_some());
    for kind in BackendKind::ALL.into_iter().filter(|_| !staging) {
        let used = servers_of(s, pop, kind);
        if !used.is_empty() {
            let driver = plan.driver(kind);
            servers.extend(with_driver!(&driver, |d| d.server_infos(&used).await?));
        }
    }
    let duration = match s.workload.stop {
        StopCondition::Duration(d) => Some(d),
        StopCondition::Count(_) => None,
    };
    Ok(Results {
        schema_version: res::SCHEMA_VERSION,
        scenario: ScenarioInfo {
            name: s.name.clone(),
            file: s.path.display().to_string(),
            hash: scenario_hash(s),
            seed: s.seed,
            question: s.question.clone(),
            tenants: pop.tenants.len() as u64,
            documents: pop.documents(),
            prefix: s.prefix.clone(),
            scale: s.scale,
            duration_s: duration.map(|d| d.as_secs_f64()),
            text: crate::backend::redact_text(&s.source),
            target: None,
        },
        environment: Environment {
            harness_version: env!("CARGO_PKG_VERSION").into(),
            git_commit: sys::git_commit(),
            build: Some(sys::build_profile().into()),
            os: sys::os(),
            cores: sys::cores(),
            memory_bytes: sys::memory_bytes(),
            servers,
        },
        started_at: rfc3339(SystemTime::now()),
        finished_at: None,
        interrupted: false,
        worker: None,
        generators: Vec::new(),
        classes: crate::workload::classes(pop).0,
        phases: phase_infos(phases, duration.unwrap_or(Duration::ZERO)),
        variants: s
            .matrix
            .variants
            .iter()
            .map(|v| {
                let docs = match s.for_variant(v) {
                    Ok(Some(x)) if v.scale != 1.0 => x.build_population().documents(),
                    _ => pop.documents(),
                };
                variant_info(v, docs)
            })
            .collect(),
        repeat: s.matrix.repeat,
        trials: Vec::new(),
        spread: Vec::new(),
    })
}

/// The phases of a run ending at `run_end`, with their time windows.
fn phase_infos(plan: &PhasePlan, run_end: Duration) -> Vec<PhaseInfo> {
    plan.names
        .iter()
        .zip(&plan.measured)
        .zip(plan.spans(run_end))
        .map(|((n, m), w)| PhaseInfo {
            name: n.clone(),
            measured: *m,
            windows: w,
        })
        .collect()
}

/// A pacer's (concurrency, rate, in-flight cap) as results name them.
fn load_of(p: &Pacer) -> (Option<u32>, Option<f64>, Option<u32>) {
    match *p {
        Pacer::Closed { concurrency, .. } => (Some(concurrency as u32), None, None),
        Pacer::Open { rate, workers, .. } => (None, Some(rate), Some(workers as u32)),
    }
}

/// This process as load generator `w` of a split run: where it runs and its share of each
/// variant (the scenario's variants are its shares).
fn generator((i, n): (u32, u32), s: &Scenario) -> Generator {
    Generator {
        worker: format!("{i}/{n}"),
        host: sys::host(),
        cores: sys::cores(),
        shares: s
            .matrix
            .variants
            .iter()
            .map(|v| {
                let (concurrency, rate, workers) = load_of(&v.pacer);
                GeneratorShare {
                    variant: v.id(),
                    concurrency,
                    // Its slice of the whole schedule: every n-th intended start.
                    rate: rate.map(|r| r / f64::from(n)),
                    workers,
                    max_pool_size: v.max_pool_size,
                }
            })
            .collect(),
        trials: Vec::new(),
    }
}

/// A variant as results name it: a generator's share by its whole variant.
fn variant_info(v: &Variant, documents: u64) -> VariantInfo {
    let v = &v.whole();
    let (concurrency, rate, workers) = load_of(&v.pacer);
    VariantInfo {
        id: v.id(),
        label: v.description(),
        name: v.name.clone(),
        backend: v.backend.name().into(),
        layout: v.layout.name().into(),
        hybrid: v.hybrid.clone(),
        indexes: v.indexes.clone(),
        max_pool_size: v.max_pool_size,
        min_pool_size: v.min_pool_size,
        strategy: v.strategy.name().into(),
        concurrency,
        rate,
        workers,
        scale: v.scale,
        documents: Some(documents),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redaction_hides_credentials_in_text() {
        assert_eq!(
            crate::backend::redact_text("uri = \"mongodb://u:secret@h:1/x\" ok"),
            "uri = \"mongodb://***@h:1/x\" ok"
        );
        assert_eq!(
            crate::backend::redact_text("mongodb://h:1"),
            "mongodb://h:1"
        );
    }
}
