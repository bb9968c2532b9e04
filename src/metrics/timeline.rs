//! The timeline of a run: completed seconds (by intended start) per class, written as they
//! close to an HdrHistogram interval log (`.hlog`, the standard format, one tag per class) and
//! kept in memory only as small per-second summaries for charts and the live line.

use std::io::Write;
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};

use super::collector::Second;
use super::histogram;
use super::results::{RssSample, SecondSummary, Summary};
use crate::op::ErrorKind;

/// Accumulates closed seconds.
pub struct Timeline {
    classes: Vec<String>,
    /// Per second and class, in order.
    pub summaries: Vec<SecondSummary>,
    /// All successful operations so far (for the live line's p99).
    pub so_far: Histogram<u64>,
    /// Failed operations so far.
    pub errors: u64,
    /// Operations (successful) in the last closed second.
    pub last_second_ops: u64,
    /// The last closed second.
    pub last_t: Option<u64>,
    /// Per closed second, every class's successful operations merged (kept only when asked
    /// for with [`Timeline::keeping_merged`]: a fault's recovery is read from them).
    pub merged: Vec<(u64, Histogram<u64>)>,
    /// The harness's resident memory once a second ([`Timeline::sample_rss`]).
    pub rss: Vec<RssSample>,
    keep_merged: bool,
    hlog: Vec<u8>,
    hlog_out: Option<Box<dyn Write + Send>>,
    serializer: V2DeflateSerializer,
    start: SystemTime,
    header_written: bool,
}

impl std::fmt::Debug for Timeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timeline")
            .field("classes", &self.classes)
            .field("seconds", &self.summaries.len())
            .field("errors", &self.errors)
            .finish_non_exhaustive()
    }
}

impl Timeline {
    /// A timeline for `classes`, writing an interval log to `hlog` when given; `start` is the
    /// wall-clock time of second 0 (the log's `StartTime`).
    pub fn new(
        classes: Vec<String>,
        hlog: Option<Box<dyn Write + Send>>,
        start: SystemTime,
    ) -> Timeline {
        Timeline {
            classes,
            summaries: Vec::new(),
            so_far: histogram(),
            errors: 0,
            last_second_ops: 0,
            last_t: None,
            merged: Vec::new(),
            rss: Vec::new(),
            keep_merged: false,
            hlog: Vec::new(),
            hlog_out: hlog,
            serializer: V2DeflateSerializer::new(),
            start,
            header_written: false,
        }
    }

    /// Keeps each second's histogram of every class merged ([`Timeline::merged`]): a few
    /// tens of KB per second, for runs whose faults' recovery is measured.
    #[must_use]
    pub fn keeping_merged(mut self, keep: bool) -> Timeline {
        self.keep_merged = keep;
        self
    }

    /// Notes the harness's resident memory at second `t` of the run (once per second `t`).
    pub fn sample_rss(&mut self, t: u64) {
        if self.rss.last().is_some_and(|s| s.t >= t) {
            return;
        }
        if let Some(bytes) = super::evidence::rss_bytes() {
            self.rss.push(RssSample { t, bytes });
        }
    }

    /// Adds closed seconds (in order); writes them to the interval log.
    ///
    /// # Errors
    /// Writing the interval log failed.
    pub fn add(&mut self, seconds: Vec<Second>) -> std::io::Result<()> {
        for sec in seconds {
            let mut ops = 0;
            let mut merged = self.keep_merged.then(histogram);
            for (ci, cs) in sec.classes.iter().enumerate() {
                let Some(cs) = cs else { continue };
                ops += cs.ok.len();
                self.errors += cs.errors;
                self.so_far
                    .add(&cs.ok)
                    .expect("auto-resizing histograms add");
                if let Some(m) = &mut merged {
                    m.add(&cs.ok).expect("auto-resizing histograms add");
                }
                self.summaries.push(SecondSummary {
                    t: sec.t,
                    class: self.classes[ci].clone(),
                    errors: cs.errors,
                    error_kinds: ErrorKind::ALL
                        .iter()
                        .zip(cs.kinds)
                        .filter(|(_, n)| *n > 0)
                        .map(|(k, n)| (*k, n))
                        .collect(),
                    response: Summary::of(&cs.ok),
                });
                if self.hlog_out.is_some() && !cs.ok.is_empty() {
                    let class = self.classes[ci].clone();
                    self.write_interval(sec.t, &class, &cs.ok)?;
                }
            }
            if let Some(m) = merged {
                self.merged.push((sec.t, m));
            }
            self.last_second_ops = ops;
            self.last_t = Some(sec.t);
        }
        if let Some(out) = &mut self.hlog_out {
            out.write_all(&self.hlog)?;
            out.flush()?;
            self.hlog.clear();
        }
        Ok(())
    }

    fn write_interval(&mut self, t: u64, class: &str, h: &Histogram<u64>) -> std::io::Result<()> {
        // A builder without headers writes nothing itself, so one per interval is cheap; the
        // first carries the log's headers.
        let mut builder = IntervalLogWriterBuilder::new();
        if !self.header_written {
            builder
                .add_comment(&format!(
                    "tenantbench {}: response times of successful operations in microseconds, one interval per second (by intended start) and tenant class (tag)",
                    env!("CARGO_PKG_VERSION")
                ))
                .with_start_time(self.start);
            self.header_written = true;
        }
        let mut w = builder.begin_log_with(&mut self.hlog, &mut self.serializer)?;
        w.write_histogram(
            h,
            Duration::from_secs(t),
            Duration::from_secs(1),
            Tag::new(class),
        )
        .map_err(|e| std::io::Error::other(format!("{e:?}")))
    }
}
