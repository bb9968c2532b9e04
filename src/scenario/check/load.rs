//! Checks of `[load]` (seeding batch size, workers, index profile) and of the scenario's own
//! `[index_profile.NAME]` tables (fields each collection has, none twice in one index).

use std::collections::{BTreeMap, BTreeSet};

use toml::Spanned;

use super::Checker;
use crate::datagen::Collection;
use crate::scenario::model::{IndexProfileModel, LoadModel};
use crate::scenario::{
    BUILTIN_PROFILES, IndexKeys, LoadSpec, MAX_BATCH, MAX_WORKERS, ScenarioError,
};

/// Index profiles by name: collection → indexes.
type Profiles = BTreeMap<String, BTreeMap<Collection, Vec<IndexKeys>>>;

/// `[index_profile.NAME]`: names other than the built-in ones, indexes per collection.
pub(in crate::scenario) fn check_profiles(
    c: &Checker,
    profiles: &BTreeMap<String, Spanned<IndexProfileModel>>,
) -> Result<Profiles, ScenarioError> {
    let mut out = BTreeMap::new();
    for (name, p) in profiles {
        if BUILTIN_PROFILES.contains(&name.as_str()) {
            return Err(c.err(
                p.span(),
                format!("index profile `{name}` is built in; choose another name"),
            ));
        }
        let m = p.get_ref();
        let lists = [&m.users, &m.orders, &m.tickets, &m.leads, &m.subscriptions];
        let mut per = BTreeMap::new();
        for (coll, list) in Collection::ALL.iter().zip(lists) {
            let Some(list) = list else { continue };
            let mut indexes = Vec::new();
            for idx in list {
                indexes.push(check_index(c, *coll, idx)?);
            }
            per.insert(*coll, indexes);
        }
        out.insert(name.clone(), per);
    }
    Ok(out)
}

/// One index of a collection: at least one field, each one the collection has (`-` in front for
/// descending), none twice.
fn check_index(
    c: &Checker,
    coll: Collection,
    idx: &Spanned<Vec<Spanned<String>>>,
) -> Result<IndexKeys, ScenarioError> {
    if idx.get_ref().is_empty() {
        return Err(c.err(idx.span(), "expected at least one field in an index"));
    }
    let mut keys: IndexKeys = Vec::new();
    let mut names = BTreeSet::new();
    for f in idx.get_ref() {
        let raw = f.get_ref();
        let (field, desc) = match raw.strip_prefix('-') {
            Some(rest) => (rest, true),
            None => (raw.as_str(), false),
        };
        if !coll.has_field(field) {
            return Err(c.err(
                f.span(),
                format!(
                    "`{}` has no field `{field}`; expected one of {} (prefix `-` for descending)",
                    coll.name(),
                    coll.fields().join(", ")
                ),
            ));
        }
        if !names.insert(field.to_string()) {
            return Err(c.err(
                f.span(),
                format!("field `{field}` appears twice in one index"),
            ));
        }
        keys.push((field.to_string(), desc));
    }
    Ok(keys)
}

/// `[load]`: batch size and workers within their limits, a known index profile (`tenant` by
/// default).
pub(in crate::scenario) fn check_load(
    c: &Checker,
    l: &LoadModel,
    profiles: &Profiles,
) -> Result<LoadSpec, ScenarioError> {
    let batch_size = match &l.batch_size {
        Some(v) if !(1..=MAX_BATCH).contains(v.get_ref()) => {
            return Err(c.err(
                v.span(),
                format!("expected a batch size between 1 and {MAX_BATCH}"),
            ));
        }
        Some(v) => *v.get_ref() as usize,
        None => 1000,
    };
    let workers = match &l.workers {
        Some(v) if !(1..=MAX_WORKERS).contains(v.get_ref()) => {
            return Err(c.err(
                v.span(),
                format!("expected between 1 and {MAX_WORKERS} workers"),
            ));
        }
        Some(v) => *v.get_ref() as usize,
        None => 4,
    };
    let indexes = match &l.indexes {
        Some(v) => {
            let name = v.get_ref();
            if !BUILTIN_PROFILES.contains(&name.as_str()) && !profiles.contains_key(name) {
                return Err(c.err(
                    v.span(),
                    format!(
                        "unknown index profile `{name}`; expected one of {}",
                        BUILTIN_PROFILES
                            .iter()
                            .map(|s| s.to_string())
                            .chain(profiles.keys().cloned())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            name.clone()
        }
        None => "tenant".into(),
    };
    Ok(LoadSpec {
        batch_size,
        workers,
        indexes,
        index_build: l.index_build.unwrap_or_default(),
    })
}
