//! The audit as people read it: a terminal table with the fixes below it, and Markdown for a
//! pull-request comment or a wiki page (`templates/audit.md`).

use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_BORDERS_ONLY};
use serde::Serialize;

use super::{Audit, Audited, Finding, Verdict};
use crate::op::BackendKind;

/// One line of a table: a finding with its collection's figures, as text.
#[derive(Debug, Serialize)]
struct Row {
    name: String,
    documents: u64,
    share: String,
    indexes: String,
    plan: String,
    verdict: String,
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

/// The indexes led by the tenant field, a partial one marked so (it serves only the queries
/// its filter covers, so it is no tenant index to the verdict).
fn tenant_indexes(c: &Audited) -> String {
    if c.tenant_indexes.is_empty() {
        return "—".into();
    }
    let partial = |n: &String| {
        c.indexes
            .iter()
            .any(|i| &i.name == n && i.partial.is_some())
    };
    c.tenant_indexes
        .iter()
        .map(|n| {
            if partial(n) {
                format!("{n} (partial)")
            } else {
                n.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn rows(a: &Audit) -> Vec<Row> {
    a.findings()
        .map(|(c, f)| Row {
            name: qualified(c),
            documents: c.documents,
            share: format!("{:.0}%", c.share * 100.0),
            indexes: tenant_indexes(c),
            plan: plan(c),
            verdict: verdict(f),
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
    let block = fixes(a);
    if !block.is_empty() {
        out.push_str(&format!("\n{}:\n{block}", fixes_heading(a)));
    }
    out
}

/// What the fixes block is and how to run it.
fn fixes_heading(a: &Audit) -> &'static str {
    if a.backend == BackendKind::Postgres.name() {
        "fixes — paste into psql as they are (autocommit: CONCURRENTLY refuses a transaction \
         block); each builds its new index before it drops an old one"
    } else {
        "fixes — paste into mongosh as they are; each builds its new index before it drops an \
         old one, and the Mongoose schema line follows it"
    }
}

/// Every finding that calls for a fix, as one block to paste into psql or mongosh: a comment
/// naming the finding, what its fix changes besides speed (or why there is no command and
/// what to do instead) as comments, its statements, and on MongoDB the Mongoose schema line as
/// a comment; on PostgreSQL a `\connect` to each database first. Empty when nothing is to fix.
pub fn fixes(a: &Audit) -> String {
    let pg = a.backend == BackendKind::Postgres.name();
    let mut out = String::new();
    let mut database = None;
    for (c, f) in a.findings() {
        if f.fix.is_none() && f.instead.is_none() {
            continue;
        }
        if pg && database != Some(&c.database) {
            out.push_str(&format!("\\connect {}\n", quoted(&c.database)));
            database = Some(&c.database);
        }
        let comment = if pg { "-- " } else { "// " };
        out.push_str(&format!("{comment}{}: {}\n", qualified(c), verdict(f)));
        for note in [&f.trade, &f.instead].into_iter().flatten() {
            out.push_str(&wrap(note, comment));
        }
        if let Some(fix) = &f.fix {
            out.push_str(fix);
            out.push('\n');
        }
        if let Some(m) = &f.mongoose {
            out.push_str(&format!("// Mongoose, schema of {}: {m}\n", c.name));
        }
    }
    out
}

/// A database name as psql's `\connect` takes it.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `text` as comment lines of at most about 100 characters, each starting with `comment`.
fn wrap(text: &str, comment: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + word.len() + 1 > 100 - comment.len() {
            out.push_str(&format!("{comment}{line}\n"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&format!("{comment}{line}\n"));
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
        fixes => fixes(a),
        fixes_heading => fixes_heading(a).replacen('f', "F", 1),
        language => if a.backend == BackendKind::Postgres.name() { "sql" } else { "js" },
    })
}
