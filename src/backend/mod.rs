//! Database backends: the operation contract the runner drives ([`Backend`], [`Op`],
//! [`Outcome`]), and per database kind the layouts, indexes, seeding and verification. Backends
//! measure no latency; they report facts (counts, sizes, build times) as data.

pub mod mongo;
pub mod null;
pub mod postgres;

use std::future::Future;

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

#[cfg(test)]
mod tests {
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
