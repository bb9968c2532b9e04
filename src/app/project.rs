//! `tenantbench plan --project N`: what N tenants of a scenario's shape would need in each
//! layout on each database — databases, collections or tables, indexes, files on mongod,
//! PostgreSQL catalog, connections, the harness's memory — from per-unit costs, and where each
//! layout meets a known limit.
//!
//! Counts come from the scenario's own rules at N tenants (the hybrid placement is computed by
//! the same code a run uses). Costs that cannot be counted are per-unit figures measured on
//! this project's machine (each constant says how); the harness's tenant structures are
//! measured in this process, at N, when the projection is made.

use std::fmt::Write as _;

use anyhow::{Result, bail};

use crate::datagen::Collection;
use crate::layout::Layout;
use crate::metrics::evidence::rss_bytes;
use crate::op::BackendKind;
use crate::scenario::Scenario;
use crate::workload::Workload;

/// Bytes of a new, empty PostgreSQL database (a copy of `template1`): `CREATE DATABASE x;
/// SELECT pg_database_size('x')` on PostgreSQL 15, 2026-12-05.
const PG_EMPTY_DATABASE_BYTES: f64 = 7_708_007.0;
/// Bytes a tenant schema adds in `schema-per-tenant` (catalog entries, five tables and the
/// marker with their keys, indexes and TOAST tables, and ten documents per tenant): a
/// 1,000-tenant scenario seeded as schema-per-tenant took 403,840,359 bytes against
/// 13,852,007 as shared, with the same rows (PostgreSQL 15, compound profile, 2026-12-05).
const PG_SCHEMA_BYTES: f64 = (403_840_359.0 - 13_852_007.0) / 1000.0;
/// Relations a tenant schema adds besides the profile's secondary indexes: the same seeding
/// counted 30 per schema (tables, keys, TOAST tables and their indexes) with the compound
/// profile's 5 indexes.
const PG_RELATIONS_PER_SCHEMA: u64 = 30 - 5;
/// Seconds `seed` took per tenant schema in the same measurement (30.9 s for 1,000 schemas,
/// 0.35 s for the same rows shared).
const PG_SCHEMA_SEED_S: f64 = 30.9 / 1000.0;
/// The harness's resident memory besides its tenant structures during a run, taken not to grow
/// with tenants: `/usr/bin/time -v tenantbench run -s scenarios/skewed-100k.toml` peaked at
/// 125,024 KB (122.1 MiB), of which this module measures 19.7 MiB as the structures of its
/// 100,000 tenants (docs/performance.md, "100,000 tenants").
const RUN_BASE_BYTES: f64 = (122.1 - 19.7) * 1_048_576.0;
/// The harness's memory target (issue 19): 256 MB during a run.
const HARNESS_TARGET_BYTES: f64 = 256.0 * 1_000_000.0;
/// mongod keeps a WiredTiger file per collection and per index; MongoDB's production notes
/// recommend an open-files limit (`ulimit -n`) of 64,000.
const MONGOD_FILES_ULIMIT: u64 = 64_000;
/// PostgreSQL's defaults: max_connections 100 less 3 reserved for superusers.
const PG_CONNECTIONS: u64 = 97;
/// The lock table of a default PostgreSQL: max_locks_per_transaction (64) × max_connections
/// (100). One transaction cannot lock more objects: `pg_dump` locks every table it dumps.
const PG_LOCK_SLOTS: u64 = 64 * 100;
/// Connections a harness process holds besides its pools (PostgreSQL).
const PG_HARNESS_CONNECTIONS: u64 = 3;
/// Monitoring connections a MongoDB driver client keeps per server.
const MONGO_MONITORING: u64 = 2;

/// One layout on one database at N tenants.
struct Row {
    backend: BackendKind,
    layout: Layout,
    databases: u64,
    /// Collections (MongoDB) or tables (PostgreSQL), the marker's included.
    collections: u64,
    /// Every index, `_id` and primary keys included.
    indexes: u64,
    /// Files on mongod, or PostgreSQL relations.
    files: u64,
    /// Bytes before any data: PostgreSQL's empty databases and schema catalogs.
    empty_bytes: f64,
    connections: u64,
    limits: Vec<String>,
}

/// The projection of `s` to `n` tenants as text.
///
/// # Errors
/// `n` out of range.
pub fn project(s: &Scenario, n: u64) -> Result<String> {
    if !(1..=u64::from(u32::MAX)).contains(&n) {
        bail!(
            "--project {n}: expected a number of tenants from 1 to {}",
            u32::MAX
        );
    }
    let mut big = s.clone();
    let per_tenant = s.population.documents as f64 / f64::from(s.population.tenants.max(1));
    big.population.tenants = n as u32;
    big.population.documents = (per_tenant * n as f64).round() as u64;
    let before = rss_bytes().unwrap_or(0);
    let pop = big.build_population();
    let hybrid = big.placement(&pop, Layout::Hybrid);
    let workload = Workload::from_spec(&pop, &big.workload, big.seed);
    let structures = rss_bytes().unwrap_or(0).saturating_sub(before) as f64;
    let harness = RUN_BASE_BYTES + structures;
    let hybrid_dbs = hybrid.databases.len() as u64;
    let mut rows = mongo_rows(s, n, hybrid_dbs);
    rows.extend(postgres_rows(s, n, hybrid_dbs));
    drop((workload, hybrid, pop));
    Ok(render(s, &big, n, harness, structures, &rows))
}

/// A layout's pool per database: its variant's on that database (max_pool_size, capped by
/// requests in flight), else the database's first variant's, else the matrix's first.
fn pool_of(s: &Scenario, b: BackendKind, l: Layout) -> u64 {
    let vs = &s.matrix.variants;
    let v = vs
        .iter()
        .find(|x| x.backend == b && x.layout == l)
        .or_else(|| vs.iter().find(|x| x.backend == b))
        .unwrap_or(&vs[0]);
    u64::from(v.max_pool_size)
        .min(v.pacer.workers() as u64)
        .max(1)
}

/// Secondary indexes per tenant of the index profile the database's first variant uses (else
/// the scenario's).
fn profile_indexes(s: &Scenario, b: BackendKind) -> u64 {
    let name = s
        .matrix
        .variants
        .iter()
        .find(|x| x.backend == b)
        .map_or(s.load.indexes.as_str(), |x| x.indexes.as_str());
    s.index_profile(name)
        .map_or(0, |p| p.values().map(Vec::len).sum::<usize>() as u64)
}

/// MongoDB's layouts at `n` tenants: per database the tenant collections and the marker, each
/// with `_id`.
fn mongo_rows(s: &Scenario, n: u64, hybrid_dbs: u64) -> Vec<Row> {
    let coll = Collection::COUNT as u64;
    let mi = profile_indexes(s, BackendKind::Mongodb);
    let mut rows = Vec::new();
    for (layout, dbs) in [
        (Layout::Shared, 1),
        (Layout::PerTenant, n),
        (Layout::Hybrid, hybrid_dbs),
    ] {
        let pool = pool_of(s, BackendKind::Mongodb, layout);
        let files = dbs * ((coll + 1) * 2 + mi);
        let mut limits = Vec::new();
        if files > MONGOD_FILES_ULIMIT {
            limits.push(format!(
                "{} files is {:.0}× the 64,000 open files MongoDB's production notes recommend: mongod keeps a WiredTiger file per collection and index, and beyond the limit it closes and reopens handles as tenants come and go",
                count(files),
                files as f64 / MONGOD_FILES_ULIMIT as f64
            ));
        }
        rows.push(Row {
            backend: BackendKind::Mongodb,
            layout,
            databases: dbs,
            collections: dbs * (coll + 1),
            indexes: dbs * (coll + 1 + mi),
            files,
            empty_bytes: 0.0,
            connections: pool + MONGO_MONITORING,
            limits,
        });
    }
    rows
}

/// PostgreSQL's layouts at `n` tenants: per database the tenants table, five tenant tables and
/// the marker.
fn postgres_rows(s: &Scenario, n: u64, hybrid_dbs: u64) -> Vec<Row> {
    let coll = Collection::COUNT as u64;
    let pi = profile_indexes(s, BackendKind::Postgres);
    let mut rows = Vec::new();
    for (layout, dbs, schemas) in [
        (Layout::Shared, 1, 1),
        (Layout::Rls, 1, 1),
        (Layout::SchemaPerTenant, 1, n),
        (Layout::PerTenant, n, n),
        (Layout::Hybrid, hybrid_dbs, hybrid_dbs),
    ] {
        let pool = pool_of(s, BackendKind::Postgres, layout);
        let connections = dbs * pool + PG_HARNESS_CONNECTIONS;
        let empty = dbs as f64 * PG_EMPTY_DATABASE_BYTES
            + if layout == Layout::SchemaPerTenant {
                schemas as f64 * PG_SCHEMA_BYTES
            } else {
                0.0
            };
        rows.push(Row {
            backend: BackendKind::Postgres,
            layout,
            databases: dbs,
            collections: dbs + schemas * (coll + 1),
            indexes: dbs + schemas * (coll + 1 + pi),
            files: dbs * 2 + schemas * (PG_RELATIONS_PER_SCHEMA + pi),
            empty_bytes: empty,
            connections,
            limits: postgres_limits(layout, dbs, schemas, pool),
        });
    }
    rows
}

/// The limits a PostgreSQL layout meets with `dbs` databases, `schemas` tenant schemas (or
/// sets of tenant tables) and a pool of `pool` per database.
fn postgres_limits(layout: Layout, dbs: u64, schemas: u64, pool: u64) -> Vec<String> {
    let coll = Collection::COUNT as u64;
    let connections = dbs * pool + PG_HARNESS_CONNECTIONS;
    let mut limits = Vec::new();
    if connections > PG_CONNECTIONS {
        limits.push(format!(
            "{} databases × a pool of {pool} + {PG_HARNESS_CONNECTIONS} = {} connections, over the {PG_CONNECTIONS} a default server allows (max_connections 100 − 3 reserved): `run` refuses it; at this pool size at most {} databases fit",
            count(dbs),
            count(connections),
            count((PG_CONNECTIONS - PG_HARNESS_CONNECTIONS) / pool)
        ));
    }
    if dbs == 1 && schemas * (coll + 1) > PG_LOCK_SLOTS {
        limits.push(format!(
            "{} tables in one database: more than the {} locks one transaction can hold on a default server (max_locks_per_transaction 64 × max_connections 100), so `pg_dump` of the database fails until max_locks_per_transaction is raised",
            count(schemas * (coll + 1)),
            count(PG_LOCK_SLOTS)
        ));
    }
    if layout == Layout::SchemaPerTenant && schemas > 10_000 {
        limits.push(format!(
            "creating {} schemas takes ≈ {:.1} h at the {:.0} ms per schema `seed` took here",
            count(schemas),
            schemas as f64 * PG_SCHEMA_SEED_S / 3600.0,
            PG_SCHEMA_SEED_S * 1000.0
        ));
    }
    if layout == Layout::PerTenant && dbs > 1000 {
        limits.push(format!(
            "each database is a catalog of its own: {} before any tenant data, and CREATE DATABASE copies template1 once per tenant",
            human(dbs as f64 * PG_EMPTY_DATABASE_BYTES)
        ));
    }
    limits
}

/// The projection's text: its heading, a row per layout and database, the limits met and the
/// harness's memory.
fn render(
    s: &Scenario,
    big: &Scenario,
    n: u64,
    harness: f64,
    structures: f64,
    rows: &[Row],
) -> String {
    let mut out = format!(
        "projection of {} ({} tenants, {} documents) to {} tenants and {} documents ({} per tenant, the same Zipf shape, tiers and rules); each layout's pool as its variant's (else the database's first)\n\n",
        s.name,
        count(u64::from(s.population.tenants)),
        count(s.population.documents),
        count(n),
        count(big.population.documents),
        (s.population.documents as f64 / f64::from(s.population.tenants.max(1))).round()
    );
    let _ = writeln!(
        out,
        "{:<10} {:<18} {:>10} {:>13} {:>12} {:>22} {:>13} {:>12}",
        "database",
        "layout",
        "databases",
        "collections",
        "indexes",
        "files / relations",
        "empty size",
        "connections"
    );
    for r in rows {
        let files = match r.backend {
            BackendKind::Mongodb => format!("{} files", count(r.files)),
            BackendKind::Postgres => format!("{} relations", count(r.files)),
        };
        let _ = writeln!(
            out,
            "{:<10} {:<18} {:>10} {:>13} {:>12} {:>22} {:>13} {:>12}",
            r.backend.name(),
            r.layout.name(),
            count(r.databases),
            count(r.collections),
            count(r.indexes),
            files,
            if r.empty_bytes > 0.0 {
                human(r.empty_bytes)
            } else {
                "-".into()
            },
            count(r.connections)
        );
    }
    out.push_str("\nlimits:\n");
    let mut any = false;
    for r in rows {
        for l in &r.limits {
            any = true;
            let _ = writeln!(out, "  {} {}: {l}", r.backend.name(), r.layout.name());
        }
    }
    if !any {
        out.push_str("  none met at this size\n");
    }
    let _ = writeln!(
        out,
        "\nharness memory: ≈ {} during a run ({} for the tenant structures — population, hybrid placement, workload — measured in this process at {} tenants, + {} for the rest of a run, measured at 100,000 tenants); target 256 MB: {}",
        human(harness),
        human(structures),
        count(n),
        human(RUN_BASE_BYTES),
        if harness <= HARNESS_TARGET_BYTES {
            "within".to_string()
        } else {
            format!(
                "over, by {:.1}× — more generators (`run --worker`) do not help: each one holds every tenant",
                harness / HARNESS_TARGET_BYTES
            )
        }
    );
    out.push_str("MongoDB files are mongod's (the local surrogate keeps no file per collection); PostgreSQL sizes exclude tenant data; connections are one load generator's.\n");
    out
}

/// A count with thousands separators.
fn count(n: u64) -> String {
    crate::report::analysis::count(n)
}

fn human(b: f64) -> String {
    crate::metrics::human_bytes(b.max(0.0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario() -> Scenario {
        Scenario::parse(
            std::path::Path::new("p.toml"),
            "name = \"p\"\n[population]\ntenants = 1000\ndocuments = 100000\n\
             distribution = { zipf = { s = 1.0 } }\n[population.tiers]\nenterprise = 1\npremium = 4\nbasic = 25\n\
             [[layout.hybrid.rule]]\nclass = \"enterprise\"\nplacement = \"dedicated\"\n\
             [[layout.hybrid.rule]]\nclass = \"premium\"\nplacement = \"pooled\"\ntenants_per_db = 10\n\
             [load]\nindexes = \"tenant\"\n[connections]\nmax_pool_size = 4\n",
        )
        .expect("scenario")
    }

    #[test]
    fn a_projection_counts_every_layout_from_the_rules_and_names_the_limits() {
        let text = project(&scenario(), 1_000_000).expect("projection");
        // Hybrid at a million: 1% dedicated (10,000), 4% pooled ten to a database (4,000), shared.
        assert!(text.contains("14,001"), "{text}");
        // Per-tenant MongoDB: (5 + marker) collections, each with _id, + 5 tenant indexes.
        assert!(text.contains("17,000,000 files"), "{text}");
        assert!(
            text.contains("mongodb per-tenant: 17,000,000 files"),
            "{text}"
        );
        assert!(
            text.contains("postgres per-tenant: 1,000,000 databases × a pool of 4"),
            "{text}"
        );
        assert!(text.contains("at most 23 databases"), "{text}");
        assert!(
            text.contains("postgres schema-per-tenant: 6,000,000 tables"),
            "{text}"
        );
        assert!(
            !text.contains("mongodb shared:"),
            "a shared layout meets no limit: {text}"
        );
    }

    #[test]
    fn a_small_projection_meets_no_limit_and_bad_sizes_are_refused() {
        let text = project(&scenario(), 10).expect("projection");
        assert!(text.contains("none met at this size"), "{text}");
        assert!(project(&scenario(), 0).is_err());
        assert!(project(&scenario(), 1 << 40).is_err());
    }
}
