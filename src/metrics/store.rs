//! The results file of a run directory: reading (refusing other format versions with a message
//! that names both), writing atomically, and the per-trial spread every writer recomputes.

use std::path::{Path, PathBuf};

use super::histogram;
use super::results::{self as res, Results, Spread, Summary, Trial};

/// A results file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file could not be read or written.
    #[error("{what} {}", path.display())]
    Io {
        /// What was being done (`reading`, `writing`, …).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not a tenantbench results file (at the line and column where it stopped
    /// being one).
    #[error("{}:{line}:{column}: not a tenantbench results file: {reason}", path.display())]
    NotResults {
        /// The file.
        path: PathBuf,
        /// 1-based line of the first bad value.
        line: usize,
        /// 1-based column of the first bad value.
        column: usize,
        /// What was wrong there (serde_json's message without its position).
        reason: String,
    },
    /// The file is of another results format.
    #[error(
        "{}: results format {found}, expected {expected} (written by another tenantbench version; rerun, or report it with that version)",
        path.display()
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// Its format version.
        found: u32,
        /// This harness's.
        expected: u32,
    },
    /// The results could not be encoded.
    #[error("encoding results: {0}")]
    Encode(serde_json::Error),
}

/// Reads a run directory's results.
///
/// # Errors
/// Missing or unreadable file, JSON that is not a results file, or another format version.
pub fn read_results(dir: &Path) -> Result<Results, StoreError> {
    read_file(&dir.join("results.json"))
}

/// Reads results from a run directory or from a results file itself.
///
/// # Errors
/// As [`read_results`].
pub fn read_dir_or_file(path: &Path) -> Result<Results, StoreError> {
    if path.is_dir() {
        read_results(path)
    } else {
        read_file(path)
    }
}

fn read_file(path: &Path) -> Result<Results, StoreError> {
    let text = std::fs::read_to_string(path).map_err(|source| StoreError::Io {
        what: "reading",
        path: path.to_path_buf(),
        source,
    })?;
    parse_results(path, &text)
}

/// Parses results text; `path` is only used in messages.
///
/// # Errors
/// [`StoreError::NotResults`] at the line and column of the first bad value, or
/// [`StoreError::Version`] for another format.
pub fn parse_results(path: &Path, text: &str) -> Result<Results, StoreError> {
    // The version first, so results of another format say so instead of naming a field.
    #[derive(serde::Deserialize)]
    struct Version {
        schema_version: u32,
    }
    let not_results = |e: serde_json::Error| {
        let message = e.to_string();
        // serde_json appends " at line L column C"; the position leads the message instead.
        let reason = match message.rfind(" at line ") {
            Some(i) => message[..i].to_string(),
            None => message,
        };
        StoreError::NotResults {
            path: path.to_path_buf(),
            line: e.line().max(1),
            column: e.column().max(1),
            reason,
        }
    };
    let v: Version = serde_json::from_str(text).map_err(not_results)?;
    if v.schema_version != res::SCHEMA_VERSION {
        return Err(StoreError::Version {
            path: path.to_path_buf(),
            found: v.schema_version,
            expected: res::SCHEMA_VERSION,
        });
    }
    serde_json::from_str(text).map_err(not_results)
}

/// Writes results.json atomically (temporary file, then rename).
///
/// # Errors
/// The directory is not writable.
pub fn write_results(dir: &Path, r: &Results) -> Result<(), StoreError> {
    let tmp = dir.join("results.json.tmp");
    let json = serde_json::to_vec_pretty(r).map_err(StoreError::Encode)?;
    std::fs::write(&tmp, json).map_err(|source| StoreError::Io {
        what: "writing",
        path: tmp.clone(),
        source,
    })?;
    std::fs::rename(&tmp, dir.join("results.json")).map_err(|source| StoreError::Io {
        what: "renaming to results.json",
        path: tmp.clone(),
        source,
    })
}

/// Per variant, phase and class (and `all`): per-trial throughput and percentiles, and the
/// merged histogram's summary.
pub fn spread(r: &Results) -> Vec<Spread> {
    let mut out = Vec::new();
    for v in &r.variants {
        let trials: Vec<&Trial> = r.trials_of(&v.id).collect();
        if trials.is_empty() {
            continue;
        }
        for ph in r.phases.iter().filter(|p| p.measured) {
            let mut classes: Vec<String> = vec!["all".into()];
            classes.extend(r.classes.iter().cloned());
            for class in classes {
                if let Some(s) = class_spread(&trials, &v.id, &ph.name, class) {
                    out.push(s);
                }
            }
        }
    }
    out
}

/// The spread of one variant, phase and class over its trials; `None` without operations.
fn class_spread(trials: &[&Trial], variant: &str, phase: &str, class: String) -> Option<Spread> {
    let mut merged = histogram();
    let mut tput = Vec::new();
    let mut p50 = Vec::new();
    let mut p99 = Vec::new();
    for t in trials {
        let mut h = histogram();
        let mut n = 0.0;
        for g in t.groups.iter().filter(|g| {
            g.phase == phase
                && g.outcome == crate::metrics::results::GroupOutcome::Ok
                && (class == "all" || g.class == class)
        }) {
            if let Ok(x) = res::decode(&g.response_histogram) {
                h.add(&x).expect("auto-resizing histograms add");
            }
            n += g.throughput;
        }
        if h.is_empty() {
            continue;
        }
        merged.add(&h).expect("auto-resizing histograms add");
        tput.push((n * 10.0).round() / 10.0);
        p50.push(h.value_at_quantile(0.5));
        p99.push(h.value_at_quantile(0.99));
    }
    if merged.is_empty() {
        return None;
    }
    let range = match (p99.iter().min(), p99.iter().max()) {
        (Some(&lo), Some(&hi)) if p99.len() >= 2 => {
            Some(((hi - lo) as f64 / lo.max(1) as f64 * 1000.0).round() / 1000.0)
        }
        _ => None,
    };
    Some(Spread {
        variant: variant.to_string(),
        phase: phase.to_string(),
        class,
        throughput: tput,
        p50_us: p50,
        p99_us: p99,
        merged: Summary::of(&merged),
        p99_relative_range: range,
    })
}
