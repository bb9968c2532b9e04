//! Scenario files: the TOML model, its validation with `file:line:column` errors, and the
//! resolved, immutable [`Scenario`] that every command works from.
//!
//! Parsing is strict: unknown keys are rejected (`deny_unknown_fields`, no `flatten`, no untagged
//! enums), and the values that need checks after parsing keep their spans (`toml::Spanned`) so a
//! bad value is reported at the line and column where it was written.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use std::time::Duration;

use crate::datagen::Collection;
use crate::layout::{Layout, Matcher, Placement, PlacementKind, Rule};
use crate::op::{BackendKind, Op};
use crate::pacing::{Arrivals, Pacer, StopCondition};
use crate::population::{Distribution, Population, PopulationSpec, Tier};

mod matrix;
mod phases;
mod scale;

pub use matrix::{ConnectionsSpec, MAX_POOL, MatrixSpec, Strategy, Variant};
pub use phases::{PhasePlan, PhaseSpec};
pub use scale::{is_derived_prefix_of, scaled_prefix};

/// A scenario file could not be read or is not valid.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read scenario {path}: {source}")]
    Io {
        /// The scenario path as given.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file was read but a value in it is wrong.
    #[error("{path}:{line}:{column}: {message}\n{snippet}")]
    Invalid {
        /// The scenario path as given.
        path: PathBuf,
        /// 1-based line of the offending value.
        line: usize,
        /// 1-based column of the offending value.
        column: usize,
        /// What was wrong and what was expected.
        message: String,
        /// The offending line with a caret under the value.
        snippet: String,
    },
}

/// When secondary indexes are built relative to the bulk load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum IndexBuild {
    /// Create indexes on empty collections, then load (every insert maintains them).
    Before,
    /// Load first, then build each index once over the data.
    #[default]
    After,
}

// ---------------------------------------------------------------------------------------------
// The file model (what serde reads).
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileModel {
    name: Spanned<String>,
    #[serde(default)]
    question: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    prefix: Option<Spanned<String>>,
    #[serde(default = "default_seed")]
    seed: u64,
    population: PopulationModel,
    #[serde(default)]
    data: DataModel,
    #[serde(default)]
    layout: LayoutModel,
    #[serde(default)]
    load: LoadModel,
    #[serde(default)]
    index_profile: BTreeMap<String, Spanned<IndexProfileModel>>,
    #[serde(default)]
    workload: Option<Spanned<WorkloadModel>>,
    #[serde(default)]
    phase: Vec<Spanned<phases::PhaseModel>>,
    #[serde(default)]
    connections: matrix::ConnectionsModel,
    #[serde(default)]
    matrix: Option<Spanned<matrix::MatrixModel>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkloadModel {
    #[serde(default)]
    mix: Option<Spanned<OpMixModel>>,
    #[serde(default)]
    tenants: Option<Spanned<TenantChoiceModel>>,
    #[serde(default)]
    concurrency: Option<Spanned<i64>>,
    #[serde(default)]
    rate: Option<Spanned<f64>>,
    #[serde(default)]
    arrivals: Option<ArrivalsModel>,
    #[serde(default)]
    workers: Option<Spanned<i64>>,
    #[serde(default)]
    think_ms: Option<Spanned<f64>>,
    #[serde(default)]
    duration_s: Option<Spanned<f64>>,
    #[serde(default)]
    count: Option<Spanned<i64>>,
    #[serde(default)]
    warmup_s: Option<Spanned<f64>>,
    #[serde(default)]
    overrun_s: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OpMixModel {
    #[serde(default)]
    list_recent: Option<Spanned<f64>>,
    #[serde(default)]
    get_by_id: Option<Spanned<f64>>,
    #[serde(default)]
    count_by_status: Option<Spanned<f64>>,
    #[serde(default)]
    insert_one: Option<Spanned<f64>>,
    #[serde(default)]
    update_status: Option<Spanned<f64>>,
    #[serde(default)]
    find_user_by_email: Option<Spanned<f64>>,
    #[serde(default)]
    revenue_by_day: Option<Spanned<f64>>,
    #[serde(default)]
    admin_cross_tenant: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
enum TenantChoiceModel {
    Proportional,
    Uniform,
    Hot {
        tenants: Vec<Spanned<String>>,
        share: Spanned<f64>,
    },
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum ArrivalsModel {
    Constant,
    Poisson,
}

fn default_seed() -> u64 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PopulationModel {
    tenants: Spanned<i64>,
    documents: Spanned<i64>,
    distribution: Spanned<DistributionModel>,
    #[serde(default)]
    min_per_tenant: Option<Spanned<i64>>,
    #[serde(default)]
    tiers: Option<Spanned<TiersModel>>,
    #[serde(default)]
    roles: BTreeMap<String, Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
enum DistributionModel {
    Zipf {
        s: Spanned<f64>,
    },
    Pareto {
        alpha: Spanned<f64>,
    },
    Uniform,
    Explicit {
        shares: Spanned<Vec<Spanned<f64>>>,
        #[serde(default)]
        rest: Option<Box<Spanned<DistributionModel>>>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TiersModel {
    #[serde(default)]
    enterprise: Option<Spanned<f64>>,
    #[serde(default)]
    premium: Option<Spanned<f64>>,
    #[serde(default)]
    basic: Option<Spanned<f64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DataModel {
    #[serde(default)]
    mix: Option<Spanned<MixModel>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MixModel {
    #[serde(default)]
    users: Option<Spanned<f64>>,
    #[serde(default)]
    orders: Option<Spanned<f64>>,
    #[serde(default)]
    tickets: Option<Spanned<f64>>,
    #[serde(default)]
    leads: Option<Spanned<f64>>,
    #[serde(default)]
    subscriptions: Option<Spanned<f64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LayoutModel {
    #[serde(default)]
    default: Option<Layout>,
    #[serde(default)]
    hybrid: Option<HybridModel>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HybridModel {
    #[serde(default)]
    rule: Vec<Spanned<RuleModel>>,
    /// Named rule sets a matrix variant may pick with `hybrid = "NAME"`.
    #[serde(default)]
    sets: BTreeMap<Spanned<String>, Vec<Spanned<RuleModel>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleModel {
    #[serde(default)]
    class: Option<Spanned<String>>,
    #[serde(default)]
    top: Option<Spanned<i64>>,
    placement: PlacementKind,
    #[serde(default)]
    tenants_per_db: Option<Spanned<i64>>,
    #[serde(default)]
    uri_env: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoadModel {
    #[serde(default)]
    batch_size: Option<Spanned<i64>>,
    #[serde(default)]
    workers: Option<Spanned<i64>>,
    #[serde(default)]
    indexes: Option<Spanned<String>>,
    #[serde(default)]
    index_build: Option<IndexBuild>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IndexProfileModel {
    #[serde(default)]
    users: Option<Vec<Spanned<Vec<Spanned<String>>>>>,
    #[serde(default)]
    orders: Option<Vec<Spanned<Vec<Spanned<String>>>>>,
    #[serde(default)]
    tickets: Option<Vec<Spanned<Vec<Spanned<String>>>>>,
    #[serde(default)]
    leads: Option<Vec<Spanned<Vec<Spanned<String>>>>>,
    #[serde(default)]
    subscriptions: Option<Vec<Spanned<Vec<Spanned<String>>>>>,
}

// ---------------------------------------------------------------------------------------------
// The resolved scenario.
// ---------------------------------------------------------------------------------------------

/// Seeding options.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// Documents per `insert_many`.
    pub batch_size: usize,
    /// Concurrent insert workers.
    pub workers: usize,
    /// Index profile name (built-in or defined in `[index_profile.*]`).
    pub indexes: String,
    /// Indexes before or after the bulk load.
    pub index_build: IndexBuild,
}

/// How the workload chooses tenants.
#[derive(Debug, Clone, PartialEq)]
pub enum TenantChoiceSpec {
    /// In proportion to tenant size.
    Proportional,
    /// Every tenant equally.
    Uniform,
    /// The listed tenants (indices) get `share` of the operations; the rest go proportionally.
    Hot {
        /// Tenant indices (rank − 1).
        tenants: Vec<usize>,
        /// Fraction of all operations, in (0, 1].
        share: f64,
    },
}

/// The workload of a run: what to do, how fast, for how long.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadSpec {
    /// Operations and their weights (only those with weight > 0).
    pub mix: Vec<(Op, f64)>,
    /// Tenant choice.
    pub tenants: TenantChoiceSpec,
    /// Pacing (closed loop by concurrency, or open loop by rate).
    pub pacer: Pacer,
    /// When the run stops.
    pub stop: StopCondition,
    /// The leading `warmup` phase, excluded from summaries.
    pub warmup: Duration,
    /// Open loop: how long past its duration a trial may work off a backlog before the
    /// operations still owed are counted as unissued (`overrun_s`); `None`: as long as the
    /// duration, so an overloaded trial takes at most twice its length.
    pub overrun: Option<Duration>,
}

impl WorkloadSpec {
    /// The overrun limit the runner applies: open loop with a duration only.
    pub fn overrun_for(&self, pacer: Pacer) -> Option<Duration> {
        match (pacer, self.stop) {
            (Pacer::Open { .. }, StopCondition::Duration(d)) => Some(self.overrun.unwrap_or(d)),
            _ => None,
        }
    }
}

/// The workload when a scenario states none: a read-mostly tenant-app mix, proportional tenant
/// choice, 8 concurrent workers for 10 s after a 2 s warm-up.
pub fn default_workload() -> WorkloadSpec {
    WorkloadSpec {
        mix: vec![
            (Op::ListRecent, 40.0),
            (Op::GetById, 30.0),
            (Op::CountByStatus, 10.0),
            (Op::FindUserByEmail, 10.0),
            (Op::InsertOne, 5.0),
            (Op::UpdateStatus, 5.0),
        ],
        tenants: TenantChoiceSpec::Proportional,
        pacer: Pacer::Closed {
            concurrency: 8,
            think: Duration::ZERO,
        },
        stop: StopCondition::Duration(Duration::from_secs(10)),
        warmup: Duration::from_secs(2),
        overrun: None,
    }
}

/// One index: fields in order, `true` for descending.
pub type IndexKeys = Vec<(String, bool)>;

/// A validated scenario, immutable once loaded.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Where it was read from.
    pub path: PathBuf,
    /// The file's text (reports show it; the definition hash does not depend on it).
    pub source: String,
    /// Scenario name.
    pub name: String,
    /// The question the scenario answers, if stated.
    pub question: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Database name prefix; the harness only touches databases that carry it and a marker.
    pub prefix: String,
    /// Seed of all generated data.
    pub seed: u64,
    /// Population parameters.
    pub population: PopulationSpec,
    /// Share of each tenant's documents per collection, in [`Collection::ALL`] order.
    pub mix: [f64; Collection::COUNT],
    /// The layout used when the command line names none.
    pub default_layout: Layout,
    /// Hybrid placement rules, in order.
    pub hybrid_rules: Vec<Rule>,
    /// Named hybrid rule sets (`[[layout.hybrid.sets.NAME]]`), for variants with `hybrid = NAME`.
    pub hybrid_sets: BTreeMap<String, Vec<Rule>>,
    /// Seeding options.
    pub load: LoadSpec,
    /// Explicit index profiles: name → collection → indexes.
    pub index_profiles: BTreeMap<String, BTreeMap<Collection, Vec<IndexKeys>>>,
    /// The workload runs execute.
    pub workload: WorkloadSpec,
    /// `[[phase]]` windows of every run.
    pub phases: Vec<PhaseSpec>,
    /// `[connections]`: pool and strategy defaults.
    pub connections: ConnectionsSpec,
    /// The matrix of variants and the number of trials.
    pub matrix: MatrixSpec,
    /// 1 as written; a copy made by [`Scenario::scaled`] with durations scaled records its
    /// factor (`--scale`).
    pub scale: f64,
}

/// Default share of each collection in a tenant's documents: orders dominate, then users,
/// tickets, leads and subscriptions, as in the seed documents' SaaS apps.
pub const DEFAULT_MIX: [f64; Collection::COUNT] = [15.0, 45.0, 20.0, 12.0, 8.0];

/// Default tier cut-offs in percent of tenants: enterprise, premium, basic.
pub const DEFAULT_TIERS: [f64; 3] = [1.0, 9.0, 30.0];

/// Built-in index profile names.
pub const BUILTIN_PROFILES: [&str; 4] = ["none", "tenant", "compound", "partial"];

/// Whether an index profile exists on a backend: `partial` (a hot-status partial index next to
/// `tenant_id`) is PostgreSQL's.
pub fn profile_on(name: &str, backend: BackendKind) -> bool {
    name != "partial" || backend == BackendKind::Postgres
}

/// Largest batch size accepted (scenario and command line).
pub const MAX_BATCH: i64 = 100_000;
/// Largest seeding worker count accepted (scenario and command line).
pub const MAX_WORKERS: i64 = 512;

/// Collects the first error with its span.
struct Checker<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Checker<'_> {
    /// A non-negative, finite number of seconds (below 10^7) as a duration.
    fn seconds(&self, v: &Spanned<f64>, what: &str) -> Result<Duration, ScenarioError> {
        let x = *v.get_ref();
        if !(x >= 0.0 && x.is_finite() && x < 1e7) {
            return Err(self.err(v.span(), format!("expected {what} as seconds >= 0")));
        }
        Ok(Duration::from_secs_f64(x))
    }

    fn err(&self, span: Range<usize>, message: impl Into<String>) -> ScenarioError {
        let (line, column, snippet) = locate(self.text, span);
        ScenarioError::Invalid {
            path: self.path.to_path_buf(),
            line,
            column,
            message: message.into(),
            snippet,
        }
    }
}

/// 1-based line and column of a byte offset, and the line with a caret under the span.
fn locate(text: &str, span: Range<usize>) -> (usize, usize, String) {
    let start = span.start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let line = text[..start].matches('\n').count() + 1;
    let column = text[line_start..start].chars().count() + 1;
    let source_line = &text[line_start..line_end];
    let width = text[start..span.end.clamp(start, line_end)]
        .chars()
        .count()
        .max(1);
    let gutter = line.to_string();
    let snippet = format!(
        "{pad} |\n{gutter} | {source_line}\n{pad} | {spaces}{carets}",
        pad = " ".repeat(gutter.len()),
        spaces = " ".repeat(column - 1),
        carets = "^".repeat(width),
    );
    (line, column, snippet)
}

impl Scenario {
    /// Reads and validates a scenario file.
    ///
    /// # Errors
    /// [`ScenarioError::Io`] when the file cannot be read, [`ScenarioError::Invalid`] naming the
    /// line and column of the first bad value otherwise.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Scenario::parse(path, &text)
    }

    /// Validates scenario text; `path` is only used in messages.
    ///
    /// # Errors
    /// [`ScenarioError::Invalid`] naming the line and column of the first bad value.
    pub fn parse(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
        let c = Checker { path, text };
        let model: FileModel = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            c.err(span, e.message().trim_end().to_string())
        })?;

        let name = model.name.get_ref().trim().to_string();
        if name.is_empty()
            || !name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        {
            return Err(c.err(
                model.name.span(),
                "expected a scenario name of letters, digits, '-' and '_'",
            ));
        }
        let prefix = match &model.prefix {
            Some(p) => {
                let v = p.get_ref();
                if !valid_prefix(v) {
                    return Err(c.err(
                        p.span(),
                        "expected a prefix of 1 to 24 lowercase letters, digits and '_', starting with a letter",
                    ));
                }
                v.clone()
            }
            None => default_prefix(&name),
        };

        let population = check_population(&c, &model.population)?;
        let mix = check_mix(&c, &model.data)?;
        let (hybrid_rules, hybrid_sets) = check_hybrid(&c, &model.layout, &population)?;
        let index_profiles = check_profiles(&c, &model.index_profile)?;
        let load = check_load(&c, &model.load, &index_profiles)?;
        let workload = match &model.workload {
            Some(w) => check_workload(&c, w, &population)?,
            None => default_workload(),
        };
        let phases = phases::check_phases(&c, &model.phase, &population, &workload)?;
        let connections = matrix::check_connections(&c, &model.connections)?;
        let default_layout = model.layout.default.unwrap_or(Layout::Shared);
        let profile_names: Vec<String> = BUILTIN_PROFILES
            .iter()
            .map(|s| s.to_string())
            .chain(index_profiles.keys().cloned())
            .collect();
        let hybrid_set_names: Vec<String> = hybrid_sets.keys().cloned().collect();
        let matrix = matrix::check_matrix(
            &c,
            model.matrix.as_ref(),
            matrix::MatrixInputs {
                default_layout,
                load: &load,
                profiles: &profile_names,
                conn: &connections,
                workload: &workload,
                hybrid_sets: &hybrid_set_names,
            },
        )?;

        Ok(Scenario {
            path: path.to_path_buf(),
            source: text.to_string(),
            name,
            question: model.question,
            description: model.description,
            prefix,
            seed: model.seed,
            population,
            mix,
            default_layout,
            hybrid_rules,
            hybrid_sets,
            load,
            index_profiles,
            workload,
            phases,
            connections,
            matrix,
            scale: 1.0,
        })
    }

    /// Places a population of this scenario in a layout: its prefix and hybrid rules.
    pub fn placement(&self, population: &Population, layout: Layout) -> Placement {
        Placement::with_prefix(&self.prefix, &self.hybrid_rules, population, layout)
    }

    /// Builds the population (tenant sizes, tiers, roles, per-collection counts).
    pub fn build_population(&self) -> Population {
        Population::build(&self.population, &self.mix)
    }

    /// Resolves an index profile name to per-collection index keys.
    ///
    /// Built-in profiles: `none` (only `_id`), `tenant` (`{tenant: 1}` everywhere), `compound`
    /// (`{tenant: 1, status: 1, createdAt: -1}` where a collection has those fields, else
    /// `{tenant: 1}`).
    pub fn index_profile(&self, name: &str) -> Option<BTreeMap<Collection, Vec<IndexKeys>>> {
        let tenant: IndexKeys = vec![("tenant".into(), false)];
        match name {
            "none" => Some(Collection::ALL.iter().map(|&c| (c, Vec::new())).collect()),
            "tenant" => Some(
                Collection::ALL
                    .iter()
                    .map(|&c| (c, vec![tenant.clone()]))
                    .collect(),
            ),
            // On PostgreSQL `partial` adds partial indexes on top (backend::postgres::schema).
            "partial" => Some(
                Collection::ALL
                    .iter()
                    .map(|&c| (c, vec![tenant.clone()]))
                    .collect(),
            ),
            "compound" => Some(
                Collection::ALL
                    .iter()
                    .map(|&c| {
                        let keys = if c.has_field("status") && c.has_field("createdAt") {
                            vec![
                                ("tenant".into(), false),
                                ("status".into(), false),
                                ("createdAt".into(), true),
                            ]
                        } else {
                            tenant.clone()
                        };
                        (c, vec![keys])
                    })
                    .collect(),
            ),
            other => self.index_profiles.get(other).map(|p| {
                Collection::ALL
                    .iter()
                    .map(|&c| (c, p.get(&c).cloned().unwrap_or_default()))
                    .collect()
            }),
        }
    }

    /// Every index profile name this scenario accepts.
    pub fn profile_names(&self) -> Vec<String> {
        BUILTIN_PROFILES
            .iter()
            .map(|s| s.to_string())
            .chain(self.index_profiles.keys().cloned())
            .collect()
    }
}

/// The default prefix for a scenario name: `tb_` and the name, lowercased, `-` as `_`.
pub fn default_prefix(name: &str) -> String {
    let mut p: String = format!("tb_{}", name.to_ascii_lowercase().replace('-', "_"));
    p.truncate(24);
    p
}

/// Whether a string is an acceptable database name prefix.
pub fn valid_prefix(p: &str) -> bool {
    (1..=24).contains(&p.len())
        && p.starts_with(|c: char| c.is_ascii_lowercase())
        && p.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn check_population(c: &Checker, m: &PopulationModel) -> Result<PopulationSpec, ScenarioError> {
    let tenants = *m.tenants.get_ref();
    if !(1..=1_000_000).contains(&tenants) {
        return Err(c.err(m.tenants.span(), "expected between 1 and 1,000,000 tenants"));
    }
    let documents = *m.documents.get_ref();
    if documents < 1 {
        return Err(c.err(m.documents.span(), "expected at least 1 document"));
    }
    let min = match &m.min_per_tenant {
        Some(v) if *v.get_ref() < 0 => {
            return Err(c.err(
                v.span(),
                "expected a minimum of 0 or more documents per tenant",
            ));
        }
        Some(v) => *v.get_ref() as u64,
        None => 1.min(documents as u64 / tenants as u64),
    };
    if min.saturating_mul(tenants as u64) > documents as u64 {
        let span = m
            .min_per_tenant
            .as_ref()
            .map_or(m.documents.span(), |v| v.span());
        return Err(c.err(
            span,
            format!(
                "{tenants} tenants with at least {min} documents each need {} documents, but the scenario has {documents}",
                min * tenants as u64
            ),
        ));
    }
    let distribution = check_distribution(c, &m.distribution, tenants as u32)?;

    let mut tier_percent = DEFAULT_TIERS;
    if let Some(t) = &m.tiers {
        let t = t.get_ref();
        for (i, v) in [&t.enterprise, &t.premium, &t.basic]
            .into_iter()
            .enumerate()
        {
            if let Some(v) = v {
                let x = *v.get_ref();
                if !(0.0..=100.0).contains(&x) {
                    return Err(c.err(
                        v.span(),
                        "expected a percentage of tenants between 0 and 100",
                    ));
                }
                tier_percent[i] = x;
            }
        }
        let sum: f64 = tier_percent.iter().sum();
        if sum > 100.0 + 1e-9 {
            return Err(c.err(
                m.tiers.as_ref().map_or(0..0, |t| t.span()),
                format!(
                    "tier shares add up to {sum}% of tenants; expected at most 100% (free tenants get the rest)"
                ),
            ));
        }
    }

    let mut roles = BTreeMap::new();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (role, ids) in &m.roles {
        let role_span = ids.span();
        if Tier::parse(role).is_some() {
            return Err(c.err(
                role_span,
                format!("role `{role}` is a tier name; expected another name"),
            ));
        }
        if role.is_empty()
            || !role
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch == '_' || ch.is_ascii_digit())
        {
            return Err(c.err(
                role_span,
                format!("role `{role}`: expected a lowercase name"),
            ));
        }
        let mut list = Vec::new();
        for id in ids.get_ref() {
            let rank =
                crate::population::rank_of(id.get_ref(), tenants as u32).ok_or_else(|| {
                    c.err(
                        id.span(),
                        format!(
                            "unknown tenant `{}`; expected an id from {} to {}",
                            id.get_ref(),
                            crate::population::tenant_id(1, tenants as u32),
                            crate::population::tenant_id(tenants as u32, tenants as u32)
                        ),
                    )
                })?;
            let canonical = crate::population::tenant_id(rank, tenants as u32);
            if let Some(prev) = seen.insert(canonical.clone(), role.clone()) {
                return Err(c.err(
                    id.span(),
                    format!("tenant `{canonical}` already has role `{prev}`; a tenant has at most one role"),
                ));
            }
            list.push(canonical);
        }
        if list.is_empty() {
            return Err(c.err(role_span, format!("role `{role}` names no tenant")));
        }
        roles.insert(role.clone(), list);
    }

    Ok(PopulationSpec {
        tenants: tenants as u32,
        documents: documents as u64,
        distribution,
        min_per_tenant: min,
        tier_percent,
        roles,
    })
}

fn check_distribution(
    c: &Checker,
    d: &Spanned<DistributionModel>,
    tenants: u32,
) -> Result<Distribution, ScenarioError> {
    Ok(match d.get_ref() {
        DistributionModel::Zipf { s } => {
            let v = *s.get_ref();
            if !(v > 0.0 && v.is_finite()) {
                return Err(c.err(s.span(), "expected a Zipf exponent s > 0"));
            }
            Distribution::Zipf { s: v }
        }
        DistributionModel::Pareto { alpha } => {
            let v = *alpha.get_ref();
            if !(v > 0.0 && v.is_finite()) {
                return Err(c.err(alpha.span(), "expected a Pareto alpha > 0"));
            }
            Distribution::Pareto { alpha: v }
        }
        DistributionModel::Uniform => Distribution::Uniform,
        DistributionModel::Explicit { shares, rest } => {
            let list = shares.get_ref();
            if list.is_empty() {
                return Err(c.err(shares.span(), "expected at least one share"));
            }
            if list.len() > tenants as usize {
                return Err(c.err(
                    shares.span(),
                    format!(
                        "{} shares for {tenants} tenants; expected at most one share per tenant",
                        list.len()
                    ),
                ));
            }
            let mut sum = 0.0;
            for s in list {
                let v = *s.get_ref();
                if !(v > 0.0 && v <= 1.0) {
                    return Err(c.err(
                        s.span(),
                        "expected a share of the total between 0 and 1 (0.3 = 30%)",
                    ));
                }
                sum += v;
            }
            if sum > 1.0 + 1e-9 {
                return Err(c.err(
                    shares.span(),
                    format!("shares add up to {sum}; expected at most 1 (100%)"),
                ));
            }
            if list.len() == tenants as usize && (sum - 1.0).abs() > 1e-9 {
                return Err(c.err(
                    shares.span(),
                    format!(
                        "every tenant has a share but they add up to {sum}; expected exactly 1"
                    ),
                ));
            }
            let rest = match rest {
                Some(r) => {
                    if matches!(r.get_ref(), DistributionModel::Explicit { .. }) {
                        return Err(c.err(
                            r.span(),
                            "expected `zipf`, `pareto` or `uniform` for the rest",
                        ));
                    }
                    check_distribution(c, r, tenants)?
                }
                None => Distribution::Uniform,
            };
            Distribution::Explicit {
                shares: list.iter().map(|s| *s.get_ref()).collect(),
                rest: Box::new(rest),
            }
        }
    })
}

fn check_mix(c: &Checker, d: &DataModel) -> Result<[f64; Collection::COUNT], ScenarioError> {
    let Some(mix) = &d.mix else {
        return Ok(DEFAULT_MIX);
    };
    let m = mix.get_ref();
    let mut out = [0.0; Collection::COUNT];
    let fields = [&m.users, &m.orders, &m.tickets, &m.leads, &m.subscriptions];
    for (coll, field) in Collection::ALL.iter().zip(fields) {
        if let Some(v) = field {
            let x = *v.get_ref();
            if !(x >= 0.0 && x.is_finite()) {
                return Err(c.err(
                    v.span(),
                    format!("expected a weight >= 0 for `{}`", coll.name()),
                ));
            }
            out[*coll as usize] = x;
        }
    }
    if out.iter().sum::<f64>() <= 0.0 {
        return Err(c.err(
            mix.span(),
            "expected at least one collection with a weight > 0",
        ));
    }
    Ok(out)
}

fn check_hybrid(
    c: &Checker,
    l: &LayoutModel,
    p: &PopulationSpec,
) -> Result<(Vec<Rule>, RuleSets), ScenarioError> {
    let Some(h) = &l.hybrid else {
        return Ok((default_hybrid_rules(), BTreeMap::new()));
    };
    let default = if h.rule.is_empty() && !h.sets.is_empty() {
        default_hybrid_rules()
    } else {
        check_rules(c, &h.rule, p)?
    };
    let mut sets = BTreeMap::new();
    for (name, rules) in &h.sets {
        let n = name.get_ref();
        if n.is_empty()
            || n == "default"
            || !n
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return Err(c.err(
                name.span(),
                format!("hybrid rule set `{n}`: expected a name of lowercase letters and digits, not `default`"),
            ));
        }
        if rules.is_empty() {
            return Err(c.err(name.span(), format!("hybrid rule set `{n}` has no rule")));
        }
        sets.insert(n.clone(), check_rules(c, rules, p)?);
    }
    Ok((default, sets))
}

fn check_rules(
    c: &Checker,
    list: &[Spanned<RuleModel>],
    p: &PopulationSpec,
) -> Result<Vec<Rule>, ScenarioError> {
    let mut rules = Vec::new();
    for r in list {
        let span = r.span();
        let r = r.get_ref();
        let matcher = match (&r.class, &r.top) {
            (Some(class), None) => {
                let name = class.get_ref();
                if Tier::parse(name).is_none() && !p.roles.contains_key(name) {
                    let roles: Vec<&str> = p.roles.keys().map(String::as_str).collect();
                    return Err(c.err(
                        class.span(),
                        format!(
                            "unknown class `{name}`; expected a tier (enterprise, premium, basic, free){}",
                            if roles.is_empty() { String::new() } else { format!(" or a role ({})", roles.join(", ")) }
                        ),
                    ));
                }
                Matcher::Class(name.clone())
            }
            (None, Some(top)) => {
                let n = *top.get_ref();
                if n < 1 || n > p.tenants as i64 {
                    return Err(c.err(
                        top.span(),
                        format!(
                            "`top = {n}` dedicates more tenants than there are; expected 1 to {}",
                            p.tenants
                        ),
                    ));
                }
                Matcher::Top(n as u32)
            }
            _ => {
                return Err(c.err(
                    span,
                    "expected exactly one of `class` or `top` in a hybrid rule",
                ));
            }
        };
        let tenants_per_db = match (r.placement, &r.tenants_per_db) {
            (PlacementKind::Pooled, Some(k)) => {
                let v = *k.get_ref();
                if !(1..=100_000).contains(&v) {
                    return Err(c.err(k.span(), "expected tenants_per_db between 1 and 100,000"));
                }
                v as u32
            }
            (PlacementKind::Pooled, None) => {
                return Err(c.err(span, "a `pooled` rule needs `tenants_per_db`"));
            }
            (_, Some(k)) => {
                return Err(c.err(
                    k.span(),
                    "`tenants_per_db` only applies to `placement = \"pooled\"`",
                ));
            }
            (_, None) => 1,
        };
        let uri_env = match &r.uri_env {
            Some(v) => {
                let name = v.get_ref();
                if name.is_empty()
                    || !name
                        .chars()
                        .all(|ch| ch.is_ascii_uppercase() || ch.is_ascii_digit() || ch == '_')
                {
                    return Err(c.err(
                        v.span(),
                        "expected the name of an environment variable (A-Z, 0-9, _) that holds the URI; never the URI itself",
                    ));
                }
                Some(name.clone())
            }
            None => None,
        };
        rules.push(Rule {
            matcher,
            placement: r.placement,
            tenants_per_db,
            uri_env,
        });
    }
    Ok(rules)
}

/// Named hybrid rule sets.
type RuleSets = BTreeMap<String, Vec<Rule>>;

/// The hybrid rules used when a scenario states none: enterprise tenants dedicated, premium
/// tenants pooled four to a database, everyone else shared.
pub fn default_hybrid_rules() -> Vec<Rule> {
    vec![
        Rule {
            matcher: Matcher::Class("enterprise".into()),
            placement: PlacementKind::Dedicated,
            tenants_per_db: 1,
            uri_env: None,
        },
        Rule {
            matcher: Matcher::Class("premium".into()),
            placement: PlacementKind::Pooled,
            tenants_per_db: 4,
            uri_env: None,
        },
    ]
}

fn check_profiles(
    c: &Checker,
    profiles: &BTreeMap<String, Spanned<IndexProfileModel>>,
) -> Result<BTreeMap<String, BTreeMap<Collection, Vec<IndexKeys>>>, ScenarioError> {
    let mut out = BTreeMap::new();
    for (name, p) in profiles {
        if BUILTIN_PROFILES.contains(&name.as_str()) {
            return Err(c.err(
                p.span(),
                format!("index profile `{name}` is built in; choose another name"),
            ));
        }
        let m = p.get_ref();
        let lists = [&m.users, &m.orders, &m.tickets, &m.leads, &m.subscriptions];
        let mut per = BTreeMap::new();
        for (coll, list) in Collection::ALL.iter().zip(lists) {
            let Some(list) = list else { continue };
            let mut indexes = Vec::new();
            for idx in list {
                if idx.get_ref().is_empty() {
                    return Err(c.err(idx.span(), "expected at least one field in an index"));
                }
                let mut keys: IndexKeys = Vec::new();
                let mut names = BTreeSet::new();
                for f in idx.get_ref() {
                    let raw = f.get_ref();
                    let (field, desc) = match raw.strip_prefix('-') {
                        Some(rest) => (rest, true),
                        None => (raw.as_str(), false),
                    };
                    if !coll.has_field(field) {
                        return Err(c.err(
                            f.span(),
                            format!(
                                "`{}` has no field `{field}`; expected one of {} (prefix `-` for descending)",
                                coll.name(),
                                coll.fields().join(", ")
                            ),
                        ));
                    }
                    if !names.insert(field.to_string()) {
                        return Err(c.err(
                            f.span(),
                            format!("field `{field}` appears twice in one index"),
                        ));
                    }
                    keys.push((field.to_string(), desc));
                }
                indexes.push(keys);
            }
            per.insert(*coll, indexes);
        }
        out.insert(name.clone(), per);
    }
    Ok(out)
}

fn check_load(
    c: &Checker,
    l: &LoadModel,
    profiles: &BTreeMap<String, BTreeMap<Collection, Vec<IndexKeys>>>,
) -> Result<LoadSpec, ScenarioError> {
    let batch_size = match &l.batch_size {
        Some(v) if !(1..=MAX_BATCH).contains(v.get_ref()) => {
            return Err(c.err(
                v.span(),
                format!("expected a batch size between 1 and {MAX_BATCH}"),
            ));
        }
        Some(v) => *v.get_ref() as usize,
        None => 1000,
    };
    let workers = match &l.workers {
        Some(v) if !(1..=MAX_WORKERS).contains(v.get_ref()) => {
            return Err(c.err(
                v.span(),
                format!("expected between 1 and {MAX_WORKERS} workers"),
            ));
        }
        Some(v) => *v.get_ref() as usize,
        None => 4,
    };
    let indexes = match &l.indexes {
        Some(v) => {
            let name = v.get_ref();
            if !BUILTIN_PROFILES.contains(&name.as_str()) && !profiles.contains_key(name) {
                return Err(c.err(
                    v.span(),
                    format!(
                        "unknown index profile `{name}`; expected one of {}",
                        BUILTIN_PROFILES
                            .iter()
                            .map(|s| s.to_string())
                            .chain(profiles.keys().cloned())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            name.clone()
        }
        None => "tenant".into(),
    };
    Ok(LoadSpec {
        batch_size,
        workers,
        indexes,
        index_build: l.index_build.unwrap_or_default(),
    })
}

/// An operation mix: weights >= 0, at least one > 0; only positive weights are kept.
fn check_op_mix(c: &Checker, mix: &Spanned<OpMixModel>) -> Result<Vec<(Op, f64)>, ScenarioError> {
    let x = mix.get_ref();
    let fields = [
        &x.list_recent,
        &x.get_by_id,
        &x.count_by_status,
        &x.insert_one,
        &x.update_status,
        &x.find_user_by_email,
        &x.revenue_by_day,
        &x.admin_cross_tenant,
    ];
    let mut out = Vec::new();
    for (op, f) in Op::ALL.iter().zip(fields) {
        if let Some(v) = f {
            let w = *v.get_ref();
            if !(w >= 0.0 && w.is_finite()) {
                return Err(c.err(
                    v.span(),
                    format!("expected a weight >= 0 for `{}`", op.name()),
                ));
            }
            if w > 0.0 {
                out.push((*op, w));
            }
        }
    }
    if out.is_empty() {
        return Err(c.err(
            mix.span(),
            "expected at least one operation with a weight > 0",
        ));
    }
    Ok(out)
}

fn check_workload(
    c: &Checker,
    w: &Spanned<WorkloadModel>,
    p: &PopulationSpec,
) -> Result<WorkloadSpec, ScenarioError> {
    let m = w.get_ref();
    let d = default_workload();
    let mix = match &m.mix {
        None => d.mix,
        Some(mix) => check_op_mix(c, mix)?,
    };
    let tenants = match &m.tenants {
        None => d.tenants,
        Some(t) => match t.get_ref() {
            TenantChoiceModel::Proportional => TenantChoiceSpec::Proportional,
            TenantChoiceModel::Uniform => TenantChoiceSpec::Uniform,
            TenantChoiceModel::Hot { tenants, share } => {
                let sh = *share.get_ref();
                if !(sh > 0.0 && sh <= 1.0) {
                    return Err(c.err(share.span(), "expected a share of operations in (0, 1]"));
                }
                let mut ix = Vec::new();
                for id in tenants {
                    let rank =
                        crate::population::rank_of(id.get_ref(), p.tenants).ok_or_else(|| {
                            c.err(id.span(), format!("unknown tenant `{}`", id.get_ref()))
                        })?;
                    ix.push(rank as usize - 1);
                }
                if ix.is_empty() {
                    return Err(c.err(t.span(), "expected at least one hot tenant"));
                }
                TenantChoiceSpec::Hot {
                    tenants: ix,
                    share: sh,
                }
            }
        },
    };
    let secs = |v: &Spanned<f64>, what: &str| c.seconds(v, what);
    let think = match &m.think_ms {
        Some(v) => secs(v, "think_ms")? / 1000,
        None => Duration::ZERO,
    };
    let pacer = match (&m.concurrency, &m.rate) {
        (Some(_), Some(r)) => {
            return Err(c.err(
                r.span(),
                "expected either `concurrency` (closed loop) or `rate` (open loop), not both",
            ));
        }
        (Some(n), None) => {
            let v = *n.get_ref();
            if !(1..=10_000).contains(&v) {
                return Err(c.err(n.span(), "expected a concurrency between 1 and 10,000"));
            }
            Pacer::Closed {
                concurrency: v as usize,
                think,
            }
        }
        (None, Some(r)) => {
            let rate = *r.get_ref();
            if !(rate > 0.0 && rate <= 10_000_000.0) {
                return Err(c.err(r.span(), "expected a rate in operations per second, > 0"));
            }
            let workers = match &m.workers {
                Some(w) if !(1..=10_000).contains(w.get_ref()) => {
                    return Err(c.err(
                        w.span(),
                        "expected between 1 and 10,000 workers (the in-flight cap)",
                    ));
                }
                Some(w) => *w.get_ref() as usize,
                None => 64,
            };
            let arrivals = match m.arrivals {
                Some(ArrivalsModel::Poisson) => Arrivals::Poisson,
                _ => Arrivals::Constant,
            };
            Pacer::Open {
                rate,
                arrivals,
                workers,
            }
        }
        (None, None) => match d.pacer {
            Pacer::Closed { concurrency, .. } => Pacer::Closed { concurrency, think },
            other => other,
        },
    };
    if let (Pacer::Closed { .. }, Some(w)) = (pacer, &m.workers) {
        return Err(c.err(
            w.span(),
            "`workers` applies to an open loop (`rate`); a closed loop has `concurrency`",
        ));
    }
    let stop = match (&m.duration_s, &m.count) {
        (Some(_), Some(n)) => {
            return Err(c.err(
                n.span(),
                "expected either `duration_s` or `count`, not both",
            ));
        }
        (Some(v), None) => {
            let dur = secs(v, "duration_s")?;
            if dur.is_zero() {
                return Err(c.err(v.span(), "expected a duration > 0 seconds"));
            }
            StopCondition::Duration(dur)
        }
        (None, Some(n)) => {
            if *n.get_ref() < 1 {
                return Err(c.err(n.span(), "expected a count of at least 1 operation"));
            }
            StopCondition::Count(*n.get_ref() as u64)
        }
        (None, None) => d.stop,
    };
    let warmup = match &m.warmup_s {
        Some(v) => {
            let w = secs(v, "warmup_s")?;
            if let StopCondition::Duration(dur) = stop
                && w >= dur
            {
                return Err(c.err(
                    v.span(),
                    "expected a warm-up shorter than the run's duration",
                ));
            }
            w
        }
        None => match stop {
            StopCondition::Duration(dur) => d.warmup.min(dur / 5),
            StopCondition::Count(_) => Duration::ZERO,
        },
    };
    let overrun = match &m.overrun_s {
        Some(v) => {
            if let StopCondition::Count(_) = stop {
                return Err(c.err(
                    v.span(),
                    "`overrun_s` limits a run by duration; this workload stops by `count`",
                ));
            }
            Some(secs(v, "overrun_s")?)
        }
        None => None,
    };
    Ok(WorkloadSpec {
        mix,
        tenants,
        pacer,
        stop,
        warmup,
        overrun,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse(Path::new("t.toml"), text)
    }

    const OK: &str = r#"
name = "t"
[population]
tenants = 10
documents = 1000
distribution = { zipf = { s = 1.0 } }
"#;

    #[test]
    fn minimal_scenario_parses_with_defaults() {
        let s = parse(OK).unwrap();
        assert_eq!(s.prefix, "tb_t");
        assert_eq!(s.population.tenants, 10);
        assert_eq!(s.load.indexes, "tenant");
        assert_eq!(s.mix, DEFAULT_MIX);
        assert_eq!(s.default_layout, Layout::Shared);
    }

    #[test]
    fn workload_parses_closed_and_open_loops() {
        let s = parse(OK).unwrap();
        assert_eq!(s.workload, default_workload());
        let open = format!(
            "{OK}[workload]\nmix = {{ get_by_id = 3, revenue_by_day = 1, insert_one = 0 }}\nrate = 500\narrivals = \"poisson\"\nworkers = 16\nduration_s = 30\nwarmup_s = 5\ntenants = {{ hot = {{ tenants = [\"t00001\"], share = 0.5 }} }}\n"
        );
        let w = parse(&open).unwrap().workload;
        assert_eq!(w.mix, vec![(Op::GetById, 3.0), (Op::RevenueByDay, 1.0)]);
        assert_eq!(
            w.pacer,
            Pacer::Open {
                rate: 500.0,
                arrivals: Arrivals::Poisson,
                workers: 16
            }
        );
        assert_eq!(w.stop, StopCondition::Duration(Duration::from_secs(30)));
        assert_eq!(w.warmup, Duration::from_secs(5));
        assert_eq!(
            w.tenants,
            TenantChoiceSpec::Hot {
                tenants: vec![0],
                share: 0.5
            }
        );
        let closed = format!("{OK}[workload]\nconcurrency = 3\nthink_ms = 2\ncount = 1000\n");
        let w = parse(&closed).unwrap().workload;
        assert_eq!(
            w.pacer,
            Pacer::Closed {
                concurrency: 3,
                think: Duration::from_millis(2)
            }
        );
        assert_eq!(
            (w.stop, w.warmup),
            (StopCondition::Count(1000), Duration::ZERO)
        );
    }

    #[test]
    fn locate_points_at_the_value() {
        let (line, col, snip) = locate("a = 1\nbb = 22\n", 11..13);
        assert_eq!((line, col), (2, 6));
        assert!(snip.contains("bb = 22"), "{snip}");
        assert!(snip.ends_with("     ^^"), "{snip}");
    }

    #[test]
    fn the_matrix_expands_to_the_cartesian_product_or_the_explicit_list() {
        let base = "name = \"m\"\n[population]\ntenants = 10\ndocuments = 1000\ndistribution = \"uniform\"\n";
        let s = parse(&format!(
            "{base}[connections]\nmax_pool_size = 50\n[matrix]\nlayout = [\"shared\", \"per-tenant\"]\nindexes = [\"none\", \"tenant\"]\nconcurrency = [1, 8, 32]\nrepeat = 3\n"
        ))
        .expect("parses");
        assert_eq!(s.matrix.variants.len(), 12);
        assert_eq!(s.matrix.repeat, 3);
        assert_eq!(s.matrix.variants[0].id(), "shared-none-p50-single-c1");
        assert_eq!(
            s.matrix.variants[11].id(),
            "per-tenant-tenant-p50-single-c32"
        );
        let s = parse(&format!(
            "{base}[[matrix.variant]]\nindexes = \"none\"\n[[matrix.variant]]\nindexes = \"tenant\"\nstrategy = \"client-per-tenant\"\nrate = 200.0\n"
        ))
        .expect("parses");
        let ids: Vec<String> = s.matrix.variants.iter().map(Variant::id).collect();
        assert_eq!(
            ids,
            ["shared-none-p100-single-c8", "shared-tenant-p100-cpt-r200"]
        );
        // No [matrix]: one variant from the scenario's defaults.
        let s = parse(base).expect("parses");
        assert_eq!(s.matrix.variants.len(), 1);
        assert_eq!(s.matrix.variants[0].indexes, "tenant");
        // A backend axis: combinations a backend lacks are skipped, and said so.
        let s = parse(&format!(
            "{base}[matrix]\nbackend = [\"mongodb\", \"postgres\"]\nlayout = [\"shared\", \"schema-per-tenant\"]\n"
        ))
        .expect("parses");
        let ids: Vec<String> = s.matrix.variants.iter().map(Variant::id).collect();
        assert_eq!(
            ids,
            [
                "shared-tenant-p100-single-c8",
                "postgres-shared-tenant-p100-single-c8",
                "postgres-schema-per-tenant-tenant-p100-single-c8"
            ]
        );
        assert_eq!(
            s.matrix.skipped,
            ["mongodb × schema-per-tenant: the layout does not exist on mongodb"]
        );
        let s = parse(&format!(
            "{base}[matrix]\nbackend = [\"mongodb\", \"postgres\"]\nindexes = [\"tenant\", \"partial\"]\n"
        ))
        .expect("parses");
        assert_eq!(s.matrix.variants.len(), 3);
        assert_eq!(
            s.matrix.skipped,
            ["mongodb × indexes partial: the profile does not exist on mongodb"]
        );
        let err = parse(&format!("{base}[[matrix.variant]]\nlayout = \"rls\"\n"))
            .expect_err("rls on mongodb");
        assert!(
            err.to_string()
                .contains("layout `rls` does not exist on mongodb"),
            "{err}"
        );
    }

    #[test]
    fn phases_become_windows_and_steady_resumes_after_them() {
        let s = parse(
            "name = \"p\"\n[population]\ntenants = 10\ndocuments = 1000\ndistribution = \"uniform\"\n[population.roles]\nnoisy = [\"t00001\"]\n[workload]\nrate = 100.0\nduration_s = 60\nwarmup_s = 5\n[[phase]]\nname = \"burst\"\nstart_s = 20\nduration_s = 10\nrate = 500\n[phase.share]\nnoisy = 0.5\n[phase.mix.noisy]\nrevenue_by_day = 1\n",
        )
        .expect("parses");
        let plan = PhasePlan::new(&s.workload, &s.phases);
        assert_eq!(plan.names, ["warmup", "steady", "burst"]);
        assert_eq!(plan.measured, [false, true, true]);
        let spans = plan.spans(Duration::from_secs(60));
        assert_eq!(spans[0], [[0.0, 5.0]]);
        assert_eq!(spans[1], [[5.0, 20.0], [30.0, 60.0]]);
        assert_eq!(spans[2], [[20.0, 30.0]]);
        assert_eq!(plan.windows[2].rate, Some(500.0));
        assert_eq!(s.phases[0].shares, [("noisy".to_string(), 0.5)]);
        assert_eq!(s.phases[0].mixes[0].1, [(Op::RevenueByDay, 1.0)]);
    }

    #[test]
    fn the_overrun_limit_defaults_to_the_duration_and_needs_one() {
        let base = "name = \"o\"\n[population]\ntenants = 10\ndocuments = 1000\ndistribution = \"uniform\"\n[workload]\n";
        let s = parse(&format!("{base}rate = 100.0\nduration_s = 30\n")).expect("parses");
        assert_eq!(
            s.workload.overrun_for(s.workload.pacer),
            Some(Duration::from_secs(30))
        );
        let s = parse(&format!(
            "{base}rate = 100.0\nduration_s = 30\noverrun_s = 5\n"
        ))
        .expect("parses");
        assert_eq!(
            s.workload.overrun_for(s.workload.pacer),
            Some(Duration::from_secs(5))
        );
        let closed = Pacer::Closed {
            concurrency: 4,
            think: Duration::ZERO,
        };
        assert_eq!(
            s.workload.overrun_for(closed),
            None,
            "a closed loop has no backlog"
        );
        let err = parse(&format!("{base}rate = 100.0\ncount = 500\noverrun_s = 5\n"))
            .expect_err("overrun with a count");
        let msg = err.to_string();
        assert!(msg.starts_with("t.toml:9:"), "{msg}");
        assert!(msg.contains("stops by `count`"), "{msg}");
    }
}
