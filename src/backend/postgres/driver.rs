//! The PostgreSQL [`Driver`]: the commands' work on one server, and a trial's pools (a pool per
//! database of the placement, checked against `max_connections` before any is opened) with
//! connections sampled from `pg_stat_activity` once a second.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{
    PgBackend, PgError, check_ready, connect, doctor, drop_marked, existing_pool, list_marked,
    pool, seed, settings, verify, warm,
};
use crate::audit::{Gathered, Scope, detect_field, share};
use crate::backend::marker::{DropOutcome, MarkedDb};
use crate::backend::migrate::{self, Live, MigrateOptions, MigrationReport, MovePlan, MoveSpec};
use crate::backend::seed::{SeedOptions, SeedSummary};
use crate::backend::verify::VerifyReport;
use crate::backend::{Doctor, Driver, FaultDone, TrialSetup, redact_uri, resolve_uri, round_trips};
use crate::layout::{Layout, Move, Placement, Server};
use crate::metrics::evidence as sys;
use crate::metrics::results::{ConnectionSample, Evidence, ExplainRecord, ServerInfo};
use crate::op::{BackendKind, Request};
use crate::population::Population;
use crate::profile::Profiled;
use crate::scenario::faults::{FaultKind, FaultSpec};
use crate::scenario::{Scenario, Strategy, Variant};

/// Connections the harness keeps for itself on PostgreSQL beyond the pools (sampler, admin).
const HARNESS_CONNECTIONS: i64 = 3;

/// PostgreSQL through one server's URI.
#[derive(Debug, Clone)]
pub struct PgDriver {
    uri: String,
}

/// What a PostgreSQL trial keeps open: the connection sampler.
pub struct PgSession {
    sampling: CancellationToken,
    sampler: JoinHandle<Vec<ConnectionSample>>,
}

impl PgDriver {
    /// A driver for the server of `uri` (`None`: `$TENANTBENCH_PG_URI`, else the local
    /// default).
    pub fn new(uri: Option<&str>) -> PgDriver {
        PgDriver {
            uri: resolve_uri(uri, super::URI_ENV, super::DEFAULT_URI),
        }
    }

    /// The server's URI.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Connections per pool of a trial: a pool never holds more connections than requests can
    /// be in flight at once.
    /// Connections of a variant's pool per database: its `max_pool_size`, never more than its
    /// requests in flight.
    fn per_pool(v: &Variant) -> usize {
        (v.max_pool_size as usize).min(v.pacer.workers()).max(1)
    }
}

/// Read-only sessions on the databases of an audit or profile, with their tables' facts.
struct ReadOnly {
    version: String,
    sessions: Vec<(String, tokio_postgres::Client)>,
    facts: Vec<crate::audit::CollectionFacts>,
    field: Option<String>,
}

impl ReadOnly {
    /// The session of database `db`.
    fn session(&self, db: &str) -> &tokio_postgres::Client {
        let s = self.sessions.iter().find(|(d, _)| d == db);
        &s.unwrap_or(&self.sessions[0]).1
    }
}

impl PgDriver {
    /// Opens a `READ ONLY` session per database of `scope` (the URI's when none) and reads
    /// their tables' facts and the tenant field.
    async fn read_only(&self, scope: &Scope) -> Result<ReadOnly, PgError> {
        let dbs: Vec<Option<&str>> = if scope.databases.is_empty() {
            vec![None]
        } else {
            scope.databases.iter().map(|d| Some(d.as_str())).collect()
        };
        let mut sessions = Vec::new();
        let mut facts = Vec::new();
        for db in dbs {
            let c = super::audit::session(&self.uri, db).await?;
            facts.extend(super::audit::facts(&c, &scope.schemas, scope.sample).await?);
            sessions.push((super::audit::current_database(&c).await?, c));
        }
        let version = settings(&sessions[0].1).await?.version;
        let field = scope.field.clone().or_else(|| detect_field(&facts));
        Ok(ReadOnly {
            version,
            sessions,
            facts,
            field,
        })
    }
}

/// The port of a PostgreSQL URI whose host is this machine.
fn local_port(uri: &str) -> Option<u16> {
    let cfg = super::config(uri, None).ok()?;
    let local = cfg.get_hosts().iter().all(|h| match h {
        tokio_postgres::config::Host::Tcp(h) => {
            matches!(h.as_str(), "127.0.0.1" | "localhost" | "::1")
        }
        tokio_postgres::config::Host::Unix(_) => true,
    });
    local.then(|| cfg.get_ports().first().copied().unwrap_or(5432))
}

/// Samples the connections of `names` once a second until `stop`, relative to `baseline`.
async fn sample(
    admin: tokio_postgres::Client,
    names: Vec<String>,
    baseline: i64,
    stop: CancellationToken,
) -> Vec<ConnectionSample> {
    let t0 = std::time::Instant::now();
    let mut out = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = stop.cancelled() => break,
        }
        if let Ok(r) = admin.query_one(COUNT_SQL, &[&names]).await {
            let current: i64 = r.get(0);
            out.push(ConnectionSample {
                t_s: (t0.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
                server: "postgres".into(),
                current,
                total_created: 0,
                trial: current - baseline,
            });
        }
    }
    out
}

/// Connections to a set of databases.
const COUNT_SQL: &str = "SELECT count(*) FROM pg_stat_activity WHERE datname = ANY($1)";

impl Driver for PgDriver {
    type Backend = PgBackend;
    type Session = PgSession;
    type Error = PgError;
    const RECORDS: &'static str = "rows";

    fn kind(&self) -> BackendKind {
        BackendKind::Postgres
    }

    fn redacted_uri(&self) -> String {
        redact_uri(&self.uri)
    }

    async fn seed(
        &self,
        scenario: &Scenario,
        pop: &Population,
        placement: &Placement,
        opts: &SeedOptions,
    ) -> Result<SeedSummary, PgError> {
        seed(&self.uri, scenario, pop, placement, opts).await
    }

    async fn check_ready(
        &self,
        scenario: &Scenario,
        pop: &Population,
        placement: &Placement,
        opts: &SeedOptions,
    ) -> Result<SeedSummary, PgError> {
        // `serve` and `run --worker` call it: markers read, nothing written.
        check_ready(&self.uri, scenario, pop, placement, opts).await
    }

    async fn verify(
        &self,
        scenario: &Scenario,
        pop: &Population,
        placement: &Placement,
        progress: bool,
    ) -> Result<VerifyReport, PgError> {
        verify(&self.uri, scenario, pop, placement, progress).await
    }

    async fn list(&self, prefix: Option<&str>, _: bool) -> Result<Vec<MarkedDb>, PgError> {
        // pg_database_size reads the catalog, not the data: sizes always.
        list_marked(&self.uri, prefix).await
    }

    async fn drop(&self, prefix: &str, layout: Option<Layout>) -> Result<DropOutcome, PgError> {
        drop_marked(&self.uri, prefix, layout).await
    }

    async fn doctor(&self) -> Doctor {
        let r = doctor(&self.uri).await;
        let mut out = Doctor {
            title: format!("PostgreSQL at {}", redact_uri(&self.uri)),
            ..Default::default()
        };
        if let Some(e) = r.error {
            out.unreachable = Some(e);
            out.hints = vec![
                "start it (Debian): service postgresql start".into(),
                format!(
                    "then point tenantbench at it with --uri or {}",
                    super::URI_ENV
                ),
            ];
            return out;
        }
        let f = &mut out.facts;
        if let Some(s) = &r.settings {
            f.push(("server", format!("PostgreSQL {}", s.version)));
            f.push((
                "connections",
                format!(
                    "max_connections {} ({} reserved for superusers)",
                    s.max_connections, s.reserved_connections
                ),
            ));
            f.push((
                "memory",
                format!(
                    "shared_buffers {}, work_mem {}",
                    s.shared_buffers, s.work_mem
                ),
            ));
            f.push(("jit", s.jit.clone()));
        }
        if !r.rtt_us.is_empty() {
            f.push(("round trip", round_trips(&r.rtt_us, "SELECT 1")));
        }
        if let Some((all, ours)) = r.databases {
            f.push((
                "databases",
                format!(
                    "{all} ({ours} created by tenantbench; `tenantbench ls --backend postgres` lists them)"
                ),
            ));
        }
        out
    }

    async fn audit(&self, scope: &Scope) -> Result<Gathered, PgError> {
        let mut r = self.read_only(scope).await?;
        let mut collections = Vec::new();
        for f in std::mem::take(&mut r.facts) {
            let probe = match &r.field {
                Some(field) if share(&f, field) > 0.0 => {
                    super::audit::probe(r.session(&f.database), &f, field, scope.sample).await?
                }
                _ => None,
            };
            collections.push((f, probe));
        }
        Ok(Gathered {
            server_version: r.version,
            databases: r.sessions.into_iter().map(|(d, _)| d).collect(),
            field: r.field,
            collections,
        })
    }

    async fn profile(&self, scope: &Scope, exact_up_to: u64) -> Result<Profiled, PgError> {
        let r = self.read_only(scope).await?;
        let mut collections = Vec::new();
        if let Some(field) = &r.field {
            for f in r.facts.iter().filter(|f| share(f, field) > 0.0) {
                collections.push(
                    super::audit::counts(r.session(&f.database), f, field, exact_up_to).await?,
                );
            }
        }
        Ok(Profiled {
            server_version: r.version,
            databases: r.sessions.into_iter().map(|(d, _)| d).collect(),
            field: r.field,
            collections,
        })
    }

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
        migrate::dry_run(&t, opts).await
    }

    async fn server_infos(&self, _: &[Server]) -> Result<Vec<ServerInfo>, PgError> {
        let c = connect(&self.uri, None).await.map_err(|e| {
            PgError::State(format!(
                "PostgreSQL does not answer (is it running? `service postgresql start`): {e}"
            ))
        })?;
        let st = settings(&c).await?;
        Ok(vec![ServerInfo {
            role: "postgres".into(),
            backend: "postgres".into(),
            version: Some(format!(
                "{} (shared_buffers {}, work_mem {}, jit {}, max_connections {})",
                st.version, st.shared_buffers, st.work_mem, st.jit, st.max_connections
            )),
            surrogate: None,
            storage_engine: None,
            wt_cache_bytes: None,
            local: local_port(&self.uri)
                .and_then(sys::local_listener_pid)
                .is_some(),
        }])
    }

    async fn preflight(&self, t: &TrialSetup<'_>) -> Result<(), PgError> {
        let v = t.variant;
        if v.strategy == Strategy::ClientPerTenant {
            return Err(PgError::State(
                "strategy client-per-tenant is MongoDB's (a client registry); on postgres use single-client with a pool per database".into(),
            ));
        }
        // Pools before anything is created: every database gets a pool, and with several
        // generators (`run --worker i/N`) every generator its own — each of its share of
        // the pool — so the sum over the generators must fit the server.
        let st = settings(&connect(&self.uri, None).await?).await?;
        let dbs = t.placement.databases.len() as i64;
        let have = st.max_connections - st.reserved_connections;
        let (pools, generators): (Vec<i64>, i64) = match t.worker {
            None => (vec![Self::per_pool(v) as i64], 1),
            Some((_, n)) => {
                let whole = v.whole();
                let parts = (0..n)
                    .map(|j| whole.share((j, n)).map(|s| Self::per_pool(&s) as i64))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(PgError::State)?;
                (parts, i64::from(n))
            }
        };
        let per_db: i64 = pools.iter().sum();
        let need = dbs * per_db + generators * HARNESS_CONNECTIONS;
        if need > have {
            let pool = v.whole().max_pool_size;
            let arithmetic = if generators == 1 {
                format!(
                    "{dbs} databases × {per_db} connections per pool (max_pool_size {pool} capped by {} requests in flight) + {HARNESS_CONNECTIONS} for the harness",
                    t.in_flight()
                )
            } else {
                let parts: Vec<String> = pools.iter().map(i64::to_string).collect();
                format!(
                    "{generators} generators: {dbs} databases × ({}) connections per pool (max_pool_size {pool} split over the generators, each capped by its requests in flight) + {generators} × {HARNESS_CONNECTIONS} for the harness",
                    parts.join(" + ")
                )
            };
            return Err(PgError::State(format!(
                "{arithmetic} = {need} connections, but the server allows {have} ({} max_connections − {} reserved): a pool per database does not fit. Lower max_pool_size, use fewer tenants, or a layout with one database (shared, schema-per-tenant)",
                st.max_connections, st.reserved_connections
            )));
        }
        Ok(())
    }

    async fn open(&self, t: &TrialSetup<'_>) -> Result<(Arc<PgBackend>, PgSession), PgError> {
        // Connections of the placement's databases, once a second, from an admin connection.
        let admin = connect(&self.uri, None).await?;
        let names: Vec<String> = t
            .placement
            .databases
            .iter()
            .map(|d| d.name.clone())
            .collect();
        let baseline: i64 = admin
            .query_one(COUNT_SQL, &[&names])
            .await
            .map_err(|source| PgError::Db {
                what: "counting connections".into(),
                source,
            })?
            .get(0);
        let sampling = CancellationToken::new();
        let sampler = tokio::spawn(sample(admin, names, baseline, sampling.clone()));
        let s = t.scenario;
        let pools = t
            .placement
            .databases
            .iter()
            .map(|d| match &s.target {
                Some(x) => existing_pool(
                    &self.uri,
                    &d.name,
                    Self::per_pool(t.variant),
                    x.schema.as_deref(),
                    s.mix_writes().is_some(),
                ),
                None => pool(&self.uri, &d.name, Self::per_pool(t.variant)),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if t.variant.min_pool_size > 0 {
            // Databases holding no tenant yet (a migration's destination, created later) are
            // left cold: they may not exist before the trial's migration makes them.
            let held: Vec<deadpool_postgres::Pool> = pools
                .iter()
                .zip(&t.placement.databases)
                .filter(|(_, d)| !d.tenants.is_empty())
                .map(|(p, _)| p.clone())
                .collect();
            warm(&held, t.variant.min_pool_size as usize).await?;
        }
        let mut backend =
            PgBackend::new(pools, t.placement, t.pop, s.seed).with_operations(s.operations.clone());
        if s.target.is_some() {
            backend = backend.on_existing();
        }
        Ok((Arc::new(backend), PgSession { sampling, sampler }))
    }

    async fn explain(&self, backend: &PgBackend, req: &Request) -> Option<ExplainRecord> {
        let e = backend.explain(req).await.ok()??;
        Some(ExplainRecord {
            op: req.op,
            tenant: String::new(),
            class: String::new(),
            tenant_documents: 0,
            collection_documents: backend.table_rows(req).await.ok().flatten().unwrap_or(0),
            stages: e.stages,
            keys_examined: e.keys_examined,
            docs_examined: e.docs_examined,
            returned: e.returned,
            limit: e.limit,
            rows_removed: Some(e.rows_removed),
            buffers_hit: Some(e.buffers_hit),
            buffers_read: Some(e.buffers_read),
            found: Some(e.matched),
            empty: false,
        })
    }

    async fn fault(
        &self,
        placement: &Placement,
        pop: &Population,
        f: &FaultSpec,
        cancel: &CancellationToken,
        on_end: &dyn Fn(std::time::Instant),
    ) -> Result<FaultDone, PgError> {
        match f.kind {
            FaultKind::KillConnections => {
                super::fault::kill_connections(&self.uri, placement, f.duration, cancel, on_end)
                    .await
            }
            FaultKind::LockTenant => {
                super::fault::lock_tenant(&self.uri, placement, pop, f, cancel, on_end).await
            }
            FaultKind::PauseServer | FaultKind::RestartServer => Err(PgError::State(format!(
                "{} stops a server the harness started (scripts/mongo-local.sh); this PostgreSQL is the machine's, shared with everything on it",
                f.kind.name()
            ))),
        }
    }

    fn local_servers(&self, _: &Placement) -> Vec<(String, u32)> {
        local_port(&self.uri)
            .and_then(sys::local_listener_pid)
            .map(|pid| ("default".to_string(), pid))
            .into_iter()
            .collect()
    }

    fn server_cpu(&self, pid: u32) -> Option<f64> {
        // A backend process per connection: the postmaster's whole tree.
        sys::process_tree_cpu_seconds(pid)
    }

    async fn close(
        &self,
        _: &TrialSetup<'_>,
        s: PgSession,
        backend: Arc<PgBackend>,
        evidence: &mut Evidence,
    ) {
        s.sampling.cancel();
        if let Ok(mut samples) = s.sampler.await {
            evidence.connections.append(&mut samples);
        }
        for p in backend.pools() {
            p.close();
        }
    }
}
