//! A scenario's own operations on MongoDB: templates rendered to BSON per request (a lone
//! placeholder keeps its type: a date for `days_ago`, an integer for `key`), run on the
//! tenant's database as find, count, aggregate, update or insert, and explained like the
//! built-ins.

use futures_util::TryStreamExt;
use mongodb::Database;
use mongodb::bson::{self, Bson, Document, doc};

use super::MongoBackend;
use super::audit::value_text;
use super::ops::{Explain, explain_find};
use crate::backend::Answer;
use crate::backend::custom::{Filled, fill, spec_of};
use crate::op::Request;
use crate::scenario::operation::{Hole, MongoQuery, OperationSpec, Piece, Tpl};

/// What a template's placeholders are filled with for one request: the tenant's value in its
/// stored type, and the other placeholders' values.
struct Fill<'a> {
    tenant: Bson,
    other: &'a (dyn Fn(Hole) -> Filled + Sync),
}

/// A template as BSON for one request.
fn render(t: &Tpl, f: &Fill<'_>) -> Bson {
    match t {
        Tpl::Null => Bson::Null,
        Tpl::Bool(b) => Bson::Boolean(*b),
        Tpl::Int(i) => Bson::Int64(*i),
        Tpl::Float(x) => Bson::Double(*x),
        Tpl::Text(p) => match p.as_slice() {
            [Piece::Hole(Hole::Tenant)] => f.tenant.clone(),
            [Piece::Hole(h)] => match (f.other)(*h) {
                Filled::Text(s) => Bson::String(s),
                Filled::Int(i) => Bson::Int64(i),
                Filled::Time(ms) => Bson::DateTime(bson::DateTime::from_millis(ms)),
            },
            pieces => {
                let mut s = String::new();
                for p in pieces {
                    match p {
                        Piece::Lit(l) => s.push_str(l),
                        Piece::Hole(h) => match (f.other)(*h) {
                            Filled::Text(t) => s.push_str(&t),
                            Filled::Int(i) => s.push_str(&i.to_string()),
                            Filled::Time(ms) => s.push_str(
                                &bson::DateTime::from_millis(ms)
                                    .try_to_rfc3339_string()
                                    .unwrap_or_default(),
                            ),
                        },
                    }
                }
                Bson::String(s)
            }
        },
        Tpl::List(v) => Bson::Array(v.iter().map(|x| render(x, f)).collect()),
        Tpl::Map(v) => Bson::Document(v.iter().map(|(k, x)| (k.clone(), render(x, f))).collect()),
    }
}

fn document(t: &Tpl, f: &Fill<'_>) -> Document {
    match render(t, f) {
        Bson::Document(d) => d,
        _ => Document::new(),
    }
}

/// A value as answer text: a whole double as an integer (a `$sum` of integers may come back as
/// one), anything else as [`value_text`].
fn text(v: &Bson) -> String {
    match v {
        Bson::Double(x) if x.fract() == 0.0 && x.abs() < 1e15 => (*x as i64).to_string(),
        v => value_text(v),
    }
}

/// Documents as rows: each document's values in its field order.
fn rows(docs: &[Document]) -> Answer {
    Answer::Rows(
        docs.iter()
            .map(|d| d.values().map(text).collect())
            .collect(),
    )
}

impl MongoBackend {
    /// The scenario's operation behind a request.
    fn spec(&self, req: &Request) -> Option<&OperationSpec> {
        spec_of(&self.operations, req.op)
    }

    /// Answers a request for one of the scenario's own operations on `db`.
    pub(super) async fn custom(
        &self,
        req: &Request,
        db: &Database,
    ) -> mongodb::error::Result<Answer> {
        let Some(spec) = self.spec(req) else {
            return Err(mongodb::error::Error::custom(format!(
                "operation {} is not defined here",
                req.op
            )));
        };
        let Some(q) = &spec.mongodb else {
            return Err(mongodb::error::Error::custom(format!(
                "operation {} has no MongoDB form",
                req.op
            )));
        };
        let tenant = self.ids[req.tenant].as_str();
        let other = |h| fill(h, spec, req, tenant, self.seed, self.end_ms);
        let f = Fill {
            tenant: self.tenant_bson(req.tenant),
            other: &other,
        };
        let coll = db.collection::<Document>(&spec.collection);
        match q {
            MongoQuery::Find {
                filter,
                sort,
                projection,
                limit,
            } => {
                let mut find = coll.find(document(filter, &f));
                if let Some(s) = sort {
                    find = find.sort(document(s, &f));
                }
                if let Some(p) = projection {
                    find = find.projection(document(p, &f));
                }
                if let Some(l) = limit {
                    find = find.limit(*l);
                }
                let docs: Vec<Document> = find.await?.try_collect().await?;
                Ok(rows(&docs))
            }
            MongoQuery::Count { filter } => Ok(Answer::Count(
                coll.count_documents(document(filter, &f)).await?,
            )),
            MongoQuery::Aggregate { pipeline } => {
                let stages: Vec<Document> = match render(pipeline, &f) {
                    Bson::Array(v) => v
                        .into_iter()
                        .filter_map(|s| match s {
                            Bson::Document(d) => Some(d),
                            _ => None,
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                let docs: Vec<Document> = coll.aggregate(stages).await?.try_collect().await?;
                Ok(rows(&docs))
            }
            MongoQuery::Update { filter, update } => {
                self.mark_dirty(req.tenant).await?;
                let u = match render(update, &f) {
                    Bson::Array(v) => {
                        coll.update_one(
                            document(filter, &f),
                            v.into_iter()
                                .filter_map(|s| match s {
                                    Bson::Document(d) => Some(d),
                                    _ => None,
                                })
                                .collect::<Vec<_>>(),
                        )
                        .await?
                    }
                    Bson::Document(d) => coll.update_one(document(filter, &f), d).await?,
                    _ => coll.update_one(document(filter, &f), doc! {}).await?,
                };
                Ok(Answer::Written(u.matched_count))
            }
            MongoQuery::Insert { document: d } => {
                self.mark_dirty(req.tenant).await?;
                coll.insert_one(document(d, &f)).await?;
                Ok(Answer::Written(1))
            }
        }
    }

    /// `explain` of a find or count of the scenario's own; `None` for the other forms.
    pub(super) async fn explain_custom(
        &self,
        req: &Request,
    ) -> mongodb::error::Result<Option<Explain>> {
        let Some(spec) = self.spec(req) else {
            return Ok(None);
        };
        let tenant = self.ids[req.tenant].as_str();
        let other = |h| fill(h, spec, req, tenant, self.seed, self.end_ms);
        let f = Fill {
            tenant: self.tenant_bson(req.tenant),
            other: &other,
        };
        let (filter, sort, projection, limit) = match &spec.mongodb {
            Some(MongoQuery::Find {
                filter,
                sort,
                projection,
                limit,
            }) => (filter, sort.as_ref(), projection.as_ref(), *limit),
            Some(MongoQuery::Count { filter }) => (filter, None, None, None),
            _ => return Ok(None),
        };
        let mut find = doc! {"find": &spec.collection, "filter": document(filter, &f)};
        if let Some(s) = sort {
            find.insert("sort", document(s, &f));
        }
        if let Some(p) = projection {
            find.insert("projection", document(p, &f));
        }
        if let Some(l) = limit {
            find.insert("limit", l);
        }
        let db = self.route(req.tenant).await?;
        let mut e = explain_find(&db, find).await?;
        e.limit = limit.map(i64::unsigned_abs);
        Ok(Some(e))
    }
}
