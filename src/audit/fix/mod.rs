//! The commands that fix the audit's findings, composed from what a reader gathered: the
//! tenant index a collection lacks, and the tenant-scoped replacement of a unique index that
//! ignores the tenant field — built the way the old one was (keys, order, predicate, sparse,
//! collation, `INCLUDE`, `NULLS NOT DISTINCT`, deferrable), then the old one dropped the way
//! the server allows (`DROP INDEX`, `ALTER TABLE … DROP CONSTRAINT`, `dropIndex`). Where no
//! command can apply (a foreign key depends on the index) there is none, and the finding says
//! what to do instead. A replacement changes what the database allows, so it carries that
//! trade in words. Each command is what [`crate::audit::render`] prints and tests apply.

mod mongo;
mod postgres;

use super::{CollectionFacts, Finding, IndexFacts, Verdict};
use crate::op::BackendKind;

/// Why a finding has no command: what [`Fix::instead`] says, each message starting
/// `no command:`. Underlying errors are in the messages, not chained as sources.
#[derive(Debug, thiserror::Error)]
pub enum FixError {
    /// PostgreSQL: an index's or a constraint's definition tenantbench cannot rewrite with the
    /// tenant field first.
    #[error(
        "no command: tenantbench could not read the definition {definition:?}; build the tenant-scoped \
         unique index by hand, then drop the old one"
    )]
    Unreadable {
        /// The definition as the server gave it.
        definition: String,
    },
    /// MongoDB: an index option (its partial filter, its collation) that is not JSON.
    #[error("no command: its {what} {text:?} does not read as JSON ({error})")]
    NotJson {
        /// Which option (`partial filter`, `collation`).
        what: &'static str,
        /// The option's text.
        text: String,
        /// serde_json's error.
        error: serde_json::Error,
    },
    /// MongoDB: a sparse index over several keys, which leaves out a document only when all
    /// of them are missing: no partial filter without `$or` says that.
    #[error(
        "no command: {index} is sparse over several keys ({}), leaving out only documents that \
         have none of them; with the tenant field first every document has a key, so a \
         sparse twin would refuse two documents of one tenant without them. Build a unique \
         index led by the tenant field with a partialFilterExpression that says which \
         documents must be unique, then drop {index}",
        keys.join(", ")
    )]
    SparseKeys {
        /// The index's name.
        index: String,
        /// Its keys.
        keys: Vec<String>,
    },
}

/// A fix as composed, before it joins its verdict.
#[derive(Debug, Default)]
pub struct Fix {
    /// The statements, in the order they run.
    pub statements: Vec<String>,
    /// MongoDB: the Mongoose schema line.
    pub mongoose: Option<String>,
    /// What it changes in what the database allows.
    pub trade: Option<String>,
    /// Why there is no command, and what to do instead.
    pub instead: Option<String>,
}

impl Fix {
    /// The finding of `verdict` with this fix.
    pub fn finding(self, verdict: Verdict) -> Finding {
        Finding {
            verdict,
            fix: (!self.statements.is_empty()).then(|| self.statements.join("\n")),
            mongoose: self.mongoose,
            trade: self.trade,
            instead: self.instead,
        }
    }
}

/// The fix of a collection without an index led by `field`: that index.
pub fn missing(kind: BackendKind, c: &CollectionFacts, field: &str) -> Fix {
    match kind {
        BackendKind::Mongodb => mongo::missing(c, field),
        BackendKind::Postgres => postgres::missing(c, field),
    }
}

/// The fix of unique index `i` of `c`, which lacks `field`: a unique index on `field` and its
/// keys (unless `c` already has one, [`replacement`]), then `i` dropped.
pub fn scoped(kind: BackendKind, c: &CollectionFacts, field: &str, i: &IndexFacts) -> Fix {
    let built = replacement(kind, c, field, i).is_some();
    let mut fix = match kind {
        BackendKind::Mongodb => mongo::scoped(c, field, i, built),
        BackendKind::Postgres => postgres::scoped(c, field, i, built),
    };
    fix.trade = Some(trade(kind, field, i, fix.trade.take()));
    fix
}

/// An index of `c` that already is `i` scoped by `field`: unique, keyed by `field` then `i`'s
/// keys in order, over the same documents (the same predicate; on MongoDB a sparse `i`'s keys
/// required to exist, as [`mongo`] builds it; the same collation).
pub fn replacement<'a>(
    kind: BackendKind,
    c: &'a CollectionFacts,
    field: &str,
    i: &IndexFacts,
) -> Option<&'a IndexFacts> {
    let keys: Vec<&str> = std::iter::once(field)
        .chain(i.keys.iter().map(String::as_str))
        .collect();
    c.indexes.iter().find(|j| {
        j.unique
            && !j.primary
            && j.name != i.name
            && j.keys.iter().map(String::as_str).eq(keys.iter().copied())
            && j.collation == i.collation
            && match kind {
                BackendKind::Postgres => j.partial == i.partial,
                BackendKind::Mongodb => mongo::same_documents(i, j),
            }
    })
}

/// What replacing `i` by its tenant-scoped twin allows that `i` refused, and where that is
/// wrong; `more` (a lock, …) after it.
fn trade(kind: BackendKind, field: &str, i: &IndexFacts, more: Option<String>) -> String {
    let keys = match i.keys.as_slice() {
        [one] => one.clone(),
        many => format!("({})", many.join(", ")),
    };
    let mut t = format!(
        "changes meaning, not only speed: {keys} becomes unique per {field} instead of across \
         all tenants, so the same {keys} may then exist in two tenants and a lookup by {keys} \
         alone can match several. Wrong where it must stay unique everywhere (an email or \
         username that signs in before the tenant is known, a public slug, an external id): \
         keep the global index there."
    );
    if kind == BackendKind::Postgres {
        t.push_str(&format!(
            " INSERT … ON CONFLICT ({}) must then name ({}, {}).",
            i.keys.join(", "),
            postgres::ident(field),
            i.keys.join(", ")
        ));
    }
    if let Some(m) = more {
        t.push(' ');
        t.push_str(&m);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(name: &str, keys: &[&str]) -> IndexFacts {
        IndexFacts {
            name: name.into(),
            keys: keys.iter().map(|k| k.to_string()).collect(),
            unique: true,
            ..IndexFacts::default()
        }
    }

    #[test]
    fn a_replacement_is_unique_led_by_the_tenant_over_the_same_rows() {
        let old = index("email_key", &["email"]);
        let mut c = CollectionFacts {
            indexes: vec![old.clone(), index("other", &["email", "companyId"])],
            ..CollectionFacts::default()
        };
        let pg = BackendKind::Postgres;
        assert!(replacement(pg, &c, "companyId", &old).is_none());
        let mut partial = index("scoped", &["companyId", "email"]);
        partial.partial = Some("(deleted_at IS NULL)".into());
        c.indexes.push(partial);
        assert!(
            replacement(pg, &c, "companyId", &old).is_none(),
            "not the same rows"
        );
        c.indexes.push(index("scoped2", &["companyId", "email"]));
        assert_eq!(
            replacement(pg, &c, "companyId", &old).map(|j| j.name.as_str()),
            Some("scoped2")
        );
    }

    #[test]
    fn the_trade_names_the_keys_the_tenant_field_and_the_login_case() {
        let t = trade(
            BackendKind::Postgres,
            "companyId",
            &index("e", &["email"]),
            None,
        );
        assert!(
            t.starts_with("changes meaning, not only speed: email becomes unique per companyId"),
            "{t}"
        );
        assert!(
            t.contains("the same email may then exist in two tenants"),
            "{t}"
        );
        assert!(t.contains("signs in"), "{t}");
        assert!(
            t.contains(r#"ON CONFLICT (email) must then name ("companyId", email)"#),
            "{t}"
        );
        let m = trade(
            BackendKind::Mongodb,
            "org",
            &index("e", &["a", "b"]),
            Some("x".into()),
        );
        assert!(
            m.contains("(a, b) becomes unique per org") && m.ends_with(" x"),
            "{m}"
        );
        assert!(!m.contains("ON CONFLICT"), "{m}");
    }
}
