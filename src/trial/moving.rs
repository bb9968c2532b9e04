//! A trial's migration under load (`[[phase]] migrate`): where the variant's tenant goes (the
//! trial's placement with the destination in it), and the workload run with the migration
//! beside it from its phase's start, through the backend's tenant directory; the evidence of
//! what it did.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

use super::{Trials, round3};
use crate::backend::migrate::{self, MigrateOptions, MigrationReport, MoveSpec};
use crate::backend::migration_rates as rates;
use crate::backend::{Backend, Dataset, FullDriver};
use crate::layout::Placement;
use crate::metrics::results::{MigrationEvidence, Trial};
use crate::runner::RunReport;
use crate::scenario::Variant;
use crate::scenario::migration::MigrationSpec;

/// A migrating variant's move, planned before its trial.
pub(super) struct Moving {
    /// The trial's placement: the rules' with the destination in it.
    pub(super) placement: Placement,
    /// The tenant's index.
    tenant: usize,
    /// The destination's index in `placement.databases`.
    to: usize,
    /// The database the rules put the tenant in (its source).
    rules_db: String,
    /// What the variant asks.
    spec: MigrationSpec,
}

impl Trials<'_> {
    /// Where a migrating variant's tenant goes: the trial's placement with the destination in
    /// it.
    pub(super) fn plan_move(&self, m: &MigrationSpec, base: &Placement) -> Result<Moving> {
        let n = self.pop.tenants.len();
        let t = m.tenant.index(self.pop).with_context(|| {
            format!(
                "migrate: tenant {} is not in this population (t00001 … t{n:05})",
                m.tenant.name()
            )
        })?;
        let name = base.destination(&self.scenario.prefix, &self.pop.tenants[t].id, m.to)?;
        let rules_db = base.databases[base.tenant_db[t]].name.clone();
        if rules_db == name {
            bail!(
                "migrate: tenant {} already lives in {name} in layout {}; expected another destination than `{}`",
                self.pop.tenants[t].id,
                base.layout,
                m.to
            );
        }
        let mut placement = base.clone();
        let to = placement.database_named(&name, m.to);
        Ok(Moving {
            placement,
            tenant: t,
            to,
            rules_db,
            spec: m.clone(),
        })
    }

    /// Runs the workload and, from its phase's start, the variant's migration beside it; the
    /// runner's report and the migration's evidence.
    pub(super) async fn measure_moving<D: FullDriver>(
        &self,
        d: &D,
        v: &Variant,
        t: &mut Trial,
        backend: Arc<D::Backend>,
        local: &[(String, u32)],
        mv: &Moving,
    ) -> (Result<RunReport>, MigrationEvidence) {
        let (phase, start) = self
            .scenario
            .migration_phase()
            .map_or(("migration", Duration::ZERO), |(p, s)| (p, s));
        let mut ev = MigrationEvidence {
            tenant: self.pop.tenants[mv.tenant].id.clone(),
            class: self.pop.class_of(mv.tenant).to_string(),
            phase: phase.to_string(),
            from: mv.rules_db.clone(),
            to: mv.placement.databases[mv.to].name.clone(),
            kind: mv.spec.to.name().to_string(),
            method: crate::backend::migrate::METHOD.to_string(),
            rate_limit: mv.spec.copy_rate,
            ..MigrationEvidence::default()
        };
        let Some(dir) = backend.directory() else {
            ev.error = Some("this backend routes by no tenant directory".into());
            let report = self
                .measure(v, t, backend, local, |pid| d.server_cpu(pid))
                .await;
            return (report, ev);
        };
        let spec = MoveSpec {
            data: Dataset {
                scenario: self.scenario,
                pop: self.pop,
                placement: &mv.placement,
            },
            tenant: mv.tenant,
            to: mv.to,
            rules_db: &mv.rules_db,
            indexes: &v.indexes,
        };
        let opts = MigrateOptions {
            batch_size: mv.spec.batch_size,
            copy_rate: mv.spec.copy_rate,
            delete_source: mv.spec.delete_source,
            progress: false,
            fault: None,
        };
        let t0 = std::time::Instant::now();
        let run = async {
            let r = self
                .measure(v, t, backend.clone(), local, |pid| d.server_cpu(pid))
                .await;
            (r, t0.elapsed())
        };
        let migration = async {
            tokio::select! {
                () = tokio::time::sleep(start) => {}
                () = self.cancel.cancelled() => return None,
            }
            let began = t0.elapsed();
            let live = migrate::Live {
                directory: &dir,
                tenant: mv.tenant,
                to: mv.to,
            };
            let r = d.migrate(&spec, &opts, Some(live)).await;
            Some((r, began, t0.elapsed()))
        };
        let ((report, run_end), moved) = tokio::join!(run, migration);
        let Some((r, began, ended)) = moved else {
            ev.error = Some("the trial stopped before the migration's phase".into());
            return (report, ev);
        };
        ev.started_s = round3(began.as_secs_f64());
        ev.within_run = ended <= run_end;
        outcome(d, &mut ev, r, mv.spec.copy_rate);
        (report, ev)
    }
}

/// Adds a migration's outcome to its evidence and says it on the terminal; a verified move's
/// rates are kept for later dry runs' estimates (`rate`: the copy limit it ran under).
fn outcome<D: FullDriver>(
    d: &D,
    ev: &mut MigrationEvidence,
    r: Result<MigrationReport, D::Error>,
    rate: Option<f64>,
) {
    match r {
        Ok(r) => {
            ev.records = r.copied;
            ev.copy_s = round3(r.copy_s);
            ev.caught_up = r.caught_up;
            ev.freeze_s = (r.freeze_s * 1e6).round() / 1e6;
            ev.cut_over_s = round3(r.cut_over_s);
            ev.verified = r.verified;
            ev.cut_over = r.version.is_some();
            ev.deleted_source = r.deleted_source;
            if r.verified && !r.resumed {
                let server = rates::server_key(d.kind().name(), &d.redacted_uri());
                rates::record(&server, rates::Measured::of(&r, rate, true));
            }
            if !r.verified {
                let bad: Vec<&str> = r
                    .checks
                    .iter()
                    .filter(|c| !c.ok())
                    .map(|c| c.collection.name())
                    .collect();
                ev.error = Some(format!(
                    "verification failed ({}): nothing was cut over",
                    bad.join(", ")
                ));
            }
            eprintln!(
                "  migration: {} {} → {}: {} {} in {:.2} s ({:.0}/s), {} caught up, cut over {:.2} s after its start, operations held {:.3} s, {}",
                ev.tenant,
                ev.from,
                ev.to,
                ev.records,
                D::RECORDS,
                ev.copy_s,
                ev.copy_rate(),
                ev.caught_up,
                ev.cut_over_s,
                ev.freeze_s,
                if ev.verified {
                    "verified"
                } else {
                    "NOT verified"
                }
            );
        }
        Err(e) => {
            let msg = crate::backend::redact_text(&format!("{e}"));
            eprintln!("  migration: {} failed: {msg}", ev.tenant);
            ev.error = Some(msg);
        }
    }
}
