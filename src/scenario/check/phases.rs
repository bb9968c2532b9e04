//! Checks of `[[phase]]`: names, windows in order after the warm-up and inside the run, a rate
//! only for an open loop, and the shares and operation mixes of classes and roles.

use std::time::Duration;

use toml::Spanned;

use super::Checker;
use super::workload::check_op_mix;
use crate::pacing::{Pacer, StopCondition};
use crate::population::{PopulationSpec, Tier};
use crate::scenario::model::PhaseModel;
use crate::scenario::{PhaseSpec, ScenarioError, WorkloadSpec};

/// The names a class key may take: tiers and the population's roles.
fn class_names(p: &PopulationSpec) -> Vec<String> {
    Tier::ALL
        .iter()
        .map(|t| t.name().to_string())
        .chain(p.roles.keys().cloned())
        .collect()
}

pub(in crate::scenario) fn check_phases(
    c: &Checker,
    list: &[Spanned<PhaseModel>],
    p: &PopulationSpec,
    w: &WorkloadSpec,
) -> Result<Vec<PhaseSpec>, ScenarioError> {
    let classes = class_names(p);
    let class = |k: &Spanned<String>| -> Result<String, ScenarioError> {
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
    };
    let run_end = match w.stop {
        StopCondition::Duration(d) => Some(d),
        StopCondition::Count(_) => None,
    };
    let mut out: Vec<PhaseSpec> = Vec::new();
    let mut last_end = w.warmup;
    for ph in list {
        let m = ph.get_ref();
        let name = m.name.get_ref().trim().to_string();
        if name.is_empty()
            || !name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        {
            return Err(c.err(
                m.name.span(),
                "expected a phase name of letters, digits, '-' and '_'",
            ));
        }
        if name == "warmup" || name == "steady" {
            return Err(c.err(
                m.name.span(),
                "`warmup` and `steady` are the built-in phases; expected another name",
            ));
        }
        if out.iter().any(|o| o.name == name) {
            return Err(c.err(m.name.span(), format!("phase `{name}` is defined twice")));
        }
        let secs = |v: &Spanned<f64>, what: &str| c.seconds(v, what);
        let start = secs(&m.start_s, "start_s")?;
        if start < last_end {
            return Err(c.err(
                m.start_s.span(),
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
                m.start_s.span(),
                format!(
                    "expected a start before the end of the run ({} s)",
                    end.as_secs_f64()
                ),
            ));
        }
        let duration = match &m.duration_s {
            Some(d) => {
                let v = secs(d, "duration_s")?;
                if v.is_zero() {
                    return Err(c.err(d.span(), "expected a duration > 0 seconds"));
                }
                Some(v)
            }
            None => None,
        };
        last_end = duration.map_or(Duration::MAX, |d| start + d);
        let rate = match &m.rate {
            Some(r) => {
                if matches!(w.pacer, Pacer::Closed { .. }) {
                    return Err(c.err(
                        r.span(),
                        "`rate` in a phase applies to an open loop; the workload has `concurrency`",
                    ));
                }
                let v = *r.get_ref();
                if !(v > 0.0 && v <= 10_000_000.0) {
                    return Err(c.err(r.span(), "expected a rate in operations per second, > 0"));
                }
                Some(v)
            }
            None => None,
        };
        let mut shares = Vec::new();
        let mut total = 0.0;
        for (k, v) in &m.share {
            let x = *v.get_ref();
            if !(x > 0.0 && x <= 1.0) {
                return Err(c.err(v.span(), "expected a share of operations in (0, 1]"));
            }
            total += x;
            if total > 1.0 + 1e-9 {
                return Err(c.err(v.span(), "expected shares that add up to at most 1"));
            }
            shares.push((class(k)?, x));
        }
        let mut mixes = Vec::new();
        for (k, v) in &m.mix {
            mixes.push((class(k)?, check_op_mix(c, v)?));
        }
        out.push(PhaseSpec {
            name,
            start,
            duration,
            rate,
            shares,
            mixes,
        });
    }
    Ok(out)
}
