//! The file model: what serde reads from a scenario file, before any check. Every table
//! rejects unknown keys (`deny_unknown_fields`), and the values checked afterwards keep their
//! spans (`toml::Spanned`) so an error points at the line and column where they were written.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::IndexBuild;
use super::matrix::Strategy;
use crate::layout::{Layout, PlacementKind};
use crate::op::BackendKind;

/// A whole scenario file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileModel {
    pub(super) name: Spanned<String>,
    #[serde(default)]
    pub(super) question: Option<String>,
    #[serde(default)]
    pub(super) description: Option<String>,
    #[serde(default)]
    pub(super) prefix: Option<Spanned<String>>,
    #[serde(default = "default_seed")]
    pub(super) seed: u64,
    #[serde(default)]
    pub(super) population: Option<Spanned<PopulationModel>>,
    #[serde(default)]
    pub(super) target: Option<Spanned<TargetModel>>,
    #[serde(default)]
    pub(super) data: Option<Spanned<DataModel>>,
    #[serde(default)]
    pub(super) layout: LayoutModel,
    #[serde(default)]
    pub(super) load: LoadModel,
    #[serde(default)]
    pub(super) index_profile: BTreeMap<String, Spanned<IndexProfileModel>>,
    #[serde(default)]
    pub(super) workload: Option<Spanned<WorkloadModel>>,
    #[serde(default)]
    pub(super) phase: Vec<Spanned<PhaseModel>>,
    #[serde(default)]
    pub(super) connections: ConnectionsModel,
    #[serde(default)]
    pub(super) matrix: Option<Spanned<MatrixModel>>,
    #[serde(default)]
    pub(super) http: Option<Spanned<HttpModel>>,
    #[serde(default)]
    pub(super) operation: Vec<Spanned<OperationModel>>,
    #[serde(default)]
    pub(super) fault: Vec<Spanned<FaultModel>>,
}

/// A `[[fault]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FaultModel {
    pub(super) kind: Spanned<String>,
    pub(super) at_s: Spanned<f64>,
    pub(super) duration_s: Spanned<f64>,
    #[serde(default)]
    pub(super) tenant: Option<Spanned<String>>,
}

/// `[target]`: a team's own database, read as it is.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TargetModel {
    pub(super) existing: Spanned<bool>,
    pub(super) database: Spanned<String>,
    #[serde(default)]
    pub(super) schema: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) tenant_field: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) tenants: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) collections: Option<Spanned<Vec<Spanned<String>>>>,
}

/// `[http]`: a team's own API for `load`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HttpModel {
    pub(super) base_url_env: Spanned<String>,
    pub(super) tenants: Spanned<String>,
    #[serde(default)]
    pub(super) headers: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub(super) max_record: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) endpoint: Vec<Spanned<EndpointModel>>,
}

/// One `[[http.endpoint]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EndpointModel {
    pub(super) op: Spanned<String>,
    pub(super) request: Spanned<String>,
    #[serde(default)]
    pub(super) body: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) expect: Option<Spanned<ExpectModel>>,
}

/// An endpoint's expected status: one, or a list.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum ExpectModel {
    One(i64),
    Many(Vec<i64>),
}

/// `[workload]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WorkloadModel {
    #[serde(default)]
    pub(super) mix: Option<Spanned<OpMixModel>>,
    #[serde(default)]
    pub(super) tenants: Option<Spanned<TenantChoiceModel>>,
    #[serde(default)]
    pub(super) concurrency: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) rate: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) arrivals: Option<ArrivalsModel>,
    #[serde(default)]
    pub(super) workers: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) think_ms: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) duration_s: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) count: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) warmup_s: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) overrun_s: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) session_ops: Option<Spanned<i64>>,
}

/// An operation mix: a weight per operation, built-in or a scenario's own (`[workload] mix`,
/// `[phase.mix.CLASS]`).
pub(super) type OpMixModel = BTreeMap<Spanned<String>, Spanned<f64>>;

/// One `[[operation]]`: a scenario's own query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OperationModel {
    pub(super) name: Spanned<String>,
    pub(super) collection: Spanned<String>,
    #[serde(default)]
    pub(super) read_only: Option<Spanned<bool>>,
    #[serde(default)]
    pub(super) filter: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) sort: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) projection: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) limit: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) count: Option<Spanned<bool>>,
    #[serde(default)]
    pub(super) pipeline: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) update: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) insert: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) sql: Option<Spanned<String>>,
}

/// `[workload] tenants`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) enum TenantChoiceModel {
    Proportional,
    Uniform,
    Hot {
        tenants: Vec<Spanned<String>>,
        share: Spanned<f64>,
    },
}

/// `[workload] arrivals`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) enum ArrivalsModel {
    Constant,
    Poisson,
}

/// `seed` when the file states none.
fn default_seed() -> u64 {
    1
}

/// `[population]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PopulationModel {
    pub(super) tenants: Spanned<i64>,
    pub(super) documents: Spanned<i64>,
    pub(super) distribution: Spanned<DistributionModel>,
    #[serde(default)]
    pub(super) min_per_tenant: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) tiers: Option<Spanned<TiersModel>>,
    #[serde(default)]
    pub(super) roles: BTreeMap<String, Spanned<Vec<Spanned<String>>>>,
}

/// `[population] distribution` (and an explicit distribution's `rest`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) enum DistributionModel {
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

/// `[population.tiers]`: percent of tenants per tier.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TiersModel {
    #[serde(default)]
    pub(super) enterprise: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) premium: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) basic: Option<Spanned<f64>>,
}

/// `[data]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DataModel {
    #[serde(default)]
    pub(super) mix: Option<Spanned<MixModel>>,
}

/// `[data.mix]`: a weight per collection.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MixModel {
    #[serde(default)]
    pub(super) users: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) orders: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) tickets: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) leads: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) subscriptions: Option<Spanned<f64>>,
}

/// `[layout]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LayoutModel {
    #[serde(default)]
    pub(super) default: Option<Layout>,
    #[serde(default)]
    pub(super) hybrid: Option<HybridModel>,
}

/// `[layout.hybrid]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HybridModel {
    #[serde(default)]
    pub(super) rule: Vec<Spanned<RuleModel>>,
    /// Named rule sets a matrix variant may pick with `hybrid = "NAME"`.
    #[serde(default)]
    pub(super) sets: BTreeMap<Spanned<String>, Vec<Spanned<RuleModel>>>,
}

/// One hybrid rule (`[[layout.hybrid.rule]]`, `[[layout.hybrid.sets.NAME]]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RuleModel {
    #[serde(default)]
    pub(super) class: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) top: Option<Spanned<i64>>,
    pub(super) placement: PlacementKind,
    #[serde(default)]
    pub(super) tenants_per_db: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) uri_env: Option<Spanned<String>>,
}

/// `[load]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LoadModel {
    #[serde(default)]
    pub(super) batch_size: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) workers: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) indexes: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) index_build: Option<IndexBuild>,
}

/// `[index_profile.NAME]`: indexes per collection, fields in order (`-` for descending).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct IndexProfileModel {
    #[serde(default)]
    pub(super) users: Option<Vec<Spanned<Vec<Spanned<String>>>>>,
    #[serde(default)]
    pub(super) orders: Option<Vec<Spanned<Vec<Spanned<String>>>>>,
    #[serde(default)]
    pub(super) tickets: Option<Vec<Spanned<Vec<Spanned<String>>>>>,
    #[serde(default)]
    pub(super) leads: Option<Vec<Spanned<Vec<Spanned<String>>>>>,
    #[serde(default)]
    pub(super) subscriptions: Option<Vec<Spanned<Vec<Spanned<String>>>>>,
}

/// `[connections]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConnectionsModel {
    #[serde(default)]
    pub(super) max_pool_size: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) min_pool_size: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) strategy: Option<Strategy>,
    #[serde(default)]
    pub(super) max_clients: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) idle_ttl_s: Option<Spanned<f64>>,
}

/// `[matrix]`: axis lists, or `[[matrix.variant]]` entries, and `repeat`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MatrixModel {
    #[serde(default)]
    pub(super) backend: Option<Vec<Spanned<BackendKind>>>,
    #[serde(default)]
    pub(super) layout: Option<Vec<Spanned<Layout>>>,
    #[serde(default)]
    pub(super) indexes: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub(super) max_pool_size: Option<Vec<Spanned<i64>>>,
    #[serde(default)]
    pub(super) strategy: Option<Vec<Spanned<Strategy>>>,
    #[serde(default)]
    pub(super) concurrency: Option<Vec<Spanned<i64>>>,
    #[serde(default)]
    pub(super) rate: Option<Vec<Spanned<f64>>>,
    #[serde(default)]
    pub(super) scale: Option<Vec<Spanned<f64>>>,
    #[serde(default)]
    pub(super) hybrid: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub(super) repeat: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) variant: Vec<Spanned<VariantModel>>,
}

/// One `[[matrix.variant]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VariantModel {
    #[serde(default)]
    pub(super) backend: Option<Spanned<BackendKind>>,
    #[serde(default)]
    pub(super) layout: Option<Layout>,
    #[serde(default)]
    pub(super) indexes: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) max_pool_size: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) strategy: Option<Strategy>,
    #[serde(default)]
    pub(super) concurrency: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) rate: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) scale: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) hybrid: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) label: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) migrate_tenant: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) migrate_copy_rate: Option<Spanned<f64>>,
    /// The name before `migrate_copy_rate`: refused with the new name (a scenario's `rate` is
    /// operations per second; a copy's is records per second).
    #[serde(default)]
    pub(super) migrate_rate: Option<Spanned<f64>>,
}

/// One `[[phase]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PhaseModel {
    pub(super) name: Spanned<String>,
    pub(super) start_s: Spanned<f64>,
    #[serde(default)]
    pub(super) duration_s: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) rate: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) share: BTreeMap<Spanned<String>, Spanned<f64>>,
    #[serde(default)]
    pub(super) mix: BTreeMap<Spanned<String>, Spanned<OpMixModel>>,
    #[serde(default)]
    pub(super) migrate: Option<Spanned<MigrateModel>>,
}

/// `migrate = { … }` of a `[[phase]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MigrateModel {
    pub(super) tenant: Spanned<String>,
    pub(super) to: Spanned<String>,
    #[serde(default)]
    pub(super) copy_rate: Option<Spanned<f64>>,
    /// The name before `copy_rate`: refused with the new name.
    #[serde(default)]
    pub(super) rate: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) batch_size: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) delete_source: Option<bool>,
}
