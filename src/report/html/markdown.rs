//! The Markdown summary (`summary.md`, for CI comments): the headline, the variants table,
//! the deltas against a baseline run and the caveats, from the template
//! `templates/summary.md`. Table cells are escaped so that no value can break a table.

use anyhow::{Context as _, Result};
use minijinja::Value;

use super::tables::{DeltaRow, VariantRow};
use crate::metrics::results::Results;

const TEMPLATE: &str = include_str!("../templates/summary.md");

/// A value as a Markdown table cell (see [`crate::report::markdown_cell`]).
fn cell(v: &Value) -> String {
    crate::report::markdown_cell(&v.to_string())
}

/// The summary of `r`: its headline lines, its variants, the all-operations, all-classes
/// deltas against the baseline run (when compared with one) and the caveats.
///
/// # Errors
/// The template failed to render.
pub(super) fn summary(
    r: &Results,
    headline: &[String],
    variants: &[VariantRow],
    baseline_run: Option<&str>,
    deltas: &[DeltaRow],
    caveats: &[String],
    leaks: &[String],
) -> Result<String> {
    let generators: Vec<String> =
        super::evidence::generator_rows(r, &crate::report::names::Names::of(r))
            .iter()
            .map(super::evidence::GeneratorRow::line)
            .collect();
    let moved: Vec<&DeltaRow> = deltas
        .iter()
        .filter(|d| d.op == "all" && d.class == "all")
        .collect();
    // A percentile from too few operations is marked in the lines and tables; the footnote
    // says what the mark means.
    let mark = crate::report::analysis::samples::MARK;
    let few = headline.iter().any(|l| l.contains(mark))
        || variants.iter().any(|v| v.few)
        || moved.iter().any(|d| d.few);
    let mut env = minijinja::Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.add_filter("cell", |v: Value| cell(&v));
    env.add_template("summary.md", TEMPLATE)
        .context("the summary template")?;
    env.get_template("summary.md")
        .context("the summary template")?
        .render(minijinja::context! {
            name => &r.scenario.name,
            question => &r.scenario.question,
            headline => headline,
            variants => variants,
            baseline_run => baseline_run,
            deltas => &moved,
            caveats => caveats,
            leaks => leaks,
            generators => &generators,
            footnote => few.then(crate::report::analysis::samples::footnote),
        })
        .context("rendering the summary")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::html::{Run, render_runs};

    /// The cells of a Markdown table row: the `|` not escaped by a backslash, less one.
    fn cells(row: &str) -> usize {
        let b = row.as_bytes();
        let bars = (0..b.len())
            .filter(|&i| b[i] == b'|' && (i == 0 || b[i - 1] != b'\\'))
            .count();
        bars.saturating_sub(1)
    }

    #[test]
    fn cells_escape_pipes_and_line_breaks() {
        assert_eq!(cell(&Value::from("a|b\nc\r\nd")), "a\\|b c d");
        assert_eq!(cell(&Value::from(42u64)), "42");
        assert_eq!(cells("| a \\| b | c |"), 2);
    }

    #[test]
    fn a_pipe_in_a_label_or_value_does_not_break_the_tables() {
        let mut r: Results = serde_json::from_str(include_str!(
            "../../../tests/fixtures/quickstart-results.json"
        ))
        .expect("fixture parses");
        // A variant label with a pipe and a line break, and a run name (a value of the delta
        // table) with a pipe.
        r.variants[0].name = Some("shared|none\nfirst".into());
        let runs = [
            Run {
                name: "before",
                results: &r,
            },
            Run {
                name: "after|again",
                results: &r,
            },
        ];
        let md = render_runs(&runs).expect("renders").markdown;
        let tables: Vec<Vec<&str>> = md
            .split("\n\n")
            .map(|block| block.lines().filter(|l| l.starts_with('|')).collect())
            .filter(|rows: &Vec<&str>| !rows.is_empty())
            .collect();
        assert_eq!(tables.len(), 2, "variants and deltas: {md}");
        for (rows, columns) in tables.iter().zip([12, 5]) {
            for row in rows {
                assert_eq!(cells(row), columns, "{row}\n{md}");
            }
        }
        assert!(md.contains("| shared\\|none first | 2 |"), "{md}");
        assert!(
            md.contains("| after\\|again | shared\\|none first |"),
            "{md}"
        );
    }
}
