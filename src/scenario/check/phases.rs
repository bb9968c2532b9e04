//! Checks of `[[phase]]`: names, windows in order after the warm-up and inside the run, a rate
//! only for an open loop, and the shares and operation mixes of classes and roles.

use std::collections::BTreeMap;
use std::time::Duration;

use toml::Spanned;

use super::Checker;
use super::workload::check_op_mix;
use crate::layout::PlacementKind;
use crate::op::Op;
use crate::pacing::{Pacer, StopCondition};
use crate::population::{PopulationSpec, Tier};
use crate::scenario::migration::{MigrationSpec, TenantPick};
use crate::scenario::model::{MigrateModel, OpMixModel, PhaseModel};
use crate::scenario::{PhaseSpec, ScenarioError, WorkloadSpec};

/// The names a class key may take: tiers and the population's roles.
fn class_names(p: &PopulationSpec) -> Vec<String> {
    Tier::ALL
        .iter()
        .map(|t| t.name().to_string())
        .chain(p.roles.keys().cloned())
        .collect()
}

/// Every `[[phase]]`, in order: each starts once the one before (or the warm-up) has ended.
pub(in crate::scenario) fn check_phases(
    c: &Checker,
    list: &[Spanned<PhaseModel>],
    p: &PopulationSpec,
    w: &WorkloadSpec,
    ops: &[Op],
) -> Result<Vec<PhaseSpec>, ScenarioError> {
    let classes = class_names(p);
    let run_end = match w.stop {
        StopCondition::Duration(d) => Some(d),
        StopCondition::Count(_) => None,
    };
    let mut out: Vec<PhaseSpec> = Vec::new();
    let mut last_end = w.warmup;
    for ph in list {
        let m = ph.get_ref();
        let name = check_phase_name(c, &m.name, &out)?;
        let start = check_start(c, &m.start_s, last_end, run_end)?;
        let duration = match &m.duration_s {
            Some(d) => {
                let v = c.seconds(d, "duration_s")?;
                if v.is_zero() {
                    return Err(c.err(d.span(), "expected a duration > 0 seconds"));
                }
                Some(v)
            }
            None => None,
        };
        last_end = duration.map_or(Duration::MAX, |d| start + d);
        let rate = check_phase_rate(c, m.rate.as_ref(), w.pacer)?;
        let shares = check_shares(c, &m.share, &classes)?;
        let mixes = check_mixes(c, &m.mix, &classes, ops)?;
        let migration = match &m.migrate {
            Some(mm) => {
                if let Some(first) = out.iter().find(|o| o.migration.is_some()) {
                    return Err(c.err(
                        mm.span(),
                        format!(
                            "phase `{}` migrates already; expected one migrating phase per scenario",
                            first.name
                        ),
                    ));
                }
                Some(check_migrate(c, mm.get_ref(), p.tenants)?)
            }
            None => None,
        };
        out.push(PhaseSpec {
            name,
            start,
            duration,
            rate,
            shares,
            mixes,
            migration,
        });
    }
    Ok(out)
}

/// `migrate = { tenant, to, copy_rate, batch_size, delete_source }` of a phase.
fn check_migrate(
    c: &Checker,
    m: &MigrateModel,
    tenants: u32,
) -> Result<MigrationSpec, ScenarioError> {
    let tenant = check_tenant_pick(c, &m.tenant, tenants)?;
    let to = match PlacementKind::parse(m.to.get_ref()) {
        Some(k) => k,
        None => {
            return Err(c.err(
                m.to.span(),
                "expected `to` = \"dedicated\", \"pooled\" or \"shared\"",
            ));
        }
    };
    if let Some(r) = &m.rate {
        return Err(c.err(
            r.span(),
            "`rate` in `migrate = { … }` is now `copy_rate` (records per second; a phase's `rate` is operations per second)",
        ));
    }
    let copy_rate = match &m.copy_rate {
        Some(r) => check_migrate_rate(c, r)?,
        None => None,
    };
    let batch_size = match &m.batch_size {
        Some(b) if !(1..=100_000).contains(b.get_ref()) => {
            return Err(c.err(
                b.span(),
                "expected batch_size between 1 and 100,000 records",
            ));
        }
        Some(b) => *b.get_ref() as usize,
        None => 1000,
    };
    Ok(MigrationSpec {
        tenant,
        to,
        copy_rate,
        batch_size,
        delete_source: m.delete_source.unwrap_or(false),
    })
}

/// A migrating tenant: `largest`, `median`, or the id of a tenant of the population.
pub(super) fn check_tenant_pick(
    c: &Checker,
    t: &Spanned<String>,
    tenants: u32,
) -> Result<TenantPick, ScenarioError> {
    let pick = TenantPick::parse(t.get_ref());
    let in_range = |id: &str| {
        id[1..]
            .parse::<u64>()
            .is_ok_and(|r| r >= 1 && r <= u64::from(tenants))
    };
    match pick {
        Some(TenantPick::Id(id)) if !in_range(&id) => Err(c.err(
            t.span(),
            format!(
                "tenant `{id}` is not in the population (t00001 … t{tenants:05}); expected largest, median or one of those ids"
            ),
        )),
        Some(p) => Ok(p),
        None => Err(c.err(
            t.span(),
            "expected tenant = \"largest\", \"median\" or a tenant id such as \"t00003\"",
        )),
    }
}

/// A migration's copy rate: records per second > 0, or 0 for unlimited.
pub(super) fn check_migrate_rate(
    c: &Checker,
    r: &Spanned<f64>,
) -> Result<Option<f64>, ScenarioError> {
    let v = *r.get_ref();
    if !(v.is_finite() && (0.0..=10_000_000.0).contains(&v)) {
        return Err(c.err(
            r.span(),
            "expected a copy rate in records per second (0: unlimited)",
        ));
    }
    Ok((v > 0.0).then_some(v))
}

/// A phase's name: letters, digits, '-' and '_', not a built-in phase's, not taken by an earlier
/// phase.
fn check_phase_name(
    c: &Checker,
    n: &Spanned<String>,
    earlier: &[PhaseSpec],
) -> Result<String, ScenarioError> {
    let name = n.get_ref().trim().to_string();
    if name.is_empty()
        || !name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
    {
        return Err(c.err(
            n.span(),
            "expected a phase name of letters, digits, '-' and '_'",
        ));
    }
    if name == "warmup" || name == "steady" {
        return Err(c.err(
            n.span(),
            "`warmup` and `steady` are the built-in phases; expected another name",
        ));
    }
    if earlier.iter().any(|o| o.name == name) {
        return Err(c.err(n.span(), format!("phase `{name}` is defined twice")));
    }
    Ok(name)
}

/// `start_s`: no earlier than `last_end` (the end of the phase before, or of the warm-up), and
/// before the end of a run by duration.
fn check_start(
    c: &Checker,
    start_s: &Spanned<f64>,
    last_end: Duration,
    run_end: Option<Duration>,
) -> Result<Duration, ScenarioError> {
    let start = c.seconds(start_s, "start_s")?;
    if start < last_end {
        return Err(c.err(
            start_s.span(),
            format!(
                "expected phases in order, after the warm-up and without overlap: this one may start at {} s at the earliest",
                last_end.as_secs_f64()
            ),
        ));
    }
    if let Some(end) = run_end
        && start >= end
    {
        return Err(c.err(
            start_s.span(),
            format!(
                "expected a start before the end of the run ({} s)",
                end.as_secs_f64()
            ),
        ));
    }
    Ok(start)
}

/// A phase's `rate`: only when the workload is an open loop, > 0 operations per second.
fn check_phase_rate(
    c: &Checker,
    rate: Option<&Spanned<f64>>,
    pacer: Pacer,
) -> Result<Option<f64>, ScenarioError> {
    let Some(r) = rate else {
        return Ok(None);
    };
    if matches!(pacer, Pacer::Closed { .. }) {
        return Err(c.err(
            r.span(),
            "`rate` in a phase applies to an open loop; the workload has `concurrency`",
        ));
    }
    let v = *r.get_ref();
    if !(v > 0.0 && v <= 10_000_000.0) {
        return Err(c.err(r.span(), "expected a rate in operations per second, > 0"));
    }
    Ok(Some(v))
}

/// `[phase.share]`: per class or role a share of the operations in (0, 1], at most 1 in all.
fn check_shares(
    c: &Checker,
    share: &BTreeMap<Spanned<String>, Spanned<f64>>,
    classes: &[String],
) -> Result<Vec<(String, f64)>, ScenarioError> {
    let mut shares = Vec::new();
    let mut total = 0.0;
    for (k, v) in share {
        let x = *v.get_ref();
        if !(x > 0.0 && x <= 1.0) {
            return Err(c.err(v.span(), "expected a share of operations in (0, 1]"));
        }
        total += x;
        if total > 1.0 + 1e-9 {
            return Err(c.err(v.span(), "expected shares that add up to at most 1"));
        }
        shares.push((check_class(c, k, classes)?, x));
    }
    Ok(shares)
}

/// Class or role → its operation mix.
type ClassMixes = Vec<(String, Vec<(Op, f64)>)>;

/// `[phase.mix.CLASS]`: per class or role an operation mix.
fn check_mixes(
    c: &Checker,
    mix: &BTreeMap<Spanned<String>, Spanned<OpMixModel>>,
    classes: &[String],
    ops: &[Op],
) -> Result<ClassMixes, ScenarioError> {
    let mut mixes = Vec::new();
    for (k, v) in mix {
        mixes.push((check_class(c, k, classes)?, check_op_mix(c, v, ops)?));
    }
    Ok(mixes)
}

/// A class key: a tier or a role of the population.
fn check_class(
    c: &Checker,
    k: &Spanned<String>,
    classes: &[String],
) -> Result<String, ScenarioError> {
    if classes.iter().any(|n| n == k.get_ref()) {
        Ok(k.get_ref().clone())
    } else {
        Err(c.err(
            k.span(),
            format!(
                "unknown class or role `{}`; expected one of {}",
                k.get_ref(),
                classes.join(", ")
            ),
        ))
    }
}
