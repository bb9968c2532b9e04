//! The harness's memory through a trial: a resident-size sample per second and the slope that
//! tells a leak from start-up allocation.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The harness process's resident memory during a measurement (Linux).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
pub struct MemoryEvidence {
    /// Resident bytes at the start, after freed heap was returned to the kernel.
    pub start_bytes: u64,
    /// Peak resident bytes during the measurement (the kernel's mark, reset at the start).
    pub peak_bytes: u64,
    /// Resident bytes once a second during the measurement (seconds from the trial's start).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rss: Vec<RssSample>,
    /// Least-squares slope of `rss` in bytes per minute, over the samples after the first
    /// 10 % of the trial (start-up allocation is not growth); only for trials of a minute or
    /// more (a shorter one's start-up would read as a steep slope).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_slope_bytes_per_min: Option<f64>,
}

/// The harness's resident memory at one second of a trial.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct RssSample {
    /// Second since the trial's start.
    pub t: u64,
    /// Resident bytes (`VmRSS`).
    pub bytes: u64,
}

impl MemoryEvidence {
    /// The slope of `samples` in bytes per minute, skipping the first 10 % of them; `None`
    /// under a minute of samples.
    pub fn slope(samples: &[RssSample]) -> Option<f64> {
        if samples.len() < 60 {
            return None;
        }
        let tail = &samples[samples.len() / 10..];
        let n = tail.len() as f64;
        let mx = tail.iter().map(|s| s.t as f64).sum::<f64>() / n;
        let my = tail.iter().map(|s| s.bytes as f64).sum::<f64>() / n;
        let (mut sxy, mut sxx) = (0.0, 0.0);
        for s in tail {
            let dx = s.t as f64 - mx;
            sxy += dx * (s.bytes as f64 - my);
            sxx += dx * dx;
        }
        (sxx > 0.0).then(|| sxy / sxx * 60.0)
    }
}
