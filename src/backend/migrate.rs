//! Moving one tenant to another placement, written once for every database (the seeds' path:
//! 002's promotion of a growing tenant, 004 §4.2's copy, compare, flip): inspect the
//! destination (refuse what is not ours, resume what a killed migration left), copy the tenant's
//! records collection by collection in `_id` order from a checkpoint kept in the destination,
//! build its index profile, catch up with what changed meanwhile, freeze the tenant, catch up
//! again, verify counts and order-independent checksums (the ones `verify` uses) of source and
//! destination, cut over in the tenant directory, and delete the source when asked. A database
//! kind supplies the primitives ([`MigrateTarget`]); this module decides their order.
//!
//! Writes during the copy are captured by comparison, not by a change stream: the catch-up reads
//! the tenant's records on both sides and re-copies what differs, so it finds every change
//! whoever made it. Under the freeze (the tenant directory's gate, [`crate::directory`]) no
//! operation routed through this process can change the source between that last catch-up and
//! the cut-over; writers in other processes must be stopped by their owner (`migrate` says so).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::Dataset;
use super::marker::{DbState, definition_hash};
use super::seed::progress_bar;
use crate::datagen::{Collection, Digest};
use crate::directory::Directory;
use crate::layout::{Move, Placement, PlacementKind};

/// One tenant's move, as the command or the trial resolved it.
#[derive(Debug, Clone, Copy)]
pub struct MoveSpec<'a> {
    /// The data: its placement is where every tenant lives now (the directory applied), with
    /// the destination in it.
    pub data: Dataset<'a>,
    /// The tenant's index.
    pub tenant: usize,
    /// The destination's index in `placement.databases`.
    pub to: usize,
    /// Where the layout's rules place the tenant: a move back there removes its directory
    /// entry.
    pub rules_db: &'a str,
    /// The index profile the destination gets (the source's).
    pub indexes: &'a str,
}

impl MoveSpec<'_> {
    /// The tenant's id.
    pub fn tenant_id(&self) -> &str {
        &self.data.pop.tenants[self.tenant].id
    }

    /// The database the tenant is moved from.
    pub fn from(&self) -> usize {
        self.data.placement.tenant_db[self.tenant]
    }

    /// The source database's name.
    pub fn source_name(&self) -> &str {
        &self.data.placement.databases[self.from()].name
    }

    /// The destination database's name.
    pub fn destination_name(&self) -> &str {
        &self.data.placement.databases[self.to].name
    }

    /// The destination's placement kind.
    pub fn kind(&self) -> PlacementKind {
        self.data.placement.databases[self.to].kind
    }

    /// The destination alone as a placement holding the tenant: what the seeding steps
    /// (create, index build, completion) take.
    pub fn destination_placement(&self) -> Placement {
        let mut d = self.data.placement.databases[self.to].clone();
        d.tenants = vec![self.tenant];
        d.moved_out.clear();
        Placement {
            layout: self.data.placement.layout,
            databases: vec![d],
            tenant_db: vec![0; self.data.pop.tenants.len()],
        }
    }

    /// The destination's tenants once this one is in.
    pub fn destination_tenants(&self) -> Vec<usize> {
        let mut t = self.data.placement.databases[self.to].tenants.clone();
        if !t.contains(&self.tenant) {
            t.push(self.tenant);
        }
        t
    }

    /// The destination's marker once the tenant is in it: complete, counting its tenants and
    /// their records; `dirty` when the source or the destination was (a copy of written data
    /// is not what the generator says either).
    pub fn destination_marker(&self, dirty: bool) -> super::marker::Marker {
        let d = &self.data.placement.databases[self.to];
        let mut m = super::marker::new_marker(
            self.data.scenario,
            self.data.placement.layout,
            d,
            self.data.pop,
            self.indexes,
        );
        let tenants = self.destination_tenants();
        m.tenants = tenants.len() as u64;
        m.records = tenants
            .iter()
            .map(|&t| self.data.pop.tenants[t].documents)
            .sum();
        m.complete = true;
        m.dirty = dirty;
        m
    }
}

/// How the tenant's writes during the copy are kept: the only method built.
pub const METHOD: &str = "write-freeze";

/// How to migrate.
pub struct MigrateOptions {
    /// Records per copy batch.
    pub batch_size: usize,
    /// Records per second the copy may not exceed (`None`: as fast as the servers take it).
    pub copy_rate: Option<f64>,
    /// Delete the tenant's records from the source after the cut-over.
    pub delete_source: bool,
    /// Draw a progress bar.
    pub progress: bool,
    /// A fault to inject (tests of what verification and resumption catch).
    pub fault: Option<Fault>,
}

impl Default for MigrateOptions {
    fn default() -> Self {
        MigrateOptions {
            batch_size: 1000,
            copy_rate: None,
            delete_source: false,
            progress: false,
            fault: None,
        }
    }
}

/// A fault injected into a migration, for tests.
pub enum Fault {
    /// Stop after copying at least this many records, as a killed process would: the
    /// checkpoint stays, the directory is unchanged.
    StopAfter(u64),
    /// Runs after the last catch-up, just before verification (e.g. corrupts the copy).
    BeforeVerify(Box<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>),
}

/// Which copy of the tenant's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Where the tenant lives before the cut-over.
    Source,
    /// Where it moves to.
    Destination,
}

/// How far a copy got, kept in the destination after every batch, so a killed migration
/// continues without duplicates or gaps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The tenant being moved.
    pub tenant: String,
    /// The database it is copied from.
    pub source: String,
    /// Per collection: the last `_id` copied (records are copied in `_id` order).
    pub last: BTreeMap<String, String>,
    /// Collections copied to their end.
    pub done: Vec<String>,
    /// Records copied so far.
    pub copied: u64,
}

/// Counts and checksums of one collection of the tenant on both sides, after the last
/// catch-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CollectionCheck {
    /// Collection.
    pub collection: Collection,
    /// Records in the source.
    pub source: u64,
    /// Records read back from the destination.
    pub destination: u64,
    /// Whether the order-independent checksums agree.
    pub checksum_matches: bool,
}

impl CollectionCheck {
    /// Whether the destination holds exactly the source's records.
    pub fn ok(&self) -> bool {
        self.source == self.destination && self.checksum_matches
    }
}

/// What a migration did.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationReport {
    /// Tenant id.
    pub tenant: String,
    /// Source database.
    pub from: String,
    /// Destination database.
    pub to: String,
    /// Destination placement kind.
    pub kind: PlacementKind,
    /// How writes during the copy were kept ([`METHOD`]).
    pub method: &'static str,
    /// Whether it continued a checkpoint a stopped migration left.
    pub resumed: bool,
    /// Records the checkpoint said were copied already.
    pub resumed_at: u64,
    /// Records copied by this run's bulk copy.
    pub copied: u64,
    /// Seconds of the bulk copy.
    pub copy_s: f64,
    /// Records re-copied or removed by the catch-ups (writes during the copy).
    pub caught_up: u64,
    /// Seconds the tenant's operations were held (the freeze: last catch-up, verification,
    /// cut-over).
    pub freeze_s: f64,
    /// Seconds from the start to the cut-over (or to the failed verification).
    pub cut_over_s: f64,
    /// Per collection, source and destination after the last catch-up.
    pub checks: Vec<CollectionCheck>,
    /// Whether every collection verified.
    pub verified: bool,
    /// The directory version of the cut-over (`None`: no cut-over).
    pub version: Option<u64>,
    /// Records deleted from the source after the cut-over (`None`: kept).
    pub deleted_source: Option<u64>,
}

impl MigrationReport {
    /// Bulk-copy throughput, records per second.
    pub fn copy_rate(&self) -> f64 {
        if self.copy_s > 0.0 {
            self.copied as f64 / self.copy_s
        } else {
            0.0
        }
    }
}

/// What a database kind does for [`migrate`]: the tenant, its source and its destination are
/// fixed when the target is made. Called by `migrate` only, in the order its doc gives.
// The harness awaits migrations on its own task, so the futures need no `Send` bound.
#[allow(async_fn_in_trait)]
pub trait MigrateTarget {
    /// The database kind's error.
    type Error;
    /// What progress bars count: `docs` or `rows`.
    const UNIT: &'static str;

    /// The move it carries out: tenant, source, destination and where the rules put the
    /// tenant all come from it.
    fn spec(&self) -> &MoveSpec<'_>;

    /// The error for a refusal or a state a step cannot go on from.
    fn state(&self, message: String) -> Self::Error;

    /// Records of the tenant in the source, per collection.
    async fn source_counts(&self) -> Result<Vec<(Collection, u64)>, Self::Error>;

    /// The destination's state, and the checkpoint of this tenant's migration in it, if any.
    async fn inspect_destination(&self) -> Result<(DbState, Option<Checkpoint>), Self::Error>;

    /// Makes the destination ready to copy into: when `create`, a new database with an
    /// incomplete marker and empty collections (tables); in any case, what the tenant needs
    /// there besides its records (PostgreSQL: its `tenants` row).
    async fn create_destination(&self, create: bool) -> Result<(), Self::Error>;

    /// Copies up to `limit` of the tenant's records of collection `c` whose `_id` follows
    /// `after`, in `_id` order, into the destination (a record already there is left as it is);
    /// returns the number read and the last `_id`.
    async fn copy_batch(
        &self,
        c: Collection,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(u64, Option<String>), Self::Error>;

    /// Saves the checkpoint in the destination (`None`: removes it).
    async fn save_checkpoint(&self, cp: Option<&Checkpoint>) -> Result<(), Self::Error>;

    /// Builds the destination's index profile where it is missing (idempotent), and what else
    /// it needs before the cut-over (PostgreSQL: foreign keys, statistics); the seconds.
    async fn build_indexes(&self) -> Result<f64, Self::Error>;

    /// The tenant's records of collection `c` on one side: `_id` → canonical hash (the one
    /// `verify` sums).
    async fn hashes(&self, side: Side, c: Collection)
    -> Result<HashMap<String, u128>, Self::Error>;

    /// Copies these records from the source over the destination's (replacing them) and
    /// removes those from the destination.
    async fn repair(
        &self,
        c: Collection,
        copy: &[String],
        remove: &[String],
    ) -> Result<(), Self::Error>;

    /// After verification: the destination's marker complete, counting the tenant.
    async fn complete_destination(&self) -> Result<(), Self::Error>;

    /// The tenant directory of the layout's home database: its version and moves.
    async fn read_directory(&self) -> Result<(u64, Vec<Move>), Self::Error>;

    /// Replaces the tenant directory of the layout's home database (the cut-over).
    async fn write_directory(&self, version: u64, moves: &[Move]) -> Result<(), Self::Error>;

    /// Deletes the tenant's records from the source; the number deleted. The source stays
    /// clean: with the directory applied it holds what the generator says; the directory's
    /// `emptied` makes a reset reload it.
    async fn delete_source(&self) -> Result<u64, Self::Error>;
}

/// A migration inside a run: the backend's directory, the tenant's index and the destination's
/// index among the backend's databases.
#[derive(Clone, Copy)]
pub struct Live<'a> {
    /// The directory the trial's backend routes by.
    pub directory: &'a Directory,
    /// The tenant's index.
    pub tenant: usize,
    /// The destination's index in the backend's databases.
    pub to: usize,
}

/// Moves the tenant of `t`, inside a run when `live` is given (its operations are frozen
/// around the cut-over and then routed to the destination).
///
/// Returns the report also when verification fails: nothing is cut over then, the directory
/// and the source are unchanged, and the destination stays incomplete.
///
/// # Errors
/// The target's refusal (a destination that is not ours, or holds other data), its errors, and
/// a stop by [`Fault::StopAfter`] (the checkpoint stays for the next run).
pub async fn migrate<T: MigrateTarget>(
    t: &T,
    opts: &MigrateOptions,
    live: Option<Live<'_>>,
) -> Result<MigrationReport, T::Error> {
    let started = Instant::now();
    let spec = t.spec();
    let (state, checkpoint) = t.inspect_destination().await?;
    let exists = admitted(t, &state)?;
    let resumed = checkpoint
        .as_ref()
        .is_some_and(|c| c.tenant == spec.tenant_id() && c.source == spec.source_name());
    let mut cp = match checkpoint {
        Some(c) if resumed => c,
        _ => Checkpoint {
            tenant: spec.tenant_id().to_string(),
            source: spec.source_name().to_string(),
            ..Checkpoint::default()
        },
    };
    let resumed_at = cp.copied;
    t.create_destination(!exists).await?;
    if let Some(d) = live {
        d.directory.set_movable();
    }

    // 1. The bulk copy, from the checkpoint, batch by batch, at most at the rate.
    let copy_started = Instant::now();
    let copied = bulk_copy(t, opts, &mut cp).await?;
    let copy_s = copy_started.elapsed().as_secs_f64();

    // 2. Indexes, then a first catch-up while the tenant still runs.
    t.build_indexes().await?;
    let (mut caught_up, _) = catch_up(t).await?;

    // 3. The freeze: last catch-up, verification, cut-over.
    let guard = match live {
        Some(d) => Some(d.directory.freeze(d.tenant).await),
        None => None,
    };
    let frozen = Instant::now();
    let (n, source) = catch_up(t).await?;
    caught_up += n;
    if let Some(Fault::BeforeVerify(f)) = &opts.fault {
        f().await;
    }
    let checks = compared(t, &source).await?;
    let verified = checks.iter().all(CollectionCheck::ok);
    let mut report = MigrationReport {
        tenant: spec.tenant_id().to_string(),
        from: spec.source_name().to_string(),
        to: spec.destination_name().to_string(),
        kind: spec.kind(),
        method: METHOD,
        resumed,
        resumed_at,
        copied,
        copy_s,
        caught_up,
        freeze_s: 0.0,
        cut_over_s: 0.0,
        checks,
        verified,
        version: None,
        deleted_source: None,
    };
    if verified {
        report.version = Some(cut_over(t, opts, live).await?);
    }
    drop(guard);
    report.freeze_s = frozen.elapsed().as_secs_f64();
    report.cut_over_s = started.elapsed().as_secs_f64();
    if !verified {
        return Ok(report);
    }
    t.save_checkpoint(None).await?;
    if opts.delete_source {
        report.deleted_source = Some(t.delete_source().await?);
    }
    Ok(report)
}

/// Whether the destination may receive the tenant, and whether it exists already: empty, or
/// marked by this scenario's prefix and definition (a stopped migration's); anything else is
/// refused.
pub(super) fn admitted<T: MigrateTarget>(t: &T, state: &DbState) -> Result<bool, T::Error> {
    let spec = t.spec();
    let hash = definition_hash(spec.data.scenario, spec.data.placement.layout);
    match state {
        DbState::Empty => Ok(false),
        DbState::Foreign => Err(t.state(format!(
            "refusing to migrate into {}: it exists without a tenantbench marker (not created by tenantbench)",
            spec.destination_name()
        ))),
        DbState::Marked(m) if m.prefix != spec.data.scenario.prefix.as_str() => Err(t.state(format!(
            "refusing to migrate into {}: it carries the marker of prefix `{}`, not `{}`",
            spec.destination_name(),
            m.prefix,
            spec.data.scenario.prefix.as_str()
        ))),
        DbState::Marked(m) if m.definition_hash != hash.as_str() => Err(t.state(format!(
            "refusing to migrate into {}: it holds data of another definition (marker {}, scenario {})",
            spec.destination_name(),
            m.definition_hash,
            hash.as_str()
        ))),
        DbState::Marked(_) => Ok(true),
    }
}

/// Copies the tenant's records from the checkpoint `cp` on, batch by batch, at most at
/// `opts.copy_rate`, saving the checkpoint after every batch; returns the records copied now.
async fn bulk_copy<T: MigrateTarget>(
    t: &T,
    opts: &MigrateOptions,
    cp: &mut Checkpoint,
) -> Result<u64, T::Error> {
    let total: u64 = t.source_counts().await?.iter().map(|(_, n)| n).sum();
    let pb = progress_bar(
        &format!("copying {}", t.spec().tenant_id()),
        T::UNIT,
        total,
        opts.progress,
    );
    pb.set_position(cp.copied.min(total));
    let started = Instant::now();
    let mut copied = 0u64;
    let batch = opts.batch_size.max(1);
    for c in Collection::ALL {
        let name = c.name().to_string();
        if cp.done.contains(&name) {
            continue;
        }
        loop {
            let after = cp.last.get(&name).cloned();
            let (n, last) = t.copy_batch(c, after.as_deref(), batch).await?;
            if let Some(l) = last {
                cp.last.insert(name.clone(), l);
            }
            cp.copied += n;
            copied += n;
            if (n as usize) < batch {
                cp.done.push(name.clone());
            }
            t.save_checkpoint(Some(cp)).await?;
            pb.inc(n);
            if let Some(Fault::StopAfter(k)) = &opts.fault
                && copied >= *k
            {
                pb.finish_and_clear();
                return Err(t.state(format!(
                    "migration stopped after {copied} records (injected fault); the checkpoint is kept"
                )));
            }
            if let Some(rate) = opts.copy_rate.filter(|r| *r > 0.0) {
                let due = Duration::from_secs_f64(copied as f64 / rate);
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    tokio::time::sleep(wait).await;
                }
            }
            if (n as usize) < batch {
                break;
            }
        }
    }
    pb.finish_and_clear();
    Ok(copied)
}

/// Each collection's count and checksum in the destination against the source's (`source`,
/// from the last catch-up).
async fn compared<T: MigrateTarget>(
    t: &T,
    source: &HashMap<Collection, Digest>,
) -> Result<Vec<CollectionCheck>, T::Error> {
    let mut checks = Vec::new();
    for c in Collection::ALL {
        let dest = digest(&t.hashes(Side::Destination, c).await?);
        let src = source.get(&c).copied().unwrap_or_default();
        checks.push(CollectionCheck {
            collection: c,
            source: src.count,
            destination: dest.count,
            checksum_matches: src.checksum == dest.checksum,
        });
    }
    Ok(checks)
}

/// The cut-over of a verified copy: the destination marked complete, the move recorded in the
/// tenant directory, and inside a run the tenant routed to the destination; returns the
/// directory's new version.
async fn cut_over<T: MigrateTarget>(
    t: &T,
    opts: &MigrateOptions,
    live: Option<Live<'_>>,
) -> Result<u64, T::Error> {
    let spec = t.spec();
    t.complete_destination().await?;
    // The source is named as emptied before it is: a stop in between only makes the next
    // reset reload a database that still had the records.
    let m = Move {
        tenant: spec.tenant_id().to_string(),
        database: spec.destination_name().to_string(),
        kind: spec.kind(),
        version: 0,
        emptied: if opts.delete_source {
            vec![spec.source_name().to_string()]
        } else {
            Vec::new()
        },
    };
    let (version, moves) = t.read_directory().await?;
    let (version, moves) = recorded(version, moves, m, spec.rules_db);
    t.write_directory(version, &moves).await?;
    if let Some(d) = live {
        d.directory.route(d.tenant, d.to);
    }
    Ok(version)
}

/// The directory after a move: one version more; the tenant's entry replaced, keeping the
/// databases its earlier moves emptied, or removed when the move brings it back where the
/// layout's rules place it (`rules_db`).
pub fn recorded(version: u64, mut moves: Vec<Move>, m: Move, rules_db: &str) -> (u64, Vec<Move>) {
    let version = version + 1;
    let mut emptied = m.emptied.clone();
    for old in moves.iter().filter(|x| x.tenant == m.tenant) {
        emptied.extend(old.emptied.iter().cloned());
    }
    emptied.sort();
    emptied.dedup();
    moves.retain(|x| x.tenant != m.tenant);
    if m.database != rules_db {
        moves.push(Move {
            version,
            emptied,
            ..m
        });
    }
    (version, moves)
}

/// Re-copies what differs between the tenant's records in source and destination and removes
/// what the source no longer has; the number of records re-copied or removed, and the source's
/// digest per collection as it was read.
async fn catch_up<T: MigrateTarget>(t: &T) -> Result<(u64, HashMap<Collection, Digest>), T::Error> {
    let mut changed = 0u64;
    let mut digests = HashMap::new();
    for c in Collection::ALL {
        let src = t.hashes(Side::Source, c).await?;
        let dst = t.hashes(Side::Destination, c).await?;
        let mut copy: Vec<String> = src
            .iter()
            .filter(|(id, h)| dst.get(*id) != Some(h))
            .map(|(id, _)| id.clone())
            .collect();
        let mut remove: Vec<String> = dst
            .keys()
            .filter(|id| !src.contains_key(*id))
            .cloned()
            .collect();
        if !copy.is_empty() || !remove.is_empty() {
            copy.sort();
            remove.sort();
            t.repair(c, &copy, &remove).await?;
            changed += (copy.len() + remove.len()) as u64;
        }
        digests.insert(c, digest(&src));
    }
    Ok((changed, digests))
}

/// The count and order-independent checksum of a side's hashes.
fn digest(hashes: &HashMap<String, u128>) -> Digest {
    let mut d = Digest::default();
    for h in hashes.values() {
        d.add(*h);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mv(tenant: &str, database: &str, emptied: &[&str]) -> Move {
        Move {
            tenant: tenant.into(),
            database: database.into(),
            kind: PlacementKind::Dedicated,
            version: 0,
            emptied: emptied.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn the_directory_keeps_what_moves_emptied_and_forgets_a_tenant_moved_back() {
        let (v, moves) = recorded(0, Vec::new(), mv("t1", "mv_t1", &["shared"]), "shared");
        assert_eq!(v, 1);
        assert_eq!(moves[0].version, 1);
        // Moved on from its dedicated database to a pool: the shared copy stays emptied.
        let (v, moves) = recorded(v, moves, mv("t1", "pool_1", &["mv_t1"]), "shared");
        assert_eq!((v, moves.len()), (2, 1));
        assert_eq!(moves[0].database, "pool_1");
        assert_eq!(moves[0].emptied, ["mv_t1", "shared"]);
        // Another tenant's move leaves it alone; moving t1 back home removes its entry.
        let (v, moves) = recorded(v, moves, mv("t2", "mv_t2", &[]), "shared");
        let (v, moves) = recorded(v, moves, mv("t1", "shared", &[]), "shared");
        assert_eq!(v, 4);
        assert_eq!(
            moves,
            vec![Move {
                version: 3,
                ..mv("t2", "mv_t2", &[])
            }]
        );
    }
}
