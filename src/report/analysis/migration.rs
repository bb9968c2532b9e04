//! Migration under load: per variant, what each trial's migration did (records copied, copy
//! rate, time to cut-over, the moving tenant's freeze, verification) from its evidence, and
//! what it cost everyone else — small tenants' (`basic` + `free`) p99 during the migrating
//! phase against `steady` before it (relative latency, as for the noisy neighbour) — and what
//! the moving tenant saw (its p99, slowest operation and errors in that phase).

use super::{added, merged, small_classes};
use crate::metrics::results::{Group, MigrationEvidence, Results};

/// One variant's migrations.
#[derive(Debug, Clone, PartialEq)]
pub struct MigrationSummary {
    /// Variant id.
    pub variant: String,
    /// The migrating phase.
    pub phase: String,
    /// Each trial's migration evidence, in trial order.
    pub trials: Vec<MigrationEvidence>,
    /// Small tenants' p99 in `steady` (before the migration), trials merged, µs.
    pub small_steady_p99_us: u64,
    /// Their p99 in the migrating phase, trials merged, µs.
    pub small_phase_p99_us: u64,
    /// Small tenants' successful operations in `steady`, all trials.
    pub small_steady_count: u64,
    /// Their successful operations in the migrating phase, all trials.
    pub small_phase_count: u64,
    /// The same ratio per trial.
    pub per_trial: Vec<f64>,
    /// The moving tenant's p99 in the migrating phase, trials merged, µs (0: no operation).
    pub moving_p99_us: u64,
    /// The moving tenant's successful operations in that phase, all trials.
    pub moving_count: u64,
    /// Its slowest operation in that phase, µs.
    pub moving_max_us: u64,
    /// Its failed operations in that phase, all trials.
    pub moving_errors: u64,
}

impl MigrationSummary {
    /// Small tenants' relative latency: phase p99 over steady p99.
    pub fn relative(&self) -> f64 {
        self.small_phase_p99_us as f64 / self.small_steady_p99_us.max(1) as f64
    }
}

/// The migrations of every variant whose trials ran one.
pub fn migrations(r: &Results) -> Vec<MigrationSummary> {
    let small = small_classes(r);
    let mut out = Vec::new();
    for v in &r.variants {
        let trials: Vec<MigrationEvidence> = r
            .trials_of(&v.id)
            .filter_map(|t| t.evidence.migration.clone())
            .collect();
        let Some(first) = trials.first() else {
            continue;
        };
        let phase = first.phase.clone();
        let moving = first.class.clone();
        // Small tenants, as for the noisy neighbour: the moving tenant has a class of its own
        // (`moving-<id>`), so it is never among them.
        let small_in = |g: &Group, ph: &str| g.phase == ph && small.contains(&g.class);
        let steady = merged(r, &v.id, |g| small_in(g, "steady"));
        let during = merged(r, &v.id, |g| small_in(g, &phase));
        let per_trial = r
            .trials_of(&v.id)
            .filter_map(|t| {
                let ok = |g: &&Group| g.outcome == crate::metrics::results::GroupOutcome::Ok;
                let a = added(t.groups.iter().filter(ok).filter(|g| small_in(g, "steady")));
                let b = added(t.groups.iter().filter(ok).filter(|g| small_in(g, &phase)));
                (!a.is_empty() && !b.is_empty()).then(|| {
                    b.value_at_quantile(0.99) as f64 / a.value_at_quantile(0.99).max(1) as f64
                })
            })
            .collect();
        let mine = merged(r, &v.id, |g| g.phase == phase && g.class == moving);
        let moving_errors = r
            .trials_of(&v.id)
            .flat_map(|t| &t.groups)
            .filter(|g| {
                g.phase == phase
                    && g.class == moving
                    && g.outcome == crate::metrics::results::GroupOutcome::Error
            })
            .map(|g| g.response.count)
            .sum();
        out.push(MigrationSummary {
            variant: v.id.clone(),
            phase,
            trials,
            small_steady_p99_us: steady.value_at_quantile(0.99),
            small_phase_p99_us: during.value_at_quantile(0.99),
            small_steady_count: steady.len(),
            small_phase_count: during.len(),
            per_trial,
            moving_p99_us: if mine.is_empty() {
                0
            } else {
                mine.value_at_quantile(0.99)
            },
            moving_count: mine.len(),
            moving_max_us: mine.max(),
            moving_errors,
        });
    }
    out
}
/// The answer's sentences on each variant's migrations: what moved, how long to the cut-over,
/// whether it verified, and what it cost small tenants (their p99 during the migrating phase
/// against `steady`, with the operations behind each, marked when too few) — what a run with a
/// migration asks, even with one variant.
pub fn migration_lines(r: &Results, n: &crate::report::names::Names) -> Vec<String> {
    use super::samples::{P99, marked};
    use super::{count, ms};
    migrations(r)
        .iter()
        .map(|m| {
            let moved: Vec<String> = m
                .trials
                .iter()
                .map(|e| match (&e.error, e.cut_over) {
                    (Some(err), _) => format!("{} failed: {err}", e.tenant),
                    (None, false) => format!("{} not cut over", e.tenant),
                    (None, true) => format!(
                        "{} records of {} in {:.2} s, cut over {:.2} s after the start, its operations held {:.0} ms, verified",
                        count(e.records),
                        e.tenant,
                        e.copy_s,
                        e.cut_over_s,
                        e.freeze_s * 1000.0
                    ),
                })
                .collect();
            format!(
                "Migration in {}: {}. It cost small tenants p99 {} ms during `{}` ({} operations) against {} ms in `steady` ({} operations), {:.2}×.",
                n.get(&m.variant),
                moved.join("; "),
                marked(ms(m.small_phase_p99_us), P99, m.small_phase_count),
                m.phase,
                count(m.small_phase_count),
                marked(ms(m.small_steady_p99_us), P99, m.small_steady_count),
                count(m.small_steady_count),
                m.relative()
            )
        })
        .collect()
}
