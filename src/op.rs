//! The vocabulary every module shares: the operation catalogue ([`Op`]), what an operation
//! came to ([`Outcome`], [`ErrorKind`]), one operation for one tenant ([`Request`]) and the
//! database kinds ([`BackendKind`]). A leaf: it imports nothing from the crate, so metrics,
//! reports, scenarios and workloads can name operations without depending on the databases.

use serde::Deserialize;

/// The tenant-app operation catalogue (ARCHITECTURE.md's `op` list).
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
pub enum Op {
    /// A tenant's newest N records with a status filter.
    ListRecent,
    /// One record by its derivable `_id`.
    GetById,
    /// Count of a tenant's records with a status.
    CountByStatus,
    /// Insert one new record (marks the data dirty).
    InsertOne,
    /// Change one record's status (marks the data dirty).
    UpdateStatus,
    /// A user by email within a tenant.
    FindUserByEmail,
    /// Aggregation over one tenant's orders in a date range: the heavy operation.
    RevenueByDay,
    /// Counts per tenant across all tenants.
    AdminCrossTenant,
}

impl Op {
    /// Every operation, in a fixed order.
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

    /// The name used in scenarios and results.
    pub fn name(self) -> &'static str {
        match self {
            Op::ListRecent => "list_recent",
            Op::GetById => "get_by_id",
            Op::CountByStatus => "count_by_status",
            Op::InsertOne => "insert_one",
            Op::UpdateStatus => "update_status",
            Op::FindUserByEmail => "find_user_by_email",
            Op::RevenueByDay => "revenue_by_day",
            Op::AdminCrossTenant => "admin_cross_tenant",
        }
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

/// What an operation came to: data to count, never an error to propagate (YCSB's `Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Done.
    Ok,
    /// The record or tenant asked for does not exist.
    NotFound,
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
