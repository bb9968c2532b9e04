//! MongoDB fixes, as mongosh runs them (`db.getSiblingDB(…).getCollection(…).createIndex(…)`),
//! each with the line a Node team writes in its Mongoose schema instead. A unique index keeps
//! its key order, partial filter and collation when the tenant field joins it; a sparse one
//! becomes partial (`$exists`), since with the tenant field first every document would have a
//! key and a sparse index would no longer leave out the documents without the old one.

use serde_json::Value;

use super::{Fix, FixError};
use crate::audit::{CollectionFacts, IndexFacts};

/// A JSON string (a shell string literal) of `s`.
fn js(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// `db.getSiblingDB("app").getCollection("users")` of `c`.
fn coll(c: &CollectionFacts) -> String {
    format!(
        "db.getSiblingDB({}).getCollection({})",
        js(&c.database),
        js(&c.name)
    )
}

/// The index on `field` a collection lacks.
pub(super) fn missing(c: &CollectionFacts, field: &str) -> Fix {
    let keys = [(field.to_string(), Value::from(1))];
    Fix {
        statements: vec![format!(
            "{}.createIndex({});",
            coll(c),
            object(&keys, false)
        )],
        mongoose: Some(format!("schema.index({})", object(&keys, true))),
        ..Fix::default()
    }
}

/// Unique index `i` replaced by its twin led by `field` (only dropped when `built`).
pub(super) fn scoped(c: &CollectionFacts, field: &str, i: &IndexFacts, built: bool) -> Fix {
    let (keys, options) = match twin(field, i) {
        Ok(spec) => spec,
        Err(why) => {
            return Fix {
                instead: Some(why.to_string()),
                ..Fix::default()
            };
        }
    };
    let drop = format!("{}.dropIndex({});", coll(c), js(&i.name));
    let mut statements = Vec::new();
    if !built {
        statements.push(format!(
            "{}.createIndex({}, {});",
            coll(c),
            object(&keys, false),
            object(&options, false)
        ));
    }
    statements.push(drop);
    let old = i.keys.join(", ");
    Fix {
        statements,
        mongoose: Some(format!(
            "schema.index({}, {}); // and remove `unique: true` from {old} (or the schema.index \
             that declares {}), or autoIndex builds {} again",
            object(&keys, true),
            object(&options, true),
            i.name,
            i.name
        )),
        ..Fix::default()
    }
}

/// The keys and options of `i`'s twin led by `field`. Err: why there is none.
#[allow(clippy::type_complexity)]
fn twin(
    field: &str,
    i: &IndexFacts,
) -> Result<(Vec<(String, Value)>, Vec<(String, Value)>), FixError> {
    let mut keys = vec![(field.to_string(), Value::from(1))];
    for (n, k) in i.keys.iter().enumerate() {
        let dir = i
            .directions
            .get(n)
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or(Value::from(1));
        keys.push((k.clone(), dir));
    }
    let mut options = vec![("unique".to_string(), Value::Bool(true))];
    let parse = |what: &'static str, text: &str| {
        serde_json::from_str::<Value>(text).map_err(|error| FixError::NotJson {
            what,
            text: text.to_string(),
            error,
        })
    };
    if let Some(p) = &i.partial {
        options.push((
            "partialFilterExpression".into(),
            parse("partial filter", p)?,
        ));
    } else if i.sparse {
        options.push(("partialFilterExpression".into(), sparse_filter(i)?));
    }
    if let Some(c) = &i.collation {
        options.push(("collation".into(), parse("collation", c)?));
    }
    Ok((keys, options))
}

/// The partial filter that leaves out what sparse index `i` leaves out: documents without its
/// one key. Err for several keys (sparse leaves out a document only when all are missing,
/// which a partial filter cannot say without `$or`).
fn sparse_filter(i: &IndexFacts) -> Result<Value, FixError> {
    match i.keys.as_slice() {
        [k] => Ok(serde_json::json!({ k: { "$exists": true } })),
        keys => Err(FixError::SparseKeys {
            index: i.name.clone(),
            keys: keys.to_vec(),
        }),
    }
}

/// Whether twin `j` covers the documents `i` covers: the same partial filter, or `i`'s one
/// sparse key required to exist.
pub(super) fn same_documents(i: &IndexFacts, j: &IndexFacts) -> bool {
    let parsed = |p: &Option<String>| {
        p.as_deref()
            .and_then(|t| serde_json::from_str::<Value>(t).ok())
    };
    match (&i.partial, i.sparse) {
        (Some(_), _) => parsed(&j.partial) == parsed(&i.partial),
        (None, true) => !j.sparse && parsed(&j.partial) == sparse_filter(i).ok(),
        (None, false) => j.partial.is_none() && !j.sparse,
    }
}

/// A document in mongosh syntax: quoted keys (`{ "companyId": 1 }`), or in a Mongoose
/// schema's JavaScript, bare where a key is an identifier (`{ companyId: 1 }`).
fn object(entries: &[(String, Value)], bare: bool) -> String {
    if entries.is_empty() {
        return "{}".into();
    }
    let inner: Vec<String> = entries
        .iter()
        .map(|(k, v)| format!("{}: {}", key(k, bare), shell(v, bare)))
        .collect();
    format!("{{ {} }}", inner.join(", "))
}

/// A key: bare when asked and it is a JavaScript identifier, else a string literal.
fn key(k: &str, bare: bool) -> String {
    let ident = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if bare && ident { k.to_string() } else { js(k) }
}

/// A relaxed extended JSON value as the shell writes it: `ObjectId("…")`, `ISODate("…")`,
/// `NumberLong("…")`, `NumberDecimal("…")`, `RegExp("…", "…")`; the rest as JSON.
fn shell(v: &Value, bare: bool) -> String {
    match v {
        Value::Object(m) => {
            let one = |k: &str| (m.len() == 1).then(|| m.get(k)).flatten();
            let text = |k: &str| one(k).and_then(Value::as_str).map(js);
            if let Some(s) = text("$oid") {
                return format!("ObjectId({s})");
            }
            if let Some(s) = text("$date") {
                return format!("ISODate({s})");
            }
            if let Some(s) = text("$numberLong") {
                return format!("NumberLong({s})");
            }
            if let Some(s) = text("$numberDecimal") {
                return format!("NumberDecimal({s})");
            }
            if let Some(r) = one("$regularExpression") {
                let part = |k: &str| js(r[k].as_str().unwrap_or_default());
                return format!("RegExp({}, {})", part("pattern"), part("options"));
            }
            let entries: Vec<(String, Value)> =
                m.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            object(&entries, bare)
        }
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(|v| shell(v, bare)).collect();
            format!("[{}]", items.join(", "))
        }
        v => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> CollectionFacts {
        CollectionFacts {
            database: "app".into(),
            name: "users".into(),
            ..CollectionFacts::default()
        }
    }

    fn unique(name: &str, keys: &[(&str, &str)]) -> IndexFacts {
        IndexFacts {
            name: name.into(),
            keys: keys.iter().map(|(k, _)| k.to_string()).collect(),
            directions: keys.iter().map(|(_, d)| d.to_string()).collect(),
            unique: true,
            ..IndexFacts::default()
        }
    }

    #[test]
    fn a_mongoose_unique_field_gets_the_shell_command_and_the_schema_line() {
        let f = scoped(
            &users(),
            "companyId",
            &unique("email_1", &[("email", "1")]),
            false,
        );
        assert_eq!(
            f.statements,
            [
                r#"db.getSiblingDB("app").getCollection("users").createIndex({ "companyId": 1, "email": 1 }, { "unique": true });"#,
                r#"db.getSiblingDB("app").getCollection("users").dropIndex("email_1");"#,
            ]
        );
        let m = f.mongoose.expect("mongoose");
        assert!(
            m.starts_with("schema.index({ companyId: 1, email: 1 }, { unique: true }); // and remove `unique: true` from email"),
            "{m}"
        );
        let f = missing(&users(), "company-id");
        assert_eq!(
            f.mongoose.as_deref(),
            Some(r#"schema.index({ "company-id": 1 })"#)
        );
    }

    #[test]
    fn sparse_becomes_exists_and_partial_and_collation_and_order_carry_over() {
        let mut sparse = unique("googleId_1", &[("googleId", "-1")]);
        sparse.sparse = true;
        let f = scoped(&users(), "companyId", &sparse, false);
        assert_eq!(
            f.statements[0],
            r#"db.getSiblingDB("app").getCollection("users").createIndex({ "companyId": 1, "googleId": -1 }, { "unique": true, "partialFilterExpression": { "googleId": { "$exists": true } } });"#
        );
        assert!(f.mongoose.is_some_and(|m| m.starts_with(
            "schema.index({ companyId: 1, googleId: -1 }, { unique: true, partialFilterExpression: { googleId: { $exists: true } } })"
        )));
        let mut partial = unique("number_1", &[("number", "1")]);
        partial.partial = Some(r#"{"issuer":{"$oid":"65f000000000000000000001"}}"#.into());
        partial.collation = Some(r#"{"locale":"en","strength":2}"#.into());
        let f = scoped(&users(), "companyId", &partial, false);
        assert!(
            f.statements[0].ends_with(r#"{ "unique": true, "partialFilterExpression": { "issuer": ObjectId("65f000000000000000000001") }, "collation": { "locale": "en", "strength": 2 } });"#),
            "{}",
            f.statements[0]
        );
        let mut twin = unique(
            "companyId_1_googleId_-1",
            &[("companyId", "1"), ("googleId", "-1")],
        );
        twin.partial = Some(r#"{"googleId":{"$exists":true}}"#.into());
        assert!(same_documents(&sparse, &twin));
        assert!(!same_documents(&unique("x", &[("googleId", "1")]), &twin));
        let mut two = unique("a_1_b_1", &[("a", "1"), ("b", "1")]);
        two.sparse = true;
        let f = scoped(&users(), "companyId", &two, false);
        assert!(f.statements.is_empty());
        assert_eq!(
            f.instead.as_deref(),
            Some(
                "no command: a_1_b_1 is sparse over several keys (a, b), leaving out only documents that have none of them; with the tenant field first every document has a key, so a sparse twin would refuse two documents of one tenant without them. Build a unique index led by the tenant field with a partialFilterExpression that says which documents must be unique, then drop a_1_b_1"
            )
        );
        let mut bad = unique("n_1", &[("n", "1")]);
        bad.collation = Some("{locale".into());
        let why = scoped(&users(), "companyId", &bad, false).instead;
        assert!(
            why.as_deref()
                .is_some_and(|w| w
                    .starts_with("no command: its collation \"{locale\" does not read as JSON (")),
            "{why:?}"
        );
    }

    #[test]
    fn a_built_twin_leaves_only_the_drop() {
        let f = scoped(
            &users(),
            "companyId",
            &unique("email_1", &[("email", "1")]),
            true,
        );
        assert_eq!(
            f.statements,
            [r#"db.getSiblingDB("app").getCollection("users").dropIndex("email_1");"#]
        );
    }
}
