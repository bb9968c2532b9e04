//! Latency recording: HdrHistogram histograms in microseconds (3 significant digits), keyed by
//! (phase, op, class, outcome) — never per tenant — merged, never averaged.
//!
//! A histogram of this precision is tens of kilobytes, so the key space is kept small on purpose:
//! phases × ops × classes × outcomes, not tenants (STYLE.md §5). The runner records into a few
//! [`Collector`] shards (one [`Recorder`] each) rather than one recorder per worker, so memory
//! grows with cores, not with workers; per-second histograms per class stream out to an
//! HdrHistogram interval log ([`timeline`]); [`results`] is the serialisable results file.

pub mod collector;
pub mod evidence;
pub mod generators;
pub mod memory;
pub mod plan;
pub mod results;
pub mod store;
pub mod summary;
pub mod timeline;
pub mod trial_evidence;

use std::time::Duration;

use hdrhistogram::Histogram;

use crate::op::{Op, Outcome};

pub use collector::{Collector, TenantTally};

/// Largest latency a histogram holds: one hour, in microseconds. Larger values saturate.
pub const MAX_MICROS: u64 = 3_600_000_000;
/// Significant decimal digits of every histogram.
pub const SIGFIGS: u8 = 3;

/// A new, empty latency histogram (µs, 3 significant digits, from 1 µs). It starts small and
/// grows to the largest value recorded (values are clamped to [`MAX_MICROS`] by [`micros`]):
/// a histogram of millisecond latencies takes about 40 KB instead of the 190 KB a fixed
/// one-hour range costs.
pub fn histogram() -> Histogram<u64> {
    let mut h = Histogram::new_with_bounds(1, 2, SIGFIGS).expect("static bounds are valid");
    h.auto(true);
    h
}

/// A duration in whole microseconds, at least 1 (HdrHistogram's lowest trackable value).
pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_MICROS)
}

/// Records one value (µs) into a histogram from [`histogram`], growing it as needed.
/// (`saturating_record` would clamp to the current, small range instead of growing.)
pub fn put(h: &mut Histogram<u64>, us: u64) {
    if h.record(us).is_err() {
        h.saturating_record(us);
    }
}

/// What a histogram is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// Index of the phase in the run's phase list.
    pub phase: u16,
    /// The operation.
    pub op: Op,
    /// Index of the tenant's class in the run's class list.
    pub class: u16,
    /// How the operation ended.
    pub outcome: Outcome,
}

/// The two latencies of every operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Timings {
    /// From the intended start (open loop) or the actual start (closed loop) to the end: what a
    /// user waits, without coordinated omission.
    pub response: Histogram<u64>,
    /// From the actual start to the end: what the database took.
    pub service: Histogram<u64>,
}

impl Timings {
    fn new() -> Timings {
        Timings {
            response: histogram(),
            service: histogram(),
        }
    }

    /// Adds another's counts to these.
    pub fn merge(&mut self, other: &Timings) {
        self.response
            .add(&other.response)
            .expect("histograms share bounds");
        self.service
            .add(&other.service)
            .expect("histograms share bounds");
    }
}

/// Histograms by key, plus counters that are not latencies.
///
/// A worker sees few keys (phases × ops × classes × outcomes, tens to hundreds), and almost
/// always the same few in a row, so the recorder keeps them in a vector with the last hit
/// checked first: cheaper on the hot path than hashing every key.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    timings: Vec<(Key, Timings)>,
    last: usize,
    /// Operations that started more than [`LATE_AFTER`] after their intended start.
    pub late_starts: u64,
    /// Open loop: how late each operation started after its intended start, µs (response
    /// minus service time); `None` until one is recorded.
    pub start_lag: Option<Histogram<u64>>,
}

impl PartialEq for Recorder {
    /// Equal when they hold the same histograms under the same keys, in any order.
    fn eq(&self, other: &Recorder) -> bool {
        self.late_starts == other.late_starts
            && self.start_lag == other.start_lag
            && self.timings.len() == other.timings.len()
            && self.timings.iter().all(|(k, t)| other.get(k) == Some(t))
    }
}

/// An operation counts as a late start when it began more than this after its intended start.
pub const LATE_AFTER: Duration = Duration::from_millis(1);

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Recorder {
        Recorder::default()
    }

    fn slot(&mut self, key: Key) -> &mut Timings {
        let i = match self.timings.get(self.last) {
            Some((k, _)) if *k == key => self.last,
            _ => match self.timings.iter().position(|(k, _)| *k == key) {
                Some(i) => i,
                None => {
                    self.timings.push((key, Timings::new()));
                    self.timings.len() - 1
                }
            },
        };
        self.last = i;
        &mut self.timings[i].1
    }

    /// Records one operation.
    pub fn record(&mut self, key: Key, response: Duration, service: Duration) {
        let t = self.slot(key);
        put(&mut t.response, micros(response));
        put(&mut t.service, micros(service));
    }

    /// Records how late an open-loop operation started.
    pub fn record_lag(&mut self, lag: Duration) {
        put(self.start_lag.get_or_insert_with(histogram), micros(lag));
    }

    /// Adds another recorder's histograms and counters to this one.
    pub fn merge(&mut self, other: &Recorder) {
        for (k, t) in &other.timings {
            self.slot(*k).merge(t);
        }
        self.late_starts += other.late_starts;
        if let Some(l) = &other.start_lag {
            self.start_lag
                .get_or_insert_with(histogram)
                .add(l)
                .expect("histograms share bounds");
        }
    }

    /// The timings of one key.
    pub fn get(&self, key: &Key) -> Option<&Timings> {
        self.timings.iter().find(|(k, _)| k == key).map(|(_, t)| t)
    }

    /// All keys, sorted.
    pub fn keys(&self) -> Vec<Key> {
        let mut k: Vec<Key> = self.timings.iter().map(|(k, _)| *k).collect();
        k.sort();
        k
    }

    /// The merged timings of every key that `select` accepts (e.g. all successful operations of
    /// one class in one phase).
    pub fn merged(&self, select: impl Fn(&Key) -> bool) -> Timings {
        let mut out = Timings::new();
        for (k, t) in &self.timings {
            if select(k) {
                out.merge(t);
            }
        }
        out
    }

    /// Operations recorded, all keys.
    pub fn count(&self) -> u64 {
        self.timings.iter().map(|(_, t)| t.response.len()).sum()
    }

    /// Operations recorded whose outcome `select` accepts.
    pub fn count_where(&self, select: impl Fn(&Key) -> bool) -> u64 {
        self.timings
            .iter()
            .filter(|(k, _)| select(k))
            .map(|(_, t)| t.response.len())
            .sum()
    }
}

/// Bytes in binary units.
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// A UTC time as RFC 3339 with milliseconds, e.g. `2025-11-25T19:04:05.123Z` (results' times).
pub fn rfc3339(t: std::time::SystemTime) -> String {
    let ms = jiff::Timestamp::try_from(t).map_or(0, |t| t.as_millisecond());
    format!(
        "{:.3}",
        jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(phase: u16, class: u16) -> Key {
        Key {
            phase,
            op: Op::GetById,
            class,
            outcome: Outcome::Ok,
        }
    }

    proptest! {
        #[test]
        fn merging_equals_recording_into_one(
            samples in proptest::collection::vec((0u16..3, 0u16..4, 1u64..5_000_000, 0usize..4), 0..400)
        ) {
            let mut one = Recorder::new();
            let mut parts = vec![Recorder::new(); 4];
            for &(phase, class, us, worker) in &samples {
                let d = Duration::from_micros(us);
                one.record(key(phase, class), d, d / 2);
                parts[worker].record(key(phase, class), d, d / 2);
            }
            let mut merged = Recorder::new();
            for p in &parts {
                merged.merge(p);
            }
            prop_assert_eq!(&merged, &one);
            prop_assert_eq!(merged.count(), samples.len() as u64);
            // And a merge across keys equals a histogram of all samples.
            let mut all = histogram();
            for &(_, _, us, _) in &samples {
                put(&mut all, us);
            }
            prop_assert_eq!(merged.merged(|_| true).response, all);
        }
    }

    #[test]
    fn micros_clamps_to_the_trackable_range() {
        assert_eq!(micros(Duration::ZERO), 1);
        assert_eq!(micros(Duration::from_millis(3)), 3000);
        assert_eq!(micros(Duration::from_secs(10_000)), MAX_MICROS);
    }
}
