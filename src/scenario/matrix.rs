//! The matrix of a scenario: the axes (backend × layout × index profile × pool size ×
//! connection strategy × load) a run compares, expanded into [`Variant`]s — as a cartesian
//! product of `[matrix]` lists or as an explicit `[[matrix.variant]]` list — plus `repeat`, and
//! the `[connections]` settings every variant starts from. The checks that build them are in
//! `check::matrix`.

use std::time::Duration;

use serde::Deserialize;

use crate::layout::Layout;
use crate::op::BackendKind;
use crate::pacing::Pacer;

/// How tenants reach the database.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// One driver client (one pool per server) for all tenants.
    SingleClient,
    /// A registry of per-tenant clients: lazy, single-flight, LRU beyond `max_clients`, idle
    /// TTL, each evicted client shut down (the Node/Mongoose pattern).
    ClientPerTenant,
}

impl Strategy {
    /// Name in scenarios and results.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::SingleClient => "single-client",
            Strategy::ClientPerTenant => "client-per-tenant",
        }
    }

    fn short(self) -> &'static str {
        match self {
            Strategy::SingleClient => "single",
            Strategy::ClientPerTenant => "cpt",
        }
    }
}

/// A compact, identifier-safe spelling of a factor: `0.01` → `0p01`, `2` → `2`.
pub fn token(f: f64) -> String {
    let s = format!("{}", (f * 1e6).round() / 1e6);
    s.replace('.', "p")
}

/// One point of the matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// Database kind.
    pub backend: BackendKind,
    /// Layout.
    pub layout: Layout,
    /// Index profile name.
    pub indexes: String,
    /// Most connections per driver client.
    pub max_pool_size: u32,
    /// Connections each driver client keeps open.
    pub min_pool_size: u32,
    /// Connection strategy.
    pub strategy: Strategy,
    /// Load: closed loop (concurrency) or open loop (rate).
    pub pacer: Pacer,
    /// Data scale: the population's tenants and documents times this (1: as the scenario
    /// states); a variant at another scale has databases of its own.
    pub scale: f64,
    /// The hybrid layout's named rule set (`[[layout.hybrid.sets.NAME]]`); `None`: the
    /// default rules. Only set on hybrid variants.
    pub hybrid: Option<String>,
    /// The scenario's own name for the variant (`label` in `[[matrix.variant]]`); `None`: the
    /// report names it by what differs from the other variants.
    pub name: Option<String>,
    /// The tenant a `[[phase]]` moves during the variant's trials, with the variant's own
    /// tenant and rate (`migrate_tenant`, `migrate_rate`); `None`: no migration.
    pub migration: Option<crate::scenario::migration::MigrationSpec>,
}

impl Variant {
    /// A short, file-name-safe identifier: `shared-none-p100-single-c8`.
    pub fn id(&self) -> String {
        let load = match self.pacer {
            Pacer::Closed { concurrency, .. } => format!("c{concurrency}"),
            Pacer::Open { rate, .. } => format!("r{rate}"),
        };
        let layout = match &self.hybrid {
            Some(h) => format!("{}.{h}", self.layout.name()),
            None => self.layout.name().to_string(),
        };
        let mut id = format!(
            "{layout}-{}-p{}-{}-{load}",
            self.indexes,
            self.max_pool_size,
            self.strategy.short()
        );
        if self.backend != BackendKind::Mongodb {
            id = format!("{}-{id}", self.backend.name());
        }
        if self.scale != 1.0 {
            id = format!("{id}-x{}", token(self.scale));
        }
        if let Some(m) = &self.migration {
            id = format!("{id}-{}", m.token());
        }
        id
    }

    /// Every setting in words: `mongodb · shared · indexes none · pool 100 · single-client ·
    /// concurrency 8` (`plan` shows it; reports name variants by their short name).
    pub fn description(&self) -> String {
        let load = match self.pacer {
            Pacer::Closed { concurrency, .. } => format!("concurrency {concurrency}"),
            Pacer::Open { rate, .. } => format!("rate {rate}/s"),
        };
        let scale = if self.scale == 1.0 {
            String::new()
        } else {
            format!(" · data × {}", self.scale)
        };
        let layout = match &self.hybrid {
            Some(h) => format!("{} ({h} rules)", self.layout),
            None => self.layout.to_string(),
        };
        let migration = self
            .migration
            .as_ref()
            .map_or(String::new(), |m| format!(" · {}", m.describe()));
        format!(
            "{} · {layout} · indexes {} · pool {} · {} · {load}{scale}{migration}",
            self.backend.name(),
            self.indexes,
            self.max_pool_size,
            self.strategy.name()
        )
    }
}

/// `[connections]`: the pool and strategy every variant starts from.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionsSpec {
    /// Most connections per client (the driver's default: 100).
    pub max_pool_size: u32,
    /// Connections kept open per client.
    pub min_pool_size: u32,
    /// Strategy.
    pub strategy: Strategy,
    /// Client-per-tenant: most clients held at once.
    pub max_clients: usize,
    /// Client-per-tenant: a client unused this long is shut down.
    pub idle_ttl: Duration,
}

impl Default for ConnectionsSpec {
    fn default() -> Self {
        ConnectionsSpec {
            max_pool_size: 100,
            min_pool_size: 0,
            strategy: Strategy::SingleClient,
            max_clients: 100,
            idle_ttl: Duration::from_secs(60),
        }
    }
}

/// The expanded matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixSpec {
    /// Variants, in scenario order (trials run them interleaved: A B A B …).
    pub variants: Vec<Variant>,
    /// Trials per variant.
    pub repeat: u32,
    /// Combinations of the axes that do not exist (e.g. `schema-per-tenant` on MongoDB), each
    /// with why: left out of `variants`; `plan` says so.
    pub skipped: Vec<String>,
}

/// Largest pool size accepted.
pub const MAX_POOL: i64 = 10_000;
