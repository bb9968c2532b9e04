//! Faults on PostgreSQL: `pg_terminate_backend` of the harness's own connections to a trial's
//! databases (found by this process's application name), and a tenant's `orders` table held
//! under `LOCK TABLE … ACCESS EXCLUSIVE` by another session. The server itself is the
//! machine's, shared with everything else on it: it is neither paused nor restarted.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::driver::PgDriver;
use super::ops::db_err;
use super::{PgError, application_name, connect, ident, schema_of};
use crate::backend::{FaultDone, hold};
use crate::layout::Placement;
use crate::population::Population;
use crate::scenario::faults::FaultKind;
use crate::scenario::faults::FaultSpec;

/// `kill_connections`: ends every backend of this process (its application name) connected
/// to one of the placement's databases; the pools notice and reconnect.
pub(super) async fn kill_connections(
    uri: &str,
    placement: &Placement,
    hold_for: Duration,
    cancel: &CancellationToken,
    on_end: &dyn Fn(Instant),
) -> Result<FaultDone, PgError> {
    let c = connect(uri, Some("postgres")).await?;
    let names: Vec<String> = placement.databases.iter().map(|d| d.name.clone()).collect();
    let began = Instant::now();
    let row = c
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
              WHERE application_name = $1 AND datname = ANY($2) AND pid <> pg_backend_pid()",
            &[&application_name(), &names],
        )
        .await
        .map_err(|e| db_err("pg_terminate_backend of the harness's connections", e))?;
    let ended = Instant::now();
    on_end(ended);
    let n: i64 = row.get(0);
    hold(hold_for, cancel).await;
    Ok(FaultDone {
        began,
        ended,
        detail: format!("pg_terminate_backend ended {n} of the harness's connections"),
        error: None,
    })
}

/// `lock_tenant`: another session takes `ACCESS EXCLUSIVE` on the tenant's `orders` table,
/// holds it, and rolls back. In the shared layout that table is every tenant's.
pub(super) async fn lock_tenant(
    uri: &str,
    placement: &Placement,
    pop: &Population,
    f: &FaultSpec,
    cancel: &CancellationToken,
    on_end: &dyn Fn(Instant),
) -> Result<FaultDone, PgError> {
    let t = f
        .tenant
        .as_ref()
        .and_then(|p| p.index(pop))
        .ok_or_else(|| PgError::State("lock_tenant: the tenant is not in the population".into()))?;
    let id = &pop.tenants[t].id;
    let db = &placement.databases[placement.tenant_db[t]].name;
    let table = format!("{}.orders", ident(&schema_of(placement.layout, id)));
    let c = connect(uri, Some(db)).await?;
    c.batch_execute(&format!(
        "BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"
    ))
    .await
    .map_err(|e| db_err("LOCK TABLE", e))?;
    let began = Instant::now();
    hold(f.duration, cancel).await;
    let r = c.batch_execute("ROLLBACK").await;
    let ended = Instant::now();
    on_end(ended);
    Ok(FaultDone {
        began,
        ended,
        detail: format!("LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE (database {db}, tenant {id})"),
        error: r.err().map(|e| format!("releasing the lock: {e}")),
    })
}

impl crate::backend::Faults for PgDriver {
    async fn fault(
        &self,
        placement: &Placement,
        pop: &Population,
        f: &FaultSpec,
        cancel: &CancellationToken,
        on_end: &dyn Fn(std::time::Instant),
    ) -> Result<FaultDone, PgError> {
        match f.kind {
            FaultKind::KillConnections => {
                super::fault::kill_connections(&self.uri, placement, f.duration, cancel, on_end)
                    .await
            }
            FaultKind::LockTenant => {
                super::fault::lock_tenant(&self.uri, placement, pop, f, cancel, on_end).await
            }
            FaultKind::PauseServer | FaultKind::RestartServer => Err(PgError::State(format!(
                "{} stops a server the harness started (scripts/mongo-local.sh); this PostgreSQL is the machine's, shared with everything on it",
                f.kind.name()
            ))),
        }
    }
}
