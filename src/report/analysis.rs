//! What a report says, computed from results alone: the headline answer, latency growth against
//! tenant size with its named class, plan-vs-reality flags, sweeps over numeric knobs and
//! run-to-run deltas. Pure functions over [`Results`]; drawing and HTML live elsewhere.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::metrics::histogram;
use crate::metrics::results::{self as res, ExplainRecord, Group, Results, Spread};
use crate::op::Op;

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
        g.outcome == "ok" && r.phases.iter().any(|p| p.measured && p.name == g.phase) && keep(g)
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

/// The classes counted as small tenants in these results: `basic` and `free` where present,
/// else every class.
pub fn small_classes(r: &Results) -> Vec<String> {
    let small: Vec<String> = r
        .classes
        .iter()
        .filter(|c| SMALL.contains(&c.as_str()))
        .cloned()
        .collect();
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

/// The headline: the answer in a few sentences and the variant that won.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    /// Sentences, most important first.
    pub lines: Vec<String>,
    /// The variant with the lowest p99 (all operations, headline phase).
    pub winner: Option<String>,
    /// The baseline variant (the matrix's first).
    pub baseline: String,
}

/// The answer the results give: which variant has the lowest p99, against the baseline (the
/// first variant), by how much, for which tenants, with the evidence and the spread.
pub fn answer(r: &Results) -> Answer {
    // Over several data sizes (the `scale` axis) the headline compares the variants at the
    // largest size, and says how each grew across sizes.
    let sizes: std::collections::BTreeSet<u64> =
        r.variants.iter().filter_map(|v| v.documents).collect();
    let largest = sizes.last().copied();
    let compared = |v: &&res::VariantInfo| sizes.len() < 2 || v.documents == largest;
    let baseline = r
        .variants
        .iter()
        .find(compared)
        .map(|v| v.id.clone())
        .unwrap_or_default();
    let mut out = Answer {
        baseline: baseline.clone(),
        ..Default::default()
    };
    let figures: Vec<(&str, &Spread)> = r
        .variants
        .iter()
        .filter(compared)
        .filter_map(|v| Some((v.id.as_str(), spread(r, &v.id, "all")?)))
        .filter(|(_, s)| s.merged.count > 0)
        .collect();
    let Some(&(winner, w)) = figures.iter().min_by(|a, b| {
        (a.1.merged.p99_us, -mean_throughput(a.1))
            .partial_cmp(&(b.1.merged.p99_us, -mean_throughput(b.1)))
            .unwrap_or(std::cmp::Ordering::Equal)
    }) else {
        out.lines
            .push("No successful operations were measured: there is nothing to compare.".into());
        return out;
    };
    out.winner = Some(winner.to_string());
    let base = figures.iter().find(|(v, _)| *v == baseline).map(|x| x.1);
    let range = |s: &Spread| {
        s.p99_relative_range
            .map(|x| format!("{:.0}%", 100.0 * x))
            .unwrap_or_else(|| "one trial".into())
    };
    match base {
        Some(b) if winner != baseline => {
            out.lines.push(format!(
                "{winner} has the lowest p99: {} ms against {} ms for the baseline {baseline} ({:.2}×), at {:.0} against {:.0} successful operations/s ({:.2}×).",
                ms(w.merged.p99_us),
                ms(b.merged.p99_us),
                w.merged.p99_us as f64 / b.merged.p99_us.max(1) as f64,
                mean_throughput(w),
                mean_throughput(b),
                mean_throughput(w) / mean_throughput(b).max(1e-9),
            ));
            out.lines.push(format!(
                "Spread of p99 across trials ((max − min) / min): {} for {winner}, {} for {baseline}.",
                range(w),
                range(b)
            ));
            if let Some(l) = where_it_shows(r, winner, &baseline) {
                out.lines.push(l);
            }
        }
        _ => {
            let next = figures
                .iter()
                .filter(|(v, _)| *v != winner)
                .min_by_key(|(_, s)| s.merged.p99_us);
            out.lines.push(match next {
                Some((n, s)) => format!(
                    "The baseline {winner} has the lowest p99: {} ms; the next best, {n}, has {} ms ({:.2}×).",
                    ms(w.merged.p99_us),
                    ms(s.merged.p99_us),
                    s.merged.p99_us as f64 / w.merged.p99_us.max(1) as f64
                ),
                None => format!(
                    "{winner}: p99 {} ms at {:.0} successful operations/s (one variant, nothing to compare).",
                    ms(w.merged.p99_us),
                    mean_throughput(w)
                ),
            });
            out.lines.push(format!(
                "Spread of p99 across trials ((max − min) / min): {} for {winner}.",
                range(w)
            ));
            if let Some((n, _)) = next
                && let Some(l) = where_it_shows(r, n, winner)
            {
                out.lines.push(l);
            }
        }
    }
    if sizes.len() >= 2 {
        out.lines.insert(
            0,
            format!(
                "At the largest data size ({} documents):",
                count(largest.unwrap_or(0))
            ),
        );
        for sw in sweeps(r).iter().filter(|s| s.knob == Knob::Documents) {
            for l in &sw.lines {
                let (Some(a), Some(b)) = (l.points.first(), l.points.last()) else {
                    continue;
                };
                out.lines.push(format!(
                    "{}: p99 {:.1} ms at {} documents → {:.1} ms at {} ({:.1}×), {:.0} → {:.0} successful operations/s.",
                    l.label,
                    a.2,
                    count(a.0 as u64),
                    b.2,
                    count(b.0 as u64),
                    b.2 / a.2.max(1e-9),
                    a.1,
                    b.1
                ));
            }
        }
    }
    // Scenarios with a `solo` phase ask about isolation first.
    let iso = isolation_lines(r);
    if !iso.is_empty() {
        out.lines.splice(0..0, iso);
    }
    for (v, s) in &figures {
        if *v == winner || *v == baseline {
            continue;
        }
        if let Some(b) = base {
            out.lines.push(format!(
                "{v}: p99 {} ms ({:.2}× the baseline), {:.0} successful operations/s ({:.2}×).",
                ms(s.merged.p99_us),
                s.merged.p99_us as f64 / b.merged.p99_us.max(1) as f64,
                mean_throughput(s),
                mean_throughput(s) / mean_throughput(b).max(1e-9)
            ));
        }
    }
    out.lines.extend(behind(r));
    out
}

/// Open-loop variants whose server fell behind the intended rate: trials that ran on past
/// their scheduled duration by more than a tenth (plus a second) working off a backlog, or
/// left operations unissued at their overrun limit. Their latencies include the backlog's
/// queueing, and are a lower bound where operations went unissued.
fn behind(r: &Results) -> Vec<String> {
    let mut out = Vec::new();
    let scheduled = r.scenario.duration_s;
    for v in &r.variants {
        let Some(rate) = v.rate else { continue };
        let trials: Vec<&res::Trial> = r.trials.iter().filter(|t| t.variant == v.id).collect();
        let over = |t: &res::Trial| scheduled.map_or(0.0, |d| t.elapsed_s - d);
        let late: Vec<&&res::Trial> = trials
            .iter()
            .filter(|t| t.unissued > 0 || scheduled.is_some_and(|d| t.elapsed_s > d * 1.1 + 1.0))
            .collect();
        if late.is_empty() {
            continue;
        }
        let most = late.iter().map(|t| over(t)).fold(0.0, f64::max);
        let unissued: u64 = late.iter().map(|t| t.unissued).sum();
        let mut line = format!(
            "{}: the server fell behind the intended {rate:.0} operations/s in {} of {} trials, which ran up to {most:.0} s past their {:.0} s working off the backlog",
            v.id,
            late.len(),
            trials.len(),
            scheduled.unwrap_or(0.0)
        );
        if unissued > 0 {
            line.push_str(&format!(
                "; {} intended operations never started before the overrun limit, so its percentiles are a lower bound",
                count(unissued)
            ));
        } else {
            line.push_str(": its latencies include that queueing");
        }
        line.push('.');
        out.push(line);
    }
    out
}

/// For small tenants, the operation whose p99 changes most from `from` to `to`, with the
/// documents examined per call of the smallest explained tenant.
fn where_it_shows(r: &Results, to: &str, from: &str) -> Option<String> {
    let small = small_classes(r);
    let p99 = |v: &str, op: Op| {
        let h = merged(r, v, |g| g.op == op && small.contains(&g.class));
        (!h.is_empty()).then(|| h.value_at_quantile(0.99))
    };
    let (op, a, b) = ops_of(r)
        .into_iter()
        .filter_map(|op| Some((op, p99(from, op)?, p99(to, op)?)))
        .max_by(|x, y| {
            let d = |(_, a, b): &(Op, u64, u64)| (*b as f64 / (*a).max(1) as f64).ln().abs();
            d(x).total_cmp(&d(y))
        })?;
    let verb = if b <= a { "fell" } else { "rose" };
    let who = if small.iter().any(|c| SMALL.contains(&c.as_str())) {
        format!("small tenants' ({})", small.join(" + "))
    } else {
        "tenants'".to_string()
    };
    let mut line = format!(
        "With {to}, {who} p99 for {} {verb} from {} ms to {} ms",
        op.name(),
        ms(a),
        ms(b)
    );
    if let (Some(x), Some(y)) = (
        smallest_explained(r, from, op),
        smallest_explained(r, to, op),
    ) {
        line.push_str(&format!(
            "; documents examined per call (tenant {} with {} documents) from {} to {}",
            y.tenant,
            count(y.tenant_documents),
            count(x.docs_examined),
            count(y.docs_examined)
        ));
    }
    line.push('.');
    Some(line)
}

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
    /// The same ratio per trial (each trial's phase p99 over its own solo p99).
    pub per_trial: Vec<f64>,
}

impl Isolation {
    /// Relative latency from the merged histograms.
    pub fn relative(&self) -> f64 {
        self.phase_p99_us as f64 / self.solo_p99_us.max(1) as f64
    }
}

/// Relative latency per variant and measured phase other than `solo` and `steady`, for small
/// tenants (`basic` + `free`), when the results have a `solo` phase.
pub fn isolation(r: &Results) -> Vec<Isolation> {
    if !r.phases.iter().any(|p| p.measured && p.name == SOLO_PHASE) {
        return Vec::new();
    }
    let small = small_classes(r);
    let small_in =
        |g: &Group, phase: &str| g.outcome == "ok" && g.phase == phase && small.contains(&g.class);
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
                per_trial,
            });
        }
    }
    out
}

/// The isolation sentences of the headline: the best and worst relative latency, each with
/// its spread over trials.
fn isolation_lines(r: &Results) -> Vec<String> {
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
                    "{} {:.2}× ({} → {} ms{spread})",
                    i.variant,
                    i.relative(),
                    ms(i.solo_p99_us),
                    ms(i.phase_p99_us)
                )
            })
            .collect();
        if let Some(best) = list.first() {
            out.push(format!(
                "Isolation (small tenants' p99 during `{ph}` relative to `{SOLO_PHASE}`, 1× = untouched): best {}, at {:.2}×. All: {}.",
                best.variant,
                best.relative(),
                each.join("; ")
            ));
        }
    }
    out
}

/// How a variant's latency for one operation grows with the tenant's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrowthClass {
    /// Too few sampled tenants or sizes to fit.
    TooFew,
    /// Flat, and explain shows work bounded by the query's limit.
    Bounded,
    /// Flat across tenants, and explain shows a scan of the whole collection.
    WithCollection,
    /// Flat across tenants, no scan evidence either way.
    Flat,
    /// Slope between 0.2 and 0.5.
    WeaklyWithTenant,
    /// Slope above 0.5.
    WithTenant,
}

impl GrowthClass {
    /// The words the report uses.
    pub fn describe(self) -> &'static str {
        match self {
            GrowthClass::TooFew => "too few tenant sizes to fit",
            GrowthClass::Bounded => "bounded (by the limit)",
            GrowthClass::WithCollection => {
                "grows with the collection (flat across tenants; explain shows a collection scan)"
            }
            GrowthClass::Flat => "flat across tenant sizes",
            GrowthClass::WeaklyWithTenant => "grows weakly with the tenant",
            GrowthClass::WithTenant => "grows with the tenant",
        }
    }
}

/// Slope above which latency "grows with the tenant" (and a bounded plan is doubted).
pub const TENANT_SLOPE: f64 = 0.5;
/// Slope below which latency is flat across tenant sizes.
pub const FLAT_SLOPE: f64 = 0.2;
/// Fewest operations a sampled tenant needs to count as a point.
pub const MIN_POINT_OPS: u64 = 3;

/// One sampled tenant's point: documents (in the op's collection), p50 and p99 in ms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Documents of the tenant in the operation's collection.
    pub documents: u64,
    /// Successful operations behind the percentiles (the point's weight in the fit).
    pub ops: u64,
    /// p50, ms.
    pub p50_ms: f64,
    /// p99, ms.
    pub p99_ms: f64,
}

/// Latency against tenant size for one variant and operation.
#[derive(Debug, Clone)]
pub struct Growth {
    /// Variant id.
    pub variant: String,
    /// Index of the variant (its colour).
    pub index: usize,
    /// Operation.
    pub op: Op,
    /// Sampled tenants with at least [`MIN_POINT_OPS`] successful operations, trials merged.
    pub points: Vec<Point>,
    /// Distinct powers of ten among the points' document counts.
    pub bands: usize,
    /// Fitted (slope, intercept) of ln p50 on ln documents.
    pub fit_p50: Option<(f64, f64)>,
    /// Fitted slope of ln p99 on ln documents.
    pub slope_p99: Option<f64>,
    /// The named growth class.
    pub class: GrowthClass,
    /// Set when explain claims bounded work while latency grows with the tenant: the caveat.
    pub plan_gap: Option<String>,
}

/// Latency growth against tenant size per variant and operation, from the sampled tenants.
pub fn growth(r: &Results) -> Vec<Growth> {
    let mut out = Vec::new();
    for (index, v) in r.variants.iter().enumerate() {
        for op in ops_of(r) {
            // Per tenant (by rank), histograms added across trials.
            let mut by_rank: BTreeMap<u32, (u64, Histogram<u64>)> = BTreeMap::new();
            for t in r.trials_of(&v.id) {
                for ts in t.tenants.iter().filter(|ts| ts.op == op) {
                    let e = by_rank
                        .entry(ts.rank)
                        .or_insert_with(|| (ts.documents, histogram()));
                    if let Ok(x) = res::decode(&ts.histogram) {
                        e.1.add(&x).expect("auto-resizing histograms add");
                    }
                }
            }
            let points: Vec<Point> = by_rank
                .values()
                .filter(|(d, h)| *d > 0 && h.len() >= MIN_POINT_OPS)
                .map(|(d, h)| Point {
                    documents: *d,
                    ops: h.len(),
                    p50_ms: h.value_at_quantile(0.5).max(1) as f64 / 1000.0,
                    p99_ms: h.value_at_quantile(0.99).max(1) as f64 / 1000.0,
                })
                .collect();
            if points.is_empty() {
                continue;
            }
            let mut bands: Vec<u32> = points.iter().map(|p| p.documents.ilog10()).collect();
            bands.dedup();
            let bands = bands.len();
            // Weighted by each tenant's operations: a point's percentile is surer the more
            // operations it summarises (the largest tenants run hundreds, the smallest a few).
            let xy = |f: fn(&Point) -> f64| -> Vec<(f64, f64, f64)> {
                points
                    .iter()
                    .map(|p| (p.documents as f64, f(p), p.ops as f64))
                    .collect()
            };
            let fit = |f: fn(&Point) -> f64| {
                (bands >= 2)
                    .then(|| super::fit::loglog_fit_weighted(&xy(f)))
                    .flatten()
            };
            let fit_p50 = fit(|p| p.p50_ms);
            let slope_p99 = fit(|p| p.p99_ms).map(|f| f.0);
            let ex: Vec<&ExplainRecord> = explains(r, &v.id, op).collect();
            let limit = ex.iter().find_map(|e| e.limit);
            let bounded_claim = limit.is_some_and(|l| {
                !ex.is_empty()
                    && ex
                        .iter()
                        .all(|e| e.keys_examined <= 2 * l && e.docs_examined <= 2 * l)
            });
            let scans_collection = !ex.is_empty()
                && ex.iter().all(|e| {
                    e.collection_documents > 0
                        && 2 * e.docs_examined.max(e.keys_examined) >= e.collection_documents
                });
            let class = match fit_p50 {
                None => GrowthClass::TooFew,
                Some((s, _)) if s > TENANT_SLOPE => GrowthClass::WithTenant,
                Some((s, _)) if s >= FLAT_SLOPE => GrowthClass::WeaklyWithTenant,
                Some(_) if bounded_claim => GrowthClass::Bounded,
                Some(_) if scans_collection => GrowthClass::WithCollection,
                Some(_) => GrowthClass::Flat,
            };
            let plan_gap = match (fit_p50, limit) {
                (Some((s, _)), Some(l)) if bounded_claim && s > TENANT_SLOPE && bands >= 3 => {
                    let small = points.iter().min_by_key(|p| p.documents).expect("points");
                    let large = points.iter().max_by_key(|p| p.documents).expect("points");
                    let keys = ex.iter().map(|e| e.keys_examined).max().unwrap_or(0);
                    Some(format!(
                        "Plan vs reality, {} on {}: explain claims bounded work ({} keys examined at most, limit {l}), yet p50 grows with the tenant — slope {s:.2} across {bands} size bands, {:.2} ms for a tenant with {} documents, {:.2} ms for one with {}. The server does more work than its plan reports; read these latencies, not explain.",
                        op.name(),
                        v.id,
                        count(keys),
                        small.p50_ms,
                        count(small.documents),
                        large.p50_ms,
                        count(large.documents),
                    ))
                }
                _ => None,
            };
            out.push(Growth {
                variant: v.id.clone(),
                index,
                op,
                points,
                bands,
                fit_p50,
                slope_p99,
                class,
                plan_gap,
            });
        }
    }
    out
}

/// A numeric knob of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Knob {
    /// `max_pool_size`.
    Pool,
    /// Closed-loop `concurrency`.
    Concurrency,
    /// Open-loop `rate`.
    Rate,
    /// Data size: the documents of the variant's population (the matrix's `scale` axis).
    Documents,
}

impl Knob {
    /// Every knob.
    pub const ALL: [Knob; 4] = [Knob::Pool, Knob::Concurrency, Knob::Rate, Knob::Documents];

    /// Its scenario key.
    pub fn name(self) -> &'static str {
        match self {
            Knob::Pool => "max_pool_size",
            Knob::Concurrency => "concurrency",
            Knob::Rate => "rate",
            Knob::Documents => "documents",
        }
    }

    /// Axis title.
    pub fn axis(self) -> &'static str {
        match self {
            Knob::Pool => "max_pool_size (connections per client)",
            Knob::Concurrency => "concurrency (closed-loop workers)",
            Knob::Rate => "rate (operations/s, open loop)",
            Knob::Documents => "documents (data size of the variant's population)",
        }
    }

    fn value(self, v: &res::VariantInfo) -> Option<f64> {
        match self {
            Knob::Pool => Some(f64::from(v.max_pool_size)),
            Knob::Concurrency => v.concurrency.map(f64::from),
            Knob::Rate => v.rate,
            Knob::Documents => v.documents.map(|d| d as f64),
        }
    }

    /// The variant's other settings: variants that share them lie on one line of the sweep.
    fn rest(self, v: &res::VariantInfo) -> Vec<(&'static str, String)> {
        let mut out = vec![
            ("backend", v.backend.clone()),
            ("layout", v.layout.clone()),
            ("indexes", v.indexes.clone()),
            ("strategy", v.strategy.clone()),
        ];
        for k in Knob::ALL {
            if k != self
                && let Some(x) = k.value(v)
            {
                out.push((k.name(), format!("{x}")));
            }
        }
        out
    }
}

/// A point of a sweep: (knob value, mean successful ops/s, merged p99 ms).
pub type SweepPoint = (f64, f64, f64);

/// One line of a sweep: variants that differ only in the knob.
#[derive(Debug, Clone)]
pub struct SweepLine {
    /// What the line's variants share, where it differs between lines (`shared tenant`).
    pub label: String,
    /// Its points, by knob value.
    pub points: Vec<SweepPoint>,
}

/// Throughput and p99 against one numeric knob.
#[derive(Debug, Clone)]
pub struct Sweep {
    /// The knob.
    pub knob: Knob,
    /// One line per combination of the other settings.
    pub lines: Vec<SweepLine>,
}

/// Sweeps: every knob that takes two values or more across variants, with at least one line of
/// two points or more.
pub fn sweeps(r: &Results) -> Vec<Sweep> {
    let mut out = Vec::new();
    for knob in Knob::ALL {
        let mut groups: BTreeMap<Vec<(&'static str, String)>, Vec<SweepPoint>> = BTreeMap::new();
        for v in &r.variants {
            let (Some(x), Some(s)) = (knob.value(v), spread(r, &v.id, "all")) else {
                continue;
            };
            if s.merged.count == 0 {
                continue;
            }
            groups.entry(knob.rest(v)).or_default().push((
                x,
                mean_throughput(s),
                s.merged.p99_us as f64 / 1000.0,
            ));
        }
        // A line needs the knob to take two values: variants that differ only in what the
        // knobs do not name (a hybrid rule set, say) share one x and are no sweep.
        groups.retain(|_, pts| pts.iter().any(|p| p.0 != pts[0].0));
        if groups.is_empty() {
            continue;
        }
        // Label each line by the settings that differ between lines.
        let keys: Vec<&Vec<(&str, String)>> = groups.keys().collect();
        let differs = |i: usize| keys.iter().any(|k| k[i] != keys[0][i]);
        let lines = groups
            .iter()
            .map(|(rest, pts)| {
                let mut pts = pts.clone();
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                let label: Vec<String> = rest
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| differs(*i))
                    .map(|(_, (k, v))| format!("{k}={v}"))
                    .collect();
                SweepLine {
                    label: if label.is_empty() {
                        "all variants".into()
                    } else {
                        label.join(" ")
                    },
                    points: pts,
                }
            })
            .collect();
        out.push(Sweep { knob, lines });
    }
    out
}

/// One figure of a current run against a baseline run.
#[derive(Debug, Clone, PartialEq)]
pub struct Delta {
    /// Variant id (present in both runs).
    pub variant: String,
    /// Operation name, or `all`.
    pub op: String,
    /// Class, or `all`.
    pub class: String,
    /// Baseline p99, µs.
    pub base_p99_us: u64,
    /// Current p99, µs.
    pub cur_p99_us: u64,
    /// Baseline successful operations.
    pub base_ops: u64,
    /// Current successful operations.
    pub cur_ops: u64,
}

impl Delta {
    /// Relative change of p99: (current − baseline) / baseline.
    pub fn change(&self) -> f64 {
        (self.cur_p99_us as f64 - self.base_p99_us as f64) / self.base_p99_us.max(1) as f64
    }
}

/// p99 per variant, operation and class (each also as `all`) of `cur` against `base`, for the
/// variants both runs have, over their measured phases.
pub fn deltas(base: &Results, cur: &Results) -> Vec<Delta> {
    let mut out = Vec::new();
    let mut ops: Vec<Option<Op>> = vec![None];
    ops.extend(
        ops_of(cur)
            .into_iter()
            .filter(|o| ops_of(base).contains(o))
            .map(Some),
    );
    let mut classes: Vec<Option<String>> = vec![None];
    classes.extend(
        cur.classes
            .iter()
            .filter(|c| base.classes.contains(c))
            .cloned()
            .map(Some),
    );
    for v in cur
        .variants
        .iter()
        .filter(|v| base.variants.iter().any(|b| b.id == v.id))
    {
        for op in &ops {
            for class in &classes {
                let keep = |g: &Group| {
                    op.is_none_or(|o| o == g.op) && class.as_ref().is_none_or(|c| *c == g.class)
                };
                let b = merged(base, &v.id, keep);
                let c = merged(cur, &v.id, keep);
                if b.is_empty() || c.is_empty() {
                    continue;
                }
                out.push(Delta {
                    variant: v.id.clone(),
                    op: op.map_or("all".into(), |o| o.name().into()),
                    class: class.clone().unwrap_or_else(|| "all".into()),
                    base_p99_us: b.value_at_quantile(0.99),
                    cur_p99_us: c.value_at_quantile(0.99),
                    base_ops: b.len(),
                    cur_ops: c.len(),
                });
            }
        }
    }
    out
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
