//! `[[operation]]`: a scenario's own operations — names, the MongoDB form (JSON templates) and
//! the PostgreSQL form (SQL), each error at the `file:line:column` of the bad character inside
//! the JSON or SQL string.

use std::ops::Range;

use toml::Spanned;

use super::Checker;
use crate::op::Op;
use crate::scenario::ScenarioError;
use crate::scenario::model::OperationModel;
use crate::scenario::operation::{Hole, MongoQuery, OperationSpec, Tpl, compile_sql, pieces};

/// Most operations a scenario defines.
pub const MAX_OPERATIONS: usize = 64;

/// Where the text of a TOML string value starts in the file: after its opening quotes (and
/// the newline a multi-line string drops).
fn content_start(text: &str, span: &Range<usize>) -> usize {
    let s = &text[span.start.min(text.len())..];
    let open = if s.starts_with("'''") || s.starts_with("\"\"\"") {
        3
    } else {
        1
    };
    let after = span.start + open;
    match text.get(after..after + 1) {
        Some("\n") if open == 3 => after + 1,
        _ if text.get(after..after + 2) == Some("\r\n") && open == 3 => after + 2,
        _ => after,
    }
}

/// The file span of byte `offset` of a string value's text (exact in literal strings,
/// `'…'`; in basic strings escapes before it shift it).
fn inside(c: &Checker, v: &Spanned<String>, offset: usize) -> Range<usize> {
    let at = (content_start(c.text(), &v.span()) + offset).min(v.span().end);
    at..at + 1
}

/// Byte offset of 1-based (line, column) in `s`.
fn offset_of(s: &str, line: usize, column: usize) -> usize {
    let start: usize = s
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (start + column.saturating_sub(1)).min(s.len())
}

/// A JSON template: parsed with its placeholders, errors at their place in the file.
fn json(c: &Checker, v: &Spanned<String>, what: &str) -> Result<Tpl, ScenarioError> {
    let src = v.get_ref();
    serde_json::from_str::<Tpl>(src).map_err(|e| {
        let msg = e.to_string();
        // serde reports a bad placeholder at the end of its string: point at the placeholder,
        // found in the raw text as the string's own scan finds it.
        let off = match pieces(src) {
            Err((at, _)) if msg.contains("placeholder") => at,
            _ => offset_of(src, e.line(), e.column()),
        };
        let text = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        c.err(inside(c, v, off), format!("{what}: {text}"))
    })
}

/// Whether a name can be an operation's: a lower-case letter, then letters, digits and `_`.
pub(super) fn valid_name(n: &str) -> bool {
    n.len() <= 40
        && n.starts_with(|c: char| c.is_ascii_lowercase())
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Every `[[operation]]`, in file order; their names are interned as operations.
pub(in crate::scenario) fn check_operations(
    c: &Checker,
    ops: &[Spanned<OperationModel>],
    existing: bool,
) -> Result<Vec<OperationSpec>, ScenarioError> {
    if let Some(o) = ops.get(MAX_OPERATIONS) {
        return Err(c.err(
            o.span(),
            format!("expected at most {MAX_OPERATIONS} operations"),
        ));
    }
    let mut out: Vec<OperationSpec> = Vec::new();
    for o in ops {
        let m = o.get_ref();
        let name = m.name.get_ref();
        if !valid_name(name) {
            return Err(c.err(
                m.name.span(),
                "expected an operation name of at most 40 lower-case letters, digits and '_', starting with a letter",
            ));
        }
        if Op::builtin(name).is_some() {
            return Err(c.err(
                m.name.span(),
                format!("`{name}` is a built-in operation; give yours another name"),
            ));
        }
        if out.iter().any(|x| x.op.name() == name) {
            return Err(c.err(m.name.span(), format!("a second operation named `{name}`")));
        }
        let coll = m.collection.get_ref();
        if coll.is_empty() || coll.len() > 120 || coll.contains('\0') {
            return Err(c.err(
                m.collection.span(),
                "expected a collection or table name of 1 to 120 characters",
            ));
        }
        let read_only = m.read_only.as_ref().is_none_or(|r| *r.get_ref());
        let mongodb = mongo_form(c, m, read_only)?;
        let sql = match &m.sql {
            None => None,
            Some(s) => {
                let text = s.get_ref();
                let compiled = compile_sql(text)
                    .map_err(|(off, e)| c.err(inside(c, s, off), e.to_string()))?;
                let head = text.trim_start().to_ascii_lowercase();
                if read_only && !(head.starts_with("select") || head.starts_with("with")) {
                    return Err(c.err(
                        s.span(),
                        "a read-only operation's SQL must be a query (SELECT or WITH); set read_only = false for a write",
                    ));
                }
                if let Some(i) = text.trim_end().trim_end_matches(';').find(';') {
                    return Err(c.err(
                        inside(c, s, i),
                        "expected one SQL statement (a prepared statement holds one)",
                    ));
                }
                Some(compiled)
            }
        };
        if existing {
            generated_only(c, m)?;
        }
        if mongodb.is_none() && sql.is_none() {
            return Err(c.err(
                o.span(),
                "expected a MongoDB form (filter, pipeline, update or insert) or `sql`, or both",
            ));
        }
        let op = Op::named(name).map_err(|e| c.err(o.span(), e.to_string()))?;
        out.push(OperationSpec {
            op,
            collection: coll.clone(),
            read_only,
            mongodb,
            sql,
        });
    }
    Ok(out)
}

/// The scenario's own operations a mix may name: its `[[operation]]`s, then the operations only
/// an `[[http.endpoint]]` names (a team's API call, `op = "open_deals"`, which `load` sends and
/// no database runs), interned in file order.
pub(in crate::scenario) fn own_ops(
    c: &Checker,
    model: &crate::scenario::model::FileModel,
    operations: &[OperationSpec],
) -> Result<Vec<Op>, ScenarioError> {
    let mut out: Vec<Op> = operations.iter().map(|o| o.op).collect();
    let Some(http) = &model.http else {
        return Ok(out);
    };
    for e in &http.get_ref().endpoint {
        let name = e.get_ref().op.get_ref();
        if Op::builtin(name).is_some() || out.iter().any(|o| o.name() == name.as_str()) {
            continue;
        }
        if !valid_name(name) {
            return Err(c.err(
                e.get_ref().op.span(),
                "expected a built-in operation, an [[operation]] of this file, or a name of your own of at most 40 lower-case letters, digits and '_', starting with a letter",
            ));
        }
        out.push(Op::named(name).map_err(|x| c.err(e.get_ref().op.span(), x.to_string()))?);
    }
    Ok(out)
}

/// The first placeholder of `src` that only generated data can fill — `{{status}}`, `{{id}}`,
/// `{{email}}`, `{{key}}` (and in SQL `$status`, …) — with its byte offset.
fn generated_hole(src: &str, sql: bool) -> Option<(usize, Hole)> {
    let mut i = 0;
    while i < src.len() {
        let rest = &src[i..];
        let found = if let Some(r) = rest.strip_prefix("{{") {
            r.find("}}").map(|j| (Hole::parse(&r[..j]).ok(), j + 4))
        } else if let Some(r) = rest.strip_prefix('$').filter(|_| sql) {
            let n = r
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                .unwrap_or(r.len());
            Some((Hole::parse(&r[..n]).ok().filter(|_| n > 0), n + 1))
        } else {
            None
        };
        match found {
            Some((Some(h @ (Hole::Status | Hole::Id | Hole::Email | Hole::Key)), _)) => {
                return Some((i, h));
            }
            Some((_, len)) => i += len,
            None => i += rest.chars().next().map_or(1, char::len_utf8),
        }
    }
    None
}

/// On an existing database: refuses the placeholders only generated data can fill, at their
/// place in the file.
fn generated_only(c: &Checker, m: &OperationModel) -> Result<(), ScenarioError> {
    let json = [
        &m.filter,
        &m.sort,
        &m.projection,
        &m.pipeline,
        &m.update,
        &m.insert,
    ];
    let strings = json
        .into_iter()
        .flatten()
        .map(|v| (v, false))
        .chain(m.sql.iter().map(|v| (v, true)));
    for (v, sql) in strings {
        if let Some((at, h)) = generated_hole(v.get_ref(), sql) {
            let name = match h {
                Hole::Status => "status",
                Hole::Id => "id",
                Hole::Email => "email",
                _ => "key",
            };
            return Err(c.err(
                inside(c, v, at),
                format!(
                    "{{{{{name}}}}} is a value of tenantbench's generated data, which an existing database does not have; use {{{{tenant}}}} and {{{{days_ago:N}}}}, or write the value in the query"
                ),
            ));
        }
    }
    Ok(())
}

/// The MongoDB form: `filter` (with `sort`, `projection`, `limit`: a find; with `count =
/// true`: a count; with `update`: an update), `pipeline`, or `insert` — one of them.
fn mongo_form(
    c: &Checker,
    m: &OperationModel,
    read_only: bool,
) -> Result<Option<MongoQuery>, ScenarioError> {
    let tpl =
        |v: &Option<Spanned<String>>, what: &str| v.as_ref().map(|v| json(c, v, what)).transpose();
    let is_doc = |t: &Tpl| matches!(t, Tpl::Map(_));
    let filter = tpl(&m.filter, "filter")?;
    if let (Some(f), Some(v)) = (&filter, &m.filter)
        && !is_doc(f)
    {
        return Err(c.err(v.span(), "expected the filter as a JSON object"));
    }
    let counted = m.count.as_ref().is_some_and(|c| *c.get_ref());
    let find_keys = [
        m.sort.as_ref().map(Spanned::span),
        m.projection.as_ref().map(Spanned::span),
        m.limit.as_ref().map(Spanned::span),
    ];
    let writes = m.update.is_some() || m.insert.is_some();
    if writes && read_only {
        let at = m.update.as_ref().or(m.insert.as_ref()).map(Spanned::span);
        return Err(c.err(
            at.unwrap_or(0..0),
            "an update or insert writes; set read_only = false",
        ));
    }
    let forms = [
        filter.is_some() && m.update.is_none(),
        m.pipeline.is_some(),
        m.update.is_some(),
        m.insert.is_some(),
    ];
    if forms.iter().filter(|f| **f).count() > 1 {
        let at = m
            .pipeline
            .as_ref()
            .or(m.insert.as_ref())
            .map_or(0..0, Spanned::span);
        return Err(c.err(
            at,
            "expected one MongoDB form: filter (a find or, with count = true, a count), pipeline, filter with update, or insert",
        ));
    }
    if (counted || m.update.is_some())
        && let Some(at) = find_keys.iter().flatten().next()
    {
        return Err(c.err(
            at.clone(),
            "sort, projection and limit belong to a find (no count, no update)",
        ));
    }
    if let Some(l) = &m.limit
        && !(1..=100_000).contains(l.get_ref())
    {
        return Err(c.err(l.span(), "expected a limit of 1 to 100000"));
    }
    if let Some(p) = &m.pipeline {
        let pipeline = json(c, p, "pipeline")?;
        if !matches!(&pipeline, Tpl::List(v) if v.iter().all(is_doc)) {
            return Err(c.err(p.span(), "expected the pipeline as a JSON array of stages"));
        }
        return Ok(Some(MongoQuery::Aggregate { pipeline }));
    }
    if let Some(d) = &m.insert {
        let document = json(c, d, "insert")?;
        if !is_doc(&document) {
            return Err(c.err(d.span(), "expected the document as a JSON object"));
        }
        return Ok(Some(MongoQuery::Insert { document }));
    }
    let Some(filter) = filter else {
        if let Some(at) = find_keys.iter().flatten().next() {
            return Err(c.err(at.clone(), "sort, projection and limit need a filter"));
        }
        return Ok(None);
    };
    if let Some(u) = &m.update {
        return Ok(Some(MongoQuery::Update {
            filter,
            update: json(c, u, "update")?,
        }));
    }
    if counted {
        return Ok(Some(MongoQuery::Count { filter }));
    }
    Ok(Some(MongoQuery::Find {
        filter,
        sort: tpl(&m.sort, "sort")?,
        projection: tpl(&m.projection, "projection")?,
        limit: m.limit.as_ref().map(|l| *l.get_ref()),
    }))
}
