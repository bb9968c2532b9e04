//! The MongoDB [`Driver`]: the commands' work on MongoDB servers (the default one and those a
//! hybrid placement names by `uri_env`), and a trial's clients, connection samplers and
//! client-per-tenant registries.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{
    CheckoutStats, ClientRegistry, ConnectOptions, Context, MongoBackend, MongoError, Routing,
    Servers, check_ready, client, doctor, drop_marked, list_marked, list_marked_sized, local_port,
    sample_connections, seed, server_connections, verify,
};
use crate::audit::{Gathered, Scope, detect_field, share};
use crate::backend::marker::{DbState, DropOutcome, MarkedDb};
use crate::backend::migrate::{self, Live, MigrateOptions, MigrationReport, MovePlan, MoveSpec};
use crate::backend::seed::{SeedOptions, SeedSummary};
use crate::backend::verify::VerifyReport;
use crate::backend::{Doctor, Driver, FaultDone, TrialSetup, redact_uri, resolve_uri, round_trips};
use crate::layout::{Layout, Move, Placement, Server};
use crate::metrics::evidence as sys;
use crate::metrics::human_bytes;
use crate::metrics::results::{
    ConnectionSample, Evidence, ExplainRecord, RegistryEvidence, ServerInfo, Summary,
};
use crate::op::{BackendKind, Request};
use crate::population::Population;
use crate::profile::Profiled;
use crate::scenario::faults::{FaultKind, FaultSpec};
use crate::scenario::{Scenario, Strategy};

/// MongoDB through the default server's URI (other servers by their variables).
#[derive(Debug, Clone)]
pub struct MongoDriver {
    uri: String,
}

/// What a MongoDB trial keeps open: the clients, their checkout statistics, the samplers.
pub struct MongoSession {
    servers: Servers,
    checkout: Arc<CheckoutStats>,
    sampling: CancellationToken,
    samplers: Vec<JoinHandle<Vec<ConnectionSample>>>,
}

impl MongoDriver {
    /// A driver for the server of `uri` (`None`: `$TENANTBENCH_MONGO_URI`, else the local
    /// default).
    pub fn new(uri: Option<&str>) -> MongoDriver {
        MongoDriver {
            uri: resolve_uri(uri, super::URI_ENV, super::DEFAULT_URI),
        }
    }

    /// The default server's URI.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Runs `f` on clients for every server of a placement (`conn`), then shuts them down.
    async fn with_servers<T>(
        &self,
        placement: &Placement,
        conn: &ConnectOptions,
        f: impl AsyncFnOnce(&Servers) -> Result<T, MongoError>,
    ) -> Result<T, MongoError> {
        let servers = Servers::for_placement(&self.uri, placement, conn).await?;
        let r = f(&servers).await;
        servers.shutdown().await;
        r
    }

    /// Client options with a pool for `workers` seeding workers.
    fn seeding(workers: usize) -> ConnectOptions {
        ConnectOptions {
            max_pool_size: (workers as u32 + 4).max(16),
            ..Default::default()
        }
    }

    /// A one-connection client of a server.
    async fn admin(&self, srv: &Server) -> Result<mongodb::Client, MongoError> {
        let u = Servers::uri_of(&self.uri, srv)?;
        client(
            &u,
            &ConnectOptions {
                max_pool_size: 1,
                server_selection_timeout: Duration::from_secs(5),
                ..Default::default()
            },
        )
        .await
    }

    async fn server_info(&self, srv: &Server) -> Result<ServerInfo, MongoError> {
        let uri = Servers::uri_of(&self.uri, srv)?;
        let c = self.admin(srv).await?;
        let d = doctor(&c).await;
        c.shutdown().await;
        if !d.reachable {
            return Err(MongoError::State(format!(
                "MongoDB at {}{}: {}",
                redact_uri(&uri),
                crate::backend::uri_user(&uri)
                    .map(|u| format!(" as user {u}"))
                    .unwrap_or_default(),
                d.error.unwrap_or_default()
            )));
        }
        Ok(ServerInfo {
            role: role(srv),
            backend: "mongodb".into(),
            version: d.version,
            surrogate: d.surrogate,
            storage_engine: d.storage_engine,
            wt_cache_bytes: d.wt_cache_bytes,
            local: local_port(&uri).and_then(sys::local_listener_pid).is_some(),
        })
    }
}

/// A driver error with what was being done.
fn ctx(context: &str) -> impl FnOnce(mongodb::error::Error) -> MongoError {
    let context = context.to_string();
    move |error| MongoError::Driver { context, error }
}

/// The server's version for an audit or profile (the surrogate named), or why it does not
/// answer.
async fn version_of(c: &mongodb::Client) -> Result<String, MongoError> {
    let d = doctor(c).await;
    if !d.reachable {
        return Err(MongoError::State(format!(
            "MongoDB does not answer: {} (is the URI right? `tenantbench doctor` checks it)",
            d.error.unwrap_or_default()
        )));
    }
    Ok(match (&d.version, &d.surrogate) {
        (Some(v), Some(s)) => format!("{v} (SecantusDB {s})"),
        (Some(v), None) => v.clone(),
        _ => "unknown".into(),
    })
}

/// The server's version, the databases of `scope`, their collections' facts and the tenant
/// field (given or detected): what `audit` and `profile` read first.
async fn read_facts(
    c: &mongodb::Client,
    scope: &Scope,
) -> Result<
    (
        String,
        Vec<String>,
        Vec<crate::audit::CollectionFacts>,
        Option<String>,
    ),
    MongoError,
> {
    let server_version = version_of(c).await?;
    let databases = super::audit::databases(c, &scope.databases)
        .await
        .map_err(ctx("listing databases"))?;
    let facts = super::audit::facts(c, &databases, scope.sample)
        .await
        .map_err(ctx("reading collections and indexes"))?;
    let field = scope.field.clone().or_else(|| detect_field(&facts));
    Ok((server_version, databases, facts, field))
}

/// [`Driver::profile`] on one client.
async fn profile_with(
    c: &mongodb::Client,
    scope: &Scope,
    exact_up_to: u64,
) -> Result<Profiled, MongoError> {
    let (server_version, databases, facts, field) = read_facts(c, scope).await?;
    let mut collections = Vec::new();
    if let Some(field) = &field {
        for f in facts.iter().filter(|f| share(f, field) > 0.0) {
            collections.push(
                super::audit::counts(c, f, field, exact_up_to)
                    .await
                    .map_err(ctx(&format!(
                        "counting {}.{} per tenant",
                        f.database, f.name
                    )))?,
            );
        }
    }
    Ok(Profiled {
        server_version,
        databases,
        field,
        collections,
    })
}

/// [`Driver::audit`] on one client.
async fn audit_with(c: &mongodb::Client, scope: &Scope) -> Result<Gathered, MongoError> {
    let (server_version, databases, facts, field) = read_facts(c, scope).await?;
    let mut collections = Vec::new();
    for f in facts {
        let probe = match &field {
            Some(field) if share(&f, field) > 0.0 => {
                super::audit::probe(c, &f, field, scope.sample)
                    .await
                    .map_err(ctx(&format!("explaining {}.{}", f.database, f.name)))?
            }
            _ => None,
        };
        collections.push((f, probe));
    }
    Ok(Gathered {
        server_version,
        databases,
        field,
        collections,
    })
}

/// A server's name in results: `default`, or the variable holding its URI.
fn role(srv: &Server) -> String {
    match srv {
        Server::Default => "default".into(),
        Server::Env(v) => v.clone(),
    }
}

impl Driver for MongoDriver {
    type Backend = MongoBackend;
    type Session = MongoSession;
    type Error = MongoError;
    const RECORDS: &'static str = "documents";

    fn kind(&self) -> BackendKind {
        BackendKind::Mongodb
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
    ) -> Result<SeedSummary, MongoError> {
        let conn = Self::seeding(opts.workers);
        self.with_servers(placement, &conn, async |s| {
            seed(s, scenario, pop, placement, opts).await
        })
        .await
    }

    async fn check_ready(
        &self,
        scenario: &Scenario,
        pop: &Population,
        placement: &Placement,
        opts: &SeedOptions,
    ) -> Result<SeedSummary, MongoError> {
        let conn = Self::seeding(opts.workers);
        self.with_servers(placement, &conn, async |s| {
            check_ready(s, scenario, pop, placement, opts).await
        })
        .await
    }

    async fn verify(
        &self,
        scenario: &Scenario,
        pop: &Population,
        placement: &Placement,
        progress: bool,
    ) -> Result<VerifyReport, MongoError> {
        self.with_servers(placement, &ConnectOptions::default(), async |s| {
            verify(s, scenario, pop, placement, progress).await
        })
        .await
    }

    async fn list(&self, prefix: Option<&str>, sizes: bool) -> Result<Vec<MarkedDb>, MongoError> {
        let c = client(&self.uri, &ConnectOptions::default()).await?;
        let r = if sizes {
            list_marked_sized(&c, prefix).await
        } else {
            list_marked(&c, prefix).await
        };
        c.shutdown().await;
        r
    }

    async fn drop(&self, prefix: &str, layout: Option<Layout>) -> Result<DropOutcome, MongoError> {
        let c = client(&self.uri, &ConnectOptions::default()).await?;
        let r = drop_marked(&c, prefix, layout).await;
        c.shutdown().await;
        r
    }

    async fn doctor(&self) -> Doctor {
        let mut out = Doctor {
            title: format!(
                "MongoDB at {}{}",
                redact_uri(&self.uri),
                crate::backend::uri_user(&self.uri)
                    .map(|u| format!(" as user {u}"))
                    .unwrap_or_default()
            ),
            ..Default::default()
        };
        let conn = ConnectOptions {
            server_selection_timeout: Duration::from_secs(3),
            ..Default::default()
        };
        let c = match client(&self.uri, &conn).await {
            Ok(c) => c,
            Err(e) => {
                out.unreachable = Some(e.to_string());
                return out;
            }
        };
        let r = doctor(&c).await;
        c.shutdown().await;
        if !r.reachable && r.refused {
            out.unreachable = Some(r.error.unwrap_or_else(|| "refused".into()));
            out.refused = true;
            out.hints = vec![
                "the server answered: fix the user, the password or authSource= in the URI (or the user's roles)".into(),
            ];
            return out;
        }
        if !r.reachable {
            out.unreachable = Some(r.error.unwrap_or_else(|| "unknown error".into()));
            out.hints = vec![
                "to start a local server:  scripts/mongo-local.sh start".into(),
                "or with Docker:           docker run -p 27017:27017 mongo:8".into(),
                "then point tenantbench at it with --uri or TENANTBENCH_MONGO_URI".into(),
            ];
            return out;
        }
        let f = &mut out.facts;
        f.push(("server", match (&r.version, &r.surrogate) {
            (Some(v), Some(s)) => format!(
                "SecantusDB {s} (a MongoDB-compatible surrogate, not mongod; reports MongoDB {v}). Its latencies are surrogate latencies"
            ),
            (Some(v), None) => format!("MongoDB {v}"),
            _ => "unknown (buildInfo failed)".into(),
        }));
        if let Some(e) = &r.storage_engine {
            f.push(("engine", e.clone()));
        }
        if !r.rtt_us.is_empty() {
            f.push(("round trip", round_trips(&r.rtt_us, "ping")));
        }
        f.push((
            "WT cache",
            r.wt_cache_bytes.map_or("not reported".into(), human_bytes),
        ));
        if let Some((all, ours)) = r.databases {
            f.push((
                "databases",
                format!("{all} ({ours} created by tenantbench; `tenantbench ls` lists them)"),
            ));
        }
        out
    }

    async fn audit(&self, scope: &Scope) -> Result<Gathered, MongoError> {
        let c = self.admin(&Server::Default).await?;
        let r = audit_with(&c, scope).await;
        c.shutdown().await;
        r
    }

    async fn profile(&self, scope: &Scope, exact_up_to: u64) -> Result<Profiled, MongoError> {
        let c = self.admin(&Server::Default).await?;
        let r = profile_with(&c, scope, exact_up_to).await;
        c.shutdown().await;
        r
    }

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
        self.with_servers(spec.placement, &Self::seeding(4), async |s| {
            migrate::migrate(&super::MongoMigration::new(s, spec), opts, live).await
        })
        .await
    }

    async fn plan_migration(
        &self,
        spec: &MoveSpec<'_>,
        opts: &MigrateOptions,
    ) -> Result<MovePlan, MongoError> {
        self.with_servers(spec.placement, &ConnectOptions::default(), async |s| {
            migrate::dry_run(&super::MongoMigration::new(s, spec), opts).await
        })
        .await
    }

    async fn server_infos(&self, servers: &[Server]) -> Result<Vec<ServerInfo>, MongoError> {
        let mut out = Vec::new();
        for s in servers {
            out.push(self.server_info(s).await?);
        }
        Ok(out)
    }

    async fn preflight(&self, _: &TrialSetup<'_>) -> Result<(), MongoError> {
        Ok(())
    }

    async fn open(
        &self,
        t: &TrialSetup<'_>,
    ) -> Result<(Arc<MongoBackend>, MongoSession), MongoError> {
        // Connection baseline per server, before the trial's clients exist.
        let sampling = CancellationToken::new();
        let mut samplers = Vec::new();
        for srv in t.placement.servers() {
            let c = self.admin(&srv).await?;
            let baseline = server_connections(&c).await.map(|x| x.0).unwrap_or(0);
            samplers.push(tokio::spawn(sample_connections(
                c,
                role(&srv),
                baseline,
                sampling.clone(),
            )));
        }
        // The trial's clients.
        let v = t.variant;
        let checkout = Arc::new(CheckoutStats::default());
        let conn = ConnectOptions {
            max_pool_size: v.max_pool_size,
            min_pool_size: v.min_pool_size,
            checkout: Some(checkout.clone()),
            ..Default::default()
        };
        let servers = Servers::for_placement(&self.uri, t.placement, &conn).await?;
        let mut backend = MongoBackend::new(&servers, t.placement, t.pop, t.scenario.seed)
            .with_operations(t.scenario.operations.clone());
        if t.scenario.target.is_some() {
            backend = backend.on_existing();
        }
        if v.strategy == Strategy::ClientPerTenant {
            let mut regs = BTreeMap::new();
            for srv in t.placement.servers() {
                let u = Servers::uri_of(&self.uri, &srv)?;
                let c = &t.scenario.connections;
                regs.insert(
                    srv,
                    ClientRegistry::new(&u, conn.clone(), c.max_clients, c.idle_ttl),
                );
            }
            backend = backend.with_routing(Routing::ClientPerTenant(regs));
        }
        let session = MongoSession {
            servers,
            checkout,
            sampling,
            samplers,
        };
        Ok((Arc::new(backend), session))
    }

    async fn explain(&self, backend: &MongoBackend, req: &Request) -> Option<ExplainRecord> {
        let e = backend.explain(req).await.ok()??;
        Some(ExplainRecord {
            op: req.op,
            tenant: String::new(),
            class: String::new(),
            tenant_documents: 0,
            collection_documents: backend
                .collection_documents(req)
                .await
                .ok()
                .flatten()
                .unwrap_or(0),
            stages: e.stages,
            keys_examined: e.keys_examined,
            docs_examined: e.docs_examined,
            returned: e.returned,
            limit: e.limit,
            rows_removed: None,
            buffers_hit: None,
            buffers_read: None,
            found: Some(e.returned),
            empty: false,
        })
    }

    async fn fault(
        &self,
        placement: &Placement,
        _: &Population,
        f: &FaultSpec,
        cancel: &CancellationToken,
        on_end: &dyn Fn(std::time::Instant),
    ) -> Result<FaultDone, MongoError> {
        // The placement's home server: the default one, where the shared database lives.
        let home = placement
            .databases
            .first()
            .map(|d| d.server.clone())
            .ok_or_else(|| MongoError::State("the placement has no database".into()))?;
        let uri = Servers::uri_of(&self.uri, &home)?;
        match f.kind {
            FaultKind::PauseServer => super::fault::pause(&uri, f.duration, cancel, on_end).await,
            FaultKind::RestartServer => {
                super::fault::restart(&uri, f.duration, cancel, on_end).await
            }
            FaultKind::KillConnections => {
                let c = client(&uri, &ConnectOptions::default()).await?;
                let r = super::fault::kill_sessions(&c, f.duration, cancel, on_end).await;
                c.shutdown().await;
                r
            }
            FaultKind::LockTenant => Err(MongoError::State(
                "lock_tenant holds a PostgreSQL table lock; MongoDB has none to hold".into(),
            )),
        }
    }

    fn local_servers(&self, placement: &Placement) -> Vec<(String, u32)> {
        let mut local: Vec<(String, u32)> = Vec::new();
        for srv in placement.servers() {
            let Ok(u) = Servers::uri_of(&self.uri, &srv) else {
                continue;
            };
            if let Some(pid) = local_port(&u).and_then(sys::local_listener_pid)
                && !local.iter().any(|(_, p)| *p == pid)
            {
                local.push((role(&srv), pid));
            }
        }
        local
    }

    fn server_cpu(&self, pid: u32) -> Option<f64> {
        sys::process_cpu_seconds(pid)
    }

    async fn close(
        &self,
        t: &TrialSetup<'_>,
        s: MongoSession,
        backend: Arc<MongoBackend>,
        evidence: &mut Evidence,
    ) {
        s.sampling.cancel();
        for h in s.samplers {
            if let Ok(mut samples) = h.await {
                evidence.connections.append(&mut samples);
            }
        }
        evidence.checkout = s.checkout.evidence();
        if let Routing::ClientPerTenant(regs) = backend.routing() {
            let mut r = RegistryEvidence {
                max_clients: t.scenario.connections.max_clients as u64,
                ..Default::default()
            };
            for reg in regs.values() {
                r.created += reg.stats.created.load(Relaxed);
                r.evicted_lru += reg.stats.evicted_lru.load(Relaxed);
                r.evicted_idle += reg.stats.evicted_idle.load(Relaxed);
                r.max_held = r.max_held.max(reg.stats.max_held.load(Relaxed) as u64);
                reg.shutdown().await;
            }
            let cold = backend.cold_starts();
            if !cold.is_empty() {
                r.cold_start = Some(Summary::of(&cold));
            }
            evidence.registry = Some(r);
        }
        s.servers.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use crate::backend::mongo::local_port;

    #[test]
    fn local_ports_come_from_the_uri_hosts() {
        assert_eq!(local_port("mongodb://127.0.0.1:27018"), Some(27018));
        assert_eq!(local_port("mongodb://u:p@localhost/db"), Some(27017));
        assert_eq!(local_port("mongodb://db.example.com:27017"), None);
        assert_eq!(local_port("not a uri"), None);
    }
}
