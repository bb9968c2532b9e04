//! Choosing operations: which tenant (proportional to size, uniform, or hot tenants first),
//! which operation (a weighted mix), and which record inside the tenant (recent records more
//! likely). Each chooser is its own type with a `next` method (YCSB's generators); the
//! [`Workload`] combines them into the runner's [`RequestSource`].

use crate::datagen::{Collection, WyRand};
use crate::op::{Op, Request};
use crate::population::{Population, Tier};
use crate::runner::RequestSource;
use crate::scenario::{PhasePlan, Scenario, TenantChoiceSpec, WorkloadSpec};

/// A uniform double in [0, 1) from 53 random bits.
fn unit(rng: &mut WyRand) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// Picks an index with probability proportional to its weight: cumulative weights and a binary
/// search, O(log n) per pick.
#[derive(Debug, Clone)]
pub struct Weighted {
    cumulative: Vec<f64>,
}

impl Weighted {
    /// A chooser over `weights` (non-negative, at least one positive).
    ///
    /// # Panics
    /// When no weight is positive: callers validate their input first.
    pub fn new(weights: impl IntoIterator<Item = f64>) -> Weighted {
        let mut total = 0.0;
        let cumulative: Vec<f64> = weights
            .into_iter()
            .map(|w| {
                total += w.max(0.0);
                total
            })
            .collect();
        assert!(total > 0.0, "at least one weight must be positive");
        Weighted { cumulative }
    }

    /// The next index.
    pub fn next(&self, rng: &mut WyRand) -> usize {
        let total = *self.cumulative.last().expect("non-empty");
        let x = unit(rng) * total;
        self.cumulative
            .partition_point(|&c| c <= x)
            .min(self.cumulative.len() - 1)
    }
}

/// How tenants are chosen for operations.
#[derive(Debug, Clone)]
pub enum TenantChoice {
    /// In proportion to their document counts: big tenants are busy tenants.
    Proportional(Weighted),
    /// Every tenant equally often.
    Uniform(usize),
    /// The named tenants get `share` of all operations between them (uniformly); the rest go
    /// to everyone else, chosen by `rest`.
    Hot {
        /// Indices of the hot tenants.
        tenants: Vec<usize>,
        /// Fraction of operations that go to them.
        share: f64,
        /// How the remaining operations choose.
        rest: Box<TenantChoice>,
    },
}

impl TenantChoice {
    /// Proportional to size over a population.
    pub fn proportional(pop: &Population) -> TenantChoice {
        TenantChoice::Proportional(Weighted::new(
            pop.tenants.iter().map(|t| t.documents as f64),
        ))
    }

    /// The next tenant index.
    pub fn next(&self, rng: &mut WyRand) -> usize {
        match self {
            TenantChoice::Proportional(w) => w.next(rng),
            TenantChoice::Uniform(n) => (rng.next_u64() % *n as u64) as usize,
            TenantChoice::Hot {
                tenants,
                share,
                rest,
            } => {
                if !tenants.is_empty() && unit(rng) < *share {
                    tenants[(rng.next_u64() % tenants.len() as u64) as usize]
                } else {
                    rest.next(rng)
                }
            }
        }
    }
}

/// Picks a record ordinal in `0..n` with recent (high) ordinals more likely, as YCSB's
/// "latest" distribution does: ordinal `n - 1 - floor(n * u^k)`. With the default `k = 3`, the
/// newest 10% of a tenant's records get 46% of the picks (0.1^(1/3)).
#[derive(Debug, Clone, Copy)]
pub struct RecentKeys {
    /// Skew exponent; 1 is uniform, larger favours recent records more.
    pub k: f64,
}

impl Default for RecentKeys {
    fn default() -> Self {
        RecentKeys { k: 3.0 }
    }
}

impl RecentKeys {
    /// The next ordinal among `n` records (0 when there are none).
    pub fn next(&self, rng: &mut WyRand, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let back = (n as f64 * unit(rng).powf(self.k)) as u64;
        n - 1 - back.min(n - 1)
    }
}

/// The collection an operation addresses (its keys are ordinals in that collection).
pub fn collection_of(op: Op) -> Collection {
    match op {
        Op::FindUserByEmail => Collection::Users,
        _ => Collection::Orders,
    }
}

/// An operation mix ready to draw from.
#[derive(Debug, Clone)]
struct Mix {
    ops: Vec<Op>,
    weights: Weighted,
}

impl Mix {
    fn new(mix: &[(Op, f64)]) -> Mix {
        Mix {
            ops: mix.iter().map(|(o, _)| *o).collect(),
            weights: Weighted::new(mix.iter().map(|(_, w)| *w)),
        }
    }

    fn next(&self, rng: &mut WyRand) -> Op {
        self.ops[self.weights.next(rng)]
    }
}

/// The tenants of one class, chosen in proportion to size.
#[derive(Debug, Clone)]
struct ClassTenants {
    tenants: Vec<usize>,
    weights: Weighted,
}

/// What a phase changes: a share of operations for some classes, their own mixes.
#[derive(Debug, Clone, Default)]
struct PhaseRules {
    /// Cumulative shares and the tenants of each class that has one.
    shares: Vec<(f64, ClassTenants)>,
    /// Per class index: the phase's mix for it.
    mixes: Vec<Option<Mix>>,
}

/// A workload: tenant choice, operation mix and key choice over a population, with each
/// tenant's class index for the recorder, and per phase the scenario's overrides.
#[derive(Debug, Clone)]
pub struct Workload {
    tenants: TenantChoice,
    mix: Mix,
    phases: Vec<PhaseRules>,
    keys: RecentKeys,
    /// Record counts per tenant and collection, in [`Collection::ALL`] order.
    counts: Vec<[u64; Collection::COUNT]>,
    classes: Vec<u16>,
    seed: u64,
}

impl Workload {
    /// A workload over a population. `classes[i]` is tenant `i`'s class index; `mix` pairs
    /// operations with weights.
    ///
    /// # Panics
    /// When no operation has a positive weight (scenario validation rejects that first).
    pub fn new(
        pop: &Population,
        classes: Vec<u16>,
        tenants: TenantChoice,
        mix: &[(Op, f64)],
        seed: u64,
    ) -> Workload {
        Workload {
            tenants,
            mix: Mix::new(mix),
            phases: Vec::new(),
            keys: RecentKeys::default(),
            counts: pop.tenants.iter().map(|t| t.counts).collect(),
            classes,
            seed,
        }
    }
}

impl Workload {
    /// The workload a scenario describes, over its population.
    pub fn from_spec(pop: &Population, spec: &WorkloadSpec, seed: u64) -> Workload {
        let tenants = match &spec.tenants {
            TenantChoiceSpec::Proportional => TenantChoice::proportional(pop),
            TenantChoiceSpec::Uniform => TenantChoice::Uniform(pop.tenants.len()),
            TenantChoiceSpec::Hot { tenants, share } => TenantChoice::Hot {
                tenants: tenants.clone(),
                share: *share,
                rest: Box::new(TenantChoice::proportional(pop)),
            },
        };
        let (_, classes) = classes(pop);
        Workload::new(pop, classes, tenants, &spec.mix, seed)
    }

    /// A distinct random stream for load generator `i` (`run --worker i/N`), so generators do
    /// not issue the same operations in lockstep; 0 leaves the workload as it is.
    #[must_use]
    pub fn with_stream(mut self, i: u64) -> Workload {
        self.seed ^= i.wrapping_mul(0xd1b5_4a32_d192_ed03);
        self
    }

    /// The workload of a scenario with its `[[phase]]` overrides, phases indexed as in
    /// [`PhasePlan::new`]; `mix` replaces the scenario's default mix when given.
    pub fn from_scenario(pop: &Population, s: &Scenario, plan: &PhasePlan) -> Workload {
        let mut w = Workload::from_spec(pop, &s.workload, s.seed);
        let (names, _) = classes(pop);
        w.phases = plan
            .names
            .iter()
            .map(|name| {
                let Some(spec) = s.phases.iter().find(|p| &p.name == name) else {
                    return PhaseRules::default();
                };
                let mut cum = 0.0;
                let shares = spec
                    .shares
                    .iter()
                    .filter_map(|(class, share)| {
                        // By role or tier: a migrating tenant measured as `moving-<id>` still
                        // takes its role's share (a noisy tenant's burst).
                        let tenants: Vec<usize> = (0..pop.tenants.len())
                            .filter(|&t| {
                                let tn = &pop.tenants[t];
                                tn.class() == class || pop.class_of(t) == class
                            })
                            .collect();
                        if tenants.is_empty() {
                            return None;
                        }
                        let weights =
                            Weighted::new(tenants.iter().map(|&t| pop.tenants[t].documents as f64));
                        cum += share;
                        Some((cum, ClassTenants { tenants, weights }))
                    })
                    .collect();
                let mixes = names
                    .iter()
                    .map(|n| {
                        spec.mixes
                            .iter()
                            .find(|(c, _)| c == n)
                            .map(|(_, m)| Mix::new(m))
                    })
                    .collect();
                PhaseRules { shares, mixes }
            })
            .collect();
        w
    }
}

/// The classes of a population (tiers largest first, then roles by name) and each tenant's
/// index into that list: the recorder's class keys.
pub fn classes(pop: &Population) -> (Vec<String>, Vec<u16>) {
    let mut names: Vec<String> = Tier::ALL.iter().map(|t| t.name().to_string()).collect();
    let mut roles: Vec<String> = (0..pop.tenants.len())
        .map(|i| pop.class_of(i))
        .filter(|c| Tier::parse(c).is_none())
        .map(str::to_string)
        .collect();
    roles.sort();
    roles.dedup();
    names.extend(roles);
    let index = (0..pop.tenants.len())
        .map(|i| {
            names
                .iter()
                .position(|n| n == pop.class_of(i))
                .expect("every class is listed") as u16
        })
        .collect();
    (names, index)
}

impl Workload {
    /// A tenant drawn by the scenario's tenant choice in a phase: a phase's share of a class or
    /// role first, else the workload's choice (by size, uniform or hot).
    pub fn tenant(&self, rng: &mut WyRand, phase: u16) -> usize {
        if let Some(r) = self.phases.get(usize::from(phase))
            && let Some((total, _)) = r.shares.last()
        {
            let u = unit(rng);
            if u < *total {
                let i = r
                    .shares
                    .partition_point(|(c, _)| *c <= u)
                    .min(r.shares.len() - 1);
                let ct = &r.shares[i].1;
                return ct.tenants[ct.weights.next(rng)];
            }
        }
        self.tenants.next(rng)
    }

    /// The next operation of `tenant` in a phase (by its class's mix in the phase, else the
    /// workload's) and the tenant's class index.
    pub fn request(&self, rng: &mut WyRand, phase: u16, tenant: usize) -> (Request, u16) {
        let rules = self.phases.get(usize::from(phase));
        let class = self.classes[tenant];
        let op = match rules.and_then(|r| r.mixes.get(usize::from(class))) {
            Some(Some(m)) => m.next(rng),
            _ => self.mix.next(rng),
        };
        let n = self.counts[tenant][collection_of(op) as usize];
        let key = self.keys.next(rng, n);
        (Request { tenant, op, key }, class)
    }
}

impl RequestSource for Workload {
    type Worker = WyRand;

    fn worker(&self, index: usize) -> WyRand {
        WyRand::new(self.seed ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    fn next(&self, rng: &mut WyRand, phase: u16) -> (Request, u16) {
        let tenant = self.tenant(rng, phase);
        self.request(rng, phase, tenant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn pop() -> Population {
        crate::scenario::Scenario::parse(
            Path::new("w.toml"),
            "name = \"w\"\n[population]\ntenants = 100\ndocuments = 100000\ndistribution = { zipf = { s = 1.0 } }\n",
        )
        .expect("scenario")
        .build_population()
    }

    #[test]
    fn proportional_choice_follows_tenant_sizes() {
        let p = pop();
        let c = TenantChoice::proportional(&p);
        let mut rng = WyRand::new(1);
        let mut hits = vec![0u64; 100];
        let n = 200_000;
        for _ in 0..n {
            hits[c.next(&mut rng)] += 1;
        }
        for (t, &h) in p.tenants.iter().zip(&hits).take(5) {
            let expected = t.documents as f64 / 100_000.0;
            let got = h as f64 / n as f64;
            assert!(
                (got - expected).abs() < 0.01,
                "{}: {got} vs {expected}",
                t.id
            );
        }
    }

    #[test]
    fn classes_are_tiers_then_roles() {
        let s = crate::scenario::Scenario::parse(
            Path::new("c.toml"),
            "name = \"c\"\n[population]\ntenants = 100\ndocuments = 10000\ndistribution = \"uniform\"\n[population.roles]\nnoisy = [\"t00001\"]\n",
        )
        .expect("scenario");
        let (names, ix) = classes(&s.build_population());
        assert_eq!(names, ["enterprise", "premium", "basic", "free", "noisy"]);
        assert_eq!(ix[0], 4);
        assert_eq!(ix[99], 3);
        let w = Workload::from_spec(&s.build_population(), &s.workload, 1);
        let mut rng = w.worker(0);
        assert!((0..100).all(|_| w.next(&mut rng, 0).1 < 5));
    }

    #[test]
    fn hot_tenants_get_their_share() {
        let c = TenantChoice::Hot {
            tenants: vec![7],
            share: 0.3,
            rest: Box::new(TenantChoice::Uniform(100)),
        };
        let mut rng = WyRand::new(2);
        let hot = (0..100_000).filter(|_| c.next(&mut rng) == 7).count() as f64 / 100_000.0;
        // 30% directly plus 1% of the remaining 70% through the uniform rest.
        assert!((hot - 0.307).abs() < 0.01, "{hot}");
    }

    #[test]
    fn recent_keys_favour_the_newest_records_and_stay_in_range() {
        let k = RecentKeys::default();
        let mut rng = WyRand::new(3);
        let n = 1000;
        let picks: Vec<u64> = (0..100_000).map(|_| k.next(&mut rng, n)).collect();
        assert!(picks.iter().all(|&x| x < n));
        let newest = picks.iter().filter(|&&x| x >= 900).count() as f64 / picks.len() as f64;
        assert!((newest - 0.464).abs() < 0.01, "{newest}");
        assert_eq!(k.next(&mut rng, 0), 0);
        assert_eq!(k.next(&mut rng, 1), 0);
    }

    #[test]
    fn workload_is_deterministic_per_worker_and_respects_the_mix() {
        let p = pop();
        let classes = vec![0u16; 100];
        let w = Workload::new(
            &p,
            classes,
            TenantChoice::proportional(&p),
            &[
                (Op::GetById, 3.0),
                (Op::ListRecent, 1.0),
                (Op::InsertOne, 0.0),
            ],
            9,
        );
        let mut a = w.worker(0);
        let mut b = w.worker(0);
        let xs: Vec<_> = (0..1000).map(|_| w.next(&mut a, 0)).collect();
        let ys: Vec<_> = (0..1000).map(|_| w.next(&mut b, 0)).collect();
        assert_eq!(xs, ys);
        let gets = xs.iter().filter(|(r, _)| r.op == Op::GetById).count();
        assert!(
            (700..800).contains(&gets),
            "{gets} of 1000 get_by_id at weight 3:1"
        );
        assert!(xs.iter().all(|(r, _)| r.op != Op::InsertOne));
        for (r, _) in &xs {
            assert!(r.key < p.tenants[r.tenant].count(collection_of(r.op)).max(1));
        }
    }

    #[test]
    fn a_phase_gives_a_role_its_share_and_its_own_mix() {
        let s = crate::scenario::Scenario::parse(
            Path::new("p.toml"),
            "name = \"p\"\n[population]\ntenants = 100\ndocuments = 100000\ndistribution = \"uniform\"\n[population.roles]\nnoisy = [\"t00050\"]\n[workload]\nconcurrency = 2\nduration_s = 60\nwarmup_s = 0\nmix = { get_by_id = 1 }\n[[phase]]\nname = \"burst\"\nstart_s = 10\nduration_s = 5\n[phase.share]\nnoisy = 0.4\n[phase.mix.noisy]\nrevenue_by_day = 1\n",
        )
        .expect("scenario");
        let pop = s.build_population();
        let plan = PhasePlan::new(&s.workload, &s.phases);
        let w = Workload::from_scenario(&pop, &s, &plan);
        let mut rng = w.worker(0);
        let noisy = 49usize;
        let (steady, burst) = (0u16, 1u16);
        let n = 20_000;
        let in_burst: Vec<_> = (0..n).map(|_| w.next(&mut rng, burst).0).collect();
        let share = in_burst.iter().filter(|r| r.tenant == noisy).count() as f64 / n as f64;
        assert!((share - 0.406).abs() < 0.015, "{share}");
        assert!(
            in_burst
                .iter()
                .filter(|r| r.tenant == noisy)
                .all(|r| r.op == Op::RevenueByDay)
        );
        assert!(
            in_burst
                .iter()
                .filter(|r| r.tenant != noisy)
                .all(|r| r.op == Op::GetById)
        );
        let in_steady: Vec<_> = (0..n).map(|_| w.next(&mut rng, steady).0).collect();
        let share = in_steady.iter().filter(|r| r.tenant == noisy).count() as f64 / n as f64;
        assert!(share < 0.02, "{share}");
        assert!(in_steady.iter().all(|r| r.op == Op::GetById));
    }
}
