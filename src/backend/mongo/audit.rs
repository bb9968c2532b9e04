//! The MongoDB reader of `audit` and `profile` (issue 16): the facts of a team's own databases,
//! read-only — `listDatabases`, `listCollections`, `listIndexes`, the estimated count and a
//! `$sample` of documents (a plain `find` where the server has no `$sample`), per tenant
//! collection the `explain` of its largest sampled tenant's query, and documents per tenant
//! (`$group`). Nothing is written.

use std::collections::BTreeMap;

use futures_util::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};
use mongodb::results::CollectionType;
use mongodb::{Client, IndexModel};

use super::MARKER_COLLECTION;
use super::MongoDriver;
use super::MongoError;
use super::doctor;
use super::ops::explain_find;
use crate::audit::Gathered;
use crate::audit::Scope;
use crate::audit::{CollectionFacts, IndexFacts, Probe};
use crate::audit::{detect_field, share};
use crate::layout::Server;
use crate::profile::Counted;
use crate::profile::Profiled;

/// Databases the server keeps for itself.
const SYSTEM_DBS: [&str; 3] = ["admin", "local", "config"];

/// The databases to audit: `dbs`, or every database but the server's own when empty.
///
/// # Errors
/// The server's errors (unreachable, not authorised to list databases).
pub async fn databases(client: &Client, dbs: &[String]) -> mongodb::error::Result<Vec<String>> {
    if !dbs.is_empty() {
        return Ok(dbs.to_vec());
    }
    Ok(client
        .list_database_names()
        .await?
        .into_iter()
        .filter(|d| !SYSTEM_DBS.contains(&d.as_str()))
        .collect())
}

/// The facts of every collection of `dbs` (every database but the server's own when empty),
/// with up to `sample` documents read from each.
///
/// # Errors
/// The server's errors (unreachable, not authorised).
pub async fn facts(
    client: &Client,
    dbs: &[String],
    sample: u64,
) -> mongodb::error::Result<Vec<CollectionFacts>> {
    let mut out = Vec::new();
    for dbn in databases(client, dbs).await? {
        let db = client.database(&dbn);
        let mut specs: Vec<_> = db.list_collections().await?.try_collect().await?;
        specs.sort_by(|a, b| a.name.cmp(&b.name));
        for spec in specs {
            if spec.collection_type != CollectionType::Collection
                || spec.name.starts_with("system.")
                || spec.name == MARKER_COLLECTION
            {
                continue;
            }
            let coll = db.collection::<Document>(&spec.name);
            let documents = coll.estimated_document_count().await?;
            let docs = sampled(&coll, sample).await?;
            let mut fields: BTreeMap<String, u64> = BTreeMap::new();
            for d in &docs {
                for k in d.keys() {
                    *fields.entry(k.clone()).or_default() += 1;
                }
            }
            let mut indexes = Vec::new();
            let mut ix = coll.list_indexes().await?;
            while let Some(m) = ix.try_next().await? {
                indexes.push(index_facts(m));
            }
            out.push(CollectionFacts {
                database: dbn.clone(),
                schema: None,
                name: spec.name,
                documents,
                sampled: docs.len() as u64,
                fields,
                indexes,
                partitioned: false,
            });
        }
    }
    Ok(out)
}

/// An index of `listIndexes` as the audit judges it: keys in order with their values, unique,
/// sparse, partial filter and collation (what its tenant-scoped twin must keep).
fn index_facts(m: IndexModel) -> IndexFacts {
    let o = m.options.as_ref();
    let name = o.and_then(|o| o.name.clone()).unwrap_or_default();
    let json = |d: Document| Bson::Document(d).into_relaxed_extjson().to_string();
    IndexFacts {
        primary: name == "_id_",
        keys: m.keys.keys().cloned().collect(),
        directions: m
            .keys
            .values()
            .map(|v| {
                let n = match v {
                    Bson::Int32(n) => f64::from(*n),
                    Bson::Int64(n) => *n as f64,
                    Bson::Double(n) => *n,
                    v => return v.clone().into_relaxed_extjson().to_string(),
                };
                if n < 0.0 { "-1" } else { "1" }.to_string()
            })
            .collect(),
        unique: o.and_then(|o| o.unique).unwrap_or(false),
        sparse: o.and_then(|o| o.sparse).unwrap_or(false),
        partial: o
            .and_then(|o| o.partial_filter_expression.clone())
            .map(json),
        collation: o
            .and_then(|o| o.collation.as_ref())
            .and_then(|c| mongodb::bson::to_document(c).ok())
            .map(json),
        name,
        ..IndexFacts::default()
    }
}

/// A value as text: a string as it is, anything else as relaxed extended JSON (a tenant id in
/// the audit and profile, an answer's cell).
pub(super) fn value_text(v: &Bson) -> String {
    match v {
        Bson::String(s) => s.clone(),
        v => v.clone().into_relaxed_extjson().to_string(),
    }
}

/// Up to `n` documents: a random `$sample`, or the first `n` where the server has none.
async fn sampled(
    coll: &mongodb::Collection<Document>,
    n: u64,
) -> mongodb::error::Result<Vec<Document>> {
    let size = i64::try_from(n).unwrap_or(i64::MAX);
    match coll.aggregate([doc! {"$sample": {"size": size}}]).await {
        Ok(c) => c.try_collect().await,
        Err(_) => coll.find(doc! {}).limit(size).await?.try_collect().await,
    }
}

/// The tenant query of the collection's largest tenant (the most frequent value of `field` in
/// a sample of `sample` documents), explained with `executionStats`: the server runs it once.
/// `None` when no sampled document carries the field.
///
/// # Errors
/// The server's errors.
pub async fn probe(
    client: &Client,
    c: &CollectionFacts,
    field: &str,
    sample: u64,
) -> mongodb::error::Result<Option<Probe>> {
    let db = client.database(&c.database);
    let coll = db.collection::<Document>(&c.name);
    let size = i64::try_from(sample).unwrap_or(i64::MAX);
    let path = format!("${field}");
    let tally = [
        doc! {"$match": {field: {"$exists": true}}},
        doc! {"$group": {"_id": &path, "n": {"$sum": 1}}},
        doc! {"$sort": {"n": -1, "_id": 1}},
        doc! {"$limit": 1},
    ];
    let mut pipeline = vec![doc! {"$sample": {"size": size}}];
    pipeline.extend(tally.iter().cloned());
    let top: Vec<Document> = match coll.aggregate(pipeline).await {
        Ok(cur) => cur.try_collect().await?,
        Err(_) => {
            let mut p = vec![doc! {"$limit": size}];
            p.extend(tally);
            coll.aggregate(p).await?.try_collect().await?
        }
    };
    let Some(value) = top.first().and_then(|d| d.get("_id")).cloned() else {
        return Ok(None);
    };
    let filter = doc! {field: value.clone()};
    let e = explain_find(&db, doc! {"find": &c.name, "filter": filter.clone()}).await?;
    Ok(Some(Probe {
        tenant: super::tenant::tenant_value(&value).to_string(),
        tenant_from: "sample".into(),
        query: format!(
            "db.getCollection({}).find({})",
            serde_json::Value::String(c.name.clone()),
            Bson::Document(filter).into_relaxed_extjson()
        ),
        stages: e.stages,
        executed: true,
        keys_examined: Some(e.keys_examined),
        docs_examined: Some(e.docs_examined),
        rows: e.returned,
    }))
}

/// Documents per tenant of a collection: `$group` on `field` over all of it when it holds at
/// most `exact_up_to` documents, else over a `$sample` of that many, scaled to its size.
///
/// # Errors
/// The server's errors.
pub async fn counts(
    client: &Client,
    c: &CollectionFacts,
    field: &str,
    exact_up_to: u64,
) -> mongodb::error::Result<Counted> {
    let coll = client.database(&c.database).collection::<Document>(&c.name);
    let group = [
        doc! {"$match": {field: {"$exists": true, "$ne": null}}},
        doc! {"$group": {"_id": format!("${field}"), "n": {"$sum": 1}}},
    ];
    let sampled = c.documents > exact_up_to;
    let mut pipeline = Vec::new();
    if sampled {
        let size = i64::try_from(exact_up_to).unwrap_or(i64::MAX);
        pipeline.push(doc! {"$sample": {"size": size}});
    }
    pipeline.extend(group);
    let rows: Vec<Document> = coll.aggregate(pipeline).await?.try_collect().await?;
    let seen: u64 = rows
        .iter()
        .map(|r| super::seed::bson_i64(r.get("n")).max(0) as u64)
        .sum();
    let scale = if sampled && seen > 0 {
        c.documents as f64 / seen as f64
    } else {
        1.0
    };
    let mut per_tenant = BTreeMap::new();
    let mut values = BTreeMap::new();
    for r in &rows {
        let Some(v) = r.get("_id") else { continue };
        let value = super::tenant::tenant_value(v);
        let name = value.to_string();
        let n = super::seed::bson_i64(r.get("n")).max(0) as f64 * scale;
        *per_tenant.entry(name.clone()).or_default() += n.round() as u64;
        if !value.is_text() {
            values.entry(name).or_insert(value);
        }
    }
    Ok(Counted {
        database: c.database.clone(),
        schema: None,
        name: c.name.clone(),
        documents: c.documents,
        sampled: sampled.then_some(seen),
        per_tenant,
        values,
    })
}

impl crate::backend::Inspect for MongoDriver {
    async fn audit(&self, scope: &Scope) -> Result<Gathered, MongoError> {
        let c = self.admin(&Server::Default).await?;
        let r = audit_with(&c, scope).await;
        c.shutdown().await;
        r
    }

    async fn profile(&self, scope: &Scope, exact_up_to: u64) -> Result<Profiled, MongoError> {
        let c = self.admin(&Server::Default).await?;
        let r = profile_with(&c, scope, exact_up_to).await;
        c.shutdown().await;
        r
    }
}

/// [`Driver::profile`] on one client.
async fn profile_with(
    c: &mongodb::Client,
    scope: &Scope,
    exact_up_to: u64,
) -> Result<Profiled, MongoError> {
    let (server_version, databases, facts, field) = read_facts(c, scope).await?;
    let mut collections = Vec::new();
    if let Some(field) = &field {
        for f in facts.iter().filter(|f| share(f, field) > 0.0) {
            collections.push(
                super::audit::counts(c, f, field, exact_up_to)
                    .await
                    .map_err(ctx(&format!(
                        "counting {}.{} per tenant",
                        f.database, f.name
                    )))?,
            );
        }
    }
    Ok(Profiled {
        server_version,
        databases,
        field,
        collections,
    })
}

/// [`Driver::audit`] on one client.
async fn audit_with(c: &mongodb::Client, scope: &Scope) -> Result<Gathered, MongoError> {
    let (server_version, databases, facts, field) = read_facts(c, scope).await?;
    let mut collections = Vec::new();
    for f in facts {
        let probe = match &field {
            Some(field) if share(&f, field) > 0.0 => {
                super::audit::probe(c, &f, field, scope.sample)
                    .await
                    .map_err(ctx(&format!("explaining {}.{}", f.database, f.name)))?
            }
            _ => None,
        };
        collections.push((f, probe));
    }
    Ok(Gathered {
        server_version,
        databases,
        field,
        collections,
    })
}

/// The server's version, the databases of `scope`, their collections' facts and the tenant
/// field (given or detected): what `audit` and `profile` read first.
async fn read_facts(
    c: &mongodb::Client,
    scope: &Scope,
) -> Result<
    (
        String,
        Vec<String>,
        Vec<crate::audit::CollectionFacts>,
        Option<String>,
    ),
    MongoError,
> {
    let server_version = version_of(c).await?;
    let databases = super::audit::databases(c, &scope.databases)
        .await
        .map_err(ctx("listing databases"))?;
    let facts = super::audit::facts(c, &databases, scope.sample)
        .await
        .map_err(ctx("reading collections and indexes"))?;
    let field = scope.field.clone().or_else(|| detect_field(&facts));
    Ok((server_version, databases, facts, field))
}

/// A driver error with what was being done.
fn ctx(context: &str) -> impl FnOnce(mongodb::error::Error) -> MongoError {
    let context = context.to_string();
    move |error| MongoError::Driver { context, error }
}

/// The server's version for an audit or profile (the surrogate named), or why it does not
/// answer.
async fn version_of(c: &mongodb::Client) -> Result<String, MongoError> {
    let d = doctor(c).await;
    if !d.reachable {
        return Err(MongoError::State(format!(
            "MongoDB does not answer: {} (is the URI right? `tenantbench doctor` checks it)",
            d.error.unwrap_or_default()
        )));
    }
    Ok(match (&d.version, &d.surrogate) {
        (Some(v), Some(s)) => format!("{v} (SecantusDB {s})"),
        (Some(v), None) => v.clone(),
        _ => "unknown".into(),
    })
}
