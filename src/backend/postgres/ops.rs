//! The operation catalogue in SQL, with the same names and answers as on MongoDB: each request
//! goes to its tenant's database pool and schema, as a prepared statement (cached per
//! connection). No timing here: the runner times calls from outside.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use deadpool_postgres::Pool;
use futures_util::{StreamExt, TryStreamExt, stream};

use super::schema::columns;
use super::{MARKER_TABLE, PgError, ident, time_of};
use crate::backend::{Answer, Backend, FAN_OUT, LIST_LIMIT, REVENUE_DAYS, leak_in, status_of};
use crate::datagen::{Collection, END_MS, Value, generate, record_id};
use crate::layout::Layout;
use crate::layout::Placement;
use crate::op::{ErrorKind, Op, Outcome, Request};
use crate::population::Population;

/// The PostgreSQL backend for one placement.
#[derive(Debug)]
pub struct PgBackend {
    pools: Vec<Pool>,
    /// Where each tenant's operations go, read at every operation (a migration moves them).
    directory: std::sync::Arc<crate::directory::Directory>,
    /// Quoted schema of each tenant's tables.
    pub(super) schemas: Vec<String>,
    pub(super) ids: Vec<String>,
    layout: Layout,
    seed: u64,
    dirty: Vec<AtomicBool>,
    /// Whether the databases are the harness's, with a marker to mark dirty before a write
    /// (`false` on an existing database, which is never marked).
    marked: bool,
    /// Where `{{days_ago:N}}` counts back from.
    pub(super) end_ms: i64,
    inserted: AtomicU64,
    /// Makes inserted ids unique to this backend instance: several load generators, and the
    /// trials of one, write into the same data without colliding.
    insert_token: String,
    /// `rls`: the role tenant operations run as (neither superuser nor owner).
    pub(super) rls_role: Option<String>,
    /// Per distinct schema, the SQL text of each read operation (indexed by `Op as usize`;
    /// empty for the others), formatted once instead of on every call.
    read_sql: Vec<Vec<String>>,
    /// Each tenant's index into `read_sql`.
    schema_ix: Vec<usize>,
    /// The scenario's own operations (`[[operation]]`).
    pub(super) operations: Vec<crate::scenario::operation::OperationSpec>,
    /// A routing fault for tests ([`PgBackend::with_misrouting`]).
    misroute: bool,
}

/// The SQL text of a read operation on the tables of quoted schema `s`. Reads that return
/// records return their `tenant_id` too, for the tenant check ([`leak_in`]). With `rls` the
/// query names no tenant, as an application behind row-level security writes it: the policy
/// alone keeps other tenants' rows out (so a wrong policy shows as a leak), and the tenant is
/// not a parameter.
fn read_sql(s: &str, op: Op, rls: bool) -> Option<String> {
    // The tenant predicate and the number of the parameter after it.
    let (t, p) = if rls {
        ("", "$1")
    } else {
        ("tenant_id = $1 AND ", "$2")
    };
    Some(match op {
        Op::ListRecent => format!(
            "SELECT id, tenant_id FROM {s}.orders WHERE {t}status = {p} ORDER BY created_at DESC LIMIT {LIST_LIMIT}"
        ),
        Op::GetById => {
            let t = if rls { "" } else { " AND tenant_id = $2" };
            format!("SELECT id, tenant_id FROM {s}.orders WHERE id = $1{t} LIMIT 1")
        }
        Op::CountByStatus => {
            format!("SELECT count(*) FROM {s}.orders WHERE {t}status = {p}")
        }
        Op::FindUserByEmail => {
            format!("SELECT id, tenant_id FROM {s}.users WHERE {t}email = {p} LIMIT 1")
        }
        Op::RevenueByDay => format!(
            "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, sum(amount_cents)::bigint
               FROM {s}.orders WHERE {t}status IN ('paid', 'shipped') AND created_at >= {p}
              GROUP BY day ORDER BY day"
        ),
        _ => return None,
    })
}

impl PgBackend {
    /// A backend over `pools` (one per database of the placement, in its order).
    pub fn new(pools: Vec<Pool>, placement: &Placement, pop: &Population, seed: u64) -> Self {
        let schemas: Vec<String> = pop
            .tenants
            .iter()
            .map(|t| ident(&super::schema_of(placement.layout, &t.id)))
            .collect();
        let mut distinct: Vec<&String> = Vec::new();
        let mut index = std::collections::HashMap::new();
        let schema_ix = schemas
            .iter()
            .map(|s| {
                *index.entry(s).or_insert_with(|| {
                    distinct.push(s);
                    distinct.len() - 1
                })
            })
            .collect();
        let read_sql = distinct
            .iter()
            .map(|s| {
                Op::ALL
                    .iter()
                    .map(|&op| read_sql(s, op, placement.layout == Layout::Rls).unwrap_or_default())
                    .collect()
            })
            .collect();
        PgBackend {
            read_sql,
            schema_ix,
            dirty: placement
                .databases
                .iter()
                .map(|_| AtomicBool::new(false))
                .collect(),
            pools,
            directory: std::sync::Arc::new(crate::directory::Directory::of(placement)),
            schemas,
            ids: pop.tenants.iter().map(|t| t.id.clone()).collect(),
            layout: placement.layout,
            seed,
            marked: true,
            end_ms: END_MS,
            inserted: AtomicU64::new(0),
            insert_token: crate::backend::insert_token(),
            rls_role: (placement.layout == Layout::Rls)
                .then(|| super::rls_role(&placement.databases[0].name)),
            operations: Vec::new(),
            misroute: false,
        }
    }

    /// Runs the scenario's own operations (`[[operation]]`) besides the built-ins.
    #[must_use]
    pub fn with_operations(
        mut self,
        operations: Vec<crate::scenario::operation::OperationSpec>,
    ) -> PgBackend {
        self.operations = operations;
        self
    }

    /// On a team's own database: no marker is ever written, and `{{days_ago:N}}` counts back
    /// from now.
    #[must_use]
    pub fn on_existing(mut self) -> PgBackend {
        self.marked = false;
        self.end_ms = crate::backend::custom::now_ms();
        self
    }

    /// The scenario's own operations.
    pub(super) fn operations(&self) -> &[crate::scenario::operation::OperationSpec] {
        &self.operations
    }

    /// Tenant `t`'s id.
    pub(super) fn tenant_id(&self, t: usize) -> &str {
        &self.ids[t]
    }

    /// The data's seed.
    pub(super) fn seed(&self) -> u64 {
        self.seed
    }

    /// `schema-per-tenant`: puts tenant `t`'s schema first on the connection's `search_path`,
    /// so a scenario's own SQL names its tables unqualified (one more round trip per call).
    pub(super) async fn search_path(
        &self,
        c: &deadpool_postgres::Object,
        t: usize,
    ) -> Result<(), PgError> {
        if self.layout == Layout::SchemaPerTenant {
            c.batch_execute(&format!("SET search_path TO {}, public", self.schemas[t]))
                .await
                .map_err(|e| db_err("setting the tenant's search_path", e))?;
        }
        Ok(())
    }

    /// The pools, one per database (for evidence: their sizes and states).
    pub fn pools(&self) -> &[Pool] {
        &self.pools
    }

    /// A routing fault for the tests of the tenant check: every tenant's operations run as the
    /// next tenant's (by rank), as a router that resolved the wrong tenant would send them.
    /// Never set outside tests.
    #[doc(hidden)]
    #[must_use]
    pub fn with_misrouting(mut self) -> PgBackend {
        self.misroute = true;
        self
    }

    /// The request as the (possibly faulty) router sends it.
    fn misrouted(&self, req: &Request) -> Request {
        crate::backend::misrouted(req, self.misroute, self.ids.len())
    }

    pub(super) fn pool(&self, tenant: usize) -> &Pool {
        &self.pools[self.directory.db_of(tenant)]
    }

    /// The SQL and parameters of a read operation (for the call and for EXPLAIN).
    pub(super) fn read_spec(&self, req: &Request) -> Option<(&str, Vec<Param>, Option<u64>)> {
        if !req.op.is_builtin() {
            return None;
        }
        let sql = self.read_sql[self.schema_ix[req.tenant]][req.op.index()].as_str();
        let id = &self.ids[req.tenant];
        // The tenant parameter, unless row-level security binds it (see `read_sql`).
        let tenant = || {
            self.rls_role
                .is_none()
                .then(|| Param::Text(id.clone()))
                .into_iter()
        };
        let (params, limit): (Vec<Param>, _) = match req.op {
            Op::ListRecent => (
                tenant()
                    .chain([Param::Text(status_of(req).into())])
                    .collect(),
                Some(LIST_LIMIT as u64),
            ),
            Op::GetById => (
                [Param::Text(record_id(id, Collection::Orders, req.key))]
                    .into_iter()
                    .chain(tenant())
                    .collect(),
                Some(1),
            ),
            Op::CountByStatus => (
                tenant()
                    .chain([Param::Text(status_of(req).into())])
                    .collect(),
                None,
            ),
            Op::FindUserByEmail => {
                let user = generate(self.seed, id, Collection::Users, req.key);
                let email = match &user.fields[3] {
                    ("email", Value::Str(e)) => e.clone(),
                    _ => String::new(),
                };
                (tenant().chain([Param::Text(email)]).collect(), Some(1))
            }
            Op::RevenueByDay => (
                tenant()
                    .chain([Param::Time(END_MS - REVENUE_DAYS * 86_400_000)])
                    .collect(),
                None,
            ),
            _ => return None,
        };
        Some((sql, params, limit))
    }

    /// Marks a database dirty in its marker, once, before its first write.
    pub(super) async fn mark_dirty(&self, tenant: usize) -> Result<(), PgError> {
        if !self.marked {
            return Ok(());
        }
        let i = self.directory.db_of(tenant);
        if !self.dirty[i].swap(true, Ordering::Relaxed) {
            let c = self.pools[i].get().await.map_err(pool_err)?;
            c.execute(
                &format!("UPDATE public.{MARKER_TABLE} SET dirty = true, updated_at = now()"),
                &[],
            )
            .await
            .map_err(|e| db_err("marking the data dirty", e))?;
        }
        Ok(())
    }

    /// Answers a request.
    ///
    /// # Errors
    /// Pool and server errors; [`Backend::execute`] turns them into an [`Outcome`].
    pub async fn answer(&self, req: &Request) -> Result<Answer, PgError> {
        if req.op == Op::AdminCrossTenant {
            // The provider's own query: as the owner, across every tenant (RLS does not apply).
            return self.cross_tenant().await;
        }
        // What the returned rows are checked against: the tenant asked for, even when a (test)
        // routing fault sends the operation as another.
        let asked = self.ids[req.tenant].as_str();
        let req = &self.misrouted(req);
        // Held for the whole operation: a migration's freeze waits for it, and the route read
        // next is the one in force until the operation ends.
        let _gate = self.directory.enter(req.tenant).await;
        let c = self.pool(req.tenant).get().await.map_err(pool_err)?;
        let Some(role) = &self.rls_role else {
            return self.answer_on(&c, req, asked).await;
        };
        // rls: one transaction per operation, as the application role, bound to the tenant.
        c.batch_execute(&bind_tenant(role, &self.ids[req.tenant]))
            .await
            .map_err(|e| db_err("binding the tenant", e))?;
        match self.answer_on(&c, req, asked).await {
            Ok(a) => {
                c.batch_execute("COMMIT")
                    .await
                    .map_err(|e| db_err("COMMIT", e))?;
                Ok(a)
            }
            Err(e) => {
                let _ = c.batch_execute("ROLLBACK").await;
                Err(e)
            }
        }
    }

    /// Answers `req` on connection `c`, checking returned rows against tenant `asked`.
    async fn answer_on(
        &self,
        c: &deadpool_postgres::Object,
        req: &Request,
        asked: &str,
    ) -> Result<Answer, PgError> {
        if !req.op.is_builtin() {
            return self.custom(c, req).await;
        }
        let s = &self.schemas[req.tenant];
        let tenant = self.ids[req.tenant].as_str();
        let what = req.op.name();
        if let Some((sql, params, _)) = self.read_spec(req) {
            let st = c.prepare_cached(sql).await.map_err(|e| db_err(what, e))?;
            let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                params.iter().map(Param::as_sql).collect();
            let rows = c.query(&st, &refs).await.map_err(|e| db_err(what, e))?;
            if matches!(req.op, Op::ListRecent | Op::GetById | Op::FindUserByEmail)
                && let Some(leak) = leak_in(asked, rows.iter().map(|r| r.get::<_, Option<&str>>(1)))
            {
                return Ok(leak);
            }
            return Ok(match req.op {
                Op::ListRecent => Answer::Ids(rows.iter().map(|r| r.get(0)).collect()),
                Op::GetById | Op::FindUserByEmail => Answer::One(rows.first().map(|r| r.get(0))),
                Op::CountByStatus => {
                    Answer::Count(rows.first().map_or(0, |r| r.get::<_, i64>(0)) as u64)
                }
                _ => Answer::Revenue(
                    rows.iter()
                        .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1)))
                        .collect(),
                ),
            });
        }
        match req.op {
            Op::InsertOne => {
                self.mark_dirty(req.tenant).await?;
                let n = self.inserted.fetch_add(1, Ordering::Relaxed);
                let rec = generate(self.seed, tenant, Collection::Orders, req.key);
                let cols = columns(Collection::Orders);
                let names: Vec<String> = cols.iter().map(|c| ident(&c.name)).collect();
                let marks: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
                let sql = format!(
                    "INSERT INTO {s}.orders ({}) VALUES ({})",
                    names.join(", "),
                    marks.join(", ")
                );
                let now = crate::backend::postgres::ms_of(std::time::SystemTime::now());
                let params: Vec<Param> = rec
                    .fields
                    .iter()
                    .map(|(f, v)| match (*f, v) {
                        ("_id", _) => {
                            Param::Text(format!("{tenant}:ord:new:{}-{n}", self.insert_token))
                        }
                        ("createdAt", _) => Param::Time(now),
                        (_, Value::Str(x)) => Param::Text(x.clone()),
                        (_, Value::Static(x)) => Param::Text((*x).to_string()),
                        (_, Value::Int(x)) => Param::Int(*x),
                        (_, Value::Time(x)) => Param::Time(*x),
                        (_, Value::Bool(x)) => Param::Bool(*x),
                    })
                    .collect();
                let st = c.prepare_cached(&sql).await.map_err(|e| db_err(what, e))?;
                let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                    params.iter().map(Param::as_sql).collect();
                let k = c.execute(&st, &refs).await.map_err(|e| db_err(what, e))?;
                Ok(Answer::Written(k))
            }
            Op::UpdateStatus => {
                self.mark_dirty(req.tenant).await?;
                let sql = format!(
                    "UPDATE {s}.orders SET status = 'refunded', updated_at = now() WHERE id = $1 AND tenant_id = $2"
                );
                let st = c.prepare_cached(&sql).await.map_err(|e| db_err(what, e))?;
                let id = record_id(tenant, Collection::Orders, req.key);
                let k = c
                    .execute(&st, &[&id, &tenant])
                    .await
                    .map_err(|e| db_err(what, e))?;
                Ok(Answer::Written(k))
            }
            _ => unreachable!("read operations are answered above"),
        }
    }

    /// `admin_cross_tenant`: orders per tenant across every tenant. In `shared` one `GROUP BY`;
    /// where the layout splits the data, a count per schema or database, [`FAN_OUT`] at a time
    /// (thousands of schemas in one `UNION ALL` would exhaust `max_locks_per_transaction`).
    async fn cross_tenant(&self) -> Result<Answer, PgError> {
        let what = "admin_cross_tenant";
        let mut all: Vec<(String, u64)> = match self.layout {
            Layout::SchemaPerTenant | Layout::PerTenant => {
                let per: Vec<Option<(String, u64)>> = stream::iter(0..self.ids.len())
                    .map(|t| async move {
                        let c = self.pool(t).get().await.map_err(pool_err)?;
                        let sql = format!("SELECT count(*) FROM {}.orders", self.schemas[t]);
                        let st = c.prepare_cached(&sql).await.map_err(|e| db_err(what, e))?;
                        let n: i64 = c
                            .query_one(&st, &[])
                            .await
                            .map_err(|e| db_err(what, e))?
                            .get(0);
                        Ok::<_, PgError>((n > 0).then(|| (self.ids[t].clone(), n as u64)))
                    })
                    .buffer_unordered(FAN_OUT)
                    .try_collect()
                    .await?;
                per.into_iter().flatten().collect()
            }
            _ => {
                let mut out = Vec::new();
                // A tenant being copied, or left behind by a move, stands in two databases:
                // count it where the directory routes it.
                let index: Option<std::collections::HashMap<&str, usize>> =
                    self.directory.movable().then(|| {
                        self.ids
                            .iter()
                            .enumerate()
                            .map(|(i, t)| (t.as_str(), i))
                            .collect()
                    });
                for (d, p) in self.pools.iter().enumerate() {
                    let c = p.get().await.map_err(pool_err)?;
                    let rows = c
                        .query(
                            "SELECT tenant_id, count(*) FROM public.orders GROUP BY tenant_id",
                            &[],
                        )
                        .await
                        .map_err(|e| db_err(what, e))?;
                    out.extend(
                        rows.iter()
                            .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1) as u64))
                            .filter(|(t, _)| {
                                index.as_ref().is_none_or(|ix| {
                                    ix.get(t.as_str())
                                        .is_none_or(|&i| self.directory.db_of(i) == d)
                                })
                            }),
                    );
                }
                out
            }
        };
        all.sort();
        Ok(Answer::PerTenant(all))
    }
}

/// `rls`: opens a transaction as the application `role`, bound to `tenant` (the policy reads
/// `app.tenant_id`).
pub(super) fn bind_tenant(role: &str, tenant: &str) -> String {
    format!(
        "BEGIN; SET LOCAL ROLE {}; SET LOCAL app.tenant_id = '{}'",
        ident(role),
        tenant.replace('\'', "''")
    )
}

/// A statement parameter.
#[derive(Debug, Clone)]
pub(super) enum Param {
    Text(String),
    Int(i64),
    Time(i64),
    Bool(bool),
}

impl Param {
    fn as_sql(&self) -> &(dyn tokio_postgres::types::ToSql + Sync) {
        self
    }

    /// The parameter as an SQL literal (for EXPLAIN through the simple protocol).
    pub(super) fn literal(&self) -> String {
        match self {
            Param::Text(s) => format!("'{}'", s.replace('\'', "''")),
            Param::Int(i) => i.to_string(),
            Param::Time(ms) => format!("to_timestamp({} / 1000.0)", ms),
            Param::Bool(b) => b.to_string(),
        }
    }
}

impl tokio_postgres::types::ToSql for Param {
    fn to_sql(
        &self,
        ty: &tokio_postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Param::Text(s) => s.to_sql(ty, out),
            Param::Int(i) => i.to_sql(ty, out),
            Param::Time(ms) => time_of(*ms).to_sql(ty, out),
            Param::Bool(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        <String as tokio_postgres::types::ToSql>::accepts(ty)
            || <i64 as tokio_postgres::types::ToSql>::accepts(ty)
            || <std::time::SystemTime as tokio_postgres::types::ToSql>::accepts(ty)
            || <bool as tokio_postgres::types::ToSql>::accepts(ty)
    }

    tokio_postgres::types::to_sql_checked!();
}

pub(super) fn pool_err(e: deadpool_postgres::PoolError) -> PgError {
    PgError::State(format!("no pooled connection: {e}"))
}

pub(super) fn db_err(what: &str, source: tokio_postgres::Error) -> PgError {
    PgError::Db {
        what: what.to_string(),
        source,
    }
}

/// The countable kind of an error.
pub fn error_kind(e: &PgError) -> ErrorKind {
    match e {
        PgError::Db { source, .. } if source.as_db_error().is_some() => ErrorKind::Server,
        PgError::Db { source, .. } if source.is_closed() => ErrorKind::Network,
        PgError::Db { .. } => ErrorKind::Network,
        PgError::State(s) if s.starts_with("no pooled connection") && s.contains("Timeout") => {
            ErrorKind::Timeout
        }
        _ => ErrorKind::Other,
    }
}

impl Backend for PgBackend {
    async fn execute(&self, req: &Request) -> Outcome {
        match self.answer(req).await {
            Ok(a) => a.outcome(),
            Err(e) => Outcome::Error(error_kind(&e)),
        }
    }

    async fn respond(&self, req: &Request) -> Result<Answer, ErrorKind> {
        self.answer(req).await.map_err(|e| error_kind(&e))
    }

    fn directory(&self) -> Option<std::sync::Arc<crate::directory::Directory>> {
        Some(self.directory.clone())
    }
}
