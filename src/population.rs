//! Tenants: their ids, sizes (expected shares of a size distribution split by largest
//! remainder), tiers by size rank, roles, and per-collection document counts.
//!
//! Nothing here is sampled: sizes are the distribution's expected shares of the total, so they
//! sum exactly to the total and are the same on every machine.

use crate::datagen::Collection;
use std::collections::BTreeMap;

/// How tenant sizes are distributed (expected shares, never sampled).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Distribution {
    /// Size of rank `i` proportional to `1 / i^s`.
    Zipf {
        /// The exponent, `> 0`.
        s: f64,
    },
    /// Size of rank `i` proportional to the Pareto(alpha) quantile at `(i - 0.5) / n`.
    Pareto {
        /// The tail index, `> 0`.
        alpha: f64,
    },
    /// Every tenant the same size.
    Uniform,
    /// The largest tenants hold the given shares of all documents; the rest follow `rest`.
    Explicit {
        /// Shares (fractions of the total) of the largest tenants, in rank order.
        shares: Vec<f64>,
        /// How the remaining tenants split what is left.
        rest: Box<Distribution>,
    },
}

/// Population parameters after validation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PopulationSpec {
    /// Number of tenants.
    pub tenants: u32,
    /// Documents over all tenants and collections.
    pub documents: u64,
    /// Size distribution.
    pub distribution: Distribution,
    /// Every tenant gets at least this many documents.
    pub min_per_tenant: u64,
    /// Percent of tenants (by size rank, largest first) per tier: enterprise, premium, basic;
    /// the rest are free.
    pub tier_percent: [f64; 3],
    /// Role name → tenant ids.
    pub roles: BTreeMap<String, Vec<String>>,
}

/// Commercial tier, assigned by size rank.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tier {
    /// The largest tenants.
    Enterprise,
    /// Next largest.
    Premium,
    /// Small tenants (with `free`).
    Basic,
    /// The long tail.
    Free,
}

impl Tier {
    /// All tiers, largest first.
    pub const ALL: [Tier; 4] = [Tier::Enterprise, Tier::Premium, Tier::Basic, Tier::Free];

    /// The tier's name.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Enterprise => "enterprise",
            Tier::Premium => "premium",
            Tier::Basic => "basic",
            Tier::Free => "free",
        }
    }

    /// Parses a tier name.
    pub fn parse(s: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.name() == s)
    }
}

/// One tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// Size rank, 1 = largest.
    pub rank: u32,
    /// Stable id (`t00001` for rank 1); safe in database names.
    pub id: String,
    /// Documents over all collections.
    pub documents: u64,
    /// Tier by size rank.
    pub tier: Tier,
    /// Role given by the scenario, if any; it replaces the tier as the tenant's class.
    pub role: Option<String>,
    /// Documents per collection, in [`Collection::ALL`] order.
    pub counts: [u64; Collection::COUNT],
}

impl Tenant {
    /// The unit of latency breakdown: the role when the tenant has one, else the tier.
    pub fn class(&self) -> &str {
        self.role.as_deref().unwrap_or(self.tier.name())
    }

    /// Documents in one collection.
    pub fn count(&self, c: Collection) -> u64 {
        self.counts[c as usize]
    }
}

/// All tenants of a scenario, largest first.
#[derive(Debug, Clone, Default)]
pub struct Population {
    /// Tenants in rank order (index `i` has rank `i + 1`).
    pub tenants: Vec<Tenant>,
    /// The value each tenant's field holds in the database, by tenant index, where it is not
    /// the id as text (an existing database's ObjectIds, numbers, UUIDs); empty for generated
    /// data and for databases whose tenant values are strings.
    pub values: Vec<TenantValue>,
    /// Tenants a variant migrates, each with the class it is measured in (`moving-<id>`),
    /// which replaces its tier or role in the latency breakdown only: placement rules and a
    /// phase's shares still see its role.
    pub moving: Vec<(usize, String)>,
}

/// A tenant's value as a database stores it in the tenant field. The harness sends it back in
/// that type — an ObjectId tenant asked for as a string matches nothing — and shows it as plain
/// text ([`std::fmt::Display`]: hex for an ObjectId, the number, the hyphenated UUID), which is
/// also its id in the population.
#[derive(Debug, Clone, PartialEq)]
pub enum TenantValue {
    /// A string.
    Text(String),
    /// A MongoDB ObjectId (12 bytes).
    ObjectId([u8; 12]),
    /// A 32-bit integer.
    Int32(i32),
    /// A 64-bit integer.
    Int64(i64),
    /// A double.
    Double(f64),
    /// A UUID (MongoDB binary subtype 4).
    Uuid([u8; 16]),
    /// Other binary data, with its subtype (e.g. 3, the legacy UUID).
    Binary {
        /// The binary subtype.
        subtype: u8,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// Any other type, as canonical extended JSON (read back in its type).
    Other(String),
}

impl TenantValue {
    /// Whether the value is the plain string it displays as.
    pub fn is_text(&self) -> bool {
        matches!(self, TenantValue::Text(_))
    }

    /// The type's name, for messages (`objectId`, `int`, …: MongoDB's `$type` names).
    pub fn type_name(&self) -> &'static str {
        match self {
            TenantValue::Text(_) => "string",
            TenantValue::ObjectId(_) => "objectId",
            TenantValue::Int32(_) => "int",
            TenantValue::Int64(_) => "long",
            TenantValue::Double(_) => "double",
            TenantValue::Uuid(_) => "uuid",
            TenantValue::Binary { .. } => "binData",
            TenantValue::Other(_) => "other",
        }
    }
}

impl std::fmt::Display for TenantValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hex = |f: &mut std::fmt::Formatter<'_>, b: &[u8]| {
            b.iter().try_for_each(|x| write!(f, "{x:02x}"))
        };
        match self {
            TenantValue::Text(s) | TenantValue::Other(s) => f.write_str(s),
            TenantValue::ObjectId(b) => hex(f, b),
            TenantValue::Int32(i) => write!(f, "{i}"),
            TenantValue::Int64(i) => write!(f, "{i}"),
            TenantValue::Double(x) => write!(f, "{x}"),
            TenantValue::Uuid(b) => {
                for (i, part) in [&b[0..4], &b[4..6], &b[6..8], &b[8..10], &b[10..16]]
                    .into_iter()
                    .enumerate()
                {
                    if i > 0 {
                        f.write_str("-")?;
                    }
                    hex(f, part)?;
                }
                Ok(())
            }
            TenantValue::Binary { bytes, .. } => hex(f, bytes),
        }
    }
}

impl Population {
    /// Builds the population from validated parameters and the collection mix.
    pub fn build(spec: &PopulationSpec, mix: &[f64; Collection::COUNT]) -> Population {
        let n = spec.tenants;
        let sizes = tenant_sizes(spec);
        let tier_counts = tier_counts(n, &spec.tier_percent);
        let mut tenants = Vec::with_capacity(n as usize);
        for (i, &documents) in sizes.iter().enumerate() {
            let rank = i as u32 + 1;
            let id = tenant_id(rank, n);
            let tier = tier_of(i as u64, &tier_counts);
            let role = spec
                .roles
                .iter()
                .find(|(_, ids)| ids.contains(&id))
                .map(|(r, _)| r.clone());
            let split = largest_remainder(documents, mix, 0);
            let mut counts = [0; Collection::COUNT];
            counts.copy_from_slice(&split);
            tenants.push(Tenant {
                rank,
                id,
                documents,
                tier,
                role,
                counts,
            });
        }
        Population {
            tenants,
            values: Vec::new(),
            moving: Vec::new(),
        }
    }

    /// Tenants the data already has (a tenants file, an existing database), ranked by weight,
    /// heaviest first (ties keep their order). A row's class, when given, is its tier if it
    /// names one and its role otherwise. Without one, `by_rank` gives each tenant the role and
    /// tier of its rank (`t00001` in `[population.roles]` names the heaviest); without
    /// `by_rank`, it is `basic`. `counts` gives each tenant's documents per collection.
    pub fn ranked(
        rows: Vec<(String, u64, Option<String>)>,
        by_rank: Option<&PopulationSpec>,
        counts: impl Fn(&str) -> [u64; Collection::COUNT],
    ) -> Population {
        let mut rows = rows;
        rows.sort_by_key(|r| std::cmp::Reverse(r.1));
        let n = rows.len() as u32;
        let tiers = by_rank.map(|s| tier_counts(n, &s.tier_percent));
        let tenants = rows
            .into_iter()
            .enumerate()
            .map(|(i, (id, weight, class))| {
                let rank = i as u32 + 1;
                let (tier, role) = match (class, by_rank, &tiers) {
                    (Some(c), _, _) => match Tier::parse(&c) {
                        Some(t) => (t, None),
                        None => (Tier::Basic, Some(c)),
                    },
                    (None, Some(spec), Some(cuts)) => {
                        let role = spec
                            .roles
                            .iter()
                            .find(|(_, ids)| {
                                ids.iter().any(|x| rank_of(x, spec.tenants) == Some(rank))
                            })
                            .map(|(r, _)| r.clone());
                        (tier_of(i as u64, cuts), role)
                    }
                    _ => (Tier::Basic, None),
                };
                Tenant {
                    rank,
                    counts: counts(&id),
                    id,
                    documents: weight,
                    tier,
                    role,
                }
            })
            .collect();
        Population {
            tenants,
            values: Vec::new(),
            moving: Vec::new(),
        }
    }

    /// The value tenant `i`'s field holds in the database: its typed value where one was
    /// read, else its id as text.
    pub fn value(&self, i: usize) -> TenantValue {
        match self.values.get(i) {
            Some(v) => v.clone(),
            None => TenantValue::Text(self.tenants[i].id.clone()),
        }
    }

    /// The class tenant `i` is measured in: `moving-<id>` for a tenant a variant migrates,
    /// else its role or tier ([`Tenant::class`]).
    pub fn class_of(&self, i: usize) -> &str {
        match self.moving.iter().find(|(t, _)| *t == i) {
            Some((_, c)) => c,
            None => self.tenants[i].class(),
        }
    }

    /// Looks a tenant up by id.
    pub fn get(&self, id: &str) -> Option<&Tenant> {
        rank_of(id, self.tenants.len() as u32).map(|r| &self.tenants[r as usize - 1])
    }

    /// Total documents.
    pub fn documents(&self) -> u64 {
        self.tenants.iter().map(|t| t.documents).sum()
    }
}

/// The tier of the tenant at index `i` (rank − 1) under per-tier counts.
fn tier_of(i: u64, counts: &[u64; 4]) -> Tier {
    let mut bound = 0;
    for (t, &count) in Tier::ALL.iter().zip(counts) {
        bound += count;
        if i < bound {
            return *t;
        }
    }
    Tier::Free
}

/// Width of the numeric part of tenant ids: at least 5 digits, more for larger populations.
fn id_width(n: u32) -> usize {
    n.to_string().len().max(5)
}

/// The id of the tenant with this rank: `t` and the zero-padded rank.
pub fn tenant_id(rank: u32, n: u32) -> String {
    format!("t{:0w$}", rank, w = id_width(n))
}

/// The rank of a tenant id in a population of `n`, if it names one.
pub fn rank_of(id: &str, n: u32) -> Option<u32> {
    let digits = id.strip_prefix('t')?;
    if digits.len() != id_width(n) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rank: u32 = digits.parse().ok()?;
    (1..=n).contains(&rank).then_some(rank)
}

/// Number of tenants per tier (enterprise, premium, basic, free) for cut-offs in percent.
/// Each count is the rounded cumulative cut-off minus the previous one, so they sum to `n`.
pub fn tier_counts(n: u32, percent: &[f64; 3]) -> [u64; 4] {
    let mut out = [0u64; 4];
    let mut cum = 0.0;
    let mut prev = 0u64;
    for (i, p) in percent.iter().enumerate() {
        cum += p;
        let bound = ((cum / 100.0 * n as f64).round() as u64).min(n as u64);
        out[i] = bound.saturating_sub(prev);
        prev = prev.max(bound);
    }
    out[3] = n as u64 - prev;
    out
}

/// Relative weights of each rank under a distribution (not normalised); `profile` fits them.
pub fn weights(d: &Distribution, n: usize) -> Vec<f64> {
    match d {
        Distribution::Zipf { s } => (1..=n).map(|i| (i as f64).powf(-s)).collect(),
        // Expected order statistics of a Pareto(alpha) sample, by the quantile function at the
        // midpoint of each rank's probability band: x_i = ((i - 0.5) / n)^(-1/alpha).
        Distribution::Pareto { alpha } => (1..=n)
            .map(|i| ((i as f64 - 0.5) / n as f64).powf(-1.0 / alpha))
            .collect(),
        Distribution::Uniform => vec![1.0; n],
        Distribution::Explicit { shares, rest } => {
            let k = shares.len().min(n);
            let left = (1.0 - shares.iter().sum::<f64>()).max(0.0);
            let mut w: Vec<f64> = shares[..k].to_vec();
            if n > k {
                let r = weights(rest, n - k);
                let total: f64 = r.iter().sum();
                w.extend(r.iter().map(|x| x / total * left));
            }
            w
        }
    }
}

/// Tenant sizes in rank order: the minimum each, then the rest split by the distribution's
/// expected shares with the largest-remainder method; sorted so sizes never grow with rank.
pub fn tenant_sizes(spec: &PopulationSpec) -> Vec<u64> {
    let n = spec.tenants as usize;
    let w = weights(&spec.distribution, n);
    let mut sizes = largest_remainder(
        spec.documents - spec.min_per_tenant * n as u64,
        &w,
        spec.min_per_tenant,
    );
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    sizes
}

/// Splits `total` into parts proportional to `weights` (each part also gets `base`): floors
/// first, then one more to the largest fractional remainders, ties to the lower index.
/// Remainders are compared at 1e-9 resolution so the last bits of floating point cannot change
/// the result from one machine to another.
pub fn largest_remainder(total: u64, weights: &[f64], base: u64) -> Vec<u64> {
    let sum: f64 = weights.iter().sum();
    if weights.is_empty() {
        return Vec::new();
    }
    if sum <= 0.0 {
        let mut v = vec![base; weights.len()];
        v[0] += total;
        return v;
    }
    let mut parts = Vec::with_capacity(weights.len());
    let mut rema = Vec::with_capacity(weights.len());
    let mut assigned = 0u64;
    for (i, w) in weights.iter().enumerate() {
        let q = total as f64 * (w / sum);
        let f = q.floor();
        let fl = (f as u64).min(total);
        assigned += fl;
        parts.push(fl);
        rema.push((((q - f) * 1e9).round() as u64, i));
    }
    // Floating point can make the floors overshoot by a unit in pathological cases: take back
    // from the smallest remainders.
    while assigned > total {
        let (_, i) = *rema
            .iter()
            .filter(|(_, i)| parts[*i] > 0)
            .min()
            .expect("non-empty");
        parts[i] -= 1;
        assigned -= 1;
    }
    let mut left = total - assigned;
    rema.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let len = rema.len();
    let mut k = 0;
    while left > 0 {
        parts[rema[k % len].1] += 1;
        left -= 1;
        k += 1;
    }
    parts.iter().map(|p| p + base).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn spec(tenants: u32, documents: u64, distribution: Distribution, min: u64) -> PopulationSpec {
        PopulationSpec {
            tenants,
            documents,
            distribution,
            min_per_tenant: min,
            tier_percent: [1.0, 9.0, 30.0],
            roles: BTreeMap::new(),
        }
    }

    fn dist() -> impl Strategy<Value = Distribution> {
        prop_oneof![
            (0.1f64..3.0).prop_map(|s| Distribution::Zipf { s }),
            (0.2f64..4.0).prop_map(|alpha| Distribution::Pareto { alpha }),
            Just(Distribution::Uniform),
            (0.01f64..0.6, 0.1f64..2.0).prop_map(|(share, s)| Distribution::Explicit {
                shares: vec![share],
                rest: Box::new(Distribution::Zipf { s })
            }),
        ]
    }

    proptest! {
        #[test]
        fn sizes_sum_exactly_are_monotone_and_respect_the_minimum(
            tenants in 1u32..3000,
            extra in 0u64..2_000_000,
            min in 0u64..20,
            d in dist(),
        ) {
            let docs = tenants as u64 * min + extra;
            let s = spec(tenants, docs, d, min);
            let sizes = tenant_sizes(&s);
            prop_assert_eq!(sizes.len(), tenants as usize);
            prop_assert_eq!(sizes.iter().sum::<u64>(), docs);
            prop_assert!(sizes.windows(2).all(|w| w[0] >= w[1]));
            prop_assert!(sizes.iter().all(|&x| x >= min));
            // Deterministic: the same inputs give the same sizes.
            prop_assert_eq!(tenant_sizes(&s), sizes);
        }

        #[test]
        fn collection_counts_sum_to_tenant_size(tenants in 1u32..200, docs in 200u64..100_000) {
            let s = spec(tenants, docs.max(tenants as u64), Distribution::Zipf { s: 1.0 }, 1);
            let p = Population::build(&s, &crate::scenario::DEFAULT_MIX);
            for t in &p.tenants {
                prop_assert_eq!(t.counts.iter().sum::<u64>(), t.documents);
            }
            prop_assert_eq!(p.documents(), s.documents);
        }

        #[test]
        fn tier_counts_partition_the_tenants(n in 1u32..100_000, a in 0f64..30.0, b in 0f64..30.0, c in 0f64..40.0) {
            let t = tier_counts(n, &[a, b, c]);
            prop_assert_eq!(t.iter().sum::<u64>(), n as u64);
        }
    }

    #[test]
    fn zipf_one_over_ten_thousand_puts_53_percent_in_the_top_1_percent() {
        let s = spec(10_000, 5_000_000, Distribution::Zipf { s: 1.0 }, 0);
        let sizes = tenant_sizes(&s);
        let top: u64 = sizes[..100].iter().sum();
        let share = top as f64 / 5_000_000.0;
        let h = |n: usize| (1..=n).map(|i| 1.0 / i as f64).sum::<f64>();
        let expected = h(100) / h(10_000);
        assert!((expected - 0.530).abs() < 0.001, "H100/H10000 = {expected}");
        assert!((share - 0.530).abs() <= 0.005, "top 1% holds {share}");
    }

    #[test]
    fn explicit_share_gives_the_largest_tenant_its_share() {
        let s = spec(
            100,
            1_000_000,
            Distribution::Explicit {
                shares: vec![0.3],
                rest: Box::new(Distribution::Uniform),
            },
            0,
        );
        let sizes = tenant_sizes(&s);
        assert_eq!(sizes[0], 300_000);
        assert!(
            sizes[1..].iter().all(|&x| x == 7070 || x == 7071),
            "{:?}",
            &sizes[1..5]
        );
    }

    #[test]
    fn tiers_and_roles_follow_rank() {
        let mut s = spec(200, 200_000, Distribution::Zipf { s: 1.0 }, 10);
        s.roles.insert("noisy".into(), vec!["t00001".into()]);
        let p = Population::build(&s, &crate::scenario::DEFAULT_MIX);
        assert_eq!(p.tenants[0].tier, Tier::Enterprise);
        assert_eq!(p.tenants[0].class(), "noisy");
        assert_eq!(p.tenants[1].class(), "enterprise");
        assert_eq!(p.tenants[2].tier, Tier::Premium);
        assert_eq!(p.tenants[19].tier, Tier::Premium);
        assert_eq!(p.tenants[20].tier, Tier::Basic);
        assert_eq!(p.tenants[79].tier, Tier::Basic);
        assert_eq!(p.tenants[80].tier, Tier::Free);
        assert_eq!(p.get("t00042").map(|t| t.rank), Some(42));
        assert_eq!(p.get("t0042"), None);
        assert_eq!(p.get("t00201"), None);
    }
}
