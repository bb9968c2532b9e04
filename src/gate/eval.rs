//! Evaluating gate rules over a run's results (and a baseline run's): one [`Finding`] per rule
//! and selected variant, each with a verdict.
//!
//! Relative rules are noise-aware: they compare per-trial values, never one merged number
//! alone. With `ratio` the rule's bound (e.g. p99 ≤ 1.15 × baseline):
//! - **fail** when the regression exceeds the ratio beyond the trials' spread: the current run's
//!   best trial is still worse than the baseline's worst trial × ratio (≥ 2 trials a side);
//! - **pass** when the merged figures (histograms added) are within the ratio;
//! - **inconclusive** otherwise: the merged figures are beyond the ratio but the trials
//!   overlap. The finding then says how many trials per run would decide it: with `s` the
//!   pooled standard deviation of the trials' log values and `d` the log distance of the merged
//!   ratio from the bound, about `8 s² / d²` (two standard errors of a difference of means).
//!
//! A percentile figure is shown with the operations it rests on: one from fewer than the
//! percentile needs (p99 about 100, p99.9 about 1,000; [`samples`]) is marked, and its finding
//! says so — it is the slowest few operations, not a percentile to gate on with confidence.

use crate::metrics::histogram;
use crate::metrics::results::{Group, Results, Trial, decode};
use crate::op::Op;
use crate::report::analysis::isolation;
use crate::report::analysis::samples::{self, P50, P99, P999};
use crate::report::names::Names;

use super::rules::{Bound, Check, Metric, Rule, Select, matches};

/// What a rule concluded for one selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The rule holds.
    Pass,
    /// The selection matched nothing the rule can judge (no such phase, no baseline); not a
    /// failure, but shown.
    Skipped,
    /// Beyond the bound, but within the trials' noise: a warning (a failure with `--strict`).
    Inconclusive,
    /// The rule is broken.
    Fail,
}

impl Verdict {
    /// The word in tables and reports.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Skipped => "skipped",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Fail => "FAIL",
        }
    }
}

/// One rule's verdict on one variant (and, for plan rules, one operation).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Finding {
    /// The rule's name.
    pub rule: String,
    /// The rule's line in its file.
    pub line: usize,
    /// The id of the variant judged (`None`: the rule matched nothing).
    pub variant: Option<String>,
    /// What was judged: the variant's name (and operation), then the rule's selection.
    pub selection: String,
    /// The baseline's figure, for relative rules.
    pub baseline: Option<String>,
    /// This run's figure.
    pub current: String,
    /// Current / baseline, for relative rules.
    pub ratio: Option<f64>,
    /// The verdict.
    pub verdict: Verdict,
    /// Why, in words (trial ranges, trials a decision would need).
    pub note: String,
}

/// A selection's figures in one run: one value per trial, and the value of all trials merged.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    /// Per trial, in trial order (trials without selected operations left out).
    pub per_trial: Vec<f64>,
    /// All trials merged (histograms added; rates pooled).
    pub merged: f64,
    /// Successful operations behind each per-trial figure.
    pub per_trial_ops: Vec<u64>,
    /// Successful operations behind the merged figure.
    pub ops: u64,
}

/// The quantile a latency metric reads; `None` for throughput and error rate.
pub fn quantile(m: Metric) -> Option<f64> {
    match m {
        Metric::P50Ms => Some(P50),
        Metric::P90Ms => Some(0.9),
        Metric::P99Ms => Some(P99),
        Metric::P999Ms => Some(P999),
        Metric::Throughput | Metric::ErrorRate => None,
    }
}

/// A figure as findings show it, marked when a percentile rests on too few operations.
fn shown(m: Metric, x: f64, ops: u64) -> String {
    match quantile(m) {
        Some(q) => samples::marked(fmt(m, x), q, ops),
        None => fmt(m, x),
    }
}

/// What a percentile from too few operations rests on, for a finding's note; none otherwise.
fn thin(m: Metric, f: &Figures, whose: &str) -> Option<String> {
    let q = quantile(m)?;
    (!samples::enough(q, f.ops)).then(|| format!("{whose}{}", samples::basis(q, f.ops)))
}

fn group_selected(r: &Results, sel: &Select, g: &Group) -> bool {
    let measured = r.phases.iter().any(|p| p.measured && p.name == g.phase);
    measured
        && matches(sel.phase.as_deref(), &g.phase)
        && matches(sel.op.as_deref(), g.op.name())
        && matches(sel.class.as_deref(), &g.class)
}

/// The metric over the selected groups of some trials, and the successful operations behind
/// it; `None` without operations.
fn metric_of(r: &Results, sel: &Select, trials: &[&Trial], m: Metric) -> Option<(f64, u64)> {
    let mut ok = histogram();
    let (mut errors, mut secs) = (0u64, 0.0);
    for t in trials {
        let mut phases: Vec<(&str, f64)> = Vec::new();
        for g in t.groups.iter().filter(|g| group_selected(r, sel, g)) {
            if g.outcome == crate::metrics::results::GroupOutcome::Ok {
                if let Ok(h) = decode(&g.response_histogram) {
                    ok.add(&h).expect("auto-resizing histograms add");
                }
                // The phase's length in this trial, from any group of it: count / rate.
                if g.throughput > 0.0 && !phases.iter().any(|(p, _)| *p == g.phase) {
                    phases.push((&g.phase, g.response.count as f64 / g.throughput));
                }
            } else {
                errors += g.response.count;
            }
        }
        secs += phases.iter().map(|(_, s)| s).sum::<f64>();
    }
    let n = ok.len();
    let latency = !matches!(m, Metric::Throughput | Metric::ErrorRate);
    // No successful operation has no latency (an empty histogram would say 0 ms and pass).
    if n == 0 && (latency || errors == 0) {
        return None;
    }
    let q = |p: f64| ok.value_at_quantile(p) as f64 / 1000.0;
    let x = match m {
        Metric::P50Ms => q(0.5),
        Metric::P90Ms => q(0.9),
        Metric::P99Ms => q(0.99),
        Metric::P999Ms => q(0.999),
        // Pooled over trials: operations over the selected phases' seconds.
        Metric::Throughput if secs > 0.0 => n as f64 / secs,
        Metric::Throughput => 0.0,
        Metric::ErrorRate => errors as f64 / (n + errors) as f64,
    };
    Some((x, n))
}

/// A selection's figures in one variant of a run.
pub fn figures(r: &Results, variant: &str, sel: &Select, m: Metric) -> Option<Figures> {
    let trials: Vec<&Trial> = r.trials_of(variant).collect();
    let (per_trial, per_trial_ops) = trials
        .iter()
        .filter_map(|t| metric_of(r, sel, &[t], m))
        .unzip();
    let (merged, ops) = metric_of(r, sel, &trials, m)?;
    Some(Figures {
        per_trial,
        merged,
        per_trial_ops,
        ops,
    })
}

/// The variants of a run a selection names (by id, backend, layout and index profile).
fn variants<'a>(r: &'a Results, sel: &'a Select) -> impl Iterator<Item = &'a str> + 'a {
    r.variants
        .iter()
        .filter(|v| {
            matches(sel.variant.as_deref(), &v.id)
                && matches(sel.backend.as_deref(), &v.backend)
                && matches(sel.layout.as_deref(), &v.layout)
                && matches(sel.indexes.as_deref(), &v.indexes)
        })
        .map(|v| v.id.as_str())
}

/// The baseline variant compared with a current one: the same id; when the two runs share no
/// id but have as many variants (a rerun narrowed by other flags), the one at the same position.
pub fn paired<'a>(current: &Results, baseline: &'a Results, id: &str) -> Option<(&'a str, bool)> {
    if let Some(v) = baseline.variants.iter().find(|v| v.id == id) {
        return Some((v.id.as_str(), false));
    }
    let shared = current
        .variants
        .iter()
        .any(|c| baseline.variants.iter().any(|b| b.id == c.id));
    if shared || current.variants.len() != baseline.variants.len() {
        return None;
    }
    let i = current.variants.iter().position(|v| v.id == id)?;
    Some((baseline.variants[i].id.as_str(), true))
}

fn fmt(m: Metric, x: f64) -> String {
    match m {
        Metric::Throughput => format!("{x:.1}/s"),
        Metric::ErrorRate => format!("{x:.4}"),
        _ => format!("{x:.2} ms"),
    }
}

fn trials_text(m: Metric, f: &Figures) -> String {
    let v: Vec<String> = f
        .per_trial
        .iter()
        .zip(f.per_trial_ops.iter().copied().chain(std::iter::repeat(0)))
        .map(|(x, n)| shown(m, *x, n))
        .collect();
    v.join(" / ")
}

/// More trials a decision would need than a run should repeat: the difference is within the
/// noise, and the finding says to reduce the noise instead.
const NOISE_SIZED: usize = 100;

/// Trials per run that would separate a merged ratio `r` from the bound `b`, given the trials'
/// values (see the module doc); `None` when the runs have no spread to judge by.
pub fn trials_needed(cur: &[f64], base: &[f64], r: f64, b: f64) -> Option<usize> {
    let logs =
        |x: &[f64]| -> Option<Vec<f64>> { x.iter().map(|v| (*v > 0.0).then(|| v.ln())).collect() };
    let (c, s) = (logs(cur)?, logs(base)?);
    if c.len() < 2 || s.len() < 2 || r <= 0.0 || b <= 0.0 {
        return None;
    }
    let ss = |x: &[f64]| {
        let m = x.iter().sum::<f64>() / x.len() as f64;
        x.iter().map(|v| (v - m).powi(2)).sum::<f64>()
    };
    let var = (ss(&c) + ss(&s)) / (c.len() + s.len() - 2) as f64;
    let d = (r / b).ln().abs();
    if d < 1e-9 {
        return None;
    }
    Some(((8.0 * var / (d * d)).ceil() as usize).max(2))
}

/// The noise-aware verdict of a relative rule (see the module doc).
pub fn relative_verdict(ratio: Bound, cur: &Figures, base: &Figures) -> (Verdict, f64, String) {
    let r = if base.merged > 0.0 {
        cur.merged / base.merged
    } else if cur.merged > 0.0 {
        f64::INFINITY
    } else {
        1.0
    };
    let b = ratio.value();
    if ratio.holds(r) {
        return (Verdict::Pass, r, String::new());
    }
    let spread = cur.per_trial.len() >= 2 && base.per_trial.len() >= 2;
    let (cmin, cmax) = min_max(&cur.per_trial);
    let (bmin, bmax) = min_max(&base.per_trial);
    // Beyond the bound even comparing the current run's best trial with the baseline's worst.
    let separated = match ratio {
        Bound::Max(_) => cmin > b * bmax,
        Bound::Min(_) => cmax < b * bmin,
    };
    if spread && separated {
        return (
            Verdict::Fail,
            r,
            "every current trial is beyond the bound against every baseline trial".into(),
        );
    }
    let why = if spread {
        match trials_needed(&cur.per_trial, &base.per_trial, r, b) {
            Some(n) if n > NOISE_SIZED => format!(
                "beyond the bound merged, but the trials overlap; about {n} trials per run would decide it: the difference is noise-sized, so longer trials or a quieter runner help more than more trials"
            ),
            Some(n) => format!(
                "beyond the bound merged, but the trials overlap; about {n} trials per run would decide it"
            ),
            None => "beyond the bound merged, but the trials overlap".into(),
        }
    } else {
        "beyond the bound, but with one trial a side there is no spread to tell a regression from noise; run at least 2 trials (3 or more is better)".into()
    };
    (Verdict::Inconclusive, r, why)
}

fn min_max(x: &[f64]) -> (f64, f64) {
    x.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        })
}

/// Every finding of a rule over a run (and its baseline for relative rules).
/// Variants are named by `names` (the current run's).
pub fn evaluate(
    rule: &Rule,
    names: &Names,
    current: &Results,
    baseline: Option<&Results>,
) -> Vec<Finding> {
    let n = names;
    let mut out = match &rule.check {
        Check::Absolute { metric, bound } => absolute(rule, n, current, *metric, *bound),
        Check::Relative { metric, ratio } => relative(rule, n, current, baseline, *metric, *ratio),
        Check::Isolation { max } => isolation_findings(rule, n, current, *max),
        Check::Plan {
            forbid_stages,
            max_examined_per_returned,
            forbid_empty,
        } => plan(
            rule,
            n,
            current,
            forbid_stages,
            *max_examined_per_returned,
            *forbid_empty,
        ),
    };
    if out.is_empty() {
        out.push(finding(
            rule,
            None,
            rule.select.describe(),
            "—".into(),
            Verdict::Skipped,
            "the selection matches nothing in this run".into(),
        ));
    }
    out
}

/// The rule every gate applies without being asked: a variant whose operations returned
/// another tenant's records fails, whatever the rules file says.
pub const LEAK_RULE: &str = "tenant isolation (built in)";

/// One failed finding per variant with leaks (`leak` outcomes) in `current`; none when every
/// record came back to its own tenant.
pub fn leak_findings(n: &Names, current: &Results) -> Vec<Finding> {
    current
        .variants
        .iter()
        .filter_map(|v| {
            let leaks = current.leaks_of(&v.id);
            (leaks > 0).then(|| Finding {
                rule: LEAK_RULE.into(),
                line: 0,
                variant: Some(v.id.clone()),
                selection: n.get(&v.id).to_string(),
                baseline: None,
                current: format!("{leaks} leaks"),
                ratio: None,
                verdict: Verdict::Fail,
                note: format!(
                    "{leaks} operations returned records of another tenant; a layout that leaks fails every gate"
                ),
            })
        })
        .collect()
}

fn finding(
    rule: &Rule,
    variant: Option<&str>,
    selection: String,
    current: String,
    verdict: Verdict,
    note: String,
) -> Finding {
    Finding {
        rule: rule.name.clone(),
        line: rule.line,
        variant: variant.map(str::to_string),
        selection,
        baseline: None,
        current,
        ratio: None,
        verdict,
        note,
    }
}

/// A finding's selection text: the variant's name, then the rule's selection.
fn sel_text(n: &Names, variant: &str, rule: &Rule) -> String {
    match rule.select.describe().as_str() {
        "all" => n.get(variant).to_string(),
        s => format!("{} · {s}", n.get(variant)),
    }
}

fn absolute(rule: &Rule, n: &Names, r: &Results, m: Metric, bound: Bound) -> Vec<Finding> {
    variants(r, &rule.select)
        .filter_map(|v| {
            let f = figures(r, v, &rule.select, m)?;
            let verdict = if bound.holds(f.merged) {
                Verdict::Pass
            } else {
                Verdict::Fail
            };
            let mut note = format!("trials {}", trials_text(m, &f));
            if let Some(t) = thin(m, &f, "") {
                note.push_str("; ");
                note.push_str(&t);
            }
            Some(finding(
                rule,
                Some(v),
                sel_text(n, v, rule),
                shown(m, f.merged, f.ops),
                verdict,
                note,
            ))
        })
        .collect()
}

fn relative(
    rule: &Rule,
    n: &Names,
    r: &Results,
    baseline: Option<&Results>,
    m: Metric,
    ratio: Bound,
) -> Vec<Finding> {
    variants(r, &rule.select)
        .filter_map(|v| {
            let cur = figures(r, v, &rule.select, m)?;
            let Some(base_run) = baseline else {
                return Some(finding(
                    rule,
                    Some(v),
                    sel_text(n, v, rule),
                    shown(m, cur.merged, cur.ops),
                    Verdict::Skipped,
                    "no baseline given (--baseline)".into(),
                ));
            };
            let Some((bid, by_position)) = paired(r, base_run, v) else {
                return Some(finding(
                    rule,
                    Some(v),
                    sel_text(n, v, rule),
                    shown(m, cur.merged, cur.ops),
                    Verdict::Skipped,
                    "the baseline has no such variant".into(),
                ));
            };
            let Some(base) = figures(base_run, bid, &rule.select, m) else {
                return Some(finding(
                    rule,
                    Some(v),
                    sel_text(n, v, rule),
                    shown(m, cur.merged, cur.ops),
                    Verdict::Skipped,
                    format!("the baseline's {bid} has no operations in this selection"),
                ));
            };
            let (verdict, x, why) = relative_verdict(ratio, &cur, &base);
            let mut note = format!(
                "trials {} vs baseline {}",
                trials_text(m, &cur),
                trials_text(m, &base)
            );
            if by_position {
                note.push_str(&format!("; paired by position with baseline variant {bid}"));
            }
            if !why.is_empty() {
                note.push_str("; ");
                note.push_str(&why);
            }
            for t in [thin(m, &cur, "current "), thin(m, &base, "baseline ")]
                .into_iter()
                .flatten()
            {
                note.push_str("; ");
                note.push_str(&t);
            }
            Some(Finding {
                baseline: Some(shown(m, base.merged, base.ops)),
                ratio: Some(x),
                ..finding(
                    rule,
                    Some(v),
                    sel_text(n, v, rule),
                    shown(m, cur.merged, cur.ops),
                    verdict,
                    note,
                )
            })
        })
        .collect()
}

fn isolation_findings(rule: &Rule, n: &Names, r: &Results, max: f64) -> Vec<Finding> {
    let names: Vec<&str> = variants(r, &rule.select).collect();
    isolation(r)
        .into_iter()
        .filter(|i| names.contains(&i.variant.as_str()))
        .filter(|i| matches(rule.select.phase.as_deref(), &i.phase))
        .map(|i| {
            let x = i.relative();
            let per: Vec<String> = i.per_trial.iter().map(|t| format!("{t:.2}×")).collect();
            let mut note = format!("per trial {}", per.join(" / "));
            let current = if i.enough() {
                format!("{x:.2}×")
            } else {
                note.push_str(&format!(
                    "; small tenants' p99 of {} operations in solo and {} in {} (a p99 needs about {}): indicative only",
                    i.solo_count,
                    i.phase_count,
                    i.phase,
                    samples::needed(P99)
                ));
                format!("{x:.2}×{}", samples::MARK)
            };
            finding(
                rule,
                Some(&i.variant),
                format!(
                    "{} · phase {} vs solo, small tenants",
                    n.get(&i.variant),
                    i.phase
                ),
                current,
                if x <= max {
                    Verdict::Pass
                } else {
                    Verdict::Fail
                },
                note,
            )
        })
        .collect()
}

fn plan(
    rule: &Rule,
    n: &Names,
    r: &Results,
    forbid: &[String],
    max: Option<f64>,
    forbid_empty: bool,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for v in variants(r, &rule.select) {
        let Some(t) = r.trials_of(v).find(|t| !t.evidence.explain.is_empty()) else {
            continue;
        };
        let mut ops: Vec<Op> = t.evidence.explain.iter().map(|e| e.op).collect();
        ops.dedup();
        // Tenant-scoped operations only: the cross-tenant admin query scans by design.
        for op in ops.into_iter().filter(|o| *o != Op::AdminCrossTenant) {
            if !matches(rule.select.op.as_deref(), op.name()) {
                continue;
            }
            let Some(e) = t
                .evidence
                .explain
                .iter()
                .filter(|e| e.op == op)
                .max_by_key(|e| e.tenant_documents)
            else {
                continue;
            };
            let plan = e.stages.join(" > ");
            let examined = e.keys_examined.max(e.docs_examined) as f64 / e.returned.max(1) as f64;
            let bad: Vec<&String> = forbid
                .iter()
                .filter(|f| e.stages.iter().any(|s| s.contains(f.as_str())))
                .collect();
            let mut why = Vec::new();
            if !bad.is_empty() {
                let b: Vec<&str> = bad.iter().map(|s| s.as_str()).collect();
                why.push(format!("plan has {}", b.join(", ")));
            }
            if let Some(m) = max
                && examined > m
            {
                why.push(format!("{examined:.0} examined per returned > {m}"));
            }
            if forbid_empty
                && let Some(empty) = t.evidence.explain.iter().find(|x| x.op == op && x.empty)
            {
                why.push(format!(
                    "found 0 records for tenant {}, which has records: an empty query was measured",
                    empty.tenant
                ));
            }
            out.push(finding(
                rule,
                Some(v),
                format!("{} · {} · largest tenant {}", n.get(v), op.name(), e.tenant),
                format!("{plan} · {examined:.0} examined/returned"),
                if why.is_empty() {
                    Verdict::Pass
                } else {
                    Verdict::Fail
                },
                why.join("; "),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(per_trial: &[f64], merged: f64) -> Figures {
        Figures {
            per_trial: per_trial.to_vec(),
            merged,
            per_trial_ops: vec![1_000; per_trial.len()],
            ops: 1_000 * per_trial.len() as u64,
        }
    }

    #[test]
    fn relative_rules_fail_only_beyond_the_spread() {
        let base = f(&[10.0, 12.0], 11.0);
        // Same code twice: within the ratio.
        let (v, r, _) = relative_verdict(Bound::Max(1.15), &f(&[11.0, 12.5], 11.7), &base);
        assert_eq!(v, Verdict::Pass);
        assert!((r - 11.7 / 11.0).abs() < 1e-9);
        // A dropped index: every current trial beyond every baseline trial × 1.15.
        let (v, ..) = relative_verdict(Bound::Max(1.15), &f(&[40.0, 45.0], 42.0), &base);
        assert_eq!(v, Verdict::Fail);
        // Noise: merged beyond, trials overlapping.
        let (v, _, why) = relative_verdict(Bound::Max(1.15), &f(&[11.0, 20.0], 15.0), &base);
        assert_eq!(v, Verdict::Inconclusive);
        assert!(why.contains("trials per run would decide it"), "{why}");
        assert!(!why.contains("noise-sized"), "{why}");
        // Merged just past the bound on noisy trials: hundreds of trials, said to be noise.
        let (v, _, why) = relative_verdict(Bound::Max(1.15), &f(&[10.0, 15.0], 12.7), &base);
        assert_eq!(v, Verdict::Inconclusive);
        assert!(why.contains("noise-sized"), "{why}");
        // One trial a side: never a failure.
        let (v, ..) = relative_verdict(Bound::Max(1.15), &f(&[40.0], 40.0), &f(&[10.0], 10.0));
        assert_eq!(v, Verdict::Inconclusive);
        // Throughput: higher is better.
        let tb = f(&[500.0, 520.0], 510.0);
        let (v, ..) = relative_verdict(Bound::Min(0.9), &f(&[300.0, 310.0], 305.0), &tb);
        assert_eq!(v, Verdict::Fail);
        let (v, ..) = relative_verdict(Bound::Min(0.9), &f(&[505.0, 515.0], 510.0), &tb);
        assert_eq!(v, Verdict::Pass);
    }

    #[test]
    fn trials_needed_grow_with_the_noise_and_shrink_with_the_effect() {
        let few = trials_needed(&[11.0, 20.0], &[10.0, 12.0], 1.4, 1.15).expect("spread");
        let more = trials_needed(&[11.0, 20.0], &[10.0, 12.0], 1.2, 1.15).expect("spread");
        assert!(more > few, "{more} > {few}");
        let quiet = trials_needed(&[13.0, 13.2], &[10.0, 10.1], 1.3, 1.15).expect("spread");
        assert!(quiet <= few, "{quiet} <= {few}");
        assert_eq!(trials_needed(&[1.0], &[1.0, 2.0], 2.0, 1.15), None);
    }
}
