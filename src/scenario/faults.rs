//! Faults during a run: `[[fault]]` at a time for a duration — a local server paused or
//! restarted, the harness's own connections killed, a tenant's table locked — so a run shows
//! what trouble does to every class and how long recovery takes.

use std::time::Duration;

use crate::op::BackendKind;
use crate::scenario::migration::TenantPick;

/// What a fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// SIGSTOP, then SIGCONT, of a local MongoDB-wire server `scripts/mongo-local.sh` started
    /// (found by its pid file only).
    PauseServer,
    /// Stops that local server (SIGTERM), then starts it again with its own command line.
    RestartServer,
    /// Ends the harness's own connections: PostgreSQL `pg_terminate_backend` of the backends
    /// with the run's application name; MongoDB `killAllSessions`.
    KillConnections,
    /// PostgreSQL: another session holds `LOCK TABLE` on the tenant's `orders` table
    /// (`ACCESS EXCLUSIVE`) for the duration.
    LockTenant,
}

impl FaultKind {
    /// Every kind, in the order the docs list them.
    pub const ALL: [FaultKind; 4] = [
        FaultKind::PauseServer,
        FaultKind::RestartServer,
        FaultKind::KillConnections,
        FaultKind::LockTenant,
    ];

    /// The name scenarios and results use.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::PauseServer => "pause_server",
            FaultKind::RestartServer => "restart_server",
            FaultKind::KillConnections => "kill_connections",
            FaultKind::LockTenant => "lock_tenant",
        }
    }

    /// The kind of this name.
    pub fn parse(s: &str) -> Option<FaultKind> {
        FaultKind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Whether a variant on `backend` can have this fault: a local MongoDB-wire server can be
    /// paused and restarted (the machine's PostgreSQL is shared with everything else on it and
    /// is not the harness's to stop); `LOCK TABLE` is PostgreSQL's.
    pub fn applies_to(self, backend: BackendKind) -> bool {
        match self {
            FaultKind::PauseServer | FaultKind::RestartServer => backend == BackendKind::Mongodb,
            FaultKind::KillConnections => true,
            FaultKind::LockTenant => backend == BackendKind::Postgres,
        }
    }
}

/// One fault of a run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FaultSpec {
    /// What it does.
    pub kind: FaultKind,
    /// When it starts, from the run's start.
    pub at: Duration,
    /// How long it lasts (kill_connections: the time its effect is watched; the kill itself is
    /// instant).
    pub duration: Duration,
    /// lock_tenant: whose table.
    pub tenant: Option<TenantPick>,
}

impl FaultSpec {
    /// When it ends, from the run's start.
    pub fn end(&self) -> Duration {
        self.at + self.duration
    }

    /// In words: `pause_server at 10 s for 3 s`.
    pub fn describe(&self) -> String {
        let who = self
            .tenant
            .as_ref()
            .map_or(String::new(), |t| format!(" (tenant {})", t.name()));
        format!(
            "{}{who} at {} s for {} s",
            self.kind.name(),
            self.at.as_secs_f64(),
            self.duration.as_secs_f64()
        )
    }
}
