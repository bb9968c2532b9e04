//! Command-line definitions (clap derive) and nothing else.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::layout::Layout;
use crate::scenario::IndexBuild;

/// Measures multi-tenant database layouts: seeds skewed tenant populations into shared,
/// per-tenant and hybrid layouts, verifies them, and runs tenant workloads over a matrix of
/// variants into results files.
#[derive(Debug, Parser)]
#[command(
    name = "tenantbench",
    version,
    about,
    after_help = "EXAMPLES:
  scripts/mongo-local.sh start                                   # a local MongoDB-wire server
  tenantbench doctor                                             # is it there, what is it
  tenantbench seed --scenario scenarios/quickstart.toml          # seed the scenario's default layout
  tenantbench seed --scenario scenarios/quickstart.toml --layout per-tenant --indexes compound
  tenantbench verify --scenario scenarios/quickstart.toml --layout per-tenant
  tenantbench plan --scenario scenarios/quickstart.toml          # what a run would do
  tenantbench run --scenario scenarios/quickstart.toml           # matrix × trials -> reports/…
  tenantbench ls
  tenantbench drop --scenario scenarios/quickstart.toml --layout hybrid

The MongoDB URI comes from --uri, else $TENANTBENCH_MONGO_URI, else mongodb://127.0.0.1:27017.
Credentials in a URI are never printed or stored."
)]
pub struct Cli {
    /// More log output (-v: debug, -vv: trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Seed a scenario's tenants into a layout (reuses databases that already hold the same data).
    #[command(after_help = "EXAMPLES:
  tenantbench seed --scenario scenarios/quickstart.toml
  tenantbench seed --scenario scenarios/skewed-10k.toml --layout hybrid --workers 8
  tenantbench seed --scenario scenarios/quickstart.toml --indexes none   # only rebuilds indexes")]
    Seed(SeedArgs),
    /// Check counts and checksums per tenant and collection against the generator.
    #[command(after_help = "EXAMPLES:
  tenantbench verify --scenario scenarios/quickstart.toml
  tenantbench verify --scenario scenarios/quickstart.toml --layout per-tenant")]
    Verify(VerifyArgs),
    /// List the databases created by tenantbench on a server.
    #[command(after_help = "EXAMPLES:
  tenantbench ls
  tenantbench ls --prefix tb_quickstart     # only inspects databases named tb_quickstart_*")]
    Ls(LsArgs),
    /// Drop the databases tenantbench created for a scenario or prefix (never any other).
    #[command(after_help = "EXAMPLES:
  tenantbench drop --scenario scenarios/quickstart.toml               # every layout
  tenantbench drop --scenario scenarios/quickstart.toml --layout per-tenant
  tenantbench drop --prefix tb_quickstart")]
    Drop(DropArgs),
    /// Check a server: reachable, version, surrogate or not, round-trip time, cache size.
    Doctor(ServerArgs),
    /// Run the scenario's matrix: every variant `repeat` times, interleaved (A B A B), seeding
    /// or reusing data per variant; write reports/<scenario>-<UTC>/ with results.json and one
    /// .hlog interval log per trial; print a summary table. Ctrl-C stops cleanly and keeps
    /// what ran.
    #[command(after_help = "EXAMPLES:
  tenantbench run --scenario scenarios/quickstart.toml
  tenantbench run --scenario scenarios/quickstart.toml --indexes tenant --repeat 1   # one variant
  tenantbench run --scenario scenarios/quickstart.toml --resume reports/quickstart-20261125T190405Z
  # two load generators, each half the load, aligned in time; then merge their results:
  tenantbench run -s F --seed-only
  tenantbench run -s F --worker 0/2 --start-at 2026-11-25T20:00:00Z --out reports/g0
  tenantbench run -s F --worker 1/2 --start-at 2026-11-25T20:00:00Z --out reports/g1
  tenantbench merge reports/g0 reports/g1 -o reports/merged

--layout and --indexes replace that axis of the matrix by one value.")]
    Run(RunArgs),
    /// Print what `run` would do — variants, databases, documents, disk, connections, time —
    /// without touching a server.
    #[command(after_help = "EXAMPLES:
  tenantbench plan --scenario scenarios/quickstart.toml
  tenantbench plan --scenario scenarios/skewed-10k.toml --layout per-tenant
  tenantbench plan --scenario scenarios/skewed-100k.toml --project 1000000   # every layout at 1M tenants")]
    Plan(PlanArgs),
    /// Merge the run directories of several load generators (`run --worker i/N`) into one, by
    /// adding histograms and interval logs (never averaging percentiles).
    #[command(after_help = "EXAMPLES:
  tenantbench merge reports/g0 reports/g1 -o reports/merged")]
    Merge(MergeArgs),
    /// Write the HTML report (index.html, summary.md, one .svg per chart) of a run directory,
    /// or of a current run against a baseline run.
    #[command(after_help = "EXAMPLES:
  tenantbench report reports/quickstart-20261125T204337Z
  tenantbench report reports/quickstart-20261125T204337Z -o /tmp/report
  # baseline first, current last: deltas per variant, op and class, curves overlaid
  tenantbench report reports/quickstart-20261120T090000Z reports/quickstart-20261125T204337Z -o /tmp/cmp")]
    Report(ReportArgs),
    /// Judge a run against rules (absolute thresholds, relative to a baseline run with the
    /// trials' noise taken into account, isolation, plans): a table, Markdown for a pull-request
    /// comment, JUnit XML; exit 0 pass, 1 a rule failed, 2 bad input or runs that differ.
    #[command(after_help = "EXAMPLES:
  tenantbench gate reports/quickstart-20261201T101500Z --rules gates/default.toml
  tenantbench gate reports/current --baseline ci/baseline/results.json --rules gates/default.toml \\
      --markdown gate.md --junit gate.xml
  # a failure exits 1; an inconclusive relative rule (trials overlap) warns, unless --strict")]
    Gate(GateArgs),
    /// Serve the reference multi-tenant API (HTTP, JSON) over the data `seed` made, in one
    /// configuration: the layout and indexes `seed` uses (or the flags'), the pool size and
    /// strategy of the scenario's first variant (or the flags'). The tenant comes from the /t/{tenant}/… path or the X-Tenant-ID header
    /// (under /api/…). Ctrl-C or SIGTERM stops it after answering the requests in flight.
    #[command(after_help = "EXAMPLES:
  tenantbench seed --scenario scenarios/quickstart.toml --layout per-tenant
  tenantbench serve --scenario scenarios/quickstart.toml --layout per-tenant --listen 127.0.0.1:8080
  curl 'http://127.0.0.1:8080/t/t00001/orders?status=paid'           # list_recent
  curl -H 'X-Tenant-ID: t00042' http://127.0.0.1:8080/api/orders/7    # get_by_id
  curl -X PATCH -H 'content-type: application/json' -d '{\"status\":\"refunded\"}' \\
       http://127.0.0.1:8080/t/t00042/orders/7                        # update_status

ENDPOINTS (tenant T, record number N, order status S):
  GET   /healthz                         GET  /admin/orders-per-tenant
  GET   /t/T/orders?status=S             POST /t/T/orders  {\"n\": N}
  GET   /t/T/orders/count?status=S       GET  /t/T/orders/N
  PATCH /t/T/orders/N {\"status\": \"refunded\"}
  GET   /t/T/users/lookup?n=N            GET  /t/T/revenue
  (the same under /api/… with the X-Tenant-ID header)")]
    Serve(ServeArgs),
    /// Run the matrix through the tenant API with goose: for each variant `load` seeds (or
    /// reuses) its data, starts `serve` in that configuration, attacks it and stops it; same
    /// results, interval logs, report and gate as `run`, plus goose's own reports.
    #[command(after_help = "EXAMPLES:
  tenantbench load --scenario scenarios/http-layouts.toml --scale 0.1   # serve per variant, report
  tenantbench load --scenario scenarios/http-layouts.toml --repeat 1 --layout per-tenant
  # an API already running (one configuration: narrow the matrix to it)
  tenantbench serve --scenario scenarios/quickstart.toml --layout per-tenant --listen 127.0.0.1:8080 &
  tenantbench load --scenario scenarios/quickstart.toml --layout per-tenant --indexes compound \\
      --host http://127.0.0.1:8080

Each request's tenant is drawn by the scenario's tenant choice (with `session_ops = N` a goose
user keeps one for N requests, as a logged-in session does); closed-loop variants run `concurrency` users, open-loop variants `workers` users under
goose's throttle at `rate` requests/s. Timings run from each request's start to its last body
byte; goose users are closed loops: docs/http.md says what that means for coordinated omission.")]
    Load(LoadArgs),
    /// Audit a database you did not seed with tenantbench, read-only: per collection or table,
    /// whether documents carry the tenant field, which indexes it leads, the plan of the
    /// largest tenant's query, unique indexes that are not tenant-scoped, a verdict and the
    /// command that fixes it.
    #[command(after_help = "EXAMPLES:
  tenantbench audit --uri mongodb://127.0.0.1:27017 --db app
  tenantbench audit --db app --tenant-field companyId --json audit.json --markdown audit.md
  tenantbench audit --backend postgres --uri postgres://reader@db.internal/app --schema public
  tenantbench audit --db app --fail-on missing      # CI: exit 1 when a tenant index is missing

The tenant field is detected when not given: of the fields named like one (tenant, tenantId,
tenant_id, companyId, orgId, organizationId, accountId, workspaceId, customerId, teamId), the one
the most sampled documents carry. Only reads are sent: listDatabases, listCollections,
listIndexes, count, $sample and explain (the largest tenant's query runs once per collection);
on PostgreSQL the catalogs, pg_stats, a sample of rows and EXPLAIN without ANALYZE, in READ ONLY
sessions. Run it as a role that can only read.")]
    Audit(AuditArgs),
    /// Profile the tenants of a database you did not seed with tenantbench, read-only:
    /// documents per tenant per collection, the size distribution fitted to them (with the
    /// fit's error), the collection mix; write a scenario that reproduces the population
    /// synthetically (no document, value or tenant id copied).
    #[command(after_help = "EXAMPLES:
  tenantbench profile --db app -o scenarios/app-profile.toml
  tenantbench profile --backend postgres --uri postgres://reader@db.internal/app -o app.toml
  tenantbench run --scenario scenarios/app-profile.toml --scale 0.01 --repeat 1   # then run it

Collections of up to --exact-up-to documents are counted exactly ($group / GROUP BY); larger
ones from a random sample of that many, scaled to their size (tenants the sample misses are
missing from the profile).")]
    Profile(ProfileArgs),
    /// Move one tenant to a dedicated, pooled or the shared database of its layout, verified:
    /// copy its records in batches (resumable), build the index profile, catch up with changes
    /// made meanwhile, compare counts and checksums, then cut over in the tenant directory that
    /// `run`, `serve` and `verify` route by.
    #[command(after_help = "EXAMPLES:
  tenantbench seed --scenario scenarios/quickstart.toml
  tenantbench migrate --scenario scenarios/quickstart.toml --tenant t00003 --to dedicated --dry-run
  tenantbench migrate --scenario scenarios/quickstart.toml --tenant t00003 --to dedicated
  tenantbench verify --scenario scenarios/quickstart.toml     # follows the tenant directory
  tenantbench migrate --scenario scenarios/quickstart.toml --tenant t00003 --to shared --delete-source
  tenantbench migrate -s scenarios/quickstart.toml --tenant t00007 --to pooled --copy-rate 2000

Tenants move within the shared and hybrid layouts: dedicated is <prefix>_shared_mv_t_<tenant>
(_hy_mv_t_ in hybrid), pooled <prefix>_shared_mv_pool_<n> (4 tenants each), shared the layout's
shared database. A killed migration continues from its checkpoint when run again. Writes made
through this process's directory during the cut-over wait (write freeze); stop writers in other
processes while a tenant is cut over. Exit 0 verified and moved, 1 verification failed (nothing
cut over), 2 bad input or a refused destination.")]
    Migrate(MigrateArgs),
    /// Print the JSON Schema of results.json (as committed in docs/results.schema.json), or of
    /// another file the harness writes.
    Schema(SchemaArgs),
}

/// `migrate` arguments.
#[derive(Debug, Args, Clone)]
pub struct MigrateArgs {
    /// Scenario, layout (shared or hybrid), prefix and server.
    #[command(flatten)]
    pub target: Target,
    /// The tenant to move (its id, e.g. t00003).
    #[arg(long, value_name = "ID")]
    pub tenant: String,
    /// Where to: a database of its own, a pooled database, or the layout's shared database.
    #[arg(long, value_enum)]
    pub to: crate::layout::PlacementKind,
    /// The index profile, built in the destination.
    #[command(flatten)]
    pub indexes: Indexes,
    /// Print what would move, its size and an estimated time; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// After the cut-over, delete the tenant's records from the source (marks it dirty).
    #[arg(long)]
    pub delete_source: bool,
    /// Records per copy batch (1 to 100000).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub batch_size: usize,
    /// Copy at most this many records per second (default: as fast as the servers take it).
    #[arg(long, value_name = "RECORDS_PER_S")]
    pub copy_rate: Option<f64>,
    /// Progress bars.
    #[command(flatten)]
    pub progress: Progress,
}

/// A team's own database, as `audit` and `profile` read it.
#[derive(Debug, Args, Clone)]
pub struct OwnDatabase {
    /// Server.
    #[command(flatten)]
    pub server: ServerArgs,
    /// A database to read (repeat for several). Default: MongoDB every database but admin,
    /// local and config; PostgreSQL the URI's database.
    #[arg(long = "db", value_name = "NAME")]
    pub databases: Vec<String>,
    /// PostgreSQL: a schema to read (repeat for several). Default: every schema but the
    /// system's.
    #[arg(long = "schema", value_name = "NAME")]
    pub schemas: Vec<String>,
    /// The tenant field or column (default: detected).
    #[arg(long, value_name = "FIELD")]
    pub tenant_field: Option<String>,
}

/// `profile` arguments.
#[derive(Debug, Args, Clone)]
pub struct ProfileArgs {
    /// The database to profile.
    #[command(flatten)]
    pub own: OwnDatabase,
    /// Count collections of up to this many documents exactly; sample larger ones.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub exact_up_to: u64,
    /// The scenario file to write.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: PathBuf,
    /// Replace the file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// `schema` arguments.
#[derive(Debug, Args, Clone)]
pub struct SchemaArgs {
    /// Which file: results (results.json) or audit (`audit --json`).
    #[arg(value_enum, default_value = "results")]
    pub file: SchemaFile,
}

/// A file with a JSON Schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemaFile {
    /// results.json of a run (docs/results.schema.json).
    Results,
    /// The audit file (docs/audit.schema.json).
    Audit,
}

/// Verdicts `audit --fail-on` exits 1 for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// A collection with the tenant field but no index led by it.
    Missing,
    /// A unique index that is not tenant-scoped.
    Unique,
    /// Either.
    Any,
}

/// `audit` arguments.
#[derive(Debug, Args, Clone)]
pub struct AuditArgs {
    /// The database to audit.
    #[command(flatten)]
    pub own: OwnDatabase,
    /// Documents or rows sampled per collection or table.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub sample: u64,
    /// Write the audit as JSON here (schema: `tenantbench schema audit`).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write the audit as Markdown here.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Exit 1 when a finding of this kind is found (repeat or comma-separate for several).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "KIND")]
    pub fail_on: Vec<FailOn>,
}

/// `run` arguments.
#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    /// Scenario, layout, indexes, prefix, server and seeding options (as for seed).
    #[command(flatten)]
    pub seed: SeedArgs,
    /// Trials per variant, instead of the scenario's `matrix.repeat`.
    #[arg(long)]
    pub repeat: Option<u32>,
    /// Run directory (default: reports/<scenario>-<UTC time>).
    #[arg(long, short = 'o', value_name = "DIR", conflicts_with = "resume")]
    pub out: Option<PathBuf>,
    /// Continue a run directory: skip the trials already complete there.
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// This process is load generator i of N (0-based): it runs 1/N of the load (its part of
    /// the concurrency, or every N-th intended start of the open loop's schedule, and of the
    /// pool) and never seeds (seed first with `run --seed-only`).
    #[arg(long, value_name = "i/N", value_parser = parse_worker)]
    pub worker: Option<(u32, u32)>,
    /// Seed (or reuse) the data of every variant of the matrix, then exit without measuring:
    /// the step before `run --worker` generators (a Kubernetes seeding Job,
    /// scripts/run-workers.sh).
    #[arg(long, conflicts_with_all = ["worker", "resume", "start_at", "gate"])]
    pub seed_only: bool,
    /// Do not write the HTML report into the run directory at the end.
    #[arg(long)]
    pub no_report: bool,
    /// Start the first trial at this UTC time (yyyy-mm-ddThh:mm:ssZ), so that generators on
    /// several machines run their phases aligned in time.
    #[arg(long, value_name = "UTC", value_parser = parse_utc)]
    pub start_at: Option<std::time::SystemTime>,
    /// With --start-at: seconds between one aligned trial's end and the next one's start, for
    /// the data check, explain and clients in between (a trial whose preparation takes longer
    /// starts late, and says so).
    #[arg(long, value_name = "SECONDS", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub trial_gap: u64,
    /// At the end, judge the run with this gate rules file (as `tenantbench gate`); the run then
    /// exits with the gate's status (1 a rule failed, 2 runs that cannot be compared).
    #[arg(long, value_name = "RULES")]
    pub gate: Option<PathBuf>,
    /// The baseline run for the gate's relative rules (a run directory or results.json).
    #[arg(long, value_name = "BASELINE", requires = "gate")]
    pub gate_baseline: Option<PathBuf>,
    /// Send the writes of a mix to data that is not tenantbench's: a `[target]` database's
    /// own operations that are not `read_only`, a staging API's POST, PUT, PATCH and DELETE
    /// endpoints (`load`). Without it, such a mix is refused before anything is sent.
    #[arg(long)]
    pub allow_writes: bool,
    /// Open loop: how workers wait for each intended start. `precise` (a Linux timerfd per
    /// worker) starts within microseconds; `runtime` (tokio's timer) up to a millisecond or two
    /// late, as before — kept to measure the difference.
    #[arg(long, value_enum, default_value_t = crate::runner::Timer::Precise)]
    pub timer: crate::runner::Timer,
    /// During a trial, rewrite results.json this often (seconds) with the trial so far as
    /// `partial` (its timeline, counts and memory samples), so a crash of a long run loses at
    /// most this much. `--resume` runs a partial trial again.
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub checkpoint_every: u64,
}

/// `load` arguments: `run`'s, and where the API is.
#[derive(Debug, Args, Clone)]
pub struct LoadArgs {
    /// `run`'s flags.
    #[command(flatten)]
    pub run: RunArgs,
    /// Attack the API at this base URL instead of starting `serve` per variant; the matrix
    /// must then be one server-side configuration (narrow it with --layout and --indexes).
    #[arg(long, value_name = "URL")]
    pub host: Option<String>,
}

/// `gate` arguments.
#[derive(Debug, Args, Clone)]
pub struct GateArgs {
    /// The run to judge: a run directory or its results.json.
    #[arg(value_name = "CURRENT")]
    pub current: PathBuf,
    /// The run to compare with for relative rules: a run directory or a results.json.
    #[arg(long, value_name = "BASELINE")]
    pub baseline: Option<PathBuf>,
    /// Rules file (TOML): [[absolute]], [[relative]], [[isolation]], [[plan]] rules.
    #[arg(long, value_name = "FILE")]
    pub rules: PathBuf,
    /// Write JUnit XML here (one test case per rule and selection).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write the Markdown summary here (for a pull-request comment).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Compare runs of different scenario text, scale, backends or server versions anyway.
    #[arg(long)]
    pub allow_mismatch: bool,
    /// Fail (exit 1) on inconclusive findings too.
    #[arg(long)]
    pub strict: bool,
}

/// `report` arguments.
#[derive(Debug, Args, Clone)]
pub struct ReportArgs {
    /// Run directories (each holding results.json). With several, the first is the baseline
    /// and the last the current run: the report is the current run's, with its deltas against
    /// the baseline and the two runs' percentile curves overlaid.
    #[arg(value_name = "DIR", required = true, num_args = 1..)]
    pub dirs: Vec<PathBuf>,
    /// Where to write the report (default: the first run directory).
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// `plan` arguments.
#[derive(Debug, Args, Clone)]
pub struct PlanArgs {
    /// Scenario file (TOML).
    #[arg(long, short = 's', value_name = "FILE")]
    pub scenario: PathBuf,
    /// The database kind.
    #[command(flatten)]
    pub backend: Backend,
    /// Only this layout (replaces the matrix's layout axis).
    #[arg(long, short = 'l', value_enum)]
    pub layout: Option<Layout>,
    /// The index profile.
    #[command(flatten)]
    pub indexes: Indexes,
    /// Trials per variant, instead of the scenario's.
    #[arg(long)]
    pub repeat: Option<u32>,
    /// A scaled copy of the scenario, as for `run --scale`.
    #[arg(long, value_name = "F")]
    pub scale: Option<f64>,
    /// Instead of the plan: what N tenants of this scenario's shape would need in every layout
    /// on both databases (databases, collections, indexes, mongod files, PostgreSQL catalog,
    /// connections, harness memory) and where each layout meets a known limit.
    #[arg(long, value_name = "N", conflicts_with_all = ["backend", "layout", "indexes", "repeat", "scale"])]
    pub project: Option<u64>,
}

/// `merge` arguments.
#[derive(Debug, Args, Clone)]
pub struct MergeArgs {
    /// Run directories of the load generators.
    #[arg(required = true, num_args = 2.., value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Output run directory.
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: PathBuf,
}

/// Which server.
#[derive(Debug, Args, Clone)]
pub struct ServerArgs {
    /// The database kind.
    #[command(flatten)]
    pub backend: Backend,
    /// URI of the --backend's default server. Default: $TENANTBENCH_MONGO_URI, else
    /// mongodb://127.0.0.1:27017; for postgres $TENANTBENCH_PG_URI, else
    /// postgres://postgres@127.0.0.1:5432/postgres. Credentials are never printed or stored.
    #[arg(long)]
    pub uri: Option<String>,
}

/// `--backend`: the database kind (MongoDB when not given), in every command that names one.
#[derive(Debug, Args, Clone, Copy, Default)]
pub struct Backend {
    /// Database kind: mongodb (default) or postgres; --uri then names a server of that kind.
    #[arg(long = "backend", value_enum)]
    pub kind: Option<crate::op::BackendKind>,
}

/// `--indexes`: an index profile, in every command that names one.
#[derive(Debug, Args, Clone, Default)]
pub struct Indexes {
    /// Index profile: none, tenant, compound, or one the scenario defines (default: the
    /// scenario's `[load] indexes` for the data; for `run` and `plan`, every profile of the
    /// matrix).
    #[arg(long = "indexes", short = 'i', value_name = "PROFILE")]
    pub profile: Option<String>,
}

/// `--no-progress`, in every command that draws progress bars.
#[derive(Debug, Args, Clone, Copy, Default)]
pub struct Progress {
    /// No progress bars (or live line).
    #[arg(long = "no-progress")]
    pub off: bool,
}

impl Progress {
    /// Whether to draw them.
    pub fn shown(self) -> bool {
        !self.off
    }
}

impl ServerArgs {
    /// The backend asked for (mongodb when none).
    pub fn backend(&self) -> crate::op::BackendKind {
        self.backend.kind.unwrap_or(crate::op::BackendKind::Mongodb)
    }
}

/// `ls` arguments.
#[derive(Debug, Args, Clone)]
pub struct LsArgs {
    /// Only databases of this prefix.
    #[arg(long)]
    pub prefix: Option<String>,
    /// Each database's size too. MongoDB asks `dbStats` per database, which the local
    /// surrogate answers by reading the data (7.8 s for a 1.5 GiB database); PostgreSQL's sizes
    /// come from its catalog and are always shown.
    #[arg(long)]
    pub sizes: bool,
    /// Server.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Which scenario, layout and databases.
#[derive(Debug, Args, Clone)]
pub struct Target {
    /// Scenario file (TOML).
    #[arg(long, short = 's', value_name = "FILE")]
    pub scenario: PathBuf,
    /// Layout (default: the scenario's `layout.default`, else shared).
    #[arg(long, short = 'l', value_enum)]
    pub layout: Option<Layout>,
    /// Database name prefix, overriding the scenario's.
    #[arg(long)]
    pub prefix: Option<String>,
    /// A scaled copy of the scenario: tenants, documents and every duration times F (at least
    /// 20 tenants), in databases of its own (prefix `<prefix>_s<F>`); 0.01 for a smoke run.
    #[arg(long, value_name = "F")]
    pub scale: Option<f64>,
    /// Server.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// `seed` arguments.
#[derive(Debug, Args, Clone)]
pub struct SeedArgs {
    /// Scenario, layout, prefix and server.
    #[command(flatten)]
    pub target: Target,
    /// The index profile.
    #[command(flatten)]
    pub indexes: Indexes,
    /// Documents per insert_many (default: the scenario's, else 1000).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Concurrent insert workers (default: the scenario's, else 4).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Build indexes before or after the bulk load (default: the scenario's, else after).
    #[arg(long, value_enum)]
    pub index_build: Option<IndexBuild>,
    /// Drop and reload even databases that already hold the same complete data.
    #[arg(long)]
    pub reseed: bool,
    /// Progress bars.
    #[command(flatten)]
    pub progress: Progress,
}

/// `verify` arguments.
#[derive(Debug, Args, Clone)]
pub struct VerifyArgs {
    /// Scenario, layout, prefix and server.
    #[command(flatten)]
    pub target: Target,
    /// Progress bars.
    #[command(flatten)]
    pub progress: Progress,
}

/// `drop` arguments.
#[derive(Debug, Args, Clone)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["scenario", "prefix"])))]
pub struct DropArgs {
    /// Scenario whose databases to drop.
    #[arg(long, short = 's', value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Only this layout's databases.
    #[arg(long, short = 'l', value_enum)]
    pub layout: Option<Layout>,
    /// Prefix whose databases to drop (with --scenario: overrides the scenario's prefix).
    #[arg(long)]
    pub prefix: Option<String>,
    /// Server.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// `serve` arguments.
#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    /// Scenario, layout, prefix and server.
    #[command(flatten)]
    pub target: Target,
    /// The index profile the data was seeded with.
    #[command(flatten)]
    pub indexes: Indexes,
    /// Connection strategy (default: the scenario's first variant's).
    #[arg(long, value_enum)]
    pub strategy: Option<crate::scenario::Strategy>,
    /// Most connections per driver client (default: the scenario's first variant's).
    #[arg(long, value_name = "N")]
    pub max_pool_size: Option<u32>,
    /// Address to listen on (port 0: any free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Serve exactly this matrix variant (its id, as `plan` lists them): `load` starts one
    /// `serve` per variant this way.
    #[arg(long, value_name = "ID", hide = true, conflicts_with_all = ["indexes", "strategy", "max_pool_size"])]
    pub variant: Option<String>,
    /// On shutdown, write the API's connection evidence (JSON) to this file: for `load`.
    #[arg(long, value_name = "FILE", hide = true)]
    pub evidence: Option<PathBuf>,
}

/// `--worker i/N`: load generator i of N (0 <= i < N <= 1000); also how results name one.
///
/// # Errors
/// Anything else, in words clap prints after the flag.
pub fn parse_worker(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("{s:?}: expected i/N with 0 <= i < N <= 1000, e.g. 0/2");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (u32, u32) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || n > 1000 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// `--start-at`: a UTC time as yyyy-mm-ddThh:mm:ssZ.
fn parse_utc(s: &str) -> Result<std::time::SystemTime, String> {
    crate::clock::parse_rfc3339(s)
        .ok_or_else(|| format!("{s:?}: expected a UTC time as yyyy-mm-ddThh:mm:ssZ"))
}
