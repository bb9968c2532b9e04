//! The report's tables of figures: variants against the baseline, phases against steady,
//! growth with tenant size, isolation, run-to-run deltas and the servers' descriptions. Each
//! row is what the page (and the Markdown summary) shows, formatted.

use serde::Serialize;

use super::Run;
use crate::metrics::results::Results;
use crate::report::analysis::samples::{self, P50, P99, P999, Pct};
use crate::report::analysis::{self as an, Growth, ms};
use crate::report::charts;
use crate::report::names::Names;

/// A variant's figures against the baseline variant; percentiles marked when they rest on too
/// few operations ([`samples`]).
#[derive(Serialize)]
pub(super) struct VariantRow {
    name: String,
    id: String,
    colour: String,
    trials: usize,
    throughput: String,
    ops: String,
    p50: Pct,
    p99: Pct,
    p999: Pct,
    p99_trials: String,
    ratio: String,
    tput_ratio: String,
    errors: u64,
    leaks: u64,
    /// Any of its percentiles (merged or per trial) from too few operations.
    pub(super) few: bool,
}

/// Each trial's p99 in ms, marked where that trial had too few operations for it.
pub(super) fn p99_per_trial(p99_us: &[u64], counts: &[u64]) -> (String, bool) {
    let mut few = false;
    let each: Vec<String> = p99_us
        .iter()
        .enumerate()
        .map(|(i, us)| {
            let n = counts.get(i).copied().unwrap_or(0);
            few |= !samples::enough(P99, n);
            samples::marked(ms(*us), P99, n)
        })
        .collect();
    (each.join(" / "), few)
}

/// Per variant (the matrix's order): trials, throughput, successful operations, percentiles,
/// the ratios to the `baseline` variant, and errors.
pub(super) fn variant_rows(r: &Results, n: &Names, baseline: &str) -> Vec<VariantRow> {
    let base = an::spread(r, baseline, "all");
    let phase = an::headline_phase(r).unwrap_or_default();
    let mut rows = Vec::new();
    for (i, v) in r.variants.iter().enumerate() {
        let Some(s) = an::spread(r, &v.id, "all") else {
            continue;
        };
        let errors: u64 = r
            .trials_of(&v.id)
            .flat_map(|t| &t.groups)
            .filter(|g| g.outcome == crate::metrics::results::GroupOutcome::Error)
            .map(|g| g.response.count)
            .sum();
        let (ratio, tput_ratio) = match base {
            Some(b) => (
                s.merged.p99_us as f64 / b.merged.p99_us.max(1) as f64,
                an::mean_throughput(s) / an::mean_throughput(b).max(1e-9),
            ),
            None => (1.0, 1.0),
        };
        let c = s.merged.count;
        let (p50, p99, p999) = (
            Pct::new(P50, s.merged.p50_us, c),
            Pct::new(P99, s.merged.p99_us, c),
            Pct::new(P999, s.merged.p999_us, c),
        );
        let (p99_trials, trials_few) =
            p99_per_trial(&s.p99_us, &an::trial_counts(r, &v.id, phase, "all"));
        let few = p50.few || p99.few || p999.few || trials_few;
        let ratio_few = p99.few || base.is_some_and(|b| !samples::enough(P99, b.merged.count));
        rows.push(VariantRow {
            name: n.get(&v.id).to_string(),
            id: v.id.clone(),
            colour: charts::css_colour(i),
            trials: s.p99_us.len(),
            throughput: s
                .throughput
                .iter()
                .map(|x| format!("{x:.0}"))
                .collect::<Vec<_>>()
                .join(" / "),
            ops: an::count(c),
            p50,
            p99,
            p999,
            p99_trials,
            ratio: if ratio_few {
                format!("{ratio:.2}×{}", samples::MARK)
            } else {
                format!("{ratio:.2}×")
            },
            tput_ratio: format!("{tput_ratio:.2}×"),
            errors,
            leaks: r.leaks_of(&v.id),
            few,
        });
    }
    rows
}

/// One line per variant whose operations returned another tenant's records: the report shows
/// them in red above everything else, and the gate fails on them.
pub(super) fn leak_lines(r: &Results, n: &Names) -> Vec<String> {
    r.variants
        .iter()
        .filter_map(|v| {
            let leaks = r.leaks_of(&v.id);
            (leaks > 0).then(|| {
                format!(
                    "{}: {leaks} operations returned records of another tenant (each checked by its tenant field); the layout does not keep tenants apart",
                    n.get(&v.id)
                )
            })
        })
        .collect()
}

/// One fault of one trial, as the report's "Faults and recovery" table shows it.
#[derive(Serialize)]
pub(super) struct FaultRow {
    variant: String,
    trial: u32,
    fault: String,
    window: String,
    detail: String,
    errors: String,
    first_ok: String,
    p99_before: String,
    p99_before_title: String,
    recovered: String,
    accounted: String,
    failed: bool,
    pub(super) few: bool,
}

/// Every trial's faults: when each really ran, what it did, the errors it caused by kind, the
/// first success after its end, when the p99 came back within 1.5× of before, and the trial's
/// accounting of its operations (ok + failed + unissued = intended).
pub(super) fn fault_rows(r: &Results, n: &Names) -> Vec<FaultRow> {
    let secs = |x: Option<f64>| x.map_or("not within the run".to_string(), |s| format!("{s:.2} s"));
    let mut out = Vec::new();
    for t in &r.trials {
        let accounted = match t.intended {
            Some(i) => format!(
                "{} + {} unissued {} {i} intended",
                t.operations,
                t.unissued,
                if t.operations + t.unissued == i {
                    "="
                } else {
                    "≠"
                }
            ),
            None => format!("{} (closed loop)", t.operations),
        };
        for f in &t.evidence.faults {
            let kinds: Vec<String> = f
                .errors
                .iter()
                .map(|(k, c)| format!("{} {c}", k.name()))
                .collect();
            out.push(FaultRow {
                variant: n.get(&t.variant).to_string(),
                trial: t.trial,
                fault: match &f.tenant {
                    Some(id) => format!("{} ({id})", f.kind),
                    None => f.kind.clone(),
                },
                window: match (f.began_s, f.ended_s) {
                    (Some(a), Some(b)) => format!("{a:.2}–{b:.2} s"),
                    _ => format!(
                        "planned {:.1} s + {:.1} s",
                        f.planned_at_s, f.planned_duration_s
                    ),
                },
                detail: match &f.error {
                    Some(e) => format!("{} {e}", f.detail).trim().to_string(),
                    None => f.detail.clone(),
                },
                errors: if kinds.is_empty() {
                    "0".into()
                } else {
                    format!("{} ({})", f.errors.values().sum::<u64>(), kinds.join(", "))
                },
                first_ok: secs(f.first_ok_after_s),
                p99_before: f.p99_before_ms.map_or("-".into(), |p| {
                    samples::marked(format!("{p:.2}"), P99, before_count(t, f.began_s))
                }),
                p99_before_title: samples::basis(P99, before_count(t, f.began_s)),
                few: f.p99_before_ms.is_some() && !samples::enough(P99, before_count(t, f.began_s)),
                recovered: secs(f.p99_recovered_s),
                accounted: accounted.clone(),
                failed: f.error.is_some()
                    || t.intended.is_some_and(|i| t.operations + t.unissued != i),
            });
        }
    }
    out
}

/// Successful operations (every class) in the seconds a fault's "p99 before" is read from: the
/// 5 whole seconds before the one it began in.
fn before_count(t: &crate::metrics::results::Trial, began_s: Option<f64>) -> u64 {
    let Some(first) = began_s.map(|b| b.floor() as u64) else {
        return 0;
    };
    t.timeline
        .iter()
        .filter(|s| s.t + 5 >= first && s.t < first)
        .map(|s| s.response.count)
        .sum()
}

/// A variant's latency growth with tenant size for one operation.
#[derive(Serialize)]
pub(super) struct GrowthRow {
    variant: String,
    op: String,
    tenants: usize,
    bands: usize,
    slope_p50: String,
    slope_p99: String,
    slope_p99_title: String,
    growth: String,
    flagged: bool,
    pub(super) few: bool,
}

/// The growth table: per variant and operation, the fitted slopes and the growth class. The p99
/// slope is marked when it was fitted to tenants' p99s of fewer operations than a p99 needs.
pub(super) fn growth_rows(n: &Names, growth: &[Growth]) -> Vec<GrowthRow> {
    growth
        .iter()
        .map(|g| {
            let thin = g.points.iter().filter(|p| !samples::enough(P99, p.ops)).count();
            let fewest = g.points.iter().map(|p| p.ops).min().unwrap_or(0);
            (g, thin, fewest)
        })
        .map(|(g, thin, fewest)| GrowthRow {
            variant: n.get(&g.variant).to_string(),
            op: g.op.name().into(),
            tenants: g.points.len(),
            bands: g.bands,
            slope_p50: g.fit_p50.map_or("-".into(), |f| format!("{:.2}", f.0)),
            slope_p99: g.slope_p99.map_or("-".into(), |s| {
                if thin > 0 {
                    format!("{s:.2}{}", samples::MARK)
                } else {
                    format!("{s:.2}")
                }
            }),
            slope_p99_title: if thin > 0 {
                format!(
                    "{thin} of {} tenants' p99 from fewer than {} operations (the fewest {fewest}): indicative only",
                    g.points.len(),
                    samples::needed(P99)
                )
            } else {
                format!("every tenant's p99 from {} operations or more", samples::needed(P99))
            },
            growth: g.class.describe().into(),
            flagged: g.plan_gap.is_some(),
            few: thin > 0 && g.slope_p99.is_some(),
        })
        .collect()
}

/// A variant's p99 in a measured phase against steady, for one class.
#[derive(Serialize)]
pub(super) struct PhaseRow {
    variant: String,
    phase: String,
    class: String,
    steady_p99: Pct,
    phase_p99: Pct,
    ratio: String,
    pub(super) few: bool,
}

/// Each measured phase against steady, per class: the noisy-neighbour ratio.
pub(super) fn phase_rows(r: &Results, n: &Names) -> Vec<PhaseRow> {
    let mut rows = Vec::new();
    for v in &r.variants {
        for ph in r.phases.iter().filter(|p| p.measured && p.name != "steady") {
            for class in std::iter::once("all".to_string()).chain(r.classes.iter().cloned()) {
                let find = |phase: &str| {
                    r.spread
                        .iter()
                        .find(|s| s.variant == v.id && s.phase == phase && s.class == class)
                        .filter(|s| s.merged.count > 0)
                        .map(|s| (s.merged.p99_us, s.merged.count))
                };
                if let (Some((base, bn)), Some((x, xn))) = (find("steady"), find(&ph.name)) {
                    let (steady_p99, phase_p99) = (Pct::new(P99, base, bn), Pct::new(P99, x, xn));
                    let few = steady_p99.few || phase_p99.few;
                    let ratio = format!("{:.2}×", x as f64 / base.max(1) as f64);
                    rows.push(PhaseRow {
                        variant: n.get(&v.id).to_string(),
                        phase: ph.name.clone(),
                        class: class.clone(),
                        steady_p99,
                        phase_p99,
                        ratio: if few {
                            format!("{ratio}{}", samples::MARK)
                        } else {
                            ratio
                        },
                        few,
                    });
                }
            }
        }
    }
    rows
}

/// A variant's relative latency in one phase.
#[derive(Serialize)]
pub(super) struct IsolationRow {
    variant: String,
    phase: String,
    solo: Pct,
    during: Pct,
    relative: String,
    trials: String,
    pub(super) few: bool,
}

/// Relative latency per variant (small tenants' p99 in a phase over their p99 in `solo`).
pub(super) fn isolation_rows(r: &Results, n: &Names) -> Vec<IsolationRow> {
    an::isolation(r)
        .iter()
        .map(|i| IsolationRow {
            variant: n.get(&i.variant).to_string(),
            phase: i.phase.clone(),
            solo: Pct::new(P99, i.solo_p99_us, i.solo_count),
            during: Pct::new(P99, i.phase_p99_us, i.phase_count),
            relative: samples::marked(
                format!("{:.2}×", i.relative()),
                P99,
                i.solo_count.min(i.phase_count),
            ),
            few: !i.enough(),
            trials: i
                .per_trial
                .iter()
                .map(|x| format!("{x:.2}×"))
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect()
}

/// One trial's migration.
#[derive(Serialize)]
pub(super) struct MigrationTrialRow {
    variant: String,
    trial: u32,
    tenant: String,
    route: String,
    records: String,
    rate: String,
    caught_up: String,
    cut_over: String,
    held: String,
    outcome: String,
    failed: bool,
}

/// A variant's migrations against everyone else's latency.
#[derive(Serialize)]
pub(super) struct MigrationCostRow {
    variant: String,
    phase: String,
    steady: Pct,
    during: Pct,
    relative: String,
    trials: String,
    moving: String,
    pub(super) few: bool,
}

/// Per trial, what its migration did; per variant, what it cost the other tenants and what the
/// moving tenant saw.
pub(super) fn migration_rows(
    r: &Results,
    n: &Names,
) -> (Vec<MigrationTrialRow>, Vec<MigrationCostRow>) {
    let all = an::migrations(r);
    let mut trials = Vec::new();
    for m in &all {
        for (t, e) in r
            .trials_of(&m.variant)
            .filter_map(|t| Some((t.trial, t.evidence.migration.as_ref()?)))
        {
            let outcome = match (&e.error, e.cut_over) {
                (Some(err), _) => err.clone(),
                (None, true) if e.within_run => "verified, cut over".to_string(),
                (None, true) => "verified, cut over after the workload ended".to_string(),
                (None, false) => "not cut over".to_string(),
            };
            trials.push(MigrationTrialRow {
                variant: n.get(&m.variant).to_string(),
                trial: t,
                tenant: format!("{} ({})", e.tenant, e.class),
                route: format!("{} → {} ({})", e.from, e.to, e.kind),
                records: an::count(e.records),
                rate: match e.rate_limit {
                    Some(l) => format!("{:.0}/s (limit {l})", e.copy_rate()),
                    None => format!("{:.0}/s", e.copy_rate()),
                },
                caught_up: an::count(e.caught_up),
                cut_over: format!("{:.2} s", e.cut_over_s),
                held: format!("{:.1} ms", e.freeze_s * 1000.0),
                failed: e.error.is_some() || !e.cut_over,
                outcome,
            });
        }
    }
    let costs = all
        .iter()
        .map(|m| MigrationCostRow {
            variant: n.get(&m.variant).to_string(),
            phase: m.phase.clone(),
            steady: Pct::new(P99, m.small_steady_p99_us, m.small_steady_count),
            during: Pct::new(P99, m.small_phase_p99_us, m.small_phase_count),
            relative: samples::marked(
                format!("{:.2}×", m.relative()),
                P99,
                m.small_steady_count.min(m.small_phase_count),
            ),
            few: !samples::enough(P99, m.small_steady_count.min(m.small_phase_count))
                || !samples::enough(P99, m.moving_count),
            trials: m
                .per_trial
                .iter()
                .map(|x| format!("{x:.2}×"))
                .collect::<Vec<_>>()
                .join(", "),
            moving: format!(
                "p99 {} ms of {} operations, slowest {} ms, {} errors",
                samples::marked(ms(m.moving_p99_us), P99, m.moving_count),
                an::count(m.moving_count),
                ms(m.moving_max_us),
                m.moving_errors
            ),
        })
        .collect();
    (trials, costs)
}

/// One figure of a later run against the baseline run.
#[derive(Serialize)]
pub(super) struct DeltaRow {
    run: String,
    variant: String,
    pub(super) op: String,
    pub(super) class: String,
    base: Pct,
    cur: Pct,
    change: String,
    direction: &'static str,
    pub(super) few: bool,
}

/// With two runs or more, every later run's p99 against the first's, per variant, operation
/// and class (each also `all`); none for one run. Variants go by the current run's names.
pub(super) fn delta_rows(runs: &[Run], n: &Names) -> Vec<DeltaRow> {
    let mut rows = Vec::new();
    let Some((first, later)) = runs.split_first() else {
        return rows;
    };
    for run in later {
        for d in an::deltas(first.results, run.results) {
            let c = d.change();
            let (base, cur) = (
                Pct::new(P99, d.base_p99_us, d.base_ops),
                Pct::new(P99, d.cur_p99_us, d.cur_ops),
            );
            // A change between p99s of too few operations is one slow operation's: shown,
            // marked, and called neither better nor worse.
            let few = base.few || cur.few;
            rows.push(DeltaRow {
                run: run.name.to_string(),
                variant: n.get(&d.variant).to_string(),
                op: d.op.clone(),
                class: d.class.clone(),
                base,
                cur,
                change: samples::marked(
                    format!("{:+.1}%", 100.0 * c),
                    P99,
                    d.base_ops.min(d.cur_ops),
                ),
                few,
                direction: if few {
                    "indicative"
                } else if c.abs() < 0.02 {
                    "same"
                } else if c < 0.0 {
                    "better"
                } else {
                    "worse"
                },
            });
        }
    }
    rows
}

/// Each server as the environment section names it: its role, database and version (the
/// surrogate named as such).
pub(super) fn servers(r: &Results) -> Vec<String> {
    r.environment
        .servers
        .iter()
        .map(|s| match &s.surrogate {
            Some(sur) => format!(
                "{} server: SecantusDB {sur} (MongoDB-compatible surrogate, reports MongoDB {})",
                s.role,
                s.version.as_deref().unwrap_or("?")
            ),
            None => format!(
                "{} server: {} {}",
                s.role,
                match s.backend.as_str() {
                    "mongodb" => "MongoDB",
                    "postgres" => "PostgreSQL",
                    other => other,
                },
                s.version.as_deref().unwrap_or("?")
            ),
        })
        .collect()
}
