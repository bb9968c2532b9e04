//! What people read for a variant: the scenario's own `label`, else a short name made of what
//! differs between the run's variants (`compound index`, `per-tenant · pool 10`). Ids such as
//! `shared-compound-p100-single-c8` stay what files, selections and results.json use; every
//! report, summary and gate output names variants through one [`Names`] built per run.

use std::collections::BTreeMap;

use crate::metrics::results::{Results, VariantInfo};

/// Each variant's name, by id, for one run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Names {
    by_id: BTreeMap<String, String>,
}

impl Names {
    /// The names of `r`'s variants: a scenario `label` where given; else the values of the
    /// axes that differ between the variants, in a fixed order (database, layout, indexes,
    /// strategy, pool, load, data scale); a run of one variant is named by its layout and
    /// indexes. Two variants that would read the same (their only difference is one no axis
    /// shows) keep their ids, so a name never stands for two variants.
    pub fn of(r: &Results) -> Names {
        Names::of_variants(&r.variants)
    }

    /// [`Names::of`] over a list of variants.
    pub fn of_variants(variants: &[VariantInfo]) -> Names {
        let phrases: Vec<Vec<(Axis, String)>> = variants.iter().map(phrases).collect();
        let varies = |axis: Axis| {
            let mut values = phrases
                .iter()
                .filter_map(|p| p.iter().find(|(a, _)| *a == axis).map(|(_, s)| s));
            let first = values.next();
            values.any(|v| Some(v) != first)
        };
        let mut shown: Vec<Axis> = Axis::ALL.into_iter().filter(|a| varies(*a)).collect();
        if shown.is_empty() {
            shown = vec![Axis::Layout, Axis::Indexes];
        }
        let mut names: Vec<String> = variants
            .iter()
            .zip(&phrases)
            .map(|(v, p)| match &v.name {
                Some(n) => n.clone(),
                None => p
                    .iter()
                    .filter(|(a, _)| shown.contains(a))
                    .map(|(_, s)| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" · "),
            })
            .collect();
        let taken = names.clone();
        for (n, v) in names.iter_mut().zip(variants) {
            if n.is_empty() || taken.iter().filter(|t| *t == n).count() > 1 {
                *n = v.id.clone();
            }
        }
        Names {
            by_id: variants.iter().map(|v| v.id.clone()).zip(names).collect(),
        }
    }

    /// The name of variant `id` (the id itself when the run has no such variant, e.g. a
    /// baseline run's variant that this run lacks).
    pub fn get<'a>(&'a self, id: &'a str) -> &'a str {
        self.by_id.get(id).map_or(id, String::as_str)
    }

    /// `name (id)`, or the id alone when the name is the id: for lines that must say both.
    pub fn with_id(&self, id: &str) -> String {
        match self.get(id) {
            n if n == id => id.to_string(),
            n => format!("{n} ({id})"),
        }
    }
}

/// The parts a variant's derived name is made of, in the order they are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Axis {
    Backend,
    Layout,
    Indexes,
    Strategy,
    Pool,
    MinPool,
    Load,
    Workers,
    Scale,
}

impl Axis {
    const ALL: [Axis; 9] = [
        Axis::Backend,
        Axis::Layout,
        Axis::Indexes,
        Axis::Strategy,
        Axis::Pool,
        Axis::MinPool,
        Axis::Load,
        Axis::Workers,
        Axis::Scale,
    ];
}

/// A variant's value on each axis, in words.
fn phrases(v: &VariantInfo) -> Vec<(Axis, String)> {
    let backend = match v.backend.as_str() {
        "mongodb" => "MongoDB".to_string(),
        "postgres" => "PostgreSQL".to_string(),
        other => other.to_string(),
    };
    let layout = match (v.layout.as_str(), &v.hybrid) {
        ("hybrid", Some(set)) => format!("hybrid ({set} rules)"),
        ("schema-per-tenant", _) => "schema per tenant".to_string(),
        ("rls", _) => "row-level security".to_string(),
        (l, _) => l.to_string(),
    };
    let indexes = match v.indexes.as_str() {
        "none" => "no index".to_string(),
        "tenant" | "compound" | "partial" => format!("{} index", v.indexes),
        other => format!("indexes {other}"),
    };
    let strategy = match v.strategy.as_str() {
        "client-per-tenant" => "client per tenant".to_string(),
        "single-client" => "single client".to_string(),
        other => other.to_string(),
    };
    let mut out = vec![
        (Axis::Backend, backend),
        (Axis::Layout, layout),
        (Axis::Indexes, indexes),
        (Axis::Strategy, strategy),
        (Axis::Pool, format!("pool {}", v.max_pool_size)),
        (Axis::MinPool, format!("min pool {}", v.min_pool_size)),
    ];
    match (v.concurrency, v.rate, v.workers) {
        (Some(c), _, _) => out.push((Axis::Load, format!("concurrency {c}"))),
        (None, Some(rate), workers) => {
            out.push((Axis::Load, format!("{rate} ops/s")));
            if let Some(w) = workers {
                out.push((Axis::Workers, format!("{w} in flight")));
            }
        }
        (None, None, _) => {}
    }
    out.push((Axis::Scale, format!("data × {}", v.scale)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variant(id: &str, layout: &str, indexes: &str, pool: u32) -> VariantInfo {
        VariantInfo {
            id: id.into(),
            label: String::new(),
            name: None,
            backend: "mongodb".into(),
            layout: layout.into(),
            hybrid: None,
            indexes: indexes.into(),
            max_pool_size: pool,
            min_pool_size: 0,
            strategy: "single-client".into(),
            concurrency: Some(8),
            rate: None,
            workers: None,
            scale: 1.0,
            documents: None,
        }
    }

    #[test]
    fn names_say_what_differs_between_the_variants() {
        let vs = [
            variant("a", "shared", "none", 100),
            variant("b", "shared", "tenant", 100),
            variant("c", "shared", "compound", 100),
        ];
        let n = Names::of_variants(&vs);
        assert_eq!(
            [n.get("a"), n.get("b"), n.get("c")],
            ["no index", "tenant index", "compound index"]
        );
        let vs = [
            variant("a", "shared", "compound", 100),
            variant("b", "per-tenant", "compound", 10),
        ];
        let n = Names::of_variants(&vs);
        assert_eq!(n.get("b"), "per-tenant · pool 10");
        assert_eq!(n.with_id("b"), "per-tenant · pool 10 (b)");
    }

    #[test]
    fn a_scenario_label_wins_and_names_never_collide() {
        let mut vs = vec![
            variant("a", "shared", "none", 100),
            variant("b", "shared", "tenant", 100),
        ];
        vs[1].name = Some("the index".into());
        let n = Names::of_variants(&vs);
        assert_eq!([n.get("a"), n.get("b")], ["no index", "the index"]);
        // Two hybrid variants whose rule sets are not recorded read the same: ids instead.
        let vs = [
            variant("h1", "hybrid", "none", 100),
            variant("h2", "hybrid", "none", 100),
            variant("s", "shared", "none", 100),
        ];
        let n = Names::of_variants(&vs);
        assert_eq!(
            [n.get("h1"), n.get("h2"), n.get("s")],
            ["h1", "h2", "shared"]
        );
        // One variant: its layout and indexes; an unknown id reads as itself.
        let n = Names::of_variants(&vs[2..]);
        assert_eq!(n.get("s"), "shared · no index");
        assert_eq!(n.get("elsewhere"), "elsewhere");
    }
}
