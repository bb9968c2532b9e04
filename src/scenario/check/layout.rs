//! Checks of `[layout.hybrid]`: the default placement rules and the named rule sets a matrix
//! variant may pick — which tenants a rule matches, where it places them, on which server.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;

use super::Checker;
use crate::layout::{Matcher, PlacementKind, Rule};
use crate::population::{PopulationSpec, Tier};
use crate::scenario::model::{LayoutModel, RuleModel};
use crate::scenario::{ScenarioError, default_hybrid_rules};

/// Named hybrid rule sets.
type RuleSets = BTreeMap<String, Vec<Rule>>;

/// `[layout.hybrid]`: the default rules ([`default_hybrid_rules`] when there are none, or only
/// named sets) and the named sets, each with a lowercase name other than `default` and a rule.
pub(in crate::scenario) fn check_hybrid(
    c: &Checker,
    l: &LayoutModel,
    p: &PopulationSpec,
) -> Result<(Vec<Rule>, RuleSets), ScenarioError> {
    let Some(h) = &l.hybrid else {
        return Ok((default_hybrid_rules(), BTreeMap::new()));
    };
    let default = if h.rule.is_empty() && !h.sets.is_empty() {
        default_hybrid_rules()
    } else {
        check_rules(c, &h.rule, p)?
    };
    let mut sets = BTreeMap::new();
    for (name, rules) in &h.sets {
        let n = name.get_ref();
        if n.is_empty()
            || n == "default"
            || !n
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return Err(c.err(
                name.span(),
                format!("hybrid rule set `{n}`: expected a name of lowercase letters and digits, not `default`"),
            ));
        }
        if rules.is_empty() {
            return Err(c.err(name.span(), format!("hybrid rule set `{n}` has no rule")));
        }
        sets.insert(n.clone(), check_rules(c, rules, p)?);
    }
    Ok((default, sets))
}

/// A list of hybrid rules, in order.
fn check_rules(
    c: &Checker,
    list: &[Spanned<RuleModel>],
    p: &PopulationSpec,
) -> Result<Vec<Rule>, ScenarioError> {
    let mut rules = Vec::new();
    for r in list {
        let span = r.span();
        let r = r.get_ref();
        let matcher = check_matcher(c, r, span.clone(), p)?;
        let tenants_per_db = check_tenants_per_db(c, r, span)?;
        let uri_env = check_uri_env(c, r.uri_env.as_ref())?;
        rules.push(Rule {
            matcher,
            placement: r.placement,
            tenants_per_db,
            uri_env,
        });
    }
    Ok(rules)
}

/// Which tenants a rule matches: exactly one of a `class` (a tier or a role) or the `top` N
/// tenants by size.
fn check_matcher(
    c: &Checker,
    r: &RuleModel,
    span: Range<usize>,
    p: &PopulationSpec,
) -> Result<Matcher, ScenarioError> {
    match (&r.class, &r.top) {
        (Some(class), None) => {
            let name = class.get_ref();
            if Tier::parse(name).is_none() && !p.roles.contains_key(name) {
                let roles: Vec<&str> = p.roles.keys().map(String::as_str).collect();
                return Err(c.err(
                    class.span(),
                    format!(
                        "unknown class `{name}`; expected a tier (enterprise, premium, basic, free){}",
                        if roles.is_empty() { String::new() } else { format!(" or a role ({})", roles.join(", ")) }
                    ),
                ));
            }
            Ok(Matcher::Class(name.clone()))
        }
        (None, Some(top)) => {
            let n = *top.get_ref();
            if n < 1 || n > p.tenants as i64 {
                return Err(c.err(
                    top.span(),
                    format!(
                        "`top = {n}` dedicates more tenants than there are; expected 1 to {}",
                        p.tenants
                    ),
                ));
            }
            Ok(Matcher::Top(n as u32))
        }
        _ => Err(c.err(
            span,
            "expected exactly one of `class` or `top` in a hybrid rule",
        )),
    }
}

/// `tenants_per_db`: required by (and only allowed in) a `pooled` rule; 1 for the others.
fn check_tenants_per_db(
    c: &Checker,
    r: &RuleModel,
    span: Range<usize>,
) -> Result<u32, ScenarioError> {
    match (r.placement, &r.tenants_per_db) {
        (PlacementKind::Pooled, Some(k)) => {
            let v = *k.get_ref();
            if !(1..=100_000).contains(&v) {
                return Err(c.err(k.span(), "expected tenants_per_db between 1 and 100,000"));
            }
            Ok(v as u32)
        }
        (PlacementKind::Pooled, None) => Err(c.err(span, "a `pooled` rule needs `tenants_per_db`")),
        (_, Some(k)) => Err(c.err(
            k.span(),
            "`tenants_per_db` only applies to `placement = \"pooled\"`",
        )),
        (_, None) => Ok(1),
    }
}

/// `uri_env`: the name of the environment variable holding the server's URI, never a URI.
fn check_uri_env(
    c: &Checker,
    uri_env: Option<&Spanned<String>>,
) -> Result<Option<String>, ScenarioError> {
    let Some(v) = uri_env else {
        return Ok(None);
    };
    let name = v.get_ref();
    if name.is_empty()
        || !name
            .chars()
            .all(|ch| ch.is_ascii_uppercase() || ch.is_ascii_digit() || ch == '_')
    {
        return Err(c.err(
            v.span(),
            "expected the name of an environment variable (A-Z, 0-9, _) that holds the URI; never the URI itself",
        ));
    }
    Ok(Some(name.clone()))
}
