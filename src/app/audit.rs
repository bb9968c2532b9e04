//! `tenantbench audit`: read a team's own database through the driver of `--backend`, judge
//! each collection or table, print the table, write JSON and Markdown when asked, and exit 1
//! on the verdicts `--fail-on` names.

use anyhow::{Context as _, Result, bail};

use super::EXIT_FINDINGS;
use super::settings::driver;
use crate::audit::{AUDIT_SCHEMA_VERSION, Audit, Gathered, Scope, TENANT_FIELDS, assess, count};
use crate::backend::Inspect;
use crate::cli::{AuditArgs, FailOn, OwnDatabase};
use crate::op::BackendKind;
use crate::with_driver;

/// Most documents or rows `--sample` may ask for per collection.
const MAX_SAMPLE: u64 = 1_000_000;

/// Runs the audit; returns 0, or 1 when `--fail-on` matched.
///
/// # Errors
/// An unreachable server, a role that may not read the catalogs, no tenant field, an output
/// file that cannot be written.
pub async fn audit(a: &AuditArgs) -> Result<u8> {
    if !(1..=MAX_SAMPLE).contains(&a.sample) {
        bail!("--sample {}: expected 1 to {MAX_SAMPLE}", a.sample);
    }
    let (kind, scope) = scope_of(&a.own, a.sample)?;
    let any = driver(&a.own.server, kind);
    let g = with_driver!(&any, |d| d.audit(&scope).await.map_err(anyhow::Error::from))
        .context("auditing")?;
    let report = build(kind, &scope, g)?;
    print!("{}", crate::audit::render::table(&report));
    if let Some(p) = &a.json {
        let text = serde_json::to_string_pretty(&report)? + "\n";
        std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?;
    }
    if let Some(p) = &a.markdown {
        let text = crate::audit::render::markdown(&report).context("rendering the audit")?;
        std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?;
    }
    let c = &report.counts;
    let failed = a.fail_on.iter().any(|f| match f {
        FailOn::Missing => c.missing_tenant_index > 0,
        FailOn::Unique => c.unique_not_tenant_scoped > 0,
        FailOn::Any => c.missing_tenant_index + c.unique_not_tenant_scoped > 0,
    });
    Ok(if failed { EXIT_FINDINGS } else { 0 })
}

/// The database kind and what to read of a team's own database (`audit`, `profile`).
///
/// # Errors
/// `--schema` on MongoDB.
pub(super) fn scope_of(own: &OwnDatabase, sample: u64) -> Result<(BackendKind, Scope)> {
    let kind = own.server.backend();
    if kind == BackendKind::Mongodb && !own.schemas.is_empty() {
        bail!("--schema: PostgreSQL only (MongoDB databases have no schemas; use --db)");
    }
    Ok((
        kind,
        Scope {
            databases: own.databases.clone(),
            schemas: own.schemas.clone(),
            field: own.tenant_field.clone(),
            sample,
        },
    ))
}

/// The audit file of what the reader gathered.
///
/// # Errors
/// Nothing to audit, or no tenant field given nor found.
pub fn build(kind: BackendKind, scope: &Scope, g: Gathered) -> Result<Audit> {
    if g.collections.is_empty() {
        bail!(
            "no collections or tables in {} (names: --db{})",
            if g.databases.is_empty() {
                "any database".to_string()
            } else {
                g.databases.join(", ")
            },
            if kind == BackendKind::Postgres {
                ", --schema"
            } else {
                ""
            }
        );
    }
    let Some(field) = g.field else {
        bail!(
            "no field is named like a tenant field ({}, compared without case and underscores); name it with --tenant-field",
            TENANT_FIELDS.join(", ")
        );
    };
    let collections: Vec<_> = g
        .collections
        .into_iter()
        .map(|(f, p)| assess(&f, &field, kind, p))
        .collect();
    if collections.iter().all(|c| c.share == 0.0) {
        eprintln!("warning: no sampled document or row carries {field:?}; is it the tenant field?");
    }
    Ok(Audit {
        schema_version: AUDIT_SCHEMA_VERSION,
        harness_version: env!("CARGO_PKG_VERSION").into(),
        backend: kind.name().into(),
        server_version: g.server_version,
        audited_at: crate::clock::rfc3339(std::time::SystemTime::now()),
        databases: g.databases,
        tenant_field_detected: scope.field.is_none(),
        tenant_field: field,
        sample: scope.sample,
        counts: count(&collections),
        collections,
    })
}
