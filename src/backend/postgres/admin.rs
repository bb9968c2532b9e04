//! Listing, dropping and diagnosing on PostgreSQL: only databases that carry both the prefix
//! and a `_tenantbench` marker are listed or dropped; anything else is refused and left alone.

use std::time::Instant;

use super::driver::PgDriver;
use super::{PgError, Settings, connect, ident, read_marker, settings};
use crate::backend::Doctor;
use crate::backend::marker::{DropOutcome, MarkedDb, Marker};
use crate::backend::redact_uri;
use crate::backend::round_trips;
use crate::layout::Layout;
use crate::layout::Placement;
use crate::layout::Server;
use crate::metrics::evidence as sys;
use crate::metrics::results::ServerInfo;

/// A database whose name has the prefix: its marker when it has one, its schemas without a
/// marker, and its size.
struct Candidate {
    name: String,
    marker: Option<Marker>,
    foreign_schemas: Vec<String>,
    size: i64,
}

/// Databases whose name starts with `prefix_` (every database when `None`), each read once.
async fn candidates(uri: &str, prefix: Option<&str>) -> Result<Vec<Candidate>, PgError> {
    let admin = connect(uri, None).await?;
    let pattern = prefix.map_or("%".to_string(), |p| format!("{p}\\_%"));
    let rows = admin
        .query(
            "SELECT datname, pg_database_size(datname) FROM pg_database
              WHERE datname LIKE $1 AND NOT datistemplate AND datallowconn ORDER BY datname",
            &[&pattern],
        )
        .await
        .map_err(|source| PgError::Db {
            what: "listing databases".into(),
            source,
        })?;
    let mut out = Vec::new();
    for r in rows {
        let name: String = r.get(0);
        let (marker, foreign_schemas) = match connect(uri, Some(&name)).await {
            Ok(c) => (
                read_marker(&c, "public").await.ok().flatten(),
                super::foreign_schemas(&c).await?,
            ),
            Err(_) => (None, Vec::new()),
        };
        out.push(Candidate {
            name,
            marker,
            foreign_schemas,
            size: r.get(1),
        });
    }
    Ok(out)
}

/// Databases carrying a tenantbench marker (of `prefix` when given).
///
/// # Errors
/// Server errors.
pub async fn list_marked(uri: &str, prefix: Option<&str>) -> Result<Vec<MarkedDb>, PgError> {
    Ok(candidates(uri, prefix)
        .await?
        .into_iter()
        .filter_map(|c| {
            let marker = c.marker?;
            prefix
                .is_none_or(|p| crate::scenario::is_derived_prefix_of(&marker.prefix, p))
                .then_some(MarkedDb {
                    name: c.name,
                    marker,
                    size_bytes: Some(c.size.max(0) as u64),
                })
        })
        .collect())
}

/// Drops the databases of `prefix` (of one layout's names when given) that carry our marker
/// with that prefix; every other database with the prefix is refused.
///
/// # Errors
/// Server errors.
pub async fn drop_marked(
    uri: &str,
    prefix: &str,
    layout: Option<crate::layout::Layout>,
) -> Result<DropOutcome, PgError> {
    let admin = connect(uri, None).await?;
    let mut out = DropOutcome::default();
    let names = layout.map(|l| crate::layout::name_prefixes(prefix, l));
    for Candidate {
        name,
        marker,
        foreign_schemas: theirs,
        ..
    } in candidates(uri, Some(prefix)).await?
    {
        if names
            .as_ref()
            .is_some_and(|ns| !ns.iter().any(|n| name.starts_with(n.as_str())))
        {
            continue;
        }
        match marker {
            Some(_) if !theirs.is_empty() => out.refused.push((
                name,
                format!(
                    "it holds schemas without a tenantbench marker: {}",
                    theirs.join(", ")
                ),
            )),
            Some(m) if crate::scenario::is_derived_prefix_of(&m.prefix, prefix) => {
                admin
                    .batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", ident(&name)))
                    .await
                    .map_err(|source| PgError::Db {
                        what: format!("dropping {name}"),
                        source,
                    })?;
                // The rls layout's role, when it is ours (commented) and now owns nothing.
                let role = super::rls_role(&name);
                let ours: Option<String> = admin
                    .query_opt(
                        "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1",
                        &[&role],
                    )
                    .await
                    .ok()
                    .flatten()
                    .and_then(|r| r.get(0));
                if ours.as_deref() == Some("tenantbench") {
                    let _ = admin
                        .batch_execute(&format!("DROP ROLE IF EXISTS {}", ident(&role)))
                        .await;
                }
                out.dropped.push(name);
            }
            Some(m) => out
                .refused
                .push((name, format!("its marker is of prefix `{}`", m.prefix))),
            None => out.refused.push((
                name,
                "no tenantbench marker (not created by tenantbench)".into(),
            )),
        }
    }
    Ok(out)
}

/// What `doctor` finds on a PostgreSQL server.
#[derive(Debug, Clone, Default)]
pub struct DoctorReport {
    /// Why it could not be reached.
    pub error: Option<String>,
    /// Version and the settings that shape results.
    pub settings: Option<Settings>,
    /// Round trips of `SELECT 1`, µs, sorted.
    pub rtt_us: Vec<u64>,
    /// Databases in all, and those with our marker.
    pub databases: Option<(usize, usize)>,
}

/// Diagnoses the server of `uri`.
pub async fn doctor(uri: &str) -> DoctorReport {
    let c = match connect(uri, None).await {
        Ok(c) => c,
        Err(e) => {
            return DoctorReport {
                error: Some(e.to_string()),
                ..Default::default()
            };
        }
    };
    let mut r = DoctorReport {
        settings: settings(&c).await.ok(),
        ..Default::default()
    };
    for _ in 0..5 {
        let t0 = Instant::now();
        if c.simple_query("SELECT 1").await.is_ok() {
            r.rtt_us.push(t0.elapsed().as_micros() as u64);
        }
    }
    r.rtt_us.sort_unstable();
    if let Ok(all) = candidates(uri, None).await {
        r.databases = Some((all.len(), all.iter().filter(|x| x.marker.is_some()).count()));
    }
    r
}

impl crate::backend::Admin for PgDriver {
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
