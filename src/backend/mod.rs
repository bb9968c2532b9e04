//! Database backends: the operation contract the runner drives ([`Backend`], [`Op`],
//! [`Outcome`]), and per database kind the layouts, indexes, seeding and verification. Backends
//! measure no latency; they report facts (counts, sizes, build times) as data.

pub mod mongo;
pub mod null;
pub mod postgres;

use std::future::Future;

use crate::op::{ErrorKind, Outcome, Request};

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
