//! The results file (`results.json` in a run directory): what reports, gates and `merge` read.
//! Plain serde types; the JSON Schema in `docs/results.schema.json` is generated from them
//! (`tenantbench schema`), and a test fails when the committed copy is stale.
//!
//! Histograms are stored whole (HdrHistogram V2 deflate encoding, base64, as in `.hlog` files),
//! so results merge across trials and load generators by adding histograms; the percentiles
//! next to them are derived from those histograms, never averaged.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::op::{ErrorKind, Op, Outcome};

/// Version of the results format; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 2;

/// A whole run: the scenario, where it ran, and every trial of every variant.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Results {
    /// [`SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// The scenario that was run.
    pub scenario: ScenarioInfo,
    /// Harness, machine and servers.
    pub environment: Environment,
    /// When the run started (UTC, RFC 3339).
    pub started_at: String,
    /// When the run ended; absent while it runs.
    pub finished_at: Option<String>,
    /// True when the run was stopped (Ctrl-C) before every trial ran.
    pub interrupted: bool,
    /// Load generator `i/N` that wrote these results (absent: the only one); `merge` clears it.
    pub worker: Option<String>,
    /// The load generators whose results these are: one entry in a `run --worker`'s results,
    /// every generator's after `merge` (with each one's CPU per trial); empty for a run by one
    /// process.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub generators: Vec<Generator>,
    /// Tenant classes, in the order histograms use (tiers, then roles).
    pub classes: Vec<String>,
    /// The phases of every trial.
    pub phases: Vec<PhaseInfo>,
    /// The variants of the matrix.
    pub variants: Vec<VariantInfo>,
    /// How many times the matrix was repeated (trials per variant).
    pub repeat: u32,
    /// Every trial that ran, in the order it ran (variants interleaved: A B A B …).
    pub trials: Vec<Trial>,
    /// Per variant, the spread of key figures across its trials.
    pub spread: Vec<Spread>,
}

impl Results {
    /// The trials of a variant that ran (complete or interrupted, not failed or partial), in
    /// run order: what every figure across trials is computed from.
    pub fn trials_of<'a>(&'a self, variant: &'a str) -> impl Iterator<Item = &'a Trial> + 'a {
        self.trials.iter().filter(move |t| {
            t.variant == variant
                && matches!(t.status, TrialStatus::Complete | TrialStatus::Interrupted)
        })
    }

    /// Operations of a variant that returned another tenant's records (outcome `leak`), over
    /// its trials that ran.
    pub fn leaks_of(&self, variant: &str) -> u64 {
        self.trials_of(variant)
            .flat_map(|t| &t.groups)
            .filter(|g| g.outcome == GroupOutcome::Leak)
            .map(|g| g.response.count)
            .sum()
    }
}

/// The scenario, as far as results need it. Never holds a URI: scenarios name environment
/// variables, and the text is stored with anything that looks like credentials redacted.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct ScenarioInfo {
    /// Scenario name.
    pub name: String,
    /// The file it was read from.
    pub file: String,
    /// xxh3-128 of the scenario text.
    pub hash: String,
    /// Seed of population, data and workload.
    pub seed: u64,
    /// The question the scenario asks.
    pub question: Option<String>,
    /// Tenants in the population.
    pub tenants: u64,
    /// Documents in the population.
    pub documents: u64,
    /// Database name prefix.
    pub prefix: String,
    /// `--scale`: the run used a copy of the scenario with tenants, documents and durations
    /// times this (1: as written).
    #[serde(default = "one")]
    pub scale: f64,
    /// Seconds each trial's workload was scheduled to run (`duration_s`); `None` when the
    /// workload stops after a count of operations.
    #[serde(default)]
    pub duration_s: Option<f64>,
    /// The scenario file's text.
    pub text: String,
    /// `[target] existing = true`: the team's own database the run read instead of generated
    /// data (absent for generated data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetInfo>,
}

/// The existing database a run read (`[target] existing = true`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
pub struct TargetInfo {
    /// Database kind (`mongodb`, `postgres`).
    pub backend: String,
    /// The database read.
    pub database: String,
    /// PostgreSQL: the schema first on the `search_path`, when one was set.
    #[serde(default)]
    pub schema: Option<String>,
    /// The tenant field, when it was given or detected (`None` with a tenants file and no
    /// field).
    #[serde(default)]
    pub tenant_field: Option<String>,
    /// Where the tenants and their weights came from.
    pub tenants_from: String,
    /// Whether the mix only read: no write was sent (the run's connections were read-only on
    /// PostgreSQL); `false` when `--allow-writes` let its writes through.
    pub read_only: bool,
}

fn one() -> f64 {
    1.0
}

/// Where the run happened.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
pub struct Environment {
    /// tenantbench version.
    pub harness_version: String,
    /// Git commit of the harness build, when known.
    pub git_commit: Option<String>,
    /// The harness's build profile, `release` or `debug` (a debug build can be the bottleneck it
    /// measures); absent in results written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
    /// Operating system and kernel.
    pub os: String,
    /// Logical CPUs of the load generator's machine.
    pub cores: u32,
    /// Memory of the load generator's machine, bytes.
    pub memory_bytes: u64,
    /// The database servers used.
    pub servers: Vec<ServerInfo>,
}

/// One database server.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
pub struct ServerInfo {
    /// `default`, the environment variable a hybrid placement names, or `postgres`.
    pub role: String,
    /// Backend kind (`mongodb` or `postgres`).
    pub backend: String,
    /// Version the server reports.
    pub version: Option<String>,
    /// Set when the server is a surrogate (SecantusDB) rather than the real database.
    pub surrogate: Option<String>,
    /// Storage engine.
    pub storage_engine: Option<String>,
    /// WiredTiger cache size, bytes.
    pub wt_cache_bytes: Option<u64>,
    /// True when the server process was found on this machine (its CPU time is then recorded).
    pub local: bool,
}

/// A phase of a trial.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct PhaseInfo {
    /// Name (`warmup`, `steady`, `burst`, …).
    pub name: String,
    /// False for the warm-up: excluded from summaries.
    pub measured: bool,
    /// Time windows of the phase, seconds from the trial's start: `[start, end)`.
    pub windows: Vec<[f64; 2]>,
}

/// One point of the matrix.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct VariantInfo {
    /// Short, file-name-safe identifier (`shared-none-p16-single-c8`).
    pub id: String,
    /// Every setting in words (`mongodb · shared · indexes none · pool 100 · …`).
    pub label: String,
    /// The scenario's own short name for the variant (`label` in `[[matrix.variant]]`);
    /// absent: reports name it by what differs from the other variants.
    #[serde(default)]
    pub name: Option<String>,
    /// `mongodb`.
    pub backend: String,
    /// `shared`, `per-tenant`, `hybrid`, `schema-per-tenant` or `rls`.
    pub layout: String,
    /// The hybrid layout's named rule set; absent: the default rules (or not hybrid).
    #[serde(default)]
    pub hybrid: Option<String>,
    /// Index profile.
    pub indexes: String,
    /// Driver pool: most connections per client.
    pub max_pool_size: u32,
    /// Driver pool: connections kept open per client.
    pub min_pool_size: u32,
    /// `single-client` or `client-per-tenant`.
    pub strategy: String,
    /// Closed loop: workers each running one operation at a time.
    pub concurrency: Option<u32>,
    /// Open loop: operations per second.
    pub rate: Option<f64>,
    /// Open loop: the in-flight cap.
    pub workers: Option<u32>,
    /// The matrix's data scale of this variant (1: the run's population).
    #[serde(default = "one")]
    pub scale: f64,
    /// Documents in this variant's population (differs between variants of a `scale` axis).
    #[serde(default)]
    pub documents: Option<u64>,
}

/// How a trial ended.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TrialStatus {
    /// Ran to its stop condition.
    Complete,
    /// Stopped early by Ctrl-C; what ran is recorded.
    Interrupted,
    /// Could not run (e.g. seeding failed); see `error`.
    Failed,
    /// Written while the trial ran (results.json is rewritten at least once a minute during
    /// a trial): its timeline and counts up to then, no latency groups. Found after a run, the
    /// harness stopped before the trial ended; `--resume` runs it again. Left out of every
    /// figure.
    Partial,
}

/// One run of one variant.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Trial {
    /// Variant id.
    pub variant: String,
    /// Trial number, from 1.
    pub trial: u32,
    /// How it ended.
    pub status: TrialStatus,
    /// Why it failed.
    pub error: Option<String>,
    /// When it started (UTC, RFC 3339).
    pub started_at: String,
    /// Seconds from the first operation's intended start to the last operation's end.
    pub elapsed_s: f64,
    /// Operations in all phases.
    pub operations: u64,
    /// Failed operations in all phases.
    pub errors: u64,
    /// Operations in all phases that returned another tenant's records (an isolation failure).
    #[serde(default)]
    pub leaks: u64,
    /// Operations that started more than 1 ms after their intended start (open loop).
    pub late_starts: u64,
    /// Open loop: operations the schedule intended, counted apart from the recorder:
    /// `operations + unissued` equals it unless an operation was lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intended: Option<u64>,
    /// Open loop: how late operations started after their intended start (every phase), µs —
    /// the harness's own lateness, which response times include.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_lag: Option<Summary>,
    /// Open loop: how workers waited for intended starts (`precise`: a timerfd per worker;
    /// `runtime`: tokio's millisecond timer); `None` for a closed loop and older results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timer: Option<String>,
    /// Open loop: operations intended before the trial's duration that never started, because
    /// the trial reached its overrun limit still working off a backlog (`overrun_s`). Above 0,
    /// the server did not keep up and the trial's percentiles are a lower bound.
    #[serde(default)]
    pub unissued: u64,
    /// Histograms and summaries per phase, op, class and outcome.
    pub groups: Vec<Group>,
    /// Per-tenant figures for a sample of tenants across size ranks, per operation they ran
    /// (measured phases).
    pub tenants: Vec<TenantSample>,
    /// Per second and class, by intended start: counts and percentiles of that second.
    pub timeline: Vec<SecondSummary>,
    /// The trial's interval log, relative to the run directory.
    pub hlog: Option<String>,
    /// What explains the figures.
    pub evidence: Evidence,
}

/// The histograms of one (phase, op, class, outcome).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Group {
    /// Phase name.
    pub phase: String,
    /// Operation.
    pub op: Op,
    /// Tenant class.
    pub class: String,
    /// `ok`, `not_found`, `leak` (another tenant's records came back) or `error`.
    pub outcome: GroupOutcome,
    /// Error kind when `outcome` is `error`.
    pub error_kind: Option<ErrorKind>,
    /// Operations per second over the phase's measured time.
    pub throughput: f64,
    /// Response time (from the intended start): what a user waits.
    pub response: Summary,
    /// Service time (from the actual start): what the database took.
    pub service: Summary,
    /// Response-time histogram (HdrHistogram V2 deflate, base64).
    pub response_histogram: String,
    /// Service-time histogram (HdrHistogram V2 deflate, base64).
    pub service_histogram: String,
}

/// What a group's operations came to, as the results file names it (the error's kind apart,
/// in [`Group::error_kind`]).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum GroupOutcome {
    /// Done.
    Ok,
    /// The record or tenant asked for does not exist.
    NotFound,
    /// Another tenant's records came back.
    Leak,
    /// Failed.
    Error,
}

impl GroupOutcome {
    /// Splits an outcome into the results file's `outcome` and `error_kind`.
    pub fn of(o: Outcome) -> (GroupOutcome, Option<ErrorKind>) {
        match o {
            Outcome::Ok => (GroupOutcome::Ok, None),
            Outcome::NotFound => (GroupOutcome::NotFound, None),
            Outcome::Leak => (GroupOutcome::Leak, None),
            Outcome::Error(k) => (GroupOutcome::Error, Some(k)),
        }
    }
}

/// One sampled tenant's figures for one operation over the measured phases.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct TenantSample {
    /// Tenant id.
    pub tenant: String,
    /// Operation.
    pub op: Op,
    /// Size rank, 1 = largest.
    pub rank: u32,
    /// Documents of the tenant in the collection the operation reads or writes.
    pub documents: u64,
    /// Class.
    pub class: String,
    /// Failed operations.
    pub errors: u64,
    /// Response times of successful operations.
    pub response: Summary,
    /// Their histogram (HdrHistogram V2 deflate, base64).
    pub histogram: String,
}

/// One second of one class, by intended start time.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct SecondSummary {
    /// Second since the trial's start.
    pub t: u64,
    /// Class.
    pub class: String,
    /// Failed operations intended to start in this second.
    pub errors: u64,
    /// Of those, how many of each kind (only kinds that occurred).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub error_kinds: std::collections::BTreeMap<ErrorKind, u64>,
    /// Response times of the successful ones.
    pub response: Summary,
}

pub use super::generators::{Generator, GeneratorShare, GeneratorTrial};
pub use super::memory::{MemoryEvidence, RssSample};
pub use super::plan::ExplainRecord;
pub use super::summary::{DecodeError, Summary, decode, encode};
pub use super::trial_evidence::{
    CheckoutEvidence, ConnectionSample, CpuEvidence, DataEvidence, Evidence, FaultEvidence,
    HttpEvidence, MigrationEvidence, RegistryEvidence, ServerCpu,
};

/// What the terminal, the report's caveats and the gate say of a run that measured empty
/// queries ([`super::plan::empty_plans`] over its trials).
pub fn empty_plans(r: &Results) -> Vec<String> {
    super::plan::empty_plans(
        r.trials
            .iter()
            .map(|t| (t.variant.as_str(), t.evidence.explain.as_slice())),
        r.scenario.target.is_some(),
    )
}

/// The spread of one figure across a variant's trials.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Spread {
    /// Variant id.
    pub variant: String,
    /// Phase.
    pub phase: String,
    /// Class, or `all`.
    pub class: String,
    /// Successful operations per second, per trial.
    pub throughput: Vec<f64>,
    /// p50 response time per trial, µs.
    pub p50_us: Vec<u64>,
    /// p99 response time per trial, µs.
    pub p99_us: Vec<u64>,
    /// Response times of all trials merged (histograms added, not percentiles averaged).
    pub merged: Summary,
    /// (max − min) / min of the per-trial p99, when there are two trials or more.
    pub p99_relative_range: Option<f64>,
}

/// The JSON Schema of [`Results`], pretty-printed, as committed in `docs/results.schema.json`.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Results);
    let mut s = serde_json::to_string_pretty(&schema).expect("schema serialises");
    s.push('\n');
    s
}
