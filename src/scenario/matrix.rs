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
    /// tenant and rate (`migrate_tenant`, `migrate_copy_rate`); `None`: no migration.
    pub migration: Option<crate::scenario::migration::MigrationSpec>,
    /// `run --worker i/N`: this variant is one load generator's share of a whole variant, whose
    /// load and pool are kept here; `None`: the whole variant.
    pub share: Option<Share>,
}

/// What a load generator's share of a variant was cut from (`run --worker i/N`): the whole
/// variant's load and pool. The id and description name the whole variant, so every
/// generator's results — and their merge — name it alike.
#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    /// Generator i of N (0-based).
    pub worker: (u32, u32),
    /// The whole variant's load.
    pub pacer: Pacer,
    /// The whole variant's most connections per client.
    pub max_pool_size: u32,
    /// The whole variant's connections kept open per client.
    pub min_pool_size: u32,
}

/// Generator `i` of `n`'s part of `x` whole units: `x / n`, and one more for the first
/// `x % n` generators, so the parts add up to `x`.
pub fn part(x: usize, (i, n): (u32, u32)) -> usize {
    x / n as usize + usize::from((i as usize) < x % n as usize)
}

/// A load generator's share that would have no worker: a closed loop split among more
/// generators (`run --worker i/n`) than it has workers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "--worker {i}/{n}: variant {variant} has concurrency {concurrency}, which leaves generator {i} no worker; use at most {concurrency} generators"
)]
pub struct ShareError {
    /// The generator's index.
    pub i: u32,
    /// How many generators share the variant.
    pub n: u32,
    /// The whole variant's id.
    pub variant: String,
    /// The whole variant's concurrency.
    pub concurrency: usize,
}

impl Variant {
    /// The whole variant this is a generator's share of (a copy of itself when it is whole).
    #[must_use]
    pub fn whole(&self) -> Variant {
        match &self.share {
            None => self.clone(),
            Some(s) => Variant {
                pacer: s.pacer,
                max_pool_size: s.max_pool_size,
                min_pool_size: s.min_pool_size,
                share: None,
                ..self.clone()
            },
        }
    }

    /// Load generator `i` of `n`'s share of this (whole) variant: concurrency split as evenly
    /// as whole workers allow; in an open loop every n-th intended start of the whole schedule
    /// (the runner's slice; the rate here stays the whole one) with the in-flight cap split
    /// like concurrency, at least one; and the pool split like concurrency (at least one
    /// connection; connections kept open split too), so the `n` generators together run the
    /// load and hold the connections one process would.
    ///
    /// # Errors
    /// A closed loop with fewer workers than generators (one would have none).
    pub fn share(&self, (i, n): (u32, u32)) -> Result<Variant, ShareError> {
        let whole = self.whole();
        let pacer = match whole.pacer {
            Pacer::Closed { concurrency, think } => {
                let c = part(concurrency, (i, n));
                if c == 0 {
                    return Err(ShareError {
                        i,
                        n,
                        variant: whole.id(),
                        concurrency,
                    });
                }
                Pacer::Closed {
                    concurrency: c,
                    think,
                }
            }
            // The rate stays the whole schedule's: the runner takes every n-th of its
            // tickets (`RunConfig::slice`), so the generators together intend exactly what one
            // process would, phases' rates included.
            Pacer::Open {
                rate,
                arrivals,
                workers,
            } => Pacer::Open {
                rate,
                arrivals,
                workers: part(workers, (i, n)).max(1),
            },
        };
        Ok(Variant {
            pacer,
            max_pool_size: part(whole.max_pool_size as usize, (i, n)).max(1) as u32,
            min_pool_size: part(whole.min_pool_size as usize, (i, n)) as u32,
            share: Some(Share {
                worker: (i, n),
                pacer: whole.pacer,
                max_pool_size: whole.max_pool_size,
                min_pool_size: whole.min_pool_size,
            }),
            ..whole
        })
    }

    /// The load and pool that name the variant: the whole variant's, for a generator's share.
    fn named_load(&self) -> (Pacer, u32) {
        self.share
            .as_ref()
            .map_or((self.pacer, self.max_pool_size), |s| {
                (s.pacer, s.max_pool_size)
            })
    }

    /// A short, file-name-safe identifier: `shared-none-p100-single-c8` (a generator's share
    /// is named by its whole variant).
    pub fn id(&self) -> String {
        let (pacer, max_pool_size) = self.named_load();
        let load = match pacer {
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
            max_pool_size,
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
    /// concurrency 8` (`plan` shows it; reports name variants by their short name). A
    /// generator's share is described by its whole variant.
    pub fn description(&self) -> String {
        let (pacer, max_pool_size) = self.named_load();
        let load = match pacer {
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
            max_pool_size,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pacing::Arrivals;

    fn variant(pacer: Pacer, pool: u32) -> Variant {
        Variant {
            backend: BackendKind::Postgres,
            layout: Layout::Shared,
            indexes: "tenant".into(),
            max_pool_size: pool,
            min_pool_size: 2,
            strategy: Strategy::SingleClient,
            pacer,
            scale: 1.0,
            hybrid: None,
            name: None,
            migration: None,
            share: None,
        }
    }

    #[test]
    fn generators_shares_add_up_to_the_whole_and_keep_its_name() {
        let whole = variant(
            Pacer::Closed {
                concurrency: 8,
                think: Duration::ZERO,
            },
            10,
        );
        let shares: Vec<Variant> = (0..3)
            .map(|i| whole.share((i, 3)).expect("share"))
            .collect();
        let conc: Vec<usize> = shares.iter().map(|s| s.pacer.workers()).collect();
        assert_eq!(conc, [3, 3, 2]);
        let pools: Vec<u32> = shares.iter().map(|s| s.max_pool_size).collect();
        assert_eq!(pools, [4, 3, 3]);
        let warm: u32 = shares.iter().map(|s| s.min_pool_size).sum();
        assert_eq!(warm, 2);
        for s in &shares {
            assert_eq!(s.id(), whole.id());
            assert_eq!(s.description(), whole.description());
            assert_eq!(s.whole(), whole);
            // A share of a share is cut from the whole again.
            assert_eq!(s.share((1, 3)).expect("share"), shares[1]);
        }
        assert_eq!(
            whole.share((8, 9)).unwrap_err().to_string(),
            format!(
                "--worker 8/9: variant {} has concurrency 8, which leaves generator 8 no worker; use at most 8 generators",
                whole.id()
            ),
            "8 workers leave the ninth generator none"
        );
        assert!(whole.share((7, 9)).is_ok());
    }

    #[test]
    fn an_open_loop_share_divides_the_rate_and_keeps_a_pool_of_one() {
        let whole = variant(
            Pacer::Open {
                rate: 300.0,
                arrivals: Arrivals::Constant,
                workers: 4,
            },
            1,
        );
        let s = whole.share((2, 3)).expect("share");
        let Pacer::Open { rate, workers, .. } = s.pacer else {
            panic!("open loop")
        };
        assert_eq!(rate, 300.0, "the whole schedule, sliced by the runner");
        assert_eq!(workers, 1);
        assert_eq!(
            s.max_pool_size, 1,
            "a pool is never split below one connection"
        );
        assert_eq!(s.id(), "postgres-shared-tenant-p1-single-r300");
    }
}
