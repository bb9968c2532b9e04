//! CI regression gates: rules files ([`rules`]), their evaluation over a run and a baseline
//! run ([`eval`], noise-aware for relative rules), the refusal to compare runs that measured
//! different things, and the outputs a pipeline reads — a terminal table, Markdown for a pull
//! request comment, JUnit XML — with exit codes 0 (pass), 1 (a rule failed) and 2 (bad input).
//! Reads results only, like the report.

pub mod eval;
pub mod rules;

use std::fmt::Write as _;

use crate::metrics::results::Results;
use crate::report::names::Names;
use eval::{Finding, Verdict};
use rules::Rules;

/// Exit status when every rule passed (inconclusive ones too, unless strict).
pub const EXIT_PASS: u8 = 0;
/// Exit status when a rule failed.
pub const EXIT_FAIL: u8 = 1;
/// Exit status for bad input: unreadable or invalid files, runs that cannot be compared.
pub const EXIT_BAD_INPUT: u8 = 2;

/// What a gate concluded.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Gate {
    /// The current run's scenario.
    pub scenario: String,
    /// The rules file.
    pub rules: String,
    /// Whether a baseline run was compared.
    pub baseline: bool,
    /// Differences between the runs accepted with `--allow-mismatch`.
    pub mismatches: Vec<String>,
    /// Every finding, in rule order.
    pub findings: Vec<Finding>,
}

impl Gate {
    /// Evaluates every rule over `current` (and `baseline`).
    pub fn evaluate(
        rules: &Rules,
        current: &Results,
        baseline: Option<&Results>,
        mismatches: Vec<String>,
    ) -> Gate {
        let names = Names::of(current);
        Gate {
            scenario: current.scenario.name.clone(),
            rules: rules.path.display().to_string(),
            baseline: baseline.is_some(),
            mismatches,
            findings: eval::leak_findings(&names, current)
                .into_iter()
                .chain(
                    rules
                        .rules
                        .iter()
                        .flat_map(|r| eval::evaluate(r, &names, current, baseline)),
                )
                .collect(),
        }
    }

    /// How many findings have a verdict.
    pub fn count(&self, v: Verdict) -> usize {
        self.findings.iter().filter(|f| f.verdict == v).count()
    }

    /// The exit status: a failure fails; with `strict`, so does an inconclusive finding.
    pub fn exit_code(&self, strict: bool) -> u8 {
        if self.count(Verdict::Fail) > 0 || (strict && self.count(Verdict::Inconclusive) > 0) {
            EXIT_FAIL
        } else {
            EXIT_PASS
        }
    }

    /// One line: how many findings of each verdict.
    pub fn summary(&self) -> String {
        format!(
            "gate {}: {} passed, {} failed, {} inconclusive, {} skipped ({} findings from {})",
            if self.count(Verdict::Fail) > 0 {
                "FAILED"
            } else {
                "passed"
            },
            self.count(Verdict::Pass),
            self.count(Verdict::Fail),
            self.count(Verdict::Inconclusive),
            self.count(Verdict::Skipped),
            self.findings.len(),
            self.rules
        )
    }

    /// The terminal table: rule, selection, baseline, current, ratio, verdict.
    pub fn table(&self) -> String {
        use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_BORDERS_ONLY};
        let mut t = Table::new();
        t.load_preset(UTF8_BORDERS_ONLY);
        t.set_header(vec![
            "rule",
            "selection",
            "baseline",
            "current",
            "ratio",
            "verdict",
        ]);
        let right = |s: String| Cell::new(s).set_alignment(CellAlignment::Right);
        for f in &self.findings {
            t.add_row(vec![
                Cell::new(&f.rule),
                Cell::new(&f.selection),
                right(f.baseline.clone().unwrap_or_default()),
                right(f.current.clone()),
                right(f.ratio.map(|r| format!("{r:.2}×")).unwrap_or_default()),
                Cell::new(f.verdict.word()),
            ]);
        }
        let mut out = format!("{t}\n");
        if self.marked() {
            let _ = writeln!(out, "{}", crate::report::analysis::samples::footnote());
        }
        for f in self
            .findings
            .iter()
            .filter(|f| matches!(f.verdict, Verdict::Fail | Verdict::Inconclusive))
        {
            let id = f
                .variant
                .as_deref()
                .map_or(String::new(), |v| format!("; {v}"));
            let _ = writeln!(
                out,
                "{} {} ({}{id}): {}",
                f.verdict.word(),
                f.rule,
                f.selection,
                f.note
            );
        }
        out
    }

    /// Whether a finding shows a percentile from too few operations (marked).
    pub fn marked(&self) -> bool {
        let mark = crate::report::analysis::samples::MARK;
        self.findings.iter().any(|f| {
            f.current.contains(mark) || f.baseline.as_deref().is_some_and(|b| b.contains(mark))
        })
    }

    /// Markdown for a pull-request comment (`gate.md`).
    ///
    /// # Errors
    /// The template failed to render.
    pub fn markdown(&self) -> Result<String, minijinja::Error> {
        let mut env = minijinja::Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.add_filter("cell", |v: minijinja::Value| {
            crate::report::markdown_cell(&v.to_string())
        });
        env.add_template("gate.md", include_str!("templates/gate.md"))?;
        env.get_template("gate.md")?.render(minijinja::context! {
            gate => self,
            summary => self.summary(),
            failed => self.count(Verdict::Fail) > 0,
            footnote => self
                .marked()
                .then(crate::report::analysis::samples::footnote),
        })
    }

    /// JUnit XML: a test suite per rule, a test case per finding (failures as `<failure>`,
    /// inconclusive and skipped findings as `<skipped>` with the reason).
    ///
    /// # Errors
    /// The template failed to render.
    pub fn junit(&self) -> Result<String, minijinja::Error> {
        #[derive(serde::Serialize)]
        struct Suite<'a> {
            name: &'a str,
            cases: Vec<&'a Finding>,
            failures: usize,
            skipped: usize,
        }
        let mut suites: Vec<Suite> = Vec::new();
        for f in &self.findings {
            if suites.last().is_none_or(|s| s.name != f.rule) {
                suites.push(Suite {
                    name: &f.rule,
                    cases: Vec::new(),
                    failures: 0,
                    skipped: 0,
                });
            }
            let s = suites.last_mut().expect("pushed above");
            s.failures += usize::from(f.verdict == Verdict::Fail);
            s.skipped += usize::from(matches!(
                f.verdict,
                Verdict::Inconclusive | Verdict::Skipped
            ));
            s.cases.push(f);
        }
        let mut env = minijinja::Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        // The template's name ends in .xml: minijinja escapes every value (& < > " ').
        env.add_template("gate.xml", include_str!("templates/gate.xml"))?;
        env.get_template("gate.xml")?.render(minijinja::context! {
            gate => self,
            suites => suites,
            tests => self.findings.len(),
            failures => self.count(Verdict::Fail),
            skipped => self.count(Verdict::Inconclusive) + self.count(Verdict::Skipped),
        })
    }
}

/// Why two runs cannot be compared: other scenario text, harness build profile, scale,
/// backends or server versions.
pub fn mismatches(current: &Results, baseline: &Results) -> Vec<String> {
    let mut out = Vec::new();
    let (c, b) = (&current.scenario, &baseline.scenario);
    if c.hash != b.hash {
        out.push(format!(
            "scenario text differs: {} (hash {}) vs baseline {} (hash {})",
            c.name, c.hash, b.name, b.hash
        ));
    }
    let (cb, bb) = (&current.environment.build, &baseline.environment.build);
    if let (Some(x), Some(y)) = (cb, bb)
        && x != y
    {
        out.push(format!(
            "harness built {x} vs baseline {y} (a debug build can be the bottleneck it measures)"
        ));
    }
    if c.scale != b.scale {
        out.push(format!("scale {} vs baseline {}", c.scale, b.scale));
    }
    let backends = |r: &Results| {
        let mut v: Vec<String> = r.variants.iter().map(|v| v.backend.clone()).collect();
        v.sort();
        v.dedup();
        v
    };
    if backends(current) != backends(baseline) {
        out.push(format!(
            "backends {} vs baseline {}",
            backends(current).join(", "),
            backends(baseline).join(", ")
        ));
    }
    let servers = |r: &Results| -> Vec<String> {
        r.environment
            .servers
            .iter()
            .map(|s| {
                format!(
                    "{} {}{}",
                    s.role,
                    s.version.as_deref().unwrap_or("unknown version"),
                    s.surrogate
                        .as_deref()
                        .map(|x| format!(" (SecantusDB {x})"))
                        .unwrap_or_default()
                )
            })
            .collect()
    };
    if servers(current) != servers(baseline) {
        out.push(format!(
            "servers {} vs baseline {}",
            servers(current).join("; "),
            servers(baseline).join("; ")
        ));
    }
    out
}
