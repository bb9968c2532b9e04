//! A scenario's own operations (`[[operation]]`, issue 16): the validated form — MongoDB
//! filter / sort / projection / pipeline / update / document templates parsed from JSON (key
//! order kept), SQL compiled to a prepared statement's text with numbered parameters — and the
//! placeholders both fill in per request (`{{tenant}}`, `{{status}}`, `{{id}}`, `{{email}}`,
//! `{{key}}`, `{{days_ago:N}}`).

use crate::op::Op;

/// A value a placeholder stands for, filled in per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hole {
    /// The tenant's id (its value of the tenant field).
    Tenant,
    /// The status built-ins filter on, derived from the request's key.
    Status,
    /// The `_id` / `id` of the request's record in the operation's collection.
    Id,
    /// The email of the request's user (the `users` record of the key).
    Email,
    /// The request's key (a record ordinal within the tenant), as an integer.
    Key,
    /// The time N days before the end of the generated data (a date).
    DaysAgo(u32),
}

/// Placeholder names, for messages.
pub const HOLES: &str = "{{tenant}}, {{status}}, {{id}}, {{email}}, {{key}}, {{days_ago:N}}";

/// A placeholder in an operation's template or SQL that is not one of [`HOLES`]; its
/// message says what was expected instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceholderError {
    /// A `{{` with no `}}` after it.
    #[error("a placeholder `{{{{` without its closing `}}}}`")]
    Unclosed,
    /// An argument to a placeholder that takes none (`{{tenant:1}}`).
    #[error("{{{{{name}}}}} takes no argument")]
    TakesNoArgument {
        /// The placeholder's name.
        name: String,
    },
    /// `{{days_ago}}` without a whole number of days up to 36500.
    #[error("expected {{{{days_ago:N}}}} with N a whole number of days, 0 to 36500")]
    DaysAgo,
    /// A name that is no placeholder.
    #[error("unknown placeholder {{{{{placeholder}}}}}; expected one of {}", HOLES)]
    Unknown {
        /// What stood between `{{` and `}}`, trimmed.
        placeholder: String,
    },
    /// SQL's `$1`: tenantbench numbers the parameters itself, from what they are named.
    #[error(
        "a numbered parameter ${number}; name what to bind instead: {} (or $tenant, $status, $id, $email, $key)",
        HOLES
    )]
    Numbered {
        /// The digits after `$`.
        number: String,
    },
}

impl Hole {
    /// The placeholder between `{{` and `}}` (spaces around allowed).
    ///
    /// # Errors
    /// What was expected instead.
    pub fn parse(inner: &str) -> Result<Hole, PlaceholderError> {
        let t = inner.trim();
        let (name, arg) = match t.split_once(':') {
            Some((n, a)) => (n.trim(), Some(a.trim())),
            None => (t, None),
        };
        let plain = |h: Hole| match arg {
            None => Ok(h),
            Some(_) => Err(PlaceholderError::TakesNoArgument {
                name: name.to_string(),
            }),
        };
        match name {
            "tenant" => plain(Hole::Tenant),
            "status" => plain(Hole::Status),
            "id" => plain(Hole::Id),
            "email" => plain(Hole::Email),
            "key" => plain(Hole::Key),
            "days_ago" => match arg.map(str::parse::<u32>) {
                Some(Ok(n)) if n <= 36_500 => Ok(Hole::DaysAgo(n)),
                _ => Err(PlaceholderError::DaysAgo),
            },
            _ => Err(PlaceholderError::Unknown {
                placeholder: t.to_string(),
            }),
        }
    }
}

/// A piece of a template string.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    /// Text as written.
    Lit(String),
    /// A placeholder.
    Hole(Hole),
}

/// A JSON value with placeholders in its strings; objects keep their key order (a sort or a
/// pipeline stage means what its order says).
#[derive(Debug, Clone, PartialEq)]
pub enum Tpl {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// Any other number.
    Float(f64),
    /// A string: a placeholder alone is a typed value (a date for `days_ago`, an integer for
    /// `key`); mixed with text it is text.
    Text(Vec<Piece>),
    /// An array.
    List(Vec<Tpl>),
    /// An object, in key order.
    Map(Vec<(String, Tpl)>),
}

/// Splits a string into text and placeholders; `Err((offset, message))` at the first bad one.
pub fn pieces(s: &str) -> Result<Vec<Piece>, (usize, PlaceholderError)> {
    let mut out = Vec::new();
    let mut rest = s;
    let mut at = 0;
    while let Some(i) = rest.find("{{") {
        if i > 0 {
            out.push(Piece::Lit(rest[..i].to_string()));
        }
        let Some(j) = rest[i + 2..].find("}}") else {
            return Err((at + i, PlaceholderError::Unclosed));
        };
        let inner = &rest[i + 2..i + 2 + j];
        out.push(Piece::Hole(Hole::parse(inner).map_err(|m| (at + i, m))?));
        at += i + 4 + j;
        rest = &rest[i + 4 + j..];
    }
    if !rest.is_empty() {
        out.push(Piece::Lit(rest.to_string()));
    }
    Ok(out)
}

impl<'de> serde::Deserialize<'de> for Tpl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Tpl, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Tpl;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<Tpl, E> {
                Ok(Tpl::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Tpl, E> {
                Ok(Tpl::Bool(b))
            }
            fn visit_i64<E>(self, i: i64) -> Result<Tpl, E> {
                Ok(Tpl::Int(i))
            }
            fn visit_u64<E: serde::de::Error>(self, u: u64) -> Result<Tpl, E> {
                i64::try_from(u)
                    .map(Tpl::Int)
                    .map_err(|_| E::custom("an integer above 2^63"))
            }
            fn visit_f64<E>(self, f: f64) -> Result<Tpl, E> {
                Ok(Tpl::Float(f))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Tpl, E> {
                pieces(s).map(Tpl::Text).map_err(|(_, m)| E::custom(m))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Tpl, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = a.next_element()? {
                    v.push(x);
                }
                Ok(Tpl::List(v))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Tpl, A::Error> {
                let mut v = Vec::new();
                while let Some((k, x)) = a.next_entry::<String, Tpl>()? {
                    v.push((k, x));
                }
                Ok(Tpl::Map(v))
            }
        }
        d.deserialize_any(V)
    }
}

impl Tpl {
    /// Every placeholder in it.
    pub fn holes(&self, out: &mut Vec<Hole>) {
        match self {
            Tpl::Text(p) => out.extend(p.iter().filter_map(|p| match p {
                Piece::Hole(h) => Some(*h),
                Piece::Lit(_) => None,
            })),
            Tpl::List(v) => v.iter().for_each(|t| t.holes(out)),
            Tpl::Map(v) => v.iter().for_each(|(_, t)| t.holes(out)),
            _ => {}
        }
    }
}

/// What a MongoDB operation does.
#[derive(Debug, Clone, PartialEq)]
pub enum MongoQuery {
    /// `find(filter).sort(..).projection(..).limit(..)`: answers the documents.
    Find {
        /// The filter.
        filter: Tpl,
        /// The sort.
        sort: Option<Tpl>,
        /// The projection.
        projection: Option<Tpl>,
        /// The limit.
        limit: Option<i64>,
    },
    /// `countDocuments(filter)`.
    Count {
        /// The filter.
        filter: Tpl,
    },
    /// `aggregate(pipeline)`.
    Aggregate {
        /// The stages.
        pipeline: Tpl,
    },
    /// `updateOne(filter, update)` (a write).
    Update {
        /// The filter.
        filter: Tpl,
        /// The update document or pipeline.
        update: Tpl,
    },
    /// `insertOne(document)` (a write).
    Insert {
        /// The document.
        document: Tpl,
    },
}

/// SQL as a prepared statement: `{{…}}` / `$name` placeholders replaced by `$1`, `$2`, … (one
/// number per distinct placeholder).
#[derive(Debug, Clone, PartialEq)]
pub struct Sql {
    /// The statement's text.
    pub text: String,
    /// The placeholder of each parameter, `$1` first.
    pub params: Vec<Hole>,
}

/// Compiles SQL with placeholders; `Err((offset, message))` at the first bad one. `$tenant`,
/// `$status`, `$id`, `$email` and `$key` stand for `{{tenant}}` and so on; numbered
/// parameters (`$1`) are refused, since only a name says what to bind.
pub fn compile_sql(sql: &str) -> Result<Sql, (usize, PlaceholderError)> {
    let mut text = String::new();
    let mut params: Vec<Hole> = Vec::new();
    let mut bind = |h: Hole, text: &mut String| {
        let n = match params.iter().position(|p| *p == h) {
            Some(i) => i + 1,
            None => {
                params.push(h);
                params.len()
            }
        };
        text.push_str(&format!("${n}"));
    };
    let b = sql.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if sql[i..].starts_with("{{") {
            let Some(j) = sql[i + 2..].find("}}") else {
                return Err((i, PlaceholderError::Unclosed));
            };
            let h = Hole::parse(&sql[i + 2..i + 2 + j]).map_err(|m| (i, m))?;
            bind(h, &mut text);
            i += j + 4;
        } else if b[i] == b'$' {
            let word: String = sql[i + 1..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !word.is_empty() && word.bytes().all(|c| c.is_ascii_digit()) {
                return Err((i, PlaceholderError::Numbered { number: word }));
            }
            match Hole::parse(&word) {
                Ok(h) if word != "days_ago" => {
                    bind(h, &mut text);
                    i += 1 + word.len();
                }
                _ => {
                    text.push('$');
                    i += 1;
                }
            }
        } else {
            let ch = sql[i..].chars().next().unwrap_or(' ');
            text.push(ch);
            i += ch.len_utf8();
        }
    }
    Ok(Sql { text, params })
}

/// One `[[operation]]`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationSpec {
    /// Its name, interned as an operation.
    pub op: Op,
    /// The collection (MongoDB) or table (PostgreSQL) it reads or writes.
    pub collection: String,
    /// Whether it only reads (`read_only`, default true); writes mark data dirty and are
    /// refused on an existing database without `--allow-writes`.
    pub read_only: bool,
    /// Its MongoDB form, if any.
    pub mongodb: Option<MongoQuery>,
    /// Its PostgreSQL form, if any.
    pub sql: Option<Sql>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_split_strings_and_name_what_is_wrong() {
        assert_eq!(
            pieces("t-{{tenant}}").unwrap(),
            vec![Piece::Lit("t-".into()), Piece::Hole(Hole::Tenant)]
        );
        assert_eq!(
            pieces("{{ days_ago: 7 }}").unwrap(),
            vec![Piece::Hole(Hole::DaysAgo(7))]
        );
        let (at, e) = pieces("ab{{ tenat }}").unwrap_err();
        assert_eq!(at, 2);
        assert_eq!(
            e.to_string(),
            format!("unknown placeholder {{{{tenat}}}}; expected one of {HOLES}")
        );
        assert_eq!(
            pieces("{{days_ago}}").unwrap_err().1.to_string(),
            "expected {{days_ago:N}} with N a whole number of days, 0 to 36500"
        );
        assert_eq!(
            pieces("{{key:2}}").unwrap_err().1.to_string(),
            "{{key}} takes no argument"
        );
        assert_eq!(
            pieces("{{tenant").unwrap_err().1.to_string(),
            "a placeholder `{{` without its closing `}}`"
        );
    }

    #[test]
    fn json_keeps_its_key_order() {
        let t: Tpl = serde_json::from_str(r#"{"b": 1, "a": {"$gte": "{{days_ago:30}}"}}"#).unwrap();
        let Tpl::Map(m) = &t else { panic!() };
        assert_eq!(m[0].0, "b");
        let mut h = Vec::new();
        t.holes(&mut h);
        assert_eq!(h, [Hole::DaysAgo(30)]);
    }

    #[test]
    fn sql_placeholders_become_numbered_parameters() {
        let s = compile_sql(
            "SELECT id FROM orders WHERE tenant_id = $tenant AND status = {{status}} AND x = {{tenant}} AND p = '$$'",
        )
        .unwrap();
        assert_eq!(
            s.text,
            "SELECT id FROM orders WHERE tenant_id = $1 AND status = $2 AND x = $1 AND p = '$$'"
        );
        assert_eq!(s.params, [Hole::Tenant, Hole::Status]);
        let (at, e) = compile_sql("SELECT $1").unwrap_err();
        assert_eq!(at, 7);
        assert_eq!(
            e.to_string(),
            format!(
                "a numbered parameter $1; name what to bind instead: {HOLES} (or $tenant, $status, $id, $email, $key)"
            )
        );
    }
}
