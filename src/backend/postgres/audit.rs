//! The PostgreSQL reader of `audit` and `profile` (issue 16): the facts of a team's own tables,
//! read-only — the catalogs (`pg_class`, `pg_attribute`, `pg_index`), a sample of rows
//! (`TABLESAMPLE` where the table is large), `pg_stats`' most common tenant, `EXPLAIN` without
//! `ANALYZE` of its tenant query, and rows per tenant (`GROUP BY`). Every session is
//! `READ ONLY`, so even a superuser's audit cannot write.

use std::collections::BTreeMap;

use tokio_postgres::Client;

use super::driver::PgDriver;
use super::{Context as _, MARKER_TABLE, PgError, connect, ident};
use crate::audit::Gathered;
use crate::audit::Scope;
use crate::audit::share;
use crate::audit::{CollectionFacts, Constraint, ForeignKey, IndexFacts, Probe};
use crate::profile::Counted;
use crate::profile::Profiled;

/// A read-only session on database `db` (the URI's when `None`).
///
/// # Errors
/// The URI does not parse or the server refuses.
pub async fn session(uri: &str, db: Option<&str>) -> Result<Client, PgError> {
    let c = connect(uri, db).await?;
    c.batch_execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        .await
        .ctx(|| "making the audit's session read-only".to_string())?;
    Ok(c)
}

/// The name of the connected database.
///
/// # Errors
/// Server errors.
pub async fn current_database(c: &Client) -> Result<String, PgError> {
    Ok(c.query_one("SELECT current_database()", &[])
        .await
        .ctx(|| "reading the database name".to_string())?
        .get(0))
}

/// The facts of every table of the connected database in `schemas` (every schema but the
/// system's when empty), with up to `sample` rows read from each.
///
/// # Errors
/// Server errors (a table the role may not read included).
pub async fn facts(
    c: &Client,
    schemas: &[String],
    sample: u64,
) -> Result<Vec<CollectionFacts>, PgError> {
    let database = current_database(c).await?;
    let tables = c
        .query(
            "SELECT n.nspname, c.relname, c.oid, c.reltuples::float8, c.relkind = 'p'
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
                AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
                AND c.relname <> $2
                AND (cardinality($1::text[]) = 0 OR n.nspname = ANY($1::text[]))
              ORDER BY 1, 2",
            &[&schemas, &MARKER_TABLE],
        )
        .await
        .ctx(|| "listing tables".to_string())?;
    let mut out = Vec::new();
    for t in &tables {
        let (schema, name): (String, String) = (t.get(0), t.get(1));
        let oid: u32 = t.get(2);
        let reltuples: f64 = t.get(3);
        let partitioned: bool = t.get(4);
        let table = format!("{}.{}", ident(&schema), ident(&name));
        let columns: Vec<String> = c
            .query(
                "SELECT attname::text FROM pg_attribute
                  WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                &[&oid],
            )
            .await
            .ctx(|| format!("listing the columns of {table}"))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        // Never analysed (reltuples < 0): count, once.
        let documents = if reltuples >= 0.0 {
            reltuples as u64
        } else {
            let n: i64 = c
                .query_one(&format!("SELECT count(*) FROM {table}"), &[])
                .await
                .ctx(|| format!("counting {table}"))?
                .get(0);
            n as u64
        };
        let (sampled, fields) = sample_columns(c, &table, &columns, documents, sample).await?;
        out.push(CollectionFacts {
            database: database.clone(),
            schema: Some(schema),
            name,
            documents,
            sampled,
            fields,
            indexes: indexes(c, oid, &table).await?,
            partitioned,
        });
    }
    Ok(out)
}

/// How many of up to `n` sampled rows have each column not null: pages sampled at random
/// (`TABLESAMPLE SYSTEM`) when the table holds many more rows than `n`, else its first rows.
async fn sample_columns(
    c: &Client,
    table: &str,
    columns: &[String],
    rows: u64,
    n: u64,
) -> Result<(u64, BTreeMap<String, u64>), PgError> {
    let counts: Vec<String> = std::iter::once("count(*)".to_string())
        .chain(columns.iter().map(|col| format!("count({})", ident(col))))
        .collect();
    let select = |from: &str| {
        format!(
            "SELECT {} FROM (SELECT * FROM {from} LIMIT {n}) s",
            counts.join(", ")
        )
    };
    let mut row = None;
    if rows > 4 * n.max(1) {
        let pct = (200.0 * n as f64 / rows as f64).min(100.0);
        let r = c
            .query_one(&select(&format!("{table} TABLESAMPLE SYSTEM ({pct})")), &[])
            .await
            .ctx(|| format!("sampling {table}"))?;
        if r.get::<_, i64>(0) > 0 {
            row = Some(r);
        }
    }
    let row = match row {
        Some(r) => r,
        None => c
            .query_one(&select(table), &[])
            .await
            .ctx(|| format!("sampling {table}"))?,
    };
    let fields = columns
        .iter()
        .enumerate()
        .map(|(i, col)| (col.clone(), row.get::<_, i64>(i + 1) as u64))
        .collect();
    Ok((row.get::<_, i64>(0) as u64, fields))
}

/// The indexes of table `oid`: key columns (expressions as the server prints them), unique,
/// primary, partial predicate, definition, the constraint it backs (`pg_constraint.conindid`
/// of the table's primary key, unique or exclusion constraint) and the foreign keys that
/// reference it (`conindid` of a foreign key is the referenced index).
async fn indexes(c: &Client, oid: u32, table: &str) -> Result<Vec<IndexFacts>, PgError> {
    let rows = c
        .query(
            "SELECT ic.relname::text, ix.indisunique, ix.indisprimary,
                    ARRAY(SELECT pg_get_indexdef(ix.indexrelid, k, true)
                            FROM generate_series(1, ix.indnkeyatts) k ORDER BY k),
                    pg_get_expr(ix.indpred, ix.indrelid),
                    pg_get_indexdef(ix.indexrelid),
                    con.conname::text, pg_get_constraintdef(con.oid),
                    coalesce(con.condeferrable, false), coalesce(con.condeferred, false),
                    (SELECT coalesce(json_agg(json_build_array(fn.nspname, fc.relname, f.conname,
                                                               pg_get_constraintdef(f.oid))
                                              ORDER BY fn.nspname, fc.relname, f.conname), '[]')
                       FROM pg_constraint f
                       JOIN pg_class fc ON fc.oid = f.conrelid
                       JOIN pg_namespace fn ON fn.oid = fc.relnamespace
                      WHERE f.contype = 'f' AND f.conindid = ix.indexrelid)::text
               FROM pg_index ix JOIN pg_class ic ON ic.oid = ix.indexrelid
               LEFT JOIN pg_constraint con ON con.conindid = ix.indexrelid
                    AND con.conrelid = ix.indrelid AND con.contype IN ('p', 'u', 'x')
              WHERE ix.indrelid = $1 ORDER BY 1",
            &[&oid],
        )
        .await
        .ctx(|| format!("listing the indexes of {table}"))?;
    rows.iter()
        .map(|r| {
            let fks: Vec<(String, String, String, String)> = serde_json::from_str(r.get(10))
                .map_err(|e| PgError::State(format!("reading the foreign keys of {table}: {e}")))?;
            Ok(IndexFacts {
                name: r.get(0),
                unique: r.get(1),
                primary: r.get(2),
                keys: r
                    .get::<_, Vec<String>>(3)
                    .iter()
                    .map(|k| unquote(k))
                    .collect(),
                partial: r.get(4),
                definition: r.get(5),
                constraint: r.get::<_, Option<String>>(6).map(|name| Constraint {
                    name,
                    definition: r.get::<_, Option<String>>(7).unwrap_or_default(),
                    deferrable: r.get(8),
                    initially_deferred: r.get(9),
                }),
                referenced_by: fks
                    .into_iter()
                    .map(|(schema, table, name, definition)| ForeignKey {
                        schema,
                        table,
                        name,
                        definition,
                    })
                    .collect(),
                ..IndexFacts::default()
            })
        })
        .collect()
}

/// A column name as `pg_get_indexdef` prints it, without its quotes.
fn unquote(k: &str) -> String {
    match k.strip_prefix('"').and_then(|k| k.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => k.to_string(),
    }
}

/// The tenant query of the table's largest tenant — `pg_stats`' most common value of `field`,
/// else the most frequent one in `sample` rows — explained without running it.
/// `None` when no row carries the field.
///
/// # Errors
/// Server errors, or a plan that does not parse.
pub async fn probe(
    c: &Client,
    t: &CollectionFacts,
    field: &str,
    sample: u64,
) -> Result<Option<Probe>, PgError> {
    let schema = t.schema.as_deref().unwrap_or("public");
    let table = format!("{}.{}", ident(schema), ident(&t.name));
    let stats = c
        .query_opt(
            "SELECT (most_common_vals::text::text[])[1] FROM pg_stats
              WHERE schemaname = $1 AND tablename = $2 AND attname = $3
                AND most_common_vals IS NOT NULL",
            &[&schema, &t.name, &field],
        )
        .await
        .ctx(|| format!("reading pg_stats of {table}"))?
        .and_then(|r| r.get::<_, Option<String>>(0));
    let (tenant, from) = match stats {
        Some(v) => (v, "pg_stats"),
        None => {
            let col = ident(field);
            let top = c
                .query_opt(
                    &format!(
                        "SELECT v FROM (SELECT {col}::text AS v FROM {table} LIMIT {sample}) s
                          WHERE v IS NOT NULL GROUP BY v ORDER BY count(*) DESC, v LIMIT 1"
                    ),
                    &[],
                )
                .await
                .ctx(|| format!("finding the largest tenant of {table}"))?;
            match top {
                Some(r) => (r.get(0), "sample"),
                None => return Ok(None),
            }
        }
    };
    let literal: String = c
        .query_one("SELECT quote_literal($1::text)", &[&tenant])
        .await
        .ctx(|| "quoting a tenant value".to_string())?
        .get(0);
    let query = format!("SELECT * FROM {table} WHERE {} = {literal}", ident(field));
    let v = super::explain_json(
        c,
        &format!("EXPLAIN (FORMAT JSON) {query}"),
        &format!("{table}'s tenant query"),
    )
    .await?;
    let plan = &v[0]["Plan"];
    let mut stages = Vec::new();
    let mut node = Some(plan);
    while let Some(n) = node {
        let ty = n["Node Type"].as_str().unwrap_or("?");
        stages.push(match n["Index Name"].as_str() {
            Some(i) => format!("{ty} ({i})"),
            None => ty.to_string(),
        });
        node = n["Plans"].as_array().and_then(|p| p.first());
    }
    Ok(Some(Probe {
        tenant,
        tenant_from: from.into(),
        query,
        stages,
        executed: false,
        keys_examined: None,
        docs_examined: None,
        rows: plan["Plan Rows"].as_f64().unwrap_or(0.0) as u64,
    }))
}

/// Rows per tenant of a table: `GROUP BY` over all of it when it holds at most `exact_up_to`
/// rows, else over about that many pages' worth sampled (`TABLESAMPLE SYSTEM`), scaled to its
/// size.
///
/// # Errors
/// Server errors.
pub async fn counts(
    c: &Client,
    t: &CollectionFacts,
    field: &str,
    exact_up_to: u64,
) -> Result<Counted, PgError> {
    let schema = t.schema.as_deref().unwrap_or("public");
    let table = format!("{}.{}", ident(schema), ident(&t.name));
    let sampled = t.documents > exact_up_to;
    let from = if sampled {
        let pct = (100.0 * exact_up_to as f64 / t.documents as f64).min(100.0);
        format!("{table} TABLESAMPLE SYSTEM ({pct})")
    } else {
        table.clone()
    };
    let col = ident(field);
    let rows = c
        .query(
            &format!("SELECT {col}::text, count(*) FROM {from} WHERE {col} IS NOT NULL GROUP BY 1"),
            &[],
        )
        .await
        .ctx(|| format!("counting rows per tenant of {table}"))?;
    let seen: u64 = rows.iter().map(|r| r.get::<_, i64>(1) as u64).sum();
    let scale = if sampled && seen > 0 {
        t.documents as f64 / seen as f64
    } else {
        1.0
    };
    Ok(Counted {
        database: t.database.clone(),
        schema: t.schema.clone(),
        name: t.name.clone(),
        documents: t.documents,
        sampled: sampled.then_some(seen),
        per_tenant: rows
            .iter()
            .map(|r| {
                let n = r.get::<_, i64>(1) as f64 * scale;
                (r.get::<_, String>(0), n.round() as u64)
            })
            .collect(),
        // Read as text (`::text`): the server casts it back to the column's type (uuid,
        // bigint) where a statement's parameter asks for one.
        values: std::collections::BTreeMap::new(),
    })
}

impl crate::backend::Inspect for PgDriver {
    async fn audit(&self, scope: &Scope) -> Result<Gathered, PgError> {
        let mut r = self.read_only(scope).await?;
        let mut collections = Vec::new();
        for f in std::mem::take(&mut r.facts) {
            let probe = match &r.field {
                Some(field) if share(&f, field) > 0.0 => {
                    super::audit::probe(r.session(&f.database), &f, field, scope.sample).await?
                }
                _ => None,
            };
            collections.push((f, probe));
        }
        Ok(Gathered {
            server_version: r.version,
            databases: r.sessions.into_iter().map(|(d, _)| d).collect(),
            field: r.field,
            collections,
        })
    }

    async fn profile(&self, scope: &Scope, exact_up_to: u64) -> Result<Profiled, PgError> {
        let r = self.read_only(scope).await?;
        let mut collections = Vec::new();
        if let Some(field) = &r.field {
            for f in r.facts.iter().filter(|f| share(f, field) > 0.0) {
                collections.push(
                    super::audit::counts(r.session(&f.database), f, field, exact_up_to).await?,
                );
            }
        }
        Ok(Profiled {
            server_version: r.version,
            databases: r.sessions.into_iter().map(|(d, _)| d).collect(),
            field: r.field,
            collections,
        })
    }
}

/// Read-only sessions on the databases of an audit or profile, with their tables' facts.
pub(super) struct ReadOnly {
    version: String,
    sessions: Vec<(String, tokio_postgres::Client)>,
    facts: Vec<crate::audit::CollectionFacts>,
    field: Option<String>,
}

impl ReadOnly {
    /// The session of database `db`.
    fn session(&self, db: &str) -> &tokio_postgres::Client {
        let s = self.sessions.iter().find(|(d, _)| d == db);
        &s.unwrap_or(&self.sessions[0]).1
    }
}

impl PgDriver {
    /// Opens a `READ ONLY` session per database of `scope` (the URI's when none) and reads
    /// their tables' facts and the tenant field.
    pub(super) async fn read_only(&self, scope: &Scope) -> Result<ReadOnly, PgError> {
        let dbs: Vec<Option<&str>> = if scope.databases.is_empty() {
            vec![None]
        } else {
            scope.databases.iter().map(|d| Some(d.as_str())).collect()
        };
        let mut sessions = Vec::new();
        let mut found = Vec::new();
        for db in dbs {
            let c = session(&self.uri, db).await?;
            found.extend(facts(&c, &scope.schemas, scope.sample).await?);
            sessions.push((current_database(&c).await?, c));
        }
        let version = super::settings(&sessions[0].1).await?.version;
        let field = scope
            .field
            .clone()
            .or_else(|| crate::audit::detect_field(&found));
        Ok(ReadOnly {
            version,
            sessions,
            facts: found,
            field,
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn index_keys_lose_their_quotes() {
        assert_eq!(super::unquote(r#""companyId""#), "companyId");
        assert_eq!(super::unquote(r#""a""b""#), r#"a"b"#);
        assert_eq!(super::unquote("lower(email)"), "lower(email)");
    }
}
