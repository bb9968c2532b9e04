//! The audit's judgement over a team's own database (issue 16): which field is the tenant field,
//! which collections or tables lack an index led by it or keep a unique index that is not
//! tenant-scoped, and the exact command that fixes each — from facts a reader gathered
//! read-only; the report's types (`tenantbench audit --json`, schema in
//! docs/audit.schema.json) and their rendering ([`render`]). No I/O here.

pub mod fix;
pub mod render;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::op::BackendKind;

/// Version of the audit file's format; bumped when a field changes meaning or goes.
pub const AUDIT_SCHEMA_VERSION: u32 = 1;
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

/// What to audit, as the command line gave it.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Databases (MongoDB: every one but the server's own when empty; PostgreSQL: the URI's
    /// when empty).
    pub databases: Vec<String>,
    /// PostgreSQL schemas (every one but the system's when empty).
    pub schemas: Vec<String>,
    /// The tenant field (detected when `None`).
    pub field: Option<String>,
    /// Documents or rows read per collection or table to tell which fields it carries.
    pub sample: u64,
}

/// What a reader gathered: the server, the databases, the tenant field and each collection's
/// facts with its probe.
#[derive(Debug, Clone, Default)]
pub struct Gathered {
    /// The server's version (a surrogate named).
    pub server_version: String,
    /// The databases read.
    pub databases: Vec<String>,
    /// The tenant field: the one given, else the one detected ([`detect_field`]); `None` when
    /// none was given and no field is named like one.
    pub field: Option<String>,
    /// Each collection or table, with its largest tenant's query explained (none without the
    /// tenant field).
    pub collections: Vec<(CollectionFacts, Option<Probe>)>,
}

/// An index as a reader found it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IndexFacts {
    /// Its name.
    pub name: String,
    /// Its key fields or columns, in order (an expression key as PostgreSQL prints it).
    pub keys: Vec<String>,
    /// MongoDB: each key's value in the index's key document, as JSON (`1`, `-1`, `"text"`), in
    /// the order of `keys`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub directions: Vec<String>,
    /// Whether it is unique.
    pub unique: bool,
    /// The primary key (`_id_` on MongoDB): never judged as a unique index to scope.
    pub primary: bool,
    /// A partial index: PostgreSQL's predicate, MongoDB's `partialFilterExpression` (relaxed
    /// extended JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial: Option<String>,
    /// MongoDB: a sparse index (documents without its keys are left out of it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sparse: bool,
    /// MongoDB: its collation (relaxed extended JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collation: Option<String>,
    /// PostgreSQL: the index as the server defines it (`pg_get_indexdef`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<String>,
    /// PostgreSQL: the constraint it backs (a `UNIQUE` column or table constraint, the primary
    /// key): dropped with `ALTER TABLE … DROP CONSTRAINT`, never `DROP INDEX`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraint: Option<Constraint>,
    /// PostgreSQL: the foreign keys that reference it; while one does, it cannot be dropped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub referenced_by: Vec<ForeignKey>,
}

/// A constraint an index backs (PostgreSQL's `pg_constraint.conindid`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Constraint {
    /// Its name.
    pub name: String,
    /// As the server prints it (`pg_get_constraintdef`): `UNIQUE (email)`.
    pub definition: String,
    /// `DEFERRABLE`.
    pub deferrable: bool,
    /// `INITIALLY DEFERRED`.
    pub initially_deferred: bool,
}

/// A foreign key that references an index (PostgreSQL: `pg_constraint` of type `f` whose
/// `conindid` is the index).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ForeignKey {
    /// The schema of the table that holds it.
    pub schema: String,
    /// The table that holds it.
    pub table: String,
    /// Its name.
    pub name: String,
    /// As the server prints it: `FOREIGN KEY (email) REFERENCES members(email)`.
    pub definition: String,
}

/// A collection or table as a reader found it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CollectionFacts {
    /// Database.
    pub database: String,
    /// PostgreSQL: the table's schema.
    pub schema: Option<String>,
    /// Collection or table.
    pub name: String,
    /// Documents or rows (the server's count or estimate).
    pub documents: u64,
    /// Documents or rows sampled.
    pub sampled: u64,
    /// Per field or column: how many sampled documents carry it (a column: rows where it is
    /// not null).
    pub fields: BTreeMap<String, u64>,
    /// Its indexes.
    pub indexes: Vec<IndexFacts>,
    /// PostgreSQL: a partitioned table (no index is built or dropped `CONCURRENTLY` on it).
    pub partitioned: bool,
}

/// The tenant query of a collection's largest tenant, explained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Probe {
    /// The largest tenant's value of the tenant field, as text.
    pub tenant: String,
    /// How it was found: `sample` (most frequent in the sampled documents) or `pg_stats`
    /// (PostgreSQL's most common value).
    pub tenant_from: String,
    /// The query explained.
    pub query: String,
    /// Plan stages, outermost first (`COLLSCAN`, `FETCH > IXSCAN`, `Seq Scan`, `Index Scan
    /// (orders_company_idx)`).
    pub stages: Vec<String>,
    /// Whether the server ran the query (MongoDB `executionStats`) or only planned it
    /// (PostgreSQL EXPLAIN without ANALYZE: the rows are the planner's estimate).
    pub executed: bool,
    /// Index keys examined (executed only).
    pub keys_examined: Option<u64>,
    /// Documents examined (executed only).
    pub docs_examined: Option<u64>,
    /// Documents returned, or rows the planner expects.
    pub rows: u64,
}

impl Probe {
    /// Whether the plan reads the whole collection (no index serves the tenant filter).
    pub fn scans(&self) -> bool {
        self.stages
            .iter()
            .any(|s| s == "COLLSCAN" || s.starts_with("Seq Scan"))
    }
}

/// What the audit says of one collection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// An index is led by the tenant field, and no unique index ignores it.
    #[default]
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

impl Verdict {
    /// The verdict's word in tables and `--fail-on`.
    pub fn word(&self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::NoTenantField => "no tenant field",
            Verdict::MissingTenantIndex => "missing tenant index",
            Verdict::UniqueNotTenantScoped { .. } => "unique not tenant-scoped",
        }
    }
}

/// One finding of a collection: its verdict, the command that fixes it and what that command
/// changes besides speed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    /// The verdict.
    #[serde(flatten)]
    pub verdict: Verdict,
    /// The command that fixes it, one statement per line, to paste as it is: into mongosh, or
    /// into psql (each statement on its own, outside a transaction block: `CONCURRENTLY`
    /// refuses one). None for `ok` and `no_tenant_field`, and where no command can apply
    /// (`instead` says why and what to do).
    pub fix: Option<String>,
    /// MongoDB: the same fix as the line of a Mongoose schema (`schema.index({ companyId: 1 })`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mongoose: Option<String>,
    /// What the fix changes in what the database allows, besides speed: a tenant-scoped unique
    /// index lets two tenants hold the same value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade: Option<String>,
    /// Why no command is printed (a foreign key depends on the index, …) and what to do instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instead: Option<String>,
}

/// One collection or table in the audit file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Audited {
    /// Database.
    pub database: String,
    /// PostgreSQL: the table's schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Collection or table.
    pub name: String,
    /// Documents or rows (the server's count or estimate).
    pub documents: u64,
    /// Documents or rows sampled.
    pub sampled: u64,
    /// Share of the sampled documents that carry the tenant field.
    pub share: f64,
    /// Its indexes.
    pub indexes: Vec<IndexFacts>,
    /// Indexes led by the tenant field.
    pub tenant_indexes: Vec<String>,
    /// The tenant query of its largest sampled tenant, explained (none without a tenant field).
    pub probe: Option<Probe>,
    /// Its findings: one verdict for the tenant index, one per unique index to scope.
    pub findings: Vec<Finding>,
}

/// How many findings of each verdict.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Counts {
    /// Collections that are fine.
    pub ok: u32,
    /// Collections without an index led by the tenant field.
    pub missing_tenant_index: u32,
    /// Unique indexes that are not tenant-scoped.
    pub unique_not_tenant_scoped: u32,
    /// Collections without the tenant field.
    pub no_tenant_field: u32,
}

/// The audit file (`tenantbench audit --json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Audit {
    /// [`AUDIT_SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// tenantbench's version.
    pub harness_version: String,
    /// `mongodb` or `postgres`.
    pub backend: String,
    /// The server's version.
    pub server_version: String,
    /// When the audit ran (UTC, RFC 3339).
    pub audited_at: String,
    /// The databases audited (never with credentials: names only).
    pub databases: Vec<String>,
    /// The tenant field.
    pub tenant_field: String,
    /// Whether it was given (`--tenant-field`) or detected.
    pub tenant_field_detected: bool,
    /// Documents or rows sampled per collection or table.
    pub sample: u64,
    /// Every collection or table, in database, schema and name order.
    pub collections: Vec<Audited>,
    /// Findings per verdict.
    pub counts: Counts,
}

/// The JSON Schema of the audit file, as committed in docs/audit.schema.json.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Audit);
    serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
}

impl Audit {
    /// Every finding with its collection, in file order.
    pub fn findings(&self) -> impl Iterator<Item = (&Audited, &Finding)> {
        self.collections
            .iter()
            .flat_map(|c| c.findings.iter().map(move |f| (c, f)))
    }
}

/// Counts the findings per verdict.
pub fn count(colls: &[Audited]) -> Counts {
    let mut n = Counts::default();
    for f in colls.iter().flat_map(|c| &c.findings) {
        match f.verdict {
            Verdict::Ok => n.ok += 1,
            Verdict::NoTenantField => n.no_tenant_field += 1,
            Verdict::MissingTenantIndex => n.missing_tenant_index += 1,
            Verdict::UniqueNotTenantScoped { .. } => n.unique_not_tenant_scoped += 1,
        }
    }
    n
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

/// Share of a collection's sampled documents that carry `field`.
pub fn share(c: &CollectionFacts, field: &str) -> f64 {
    match c.sampled {
        0 => 0.0,
        n => c.fields.get(field).copied().unwrap_or(0) as f64 / n as f64,
    }
}

/// One collection judged for tenant field `field`, with its probe.
pub fn assess(
    c: &CollectionFacts,
    field: &str,
    kind: BackendKind,
    probe: Option<Probe>,
) -> Audited {
    Audited {
        database: c.database.clone(),
        schema: c.schema.clone(),
        name: c.name.clone(),
        documents: c.documents,
        sampled: c.sampled,
        share: share(c, field),
        indexes: c.indexes.clone(),
        tenant_indexes: c
            .indexes
            .iter()
            .filter(|i| i.keys.first().is_some_and(|k| k == field))
            .map(|i| i.name.clone())
            .collect(),
        probe,
        findings: judge(c, field, kind),
    }
}

/// The findings of one collection for tenant field `field`: a verdict for its tenant index
/// (or its lack of a tenant field) and one per unique index that is not tenant-scoped, each
/// with the fix of [`fix`].
pub fn judge(c: &CollectionFacts, field: &str, kind: BackendKind) -> Vec<Finding> {
    if share(c, field) == 0.0 {
        return vec![Finding {
            verdict: Verdict::NoTenantField,
            ..Finding::default()
        }];
    }
    let mut out = Vec::new();
    // A partial index serves only the queries its predicate covers: not a tenant index.
    let led = c
        .indexes
        .iter()
        .any(|i| i.partial.is_none() && i.keys.first().is_some_and(|k| k == field));
    if !led {
        out.push(fix::missing(kind, c, field).finding(Verdict::MissingTenantIndex));
    }
    for i in c.indexes.iter().filter(|i| unscoped(i, field)) {
        let verdict = Verdict::UniqueNotTenantScoped {
            index: i.name.clone(),
            keys: i.keys.clone(),
        };
        out.push(fix::scoped(kind, c, field, i).finding(verdict));
    }
    if out.is_empty() {
        out.push(Finding::default());
    }
    out
}

/// A unique index, not the primary key, without the tenant field among its keys.
fn unscoped(i: &IndexFacts, field: &str) -> bool {
    i.unique && !i.primary && !i.keys.iter().any(|k| k == field)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coll(name: &str, fields: &[(&str, u64)], indexes: Vec<IndexFacts>) -> CollectionFacts {
        CollectionFacts {
            database: "app".into(),
            schema: Some("app".into()),
            name: name.into(),
            documents: 1000,
            sampled: 100,
            fields: fields.iter().map(|(f, n)| (f.to_string(), *n)).collect(),
            indexes,
            partitioned: false,
        }
    }

    fn index(name: &str, keys: &[&str], unique: bool) -> IndexFacts {
        IndexFacts {
            name: name.into(),
            keys: keys.iter().map(|k| k.to_string()).collect(),
            unique,
            primary: name == "_id_",
            ..IndexFacts::default()
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
        let f = judge(&users, "companyId", BackendKind::Mongodb);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            matches!(&f[0].verdict, Verdict::UniqueNotTenantScoped { index, .. } if index == "email_1")
        );
        assert_eq!(
            f[0].fix.as_deref(),
            Some(concat!(
                r#"db.getSiblingDB("app").getCollection("users").createIndex({ "companyId": 1, "email": 1 }, { "unique": true });"#,
                "\n",
                r#"db.getSiblingDB("app").getCollection("users").dropIndex("email_1");"#
            ))
        );
        assert!(
            f[0].trade
                .as_deref()
                .is_some_and(|t| t.contains("two tenants")),
            "a replacement is never a pure speed fix: {f:?}"
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
        let c = coll(r#"we"ird"#, &[("companyId", 100)], vec![]);
        let pg = judge(&c, "companyId", BackendKind::Postgres);
        assert_eq!(
            pg[0].fix.as_deref(),
            Some(r#"CREATE INDEX CONCURRENTLY ON "app"."we""ird" ("companyId");"#)
        );
        let mongo = judge(&c, "companyId", BackendKind::Mongodb);
        assert!(
            mongo[0]
                .fix
                .as_deref()
                .is_some_and(|f| f.contains(r#"getCollection("we\"ird")"#)),
            "{mongo:?}"
        );
    }
}
