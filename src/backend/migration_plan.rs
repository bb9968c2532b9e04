//! `migrate --dry-run`: what a move would copy and how fast the tenant's records read in the
//! source, without writing ([`dry_run`]); the estimate of its time is
//! [`super::migration_rates`]'.

use std::time::Instant;

use serde::Serialize;

use super::marker::DbState;
use super::migrate::{MigrateOptions, MigrateTarget, Side};
use crate::datagen::Collection;
use crate::layout::PlacementKind;

/// What a migration would do, for `--dry-run`.
#[derive(Debug, Clone, Serialize)]
pub struct MovePlan {
    /// Tenant id.
    pub tenant: String,
    /// Source database.
    pub from: String,
    /// Destination database.
    pub to: String,
    /// Destination placement kind.
    pub kind: PlacementKind,
    /// The destination's state in words (`new`, `resumes at N records`, `holds N tenants`).
    pub destination_state: String,
    /// The tenant's records per collection in the source.
    pub records: Vec<(Collection, u64)>,
    /// Records per second reading (and hashing) the tenant's orders in the source, measured
    /// here: the most a copy could move, before writes and index builds.
    pub read_rate: f64,
}

/// Plans a migration without writing: the records to move, the destination's state, and how
/// fast the tenant's orders read in the source (the estimate of the time is the caller's, from
/// the rates migrations on this server measured: [`super::migration_rates::estimate`]).
///
/// # Errors
/// The target's errors; a destination the migration would refuse.
pub async fn dry_run<T: MigrateTarget>(
    t: &T,
    _opts: &MigrateOptions,
) -> Result<MovePlan, T::Error> {
    let spec = t.spec();
    let (state, cp) = t.inspect_destination().await?;
    // The same admission the migration makes: a dry run never promises what the run refuses.
    super::migrate::admitted(t, &state)?;
    let destination_state = match (&state, &cp) {
        (DbState::Marked(_), Some(c)) if c.tenant == spec.tenant_id() => {
            format!(
                "a stopped migration's checkpoint: resumes after {} records",
                c.copied
            )
        }
        (DbState::Marked(m), _) => format!("exists, holds {} tenants", m.tenants),
        _ => "new".to_string(),
    };
    let records = t.source_counts().await?;
    let t0 = Instant::now();
    let sample = t.hashes(Side::Source, Collection::Orders).await?.len() as f64;
    let read_rate = sample / t0.elapsed().as_secs_f64().max(1e-6);
    Ok(MovePlan {
        tenant: spec.tenant_id().to_string(),
        from: spec.source_name().to_string(),
        to: spec.destination_name().to_string(),
        kind: spec.kind(),
        destination_state,
        records,
        read_rate,
    })
}
