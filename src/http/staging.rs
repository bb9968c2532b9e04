//! A team's own API (`[http]` in a scenario) as `load` attacks it: the base URL from its
//! environment variable, the secrets its headers name (read once, never written anywhere),
//! the tenants file as a population, and each operation's request rendered from its template.

use std::path::Path;

use crate::datagen::Collection;
use crate::op::Request;
use crate::population::Population;
use crate::scenario::http::{Endpoint, HttpSpec, Part, Template};

/// The staging API, ready to render requests. Its `Debug` hides the secrets.
#[derive(Clone)]
pub struct Staging {
    /// The base URL, without a trailing `/` (checked to hold no credentials).
    pub base_url: String,
    spec: HttpSpec,
    /// `{env:NAME}` values by name, read at start.
    env: Vec<(String, String)>,
}

impl std::fmt::Debug for Staging {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Staging")
            .field("base_url", &self.base_url)
            .field("endpoints", &self.spec.endpoints.len())
            .field("secrets", &format!("{} hidden", self.env.len()))
            .finish()
    }
}

/// One rendered request.
#[derive(Debug, Clone, PartialEq)]
pub struct StagingCall {
    /// The method.
    pub method: String,
    /// Path and query from the base URL.
    pub path: String,
    /// The JSON body.
    pub body: Option<String>,
    /// Headers, values rendered.
    pub headers: Vec<(String, String)>,
}

impl Staging {
    /// Reads the base URL from its environment variable and every `{env:NAME}` the headers
    /// use.
    ///
    /// # Errors
    /// A variable that is not set, a base URL that is not an http(s) URL or holds credentials
    /// (the messages name the variable, never its value).
    pub fn open(spec: &HttpSpec) -> Result<Staging, String> {
        let var = &spec.base_url_env;
        let url = std::env::var(var).map_err(|_| {
            format!(
                "[http] base_url_env: ${var} is not set; export it to the staging API's base URL"
            )
        })?;
        check_base_url(&url, &format!("${var}"))?;
        let mut env = Vec::new();
        for (name, t) in &spec.headers {
            for v in t.env_vars() {
                let value = std::env::var(v)
                    .map_err(|_| format!("[http] header {name} needs ${v}, which is not set"))?;
                env.push((v.to_string(), value));
            }
        }
        Ok(Staging {
            base_url: url.trim_end_matches('/').to_string(),
            spec: spec.clone(),
            env,
        })
    }

    /// The secret values read from the environment, for checks that nothing wrote them.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        self.env.iter().map(|(_, v)| v.as_str())
    }

    /// The endpoint of a request's operation.
    pub fn endpoint(&self, req: &Request) -> Option<&Endpoint> {
        self.spec.endpoint(req.op)
    }

    /// The request that asks the staging API for `req`, for tenant `id`.
    pub fn call(&self, e: &Endpoint, req: &Request, id: &str) -> StagingCall {
        let status = crate::backend::status_of(req);
        let render = |t: &Template| {
            let mut out = String::new();
            for p in &t.parts {
                match p {
                    Part::Text(s) => out.push_str(s),
                    Part::Tenant => out.push_str(id),
                    Part::Record => out.push_str(&req.key.to_string()),
                    Part::Status => out.push_str(status),
                    Part::Env(v) => {
                        if let Some((_, x)) = self.env.iter().find(|(n, _)| n == v) {
                            out.push_str(x);
                        }
                    }
                }
            }
            out
        };
        StagingCall {
            method: e.method.clone(),
            path: render(&e.path),
            body: e.body.as_ref().map(render),
            headers: self
                .spec
                .headers
                .iter()
                .map(|(n, t)| (n.clone(), render(t)))
                .collect(),
        }
    }
}

/// An API's base URL: http(s), a host, no credentials. Messages name `what` (a flag or a
/// variable), never the URL, which may hold a secret.
///
/// # Errors
/// Not a URL, not http(s), or credentials in it.
pub fn check_base_url(url: &str, what: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| format!("{what}: not a URL ({e}); expected http[s]://host[:port][/prefix]"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!(
            "{what}: the URL holds credentials, which would end up in results and logs; give the API's address only (a token goes in a header from {{env:NAME}})"
        ));
    }
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(format!("{what}: expected an http:// or https:// base URL"));
    }
    Ok(())
}

/// The tenants of a tenants file (relative paths from `dir`): CSV with a header naming
/// `tenant` and optionally `weight` (a positive integer, default 1) and `class` (a tier name,
/// or any other word for a class of its own), or a JSON array of such objects. Ranked by
/// weight, heaviest first; the workload's choice "by size" draws them by weight, and `{n}`
/// below `max_record`.
///
/// # Errors
/// A file that cannot be read, or a bad row: the message names the file and line.
pub fn tenants_file(path: &Path, dir: &Path, max_record: u64) -> Result<Population, String> {
    let rows = tenant_rows(path, dir)?;
    Ok(Population::ranked(rows, None, |_| {
        [max_record; Collection::COUNT]
    }))
}

/// The rows of a tenants file (`path`, relative to `dir` unless absolute), in file order:
/// (tenant, weight, class).
///
/// # Errors
/// A file that cannot be read, an empty one, a bad or repeated row: the message names the file
/// and line.
pub fn tenant_rows(path: &Path, dir: &Path) -> Result<Vec<Row>, String> {
    let full = if path.is_absolute() {
        path.to_path_buf()
    } else {
        dir.join(path)
    };
    let text = std::fs::read_to_string(&full)
        .map_err(|e| format!("{}: cannot read the tenants file: {e}", full.display()))?;
    let rows = if full.extension().is_some_and(|x| x == "json") {
        json_rows(&text).map_err(|e| format!("{}: {e}", full.display()))?
    } else {
        csv_rows(&text).map_err(|e| format!("{}:{e}", full.display()))?
    };
    if rows.is_empty() {
        return Err(format!("{}: no tenants", full.display()));
    }
    let mut seen = std::collections::HashSet::new();
    for r in &rows {
        if !seen.insert(r.0.as_str()) {
            return Err(format!(
                "{}: tenant {:?} is listed twice",
                full.display(),
                r.0
            ));
        }
    }
    Ok(rows)
}

/// A tenants file's row: tenant, weight, class.
pub type Row = (String, u64, Option<String>);

fn check_row(id: &str, weight: Option<&str>) -> Result<(String, u64), String> {
    let id = id.trim();
    if id.is_empty() || id.len() > 200 || id.contains(['/', '?', '#', ' ']) {
        return Err(format!(
            "tenant {id:?}: expected an id of 1 to 200 characters without '/', '?', '#' or spaces"
        ));
    }
    let weight = match weight.map(str::trim) {
        None | Some("") => 1,
        Some(w) => match w.parse::<u64>() {
            Ok(x) if (1..=1_000_000_000_000).contains(&x) => x,
            _ => {
                return Err(format!(
                    "weight {w:?}: expected a whole number from 1 to 10^12"
                ));
            }
        },
    };
    Ok((id.to_string(), weight))
}

fn csv_rows(text: &str) -> Result<Vec<Row>, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let Some((hl, header)) = lines.next() else {
        return Ok(Vec::new());
    };
    let cols: Vec<String> = header.split(',').map(|c| c.trim().to_lowercase()).collect();
    let at = |name: &str| cols.iter().position(|c| c == name);
    let Some(ti) = at("tenant") else {
        return Err(format!(
            "{}: expected a header line naming the columns: tenant[,weight][,class]",
            hl + 1
        ));
    };
    if let Some(c) = cols
        .iter()
        .find(|c| !["tenant", "weight", "class"].contains(&c.as_str()))
    {
        return Err(format!(
            "{}: unknown column {c:?}; expected tenant, weight, class",
            hl + 1
        ));
    }
    let (wi, ci) = (at("weight"), at("class"));
    lines
        .map(|(n, l)| {
            let f: Vec<&str> = l.split(',').collect();
            if f.len() != cols.len() {
                return Err(format!(
                    "{}: {} fields, expected {} ({})",
                    n + 1,
                    f.len(),
                    cols.len(),
                    cols.join(",")
                ));
            }
            let (id, w) =
                check_row(f[ti], wi.map(|i| f[i])).map_err(|e| format!("{}: {e}", n + 1))?;
            let class = ci
                .map(|i| f[i].trim().to_string())
                .filter(|c| !c.is_empty());
            Ok((id, w, class))
        })
        .collect()
}

fn json_rows(text: &str) -> Result<Vec<Row>, String> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct J {
        tenant: String,
        #[serde(default)]
        weight: Option<u64>,
        #[serde(default)]
        class: Option<String>,
    }
    let rows: Vec<J> = serde_json::from_str(text).map_err(|e| {
        format!(
            "{}:{}: {e}; expected [{{\"tenant\": \"…\", \"weight\": 1, \"class\": \"…\"}}, …]",
            e.line(),
            e.column()
        )
    })?;
    rows.into_iter()
        .enumerate()
        .map(|(i, r)| {
            let w = r.weight.map(|w| w.to_string());
            let (id, w) = check_row(&r.tenant, w.as_deref())
                .map_err(|e| format!("tenant #{}: {e}", i + 1))?;
            Ok((id, w, r.class.filter(|c| !c.is_empty())))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_with_credentials_are_refused_without_echoing_them() {
        assert!(check_base_url("https://api.example.com/v2", "$X").is_ok());
        let e = check_base_url("https://me:hunter2@api.example.com", "$X").unwrap_err();
        assert!(e.contains("credentials") && !e.contains("hunter2"), "{e}");
        let e = check_base_url("ftp://me:hunter2@h", "--host").unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
        let e = check_base_url("not a url", "--host").unwrap_err();
        assert!(e.starts_with("--host: not a URL"), "{e}");
    }

    #[test]
    fn tenants_files_rank_by_weight_and_name_the_bad_line() {
        let p = csv_rows(
            "# staging tenants\ntenant,weight,class\nacme,5,enterprise\nbeta,,\ngamma,20,vip\n",
        )
        .unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p[1], ("beta".into(), 1, None));
        let e = csv_rows("tenant,weight\nacme,x\n").unwrap_err();
        assert!(e.starts_with("2: weight \"x\""), "{e}");
        let e = csv_rows("id,weight\n").unwrap_err();
        assert!(e.contains("header line"), "{e}");
        let j = json_rows(r#"[{"tenant": "acme", "weight": 3}, {"tenant": "b"}]"#).unwrap();
        assert_eq!(j[0], ("acme".into(), 3, None));
        assert!(
            json_rows(r#"[{"tenant": "a", "wieght": 3}]"#)
                .unwrap_err()
                .contains("1:")
        );
    }
}
