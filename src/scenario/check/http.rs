//! `[http]`: the staging API's base-URL variable, tenants file, headers and endpoints.

use std::path::PathBuf;

use toml::Spanned;

use super::Checker;
use crate::op::Op;
use crate::scenario::ScenarioError;
use crate::scenario::http::{Endpoint, HttpSpec, Template, valid_env_name};
use crate::scenario::model::{EndpointModel, ExpectModel, HttpModel};

const METHODS: [&str; 6] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

/// `[http]`: its base-URL variable, tenants file, headers, `max_record` and endpoints.
pub(in crate::scenario) fn check_http(
    c: &Checker,
    m: &Spanned<HttpModel>,
    own: &[Op],
) -> Result<HttpSpec, ScenarioError> {
    let h = m.get_ref();
    let env = h.base_url_env.get_ref();
    if !valid_env_name(env) {
        return Err(c.err(
            h.base_url_env.span(),
            "expected the name of the environment variable that holds the base URL (A-Z, 0-9, _), never the URL itself",
        ));
    }
    if h.tenants.get_ref().trim().is_empty() {
        return Err(c.err(
            h.tenants.span(),
            "expected the tenants file (CSV `tenant,weight,class` or JSON), relative to this scenario",
        ));
    }
    let headers = check_headers(c, h)?;
    let max_record = match &h.max_record {
        Some(x) if !(1..=1_000_000_000_000).contains(x.get_ref()) => {
            return Err(c.err(x.span(), "expected max_record between 1 and 10^12"));
        }
        Some(x) => *x.get_ref() as u64,
        None => 1000,
    };
    let mut endpoints: Vec<Endpoint> = Vec::new();
    for e in &h.endpoint {
        let endpoint = check_endpoint(c, e.get_ref(), &endpoints, own)?;
        endpoints.push(endpoint);
    }
    if endpoints.is_empty() {
        return Err(c.err(
            m.span(),
            "expected at least one [[http.endpoint]] (op = \"list_recent\", request = \"GET /api/orders?status={status}\")",
        ));
    }
    Ok(HttpSpec {
        base_url_env: env.clone(),
        tenants: PathBuf::from(h.tenants.get_ref()),
        headers,
        max_record,
        endpoints,
    })
}

/// The headers sent with every request: each name checked, each value parsed as a template.
fn check_headers(c: &Checker, h: &HttpModel) -> Result<Vec<(String, Template)>, ScenarioError> {
    let mut headers = Vec::new();
    for (name, value) in &h.headers {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(c.err(
                value.span(),
                format!("header {name:?}: expected a header name of letters, digits and '-'"),
            ));
        }
        let t = Template::parse(value.get_ref(), true)
            .map_err(|e| c.err(value.span(), format!("header {name}: {e}")))?;
        headers.push((name.clone(), t));
    }
    Ok(headers)
}

/// One `[[http.endpoint]]`, after the `earlier` ones (an operation has one endpoint at most).
fn check_endpoint(
    c: &Checker,
    em: &EndpointModel,
    earlier: &[Endpoint],
    own: &[Op],
) -> Result<Endpoint, ScenarioError> {
    let op = endpoint_op(c, em, earlier, own)?;
    let req = em.request.get_ref().trim();
    let (method, path) = req.split_once(' ').unwrap_or((req, ""));
    let path = path.trim();
    if !METHODS.contains(&method) || !path.starts_with('/') {
        return Err(c.err(
            em.request.span(),
            format!(
                "expected \"METHOD /path\" with METHOD one of {} (e.g. \"GET /api/orders?status={{status}}\")",
                METHODS.join(", ")
            ),
        ));
    }
    let path = Template::parse(path, false).map_err(|x| c.err(em.request.span(), x.to_string()))?;
    let body = em
        .body
        .as_ref()
        .map(|b| Template::parse(b.get_ref(), false).map_err(|x| c.err(b.span(), x.to_string())))
        .transpose()?;
    let expect = expected_statuses(c, em)?;
    let (line, col, _) = crate::spans::locate(c.text(), em.request.span());
    Ok(Endpoint {
        op,
        route: format!("{method} {}", path.text),
        method: method.to_string(),
        path,
        body,
        expect,
        at: format!("{}:{line}:{col}", c.path().display()),
    })
}

/// The operation an endpoint stands for — a built-in, an `[[operation]]`, or a name of the
/// endpoint's own (all in `own`, interned by [`super::own_ops`]) — without an endpoint among
/// `earlier`.
fn endpoint_op(
    c: &Checker,
    em: &EndpointModel,
    earlier: &[Endpoint],
    own: &[Op],
) -> Result<Op, ScenarioError> {
    let name = em.op.get_ref();
    let Some(op) = super::workload::op_named(name, own) else {
        // own_ops interned every valid name; an invalid one was refused there.
        return Err(c.err(em.op.span(), "unknown operation"));
    };
    if earlier.iter().any(|x| x.op == op) {
        return Err(c.err(
            em.op.span(),
            format!(
                "a second endpoint for {}: expected one per operation",
                op.name()
            ),
        ));
    }
    Ok(op)
}

/// The statuses that answer an endpoint: its `expect` (one or a non-empty list), else 200.
fn expected_statuses(c: &Checker, em: &EndpointModel) -> Result<Vec<u16>, ScenarioError> {
    Ok(match em.expect.as_ref().map(|x| (x.get_ref(), x.span())) {
        None => vec![200],
        Some((ExpectModel::One(s), span)) => vec![status(c, *s, span)?],
        Some((ExpectModel::Many(v), span)) if !v.is_empty() => v
            .iter()
            .map(|s| status(c, *s, span.clone()))
            .collect::<Result<_, _>>()?,
        Some((ExpectModel::Many(_), span)) => {
            return Err(c.err(span, "expected at least one status"));
        }
    })
}

fn status(c: &Checker, s: i64, span: std::ops::Range<usize>) -> Result<u16, ScenarioError> {
    if (100..=599).contains(&s) {
        Ok(s as u16)
    } else {
        Err(c.err(
            span,
            format!("status {s}: expected an HTTP status from 100 to 599"),
        ))
    }
}
