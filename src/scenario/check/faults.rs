//! Checks of `[[fault]]`: a known kind, a start and a duration inside a run that stops by
//! duration (so there is a before to compare with and an after to recover in), a tenant only
//! where a fault takes one, no overlapping faults, and at least one variant each fault applies
//! to.

use std::time::Duration;

use toml::Spanned;

use super::Checker;
use super::phases::check_tenant_pick;
use crate::pacing::StopCondition;
use crate::scenario::faults::{FaultKind, FaultSpec};
use crate::scenario::matrix::Variant;
use crate::scenario::migration::TenantPick;
use crate::scenario::model::FaultModel;
use crate::scenario::{ScenarioError, WorkloadSpec};

/// Checks every `[[fault]]` against the workload and the population's size.
pub(in crate::scenario) fn check_faults(
    c: &Checker,
    faults: &[Spanned<FaultModel>],
    workload: &WorkloadSpec,
    tenants: u32,
) -> Result<Vec<FaultSpec>, ScenarioError> {
    let mut out: Vec<FaultSpec> = Vec::new();
    for f in faults {
        let m = f.get_ref();
        let Some(kind) = FaultKind::parse(m.kind.get_ref()) else {
            let names: Vec<String> = FaultKind::ALL
                .iter()
                .map(|k| format!("\"{}\"", k.name()))
                .collect();
            return Err(c.err(
                m.kind.span(),
                format!("expected kind = {}", names.join(", ")),
            ));
        };
        let StopCondition::Duration(run) = workload.stop else {
            return Err(c.err(
                f.span(),
                "a fault needs a run that stops by time: expected `duration_s` in [workload], not `count`",
            ));
        };
        let at = c.seconds(&m.at_s, "at_s")?;
        if at < Duration::from_secs(1) {
            return Err(c.err(
                m.at_s.span(),
                "expected at_s >= 1: recovery is measured against the seconds before the fault",
            ));
        }
        let duration = c.seconds(&m.duration_s, "duration_s")?;
        if duration.is_zero() {
            return Err(c.err(m.duration_s.span(), "expected duration_s > 0"));
        }
        if at + duration >= run {
            return Err(c.err(
                m.duration_s.span(),
                format!(
                    "the fault ends at {} s but the run lasts {} s: expected it to end before the run does, so its recovery can be measured",
                    (at + duration).as_secs_f64(),
                    run.as_secs_f64()
                ),
            ));
        }
        let tenant = match (&m.tenant, kind) {
            (Some(t), FaultKind::LockTenant) => Some(check_tenant_pick(c, t, tenants)?),
            (None, FaultKind::LockTenant) => Some(TenantPick::Largest),
            (Some(t), _) => {
                return Err(c.err(
                    t.span(),
                    format!(
                        "`tenant` applies to lock_tenant; a {} fault takes none",
                        kind.name()
                    ),
                ));
            }
            (None, _) => None,
        };
        let spec = FaultSpec {
            kind,
            at,
            duration,
            tenant,
        };
        if let Some(o) = out.iter().find(|o| spec.at < o.end() && o.at < spec.end()) {
            return Err(c.err(
                f.span(),
                format!(
                    "this fault overlaps {}: expected faults one after another, so each one's recovery is its own",
                    o.describe()
                ),
            ));
        }
        out.push(spec);
    }
    Ok(out)
}

/// Each fault applies to at least one variant of the matrix (a fault no variant can have is a
/// mistake, not a no-op).
pub(in crate::scenario) fn check_fault_variants(
    c: &Checker,
    faults: &[Spanned<FaultModel>],
    specs: &[FaultSpec],
    variants: &[Variant],
) -> Result<(), ScenarioError> {
    for (f, s) in faults.iter().zip(specs) {
        if !variants.iter().any(|v| s.kind.applies_to(v.backend)) {
            let on = match s.kind {
                FaultKind::PauseServer | FaultKind::RestartServer => {
                    "MongoDB variants (a local server scripts/mongo-local.sh started)"
                }
                FaultKind::LockTenant => "PostgreSQL variants",
                FaultKind::KillConnections => "every variant",
            };
            return Err(c.err(
                f.get_ref().kind.span(),
                format!(
                    "{} applies to {on}, and this matrix has none",
                    s.kind.name()
                ),
            ));
        }
    }
    Ok(())
}
