//! Run-to-run deltas: p99 of a current run against a baseline run, per variant, operation and
//! class.

use super::{merged, ops_of};
use crate::metrics::results::{Group, Results};
use crate::op::Op;

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
