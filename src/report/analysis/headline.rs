//! The headline: which variant has the lowest p99 against the baseline, by how much, for which
//! tenants and at which data size, in a few sentences.

use std::collections::BTreeSet;

use super::backlog::behind;
use super::isolation::isolation_lines;
use super::sweep::{Knob, sweeps};
use super::{
    SMALL, count, mean_throughput, merged, ms, ops_of, small_classes, smallest_explained, spread,
};
use crate::metrics::results::{self as res, Results, Spread};
use crate::op::Op;
use crate::report::names::Names;

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

/// A variant's figures in the headline phase: its id and its spread over all classes.
type Figure<'a> = (&'a str, &'a Spread);

/// The answer the results give: which variant has the lowest p99, against the baseline (the
/// first variant), by how much, for which tenants, with the evidence and the spread.
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
    let figures: Vec<Figure> = r
        .variants
        .iter()
        .filter(|v| sizes.compared(v))
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
    // Scenarios with a `solo` phase ask about isolation first.
    out.lines = isolation_lines(r, &n);
    if let Some(largest) = sizes.largest() {
        out.lines.push(format!(
            "At the largest data size ({} documents):",
            count(largest)
        ));
    }
    out.lines.extend(match base {
        Some(b) if winner != baseline => {
            winner_against_baseline(r, &n, (winner, w), (&baseline, b))
        }
        _ => baseline_against_next(r, &n, &figures, (winner, w)),
    });
    if sizes.largest().is_some() {
        out.lines.extend(growth_across_sizes(r));
    }
    if let Some(b) = base {
        out.lines
            .extend(others_against_baseline(&n, &figures, winner, &baseline, b));
    }
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

/// The spread of p99 across trials, as a percentage, or `one trial`.
fn p99_range(s: &Spread) -> String {
    s.p99_relative_range
        .map(|x| format!("{:.0}%", 100.0 * x))
        .unwrap_or_else(|| "one trial".into())
}

/// The headline when a variant other than the baseline wins: by how much, the spread of both,
/// and where it shows.
fn winner_against_baseline(
    r: &Results,
    n: &Names,
    (winner_id, w): Figure,
    (baseline_id, b): Figure,
) -> Vec<String> {
    let (winner, baseline) = (n.get(winner_id), n.get(baseline_id));
    let mut lines = vec![
        format!(
            "Lowest p99: {winner} — {} ms against {} ms for the baseline, {baseline} ({:.2}×); {:.0} against {:.0} successful operations/s ({:.2}×).",
            ms(w.merged.p99_us),
            ms(b.merged.p99_us),
            w.merged.p99_us as f64 / b.merged.p99_us.max(1) as f64,
            mean_throughput(w),
            mean_throughput(b),
            mean_throughput(w) / mean_throughput(b).max(1e-9),
        ),
        format!(
            "Spread of p99 across trials ((max − min) / min): {} for {winner}, {} for {baseline}.",
            p99_range(w),
            p99_range(b)
        ),
    ];
    lines.extend(where_it_shows(r, n, winner_id, baseline_id));
    lines
}

/// The headline when the baseline wins (or there is no baseline to compare with): against the
/// next best variant, if any.
fn baseline_against_next(
    r: &Results,
    names: &Names,
    figures: &[Figure],
    (winner_id, w): Figure,
) -> Vec<String> {
    let next = figures
        .iter()
        .filter(|(v, _)| *v != winner_id)
        .min_by_key(|(_, s)| s.merged.p99_us);
    let winner = names.get(winner_id);
    let mut lines = vec![match next {
        Some((n, s)) => format!(
            "Lowest p99: the baseline, {winner} — {} ms; the next best, {n}, has {} ms ({:.2}×).",
            ms(w.merged.p99_us),
            ms(s.merged.p99_us),
            s.merged.p99_us as f64 / w.merged.p99_us.max(1) as f64,
            n = names.get(n),
        ),
        None => format!(
            "{winner}: p99 {} ms at {:.0} successful operations/s (one variant, nothing to compare).",
            ms(w.merged.p99_us),
            mean_throughput(w)
        ),
    }];
    lines.push(format!(
        "Spread of p99 across trials ((max − min) / min): {} for {winner}.",
        p99_range(w)
    ));
    if let Some((n, _)) = next {
        lines.extend(where_it_shows(r, names, n, winner_id));
    }
    lines
}

/// How each line of the data-size sweep grew from the smallest size to the largest.
fn growth_across_sizes(r: &Results) -> Vec<String> {
    let mut lines = Vec::new();
    for sw in sweeps(r).iter().filter(|s| s.knob == Knob::Documents) {
        for l in &sw.lines {
            let (Some(a), Some(b)) = (l.points.first(), l.points.last()) else {
                continue;
            };
            lines.push(format!(
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
    lines
}

/// Every variant other than the winner and the baseline, against the baseline.
fn others_against_baseline(
    n: &Names,
    figures: &[Figure],
    winner: &str,
    baseline: &str,
    b: &Spread,
) -> Vec<String> {
    figures
        .iter()
        .filter(|(v, _)| *v != winner && *v != baseline)
        .map(|(v, s)| {
            format!(
                "{}: p99 {} ms ({:.2}× the baseline), {:.0} successful operations/s ({:.2}×).",
                n.get(v),
                ms(s.merged.p99_us),
                s.merged.p99_us as f64 / b.merged.p99_us.max(1) as f64,
                mean_throughput(s),
                mean_throughput(s) / mean_throughput(b).max(1e-9)
            )
        })
        .collect()
}

/// For small tenants, the operation whose p99 changes most from `from` to `to`, with the
/// documents examined per call of the smallest explained tenant.
fn where_it_shows(r: &Results, n: &Names, to: &str, from: &str) -> Option<String> {
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
        "With {}, {who} p99 for {} {verb} from {} ms to {} ms",
        n.get(to),
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
