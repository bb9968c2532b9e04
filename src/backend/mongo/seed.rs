//! Seeding on MongoDB: the primitives of [`SeedTarget`] — batched, parallel, unordered
//! `insert_many` of generated records, markers in a `_tenantbench` collection, index builds one
//! at a time per database — for the seeding procedure shared by every database kind.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use futures_util::{StreamExt, TryStreamExt, stream};
use indicatif::ProgressBar;
use mongodb::IndexModel;
use mongodb::bson::{self, Document, RawDocumentBuf, doc};

use super::{Context, MongoError, Servers, inspect, write_marker};
use crate::backend::marker::{DbState, Marker, new_marker};
use crate::backend::seed::{
    self as shared, SeedOptions, SeedSummary, SeedTarget, Unit, work_units,
};
use crate::datagen::{Collection, Value, generate};
use crate::layout::Placement;
use crate::population::Population;
use crate::scenario::{IndexKeys, Scenario};

/// A placement on MongoDB servers, ready to be seeded.
pub struct MongoSeeder<'a> {
    servers: &'a Servers,
    scenario: &'a Scenario,
    pop: &'a Population,
    placement: &'a Placement,
    opts: &'a SeedOptions,
    profile: BTreeMap<Collection, Vec<IndexKeys>>,
}

impl<'a> MongoSeeder<'a> {
    /// A seeder for a placement with the index profile of `opts`.
    ///
    /// # Errors
    /// [`MongoError::State`] for an unknown index profile.
    pub fn new(
        servers: &'a Servers,
        scenario: &'a Scenario,
        pop: &'a Population,
        placement: &'a Placement,
        opts: &'a SeedOptions,
    ) -> Result<Self, MongoError> {
        let profile = scenario.index_profile(&opts.indexes).ok_or_else(|| {
            MongoError::State(format!("unknown index profile `{}`", opts.indexes))
        })?;
        Ok(MongoSeeder {
            servers,
            scenario,
            pop,
            placement,
            opts,
            profile,
        })
    }

    fn db(&self, i: usize) -> mongodb::Database {
        let d = &self.placement.databases[i];
        self.servers.db(&d.server, &d.name)
    }
}

impl SeedTarget for MongoSeeder<'_> {
    type Error = MongoError;
    const UNIT: &'static str = "docs";

    fn placement(&self) -> &Placement {
        self.placement
    }

    async fn inspect(&self) -> Result<Vec<(DbState, Option<String>)>, MongoError> {
        stream::iter(0..self.placement.databases.len())
            .map(|i| async move { Ok((inspect(&self.db(i)).await?, None)) })
            .buffered(16)
            .try_collect()
            .await
    }

    fn foreign(&self, found: Vec<String>) -> MongoError {
        MongoError::Foreign(found)
    }

    fn state(&self, message: String) -> MongoError {
        MongoError::State(message)
    }

    async fn prepare(&self, dbs: &[(usize, bool)]) -> Result<(), MongoError> {
        stream::iter(dbs.iter().copied())
            .map(|(i, reload)| {
                let d = &self.placement.databases[i];
                let db = self.db(i);
                let marker = new_marker(
                    self.scenario,
                    self.opts.layout,
                    d,
                    self.pop,
                    &self.opts.indexes,
                );
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
        Ok(())
    }

    async fn build_indexes(
        &self,
        dbs: &[usize],
    ) -> Result<Vec<(Collection, String, f64)>, MongoError> {
        build_indexes(self.servers, self.placement, dbs, &self.profile, self.opts).await
    }

    async fn drop_indexes(&self, dbs: &[usize]) -> Result<(), MongoError> {
        stream::iter(dbs.iter().copied())
            .map(|i| {
                let d = &self.placement.databases[i];
                let db = self.db(i);
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
        Ok(())
    }

    async fn load(&self, dbs: &[usize], pb: &ProgressBar) -> Result<(), MongoError> {
        let units = Arc::new(work_units(
            self.pop,
            self.placement,
            dbs,
            self.opts.batch_size,
        ));
        let ids: Arc<Vec<String>> =
            Arc::new(self.pop.tenants.iter().map(|t| t.id.clone()).collect());
        let handles: Vec<(mongodb::Database, String)> = (0..self.placement.databases.len())
            .map(|i| (self.db(i), self.placement.databases[i].name.clone()))
            .collect();
        let seed = self.scenario.seed;
        insert_units(handles, units, self.opts.workers, pb, move |_, u| {
            unit_documents(seed, &ids, u)
        })
        .await
    }

    async fn finish(&self, dbs: &[(usize, Marker, bool)]) -> Result<(), MongoError> {
        stream::iter(dbs.iter())
            .map(|(i, m, _)| {
                let db = self.db(*i);
                async move { write_marker(&db, m).await }
            })
            .buffer_unordered(16)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    async fn sizes(&self) -> Result<(i64, i64), MongoError> {
        let stats = db_sizes(self.servers, self.placement).await?;
        Ok((
            stats.iter().map(|s| s.0).sum(),
            stats.iter().map(|s| s.1).sum(),
        ))
    }

    fn counts(&self) -> (usize, usize) {
        let dbs = self.placement.databases.len();
        let per_db_indexes: usize = self.profile.values().map(Vec::len).sum();
        (dbs * Collection::COUNT, dbs * per_db_indexes)
    }
}

/// Seeds a scenario's population into a placement on MongoDB (see [`shared::seed`]).
///
/// # Errors
/// [`MongoError::Foreign`] for databases the harness did not create; driver errors otherwise.
pub async fn seed(
    servers: &Servers,
    scenario: &Scenario,
    pop: &Population,
    placement: &Placement,
    opts: &SeedOptions,
) -> Result<SeedSummary, MongoError> {
    let t = MongoSeeder::new(servers, scenario, pop, placement, opts)?;
    shared::seed(&t, scenario, pop, opts).await
}

/// Checks, without writing, that a placement's data is there as `seed` would leave it (see
/// [`shared::check_ready`]). Used by `run --worker`, which must not seed.
///
/// # Errors
/// [`MongoError::State`] naming the first database that is not ready; driver errors.
pub async fn check_ready(
    servers: &Servers,
    scenario: &Scenario,
    pop: &Population,
    placement: &Placement,
    opts: &SeedOptions,
) -> Result<SeedSummary, MongoError> {
    let t = MongoSeeder::new(servers, scenario, pop, placement, opts)?;
    shared::check_ready(&t, scenario, &opts.indexes).await
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
                tracing::trace!(
                    database = %name,
                    collection = u.collection.name(),
                    documents = n,
                    "seed: inserted a batch"
                );
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
    profile: &BTreeMap<Collection, Vec<IndexKeys>>,
    opts: &SeedOptions,
) -> Result<Vec<(Collection, String, f64)>, MongoError> {
    let per: usize = profile.values().map(Vec::len).sum();
    let total = (per * dbs.len()) as u64;
    let pb = shared::progress_bar(
        "building indexes",
        "indexes",
        total,
        opts.progress && total > 0,
    );
    let pb = &pb;
    let per_db: Vec<Vec<(Collection, String, f64)>> = stream::iter(dbs.iter().copied())
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
                        times.push((*c, keys_label(keys), t.elapsed().as_secs_f64()));
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
