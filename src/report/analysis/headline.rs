//! The headline: the answer the figures give, in a few sentences. Which variant wins is judged
//! per tenant class ([`super::verdict`]): the winner against the baseline (the matrix's first
//! variant) for the classes it helps, with throughput beside latency and where it shows most;
//! or that the classes disagree; or, when no class ran the operations a p99 needs, no winner
//! and what to run for more. Every percentile from too few operations is marked.

use std::collections::BTreeSet;

use super::backlog::behind;
use super::evidence::{growth_across_sizes, more, where_it_shows};
use super::isolation::isolation_lines;
use super::samples::{self, MARK, P99};
use super::verdict::{Board, LEVEL, Side, Verdict, verdict};
use super::{count, headline_phase, spread};
use crate::metrics::results::{self as res, Results, Spread};
use crate::report::names::Names;

/// The headline: the answer in a few sentences and the variant that won.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    /// Sentences, most important first.
    pub lines: Vec<String>,
    /// The variant the figures favour for the tenant classes (see [`super::verdict`]); `None`
    /// when the classes disagree, or too few operations were measured to say.
    pub winner: Option<String>,
    /// The baseline variant (the matrix's first).
    pub baseline: String,
}

/// The answer the results give: which variant is better for the tenant classes, against the
/// baseline (the first variant), by how much, for which tenants, with the evidence and the
/// spread; or why no variant can be named.
pub fn answer(r: &Results) -> Answer {
    // Over several data sizes (the `scale` axis) the headline compares the variants at the
    // largest size, and says how each grew across sizes.
    let sizes = DataSizes::of(r);
    let n = Names::of(r);
    let baseline = r
        .variants
        .iter()
        .find(|v| sizes.compared(v))
        .map(|v| v.id.clone())
        .unwrap_or_default();
    let mut out = Answer {
        baseline: baseline.clone(),
        ..Default::default()
    };
    let compared: Vec<&str> = r
        .variants
        .iter()
        .filter(|v| sizes.compared(v))
        .filter(|v| spread(r, &v.id, "all").is_some_and(|s| s.merged.count > 0))
        .map(|v| v.id.as_str())
        .collect();
    let Some(phase) = headline_phase(r).filter(|_| !compared.is_empty()) else {
        out.lines
            .push("No successful operations were measured: there is nothing to compare.".into());
        return out;
    };
    out.lines = isolation_lines(r, &n);
    out.lines.extend(super::migration::migration_lines(r, &n));
    if let Some(largest) = sizes.largest() {
        out.lines.push(format!(
            "At the largest data size ({} documents):",
            count(largest)
        ));
    }
    let board = Board::of(r, phase, &compared);
    let base = board.index(&baseline);
    let say = Say {
        r,
        n: &n,
        board: &board,
        base,
    };
    let found = if compared.len() == 1 {
        Verdict::Winner(0)
    } else {
        verdict(&board, base)
    };
    let winner = match found {
        Verdict::Winner(w) => Some(w),
        Verdict::Disagree | Verdict::TooFew => None,
    };
    out.winner = winner.map(|w| board.variants[w].clone());
    out.lines.extend(match found {
        _ if compared.len() == 1 => say.single(),
        Verdict::Winner(w) => match base {
            Some(b) if b != w => say.winner(w, b),
            _ => say.holds(w),
        },
        Verdict::Disagree => say.disagree(),
        Verdict::TooFew => say.too_few(),
    });
    if found != Verdict::TooFew {
        out.lines.extend(say.not_judged());
    }
    if sizes.largest().is_some() {
        out.lines.extend(growth_across_sizes(r));
    }
    out.lines.extend(say.others(winner));
    out.lines.extend(behind(r, &n));
    out
}

/// The data sizes (documents) of the variants: the headline compares those at the largest
/// when there are several.
struct DataSizes {
    sizes: BTreeSet<u64>,
}

impl DataSizes {
    fn of(r: &Results) -> DataSizes {
        DataSizes {
            sizes: r.variants.iter().filter_map(|v| v.documents).collect(),
        }
    }

    /// The largest size, when the variants have two sizes or more.
    fn largest(&self) -> Option<u64> {
        if self.sizes.len() < 2 {
            None
        } else {
            self.sizes.last().copied()
        }
    }

    /// Whether the headline compares the variant: every variant over one size, else those at
    /// the largest.
    fn compared(&self, v: &res::VariantInfo) -> bool {
        self.sizes.len() < 2 || v.documents == self.sizes.last().copied()
    }
}

/// Items as a sentence lists them: `a`, `a and b`, `a, b and c`.
fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The spread of p99 across trials, as a percentage, or `one trial`.
fn p99_range(s: Option<&Spread>) -> String {
    s.and_then(|s| s.p99_relative_range)
        .map(|x| format!("{:.0}%", 100.0 * x))
        .unwrap_or_else(|| "one trial".into())
}

/// The sentences of one headline, over one board of figures.
struct Say<'a> {
    r: &'a Results,
    n: &'a Names,
    board: &'a Board,
    /// The baseline's index on the board (absent when it measured nothing).
    base: Option<usize>,
}

impl Say<'_> {
    /// A variant's name.
    fn name(&self, v: usize) -> &str {
        self.n.get(&self.board.variants[v])
    }

    /// A variant as a sentence names it: `the baseline, no index` or `compound index`.
    fn who(&self, v: usize) -> String {
        if Some(v) == self.base {
            format!("the baseline, {}", self.name(v))
        } else {
            self.name(v).to_string()
        }
    }

    /// The unit sentences lead with: the first judged (small tenants where they are), else
    /// the first every variant ran.
    fn focus(&self) -> usize {
        let b = self.board;
        b.judged()
            .first()
            .copied()
            .or_else(|| {
                (0..b.units.len())
                    .find(|&u| (0..b.variants.len()).all(|v| b.figure(v, u).is_some()))
            })
            .unwrap_or(0)
    }

    fn unit(&self, u: usize) -> &str {
        &self.board.units[u].name
    }

    fn units(&self, us: &[usize]) -> String {
        list(
            &us.iter()
                .map(|&u| self.unit(u).to_string())
                .collect::<Vec<_>>(),
        )
    }

    /// A variant's p99 for a unit in words, marked when from too few operations.
    fn p99(&self, v: usize, u: usize) -> String {
        self.board
            .figure(v, u)
            .map_or("-".into(), |f| samples::ms_in_words(P99, f.p99_us, f.count))
    }

    /// `a` against `b` for unit `u`: `75.00 ms against 1101.00 ms (0.07×)`.
    fn against(&self, a: usize, b: usize, u: usize) -> String {
        let (Some(x), Some(y)) = (self.board.figure(a, u), self.board.figure(b, u)) else {
            return format!("{} against {}", self.p99(a, u), self.p99(b, u));
        };
        format!(
            "{} against {} ({:.2}×)",
            self.p99(a, u),
            self.p99(b, u),
            x.p99_us as f64 / y.p99_us.max(1) as f64
        )
    }

    /// Throughput of `a` against `b`: `517 against 300 successful operations/s (1.72×)`.
    fn throughput(&self, a: usize, b: usize) -> String {
        let t = &self.board.throughput;
        format!(
            "{:.0} against {:.0} successful operations/s ({:.2}×)",
            t[a],
            t[b],
            t[a] / t[b].max(1e-9)
        )
    }

    /// Every unit both ran, `a` against `b`, in one sentence.
    fn per_class(&self, a: usize, b: usize) -> String {
        let parts: Vec<String> = (0..self.board.units.len())
            .filter(|&u| self.board.figure(a, u).is_some() && self.board.figure(b, u).is_some())
            .map(|u| format!("{} {}", self.unit(u), self.against(a, b, u)))
            .collect();
        format!(
            "p99 per tenant class, {} against {}: {}.",
            self.name(a),
            self.who(b),
            parts.join("; ")
        )
    }

    /// The winner against the baseline: the classes it is better for, worse for none, the
    /// focus class's p99 and the throughput; each class; what the merged p99 hides; the
    /// spread; where it shows most.
    fn winner(&self, w: usize, b: usize) -> Vec<String> {
        let better = self.board.units_where(w, b, Side::Better);
        let level = self.board.units_where(w, b, Side::Level);
        let f = self.focus();
        let judged = if better.is_empty() {
            format!(
                "level with the baseline, {}, for every class judged (p99 within {:.0}%) and worse than no other variant",
                self.name(b),
                100.0 * LEVEL
            )
        } else {
            let level = if level.is_empty() {
                String::new()
            } else {
                format!(
                    " (level within {:.0}% for {})",
                    100.0 * LEVEL,
                    self.units(&level)
                )
            };
            format!(
                "better than the baseline, {}, for {}, worse for none{level}",
                self.name(b),
                self.units(&better)
            )
        };
        let mut lines = vec![
            format!(
                "Answer: {} — {judged}; p99 for {} {}, {}.",
                self.name(w),
                self.unit(f),
                self.against(w, b, f),
                self.throughput(w, b)
            ),
            self.per_class(w, b),
        ];
        lines.extend(self.merged_hides(w, b));
        lines.push(self.spread_line(&[w, b]));
        lines.extend(where_it_shows(
            self.r,
            self.n,
            &self.board.variants[w],
            &self.board.variants[b],
        ));
        lines
    }

    /// When the winner's p99 over all operations merged is higher than the other's: that a
    /// merged percentile is the slowest class's.
    fn merged_hides(&self, w: usize, b: usize) -> Option<String> {
        let all = |v: usize| spread(self.r, &self.board.variants[v], "all");
        let (x, y) = (all(w)?, all(b)?);
        if x.merged.p99_us <= y.merged.p99_us {
            return None;
        }
        let slowest = (0..self.board.units.len())
            .filter_map(|u| Some((u, self.board.figure(w, u)?)))
            .max_by_key(|(_, f)| f.p99_us)?;
        Some(format!(
            "All operations merged, {}'s p99 is {} against {}: a merged percentile is the slowest class's ({}), so it does not answer for the other classes.",
            self.name(w),
            samples::ms_in_words(P99, x.merged.p99_us, x.merged.count),
            samples::ms_in_words(P99, y.merged.p99_us, y.merged.count),
            self.unit(slowest.0)
        ))
    }

    /// The spread of p99 (all operations) across each variant's trials.
    fn spread_line(&self, vs: &[usize]) -> String {
        let each: Vec<String> = vs
            .iter()
            .map(|&v| {
                format!(
                    "{} for {}",
                    p99_range(spread(self.r, &self.board.variants[v], "all")),
                    self.name(v)
                )
            })
            .collect();
        format!(
            "Spread of p99 across trials ((max − min) / min): {}.",
            each.join(", ")
        )
    }

    /// The winner is the baseline (or the only reference): against the next best variant.
    fn holds(&self, w: usize) -> Vec<String> {
        let f = self.focus();
        let focus_p99 = |v: usize| self.board.figure(v, f).map_or(u64::MAX, |x| x.p99_us);
        let Some(next) = (0..self.board.variants.len())
            .filter(|&v| v != w)
            .min_by_key(|&v| focus_p99(v))
        else {
            return self.single();
        };
        vec![
            format!(
                "Answer: {} — no other variant is better for any tenant class (p99 lower by more than {:.0}%); the next best, {}, has p99 for {} {}, {}.",
                self.who(w),
                100.0 * LEVEL,
                self.name(next),
                self.unit(f),
                self.against(next, w, f),
                self.throughput(next, w)
            ),
            self.per_class(next, w),
            self.spread_line(&[w]),
        ]
        .into_iter()
        .chain(where_it_shows(self.r, self.n, &self.board.variants[next], &self.board.variants[w]))
        .collect()
    }

    /// One variant: its figures, nothing to compare.
    fn single(&self) -> Vec<String> {
        let f = self.focus();
        vec![format!(
            "{}: p99 for {} {}, {:.0} successful operations/s (one variant: no other variant to compare with).",
            self.name(0),
            self.unit(f),
            self.p99(0, f),
            self.board.throughput[0]
        )]
    }

    /// The classes disagree: in one sentence, which variant is fastest for which classes.
    fn disagree(&self) -> Vec<String> {
        let b = self.board;
        let mut by: Vec<(usize, Vec<usize>)> = Vec::new();
        for u in b.judged() {
            let Some(best) = (0..b.variants.len())
                .min_by_key(|&v| b.figure(v, u).map_or(u64::MAX, |f| f.p99_us))
            else {
                continue;
            };
            match by.iter_mut().find(|(v, _)| *v == best) {
                Some((_, us)) => us.push(u),
                None => by.push((best, vec![u])),
            }
        }
        let parts: Vec<String> = by
            .iter()
            .enumerate()
            .map(|(i, (v, us))| {
                let at: Vec<String> = us
                    .iter()
                    .map(|&u| format!("{} at {}", self.unit(u), self.p99(*v, u)))
                    .collect();
                if i == 0 {
                    format!("{} has the lowest p99 for {}", self.name(*v), list(&at))
                } else {
                    format!("{} for {}", self.name(*v), list(&at))
                }
            })
            .collect();
        let tput: Vec<String> = (0..b.variants.len())
            .map(|v| format!("{} {:.0}", self.name(v), b.throughput[v]))
            .collect();
        let mut lines = vec![
            format!(
                "No single answer — the tenant classes disagree: {}.",
                parts.join(", ")
            ),
            format!("Successful operations/s: {}.", tput.join(", ")),
        ];
        if let (Some((lead, _)), Some(base)) = (by.first(), self.base)
            && *lead != base
        {
            lines.push(self.per_class(*lead, base));
        }
        lines
    }

    /// Too few operations for any class's p99: no winner, the figures marked, and what to run.
    fn too_few(&self) -> Vec<String> {
        let b = self.board;
        let fewest = |u: usize| -> Option<(usize, u64)> {
            (0..b.variants.len())
                .map(|v| b.figure(v, u).map(|f| (v, f.count)))
                .collect::<Option<Vec<_>>>()?
                .into_iter()
                .min_by_key(|x| x.1)
        };
        // The focus class when every variant ran it, else the best-covered class.
        let target = fewest(0).map(|x| (0, x)).or_else(|| {
            (0..b.units.len())
                .filter_map(|u| Some((u, fewest(u)?)))
                .max_by_key(|(_, (_, n))| *n)
        });
        let mut lines = Vec::new();
        let Some((u, (v, have))) = target else {
            lines.push(format!(
                "No winner named: no tenant class ran in every variant, so no class's p99 can be compared (a p99 needs about {} operations of each).",
                count(samples::needed(P99))
            ));
            return lines;
        };
        lines.push(format!(
            "No winner named: too few operations for a p99 per tenant class — {} had {} in {} (a p99 needs about {}, a p99.9 about {}), so every such p99 here is marked {MARK}. For more, {}.",
            self.unit(u),
            count(have),
            self.name(v),
            count(samples::needed(P99)),
            count(samples::needed(samples::P999)),
            more(self.r, have)
        ));
        let each: Vec<String> = (0..b.variants.len())
            .map(|v| format!("{} {}", self.name(v), self.p99(v, u)))
            .collect();
        lines.push(format!(
            "Indicative only, p99 for {}: {}.",
            self.unit(u),
            each.join(", ")
        ));
        lines
    }

    /// The classes the verdict left out: too few operations, or not run by every variant.
    fn not_judged(&self) -> Option<String> {
        let b = self.board;
        let mut parts: Vec<String> = b
            .thin()
            .into_iter()
            .map(|(u, v, n)| format!("{} ({} in {})", self.unit(u), count(n), self.name(v)))
            .collect();
        for u in 0..b.units.len() {
            let ran: Vec<bool> = (0..b.variants.len())
                .map(|v| b.figure(v, u).is_some())
                .collect();
            if ran.iter().any(|x| *x) && !ran.iter().all(|x| *x) {
                let missing: Vec<String> = (0..b.variants.len())
                    .filter(|&v| !ran[v])
                    .map(|v| self.name(v).to_string())
                    .collect();
                parts.push(format!(
                    "{} (no operations in {})",
                    self.unit(u),
                    list(&missing)
                ));
            }
        }
        (!parts.is_empty()).then(|| {
            format!(
                "Not judged, too few operations for a p99 (about {} needed): {}.",
                count(samples::needed(P99)),
                parts.join(", ")
            )
        })
    }

    /// Every variant other than the winner and the baseline, against the baseline.
    fn others(&self, winner: Option<usize>) -> Vec<String> {
        let Some(b) = self.base else {
            return Vec::new();
        };
        let f = self.focus();
        (0..self.board.variants.len())
            .filter(|&v| v != b && Some(v) != winner)
            .map(|v| {
                let judged = [(Side::Better, "better"), (Side::Worse, "worse")]
                    .iter()
                    .filter_map(|(side, word)| {
                        let us = self.board.units_where(v, b, *side);
                        (!us.is_empty()).then(|| format!("{word} for {}", self.units(&us)))
                    })
                    .collect::<Vec<_>>();
                let judged = if judged.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", judged.join(", "))
                };
                format!(
                    "{} against the baseline{judged}: p99 for {} {}, {}.",
                    self.name(v),
                    self.unit(f),
                    self.against(v, b, f),
                    self.throughput(v, b)
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        assert_eq!(list(&[]), "");
        assert_eq!(list(&["a".into()]), "a");
        assert_eq!(list(&["a".into(), "b".into(), "c".into()]), "a, b and c");
    }
}
