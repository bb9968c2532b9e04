//! `[http]`: a team's own API (staging) for `tenantbench load` — the environment variable that
//! holds its base URL, the file of its tenants, the headers, and one endpoint template per
//! operation with the statuses it answers — and the template language they share.

use std::path::PathBuf;

use crate::op::Op;

/// A team's API, as the scenario describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSpec {
    /// The environment variable that holds the base URL (never a URL in the file).
    pub base_url_env: String,
    /// The tenants file (CSV or JSON), relative to the scenario's directory as written.
    pub tenants: PathBuf,
    /// Headers sent with every request: name and value template (`{tenant}`, `{env:NAME}`).
    pub headers: Vec<(String, Template)>,
    /// `{n}` is drawn below this (the workload's key skew over each tenant's records).
    pub max_record: u64,
    /// One endpoint per operation.
    pub endpoints: Vec<Endpoint>,
}

impl HttpSpec {
    /// The endpoint of an operation.
    pub fn endpoint(&self, op: Op) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.op == op)
    }
}

/// One endpoint: the operation it stands for, its method, path and body templates, and the
/// statuses that count as its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// The operation whose figures it records under.
    pub op: Op,
    /// `GET`, `HEAD`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    /// Path and query template, from the base URL (`/api/orders?status={status}`).
    pub path: Template,
    /// JSON body template of a write.
    pub body: Option<Template>,
    /// Statuses that answer it (default 200); any other is an error.
    pub expect: Vec<u16>,
    /// Where it is written (`file:line:column`), for messages.
    pub at: String,
    /// `METHOD path-template`, as goose names its requests.
    pub route: String,
}

impl Endpoint {
    /// Whether it changes data (anything but GET and HEAD): refused without `--allow-writes`.
    pub fn writes(&self) -> bool {
        !matches!(self.method.as_str(), "GET" | "HEAD")
    }
}

/// A template: literal text with `{tenant}`, `{n}`, `{status}` and (in headers) `{env:NAME}`.
/// A `{` not followed by a name and `}` is literal, so JSON bodies need no escaping.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// The template as written.
    pub text: String,
    /// Its pieces in order.
    pub parts: Vec<Part>,
}

/// A piece of a template.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Literal text.
    Text(String),
    /// The tenant's id.
    Tenant,
    /// A record number of the tenant (below `max_record`).
    Record,
    /// An order status (`paid`, …).
    Status,
    /// An environment variable's value, read once when `load` starts (headers only).
    Env(String),
}

/// A placeholder a template does not allow; the message names it (`{name}`, braces included)
/// and says what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `{env:…}` with a name that is not an environment variable's.
    #[error("{{{placeholder}}}: expected an environment variable name of A-Z, 0-9 and _")]
    EnvName {
        /// The placeholder between its braces (`env:token`).
        placeholder: String,
    },
    /// `{env:…}` in a path or body, which end up in goose's figures and logs.
    #[error(
        "{{{placeholder}}}: environment variables are allowed in headers only (a path or body ends up in goose's figures and logs)"
    )]
    EnvOutsideHeaders {
        /// The placeholder between its braces.
        placeholder: String,
    },
    /// A name that is no placeholder.
    #[error(
        "{{{placeholder}}}: unknown placeholder; expected {{tenant}}, {{n}}, {{status}}{}",
        if *env { " or {env:NAME}" } else { "" }
    )]
    Unknown {
        /// The placeholder between its braces.
        placeholder: String,
        /// Whether `{env:NAME}` was allowed (a header), so the message offers it.
        env: bool,
    },
}

impl Template {
    /// Parses `text`; `env` allows `{env:NAME}`.
    ///
    /// # Errors
    /// An unknown placeholder, or `{env:…}` where it is not allowed: the message says which.
    pub fn parse(text: &str, env: bool) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        while let Some(i) = rest.find('{') {
            let after = &rest[i + 1..];
            let name_len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(after.len());
            if name_len == 0 || !after[name_len..].starts_with('}') {
                lit.push_str(&rest[..=i]);
                rest = after;
                continue;
            }
            let name = &after[..name_len];
            let part = match name {
                "tenant" => Part::Tenant,
                "n" => Part::Record,
                "status" => Part::Status,
                _ => match name.strip_prefix("env:") {
                    Some(var) if env && valid_env_name(var) => Part::Env(var.to_string()),
                    Some(_) if env => {
                        return Err(TemplateError::EnvName {
                            placeholder: name.to_string(),
                        });
                    }
                    Some(_) => {
                        return Err(TemplateError::EnvOutsideHeaders {
                            placeholder: name.to_string(),
                        });
                    }
                    None => {
                        return Err(TemplateError::Unknown {
                            placeholder: name.to_string(),
                            env,
                        });
                    }
                },
            };
            lit.push_str(&rest[..i]);
            if !lit.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut lit)));
            }
            parts.push(part);
            rest = &after[name_len + 1..];
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            parts.push(Part::Text(lit));
        }
        Ok(Template {
            text: text.to_string(),
            parts,
        })
    }

    /// The environment variables it reads.
    pub fn env_vars(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Env(v) => Some(v.as_str()),
            _ => None,
        })
    }
}

/// `A-Z`, `0-9` and `_`, not starting with a digit.
pub fn valid_env_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An endpoint's own operation: a valid name is the mix's to draw, a bad one or a second
    /// endpoint for it is refused where it is written.
    #[test]
    fn endpoints_name_operations_of_their_own() {
        let base = "name = \"api\"\n[population]\ntenants = 3\ndocuments = 30\ndistribution = \"uniform\"\n\
                    [workload]\nmix = { open_deals = 1 }\n\
                    [http]\nbase_url_env = \"X\"\ntenants = \"t.csv\"\n\
                    [[http.endpoint]]\nop = \"open_deals\"\nrequest = \"GET /deals?stage=open\"\n";
        let parse = |t: &str| crate::scenario::Scenario::parse(std::path::Path::new("a.toml"), t);
        let s = parse(base).expect("parses");
        assert_eq!(s.api_only_op().map(|o| o.name()), Some("open_deals"));
        let bad = parse(&base.replace("\"open_deals\"\nrequest", "\"Open Deals\"\nrequest"))
            .expect_err("refused")
            .to_string();
        assert!(
            bad.contains("a.toml:12:6") && bad.contains("a name of your own"),
            "{bad}"
        );
        let twice = format!("{base}[[http.endpoint]]\nop = \"open_deals\"\nrequest = \"GET /x\"\n");
        let e = parse(&twice).expect_err("refused").to_string();
        assert!(
            e.contains("a.toml:15:6") && e.contains("a second endpoint for open_deals"),
            "{e}"
        );
    }

    #[test]
    fn templates_name_their_placeholders_and_leave_json_alone() {
        let t = Template::parse("/api/orders/{n}?t={tenant}", false).unwrap();
        assert_eq!(
            t.parts,
            [
                Part::Text("/api/orders/".into()),
                Part::Record,
                Part::Text("?t=".into()),
                Part::Tenant
            ]
        );
        let body = Template::parse(r#"{"status": "{status}"}"#, false).unwrap();
        assert_eq!(
            body.parts,
            [
                Part::Text(r#"{"status": ""#.into()),
                Part::Status,
                Part::Text(r#""}"#.into())
            ]
        );
        let h = Template::parse("Bearer {env:STAGING_TOKEN}", true).unwrap();
        assert_eq!(h.env_vars().collect::<Vec<_>>(), ["STAGING_TOKEN"]);
        assert_eq!(
            Template::parse("/x/{env:TOKEN}", false)
                .unwrap_err()
                .to_string(),
            "{env:TOKEN}: environment variables are allowed in headers only (a path or body ends up in goose's figures and logs)"
        );
        assert_eq!(
            Template::parse("/x/{user}", false).unwrap_err().to_string(),
            "{user}: unknown placeholder; expected {tenant}, {n}, {status}"
        );
        assert_eq!(
            Template::parse("{user}", true).unwrap_err().to_string(),
            "{user}: unknown placeholder; expected {tenant}, {n}, {status} or {env:NAME}"
        );
        assert_eq!(
            Template::parse("{env:token}", true)
                .unwrap_err()
                .to_string(),
            "{env:token}: expected an environment variable name of A-Z, 0-9 and _"
        );
    }
}
