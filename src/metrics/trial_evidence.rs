//! The evidence of a trial as the results file records it: what explains its figures — the
//! data it ran on, plans, connections, pool checkouts, CPU, the client registry — and what
//! happened during it (faults, a migration, load through the tenant API).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::memory::MemoryEvidence;
use super::plan::ExplainRecord;
use super::summary::Summary;
use crate::op::ErrorKind;

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
