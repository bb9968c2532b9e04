//! Sweeps: throughput and p99 against a numeric knob of the matrix (pool size, concurrency,
//! rate, data size), one line per combination of the other settings.

use std::collections::BTreeMap;

use super::{mean_throughput, spread};
use crate::metrics::results::{self as res, Results};

/// A numeric knob of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Knob {
    /// `max_pool_size`.
    Pool,
    /// Closed-loop `concurrency`.
    Concurrency,
    /// Open-loop `rate`.
    Rate,
    /// Data size: the documents of the variant's population (the matrix's `scale` axis).
    Documents,
}

impl Knob {
    /// Every knob.
    pub const ALL: [Knob; 4] = [Knob::Pool, Knob::Concurrency, Knob::Rate, Knob::Documents];

    /// Its scenario key.
    pub fn name(self) -> &'static str {
        match self {
            Knob::Pool => "max_pool_size",
            Knob::Concurrency => "concurrency",
            Knob::Rate => "rate",
            Knob::Documents => "documents",
        }
    }

    /// Axis title.
    pub fn axis(self) -> &'static str {
        match self {
            Knob::Pool => "max_pool_size (connections per client)",
            Knob::Concurrency => "concurrency (closed-loop workers)",
            Knob::Rate => "rate (operations/s, open loop)",
            Knob::Documents => "documents (data size of the variant's population)",
        }
    }

    fn value(self, v: &res::VariantInfo) -> Option<f64> {
        match self {
            Knob::Pool => Some(f64::from(v.max_pool_size)),
            Knob::Concurrency => v.concurrency.map(f64::from),
            Knob::Rate => v.rate,
            Knob::Documents => v.documents.map(|d| d as f64),
        }
    }

    /// The variant's other settings: variants that share them lie on one line of the sweep.
    fn rest(self, v: &res::VariantInfo) -> Vec<(&'static str, String)> {
        let mut out = vec![
            ("backend", v.backend.clone()),
            ("layout", v.layout.clone()),
            ("indexes", v.indexes.clone()),
            ("strategy", v.strategy.clone()),
        ];
        for k in Knob::ALL {
            if k != self
                && let Some(x) = k.value(v)
            {
                out.push((k.name(), format!("{x}")));
            }
        }
        out
    }
}

/// A point of a sweep: (knob value, mean successful ops/s, merged p99 ms, successful
/// operations behind that p99).
pub type SweepPoint = (f64, f64, f64, u64);

/// One line of a sweep: variants that differ only in the knob.
#[derive(Debug, Clone)]
pub struct SweepLine {
    /// What the line's variants share, where it differs between lines (`shared tenant`).
    pub label: String,
    /// Its points, by knob value.
    pub points: Vec<SweepPoint>,
}

/// Throughput and p99 against one numeric knob.
#[derive(Debug, Clone)]
pub struct Sweep {
    /// The knob.
    pub knob: Knob,
    /// One line per combination of the other settings.
    pub lines: Vec<SweepLine>,
}

/// Sweeps: every knob that takes two values or more across variants, with at least one line of
/// two points or more.
pub fn sweeps(r: &Results) -> Vec<Sweep> {
    let mut out = Vec::new();
    for knob in Knob::ALL {
        let mut groups: BTreeMap<Vec<(&'static str, String)>, Vec<SweepPoint>> = BTreeMap::new();
        for v in &r.variants {
            let (Some(x), Some(s)) = (knob.value(v), spread(r, &v.id, "all")) else {
                continue;
            };
            if s.merged.count == 0 {
                continue;
            }
            groups.entry(knob.rest(v)).or_default().push((
                x,
                mean_throughput(s),
                s.merged.p99_us as f64 / 1000.0,
                s.merged.count,
            ));
        }
        // A line needs the knob to take two values: variants that differ only in what the
        // knobs do not name (a hybrid rule set, say) share one x and are no sweep.
        groups.retain(|_, pts| pts.iter().any(|p| p.0 != pts[0].0));
        if groups.is_empty() {
            continue;
        }
        // Label each line by the settings that differ between lines.
        let keys: Vec<&Vec<(&str, String)>> = groups.keys().collect();
        let differs = |i: usize| keys.iter().any(|k| k[i] != keys[0][i]);
        let lines = groups
            .iter()
            .map(|(rest, pts)| {
                let mut pts = pts.clone();
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                let label: Vec<String> = rest
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| differs(*i))
                    .map(|(_, (k, v))| format!("{k}={v}"))
                    .collect();
                SweepLine {
                    label: if label.is_empty() {
                        "all variants".into()
                    } else {
                        label.join(" ")
                    },
                    points: pts,
                }
            })
            .collect();
        out.push(Sweep { knob, lines });
    }
    out
}
