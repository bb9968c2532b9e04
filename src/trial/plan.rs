//! What a run and its trials read, resolved once from the scenario and the flags
//! (`app::settings` resolves them): the matrix as run, how data is seeded, the run directory,
//! the servers, and the data load generators run on.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::backend::AnyDriver;
use crate::backend::seed::SeedOptions;
use crate::cli::ServerArgs;
use crate::layout::Layout;
use crate::op::BackendKind;
use crate::scenario::{IndexBuild, Scenario, Variant, generator_prefix};

/// The driver of a kind for the server the flags name: `--uri` belongs to `--backend`'s kind
/// (MongoDB when none); other kinds use their environment variable or default.
pub fn driver(server: &ServerArgs, kind: BackendKind) -> AnyDriver {
    let uri = server.uri.as_deref().filter(|_| server.backend() == kind);
    AnyDriver::new(kind, uri)
}

/// How data is seeded: the scenario's `[load]` settings unless a flag overrides them.
#[derive(Debug, Clone)]
pub struct SeedSettings {
    /// Documents per insert (rows per COPY).
    pub batch_size: usize,
    /// Concurrent insert workers.
    pub workers: usize,
    /// Indexes before or after the bulk load.
    pub index_build: IndexBuild,
    /// Draw progress bars.
    pub progress: bool,
}

impl SeedSettings {
    /// The options of one seed into `layout` with index profile `indexes`.
    pub fn options(&self, layout: Layout, indexes: &str, reseed: bool) -> SeedOptions {
        SeedOptions {
            layout,
            indexes: indexes.to_string(),
            batch_size: self.batch_size,
            workers: self.workers,
            index_build: self.index_build,
            reseed,
            progress: self.progress,
        }
    }
}

/// Where a run writes.
#[derive(Debug, Clone)]
pub enum RunDir {
    /// A new run directory (`--out`, else `reports/<scenario>-<UTC time>`).
    New(PathBuf),
    /// A run directory to continue (`--resume`).
    Resume(PathBuf),
}

/// Everything `run` and its trials read, resolved once from the scenario and the flags.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// The scenario as run: loaded as the flags ask, its matrix narrowed by them and, for a
    /// load generator of several, split to this generator's share.
    pub scenario: Scenario,
    /// How trials seed their data.
    pub seed: SeedSettings,
    /// `--worker i/N`: this process is load generator i of N (it never seeds).
    pub worker: Option<(u32, u32)>,
    /// `--seed-only`: seed every variant's data and measure nothing.
    pub seed_only: bool,
    /// `--start-at`, with the time slot of each trial: trial k starts at `at + k × slot`.
    pub start_at: Option<StartAt>,
    /// The run directory.
    pub dir: RunDir,
    /// Draw progress bars and the live line.
    pub progress: bool,
    /// Write the HTML report at the end.
    pub report: bool,
    /// Which servers the drivers talk to.
    pub server: ServerArgs,
    /// `--gate RULES [--gate-baseline B]`: judge the run at its end.
    pub gate: Option<GatePlan>,
    /// `load`: the workload goes through the tenant API, driven by goose (`None`: `run`).
    pub http: Option<HttpPlan>,
    /// Open loop: how workers wait for each intended start (`--timer`).
    pub timer: crate::runner::Timer,
    /// How often results.json is rewritten during a trial (`--checkpoint-every`).
    pub checkpoint_every: Duration,
}

/// `--start-at`: when the first trial starts, and the slot of each: trial k starts at
/// `at + k × slot` on every generator.
#[derive(Debug, Clone, Copy)]
pub struct StartAt {
    /// The first trial's start.
    pub at: SystemTime,
    /// Time between trial starts (the trial's duration and a margin).
    pub slot: Duration,
}

/// `--gate RULES [--gate-baseline B]`: the rules file, and the run relative rules compare with.
#[derive(Debug, Clone)]
pub struct GatePlan {
    /// The rules file.
    pub rules: PathBuf,
    /// The baseline run.
    pub baseline: Option<PathBuf>,
}

/// `[http]`: a team's own API, and the population of its tenants file.
#[derive(Debug, Clone)]
pub struct StagingPlan {
    /// The API: base URL, endpoints, secrets.
    pub api: std::sync::Arc<crate::http::staging::Staging>,
    /// Its tenants.
    pub tenants: crate::population::Population,
}

/// How `load` reaches the tenant API.
#[derive(Debug, Clone)]
pub struct HttpPlan {
    /// The binary that serves the API (this one): `load` starts `serve --variant` per trial.
    pub exe: PathBuf,
    /// The `serve` flags that name the data: scenario, prefix, scale, the server's backend
    /// and URI come through the environment (never the command line, which `ps` shows).
    pub serve_args: Vec<String>,
    /// `--host`: attack the API there instead of starting `serve`.
    pub host: Option<String>,
    /// `[http]`: a team's own API, and its tenants file's population.
    pub staging: Option<StagingPlan>,
}

impl RunPlan {
    /// The driver of a backend kind for this run's servers.
    pub fn driver(&self, kind: BackendKind) -> AnyDriver {
        driver(&self.server, kind)
    }

    /// Which copy of its data trial `trial` of variant `v` runs on when load generators run
    /// (`run --seed-only` seeds every copy, `run --worker` runs on them, neither reloads
    /// between trials). A workload that never writes leaves the data as seeded, so every trial
    /// runs on copy 1. One that writes gets a copy per trial of the data: the trials over the
    /// same data ([`RunPlan::dataset_prefix`], kind, layout, index profile) numbered in the
    /// order every generator runs them — trial by trial, the variants in matrix order — so
    /// each trial starts on data as seeded, as a single `run` does by reloading dirty data.
    pub fn generator_copy(&self, v: &Variant, trial: u32) -> u32 {
        if self.scenario.mix_writes().is_none() {
            return 1;
        }
        let key = |x: &Variant| {
            (
                x.backend,
                x.layout,
                x.indexes.clone(),
                self.dataset_prefix(x),
            )
        };
        let mine = key(v);
        let same: Vec<String> = self
            .scenario
            .matrix
            .variants
            .iter()
            .filter(|o| key(o) == mine)
            .map(Variant::id)
            .collect();
        let at = same.iter().position(|id| *id == v.id()).unwrap_or(0);
        (trial.max(1) - 1) * same.len() as u32 + at as u32 + 1
    }

    /// The prefix of a variant's dataset: the scenario's, or that of the variant's scaled or
    /// rule-set copy ([`Scenario::for_variant`]). Variants with one prefix share databases.
    pub fn dataset_prefix(&self, v: &Variant) -> String {
        match self.scenario.for_variant(v) {
            Ok(Some(d)) => d.prefix,
            _ => self.scenario.prefix.clone(),
        }
    }

    /// Every set of databases this plan's load generators run on, once each, in the order the
    /// trials first use them: what `run --seed-only` seeds and `run --worker` checks.
    pub fn generator_data(&self) -> Vec<GeneratorData> {
        let s = &self.scenario;
        let mut out: Vec<GeneratorData> = Vec::new();
        for trial in 1..=s.matrix.repeat {
            for v in &s.matrix.variants {
                let copy = self.generator_copy(v, trial);
                let prefix = generator_prefix(&self.dataset_prefix(v), &v.indexes, copy);
                let seen = |d: &GeneratorData| {
                    (d.variant.backend, d.variant.layout, &d.prefix)
                        == (v.backend, v.layout, &prefix)
                };
                if !out.iter().any(seen) {
                    out.push(GeneratorData {
                        variant: v.clone(),
                        trial,
                        copy,
                        prefix,
                    });
                }
            }
        }
        out
    }
}

/// One set of databases load generators run on ([`RunPlan::generator_data`]).
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorData {
    /// The first variant whose trials use it: its dataset, database kind, layout and index
    /// profile are the data's.
    pub variant: Variant,
    /// That variant's trial that uses it first.
    pub trial: u32,
    /// The copy ([`RunPlan::generator_copy`]).
    pub copy: u32,
    /// Its databases' prefix ([`generator_prefix`] of the dataset's prefix).
    pub prefix: String,
}

/// The scenario a load generator's trial runs on: `data` (the run's scenario, or the variant's
/// scaled or rule-set copy of it) in the databases of the variant's index profile and the
/// trial's copy ([`RunPlan::generator_copy`]), named by [`generator_prefix`]. A single `run`
/// keeps `data`'s own databases, reloading them when the profile changes or writes made them
/// dirty; generators, which never seed, need every trial's data seeded beforehand, so every
/// (profile, copy) has databases of its own.
pub fn generator_scenario(data: &Scenario, indexes: &str, copy: u32) -> Scenario {
    Scenario {
        prefix: generator_prefix(&data.prefix, indexes, copy),
        ..data.clone()
    }
}
