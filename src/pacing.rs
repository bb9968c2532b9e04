//! Pacing: when a run stops ([`StopCondition`]), how operations are paced ([`Pacer`], with
//! open-loop [`Arrivals`]) and the phase windows of a run ([`PhaseWindow`]). A leaf shared by
//! the scenario (which reads them from files) and the runner (which obeys them).

use std::time::Duration;

/// When a run ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StopCondition {
    /// After this long (open loop: no operation is intended to start later).
    Duration(Duration),
    /// After this many operations.
    Count(u64),
}

/// How open-loop arrivals are spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrivals {
    /// Exactly `1 / rate` apart.
    Constant,
    /// Exponentially distributed gaps with mean `1 / rate` (a Poisson process).
    Poisson,
}

/// How operations are paced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacer {
    /// Each of `concurrency` workers issues its next operation when the last one ends.
    Closed {
        /// Workers.
        concurrency: usize,
        /// Pause between an operation's end and the worker's next operation.
        think: Duration,
    },
    /// Operations at `rate` per second, served by `workers` workers (the in-flight cap).
    Open {
        /// Operations per second.
        rate: f64,
        /// Spacing of arrivals.
        arrivals: Arrivals,
        /// Workers, and so the most operations in flight at once.
        workers: usize,
    },
}

impl Pacer {
    /// Workers of the pacer (at least 1).
    pub fn workers(&self) -> usize {
        match *self {
            Pacer::Closed { concurrency, .. } => concurrency.max(1),
            Pacer::Open { workers, .. } => workers.max(1),
        }
    }
}

/// A time window of a run, relative to its start: from `start` until the next window's start.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseWindow {
    /// Index of the window's phase in the run's phase list (several windows may share one,
    /// e.g. `steady` before and after a burst).
    pub phase: u16,
    /// Offset of its start from the run's start.
    pub start: Duration,
    /// Open loop: the rate during this window, instead of the pacer's.
    pub rate: Option<f64>,
}

/// Which phase an offset into the run falls in: that of the last window that started at or
/// before it.
pub fn phase_at(windows: &[PhaseWindow], offset: Duration) -> u16 {
    window_at(windows, offset).map_or(0, |w| w.phase)
}

/// The window an offset into the run falls in: the last one that started at or before it.
pub fn window_at(windows: &[PhaseWindow], offset: Duration) -> Option<&PhaseWindow> {
    windows.iter().rev().find(|w| w.start <= offset)
}
