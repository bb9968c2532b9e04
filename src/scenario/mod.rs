//! Scenario files: the TOML model, its validation with `file:line:column` errors, and the
//! resolved, immutable [`Scenario`] that every command works from.
//!
//! Parsing is strict: unknown keys are rejected (`deny_unknown_fields`, no `flatten`, no untagged
//! enums), and the values that need checks after parsing keep their spans (`toml::Spanned`) so a
//! bad value is reported at the line and column where it was written.
//!
//! This module holds the validated settings and [`Scenario::parse`], which runs the checks in
//! order; `model` is what serde reads, `check` the checks per area of the file, `matrix` and
//! `phases` the variants and phase windows of a run, `profiles` the index profiles and `scale`
//! the derived (scaled, rule-set) copies of a scenario.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::datagen::Collection;
use crate::layout::{Layout, Matcher, Placement, PlacementKind, Rule};
use crate::op::{BackendKind, Op};
use crate::pacing::{Pacer, StopCondition};
use crate::population::{Population, PopulationSpec};

mod check;
pub mod faults;
pub mod http;
mod matrix;
pub mod migration;
mod model;
pub mod operation;
mod phases;
mod profiles;
mod scale;
pub mod target;

use check::Checker;

pub use matrix::{
    ConnectionsSpec, MAX_POOL, MatrixSpec, Share, ShareError, Strategy, Variant, part,
};
pub use phases::{PhasePlan, PhaseSpec};
pub use profiles::{BUILTIN_PROFILES, profile_on};
pub use scale::{ScaleError, generator_prefix, is_derived_prefix_of, scaled_prefix};

/// A scenario file could not be read or is not valid.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read scenario {path}")]
    Io {
        /// The scenario path as given.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file was read but a value in it is wrong (at its line and column).
    #[error(transparent)]
    Invalid(#[from] crate::spans::Invalid),
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
    /// `load`: a goose user keeps its tenant for this many operations (`session_ops`), as a
    /// session would, then draws another; `None`: every operation draws its tenant.
    pub session_ops: Option<u64>,
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
        session_ops: None,
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
    /// `[http]`: a team's own API, which `load` attacks instead of `serve`.
    pub http: Option<http::HttpSpec>,
    /// The scenario's own operations (`[[operation]]`), in file order.
    pub operations: Vec<operation::OperationSpec>,
    /// `[target] existing = true`: the team's own database, read instead of generated data.
    pub target: Option<target::TargetSpec>,
    /// The matrix of variants and the number of trials.
    pub matrix: MatrixSpec,
    /// `[[fault]]`s every trial of a variant they apply to goes through, in time order.
    pub faults: Vec<faults::FaultSpec>,
    /// 1 as written; a copy made by [`Scenario::scaled`] with durations scaled records its
    /// factor (`--scale`).
    pub scale: f64,
}

/// Default share of each collection in a tenant's documents: orders dominate, then users,
/// tickets, leads and subscriptions, as in the seed documents' SaaS apps.
pub const DEFAULT_MIX: [f64; Collection::COUNT] = [15.0, 45.0, 20.0, 12.0, 8.0];

/// Default tier cut-offs in percent of tenants: enterprise, premium, basic.
pub const DEFAULT_TIERS: [f64; 3] = [1.0, 9.0, 30.0];

/// Largest batch size accepted (scenario and command line).
pub const MAX_BATCH: i64 = 100_000;
/// Largest seeding worker count accepted (scenario and command line).
pub const MAX_WORKERS: i64 = 512;

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

impl Scenario {
    /// Whether operation `op` writes: the built-in writes, and the scenario's own that are
    /// not `read_only`.
    pub fn writes(&self, op: Op) -> bool {
        match op {
            Op::InsertOne | Op::UpdateStatus => true,
            op => self.operations.iter().any(|o| o.op == op && !o.read_only),
        }
    }

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
        let c = Checker::new(path, text);
        let model: model::FileModel = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            c.err(span, e.message().trim_end().to_string())
        })?;

        let name = check_name(&c, &model)?;
        let prefix = check_prefix(&c, &model, &name)?;
        let target = check::check_target(&c, &model)?;
        let population = population_of(&c, &model, target.as_ref())?;
        let no_data = model::DataModel::default();
        let data = model.data.as_ref().map_or(&no_data, |d| d.get_ref());
        let mix = check::check_mix(&c, data)?;
        let (hybrid_rules, hybrid_sets) = check::check_hybrid(&c, &model.layout, &population)?;
        let index_profiles = check::check_profiles(&c, &model.index_profile)?;
        let load = check::check_load(&c, &model.load, &index_profiles)?;
        let operations = check::check_operations(&c, &model.operation, target.is_some())?;
        let own_ops = check::own_ops(&c, &model, &operations)?;
        let workload = match &model.workload {
            Some(w) => check::check_workload(&c, w, &population, &own_ops)?,
            None => default_workload(),
        };
        let phases = check::check_phases(&c, &model.phase, &population, &workload, &own_ops)?;
        let mut faults = check::check_faults(&c, &model.fault, &workload, population.tenants)?;
        let connections = check::check_connections(&c, &model.connections)?;
        let http = model
            .http
            .as_ref()
            .map(|h| check::check_http(&c, h, &own_ops))
            .transpose()?;
        let default_layout = model.layout.default.unwrap_or(Layout::Shared);
        let profile_names = profile_names(&index_profiles);
        let hybrid_set_names: Vec<String> = hybrid_sets.keys().cloned().collect();
        let migration = migration_of(&model, &phases);
        check_migration_target(&c, migration.as_ref(), target.as_ref())?;
        let matrix = check::check_matrix(
            &c,
            model.matrix.as_ref(),
            check::MatrixInputs {
                default_layout,
                load: &load,
                profiles: &profile_names,
                conn: &connections,
                workload: &workload,
                hybrid_sets: &hybrid_set_names,
                migration,
                tenants: population.tenants,
            },
        )?;

        check::check_fault_variants(&c, &model.fault, &faults, &matrix.variants)?;
        check_faults_alone(&c, &model, &phases, target.as_ref())?;
        faults.sort_by_key(|f| f.at);
        let used = used_ops(&workload, &phases);
        check_operation_forms(&c, &model, &operations, &used, &matrix.variants)?;

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
            http,
            operations,
            target,
            faults,
            scale: 1.0,
        })
    }

    /// Places a population of this scenario in a layout: its prefix and hybrid rules, or, for
    /// an existing target, its one database.
    pub fn placement(&self, population: &Population, layout: Layout) -> Placement {
        match &self.target {
            Some(t) => Placement::existing(&t.database, population.tenants.len()),
            None => Placement::with_prefix(&self.prefix, &self.hybrid_rules, population, layout),
        }
    }

    /// The first operation the workload can draw that no database runs: one only an
    /// `[[http.endpoint]]` names (a team's API call, which `load` sends to its API).
    pub fn api_only_op(&self) -> Option<Op> {
        self.mix_ops()
            .into_iter()
            .find(|op| !op.is_builtin() && !self.operations.iter().any(|o| o.op == *op))
    }

    /// The first operation the workload can draw that writes, if any.
    pub fn mix_writes(&self) -> Option<Op> {
        self.mix_ops().into_iter().find(|op| self.writes(*op))
    }

    /// The operations the workload can draw: its mix's and every phase's, in first-seen order.
    pub fn mix_ops(&self) -> Vec<Op> {
        let mut ops: Vec<Op> = Vec::new();
        let phases = self
            .phases
            .iter()
            .flat_map(|p| &p.mixes)
            .flat_map(|(_, m)| m);
        for (o, _) in self.workload.mix.iter().chain(phases) {
            if !ops.contains(o) {
                ops.push(*o);
            }
        }
        ops
    }

    /// Builds the population (tenant sizes, tiers, roles, per-collection counts). A tenant a
    /// variant migrates is measured in a class of its own (`moving-<id>`, even when it has a
    /// role such as `noisy`), so its latency and errors are kept apart from the others'.
    pub fn build_population(&self) -> Population {
        let mut pop = Population::build(&self.population, &self.mix);
        for v in &self.matrix.variants {
            if let Some(t) = v.migration.as_ref().and_then(|m| m.tenant.index(&pop))
                && !pop.moving.iter().any(|(x, _)| *x == t)
            {
                let class = migration::MigrationSpec::class_of(&pop.tenants[t].id);
                pop.moving.push((t, class));
            }
        }
        pop
    }

    /// The `[[phase]]` that migrates, if one does: its name and start.
    pub fn migration_phase(&self) -> Option<(&str, std::time::Duration)> {
        self.phases
            .iter()
            .find(|p| p.migration.is_some())
            .map(|p| (p.name.as_str(), p.start))
    }
}

/// The scenario's `name`, trimmed: letters, digits, `-` and `_` only.
fn check_name(c: &Checker, model: &model::FileModel) -> Result<String, ScenarioError> {
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
    Ok(name)
}

/// The database name prefix: the file's `prefix` if valid, else the default for `name`.
fn check_prefix(
    c: &Checker,
    model: &model::FileModel,
    name: &str,
) -> Result<String, ScenarioError> {
    match &model.prefix {
        Some(p) => {
            let v = p.get_ref();
            if !valid_prefix(v) {
                return Err(c.err(
                    p.span(),
                    "expected a prefix of 1 to 24 lowercase letters, digits and '_', starting with a letter",
                ));
            }
            Ok(v.clone())
        }
        None => Ok(default_prefix(name)),
    }
}

/// The population parameters: `[population]`, or an existing target's; one of them is required.
fn population_of(
    c: &Checker,
    model: &model::FileModel,
    target: Option<&target::TargetSpec>,
) -> Result<PopulationSpec, ScenarioError> {
    match (&model.population, target) {
        (Some(p), _) => check::check_population(c, p.get_ref()),
        (None, Some(_)) => Ok(existing_population()),
        (None, None) => Err(c.err(
            0..0,
            "missing table [population]: the tenants, documents and distribution of the generated data (or a [target] with existing = true, to read a database of your own)",
        )),
    }
}

/// Every index profile name: the built-in ones, then the scenario's own.
fn profile_names(
    index_profiles: &BTreeMap<String, BTreeMap<Collection, Vec<IndexKeys>>>,
) -> Vec<String> {
    BUILTIN_PROFILES
        .iter()
        .map(|s| s.to_string())
        .chain(index_profiles.keys().cloned())
        .collect()
}

/// The migration a `[[phase]]` runs, with the span of the first `migrate` in the file.
fn migration_of<'a>(
    model: &model::FileModel,
    phases: &'a [PhaseSpec],
) -> Option<(&'a migration::MigrationSpec, Range<usize>)> {
    let migrate_span = model
        .phase
        .iter()
        .find_map(|p| p.get_ref().migrate.as_ref().map(toml::Spanned::span));
    phases
        .iter()
        .find_map(|p| p.migration.as_ref())
        .zip(migrate_span)
}

/// A migration moves generated data, so a scenario reading an existing database has none.
fn check_migration_target(
    c: &Checker,
    migration: Option<&(&migration::MigrationSpec, Range<usize>)>,
    target: Option<&target::TargetSpec>,
) -> Result<(), ScenarioError> {
    if let (Some((_, span)), Some(t)) = (migration, target) {
        return Err(c.err(
            span.clone(),
            format!(
                "a migration moves generated data; this scenario reads the existing database {} as it is",
                t.database
            ),
        ));
    }
    Ok(())
}

/// Faults are only for the harness's own data and never share a scenario with a migration.
fn check_faults_alone(
    c: &Checker,
    model: &model::FileModel,
    phases: &[PhaseSpec],
    target: Option<&target::TargetSpec>,
) -> Result<(), ScenarioError> {
    if let (Some(f), Some(t)) = (model.fault.first(), target) {
        return Err(c.err(
            f.span(),
            format!(
                "faults are for the harness's own servers and data; this scenario reads the existing database {} as it is",
                t.database
            ),
        ));
    }
    if let (Some(f), true) = (
        model.fault.first(),
        phases.iter().any(|p| p.migration.is_some()),
    ) {
        return Err(c.err(
            f.span(),
            "a scenario either migrates a tenant or injects faults: each is timed against an undisturbed run",
        ));
    }
    Ok(())
}

/// The operations a mix uses: the workload's and every phase's, with repeats.
fn used_ops(workload: &WorkloadSpec, phases: &[PhaseSpec]) -> Vec<Op> {
    workload
        .mix
        .iter()
        .chain(
            phases
                .iter()
                .flat_map(|p| p.mixes.iter().flat_map(|(_, m)| m)),
        )
        .map(|(op, _)| *op)
        .collect()
}

/// Every operation of the scenario's own a mix uses has a form for each backend the matrix
/// runs it on.
fn check_operation_forms(
    c: &Checker,
    model: &model::FileModel,
    operations: &[operation::OperationSpec],
    used: &[Op],
    variants: &[Variant],
) -> Result<(), ScenarioError> {
    for (o, m) in operations.iter().zip(&model.operation) {
        if !used.contains(&o.op) {
            continue;
        }
        for v in variants {
            let missing = match v.backend {
                BackendKind::Mongodb => o
                    .mongodb
                    .is_none()
                    .then_some("MongoDB form (filter, pipeline, update or insert)"),
                BackendKind::Postgres => o.sql.is_none().then_some("`sql`"),
            };
            if let Some(what) = missing {
                return Err(c.err(
                    m.span(),
                    format!(
                        "operation `{}` is in the mix of {} variants but has no {what}",
                        o.op,
                        v.backend.name()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The population parameters of an existing target without `[population]`: its tenants come
/// from the database or a file when a run starts; only the default tiers apply to them.
fn existing_population() -> PopulationSpec {
    PopulationSpec {
        tenants: 1,
        documents: 1,
        distribution: crate::population::Distribution::Uniform,
        min_per_tenant: 0,
        tier_percent: DEFAULT_TIERS,
        roles: BTreeMap::new(),
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A scenario text as read from `t.toml` (the fixture of the scenario module's tests).
    pub(crate) fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse(Path::new("t.toml"), text)
    }

    /// The smallest valid scenario.
    pub(crate) const OK: &str = r#"
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
}
