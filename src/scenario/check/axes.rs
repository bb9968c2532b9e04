//! The values of the matrix's axes, each checked against the rest of the scenario, and the
//! cartesian product of `[matrix]`'s axis lists: every combination that exists, the
//! combinations a backend lacks left out with why.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::Checker;
use crate::layout::Layout;
use crate::op::BackendKind;
use crate::pacing::Pacer;
use crate::scenario::model::MatrixModel;
use crate::scenario::scale::{SCALE_RANGE, valid_scale};
use crate::scenario::{MAX_POOL, ScenarioError, Strategy, Variant, WorkloadSpec, profile_on};

/// A variant with the span it is reported at.
pub(super) type Spot = (Variant, Range<usize>);

/// What a value of an axis is checked against.
pub(super) struct Ctx<'a> {
    pub(super) c: &'a Checker<'a>,
    pub(super) profiles: &'a [String],
    pub(super) workload: &'a WorkloadSpec,
    pub(super) hybrid_sets: &'a [String],
}

impl Ctx<'_> {
    /// A backend.
    pub(super) fn backend(&self, b: &Spanned<BackendKind>) -> Result<BackendKind, ScenarioError> {
        Ok(*b.get_ref())
    }

    /// An index profile: built in or the scenario's.
    pub(super) fn indexes(&self, s: &Spanned<String>) -> Result<String, ScenarioError> {
        if self.profiles.iter().any(|p| p == s.get_ref()) {
            Ok(s.get_ref().clone())
        } else {
            Err(self.c.err(
                s.span(),
                format!(
                    "unknown index profile `{}`; expected one of {}",
                    s.get_ref(),
                    self.profiles.join(", ")
                ),
            ))
        }
    }

    /// A `max_pool_size`: within [`MAX_POOL`], at least `min_pool`.
    pub(super) fn pool(&self, p: &Spanned<i64>, min_pool: u32) -> Result<u32, ScenarioError> {
        let v = *p.get_ref();
        if !(1..=MAX_POOL).contains(&v) || (v as u32) < min_pool {
            return Err(self.c.err(
                p.span(),
                format!(
                    "expected a max_pool_size between {} (min_pool_size) and {MAX_POOL}",
                    min_pool.max(1)
                ),
            ));
        }
        Ok(v as u32)
    }

    /// A closed-loop load: the concurrency, with the workload's think time.
    pub(super) fn concurrency(&self, n: &Spanned<i64>) -> Result<Pacer, ScenarioError> {
        let v = *n.get_ref();
        if !(1..=10_000).contains(&v) {
            return Err(self
                .c
                .err(n.span(), "expected a concurrency between 1 and 10,000"));
        }
        let think = match self.workload.pacer {
            Pacer::Closed { think, .. } => think,
            Pacer::Open { .. } => Duration::ZERO,
        };
        Ok(Pacer::Closed {
            concurrency: v as usize,
            think,
        })
    }

    /// An open-loop load: the rate, with the workload's arrivals and workers.
    pub(super) fn rate(&self, r: &Spanned<f64>) -> Result<Pacer, ScenarioError> {
        let v = *r.get_ref();
        if !(v > 0.0 && v <= 10_000_000.0) {
            return Err(self
                .c
                .err(r.span(), "expected a rate in operations per second, > 0"));
        }
        let (arrivals, workers) = match self.workload.pacer {
            Pacer::Open {
                arrivals, workers, ..
            } => (arrivals, workers),
            Pacer::Closed { .. } => (crate::pacing::Arrivals::Constant, 64),
        };
        Ok(Pacer::Open {
            rate: v,
            arrivals,
            workers,
        })
    }

    /// A hybrid rule set name: `None` for `default`.
    pub(super) fn hybrid(&self, h: &Spanned<String>) -> Result<Option<String>, ScenarioError> {
        let n = h.get_ref();
        if n == "default" {
            return Ok(None);
        }
        if self.hybrid_sets.iter().any(|s| s == n) {
            return Ok(Some(n.clone()));
        }
        Err(self.c.err(
            h.span(),
            format!(
                "unknown hybrid rule set `{n}`; expected `default`{}",
                self.hybrid_sets
                    .iter()
                    .map(|s| format!(", `{s}`"))
                    .collect::<String>()
                    + " ([[layout.hybrid.sets.NAME]] defines one)"
            ),
        ))
    }

    /// A data scale factor.
    pub(super) fn scale(&self, f: &Spanned<f64>) -> Result<f64, ScenarioError> {
        let v = *f.get_ref();
        if !valid_scale(v) {
            let (lo, hi) = SCALE_RANGE;
            return Err(self.c.err(
                f.span(),
                format!("expected a data scale factor between {lo} and {hi} (1 = the population as stated)"),
            ));
        }
        Ok(v)
    }
}

/// An axis's values, each with the span it was written at (none for the default).
type Axis<T> = Vec<(T, Option<Range<usize>>)>;

/// The values of every axis of a `[matrix]` product.
pub(super) struct Axes {
    /// `backend`.
    backends: Axis<BackendKind>,
    /// `layout`.
    layouts: Axis<Layout>,
    /// `indexes`.
    indexes: Axis<String>,
    /// `max_pool_size`.
    pools: Axis<u32>,
    /// `strategy`.
    strategies: Axis<Strategy>,
    /// `concurrency` or `rate`.
    loads: Axis<Pacer>,
    /// `scale`.
    scales: Axis<f64>,
    /// `hybrid`: rule set names, `None` for the default rules.
    sets: Axis<Option<String>>,
}

/// An axis: each listed value checked by `f`, or `dflt` alone when there is no list.
fn axis<T: Clone, M>(
    list: &Option<Vec<Spanned<M>>>,
    dflt: T,
    f: impl Fn(&Spanned<M>) -> Result<T, ScenarioError>,
) -> Result<Axis<T>, ScenarioError> {
    match list {
        None => Ok(vec![(dflt, None)]),
        Some(l) => l.iter().map(|v| Ok((f(v)?, Some(v.span())))).collect(),
    }
}

/// The axis lists of `[matrix]`: a `concurrency` or a `rate` list, not both, none empty, every
/// value valid; the defaults (`base`) for the axes not listed.
pub(super) fn check_axes(
    x: &Ctx,
    ms: &Spanned<MatrixModel>,
    base: &Variant,
    min_pool: u32,
) -> Result<Axes, ScenarioError> {
    let c = x.c;
    let m = ms.get_ref();
    if let (Some(_), Some(r)) = (&m.concurrency, &m.rate) {
        let span = r.first().map_or(ms.span(), |r| r.span());
        return Err(c.err(
            span,
            "expected either a `concurrency` list or a `rate` list in [matrix], not both",
        ));
    }
    let empty = [
        m.backend.as_ref().map(Vec::is_empty),
        m.layout.as_ref().map(Vec::is_empty),
        m.indexes.as_ref().map(Vec::is_empty),
        m.max_pool_size.as_ref().map(Vec::is_empty),
        m.strategy.as_ref().map(Vec::is_empty),
        m.concurrency.as_ref().map(Vec::is_empty),
        m.rate.as_ref().map(Vec::is_empty),
        m.scale.as_ref().map(Vec::is_empty),
        m.hybrid.as_ref().map(Vec::is_empty),
    ];
    if empty.contains(&Some(true)) {
        return Err(c.err(
            ms.span(),
            "expected every [matrix] list to hold at least one value",
        ));
    }
    Ok(Axes {
        backends: axis(&m.backend, base.backend, |b| x.backend(b))?,
        layouts: axis(&m.layout, base.layout, |l| Ok(*l.get_ref()))?,
        indexes: axis(&m.indexes, base.indexes.clone(), |i| x.indexes(i))?,
        pools: axis(&m.max_pool_size, base.max_pool_size, |p| {
            x.pool(p, min_pool)
        })?,
        strategies: axis(&m.strategy, base.strategy, |s| Ok(*s.get_ref()))?,
        loads: match (&m.concurrency, &m.rate) {
            (Some(_), _) => axis(&m.concurrency, base.pacer, |n| x.concurrency(n))?,
            (None, Some(_)) => axis(&m.rate, base.pacer, |r| x.rate(r))?,
            (None, None) => vec![(base.pacer, None)],
        },
        scales: axis(&m.scale, 1.0, |f| x.scale(f))?,
        sets: axis(&m.hybrid, None, |h| x.hybrid(h))?,
    })
}

/// The cartesian product of the axes, in axis order; a layout or index profile a backend lacks
/// is left out and recorded in `skipped` (once). A variant is reported at its index profile's
/// span, or at `[matrix]`'s.
pub(super) fn expand(
    axes: &Axes,
    span: Range<usize>,
    min_pool: u32,
    skipped: &mut Vec<String>,
) -> Vec<Spot> {
    let mut variants = Vec::new();
    for (b, _) in &axes.backends {
        for (l, _) in &axes.layouts {
            if !l.on(*b) {
                skipped.push(format!(
                    "{} × {}: the layout does not exist on {}",
                    b.name(),
                    l.name(),
                    b.name()
                ));
                continue;
            }
            for (i, ispan) in &axes.indexes {
                if !profile_on(i, *b) {
                    let why = format!(
                        "{} × indexes {i}: the profile does not exist on {}",
                        b.name(),
                        b.name()
                    );
                    if !skipped.contains(&why) {
                        skipped.push(why);
                    }
                    continue;
                }
                let at = ispan.clone().unwrap_or(span.clone());
                expand_point(axes, (*b, *l, i), min_pool, &at, &mut variants);
            }
        }
    }
    variants
}

/// The variants of one backend × layout × index profile: the product of pools, strategies,
/// loads, scales and (for the hybrid layout only) rule sets.
fn expand_point(
    axes: &Axes,
    (b, l, i): (BackendKind, Layout, &str),
    min_pool: u32,
    at: &Range<usize>,
    out: &mut Vec<Spot>,
) {
    for (p, _) in &axes.pools {
        for (s, _) in &axes.strategies {
            for (pacer, _) in &axes.loads {
                for (f, _) in &axes.scales {
                    // Rule sets only vary the hybrid layout.
                    let hs = if l == Layout::Hybrid {
                        &axes.sets[..]
                    } else {
                        &axes.sets[..1]
                    };
                    for (h, _) in hs {
                        let v = Variant {
                            backend: b,
                            layout: l,
                            indexes: i.to_string(),
                            max_pool_size: *p,
                            min_pool_size: min_pool,
                            strategy: *s,
                            pacer: *pacer,
                            scale: *f,
                            hybrid: if l == Layout::Hybrid { h.clone() } else { None },
                            name: None,
                            migration: None,
                            share: None,
                        };
                        out.push((v, at.clone()));
                    }
                }
            }
        }
    }
}
