//! Checks of `[population]` (tenant and document counts, the size distribution, tiers and
//! roles) and of `[data.mix]` (each collection's share of a tenant's documents).

use std::collections::BTreeMap;

use toml::Spanned;

use super::Checker;
use crate::datagen::Collection;
use crate::population::{Distribution, PopulationSpec, Tier, rank_of, tenant_id};
use crate::scenario::model::{DataModel, DistributionModel, PopulationModel, TiersModel};
use crate::scenario::{DEFAULT_MIX, DEFAULT_TIERS, ScenarioError};

/// `[population]`: counts, the per-tenant minimum, the distribution, tiers and roles.
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
    let min = check_min_per_tenant(c, m, tenants, documents)?;
    let distribution = check_distribution(c, &m.distribution, tenants as u32)?;
    let tier_percent = match &m.tiers {
        Some(t) => check_tiers(c, t)?,
        None => DEFAULT_TIERS,
    };
    let roles = check_roles(c, &m.roles, tenants as u32)?;
    Ok(PopulationSpec {
        tenants: tenants as u32,
        documents: documents as u64,
        distribution,
        min_per_tenant: min,
        tier_percent,
        roles,
    })
}

/// `min_per_tenant`: at least 0, and no more than the documents allow; by default 1 when there
/// are at least as many documents as tenants, else 0.
fn check_min_per_tenant(
    c: &Checker,
    m: &PopulationModel,
    tenants: i64,
    documents: i64,
) -> Result<u64, ScenarioError> {
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
    Ok(min)
}

/// `[population.tiers]`: percentages of tenants (the defaults where one is left out) that add up
/// to at most 100.
fn check_tiers(c: &Checker, tiers: &Spanned<TiersModel>) -> Result<[f64; 3], ScenarioError> {
    let mut tier_percent = DEFAULT_TIERS;
    let t = tiers.get_ref();
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
            tiers.span(),
            format!(
                "tier shares add up to {sum}% of tenants; expected at most 100% (free tenants get the rest)"
            ),
        ));
    }
    Ok(tier_percent)
}

/// `[population.roles]`: lowercase names other than the tiers', each naming existing tenants
/// (as canonical ids), a tenant in at most one role.
fn check_roles(
    c: &Checker,
    m: &BTreeMap<String, Spanned<Vec<Spanned<String>>>>,
    tenants: u32,
) -> Result<BTreeMap<String, Vec<String>>, ScenarioError> {
    let mut roles = BTreeMap::new();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (role, ids) in m {
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
            let canonical = role_tenant(c, id, tenants)?;
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
    Ok(roles)
}

/// A tenant id in a role, as its canonical spelling; an unknown one says which ids exist.
fn role_tenant(c: &Checker, id: &Spanned<String>, tenants: u32) -> Result<String, ScenarioError> {
    let rank = rank_of(id.get_ref(), tenants).ok_or_else(|| {
        c.err(
            id.span(),
            format!(
                "unknown tenant `{}`; expected an id from {} to {}",
                id.get_ref(),
                tenant_id(1, tenants),
                tenant_id(tenants, tenants)
            ),
        )
    })?;
    Ok(tenant_id(rank, tenants))
}

/// `distribution`: Zipf and Pareto parameters > 0, or explicit shares (and their `rest`).
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
            check_explicit(c, shares, rest.as_deref(), tenants)?
        }
    })
}

/// An explicit distribution: shares in (0, 1] of the largest tenants, at most one per tenant and
/// adding up to at most 1 (exactly 1 when every tenant has one); the rest by `rest` (uniform by
/// default, not explicit again).
fn check_explicit(
    c: &Checker,
    shares: &Spanned<Vec<Spanned<f64>>>,
    rest: Option<&Spanned<DistributionModel>>,
    tenants: u32,
) -> Result<Distribution, ScenarioError> {
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
            format!("every tenant has a share but they add up to {sum}; expected exactly 1"),
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
    Ok(Distribution::Explicit {
        shares: list.iter().map(|s| *s.get_ref()).collect(),
        rest: Box::new(rest),
    })
}

/// `[data.mix]`: weights >= 0 per collection, at least one > 0 ([`DEFAULT_MIX`] without one).
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
