//! The load generators of a run split over several (`run --worker i/N`, then `merge`): each
//! one's share of the variants and its own CPU, as results.json records them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One load generator of a run split over several (`run --worker i/N`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
pub struct Generator {
    /// `i/N`.
    pub worker: String,
    /// Host name of its machine (a pod's name on Kubernetes).
    pub host: String,
    /// Logical CPUs of its machine.
    pub cores: u32,
    /// Its share of each variant: the load and pool it ran.
    pub shares: Vec<GeneratorShare>,
    /// Its harness CPU in each trial (filled in by `merge`, from its trials' evidence).
    #[serde(default)]
    pub trials: Vec<GeneratorTrial>,
}

/// A generator's share of one variant.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
pub struct GeneratorShare {
    /// The variant's id (the whole variant's).
    pub variant: String,
    /// Closed loop: its workers.
    pub concurrency: Option<u32>,
    /// Open loop: its operations per second.
    pub rate: Option<f64>,
    /// Open loop: its in-flight cap.
    pub workers: Option<u32>,
    /// Its most connections per client.
    pub max_pool_size: u32,
}

/// A generator's part of one trial.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
pub struct GeneratorTrial {
    /// Variant id.
    pub variant: String,
    /// Trial number.
    pub trial: u32,
    /// Operations it issued.
    pub operations: u64,
    /// Its harness CPU seconds (user + system).
    pub harness_s: f64,
    /// Wall-clock seconds of its measurement.
    pub wall_s: f64,
}
