//! The tenant directory a backend routes by: tenant → database (an index into the backend's
//! databases), read at every operation rather than fixed at the start, a version that every move
//! increments, and a gate per tenant that a migration closes to freeze that tenant alone while
//! it cuts over (the seeds' `dbMode` flip: 004 §4.2, "keep write paths disabled for that tenant").
//!
//! Reading a route is one atomic load. Every operation of a tenant holds its gate shared for its
//! whole duration; a migration takes it exclusively, which waits for the operations in flight and
//! holds new ones (reads and writes of that tenant only) until it has flipped the route. Tokio's
//! `RwLock` queues a writer ahead of later readers, so a freeze cannot be starved by a busy
//! tenant.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Where each tenant's operations go now.
#[derive(Debug)]
pub struct Directory {
    slots: Vec<AtomicU32>,
    version: AtomicU64,
    gates: Vec<RwLock<()>>,
    /// Whether a route may change or data of a tenant may stand in two databases at once (a
    /// move is planned, running or was applied): cross-tenant reads then keep each tenant's
    /// records from the database it is routed to only.
    movable: AtomicBool,
}

impl Directory {
    /// A directory routing tenant `i` to database `tenant_db[i]`, at version `version`.
    pub fn new(tenant_db: &[usize], version: u64) -> Directory {
        Directory {
            slots: tenant_db
                .iter()
                .map(|&d| AtomicU32::new(d as u32))
                .collect(),
            version: AtomicU64::new(version),
            gates: tenant_db.iter().map(|_| RwLock::new(())).collect(),
            movable: AtomicBool::new(version > 0),
        }
    }

    /// The directory of a placement: its tenants' databases, movable when a migration has
    /// moved a tenant out of one of them (its records may still stand there).
    pub fn of(placement: &crate::layout::Placement) -> Directory {
        let d = Directory::new(&placement.tenant_db, 0);
        if placement.databases.iter().any(|x| !x.moved_out.is_empty()) {
            d.set_movable();
        }
        d
    }

    /// Tenants it routes.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether it routes no tenant.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The database index tenant `t`'s operations go to now.
    // Acquire pairs with `route`'s Release: an operation that sees the new route also sees
    // everything the migration wrote before flipping it.
    pub fn db_of(&self, t: usize) -> usize {
        self.slots[t].load(Ordering::Acquire) as usize
    }

    /// The version: 0 for a placement as generated, one more for every move since.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// Whether a move is planned, running or was applied (see the field).
    pub fn movable(&self) -> bool {
        self.movable.load(Ordering::Relaxed)
    }

    /// Declares that a move will run (before its copy starts).
    pub fn set_movable(&self) {
        self.movable.store(true, Ordering::Relaxed);
    }

    /// Enters tenant `t`'s gate for one operation: immediate unless a migration freezes the
    /// tenant, then it waits until the freeze ends. Hold the guard until the operation is done,
    /// and read the route after entering.
    pub async fn enter(&self, t: usize) -> RwLockReadGuard<'_, ()> {
        self.gates[t].read().await
    }

    /// Freezes tenant `t`: waits for its operations in flight to finish and holds new ones until
    /// the guard is dropped. Called by a migration around its final catch-up and cut-over.
    pub async fn freeze(&self, t: usize) -> RwLockWriteGuard<'_, ()> {
        self.gates[t].write().await
    }

    /// Routes tenant `t` to database `db` from now on; returns the new version. Called under
    /// the tenant's freeze, after the destination verified.
    pub fn route(&self, t: usize, db: usize) -> u64 {
        self.movable.store(true, Ordering::Relaxed);
        self.slots[t].store(db as u32, Ordering::Release);
        self.version.fetch_add(1, Ordering::AcqRel) + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn routes_and_counts_versions() {
        let d = Directory::new(&[0, 0, 1], 0);
        assert_eq!((d.db_of(1), d.version(), d.movable()), (0, 0, false));
        assert_eq!(d.route(1, 2), 1);
        assert_eq!((d.db_of(1), d.db_of(0), d.version()), (2, 0, 1));
        assert!(d.movable());
    }

    #[tokio::test(start_paused = true)]
    async fn a_freeze_waits_for_operations_in_flight_and_holds_new_ones() {
        let d = Arc::new(Directory::new(&[0, 0], 0));
        let op = d.enter(0).await;
        // The freeze waits while an operation of the tenant is in flight...
        let d2 = d.clone();
        let freeze = tokio::spawn(async move {
            let _g = d2.freeze(0).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            d2.route(0, 1)
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!freeze.is_finished());
        // ...other tenants are not held...
        drop(d.enter(1).await);
        drop(op);
        tokio::time::sleep(Duration::from_millis(1)).await;
        // ...and a new operation of the frozen tenant waits until the route has flipped.
        let g = d.enter(0).await;
        assert_eq!(d.db_of(0), 1);
        drop(g);
        assert_eq!(freeze.await.unwrap(), 1);
    }
}
