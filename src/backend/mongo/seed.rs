//! Seeding: batched, parallel, unordered `insert_many` of generated records into every
//! database of a placement, with markers, index builds before or after the load, and reuse of
//! databases that already hold the same data.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt, stream};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mongodb::IndexModel;
use mongodb::bson::{self, Document, RawDocumentBuf, doc};

use super::{Context, DbState, MongoError, Servers, inspect, new_marker, write_marker};
use crate::datagen::{Collection, Value, generate};
use crate::layout::Layout;
use crate::layout::Placement;
use crate::population::Population;
use crate::scenario::{IndexBuild, IndexKeys, Scenario};

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

/// Converts a generated record to BSON: strings, 64-bit integers, UTC datetimes, booleans.
pub fn raw_document(r: &crate::datagen::Record) -> RawDocumentBuf {
    let mut d = RawDocumentBuf::new();
    for (name, v) in &r.fields {
        match v {
            Value::Str(s) => d.append(name, s.as_str()),
            Value::Static(s) => d.append(name, *s),
            Value::Int(i) => d.append(name, *i),
            Value::Time(t) => d.append(name, bson::DateTime::from_millis(*t)),
            Value::Bool(b) => d.append(name, *b),
        }
    }
    d
}

/// Generates the records of a unit as BSON documents.
pub fn unit_documents(seed: u64, ids: &[String], u: &Unit) -> Vec<RawDocumentBuf> {
    let mut docs = Vec::with_capacity(u.len() as usize);
    for &(t, a, b) in &u.parts {
        for o in a..b {
            docs.push(raw_document(&generate(seed, &ids[t], u.collection, o)));
        }
    }
    docs
}

/// The key document of an index.
pub fn index_keys_doc(keys: &IndexKeys) -> Document {
    let mut d = Document::new();
    for (f, desc) in keys {
        d.insert(f.clone(), if *desc { -1i32 } else { 1i32 });
    }
    d
}

fn keys_label(keys: &IndexKeys) -> String {
    let inner: Vec<String> = keys
        .iter()
        .map(|(f, desc)| format!("{f}: {}", if *desc { -1 } else { 1 }))
        .collect();
    format!("{{{}}}", inner.join(", "))
}

/// Seeds a scenario's population into a placement.
///
/// Every database of the placement is inspected first; if any is non-empty without a marker,
/// nothing is written at all. Databases that already hold complete, clean data of the same
/// definition are reused (indexes rebuilt if the profile changed) unless `reseed` is set.
///
/// # Errors
/// [`MongoError::Foreign`] for databases the harness did not create; driver errors otherwise.
/// A failed seed leaves markers with `complete: false`, which the next seed reloads.
pub async fn seed(
    servers: &Servers,
    scenario: &Scenario,
    pop: &Population,
    placement: &Placement,
    opts: &SeedOptions,
) -> Result<SeedSummary, MongoError> {
    let started = Instant::now();
    let profile = scenario
        .index_profile(&opts.indexes)
        .ok_or_else(|| MongoError::State(format!("unknown index profile `{}`", opts.indexes)))?;
    let hash = super::definition_hash(scenario, opts.layout);

    // 1. Inspect every database before writing anything.
    let states: Vec<DbState> = stream::iter(placement.databases.iter())
        .map(|d| async move { inspect(&servers.db(&d.server, &d.name)).await })
        .buffered(16)
        .try_collect()
        .await?;
    let mut foreign = Vec::new();
    let mut plan = Vec::with_capacity(states.len());
    for (d, st) in placement.databases.iter().zip(&states) {
        let outcome = match st {
            DbState::Empty => DbOutcome::Loaded,
            DbState::Foreign => {
                foreign.push(d.name.clone());
                DbOutcome::Loaded
            }
            DbState::Marked(m) if m.prefix != scenario.prefix => {
                foreign.push(format!("{} (marker of prefix `{}`)", d.name, m.prefix));
                DbOutcome::Loaded
            }
            DbState::Marked(m) => {
                if !opts.reseed && m.complete && !m.dirty && m.definition_hash == hash {
                    DbOutcome::Reused
                } else {
                    DbOutcome::Reloaded
                }
            }
        };
        plan.push(outcome);
    }
    if !foreign.is_empty() {
        return Err(MongoError::Foreign(foreign));
    }

    // 2. Prepare databases to load: drop ours, write an incomplete marker, create collections.
    let load: Vec<usize> = (0..plan.len())
        .filter(|&i| plan[i] != DbOutcome::Reused)
        .collect();
    stream::iter(load.iter().copied())
        .map(|i| {
            let d = &placement.databases[i];
            let db = servers.db(&d.server, &d.name);
            let marker = new_marker(scenario, opts.layout, d, pop, &opts.indexes);
            let reload = plan[i] == DbOutcome::Reloaded;
            async move {
                if reload {
                    db.drop()
                        .await
                        .ctx(|| format!("dropping {} to reload it", d.name))?;
                }
                write_marker(&db, &marker).await?;
                for c in Collection::ALL {
                    db.create_collection(c.name())
                        .await
                        .ctx(|| format!("creating {}.{}", d.name, c.name()))?;
                }
                Ok::<_, MongoError>(())
            }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<()>>()
        .await?;

    let mut builds: Vec<(Collection, IndexKeys, f64)> = Vec::new();
    if opts.index_build == IndexBuild::Before {
        builds.extend(build_indexes(servers, placement, &load, &profile, opts).await?);
    }

    // 3. Load.
    let units = Arc::new(work_units(pop, placement, &load, opts.batch_size));
    let total: u64 = units.iter().map(Unit::len).sum();
    let ids: Arc<Vec<String>> = Arc::new(pop.tenants.iter().map(|t| t.id.clone()).collect());
    let pb = progress_bar("seeding", "docs", total, opts.progress && total > 0);
    let handles: Vec<(mongodb::Database, String)> = placement
        .databases
        .iter()
        .map(|d| (servers.db(&d.server, &d.name), d.name.clone()))
        .collect();
    let seed = scenario.seed;
    let load_started = Instant::now();
    let loaded = insert_units(handles, units, opts.workers, &pb, move |_, u| {
        unit_documents(seed, &ids, u)
    })
    .await;
    pb.finish_and_clear();
    loaded?;
    let load_seconds = load_started.elapsed().as_secs_f64();

    // 4. Indexes after the load, and for reused databases whose profile changed.
    if opts.index_build == IndexBuild::After {
        builds.extend(build_indexes(servers, placement, &load, &profile, opts).await?);
    }
    let mut reindex = Vec::new();
    for (i, st) in states.iter().enumerate() {
        if let (DbOutcome::Reused, DbState::Marked(m)) = (plan[i], st)
            && m.index_profile != opts.indexes
        {
            reindex.push(i);
        }
    }
    if !reindex.is_empty() {
        stream::iter(reindex.iter().copied())
            .map(|i| {
                let d = &placement.databases[i];
                let db = servers.db(&d.server, &d.name);
                async move {
                    for c in Collection::ALL {
                        db.collection::<Document>(c.name())
                            .drop_indexes()
                            .await
                            .ctx(|| format!("dropping indexes of {}.{}", d.name, c.name()))?;
                    }
                    Ok::<_, MongoError>(())
                }
            })
            .buffer_unordered(16)
            .try_collect::<Vec<()>>()
            .await?;
        builds.extend(build_indexes(servers, placement, &reindex, &profile, opts).await?);
    }

    // 5. Mark complete (loaded) or update the profile (reindexed).
    let touched: Vec<usize> = load.iter().chain(reindex.iter()).copied().collect();
    stream::iter(touched.iter().copied())
        .map(|i| {
            let d = &placement.databases[i];
            let db = servers.db(&d.server, &d.name);
            let fresh = new_marker(scenario, opts.layout, d, pop, &opts.indexes);
            let prior = match &states[i] {
                DbState::Marked(m) if plan[i] == DbOutcome::Reused => Some(m.clone()),
                _ => None,
            };
            async move {
                let mut m = match prior {
                    Some(p) => *p,
                    None => fresh,
                };
                m.complete = true;
                m.index_profile = opts.indexes.clone();
                m.updated_at = bson::DateTime::now();
                write_marker(&db, &m).await
            }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<()>>()
        .await?;

    // 6. Sizes.
    let stats = db_sizes(servers, placement).await?;

    let per_db_indexes: usize = profile.values().map(Vec::len).sum();
    let index_builds =
        IndexBuildTime::aggregate(builds.iter().map(|(c, k, t)| (*c, keys_label(k), *t)));

    Ok(SeedSummary {
        layout: opts.layout,
        index_profile: opts.indexes.clone(),
        databases: placement.databases.len(),
        loaded: load.len(),
        reused: plan.len() - load.len(),
        collections: placement.databases.len() * Collection::COUNT,
        indexes_built: builds.len(),
        indexes: placement.databases.len() * per_db_indexes,
        documents: total,
        load_seconds,
        total_seconds: started.elapsed().as_secs_f64(),
        index_builds,
        storage_bytes: stats.iter().map(|s| s.0).sum(),
        index_bytes: stats.iter().map(|s| s.1).sum(),
    })
}

/// `dbStats` (storageSize, indexSize) of every database of a placement.
async fn db_sizes(servers: &Servers, placement: &Placement) -> Result<Vec<(i64, i64)>, MongoError> {
    stream::iter(placement.databases.iter())
        .map(|d| {
            let db = servers.db(&d.server, &d.name);
            async move {
                let s = db
                    .run_command(doc! {"dbStats": 1})
                    .await
                    .ctx(|| format!("dbStats on {}", d.name))?;
                Ok::<_, MongoError>((bson_i64(s.get("storageSize")), bson_i64(s.get("indexSize"))))
            }
        })
        .buffered(16)
        .try_collect()
        .await
}

/// Checks, without writing, that a placement's data is there as `seed` would leave it: every
/// database marked with this scenario's prefix and data definition, complete, with index
/// profile `indexes`. Dirty data (written by a run) is accepted: load generators of one run
/// write into the same data. Used by `run --worker`, which must not seed.
///
/// # Errors
/// [`MongoError::State`] naming the first database that is not ready; driver errors.
pub async fn check_ready(
    servers: &Servers,
    scenario: &Scenario,
    placement: &Placement,
    indexes: &str,
) -> Result<SeedSummary, MongoError> {
    let started = Instant::now();
    let hash = super::definition_hash(scenario, placement.layout);
    for d in &placement.databases {
        let problem = match inspect(&servers.db(&d.server, &d.name)).await? {
            DbState::Marked(m) if m.prefix != scenario.prefix => {
                Some("belongs to another prefix".to_string())
            }
            DbState::Marked(m) if m.definition_hash != hash => {
                Some("holds other data (definition hash differs)".into())
            }
            DbState::Marked(m) if !m.complete => Some("is incomplete".into()),
            DbState::Marked(m) if m.index_profile != indexes => Some(format!(
                "has index profile `{}`, not `{indexes}`",
                m.index_profile
            )),
            DbState::Marked(_) => None,
            DbState::Empty => Some("does not exist".into()),
            DbState::Foreign => Some("is not a tenantbench database".into()),
        };
        if let Some(p) = problem {
            return Err(MongoError::State(format!("database {} {p}", d.name)));
        }
    }
    let stats = db_sizes(servers, placement).await?;
    let profile = scenario.index_profile(indexes).unwrap_or_default();
    let per_db_indexes: usize = profile.values().map(Vec::len).sum();
    Ok(SeedSummary {
        layout: placement.layout,
        index_profile: indexes.to_string(),
        databases: placement.databases.len(),
        loaded: 0,
        reused: placement.databases.len(),
        collections: placement.databases.len() * Collection::COUNT,
        indexes_built: 0,
        indexes: placement.databases.len() * per_db_indexes,
        documents: 0,
        load_seconds: 0.0,
        total_seconds: started.elapsed().as_secs_f64(),
        index_builds: Vec::new(),
        storage_bytes: stats.iter().map(|s| s.0).sum(),
        index_bytes: stats.iter().map(|s| s.1).sum(),
    })
}

/// Inserts the documents of every unit with `workers` concurrent `insert_many(ordered: false)`
/// calls; `documents(i, unit)` makes unit `i`'s documents (generates them while seeding, or hands
/// over pre-generated ones in the bare-insert benchmark). `dbs[u.db]` is the unit's database.
///
/// # Errors
/// The first insert that failed, with its database and collection.
pub async fn insert_units<F>(
    dbs: Vec<(mongodb::Database, String)>,
    units: Arc<Vec<Unit>>,
    workers: usize,
    pb: &ProgressBar,
    documents: F,
) -> Result<(), MongoError>
where
    F: Fn(usize, &Unit) -> Vec<RawDocumentBuf> + Send + Sync + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let dbs = Arc::new(dbs);
    let documents = Arc::new(documents);
    let mut tasks = Vec::new();
    for _ in 0..workers.max(1) {
        let (units, next, pb, dbs, documents) = (
            units.clone(),
            next.clone(),
            pb.clone(),
            dbs.clone(),
            documents.clone(),
        );
        tasks.push(tokio::spawn(async move {
            // Relaxed is enough: the counter only hands out distinct unit indices.
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(u) = units.get(i) else { break };
                let docs = documents(i, u);
                let n = docs.len() as u64;
                let (db, name) = &dbs[u.db];
                db.collection::<RawDocumentBuf>(u.collection.name())
                    .insert_many(docs)
                    .ordered(false)
                    .await
                    .ctx(|| {
                        format!(
                            "inserting {n} documents into {name}.{}",
                            u.collection.name()
                        )
                    })?;
                pb.inc(n);
            }
            Ok::<_, MongoError>(())
        }));
    }
    let mut first_err = None;
    for t in tasks {
        let r = match t.await {
            Ok(r) => r,
            Err(join) => Err(MongoError::State(format!(
                "a seeding worker failed: {join}"
            ))),
        };
        if let Err(e) = r {
            first_err.get_or_insert(e);
        }
    }
    first_err.map_or(Ok(()), Err)
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

/// Reads a numeric BSON value whatever its number type (command replies mix int32, int64 and
/// double); 0 when absent or not a number.
pub(crate) fn bson_i64(b: Option<&bson::Bson>) -> i64 {
    match b {
        Some(bson::Bson::Int32(v)) => i64::from(*v),
        Some(bson::Bson::Int64(v)) => *v,
        Some(bson::Bson::Double(v)) => *v as i64,
        _ => 0,
    }
}

/// Builds a profile's indexes in some databases: one build at a time within a database,
/// `opts.workers` databases at a time; returns each build's time.
///
/// Builds within one database run one after another so that each build's time is its own, not
/// shared with a concurrent build on the same server files.
async fn build_indexes(
    servers: &Servers,
    placement: &Placement,
    dbs: &[usize],
    profile: &std::collections::BTreeMap<Collection, Vec<IndexKeys>>,
    opts: &SeedOptions,
) -> Result<Vec<(Collection, IndexKeys, f64)>, MongoError> {
    let per: usize = profile.values().map(Vec::len).sum();
    let total = (per * dbs.len()) as u64;
    let pb = progress_bar(
        "building indexes",
        "indexes",
        total,
        opts.progress && total > 0,
    );
    let pb = &pb;
    let per_db: Vec<Vec<(Collection, IndexKeys, f64)>> = stream::iter(dbs.iter().copied())
        .map(|i| {
            let d = &placement.databases[i];
            let db = servers.db(&d.server, &d.name);
            async move {
                let mut times = Vec::new();
                for (c, list) in profile {
                    for keys in list {
                        let t = Instant::now();
                        db.collection::<Document>(c.name())
                            .create_index(IndexModel::builder().keys(index_keys_doc(keys)).build())
                            .await
                            .ctx(|| {
                                format!(
                                    "building index {} on {}.{}",
                                    keys_label(keys),
                                    d.name,
                                    c.name()
                                )
                            })?;
                        times.push((*c, keys.clone(), t.elapsed().as_secs_f64()));
                        pb.inc(1);
                    }
                }
                Ok::<_, MongoError>(times)
            }
        })
        .buffer_unordered(opts.workers.max(1))
        .try_collect()
        .await?;
    pb.finish_and_clear();
    Ok(per_db.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
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
