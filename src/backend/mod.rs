//! Databases: the operation contract the runner drives ([`Backend`]), everything else a
//! database kind does for the commands ([`Driver`]: seed, verify, list, drop, doctor, server
//! facts, trial preparation, explain evidence), the code every kind shares (`marker`, `seed`,
//! `verify`), and the registration of the kinds ([`AnyDriver`], [`with_driver!`]). Backends
//! measure no latency; they report facts (counts, sizes, build times) as data. No database
//! folder (`mongo/`, `postgres/`) imports another.

pub mod custom;
pub mod marker;
pub mod migrate;
pub mod migration_plan;
pub mod migration_rates;
pub mod mongo;
pub mod null;
pub mod postgres;
pub mod seed;
pub mod verify;

use std::future::Future;
use std::sync::Arc;

use crate::audit::{Gathered, Scope};
use crate::layout::{Layout, Move, Placement, Server};
use crate::metrics::results::{Evidence, ExplainRecord, ServerInfo};
use crate::op::{BackendKind, ErrorKind, Outcome, Request};
use crate::population::Population;
use crate::profile::Profiled;
use crate::scenario::{Scenario, Variant};
use marker::{DropOutcome, MarkedDb};
use migrate::{Live, MigrateOptions, MigrationReport, MoveSpec};
use migration_plan::MovePlan;
use seed::{SeedOptions, SeedSummary};
use verify::VerifyReport;

/// How many records `list_recent` returns.
pub const LIST_LIMIT: i64 = 20;
/// The date range of `revenue_by_day`: the 30 days before the end of the generated range.
pub const REVENUE_DAYS: i64 = 30;
/// Databases (or schemas) counted at once by `admin_cross_tenant` in layouts that split data.
pub const FAN_OUT: usize = 8;

/// The logical answer of an operation, comparable across layouts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `_id`s in result order.
    Ids(Vec<String>),
    /// A count.
    Count(u64),
    /// One `_id`, or none.
    One(Option<String>),
    /// (day as yyyy-mm-dd, revenue in cents) in day order.
    Revenue(Vec<(String, i64)>),
    /// (tenant, orders) sorted by tenant.
    PerTenant(Vec<(String, u64)>),
    /// Documents written.
    Written(u64),
    /// Rows of values as text, in result order (a scenario's own operations: each document's
    /// values in field order, each row's columns).
    Rows(Vec<Vec<String>>),
    /// Records of other tenants came back: `foreign` of `returned` records were not the asked
    /// tenant's (by their own tenant field). Never handed on as an answer.
    Leak {
        /// Records the operation returned.
        returned: u64,
        /// Of those, records whose tenant field is another tenant's (or missing).
        foreign: u64,
    },
}

/// The tenant check every record-returning read makes: `owners` are the tenant fields of the
/// records an operation returned (`None`: the record had none), `asked` the tenant it was
/// asked for. `Some(leak)` when any record is not the asked tenant's, to answer instead of the
/// records. The check reads what the database returned, so a wrong row-level security policy
/// or a router that resolved another tenant is caught, whatever the query said.
pub fn leak_in<'a>(
    asked: &str,
    owners: impl IntoIterator<Item = Option<&'a str>>,
) -> Option<Answer> {
    let (mut returned, mut foreign) = (0u64, 0u64);
    for o in owners {
        returned += 1;
        foreign += u64::from(o != Some(asked));
    }
    (foreign > 0).then_some(Answer::Leak { returned, foreign })
}

/// The status an operation filters on (`list_recent`, `count_by_status`): derived from the
/// key, so every backend and layout asks the same.
pub fn status_of(req: &Request) -> &'static str {
    let s = crate::datagen::Collection::Orders.statuses();
    s[(req.key % s.len() as u64) as usize].0
}

/// A database as the runner sees it: operations in, outcomes out, no timing (the runner times
/// every call from outside, as YCSB's `DBWrapper` does).
pub trait Backend: Send + Sync + 'static {
    /// Executes one operation. Called by every runner worker, concurrently, once per operation;
    /// must not panic on a failed operation but return [`Outcome::Error`].
    fn execute(&self, req: &Request) -> impl Future<Output = Outcome> + Send;

    /// Executes one operation and returns its answer: the same database work as
    /// [`Backend::execute`], for callers that hand the answer on (the reference HTTP API, one
    /// call per request) and tests that compare it. A failure is its countable kind only: a
    /// driver's message can name servers, and callers pass this on to clients.
    fn respond(&self, req: &Request) -> impl Future<Output = Result<Answer, ErrorKind>> + Send;

    /// The tenant directory it routes by, for a migration during a trial to freeze and flip
    /// (`None`: a backend whose tenants cannot move, such as the null backend).
    fn directory(&self) -> Option<Arc<crate::directory::Directory>> {
        None
    }
}

impl Answer {
    /// What [`Backend::execute`] counts this answer as: nothing found or written is
    /// `NotFound`, another tenant's records `Leak`, anything else `Ok`.
    pub fn outcome(&self) -> Outcome {
        match self {
            Answer::One(None) | Answer::Written(0) => Outcome::NotFound,
            Answer::Leak { .. } => Outcome::Leak,
            _ => Outcome::Ok,
        }
    }
}

/// A fault a driver injected: when it began and ended, and what it did.
#[derive(Debug, Clone)]
pub struct FaultDone {
    /// When it took effect (the signal sent, the lock granted, the kill issued).
    pub began: std::time::Instant,
    /// When it was lifted (the server resumed or started again, the lock released).
    pub ended: std::time::Instant,
    /// What it did, in words, without credentials.
    pub detail: String,
    /// It was injected, but ending it went wrong (a server that did not come back).
    pub error: Option<String>,
}

/// Waits `d`, or until `cancel` fires: a fault's hold.
pub async fn hold(d: std::time::Duration, cancel: &tokio_util::sync::CancellationToken) {
    tokio::select! {
        () = tokio::time::sleep(d) => {}
        () = cancel.cancelled() => {}
    }
}

/// The routing fault of the tenant check's tests (`with_misrouting` on each backend): with
/// `on`, the request goes as the next tenant's by rank, as a router that resolved the wrong
/// tenant would send it.
pub fn misrouted(req: &Request, on: bool, tenants: usize) -> Request {
    let mut r = *req;
    if on {
        r.tenant = (r.tenant + 1) % tenants.max(1);
    }
    r
}

/// What a trial runs on: the data's scenario and population, where the tenants live, and the
/// variant's settings (pool sizes, strategy, pacing).
#[derive(Debug, Clone, Copy)]
pub struct TrialSetup<'a> {
    /// The data: scenario, population and placement.
    pub data: Dataset<'a>,
    /// The variant.
    pub variant: &'a Variant,
    /// `run --worker i/N`: this process is load generator i of N (it must not seed).
    pub worker: Option<(u32, u32)>,
}

impl TrialSetup<'_> {
    /// Most requests in flight at once: a pool never needs more connections than this.
    pub fn in_flight(&self) -> usize {
        self.variant.pacer.workers()
    }
}

/// A token unique to one backend instance (process id and the time), which `insert_one` puts
/// into the ids it makes: generators of one run (`run --worker`), and the trials of one, insert
/// into the same data without an id colliding.
pub fn insert_token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{:x}.{nanos:x}", std::process::id())
}

/// The doctor's findings about a server, for the terminal.
#[derive(Debug, Clone, Default)]
pub struct Doctor {
    /// What was checked, e.g. `MongoDB at mongodb://127.0.0.1:27017` (never with credentials).
    pub title: String,
    /// Why the server could not be reached, if it could not.
    pub unreachable: Option<String>,
    /// What to do about it: how to start a server and point the harness at it.
    pub hints: Vec<String>,
    /// The server answered but refused the credentials (authentication or permission): the
    /// doctor says so instead of "not reachable".
    pub refused: bool,
    /// (label, value) facts about a reachable server, in order.
    pub facts: Vec<(&'static str, String)>,
}

/// What a trial's data is: the scenario that defines it, its population, and where every
/// tenant lives (one layout's placement).
#[derive(Debug, Clone, Copy)]
pub struct Dataset<'a> {
    /// The scenario the data is defined by (a variant's scaled or rule-set copy included).
    pub scenario: &'a Scenario,
    /// Its population.
    pub pop: &'a Population,
    /// Where every tenant lives in the variant's layout.
    pub placement: &'a Placement,
}

/// A database kind's part in a trial: load or check its data, refuse what the server cannot
/// run, open the trial's clients, explain, close. The app picks one driver per command (or per
/// variant of a run, through [`with_driver!`]) and writes every step once, generic over it
/// (`trial`). What the commands need besides — administration, inspection of a team's own
/// databases, moving tenants, faults — are the capability traits [`Admin`], [`Inspect`],
/// [`Migrate`] and [`Faults`], each implemented in the kind's file for that work. Each
/// method's doc says who calls it and when.
// The harness awaits drivers on its own task, so the futures need no `Send` bound.
#[allow(async_fn_in_trait)]
pub trait Driver {
    /// The operation catalogue on this database, for one trial.
    type Backend: Backend;
    /// What a trial keeps open besides the backend (connection samplers, client registries).
    type Session;
    /// The database kind's error.
    type Error: std::error::Error + Send + Sync + 'static;
    /// What the kind's records are called in tables (`documents`, `rows`).
    const RECORDS: &'static str;

    /// The kind.
    fn kind(&self) -> BackendKind;

    /// The default server's URI, with credentials hidden (for messages).
    fn redacted_uri(&self) -> String;

    /// `seed`, and each trial of `run` before the clock: loads or reuses a placement's data.
    async fn seed(
        &self,
        data: &Dataset<'_>,
        opts: &SeedOptions,
    ) -> Result<SeedSummary, Self::Error>;

    /// Each trial of `run --worker`: checks, without writing, that `seed` left the data there.
    async fn check_ready(
        &self,
        data: &Dataset<'_>,
        opts: &SeedOptions,
    ) -> Result<SeedSummary, Self::Error>;

    /// `verify`: counts and checksums of every tenant collection against the generator.
    async fn verify(&self, data: &Dataset<'_>, progress: bool)
    -> Result<VerifyReport, Self::Error>;

    /// `plan`, without a server: the connections a variant would open, in words, with the
    /// arithmetic ([`preflight`](Driver::preflight) refuses by the same arithmetic).
    fn connections(&self, c: &Connections<'_>) -> String;

    /// Each trial, before its data is prepared: refuses a variant this server cannot run (for
    /// instance more connections than it allows), before anything is created.
    async fn preflight(&self, t: &TrialSetup<'_>) -> Result<(), Self::Error>;

    /// Each trial, after its data is prepared: connection sampling from a baseline taken now,
    /// then the trial's clients or pools, and the backend on them.
    async fn open(
        &self,
        t: &TrialSetup<'_>,
    ) -> Result<(Arc<Self::Backend>, Self::Session), Self::Error>;

    /// Each trial, before the load: the plan evidence of one request (the tenant's fields are
    /// filled in by the caller), `None` when the operation has no plan to show.
    async fn explain(&self, backend: &Self::Backend, req: &Request) -> Option<ExplainRecord>;

    /// Each trial, after the load: stops sampling, adds the connection evidence to `evidence`,
    /// closes the trial's clients.
    async fn close(
        &self,
        t: &TrialSetup<'_>,
        session: Self::Session,
        backend: Arc<Self::Backend>,
        evidence: &mut Evidence,
    );
}

impl<'a> Dataset<'a> {
    /// The data of `scenario`'s population `pop`, placed by `placement`.
    pub fn new(scenario: &'a Scenario, pop: &'a Population, placement: &'a Placement) -> Self {
        Dataset {
            scenario,
            pop,
            placement,
        }
    }
}

/// What `plan` asks a driver about a variant's connections.
#[derive(Debug, Clone, Copy)]
pub struct Connections<'a> {
    /// The scenario.
    pub scenario: &'a Scenario,
    /// The variant.
    pub variant: &'a Variant,
    /// Its population.
    pub pop: &'a Population,
    /// Databases the variant's placement has.
    pub databases: u64,
    /// Servers the variant's placement uses.
    pub servers: u64,
}

/// Administration: the marked databases, the server's health and facts, and the CPU of local
/// servers (`ls`, `drop`, `doctor`, each run's environment and each trial's CPU marks).
#[allow(async_fn_in_trait)]
pub trait Admin: Driver {
    /// `ls`: the databases carrying a marker (of `prefix` or its scaled copies when given), with
    /// each one's size when `sizes` (or when the database reports sizes cheaply).
    async fn list(&self, prefix: Option<&str>, sizes: bool) -> Result<Vec<MarkedDb>, Self::Error>;

    /// `drop`: drops the marked databases of `prefix` (of one layout when given), refusing the
    /// rest.
    async fn drop(&self, prefix: &str, layout: Option<Layout>) -> Result<DropOutcome, Self::Error>;

    /// `doctor`: reachability, version and settings of the default server.
    async fn doctor(&self) -> Doctor;

    /// `run`, once at its start: the facts of every server the matrix's placements use.
    async fn server_infos(&self, servers: &[Server]) -> Result<Vec<ServerInfo>, Self::Error>;

    /// Each trial: the placement's servers that run on this machine, as (role, pid), the
    /// default one first, so their CPU can be measured.
    fn local_servers(&self, placement: &Placement) -> Vec<(String, u32)>;

    /// CPU seconds a local server has used so far (its process, or its whole process tree for
    /// servers that fork a process per connection).
    fn server_cpu(&self, pid: u32) -> Option<f64>;
}

/// Inspection of a team's own databases, read-only (`audit`, `profile`).
#[allow(async_fn_in_trait)]
pub trait Inspect: Driver {
    /// `audit`: the collections or tables of a team's own databases, their tenant field, and
    /// the explained tenant query of each one's largest tenant — read-only (reads, catalogs,
    /// explain; PostgreSQL sessions are `READ ONLY`).
    async fn audit(&self, scope: &Scope) -> Result<Gathered, Self::Error>;

    /// `profile`: documents per tenant of each collection or table of a team's own databases
    /// that carries the tenant field (detected from a sample of `scope.sample` when not
    /// given) — exact up to `exact_up_to` documents a collection, scaled from a sample of that
    /// many above; read-only.
    async fn profile(&self, scope: &Scope, exact_up_to: u64) -> Result<Profiled, Self::Error>;
}

/// Moving tenants between databases and the tenant directory that routes them (`migrate`, a
/// trial's migration phase, and every command that reads where tenants live).
#[allow(async_fn_in_trait)]
pub trait Migrate: Driver {
    /// `verify`, `serve`, `migrate` and each trial of `run`, after the data is there: the
    /// tenant directory of a placement's home database (its version and the tenants moved
    /// away from where the layout's rules put them); none where the layout has no home or the
    /// home does not exist yet.
    async fn directory(&self, placement: &Placement) -> Result<(u64, Vec<Move>), Self::Error>;

    /// The placement of `layout` as the tenant directory in its home database has it now: the
    /// rules' placement with every recorded move applied, and the directory's version.
    async fn placed(
        &self,
        s: &Scenario,
        pop: &Population,
        layout: Layout,
    ) -> Result<(Placement, u64), Placed<Self::Error>> {
        let base = s.placement(pop, layout);
        let (version, moves) = self.directory(&base).await.map_err(Placed::Driver)?;
        let placement = base
            .with_moves(pop, &moves)
            .map_err(|reason| Placed::Directory { layout, reason })?;
        Ok((placement, version))
    }

    /// Each trial of a scenario that migrates, before its data is prepared: drops the
    /// databases earlier migrations created in the layout of `placement` (by name and marker)
    /// and clears its directory, so every trial starts from the tenants where the rules put
    /// them. Returns the databases dropped.
    async fn reset_moves(
        &self,
        prefix: &str,
        placement: &Placement,
    ) -> Result<Vec<String>, Self::Error>;

    /// `migrate`, and a trial's migration phase: moves one tenant (see
    /// [`migrate::migrate`]), inside a run when `live` is given.
    async fn migrate(
        &self,
        spec: &MoveSpec<'_>,
        opts: &MigrateOptions,
        live: Option<Live<'_>>,
    ) -> Result<MigrationReport, Self::Error>;

    /// `migrate --dry-run`: what a move would copy, and an estimate of its time; writes
    /// nothing.
    async fn plan_migration(
        &self,
        spec: &MoveSpec<'_>,
        opts: &MigrateOptions,
    ) -> Result<MovePlan, Self::Error>;
}

/// Why [`Migrate::placed`] has no placement.
#[derive(Debug, thiserror::Error)]
pub enum Placed<E: std::error::Error + 'static> {
    /// The directory could not be read.
    #[error(transparent)]
    Driver(E),
    /// The directory names a tenant the scenario does not have.
    #[error("the tenant directory of layout {layout}: {reason}")]
    Directory {
        /// The layout whose directory it is.
        layout: Layout,
        /// What is wrong with it.
        reason: crate::layout::PlacementError,
    },
}

/// Faults injected during a trial (`[[fault]]`).
#[allow(async_fn_in_trait)]
pub trait Faults: Driver {
    /// Each trial of a scenario with `[[fault]]`s, at each fault's time: injects it (on the
    /// local server of `placement`'s home database, on the trial's own connections, or on the
    /// tenant's table), holds it for its duration — ended early when `cancel` fires — and ends
    /// it, calling `on_end` the moment it ends (the caller times recovery from there; a kill
    /// ends at once and is then watched for the rest of the duration). An error when this
    /// database or its server cannot have the fault (a remote server, no pid file); the trial
    /// goes on without it.
    async fn fault(
        &self,
        placement: &Placement,
        pop: &Population,
        fault: &crate::scenario::faults::FaultSpec,
        cancel: &tokio_util::sync::CancellationToken,
        on_end: &dyn Fn(std::time::Instant),
    ) -> Result<FaultDone, Self::Error>;
}

/// Every capability: what a command that runs trials needs of a kind. Implemented for each
/// driver that has them all.
pub trait FullDriver: Driver + Admin + Migrate + Faults {}
impl<D: Driver + Admin + Migrate + Faults> FullDriver for D {}

/// The database kinds, registered once. Adding a kind: its folder under `backend/`, a
/// [`BackendKind`] word, and one line in this enum, in [`AnyDriver::new`] and in
/// [`with_driver!`].
#[derive(Debug)]
pub enum AnyDriver {
    /// MongoDB, or a MongoDB-wire server.
    Mongodb(mongo::MongoDriver),
    /// PostgreSQL.
    Postgres(postgres::PgDriver),
}

impl AnyDriver {
    /// The driver of a kind for the server of `uri` (`None`: the kind's environment variable,
    /// else its default).
    pub fn new(kind: BackendKind, uri: Option<&str>) -> AnyDriver {
        match kind {
            BackendKind::Mongodb => AnyDriver::Mongodb(mongo::MongoDriver::new(uri)),
            BackendKind::Postgres => AnyDriver::Postgres(postgres::PgDriver::new(uri)),
        }
    }
}

/// The environment variable that names a kind's default server (`--uri` overrides it).
pub fn uri_env(kind: BackendKind) -> &'static str {
    match kind {
        BackendKind::Mongodb => mongo::URI_ENV,
        BackendKind::Postgres => postgres::URI_ENV,
    }
}

/// Runs `$body` with `$d` bound to the concrete driver inside an [`AnyDriver`]: the one place
/// the app branches on the database kind. `$body` is compiled once per kind (static dispatch).
#[macro_export]
macro_rules! with_driver {
    ($any:expr, |$d:ident| $body:expr) => {
        match $any {
            $crate::backend::AnyDriver::Mongodb($d) => $body,
            $crate::backend::AnyDriver::Postgres($d) => $body,
        }
    };
}

/// The URI a driver uses: the one given, else the environment variable's when set and not
/// empty, else the default.
pub fn resolve_uri(given: Option<&str>, env: &str, default: &str) -> String {
    given
        .map(str::to_string)
        .or_else(|| std::env::var(env).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| default.to_string())
}

/// Round trips as the doctor prints them: min, median and max of sorted microseconds.
pub fn round_trips(us: &[u64], what: &str) -> String {
    format!(
        "min {} µs, median {} µs, max {} µs ({what} ×{})",
        us[0],
        us[us.len() / 2],
        us[us.len() - 1],
        us.len()
    )
}

/// Hides the user name and password of a URI, so it can be printed or stored.
pub fn redact_uri(uri: &str) -> String {
    let Some(scheme_end) = uri.find("://") else {
        return uri.to_string();
    };
    let rest = &uri[scheme_end + 3..];
    let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..host_end].rfind('@') {
        Some(at) => format!("{}://***@{}", &uri[..scheme_end], &rest[at + 1..]),
        None => uri.to_string(),
    }
}

/// Replaces anything in a text that looks like a URI with credentials (`scheme://user:pw@`).
pub fn redact_text(text: &str) -> String {
    text.split_inclusive(|c: char| c.is_whitespace() || c == '"' || c == '\'')
        .map(|tok| {
            if tok.contains("://") {
                redact_uri(tok)
            } else {
                tok.to_string()
            }
        })
        .collect()
}

/// The user a URI names (`scheme://user:password@host…` gives `user`), never its password.
pub fn uri_user(uri: &str) -> Option<&str> {
    let rest = &uri[uri.find("://")? + 3..];
    let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let userinfo = &rest[..rest[..host_end].rfind('@')?];
    let user = userinfo.split(':').next().unwrap_or("");
    (!user.is_empty()).then_some(user)
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_the_user_never_the_password() {
        assert_eq!(super::uri_user("mongodb://u:p@h:1/db"), Some("u"));
        assert_eq!(super::uri_user("mongodb://u@h:1"), Some("u"));
        assert_eq!(super::uri_user("mongodb://h:1/a@b"), None);
        assert_eq!(super::uri_user("mongodb://:p@h"), None);
    }

    #[test]
    fn redacts_credentials() {
        assert_eq!(
            super::redact_uri("mongodb://u:p@h:1/db?x=1"),
            "mongodb://***@h:1/db?x=1"
        );
        assert_eq!(super::redact_uri("mongodb://h:1"), "mongodb://h:1");
        assert_eq!(
            super::redact_uri("postgres://a@h/db"),
            "postgres://***@h/db"
        );
    }
}
