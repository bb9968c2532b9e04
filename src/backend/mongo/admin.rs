//! Housekeeping against a server: list the databases the harness created, drop them (and only
//! them), and the doctor's look at the server.

use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt, stream};
use mongodb::Client;
use mongodb::bson::{Bson, doc};

use super::ConnectOptions;
use super::MongoDriver;
use super::Servers;
use super::client;
use super::driver::role;
use super::local_port;
use super::{Context, MongoError, inspect};
use crate::backend::Doctor;
use crate::backend::marker::{DbState, DropOutcome, MarkedDb};
use crate::backend::redact_uri;
use crate::backend::round_trips;
use crate::layout::Layout;
use crate::layout::Placement;
use crate::layout::Server;
use crate::metrics::evidence as sys;
use crate::metrics::human_bytes;
use crate::metrics::results::ServerInfo;

/// Lists the databases on a server that carry a tenantbench marker, by name; with a prefix,
/// only databases named `<prefix>_…` are inspected (one round trip each, 16 at a time).
///
/// # Errors
/// Driver errors (unreachable server, permissions).
pub async fn list_marked(
    client: &Client,
    prefix: Option<&str>,
) -> Result<Vec<MarkedDb>, MongoError> {
    // Names only: with sizes, `listDatabases` sizes every database on the server whatever the
    // filter (18 s for 1,024 databases on the local surrogate, against 0.01 s by name).
    let names = client
        .list_database_names()
        .await
        .ctx(|| "listing databases".to_string())?;
    let wanted = prefix.map(|p| format!("{p}_"));
    let mut out: Vec<MarkedDb> = stream::iter(names)
        .filter(|name| {
            let system = matches!(name.as_str(), "admin" | "local" | "config");
            let named = wanted.as_deref().is_none_or(|w| name.starts_with(w));
            std::future::ready(!system && named)
        })
        .map(|name| async move {
            let DbState::Marked(m) = inspect(&client.database(&name)).await? else {
                return Ok::<_, MongoError>(None);
            };
            Ok(Some(MarkedDb {
                name,
                size_bytes: None,
                marker: *m,
            }))
        })
        .buffer_unordered(16)
        .try_filter_map(|x| std::future::ready(Ok(x)))
        .try_collect()
        .await?;
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// [`list_marked`] with each database's size from its `dbStats` (storage + indexes), 16 at a
/// time: `ls --sizes`. The local surrogate reads a database's data to answer (7.8 s for
/// 1.5 GiB); mongod answers from its metadata.
///
/// # Errors
/// Driver errors.
pub async fn list_marked_sized(
    client: &Client,
    prefix: Option<&str>,
) -> Result<Vec<MarkedDb>, MongoError> {
    stream::iter(list_marked(client, prefix).await?)
        .map(|mut d| async move {
            let s = client
                .database(&d.name)
                .run_command(doc! {"dbStats": 1})
                .await
                .ctx(|| format!("dbStats on {}", d.name))?;
            let size: i64 = [s.get("storageSize"), s.get("indexSize")]
                .into_iter()
                .map(super::seed::bson_i64)
                .sum();
            d.size_bytes = Some(u64::try_from(size).unwrap_or(0));
            Ok::<_, MongoError>(d)
        })
        .buffered(16)
        .try_collect()
        .await
}

/// Drops the databases whose name starts with `<prefix>_` and whose marker carries that prefix
/// or a scaled copy of it (`<prefix>_s0p01`)
/// (and, if given, one of the layouts). A database with the prefix but without our marker is
/// refused and left untouched.
///
/// # Errors
/// Driver errors.
pub async fn drop_marked(
    client: &Client,
    prefix: &str,
    layout: Option<Layout>,
) -> Result<DropOutcome, MongoError> {
    let names = client
        .list_database_names()
        .await
        .ctx(|| "listing databases".to_string())?;
    let wanted: Vec<String> = match layout {
        Some(l) => crate::layout::name_prefixes(prefix, l),
        None => vec![format!("{prefix}_")],
    };
    let mut out = DropOutcome::default();
    for name in names {
        if !wanted.iter().any(|w| name.starts_with(w.as_str())) {
            continue;
        }
        let db = client.database(&name);
        match inspect(&db).await? {
            DbState::Marked(m)
                if crate::scenario::is_derived_prefix_of(&m.prefix, prefix)
                    && layout.is_none_or(|l| m.layout == l.name()) =>
            {
                db.drop().await.ctx(|| format!("dropping {name}"))?;
                out.dropped.push(name);
            }
            DbState::Marked(m) if !crate::scenario::is_derived_prefix_of(&m.prefix, prefix) => {
                out.refused
                    .push((name, format!("its marker belongs to prefix `{}`", m.prefix)));
            }
            DbState::Marked(_) => {}
            DbState::Empty => {}
            DbState::Foreign => {
                out.refused.push((
                    name,
                    "it has no tenantbench marker (not created by tenantbench)".into(),
                ));
            }
        }
    }
    Ok(out)
}

/// What the doctor found.
#[derive(Debug, Clone, Default)]
pub struct DoctorReport {
    /// Whether the server answered `ping`.
    pub reachable: bool,
    /// Why not, when it did not.
    pub error: Option<String>,
    /// It answered, but refused the credentials (authentication or permission).
    pub refused: bool,
    /// MongoDB version the server reports.
    pub version: Option<String>,
    /// SecantusDB's own version when the server is the surrogate.
    pub surrogate: Option<String>,
    /// Round-trip times of `ping`, microseconds, sorted.
    pub rtt_us: Vec<u64>,
    /// WiredTiger cache size, bytes, where reported.
    pub wt_cache_bytes: Option<u64>,
    /// Storage engine name, where reported.
    pub storage_engine: Option<String>,
    /// Databases on the server / of them carrying a tenantbench marker.
    pub databases: Option<(usize, usize)>,
}

/// Sends `ping` to a server.
///
/// # Errors
/// Why the server did not answer.
pub async fn ping(client: &Client) -> Result<(), MongoError> {
    client
        .database("admin")
        .run_command(doc! {"ping": 1})
        .await
        .ctx(|| "ping".to_string())?;
    Ok(())
}

/// Checks a server: reachability, identity, round-trip time, cache size, and how many of its
/// databases tenantbench created (which inspects every database: slow with many thousands).
pub async fn doctor(client: &Client) -> DoctorReport {
    let mut r = DoctorReport::default();
    let admin = client.database("admin");
    if let Err(e) = ping(client).await {
        r.refused = matches!(&e, MongoError::Driver { error, .. } if super::errors::refused(error));
        r.error = Some(e.to_string());
        return r;
    }
    r.reachable = true;
    for _ in 0..10 {
        let t = Instant::now();
        if admin.run_command(doc! {"ping": 1}).await.is_ok() {
            r.rtt_us.push(t.elapsed().as_micros() as u64);
        }
    }
    r.rtt_us.sort_unstable();
    if let Ok(b) = admin.run_command(doc! {"buildInfo": 1}).await {
        r.version = b.get_str("version").ok().map(str::to_string);
        r.surrogate = b.get_str("secantusVersion").ok().map(str::to_string);
    }
    if let Ok(s) = tokio::time::timeout(
        Duration::from_secs(5),
        admin.run_command(doc! {"serverStatus": 1}),
    )
    .await
    .unwrap_or_else(|_| Err(mongodb::error::Error::custom("serverStatus timed out")))
    {
        r.wt_cache_bytes = s
            .get_document("wiredTiger")
            .ok()
            .and_then(|w| w.get_document("cache").ok())
            .and_then(|c| c.get("maximum bytes configured"))
            .and_then(as_u64);
        r.storage_engine = s
            .get_document("storageEngine")
            .ok()
            .and_then(|e| e.get_str("name").ok())
            .map(str::to_string);
    }
    if let Ok(marked) = list_marked(client, None).await
        && let Ok(all) = client.list_database_names().await
    {
        r.databases = Some((all.len(), marked.len()));
    }
    r
}

fn as_u64(b: &Bson) -> Option<u64> {
    match b {
        Bson::Int32(v) => u64::try_from(*v).ok(),
        Bson::Int64(v) => u64::try_from(*v).ok(),
        Bson::Double(v) if *v >= 0.0 => Some(*v as u64),
        _ => None,
    }
}

impl crate::backend::Admin for MongoDriver {
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

    async fn server_infos(&self, servers: &[Server]) -> Result<Vec<ServerInfo>, MongoError> {
        let mut out = Vec::new();
        for s in servers {
            out.push(self.server_info(s).await?);
        }
        Ok(out)
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
}
