//! Seeding, written once for every database: inspect every database of a placement before
//! writing anything, refuse databases the harness did not create, reuse those that already hold
//! the same complete data, (re)load the rest in batches, build the index profile before or after
//! the load, and mark each database complete only at the end. A database kind supplies the
//! primitives ([`SeedTarget`]); this module decides what happens in which order.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::marker::{DbState, Marker, definition_hash, new_marker, readiness_problem};
use crate::datagen::Collection;
use crate::layout::{Layout, Placement};
use crate::population::Population;
use crate::scenario::{IndexBuild, Scenario};

/// How to seed.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    /// Layout to place the tenants in.
    pub layout: Layout,
    /// Index profile name.
    pub indexes: String,
    /// Documents per `insert_many`.
    pub batch_size: usize,
    /// Concurrent insert workers.
    pub workers: usize,
    /// Indexes before or after the load.
    pub index_build: IndexBuild,
    /// Drop and reload databases even when they already hold the same complete data.
    pub reseed: bool,
    /// Draw a progress bar on stderr.
    pub progress: bool,
}

impl SeedOptions {
    /// A quiet seed into `layout` with index profile `indexes` by the scenario's `[load]`
    /// settings, reusing what is there (tests and benches; commands merge flags over these in
    /// `app::settings`).
    pub fn from_scenario(s: &Scenario, layout: Layout, indexes: &str) -> SeedOptions {
        SeedOptions {
            layout,
            indexes: indexes.to_string(),
            batch_size: s.load.batch_size,
            workers: s.load.workers,
            index_build: s.load.index_build,
            reseed: false,
            progress: false,
        }
    }
}

/// What happened to one database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DbOutcome {
    /// Created and loaded.
    Loaded,
    /// Ours but incomplete, dirty, of another definition, or `--reseed`: dropped and reloaded.
    Reloaded,
    /// Already complete with the same data; indexes rebuilt when the profile changed.
    Reused,
}

/// Build times of one index over all databases that got it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IndexBuildTime {
    /// Collection.
    pub collection: Collection,
    /// Key specification, e.g. `{tenant: 1, status: 1, createdAt: -1}`.
    pub keys: String,
    /// Number of databases it was built in.
    pub builds: usize,
    /// Sum of build times, seconds.
    pub seconds_total: f64,
    /// Longest single build, seconds.
    pub seconds_max: f64,
}

impl IndexBuildTime {
    /// Per (collection, keys): how many builds, their total and longest time, from single
    /// builds (collection, keys, seconds); sorted by collection and keys.
    pub fn aggregate(builds: impl Iterator<Item = (Collection, String, f64)>) -> Vec<Self> {
        let mut out: Vec<IndexBuildTime> = Vec::new();
        for (collection, keys, secs) in builds {
            match out
                .iter_mut()
                .find(|b| b.collection == collection && b.keys == keys)
            {
                Some(b) => {
                    b.builds += 1;
                    b.seconds_total += secs;
                    b.seconds_max = b.seconds_max.max(secs);
                }
                None => out.push(IndexBuildTime {
                    collection,
                    keys,
                    builds: 1,
                    seconds_total: secs,
                    seconds_max: secs,
                }),
            }
        }
        out.sort_by(|a, b| {
            a.collection
                .cmp(&b.collection)
                .then_with(|| a.keys.cmp(&b.keys))
        });
        out
    }
}

/// The result of a seed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SeedSummary {
    /// Layout seeded.
    pub layout: Layout,
    /// Index profile the databases now have.
    pub index_profile: String,
    /// Databases of the placement.
    pub databases: usize,
    /// Databases loaded (new or reloaded).
    pub loaded: usize,
    /// Databases reused as they were.
    pub reused: usize,
    /// Tenant collections (databases × catalogue collections).
    pub collections: usize,
    /// Secondary indexes built in this seed.
    pub indexes_built: usize,
    /// Secondary indexes the placement has in all (logical count).
    pub indexes: usize,
    /// Documents inserted.
    pub documents: u64,
    /// Wall time of the load (inserts only), seconds.
    pub load_seconds: f64,
    /// Wall time of the whole seed, seconds.
    pub total_seconds: f64,
    /// Per-index build times.
    pub index_builds: Vec<IndexBuildTime>,
    /// Sum of `dbStats.storageSize` over the placement's databases, bytes.
    pub storage_bytes: i64,
    /// Sum of `dbStats.indexSize`, bytes.
    pub index_bytes: i64,
}

impl SeedSummary {
    /// Insert throughput, documents per second.
    pub fn docs_per_sec(&self) -> f64 {
        if self.load_seconds > 0.0 {
            self.documents as f64 / self.load_seconds
        } else {
            0.0
        }
    }
}

/// A batch of records for one `insert_many`: consecutive ordinals of one or more tenants of
/// one database and collection.
#[derive(Debug, Clone)]
pub struct Unit {
    /// Index of the database in the placement.
    pub db: usize,
    /// Collection.
    pub collection: Collection,
    /// (tenant index, first ordinal, end ordinal) ranges.
    pub parts: Vec<(usize, u64, u64)>,
}

impl Unit {
    /// Number of records.
    pub fn len(&self) -> u64 {
        self.parts.iter().map(|(_, a, b)| b - a).sum()
    }

    /// Whether the unit holds no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Splits the records of the given databases into batches of at most `batch` records. In a
/// database shared by many tenants a batch spans tenant boundaries, so small tenants do not
/// mean small inserts.
pub fn work_units(
    pop: &Population,
    placement: &Placement,
    dbs: &[usize],
    batch: usize,
) -> Vec<Unit> {
    let batch = batch.max(1) as u64;
    let mut units = Vec::new();
    for &d in dbs {
        for c in Collection::ALL {
            let mut cur = Unit {
                db: d,
                collection: c,
                parts: Vec::new(),
            };
            let mut filled = 0u64;
            for &t in &placement.databases[d].tenants {
                let n = pop.tenants[t].count(c);
                let mut start = 0;
                while start < n {
                    let take = (n - start).min(batch - filled);
                    cur.parts.push((t, start, start + take));
                    filled += take;
                    start += take;
                    if filled == batch {
                        units.push(std::mem::replace(
                            &mut cur,
                            Unit {
                                db: d,
                                collection: c,
                                parts: Vec::new(),
                            },
                        ));
                        filled = 0;
                    }
                }
            }
            if filled > 0 {
                units.push(cur);
            }
        }
    }
    units
}

/// A progress bar for `total` items of `unit` (hidden when `show` is false or stderr is no
/// terminal).
pub fn progress_bar(what: &str, unit: &str, total: u64, show: bool) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(
        Some(total),
        if show {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    pb.set_style(
        ProgressStyle::with_template(
            &format!("{{spinner}} {{prefix}} [{{elapsed_precise}}] {{wide_bar}} {{human_pos}}/{{human_len}} {unit}, {{per_sec:.0}}, ETA {{eta}}"),
        )
        .expect("valid template")
        .tick_chars("⠁⠂⠄⡀⢀⠠⠐⠈ "),
    );
    pb.set_prefix(what.to_string());
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}

/// What a database kind does for [`seed`]: the steps, each over a set of the placement's
/// databases (by index). Called by `seed` only, in the order its doc gives.
// The harness awaits seeding on its own task, so the futures need no `Send` bound.
#[allow(async_fn_in_trait)]
pub trait SeedTarget {
    /// The database kind's error.
    type Error;
    /// What progress bars count: `docs` or `rows`.
    const UNIT: &'static str;

    /// The placement being seeded.
    fn placement(&self) -> &Placement;

    /// Every database's state, in placement order, each with what it holds that the harness did
    /// not create besides its marker (e.g. PostgreSQL schemas without one), if anything.
    async fn inspect(&self) -> Result<Vec<(DbState, Option<String>)>, Self::Error>;

    /// The error refusing to write because of these databases (names with the reason).
    fn foreign(&self, found: Vec<String>) -> Self::Error;

    /// The error for a database not in the state a command needs.
    fn state(&self, message: String) -> Self::Error;

    /// Makes databases ready to load: drops those marked `true` (ours, to reload), creates each
    /// with an incomplete marker and empty collections or tables.
    async fn prepare(&self, dbs: &[(usize, bool)]) -> Result<(), Self::Error>;

    /// Builds the index profile in these databases; each build's collection, keys and seconds.
    async fn build_indexes(
        &self,
        dbs: &[usize],
    ) -> Result<Vec<(Collection, String, f64)>, Self::Error>;

    /// Drops the secondary indexes of these databases (their profile changes).
    async fn drop_indexes(&self, dbs: &[usize]) -> Result<(), Self::Error>;

    /// Inserts every generated record of these databases, advancing `pb` per record.
    async fn load(&self, dbs: &[usize], pb: &ProgressBar) -> Result<(), Self::Error>;

    /// Writes the final (complete) markers; `true` for databases loaded in this seed, which may
    /// need work after the load first (foreign keys, statistics).
    async fn finish(&self, dbs: &[(usize, Marker, bool)]) -> Result<(), Self::Error>;

    /// Storage and index bytes over the placement's databases.
    async fn sizes(&self) -> Result<(i64, i64), Self::Error>;

    /// Tenant collections (tables) and secondary indexes the placement has in all.
    fn counts(&self) -> (usize, usize);
}

/// Decides each database's fate from its state: loaded (absent), reloaded (ours but
/// incomplete, dirty, of another definition, or `reseed`) or reused; and which databases forbid
/// writing at all.
fn plan_databases(
    placement: &Placement,
    states: &[(DbState, Option<String>)],
    prefix: &str,
    hash: &str,
    reseed: bool,
) -> (Vec<DbOutcome>, Vec<String>) {
    let mut foreign = Vec::new();
    let mut plan = Vec::with_capacity(states.len());
    for (d, (st, theirs)) in placement.databases.iter().zip(states) {
        plan.push(match st {
            DbState::Empty => DbOutcome::Loaded,
            DbState::Foreign => {
                foreign.push(d.name.clone());
                DbOutcome::Loaded
            }
            DbState::Marked(m) if m.prefix != prefix => {
                foreign.push(format!("{} (marker of prefix `{}`)", d.name, m.prefix));
                DbOutcome::Loaded
            }
            DbState::Marked(m) => {
                if !reseed && m.complete && !m.dirty && m.definition_hash == hash {
                    DbOutcome::Reused
                } else {
                    tracing::debug!(
                        database = %d.name,
                        complete = m.complete,
                        dirty = m.dirty,
                        same_definition = m.definition_hash == hash,
                        reseed,
                        "seed: reloading"
                    );
                    if let Some(t) = theirs {
                        foreign.push(format!("{} ({t})", d.name));
                    }
                    DbOutcome::Reloaded
                }
            }
        });
    }
    for f in &foreign {
        tracing::info!(database = %f, "seed: refused, not tenantbench's data");
    }
    (plan, foreign)
}

/// Seeds a scenario's population into the target's placement.
///
/// Every database is inspected first; if any holds data without our marker, nothing is written
/// at all. Databases that already hold complete, clean data of the same definition are reused
/// (indexes rebuilt if the profile changed) unless `reseed` is set.
///
/// # Errors
/// The target's refusal for databases the harness did not create; its errors otherwise. A
/// failed seed leaves markers incomplete, which the next seed reloads.
pub async fn seed<T: SeedTarget>(
    t: &T,
    scenario: &Scenario,
    pop: &Population,
    opts: &SeedOptions,
) -> Result<SeedSummary, T::Error> {
    let started = Instant::now();
    let placement = t.placement();
    let hash = definition_hash(scenario, opts.layout);

    // 1. Inspect every database before writing anything.
    let states = t.inspect().await?;
    let (plan, foreign) = plan_databases(placement, &states, &scenario.prefix, &hash, opts.reseed);
    if !foreign.is_empty() {
        return Err(t.foreign(foreign));
    }

    // 2. Prepare the databases to load.
    let load: Vec<usize> = (0..plan.len())
        .filter(|&i| plan[i] != DbOutcome::Reused)
        .collect();
    let prepare: Vec<(usize, bool)> = load
        .iter()
        .map(|&i| (i, plan[i] == DbOutcome::Reloaded))
        .collect();
    t.prepare(&prepare).await?;
    let mut builds = Vec::new();
    if opts.index_build == IndexBuild::Before {
        builds.extend(t.build_indexes(&load).await?);
    }

    // 3. Load.
    let total: u64 = load
        .iter()
        .flat_map(|&i| &placement.databases[i].tenants)
        .map(|&x| pop.tenants[x].documents)
        .sum();
    let pb = progress_bar("seeding", T::UNIT, total, opts.progress && total > 0);
    let load_started = Instant::now();
    let loaded = t.load(&load, &pb).await;
    pb.finish_and_clear();
    loaded?;
    let load_seconds = load_started.elapsed().as_secs_f64();

    // 4. Indexes after the load, and for reused databases whose profile changed.
    if opts.index_build == IndexBuild::After {
        builds.extend(t.build_indexes(&load).await?);
    }
    let prior = |i: usize| match &states[i].0 {
        DbState::Marked(m) if plan[i] == DbOutcome::Reused => Some(m),
        _ => None,
    };
    let reindex: Vec<usize> = (0..plan.len())
        .filter(|&i| prior(i).is_some_and(|m| m.index_profile != opts.indexes))
        .collect();
    if !reindex.is_empty() {
        t.drop_indexes(&reindex).await?;
        builds.extend(t.build_indexes(&reindex).await?);
    }

    // 5. Mark complete (loaded) or record the new profile (reindexed).
    let finished: Vec<(usize, Marker, bool)> = load
        .iter()
        .chain(&reindex)
        .map(|&i| {
            let d = &placement.databases[i];
            let mut m = match prior(i) {
                Some(p) => (**p).clone(),
                None => new_marker(scenario, opts.layout, d, pop, &opts.indexes),
            };
            m.complete = true;
            m.index_profile = opts.indexes.clone();
            (i, m, load.contains(&i))
        })
        .collect();
    t.finish(&finished).await?;

    // 6. Sizes.
    let (storage_bytes, index_bytes) = t.sizes().await?;
    let (collections, indexes) = t.counts();
    Ok(SeedSummary {
        layout: opts.layout,
        index_profile: opts.indexes.clone(),
        databases: placement.databases.len(),
        loaded: load.len(),
        reused: plan.len() - load.len(),
        collections,
        indexes_built: builds.len(),
        indexes,
        documents: total,
        load_seconds,
        total_seconds: started.elapsed().as_secs_f64(),
        index_builds: IndexBuildTime::aggregate(builds.into_iter()),
        storage_bytes,
        index_bytes,
    })
}

/// Checks, without writing, that the target's data is there as [`seed`] would leave it (every
/// database ready by [`readiness_problem`], with index profile `indexes`), and sums it up as a
/// seed that reused everything. Used by load generators that must not seed (`run --worker`).
///
/// # Errors
/// The target's state error naming the first database that is not ready; its errors otherwise.
pub async fn check_ready<T: SeedTarget>(
    t: &T,
    scenario: &Scenario,
    indexes: &str,
) -> Result<SeedSummary, T::Error> {
    let started = Instant::now();
    let placement = t.placement();
    let hash = definition_hash(scenario, placement.layout);
    for (d, (st, _)) in placement.databases.iter().zip(t.inspect().await?) {
        if let Some(p) = readiness_problem(&st, &scenario.prefix, &hash, indexes) {
            return Err(t.state(format!("database {} {p}", d.name)));
        }
    }
    let (storage_bytes, index_bytes) = t.sizes().await?;
    let (collections, index_count) = t.counts();
    Ok(SeedSummary {
        layout: placement.layout,
        index_profile: indexes.to_string(),
        databases: placement.databases.len(),
        loaded: 0,
        reused: placement.databases.len(),
        collections,
        indexes_built: 0,
        indexes: index_count,
        documents: 0,
        load_seconds: 0.0,
        total_seconds: started.elapsed().as_secs_f64(),
        index_builds: Vec::new(),
        storage_bytes,
        index_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Layout;
    use std::path::Path;

    #[test]
    fn units_cover_every_record_once_in_batches() {
        let s = Scenario::parse(
            Path::new("u.toml"),
            "name = \"u\"\n[population]\ntenants = 50\ndocuments = 20000\ndistribution = { zipf = { s = 1.2 } }\n",
        )
        .unwrap();
        let pop = s.build_population();
        for layout in Layout::ALL {
            let pl = s.placement(&pop, layout);
            let all: Vec<usize> = (0..pl.databases.len()).collect();
            let units = work_units(&pop, &pl, &all, 300);
            assert!(units.iter().all(|u| u.len() <= 300 && !u.is_empty()));
            let mut seen = std::collections::HashMap::new();
            for u in &units {
                for &(t, a, b) in &u.parts {
                    assert!(pl.databases[u.db].tenants.contains(&t));
                    for o in a..b {
                        assert!(seen.insert((t, u.collection, o), ()).is_none());
                    }
                }
            }
            assert_eq!(seen.len() as u64, pop.documents(), "{layout}");
        }
    }
}
