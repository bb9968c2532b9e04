//! Seeding on PostgreSQL: every database of the placement inspected before anything is
//! written (a database without our marker is refused), databases created with the marker first,
//! tables from the catalogue, rows loaded with binary `COPY` by parallel workers, then indexes,
//! `tenant_id` foreign keys and `ANALYZE`, and the marker completed last.

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use futures_util::{StreamExt, TryStreamExt, stream};
use tokio_postgres::Client;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use super::schema::{self, columns};
use indicatif::ProgressBar;

use super::{Context, PgError, connect, ident, read_marker, write_marker};
use crate::backend::marker::{DbState, Marker, new_marker};
use crate::backend::seed::{self as shared, SeedOptions, SeedSummary, SeedTarget, work_units};
use crate::datagen::{Collection, Record, Value, generate};
use crate::layout::{Layout, Placement};
use crate::population::Population;
use crate::scenario::Scenario;

/// One generated value as a COPY cell of its column's type.
#[derive(Debug)]
struct Cell<'a>(&'a Value);

impl ToSql for Cell<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self.0 {
            Value::Str(s) => s.as_str().to_sql(ty, out),
            Value::Static(s) => s.to_sql(ty, out),
            Value::Int(i) => i.to_sql(ty, out),
            Value::Time(ms) => super::time_of(*ms).to_sql(ty, out),
            Value::Bool(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        // The column types come from the same generator (schema::columns).
        true
    }

    to_sql_checked!();
}

/// Records of one COPY: one table of one schema in one database, consecutive ordinals of one or
/// more tenants.
#[derive(Debug, Clone)]
struct Unit {
    db: usize,
    schema: String,
    collection: Collection,
    parts: Vec<(usize, u64, u64)>,
}

/// Splits the databases' records into COPY units of at most `batch` rows; in
/// `schema-per-tenant` a unit never spans tenants (each has its own tables).
fn units(pop: &Population, placement: &Placement, dbs: &[usize], batch: usize) -> Vec<Unit> {
    let per_tenant = placement.layout == Layout::SchemaPerTenant;
    work_units(pop, placement, dbs, batch)
        .into_iter()
        .flat_map(|u| {
            if per_tenant {
                u.parts
                    .iter()
                    .map(|&p| Unit {
                        db: u.db,
                        schema: super::tenant_schema(&pop.tenants[p.0].id),
                        collection: u.collection,
                        parts: vec![p],
                    })
                    .collect::<Vec<_>>()
            } else {
                vec![Unit {
                    db: u.db,
                    schema: "public".into(),
                    collection: u.collection,
                    parts: u.parts,
                }]
            }
        })
        .collect()
}

/// The schemas holding tenant tables in one database of a placement.
fn schemas(placement: &Placement, pop: &Population, db: usize) -> Vec<String> {
    if placement.layout == Layout::SchemaPerTenant {
        placement.databases[db]
            .tenants
            .iter()
            .map(|&t| super::tenant_schema(&pop.tenants[t].id))
            .collect()
    } else {
        vec!["public".into()]
    }
}

/// A placement on a PostgreSQL server, ready to be seeded.
pub struct PgSeeder<'a> {
    uri: &'a str,
    admin: Client,
    scenario: &'a Scenario,
    pop: &'a Population,
    placement: &'a Placement,
    opts: &'a SeedOptions,
    /// Secondary indexes of the profile per schema.
    per_schema_indexes: usize,
}

impl<'a> PgSeeder<'a> {
    /// Connects to the server of `uri` to seed a placement with the index profile of `opts`.
    ///
    /// # Errors
    /// An identifier over 63 bytes, an unknown index profile, or no connection.
    pub async fn connect(
        uri: &'a str,
        scenario: &'a Scenario,
        pop: &'a Population,
        placement: &'a Placement,
        opts: &'a SeedOptions,
    ) -> Result<PgSeeder<'a>, PgError> {
        super::check_identifiers(placement, pop)?;
        let per_schema_indexes = schema::indexes(scenario, &opts.indexes, "public")
            .ok_or_else(|| PgError::State(format!("unknown index profile `{}`", opts.indexes)))?
            .len();
        let admin = connect(uri, None).await?;
        Ok(PgSeeder {
            uri,
            admin,
            scenario,
            pop,
            placement,
            opts,
            per_schema_indexes,
        })
    }

    /// Creates one database's marker, tables (per schema in schema-per-tenant) and tenant rows.
    async fn create_tables(&self, i: usize) -> Result<(), PgError> {
        let (placement, pop) = (self.placement, self.pop);
        let d = &placement.databases[i];
        let c = connect(self.uri, Some(&d.name)).await?;
        let marker = new_marker(self.scenario, self.opts.layout, d, pop, &self.opts.indexes);
        write_marker(&c, "public", &marker).await?;
        let mut ddl = vec![schema::create_tenants("public")];
        for s in schemas(placement, pop, i) {
            if s != "public" {
                ddl.push(format!("CREATE SCHEMA {}", ident(&s)));
                ddl.push(super::marker_ddl(&s));
            }
            for coll in Collection::ALL {
                ddl.push(schema::create_table(&s, coll));
            }
        }
        execute_in_batches(&c, &ddl)
            .await
            .ctx(|| format!("creating the tables of {}", d.name))?;
        for s in schemas(placement, pop, i).iter().filter(|s| *s != "public") {
            write_marker(&c, s, &marker).await?;
        }
        insert_tenants(&c, pop, &d.tenants).await
    }

    /// Completes one database: foreign keys and row-level security when it was loaded now,
    /// statistics, then the marker of every schema.
    async fn complete(&self, i: usize, m: &Marker, loaded: bool) -> Result<(), PgError> {
        let (placement, pop) = (self.placement, self.pop);
        let d = &placement.databases[i];
        let c = connect(self.uri, Some(&d.name)).await?;
        if loaded {
            let fks: Vec<String> = schemas(placement, pop, i)
                .iter()
                .flat_map(|s| Collection::ALL.map(|coll| schema::foreign_key(s, coll, "public")))
                .collect();
            execute_in_batches(&c, &fks)
                .await
                .ctx(|| format!("adding tenant_id foreign keys in {}", d.name))?;
            if placement.layout == Layout::Rls {
                c.batch_execute(&schema::rls_ddl(&super::rls_role(&d.name)).join(";\n"))
                    .await
                    .ctx(|| format!("row-level security in {}", d.name))?;
            }
        }
        c.batch_execute("ANALYZE")
            .await
            .ctx(|| format!("ANALYZE in {}", d.name))?;
        for s in schemas(placement, pop, i) {
            write_marker(&c, &s, m).await?;
        }
        write_marker(&c, "public", m).await
    }
}

impl SeedTarget for PgSeeder<'_> {
    type Error = PgError;
    const UNIT: &'static str = "rows";

    fn placement(&self) -> &Placement {
        self.placement
    }

    async fn inspect(&self) -> Result<Vec<(DbState, Option<String>)>, PgError> {
        let mut out = Vec::new();
        for d in &self.placement.databases {
            if !super::database_exists(&self.admin, &d.name).await? {
                out.push((DbState::Empty, None));
                continue;
            }
            let c = connect(self.uri, Some(&d.name)).await?;
            out.push(match read_marker(&c, "public").await? {
                None => (DbState::Foreign, None),
                Some(m) => {
                    let theirs = super::foreign_schemas(&c).await?;
                    let extra = (!theirs.is_empty()).then(|| {
                        format!(
                            "holds schemas without a tenantbench marker: {}",
                            theirs.join(", ")
                        )
                    });
                    (DbState::Marked(Box::new(m)), extra)
                }
            });
        }
        Ok(out)
    }

    fn foreign(&self, found: Vec<String>) -> PgError {
        PgError::State(format!(
            "refusing to write: these databases exist without a tenantbench marker (somebody else's data): {}",
            found.join(", ")
        ))
    }

    fn state(&self, message: String) -> PgError {
        PgError::State(message)
    }

    async fn prepare(&self, dbs: &[(usize, bool)]) -> Result<(), PgError> {
        for &(i, reload) in dbs {
            let d = &self.placement.databases[i];
            if reload {
                self.admin
                    .batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", ident(&d.name)))
                    .await
                    .ctx(|| format!("dropping {} to reload it", d.name))?;
            }
            self.admin
                .batch_execute(&format!("CREATE DATABASE {}", ident(&d.name)))
                .await
                .ctx(|| format!("creating database {}", d.name))?;
        }
        stream::iter(dbs.iter().map(|&(i, _)| self.create_tables(i)))
            .buffer_unordered(self.opts.workers.clamp(1, 8))
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    async fn build_indexes(
        &self,
        dbs: &[usize],
    ) -> Result<Vec<(Collection, String, f64)>, PgError> {
        build_indexes(
            self.uri,
            self.scenario,
            self.placement,
            self.pop,
            dbs,
            self.opts,
        )
        .await
    }

    async fn drop_indexes(&self, dbs: &[usize]) -> Result<(), PgError> {
        for &i in dbs {
            let c = connect(self.uri, Some(&self.placement.databases[i].name)).await?;
            drop_indexes(&c, &schemas(self.placement, self.pop, i)).await?;
        }
        Ok(())
    }

    async fn load(&self, dbs: &[usize], pb: &ProgressBar) -> Result<(), PgError> {
        let units = units(self.pop, self.placement, dbs, self.opts.batch_size);
        let ids: Arc<Vec<String>> =
            Arc::new(self.pop.tenants.iter().map(|t| t.id.clone()).collect());
        let names: Arc<Vec<String>> = Arc::new(
            self.placement
                .databases
                .iter()
                .map(|d| d.name.clone())
                .collect(),
        );
        // Each worker takes the next unit from a shared queue and keeps its connection while the
        // units stay in one database (they come database by database).
        let queue = Arc::new(Queue {
            q: tokio::sync::Mutex::new(units.into_iter()),
        });
        let handles: Vec<_> = (0..self.opts.workers.max(1))
            .map(|_| {
                let worker = CopyWorker {
                    queue: queue.clone(),
                    ids: ids.clone(),
                    names: names.clone(),
                    pb: pb.clone(),
                    uri: self.uri.to_string(),
                    seed: self.scenario.seed,
                };
                tokio::spawn(worker.run())
            })
            .collect();
        let mut first_err = None;
        for h in handles {
            match h.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                Err(e) => {
                    first_err.get_or_insert(PgError::State(format!("a COPY worker failed: {e}")));
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    async fn finish(&self, dbs: &[(usize, Marker, bool)]) -> Result<(), PgError> {
        stream::iter(
            dbs.iter()
                .map(|(i, m, loaded)| self.complete(*i, m, *loaded)),
        )
        .buffer_unordered(4)
        .try_collect::<Vec<()>>()
        .await?;
        Ok(())
    }

    async fn sizes(&self) -> Result<(i64, i64), PgError> {
        let mut storage = 0i64;
        let mut index_bytes = 0i64;
        for d in &self.placement.databases {
            let c = connect(self.uri, Some(&d.name)).await?;
            let r = c
                .query_one(
                    "SELECT pg_database_size(current_database()),
                        COALESCE((SELECT sum(pg_indexes_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                  WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')), 0)::bigint",
                    &[],
                )
                .await
                .ctx(|| format!("sizes of {}", d.name))?;
            storage += r.get::<_, i64>(0);
            index_bytes += r.get::<_, i64>(1);
        }
        Ok((storage, index_bytes))
    }

    fn counts(&self) -> (usize, usize) {
        let schemas_total: usize = (0..self.placement.databases.len())
            .map(|i| schemas(self.placement, self.pop, i).len())
            .sum();
        (
            schemas_total * Collection::COUNT,
            schemas_total * self.per_schema_indexes,
        )
    }
}

/// One COPY worker of [`PgSeeder::load`]: takes units from the queue until it is empty.
struct CopyWorker {
    queue: Arc<Queue>,
    ids: Arc<Vec<String>>,
    names: Arc<Vec<String>>,
    pb: ProgressBar,
    uri: String,
    seed: u64,
}

impl CopyWorker {
    async fn run(self) -> Result<(), PgError> {
        let mut conn: Option<(usize, Client)> = None;
        while let Some(u) = self.queue.next().await {
            if conn.as_ref().is_none_or(|(db, _)| *db != u.db) {
                conn = Some((u.db, connect(&self.uri, Some(&self.names[u.db])).await?));
            }
            let (_, c) = conn.as_ref().expect("connected above");
            let n = copy_unit(c, self.seed, &self.ids, &u)
                .await
                .map_err(|e| match e {
                    PgError::Db { what, source } => PgError::Db {
                        what: format!("{what} in {}", self.names[u.db]),
                        source,
                    },
                    other => other,
                })?;
            tracing::trace!(
                database = %self.names[u.db],
                rows = n,
                "seed: copied a batch"
            );
            self.pb.inc(n);
        }
        Ok(())
    }
}

/// Seeds a scenario's population into a placement on the PostgreSQL server of `uri` (the
/// procedure of [`shared::seed`] with binary COPY, then indexes, `tenant_id` foreign keys and
/// `ANALYZE`).
///
/// # Errors
/// [`PgError::State`] for a database that exists without our marker (nothing is written then),
/// or an identifier over 63 bytes; server errors otherwise. A failed seed leaves the marker
/// incomplete, which the next seed reloads.
pub async fn seed(
    uri: &str,
    scenario: &Scenario,
    pop: &Population,
    placement: &Placement,
    opts: &SeedOptions,
) -> Result<SeedSummary, PgError> {
    let t = PgSeeder::connect(uri, scenario, pop, placement, opts).await?;
    shared::seed(&t, scenario, pop, opts).await
}

/// `serve` (and later `run --worker`): checks, without writing, that `seed` left a
/// placement's data complete, clean and of this definition and index profile.
pub async fn check_ready(
    uri: &str,
    scenario: &Scenario,
    pop: &Population,
    placement: &Placement,
    opts: &SeedOptions,
) -> Result<SeedSummary, PgError> {
    let t = PgSeeder::connect(uri, scenario, pop, placement, opts).await?;
    shared::check_ready(&t, scenario, &opts.indexes).await
}

/// Units handed out one at a time to the COPY workers.
struct Queue {
    q: tokio::sync::Mutex<std::vec::IntoIter<Unit>>,
}

impl Queue {
    async fn next(&self) -> Option<Unit> {
        self.q.lock().await.next()
    }
}

/// The tenants rows of a database: the tenants it holds.
async fn insert_tenants(c: &Client, pop: &Population, tenants: &[usize]) -> Result<(), PgError> {
    let sink = c
        .copy_in("COPY public.tenants (id, tier, class, documents) FROM STDIN (FORMAT binary)")
        .await
        .ctx(|| "COPY tenants".to_string())?;
    let w = BinaryCopyInWriter::new(sink, &[Type::TEXT, Type::TEXT, Type::TEXT, Type::INT8]);
    futures_util::pin_mut!(w);
    for &t in tenants {
        let tn = &pop.tenants[t];
        let docs = tn.documents as i64;
        w.as_mut()
            .write(&[&tn.id, &tn.tier.name(), &tn.class(), &docs])
            .await
            .ctx(|| "COPY tenants".to_string())?;
    }
    w.finish().await.ctx(|| "COPY tenants".to_string())?;
    Ok(())
}

/// Loads one unit with binary COPY; returns the rows written.
async fn copy_unit(
    c: &Client,
    seed: u64,
    ids: &Arc<Vec<String>>,
    u: &Unit,
) -> Result<u64, PgError> {
    let parts = u.parts.clone();
    let ids2 = ids.clone();
    let coll = u.collection;
    let records = tokio::task::spawn_blocking(move || unit_records(seed, &ids2, coll, &parts))
        .await
        .map_err(|e| PgError::State(format!("generating rows failed: {e}")))?;
    copy_records(c, u, &records).await
}

/// The generator's records of a unit's parts.
fn unit_records(
    seed: u64,
    ids: &[String],
    coll: Collection,
    parts: &[(usize, u64, u64)],
) -> Vec<Record> {
    parts
        .iter()
        .flat_map(|&(t, a, b)| (a..b).map(move |o| (t, o)))
        .map(|(t, o)| generate(seed, &ids[t], coll, o))
        .collect()
}

/// Writes `records` into a unit's table with binary COPY; returns the rows written.
async fn copy_records(c: &Client, u: &Unit, records: &[Record]) -> Result<u64, PgError> {
    let cols = columns(u.collection);
    let names: Vec<String> = cols.iter().map(|c| ident(&c.name)).collect();
    let types: Vec<Type> = cols.iter().map(|c| c.ty.clone()).collect();
    let what = || format!("COPY {}.{}", u.schema, u.collection.name());
    let sink = c
        .copy_in(&format!(
            "COPY {}.{} ({}) FROM STDIN (FORMAT binary)",
            ident(&u.schema),
            ident(u.collection.name()),
            names.join(", ")
        ))
        .await
        .ctx(what)?;
    let w = BinaryCopyInWriter::new(sink, &types);
    futures_util::pin_mut!(w);
    for r in records {
        let cells: Vec<Cell> = r.fields.iter().map(|(_, v)| Cell(v)).collect();
        w.as_mut().write_raw(cells.iter()).await.ctx(what)?;
    }
    w.finish().await.ctx(what)
}

/// A placement's rows generated ahead, unit by unit, for a bare COPY that generates nothing
/// while it runs (`cargo bench --bench harness_seeding` compares the seeder with it).
pub struct Pregenerated {
    units: Vec<(Unit, Vec<Record>)>,
}

impl Pregenerated {
    /// Generates every row `seed` would load into the placement's databases, in the seeder's
    /// units of `batch` rows.
    pub fn new(scenario: &Scenario, pop: &Population, placement: &Placement, batch: usize) -> Self {
        let all: Vec<usize> = (0..placement.databases.len()).collect();
        let ids: Vec<String> = pop.tenants.iter().map(|t| t.id.clone()).collect();
        let units = units(pop, placement, &all, batch)
            .into_iter()
            .map(|u| {
                let r = unit_records(scenario.seed, &ids, u.collection, &u.parts);
                (u, r)
            })
            .collect();
        Pregenerated { units }
    }

    /// Rows held.
    pub fn rows(&self) -> u64 {
        self.units.iter().map(|(_, r)| r.len() as u64).sum()
    }

    /// COPYs the rows into the tables, which must exist and be empty (the seeder's, truncated),
    /// with `workers` tasks of a connection each taking units from one queue, as the seeder's
    /// workers do.
    ///
    /// # Errors
    /// A connection or COPY failed.
    pub async fn copy(
        self: &Arc<Self>,
        uri: &str,
        placement: &Placement,
        workers: usize,
    ) -> Result<u64, PgError> {
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let names: Arc<Vec<String>> =
            Arc::new(placement.databases.iter().map(|d| d.name.clone()).collect());
        let handles: Vec<_> = (0..workers.max(1))
            .map(|_| {
                let (me, next, names, uri) =
                    (self.clone(), next.clone(), names.clone(), uri.to_string());
                tokio::spawn(async move {
                    let mut conn: Option<(usize, Client)> = None;
                    let mut n = 0u64;
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some((u, rows)) = me.units.get(i) else {
                            return Ok::<u64, PgError>(n);
                        };
                        if conn.as_ref().is_none_or(|(db, _)| *db != u.db) {
                            conn = Some((u.db, connect(&uri, Some(&names[u.db])).await?));
                        }
                        let (_, c) = conn.as_ref().expect("connected above");
                        n += copy_records(c, u, rows).await?;
                    }
                })
            })
            .collect();
        let mut total = 0;
        for h in handles {
            total += h
                .await
                .map_err(|e| PgError::State(format!("a COPY task failed: {e}")))??;
        }
        Ok(total)
    }
}

/// Drops the secondary indexes of the tenant tables in `schemas` (not primary keys).
async fn drop_indexes(c: &Client, schemas: &[String]) -> Result<(), PgError> {
    let rows = c
        .query(
            "SELECT format('%I.%I', n.nspname, i.relname) FROM pg_index x
               JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
               JOIN pg_namespace n ON n.oid = t.relnamespace
              WHERE NOT x.indisprimary AND n.nspname = ANY($1) AND t.relname = ANY($2)",
            &[&schemas, &Collection::ALL.map(|c| c.name()).to_vec()],
        )
        .await
        .ctx(|| "listing indexes to drop".to_string())?;
    for r in rows {
        let name: String = r.get(0);
        c.batch_execute(&format!("DROP INDEX {name}"))
            .await
            .ctx(|| format!("dropping index {name}"))?;
    }
    Ok(())
}

/// Builds the profile's indexes in the given databases; each build timed.
async fn build_indexes(
    uri: &str,
    scenario: &Scenario,
    placement: &Placement,
    pop: &Population,
    dbs: &[usize],
    opts: &SeedOptions,
) -> Result<Vec<(Collection, String, f64)>, PgError> {
    // Per database, its schemas dealt to up to `lanes` jobs of one connection each: builds run
    // in parallel without a connection per schema (schema-per-tenant has one per tenant).
    let lanes = opts.workers.clamp(1, 4);
    let mut jobs: Vec<(usize, Vec<String>)> = Vec::new();
    for &i in dbs {
        let all = schemas(placement, pop, i);
        let n = lanes.min(all.len());
        for lane in 0..n {
            jobs.push((i, all.iter().skip(lane).step_by(n).cloned().collect()));
        }
    }
    let out: Vec<Vec<(Collection, String, f64)>> = stream::iter(jobs)
        .map(|(i, lane)| async move {
            let d = &placement.databases[i];
            let c = connect(uri, Some(&d.name)).await?;
            let mut times = Vec::new();
            for s in &lane {
                for def in schema::indexes(scenario, &opts.indexes, s).unwrap_or_default() {
                    let t0 = Instant::now();
                    c.batch_execute(&def.sql)
                        .await
                        .ctx(|| format!("building {} in {}.{}", def.keys, d.name, s))?;
                    times.push((def.collection, def.keys, t0.elapsed().as_secs_f64()));
                }
            }
            Ok::<_, PgError>(times)
        })
        .buffer_unordered(lanes)
        .try_collect()
        .await?;
    Ok(out.into_iter().flatten().collect())
}

/// Statements per transaction in [`execute_in_batches`]: each takes a few locks, and one
/// transaction may hold about `max_locks_per_transaction` (64) × `max_connections` (100) of
/// them.
const DDL_BATCH: usize = 100;

/// Runs DDL statements [`DDL_BATCH`] to a transaction: a schema per tenant for 1,000 tenants is
/// 6,000 tables, and creating them (or their foreign keys) in one transaction ran the server
/// out of shared memory for locks.
async fn execute_in_batches(
    c: &Client,
    statements: &[String],
) -> Result<(), tokio_postgres::Error> {
    for chunk in statements.chunks(DDL_BATCH) {
        c.batch_execute(&chunk.join(";\n")).await?;
    }
    Ok(())
}
