//! The audit as people read it: a terminal table with the fixes below it, and Markdown for a
//! pull-request comment or a wiki page (`templates/audit.md`).

use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_BORDERS_ONLY};
use serde::Serialize;

use super::{Audit, Audited, Finding, Verdict};

/// One line of a table: a finding with its collection's figures, as text.
#[derive(Debug, Serialize)]
struct Row {
    name: String,
    documents: u64,
    share: String,
    indexes: String,
    plan: String,
    verdict: String,
    fix: Option<String>,
}

/// The collection's name with its database (and schema).
fn qualified(c: &Audited) -> String {
    match &c.schema {
        Some(s) => format!("{}.{s}.{}", c.database, c.name),
        None => format!("{}.{}", c.database, c.name),
    }
}

/// What the largest tenant's query did: stages, then work and rows.
fn plan(c: &Audited) -> String {
    let Some(p) = &c.probe else {
        return String::new();
    };
    let stages = p.stages.join(" > ");
    match (p.executed, p.keys_examined, p.docs_examined) {
        (true, Some(k), Some(d)) => format!(
            "{stages}: {k} keys, {d} docs examined, {} returned ({})",
            p.rows, p.tenant
        ),
        _ => format!("{stages}: ~{} rows estimated ({})", p.rows, p.tenant),
    }
}

fn verdict(f: &Finding) -> String {
    match &f.verdict {
        Verdict::UniqueNotTenantScoped { index, .. } => format!("{} ({index})", f.verdict.word()),
        v => v.word().to_string(),
    }
}

fn rows(a: &Audit) -> Vec<Row> {
    a.findings()
        .map(|(c, f)| Row {
            name: qualified(c),
            documents: c.documents,
            share: format!("{:.0}%", c.share * 100.0),
            indexes: if c.tenant_indexes.is_empty() {
                "—".into()
            } else {
                c.tenant_indexes.join(", ")
            },
            plan: plan(c),
            verdict: verdict(f),
            fix: f.fix.clone(),
        })
        .collect()
}

/// Findings that call for a fix.
pub fn problems(a: &Audit) -> u32 {
    a.counts.missing_tenant_index + a.counts.unique_not_tenant_scoped
}

/// The terminal table, a summary line, and the fixes.
pub fn table(a: &Audit) -> String {
    let rows = rows(a);
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY);
    t.set_header(vec![
        "collection".to_string(),
        "documents".into(),
        format!("with {}", a.tenant_field),
        "tenant indexes".into(),
        "largest tenant's query".into(),
        "verdict".into(),
    ]);
    for r in &rows {
        t.add_row(vec![
            Cell::new(&r.name),
            Cell::new(r.documents).set_alignment(CellAlignment::Right),
            Cell::new(&r.share).set_alignment(CellAlignment::Right),
            Cell::new(&r.indexes),
            Cell::new(&r.plan),
            Cell::new(&r.verdict),
        ]);
    }
    let mut out = format!(
        "audit of {} ({} {}): tenant field {:?} ({}), up to {} documents sampled per collection\n{t}\n",
        a.databases.join(", "),
        a.backend,
        a.server_version,
        a.tenant_field,
        if a.tenant_field_detected {
            "detected"
        } else {
            "given"
        },
        a.sample
    );
    let c = &a.counts;
    out.push_str(&format!(
        "{} ok, {} missing tenant index, {} unique not tenant-scoped, {} without the tenant field\n",
        c.ok, c.missing_tenant_index, c.unique_not_tenant_scoped, c.no_tenant_field
    ));
    let fixes: Vec<&str> = rows.iter().filter_map(|r| r.fix.as_deref()).collect();
    if !fixes.is_empty() {
        out.push_str("\nfixes (each builds its new index before it drops an old one):\n");
        for f in fixes {
            out.push_str(&format!("  {f}\n"));
        }
    }
    out
}

/// Markdown (`templates/audit.md`).
///
/// # Errors
/// The template failed to render.
pub fn markdown(a: &Audit) -> Result<String, minijinja::Error> {
    let mut env = minijinja::Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.add_filter("cell", |v: minijinja::Value| {
        crate::report::markdown_cell(&v.to_string())
    });
    env.add_template("audit.md", include_str!("templates/audit.md"))?;
    env.get_template("audit.md")?.render(minijinja::context! {
        audit => a,
        rows => rows(a),
        problems => problems(a),
    })
}
