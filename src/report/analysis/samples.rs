//! How many operations a percentile needs before it says something, and how every renderer
//! (terminal tables, the HTML report and its charts, `summary.md`, gate output) marks one
//! computed from fewer: the one place that rule lives.
//!
//! A quantile q of n operations is read from the slowest n·(1 − q) of them; with fewer than
//! about 1 / (1 − q) operations there is not one operation beyond it, and the "p99" is simply
//! the slowest operation (one outlier decides it). So p50 needs 2 operations, p90 10, p99 100
//! and p99.9 1,000. A value from fewer is shown, marked [`MARK`] with its count, and never
//! used to name a winner.

use serde::Serialize;

use super::{count, ms};

/// The median.
pub const P50: f64 = 0.5;
/// The 99th percentile: what the headline compares.
pub const P99: f64 = 0.99;
/// The 99.9th percentile.
pub const P999: f64 = 0.999;

/// The mark after a percentile from fewer operations than it needs.
pub const MARK: &str = "†";

/// Operations quantile `q` needs: ⌈1 / (1 − q)⌉ (p50 2, p90 10, p99 100, p99.9 1,000); 1 for
/// q ≤ 0, and `u64::MAX` for q ≥ 1 (the maximum is no estimate of anything beyond the run).
pub fn needed(q: f64) -> u64 {
    if q <= 0.0 {
        return 1;
    }
    if q >= 1.0 {
        return u64::MAX;
    }
    // 1 / (1 − 0.99) is 100.000…01 in floating point: round off the last bits before ⌈⌉.
    let x = 1.0 / (1.0 - q);
    ((x * 1e6).round() / 1e6).ceil() as u64
}

/// Whether `n` operations are enough for quantile `q`.
pub fn enough(q: f64, n: u64) -> bool {
    n >= needed(q)
}

/// The quantile's name: `p50`, `p99`, `p99.9`.
pub fn label(q: f64) -> String {
    let pct = format!("{:.4}", 100.0 * q);
    let pct = pct.trim_end_matches('0').trim_end_matches('.');
    format!("p{pct}")
}

/// Why a value is marked, or what it rests on: `p99 of 21 operations (needs about 100)`.
pub fn basis(q: f64, n: u64) -> String {
    if enough(q, n) {
        format!("{} of {} operations", label(q), count(n))
    } else {
        format!(
            "{} of {} operations (needs about {}): indicative only",
            label(q),
            count(n),
            count(needed(q))
        )
    }
}

/// The footnote under a table or chart with marked values.
pub fn footnote() -> String {
    format!(
        "{MARK} from fewer operations than the percentile needs (p50 about {}, p99 about {}, p99.9 about {}): with fewer, one slow operation decides it; indicative only, not a figure to compare.",
        needed(P50),
        count(needed(P99)),
        count(needed(P999))
    )
}

/// A percentile as every report shows it: the value in ms (two decimals), marked when it came
/// from too few operations, with its sample count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pct {
    /// `75.20`, or `1101.00†` from too few operations.
    pub text: String,
    /// Too few operations for this quantile.
    pub few: bool,
    /// The operations behind it.
    pub count: u64,
    /// Its basis in words (a tooltip in HTML): `p99 of 21 operations (needs about 100)…`.
    pub title: String,
}

impl Pct {
    /// Quantile `q` of `n` operations, `us` µs.
    pub fn new(q: f64, us: u64, n: u64) -> Pct {
        let few = !enough(q, n);
        Pct {
            text: marked(ms(us), q, n),
            few,
            count: n,
            title: basis(q, n),
        }
    }
}

impl std::fmt::Display for Pct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// `text` followed by [`MARK`] when `n` operations are too few for quantile `q`.
pub fn marked(text: String, q: f64, n: u64) -> String {
    if enough(q, n) {
        text
    } else {
        format!("{text}{MARK}")
    }
}

/// A percentile in ms for a sentence: `75.20 ms`, or `1101.00 ms† from 21 operations`.
pub fn ms_in_words(q: f64, us: u64, n: u64) -> String {
    if enough(q, n) {
        format!("{} ms", ms(us))
    } else {
        format!("{} ms{MARK} from {} operations", ms(us), count(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_need_one_over_their_tail() {
        assert_eq!(needed(P50), 2);
        assert_eq!(needed(0.9), 10);
        assert_eq!(needed(P99), 100);
        assert_eq!(needed(P999), 1000);
        assert_eq!(needed(0.9999), 10_000);
        assert_eq!(needed(0.0), 1);
        assert_eq!(needed(1.0), u64::MAX);
        assert!(!enough(P99, 99) && enough(P99, 100));
        assert!(!enough(P999, 999) && enough(P999, 1000));
        assert!(!enough(P50, 1) && enough(P50, 2));
    }

    #[test]
    fn labels_and_marks() {
        assert_eq!(label(P50), "p50");
        assert_eq!(label(P99), "p99");
        assert_eq!(label(P999), "p99.9");
        assert_eq!(Pct::new(P99, 75_200, 5_000).text, "75.20");
        let few = Pct::new(P99, 1_101_000, 21);
        assert_eq!(few.text, format!("1101.00{MARK}"));
        assert!(few.few && few.title.contains("21 operations") && few.title.contains("100"));
        assert_eq!(ms_in_words(P99, 75_200, 5_000), "75.20 ms");
        assert_eq!(
            ms_in_words(P99, 75_200, 21),
            format!("75.20 ms{MARK} from 21 operations")
        );
        assert!(footnote().contains("1,000"));
    }
}
