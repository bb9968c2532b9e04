//! The Markdown summary (`summary.md`, for CI comments): the headline, the variants table,
//! the deltas against a baseline run and the caveats.

use anyhow::Result;

use super::tables::{DeltaRow, VariantRow};
use crate::metrics::results::Results;

/// The summary of `r`: its headline lines, its variants, the all-operations, all-classes
/// deltas against the baseline run (when compared with one) and the caveats.
///
/// # Errors
/// None yet; the summary comes from a template later.
pub(super) fn summary(
    r: &Results,
    headline: &[String],
    variants: &[VariantRow],
    baseline_run: Option<&str>,
    deltas: &[DeltaRow],
    caveats: &[String],
) -> Result<String> {
    let mut md = format!("## tenantbench · {}\n\n", r.scenario.name);
    if let Some(q) = &r.scenario.question {
        md.push_str(&format!("{q}\n\n"));
    }
    for l in headline {
        md.push_str(&format!("- {l}\n"));
    }
    md.push_str("\n| variant | trials | ok ops/s per trial | p50 ms | p99 ms | p99.9 ms | p99 vs baseline | ops/s vs baseline | errors |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for v in variants {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            v.id, v.trials, v.throughput, v.p50, v.p99, v.p999, v.ratio, v.tput_ratio, v.errors
        ));
    }
    let moved: Vec<&DeltaRow> = deltas
        .iter()
        .filter(|d| d.op == "all" && d.class == "all")
        .collect();
    if !moved.is_empty() {
        md.push_str(&format!(
            "\nAgainst the baseline run {}:\n\n| run | variant | baseline p99 ms | p99 ms | change |\n| --- | --- | ---: | ---: | ---: |\n",
            baseline_run.unwrap_or_default()
        ));
        for d in moved {
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} ({}) |\n",
                d.run, d.variant, d.base, d.cur, d.change, d.direction
            ));
        }
    }
    for c in caveats {
        md.push_str(&format!("\n> {c}\n"));
    }
    Ok(md)
}
