//! `tenantbench gate`: judge a run's results against a rules file (and a baseline run), print
//! the findings, write Markdown and JUnit XML when asked, and return the gate's exit status.

use std::path::Path;

use anyhow::{Context as _, Result};

use crate::cli::GateArgs;
use crate::gate::rules::Rules;
use crate::gate::{EXIT_BAD_INPUT, Gate, mismatches};
use crate::metrics::results::Results;
use crate::metrics::store::read_dir_or_file;

/// Runs the gate; returns its exit status (0 pass, 1 a rule failed, 2 runs that differ).
///
/// # Errors
/// Unreadable or invalid files (the binary exits 2 for these as for every error).
pub fn gate(a: &GateArgs) -> Result<u8> {
    let rules = Rules::load(&a.rules)?;
    let current = read_dir_or_file(&a.current)?;
    judge(
        &rules,
        &current,
        &Judging {
            baseline: a.baseline.as_deref(),
            junit: a.junit.as_deref(),
            markdown: a.markdown.as_deref(),
            allow_mismatch: a.allow_mismatch,
            strict: a.strict,
        },
    )
}

/// How a run is judged besides its rules: `gate`'s flags, and what `run --gate` sets.
#[derive(Debug, Clone, Copy, Default)]
pub struct Judging<'a> {
    /// The run to compare with for relative rules.
    pub baseline: Option<&'a Path>,
    /// Where to write JUnit XML.
    pub junit: Option<&'a Path>,
    /// Where to write the Markdown summary.
    pub markdown: Option<&'a Path>,
    /// Compare runs that measured different things anyway.
    pub allow_mismatch: bool,
    /// Fail on inconclusive findings too.
    pub strict: bool,
}

/// Judges results already read (`gate`, and `run --gate` on the run it just wrote).
///
/// # Errors
/// An unreadable baseline, an output file that cannot be written.
pub fn judge(rules: &Rules, current: &Results, a: &Judging<'_>) -> Result<u8> {
    let baseline = a.baseline.map(read_dir_or_file).transpose()?;
    let differ = baseline
        .as_ref()
        .map(|b| mismatches(current, b))
        .unwrap_or_default();
    if !differ.is_empty() && !a.allow_mismatch {
        eprintln!(
            "error: the runs measured different things; compare runs of one setup, or pass --allow-mismatch:"
        );
        for d in &differ {
            eprintln!("  {d}");
        }
        return Ok(EXIT_BAD_INPUT);
    }
    let g = Gate::evaluate(rules, current, baseline.as_ref(), differ);
    print!("{}", g.table());
    println!("{}", g.summary());
    if let Some(p) = a.markdown {
        write(p, &g.markdown().context("rendering the gate's Markdown")?)?;
    }
    if let Some(p) = a.junit {
        write(p, &g.junit().context("rendering the gate's JUnit XML")?)?;
    }
    Ok(g.exit_code(a.strict))
}

fn write(p: &Path, text: &str) -> Result<()> {
    std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))
}
