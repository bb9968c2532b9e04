//! PostgreSQL's plan evidence: `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)` of one call, read
//! into keys and rows examined ([`PgExplain`]), and the rows a sequential scan would read.

use super::ops::{PgBackend, bind_tenant, db_err, pool_err};
use super::{PgError, ident};
use crate::op::{Op, Request};

/// What `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)` says about one call.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PgExplain {
    /// Plan nodes, outermost first, each with its index when it uses one
    /// (`Limit > Index Scan (orders_compound_0)`).
    pub stages: Vec<String>,
    /// Rows the index scans returned (per loop × loops): the keys examined.
    pub keys_examined: u64,
    /// Rows the scan nodes read from the table, kept or removed by a filter.
    pub docs_examined: u64,
    /// Rows the plan returned.
    pub returned: u64,
    /// Rows the scan nodes kept (read and not removed by a filter): the records the query
    /// found, where an aggregate returns one row whatever it counted.
    pub matched: u64,
    /// Rows the scan nodes read and removed by a filter.
    pub rows_removed: u64,
    /// Shared buffers hit.
    pub buffers_hit: u64,
    /// Shared buffers read.
    pub buffers_read: u64,
    /// The query's limit, when it has one.
    pub limit: Option<u64>,
}

impl PgBackend {
    /// Rows of the table a read operation queries, in the tenant's database and schema (all
    /// tenants sharing it): what a sequential scan reads. `None` for other operations.
    ///
    /// # Errors
    /// Pool and server errors.
    pub async fn table_rows(&self, req: &Request) -> Result<Option<u64>, PgError> {
        let table = match req.op {
            Op::FindUserByEmail => format!("{}.users", self.schemas[req.tenant]),
            Op::ListRecent | Op::GetById | Op::CountByStatus | Op::RevenueByDay => {
                format!("{}.orders", self.schemas[req.tenant])
            }
            // A scenario's own operation: its table as its SQL names it, on the tenant's
            // search_path (a schema per tenant, or an existing database's schema).
            op => match crate::backend::custom::spec_of(&self.operations, op) {
                Some(o) => ident(&o.collection),
                None => return Ok(None),
            },
        };
        let c = self.pool(req.tenant).get().await.map_err(pool_err)?;
        self.search_path(&c, req.tenant).await?;
        let n: i64 = c
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .map_err(|e| db_err("counting rows", e))?
            .get(0);
        Ok(Some(n as u64))
    }

    /// `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)` of one call of a read operation; `None` for
    /// the others.
    ///
    /// # Errors
    /// Pool and server errors, or a plan that does not parse.
    pub async fn explain(&self, req: &Request) -> Result<Option<PgExplain>, PgError> {
        // EXPLAIN returns json, which this build reads as text through the simple protocol:
        // the parameters are inlined as literals (values the harness generated).
        let (text, limit) = if req.op.is_builtin() {
            let Some((sql, params, limit)) = self.read_spec(req) else {
                return Ok(None);
            };
            let mut text = sql.to_string();
            for (i, p) in params.iter().enumerate().rev() {
                text = text.replace(&format!("${}", i + 1), &p.literal());
            }
            (text, limit)
        } else {
            let Some(text) = self.explain_text(req) else {
                return Ok(None);
            };
            (text, None)
        };
        let c = self.pool(req.tenant).get().await.map_err(pool_err)?;
        self.search_path(&c, req.tenant).await?;
        if let Some(role) = &self.rls_role {
            // As the operation runs: the application role, bound to the tenant (as the owner
            // the policy would not apply and the plan would cover every tenant).
            c.batch_execute(&bind_tenant(role, &self.ids[req.tenant]))
                .await
                .map_err(|e| db_err("binding the tenant", e))?;
        }
        let v = super::explain_json(
            &c,
            &format!("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {text}"),
            req.op.name(),
        )
        .await;
        if self.rls_role.is_some() {
            let _ = c.batch_execute("ROLLBACK").await;
        }
        let v = v?;
        let plan = &v[0]["Plan"];
        let mut e = PgExplain {
            limit,
            returned: plan["Actual Rows"].as_f64().unwrap_or(0.0) as u64,
            ..Default::default()
        };
        walk(plan, &mut e);
        Ok(Some(e))
    }
}

/// Adds one plan node and its children to the summary.
fn walk(node: &serde_json::Value, e: &mut PgExplain) {
    let ty = node["Node Type"].as_str().unwrap_or("?");
    let index = node["Index Name"].as_str();
    e.stages.push(match index {
        Some(i) => format!("{ty} ({i})"),
        None => ty.to_string(),
    });
    let loops = node["Actual Loops"].as_f64().unwrap_or(1.0);
    let rows = (node["Actual Rows"].as_f64().unwrap_or(0.0) * loops) as u64;
    let removed = (node["Rows Removed by Filter"].as_f64().unwrap_or(0.0) * loops) as u64
        + (node["Rows Removed by Index Recheck"]
            .as_f64()
            .unwrap_or(0.0)
            * loops) as u64;
    match ty {
        "Index Scan" | "Index Only Scan" => {
            e.keys_examined += rows + removed;
            e.docs_examined += if ty == "Index Scan" {
                rows + removed
            } else {
                0
            };
            e.rows_removed += removed;
        }
        "Bitmap Index Scan" => e.keys_examined += rows,
        "Seq Scan" | "Bitmap Heap Scan" => {
            e.docs_examined += rows + removed;
            e.rows_removed += removed;
        }
        _ => {}
    }
    if matches!(
        ty,
        "Index Scan" | "Index Only Scan" | "Seq Scan" | "Bitmap Heap Scan"
    ) {
        e.matched += rows;
    }
    if e.stages.len() == 1 {
        e.buffers_hit = node["Shared Hit Blocks"].as_u64().unwrap_or(0);
        e.buffers_read = node["Shared Read Blocks"].as_u64().unwrap_or(0);
    }
    if let Some(children) = node["Plans"].as_array() {
        for c in children {
            walk(c, e);
        }
    }
}
