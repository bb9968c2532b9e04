//! What the workers, the flusher and the cancel watcher of one run share: the clock origin and
//! pacing, the open loop's schedule of intended starts, each worker's in-flight slot, the stop
//! flag and the collector.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::RunConfig;
use crate::datagen::WyRand;
use crate::metrics::Collector;
use crate::pacing::{Arrivals, Pacer, PhaseWindow, StopCondition, window_at};

/// One run's shared state, behind one `Arc`: a worker clones it once when it is spawned and
/// reaches every part through it, so an operation costs the same atomic ops and clock reads as
/// with separately captured parts.
pub(super) struct Shared {
    /// The run's start: intended starts are offsets from it.
    pub start: Instant,
    /// Closed or open loop.
    pub pacer: Pacer,
    /// When to stop.
    pub stop: StopCondition,
    /// Open loop: how workers wait for an intended start.
    pub timer: super::Timer,
    /// Where successes are noted after armed points (faults' ends).
    pub watch: Option<Arc<super::Watches>>,
    /// Open loop with a duration and an overrun limit: where workers stop taking tickets.
    pub cutoff: Option<Cutoff>,
    /// Phase windows, by start.
    pub windows: Vec<PhaseWindow>,
    /// Where the workers record.
    pub collector: Collector,
    /// The open loop's intended starts (unused by a closed loop).
    pub schedule: Mutex<Schedule>,
    /// Each worker's in-flight intended start, by worker index.
    pub slots: Vec<Slot>,
    /// Raised by the cancel watcher. The token's `is_cancelled` takes a lock shared by every
    /// worker (it showed as 11% of a zero-delay run in perf); workers poll this flag instead,
    /// and await the token only where they sleep anyway.
    pub stopped: AtomicBool,
    /// Cancelled: stop issuing operations.
    pub cancel: CancellationToken,
}

impl Shared {
    /// The state of a run of `cfg` starting at `start`, cancelled by `cancel`.
    pub fn new(cfg: &RunConfig, start: Instant, cancel: CancellationToken) -> Shared {
        let workers = cfg.pacer.workers();
        let shards = workers.min(2 * crate::metrics::evidence::cores() as usize);
        let collector = Collector::new(
            shards,
            cfg.classes.len(),
            cfg.tenants,
            &cfg.tenant_sample,
            cfg.measured.clone(),
        )
        .with_lags(matches!(cfg.pacer, Pacer::Open { .. }));
        // The instant past which an open loop stops working off its backlog, with what
        // [`Schedule::abandon`] needs to count the tickets left.
        let cutoff = match (cfg.pacer, cfg.stop, cfg.overrun) {
            (Pacer::Open { rate, arrivals, .. }, StopCondition::Duration(d), Some(o)) => {
                Some(Cutoff {
                    limit: start + d + o,
                    end: d,
                    rate,
                    arrivals,
                })
            }
            _ => None,
        };
        let mut schedule = Schedule {
            issued: 0,
            next: Duration::ZERO,
            rng: WyRand::new(0x5eed),
            unissued: 0,
            slice: cfg
                .slice
                .map_or((0, 1), |(i, n)| (u64::from(i), u64::from(n.max(1)))),
        };
        if let Pacer::Open { rate, arrivals, .. } = cfg.pacer {
            // A generator's first ticket is the whole schedule's ticket i.
            for _ in 0..schedule.slice.0 {
                schedule.step(rate, arrivals, &cfg.windows);
            }
        }
        Shared {
            start,
            pacer: cfg.pacer,
            stop: cfg.stop,
            timer: cfg.timer,
            watch: cfg.watch.clone(),
            cutoff,
            windows: cfg.windows.clone(),
            collector,
            schedule: Mutex::new(schedule),
            slots: (0..workers).map(|_| Slot(AtomicU64::new(IDLE))).collect(),
            stopped: AtomicBool::new(false),
            cancel,
        }
    }
}

/// Open loop with a duration: past `limit`, workers take no more tickets, and those still
/// intended before `end` are counted as unissued.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cutoff {
    /// Start + duration + overrun.
    pub limit: Instant,
    /// The duration: tickets intended before it are owed.
    pub end: Duration,
    /// The pacer's rate.
    pub rate: f64,
    /// The pacer's arrivals.
    pub arrivals: Arrivals,
}

/// The shared schedule of intended start times (open loop). Aligned to a cache line, so the
/// `Mutex` around it (written on every ticket) shares none with the fields of [`Shared`] every
/// worker reads on every operation, as when the schedule had an allocation of its own.
#[repr(align(64))]
pub(super) struct Schedule {
    /// Tickets handed out and run (a ticket taken past the overrun limit is counted as
    /// unissued instead).
    pub issued: u64,
    /// The next ticket's intended start, since the run's start.
    pub next: Duration,
    /// Draws Poisson gaps.
    pub rng: WyRand,
    /// Tickets owed but abandoned at the overrun limit.
    pub unissued: u64,
    /// `(i, n)`: this process is load generator i of n and takes tickets i, i + n, i + 2n, …
    /// of the whole schedule — which every generator computes alike (the same rate, phases and
    /// seed) — so the generators' tickets together are exactly one process's; `(0, 1)`: all.
    pub slice: (u64, u64),
}

impl Schedule {
    /// Advances to this process's next intended start, returning the current one.
    pub fn advance(&mut self, rate: f64, arrivals: Arrivals, windows: &[PhaseWindow]) -> Duration {
        let at = self.next;
        for _ in 0..self.slice.1 {
            self.step(rate, arrivals, windows);
        }
        at
    }

    /// Advances the whole schedule by one ticket.
    pub fn step(&mut self, rate: f64, arrivals: Arrivals, windows: &[PhaseWindow]) {
        let at = self.next;
        let rate = window_at(windows, at).and_then(|w| w.rate).unwrap_or(rate);
        let gap = match arrivals {
            Arrivals::Constant => 1.0 / rate,
            Arrivals::Poisson => {
                // Inverse CDF of the exponential distribution; u in (0, 1].
                let u = ((self.rng.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
                -u.ln() / rate
            }
        };
        // Rounded up to the nanosecond: rounded down, 1,200 gaps of 1/300 s end 0.4 µs before
        // 4 s and a 4-s trial would intend a 1,201st start.
        self.next += Duration::from_nanos((gap * 1e9).ceil() as u64);
    }

    /// Past the overrun limit: counts the tickets left before `end` as unissued and moves the
    /// schedule to `end`, so every worker stops.
    pub fn abandon(
        &mut self,
        rate: f64,
        arrivals: Arrivals,
        windows: &[PhaseWindow],
        end: Duration,
    ) {
        while self.next < end {
            self.advance(rate, arrivals, windows);
            self.unissued += 1;
        }
    }
}

/// A worker's in-flight intended start, µs since the start: [`IDLE`] when it runs nothing,
/// [`PENDING`] while it reads the clock for one. Padded to a cache line: each worker writes its
/// own twice per operation.
#[repr(align(64))]
pub(super) struct Slot(pub AtomicU64);

/// A slot's value while its worker runs nothing.
pub(super) const IDLE: u64 = u64::MAX;
/// A slot's value while its worker reads the clock for an operation's start (closed loop).
pub(super) const PENDING: u64 = 0;

/// Microseconds, saturating below [`IDLE`].
#[inline]
pub(super) fn us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generators_slices_of_the_schedule_are_one_process_schedule() {
        let windows = [PhaseWindow {
            phase: 0,
            start: Duration::ZERO,
            rate: None,
        }];
        let end = Duration::from_secs(2);
        let tickets = |slice: (u64, u64), arrivals: Arrivals| {
            let mut s = Schedule {
                issued: 0,
                next: Duration::ZERO,
                rng: WyRand::new(0x5eed),
                unissued: 0,
                slice,
            };
            for _ in 0..slice.0 {
                s.step(300.0, arrivals, &windows);
            }
            let mut out = Vec::new();
            while s.next <= end {
                out.push(s.advance(300.0, arrivals, &windows));
            }
            out
        };
        for arrivals in [Arrivals::Constant, Arrivals::Poisson] {
            let one = tickets((0, 1), arrivals);
            let mut three: Vec<Duration> = (0..3).flat_map(|i| tickets((i, 3), arrivals)).collect();
            three.sort_unstable();
            assert_eq!(three, one, "{arrivals:?}");
            assert!(one.len() > 500, "{}", one.len());
        }
    }

    #[test]
    fn the_schedule_lock_has_cache_lines_of_its_own() {
        // The lock's state and the 64-aligned schedule fill whole lines: no other field of
        // `Shared` can land in one of them.
        assert_eq!(std::mem::align_of::<Mutex<Schedule>>(), 64);
        assert_eq!(std::mem::size_of::<Mutex<Schedule>>() % 64, 0);
    }
}
