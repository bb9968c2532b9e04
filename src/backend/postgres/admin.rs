//! Listing, dropping and diagnosing on PostgreSQL: only databases that carry both the prefix
//! and a `_tenantbench` marker are listed or dropped; anything else is refused and left alone.

use std::time::Instant;

use super::{PgError, Settings, connect, ident, read_marker, settings};
use crate::backend::marker::{DropOutcome, MarkedDb, Marker};

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
