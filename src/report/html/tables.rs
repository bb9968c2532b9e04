//! The report's tables of figures: variants against the baseline, phases against steady,
//! growth with tenant size, isolation, run-to-run deltas and the servers' descriptions. Each
//! row is what the page (and the Markdown summary) shows, formatted.

use serde::Serialize;

use super::Run;
use crate::metrics::results::Results;
use crate::report::analysis::{self as an, Growth, ms};
use crate::report::charts;
use crate::report::names::Names;

/// A variant's figures against the baseline variant.
#[derive(Serialize)]
pub(super) struct VariantRow {
    name: String,
    id: String,
    colour: String,
    trials: usize,
    throughput: String,
    p50: String,
    p99: String,
    p999: String,
    p99_trials: String,
    ratio: String,
    tput_ratio: String,
    errors: u64,
    leaks: u64,
}

/// Per variant (the matrix's order): trials, throughput, percentiles, the ratios to the
/// `baseline` variant, and errors.
pub(super) fn variant_rows(r: &Results, n: &Names, baseline: &str) -> Vec<VariantRow> {
    let base = an::spread(r, baseline, "all");
    let mut rows = Vec::new();
    for (i, v) in r.variants.iter().enumerate() {
        let Some(s) = an::spread(r, &v.id, "all") else {
            continue;
        };
        let errors: u64 = r
            .trials_of(&v.id)
            .flat_map(|t| &t.groups)
            .filter(|g| g.outcome == "error")
            .map(|g| g.response.count)
            .sum();
        let (ratio, tput_ratio) = match base {
            Some(b) => (
                s.merged.p99_us as f64 / b.merged.p99_us.max(1) as f64,
                an::mean_throughput(s) / an::mean_throughput(b).max(1e-9),
            ),
            None => (1.0, 1.0),
        };
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
            p50: ms(s.merged.p50_us),
            p99: ms(s.merged.p99_us),
            p999: ms(s.merged.p999_us),
            p99_trials: s
                .p99_us
                .iter()
                .map(|x| ms(*x))
                .collect::<Vec<_>>()
                .join(" / "),
            ratio: format!("{ratio:.2}×"),
            tput_ratio: format!("{tput_ratio:.2}×"),
            errors,
            leaks: r.leaks_of(&v.id),
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
    recovered: String,
    accounted: String,
    failed: bool,
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
                p99_before: f.p99_before_ms.map_or("-".into(), |p| format!("{p:.2}")),
                recovered: secs(f.p99_recovered_s),
                accounted: accounted.clone(),
                failed: f.error.is_some()
                    || t.intended.is_some_and(|i| t.operations + t.unissued != i),
            });
        }
    }
    out
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
    growth: String,
    flagged: bool,
}

/// The growth table: per variant and operation, the fitted slopes and the growth class.
pub(super) fn growth_rows(n: &Names, growth: &[Growth]) -> Vec<GrowthRow> {
    growth
        .iter()
        .map(|g| GrowthRow {
            variant: n.get(&g.variant).to_string(),
            op: g.op.name().into(),
            tenants: g.points.len(),
            bands: g.bands,
            slope_p50: g.fit_p50.map_or("-".into(), |f| format!("{:.2}", f.0)),
            slope_p99: g.slope_p99.map_or("-".into(), |s| format!("{s:.2}")),
            growth: g.class.describe().into(),
            flagged: g.plan_gap.is_some(),
        })
        .collect()
}

/// A variant's p99 in a measured phase against steady, for one class.
#[derive(Serialize)]
pub(super) struct PhaseRow {
    variant: String,
    phase: String,
    class: String,
    steady_p99: String,
    phase_p99: String,
    ratio: String,
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
                        .map(|s| s.merged.p99_us)
                };
                if let (Some(base), Some(x)) = (find("steady"), find(&ph.name)) {
                    rows.push(PhaseRow {
                        variant: n.get(&v.id).to_string(),
                        phase: ph.name.clone(),
                        class: class.clone(),
                        steady_p99: ms(base),
                        phase_p99: ms(x),
                        ratio: format!("{:.2}×", x as f64 / base.max(1) as f64),
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
    solo: String,
    during: String,
    relative: String,
    trials: String,
}

/// Relative latency per variant (small tenants' p99 in a phase over their p99 in `solo`).
pub(super) fn isolation_rows(r: &Results, n: &Names) -> Vec<IsolationRow> {
    an::isolation(r)
        .iter()
        .map(|i| IsolationRow {
            variant: n.get(&i.variant).to_string(),
            phase: i.phase.clone(),
            solo: ms(i.solo_p99_us),
            during: ms(i.phase_p99_us),
            relative: format!("{:.2}×", i.relative()),
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
    steady: String,
    during: String,
    relative: String,
    trials: String,
    moving: String,
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
            steady: ms(m.small_steady_p99_us),
            during: ms(m.small_phase_p99_us),
            relative: format!("{:.2}×", m.relative()),
            trials: m
                .per_trial
                .iter()
                .map(|x| format!("{x:.2}×"))
                .collect::<Vec<_>>()
                .join(", "),
            moving: format!(
                "p99 {} ms, slowest {} ms, {} errors",
                ms(m.moving_p99_us),
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
    base: String,
    cur: String,
    change: String,
    direction: &'static str,
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
            rows.push(DeltaRow {
                run: run.name.to_string(),
                variant: n.get(&d.variant).to_string(),
                op: d.op.clone(),
                class: d.class.clone(),
                base: ms(d.base_p99_us),
                cur: ms(d.cur_p99_us),
                change: format!("{:+.1}%", 100.0 * c),
                direction: if c.abs() < 0.02 {
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
