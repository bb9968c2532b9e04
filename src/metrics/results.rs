//! The results file (`results.json` in a run directory): what reports, gates and `merge` read.
//! Plain serde types; the JSON Schema in `docs/results.schema.json` is generated from them
//! (`tenantbench schema`), and a test fails when the committed copy is stale.
//!
//! Histograms are stored whole (HdrHistogram V2 deflate encoding, base64, as in `.hlog` files),
//! so results merge across trials and load generators by adding histograms; the percentiles
//! next to them are derived from those histograms, never averaged.

use std::collections::BTreeMap;
use std::io::Cursor;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2DeflateSerializer};
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

/// Latency figures of a histogram, microseconds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
pub struct Summary {
    /// Values recorded.
    pub count: u64,
    /// Mean, µs.
    pub mean_us: f64,
    /// Median, µs.
    pub p50_us: u64,
    /// 90th percentile, µs.
    pub p90_us: u64,
    /// 99th percentile, µs.
    pub p99_us: u64,
    /// 99.9th percentile, µs.
    pub p999_us: u64,
    /// Largest value, µs.
    pub max_us: u64,
}

impl Summary {
    /// The summary of a histogram (all zero when it is empty).
    pub fn of(h: &Histogram<u64>) -> Summary {
        if h.is_empty() {
            return Summary::default();
        }
        Summary {
            count: h.len(),
            mean_us: (h.mean() * 10.0).round() / 10.0,
            p50_us: h.value_at_quantile(0.5),
            p90_us: h.value_at_quantile(0.9),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
        }
    }
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

/// What explains a trial's figures.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
pub struct Evidence {
    /// Data state: loaded or reused, sizes, index builds.
    pub data: DataEvidence,
    /// `explain` (executionStats) of one representative call per operation, for the largest
    /// tenant and a median-size tenant.
    pub explain: Vec<ExplainRecord>,
    /// `serverStatus.connections` once a second, per server.
    pub connections: Vec<ConnectionSample>,
    /// Driver connection-pool checkouts (CMAP events) of the trial's clients.
    pub checkout: CheckoutEvidence,
    /// CPU time of the harness and (when local) the server.
    pub cpu: CpuEvidence,
    /// Client-per-tenant registry counters (that strategy only).
    pub registry: Option<RegistryEvidence>,
    /// The harness's own resident memory during the measurement.
    #[serde(default)]
    pub memory: Option<MemoryEvidence>,
    /// `load`: the trial went through the tenant API, driven by goose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpEvidence>,
    /// A tenant moved while the workload ran (`[[phase]] migrate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration: Option<MigrationEvidence>,
    /// The scenario's faults (`[[fault]]`) as this trial went through them, in time order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultEvidence>,
}

/// One fault during a trial: when it really began and ended, what it did, and how the workload
/// recovered. Times are seconds from the trial's start, as the timeline's.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
pub struct FaultEvidence {
    /// `pause_server`, `restart_server`, `kill_connections` or `lock_tenant`.
    pub kind: String,
    /// `lock_tenant`: the tenant whose table was locked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// When the scenario put it.
    pub planned_at_s: f64,
    /// How long the scenario made it.
    pub planned_duration_s: f64,
    /// When it began (the signal sent, the lock granted, the kill issued).
    pub began_s: Option<f64>,
    /// When it ended (the server resumed or started again, the lock released).
    pub ended_s: Option<f64>,
    /// What it did, in words (the pid signalled, connections ended, the table locked).
    pub detail: String,
    /// Why it could not be injected, or did not end cleanly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Failed operations intended from its start until 10 s after its end, by kind.
    pub errors: BTreeMap<ErrorKind, u64>,
    /// From its end to the end of the first successful operation after it.
    pub first_ok_after_s: Option<f64>,
    /// p99 (ms) of successful operations, every class, in the 5 s before it began.
    pub p99_before_ms: Option<f64>,
    /// The first whole second from its end whose p99 (every class) was within 1.5× of
    /// `p99_before_ms` again, from its end (to the second); `None`: not within the run.
    pub p99_recovered_s: Option<f64>,
}

/// A migration during a trial: what moved where, how fast, how long the tenant was held, and
/// whether it verified and cut over.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
pub struct MigrationEvidence {
    /// The tenant moved.
    pub tenant: String,
    /// Its class in the trial's groups (`moving-<id>`, whatever its role).
    pub class: String,
    /// The phase that started it.
    pub phase: String,
    /// Source database.
    pub from: String,
    /// Destination database.
    pub to: String,
    /// Destination placement kind (`dedicated`, `pooled`, `shared`).
    pub kind: String,
    /// How writes during the copy were kept (`write-freeze`).
    pub method: String,
    /// Seconds from the trial's start (warm-up included) to the migration's start.
    pub started_s: f64,
    /// The copy's rate limit, records per second (absent: unlimited).
    pub rate_limit: Option<f64>,
    /// Records the bulk copy moved.
    pub records: u64,
    /// Seconds of the bulk copy.
    pub copy_s: f64,
    /// Records re-copied or removed by the catch-ups: the tenant's writes during the copy.
    pub caught_up: u64,
    /// Seconds the tenant's operations were held (last catch-up, verification, cut-over):
    /// its unavailability window.
    pub freeze_s: f64,
    /// Seconds from the migration's start to its cut-over.
    pub cut_over_s: f64,
    /// Whether source and destination had the same counts and checksums.
    pub verified: bool,
    /// Whether the tenant was routed to its destination.
    pub cut_over: bool,
    /// Whether it finished while the workload still ran.
    pub within_run: bool,
    /// Records deleted from the source after the cut-over (absent: kept).
    pub deleted_source: Option<u64>,
    /// Why it stopped, if it failed.
    pub error: Option<String>,
}

impl MigrationEvidence {
    /// Bulk-copy throughput, records per second.
    pub fn copy_rate(&self) -> f64 {
        if self.copy_s > 0.0 {
            self.records as f64 / self.copy_s
        } else {
            0.0
        }
    }
}

/// A trial run through the tenant API (`tenantbench load`): who generated the load, how, and
/// what goose itself counted.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
pub struct HttpEvidence {
    /// The load generator (`goose 0.19.0`).
    pub engine: String,
    /// The API's base URL (credentials removed): `serve` on loopback, or `--host`.
    pub base_url: String,
    /// Whether `load` started the API (`serve --variant`) for this trial.
    pub started_api: bool,
    /// Goose users (each bound to one tenant per phase).
    pub users: u64,
    /// Goose's throttle: the most requests per second across all users (open-loop variants).
    pub throttle_rps: Option<u64>,
    /// Goose's test plan (`users,time;…`).
    pub test_plan: String,
    /// Goose's coordinated-omission mitigation (`average`, …, `disabled`).
    pub co_mitigation: String,
    /// Requests goose sent (its own count).
    pub requests: u64,
    /// Requests goose counted as failed (including its synthetic copies).
    pub goose_failures: u64,
    /// Synthetic requests goose's mitigation added to its own figures (never sent, never in
    /// tenantbench's histograms).
    pub synthetic_requests: u64,
    /// Stalls goose's mitigation detected (a user's iteration over twice its cadence).
    pub co_events: u64,
    /// Goose's own p99 of all requests, µs: measured (raw) and with its synthetic backfill.
    pub goose_p99_us: Option<u64>,
    /// The same with goose's backfill.
    pub goose_p99_backfilled_us: Option<u64>,
    /// Goose's own report files, in the run directory.
    pub reports: Vec<String>,
}

/// The data a trial ran on.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
pub struct DataEvidence {
    /// Databases of the layout.
    pub databases: u64,
    /// Databases (re)loaded before this trial.
    pub loaded: u64,
    /// Databases reused as they were.
    pub reused: u64,
    /// Tenant collections.
    pub collections: u64,
    /// Secondary indexes in the layout.
    pub indexes: u64,
    /// Indexes built before this trial.
    pub indexes_built: u64,
    /// Storage size of the layout's databases (`dbStats.storageSize`), bytes.
    pub storage_bytes: i64,
    /// Index size (`dbStats.indexSize`), bytes.
    pub index_bytes: i64,
    /// Seconds spent seeding or rebuilding indexes before the trial.
    pub prepare_s: f64,
}

/// One `serverStatus.connections` reading.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct ConnectionSample {
    /// Seconds since the trial's start.
    pub t_s: f64,
    /// Server role (`default` or the variable name).
    pub server: String,
    /// `connections.current`.
    pub current: i64,
    /// `connections.totalCreated`.
    pub total_created: i64,
    /// `current` minus the reading before the trial's clients existed: the trial's own
    /// connections, pooled and monitoring (the sampler's connection is in the baseline).
    pub trial: i64,
}

/// Connection-pool checkouts.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
pub struct CheckoutEvidence {
    /// Successful checkouts.
    pub checkouts: u64,
    /// Failed checkouts (timeouts, pool cleared).
    pub failed: u64,
    /// Connections the pools created.
    pub connections_created: u64,
    /// Wait from checkout start to a connection in hand, µs.
    pub wait: Summary,
    /// Its histogram (HdrHistogram V2 deflate, base64).
    pub wait_histogram: String,
}

/// CPU time during a trial.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
pub struct CpuEvidence {
    /// Wall-clock seconds of the measurement.
    pub wall_s: f64,
    /// CPU seconds of the harness process (user + system).
    pub harness_s: f64,
    /// CPU seconds of the local server process, when found.
    pub server_s: Option<f64>,
    /// Logical CPUs of the machine.
    pub cores: u32,
    /// CPU seconds of every local server of the placement (the first is `server_s`), and the
    /// CPUs each may run on — pinned servers show it.
    #[serde(default)]
    pub servers: Vec<ServerCpu>,
    /// The CPUs the harness may run on.
    #[serde(default)]
    pub harness_cpus: Option<String>,
}

/// One local server's CPU during a measurement.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
pub struct ServerCpu {
    /// `default`, or the environment variable naming the server.
    pub role: String,
    /// CPU seconds (user + system; PostgreSQL: the postmaster's process tree).
    pub cpu_s: f64,
    /// `Cpus_allowed_list` of the process (`0` when pinned to CPU 0).
    pub cpus: Option<String>,
}

pub use super::generators::{Generator, GeneratorShare, GeneratorTrial};
pub use super::memory::{MemoryEvidence, RssSample};
pub use super::plan::ExplainRecord;

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

/// Counters of the client-per-tenant registry.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
pub struct RegistryEvidence {
    /// Registry capacity.
    pub max_clients: u64,
    /// Clients created.
    pub created: u64,
    /// Clients evicted as least recently used.
    pub evicted_lru: u64,
    /// Clients evicted after the idle TTL.
    pub evicted_idle: u64,
    /// Most clients held at once.
    pub max_held: u64,
    /// Response times of the operations that created their tenant's client (a tenant's first
    /// request while it had none: client creation, connection handshake, the operation).
    #[serde(default)]
    pub cold_start: Option<Summary>,
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

/// Encodes a histogram as HdrHistogram V2 deflate, base64 (the `.hlog` encoding).
pub fn encode(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    // Serialising into a Vec cannot fail for a valid histogram.
    V2DeflateSerializer::new()
        .serialize(h, &mut buf)
        .expect("histogram serialises");
    B64.encode(buf)
}

/// Decodes a histogram written by [`encode`] (or taken from an `.hlog` line).
///
/// # Errors
/// A description of what is wrong with the text.
pub fn decode(s: &str) -> Result<Histogram<u64>, String> {
    let bytes = B64
        .decode(s.trim())
        .map_err(|e| format!("histogram is not base64: {e}"))?;
    let mut h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut Cursor::new(bytes))
        .map_err(|e| format!("histogram does not decode: {e:?}"))?;
    h.auto(true);
    Ok(h)
}

/// The JSON Schema of [`Results`], pretty-printed, as committed in `docs/results.schema.json`.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Results);
    let mut s = serde_json::to_string_pretty(&schema).expect("schema serialises");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{histogram, put};

    #[test]
    fn histograms_round_trip_through_the_hlog_encoding() {
        let mut h = histogram();
        for v in [1, 5, 900, 12_000, 3_000_000] {
            put(&mut h, v);
        }
        let back = decode(&encode(&h)).expect("decodes");
        assert_eq!(back.len(), 5);
        assert_eq!(back.max(), h.max());
        assert_eq!(back.value_at_quantile(0.5), h.value_at_quantile(0.5));
        assert!(decode("not base64!").is_err());
    }

    #[test]
    fn summary_of_an_empty_histogram_is_zero() {
        assert_eq!(Summary::of(&histogram()), Summary::default());
    }
}
