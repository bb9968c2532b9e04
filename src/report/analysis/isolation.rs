//! Isolation (MuTeBench's relative latency): small tenants' p99 during a neighbour's phase
//! against their p99 alone in the `solo` phase, and the headline sentences that report it.

use super::samples::{self, MARK, P99};
use super::{added, merged, ms, small_classes};
use crate::metrics::results::{Group, Results};
use crate::report::names::Names;

/// The phase whose latency is the baseline of relative latency: small tenants alone.
pub const SOLO_PHASE: &str = "solo";

/// Isolation of one variant (MuTeBench's relative latency): small tenants' p99 during a phase
/// with a neighbour at work divided by their p99 in the `solo` phase of the same trials.
#[derive(Debug, Clone, PartialEq)]
pub struct Isolation {
    /// Variant id.
    pub variant: String,
    /// The phase compared with `solo` (`burst`).
    pub phase: String,
    /// Small tenants' p99 in `solo`, trials merged, µs.
    pub solo_p99_us: u64,
    /// Small tenants' p99 in the phase, trials merged, µs.
    pub phase_p99_us: u64,
    /// Small tenants' successful operations in `solo`, all trials.
    pub solo_count: u64,
    /// Small tenants' successful operations in the phase, all trials.
    pub phase_count: u64,
    /// The same ratio per trial (each trial's phase p99 over its own solo p99).
    pub per_trial: Vec<f64>,
}

impl Isolation {
    /// Relative latency from the merged histograms.
    pub fn relative(&self) -> f64 {
        self.phase_p99_us as f64 / self.solo_p99_us.max(1) as f64
    }

    /// Whether both p99s rest on the operations a p99 needs.
    pub fn enough(&self) -> bool {
        samples::enough(P99, self.solo_count) && samples::enough(P99, self.phase_count)
    }
}

/// Relative latency per variant and measured phase other than `solo` and `steady`, for small
/// tenants (`basic` + `free`), when the results have a `solo` phase.
pub fn isolation(r: &Results) -> Vec<Isolation> {
    if !r.phases.iter().any(|p| p.measured && p.name == SOLO_PHASE) {
        return Vec::new();
    }
    let small = small_classes(r);
    let small_in = |g: &Group, phase: &str| {
        g.outcome == crate::metrics::results::GroupOutcome::Ok
            && g.phase == phase
            && small.contains(&g.class)
    };
    let mut out = Vec::new();
    for v in &r.variants {
        for ph in r
            .phases
            .iter()
            .filter(|p| p.measured && p.name != SOLO_PHASE && p.name != "steady")
        {
            let solo = merged(r, &v.id, |g| small_in(g, SOLO_PHASE));
            let during = merged(r, &v.id, |g| small_in(g, &ph.name));
            if solo.is_empty() || during.is_empty() {
                continue;
            }
            let per_trial = r
                .trials_of(&v.id)
                .filter_map(|t| {
                    let a = added(t.groups.iter().filter(|g| small_in(g, SOLO_PHASE)));
                    let b = added(t.groups.iter().filter(|g| small_in(g, &ph.name)));
                    (!a.is_empty() && !b.is_empty()).then(|| {
                        b.value_at_quantile(0.99) as f64 / a.value_at_quantile(0.99).max(1) as f64
                    })
                })
                .collect();
            out.push(Isolation {
                variant: v.id.clone(),
                phase: ph.name.clone(),
                solo_p99_us: solo.value_at_quantile(0.99),
                phase_p99_us: during.value_at_quantile(0.99),
                solo_count: solo.len(),
                phase_count: during.len(),
                per_trial,
            });
        }
    }
    out
}

/// The isolation sentences of the headline: the best and worst relative latency, each with
/// its spread over trials; no best when a p99 rests on too few operations (those marked).
pub(super) fn isolation_lines(r: &Results, n: &Names) -> Vec<String> {
    let iso = isolation(r);
    let mut phases: Vec<&str> = iso.iter().map(|i| i.phase.as_str()).collect();
    phases.dedup();
    let mut out = Vec::new();
    for ph in phases {
        let mut list: Vec<&Isolation> = iso.iter().filter(|i| i.phase == ph).collect();
        list.sort_by(|a, b| a.relative().total_cmp(&b.relative()));
        let each: Vec<String> = list
            .iter()
            .map(|i| {
                let lo = i.per_trial.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = i.per_trial.iter().copied().fold(0.0, f64::max);
                let spread = if i.per_trial.len() >= 2 {
                    format!(", trials {lo:.2}–{hi:.2}×")
                } else {
                    String::new()
                };
                format!(
                    "{} {} ({} → {} ms{spread})",
                    n.get(&i.variant),
                    samples::marked(
                        format!("{:.2}×", i.relative()),
                        P99,
                        i.solo_count.min(i.phase_count)
                    ),
                    samples::marked(ms(i.solo_p99_us), P99, i.solo_count),
                    samples::marked(ms(i.phase_p99_us), P99, i.phase_count)
                )
            })
            .collect();
        let Some(best) = list.first() else {
            continue;
        };
        let title = format!(
            "Isolation (small tenants' p99 during `{ph}` relative to `{SOLO_PHASE}`, 1× = untouched)"
        );
        if list.iter().all(|i| i.enough()) {
            out.push(format!(
                "{title}: best {}, at {:.2}×. All: {}.",
                n.get(&best.variant),
                best.relative(),
                each.join("; ")
            ));
        } else {
            let (v, fewest) = list
                .iter()
                .map(|i| (i, i.solo_count.min(i.phase_count)))
                .min_by_key(|x| x.1)
                .map(|(i, c)| (n.get(&i.variant), c))
                .unwrap_or_default();
            out.push(format!(
                "{title}: too few operations to rank — {v} had {} small-tenant operations in a phase (a p99 needs about {}); indicative only, {MARK} marked: {}.",
                super::count(fewest),
                super::count(samples::needed(P99)),
                each.join("; ")
            ));
        }
    }
    out
}
