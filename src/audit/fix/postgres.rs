//! PostgreSQL fixes, as psql runs them one statement at a time: indexes built and dropped
//! `CONCURRENTLY` (a partitioned table cannot: there the statements lock), a unique
//! constraint replaced through `ALTER TABLE … ADD CONSTRAINT … UNIQUE USING INDEX` and
//! `DROP CONSTRAINT` in one statement, and nothing where a foreign key depends on the index.

use super::{Fix, FixError};
use crate::audit::{CollectionFacts, Constraint, IndexFacts};

/// Longest identifier PostgreSQL keeps (`NAMEDATALEN - 1` bytes).
const MAX_IDENT: usize = 63;

/// A quoted SQL identifier.
pub(crate) fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// `"schema"."table"` of `c`.
fn table(c: &CollectionFacts) -> String {
    format!(
        "{}.{}",
        ident(c.schema.as_deref().unwrap_or("public")),
        ident(&c.name)
    )
}

/// `CONCURRENTLY ` where the table allows it.
fn concurrently(c: &CollectionFacts) -> &'static str {
    if c.partitioned { "" } else { "CONCURRENTLY " }
}

/// What a partitioned table's fix costs.
fn lock_note(c: &CollectionFacts) -> Option<String> {
    c.partitioned.then(|| {
        "It locks writes to every partition while it builds: PostgreSQL cannot build an index \
         on a partitioned table CONCURRENTLY."
            .to_string()
    })
}

/// The index on `field` a table lacks.
pub(super) fn missing(c: &CollectionFacts, field: &str) -> Fix {
    Fix {
        statements: vec![format!(
            "CREATE INDEX {}ON {} ({});",
            concurrently(c),
            table(c),
            ident(field)
        )],
        trade: lock_note(c),
        ..Fix::default()
    }
}

/// Unique index `i` replaced by its twin led by `field` (only dropped when `built`).
pub(super) fn scoped(c: &CollectionFacts, field: &str, i: &IndexFacts, built: bool) -> Fix {
    let mut fix = Fix {
        trade: lock_note(c),
        ..Fix::default()
    };
    let create = if built {
        Ok(None)
    } else {
        create(c, field, i).map(Some)
    };
    match (create, &i.constraint) {
        (create, _) if !i.referenced_by.is_empty() => {
            fix.instead = Some(match create {
                Ok(create) => blocked(c, field, i, create.as_deref()),
                Err(why) => why.to_string(),
            });
        }
        (Ok(None), _) => fix.statements = vec![drop(c, i)],
        (Ok(Some(_)), Some(k)) if c.partitioned => match swap(c, field, i, k) {
            Ok(s) => fix.statements = vec![s],
            Err(why) => fix.instead = Some(why.to_string()),
        },
        (Ok(Some(create)), Some(k)) => {
            let name = ident(&new_name(c, field, i));
            let timing = match (k.deferrable, k.initially_deferred) {
                (true, true) => " DEFERRABLE INITIALLY DEFERRED",
                (true, false) => " DEFERRABLE",
                _ => "",
            };
            fix.statements = vec![
                create,
                format!(
                    "ALTER TABLE {} ADD CONSTRAINT {name} UNIQUE USING INDEX {name}{timing}, DROP CONSTRAINT {};",
                    table(c),
                    ident(&k.name)
                ),
            ];
        }
        (Ok(Some(create)), None) => fix.statements = vec![create, drop(c, i)],
        (Err(why), _) => fix.instead = Some(why.to_string()),
    }
    fix
}

/// The statement that builds `i`'s twin led by `field`: `i`'s own definition (keys with their
/// order, operator class and collation, `INCLUDE`, `NULLS NOT DISTINCT`, storage, predicate)
/// with `field` first. Err: why it cannot be written.
fn create(c: &CollectionFacts, field: &str, i: &IndexFacts) -> Result<String, FixError> {
    let def = i.definition.as_deref().unwrap_or_default();
    let Some((method, rest)) = split_definition(def) else {
        return Err(unreadable(def));
    };
    Ok(format!(
        "CREATE UNIQUE INDEX {}{} ON {} USING {method} ({}, {rest};",
        concurrently(c),
        ident(&new_name(c, field, i)),
        table(c),
        ident(field)
    ))
}

/// A partitioned table's constraint `k` of index `i` swapped for its twin led by `field` in
/// one statement (its definition, `UNIQUE (email)`, with `field` first): partitioned tables
/// take no `USING INDEX`.
fn swap(
    c: &CollectionFacts,
    field: &str,
    i: &IndexFacts,
    k: &Constraint,
) -> Result<String, FixError> {
    let Some((head, tail)) = k.definition.split_once('(') else {
        return Err(unreadable(&k.definition));
    };
    Ok(format!(
        "ALTER TABLE {} ADD CONSTRAINT {} {head}({}, {tail}, DROP CONSTRAINT {};",
        table(c),
        ident(&new_name(c, field, i)),
        ident(field),
        ident(&k.name)
    ))
}

/// Why no statement is printed for a definition tenantbench cannot rewrite.
fn unreadable(def: &str) -> FixError {
    FixError::Unreadable {
        definition: def.to_string(),
    }
}

/// The statement that drops `i`: its constraint, or the index.
fn drop(c: &CollectionFacts, i: &IndexFacts) -> String {
    match &i.constraint {
        Some(k) => format!(
            "ALTER TABLE {} DROP CONSTRAINT {};",
            table(c),
            ident(&k.name)
        ),
        None => format!(
            "DROP INDEX {}{}.{};",
            concurrently(c),
            ident(c.schema.as_deref().unwrap_or("public")),
            ident(&i.name)
        ),
    }
}

/// What to do where foreign keys depend on `i`: no `DROP` can apply until they reference the
/// tenant-scoped key, built by `create` (`None`: it exists).
fn blocked(c: &CollectionFacts, field: &str, i: &IndexFacts, create: Option<&str>) -> String {
    let what = match &i.constraint {
        Some(k) => format!("constraint {}", ident(&k.name)),
        None => format!("index {}", ident(&i.name)),
    };
    let fks: Vec<String> = i
        .referenced_by
        .iter()
        .map(|f| {
            format!(
                "{} on {}.{} ({})",
                ident(&f.name),
                ident(&f.schema),
                ident(&f.table),
                f.definition
            )
        })
        .collect();
    let first = match create {
        None => "its tenant-scoped twin exists already".to_string(),
        Some(s) => format!("build the tenant-scoped key first ({s})"),
    };
    let many = fks.len() > 1;
    format!(
        "no command: PostgreSQL refuses to drop the {what} of {} while foreign key{} {} \
         depend{} on it. Instead: {first}, point each foreign key at ({}, {}) (its table needs \
         the {} column as well), drop the old foreign key, then audit again for the command \
         that drops the {what}.",
        table(c),
        if many { "s" } else { "" },
        fks.join(", "),
        if many { "" } else { "s" },
        ident(field),
        i.keys.join(", "),
        ident(field),
    )
}

/// The name of `i`'s twin led by `field`: PostgreSQL's own style (`table_col_col_key` for a
/// constraint, `…_idx` for an index; `expr` for an expression key), cut to 63 bytes, numbered
/// past the table's index names.
fn new_name(c: &CollectionFacts, field: &str, i: &IndexFacts) -> String {
    let plain = |k: &str| !k.is_empty() && !k.contains(['(', ')', ' ', '\'', ':']);
    let cols: Vec<&str> = std::iter::once(field)
        .chain(
            i.keys
                .iter()
                .map(|k| if plain(k) { k.as_str() } else { "expr" }),
        )
        .collect();
    let suffix = if i.constraint.is_some() { "key" } else { "idx" };
    let base = format!("{}_{}", c.name, cols.join("_"));
    (0..)
        .map(|n| {
            let end = match n {
                0 => format!("_{suffix}"),
                n => format!("{n}_{suffix}"),
            };
            let mut cut = MAX_IDENT.saturating_sub(end.len()).min(base.len());
            while !base.is_char_boundary(cut) {
                cut -= 1;
            }
            format!("{}{end}", &base[..cut])
        })
        .find(|n| !c.indexes.iter().any(|x| &x.name == n))
        .unwrap_or_default()
}

/// The access method and what follows `USING method (` of a `pg_get_indexdef` text
/// (`CREATE [UNIQUE] INDEX name ON [ONLY] schema.table USING method (keys) [INCLUDE …]
/// [NULLS NOT DISTINCT] [WITH …] [WHERE …]`): the keys with their order, operator class and
/// collation, and everything after them, as the server prints them.
fn split_definition(def: &str) -> Option<(&str, &str)> {
    let rest = def
        .strip_prefix("CREATE UNIQUE INDEX ")
        .or_else(|| def.strip_prefix("CREATE INDEX "))?;
    let rest = skip_ident(rest)?.strip_prefix(" ON ")?;
    let rest = rest.strip_prefix("ONLY ").unwrap_or(rest);
    let rest = skip_ident(skip_ident(rest)?.strip_prefix('.')?)?.strip_prefix(" USING ")?;
    let after = skip_ident(rest)?;
    let method = &rest[..rest.len() - after.len()];
    Some((method, after.strip_prefix(" (")?))
}

/// `s` after the identifier it starts with (quoted, with `""` inside, or plain).
fn skip_ident(s: &str) -> Option<&str> {
    if let Some(q) = s.strip_prefix('"') {
        let mut chars = q.char_indices().peekable();
        while let Some((at, ch)) = chars.next() {
            if ch == '"' {
                if chars.peek().is_some_and(|(_, c)| *c == '"') {
                    chars.next();
                } else {
                    return Some(&q[at + 1..]);
                }
            }
        }
        return None;
    }
    let end = s
        .find(|ch: char| !(ch.is_alphanumeric() || ch == '_' || ch == '$'))
        .unwrap_or(s.len());
    (end > 0).then(|| &s[end..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::ForeignKey;

    fn members(partitioned: bool) -> CollectionFacts {
        CollectionFacts {
            database: "app".into(),
            schema: Some("public".into()),
            name: "members".into(),
            partitioned,
            ..CollectionFacts::default()
        }
    }

    fn email_key(c: &mut CollectionFacts) -> IndexFacts {
        let i = IndexFacts {
            name: "members_email_key".into(),
            keys: vec!["email".into()],
            unique: true,
            definition: Some(
                "CREATE UNIQUE INDEX members_email_key ON public.members USING btree (email)"
                    .into(),
            ),
            constraint: Some(Constraint {
                name: "members_email_key".into(),
                definition: "UNIQUE (email)".into(),
                deferrable: false,
                initially_deferred: false,
            }),
            ..IndexFacts::default()
        };
        c.indexes.push(i.clone());
        i
    }

    #[test]
    fn definitions_split_after_the_key_list_whatever_the_names() {
        assert_eq!(
            split_definition(
                "CREATE UNIQUE INDEX members_nick_live ON public.members USING btree (lower(nick) DESC NULLS LAST) INCLUDE (id) WHERE (deleted_at IS NULL)"
            ),
            Some((
                "btree",
                "lower(nick) DESC NULLS LAST) INCLUDE (id) WHERE (deleted_at IS NULL)"
            ))
        );
        assert_eq!(
            split_definition(
                r#"CREATE UNIQUE INDEX "Weird "" USING x" ON "my.schema"."T (" USING btree (nick) NULLS NOT DISTINCT"#
            ),
            Some(("btree", "nick) NULLS NOT DISTINCT"))
        );
        assert_eq!(
            split_definition("CREATE INDEX p_idx ON ONLY public.p USING hash (a)"),
            Some(("hash", "a)"))
        );
        assert_eq!(split_definition("CREATE TABLE x"), None);
        assert_eq!(split_definition(r#"CREATE INDEX "open ON x"#), None);
    }

    #[test]
    fn a_unique_constraint_is_swapped_through_alter_table_never_drop_index() {
        let mut c = members(false);
        let i = email_key(&mut c);
        let f = scoped(&c, "companyId", &i, false);
        assert_eq!(
            f.statements,
            [
                r#"CREATE UNIQUE INDEX CONCURRENTLY "members_companyId_email_key" ON "public"."members" USING btree ("companyId", email);"#,
                r#"ALTER TABLE "public"."members" ADD CONSTRAINT "members_companyId_email_key" UNIQUE USING INDEX "members_companyId_email_key", DROP CONSTRAINT "members_email_key";"#,
            ]
        );
        // Partitioned: no CONCURRENTLY and no USING INDEX; the lock is said.
        let mut p = members(true);
        let i = email_key(&mut p);
        let f = scoped(&p, "companyId", &i, false);
        assert_eq!(
            f.statements,
            [
                r#"ALTER TABLE "public"."members" ADD CONSTRAINT "members_companyId_email_key" UNIQUE ("companyId", email), DROP CONSTRAINT "members_email_key";"#
            ]
        );
        assert!(f.trade.is_some_and(|t| t.contains("locks writes")));
        // Its replacement built already: only the drop.
        let f = scoped(&c, "companyId", &c.indexes[0], true);
        assert_eq!(
            f.statements,
            [r#"ALTER TABLE "public"."members" DROP CONSTRAINT "members_email_key";"#]
        );
    }

    #[test]
    fn a_foreign_key_on_the_index_gets_what_to_do_instead_of_a_command() {
        let mut c = members(false);
        let mut i = email_key(&mut c);
        i.referenced_by.push(ForeignKey {
            schema: "public".into(),
            table: "invites".into(),
            name: "invites_email_fkey".into(),
            definition: "FOREIGN KEY (email) REFERENCES members(email)".into(),
        });
        let f = scoped(&c, "companyId", &i, false);
        assert!(f.statements.is_empty(), "{f:?}");
        let why = f.instead.expect("instead");
        for part in [
            r#"constraint "members_email_key""#,
            r#""invites_email_fkey" on "public"."invites" (FOREIGN KEY (email) REFERENCES members(email))"#,
            r#"build the tenant-scoped key first (CREATE UNIQUE INDEX CONCURRENTLY "members_companyId_email_key" ON "public"."members" USING btree ("companyId", email);)"#,
            r#"point each foreign key at ("companyId", email)"#,
        ] {
            assert!(why.contains(part), "{part:?} not in {why}");
        }
    }

    #[test]
    fn a_plain_unique_index_keeps_its_shape_and_is_dropped_concurrently() {
        let mut c = members(false);
        let i = IndexFacts {
            name: "members_nick_live".into(),
            keys: vec!["lower(nick)".into()],
            unique: true,
            partial: Some("deleted_at IS NULL".into()),
            definition: Some("CREATE UNIQUE INDEX members_nick_live ON public.members USING btree (lower(nick) DESC) INCLUDE (id) WHERE (deleted_at IS NULL)".into()),
            ..IndexFacts::default()
        };
        c.indexes.push(i.clone());
        c.indexes.push(IndexFacts {
            name: "members_companyId_expr_idx".into(),
            ..IndexFacts::default()
        });
        let f = scoped(&c, "companyId", &i, false);
        assert_eq!(
            f.statements,
            [
                r#"CREATE UNIQUE INDEX CONCURRENTLY "members_companyId_expr1_idx" ON "public"."members" USING btree ("companyId", lower(nick) DESC) INCLUDE (id) WHERE (deleted_at IS NULL);"#,
                r#"DROP INDEX CONCURRENTLY "public"."members_nick_live";"#,
            ]
        );
    }

    #[test]
    fn new_names_fit_in_63_bytes() {
        let mut c = members(false);
        c.name = "é".repeat(40);
        let i = IndexFacts {
            keys: vec!["email".into()],
            ..IndexFacts::default()
        };
        let n = new_name(&c, "companyId", &i);
        assert!(n.len() <= 63 && n.ends_with("_idx"), "{n}");
    }

    #[test]
    fn a_definition_it_cannot_read_gets_no_command() {
        let mut c = members(false);
        let mut i = email_key(&mut c);
        i.definition = Some("CREATE TABLE x".into());
        assert_eq!(
            scoped(&c, "companyId", &i, false).instead.as_deref(),
            Some(
                "no command: tenantbench could not read the definition \"CREATE TABLE x\"; build the tenant-scoped unique index by hand, then drop the old one"
            )
        );
    }
}
