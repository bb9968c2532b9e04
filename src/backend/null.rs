//! A backend without a database, for testing the runner: scripted delays, scripted errors, and
//! a global stall window; it counts calls and the most calls it ever had in flight.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::{Answer, Backend, ErrorKind, Outcome, Request};

/// A backend that sleeps instead of querying.
#[derive(Debug)]
pub struct NullBackend {
    delay: Duration,
    error_every: u64,
    stall: Option<(Instant, Duration)>,
    calls: AtomicU64,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl NullBackend {
    /// Every call takes `delay` (zero: returns at once).
    #[must_use]
    pub fn new(delay: Duration) -> NullBackend {
        NullBackend {
            delay,
            error_every: 0,
            stall: None,
            calls: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        }
    }

    /// Every `n`-th call fails with a server error.
    #[must_use]
    pub fn with_errors_every(mut self, n: u64) -> NullBackend {
        self.error_every = n;
        self
    }

    /// Every call that starts inside `[at, at + length)` first waits until the window ends: one
    /// global stall, as a server pause would cause.
    #[must_use]
    pub fn with_stall(mut self, at: Instant, length: Duration) -> NullBackend {
        self.stall = Some((at, length));
        self
    }

    /// Calls made so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// The most calls that were ever in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::Relaxed)
    }
}

impl Backend for NullBackend {
    async fn execute(&self, _req: &Request) -> Outcome {
        // Relaxed suffices: these are statistics, read after the run.
        let n = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        let now_in = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.max_in_flight.fetch_max(now_in, Ordering::Relaxed);
        if let Some((at, len)) = self.stall {
            let now = Instant::now();
            if now >= at && now < at + len {
                tokio::time::sleep_until(at + len).await;
            }
        }
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        if self.error_every > 0 && n.is_multiple_of(self.error_every) {
            Outcome::Error(ErrorKind::Server)
        } else {
            Outcome::Ok
        }
    }

    /// The outcome of [`NullBackend::execute`] as an answer: a count of the calls so far.
    async fn respond(&self, req: &Request) -> Result<Answer, ErrorKind> {
        match self.execute(req).await {
            Outcome::Error(k) => Err(k),
            _ => Ok(Answer::Count(self.calls())),
        }
    }
}
