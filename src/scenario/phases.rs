//! `[[phase]]`: named time windows of a run (a noisy burst, say) that change the open-loop rate,
//! give a class or role a share of the operations, or give a class its own operation mix; and
//! the phase plan of a run: `warmup`, `steady`, then the scenario's phases as windows.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::{Checker, OpMixModel, PopulationSpec, ScenarioError, WorkloadSpec, check_op_mix};
use crate::op::Op;
use crate::pacing::{Pacer, PhaseWindow, StopCondition};
use crate::population::Tier;

/// A scenario phase.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseSpec {
    /// Name (not `warmup` or `steady`).
    pub name: String,
    /// Start, from the run's start (warm-up included).
    pub start: Duration,
    /// Length; `None`: until the end of the run.
    pub duration: Option<Duration>,
    /// Open loop: operations per second during the phase.
    pub rate: Option<f64>,
    /// Class or role → share of all operations that go to its tenants during the phase.
    pub shares: Vec<(String, f64)>,
    /// Class or role → its tenants' operation mix during the phase.
    pub mixes: Vec<(String, Vec<(Op, f64)>)>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PhaseModel {
    name: Spanned<String>,
    start_s: Spanned<f64>,
    #[serde(default)]
    duration_s: Option<Spanned<f64>>,
    #[serde(default)]
    rate: Option<Spanned<f64>>,
    #[serde(default)]
    share: BTreeMap<Spanned<String>, Spanned<f64>>,
    #[serde(default)]
    mix: BTreeMap<Spanned<String>, Spanned<OpMixModel>>,
}

/// The names a class key may take: tiers and the population's roles.
fn class_names(p: &PopulationSpec) -> Vec<String> {
    Tier::ALL
        .iter()
        .map(|t| t.name().to_string())
        .chain(p.roles.keys().cloned())
        .collect()
}

pub(super) fn check_phases(
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

/// The phases of a run: names (index = the recorder's phase key), which are measured, and the
/// windows in time order. `warmup` (when the workload has one) and `steady` come first; each
/// scenario phase is a window after which `steady` resumes.
#[derive(Debug, Clone, PartialEq)]
pub struct PhasePlan {
    /// Phase names.
    pub names: Vec<String>,
    /// Per phase: counted in summaries (all but the warm-up).
    pub measured: Vec<bool>,
    /// Windows by start.
    pub windows: Vec<PhaseWindow>,
}

impl PhasePlan {
    /// The plan of a workload and its scenario phases.
    pub fn new(w: &WorkloadSpec, phases: &[PhaseSpec]) -> PhasePlan {
        let mut names = Vec::new();
        let mut measured = Vec::new();
        let mut windows = Vec::new();
        if !w.warmup.is_zero() {
            names.push("warmup".to_string());
            measured.push(false);
            windows.push(PhaseWindow {
                phase: 0,
                start: Duration::ZERO,
                rate: None,
            });
        }
        let steady = names.len() as u16;
        names.push("steady".to_string());
        measured.push(true);
        windows.push(PhaseWindow {
            phase: steady,
            start: w.warmup,
            rate: None,
        });
        for p in phases {
            let i = names.len() as u16;
            names.push(p.name.clone());
            measured.push(true);
            windows.push(PhaseWindow {
                phase: i,
                start: p.start,
                rate: p.rate,
            });
            if let Some(d) = p.duration {
                windows.push(PhaseWindow {
                    phase: steady,
                    start: p.start + d,
                    rate: None,
                });
            }
        }
        windows.sort_by_key(|w| w.start);
        PhasePlan {
            names,
            measured,
            windows,
        }
    }

    /// Each phase's windows as `[start, end)` seconds; `end` is the run's end for the last.
    pub fn spans(&self, run_end: Duration) -> Vec<Vec<[f64; 2]>> {
        let mut out = vec![Vec::new(); self.names.len()];
        for (i, w) in self.windows.iter().enumerate() {
            let end = self.windows.get(i + 1).map_or(run_end, |n| n.start);
            if end > w.start {
                out[usize::from(w.phase)].push([w.start.as_secs_f64(), end.as_secs_f64()]);
            }
        }
        out
    }
}
