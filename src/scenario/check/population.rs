//! Checks of `[population]` (tenant and document counts, the size distribution, tiers and
//! roles) and of `[data.mix]` (each collection's share of a tenant's documents).

use std::collections::BTreeMap;

use toml::Spanned;

use super::Checker;
use crate::datagen::Collection;
use crate::population::{Distribution, PopulationSpec, Tier};
use crate::scenario::model::{DataModel, DistributionModel, PopulationModel};
use crate::scenario::{DEFAULT_MIX, DEFAULT_TIERS, ScenarioError};

pub(in crate::scenario) fn check_population(
    c: &Checker,
    m: &PopulationModel,
) -> Result<PopulationSpec, ScenarioError> {
    let tenants = *m.tenants.get_ref();
    if !(1..=1_000_000).contains(&tenants) {
        return Err(c.err(m.tenants.span(), "expected between 1 and 1,000,000 tenants"));
    }
    let documents = *m.documents.get_ref();
    if documents < 1 {
        return Err(c.err(m.documents.span(), "expected at least 1 document"));
    }
    let min = match &m.min_per_tenant {
        Some(v) if *v.get_ref() < 0 => {
            return Err(c.err(
                v.span(),
                "expected a minimum of 0 or more documents per tenant",
            ));
        }
        Some(v) => *v.get_ref() as u64,
        None => 1.min(documents as u64 / tenants as u64),
    };
    if min.saturating_mul(tenants as u64) > documents as u64 {
        let span = m
            .min_per_tenant
            .as_ref()
            .map_or(m.documents.span(), |v| v.span());
        return Err(c.err(
            span,
            format!(
                "{tenants} tenants with at least {min} documents each need {} documents, but the scenario has {documents}",
                min * tenants as u64
            ),
        ));
    }
    let distribution = check_distribution(c, &m.distribution, tenants as u32)?;

    let mut tier_percent = DEFAULT_TIERS;
    if let Some(t) = &m.tiers {
        let t = t.get_ref();
        for (i, v) in [&t.enterprise, &t.premium, &t.basic]
            .into_iter()
            .enumerate()
        {
            if let Some(v) = v {
                let x = *v.get_ref();
                if !(0.0..=100.0).contains(&x) {
                    return Err(c.err(
                        v.span(),
                        "expected a percentage of tenants between 0 and 100",
                    ));
                }
                tier_percent[i] = x;
            }
        }
        let sum: f64 = tier_percent.iter().sum();
        if sum > 100.0 + 1e-9 {
            return Err(c.err(
                m.tiers.as_ref().map_or(0..0, |t| t.span()),
                format!(
                    "tier shares add up to {sum}% of tenants; expected at most 100% (free tenants get the rest)"
                ),
            ));
        }
    }

    let mut roles = BTreeMap::new();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (role, ids) in &m.roles {
        let role_span = ids.span();
        if Tier::parse(role).is_some() {
            return Err(c.err(
                role_span,
                format!("role `{role}` is a tier name; expected another name"),
            ));
        }
        if role.is_empty()
            || !role
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch == '_' || ch.is_ascii_digit())
        {
            return Err(c.err(
                role_span,
                format!("role `{role}`: expected a lowercase name"),
            ));
        }
        let mut list = Vec::new();
        for id in ids.get_ref() {
            let rank =
                crate::population::rank_of(id.get_ref(), tenants as u32).ok_or_else(|| {
                    c.err(
                        id.span(),
                        format!(
                            "unknown tenant `{}`; expected an id from {} to {}",
                            id.get_ref(),
                            crate::population::tenant_id(1, tenants as u32),
                            crate::population::tenant_id(tenants as u32, tenants as u32)
                        ),
                    )
                })?;
            let canonical = crate::population::tenant_id(rank, tenants as u32);
            if let Some(prev) = seen.insert(canonical.clone(), role.clone()) {
                return Err(c.err(
                    id.span(),
                    format!("tenant `{canonical}` already has role `{prev}`; a tenant has at most one role"),
                ));
            }
            list.push(canonical);
        }
        if list.is_empty() {
            return Err(c.err(role_span, format!("role `{role}` names no tenant")));
        }
        roles.insert(role.clone(), list);
    }

    Ok(PopulationSpec {
        tenants: tenants as u32,
        documents: documents as u64,
        distribution,
        min_per_tenant: min,
        tier_percent,
        roles,
    })
}

fn check_distribution(
    c: &Checker,
    d: &Spanned<DistributionModel>,
    tenants: u32,
) -> Result<Distribution, ScenarioError> {
    Ok(match d.get_ref() {
        DistributionModel::Zipf { s } => {
            let v = *s.get_ref();
            if !(v > 0.0 && v.is_finite()) {
                return Err(c.err(s.span(), "expected a Zipf exponent s > 0"));
            }
            Distribution::Zipf { s: v }
        }
        DistributionModel::Pareto { alpha } => {
            let v = *alpha.get_ref();
            if !(v > 0.0 && v.is_finite()) {
                return Err(c.err(alpha.span(), "expected a Pareto alpha > 0"));
            }
            Distribution::Pareto { alpha: v }
        }
        DistributionModel::Uniform => Distribution::Uniform,
        DistributionModel::Explicit { shares, rest } => {
            let list = shares.get_ref();
            if list.is_empty() {
                return Err(c.err(shares.span(), "expected at least one share"));
            }
            if list.len() > tenants as usize {
                return Err(c.err(
                    shares.span(),
                    format!(
                        "{} shares for {tenants} tenants; expected at most one share per tenant",
                        list.len()
                    ),
                ));
            }
            let mut sum = 0.0;
            for s in list {
                let v = *s.get_ref();
                if !(v > 0.0 && v <= 1.0) {
                    return Err(c.err(
                        s.span(),
                        "expected a share of the total between 0 and 1 (0.3 = 30%)",
                    ));
                }
                sum += v;
            }
            if sum > 1.0 + 1e-9 {
                return Err(c.err(
                    shares.span(),
                    format!("shares add up to {sum}; expected at most 1 (100%)"),
                ));
            }
            if list.len() == tenants as usize && (sum - 1.0).abs() > 1e-9 {
                return Err(c.err(
                    shares.span(),
                    format!(
                        "every tenant has a share but they add up to {sum}; expected exactly 1"
                    ),
                ));
            }
            let rest = match rest {
                Some(r) => {
                    if matches!(r.get_ref(), DistributionModel::Explicit { .. }) {
                        return Err(c.err(
                            r.span(),
                            "expected `zipf`, `pareto` or `uniform` for the rest",
                        ));
                    }
                    check_distribution(c, r, tenants)?
                }
                None => Distribution::Uniform,
            };
            Distribution::Explicit {
                shares: list.iter().map(|s| *s.get_ref()).collect(),
                rest: Box::new(rest),
            }
        }
    })
}

pub(in crate::scenario) fn check_mix(
    c: &Checker,
    d: &DataModel,
) -> Result<[f64; Collection::COUNT], ScenarioError> {
    let Some(mix) = &d.mix else {
        return Ok(DEFAULT_MIX);
    };
    let m = mix.get_ref();
    let mut out = [0.0; Collection::COUNT];
    let fields = [&m.users, &m.orders, &m.tickets, &m.leads, &m.subscriptions];
    for (coll, field) in Collection::ALL.iter().zip(fields) {
        if let Some(v) = field {
            let x = *v.get_ref();
            if !(x >= 0.0 && x.is_finite()) {
                return Err(c.err(
                    v.span(),
                    format!("expected a weight >= 0 for `{}`", coll.name()),
                ));
            }
            out[*coll as usize] = x;
        }
    }
    if out.iter().sum::<f64>() <= 0.0 {
        return Err(c.err(
            mix.span(),
            "expected at least one collection with a weight > 0",
        ));
    }
    Ok(out)
}
