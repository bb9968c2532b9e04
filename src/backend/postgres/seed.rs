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
use super::{Context, Marker, PgError, connect, ident, new_marker, read_marker, write_marker};
use crate::backend::mongo::{DbOutcome, IndexBuildTime, SeedOptions, SeedSummary, progress_bar};
use crate::datagen::{Collection, Value, generate};
use crate::layout::Layout;
use crate::layout::Placement;
use crate::population::Population;
use crate::scenario::{IndexBuild, Scenario};

/// What a PostgreSQL seed did (the same figures as a MongoDB seed).
pub type PgSeedSummary = SeedSummary;

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
    crate::backend::mongo::work_units(pop, placement, dbs, batch)
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

/// Seeds a scenario's population into a placement on the PostgreSQL server of `uri`.
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
) -> Result<PgSeedSummary, PgError> {
    let started = Instant::now();
    super::check_identifiers(placement, pop)?;
    let profile_defs = schema::indexes(scenario, &opts.indexes, "public")
        .ok_or_else(|| PgError::State(format!("unknown index profile `{}`", opts.indexes)))?;
    let hash = crate::backend::mongo::definition_hash(scenario, opts.layout);
    let admin = connect(uri, None).await?;

    // 1. Inspect every database before writing anything.
    let mut plan = Vec::new();
    let mut prior: Vec<Option<Marker>> = Vec::new();
    let mut foreign = Vec::new();
    for d in &placement.databases {
        if !super::database_exists(&admin, &d.name).await? {
            plan.push(DbOutcome::Loaded);
            prior.push(None);
            continue;
        }
        let c = connect(uri, Some(&d.name)).await?;
        match read_marker(&c, "public").await? {
            None => {
                foreign.push(d.name.clone());
                plan.push(DbOutcome::Loaded);
                prior.push(None);
            }
            Some(m) if m.prefix != scenario.prefix => {
                foreign.push(format!("{} (marker of prefix `{}`)", d.name, m.prefix));
                plan.push(DbOutcome::Loaded);
                prior.push(None);
            }
            Some(m) => {
                let same = !opts.reseed && m.complete && !m.dirty && m.definition_hash == hash;
                let theirs = super::foreign_schemas(&c).await?;
                if !same && !theirs.is_empty() {
                    foreign.push(format!(
                        "{} (holds schemas without a tenantbench marker: {})",
                        d.name,
                        theirs.join(", ")
                    ));
                }
                plan.push(if same {
                    DbOutcome::Reused
                } else {
                    DbOutcome::Reloaded
                });
                prior.push(Some(m));
            }
        }
    }
    if !foreign.is_empty() {
        return Err(PgError::State(format!(
            "refusing to write: these databases exist without a tenantbench marker (somebody else's data): {}",
            foreign.join(", ")
        )));
    }

    // 2. (Re)create the databases to load: marker first, then tables.
    let load: Vec<usize> = (0..plan.len())
        .filter(|&i| plan[i] != DbOutcome::Reused)
        .collect();
    for &i in &load {
        let d = &placement.databases[i];
        if plan[i] == DbOutcome::Reloaded {
            admin
                .batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", ident(&d.name)))
                .await
                .ctx(|| format!("dropping {} to reload it", d.name))?;
        }
        admin
            .batch_execute(&format!("CREATE DATABASE {}", ident(&d.name)))
            .await
            .ctx(|| format!("creating database {}", d.name))?;
    }
    stream::iter(load.iter().copied())
        .map(|i| async move {
            let d = &placement.databases[i];
            let c = connect(uri, Some(&d.name)).await?;
            let marker = new_marker(scenario, opts.layout, d, pop, &opts.indexes);
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
            insert_tenants(&c, pop, &d.tenants).await?;
            Ok::<_, PgError>(())
        })
        .buffer_unordered(opts.workers.clamp(1, 8))
        .try_collect::<Vec<()>>()
        .await?;

    let mut builds: Vec<(Collection, String, f64)> = Vec::new();
    if opts.index_build == IndexBuild::Before {
        builds.extend(build_indexes(uri, scenario, placement, pop, &load, opts).await?);
    }

    // 3. Load with binary COPY, `workers` at once; rows generated on blocking threads.
    let units = units(pop, placement, &load, opts.batch_size);
    let total: u64 = units
        .iter()
        .map(|u| u.parts.iter().map(|(_, a, b)| b - a).sum::<u64>())
        .sum();
    let pb = progress_bar("seeding", "rows", total, opts.progress && total > 0);
    let ids: Arc<Vec<String>> = Arc::new(pop.tenants.iter().map(|t| t.id.clone()).collect());
    let seed = scenario.seed;
    let load_started = Instant::now();
    // Each worker takes the next unit from a shared queue and keeps its connection while the
    // units stay in one database (they come database by database).
    let queue = Arc::new(Queue {
        q: tokio::sync::Mutex::new(units.into_iter()),
    });
    let mut handles = Vec::new();
    for _ in 0..opts.workers.max(1) {
        let queue = queue.clone();
        let ids = ids.clone();
        let pb = pb.clone();
        let uri = uri.to_string();
        let names: Vec<String> = placement.databases.iter().map(|d| d.name.clone()).collect();
        handles.push(tokio::spawn(async move {
            let mut conn: Option<(usize, Client)> = None;
            while let Some(u) = queue.next().await {
                if conn.as_ref().is_none_or(|(db, _)| *db != u.db) {
                    conn = Some((u.db, connect(&uri, Some(&names[u.db])).await?));
                }
                let (_, c) = conn.as_ref().expect("connected above");
                let n = copy_unit(c, seed, &ids, &u).await.map_err(|e| match e {
                    PgError::Db { what, source } => PgError::Db {
                        what: format!("{what} in {}", names[u.db]),
                        source,
                    },
                    other => other,
                })?;
                pb.inc(n);
            }
            Ok::<_, PgError>(())
        }));
    }
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
    pb.finish_and_clear();
    if let Some(e) = first_err {
        return Err(e);
    }
    let load_seconds = load_started.elapsed().as_secs_f64();

    // 4. Indexes after the load; reused databases whose profile changed get theirs rebuilt.
    if opts.index_build == IndexBuild::After {
        builds.extend(build_indexes(uri, scenario, placement, pop, &load, opts).await?);
    }
    let reindex: Vec<usize> = (0..plan.len())
        .filter(|&i| {
            plan[i] == DbOutcome::Reused
                && prior[i]
                    .as_ref()
                    .is_some_and(|m| m.index_profile != opts.indexes)
        })
        .collect();
    for &i in &reindex {
        let c = connect(uri, Some(&placement.databases[i].name)).await?;
        drop_indexes(&c, &schemas(placement, pop, i)).await?;
    }
    builds.extend(build_indexes(uri, scenario, placement, pop, &reindex, opts).await?);

    // 5. Foreign keys and statistics on the loaded data, then complete markers.
    let touched: Vec<usize> = load.iter().chain(reindex.iter()).copied().collect();
    let (load_ref, plan_ref, prior_ref) = (&load, &plan, &prior);
    stream::iter(touched.iter().copied())
        .map(|i| async move {
            let d = &placement.databases[i];
            let c = connect(uri, Some(&d.name)).await?;
            if load_ref.contains(&i) {
                let fks: Vec<String> = schemas(placement, pop, i)
                    .iter()
                    .flat_map(|s| {
                        Collection::ALL.map(|coll| schema::foreign_key(s, coll, "public"))
                    })
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
            let mut m = match &prior_ref[i] {
                Some(p) if plan_ref[i] == DbOutcome::Reused => p.clone(),
                _ => new_marker(scenario, opts.layout, d, pop, &opts.indexes),
            };
            m.complete = true;
            m.index_profile = opts.indexes.clone();
            for s in schemas(placement, pop, i) {
                write_marker(&c, &s, &m).await?;
            }
            write_marker(&c, "public", &m).await?;
            Ok::<_, PgError>(())
        })
        .buffer_unordered(4)
        .try_collect::<Vec<()>>()
        .await?;

    // 6. Sizes.
    let mut storage = 0i64;
    let mut index_bytes = 0i64;
    for d in &placement.databases {
        let c = connect(uri, Some(&d.name)).await?;
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

    let index_builds = IndexBuildTime::aggregate(builds.iter().cloned());
    let schemas_total: usize = (0..placement.databases.len())
        .map(|i| schemas(placement, pop, i).len())
        .sum();
    Ok(SeedSummary {
        layout: opts.layout,
        index_profile: opts.indexes.clone(),
        databases: placement.databases.len(),
        loaded: load.len(),
        reused: plan.len() - load.len(),
        collections: schemas_total * Collection::COUNT,
        indexes_built: builds.len(),
        indexes: schemas_total * profile_defs.len(),
        documents: total,
        load_seconds,
        total_seconds: started.elapsed().as_secs_f64(),
        index_builds,
        storage_bytes: storage,
        index_bytes,
    })
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
    let records = tokio::task::spawn_blocking(move || {
        parts
            .iter()
            .flat_map(|&(t, a, b)| (a..b).map(move |o| (t, o)))
            .map(|(t, o)| generate(seed, &ids2[t], coll, o))
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| PgError::State(format!("generating rows failed: {e}")))?;
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
    for r in &records {
        let cells: Vec<Cell> = r.fields.iter().map(|(_, v)| Cell(v)).collect();
        w.as_mut().write_raw(cells.iter()).await.ctx(what)?;
    }
    w.finish().await.ctx(what)
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
