//! Checks of `[connections]` (the pool and strategy every variant starts from) and `[matrix]`:
//! each axis value, the expansion into variants — the cartesian product of the axis lists
//! (leaving out, and saying so, the combinations a backend lacks) or the explicit
//! `[[matrix.variant]]` list — and the limits on the result.

use std::time::Duration;

use toml::Spanned;

use super::Checker;
use crate::layout::Layout;
use crate::op::BackendKind;
use crate::pacing::Pacer;
use crate::scenario::model::ConnectionsModel;
use crate::scenario::model::MatrixModel;
use crate::scenario::scale::{SCALE_RANGE, valid_scale};
use crate::scenario::{
    ConnectionsSpec, LoadSpec, MAX_POOL, MatrixSpec, ScenarioError, Variant, WorkloadSpec,
    profile_on,
};

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

struct Ctx<'a> {
    c: &'a Checker<'a>,
    profiles: &'a [String],
    workload: &'a WorkloadSpec,
    hybrid_sets: &'a [String],
}

impl Ctx<'_> {
    fn backend(&self, b: &Spanned<BackendKind>) -> Result<BackendKind, ScenarioError> {
        match b.get_ref() {
            BackendKind::Mongodb => Ok(BackendKind::Mongodb),
            BackendKind::Postgres => Ok(BackendKind::Postgres),
        }
    }

    fn indexes(&self, s: &Spanned<String>) -> Result<String, ScenarioError> {
        if self.profiles.iter().any(|p| p == s.get_ref()) {
            Ok(s.get_ref().clone())
        } else {
            Err(self.c.err(
                s.span(),
                format!(
                    "unknown index profile `{}`; expected one of {}",
                    s.get_ref(),
                    self.profiles.join(", ")
                ),
            ))
        }
    }

    fn pool(&self, p: &Spanned<i64>, min_pool: u32) -> Result<u32, ScenarioError> {
        let v = *p.get_ref();
        if !(1..=MAX_POOL).contains(&v) || (v as u32) < min_pool {
            return Err(self.c.err(
                p.span(),
                format!(
                    "expected a max_pool_size between {} (min_pool_size) and {MAX_POOL}",
                    min_pool.max(1)
                ),
            ));
        }
        Ok(v as u32)
    }

    fn concurrency(&self, n: &Spanned<i64>) -> Result<Pacer, ScenarioError> {
        let v = *n.get_ref();
        if !(1..=10_000).contains(&v) {
            return Err(self
                .c
                .err(n.span(), "expected a concurrency between 1 and 10,000"));
        }
        let think = match self.workload.pacer {
            Pacer::Closed { think, .. } => think,
            Pacer::Open { .. } => Duration::ZERO,
        };
        Ok(Pacer::Closed {
            concurrency: v as usize,
            think,
        })
    }

    fn rate(&self, r: &Spanned<f64>) -> Result<Pacer, ScenarioError> {
        let v = *r.get_ref();
        if !(v > 0.0 && v <= 10_000_000.0) {
            return Err(self
                .c
                .err(r.span(), "expected a rate in operations per second, > 0"));
        }
        let (arrivals, workers) = match self.workload.pacer {
            Pacer::Open {
                arrivals, workers, ..
            } => (arrivals, workers),
            Pacer::Closed { .. } => (crate::pacing::Arrivals::Constant, 64),
        };
        Ok(Pacer::Open {
            rate: v,
            arrivals,
            workers,
        })
    }

    /// A hybrid rule set name: `None` for `default`.
    fn hybrid(&self, h: &Spanned<String>) -> Result<Option<String>, ScenarioError> {
        let n = h.get_ref();
        if n == "default" {
            return Ok(None);
        }
        if self.hybrid_sets.iter().any(|s| s == n) {
            return Ok(Some(n.clone()));
        }
        Err(self.c.err(
            h.span(),
            format!(
                "unknown hybrid rule set `{n}`; expected `default`{}",
                self.hybrid_sets
                    .iter()
                    .map(|s| format!(", `{s}`"))
                    .collect::<String>()
                    + " ([[layout.hybrid.sets.NAME]] defines one)"
            ),
        ))
    }

    fn scale(&self, f: &Spanned<f64>) -> Result<f64, ScenarioError> {
        let v = *f.get_ref();
        if !valid_scale(v) {
            let (lo, hi) = SCALE_RANGE;
            return Err(self.c.err(
                f.span(),
                format!("expected a data scale factor between {lo} and {hi} (1 = the population as stated)"),
            ));
        }
        Ok(v)
    }
}

/// What the matrix is checked against: the rest of the scenario.
pub(in crate::scenario) struct MatrixInputs<'a> {
    pub default_layout: Layout,
    pub load: &'a LoadSpec,
    pub profiles: &'a [String],
    pub conn: &'a ConnectionsSpec,
    pub workload: &'a WorkloadSpec,
    pub hybrid_sets: &'a [String],
}

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
    };
    let Some(ms) = m else {
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
    let has_axes = m.backend.is_some()
        || m.layout.is_some()
        || m.indexes.is_some()
        || m.max_pool_size.is_some()
        || m.strategy.is_some()
        || m.concurrency.is_some()
        || m.rate.is_some()
        || m.scale.is_some()
        || m.hybrid.is_some();
    let mut variants = Vec::new();
    let mut skipped = Vec::new();
    if !m.variant.is_empty() {
        if has_axes {
            return Err(c.err(
                m.variant[0].span(),
                "expected either axis lists in [matrix] (a cartesian product) or [[matrix.variant]] entries (an explicit list), not both",
            ));
        }
        for v in &m.variant {
            let vm = v.get_ref();
            let mut out = base.clone();
            if let Some(b) = &vm.backend {
                out.backend = x.backend(b)?;
            }
            if let Some(l) = vm.layout {
                out.layout = l;
            }
            if !profile_on(&out.indexes, out.backend) {
                return Err(c.err(
                    v.span(),
                    format!(
                        "index profile `{}` does not exist on {} (it is PostgreSQL's)",
                        out.indexes,
                        out.backend.name()
                    ),
                ));
            }
            if !out.layout.on(out.backend) {
                return Err(c.err(
                    v.span(),
                    format!(
                        "layout `{}` does not exist on {}; expected one of {}",
                        out.layout,
                        out.backend.name(),
                        Layout::ALL.map(Layout::name).join(", ")
                    ),
                ));
            }
            if let Some(i) = &vm.indexes {
                out.indexes = x.indexes(i)?;
            }
            if let Some(p) = &vm.max_pool_size {
                out.max_pool_size = x.pool(p, conn.min_pool_size)?;
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
            variants.push((out, v.span()));
        }
    } else {
        if let (Some(_), Some(r)) = (&m.concurrency, &m.rate) {
            let span = r.first().map_or(ms.span(), |r| r.span());
            return Err(c.err(
                span,
                "expected either a `concurrency` list or a `rate` list in [matrix], not both",
            ));
        }
        /// An axis's values, each with the span it was written at (none for the default).
        type Axis<T> = Vec<(T, Option<std::ops::Range<usize>>)>;
        fn axis<T: Clone, M>(
            list: &Option<Vec<Spanned<M>>>,
            dflt: T,
            f: impl Fn(&Spanned<M>) -> Result<T, ScenarioError>,
        ) -> Result<Axis<T>, ScenarioError> {
            match list {
                None => Ok(vec![(dflt, None)]),
                Some(l) => l.iter().map(|v| Ok((f(v)?, Some(v.span())))).collect(),
            }
        }
        let empty = [
            m.backend.as_ref().map(Vec::is_empty),
            m.layout.as_ref().map(Vec::is_empty),
            m.indexes.as_ref().map(Vec::is_empty),
            m.max_pool_size.as_ref().map(Vec::is_empty),
            m.strategy.as_ref().map(Vec::is_empty),
            m.concurrency.as_ref().map(Vec::is_empty),
            m.rate.as_ref().map(Vec::is_empty),
            m.scale.as_ref().map(Vec::is_empty),
            m.hybrid.as_ref().map(Vec::is_empty),
        ];
        if empty.contains(&Some(true)) {
            return Err(c.err(
                ms.span(),
                "expected every [matrix] list to hold at least one value",
            ));
        }
        let backends = axis(&m.backend, base.backend, |b| x.backend(b))?;
        let layouts = axis(&m.layout, base.layout, |l| Ok(*l.get_ref()))?;
        let indexes = axis(&m.indexes, base.indexes.clone(), |i| x.indexes(i))?;
        let pools = axis(&m.max_pool_size, base.max_pool_size, |p| {
            x.pool(p, conn.min_pool_size)
        })?;
        let strategies = axis(&m.strategy, base.strategy, |s| Ok(*s.get_ref()))?;
        let loads = match (&m.concurrency, &m.rate) {
            (Some(_), _) => axis(&m.concurrency, base.pacer, |n| x.concurrency(n))?,
            (None, Some(_)) => axis(&m.rate, base.pacer, |r| x.rate(r))?,
            (None, None) => vec![(base.pacer, None)],
        };
        let scales = axis(&m.scale, 1.0, |f| x.scale(f))?;
        let sets = axis(&m.hybrid, None, |h| x.hybrid(h))?;
        for (b, _) in &backends {
            for (l, _) in &layouts {
                if !l.on(*b) {
                    skipped.push(format!(
                        "{} × {}: the layout does not exist on {}",
                        b.name(),
                        l.name(),
                        b.name()
                    ));
                    continue;
                }
                for (i, ispan) in &indexes {
                    if !profile_on(i, *b) {
                        let why = format!(
                            "{} × indexes {i}: the profile does not exist on {}",
                            b.name(),
                            b.name()
                        );
                        if !skipped.contains(&why) {
                            skipped.push(why);
                        }
                        continue;
                    }
                    for (p, _) in &pools {
                        for (s, _) in &strategies {
                            for (pacer, _) in &loads {
                                for (f, _) in &scales {
                                    // Rule sets only vary the hybrid layout.
                                    let hs = if *l == Layout::Hybrid {
                                        &sets[..]
                                    } else {
                                        &sets[..1]
                                    };
                                    for (h, _) in hs {
                                        let v = Variant {
                                            backend: *b,
                                            layout: *l,
                                            indexes: i.clone(),
                                            max_pool_size: *p,
                                            min_pool_size: conn.min_pool_size,
                                            strategy: *s,
                                            pacer: *pacer,
                                            scale: *f,
                                            hybrid: if *l == Layout::Hybrid {
                                                h.clone()
                                            } else {
                                                None
                                            },
                                        };
                                        variants.push((v, ispan.clone().unwrap_or(ms.span())));
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    const MAX_VARIANTS: usize = 1000;
    if variants.len() > MAX_VARIANTS {
        return Err(c.err(
            ms.span(),
            format!(
                "the matrix expands to {} variants; expected at most {MAX_VARIANTS}",
                variants.len()
            ),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (v, span) in &variants {
        if !seen.insert(v.id()) {
            return Err(c.err(
                span.clone(),
                format!("variant `{}` appears twice in the matrix", v.id()),
            ));
        }
    }
    if variants.is_empty() {
        return Err(c.err(
            ms.span(),
            format!(
                "the matrix has no variant that exists: {}",
                skipped.join("; ")
            ),
        ));
    }
    Ok(MatrixSpec {
        variants: variants.into_iter().map(|(v, _)| v).collect(),
        repeat,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::scenario::Scenario;

    fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse(Path::new("t.toml"), text)
    }

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
