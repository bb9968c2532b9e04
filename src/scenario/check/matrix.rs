//! Checks of `[connections]` (the pool and strategy every variant starts from) and `[matrix]`:
//! `repeat`, the explicit `[[matrix.variant]]` list or the product of the axes (in `axes`), and
//! the limits on the variants they give.

use std::collections::BTreeSet;
use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::Checker;
use super::axes::{Ctx, Spot, check_axes, expand};
use crate::layout::Layout;
use crate::op::BackendKind;
use crate::scenario::migration::MigrationSpec;
use crate::scenario::model::{ConnectionsModel, MatrixModel, VariantModel};
use crate::scenario::{
    ConnectionsSpec, LoadSpec, MAX_POOL, MatrixSpec, ScenarioError, Variant, WorkloadSpec,
    profile_on,
};

/// Longest `label` of a `[[matrix.variant]]`: it heads legends and table rows.
const MAX_LABEL: usize = 60;

/// Most variants a matrix may expand to.
const MAX_VARIANTS: usize = 1000;

/// `[connections]`: pool sizes within [`MAX_POOL`] (min <= max), client limits, idle TTL.
pub(in crate::scenario) fn check_connections(
    c: &Checker,
    m: &ConnectionsModel,
) -> Result<ConnectionsSpec, ScenarioError> {
    let d = ConnectionsSpec::default();
    let pool = |v: &Option<Spanned<i64>>, min: i64, what: &str, dflt: u32| match v {
        Some(x) if !(min..=MAX_POOL).contains(x.get_ref()) => Err(c.err(
            x.span(),
            format!("expected {what} between {min} and {MAX_POOL}"),
        )),
        Some(x) => Ok(*x.get_ref() as u32),
        None => Ok(dflt),
    };
    let max_pool_size = pool(&m.max_pool_size, 1, "max_pool_size", d.max_pool_size)?;
    let min_pool_size = pool(&m.min_pool_size, 0, "min_pool_size", d.min_pool_size)?;
    if let Some(x) = &m.min_pool_size
        && min_pool_size > max_pool_size
    {
        return Err(c.err(
            x.span(),
            format!("expected min_pool_size <= max_pool_size ({max_pool_size})"),
        ));
    }
    let max_clients = match &m.max_clients {
        Some(x) if !(1..=100_000).contains(x.get_ref()) => {
            return Err(c.err(x.span(), "expected max_clients between 1 and 100,000"));
        }
        Some(x) => *x.get_ref() as usize,
        None => d.max_clients,
    };
    let idle_ttl = match &m.idle_ttl_s {
        Some(x) if !(*x.get_ref() > 0.0 && x.get_ref().is_finite() && *x.get_ref() < 1e7) => {
            return Err(c.err(x.span(), "expected idle_ttl_s as seconds > 0"));
        }
        Some(x) => Duration::from_secs_f64(*x.get_ref()),
        None => d.idle_ttl,
    };
    Ok(ConnectionsSpec {
        max_pool_size,
        min_pool_size,
        strategy: m.strategy.unwrap_or(d.strategy),
        max_clients,
        idle_ttl,
    })
}

/// What the matrix is checked against: the rest of the scenario.
pub(in crate::scenario) struct MatrixInputs<'a> {
    /// `[layout] default`.
    pub default_layout: Layout,
    /// `[load]`.
    pub load: &'a LoadSpec,
    /// Every index profile name.
    pub profiles: &'a [String],
    /// `[connections]`.
    pub conn: &'a ConnectionsSpec,
    /// `[workload]`.
    pub workload: &'a WorkloadSpec,
    /// The named hybrid rule sets.
    pub hybrid_sets: &'a [String],
    /// The migration a `[[phase]]` runs, with the span of its `migrate`: every variant's
    /// unless it names its own tenant or rate.
    pub migration: Option<(&'a MigrationSpec, Range<usize>)>,
    /// Tenants in the population (a variant's `migrate_tenant` must be one of them).
    pub tenants: u32,
}

/// `[matrix]`: `repeat` and the variants — one from the scenario's defaults without a
/// `[matrix]`, else the explicit list or the product of the axes, at most [`MAX_VARIANTS`],
/// each once, at least one.
pub(in crate::scenario) fn check_matrix(
    c: &Checker,
    m: Option<&Spanned<MatrixModel>>,
    inputs: MatrixInputs<'_>,
) -> Result<MatrixSpec, ScenarioError> {
    let MatrixInputs {
        default_layout,
        load,
        profiles,
        conn,
        workload,
        hybrid_sets,
        migration,
        tenants,
    } = inputs;
    let base = Variant {
        backend: BackendKind::Mongodb,
        layout: default_layout,
        indexes: load.indexes.clone(),
        max_pool_size: conn.max_pool_size,
        min_pool_size: conn.min_pool_size,
        strategy: conn.strategy,
        pacer: workload.pacer,
        scale: 1.0,
        hybrid: None,
        name: None,
        migration: migration.as_ref().map(|(m, _)| (*m).clone()),
        share: None,
    };
    let Some(ms) = m else {
        check_migrating_layouts(c, &[(base.clone(), 0..0)], migration.as_ref())?;
        return Ok(MatrixSpec {
            variants: vec![base],
            repeat: 1,
            skipped: Vec::new(),
        });
    };
    let m = ms.get_ref();
    let x = Ctx {
        c,
        profiles,
        workload,
        hybrid_sets,
    };
    let repeat = match &m.repeat {
        Some(r) if !(1..=1000).contains(r.get_ref()) => {
            return Err(c.err(r.span(), "expected repeat between 1 and 1,000 trials"));
        }
        Some(r) => *r.get_ref() as u32,
        None => 1,
    };
    let mut skipped = Vec::new();
    let variants = if !m.variant.is_empty() {
        if has_axes(m) {
            return Err(c.err(
                m.variant[0].span(),
                "expected either axis lists in [matrix] (a cartesian product) or [[matrix.variant]] entries (an explicit list), not both",
            ));
        }
        let mut variants = Vec::new();
        for v in &m.variant {
            let (mut out, span) = explicit_variant(&x, v, &base, conn.min_pool_size)?;
            out.migration = variant_migration(c, v.get_ref(), base.migration.as_ref(), tenants)?;
            variants.push((out, span));
        }
        variants
    } else {
        let axes = check_axes(&x, ms, &base, conn.min_pool_size)?;
        let mut variants = expand(&axes, ms.span(), conn.min_pool_size, &mut skipped);
        for (v, _) in &mut variants {
            v.migration = base.migration.clone();
        }
        variants
    };
    check_variants(c, ms.span(), &variants, &skipped)?;
    check_migrating_layouts(c, &variants, migration.as_ref())?;
    Ok(MatrixSpec {
        variants: variants.into_iter().map(|(v, _)| v).collect(),
        repeat,
        skipped,
    })
}

/// Whether `[matrix]` has an axis list.
fn has_axes(m: &MatrixModel) -> bool {
    m.backend.is_some()
        || m.layout.is_some()
        || m.indexes.is_some()
        || m.max_pool_size.is_some()
        || m.strategy.is_some()
        || m.concurrency.is_some()
        || m.rate.is_some()
        || m.scale.is_some()
        || m.hybrid.is_some()
}

/// One `[[matrix.variant]]`: the defaults with what it states; its layout and index profile
/// must exist on its backend, and `hybrid` needs the hybrid layout.
fn explicit_variant(
    x: &Ctx,
    v: &Spanned<VariantModel>,
    base: &Variant,
    min_pool: u32,
) -> Result<Spot, ScenarioError> {
    let c = x.c;
    let vm = v.get_ref();
    let mut out = base.clone();
    if let Some(b) = &vm.backend {
        out.backend = x.backend(b)?;
    }
    if let Some(l) = vm.layout {
        out.layout = l;
    }
    check_exists(c, &out, v.span())?;
    if let Some(i) = &vm.indexes {
        out.indexes = x.indexes(i)?;
    }
    if let Some(p) = &vm.max_pool_size {
        out.max_pool_size = x.pool(p, min_pool)?;
    }
    if let Some(s) = vm.strategy {
        out.strategy = s;
    }
    match (&vm.concurrency, &vm.rate) {
        (Some(_), Some(r)) => {
            return Err(c.err(
                r.span(),
                "expected either `concurrency` or `rate` in a variant, not both",
            ));
        }
        (Some(n), None) => out.pacer = x.concurrency(n)?,
        (None, Some(r)) => out.pacer = x.rate(r)?,
        (None, None) => {}
    }
    if let Some(f) = &vm.scale {
        out.scale = x.scale(f)?;
    }
    if let Some(h) = &vm.hybrid {
        if out.layout != Layout::Hybrid {
            return Err(c.err(
                h.span(),
                format!(
                    "`hybrid` picks the hybrid layout's rules; this variant's layout is {}",
                    out.layout
                ),
            ));
        }
        out.hybrid = x.hybrid(h)?;
    }
    if let Some(l) = &vm.label {
        let text = l.get_ref().trim();
        if text.is_empty() || text.chars().count() > MAX_LABEL || text.contains(['\n', '\r']) {
            return Err(c.err(
                l.span(),
                format!("expected a label of 1 to {MAX_LABEL} characters on one line"),
            ));
        }
        out.name = Some(text.to_string());
    }
    Ok((out, v.span()))
}

/// An explicit variant's migration: the phase's, with its own `migrate_tenant` and
/// `migrate_copy_rate` (records/s, 0: unlimited); either key without a migrating phase is an
/// error.
fn variant_migration(
    c: &Checker,
    vm: &VariantModel,
    phase: Option<&MigrationSpec>,
    tenants: u32,
) -> Result<Option<MigrationSpec>, ScenarioError> {
    if let Some(r) = &vm.migrate_rate {
        return Err(c.err(
            r.span(),
            "`migrate_rate` is now `migrate_copy_rate` (records per second; a variant's `rate` is operations per second)",
        ));
    }
    let Some(phase) = phase else {
        if let Some(k) = vm
            .migrate_tenant
            .as_ref()
            .map(Spanned::span)
            .or(vm.migrate_copy_rate.as_ref().map(Spanned::span))
        {
            return Err(c.err(
                k,
                "`migrate_tenant` and `migrate_copy_rate` change a migration; expected a [[phase]] with `migrate = { … }`",
            ));
        }
        return Ok(None);
    };
    let mut m = phase.clone();
    if let Some(t) = &vm.migrate_tenant {
        m.tenant = super::phases::check_tenant_pick(c, t, tenants)?;
    }
    if let Some(r) = &vm.migrate_copy_rate {
        m.copy_rate = super::phases::check_migrate_rate(c, r)?;
    }
    Ok(Some(m))
}

/// A migration moves tenants in layouts with a shared database and a tenant directory.
fn check_migrating_layouts(
    c: &Checker,
    variants: &[Spot],
    migration: Option<&(&MigrationSpec, Range<usize>)>,
) -> Result<(), ScenarioError> {
    let Some((_, span)) = migration else {
        return Ok(());
    };
    if let Some((v, _)) = variants
        .iter()
        .find(|(v, _)| !matches!(v.layout, Layout::Shared | Layout::Hybrid))
    {
        return Err(c.err(
            span.clone(),
            format!(
                "a migration moves a tenant in the shared or hybrid layout (they keep a shared database and a tenant directory); variant {} uses {}",
                v.id(),
                v.layout
            ),
        ));
    }
    Ok(())
}

/// An explicit variant's index profile (still the default one) and layout exist on its backend.
fn check_exists(c: &Checker, out: &Variant, span: Range<usize>) -> Result<(), ScenarioError> {
    if !profile_on(&out.indexes, out.backend) {
        return Err(c.err(
            span,
            format!(
                "index profile `{}` does not exist on {} (it is PostgreSQL's)",
                out.indexes,
                out.backend.name()
            ),
        ));
    }
    if !out.layout.on(out.backend) {
        return Err(c.err(
            span,
            format!(
                "layout `{}` does not exist on {}; expected one of {}",
                out.layout,
                out.backend.name(),
                Layout::ALL.map(Layout::name).join(", ")
            ),
        ));
    }
    Ok(())
}

/// The expanded matrix: at most [`MAX_VARIANTS`], no variant or label twice, at least one.
fn check_variants(
    c: &Checker,
    span: Range<usize>,
    variants: &[Spot],
    skipped: &[String],
) -> Result<(), ScenarioError> {
    if variants.len() > MAX_VARIANTS {
        return Err(c.err(
            span,
            format!(
                "the matrix expands to {} variants; expected at most {MAX_VARIANTS}",
                variants.len()
            ),
        ));
    }
    let (mut seen, mut labels) = (BTreeSet::new(), BTreeSet::new());
    for (v, span) in variants {
        if !seen.insert(v.id()) {
            return Err(c.err(
                span.clone(),
                format!("variant `{}` appears twice in the matrix", v.id()),
            ));
        }
        if let Some(n) = &v.name
            && !labels.insert(n.clone())
        {
            return Err(c.err(
                span.clone(),
                format!("label \"{n}\" names two variants; expected each label once"),
            ));
        }
    }
    if variants.is_empty() {
        return Err(c.err(
            span,
            format!(
                "the matrix has no variant that exists: {}",
                skipped.join("; ")
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::tests::parse;

    #[test]
    fn the_matrix_expands_to_the_cartesian_product_or_the_explicit_list() {
        let base = "name = \"m\"\n[population]\ntenants = 10\ndocuments = 1000\ndistribution = \"uniform\"\n";
        let s = parse(&format!(
            "{base}[connections]\nmax_pool_size = 50\n[matrix]\nlayout = [\"shared\", \"per-tenant\"]\nindexes = [\"none\", \"tenant\"]\nconcurrency = [1, 8, 32]\nrepeat = 3\n"
        ))
        .expect("parses");
        assert_eq!(s.matrix.variants.len(), 12);
        assert_eq!(s.matrix.repeat, 3);
        assert_eq!(s.matrix.variants[0].id(), "shared-none-p50-single-c1");
        assert_eq!(
            s.matrix.variants[11].id(),
            "per-tenant-tenant-p50-single-c32"
        );
        let s = parse(&format!(
            "{base}[[matrix.variant]]\nindexes = \"none\"\n[[matrix.variant]]\nindexes = \"tenant\"\nstrategy = \"client-per-tenant\"\nrate = 200.0\n"
        ))
        .expect("parses");
        let ids: Vec<String> = s.matrix.variants.iter().map(Variant::id).collect();
        assert_eq!(
            ids,
            ["shared-none-p100-single-c8", "shared-tenant-p100-cpt-r200"]
        );
        // No [matrix]: one variant from the scenario's defaults.
        let s = parse(base).expect("parses");
        assert_eq!(s.matrix.variants.len(), 1);
        assert_eq!(s.matrix.variants[0].indexes, "tenant");
        // A backend axis: combinations a backend lacks are skipped, and said so.
        let s = parse(&format!(
            "{base}[matrix]\nbackend = [\"mongodb\", \"postgres\"]\nlayout = [\"shared\", \"schema-per-tenant\"]\n"
        ))
        .expect("parses");
        let ids: Vec<String> = s.matrix.variants.iter().map(Variant::id).collect();
        assert_eq!(
            ids,
            [
                "shared-tenant-p100-single-c8",
                "postgres-shared-tenant-p100-single-c8",
                "postgres-schema-per-tenant-tenant-p100-single-c8"
            ]
        );
        assert_eq!(
            s.matrix.skipped,
            ["mongodb × schema-per-tenant: the layout does not exist on mongodb"]
        );
        let s = parse(&format!(
            "{base}[matrix]\nbackend = [\"mongodb\", \"postgres\"]\nindexes = [\"tenant\", \"partial\"]\n"
        ))
        .expect("parses");
        assert_eq!(s.matrix.variants.len(), 3);
        assert_eq!(
            s.matrix.skipped,
            ["mongodb × indexes partial: the profile does not exist on mongodb"]
        );
        let err = parse(&format!("{base}[[matrix.variant]]\nlayout = \"rls\"\n"))
            .expect_err("rls on mongodb");
        assert!(
            err.to_string()
                .contains("layout `rls` does not exist on mongodb"),
            "{err}"
        );
    }
}
