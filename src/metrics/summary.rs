//! A histogram as the results file keeps it: its latency figures ([`Summary`]) and the whole
//! histogram, encoded as HdrHistogram V2 deflate in base64 (as in `.hlog` files).

use std::io::Cursor;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{
    DeserializeError, Deserializer, Serializer as _, V2DeflateSerializer,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Latency figures of a histogram, microseconds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
pub struct Summary {
    /// Values recorded.
    pub count: u64,
    /// Mean, µs.
    pub mean_us: f64,
    /// Median, µs.
    pub p50_us: u64,
    /// 90th percentile, µs.
    pub p90_us: u64,
    /// 99th percentile, µs.
    pub p99_us: u64,
    /// 99.9th percentile, µs.
    pub p999_us: u64,
    /// Largest value, µs.
    pub max_us: u64,
}

impl Summary {
    /// The summary of a histogram (all zero when it is empty).
    pub fn of(h: &Histogram<u64>) -> Summary {
        if h.is_empty() {
            return Summary::default();
        }
        Summary {
            count: h.len(),
            mean_us: (h.mean() * 10.0).round() / 10.0,
            p50_us: h.value_at_quantile(0.5),
            p90_us: h.value_at_quantile(0.9),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
        }
    }
}

/// Encodes a histogram as HdrHistogram V2 deflate, base64 (the `.hlog` encoding).
pub fn encode(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    // Serialising into a Vec cannot fail for a valid histogram.
    V2DeflateSerializer::new()
        .serialize(h, &mut buf)
        .expect("histogram serialises");
    B64.encode(buf)
}

/// A histogram's text that [`decode`] could not read. The underlying error is kept but not
/// chained as a source: the message holds its text already, so `{:#}` does not repeat it.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The text is not base64.
    #[error("histogram is not base64: {0}")]
    NotBase64(base64::DecodeError),
    /// The bytes are not an HdrHistogram V2 (deflate) histogram.
    #[error("histogram does not decode: {0:?}")]
    NotHistogram(DeserializeError),
}

/// Decodes a histogram written by [`encode`] (or taken from an `.hlog` line).
///
/// # Errors
/// Text that is not base64, or bytes that are not a histogram.
pub fn decode(s: &str) -> Result<Histogram<u64>, DecodeError> {
    let bytes = B64.decode(s.trim()).map_err(DecodeError::NotBase64)?;
    let mut h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut Cursor::new(bytes))
        .map_err(DecodeError::NotHistogram)?;
    h.auto(true);
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{histogram, put};

    #[test]
    fn histograms_round_trip_through_the_hlog_encoding() {
        let mut h = histogram();
        for v in [1, 5, 900, 12_000, 3_000_000] {
            put(&mut h, v);
        }
        let back = decode(&encode(&h)).expect("decodes");
        assert_eq!(back.len(), 5);
        assert_eq!(back.max(), h.max());
        assert_eq!(back.value_at_quantile(0.5), h.value_at_quantile(0.5));
        let e = decode("not base64!").unwrap_err();
        assert!(
            e.to_string().starts_with("histogram is not base64: "),
            "{e}"
        );
    }

    #[test]
    fn summary_of_an_empty_histogram_is_zero() {
        assert_eq!(Summary::of(&histogram()), Summary::default());
    }
}
