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
    CheckoutStats, ClientRegistry, ConnectOptions, MongoBackend, MongoError, Routing, Servers,
    check_ready, client, doctor, local_port, sample_connections, seed, server_connections, verify,
};
use crate::backend::Dataset;
use crate::backend::seed::{SeedOptions, SeedSummary};
use crate::backend::verify::VerifyReport;
use crate::backend::{Driver, TrialSetup, redact_uri, resolve_uri};
use crate::layout::{Placement, Server};
use crate::metrics::evidence as sys;
use crate::metrics::results::{
    ConnectionSample, Evidence, ExplainRecord, RegistryEvidence, ServerInfo, Summary,
};
use crate::op::{BackendKind, Request};
use crate::scenario::Strategy;

/// MongoDB through the default server's URI (other servers by their variables).
#[derive(Debug, Clone)]
pub struct MongoDriver {
    pub(super) uri: String,
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
    pub(super) async fn with_servers<T>(
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
    pub(super) fn seeding(workers: usize) -> ConnectOptions {
        ConnectOptions {
            max_pool_size: (workers as u32 + 4).max(16),
            ..Default::default()
        }
    }

    /// A one-connection client of a server.
    pub(super) async fn admin(&self, srv: &Server) -> Result<mongodb::Client, MongoError> {
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

    pub(super) async fn server_info(&self, srv: &Server) -> Result<ServerInfo, MongoError> {
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
        data: &Dataset<'_>,
        opts: &SeedOptions,
    ) -> Result<SeedSummary, MongoError> {
        let Dataset {
            scenario,
            pop,
            placement,
        } = *data;
        let conn = Self::seeding(opts.workers);
        self.with_servers(placement, &conn, async |s| {
            seed(s, scenario, pop, placement, opts).await
        })
        .await
    }

    async fn check_ready(
        &self,
        data: &Dataset<'_>,
        opts: &SeedOptions,
    ) -> Result<SeedSummary, MongoError> {
        let Dataset {
            scenario,
            pop,
            placement,
        } = *data;
        let conn = Self::seeding(opts.workers);
        self.with_servers(placement, &conn, async |s| {
            check_ready(s, scenario, pop, placement, opts).await
        })
        .await
    }

    async fn verify(&self, data: &Dataset<'_>, progress: bool) -> Result<VerifyReport, MongoError> {
        let Dataset {
            scenario,
            pop,
            placement,
        } = *data;
        self.with_servers(placement, &ConnectOptions::default(), async |s| {
            verify(s, scenario, pop, placement, progress).await
        })
        .await
    }

    fn connections(&self, c: &crate::backend::Connections<'_>) -> String {
        connections(c)
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
        for srv in t.data.placement.servers() {
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
        let servers = Servers::for_placement(&self.uri, t.data.placement, &conn).await?;
        let mut backend =
            MongoBackend::new(&servers, t.data.placement, t.data.pop, t.data.scenario.seed)
                .with_operations(t.data.scenario.operations.clone());
        if t.data.scenario.target.is_some() {
            backend = backend.on_existing();
        }
        if v.strategy == Strategy::ClientPerTenant {
            let mut regs = BTreeMap::new();
            for srv in t.data.placement.servers() {
                let u = Servers::uri_of(&self.uri, &srv)?;
                let c = &t.data.scenario.connections;
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
                max_clients: t.data.scenario.connections.max_clients as u64,
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

/// Monitoring connections a driver client keeps per server (heartbeat and RTT).
const MONITORING_PER_CLIENT: u64 = 2;

/// `plan`'s count of a variant's connections: one client's pool and monitoring per server, or
/// a client per tenant (up to the registry's limit) each with its own.
pub(super) fn connections(c: &crate::backend::Connections<'_>) -> String {
    let v = c.variant;
    let workers = v.pacer.workers() as u64;
    let pooled = u64::from(v.max_pool_size).min(workers);
    let per_client = pooled + MONITORING_PER_CLIENT;
    match v.strategy {
        crate::scenario::Strategy::SingleClient => format!(
            "about {} (≤ {workers} in use at once, pool {}, + {MONITORING_PER_CLIENT} monitoring per server)",
            per_client * c.servers,
            v.max_pool_size
        ),
        crate::scenario::Strategy::ClientPerTenant => {
            let clients = c.scenario.connections.max_clients.min(c.pop.tenants.len()) as u64;
            format!(
                "up to {} ({clients} clients × (≤ {pooled} pooled + {MONITORING_PER_CLIENT} monitoring)), plus one admin client",
                clients * per_client
            )
        }
    }
}

/// A server's name in results: `default`, or the variable holding its URI.
pub(super) fn role(srv: &Server) -> String {
    match srv {
        Server::Default => "default".into(),
        Server::Env(v) => v.clone(),
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
