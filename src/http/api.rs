//! The reference tenant API: the operation catalogue as JSON endpoints over one [`Backend`],
//! as multi-tenant SaaS apps serve it. The tenant comes from the `/t/{tenant}/…` path or, under
//! `/api/…`, from the `X-Tenant-ID` header, and is resolved in middleware to its index (the
//! backend routes it to its placement and connection: one client, or the per-tenant registry).
//! [`call_of`] is the HTTP request for an operation, so a load generator and the tests ask what
//! the database runner asks; [`body_of`] is the JSON of an answer.
//!
//! Status codes: 200/201 with the answer; 400 for a missing or unknown tenant and malformed
//! input; 404 for a record that does not exist (and unknown paths); 405 for a wrong method; 415
//! / 422 for a body that is not JSON or not the expected shape; 503 when the database failed
//! (its error kind only, never its message). Bad input never gets a 500.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::backend::{Answer, Backend};
use crate::datagen::Collection;
use crate::op::{ErrorKind, Op, Request as OpRequest};

/// The header that names the tenant under `/api/…`.
pub const TENANT_HEADER: &str = "x-tenant-id";

/// The API's state: the backend and the tenants it serves, by id.
pub struct Api<B> {
    backend: Arc<B>,
    tenants: HashMap<String, usize>,
    ids: Vec<String>,
}

impl<B: Backend> Api<B> {
    /// An API over `backend` for the tenants `ids` (in population order: index = rank − 1).
    pub fn new(backend: Arc<B>, ids: Vec<String>) -> Api<B> {
        Api {
            backend,
            tenants: ids
                .iter()
                .enumerate()
                .map(|(i, t)| (t.clone(), i))
                .collect(),
            ids,
        }
    }

    /// The tenant with this id.
    fn tenant(&self, id: &str) -> Result<usize, Reject> {
        self.tenants.get(id).copied().ok_or_else(|| {
            Reject(
                StatusCode::BAD_REQUEST,
                format!("unknown tenant {id:?}: no such tenant in this scenario's population"),
            )
        })
    }

    /// Runs one operation and turns its answer into a response.
    async fn answer(&self, req: OpRequest, created: bool) -> Response {
        match self.backend.respond(&req).await {
            Ok(a) if a.outcome() == crate::op::Outcome::NotFound => {
                error(StatusCode::NOT_FOUND, not_found_text(&req, &self.ids))
            }
            // Another tenant's records are never handed on: the check failed closed.
            Ok(Answer::Leak { foreign, returned }) => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "isolation failure: {foreign} of {returned} records returned for tenant {} belong to another tenant; nothing was sent",
                    self.ids[req.tenant]
                ),
            ),
            Ok(a) => {
                let status = if created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                };
                (status, Json(body_of(&a))).into_response()
            }
            Err(kind) => error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the database failed ({})", kind_word(kind)),
            ),
        }
    }
}

/// The tenant a request is for, set by the middleware.
#[derive(Debug, Clone, Copy)]
struct Tenant(usize);

/// The router: `/healthz`, `/admin/orders-per-tenant`, and the tenant routes under
/// `/t/{tenant}` and under `/api` (tenant from `X-Tenant-ID`).
pub fn router<B: Backend>(api: Arc<Api<B>>) -> Router {
    let tenant_routes = || {
        Router::new()
            .route("/orders", get(list_recent::<B>).post(insert_one::<B>))
            .route("/orders/count", get(count_by_status::<B>))
            .route("/orders/{n}", get(get_by_id::<B>).patch(update_status::<B>))
            .route("/users/lookup", get(find_user::<B>))
            .route("/revenue", get(revenue::<B>))
    };
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/admin/orders-per-tenant", get(cross_tenant::<B>))
        .nest(
            "/t/{tenant}",
            tenant_routes().route_layer(middleware::from_fn_with_state(api.clone(), by_path::<B>)),
        )
        .nest(
            "/api",
            tenant_routes()
                .route_layer(middleware::from_fn_with_state(api.clone(), by_header::<B>)),
        )
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such endpoint".into()) })
        .with_state(api)
}

/// An error response: `{"error": "…"}`.
fn error(status: StatusCode, text: String) -> Response {
    (status, Json(json!({ "error": text }))).into_response()
}

/// A refused request: its status and why (a [`Response`] is too large to return by value in
/// every `Result`).
#[derive(Debug)]
struct Reject(StatusCode, String);

impl IntoResponse for Reject {
    fn into_response(self) -> Response {
        error(self.0, self.1)
    }
}

fn kind_word(k: ErrorKind) -> &'static str {
    match k {
        ErrorKind::Timeout => "timeout",
        ErrorKind::Network => "network",
        ErrorKind::Server => "server error",
        ErrorKind::Other => "other error",
    }
}

fn not_found_text(req: &OpRequest, ids: &[String]) -> String {
    let t = ids.get(req.tenant).map_or("?", String::as_str);
    match req.op {
        Op::FindUserByEmail => format!("tenant {t} has no user {}", req.key),
        _ => format!("tenant {t} has no order {}", req.key),
    }
}

/// Middleware of `/t/{tenant}/…`: the tenant from the path (and, when the header is also sent,
/// the same one).
async fn by_path<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(id) = params.get("tenant") else {
        return error(StatusCode::BAD_REQUEST, "no tenant in the path".into());
    };
    let t = match api.tenant(id) {
        Ok(t) => t,
        Err(r) => return r.into_response(),
    };
    if let Some(h) = headers.get(TENANT_HEADER)
        && h.as_bytes() != id.as_bytes()
    {
        return error(
            StatusCode::BAD_REQUEST,
            format!("the {TENANT_HEADER} header names another tenant than the path ({id})"),
        );
    }
    req.extensions_mut().insert(Tenant(t));
    next.run(req).await
}

/// Middleware of `/api/…`: the tenant from the `X-Tenant-ID` header.
async fn by_header<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    headers: HeaderMap,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(h) = headers.get(TENANT_HEADER) else {
        return error(
            StatusCode::BAD_REQUEST,
            format!("missing the {TENANT_HEADER} header (or use /t/{{tenant}}/…)"),
        );
    };
    let Ok(id) = h.to_str() else {
        return error(
            StatusCode::BAD_REQUEST,
            format!("the {TENANT_HEADER} header is not text"),
        );
    };
    match api.tenant(id) {
        Ok(t) => {
            req.extensions_mut().insert(Tenant(t));
            next.run(req).await
        }
        Err(r) => r.into_response(),
    }
}

/// `?status=…` of the order listings.
#[derive(Debug, Deserialize)]
struct StatusQuery {
    status: String,
}

/// The key that asks for `status` (the backends derive the status from the key).
fn status_key(status: &str) -> Result<u64, Reject> {
    let all = Collection::Orders.statuses();
    all.iter()
        .position(|(s, _)| *s == status)
        .map(|i| i as u64)
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|(s, _)| *s).collect();
            Reject(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "unknown order status {status:?}; expected one of {}",
                    names.join(", ")
                ),
            )
        })
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, Reject> {
    q.map(|Query(x)| x)
        .map_err(|e| Reject(StatusCode::BAD_REQUEST, e.body_text()))
}

fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, Reject> {
    b.map(|Json(x)| x)
        .map_err(|e| Reject(e.status(), e.body_text()))
}

/// The record ordinal `{n}` of a path.
fn ordinal(params: &HashMap<String, String>) -> Result<u64, Reject> {
    let n = params.get("n").map_or("", String::as_str);
    n.parse().map_err(|_| {
        Reject(
            StatusCode::BAD_REQUEST,
            format!("order {n:?}: expected the order's number (0, 1, 2, …)"),
        )
    })
}

/// Runs `op` for `tenant` with the key the request gave, or answers why it gave none.
async fn run_op<B: Backend>(
    api: &Api<B>,
    tenant: usize,
    op: Op,
    key: Result<u64, Reject>,
    created: bool,
) -> Response {
    match key {
        Ok(key) => api.answer(OpRequest { tenant, op, key }, created).await,
        Err(r) => r.into_response(),
    }
}

async fn list_recent<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(Tenant(t)): Extension<Tenant>,
    q: Result<Query<StatusQuery>, QueryRejection>,
) -> Response {
    let key = query(q).and_then(|q| status_key(&q.status));
    run_op(&api, t, Op::ListRecent, key, false).await
}

async fn count_by_status<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(Tenant(t)): Extension<Tenant>,
    q: Result<Query<StatusQuery>, QueryRejection>,
) -> Response {
    let key = query(q).and_then(|q| status_key(&q.status));
    run_op(&api, t, Op::CountByStatus, key, false).await
}

async fn get_by_id<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(Tenant(t)): Extension<Tenant>,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    run_op(&api, t, Op::GetById, ordinal(&params), false).await
}

/// `PATCH /orders/{n}`: `{"status": "refunded"}` (the one change the catalogue makes).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusChange {
    status: String,
}

async fn update_status<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(Tenant(t)): Extension<Tenant>,
    Path(params): Path<HashMap<String, String>>,
    b: Result<Json<StatusChange>, JsonRejection>,
) -> Response {
    let key = ordinal(&params).and_then(|k| match body(b)? {
        c if c.status == "refunded" => Ok(k),
        c => Err(Reject(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "status {:?}: an order can only be changed to \"refunded\"",
                c.status
            ),
        )),
    });
    run_op(&api, t, Op::UpdateStatus, key, false).await
}

/// `POST /orders`: `{"n": K}`, the new order made from the tenant's K-th generated order.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewOrder {
    n: u64,
}

async fn insert_one<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(Tenant(t)): Extension<Tenant>,
    b: Result<Json<NewOrder>, JsonRejection>,
) -> Response {
    run_op(&api, t, Op::InsertOne, body(b).map(|o| o.n), true).await
}

/// `?n=K` of the user lookup: the tenant's K-th user's email, as the runner asks.
#[derive(Debug, Deserialize)]
struct UserQuery {
    n: u64,
}

async fn find_user<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(Tenant(t)): Extension<Tenant>,
    q: Result<Query<UserQuery>, QueryRejection>,
) -> Response {
    run_op(&api, t, Op::FindUserByEmail, query(q).map(|q| q.n), false).await
}

async fn revenue<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(Tenant(t)): Extension<Tenant>,
) -> Response {
    run_op(&api, t, Op::RevenueByDay, Ok(0), false).await
}

async fn cross_tenant<B: Backend>(State(api): State<Arc<Api<B>>>) -> Response {
    run_op(&api, 0, Op::AdminCrossTenant, Ok(0), false).await
}

/// The JSON body of an answer.
pub fn body_of(a: &Answer) -> Value {
    match a {
        Answer::Ids(ids) => json!({ "orders": ids }),
        Answer::Count(n) => json!({ "count": n }),
        Answer::One(id) => json!({ "id": id }),
        Answer::Revenue(days) => json!({
            "days": days.iter().map(|(d, c)| json!({"day": d, "cents": c})).collect::<Vec<_>>()
        }),
        Answer::PerTenant(ts) => json!({
            "tenants": ts.iter().map(|(t, n)| json!({"tenant": t, "orders": n})).collect::<Vec<_>>()
        }),
        Answer::Written(n) => json!({ "written": n }),
        Answer::Rows(rows) => json!({ "rows": rows }),
        Answer::Leak { returned, foreign } => {
            json!({ "leak": { "returned": returned, "foreign": foreign } })
        }
    }
}

/// An HTTP request of the API.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// `GET`, `POST` or `PATCH`.
    pub method: &'static str,
    /// Path and query, from the API's root (`/t/t00001/orders?status=paid`).
    pub path: String,
    /// The JSON body of a write.
    pub body: Option<Value>,
    /// The route, for metrics: one name per operation, not per tenant
    /// (`/t/{tenant}/orders?status`).
    pub route: &'static str,
}

/// The HTTP request that asks the API what `req` asks the database, for tenant `id`.
pub fn call_of(req: &OpRequest, id: &str) -> Call {
    let status = crate::backend::status_of(req);
    let (method, path, body, route) = match req.op {
        Op::ListRecent => (
            "GET",
            format!("/t/{id}/orders?status={status}"),
            None,
            "/t/{tenant}/orders?status",
        ),
        Op::CountByStatus => (
            "GET",
            format!("/t/{id}/orders/count?status={status}"),
            None,
            "/t/{tenant}/orders/count?status",
        ),
        Op::GetById => (
            "GET",
            format!("/t/{id}/orders/{}", req.key),
            None,
            "/t/{tenant}/orders/{n}",
        ),
        Op::UpdateStatus => (
            "PATCH",
            format!("/t/{id}/orders/{}", req.key),
            Some(json!({"status": "refunded"})),
            "/t/{tenant}/orders/{n}",
        ),
        Op::InsertOne => (
            "POST",
            format!("/t/{id}/orders"),
            Some(json!({"n": req.key})),
            "/t/{tenant}/orders",
        ),
        Op::FindUserByEmail => (
            "GET",
            format!("/t/{id}/users/lookup?n={}", req.key),
            None,
            "/t/{tenant}/users/lookup?n",
        ),
        Op::RevenueByDay => (
            "GET",
            format!("/t/{id}/revenue"),
            None,
            "/t/{tenant}/revenue",
        ),
        Op::AdminCrossTenant => (
            "GET",
            "/admin/orders-per-tenant".to_string(),
            None,
            "/admin/orders-per-tenant",
        ),
        // A scenario's own operations have no endpoint (`load` refuses them): the API
        // answers 404, counted as not found.
        op => (
            "GET",
            format!("/t/{id}/operations/{}", op.name()),
            None,
            "/t/{tenant}/operations/{name}",
        ),
    };
    Call {
        method,
        path,
        body,
        route,
    }
}
