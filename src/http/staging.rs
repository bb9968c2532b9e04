//! A team's own API (`[http]` in a scenario) as `load` attacks it: the base URL from its
//! environment variable, the secrets its headers name (read once, never written anywhere),
//! the tenants file as a population, and each operation's request rendered from its template.

use std::path::{Path, PathBuf};

use crate::datagen::Collection;
use crate::op::Request;
use crate::population::Population;
use crate::scenario::http::{Endpoint, HttpSpec, Part, Template};

/// The staging API's address or secrets could not be read from the environment. Messages name
/// the variable or flag, never its value: a URL or a header may hold a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StagingError {
    /// The variable `[http] base_url_env` names is not set.
    #[error("[http] base_url_env: ${var} is not set; export it to the staging API's base URL")]
    BaseUrlUnset {
        /// The variable's name.
        var: String,
    },
    /// A variable a header's `{env:NAME}` reads is not set.
    #[error("[http] header {header} needs ${var}, which is not set")]
    HeaderEnvUnset {
        /// The header's name.
        header: String,
        /// The variable's name.
        var: String,
    },
    /// The base URL does not parse.
    #[error("{what}: not a URL ({reason}); expected http[s]://host[:port][/prefix]")]
    NotUrl {
        /// Where the URL came from: a flag (`--host`) or a variable (`$STAGING_URL`).
        what: String,
        /// The URL parser's message (which does not quote the URL).
        reason: String,
    },
    /// The base URL holds a user name or a password.
    #[error(
        "{what}: the URL holds credentials, which would end up in results and logs; give the API's address only (a token goes in a header from {{env:NAME}})"
    )]
    Credentials {
        /// Where the URL came from.
        what: String,
    },
    /// The base URL is not http(s), or names no host.
    #[error("{what}: expected an http:// or https:// base URL")]
    NotHttp {
        /// Where the URL came from.
        what: String,
    },
}

/// A tenants file could not be read, or its text is wrong: the message names the file, and
/// the line (or the tenant) where it is wrong. Underlying errors are in the messages, not
/// chained as sources, so `{:#}` does not repeat them.
#[derive(Debug, thiserror::Error)]
pub enum TenantsFileError {
    /// The file could not be read.
    #[error("{}: cannot read the tenants file: {error}", path.display())]
    Read {
        /// The file, as opened (relative paths joined to the scenario's directory).
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// A CSV file's text is wrong (at a line).
    #[error("{}:{error}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        error: CsvError,
    },
    /// A JSON file's text is wrong.
    #[error("{}: {error}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        error: JsonError,
    },
    /// The file lists no tenant.
    #[error("{}: no tenants", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A tenant is listed twice.
    #[error("{}: tenant {tenant:?} is listed twice", path.display())]
    Repeated {
        /// The file.
        path: PathBuf,
        /// The tenant's id.
        tenant: String,
    },
}

/// What is wrong in a CSV tenants file; each message starts with the (1-based) line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    /// The first line is not a header naming the `tenant` column.
    #[error("{line}: expected a header line naming the columns: tenant[,weight][,class]")]
    NoHeader {
        /// The header's line.
        line: usize,
    },
    /// The header names a column other than `tenant`, `weight` and `class`.
    #[error("{line}: unknown column {column:?}; expected tenant, weight, class")]
    UnknownColumn {
        /// The header's line.
        line: usize,
        /// The column, lower-cased.
        column: String,
    },
    /// A row has another number of fields than the header has columns.
    #[error("{line}: {found} fields, expected {} ({})", columns.len(), columns.join(","))]
    Fields {
        /// The row's line.
        line: usize,
        /// Fields in the row.
        found: usize,
        /// The header's columns, lower-cased.
        columns: Vec<String>,
    },
    /// A row's tenant or weight is wrong.
    #[error("{line}: {error}")]
    Row {
        /// The row's line.
        line: usize,
        /// What is wrong in it.
        error: RowError,
    },
}

/// What is wrong in a JSON tenants file.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// The text is not an array of tenant objects (at serde_json's line and column).
    #[error(
        "{}:{}: {error}; expected [{{\"tenant\": \"…\", \"weight\": 1, \"class\": \"…\"}}, …]",
        error.line(),
        error.column()
    )]
    Shape {
        /// serde_json's error.
        error: serde_json::Error,
    },
    /// A tenant object's tenant or weight is wrong.
    #[error("tenant #{index}: {error}")]
    Row {
        /// The object's 1-based position in the array.
        index: usize,
        /// What is wrong in it.
        error: RowError,
    },
}

/// A tenants file's row value that is wrong (quoted in the message: ids and weights are not
/// secrets).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    /// The tenant id is empty, too long, or holds a character a URL path cannot.
    #[error("tenant {id:?}: expected an id of 1 to 200 characters without '/', '?', '#' or spaces")]
    Id {
        /// The id, trimmed.
        id: String,
    },
    /// The weight is not a whole number from 1 to 10^12.
    #[error("weight {weight:?}: expected a whole number from 1 to 10^12")]
    Weight {
        /// The weight as written, trimmed.
        weight: String,
    },
}

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
    pub fn open(spec: &HttpSpec) -> Result<Staging, StagingError> {
        let var = &spec.base_url_env;
        let url =
            std::env::var(var).map_err(|_| StagingError::BaseUrlUnset { var: var.clone() })?;
        check_base_url(&url, &format!("${var}"))?;
        let mut env = Vec::new();
        for (name, t) in &spec.headers {
            for v in t.env_vars() {
                let value = std::env::var(v).map_err(|_| StagingError::HeaderEnvUnset {
                    header: name.clone(),
                    var: v.to_string(),
                })?;
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
pub fn check_base_url(url: &str, what: &str) -> Result<(), StagingError> {
    let what = what.to_string();
    let parsed = reqwest::Url::parse(url).map_err(|e| StagingError::NotUrl {
        what: what.clone(),
        reason: e.to_string(),
    })?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(StagingError::Credentials { what });
    }
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(StagingError::NotHttp { what });
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
pub fn tenants_file(
    path: &Path,
    dir: &Path,
    max_record: u64,
) -> Result<Population, TenantsFileError> {
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
pub fn tenant_rows(path: &Path, dir: &Path) -> Result<Vec<Row>, TenantsFileError> {
    let full = if path.is_absolute() {
        path.to_path_buf()
    } else {
        dir.join(path)
    };
    let text = match std::fs::read_to_string(&full) {
        Ok(t) => t,
        Err(error) => return Err(TenantsFileError::Read { path: full, error }),
    };
    let rows = if full.extension().is_some_and(|x| x == "json") {
        json_rows(&text).map_err(|error| TenantsFileError::Json {
            path: full.clone(),
            error,
        })?
    } else {
        csv_rows(&text).map_err(|error| TenantsFileError::Csv {
            path: full.clone(),
            error,
        })?
    };
    if rows.is_empty() {
        return Err(TenantsFileError::Empty { path: full });
    }
    let mut seen = std::collections::HashSet::new();
    for r in &rows {
        if !seen.insert(r.0.as_str()) {
            return Err(TenantsFileError::Repeated {
                path: full.clone(),
                tenant: r.0.clone(),
            });
        }
    }
    Ok(rows)
}

/// A tenants file's row: tenant, weight, class.
pub type Row = (String, u64, Option<String>);

fn check_row(id: &str, weight: Option<&str>) -> Result<(String, u64), RowError> {
    let id = id.trim();
    if id.is_empty() || id.len() > 200 || id.contains(['/', '?', '#', ' ']) {
        return Err(RowError::Id { id: id.to_string() });
    }
    let weight = match weight.map(str::trim) {
        None | Some("") => 1,
        Some(w) => match w.parse::<u64>() {
            Ok(x) if (1..=1_000_000_000_000).contains(&x) => x,
            _ => {
                return Err(RowError::Weight {
                    weight: w.to_string(),
                });
            }
        },
    };
    Ok((id.to_string(), weight))
}

fn csv_rows(text: &str) -> Result<Vec<Row>, CsvError> {
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
        return Err(CsvError::NoHeader { line: hl + 1 });
    };
    if let Some(c) = cols
        .iter()
        .find(|c| !["tenant", "weight", "class"].contains(&c.as_str()))
    {
        return Err(CsvError::UnknownColumn {
            line: hl + 1,
            column: c.clone(),
        });
    }
    let (wi, ci) = (at("weight"), at("class"));
    lines
        .map(|(n, l)| {
            let f: Vec<&str> = l.split(',').collect();
            if f.len() != cols.len() {
                return Err(CsvError::Fields {
                    line: n + 1,
                    found: f.len(),
                    columns: cols.clone(),
                });
            }
            let (id, w) = check_row(f[ti], wi.map(|i| f[i]))
                .map_err(|error| CsvError::Row { line: n + 1, error })?;
            let class = ci
                .map(|i| f[i].trim().to_string())
                .filter(|c| !c.is_empty());
            Ok((id, w, class))
        })
        .collect()
}

fn json_rows(text: &str) -> Result<Vec<Row>, JsonError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct J {
        tenant: String,
        #[serde(default)]
        weight: Option<u64>,
        #[serde(default)]
        class: Option<String>,
    }
    let rows: Vec<J> = serde_json::from_str(text).map_err(|error| JsonError::Shape { error })?;
    rows.into_iter()
        .enumerate()
        .map(|(i, r)| {
            let w = r.weight.map(|w| w.to_string());
            let (id, w) = check_row(&r.tenant, w.as_deref()).map_err(|error| JsonError::Row {
                index: i + 1,
                error,
            })?;
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
        let e = check_base_url("https://me:hunter2@api.example.com", "$X")
            .unwrap_err()
            .to_string();
        assert!(e.contains("credentials") && !e.contains("hunter2"), "{e}");
        let e = check_base_url("ftp://me:hunter2@h", "--host")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("hunter2"), "{e}");
        let e = check_base_url("not a url", "--host")
            .unwrap_err()
            .to_string();
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
        let e = csv_rows("tenant,weight\nacme,x\n").unwrap_err().to_string();
        assert!(e.starts_with("2: weight \"x\""), "{e}");
        let e = csv_rows("id,weight\n").unwrap_err().to_string();
        assert!(e.contains("header line"), "{e}");
        let j = json_rows(r#"[{"tenant": "acme", "weight": 3}, {"tenant": "b"}]"#).unwrap();
        assert_eq!(j[0], ("acme".into(), 3, None));
        assert!(
            json_rows(r#"[{"tenant": "a", "wieght": 3}]"#)
                .unwrap_err()
                .to_string()
                .contains("1:")
        );
    }

    #[test]
    fn tenants_file_messages_name_the_file_then_the_line_or_the_tenant() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let at = |name: &str, text: &str| {
            std::fs::write(dir.path().join(name), text).expect("written");
            let e = tenant_rows(Path::new(name), dir.path()).unwrap_err();
            let path = dir.path().join(name).display().to_string();
            e.to_string().strip_prefix(&path).map(str::to_string)
        };
        assert_eq!(
            at("a.csv", "tenant,weight\nacme,1\nbeta\n").as_deref(),
            Some(":3: 1 fields, expected 2 (tenant,weight)")
        );
        assert_eq!(
            at("b.csv", "tenant\nacme\nacme\n").as_deref(),
            Some(": tenant \"acme\" is listed twice")
        );
        assert_eq!(at("c.csv", "# none\n").as_deref(), Some(": no tenants"));
        assert_eq!(
            at("d.json", r#"[{"tenant": "a b"}]"#).as_deref(),
            Some(
                ": tenant #1: tenant \"a b\": expected an id of 1 to 200 characters without '/', '?', '#' or spaces"
            )
        );
        let e = tenant_rows(Path::new("absent.csv"), dir.path()).unwrap_err();
        assert!(
            e.to_string()
                .contains("absent.csv: cannot read the tenants file: "),
            "{e}"
        );
    }
}
