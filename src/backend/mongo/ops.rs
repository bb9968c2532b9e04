//! The operation catalogue on MongoDB, for every layout: each request is routed to its tenant's
//! database and answered there; the same request gives the same logical answer in every layout.
//! No timing here: the runner times calls from outside.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use futures_util::{StreamExt, TryStreamExt, stream};
use mongodb::Database;
use mongodb::bson::{self, Document, doc};

use super::seed::bson_i64;
use super::{MARKER_COLLECTION, Servers, raw_document};
use crate::backend::Backend;
use crate::datagen::{Collection, END_MS, Value, generate, record_id};
use crate::layout::Placement;
use crate::op::{ErrorKind, Op, Outcome, Request};
use crate::population::Population;

use crate::backend::leak_in;
pub use crate::backend::{Answer, FAN_OUT, LIST_LIMIT, REVENUE_DAYS};

/// What `explain` says about one call.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Explain {
    /// Winning plan stages, outermost first (e.g. `LIMIT > FETCH > IXSCAN`).
    pub stages: Vec<String>,
    /// `executionStats.totalKeysExamined`.
    pub keys_examined: u64,
    /// `executionStats.totalDocsExamined`.
    pub docs_examined: u64,
    /// `executionStats.nReturned`.
    pub returned: u64,
    /// The query's limit, when it has one.
    pub limit: Option<u64>,
}

/// How tenant operations reach their database.
#[derive(Debug)]
pub enum Routing {
    /// Through the one client per server the backend was built with.
    SingleClient,
    /// Through a per-tenant client from the registry of the tenant's server.
    ClientPerTenant(std::collections::BTreeMap<crate::layout::Server, super::ClientRegistry>),
}

/// The MongoDB backend for one placement.
#[derive(Debug)]
pub struct MongoBackend {
    dbs: Vec<Database>,
    servers: Vec<crate::layout::Server>,
    routing: Routing,
    /// Where each tenant's operations go, read at every operation (a migration moves them).
    directory: std::sync::Arc<crate::directory::Directory>,
    pub(super) ids: Vec<String>,
    /// The tenants' values in their stored type where not strings (an existing database's
    /// ObjectIds, numbers, UUIDs; [`Population::values`]); empty for generated data.
    values: Vec<crate::population::TenantValue>,
    pub(super) seed: u64,
    /// The scenario's own operations (`[[operation]]`).
    pub(super) operations: Vec<crate::scenario::operation::OperationSpec>,
    dirty: Vec<AtomicBool>,
    /// Whether the databases are the harness's, with a marker to mark dirty before a write
    /// (`false` on an existing database, which is never marked).
    marked: bool,
    /// Where `{{days_ago:N}}` counts back from.
    pub(super) end_ms: i64,
    inserted: AtomicU64,
    /// Makes inserted ids unique to this backend instance: several load generators, and the
    /// trials of one, write into the same data without colliding.
    insert_token: String,
    /// Client-per-tenant: response times (µs) of the operations that created their tenant's
    /// client — a tenant's first request after it had none (cold start).
    cold: std::sync::Mutex<hdrhistogram::Histogram<u64>>,
    /// A routing fault for tests ([`MongoBackend::with_misrouting`]).
    misroute: bool,
}

/// The projection of record-returning reads: the id to answer with and the tenant field the
/// answer is checked by ([`leak_in`]).
fn owned() -> Document {
    doc! {"_id": 1, "tenant": 1}
}

/// A returned document's tenant field.
fn owner(d: &Document) -> Option<&str> {
    d.get_str("tenant").ok()
}

tokio::task_local! {
    /// Set by [`MongoBackend::route`] when the operation in this task created its client.
    static COLD: std::cell::Cell<bool>;
}

impl MongoBackend {
    /// A backend over the databases of a placement.
    pub fn new(
        servers: &Servers,
        placement: &Placement,
        pop: &Population,
        seed: u64,
    ) -> MongoBackend {
        MongoBackend {
            dbs: placement
                .databases
                .iter()
                .map(|d| servers.db(&d.server, &d.name))
                .collect(),
            servers: placement
                .databases
                .iter()
                .map(|d| d.server.clone())
                .collect(),
            routing: Routing::SingleClient,
            directory: std::sync::Arc::new(crate::directory::Directory::of(placement)),
            ids: pop.tenants.iter().map(|t| t.id.clone()).collect(),
            values: pop.values.clone(),
            seed,
            dirty: placement
                .databases
                .iter()
                .map(|_| AtomicBool::new(false))
                .collect(),
            marked: true,
            end_ms: END_MS,
            inserted: AtomicU64::new(0),
            insert_token: crate::backend::insert_token(),
            cold: std::sync::Mutex::new(crate::metrics::histogram()),
            operations: Vec::new(),
            misroute: false,
        }
    }

    /// On a team's own database: no marker is ever written, and `{{days_ago:N}}` counts back
    /// from now.
    #[must_use]
    pub fn on_existing(mut self) -> MongoBackend {
        self.marked = false;
        self.end_ms = crate::backend::custom::now_ms();
        self
    }

    /// Runs the scenario's own operations (`[[operation]]`) besides the built-ins.
    #[must_use]
    pub fn with_operations(
        mut self,
        operations: Vec<crate::scenario::operation::OperationSpec>,
    ) -> MongoBackend {
        self.operations = operations;
        self
    }

    /// Tenant `i`'s value as its field stores it: what a query sends for `{{tenant}}`.
    pub(super) fn tenant_bson(&self, i: usize) -> mongodb::bson::Bson {
        match self.values.get(i) {
            Some(v) => super::tenant::tenant_bson(v),
            None => mongodb::bson::Bson::String(self.ids[i].clone()),
        }
    }

    /// Response times (µs) of cold-start operations: those that created their tenant's client.
    pub fn cold_starts(&self) -> hdrhistogram::Histogram<u64> {
        self.cold.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Routes tenant operations through `routing` instead of the single client.
    #[must_use]
    pub fn with_routing(mut self, routing: Routing) -> MongoBackend {
        self.routing = routing;
        self
    }

    /// The routing in use (its registries hold the client-per-tenant counters).
    pub fn routing(&self) -> &Routing {
        &self.routing
    }

    /// A routing fault for the tests of the tenant check: every tenant's operations run as the
    /// next tenant's (by rank), as a router that resolved the wrong tenant would send them.
    /// Never set outside tests.
    #[doc(hidden)]
    #[must_use]
    pub fn with_misrouting(mut self) -> MongoBackend {
        self.misroute = true;
        self
    }

    /// The request as the (possibly faulty) router sends it.
    fn misrouted(&self, req: &Request) -> Request {
        crate::backend::misrouted(req, self.misroute, self.ids.len())
    }

    fn db(&self, tenant: usize) -> &Database {
        &self.dbs[self.directory.db_of(tenant)]
    }

    /// The tenant's database handle for an operation, through the routing.
    pub(super) async fn route(&self, tenant: usize) -> mongodb::error::Result<Database> {
        let i = self.directory.db_of(tenant);
        match &self.routing {
            Routing::SingleClient => Ok(self.dbs[i].clone()),
            Routing::ClientPerTenant(regs) => {
                let reg = regs.get(&self.servers[i]).ok_or_else(|| {
                    mongodb::error::Error::custom("no client registry for the tenant's server")
                })?;
                let (c, created) = reg
                    .get(&self.ids[tenant])
                    .await
                    .map_err(|e| mongodb::error::Error::custom(e.to_string()))?;
                if created {
                    let _ = COLD.try_with(|f| f.set(true));
                }
                Ok(c.database(self.dbs[i].name()))
            }
        }
    }

    /// The filter and options of the find-like operations (for the call and for `explain`).
    fn find_spec(
        &self,
        req: &Request,
    ) -> Option<(Collection, Document, Option<Document>, Option<i64>)> {
        let tenant = self.ids[req.tenant].as_str();
        match req.op {
            // Sorted by `createdAt` alone, as applications write it, so a compound
            // `{tenant, status, createdAt: -1}` index can supply the order and stop at the limit
            // (an `_id` tie-break would force a SORT stage over every matching document).
            Op::ListRecent => Some((
                Collection::Orders,
                doc! {"tenant": tenant, "status": crate::backend::status_of(req)},
                Some(doc! {"createdAt": -1}),
                Some(LIST_LIMIT),
            )),
            Op::GetById => Some((
                Collection::Orders,
                doc! {"_id": record_id(tenant, Collection::Orders, req.key), "tenant": tenant},
                None,
                Some(1),
            )),
            Op::CountByStatus => Some((
                Collection::Orders,
                doc! {"tenant": tenant, "status": crate::backend::status_of(req)},
                None,
                None,
            )),
            Op::FindUserByEmail => {
                let user = generate(self.seed, tenant, Collection::Users, req.key);
                let email = match &user.fields[3] {
                    ("email", Value::Str(e)) => e.clone(),
                    _ => String::new(),
                };
                Some((
                    Collection::Users,
                    doc! {"tenant": tenant, "email": email},
                    None,
                    Some(1),
                ))
            }
            _ => None,
        }
    }

    /// Marks a database dirty in its marker, once, before its first write.
    pub(super) async fn mark_dirty(&self, tenant: usize) -> mongodb::error::Result<()> {
        if !self.marked {
            return Ok(());
        }
        let i = self.directory.db_of(tenant);
        // Relaxed: a second marker update in a race is harmless (idempotent $set). Through the
        // backend's own client: the marker is the harness's business, not the tenant's.
        if !self.dirty[i].swap(true, Ordering::Relaxed) {
            self.dbs[i]
                .collection::<Document>(MARKER_COLLECTION)
                .update_one(doc! {"_id": "marker"}, doc! {"$set": {"dirty": true}})
                .await?;
        }
        Ok(())
    }

    /// Answers a request.
    ///
    /// # Errors
    /// The driver's error; [`Backend::execute`] turns it into an [`Outcome`].
    pub async fn answer(&self, req: &Request) -> mongodb::error::Result<Answer> {
        if req.op == Op::AdminCrossTenant {
            return self.cross_tenant().await;
        }
        // What the returned records are checked against: the tenant asked for, even when a
        // (test) routing fault sends the operation as another.
        let asked = self.ids[req.tenant].as_str();
        let req = &self.misrouted(req);
        let tenant = self.ids[req.tenant].as_str();
        // Held for the whole operation: a migration's freeze waits for it, and the route read
        // next is the one in force until the operation ends.
        let _gate = self.directory.enter(req.tenant).await;
        let db = self.route(req.tenant).await?;
        let orders = db.collection::<Document>(Collection::Orders.name());
        match req.op {
            Op::ListRecent => {
                let (_, filter, sort, limit) = self.find_spec(req).expect("find op");
                let mut find = orders.find(filter).projection(owned());
                if let Some(s) = sort {
                    find = find.sort(s);
                }
                if let Some(l) = limit {
                    find = find.limit(l);
                }
                let docs: Vec<Document> = find.await?.try_collect().await?;
                if let Some(leak) = leak_in(asked, docs.iter().map(owner)) {
                    return Ok(leak);
                }
                Ok(Answer::Ids(
                    docs.iter()
                        .filter_map(|d| d.get_str("_id").ok().map(str::to_string))
                        .collect(),
                ))
            }
            Op::GetById | Op::FindUserByEmail => {
                let (coll, filter, _, _) = self.find_spec(req).expect("find op");
                let d = db
                    .collection::<Document>(coll.name())
                    .find_one(filter)
                    .projection(owned())
                    .await?;
                if let Some(leak) = leak_in(asked, d.iter().map(owner)) {
                    return Ok(leak);
                }
                Ok(Answer::One(
                    d.and_then(|d| d.get_str("_id").ok().map(str::to_string)),
                ))
            }
            Op::CountByStatus => {
                let (_, filter, _, _) = self.find_spec(req).expect("find op");
                Ok(Answer::Count(orders.count_documents(filter).await?))
            }
            Op::RevenueByDay => {
                let from = bson::DateTime::from_millis(END_MS - REVENUE_DAYS * 86_400_000);
                let pipeline = vec![
                    doc! {"$match": {"tenant": tenant, "status": {"$in": ["paid", "shipped"]}, "createdAt": {"$gte": from}}},
                    doc! {"$group": {
                        "_id": {"$dateToString": {"format": "%Y-%m-%d", "date": "$createdAt"}},
                        "cents": {"$sum": "$amountCents"},
                    }},
                    doc! {"$sort": {"_id": 1}},
                ];
                let rows: Vec<Document> = orders.aggregate(pipeline).await?.try_collect().await?;
                Ok(Answer::Revenue(
                    rows.iter()
                        .map(|r| {
                            (
                                r.get_str("_id").unwrap_or_default().to_string(),
                                bson_i64(r.get("cents")),
                            )
                        })
                        .collect(),
                ))
            }
            Op::AdminCrossTenant => unreachable!("answered above"),
            Op::InsertOne => {
                self.mark_dirty(req.tenant).await?;
                let n = self.inserted.fetch_add(1, Ordering::Relaxed);
                let rec = generate(self.seed, tenant, Collection::Orders, req.key);
                let mut d = raw_document(&rec).to_document().map_err(|e| {
                    mongodb::error::Error::custom(format!("encoding a generated order: {e}"))
                })?;
                d.insert("_id", format!("{tenant}:ord:new:{}-{n}", self.insert_token));
                d.insert("createdAt", bson::DateTime::now());
                orders.insert_one(d).await?;
                Ok(Answer::Written(1))
            }
            Op::UpdateStatus => {
                self.mark_dirty(req.tenant).await?;
                let r = orders
                    .update_one(
                        doc! {"_id": record_id(tenant, Collection::Orders, req.key), "tenant": tenant},
                        doc! {"$set": {"status": "refunded", "updatedAt": bson::DateTime::now()}},
                    )
                    .await?;
                Ok(Answer::Written(r.matched_count))
            }
            _ => self.custom(req, &db).await,
        }
    }

    /// `admin_cross_tenant`: orders per tenant across every database, through the backend's
    /// own (admin) client whatever the routing: a `$group` per database (cheap in `shared`, a
    /// fan-out in `per-tenant`), [`FAN_OUT`] databases at a time.
    async fn cross_tenant(&self) -> mongodb::error::Result<Answer> {
        let per_db: Vec<(usize, Vec<(String, u64)>)> =
            stream::iter(self.dbs.iter().cloned().enumerate())
                .map(|(d, db)| async move {
                    let pipeline = vec![doc! {"$group": {"_id": "$tenant", "n": {"$sum": 1}}}];
                    let rows: Vec<Document> = db
                        .collection::<Document>(Collection::Orders.name())
                        .aggregate(pipeline)
                        .await?
                        .try_collect()
                        .await?;
                    Ok::<_, mongodb::error::Error>((
                        d,
                        rows.iter()
                            .map(|r| {
                                (
                                    r.get_str("_id").unwrap_or_default().to_string(),
                                    bson_i64(r.get("n")) as u64,
                                )
                            })
                            .collect(),
                    ))
                })
                .buffer_unordered(FAN_OUT)
                .try_collect()
                .await?;
        let mut all: Vec<(String, u64)> = if self.directory.movable() {
            // A tenant being copied, or left behind by a move, stands in two databases: count
            // it where the directory routes it.
            let index: std::collections::HashMap<&str, usize> = self
                .ids
                .iter()
                .enumerate()
                .map(|(i, t)| (t.as_str(), i))
                .collect();
            per_db
                .into_iter()
                .flat_map(|(d, rows)| {
                    let index = &index;
                    rows.into_iter().filter(move |(t, _)| {
                        index
                            .get(t.as_str())
                            .is_none_or(|&i| self.directory.db_of(i) == d)
                    })
                })
                .collect()
        } else {
            per_db.into_iter().flat_map(|(_, rows)| rows).collect()
        };
        all.sort();
        Ok(Answer::PerTenant(all))
    }

    /// Documents in the collection a find-like operation queries, in the tenant's database
    /// (all tenants sharing it): what a collection scan examines. `None` for other operations.
    ///
    /// # Errors
    /// The driver's error.
    pub async fn collection_documents(&self, req: &Request) -> mongodb::error::Result<Option<u64>> {
        let name = match self.find_spec(req) {
            Some((coll, ..)) => coll.name(),
            // A scenario's own operation: the collection it names.
            None => match crate::backend::custom::spec_of(&self.operations, req.op) {
                Some(o) => o.collection.as_str(),
                None => return Ok(None),
            },
        };
        let n = self
            .db(req.tenant)
            .collection::<Document>(name)
            .count_documents(doc! {})
            .await?;
        Ok(Some(n))
    }

    /// `explain` (executionStats) of one call of a find-like operation; `None` for the others.
    ///
    /// # Errors
    /// The driver's error.
    pub async fn explain(&self, req: &Request) -> mongodb::error::Result<Option<Explain>> {
        if !req.op.is_builtin() {
            return self.explain_custom(req).await;
        }
        let Some((coll, filter, sort, limit)) = self.find_spec(req) else {
            return Ok(None);
        };
        let mut find = doc! {"find": coll.name(), "filter": filter};
        if let Some(s) = sort {
            find.insert("sort", s);
        }
        if let Some(l) = limit {
            find.insert("limit", l);
        }
        let mut e = explain_find(self.db(req.tenant), find).await?;
        e.limit = limit.map(|l| l.unsigned_abs());
        Ok(Some(e))
    }
}

/// `explain` (executionStats) of a `find` command on `db`: the winning plan's stages and the
/// work done (the limit is left to the caller).
///
/// # Errors
/// The driver's error.
pub async fn explain_find(db: &Database, find: Document) -> mongodb::error::Result<Explain> {
    let out = db
        .run_command(doc! {"explain": find, "verbosity": "executionStats"})
        .await?;
    let stats = out
        .get_document("executionStats")
        .cloned()
        .unwrap_or_default();
    let mut stages = Vec::new();
    let mut plan = out
        .get_document("queryPlanner")
        .and_then(|q| q.get_document("winningPlan"))
        .ok()
        .cloned();
    while let Some(p) = plan {
        if let Ok(s) = p.get_str("stage") {
            stages.push(s.to_string());
        }
        plan = p.get_document("inputStage").ok().cloned();
    }
    Ok(Explain {
        stages,
        keys_examined: bson_i64(stats.get("totalKeysExamined")) as u64,
        docs_examined: bson_i64(stats.get("totalDocsExamined")) as u64,
        returned: bson_i64(stats.get("nReturned")) as u64,
        limit: None,
    })
}

/// The countable kind of a driver error.
pub fn error_kind(e: &mongodb::error::Error) -> ErrorKind {
    use mongodb::error::ErrorKind as K;
    match *e.kind {
        K::Io(_) | K::ConnectionPoolCleared { .. } => ErrorKind::Network,
        K::ServerSelection { .. } => ErrorKind::Timeout,
        K::Command(_) | K::Write(_) | K::InsertMany(_) => ErrorKind::Server,
        _ => ErrorKind::Other,
    }
}

impl MongoBackend {
    /// [`MongoBackend::answer`], timing a client-per-tenant request that had to open its
    /// tenant's client (a cold start) into the registry's histogram.
    async fn counted_answer(&self, req: &Request) -> mongodb::error::Result<Answer> {
        match &self.routing {
            Routing::SingleClient => self.answer(req).await,
            Routing::ClientPerTenant(_) => {
                let t0 = std::time::Instant::now();
                let (r, cold) = COLD
                    .scope(std::cell::Cell::new(false), async {
                        let r = self.answer(req).await;
                        (r, COLD.with(std::cell::Cell::get))
                    })
                    .await;
                if cold && r.is_ok() {
                    let us = u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX);
                    let mut h = self.cold.lock().unwrap_or_else(|p| p.into_inner());
                    let _ = h.record(us.max(1));
                }
                r
            }
        }
    }
}

impl Backend for MongoBackend {
    async fn execute(&self, req: &Request) -> Outcome {
        match self.counted_answer(req).await {
            Ok(a) => a.outcome(),
            Err(e) => Outcome::Error(error_kind(&e)),
        }
    }

    async fn respond(&self, req: &Request) -> Result<Answer, ErrorKind> {
        self.counted_answer(req).await.map_err(|e| error_kind(&e))
    }

    fn directory(&self) -> Option<std::sync::Arc<crate::directory::Directory>> {
        Some(self.directory.clone())
    }
}
