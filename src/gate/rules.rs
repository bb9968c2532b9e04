//! Gate rules files: the TOML model (strict: unknown keys are errors) and its checks, each
//! error at the `file:line:column` of the value, as for scenarios.
//!
//! ```toml
//! [[absolute]]                      # a threshold on this run alone
//! select = { phase = "steady", op = "list_recent|get_by_id", class = "basic|free" }
//! metric = "p99_ms"                 # p50_ms p90_ms p99_ms p999_ms throughput error_rate
//! max = 25                          # or min = 500
//!
//! [[relative]]                      # against the baseline run, noise-aware
//! metric = "p99_ms"
//! max_ratio = 1.15                  # throughput: min_ratio = 0.90
//!
//! [[isolation]]                     # small tenants' p99 in a phase / in `solo`
//! max_relative_latency = 1.5
//!
//! [[plan]]                          # from the explain evidence of tenant-scoped operations
//! forbid_stages = ["COLLSCAN", "Seq Scan"]
//! max_examined_per_returned = 50    # for the largest tenant
//! forbid_empty = true               # the largest tenant's query found no record
//! ```

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::spans::{Invalid, locate};

/// A rules file could not be read or is not valid.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// The file could not be read.
    #[error("cannot read gate rules {path}")]
    Io {
        /// The file as given.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A value in it is wrong (at its line and column).
    #[error(transparent)]
    Invalid(#[from] Invalid),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileModel {
    #[serde(default)]
    absolute: Vec<Spanned<AbsoluteModel>>,
    #[serde(default)]
    relative: Vec<Spanned<RelativeModel>>,
    #[serde(default)]
    isolation: Vec<Spanned<IsolationModel>>,
    #[serde(default)]
    plan: Vec<Spanned<PlanModel>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SelectModel {
    variant: Option<Spanned<String>>,
    backend: Option<Spanned<String>>,
    layout: Option<Spanned<String>>,
    indexes: Option<Spanned<String>>,
    phase: Option<Spanned<String>>,
    op: Option<Spanned<String>>,
    class: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AbsoluteModel {
    name: Option<String>,
    #[serde(default)]
    select: SelectModel,
    metric: Spanned<String>,
    max: Option<Spanned<f64>>,
    min: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RelativeModel {
    name: Option<String>,
    #[serde(default)]
    select: SelectModel,
    metric: Spanned<String>,
    max_ratio: Option<Spanned<f64>>,
    min_ratio: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IsolationModel {
    name: Option<String>,
    #[serde(default)]
    select: SelectModel,
    max_relative_latency: Spanned<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanModel {
    name: Option<String>,
    #[serde(default)]
    select: SelectModel,
    #[serde(default)]
    forbid_stages: Vec<Spanned<String>>,
    max_examined_per_returned: Option<Spanned<f64>>,
    #[serde(default)]
    forbid_empty: bool,
}

/// What a rule measures of the selected operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Median response time, ms.
    P50Ms,
    /// 90th percentile, ms.
    P90Ms,
    /// 99th percentile, ms.
    P99Ms,
    /// 99.9th percentile, ms.
    P999Ms,
    /// Successful operations per second.
    Throughput,
    /// Failed operations over all operations.
    ErrorRate,
}

impl Metric {
    /// Every metric, by its name in rules files.
    pub const ALL: [Metric; 6] = [
        Metric::P50Ms,
        Metric::P90Ms,
        Metric::P99Ms,
        Metric::P999Ms,
        Metric::Throughput,
        Metric::ErrorRate,
    ];

    /// The name in rules files and output.
    pub fn name(self) -> &'static str {
        match self {
            Metric::P50Ms => "p50_ms",
            Metric::P90Ms => "p90_ms",
            Metric::P99Ms => "p99_ms",
            Metric::P999Ms => "p999_ms",
            Metric::Throughput => "throughput",
            Metric::ErrorRate => "error_rate",
        }
    }
}

/// Which results a rule looks at: `|`-separated globs (`*`, `?`) per field; an absent field
/// matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Select {
    /// Variant ids.
    pub variant: Option<String>,
    /// Backend names (`mongodb`, `postgres`).
    pub backend: Option<String>,
    /// Layout names.
    pub layout: Option<String>,
    /// Index profile names.
    pub indexes: Option<String>,
    /// Phase names (default for latency rules: every measured phase).
    pub phase: Option<String>,
    /// Operation names.
    pub op: Option<String>,
    /// Tenant classes.
    pub class: Option<String>,
}

impl Select {
    /// The selection as written, e.g. `phase=steady op=list_*` (`all` when it selects all).
    pub fn describe(&self) -> String {
        let fields = [
            ("variant", &self.variant),
            ("backend", &self.backend),
            ("layout", &self.layout),
            ("indexes", &self.indexes),
            ("phase", &self.phase),
            ("op", &self.op),
            ("class", &self.class),
        ];
        let parts: Vec<String> = fields
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect();
        if parts.is_empty() {
            "all".into()
        } else {
            parts.join(" ")
        }
    }
}

/// Whether `text` matches a `|`-separated list of globs with `*` (any run) and `?` (one
/// character); `None` matches everything.
pub fn matches(pattern: Option<&str>, text: &str) -> bool {
    let Some(p) = pattern else { return true };
    p.split('|')
        .any(|g| glob(g.trim().as_bytes(), text.as_bytes()))
}

fn glob(p: &[u8], t: &[u8]) -> bool {
    match (p.first(), t.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob(&p[1..], t) || (!t.is_empty() && glob(p, &t[1..])),
        (Some(b'?'), Some(_)) => glob(&p[1..], &t[1..]),
        (Some(a), Some(b)) if a == b => glob(&p[1..], &t[1..]),
        _ => false,
    }
}

/// A bound: at most or at least a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    /// The measured value must be at most this.
    Max(f64),
    /// The measured value must be at least this.
    Min(f64),
}

impl Bound {
    /// Whether `x` satisfies the bound.
    pub fn holds(self, x: f64) -> bool {
        match self {
            Bound::Max(b) => x <= b,
            Bound::Min(b) => x >= b,
        }
    }

    /// The bound's value.
    pub fn value(self) -> f64 {
        match self {
            Bound::Max(b) | Bound::Min(b) => b,
        }
    }

    /// `<=` or `>=`.
    pub fn op(self) -> &'static str {
        match self {
            Bound::Max(_) => "<=",
            Bound::Min(_) => ">=",
        }
    }
}

/// What a rule checks.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// The metric of the selection in this run against a bound.
    Absolute {
        /// What is measured.
        metric: Metric,
        /// The bound.
        bound: Bound,
    },
    /// The metric relative to the baseline run's, per trial and noise-aware.
    Relative {
        /// What is measured.
        metric: Metric,
        /// Bound on current / baseline.
        ratio: Bound,
    },
    /// Small tenants' relative latency (p99 in a phase / in `solo`).
    Isolation {
        /// Largest relative latency allowed.
        max: f64,
    },
    /// Plan evidence of tenant-scoped operations.
    Plan {
        /// Plan stages that must not appear (`COLLSCAN`, `Seq Scan`).
        forbid_stages: Vec<String>,
        /// Largest documents or rows examined per returned, for the largest tenant.
        max_examined_per_returned: Option<f64>,
        /// Fail when the largest tenant's query found no record though it has some: the
        /// run measured an empty query.
        forbid_empty: bool,
    },
}

/// One rule of a rules file.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Its name: as written, else derived from what it checks.
    pub name: String,
    /// What it looks at.
    pub select: Select,
    /// What it checks.
    pub check: Check,
    /// 1-based line of its table in the file.
    pub line: usize,
}

/// A checked rules file.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    /// Where it was read from.
    pub path: PathBuf,
    /// The rules in file order: absolute, relative, isolation, plan.
    pub rules: Vec<Rule>,
}

struct Checker<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Checker<'_> {
    fn err(&self, span: Range<usize>, message: impl Into<String>) -> RulesError {
        Invalid::at(self.path, self.text, span, message).into()
    }

    fn line(&self, span: Range<usize>) -> usize {
        locate(self.text, span).0
    }

    fn metric(&self, m: &Spanned<String>) -> Result<Metric, RulesError> {
        Metric::ALL
            .into_iter()
            .find(|x| x.name() == m.get_ref())
            .ok_or_else(|| {
                self.err(
                    m.span(),
                    format!(
                        "unknown metric {:?}; expected one of {}",
                        m.get_ref(),
                        Metric::ALL.map(Metric::name).join(", ")
                    ),
                )
            })
    }

    fn positive(&self, v: &Spanned<f64>, what: &str) -> Result<f64, RulesError> {
        let x = *v.get_ref();
        if !(x.is_finite() && x >= 0.0) {
            return Err(self.err(v.span(), format!("expected {what} as a number >= 0")));
        }
        Ok(x)
    }

    /// Exactly one of `max` and `min`, at the rule's span when neither is there.
    fn bound(
        &self,
        rule: Range<usize>,
        max: &Option<Spanned<f64>>,
        min: &Option<Spanned<f64>>,
        names: (&str, &str),
    ) -> Result<Bound, RulesError> {
        match (max, min) {
            (Some(a), None) => Ok(Bound::Max(self.positive(a, names.0)?)),
            (None, Some(b)) => Ok(Bound::Min(self.positive(b, names.1)?)),
            (Some(_), Some(b)) => Err(self.err(
                b.span(),
                format!("expected either {} or {}, not both", names.0, names.1),
            )),
            (None, None) => Err(self.err(
                rule,
                format!("expected {} or {} in this rule", names.0, names.1),
            )),
        }
    }

    /// A `[[plan]]` rule: forbidden stages, examined per returned, empty queries.
    fn plan(&self, r: &Spanned<PlanModel>) -> Result<Rule, RulesError> {
        let (span, r) = (r.span(), r.get_ref());
        let max = r
            .max_examined_per_returned
            .as_ref()
            .map(|v| self.positive(v, "max_examined_per_returned"))
            .transpose()?;
        if r.forbid_stages.is_empty() && max.is_none() && !r.forbid_empty {
            return Err(self.err(
                span,
                "expected forbid_stages, max_examined_per_returned or forbid_empty = true in this rule",
            ));
        }
        let stages: Vec<String> = r
            .forbid_stages
            .iter()
            .map(|s| s.get_ref().clone())
            .collect();
        let name = r.name.clone().unwrap_or_else(|| {
            let mut parts = Vec::new();
            if !stages.is_empty() {
                parts.push(format!("no {}", stages.join(" / ")));
            }
            if let Some(m) = max {
                parts.push(format!("examined per returned <= {m}"));
            }
            if r.forbid_empty {
                parts.push("queries find records".into());
            }
            parts.join(", ")
        });
        Ok(Rule {
            name,
            select: self.select(&r.select)?,
            check: Check::Plan {
                forbid_stages: stages,
                max_examined_per_returned: max,
                forbid_empty: r.forbid_empty,
            },
            line: self.line(span),
        })
    }

    fn select(&self, m: &SelectModel) -> Result<Select, RulesError> {
        let field = |f: &Option<Spanned<String>>| -> Result<Option<String>, RulesError> {
            match f {
                Some(v) if v.get_ref().trim().is_empty() => {
                    Err(self.err(v.span(), "expected a glob such as \"*\" or \"basic|free\""))
                }
                Some(v) => Ok(Some(v.get_ref().trim().to_string())),
                None => Ok(None),
            }
        };
        Ok(Select {
            variant: field(&m.variant)?,
            backend: field(&m.backend)?,
            layout: field(&m.layout)?,
            indexes: field(&m.indexes)?,
            phase: field(&m.phase)?,
            op: field(&m.op)?,
            class: field(&m.class)?,
        })
    }
}

impl Rules {
    /// Reads and checks a rules file.
    ///
    /// # Errors
    /// [`RulesError::Io`] when it cannot be read, [`RulesError::Invalid`] at the first bad value.
    pub fn load(path: &Path) -> Result<Rules, RulesError> {
        let text = std::fs::read_to_string(path).map_err(|source| RulesError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Rules::parse(path, &text)
    }

    /// Checks rules text; `path` is only used in messages.
    ///
    /// # Errors
    /// [`RulesError::Invalid`] at the first bad value.
    pub fn parse(path: &Path, text: &str) -> Result<Rules, RulesError> {
        let c = Checker { path, text };
        let m: FileModel = toml::from_str(text)
            .map_err(|e| c.err(e.span().unwrap_or(0..0), e.message().trim_end().to_string()))?;
        let mut rules = Vec::new();
        for r in &m.absolute {
            let (span, r) = (r.span(), r.get_ref());
            let metric = c.metric(&r.metric)?;
            let bound = c.bound(span.clone(), &r.max, &r.min, ("max", "min"))?;
            rules.push(Rule {
                name: r.name.clone().unwrap_or_else(|| {
                    format!("{} {} {}", metric.name(), bound.op(), bound.value())
                }),
                select: c.select(&r.select)?,
                check: Check::Absolute { metric, bound },
                line: c.line(span),
            });
        }
        for r in &m.relative {
            let (span, r) = (r.span(), r.get_ref());
            let metric = c.metric(&r.metric)?;
            let ratio = c.bound(
                span.clone(),
                &r.max_ratio,
                &r.min_ratio,
                ("max_ratio", "min_ratio"),
            )?;
            rules.push(Rule {
                name: r.name.clone().unwrap_or_else(|| {
                    format!(
                        "{} {} {} × baseline",
                        metric.name(),
                        ratio.op(),
                        ratio.value()
                    )
                }),
                select: c.select(&r.select)?,
                check: Check::Relative { metric, ratio },
                line: c.line(span),
            });
        }
        for r in &m.isolation {
            let (span, r) = (r.span(), r.get_ref());
            let max = c.positive(&r.max_relative_latency, "max_relative_latency")?;
            rules.push(Rule {
                name: r
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("relative latency <= {max}")),
                select: c.select(&r.select)?,
                check: Check::Isolation { max },
                line: c.line(span),
            });
        }
        for r in &m.plan {
            rules.push(c.plan(r)?);
        }
        if rules.is_empty() {
            return Err(c.err(
                0..0,
                "expected at least one [[absolute]], [[relative]], [[isolation]] or [[plan]] rule",
            ));
        }
        Ok(Rules {
            path: path.to_path_buf(),
            rules,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Rules, RulesError> {
        Rules::parse(Path::new("g.toml"), text)
    }

    #[test]
    fn globs_match_alternatives_and_wildcards() {
        assert!(matches(None, "anything"));
        assert!(matches(Some("basic|free"), "free"));
        assert!(!matches(Some("basic|free"), "premium"));
        assert!(matches(Some("list_*"), "list_recent"));
        assert!(matches(Some("*-tenant-*"), "shared-tenant-p100-single-c8"));
        assert!(!matches(Some("*-tenant-*"), "shared-none-p100-single-c8"));
        assert!(matches(Some("t0000?"), "t00001"));
    }

    #[test]
    fn rules_parse_with_names_derived_from_what_they_check() {
        let r = parse(
            "[[absolute]]\nmetric = \"p99_ms\"\nmax = 25\nselect = { class = \"basic|free\" }\n\n[[relative]]\nmetric = \"throughput\"\nmin_ratio = 0.9\n\n[[plan]]\nforbid_stages = [\"COLLSCAN\"]\n",
        )
        .expect("parses");
        assert_eq!(r.rules.len(), 3);
        assert_eq!(r.rules[0].name, "p99_ms <= 25");
        assert_eq!(r.rules[0].select.describe(), "class=basic|free");
        assert_eq!(r.rules[1].name, "throughput >= 0.9 × baseline");
        assert_eq!(r.rules[2].name, "no COLLSCAN");
        assert_eq!(r.rules[2].line, 10);
    }

    #[test]
    fn bad_rules_name_the_line_column_and_what_was_expected() {
        let e = parse("[[absolute]]\nmetric = \"p98_ms\"\nmax = 1\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("g.toml:2:10: unknown metric \"p98_ms\"; expected one of p50_ms"),
            "{e}"
        );
        let e = parse("[[relative]]\nmetric = \"p99_ms\"\nmax_ratio = 1.1\nmin_ratio = 0.9\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("g.toml:4:13: expected either max_ratio or min_ratio, not both"),
            "{e}"
        );
        let e = parse("[[absolute]]\nmetric = \"p99_ms\"\nmaximum = 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("g.toml:3:1: unknown field `maximum`"), "{e}");
        let e = parse("[[plan]]\nselect = { op = \"\" }\nforbid_stages = [\"COLLSCAN\"]\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("g.toml:2:17: expected a glob"), "{e}");
        let e = parse("").unwrap_err().to_string();
        assert!(e.contains("expected at least one"), "{e}");
    }
}
