//! The MongoDB reader of `audit` (issue 16): the facts of a team's own databases, read-only —
//! `listDatabases`, `listCollections`, `listIndexes`, the estimated count and a `$sample` of
//! documents (a plain `find` where the server has no `$sample`). Nothing is written.

use std::collections::BTreeMap;

use futures_util::TryStreamExt;
use mongodb::Client;
use mongodb::bson::{Document, doc};
use mongodb::results::CollectionType;

use crate::audit::{CollectionFacts, IndexFacts};

/// Databases the server keeps for itself.
const SYSTEM_DBS: [&str; 3] = ["admin", "local", "config"];

/// The facts of every collection of `dbs` (every database but the server's own when empty),
/// with up to `sample` documents read from each.
///
/// # Errors
/// The server's errors (unreachable, not authorised).
pub async fn facts(
    client: &Client,
    dbs: &[String],
    sample: u64,
) -> Result<Vec<CollectionFacts>, mongodb::error::Error> {
    let names = if dbs.is_empty() {
        client
            .list_database_names()
            .await?
            .into_iter()
            .filter(|d| !SYSTEM_DBS.contains(&d.as_str()))
            .collect()
    } else {
        dbs.to_vec()
    };
    let mut out = Vec::new();
    for dbn in names {
        let db = client.database(&dbn);
        let mut specs: Vec<_> = db.list_collections().await?.try_collect().await?;
        specs.sort_by(|a, b| a.name.cmp(&b.name));
        for spec in specs {
            if spec.collection_type != CollectionType::Collection
                || spec.name.starts_with("system.")
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
                let name = m
                    .options
                    .as_ref()
                    .and_then(|o| o.name.clone())
                    .unwrap_or_default();
                indexes.push(IndexFacts {
                    primary: name == "_id_",
                    keys: m.keys.keys().cloned().collect(),
                    unique: m.options.as_ref().and_then(|o| o.unique).unwrap_or(false),
                    name,
                });
            }
            out.push(CollectionFacts {
                namespace: dbn.clone(),
                name: spec.name,
                documents,
                sampled: docs.len() as u64,
                fields,
                indexes,
            });
        }
    }
    Ok(out)
}

/// Up to `n` documents: a random `$sample`, or the first `n` where the server has none.
async fn sampled(
    coll: &mongodb::Collection<Document>,
    n: u64,
) -> Result<Vec<Document>, mongodb::error::Error> {
    let size = i64::try_from(n).unwrap_or(i64::MAX);
    match coll.aggregate([doc! {"$sample": {"size": size}}]).await {
        Ok(c) => c.try_collect().await,
        Err(_) => coll.find(doc! {}).limit(size).await?.try_collect().await,
    }
}
