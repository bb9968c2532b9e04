//! Migration on MongoDB: the primitives of [`MigrateTarget`] — a tenant's documents copied in
//! `_id` order with unordered `insert_many` (duplicates of a resumed batch ignored), the
//! checkpoint and the tenant directory as documents of the `_tenantbench` collection, hashes
//! in `verify`'s canonical form — for the procedure shared by every database kind.

use std::collections::HashMap;

use futures_util::{StreamExt, TryStreamExt, stream};
use mongodb::Database;
use mongodb::bson::{self, Document, RawDocumentBuf, doc};

use super::ConnectOptions;
use super::MongoDriver;
use super::client;
use super::verify::hash_raw;
use super::{Context, MARKER_COLLECTION, MongoError, MongoSeeder, Servers, inspect, write_marker};
use crate::backend::marker::DbState;
use crate::backend::migrate;
use crate::backend::migrate::Live;
use crate::backend::migrate::MigrateOptions;
use crate::backend::migrate::MigrationReport;
use crate::backend::migrate::{Checkpoint, MigrateTarget, MoveSpec, Side};
use crate::backend::migration_plan::{self, MovePlan};
use crate::backend::seed::{SeedOptions, SeedTarget};
use crate::datagen::{CanonicalEncoder, Collection};
use crate::layout::Move;
use crate::layout::Placement;

/// The `_id` of the tenant directory's document in the home database's `_tenantbench`.
const DIRECTORY_ID: &str = "directory";

/// The directory document as stored.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct StoredDirectory {
    version: u64,
    moves: Vec<Move>,
}

/// Reads the tenant directory of a home database: its version and moves (none when absent).
///
/// # Errors
/// Driver errors; a directory document that does not parse.
pub async fn read_directory(home: &Database) -> Result<(u64, Vec<Move>), MongoError> {
    let raw: Option<Document> = home
        .collection::<Document>(MARKER_COLLECTION)
        .find_one(doc! {"_id": DIRECTORY_ID})
        .await
        .ctx(|| format!("reading the tenant directory of {}", home.name()))?;
    let Some(mut d) = raw else {
        return Ok((0, Vec::new()));
    };
    d.remove("_id");
    let s: StoredDirectory = bson::from_document(d).map_err(|e| {
        MongoError::State(format!(
            "the tenant directory of {} does not parse: {e}",
            home.name()
        ))
    })?;
    Ok((s.version, s.moves))
}

/// Removes the tenant directory of a home database (its tenants are where the rules put
/// them again).
///
/// # Errors
/// Driver errors.
pub async fn clear_directory(home: &Database) -> Result<(), MongoError> {
    home.collection::<Document>(MARKER_COLLECTION)
        .delete_one(doc! {"_id": DIRECTORY_ID})
        .await
        .ctx(|| format!("clearing the tenant directory of {}", home.name()))?;
    Ok(())
}

/// One tenant's move on MongoDB servers.
pub struct MongoMigration<'a> {
    servers: &'a Servers,
    spec: &'a MoveSpec<'a>,
    from: usize,
}

impl<'a> MongoMigration<'a> {
    /// The move `spec` on `servers`.
    pub fn new(servers: &'a Servers, spec: &'a MoveSpec<'a>) -> MongoMigration<'a> {
        MongoMigration {
            servers,
            spec,
            from: spec.from(),
        }
    }

    fn db(&self, i: usize) -> Database {
        let d = &self.spec.data.placement.databases[i];
        self.servers.db(&d.server, &d.name)
    }

    fn side(&self, side: Side) -> Database {
        self.db(match side {
            Side::Source => self.from,
            Side::Destination => self.spec.to,
        })
    }

    fn id(&self) -> &str {
        self.spec.tenant_id()
    }

    fn checkpoint_id(&self) -> String {
        format!("migration:{}", self.id())
    }

    fn seed_options(&self) -> SeedOptions {
        let s = self.spec;
        SeedOptions::from_scenario(s.data.scenario, s.data.placement.layout, s.indexes)
    }

    /// The layout's home database, which keeps the tenant directory.
    fn home(&self) -> Result<Database, MongoError> {
        let home = self
            .spec
            .data
            .placement
            .home()
            .ok_or_else(|| MongoError::State("this layout has no home database".into()))?;
        Ok(self.db(home))
    }

    /// Runs `f` on a seeder of the destination alone.
    async fn with_seeder<T>(
        &self,
        f: impl AsyncFnOnce(&MongoSeeder<'_>) -> Result<T, MongoError>,
    ) -> Result<T, MongoError> {
        let s = self.spec;
        let pl = s.destination_placement();
        let opts = self.seed_options();
        let seeder = MongoSeeder::new(self.servers, s.data.scenario, s.data.pop, &pl, &opts)?;
        f(&seeder).await
    }
}

/// Whether a driver error is only duplicate keys of an unordered insert (a resumed batch).
fn only_duplicates(e: &mongodb::error::Error) -> bool {
    use mongodb::error::ErrorKind;
    match &*e.kind {
        ErrorKind::InsertMany(f) => {
            f.write_concern_error.is_none()
                && f.write_errors
                    .as_ref()
                    .is_some_and(|w| w.iter().all(|x| x.code == 11000))
        }
        ErrorKind::Write(mongodb::error::WriteFailure::WriteError(w)) => w.code == 11000,
        _ => false,
    }
}

impl MigrateTarget for MongoMigration<'_> {
    type Error = MongoError;
    const UNIT: &'static str = "docs";

    fn spec(&self) -> &MoveSpec<'_> {
        self.spec
    }

    fn state(&self, message: String) -> MongoError {
        MongoError::State(message)
    }

    async fn source_counts(&self) -> Result<Vec<(Collection, u64)>, MongoError> {
        let db = self.side(Side::Source);
        let mut out = Vec::new();
        for c in Collection::ALL {
            let n = db
                .collection::<Document>(c.name())
                .count_documents(doc! {"tenant": self.id()})
                .await
                .ctx(|| format!("counting {}'s {} in {}", self.id(), c.name(), db.name()))?;
            out.push((c, n));
        }
        Ok(out)
    }

    async fn inspect_destination(&self) -> Result<(DbState, Option<Checkpoint>), MongoError> {
        let db = self.side(Side::Destination);
        let state = inspect(&db).await?;
        if !matches!(state, DbState::Marked(_)) {
            return Ok((state, None));
        }
        let raw: Option<Document> = db
            .collection::<Document>(MARKER_COLLECTION)
            .find_one(doc! {"_id": self.checkpoint_id()})
            .await
            .ctx(|| format!("reading the migration checkpoint in {}", db.name()))?;
        let cp = raw
            .and_then(|d| d.get_str("state").ok().map(str::to_string))
            .and_then(|s| serde_json::from_str(&s).ok());
        Ok((state, cp))
    }

    async fn create_destination(&self, create: bool) -> Result<(), MongoError> {
        if create {
            self.with_seeder(async |s| s.prepare(&[(0, false)]).await)
                .await?;
        }
        Ok(())
    }

    async fn copy_batch(
        &self,
        c: Collection,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(u64, Option<String>), MongoError> {
        let (src, dst) = (self.side(Side::Source), self.side(Side::Destination));
        let filter = match after {
            Some(a) => doc! {"tenant": self.id(), "_id": {"$gt": a}},
            None => doc! {"tenant": self.id()},
        };
        let docs: Vec<RawDocumentBuf> = src
            .collection::<RawDocumentBuf>(c.name())
            .find(filter)
            .sort(doc! {"_id": 1})
            .limit(limit as i64)
            .batch_size(limit.min(10_000) as u32)
            .await
            .ctx(|| format!("reading {}.{}", src.name(), c.name()))?
            .try_collect()
            .await
            .ctx(|| format!("reading {}.{}", src.name(), c.name()))?;
        let last = docs
            .last()
            .and_then(|d| d.get_str("_id").ok().map(str::to_string));
        let n = docs.len() as u64;
        if !docs.is_empty() {
            let r = dst
                .collection::<RawDocumentBuf>(c.name())
                .insert_many(docs)
                .ordered(false)
                .await;
            if let Err(e) = r
                && !only_duplicates(&e)
            {
                return Err(MongoError::Driver {
                    context: format!("copying into {}.{}", dst.name(), c.name()),
                    error: e,
                });
            }
        }
        Ok((n, last))
    }

    async fn save_checkpoint(&self, cp: Option<&Checkpoint>) -> Result<(), MongoError> {
        let db = self.side(Side::Destination);
        let coll = db.collection::<Document>(MARKER_COLLECTION);
        let id = self.checkpoint_id();
        match cp {
            Some(cp) => {
                let state = serde_json::to_string(cp)
                    .map_err(|e| MongoError::State(format!("encoding the checkpoint: {e}")))?;
                coll.update_one(
                    doc! {"_id": &id},
                    doc! {"$set": {"state": state, "updatedAt": bson::DateTime::now()}},
                )
                .upsert(true)
                .await
                .ctx(|| format!("saving the migration checkpoint in {}", db.name()))?;
            }
            None => {
                coll.delete_one(doc! {"_id": &id})
                    .await
                    .ctx(|| format!("removing the migration checkpoint in {}", db.name()))?;
            }
        }
        Ok(())
    }

    async fn build_indexes(&self) -> Result<f64, MongoError> {
        let t = std::time::Instant::now();
        // createIndex with the same keys is a no-op where the index exists.
        self.with_seeder(async |s| s.build_indexes(&[0]).await)
            .await?;
        Ok(t.elapsed().as_secs_f64())
    }

    async fn hashes(&self, side: Side, c: Collection) -> Result<HashMap<String, u128>, MongoError> {
        let db = self.side(side);
        let what = || format!("reading {}.{}", db.name(), c.name());
        let mut cursor = db
            .collection::<RawDocumentBuf>(c.name())
            .find(doc! {"tenant": self.id()})
            .batch_size(10_000)
            .await
            .ctx(what)?;
        let mut enc = CanonicalEncoder::default();
        let mut out = HashMap::new();
        while let Some(d) = cursor.try_next().await.ctx(what)? {
            let id = d.get_str("_id").unwrap_or("<no _id>").to_string();
            out.insert(id, hash_raw(&mut enc, &d));
        }
        Ok(out)
    }

    async fn repair(
        &self,
        c: Collection,
        copy: &[String],
        remove: &[String],
    ) -> Result<(), MongoError> {
        let (src, dst) = (self.side(Side::Source), self.side(Side::Destination));
        let dcoll = dst.collection::<RawDocumentBuf>(c.name());
        for chunk in copy.chunks(1000) {
            let docs: Vec<RawDocumentBuf> = src
                .collection::<RawDocumentBuf>(c.name())
                .find(doc! {"tenant": self.id(), "_id": {"$in": chunk}})
                .await
                .ctx(|| format!("reading {}.{}", src.name(), c.name()))?
                .try_collect()
                .await
                .ctx(|| format!("reading {}.{}", src.name(), c.name()))?;
            stream::iter(docs)
                .map(|d| {
                    let dcoll = dcoll.clone();
                    async move {
                        let id = d.get_str("_id").unwrap_or_default().to_string();
                        dcoll
                            .replace_one(doc! {"_id": id}, d)
                            .upsert(true)
                            .await
                            .map(|_| ())
                    }
                })
                .buffer_unordered(16)
                .try_collect::<Vec<()>>()
                .await
                .ctx(|| format!("catching up {}.{}", dst.name(), c.name()))?;
        }
        for chunk in remove.chunks(1000) {
            dst.collection::<Document>(c.name())
                .delete_many(doc! {"_id": {"$in": chunk}})
                .await
                .ctx(|| format!("catching up {}.{}", dst.name(), c.name()))?;
        }
        Ok(())
    }

    async fn complete_destination(&self) -> Result<(), MongoError> {
        let dirty = |st: DbState| matches!(st, DbState::Marked(x) if x.dirty);
        let m = self.spec.destination_marker(
            dirty(inspect(&self.side(Side::Source)).await?)
                || dirty(inspect(&self.side(Side::Destination)).await?),
        );
        write_marker(&self.side(Side::Destination), &m).await
    }

    async fn read_directory(&self) -> Result<(u64, Vec<Move>), MongoError> {
        read_directory(&self.home()?).await
    }

    async fn write_directory(&self, version: u64, moves: &[Move]) -> Result<(), MongoError> {
        let home = self.home()?;
        let stored = bson::to_bson(moves)
            .map_err(|e| MongoError::State(format!("encoding the tenant directory: {e}")))?;
        home.collection::<Document>(MARKER_COLLECTION)
            .update_one(
                doc! {"_id": DIRECTORY_ID},
                doc! {"$set": {"version": version as i64, "moves": stored, "updatedAt": bson::DateTime::now()}},
            )
            .upsert(true)
            .await
            .ctx(|| format!("writing the tenant directory of {}", home.name()))?;
        Ok(())
    }

    async fn delete_source(&self) -> Result<u64, MongoError> {
        let db = self.side(Side::Source);
        let mut n = 0;
        for c in Collection::ALL {
            n += db
                .collection::<Document>(c.name())
                .delete_many(doc! {"tenant": self.id()})
                .await
                .ctx(|| format!("deleting {}'s {} from {}", self.id(), c.name(), db.name()))?
                .deleted_count;
        }
        Ok(n)
    }
}

impl crate::backend::Migrate for MongoDriver {
    async fn directory(&self, placement: &Placement) -> Result<(u64, Vec<Move>), MongoError> {
        let Some(home) = placement.home() else {
            return Ok((0, Vec::new()));
        };
        let name = &placement.databases[home].name;
        let c = client(&self.uri, &ConnectOptions::default()).await?;
        let db = c.database(name);
        let r = match super::inspect(&db).await {
            Ok(DbState::Marked(_)) => super::read_directory(&db).await,
            Ok(_) => Ok((0, Vec::new())),
            Err(e) => Err(e),
        };
        c.shutdown().await;
        r
    }

    async fn reset_moves(
        &self,
        prefix: &str,
        placement: &Placement,
    ) -> Result<Vec<String>, MongoError> {
        let Some(stem) = crate::layout::moved_prefix(prefix, placement.layout) else {
            return Ok(Vec::new());
        };
        let c = client(&self.uri, &ConnectOptions::default()).await?;
        let r = async {
            let mut dropped = Vec::new();
            let names = c
                .list_database_names()
                .await
                .ctx(|| "listing databases".to_string())?;
            for name in names.into_iter().filter(|n| n.starts_with(&stem)) {
                let db = c.database(&name);
                if let DbState::Marked(m) = super::inspect(&db).await?
                    && m.prefix == prefix
                {
                    db.drop().await.ctx(|| format!("dropping {name}"))?;
                    dropped.push(name);
                }
            }
            if let Some(home) = placement.home() {
                let db = c.database(&placement.databases[home].name);
                if let DbState::Marked(m) = super::inspect(&db).await?
                    && m.prefix == prefix
                {
                    // Databases a move emptied of its tenant are reloaded by the next seed.
                    let (_, moves) = super::read_directory(&db).await?;
                    for name in moves.iter().flat_map(|m| &m.emptied) {
                        let e = c.database(name);
                        if !name.starts_with(&stem)
                            && matches!(super::inspect(&e).await?, DbState::Marked(x) if x.prefix == prefix)
                        {
                            e.collection::<mongodb::bson::Document>(super::MARKER_COLLECTION)
                                .update_one(
                                    mongodb::bson::doc! {"_id": "marker"},
                                    mongodb::bson::doc! {"$set": {"dirty": true}},
                                )
                                .await
                                .ctx(|| format!("marking {name} dirty"))?;
                        }
                    }
                    super::clear_directory(&db).await?;
                }
            }
            Ok(dropped)
        }
        .await;
        c.shutdown().await;
        r
    }

    async fn migrate(
        &self,
        spec: &MoveSpec<'_>,
        opts: &MigrateOptions,
        live: Option<Live<'_>>,
    ) -> Result<MigrationReport, MongoError> {
        self.with_servers(spec.data.placement, &Self::seeding(4), async |s| {
            migrate::migrate(&super::MongoMigration::new(s, spec), opts, live).await
        })
        .await
    }

    async fn plan_migration(
        &self,
        spec: &MoveSpec<'_>,
        opts: &MigrateOptions,
    ) -> Result<MovePlan, MongoError> {
        self.with_servers(spec.data.placement, &ConnectOptions::default(), async |s| {
            migration_plan::dry_run(&super::MongoMigration::new(s, spec), opts).await
        })
        .await
    }
}
