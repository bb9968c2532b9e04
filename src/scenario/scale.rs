//! Derived copies of a scenario: scaled by `--scale F` (data and time) or by the matrix's `scale`
//! axis (data), and a variant's hybrid rule set; each copy's databases carry a derived prefix.

use std::time::Duration;

use super::matrix::{Variant, token};
use super::{Scenario, TenantChoiceSpec};
use crate::pacing::StopCondition;
use crate::population::{Distribution, rank_of, tenant_id};

/// Fewest tenants a scaled population keeps (when the scenario has that many), so every tier
/// of the default cut-offs still has tenants at tiny scales.
pub const MIN_SCALED_TENANTS: u32 = 20;

/// Smallest and largest scale factors accepted.
pub const SCALE_RANGE: (f64, f64) = (1e-6, 100.0);

/// Whether a factor is an acceptable scale.
pub fn valid_scale(f: f64) -> bool {
    f.is_finite() && (SCALE_RANGE.0..=SCALE_RANGE.1).contains(&f)
}

/// A derived copy of a scenario that cannot be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScaleError {
    /// The factor is outside [`SCALE_RANGE`] (or not a number).
    #[error("scale {factor}: expected a factor between {} and {}", SCALE_RANGE.0, SCALE_RANGE.1)]
    Factor {
        /// The factor asked for.
        factor: f64,
    },
    /// A role names a tenant the scaled population no longer has.
    #[error(
        "scale {factor} leaves {tenants} tenants, but role `{role}` names {tenant} (rank {rank})"
    )]
    Role {
        /// The factor.
        factor: f64,
        /// Tenants the scaled population keeps.
        tenants: u32,
        /// The role.
        role: String,
        /// The tenant it names.
        tenant: String,
        /// That tenant's rank (0: not a tenant id).
        rank: u32,
    },
    /// The workload's hot tenants include a rank the scaled population no longer has.
    #[error(
        "scale {factor} leaves {tenants} tenants, but the workload's hot tenants include rank {rank}"
    )]
    Hot {
        /// The factor.
        factor: f64,
        /// Tenants the scaled population keeps.
        tenants: u32,
        /// The hot tenant's rank (1-based).
        rank: usize,
    },
    /// A variant names a hybrid rule set the scenario does not define.
    #[error("unknown hybrid rule set `{0}`")]
    UnknownRuleSet(String),
}

/// The database prefix of a scaled copy: `tb_quickstart` at 0.01 → `tb_quickstart_s0p01`.
pub fn scaled_prefix(prefix: &str, f: f64) -> String {
    format!("{prefix}_s{}", token(f))
}

/// The database prefix of load generators' data (`run --seed-only`, `run --worker`): copy
/// `copy` of a dataset's data with index profile `profile`, `tb_quickstart` → `tb_quickstart_gcompound_c1`.
/// A profile name that is not 1 to 16 lowercase letters and digits is kept as its letters and
/// digits (at most 12) and a hash of the whole name, so two names never share databases.
pub fn generator_prefix(prefix: &str, profile: &str, copy: u32) -> String {
    let plain = (1..=16).contains(&profile.len())
        && profile
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let token = if plain {
        profile.to_string()
    } else {
        let kept: String = profile
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .take(12)
            .collect();
        let hash = xxhash_rust::xxh3::xxh3_64(profile.as_bytes());
        format!("{kept}{:06x}", hash & 0xff_ffff)
    };
    format!("{prefix}_g{token}_c{copy}")
}

/// `p` without a trailing generator segment pair (`_g<profile>_c<copy>`, [`generator_prefix`]).
fn without_generator_copy(p: &str) -> &str {
    let Some((head, copy)) = p.rsplit_once("_c") else {
        return p;
    };
    let Some((head, profile)) = head.rsplit_once("_g") else {
        return p;
    };
    let copy_ok = !copy.is_empty() && copy.bytes().all(|b| b.is_ascii_digit());
    let profile_ok = !profile.is_empty()
        && profile
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if copy_ok && profile_ok { head } else { p }
}

/// Whether `p` is `base` or the prefix of a copy derived from it: `base` followed by scale
/// (`_s0p01`) and rule-set (`_hremote`) segments, and last, for load generators' data, an index
/// profile and copy pair (`_gcompound_c2`).
pub fn is_derived_prefix_of(p: &str, base: &str) -> bool {
    let stripped = without_generator_copy(p);
    derived_by_segments(p, base) || (stripped != p && derived_by_segments(stripped, base))
}

/// Whether `p` is `base` followed by scale and rule-set segments only.
fn derived_by_segments(p: &str, base: &str) -> bool {
    let Some(rest) = p.strip_prefix(base) else {
        return false;
    };
    rest.is_empty()
        || rest.strip_prefix('_').is_some_and(|r| {
            r.split('_').all(|seg| {
                let (kind, t) = seg.split_at(seg.len().min(1));
                !t.is_empty()
                    && match kind {
                        "s" => t.bytes().all(|b| b.is_ascii_digit() || b == b'p'),
                        "h" => t
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
                        _ => false,
                    }
            })
        })
}

impl Scenario {
    /// The scenario a matrix variant runs on, when it is not this one: the variant's data
    /// scale, and its hybrid rule set in place of the default rules. A rule set that places
    /// tenants as the default rules do (differing only in servers) keeps the prefix, so both
    /// share the databases on the default server; any other gets `_h<name>`.
    ///
    /// # Errors
    /// As [`Scenario::scaled`]; an unknown rule set.
    pub fn for_variant(&self, v: &Variant) -> Result<Option<Scenario>, ScaleError> {
        if v.scale == 1.0 && v.hybrid.is_none() {
            return Ok(None);
        }
        let mut s = self.scaled(v.scale, false)?;
        if let Some(name) = &v.hybrid {
            let rules = self
                .hybrid_sets
                .get(name)
                .ok_or_else(|| ScaleError::UnknownRuleSet(name.clone()))?;
            let placing = |r: &[super::Rule]| -> Vec<super::Rule> {
                r.iter()
                    .map(|x| super::Rule {
                        uri_env: None,
                        ..x.clone()
                    })
                    .collect()
            };
            if placing(rules) != placing(&self.hybrid_rules) {
                s.prefix = format!("{}_h{name}", s.prefix);
            }
            s.hybrid_rules = rules.clone();
        }
        Ok(Some(s))
    }

    /// A copy with `f` times the tenants (at least [`MIN_SCALED_TENANTS`], or all of them when
    /// there are fewer) and the documents (at least the per-tenant minimum), its own database
    /// prefix, and — when `times` is set — every duration of the workload and its phases times
    /// `f` as well (rates, concurrency and pools stay: a smaller copy of the same load).
    ///
    /// # Errors
    /// The factor is out of range, or a role or hot tenant names a rank the scaled population
    /// no longer has.
    pub fn scaled(&self, f: f64, times: bool) -> Result<Scenario, ScaleError> {
        if !valid_scale(f) {
            return Err(ScaleError::Factor { factor: f });
        }
        if f == 1.0 {
            return Ok(self.clone());
        }
        let mut s = self.clone();
        let p = &mut s.population;
        let old_n = p.tenants;
        let n = ((f64::from(old_n) * f).round() as u32)
            .max(MIN_SCALED_TENANTS.min(old_n))
            .max(1);
        // The smallest tenant keeps its size relative to the mean tenant: where the floor keeps
        // more tenants than `f` would, the mean shrinks faster than `f`, and a minimum kept as it
        // was would give every tenant the minimum (a uniform population in place of a skewed
        // one).
        let mean = p.documents as f64 / f64::from(old_n);
        p.tenants = n;
        p.documents = ((p.documents as f64 * f).round() as u64).max(1);
        let ratio = (p.documents as f64 / f64::from(n)) / mean;
        if ratio < 1.0 {
            p.min_per_tenant = ((p.min_per_tenant as f64 * ratio).round() as u64).max(1);
        }
        p.documents = p.documents.max(p.min_per_tenant * u64::from(n));
        if let Distribution::Explicit { shares, .. } = &mut p.distribution {
            shares.truncate(n as usize);
        }
        for (role, ids) in &mut p.roles {
            for id in ids.iter_mut() {
                let rank = rank_of(id, old_n).unwrap_or(0);
                if rank == 0 || rank > n {
                    return Err(ScaleError::Role {
                        factor: f,
                        tenants: n,
                        role: role.clone(),
                        tenant: id.clone(),
                        rank,
                    });
                }
                *id = tenant_id(rank, n);
            }
        }
        if let TenantChoiceSpec::Hot { tenants, .. } = &mut s.workload.tenants
            && let Some(&i) = tenants.iter().find(|&&i| i >= n as usize)
        {
            return Err(ScaleError::Hot {
                factor: f,
                tenants: n,
                rank: i + 1,
            });
        }
        s.prefix = scaled_prefix(&self.prefix, f);
        if times {
            s.scale *= f;
            let t = |d: Duration| Duration::from_secs_f64(d.as_secs_f64() * f);
            s.workload.stop = match s.workload.stop {
                StopCondition::Duration(d) => StopCondition::Duration(t(d)),
                StopCondition::Count(c) => {
                    StopCondition::Count(((c as f64 * f).round() as u64).max(1))
                }
            };
            s.workload.warmup = t(s.workload.warmup);
            s.workload.overrun = s.workload.overrun.map(t);
            for ph in &mut s.phases {
                ph.start = t(ph.start);
                ph.duration = ph.duration.map(t);
            }
            for fault in &mut s.faults {
                fault.at = t(fault.at);
                fault.duration = t(fault.duration);
            }
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quickstart() -> Scenario {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.toml");
        Scenario::load(&path).expect("quickstart parses")
    }

    #[test]
    fn scaling_shrinks_data_and_time_and_renames_databases() {
        let s = quickstart();
        let t = s.scaled(0.1, true).unwrap();
        assert_eq!(t.population.tenants, 20);
        assert_eq!(t.population.documents, 20_000);
        assert_eq!(t.prefix, "tb_quickstart_s0p1");
        assert_eq!(t.population.roles["noisy"], vec![tenant_id(1, 20)]);
        let (StopCondition::Duration(a), StopCondition::Duration(b)) =
            (s.workload.stop, t.workload.stop)
        else {
            panic!("quickstart stops by duration")
        };
        assert!((b.as_secs_f64() - a.as_secs_f64() * 0.1).abs() < 1e-9);
        // Data only: times unchanged; the floor keeps 20 tenants, and the minimum shrinks with
        // the mean tenant (200 documents over 20 tenants: 10 each, from 1,000), so the
        // population keeps its skew instead of every tenant at the old minimum.
        let u = s.scaled(0.001, false).unwrap();
        assert_eq!(u.population.tenants, 20);
        assert_eq!(u.population.documents, 200);
        assert_eq!(u.population.min_per_tenant, 1);
        let pop = u.build_population();
        assert!(
            pop.tenants[0].documents > 5 * pop.tenants[19].documents,
            "still skewed: {} vs {}",
            pop.tenants[0].documents,
            pop.tenants[19].documents
        );
        assert_eq!(u.workload.stop, s.workload.stop);
        assert_eq!(
            s.scaled(0.0, true).unwrap_err().to_string(),
            "scale 0: expected a factor between 0.000001 and 100"
        );
        assert!(s.scaled(f64::NAN, true).is_err());
    }

    #[test]
    fn generator_prefixes_name_profile_and_copy_apart() {
        assert_eq!(
            generator_prefix("tb_q_s0p05", "compound", 2),
            "tb_q_s0p05_gcompound_c2"
        );
        // Any profile name gives a prefix the recogniser accepts, and names stay apart.
        let a = generator_prefix("tb_q", "Tenant_Status", 1);
        let b = generator_prefix("tb_q", "tenant-status", 1);
        assert_ne!(a, b);
        for p in [&a, &b] {
            assert!(p.starts_with("tb_q_gtenantstatus"), "{p}");
            assert!(is_derived_prefix_of(p, "tb_q"), "{p}");
        }
        assert_ne!(
            generator_prefix("tb_q", "none", 1),
            generator_prefix("tb_q", "none", 2)
        );
    }

    #[test]
    fn derived_prefixes_are_recognised_and_nothing_else() {
        assert!(is_derived_prefix_of("tb_q_s0p01", "tb_q"));
        assert!(is_derived_prefix_of("tb_q_s0p01_hremote", "tb_q"));
        assert!(is_derived_prefix_of("tb_q", "tb_q"));
        assert!(!is_derived_prefix_of("tb_q_shared", "tb_q"));
        assert!(!is_derived_prefix_of("tb_q_s", "tb_q"));
        assert!(!is_derived_prefix_of("tb_qx_s1", "tb_q"));
        assert!(!is_derived_prefix_of("tb_q_hRemote", "tb_q"));
        // Load generators' copies, after any other segment and only as a pair.
        assert!(is_derived_prefix_of("tb_q_gcompound_c2", "tb_q"));
        assert!(is_derived_prefix_of("tb_q_s0p05_gnone_c11", "tb_q"));
        assert!(!is_derived_prefix_of("tb_q_c2", "tb_q"));
        assert!(!is_derived_prefix_of("tb_q_gnone", "tb_q"));
        assert!(!is_derived_prefix_of("tb_q_gnone_c", "tb_q"));
        assert!(!is_derived_prefix_of("tb_q_gnone_c1_s1", "tb_q"));
        assert!(!is_derived_prefix_of("tb_qx_gnone_c1", "tb_q"));
        assert!(
            is_derived_prefix_of("tb_q_gx_c1", "tb_q_gx_c1"),
            "a prefix of that shape"
        );
        assert_eq!(token(0.01), "0p01");
        assert_eq!(token(2.0), "2");
    }
}
