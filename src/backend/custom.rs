//! What a scenario's own operations (`[[operation]]`) fill their placeholders with, per
//! request, on generated data — the same values the built-ins use, so a custom operation and
//! its built-in twin ask the database the same thing. Shared by every database kind.

use crate::datagen::{Collection, Value, generate, record_id};

/// Where `days_ago` counts back from on an existing database: now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
use crate::op::Request;
use crate::scenario::operation::{Hole, OperationSpec};

/// A placeholder's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Filled {
    /// Text (tenant, status, id, email).
    Text(String),
    /// An integer (the key).
    Int(i64),
    /// A time, as milliseconds since the epoch (`days_ago`).
    Time(i64),
}

/// The generated collection an operation's records come from: the one of its collection's
/// name, else `orders`.
pub fn generated(op: &OperationSpec) -> Collection {
    Collection::ALL
        .into_iter()
        .find(|c| c.name() == op.collection)
        .unwrap_or(Collection::Orders)
}

/// The value of `hole` for request `req` of tenant `tenant` (its id), data seed `seed`;
/// `days_ago` counts back from `end_ms` (the end of the generated data, or the time a trial on
/// an existing database opened).
pub fn fill(
    hole: Hole,
    op: &OperationSpec,
    req: &Request,
    tenant: &str,
    seed: u64,
    end_ms: i64,
) -> Filled {
    match hole {
        Hole::Tenant => Filled::Text(tenant.to_string()),
        Hole::Status => Filled::Text(super::status_of(req).to_string()),
        Hole::Id => Filled::Text(record_id(tenant, generated(op), req.key)),
        Hole::Email => {
            let user = generate(seed, tenant, Collection::Users, req.key);
            Filled::Text(
                user.fields
                    .iter()
                    .find_map(|(k, v)| match (k, v) {
                        (&"email", Value::Str(e)) => Some(e.clone()),
                        _ => None,
                    })
                    .unwrap_or_default(),
            )
        }
        Hole::Key => Filled::Int(i64::try_from(req.key).unwrap_or(i64::MAX)),
        Hole::DaysAgo(n) => Filled::Time(end_ms - i64::from(n) * 86_400_000),
    }
}

/// The scenario's operation behind `op`, if it is one.
pub fn spec_of(ops: &[OperationSpec], op: crate::op::Op) -> Option<&OperationSpec> {
    ops.iter().find(|o| o.op == op)
}
