//! Latency against tenant size: per variant and operation the sampled tenants' points, the
//! weighted log-log fit, the named growth class and the plan-vs-reality caveat.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::{count, explains, ops_of};
use crate::metrics::histogram;
use crate::metrics::results::{self as res, ExplainRecord, Results};
use crate::op::Op;
use crate::report::fit::loglog_fit_weighted;
use crate::report::names::Names;

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
    let names = Names::of(r);
    let mut out = Vec::new();
    for (index, v) in r.variants.iter().enumerate() {
        for op in ops_of(r) {
            let points = tenant_points(r, &v.id, op);
            if points.is_empty() {
                continue;
            }
            let bands = size_bands(&points);
            let fit_p50 = fit(&points, bands, |p| p.p50_ms);
            let slope_p99 = fit(&points, bands, |p| p.p99_ms).map(|f| f.0);
            let ex: Vec<&ExplainRecord> = explains(r, &v.id, op).collect();
            let plan = PlanClaim::of(&ex);
            let class = classify(fit_p50, &plan);
            let plan_gap = match fit_p50 {
                Some((s, _)) if plan.bounded && s > TENANT_SLOPE && bands >= 3 => {
                    plan_gap(names.get(&v.id), op, &points, bands, s, &plan)
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

/// The sampled tenants of a variant for one operation, by rank, histograms added across
/// trials: those with documents and at least [`MIN_POINT_OPS`] successful operations.
fn tenant_points(r: &Results, variant: &str, op: Op) -> Vec<Point> {
    let mut by_rank: BTreeMap<u32, (u64, Histogram<u64>)> = BTreeMap::new();
    for t in r.trials_of(variant) {
        for ts in t.tenants.iter().filter(|ts| ts.op == op) {
            let e = by_rank
                .entry(ts.rank)
                .or_insert_with(|| (ts.documents, histogram()));
            if let Ok(x) = res::decode(&ts.histogram) {
                e.1.add(&x).expect("auto-resizing histograms add");
            }
        }
    }
    by_rank
        .values()
        .filter(|(d, h)| *d > 0 && h.len() >= MIN_POINT_OPS)
        .map(|(d, h)| Point {
            documents: *d,
            ops: h.len(),
            p50_ms: h.value_at_quantile(0.5).max(1) as f64 / 1000.0,
            p99_ms: h.value_at_quantile(0.99).max(1) as f64 / 1000.0,
        })
        .collect()
}

/// Distinct powers of ten among the points' document counts (adjacent by rank).
fn size_bands(points: &[Point]) -> usize {
    let mut bands: Vec<u32> = points.iter().map(|p| p.documents.ilog10()).collect();
    bands.dedup();
    bands.len()
}

/// The log-log fit of one percentile on documents, over two size bands or more. Weighted by
/// each tenant's operations: a point's percentile is surer the more operations it summarises
/// (the largest tenants run hundreds, the smallest a few).
fn fit(points: &[Point], bands: usize, f: fn(&Point) -> f64) -> Option<(f64, f64)> {
    let xy: Vec<(f64, f64, f64)> = points
        .iter()
        .map(|p| (p.documents as f64, f(p), p.ops as f64))
        .collect();
    (bands >= 2).then(|| loglog_fit_weighted(&xy)).flatten()
}

/// What explain says about the work of an operation.
struct PlanClaim {
    /// The query's limit, if it has one.
    limit: Option<u64>,
    /// Every explained call examined at most twice the limit in keys and documents.
    bounded: bool,
    /// Every explained call examined at least half of the collection.
    scans_collection: bool,
    /// The most keys an explained call examined.
    max_keys: u64,
}

impl PlanClaim {
    fn of(ex: &[&ExplainRecord]) -> PlanClaim {
        let limit = ex.iter().find_map(|e| e.limit);
        let bounded = limit.is_some_and(|l| {
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
        PlanClaim {
            limit,
            bounded,
            scans_collection,
            max_keys: ex.iter().map(|e| e.keys_examined).max().unwrap_or(0),
        }
    }
}

/// The growth class from the p50 slope, and for flat latency from what explain shows.
fn classify(fit_p50: Option<(f64, f64)>, plan: &PlanClaim) -> GrowthClass {
    match fit_p50 {
        None => GrowthClass::TooFew,
        Some((s, _)) if s > TENANT_SLOPE => GrowthClass::WithTenant,
        Some((s, _)) if s >= FLAT_SLOPE => GrowthClass::WeaklyWithTenant,
        Some(_) if plan.bounded => GrowthClass::Bounded,
        Some(_) if plan.scans_collection => GrowthClass::WithCollection,
        Some(_) => GrowthClass::Flat,
    }
}

/// The plan-vs-reality caveat of an operation whose explain claims bounded work while its p50
/// grows with the tenant at `slope`, with the smallest and largest tenants' figures.
fn plan_gap(
    variant: &str,
    op: Op,
    points: &[Point],
    bands: usize,
    slope: f64,
    plan: &PlanClaim,
) -> Option<String> {
    let l = plan.limit?;
    let small = points.iter().min_by_key(|p| p.documents)?;
    let large = points.iter().max_by_key(|p| p.documents)?;
    Some(format!(
        "Plan vs reality, {} on {variant}: explain claims bounded work ({} keys examined at most, limit {l}), yet p50 grows with the tenant — slope {slope:.2} across {bands} size bands, {:.2} ms for a tenant with {} documents, {:.2} ms for one with {}. The server does more work than its plan reports; read these latencies, not explain.",
        op.name(),
        count(plan.max_keys),
        small.p50_ms,
        count(small.documents),
        large.p50_ms,
        count(large.documents),
    ))
}
