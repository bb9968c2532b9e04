//! `[target]`: a database of the team's own — its name, schema, tenant field and where the
//! tenants come from — and what such a scenario may not have: the tables that shape generated
//! data (`[data]`, `[layout]`, `[load]`, `[index_profile]`), matrix axes over them, `[http]`,
//! and built-in operations (they query the generated collections).

use std::ops::Range;
use std::path::PathBuf;

use toml::Spanned;

use super::Checker;
use crate::layout::Layout;
use crate::op::Op;
use crate::scenario::ScenarioError;
use crate::scenario::model::{FileModel, MatrixModel, OpMixModel, TargetModel};
use crate::scenario::target::{TargetSpec, TenantsFrom};

/// Whether `name` can name a database on both servers: 1 to 63 bytes, none of the characters
/// MongoDB forbids in database names (`/\. "$`), no control characters.
fn valid_database(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && !name
            .chars()
            .any(|c| "/\\. \"$".contains(c) || c.is_control())
}

/// A PostgreSQL identifier tenantbench can put on a `search_path` as written: letters,
/// digits, `_` and `$`, starting with a letter or `_`, at most 63 bytes.
fn valid_schema(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// `[target]`, checked against the rest of the file; `None` without one.
pub(in crate::scenario) fn check_target(
    c: &Checker,
    m: &FileModel,
) -> Result<Option<TargetSpec>, ScenarioError> {
    let Some(t) = &m.target else {
        return Ok(None);
    };
    let spec = target_spec(c, t.get_ref())?;
    conflicts(c, m, t.span())?;
    Ok(Some(spec))
}

fn target_spec(c: &Checker, t: &TargetModel) -> Result<TargetSpec, ScenarioError> {
    if !*t.existing.get_ref() {
        return Err(c.err(
            t.existing.span(),
            "expected existing = true: [target] names a database tenantbench did not create, which a run only reads (leave [target] out to run on generated data)",
        ));
    }
    let database = t.database.get_ref().clone();
    if !valid_database(&database) {
        return Err(c.err(
            t.database.span(),
            "expected a database name of 1 to 63 characters without '/', '\\', '.', ' ', '\"' or '$'",
        ));
    }
    let schema = match &t.schema {
        Some(s) if !valid_schema(s.get_ref()) => {
            return Err(c.err(
                s.span(),
                "expected a PostgreSQL schema name of letters, digits, '_' and '$', starting with a letter or '_' (at most 63)",
            ));
        }
        s => s.as_ref().map(|s| s.get_ref().clone()),
    };
    let tenant_field = match &t.tenant_field {
        Some(f) if f.get_ref().is_empty() || f.get_ref().len() > 120 => {
            return Err(c.err(
                f.span(),
                "expected a tenant field name of 1 to 120 characters",
            ));
        }
        f => f.as_ref().map(|f| f.get_ref().clone()),
    };
    let mut collections = Vec::new();
    for name in t.collections.iter().flat_map(|v| v.get_ref()) {
        let n = name.get_ref();
        if n.is_empty() || n.len() > 120 {
            return Err(c.err(
                name.span(),
                "expected a collection or table name of 1 to 120 characters",
            ));
        }
        collections.push(n.clone());
    }
    let tenants = match &t.tenants {
        Some(file) => {
            if let Some(cs) = &t.collections {
                return Err(c.err(
                    cs.span(),
                    "collections choose what weighs tenants counted in the database; with a tenants file the file's weights do",
                ));
            }
            if file.get_ref().trim().is_empty() {
                return Err(c.err(
                    file.span(),
                    "expected the path of a tenants file (CSV tenant,weight[,class] or JSON), or no `tenants` to count them in the database",
                ));
            }
            TenantsFrom::File(PathBuf::from(file.get_ref()))
        }
        None => TenantsFrom::Database { collections },
    };
    Ok(TargetSpec {
        database,
        schema,
        tenant_field,
        tenants,
    })
}

/// Refuses what shapes generated data, or needs it, in a scenario with a `[target]`.
fn conflicts(c: &Checker, m: &FileModel, target: Range<usize>) -> Result<(), ScenarioError> {
    shaping_tables(c, m, target.clone())?;
    if let Some(h) = &m.http {
        return Err(c.err(
            h.span(),
            "[http] sends the workload to your API (`load`); a [target] database is read directly (`run`): keep them in separate scenarios",
        ));
    }
    if let Some(mx) = &m.matrix {
        matrix_axes(c, mx.get_ref())?;
    }
    own_operations(c, m, target)
}

/// The error for `what`, at `at`, in a scenario whose `[target]` is read as it is.
fn refuse(c: &Checker, at: Range<usize>, what: &str) -> Result<(), ScenarioError> {
    Err(c.err(
        at,
        format!(
            "{what}; a [target] database is read as it is: its data, layout and indexes are its own"
        ),
    ))
}

/// Refuses the tables that shape generated data: `[data]`, `[layout]`, `[load]` and
/// `[index_profile]`.
fn shaping_tables(c: &Checker, m: &FileModel, target: Range<usize>) -> Result<(), ScenarioError> {
    if let Some(d) = &m.data {
        return refuse(c, d.span(), "[data] shapes generated data");
    }
    if m.layout.default.is_some_and(|l| l != Layout::Shared) {
        return refuse(
            c,
            target,
            "[layout] default places generated data in another layout",
        );
    }
    if let Some(h) = &m.layout.hybrid {
        let at = h.rule.first().map_or(target.clone(), Spanned::span);
        return refuse(c, at, "[layout.hybrid] places generated tenants");
    }
    let l = &m.load;
    if let Some(at) = [&l.batch_size, &l.workers]
        .into_iter()
        .flatten()
        .map(Spanned::span)
        .chain(l.indexes.as_ref().map(Spanned::span))
        .next()
    {
        return refuse(c, at, "[load] seeds generated data");
    }
    if l.index_build.is_some() {
        return refuse(c, target, "[load] index_build seeds generated data");
    }
    if let Some(p) = m.index_profile.values().next() {
        return refuse(c, p.span(), "[index_profile] indexes generated data");
    }
    Ok(())
}

/// Refuses the matrix axes and variant settings that vary generated data.
fn matrix_axes(c: &Checker, x: &MatrixModel) -> Result<(), ScenarioError> {
    let axis = x
        .indexes
        .iter()
        .flatten()
        .map(Spanned::span)
        .chain(x.scale.iter().flatten().map(Spanned::span))
        .chain(x.hybrid.iter().flatten().map(Spanned::span))
        .chain(
            x.layout
                .iter()
                .flatten()
                .filter(|l| *l.get_ref() != Layout::Shared)
                .map(Spanned::span),
        )
        .next();
    if let Some(at) = axis {
        return refuse(
            c,
            at,
            "the matrix's layout, indexes, scale and hybrid axes vary generated data",
        );
    }
    for v in &x.variant {
        let vm = v.get_ref();
        let bad = vm.layout.is_some_and(|l| l != Layout::Shared)
            || vm.indexes.is_some()
            || vm.scale.is_some()
            || vm.hybrid.is_some();
        if bad {
            return refuse(
                c,
                v.span(),
                "a variant's layout, indexes, scale and hybrid vary generated data",
            );
        }
    }
    Ok(())
}

/// Requires a `[workload] mix` and refuses built-in operations in it and in every phase's.
fn own_operations(c: &Checker, m: &FileModel, target: Range<usize>) -> Result<(), ScenarioError> {
    let Some(w) = &m.workload else {
        return Err(c.err(
            target,
            "an existing database runs your own operations: add [workload] mix = { NAME = weight, … } naming your [[operation]]s",
        ));
    };
    let Some(mix) = &w.get_ref().mix else {
        return Err(c.err(
            w.span(),
            "an existing database runs your own operations: add mix = { NAME = weight, … } naming your [[operation]]s",
        ));
    };
    builtin_in(c, mix.get_ref())?;
    for p in &m.phase {
        for class in p.get_ref().mix.values() {
            builtin_in(c, class.get_ref())?;
        }
    }
    Ok(())
}

/// A built-in operation in a mix: it queries the generated collections.
fn builtin_in(c: &Checker, mix: &OpMixModel) -> Result<(), ScenarioError> {
    match mix.keys().find(|k| Op::builtin(k.get_ref()).is_some()) {
        Some(k) => Err(c.err(
            k.span(),
            format!(
                "`{}` is a built-in operation: it queries tenantbench's generated collections, which an existing database does not have; define your own query as an [[operation]]",
                k.get_ref()
            ),
        )),
        None => Ok(()),
    }
}
