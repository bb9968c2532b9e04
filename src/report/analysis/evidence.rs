//! The evidence a headline cites besides its board of figures: where a change shows most for
//! small tenants (the operation, and the plan's documents examined per call), how each line
//! grew across data sizes, and what to run when too few operations were measured.

use super::samples::{self, P99};
use super::sweep::{Knob, sweeps};
use super::verdict::UnitFigure;
use super::{SMALL, count, merged, ms, ops_of, small_classes, smallest_explained};
use crate::metrics::results::{ExplainRecord, Results};
use crate::op::Op;
use crate::report::names::Names;

/// What to run for a p99 of about 100 operations where this run had `have`: the factor, as a
/// larger `--scale`, more trials, or longer ones.
pub(super) fn more(r: &Results, have: u64) -> String {
    let factor = (samples::needed(P99) as f64 / have.max(1) as f64)
        .ceil()
        .max(2.0);
    let repeat = f64::from(r.repeat.max(1));
    let scale = r.scenario.scale;
    let how = if scale < 1.0 && scale * factor <= 1.0 {
        format!(
            "`--scale {}` (this run: `--scale {}`; its trials were that much shorter)",
            round_up(scale * factor),
            round_up(scale)
        )
    } else if scale < 1.0 {
        format!(
            "the full scenario (no `--scale`; this run had `--scale {}`) with `--repeat {}`",
            round_up(scale),
            (repeat * scale * factor).ceil()
        )
    } else {
        format!(
            "`--repeat {}` (this run: {repeat}), or trials that long in all (`duration_s`)",
            (repeat * factor).ceil()
        )
    };
    format!("run about {factor:.0}× as many operations: {how}")
}

/// A positive number rounded up to two significant digits, without trailing zeros.
fn round_up(x: f64) -> String {
    if x <= 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let digits = 1 - x.log10().floor() as i32;
    let m = 10f64.powi(digits);
    let v = (x * m - 1e-9).ceil() / m;
    let s = format!("{v:.*}", digits.max(0) as usize);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// How each line of the data-size sweep grew from the smallest size to the largest.
pub(super) fn growth_across_sizes(r: &Results) -> Vec<String> {
    let mut lines = Vec::new();
    let p99 = |p: &super::SweepPoint| samples::marked(format!("{:.1} ms", p.2), P99, p.3);
    for sw in sweeps(r).iter().filter(|s| s.knob == Knob::Documents) {
        for l in &sw.lines {
            let (Some(a), Some(b)) = (l.points.first(), l.points.last()) else {
                continue;
            };
            lines.push(format!(
                "{}: p99 {} at {} documents → {} at {} ({:.1}×), {:.0} → {:.0} successful operations/s.",
                l.label,
                p99(a),
                count(a.0 as u64),
                p99(b),
                count(b.0 as u64),
                b.2 / a.2.max(1e-9),
                a.1,
                b.1
            ));
        }
    }
    lines
}

/// For small tenants, the operation whose p99 changes most from `from` to `to` (of those with
/// the operations a p99 needs in both), with the documents examined per call of the smallest
/// explained tenant.
pub(super) fn where_it_shows(r: &Results, n: &Names, to: &str, from: &str) -> Option<String> {
    let small = small_classes(r);
    let p99 = |v: &str, op: Op| {
        let h = merged(r, v, |g| g.op == op && small.contains(&g.class));
        samples::enough(P99, h.len()).then(|| UnitFigure {
            p99_us: h.value_at_quantile(P99),
            count: h.len(),
        })
    };
    let (op, a, b) = ops_of(r)
        .into_iter()
        .filter_map(|op| Some((op, p99(from, op)?, p99(to, op)?)))
        .max_by(|x, y| {
            let d = |(_, a, b): &(Op, UnitFigure, UnitFigure)| {
                (b.p99_us as f64 / a.p99_us.max(1) as f64).ln().abs()
            };
            d(x).total_cmp(&d(y))
        })?;
    let verb = if b.p99_us <= a.p99_us { "fell" } else { "rose" };
    let who = if small.iter().any(|c| SMALL.contains(&c.as_str())) {
        format!("small tenants' ({})", small.join(" + "))
    } else {
        "tenants'".to_string()
    };
    let mut line = format!(
        "With {}, {who} p99 for {} {verb} from {} ms to {} ms",
        n.get(to),
        op.name(),
        ms(a.p99_us),
        ms(b.p99_us)
    );
    if let (Some(x), Some(y)) = (
        smallest_explained(r, from, op),
        smallest_explained(r, to, op),
    ) {
        line.push_str(&examined_change(x, y));
    }
    line.push('.');
    Some(line)
}

/// The plan's documents examined per call before (`x`) and after (`y`), for the same tenant —
/// or each tenant named when the two plans explained different ones — and said as unchanged
/// when it did not change (a "from 1,824 to 1,824" reads as a change that is not there).
fn examined_change(x: &ExplainRecord, y: &ExplainRecord) -> String {
    let who = |e: &ExplainRecord| {
        format!(
            "tenant {} with {} documents",
            e.tenant,
            count(e.tenant_documents)
        )
    };
    if x.tenant != y.tenant {
        format!(
            "; documents examined per call {} ({}) and {} ({})",
            count(x.docs_examined),
            who(x),
            count(y.docs_examined),
            who(y)
        )
    } else if x.docs_examined == y.docs_examined {
        format!(
            "; documents examined per call unchanged at {} ({}): the plan's work is the same, so the difference is not in it",
            count(y.docs_examined),
            who(y)
        )
    } else {
        format!(
            "; documents examined per call ({}) from {} to {}",
            who(y),
            count(x.docs_examined),
            count(y.docs_examined)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examined_per_call_says_unchanged_and_names_each_tenant() {
        let e = |tenant: &str, docs: u64| ExplainRecord {
            op: Op::ListRecent,
            tenant: tenant.into(),
            class: "free".into(),
            tenant_documents: 1824,
            collection_documents: 90_000,
            stages: vec!["IXSCAN".into()],
            keys_examined: docs,
            docs_examined: docs,
            returned: 20,
            limit: Some(20),
            rows_removed: None,
            buffers_hit: None,
            buffers_read: None,
            found: Some(20),
            empty: false,
        };
        let same = examined_change(&e("t00031", 1824), &e("t00031", 1824));
        assert!(
            same.contains("unchanged at 1,824") && !same.contains("from"),
            "{same}"
        );
        let fell = examined_change(&e("t00031", 90_000), &e("t00031", 1824));
        assert!(fell.contains("from 90,000 to 1,824"), "{fell}");
        let two = examined_change(&e("t00031", 900), &e("t00040", 20));
        assert!(two.contains("t00031") && two.contains("t00040"), "{two}");
    }

    #[test]
    fn rounding() {
        assert_eq!(round_up(0.06), "0.06");
        assert_eq!(round_up(0.0512), "0.052");
        assert_eq!(round_up(0.01), "0.01");
        assert_eq!(round_up(0.5), "0.5");
    }
}
