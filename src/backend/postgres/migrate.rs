//! Migration on PostgreSQL: the primitives of [`MigrateTarget`] — a tenant's rows read in `id`
//! order and written column-wise through `unnest` (`ON CONFLICT (id) DO NOTHING` for a resumed
//! batch, `DO UPDATE` for the catch-up), the checkpoint and the tenant directory as tables of the
//! destination and the home database, hashes in `verify`'s canonical form — for the procedure
//! shared by every database kind. Layouts with a home database (`shared`, `hybrid`) keep their
//! tables in `public`.

use std::collections::HashMap;
use std::time::SystemTime;

use tokio::sync::OnceCell;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Row};

use super::driver::PgDriver;
use super::schema::{Column, columns};
use super::seed::PgSeeder;
use super::verify::hash_row;
use super::{Context, PgError, connect, ident, read_marker};
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

/// The table of a migration's checkpoints in its destination.
const CHECKPOINT_TABLE: &str = "_tenantbench_migration";
/// The table of the tenant directory in a layout's home database.
const DIRECTORY_TABLE: &str = "_tenantbench_directory";

/// Reads the tenant directory of the connected home database: its version and moves (none
/// when the table is absent).
///
/// # Errors
/// Server errors; a directory that does not parse.
pub async fn read_directory(c: &Client) -> Result<(u64, Vec<Move>), PgError> {
    let exists: bool = c
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tablename = $1)",
            &[&DIRECTORY_TABLE],
        )
        .await
        .ctx(|| "looking for the tenant directory".to_string())?
        .get(0);
    if !exists {
        return Ok((0, Vec::new()));
    }
    let row = c
        .query_opt(
            &format!("SELECT version, moves FROM public.{DIRECTORY_TABLE} WHERE id = 'directory'"),
            &[],
        )
        .await
        .ctx(|| "reading the tenant directory".to_string())?;
    let Some(r) = row else {
        return Ok((0, Vec::new()));
    };
    let moves: Vec<Move> = serde_json::from_str(r.get::<_, &str>(1))
        .map_err(|e| PgError::State(format!("the tenant directory does not parse: {e}")))?;
    Ok((r.get::<_, i64>(0).max(0) as u64, moves))
}

/// Removes the tenant directory of the connected home database.
///
/// # Errors
/// Server errors.
pub async fn clear_directory(c: &Client) -> Result<(), PgError> {
    c.batch_execute(&format!("DROP TABLE IF EXISTS public.{DIRECTORY_TABLE}"))
        .await
        .ctx(|| "clearing the tenant directory".to_string())
}

/// One column's values of a batch of rows, typed for an `unnest` parameter.
enum Values {
    Text(Vec<String>),
    Int(Vec<i64>),
    Time(Vec<SystemTime>),
    Bool(Vec<bool>),
}

impl Values {
    fn of(rows: &[Row], i: usize, ty: &Type) -> Values {
        match *ty {
            Type::INT8 => Values::Int(rows.iter().map(|r| r.get(i)).collect()),
            Type::TIMESTAMPTZ => Values::Time(rows.iter().map(|r| r.get(i)).collect()),
            Type::BOOL => Values::Bool(rows.iter().map(|r| r.get(i)).collect()),
            _ => Values::Text(rows.iter().map(|r| r.get(i)).collect()),
        }
    }

    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Values::Text(v) => v,
            Values::Int(v) => v,
            Values::Time(v) => v,
            Values::Bool(v) => v,
        }
    }
}

fn array_type(ty: &Type) -> &'static str {
    match *ty {
        Type::INT8 => "bigint[]",
        Type::TIMESTAMPTZ => "timestamptz[]",
        Type::BOOL => "boolean[]",
        _ => "text[]",
    }
}

/// The statement writing a batch column-wise into `public.<c>`: existing ids left alone, or
/// (`replace`) overwritten.
fn write_sql(c: Collection, cols: &[Column], replace: bool) -> String {
    let names: Vec<String> = cols.iter().map(|x| ident(&x.name)).collect();
    let arrays: Vec<String> = cols
        .iter()
        .enumerate()
        .map(|(i, x)| format!("${}::{}", i + 1, array_type(&x.ty)))
        .collect();
    let conflict = if replace {
        let set: Vec<String> = names
            .iter()
            .filter(|n| n.as_str() != "\"id\"")
            .map(|n| format!("{n} = EXCLUDED.{n}"))
            .collect();
        format!("DO UPDATE SET {}", set.join(", "))
    } else {
        "DO NOTHING".to_string()
    };
    format!(
        "INSERT INTO public.{} ({}) SELECT * FROM unnest({}) ON CONFLICT (id) {conflict}",
        ident(c.name()),
        names.join(", "),
        arrays.join(", ")
    )
}

/// One tenant's move on a PostgreSQL server.
pub struct PgMigration<'a> {
    uri: &'a str,
    spec: &'a MoveSpec<'a>,
    src: Client,
    /// The destination's connection, opened once it exists.
    dst: OnceCell<Client>,
}

impl<'a> PgMigration<'a> {
    /// The move `spec` on the server of `uri`, connected to its source.
    ///
    /// # Errors
    /// A destination name PostgreSQL would truncate, a layout without a home database, or no
    /// connection.
    pub async fn connect(uri: &'a str, spec: &'a MoveSpec<'a>) -> Result<PgMigration<'a>, PgError> {
        let to = spec.destination_name();
        if to.len() > super::MAX_IDENT {
            return Err(PgError::State(format!(
                "destination {to:?} is {} bytes; PostgreSQL keeps at most {} and would truncate it silently: use a shorter prefix or tenant id",
                to.len(),
                super::MAX_IDENT
            )));
        }
        let source = &spec.data.placement.databases[spec.from()];
        if source.server != crate::layout::Server::Default {
            return Err(PgError::State(format!(
                "{} is on the {}; PostgreSQL migrations move tenants within the default server",
                source.name, source.server
            )));
        }
        let src = connect(uri, Some(&source.name)).await?;
        Ok(PgMigration {
            uri,
            spec,
            src,
            dst: OnceCell::new(),
        })
    }

    fn id(&self) -> &str {
        self.spec.tenant_id()
    }

    fn dest_name(&self) -> &str {
        self.spec.destination_name()
    }

    async fn dst(&self) -> Result<&Client, PgError> {
        self.dst
            .get_or_try_init(|| connect(self.uri, Some(self.dest_name())))
            .await
    }

    async fn side(&self, side: Side) -> Result<&Client, PgError> {
        match side {
            Side::Source => Ok(&self.src),
            Side::Destination => self.dst().await,
        }
    }

    fn side_name(&self, side: Side) -> &str {
        match side {
            Side::Source => self.spec.source_name(),
            Side::Destination => self.dest_name(),
        }
    }

    /// A connection to the layout's home database, which keeps the tenant directory.
    async fn home(&self) -> Result<Client, PgError> {
        let home = self
            .spec
            .data
            .placement
            .home()
            .ok_or_else(|| PgError::State("this layout has no home database".into()))?;
        connect(
            self.uri,
            Some(&self.spec.data.placement.databases[home].name),
        )
        .await
    }

    /// Runs `f` on a seeder of the destination alone.
    async fn with_seeder<T>(
        &self,
        f: impl AsyncFnOnce(&PgSeeder<'_>) -> Result<T, PgError>,
    ) -> Result<T, PgError> {
        let s = self.spec;
        let pl = s.destination_placement();
        let opts = SeedOptions::from_scenario(s.data.scenario, s.data.placement.layout, s.indexes);
        let seeder = PgSeeder::connect(self.uri, s.data.scenario, s.data.pop, &pl, &opts).await?;
        f(&seeder).await
    }

    /// The tenant's rows of `c` on one side whose id is in `ids` (all when `None`).
    async fn rows(
        &self,
        side: Side,
        c: Collection,
        ids: Option<&[String]>,
    ) -> Result<Vec<Row>, PgError> {
        let cols = columns(c);
        let list: Vec<String> = cols.iter().map(|x| ident(&x.name)).collect();
        let mut sql = format!(
            "SELECT {} FROM public.{} WHERE tenant_id = $1",
            list.join(", "),
            ident(c.name())
        );
        let db = self.side(side).await?;
        let what = || format!("reading {}.{}", self.side_name(side), c.name());
        match ids {
            Some(ids) => {
                sql.push_str(" AND id = ANY($2)");
                db.query(&sql, &[&self.id(), &ids]).await.ctx(what)
            }
            None => db.query(&sql, &[&self.id()]).await.ctx(what),
        }
    }

    /// Writes rows read from the source into the destination.
    async fn write(&self, c: Collection, rows: &[Row], replace: bool) -> Result<(), PgError> {
        if rows.is_empty() {
            return Ok(());
        }
        let cols = columns(c);
        let values: Vec<Values> = cols
            .iter()
            .enumerate()
            .map(|(i, x)| Values::of(rows, i, &x.ty))
            .collect();
        let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(Values::as_sql).collect();
        self.dst()
            .await?
            .execute(&write_sql(c, &cols, replace), &params)
            .await
            .ctx(|| format!("copying into {}.{}", self.dest_name(), c.name()))?;
        Ok(())
    }
}

impl MigrateTarget for PgMigration<'_> {
    type Error = PgError;
    const UNIT: &'static str = "rows";

    fn spec(&self) -> &MoveSpec<'_> {
        self.spec
    }

    fn state(&self, message: String) -> PgError {
        PgError::State(message)
    }

    async fn source_counts(&self) -> Result<Vec<(Collection, u64)>, PgError> {
        let mut out = Vec::new();
        for c in Collection::ALL {
            let n: i64 = self
                .src
                .query_one(
                    &format!(
                        "SELECT count(*) FROM public.{} WHERE tenant_id = $1",
                        ident(c.name())
                    ),
                    &[&self.id()],
                )
                .await
                .ctx(|| format!("counting {}'s {}", self.id(), c.name()))?
                .get(0);
            out.push((c, n.max(0) as u64));
        }
        Ok(out)
    }

    async fn inspect_destination(&self) -> Result<(DbState, Option<Checkpoint>), PgError> {
        if !super::database_exists(&self.src, self.dest_name()).await? {
            return Ok((DbState::Empty, None));
        }
        let c = self.dst().await?;
        let Some(m) = read_marker(c, "public").await? else {
            return Ok((DbState::Foreign, None));
        };
        let has_table: bool = c
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tablename = $1)",
                &[&CHECKPOINT_TABLE],
            )
            .await
            .ctx(|| "looking for a migration checkpoint".to_string())?
            .get(0);
        let cp = if has_table {
            c.query_opt(
                &format!("SELECT state FROM public.{CHECKPOINT_TABLE} WHERE tenant = $1"),
                &[&self.id()],
            )
            .await
            .ctx(|| "reading the migration checkpoint".to_string())?
            .and_then(|r| serde_json::from_str(r.get::<_, &str>(0)).ok())
        } else {
            None
        };
        Ok((DbState::Marked(Box::new(m)), cp))
    }

    async fn create_destination(&self, create: bool) -> Result<(), PgError> {
        if create {
            self.with_seeder(async |s| s.prepare(&[(0, false)]).await)
                .await?;
            return Ok(());
        }
        let tn = &self.spec.data.pop.tenants[self.spec.tenant];
        self.dst()
            .await?
            .execute(
                "INSERT INTO public.tenants (id, tier, class, documents) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
                &[&tn.id, &tn.tier.name(), &tn.class(), &(tn.documents as i64)],
            )
            .await
            .ctx(|| format!("adding tenant {} to {}", tn.id, self.dest_name()))?;
        Ok(())
    }

    async fn copy_batch(
        &self,
        c: Collection,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(u64, Option<String>), PgError> {
        let cols = columns(c);
        let list: Vec<String> = cols.iter().map(|x| ident(&x.name)).collect();
        let sql = format!(
            "SELECT {} FROM public.{} WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT {limit}",
            list.join(", "),
            ident(c.name())
        );
        let rows = self
            .src
            .query(&sql, &[&self.id(), &after.unwrap_or("")])
            .await
            .ctx(|| format!("reading {}.{}", self.side_name(Side::Source), c.name()))?;
        let last = rows.last().map(|r| r.get::<_, String>(0));
        self.write(c, &rows, false).await?;
        Ok((rows.len() as u64, last))
    }

    async fn save_checkpoint(&self, cp: Option<&Checkpoint>) -> Result<(), PgError> {
        let c = self.dst().await?;
        let what = || format!("saving the migration checkpoint in {}", self.dest_name());
        match cp {
            Some(cp) => {
                let state = serde_json::to_string(cp)
                    .map_err(|e| PgError::State(format!("encoding the checkpoint: {e}")))?;
                c.batch_execute(&format!(
                    "CREATE TABLE IF NOT EXISTS public.{CHECKPOINT_TABLE} (tenant text PRIMARY KEY, state text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())"
                ))
                .await
                .ctx(what)?;
                c.execute(
                    &format!(
                        "INSERT INTO public.{CHECKPOINT_TABLE} (tenant, state) VALUES ($1, $2)
                         ON CONFLICT (tenant) DO UPDATE SET state = $2, updated_at = now()"
                    ),
                    &[&self.id(), &state],
                )
                .await
                .ctx(what)?;
            }
            None => {
                c.batch_execute(&format!(
                    "CREATE TABLE IF NOT EXISTS public.{CHECKPOINT_TABLE} (tenant text PRIMARY KEY, state text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())"
                ))
                .await
                .ctx(what)?;
                c.execute(
                    &format!("DELETE FROM public.{CHECKPOINT_TABLE} WHERE tenant = $1"),
                    &[&self.id()],
                )
                .await
                .ctx(what)?;
            }
        }
        Ok(())
    }

    async fn build_indexes(&self) -> Result<f64, PgError> {
        let t = std::time::Instant::now();
        self.with_seeder(async |s| s.build_indexes(&[0]).await)
            .await?;
        // Before the freeze, so the tenant is not held for them: the foreign keys of a new
        // destination (each once: a resumed migration may have added them) and statistics.
        let c = self.dst().await?;
        let fresh = read_marker(c, "public").await?.is_none_or(|m| !m.complete);
        if fresh {
            for coll in Collection::ALL {
                c.batch_execute(&format!(
                    "DO $$ BEGIN {}; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
                    super::schema::foreign_key("public", coll, "public")
                ))
                .await
                .ctx(|| format!("adding tenant_id foreign keys in {}", self.dest_name()))?;
            }
        }
        c.batch_execute("ANALYZE")
            .await
            .ctx(|| format!("ANALYZE in {}", self.dest_name()))?;
        Ok(t.elapsed().as_secs_f64())
    }

    async fn hashes(&self, side: Side, c: Collection) -> Result<HashMap<String, u128>, PgError> {
        let cols = columns(c);
        let rows = self.rows(side, c, None).await?;
        let mut enc = CanonicalEncoder::default();
        Ok(rows
            .iter()
            .map(|r| (r.get::<_, String>(0), hash_row(&mut enc, &cols, r)))
            .collect())
    }

    async fn repair(
        &self,
        c: Collection,
        copy: &[String],
        remove: &[String],
    ) -> Result<(), PgError> {
        for chunk in copy.chunks(1000) {
            let rows = self.rows(Side::Source, c, Some(chunk)).await?;
            self.write(c, &rows, true).await?;
        }
        if !remove.is_empty() {
            self.dst()
                .await?
                .execute(
                    &format!("DELETE FROM public.{} WHERE id = ANY($1)", ident(c.name())),
                    &[&remove],
                )
                .await
                .ctx(|| format!("catching up {}.{}", self.dest_name(), c.name()))?;
        }
        Ok(())
    }

    async fn complete_destination(&self) -> Result<(), PgError> {
        let c = self.dst().await?;
        let dirty = |m: Option<crate::backend::marker::Marker>| m.is_some_and(|x| x.dirty);
        let m = self.spec.destination_marker(
            dirty(read_marker(&self.src, "public").await?)
                || dirty(read_marker(c, "public").await?),
        );
        super::write_marker(c, "public", &m).await
    }

    async fn read_directory(&self) -> Result<(u64, Vec<Move>), PgError> {
        read_directory(&self.home().await?).await
    }

    async fn write_directory(&self, version: u64, moves: &[Move]) -> Result<(), PgError> {
        let c = self.home().await?;
        let json = serde_json::to_string(moves)
            .map_err(|e| PgError::State(format!("encoding the tenant directory: {e}")))?;
        c.batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS public.{DIRECTORY_TABLE} (id text PRIMARY KEY DEFAULT 'directory' CHECK (id = 'directory'), version bigint NOT NULL, moves text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())"
        ))
        .await
        .ctx(|| "creating the tenant directory".to_string())?;
        c.execute(
            &format!(
                "INSERT INTO public.{DIRECTORY_TABLE} (version, moves) VALUES ($1, $2)
                 ON CONFLICT (id) DO UPDATE SET version = $1, moves = $2, updated_at = now()"
            ),
            &[&(version as i64), &json],
        )
        .await
        .ctx(|| "writing the tenant directory".to_string())?;
        Ok(())
    }

    async fn delete_source(&self) -> Result<u64, PgError> {
        let mut n = 0;
        for c in Collection::ALL {
            n += self
                .src
                .execute(
                    &format!(
                        "DELETE FROM public.{} WHERE tenant_id = $1",
                        ident(c.name())
                    ),
                    &[&self.id()],
                )
                .await
                .ctx(|| {
                    format!(
                        "deleting {}'s {} from {}",
                        self.id(),
                        c.name(),
                        self.spec.source_name()
                    )
                })?;
        }
        Ok(n)
    }
}

impl crate::backend::Migrate for PgDriver {
    async fn directory(&self, placement: &Placement) -> Result<(u64, Vec<Move>), PgError> {
        let Some(home) = placement.home() else {
            return Ok((0, Vec::new()));
        };
        let name = &placement.databases[home].name;
        let admin = connect(&self.uri, None).await?;
        if !super::database_exists(&admin, name).await? {
            return Ok((0, Vec::new()));
        }
        let c = connect(&self.uri, Some(name)).await?;
        if super::read_marker(&c, "public").await?.is_none() {
            return Ok((0, Vec::new()));
        }
        super::migrate::read_directory(&c).await
    }

    async fn reset_moves(
        &self,
        prefix: &str,
        placement: &Placement,
    ) -> Result<Vec<String>, PgError> {
        let Some(stem) = crate::layout::moved_prefix(prefix, placement.layout) else {
            return Ok(Vec::new());
        };
        let admin = connect(&self.uri, None).await?;
        let pattern = format!("{}%", stem.replace('_', "\\_"));
        let names: Vec<String> = admin
            .query(
                "SELECT datname FROM pg_database WHERE datname LIKE $1 ORDER BY 1",
                &[&pattern],
            )
            .await
            .map_err(|source| PgError::Db {
                what: "listing databases".into(),
                source,
            })?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut dropped = Vec::new();
        for name in names {
            let c = connect(&self.uri, Some(&name)).await?;
            let ours = super::read_marker(&c, "public")
                .await?
                .is_some_and(|m| m.prefix == prefix);
            drop(c);
            if ours {
                admin
                    .batch_execute(&format!(
                        "DROP DATABASE {} WITH (FORCE)",
                        super::ident(&name)
                    ))
                    .await
                    .map_err(|source| PgError::Db {
                        what: format!("dropping {name}"),
                        source,
                    })?;
                dropped.push(name);
            }
        }
        if let Some(home) = placement.home() {
            let name = &placement.databases[home].name;
            if super::database_exists(&admin, name).await? {
                let c = connect(&self.uri, Some(name)).await?;
                if super::read_marker(&c, "public")
                    .await?
                    .is_some_and(|m| m.prefix == prefix)
                {
                    // Databases a move emptied of its tenant are reloaded by the next seed.
                    let (_, moves) = super::migrate::read_directory(&c).await?;
                    for e in moves.iter().flat_map(|m| &m.emptied) {
                        if e.starts_with(&stem) || !super::database_exists(&admin, e).await? {
                            continue;
                        }
                        let ec = connect(&self.uri, Some(e)).await?;
                        if super::read_marker(&ec, "public")
                            .await?
                            .is_some_and(|m| m.prefix == prefix)
                        {
                            ec.batch_execute(&format!(
                                "UPDATE public.{} SET dirty = true, updated_at = now()",
                                super::MARKER_TABLE
                            ))
                            .await
                            .map_err(|source| PgError::Db {
                                what: format!("marking {e} dirty"),
                                source,
                            })?;
                        }
                    }
                    super::migrate::clear_directory(&c).await?;
                }
            }
        }
        Ok(dropped)
    }

    async fn migrate(
        &self,
        spec: &MoveSpec<'_>,
        opts: &MigrateOptions,
        live: Option<Live<'_>>,
    ) -> Result<MigrationReport, PgError> {
        let t = super::migrate::PgMigration::connect(&self.uri, spec).await?;
        migrate::migrate(&t, opts, live).await
    }

    async fn plan_migration(
        &self,
        spec: &MoveSpec<'_>,
        opts: &MigrateOptions,
    ) -> Result<MovePlan, PgError> {
        let t = super::migrate::PgMigration::connect(&self.uri, spec).await?;
        migration_plan::dry_run(&t, opts).await
    }
}
