//! The verdict behind the headline: which variant the data favours, judged per tenant class
//! rather than on one merged percentile. A merged p99 is the slowest class's — on skewed data
//! the largest tenant's, which an index or an isolation layout may not help — so a variant
//! that cuts small tenants' p99 from a second to 75 ms could come out "second" on it.
//!
//! The units judged are small tenants (`basic` + `free`, together, as the questions ask) and
//! each other class (a tier, or a role such as `noisy`), in the headline phase, trials merged.
//! A unit is judged only where every compared variant has the operations a p99 needs
//! ([`samples::needed`]). One variant wins when it is better than or level with every other
//! variant for every judged unit; when none is, the classes disagree and the headline says so;
//! when no unit can be judged, there is no winner and the headline says what to run for more.

use hdrhistogram::Histogram;

use super::samples::{self, P99};
use super::{added, mean_throughput, spread};
use crate::metrics::results::{Group, Results};

/// p99s within this fraction of each other are level: neither better nor worse.
pub const LEVEL: f64 = 0.10;

/// What the verdict judges: small tenants (basic + free together) or one other class.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    /// As sentences name it: `small tenants (basic + free)`, `enterprise`, `noisy`.
    pub name: String,
    /// The classes it takes operations from (none: every class).
    pub classes: Vec<String>,
}

impl Unit {
    fn takes(&self, g: &Group) -> bool {
        self.classes.is_empty() || self.classes.contains(&g.class)
    }
}

/// The units of a run: small tenants first (what the index and isolation questions ask
/// about), then every other class in the results' order; one unit of every class when the
/// results name none.
pub fn units(r: &Results) -> Vec<Unit> {
    let small = super::small_present(r);
    let mut out = Vec::new();
    if !small.is_empty() {
        out.push(Unit {
            name: format!("small tenants ({})", small.join(" + ")),
            classes: small.clone(),
        });
    }
    for c in r.classes.iter().filter(|c| !small.contains(c)) {
        out.push(Unit {
            name: c.clone(),
            classes: vec![c.clone()],
        });
    }
    if out.is_empty() {
        out.push(Unit {
            name: "all tenants".into(),
            classes: Vec::new(),
        });
    }
    out
}

/// One variant's p99 for one unit in the headline phase, trials merged, and its operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitFigure {
    /// p99 response time, µs.
    pub p99_us: u64,
    /// Successful operations behind it.
    pub count: u64,
}

impl UnitFigure {
    /// Whether it has the operations a p99 needs.
    pub fn enough(self) -> bool {
        samples::enough(P99, self.count)
    }
}

/// How one variant's p99 compares with another's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Lower by more than [`LEVEL`].
    Better,
    /// Within [`LEVEL`].
    Level,
    /// Higher by more than [`LEVEL`].
    Worse,
}

/// `a` against `b` (p99s, µs).
pub fn side(a: u64, b: u64) -> Side {
    let (a, b) = (a.max(1) as f64, b.max(1) as f64);
    if a * (1.0 + LEVEL) < b {
        Side::Better
    } else if b * (1.0 + LEVEL) < a {
        Side::Worse
    } else {
        Side::Level
    }
}

/// The figures a verdict rests on: every compared variant's p99 per unit and throughput.
#[derive(Debug, Clone)]
pub struct Board {
    /// The units, small tenants first.
    pub units: Vec<Unit>,
    /// The compared variants' ids, in the matrix's order.
    pub variants: Vec<String>,
    /// `figures[variant][unit]`; `None` where the variant had no successful operation of it.
    pub figures: Vec<Vec<Option<UnitFigure>>>,
    /// Mean successful operations/s per trial, all classes.
    pub throughput: Vec<f64>,
}

impl Board {
    /// The figures of `variants` (ids of `r`) in `phase`.
    pub fn of(r: &Results, phase: &str, variants: &[&str]) -> Board {
        let units = units(r);
        let figures = variants
            .iter()
            .map(|v| {
                units
                    .iter()
                    .map(|u| {
                        let h = phase_histogram(r, v, phase, |g| u.takes(g));
                        (!h.is_empty()).then(|| UnitFigure {
                            p99_us: h.value_at_quantile(P99),
                            count: h.len(),
                        })
                    })
                    .collect()
            })
            .collect();
        Board {
            throughput: variants
                .iter()
                .map(|v| spread(r, v, "all").map_or(0.0, mean_throughput))
                .collect(),
            variants: variants.iter().map(|v| v.to_string()).collect(),
            units,
            figures,
        }
    }

    /// A variant's index by id.
    pub fn index(&self, id: &str) -> Option<usize> {
        self.variants.iter().position(|v| v == id)
    }

    /// The figure of variant `v` for unit `u`.
    pub fn figure(&self, v: usize, u: usize) -> Option<UnitFigure> {
        self.figures
            .get(v)
            .and_then(|f| f.get(u).copied().flatten())
    }

    /// Units every compared variant ran enough operations of for a p99.
    pub fn judged(&self) -> Vec<usize> {
        (0..self.units.len())
            .filter(|&u| {
                (0..self.variants.len()).all(|v| self.figure(v, u).is_some_and(UnitFigure::enough))
            })
            .collect()
    }

    /// Units every variant ran but some too few of: each with its fewest operations and the
    /// variant that had them.
    pub fn thin(&self) -> Vec<(usize, usize, u64)> {
        (0..self.units.len())
            .filter_map(|u| {
                let counts: Option<Vec<u64>> = (0..self.variants.len())
                    .map(|v| self.figure(v, u).map(|f| f.count))
                    .collect();
                let (v, n) = counts?.into_iter().enumerate().min_by_key(|x| x.1)?;
                (!samples::enough(P99, n)).then_some((u, v, n))
            })
            .collect()
    }

    /// Variant `a` against `b` for unit `u` (both must have figures).
    pub fn side(&self, a: usize, b: usize, u: usize) -> Option<Side> {
        Some(side(self.figure(a, u)?.p99_us, self.figure(b, u)?.p99_us))
    }

    /// The judged units where `a` is on `which` side of `b`.
    pub fn units_where(&self, a: usize, b: usize, which: Side) -> Vec<usize> {
        self.judged()
            .into_iter()
            .filter(|&u| self.side(a, b, u) == Some(which))
            .collect()
    }
}

/// What the figures say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// This variant is better than or level with every other for every judged unit (the
    /// baseline when nothing beats it).
    Winner(usize),
    /// Every variant is worse than another for some judged unit: the classes disagree.
    Disagree,
    /// No unit has the operations a p99 needs in every variant: no winner can be named.
    TooFew,
}

/// The verdict over `board`, `baseline` being the index of the baseline variant: among the
/// variants worse than no other for any judged unit, the one better than the baseline for the
/// most units, then with the lowest p99 for the first judged unit (small tenants where judged),
/// then with the most throughput; the baseline when nothing beats it.
pub fn verdict(board: &Board, baseline: Option<usize>) -> Verdict {
    let judged = board.judged();
    if judged.is_empty() {
        return Verdict::TooFew;
    }
    let n = board.variants.len();
    let undominated: Vec<usize> = (0..n)
        .filter(|&a| (0..n).all(|b| a == b || board.units_where(a, b, Side::Worse).is_empty()))
        .collect();
    if undominated.is_empty() {
        return Verdict::Disagree;
    }
    let gains = |a: usize| baseline.map_or(0, |b| board.units_where(a, b, Side::Better).len());
    let focus = |a: usize| board.figure(a, judged[0]).map_or(u64::MAX, |f| f.p99_us);
    let best = undominated
        .iter()
        .copied()
        .min_by(|&a, &b| {
            (std::cmp::Reverse(gains(a)), focus(a))
                .cmp(&(std::cmp::Reverse(gains(b)), focus(b)))
                .then(board.throughput[b].total_cmp(&board.throughput[a]))
        })
        .expect("undominated is not empty");
    match baseline {
        Some(b) if gains(best) == 0 && undominated.contains(&b) => Verdict::Winner(b),
        _ => Verdict::Winner(best),
    }
}

/// Successful operations of one variant in one phase, for the groups `keep` selects, every
/// trial that ran, histograms added.
pub fn phase_histogram(
    r: &Results,
    variant: &str,
    phase: &str,
    keep: impl Fn(&Group) -> bool,
) -> Histogram<u64> {
    added(r.trials_of(variant).flat_map(|t| &t.groups).filter(|g| {
        g.outcome == crate::metrics::results::GroupOutcome::Ok && g.phase == phase && keep(g)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board(figures: &[&[(u64, u64)]]) -> Board {
        let units = (0..figures[0].len())
            .map(|i| Unit {
                name: format!("u{i}"),
                classes: vec![format!("u{i}")],
            })
            .collect();
        Board {
            units,
            variants: (0..figures.len()).map(|i| format!("v{i}")).collect(),
            figures: figures
                .iter()
                .map(|f| {
                    f.iter()
                        .map(|&(p99_us, count)| Some(UnitFigure { p99_us, count }))
                        .collect()
                })
                .collect(),
            throughput: vec![100.0; figures.len()],
        }
    }

    #[test]
    fn a_variant_better_for_most_classes_and_worse_for_none_wins() {
        // v1 cuts small tenants' p99 fifteenfold, is level for the largest class.
        let b = board(&[
            &[(1_101_000, 500), (1_675_000, 500)],
            &[(75_000, 900), (1_726_000, 900)],
        ]);
        assert_eq!(verdict(&b, Some(0)), Verdict::Winner(1));
    }

    #[test]
    fn classes_that_disagree_name_no_winner() {
        let b = board(&[&[(1_000, 500), (9_000, 500)], &[(9_000, 500), (1_000, 500)]]);
        assert_eq!(verdict(&b, Some(0)), Verdict::Disagree);
    }

    #[test]
    fn level_everywhere_keeps_the_baseline() {
        let b = board(&[&[(1_000, 500), (9_000, 500)], &[(980, 500), (9_050, 500)]]);
        assert_eq!(verdict(&b, Some(0)), Verdict::Winner(0));
    }

    #[test]
    fn too_few_operations_name_no_winner_and_thin_units_are_not_judged() {
        let b = board(&[&[(1_000, 21), (9_000, 6)], &[(50_000, 19), (1_000, 8)]]);
        assert_eq!(verdict(&b, Some(0)), Verdict::TooFew);
        assert_eq!(b.thin(), vec![(0, 1, 19), (1, 0, 6)]);
        // One unit with enough operations is judged; the thin one is left out.
        let b = board(&[&[(1_000, 200), (1_000, 6)], &[(5_000, 300), (10, 8)]]);
        assert_eq!(b.judged(), vec![0]);
        assert_eq!(verdict(&b, Some(0)), Verdict::Winner(0));
    }
}
