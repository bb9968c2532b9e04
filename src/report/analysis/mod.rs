//! What a report says, computed from results alone: the headline answer, latency growth against
//! tenant size with its named class, plan-vs-reality flags, sweeps over numeric knobs and
//! run-to-run deltas, and the rule for how many operations a percentile needs ([`samples`]),
//! which every renderer applies. Pure functions over [`Results`]; drawing and HTML live
//! elsewhere. This module owns the shared helpers (formatting, the headline phase, merged
//! histograms, explain lookups); each kind of finding has its own child module.

mod backlog;
mod delta;
mod evidence;
mod growth;
mod headline;
mod isolation;
mod migration;
pub mod samples;
mod sweep;
mod verdict;

use hdrhistogram::Histogram;

use crate::metrics::histogram;
use crate::metrics::results::{self as res, ExplainRecord, Group, Results, Spread};
use crate::op::Op;

pub use delta::{Delta, deltas};
pub use growth::{FLAT_SLOPE, Growth, GrowthClass, MIN_POINT_OPS, Point, TENANT_SLOPE, growth};
pub use headline::{Answer, answer};
pub use isolation::{Isolation, SOLO_PHASE, isolation};
pub use migration::{MigrationSummary, migrations};
pub use sweep::{Knob, Sweep, SweepLine, SweepPoint, sweeps};
pub use verdict::{Board, LEVEL, Side, Unit, UnitFigure, Verdict, phase_histogram, units, verdict};

/// Classes that make up "small tenants" in headlines.
pub const SMALL: [&str; 2] = ["basic", "free"];

/// A duration in µs as milliseconds with two decimals.
pub fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

/// A count with thousands separators (`90,000`).
pub fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The first measured phase that has time in the trial (`steady` in most scenarios; `solo` in
/// one whose phases fill the trial): what headlines and tables compare.
pub fn headline_phase(r: &Results) -> Option<&str> {
    r.phases
        .iter()
        .find(|p| p.measured && !p.windows.is_empty())
        .map(|p| p.name.as_str())
}

/// The spread of `variant` for `class` (or `all`) in the headline phase.
pub fn spread<'a>(r: &'a Results, variant: &str, class: &str) -> Option<&'a Spread> {
    let phase = headline_phase(r)?;
    r.spread
        .iter()
        .find(|s| s.variant == variant && s.phase == phase && s.class == class)
}

/// Successful operations per trial of `variant` in `phase` for `class` (or `all`), in the order
/// of [`Spread`]'s per-trial figures (trials without any left out): the sample count behind
/// each trial's percentiles.
pub fn trial_counts(r: &Results, variant: &str, phase: &str, class: &str) -> Vec<u64> {
    r.trials_of(variant)
        .map(|t| {
            t.groups
                .iter()
                .filter(|g| {
                    g.outcome == crate::metrics::results::GroupOutcome::Ok
                        && g.phase == phase
                        && (class == "all" || g.class == class)
                })
                .map(|g| g.response.count)
                .sum::<u64>()
        })
        .filter(|n| *n > 0)
        .collect()
}

/// Mean of the per-trial throughputs (each trial's rate is a total over its time, so their mean
/// is the rate of the trials together when they ran equally long).
pub fn mean_throughput(s: &Spread) -> f64 {
    if s.throughput.is_empty() {
        0.0
    } else {
        s.throughput.iter().sum::<f64>() / s.throughput.len() as f64
    }
}

/// Successful operations of one variant over the measured phases of every trial that ran, for
/// the groups `keep` selects, histograms added.
pub fn merged(r: &Results, variant: &str, keep: impl Fn(&Group) -> bool) -> Histogram<u64> {
    added(r.trials_of(variant).flat_map(|t| &t.groups).filter(|g| {
        g.outcome == crate::metrics::results::GroupOutcome::Ok
            && r.phases.iter().any(|p| p.measured && p.name == g.phase)
            && keep(g)
    }))
}

/// The response-time histograms of some groups, added.
fn added<'a>(groups: impl Iterator<Item = &'a Group>) -> Histogram<u64> {
    let mut h = histogram();
    for g in groups {
        if let Ok(x) = res::decode(&g.response_histogram) {
            h.add(&x).expect("auto-resizing histograms add");
        }
    }
    h
}

/// The operations that ran in any trial, in catalogue order.
pub fn ops_of(r: &Results) -> Vec<Op> {
    let mut ops: Vec<Op> = r
        .trials
        .iter()
        .flat_map(|t| t.groups.iter().map(|g| g.op))
        .collect();
    ops.sort();
    ops.dedup();
    ops
}

/// The small-tenant classes (`basic`, `free`) these results have, in their order; empty when
/// they have neither.
pub fn small_present(r: &Results) -> Vec<String> {
    r.classes
        .iter()
        .filter(|c| SMALL.contains(&c.as_str()))
        .cloned()
        .collect()
}

/// The classes counted as small tenants in these results: `basic` and `free` where present,
/// else every class.
pub fn small_classes(r: &Results) -> Vec<String> {
    let small = small_present(r);
    if small.is_empty() {
        r.classes.clone()
    } else {
        small
    }
}

/// The explain records of a variant's first trial that ran, for one operation.
pub fn explains<'a>(
    r: &'a Results,
    variant: &'a str,
    op: Op,
) -> impl Iterator<Item = &'a ExplainRecord> + 'a {
    r.trials_of(variant)
        .next()
        .into_iter()
        .flat_map(|t| &t.evidence.explain)
        .filter(move |e| e.op == op)
}

/// The explain record of the smallest tenant explained for a variant and operation.
pub fn smallest_explained<'a>(
    r: &'a Results,
    variant: &'a str,
    op: Op,
) -> Option<&'a ExplainRecord> {
    explains(r, variant, op).min_by_key(|e| e.tenant_documents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(90_000), "90,000");
        assert_eq!(count(1_234_567), "1,234,567");
    }
}
