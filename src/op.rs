//! The vocabulary every module shares: the operation catalogue ([`Op`]), what an operation
//! came to ([`Outcome`], [`ErrorKind`]), one operation for one tenant ([`Request`]) and the
//! database kinds ([`BackendKind`]). A leaf: it imports nothing from the crate, so metrics,
//! reports, scenarios and workloads can name operations without depending on the databases.

use serde::Deserialize;

/// An operation: one of the tenant-app catalogue's built-ins (ARCHITECTURE.md's `op` list), or
/// an operation a scenario defines (`[[operation]]`), known by its name.
///
/// A small copyable index. Built-ins are the constants below, in catalogue order; a scenario's
/// own operations are interned by name ([`Op::named`]) after them, once per process, so every
/// module keeps naming operations by value and results name them by their names.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Op(u16);

/// Names of the built-in operations, in [`Op::ALL`] order.
const BUILTIN: [&str; 8] = [
    "list_recent",
    "get_by_id",
    "count_by_status",
    "insert_one",
    "update_status",
    "find_user_by_email",
    "revenue_by_day",
    "admin_cross_tenant",
];

/// Names of the operations scenarios defined, interned in order (index − 8).
static CUSTOM: std::sync::RwLock<Vec<&'static str>> = std::sync::RwLock::new(Vec::new());

/// Most distinct operation names a process interns.
pub const MAX_OPS: usize = 1024;

/// [`Op::named`] had no room for another name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "operation {0:?}: one process tells at most {MAX_OPS} operation names apart, and that many are known already"
)]
pub struct OpsFull(pub String);

#[allow(non_upper_case_globals)]
impl Op {
    /// A tenant's newest N records with a status filter.
    pub const ListRecent: Op = Op(0);
    /// One record by its derivable `_id`.
    pub const GetById: Op = Op(1);
    /// Count of a tenant's records with a status.
    pub const CountByStatus: Op = Op(2);
    /// Insert one new record (marks the data dirty).
    pub const InsertOne: Op = Op(3);
    /// Change one record's status (marks the data dirty).
    pub const UpdateStatus: Op = Op(4);
    /// A user by email within a tenant.
    pub const FindUserByEmail: Op = Op(5);
    /// Aggregation over one tenant's orders in a date range: the heavy operation.
    pub const RevenueByDay: Op = Op(6);
    /// Counts per tenant across all tenants.
    pub const AdminCrossTenant: Op = Op(7);

    /// Every built-in operation, in catalogue order.
    pub const ALL: [Op; 8] = [
        Op::ListRecent,
        Op::GetById,
        Op::CountByStatus,
        Op::InsertOne,
        Op::UpdateStatus,
        Op::FindUserByEmail,
        Op::RevenueByDay,
        Op::AdminCrossTenant,
    ];

    /// The built-in of this name.
    pub fn builtin(name: &str) -> Option<Op> {
        BUILTIN
            .iter()
            .position(|b| *b == name)
            .map(|i| Op(i as u16))
    }

    /// The operation of this name: a built-in, else a scenario's own, interned on first use.
    ///
    /// # Errors
    /// [`MAX_OPS`] names are interned already (a checked scenario defines at most 64; results
    /// files read in one process add theirs).
    pub fn named(name: &str) -> Result<Op, OpsFull> {
        if let Some(op) = Op::builtin(name) {
            return Ok(op);
        }
        let find = |v: &[&'static str]| v.iter().position(|n| *n == name);
        {
            let v = CUSTOM.read().unwrap_or_else(|p| p.into_inner());
            if let Some(i) = find(&v) {
                return Ok(Op((BUILTIN.len() + i) as u16));
            }
        }
        let mut v = CUSTOM.write().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = find(&v) {
            return Ok(Op((BUILTIN.len() + i) as u16));
        }
        if BUILTIN.len() + v.len() >= MAX_OPS {
            return Err(OpsFull(name.to_string()));
        }
        v.push(Box::leak(name.to_string().into_boxed_str()));
        Ok(Op((BUILTIN.len() + v.len() - 1) as u16))
    }

    /// The name used in scenarios and results.
    pub fn name(self) -> &'static str {
        let i = self.0 as usize;
        if i < BUILTIN.len() {
            return BUILTIN[i];
        }
        let v = CUSTOM.read().unwrap_or_else(|p| p.into_inner());
        v.get(i - BUILTIN.len()).copied().unwrap_or("?")
    }

    /// Whether this is one of the catalogue's built-ins.
    pub fn is_builtin(self) -> bool {
        (self.0 as usize) < BUILTIN.len()
    }

    /// Its index: built-ins first, in catalogue order, then the interned ones.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// How many operations exist so far (built-ins and interned): every [`Op::index`] is
    /// below it.
    pub fn count() -> usize {
        BUILTIN.len() + CUSTOM.read().unwrap_or_else(|p| p.into_inner()).len()
    }
}

impl std::fmt::Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for Op {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Op {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Op, D::Error> {
        let name = String::deserialize(d)?;
        Op::named(&name).map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for Op {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Op".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "An operation: a built-in (list_recent, get_by_id, count_by_status, insert_one, update_status, find_user_by_email, revenue_by_day, admin_cross_tenant) or a scenario's own `[[operation]]` by its name.",
            "type": "string"
        })
    }
}

/// Why an operation failed, as a countable kind.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The operation or a connection checkout timed out.
    Timeout,
    /// The connection failed.
    Network,
    /// The server answered with an error.
    Server,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// Every kind, in declaration order ([`ErrorKind::index`]).
    pub const ALL: [ErrorKind; 4] = [
        ErrorKind::Timeout,
        ErrorKind::Network,
        ErrorKind::Server,
        ErrorKind::Other,
    ];

    /// The name results use.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::Network => "network",
            ErrorKind::Server => "server",
            ErrorKind::Other => "other",
        }
    }

    /// Its position in [`ErrorKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// What an operation came to: data to count, never an error to propagate (YCSB's `Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Done.
    Ok,
    /// The record or tenant asked for does not exist.
    NotFound,
    /// Answered with a record of another tenant: an isolation failure (a wrong row-level
    /// security policy, a routing bug). Counted apart from successes and errors; a gate fails
    /// on any.
    Leak,
    /// Failed; latencies of failures are kept apart from successes.
    Error(ErrorKind),
}

/// One operation for one tenant, as the workload chose it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// Tenant index (rank − 1).
    pub tenant: usize,
    /// The operation.
    pub op: Op,
    /// Which record, for operations that address one (an ordinal within the tenant).
    pub key: u64,
}

/// Database kind of a variant.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum BackendKind {
    /// MongoDB (or a MongoDB-wire server).
    Mongodb,
    /// PostgreSQL.
    Postgres,
}

impl BackendKind {
    /// Every kind, in the order results list their servers.
    pub const ALL: [BackendKind; 2] = [BackendKind::Mongodb, BackendKind::Postgres];

    /// Name in scenarios and results.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Mongodb => "mongodb",
            BackendKind::Postgres => "postgres",
        }
    }
}
