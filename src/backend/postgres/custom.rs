//! A scenario's own operations on PostgreSQL: the compiled SQL prepared once per connection
//! (`prepare_cached`), each placeholder bound in the type the server inferred for its
//! parameter (text, integers, uuid, timestamps, dates), run on the tenant's connection —
//! in `schema-per-tenant` with the tenant's schema first on the `search_path`, in `rls` inside
//! the tenant's transaction — and explained like the built-ins.

use std::error::Error;

use bytes::BytesMut;
use tokio_postgres::types::{IsNull, ToSql, Type};

use super::ops::{PgBackend, db_err};
use super::{PgError, time_of};
use crate::backend::Answer;
use crate::backend::custom::{Filled, fill, spec_of};
use crate::metrics::rfc3339;
use crate::op::Request;
use crate::scenario::operation::OperationSpec;

/// A placeholder's value, encoded as the parameter's type asks.
#[derive(Debug)]
pub(super) struct Bound(pub(super) Filled);

impl ToSql for Bound {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match (&self.0, ty) {
            (Filled::Int(i), &Type::INT2) => i16::try_from(*i)?.to_sql(ty, out),
            (Filled::Int(i), &Type::INT4) => i32::try_from(*i)?.to_sql(ty, out),
            (Filled::Int(i), &Type::INT8) => i.to_sql(ty, out),
            (Filled::Int(i), &Type::FLOAT8) => (*i as f64).to_sql(ty, out),
            (Filled::Int(i), _) => i.to_string().to_sql(ty, out),
            (Filled::Text(s), &Type::INT2) => s.parse::<i16>()?.to_sql(ty, out),
            (Filled::Text(s), &Type::INT4) => s.parse::<i32>()?.to_sql(ty, out),
            (Filled::Text(s), &Type::INT8) => s.parse::<i64>()?.to_sql(ty, out),
            (Filled::Text(s), &Type::UUID) => {
                let hex: String = s.chars().filter(|c| *c != '-').collect();
                if hex.len() != 32 {
                    return Err(format!("{s:?} is not a uuid").into());
                }
                for i in 0..16 {
                    out.extend_from_slice(&[u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)?]);
                }
                Ok(IsNull::No)
            }
            (Filled::Text(s), _) => s.as_str().to_sql(ty, out),
            (Filled::Time(ms), &Type::DATE) => {
                // Days since 2000-01-01, the epoch of PostgreSQL dates.
                let days = (ms.div_euclid(86_400_000) - 10_957) as i32;
                out.extend_from_slice(&days.to_be_bytes());
                Ok(IsNull::No)
            }
            (Filled::Time(ms), &Type::TEXT | &Type::VARCHAR) => {
                rfc3339(time_of(*ms)).to_sql(ty, out)
            }
            (Filled::Time(ms), _) => time_of(*ms).to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

/// A column as answer text (the common types; others by their type's name).
fn cell(r: &tokio_postgres::Row, i: usize) -> String {
    let ty = r.columns()[i].type_();
    let s: Option<String> = match *ty {
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => r.get(i),
        Type::INT2 => r.get::<_, Option<i16>>(i).map(|v| v.to_string()),
        Type::INT4 => r.get::<_, Option<i32>>(i).map(|v| v.to_string()),
        Type::INT8 => r.get::<_, Option<i64>>(i).map(|v| v.to_string()),
        Type::FLOAT4 => r.get::<_, Option<f32>>(i).map(|v| v.to_string()),
        Type::FLOAT8 => r.get::<_, Option<f64>>(i).map(|v| v.to_string()),
        Type::BOOL => r.get::<_, Option<bool>>(i).map(|v| v.to_string()),
        Type::TIMESTAMPTZ | Type::TIMESTAMP => {
            r.get::<_, Option<std::time::SystemTime>>(i).map(rfc3339)
        }
        _ => Some(format!("<{}>", ty.name())),
    };
    s.unwrap_or_else(|| "null".into())
}

impl PgBackend {
    /// The scenario's operation behind a request.
    fn spec(&self, req: &Request) -> Option<&OperationSpec> {
        spec_of(self.operations(), req.op)
    }

    /// The statement and bound parameters of a request for one of the scenario's own.
    fn bound(&self, req: &Request) -> Result<(&OperationSpec, Vec<Bound>), PgError> {
        let spec = self
            .spec(req)
            .ok_or_else(|| PgError::State(format!("operation {} is not defined here", req.op)))?;
        let sql = spec.sql.as_ref().ok_or_else(|| {
            PgError::State(format!("operation {} has no `sql` for PostgreSQL", req.op))
        })?;
        let tenant = self.tenant_id(req.tenant);
        let params = sql
            .params
            .iter()
            .map(|h| Bound(fill(*h, spec, req, tenant, self.seed(), self.end_ms)))
            .collect();
        Ok((spec, params))
    }

    /// Answers a request for one of the scenario's own operations on connection `c`.
    pub(super) async fn custom(
        &self,
        c: &deadpool_postgres::Object,
        req: &Request,
    ) -> Result<Answer, PgError> {
        let (spec, params) = self.bound(req)?;
        let sql = spec.sql.as_ref().map_or("", |s| s.text.as_str());
        let what = req.op.name();
        self.search_path(c, req.tenant).await?;
        if !spec.read_only {
            self.mark_dirty(req.tenant).await?;
        }
        let st = c.prepare_cached(sql).await.map_err(|e| db_err(what, e))?;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        if st.columns().is_empty() {
            let n = c.execute(&st, &refs).await.map_err(|e| db_err(what, e))?;
            return Ok(Answer::Written(n));
        }
        let rows = c.query(&st, &refs).await.map_err(|e| db_err(what, e))?;
        Ok(Answer::Rows(
            rows.iter()
                .map(|r| (0..r.len()).map(|i| cell(r, i)).collect())
                .collect(),
        ))
    }

    /// `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)` text of a read-only operation of the
    /// scenario's own, its parameters inlined as literals; `None` for writes.
    pub(super) fn explain_text(&self, req: &Request) -> Option<String> {
        let (spec, params) = self.bound(req).ok()?;
        if !spec.read_only {
            return None;
        }
        let mut text = spec.sql.as_ref()?.text.clone();
        for (i, p) in params.iter().enumerate().rev() {
            let lit = match &p.0 {
                Filled::Text(s) => format!("'{}'", s.replace('\'', "''")),
                Filled::Int(n) => n.to_string(),
                Filled::Time(ms) => format!("to_timestamp({ms} / 1000.0)"),
            };
            text = text.replace(&format!("${}", i + 1), &lit);
        }
        Some(text)
    }
}
