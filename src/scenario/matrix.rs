//! The matrix of a scenario: the axes (backend × layout × index profile × pool size ×
//! connection strategy × load) a run compares, expanded into [`Variant`]s — as a cartesian
//! product of `[matrix]` lists or as an explicit `[[matrix.variant]]` list — plus `repeat`, and
//! the `[connections]` settings every variant starts from.

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::{Checker, LoadSpec, ScenarioError, WorkloadSpec};
use crate::layout::Layout;
use crate::op::BackendKind;
use crate::pacing::Pacer;

/// How tenants reach the database.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// One driver client (one pool per server) for all tenants.
    SingleClient,
    /// A registry of per-tenant clients: lazy, single-flight, LRU beyond `max_clients`, idle
    /// TTL, each evicted client shut down (the Node/Mongoose pattern).
    ClientPerTenant,
}

impl Strategy {
    /// Name in scenarios and results.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::SingleClient => "single-client",
            Strategy::ClientPerTenant => "client-per-tenant",
        }
    }

    fn short(self) -> &'static str {
        match self {
            Strategy::SingleClient => "single",
            Strategy::ClientPerTenant => "cpt",
        }
    }
}

/// One point of the matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// Database kind.
    pub backend: BackendKind,
    /// Layout.
    pub layout: Layout,
    /// Index profile name.
    pub indexes: String,
    /// Most connections per driver client.
    pub max_pool_size: u32,
    /// Connections each driver client keeps open.
    pub min_pool_size: u32,
    /// Connection strategy.
    pub strategy: Strategy,
    /// Load: closed loop (concurrency) or open loop (rate).
    pub pacer: Pacer,
    /// Data scale: the population's tenants and documents times this (1: as the scenario
    /// states); a variant at another scale has databases of its own.
    pub scale: f64,
    /// The hybrid layout's named rule set (`[[layout.hybrid.sets.NAME]]`); `None`: the
    /// default rules. Only set on hybrid variants.
    pub hybrid: Option<String>,
}

impl Variant {
    /// A short, file-name-safe identifier: `shared-none-p100-single-c8`.
    pub fn id(&self) -> String {
        let load = match self.pacer {
            Pacer::Closed { concurrency, .. } => format!("c{concurrency}"),
            Pacer::Open { rate, .. } => format!("r{rate}"),
        };
        let layout = match &self.hybrid {
            Some(h) => format!("{}.{h}", self.layout.name()),
            None => self.layout.name().to_string(),
        };
        let mut id = format!(
            "{layout}-{}-p{}-{}-{load}",
            self.indexes,
            self.max_pool_size,
            self.strategy.short()
        );
        if self.backend != BackendKind::Mongodb {
            id = format!("{}-{id}", self.backend.name());
        }
        if self.scale != 1.0 {
            id = format!("{id}-x{}", super::scale::token(self.scale));
        }
        id
    }

    /// A readable label: `shared · indexes none · pool 100 · single-client · concurrency 8`.
    pub fn label(&self) -> String {
        let load = match self.pacer {
            Pacer::Closed { concurrency, .. } => format!("concurrency {concurrency}"),
            Pacer::Open { rate, .. } => format!("rate {rate}/s"),
        };
        let scale = if self.scale == 1.0 {
            String::new()
        } else {
            format!(" · data × {}", self.scale)
        };
        let layout = match &self.hybrid {
            Some(h) => format!("{} ({h} rules)", self.layout),
            None => self.layout.to_string(),
        };
        format!(
            "{} · {layout} · indexes {} · pool {} · {} · {load}{scale}",
            self.backend.name(),
            self.indexes,
            self.max_pool_size,
            self.strategy.name()
        )
    }
}

/// `[connections]`: the pool and strategy every variant starts from.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionsSpec {
    /// Most connections per client (the driver's default: 100).
    pub max_pool_size: u32,
    /// Connections kept open per client.
    pub min_pool_size: u32,
    /// Strategy.
    pub strategy: Strategy,
    /// Client-per-tenant: most clients held at once.
    pub max_clients: usize,
    /// Client-per-tenant: a client unused this long is shut down.
    pub idle_ttl: Duration,
}

impl Default for ConnectionsSpec {
    fn default() -> Self {
        ConnectionsSpec {
            max_pool_size: 100,
            min_pool_size: 0,
            strategy: Strategy::SingleClient,
            max_clients: 100,
            idle_ttl: Duration::from_secs(60),
        }
    }
}

/// The expanded matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixSpec {
    /// Variants, in scenario order (trials run them interleaved: A B A B …).
    pub variants: Vec<Variant>,
    /// Trials per variant.
    pub repeat: u32,
    /// Combinations of the axes that do not exist (e.g. `schema-per-tenant` on MongoDB), each
    /// with why: left out of `variants`; `plan` says so.
    pub skipped: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConnectionsModel {
    #[serde(default)]
    max_pool_size: Option<Spanned<i64>>,
    #[serde(default)]
    min_pool_size: Option<Spanned<i64>>,
    #[serde(default)]
    strategy: Option<Strategy>,
    #[serde(default)]
    max_clients: Option<Spanned<i64>>,
    #[serde(default)]
    idle_ttl_s: Option<Spanned<f64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MatrixModel {
    #[serde(default)]
    backend: Option<Vec<Spanned<BackendKind>>>,
    #[serde(default)]
    layout: Option<Vec<Spanned<Layout>>>,
    #[serde(default)]
    indexes: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    max_pool_size: Option<Vec<Spanned<i64>>>,
    #[serde(default)]
    strategy: Option<Vec<Spanned<Strategy>>>,
    #[serde(default)]
    concurrency: Option<Vec<Spanned<i64>>>,
    #[serde(default)]
    rate: Option<Vec<Spanned<f64>>>,
    #[serde(default)]
    scale: Option<Vec<Spanned<f64>>>,
    #[serde(default)]
    hybrid: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    repeat: Option<Spanned<i64>>,
    #[serde(default)]
    variant: Vec<Spanned<VariantModel>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct VariantModel {
    #[serde(default)]
    backend: Option<Spanned<BackendKind>>,
    #[serde(default)]
    layout: Option<Layout>,
    #[serde(default)]
    indexes: Option<Spanned<String>>,
    #[serde(default)]
    max_pool_size: Option<Spanned<i64>>,
    #[serde(default)]
    strategy: Option<Strategy>,
    #[serde(default)]
    concurrency: Option<Spanned<i64>>,
    #[serde(default)]
    rate: Option<Spanned<f64>>,
    #[serde(default)]
    scale: Option<Spanned<f64>>,
    #[serde(default)]
    hybrid: Option<Spanned<String>>,
}

/// Largest pool size accepted.
pub const MAX_POOL: i64 = 10_000;

pub(super) fn check_connections(
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
        if !super::scale::valid_scale(v) {
            let (lo, hi) = super::scale::SCALE_RANGE;
            return Err(self.c.err(
                f.span(),
                format!("expected a data scale factor between {lo} and {hi} (1 = the population as stated)"),
            ));
        }
        Ok(v)
    }
}

/// What the matrix is checked against: the rest of the scenario.
pub(super) struct MatrixInputs<'a> {
    pub default_layout: Layout,
    pub load: &'a LoadSpec,
    pub profiles: &'a [String],
    pub conn: &'a ConnectionsSpec,
    pub workload: &'a WorkloadSpec,
    pub hybrid_sets: &'a [String],
}

pub(super) fn check_matrix(
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
            if !super::profile_on(&out.indexes, out.backend) {
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
                    if !super::profile_on(i, *b) {
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
