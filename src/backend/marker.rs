//! The marker every database (or schema) the harness creates carries, and the decisions made
//! from it for every database kind: is a database ours, does it hold the scenario's data, may it
//! be reused, dropped or run against. Each database stores the marker its own way (a
//! `_tenantbench` collection, a `_tenantbench` table) and reads it into [`Marker`].

use serde::Serialize;

use crate::datagen::DATAGEN_VERSION;
use crate::layout::{DbPlan, Layout, Rule};
use crate::population::{Population, PopulationSpec};
use crate::scenario::Scenario;

/// What a marker says, whatever database stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    /// Database name prefix of the scenario that created it.
    pub prefix: String,
    /// Scenario name.
    pub scenario: String,
    /// Layout name.
    pub layout: String,
    /// Placement kind of the database (`shared`, `dedicated`, `pooled`); empty where the
    /// database does not store it.
    pub placement: String,
    /// Hash of everything that defines the data: population, collection mix, seed, datagen
    /// version, layout (and hybrid rules).
    pub definition_hash: String,
    /// The index profile the database's indexes match.
    pub index_profile: String,
    /// Set only when the whole seed finished.
    pub complete: bool,
    /// Set by write operations: the data no longer equals what the generator says.
    pub dirty: bool,
    /// Tenants in this database (or schema).
    pub tenants: u64,
    /// Records (documents, rows) in it when seeded.
    pub records: u64,
}

/// What a database holds, as far as the harness is concerned.
#[derive(Debug, Clone, PartialEq)]
pub enum DbState {
    /// Does not exist, or holds nothing at all.
    Empty,
    /// Carries a tenantbench marker.
    Marked(Box<Marker>),
    /// Holds data but no marker: somebody else's; never written or dropped.
    Foreign,
}

/// The hash of everything that defines a layout's data (not the index profile, not the prefix).
pub fn definition_hash(scenario: &Scenario, layout: Layout) -> String {
    #[derive(Serialize)]
    struct Def<'a> {
        datagen_version: u32,
        seed: u64,
        population: &'a PopulationSpec,
        mix: &'a [f64],
        scale: f64,
        layout: &'a str,
        hybrid_rules: Option<&'a [Rule]>,
    }
    let def = Def {
        datagen_version: DATAGEN_VERSION,
        seed: scenario.seed,
        population: &scenario.population,
        mix: &scenario.mix,
        scale: 1.0,
        layout: layout.name(),
        hybrid_rules: (layout == Layout::Hybrid).then_some(&scenario.hybrid_rules[..]),
    };
    let json = serde_json::to_vec(&def).expect("definition serialises");
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&json))
}

/// A new (incomplete) marker for a database of a placement.
pub fn new_marker(
    scenario: &Scenario,
    layout: Layout,
    db: &DbPlan,
    pop: &Population,
    profile: &str,
) -> Marker {
    Marker {
        prefix: scenario.prefix.clone(),
        scenario: scenario.name.clone(),
        layout: layout.name().into(),
        placement: format!("{:?}", db.kind).to_lowercase(),
        definition_hash: definition_hash(scenario, layout),
        index_profile: profile.into(),
        complete: false,
        dirty: false,
        tenants: db.tenants.len() as u64,
        records: db.tenants.iter().map(|&t| pop.tenants[t].documents).sum(),
    }
}

/// Why `verify` distrusts a database's data before reading it, if it does.
pub fn verify_problem(name: &str, state: &DbState, hash: &str) -> Option<String> {
    match state {
        DbState::Empty => Some(format!("{name}: missing (not seeded in this layout?)")),
        DbState::Foreign => Some(format!("{name}: no tenantbench marker")),
        DbState::Marked(m) if m.definition_hash != hash => Some(format!(
            "{name}: seeded from another definition (marker {}, scenario {hash})",
            m.definition_hash
        )),
        DbState::Marked(m) if !m.complete => Some(format!("{name}: seed did not complete")),
        DbState::Marked(m) if m.dirty => Some(format!(
            "{name}: dirty (write operations ran; differences are expected)"
        )),
        DbState::Marked(_) => None,
    }
}

/// Why a database is not ready for a load generator that must not seed (`run --worker`), if it
/// is not: it must carry this prefix's marker for this data, complete, with the index profile.
/// Dirty data is accepted: the generators of one trial write into the same copy of the data,
/// and one that checks after another has started writing finds it dirty (`run --seed-only`
/// reloads what an earlier run wrote into).
pub fn readiness_problem(
    state: &DbState,
    prefix: &str,
    hash: &str,
    indexes: &str,
) -> Option<String> {
    match state {
        DbState::Marked(m) if m.prefix != prefix => Some("belongs to another prefix".into()),
        DbState::Marked(m) if m.definition_hash != hash => {
            Some("holds other data (definition hash differs)".into())
        }
        DbState::Marked(m) if !m.complete => Some("is incomplete".into()),
        DbState::Marked(m) if m.index_profile != indexes => Some(format!(
            "has index profile `{}`, not `{indexes}`",
            m.index_profile
        )),
        DbState::Marked(_) => None,
        DbState::Empty => Some("does not exist".into()),
        DbState::Foreign => Some("is not a tenantbench database".into()),
    }
}

/// A database carrying a tenantbench marker, as `ls` lists it.
#[derive(Debug, Clone)]
pub struct MarkedDb {
    /// Database name.
    pub name: String,
    /// Its marker.
    pub marker: Marker,
    /// Its size on disk, bytes; `None` when not asked for (`ls` without `--sizes` on MongoDB,
    /// where `dbStats` can read the whole database).
    pub size_bytes: Option<u64>,
}

/// What a drop did.
#[derive(Debug, Clone, Default)]
pub struct DropOutcome {
    /// Databases dropped.
    pub dropped: Vec<String>,
    /// Databases with the prefix left alone, and why.
    pub refused: Vec<(String, String)>,
}

/// A marker's state in words.
pub fn state_words(complete: bool, dirty: bool) -> &'static str {
    match (complete, dirty) {
        (true, false) => "complete",
        (true, true) => "complete, dirty",
        (false, false) => "incomplete",
        (false, true) => "incomplete, dirty",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker() -> Marker {
        Marker {
            prefix: "tb_x".into(),
            scenario: "x".into(),
            layout: "shared".into(),
            placement: "shared".into(),
            definition_hash: "h".into(),
            index_profile: "tenant".into(),
            complete: true,
            dirty: false,
            tenants: 3,
            records: 30,
        }
    }

    #[test]
    fn readiness_accepts_dirty_data_and_names_every_other_problem() {
        let ready =
            |m: Marker| readiness_problem(&DbState::Marked(Box::new(m)), "tb_x", "h", "tenant");
        assert_eq!(ready(marker()), None);
        assert_eq!(
            ready(Marker {
                dirty: true,
                ..marker()
            }),
            None
        );
        assert!(
            ready(Marker {
                complete: false,
                ..marker()
            })
            .is_some_and(|p| p.contains("incomplete"))
        );
        assert!(
            ready(Marker {
                index_profile: "none".into(),
                ..marker()
            })
            .is_some_and(|p| p.contains("`none`"))
        );
        assert!(
            ready(Marker {
                prefix: "tb_y".into(),
                ..marker()
            })
            .is_some_and(|p| p.contains("prefix"))
        );
        assert!(readiness_problem(&DbState::Empty, "tb_x", "h", "tenant").is_some());
    }

    #[test]
    fn verify_distrusts_dirty_incomplete_and_foreign_data() {
        let m = |m: Marker| verify_problem("d", &DbState::Marked(Box::new(m)), "h");
        assert_eq!(m(marker()), None);
        assert!(
            m(Marker {
                dirty: true,
                ..marker()
            })
            .is_some_and(|p| p.contains("dirty"))
        );
        assert!(
            m(Marker {
                definition_hash: "g".into(),
                ..marker()
            })
            .is_some_and(|p| p.contains("another definition"))
        );
        assert!(
            verify_problem("d", &DbState::Foreign, "h")
                .is_some_and(|p| p.contains("no tenantbench marker"))
        );
    }
}
