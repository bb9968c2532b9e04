//! The PostgreSQL [`Driver`]: the commands' work on one server, and a trial's pools (a pool per
//! database of the placement, checked against `max_connections` before any is opened) with
//! connections sampled from `pg_stat_activity` once a second.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{
    PgBackend, PgError, check_ready, connect, existing_pool, pool, seed, settings, verify, warm,
};
use crate::backend::Dataset;
use crate::backend::seed::{SeedOptions, SeedSummary};
use crate::backend::verify::VerifyReport;
use crate::backend::{Driver, TrialSetup, redact_uri, resolve_uri};
use crate::metrics::results::{ConnectionSample, Evidence, ExplainRecord};
use crate::op::{BackendKind, Request};
use crate::scenario::{Strategy, Variant};

/// Connections the harness keeps for itself on PostgreSQL beyond the pools (sampler, admin).
pub(super) const HARNESS_CONNECTIONS: i64 = 3;

/// PostgreSQL through one server's URI.
#[derive(Debug, Clone)]
pub struct PgDriver {
    pub(super) uri: String,
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

    /// Connections of a variant's pool per database: its `max_pool_size`, never more than its
    /// requests in flight.
    pub(super) fn per_pool(v: &Variant) -> usize {
        (v.max_pool_size as usize).min(v.pacer.workers()).max(1)
    }
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

    async fn seed(&self, data: &Dataset<'_>, opts: &SeedOptions) -> Result<SeedSummary, PgError> {
        let Dataset {
            scenario,
            pop,
            placement,
        } = *data;
        seed(&self.uri, scenario, pop, placement, opts).await
    }

    async fn check_ready(
        &self,
        data: &Dataset<'_>,
        opts: &SeedOptions,
    ) -> Result<SeedSummary, PgError> {
        let Dataset {
            scenario,
            pop,
            placement,
        } = *data;
        // `serve` and `run --worker` call it: markers read, nothing written.
        check_ready(&self.uri, scenario, pop, placement, opts).await
    }

    async fn verify(&self, data: &Dataset<'_>, progress: bool) -> Result<VerifyReport, PgError> {
        let Dataset {
            scenario,
            pop,
            placement,
        } = *data;
        verify(&self.uri, scenario, pop, placement, progress).await
    }

    fn connections(&self, c: &crate::backend::Connections<'_>) -> String {
        connections(c)
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
        let dbs = t.data.placement.databases.len() as i64;
        let have = st.max_connections - st.reserved_connections;
        let (pools, generators): (Vec<i64>, i64) = match t.worker {
            None => (vec![Self::per_pool(v) as i64], 1),
            Some((_, n)) => {
                let whole = v.whole();
                let parts = (0..n)
                    .map(|j| whole.share((j, n)).map(|s| Self::per_pool(&s) as i64))
                    .collect::<Result<Vec<_>, _>>()?;
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
            .data
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
        let s = t.data.scenario;
        let pools = t
            .data
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
                .zip(&t.data.placement.databases)
                .filter(|(_, d)| !d.tenants.is_empty())
                .map(|(p, _)| p.clone())
                .collect();
            warm(&held, t.variant.min_pool_size as usize).await?;
        }
        let mut backend = PgBackend::new(pools, t.data.placement, t.data.pop, s.seed)
            .with_operations(s.operations.clone());
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

/// `plan`'s count of a variant's connections: a pool per database, each capped by the
/// requests in flight, and the harness's own — the arithmetic `preflight` refuses by.
pub(super) fn connections(c: &crate::backend::Connections<'_>) -> String {
    let v = c.variant;
    let dbs = c.databases;
    let pool = PgDriver::per_pool(v) as u64;
    let harness = HARNESS_CONNECTIONS as u64;
    let per_tenant = if v.layout == crate::layout::Layout::PerTenant {
        format!(
            "; per-tenant therefore fits at most {} tenants at this pool size on a default server, and each CREATE DATABASE copies template1 (about 8 MiB and 0.1 s here)",
            (97 - harness) / pool
        )
    } else {
        String::new()
    };
    format!(
        "up to {} ({dbs} database(s) × a pool of {pool} (max_pool_size {} capped by {} in flight) + {harness} for the harness); refused before seeding when above the server's max_connections − superuser_reserved_connections (97 with the defaults){per_tenant}",
        dbs * pool + harness,
        v.max_pool_size,
        v.pacer.workers()
    )
}
