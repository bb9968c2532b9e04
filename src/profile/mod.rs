//! `profile`'s model of a team's tenants (issue 16): documents per tenant per collection as a
//! reader counted them, the size distribution fitted to them (Zipf, Pareto, uniform, or the
//! largest tenants' exact shares and a fitted rest) with the fit's error, the collection mix,
//! and the scenario that reproduces the population synthetically (`templates/scenario.toml`) —
//! tenant ids, values and documents are never copied. No I/O here.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::datagen::Collection;
use crate::population::{Distribution, PopulationSpec, tenant_sizes, weights};

/// One collection or table, counted per tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct Counted {
    /// Database.
    pub database: String,
    /// PostgreSQL: the table's schema.
    pub schema: Option<String>,
    /// Collection or table.
    pub name: String,
    /// Documents or rows (the server's count or estimate).
    pub documents: u64,
    /// Documents sampled when the counts are scaled from a sample; `None` when exact.
    pub sampled: Option<u64>,
    /// Documents per tenant value, by its plain text (scaled up from the sample when sampled).
    pub per_tenant: BTreeMap<String, u64>,
    /// The typed value behind a tenant's text where it is not a string (ObjectId, number,
    /// UUID), so that the harness asks for it in its type; empty when every value is a string.
    pub values: BTreeMap<String, crate::population::TenantValue>,
}

/// What a reader counted: the server, the databases, the tenant field and each tenant
/// collection's counts.
#[derive(Debug, Clone, Default)]
pub struct Profiled {
    /// The server's version.
    pub server_version: String,
    /// The databases read.
    pub databases: Vec<String>,
    /// The tenant field (given or detected); `None` when none was found.
    pub field: Option<String>,
    /// The collections or tables that carry the tenant field.
    pub collections: Vec<Counted>,
}

/// One candidate distribution with the error of the sizes it gives.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fit {
    /// The distribution.
    pub distribution: Distribution,
    /// Documents every tenant gets before the distribution splits the rest.
    pub min_per_tenant: u64,
    /// Share of all documents that sit at another rank than measured: half the summed
    /// absolute difference of generated and measured sizes, rank by rank, over the total
    /// (0 = the same sizes, 1 = nothing in common).
    pub error: f64,
}

impl Fit {
    /// The distribution as people read it (`zipf s = 1.02, min 5`).
    pub fn describe(&self) -> String {
        format!(
            "{}, min {}",
            describe(&self.distribution),
            self.min_per_tenant
        )
    }
}

fn describe(d: &Distribution) -> String {
    match d {
        Distribution::Zipf { s } => format!("zipf s = {s:.3}"),
        Distribution::Pareto { alpha } => format!("pareto alpha = {alpha:.3}"),
        Distribution::Uniform => "uniform".into(),
        Distribution::Explicit { shares, rest } => format!(
            "the largest {} tenant{} at {}, the rest {}",
            shares.len(),
            if shares.len() == 1 { "" } else { "s" },
            shares
                .iter()
                .map(|s| format!("{:.2}%", s * 100.0))
                .collect::<Vec<_>>()
                .join(", "),
            describe(rest)
        ),
    }
}

/// Documents per tenant over all collections, largest first.
pub fn sizes(colls: &[Counted]) -> Vec<u64> {
    let mut per: BTreeMap<&str, u64> = BTreeMap::new();
    for c in colls {
        for (t, n) in &c.per_tenant {
            *per.entry(t.as_str()).or_default() += n;
        }
    }
    let mut v: Vec<u64> = per.into_values().filter(|n| *n > 0).collect();
    v.sort_unstable_by(|a, b| b.cmp(a));
    v
}

/// The error of sizes `m + (total − n·m)·w_i` against the measured ones (`obs`, largest
/// first): the fast form the search uses, before rounding.
fn error_of(w: &[f64], m: u64, obs: &[u64], total: u64) -> f64 {
    let sum: f64 = w.iter().sum();
    if sum <= 0.0 || total == 0 {
        return 1.0;
    }
    let rest = total.saturating_sub(m * obs.len() as u64) as f64;
    let diff: f64 = w
        .iter()
        .zip(obs)
        .map(|(w, o)| (m as f64 + rest * w / sum - *o as f64).abs())
        .sum();
    diff / (2.0 * total as f64)
}

/// The exact error of a fit: the sizes `seed` would generate (rounded as it rounds them).
fn exact_error(d: &Distribution, m: u64, obs: &[u64]) -> f64 {
    let total: u64 = obs.iter().sum();
    let spec = PopulationSpec {
        tenants: obs.len() as u32,
        documents: total,
        distribution: d.clone(),
        min_per_tenant: m,
        tier_percent: [0.0; 3],
        roles: BTreeMap::new(),
    };
    let made = tenant_sizes(&spec);
    let diff: u64 = made.iter().zip(obs).map(|(g, o)| g.abs_diff(*o)).sum();
    diff as f64 / (2.0 * total as f64)
}

/// The parameter in `[lo, hi]` with the least `f`: a log-spaced grid, then a golden-section
/// search in the best grid point's bracket.
fn search(lo: f64, hi: f64, f: impl Fn(f64) -> f64) -> f64 {
    const GRID: usize = 48;
    let at = |i: usize| lo * (hi / lo).powf(i as f64 / (GRID - 1) as f64);
    let best = (0..GRID)
        .min_by(|a, b| f(at(*a)).total_cmp(&f(at(*b))))
        .unwrap_or(0);
    let (mut a, mut b) = (at(best.saturating_sub(1)), at((best + 1).min(GRID - 1)));
    let g = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..40 {
        let c = b - g * (b - a);
        let d = a + g * (b - a);
        if f(c) < f(d) {
            b = d;
        } else {
            a = c;
        }
    }
    (a + b) / 2.0
}

/// Rounds a fitted parameter to 4 significant digits (what the scenario file states).
fn round4(x: f64) -> f64 {
    if x == 0.0 {
        return 0.0;
    }
    let p = 10f64.powi(3 - x.abs().log10().floor() as i32);
    (x * p).round() / p
}

/// Most largest tenants an explicit fit gives exact shares.
const EXPLICIT_TOP: usize = 5;

/// Every candidate fit of measured sizes (largest first), best (least error) first: uniform,
/// Zipf and Pareto over a few per-tenant minimums, and the largest 1 to 5 tenants' exact
/// shares with a Zipf rest.
pub fn fits(obs: &[u64]) -> Vec<Fit> {
    let n = obs.len();
    let total: u64 = obs.iter().sum();
    if n == 0 || total == 0 {
        return Vec::new();
    }
    let smallest = *obs.last().unwrap_or(&0);
    let mut mins: Vec<u64> = [0.0, 0.25, 0.5, 0.75, 1.0]
        .iter()
        .map(|f| (smallest as f64 * f) as u64)
        .chain([1])
        .filter(|m| *m <= smallest)
        .collect();
    mins.sort_unstable();
    mins.dedup();
    let mut out = Vec::new();
    for &m in &mins {
        let zipf = |s: f64| Distribution::Zipf { s };
        let pareto = |alpha: f64| Distribution::Pareto { alpha };
        let s = round4(search(0.01, 5.0, |s| {
            error_of(&weights(&zipf(s), n), m, obs, total)
        }));
        let alpha = round4(search(0.05, 50.0, |a| {
            error_of(&weights(&pareto(a), n), m, obs, total)
        }));
        for d in [Distribution::Uniform, zipf(s), pareto(alpha)] {
            out.push(Fit {
                error: exact_error(&d, m, obs),
                distribution: d,
                min_per_tenant: m,
            });
        }
        let rest_total = total.saturating_sub(m * n as u64) as f64;
        for k in 1..=EXPLICIT_TOP.min(n.saturating_sub(2)) {
            let shares: Vec<f64> = obs[..k]
                .iter()
                .map(|o| round4(o.saturating_sub(m) as f64 / rest_total))
                .collect();
            if shares.iter().sum::<f64>() >= 1.0 || shares.iter().any(|s| *s <= 0.0) {
                continue;
            }
            let explicit = |s: f64| Distribution::Explicit {
                shares: shares.clone(),
                rest: Box::new(zipf(s)),
            };
            let s = round4(search(0.01, 5.0, |s| {
                error_of(&weights(&explicit(s), n), m, obs, total)
            }));
            let d = explicit(s);
            out.push(Fit {
                error: exact_error(&d, m, obs),
                distribution: d,
                min_per_tenant: m,
            });
        }
    }
    out.sort_by(|a, b| a.error.total_cmp(&b.error));
    out
}

/// The best fit of each family (uniform, Zipf, Pareto, explicit shares), best first: what the
/// candidates list shows.
pub fn best_per_family(fits: &[Fit]) -> Vec<&Fit> {
    let family = |d: &Distribution| std::mem::discriminant(d);
    let mut out: Vec<&Fit> = Vec::new();
    for f in fits {
        if !out
            .iter()
            .any(|o| family(&o.distribution) == family(&f.distribution))
        {
            out.push(f);
        }
    }
    out
}

/// The fit to write: the best single-parameter one (uniform, Zipf, Pareto), unless an
/// explicit fit has under three quarters of its error and the simple fit misplaces more than
/// 1% of the documents — a simpler model wins when it is nearly as good.
pub fn choose(fits: &[Fit]) -> Option<&Fit> {
    let simple = fits
        .iter()
        .find(|f| !matches!(f.distribution, Distribution::Explicit { .. }));
    let explicit = fits
        .iter()
        .find(|f| matches!(f.distribution, Distribution::Explicit { .. }));
    match (simple, explicit) {
        (Some(s), Some(e)) if s.error > 0.01 && e.error < 0.75 * s.error => Some(e),
        (Some(s), _) => Some(s),
        (None, e) => e,
    }
}

/// Which of tenantbench's collections a team's collection is generated as: the one of the
/// same name (singular or plural, any case), else `orders`, the collection most operations
/// read.
pub fn generated_as(name: &str) -> (Collection, bool) {
    let n = name.to_ascii_lowercase();
    Collection::ALL
        .into_iter()
        .find(|c| n == c.name() || format!("{n}s") == c.name())
        .map_or((Collection::Orders, false), |c| (c, true))
}

/// How one of a team's collections is generated.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    /// The collection, with its database (and schema).
    pub label: String,
    /// Its tenant documents.
    pub documents: u64,
    /// The generated collection it counts towards.
    pub generated: Collection,
    /// Whether by its name (else it counts towards `orders`).
    pub by_name: bool,
}

/// The collection mix: percent of all documents per generated collection, and how each team
/// collection is generated.
pub fn mix(colls: &[Counted]) -> ([f64; Collection::COUNT], Vec<Mapped>) {
    let mut per = [0u64; Collection::COUNT];
    let mut mapping = Vec::new();
    for c in colls {
        let n: u64 = c.per_tenant.values().sum();
        let (g, by_name) = generated_as(&c.name);
        per[g as usize] += n;
        let label = match &c.schema {
            Some(s) => format!("{}.{s}.{}", c.database, c.name),
            None => format!("{}.{}", c.database, c.name),
        };
        mapping.push(Mapped {
            label,
            documents: n,
            generated: g,
            by_name,
        });
    }
    let total: u64 = per.iter().sum::<u64>().max(1);
    let mut pct = [0.0; Collection::COUNT];
    for (p, n) in pct.iter_mut().zip(per) {
        *p = round4(n as f64 * 100.0 / total as f64);
    }
    (pct, mapping)
}

/// A database name as a scenario prefix (`tbp_` and at most 20 lower-case letters, digits and
/// `_`: prefixes hold at most 24).
pub fn prefix_of(db: &str) -> String {
    let s: String = db
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(20)
        .collect();
    format!("tbp_{}", s.trim_matches('_'))
}

/// The TOML of a distribution, as scenarios write it.
pub fn distribution_toml(d: &Distribution) -> String {
    match d {
        Distribution::Zipf { s } => format!("{{ zipf = {{ s = {s} }} }}"),
        Distribution::Pareto { alpha } => format!("{{ pareto = {{ alpha = {alpha} }} }}"),
        Distribution::Uniform => "\"uniform\"".into(),
        Distribution::Explicit { shares, rest } => format!(
            "{{ explicit = {{ shares = [{}], rest = {} }} }}",
            shares
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            distribution_toml(rest)
        ),
    }
}

/// Everything the scenario file says, rendered by `templates/scenario.toml`.
#[derive(Debug, Serialize)]
pub struct Profile {
    /// Scenario name.
    pub name: String,
    /// Database prefix.
    pub prefix: String,
    /// `mongodb` or `postgres`.
    pub backend: String,
    /// The server's version.
    pub server_version: String,
    /// The databases profiled.
    pub databases: String,
    /// The tenant field.
    pub field: String,
    /// When (UTC).
    pub at: String,
    /// Tenants found.
    pub tenants: usize,
    /// Documents over them.
    pub documents: u64,
    /// The chosen fit, described.
    pub chosen: String,
    /// Its error in percent.
    pub error_pct: String,
    /// Its distribution as TOML.
    pub distribution: String,
    /// Its per-tenant minimum.
    pub min_per_tenant: u64,
    /// The best candidates, described with their errors.
    pub candidates: Vec<String>,
    /// `[data.mix]` lines (`orders = 45.0`).
    pub mix: Vec<String>,
    /// Per team collection: how it is generated.
    pub mapping: Vec<String>,
    /// Collections counted from a sample.
    pub sampled: Vec<String>,
    /// The largest tenant's id (the noisy role).
    pub noisy: String,
}

/// The scenario file of a profile.
///
/// # Errors
/// The template failed to render.
pub fn scenario_toml(p: &Profile) -> Result<String, minijinja::Error> {
    let mut env = minijinja::Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    env.add_template("scenario.toml", include_str!("templates/scenario.toml"))?;
    env.get_template("scenario.toml")?
        .render(minijinja::context! { p => p })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generated(d: Distribution, n: u32, documents: u64, m: u64) -> Vec<u64> {
        tenant_sizes(&PopulationSpec {
            tenants: n,
            documents,
            distribution: d,
            min_per_tenant: m,
            tier_percent: [0.0; 3],
            roles: BTreeMap::new(),
        })
    }

    #[test]
    fn a_generated_population_is_recovered() {
        let obs = generated(Distribution::Zipf { s: 1.2 }, 300, 100_000, 10);
        let f = fits(&obs);
        let best = choose(&f).expect("a fit");
        let Distribution::Zipf { s } = best.distribution else {
            panic!("expected zipf, got {best:?}");
        };
        assert!((s - 1.2).abs() < 0.02, "{best:?}");
        assert!(best.error < 0.005, "{best:?}");

        let obs = generated(Distribution::Pareto { alpha: 1.5 }, 500, 200_000, 1);
        let best = choose(&fits(&obs)).expect("a fit").clone();
        assert!(
            matches!(best.distribution, Distribution::Pareto { alpha } if (alpha - 1.5).abs() < 0.05),
            "{best:?}"
        );
    }

    #[test]
    fn one_giant_tenant_gets_its_own_share() {
        // One tenant with half the documents, the rest Zipf: no single parameter fits that.
        let mut obs = generated(Distribution::Zipf { s: 0.8 }, 99, 50_000, 1);
        obs.insert(0, 50_000);
        let best = choose(&fits(&obs)).expect("a fit").clone();
        let Distribution::Explicit { shares, .. } = &best.distribution else {
            panic!("expected explicit shares, got {best:?}");
        };
        assert!((shares[0] - 0.5).abs() < 0.01, "{best:?}");
        assert!(best.error < 0.02, "{best:?}");
    }

    #[test]
    fn team_collections_map_to_generated_ones_by_name() {
        assert_eq!(generated_as("Users"), (Collection::Users, true));
        assert_eq!(generated_as("ticket"), (Collection::Tickets, true));
        assert_eq!(generated_as("events"), (Collection::Orders, false));
        assert_eq!(prefix_of("My-App.prod"), "tbp_my_app_prod");
    }
}
