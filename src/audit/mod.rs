//! The audit's judgement over a team's own database (issue 16): which field is the tenant field,
//! which collections or tables lack an index led by it or keep a unique index that is not
//! tenant-scoped, and the exact command that fixes each — from facts a reader gathered
//! read-only; no I/O here.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::op::BackendKind;

/// Tenant field names the audit looks for when none is given, compared without case and
/// underscores (`tenant_id`, `tenantId` and `TenantID` are one name).
pub const TENANT_FIELDS: [&str; 9] = [
    "tenant",
    "tenantid",
    "companyid",
    "orgid",
    "organizationid",
    "accountid",
    "workspaceid",
    "customerid",
    "teamid",
];

/// An index as a reader found it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndexFacts {
    /// Its name.
    pub name: String,
    /// Its key fields or columns, in order.
    pub keys: Vec<String>,
    /// Whether it is unique.
    pub unique: bool,
    /// The primary key (`_id_` on MongoDB): never judged as a unique index to scope.
    pub primary: bool,
}

/// A collection or table as a reader found it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CollectionFacts {
    /// Database (MongoDB) or schema (PostgreSQL).
    pub namespace: String,
    /// Collection or table.
    pub name: String,
    /// Documents or rows (the server's count or estimate).
    pub documents: u64,
    /// Documents or rows sampled.
    pub sampled: u64,
    /// Per field or column: how many sampled documents carry it (a column: all of them).
    pub fields: BTreeMap<String, u64>,
    /// Its indexes.
    pub indexes: Vec<IndexFacts>,
}

/// What the audit says of one collection.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// An index is led by the tenant field, and no unique index ignores it.
    Ok,
    /// No sampled document carries the tenant field: a global collection, or tenant data that
    /// cannot be told apart.
    NoTenantField,
    /// Documents carry the tenant field but no index is led by it: every tenant query scans.
    MissingTenantIndex,
    /// A unique index without the tenant field: two tenants cannot hold the same value (seed
    /// 003's `unique(email)`, which should be `unique(tenant_id, email)`).
    UniqueNotTenantScoped {
        /// The index.
        index: String,
        /// Its keys.
        keys: Vec<String>,
    },
}

/// One finding: the collection, its verdict, the evidence, and the fix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Database or schema.
    pub namespace: String,
    /// Collection or table.
    pub collection: String,
    /// The verdict.
    #[serde(flatten)]
    pub verdict: Verdict,
    /// Share of the sampled documents that carry the tenant field.
    pub share: f64,
    /// Indexes led by the tenant field.
    pub tenant_indexes: Vec<String>,
    /// The command that fixes it (none for `ok` and `no_tenant_field`).
    pub fix: Option<String>,
}

/// A field name without case and underscores.
fn normal(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The tenant field: of the fields named like one ([`TENANT_FIELDS`]), the one the most
/// sampled documents carry across all collections (ties: the earlier name in the list). `None`
/// when no collection has one.
pub fn detect_field(colls: &[CollectionFacts]) -> Option<String> {
    let mut seen: BTreeMap<&str, u64> = BTreeMap::new();
    for c in colls {
        for (f, n) in &c.fields {
            if TENANT_FIELDS.contains(&normal(f).as_str()) {
                *seen.entry(f.as_str()).or_default() += n;
            }
        }
    }
    let rank = |f: &str| TENANT_FIELDS.iter().position(|t| *t == normal(f));
    seen.into_iter()
        .max_by(|(a, x), (b, y)| x.cmp(y).then_with(|| rank(b).cmp(&rank(a))))
        .map(|(f, _)| f.to_string())
}

/// The findings of one collection for tenant field `field`: a verdict for its tenant index
/// (or its lack of a tenant field) and one per unique index that is not tenant-scoped.
pub fn judge(c: &CollectionFacts, field: &str, kind: BackendKind) -> Vec<Finding> {
    let share = match c.sampled {
        0 => 0.0,
        n => c.fields.get(field).copied().unwrap_or(0) as f64 / n as f64,
    };
    let tenant_indexes: Vec<String> = c
        .indexes
        .iter()
        .filter(|i| i.keys.first().is_some_and(|k| k == field))
        .map(|i| i.name.clone())
        .collect();
    let finding = |verdict, fix| Finding {
        namespace: c.namespace.clone(),
        collection: c.name.clone(),
        verdict,
        share,
        tenant_indexes: tenant_indexes.clone(),
        fix,
    };
    if share == 0.0 {
        return vec![finding(Verdict::NoTenantField, None)];
    }
    let mut out = Vec::new();
    if tenant_indexes.is_empty() {
        let fix = create_index(kind, c, &[field], false);
        out.push(finding(Verdict::MissingTenantIndex, Some(fix)));
    }
    for i in c
        .indexes
        .iter()
        .filter(|i| i.unique && !i.primary && !i.keys.iter().any(|k| k == field))
    {
        let mut keys: Vec<&str> = vec![field];
        keys.extend(i.keys.iter().map(String::as_str));
        let fix = format!(
            "{} {}",
            create_index(kind, c, &keys, true),
            drop_index(kind, c, &i.name)
        );
        out.push(finding(
            Verdict::UniqueNotTenantScoped {
                index: i.name.clone(),
                keys: i.keys.clone(),
            },
            Some(fix),
        ));
    }
    if out.is_empty() {
        out.push(finding(Verdict::Ok, None));
    }
    out
}

/// A JSON string (MongoDB shell) of `s`.
fn js(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// A quoted SQL identifier.
fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The command that creates an index on `keys` of `c`.
fn create_index(kind: BackendKind, c: &CollectionFacts, keys: &[&str], unique: bool) -> String {
    match kind {
        BackendKind::Mongodb => {
            let spec: Vec<String> = keys.iter().map(|k| format!("{}: 1", js(k))).collect();
            format!(
                "db.getSiblingDB({}).getCollection({}).createIndex({{ {} }}{});",
                js(&c.namespace),
                js(&c.name),
                spec.join(", "),
                if unique { ", { unique: true }" } else { "" }
            )
        }
        BackendKind::Postgres => {
            let cols: Vec<String> = keys.iter().map(|k| ident(k)).collect();
            format!(
                "CREATE {}INDEX CONCURRENTLY ON {}.{} ({});",
                if unique { "UNIQUE " } else { "" },
                ident(&c.namespace),
                ident(&c.name),
                cols.join(", ")
            )
        }
    }
}

/// The command that drops index `name` of `c` (after its tenant-scoped replacement exists).
fn drop_index(kind: BackendKind, c: &CollectionFacts, name: &str) -> String {
    match kind {
        BackendKind::Mongodb => format!(
            "db.getSiblingDB({}).getCollection({}).dropIndex({});",
            js(&c.namespace),
            js(&c.name),
            js(name)
        ),
        BackendKind::Postgres => format!(
            "DROP INDEX CONCURRENTLY {}.{};",
            ident(&c.namespace),
            ident(name)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coll(name: &str, fields: &[(&str, u64)], indexes: Vec<IndexFacts>) -> CollectionFacts {
        CollectionFacts {
            namespace: "app".into(),
            name: name.into(),
            documents: 1000,
            sampled: 100,
            fields: fields.iter().map(|(f, n)| (f.to_string(), *n)).collect(),
            indexes,
        }
    }

    fn index(name: &str, keys: &[&str], unique: bool) -> IndexFacts {
        IndexFacts {
            name: name.into(),
            keys: keys.iter().map(|k| k.to_string()).collect(),
            unique,
            primary: name == "_id_",
        }
    }

    #[test]
    fn the_tenant_field_is_the_one_most_documents_carry() {
        let c = [
            coll("orders", &[("companyId", 100), ("status", 90)], vec![]),
            coll("users", &[("companyId", 100), ("org_id", 3)], vec![]),
            coll("settings", &[("key", 100)], vec![]),
        ];
        assert_eq!(detect_field(&c).as_deref(), Some("companyId"));
        assert_eq!(detect_field(&c[2..]), None);
        // A tie goes to the earlier name in the list.
        let t = [coll("x", &[("account_id", 10), ("tenant_id", 10)], vec![])];
        assert_eq!(detect_field(&t).as_deref(), Some("tenant_id"));
    }

    #[test]
    fn each_collection_gets_its_verdict_and_the_command_that_fixes_it() {
        let id = index("_id_", &["_id"], true);
        let good = coll(
            "orders",
            &[("companyId", 100)],
            vec![id.clone(), index("c_1_d_1", &["companyId", "day"], false)],
        );
        assert_eq!(
            judge(&good, "companyId", BackendKind::Mongodb)[0].verdict,
            Verdict::Ok
        );

        let bare = coll("events", &[("companyId", 100)], vec![id.clone()]);
        let f = &judge(&bare, "companyId", BackendKind::Mongodb)[0];
        assert_eq!(f.verdict, Verdict::MissingTenantIndex);
        assert_eq!(
            f.fix.as_deref(),
            Some(
                r#"db.getSiblingDB("app").getCollection("events").createIndex({ "companyId": 1 });"#
            )
        );

        let users = coll(
            "users",
            &[("companyId", 100), ("email", 100)],
            vec![
                id,
                index("companyId_1", &["companyId"], false),
                index("email_1", &["email"], true),
            ],
        );
        let f = judge(&users, "companyId", BackendKind::Postgres);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            matches!(&f[0].verdict, Verdict::UniqueNotTenantScoped { index, .. } if index == "email_1")
        );
        assert_eq!(
            f[0].fix.as_deref(),
            Some(
                r#"CREATE UNIQUE INDEX CONCURRENTLY ON "app"."users" ("companyId", "email"); DROP INDEX CONCURRENTLY "app"."email_1";"#
            )
        );

        let global = coll("settings", &[("key", 100)], vec![]);
        let f = &judge(&global, "companyId", BackendKind::Mongodb)[0];
        assert_eq!(
            (f.verdict.clone(), f.fix.clone()),
            (Verdict::NoTenantField, None)
        );
    }

    #[test]
    fn identifiers_are_quoted_so_a_name_cannot_break_the_command() {
        assert_eq!(ident(r#"we"ird"#), r#""we""ird""#);
        assert_eq!(js(r#"a"b"#), r#""a\"b""#);
    }
}
