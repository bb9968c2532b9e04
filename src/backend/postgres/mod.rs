//! The PostgreSQL backend: connections and pools, names, the `_tenantbench` marker table, the
//! schema derived from the data catalogue, seeding with binary COPY, verification, the
//! operation catalogue in SQL and its evidence.
//!
//! Layouts on PostgreSQL (databases from [`crate::layout::Placement`]):
//! - `shared`: `<prefix>_shared`, tables in `public` with `tenant_id`;
//! - `per-tenant`: `<prefix>_t_<tenant>`, a database (and so a pool) per tenant;
//! - `schema-per-tenant`: `<prefix>_schemas`, a schema `t_<tenant>` per tenant on one pool;
//! - `rls`: `<prefix>_rls`, shared tables with row-level security policies on `tenant_id`; each
//!   operation is a transaction that sets `app.tenant_id` and runs as `<database>_app`, a role
//!   that is neither superuser nor owner (both bypass RLS).
//!
//! Every table keeps `tenant_id` in every layout, so a record reads back the same everywhere and
//! verifies against the same checksums as on MongoDB.

pub mod admin;
pub mod audit;
mod custom;
pub mod driver;
mod explain;
mod fault;
pub mod migrate;
pub mod ops;
pub mod schema;
pub mod seed;
pub mod verify;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_postgres::{Client, Config, NoTls};

use crate::backend::marker::Marker;
use crate::layout::Layout;
use crate::population::Population;

pub use admin::{DoctorReport, doctor, drop_marked, list_marked};
pub use driver::{PgDriver, PgSession};
pub use explain::PgExplain;
pub use ops::PgBackend;
pub use seed::{PgSeeder, Pregenerated, check_ready, seed};
pub use verify::verify;

/// Environment variable holding the PostgreSQL URI.
pub const URI_ENV: &str = "TENANTBENCH_PG_URI";
/// The URI used when neither `--uri` nor [`URI_ENV`] is given.
pub const DEFAULT_URI: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Name of the marker table in every database and schema the harness creates.
pub const MARKER_TABLE: &str = "_tenantbench";
/// PostgreSQL truncates identifiers longer than this many bytes, silently.
pub const MAX_IDENT: usize = 63;

/// What went wrong, with what the harness was doing.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// A server call failed.
    #[error("{what}: {source}")]
    Db {
        /// What the harness was doing.
        what: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// The URI does not parse.
    #[error("the PostgreSQL URI {uri} does not parse: {reason}")]
    Uri {
        /// The URI, credentials hidden.
        uri: String,
        /// Why.
        reason: String,
    },
    /// The layout or the data is not what the command needs.
    #[error("{0}")]
    State(String),
    /// A load generator's share of a variant has no worker.
    #[error(transparent)]
    Share(#[from] crate::scenario::ShareError),
}

/// Adds what the harness was doing to a driver error.
pub(crate) trait Context<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T, PgError>;
}

impl<T> Context<T> for Result<T, tokio_postgres::Error> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T, PgError> {
        self.map_err(|source| PgError::Db {
            what: what(),
            source,
        })
    }
}

/// The URI to use: the flag, else [`URI_ENV`], else [`DEFAULT_URI`].
pub fn resolve_uri(flag: Option<&str>) -> String {
    crate::backend::resolve_uri(flag, URI_ENV, DEFAULT_URI)
}

/// The driver configuration of a URI, pointed at database `db` (the URI's own when `None`).
///
/// # Errors
/// The URI does not parse.
pub fn config(uri: &str, db: Option<&str>) -> Result<Config, PgError> {
    let mut c: Config = uri
        .parse()
        .map_err(|e: tokio_postgres::Error| PgError::Uri {
            uri: crate::backend::redact_uri(uri),
            reason: e.to_string(),
        })?;
    if let Some(d) = db {
        c.dbname(d);
    }
    if c.get_connect_timeout().is_none() {
        c.connect_timeout(Duration::from_secs(5));
    }
    c.application_name(application_name());
    Ok(c)
}

/// The application name of this process's connections, `tenantbench/<pid>`: how
/// `pg_stat_activity` tells them apart (a `kill_connections` fault ends only these).
pub fn application_name() -> String {
    format!("tenantbench/{}", std::process::id())
}

/// One connection to database `db` (the URI's own when `None`), its connection task spawned.
///
/// # Errors
/// The URI does not parse or the server refuses.
pub async fn connect(uri: &str, db: Option<&str>) -> Result<Client, PgError> {
    let cfg = config(uri, db)?;
    let (client, conn) = cfg.connect(NoTls).await.ctx(|| {
        format!(
            "connecting to PostgreSQL at {} (database {})",
            crate::backend::redact_uri(uri),
            db.unwrap_or("of the URI")
        )
    })?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// A pool of at most `size` connections to database `db`.
///
/// # Errors
/// The URI does not parse.
pub fn pool(uri: &str, db: &str, size: usize) -> Result<deadpool_postgres::Pool, PgError> {
    pool_of(config(uri, Some(db))?, db, size)
}

/// A pool of at most `size` connections to a team's own database `db` (`[target] existing =
/// true`): read-only unless `writes` (`default_transaction_read_only`, so not even a bug can
/// write), with `schema` first on the `search_path` when given.
///
/// # Errors
/// The URI does not parse.
pub fn existing_pool(
    uri: &str,
    db: &str,
    size: usize,
    schema: Option<&str>,
    writes: bool,
) -> Result<deadpool_postgres::Pool, PgError> {
    let mut cfg = config(uri, Some(db))?;
    let mut options = Vec::new();
    if !writes {
        options.push("-c default_transaction_read_only=on".to_string());
    }
    if let Some(s) = schema {
        // A checked identifier (letters, digits, `_`, `$`): quoted, it keeps its case.
        options.push(format!("-c search_path=\"{s}\""));
    }
    if !options.is_empty() {
        cfg.options(options.join(" "));
    }
    pool_of(cfg, db, size)
}

fn pool_of(cfg: Config, db: &str, size: usize) -> Result<deadpool_postgres::Pool, PgError> {
    let mgr = deadpool_postgres::Manager::from_config(
        cfg,
        NoTls,
        deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Fast,
        },
    );
    deadpool_postgres::Pool::builder(mgr)
        .max_size(size.max(1))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(30)))
        .build()
        .map_err(|e| PgError::State(format!("building a pool for {db}: {e}")))
}

/// Opens `n` connections of every pool (at most its size) and returns them to it, all at once:
/// the pools then start a trial warm, as `minPoolSize` keeps a MongoDB driver's. Returns the
/// connections opened.
///
/// # Errors
/// A connection cannot be opened.
pub async fn warm(pools: &[deadpool_postgres::Pool], n: usize) -> Result<usize, PgError> {
    let opening = pools.iter().flat_map(|p| {
        let k = n.min(p.status().max_size);
        (0..k).map(move |_| p.get())
    });
    // Held until all are open, then returned to their pools when dropped.
    let held = futures_util::future::join_all(opening)
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PgError::State(format!("opening a pooled connection: {e}")))?;
    Ok(held.len())
}

/// A quoted identifier (`"name"`, inner quotes doubled).
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The schema of a tenant in the `schema-per-tenant` layout.
pub fn tenant_schema(tenant: &str) -> String {
    format!("t_{tenant}")
}

/// The role tenant operations run as in the `rls` layout (cluster-wide, named after the
/// database): neither superuser nor owner, so the policies apply to it.
pub fn rls_role(database: &str) -> String {
    format!("{database}_app")
}

/// The schema holding a tenant's tables in a layout (`public` unless schema-per-tenant).
pub fn schema_of(layout: Layout, tenant: &str) -> String {
    match layout {
        Layout::SchemaPerTenant => tenant_schema(tenant),
        _ => "public".to_string(),
    }
}

/// Every identifier a placement creates (databases, schemas), checked against PostgreSQL's
/// 63-byte limit: longer names would be truncated silently and could collide.
///
/// # Errors
/// The first name that is too long, with its length.
pub fn check_identifiers(
    placement: &crate::layout::Placement,
    pop: &Population,
) -> Result<(), PgError> {
    let mut names: Vec<String> = placement.databases.iter().map(|d| d.name.clone()).collect();
    if placement.layout == Layout::SchemaPerTenant {
        names.extend(pop.tenants.iter().map(|t| tenant_schema(&t.id)));
    }
    match names.iter().find(|n| n.len() > MAX_IDENT) {
        Some(n) => Err(PgError::State(format!(
            "identifier {n:?} is {} bytes; PostgreSQL keeps at most {MAX_IDENT} and would truncate it silently: use a shorter prefix or tenant ids",
            n.len()
        ))),
        None => Ok(()),
    }
}

/// The DDL of the marker table in `schema`.
pub fn marker_ddl(schema: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {}.{MARKER_TABLE} (
            id text PRIMARY KEY DEFAULT 'marker' CHECK (id = 'marker'),
            prefix text NOT NULL, scenario text NOT NULL, layout text NOT NULL,
            definition_hash text NOT NULL, index_profile text NOT NULL,
            complete boolean NOT NULL, dirty boolean NOT NULL,
            tenants bigint NOT NULL, rows bigint NOT NULL,
            harness_version text NOT NULL, datagen_version integer NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now())",
        ident(schema)
    )
}

/// Writes (replaces) the marker of `schema` in the connected database.
///
/// # Errors
/// Server errors.
pub async fn write_marker(c: &Client, schema: &str, m: &Marker) -> Result<(), PgError> {
    c.batch_execute(&marker_ddl(schema))
        .await
        .ctx(|| format!("creating the marker table in schema {schema}"))?;
    c.execute(
        &format!(
            "INSERT INTO {}.{MARKER_TABLE} (prefix, scenario, layout, definition_hash, index_profile, complete, dirty, tenants, rows, harness_version, datagen_version)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (id) DO UPDATE SET prefix = $1, scenario = $2, layout = $3, definition_hash = $4,
               index_profile = $5, complete = $6, dirty = $7, tenants = $8, rows = $9,
               harness_version = $10, datagen_version = $11, updated_at = now()",
            ident(schema)
        ),
        &[
            &m.prefix,
            &m.scenario,
            &m.layout,
            &m.definition_hash,
            &m.index_profile,
            &m.complete,
            &m.dirty,
            &(m.tenants as i64),
            &(m.records as i64),
            &env!("CARGO_PKG_VERSION"),
            &(crate::datagen::DATAGEN_VERSION as i32),
        ],
    )
    .await
    .ctx(|| format!("writing the marker of schema {schema}"))?;
    Ok(())
}

/// Reads the marker of `schema` in the connected database: `None` when the table is absent or
/// holds no readable marker.
///
/// # Errors
/// Server errors other than a missing table.
pub async fn read_marker(c: &Client, schema: &str) -> Result<Option<Marker>, PgError> {
    let exists: bool = c
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = $2)",
            &[&schema, &MARKER_TABLE],
        )
        .await
        .ctx(|| format!("looking for the marker table in schema {schema}"))?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let row = c
        .query_opt(
            &format!(
                "SELECT prefix, scenario, layout, definition_hash, index_profile, complete, dirty, tenants, rows FROM {}.{MARKER_TABLE} WHERE id = 'marker'",
                ident(schema)
            ),
            &[],
        )
        .await
        .ctx(|| format!("reading the marker of schema {schema}"))?;
    Ok(row.map(|r| Marker {
        prefix: r.get(0),
        scenario: r.get(1),
        layout: r.get(2),
        placement: String::new(),
        definition_hash: r.get(3),
        index_profile: r.get(4),
        complete: r.get(5),
        dirty: r.get(6),
        tenants: r.get::<_, i64>(7).max(0) as u64,
        records: r.get::<_, i64>(8).max(0) as u64,
    }))
}

/// Schemas of the connected database that tenantbench did not create: neither `public` nor a
/// system schema, and without a marker table. A database holding one is not dropped.
///
/// # Errors
/// Server errors.
pub async fn foreign_schemas(c: &Client) -> Result<Vec<String>, PgError> {
    let rows = c
        .query(
            "SELECT n.nspname FROM pg_namespace n
              WHERE n.nspname NOT IN ('public', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
                AND NOT EXISTS (SELECT 1 FROM pg_tables t WHERE t.schemaname = n.nspname AND t.tablename = $1)
              ORDER BY 1",
            &[&MARKER_TABLE],
        )
        .await
        .ctx(|| "listing schemas".to_string())?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The JSON plan of `EXPLAIN (…, FORMAT JSON) …` text `sql`, read as text through the simple
/// protocol (this build's driver has no json type); `what` names the query in errors.
///
/// # Errors
/// Server errors, no plan, or a plan that does not parse.
pub async fn explain_json(c: &Client, sql: &str, what: &str) -> Result<serde_json::Value, PgError> {
    let msgs = c
        .simple_query(sql)
        .await
        .ctx(|| format!("EXPLAIN of {what}"))?;
    let json = msgs
        .iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .ok_or_else(|| PgError::State("EXPLAIN returned no plan".into()))?;
    serde_json::from_str(&json)
        .map_err(|e| PgError::State(format!("EXPLAIN output does not parse: {e}")))
}

/// Whether database `name` exists on the server.
///
/// # Errors
/// Server errors.
pub async fn database_exists(admin: &Client, name: &str) -> Result<bool, PgError> {
    Ok(admin
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)",
            &[&name],
        )
        .await
        .ctx(|| format!("looking up database {name}"))?
        .get(0))
}

/// Milliseconds since the epoch as a `SystemTime` (what `timestamptz` columns take).
pub fn time_of(ms: i64) -> SystemTime {
    if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms as u64)
    } else {
        UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs())
    }
}

/// A `SystemTime` as milliseconds since the epoch.
pub fn ms_of(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

/// The server settings that shape results, and its version.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Settings {
    /// `server_version`.
    pub version: String,
    /// `max_connections`.
    pub max_connections: i64,
    /// `superuser_reserved_connections`.
    pub reserved_connections: i64,
    /// `shared_buffers`, as the server shows it.
    pub shared_buffers: String,
    /// `work_mem`.
    pub work_mem: String,
    /// `jit`.
    pub jit: String,
}

/// Reads [`Settings`].
///
/// # Errors
/// Server errors.
pub async fn settings(c: &Client) -> Result<Settings, PgError> {
    let show = |name: &'static str| async move {
        c.query_one(&format!("SHOW {name}"), &[])
            .await
            .map(|r| r.get::<_, String>(0))
            .ctx(|| format!("SHOW {name}"))
    };
    Ok(Settings {
        version: show("server_version").await?,
        max_connections: show("max_connections").await?.parse().unwrap_or(100),
        reserved_connections: show("superuser_reserved_connections")
            .await?
            .parse()
            .unwrap_or(3),
        shared_buffers: show("shared_buffers").await?,
        work_mem: show("work_mem").await?,
        jit: show("jit").await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_and_times_round_trip() {
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        for ms in [0, 1_700_000_000_123, -86_400_000] {
            assert_eq!(ms_of(time_of(ms)), ms);
        }
    }
}
