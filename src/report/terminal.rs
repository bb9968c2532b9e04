//! Terminal tables of a run's results: per measured phase the figures across trials, p99 per
//! tenant class, and the plan evidence per variant. Every percentile comes with the operations
//! it rests on, and one from too few is marked ([`super::analysis::samples`]).

use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_BORDERS_ONLY};

use super::analysis::samples::{self, MARK, P50, P99, P999};
use super::analysis::{count, ms, trial_counts};
use super::names::Names;
use crate::metrics::results::{PhaseInfo, Results, Spread};

/// The end-of-run table: per variant, the measured phases' figures across trials, and the
/// plan evidence of the median tenant.
pub fn summary_table(r: &Results) -> String {
    let n = Names::of(r);
    let mut out = String::new();
    for ph in r.phases.iter().filter(|p| p.measured) {
        let rows: Vec<&Spread> = r
            .spread
            .iter()
            .filter(|s| s.phase == ph.name && s.class == "all")
            .collect();
        if rows.is_empty() {
            continue;
        }
        out.push_str(&format!(
            "\n{} — phase {}: response times of successful operations, trials merged (histograms added)\n{}\np99 ms (successful operations) by tenant class, phase {}:\n{}\n",
            r.scenario.name,
            ph.name,
            phase_table(r, &n, ph, &rows),
            ph.name,
            class_table(r, &n, ph, &rows)
        ));
    }
    if out.contains(MARK) {
        out.push_str(&samples::footnote());
        out.push('\n');
    }
    if let Some(t) = plan_evidence(r, &n) {
        out.push_str(&format!(
            "\nplan evidence (explain executionStats, before the load):\n{t}\n"
        ));
    }
    for w in crate::metrics::results::empty_plans(r) {
        out.push_str(&format!("WARNING: {w}\n"));
    }
    out
}

/// A right-aligned cell.
fn right(c: Cell) -> Cell {
    c.set_alignment(CellAlignment::Right)
}

/// A table with the borders every table here has.
fn table() -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY);
    t
}

/// One phase's figures per variant: throughput and p99 per trial, merged percentiles, errors.
fn phase_table(r: &Results, n: &Names, ph: &PhaseInfo, rows: &[&Spread]) -> Table {
    let mut t = table();
    t.set_header(vec![
        "variant",
        "ok ops/s per trial",
        "ok ops",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "p99 ms per trial",
        "errors",
        "id",
    ]);
    for s in rows {
        let errors: u64 = r
            .trials
            .iter()
            .filter(|t| t.variant == s.variant)
            .flat_map(|t| &t.groups)
            .filter(|g| {
                g.phase == ph.name && g.outcome == crate::metrics::results::GroupOutcome::Error
            })
            .map(|g| g.response.count)
            .sum();
        let per_trial = |xs: Vec<String>| xs.join(" / ");
        let c = s.merged.count;
        let counts = trial_counts(r, &s.variant, &ph.name, "all");
        t.add_row(vec![
            Cell::new(n.get(&s.variant)),
            right(Cell::new(per_trial(
                s.throughput.iter().map(|x| format!("{x:.0}")).collect(),
            ))),
            right(Cell::new(count(c))),
            right(Cell::new(samples::marked(ms(s.merged.p50_us), P50, c))),
            right(Cell::new(samples::marked(ms(s.merged.p99_us), P99, c))),
            right(Cell::new(samples::marked(ms(s.merged.p999_us), P999, c))),
            right(Cell::new(ms(s.merged.max_us))),
            right(Cell::new(per_trial(
                s.p99_us
                    .iter()
                    .enumerate()
                    .map(|(i, x)| samples::marked(ms(*x), P99, counts.get(i).copied().unwrap_or(0)))
                    .collect(),
            ))),
            right(Cell::new(errors)),
            Cell::new(&s.variant),
        ]);
    }
    t
}

/// One phase's p99 per variant and tenant class, one column per class that ran.
fn class_table(r: &Results, n: &Names, ph: &PhaseInfo, rows: &[&Spread]) -> Table {
    let classes: Vec<&String> = r
        .classes
        .iter()
        .filter(|c| {
            r.spread
                .iter()
                .any(|s| s.phase == ph.name && &s.class == *c)
        })
        .collect();
    let mut tc = table();
    let mut header = vec!["variant".to_string()];
    header.extend(classes.iter().map(|c| c.to_string()));
    tc.set_header(header);
    for s in rows {
        let mut row = vec![Cell::new(n.get(&s.variant))];
        for c in &classes {
            let v = r
                .spread
                .iter()
                .find(|x| x.variant == s.variant && x.phase == ph.name && &x.class == *c)
                .map_or("-".into(), |x| {
                    format!(
                        "{} ({})",
                        samples::marked(ms(x.merged.p99_us), P99, x.merged.count),
                        count(x.merged.count)
                    )
                });
            row.push(right(Cell::new(v)));
        }
        tc.add_row(row);
    }
    tc
}

/// Plan evidence: the explained tenants' operations, per variant (its first trial with any),
/// or `None` when nothing was explained.
fn plan_evidence(r: &Results, n: &Names) -> Option<Table> {
    let mut t = table();
    t.set_header(vec![
        "variant",
        "op",
        "tenant",
        "plan",
        "keys",
        "docs examined",
        "of collection",
        "returned",
    ]);
    let mut any = false;
    for v in &r.variants {
        let Some(tr) = r
            .trials
            .iter()
            .find(|t| t.variant == v.id && !t.evidence.explain.is_empty())
        else {
            continue;
        };
        for e in &tr.evidence.explain {
            any = true;
            t.add_row(vec![
                Cell::new(n.get(&v.id)),
                Cell::new(e.op.name()),
                Cell::new(format!("{} ({})", e.tenant, e.class)),
                Cell::new(e.stages.join(" > ")),
                right(Cell::new(e.keys_examined)),
                right(Cell::new(e.docs_examined)),
                right(Cell::new(e.collection_documents)),
                right(Cell::new(e.returned)),
            ]);
        }
    }
    any.then_some(t)
}
