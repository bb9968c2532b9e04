//! Tables and indexes from the data catalogue: one typed column per field (`_id` → `id`,
//! `tenant` → `tenant_id`, camelCase → snake_case; strings `text`, integers and money in cents
//! `bigint`, times `timestamptz`), a `tenants` table, `tenant_id` foreign keys
//! `ON DELETE RESTRICT` added after the bulk load, and the index profiles as btree indexes.

use std::collections::BTreeMap;

use tokio_postgres::types::Type;

use super::ident;
use crate::datagen::{Collection, Value, generate};
use crate::scenario::{IndexKeys, Scenario};

/// One column of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The catalogue's field name (`createdAt`).
    pub field: &'static str,
    /// The column name (`created_at`).
    pub name: String,
    /// Its SQL type.
    pub ty: Type,
}

/// The column name of a catalogue field.
pub fn column_name(field: &str) -> String {
    match field {
        "_id" => "id".into(),
        "tenant" => "tenant_id".into(),
        f => {
            let mut s = String::with_capacity(f.len() + 4);
            for ch in f.chars() {
                if ch.is_ascii_uppercase() {
                    s.push('_');
                    s.push(ch.to_ascii_lowercase());
                } else {
                    s.push(ch);
                }
            }
            s
        }
    }
}

/// The columns of a collection's table, in field order, typed from what the generator writes.
pub fn columns(c: Collection) -> Vec<Column> {
    let sample = generate(0, "t00001", c, 0);
    sample
        .fields
        .iter()
        .map(|(f, v)| Column {
            field: f,
            name: column_name(f),
            ty: match v {
                Value::Str(_) | Value::Static(_) => Type::TEXT,
                Value::Int(_) => Type::INT8,
                Value::Time(_) => Type::TIMESTAMPTZ,
                Value::Bool(_) => Type::BOOL,
            },
        })
        .collect()
}

fn sql_type(t: &Type) -> &'static str {
    match *t {
        Type::INT8 => "bigint",
        Type::TIMESTAMPTZ => "timestamptz",
        Type::BOOL => "boolean",
        _ => "text",
    }
}

/// `CREATE TABLE` of a collection in `schema` (no foreign key yet: it comes after the load).
pub fn create_table(schema: &str, c: Collection) -> String {
    let cols: Vec<String> = columns(c)
        .iter()
        .map(|col| {
            let pk = if col.name == "id" { " PRIMARY KEY" } else { "" };
            format!("{} {} NOT NULL{pk}", ident(&col.name), sql_type(&col.ty))
        })
        .collect();
    format!(
        "CREATE TABLE {}.{} ({})",
        ident(schema),
        ident(c.name()),
        cols.join(", ")
    )
}

/// `CREATE TABLE tenants` in `schema`.
pub fn create_tenants(schema: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {}.tenants (id text PRIMARY KEY, tier text NOT NULL, class text NOT NULL, documents bigint NOT NULL)",
        ident(schema)
    )
}

/// The foreign key of a collection's `tenant_id` to `tenants_schema.tenants`.
pub fn foreign_key(schema: &str, c: Collection, tenants_schema: &str) -> String {
    format!(
        "ALTER TABLE {s}.{t} ADD CONSTRAINT {fk} FOREIGN KEY (tenant_id) REFERENCES {ts}.tenants (id) ON DELETE RESTRICT",
        s = ident(schema),
        t = ident(c.name()),
        fk = ident(&format!("{}_tenant_fk", c.name())),
        ts = ident(tenants_schema),
    )
}

/// Row-level security for the `rls` layout: the application role (created when missing, marked
/// by a comment so `drop` knows it is ours), its grants on the tenant tables, and on each table a
/// policy binding rows to `app.tenant_id`, set per transaction.
pub fn rls_ddl(role: &str) -> Vec<String> {
    let r = ident(role);
    let lit = role.replace('\'', "''");
    let tables: Vec<String> = Collection::ALL
        .iter()
        .map(|c| format!("public.{}", ident(c.name())))
        .collect();
    let mut out = vec![
        format!(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{lit}') THEN CREATE ROLE {r} NOLOGIN NOSUPERUSER NOBYPASSRLS; END IF; END $$"
        ),
        format!("COMMENT ON ROLE {r} IS 'tenantbench'"),
        format!("GRANT USAGE ON SCHEMA public TO {r}"),
        format!(
            "GRANT SELECT, INSERT, UPDATE ON {} TO {r}",
            tables.join(", ")
        ),
        format!("GRANT SELECT ON public.tenants TO {r}"),
    ];
    for t in &tables {
        out.push(format!("ALTER TABLE {t} ENABLE ROW LEVEL SECURITY"));
        out.push(format!(
            "CREATE POLICY tenant_isolation ON {t} USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true))"
        ));
    }
    out
}

/// One index of a profile: its name and `CREATE INDEX` statement for `schema`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDef {
    /// Table.
    pub collection: Collection,
    /// Index name (unique within the schema).
    pub name: String,
    /// Columns as written, e.g. `(tenant_id, status, created_at DESC)`.
    pub keys: String,
    /// The statement.
    pub sql: String,
}

/// The indexes of a profile for the tables in `schema`: the profile's keys as btree indexes,
/// plus the per-tenant unique constraint on users' email (`(tenant_id, email)`) in every
/// profile but `none`. Each statement is `IF NOT EXISTS`, so a resumed migration can build
/// the profile again.
pub fn indexes(scenario: &Scenario, profile: &str, schema: &str) -> Option<Vec<IndexDef>> {
    let keys: BTreeMap<Collection, Vec<IndexKeys>> = scenario.index_profile(profile)?;
    let mut out = Vec::new();
    for (c, list) in keys {
        for (i, k) in list.iter().enumerate() {
            let cols: Vec<String> = k
                .iter()
                .map(|(f, desc)| {
                    format!(
                        "{}{}",
                        ident(&column_name(f)),
                        if *desc { " DESC" } else { "" }
                    )
                })
                .collect();
            let keys = format!("({})", cols.join(", "));
            let name = format!("{}_{profile}_{i}", c.name());
            out.push(IndexDef {
                collection: c,
                sql: format!(
                    "CREATE INDEX IF NOT EXISTS {} ON {}.{} {keys}",
                    ident(&name),
                    ident(schema),
                    ident(c.name())
                ),
                name,
                keys,
            });
        }
    }
    if profile == "partial" {
        // Next to tenant_id: the tenant's newest records of the hottest status, a small index
        // that serves only the queries on that status.
        for c in Collection::ALL {
            if !(c.has_field("status") && c.has_field("createdAt")) {
                continue;
            }
            let hot = c.statuses()[0].0;
            let name = format!("{}_partial_hot", c.name());
            out.push(IndexDef {
                collection: c,
                sql: format!(
                    "CREATE INDEX IF NOT EXISTS {} ON {}.{} (tenant_id, created_at DESC) WHERE status = '{hot}'",
                    ident(&name),
                    ident(schema),
                    ident(c.name())
                ),
                keys: format!("(tenant_id, created_at DESC) WHERE status = '{hot}'"),
                name,
            });
        }
    }
    if profile != "none" {
        let name = "users_tenant_email_key".to_string();
        out.push(IndexDef {
            collection: Collection::Users,
            sql: format!(
                "CREATE UNIQUE INDEX IF NOT EXISTS {} ON {}.users (tenant_id, email)",
                ident(&name),
                ident(schema)
            ),
            keys: "UNIQUE (tenant_id, email)".into(),
            name,
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_follow_the_catalogue_with_sql_names_and_types() {
        let cols = columns(Collection::Orders);
        let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(&names[..3], ["id", "tenant_id", "number"]);
        assert!(names.contains(&"amount_cents") && names.contains(&"created_at"));
        let ty = |n: &str| cols.iter().find(|c| c.name == n).map(|c| c.ty.clone());
        assert_eq!(ty("amount_cents"), Some(Type::INT8));
        assert_eq!(ty("created_at"), Some(Type::TIMESTAMPTZ));
        assert_eq!(ty("status"), Some(Type::TEXT));
        assert!(
            create_table("public", Collection::Users).contains("\"id\" text NOT NULL PRIMARY KEY")
        );
    }
}
