//! The runner: one worker loop driven by a stop condition and a pacer, timing every operation
//! from outside the backend.
//!
//! - Closed loop: `concurrency` workers, each issuing its next operation when the previous one
//!   ends (plus optional think time).
//! - Open loop: operations have intended start times at `rate` per second (constant or Poisson
//!   arrivals). A fixed pool of workers takes them in order from a shared schedule, so at most
//!   `workers` operations are in flight and no backlog is ever materialised: when the database
//!   stalls, intended start times keep passing, and the operations that should have started
//!   meanwhile are timed from when they *should* have started (no coordinated omission; YCSB's
//!   `measureIntended`, wrk2). Each records its response time from the intended start and its
//!   service time from the actual start; starts later than [`LATE_AFTER`] are counted.
//!
//! Time is read through `tokio::time::Instant`, so tests run on paused, simulated time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::backend::{Backend, Request};
use crate::datagen::WyRand;
use crate::metrics::{Key, LATE_AFTER, Recorder};

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
    fn workers(&self) -> usize {
        match *self {
            Pacer::Closed { concurrency, .. } => concurrency.max(1),
            Pacer::Open { workers, .. } => workers.max(1),
        }
    }
}

/// A named time window of a run, relative to its start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseWindow {
    /// Phase name (`warmup`, `steady`, `burst`, …).
    pub name: String,
    /// Offset of its start from the run's start.
    pub start: Duration,
}

/// Which phase an offset into the run falls in: the last phase that started at or before it.
pub fn phase_at(phases: &[PhaseWindow], offset: Duration) -> u16 {
    phases.iter().rposition(|p| p.start <= offset).unwrap_or(0) as u16
}

/// Chooses operations: shared plan plus typed per-worker state (YCSB's `Workload` with
/// `initThread`).
pub trait RequestSource: Send + Sync + 'static {
    /// Per-worker state (its RNG, cursors).
    type Worker: Send + 'static;

    /// Creates worker `index`'s state; called once per worker before the run starts.
    fn worker(&self, index: usize) -> Self::Worker;

    /// The next operation of a worker in a phase, and the class index of its tenant. Called by
    /// that worker only, once per operation, right before it is executed.
    fn next(&self, worker: &mut Self::Worker, phase: u16) -> (Request, u16);
}

/// The same request every time, for class 0: for runner tests and overhead benchmarks.
#[derive(Debug, Clone, Copy)]
pub struct Repeat(pub Request);

impl RequestSource for Repeat {
    type Worker = ();

    fn worker(&self, _: usize) {}

    fn next(&self, _: &mut (), _: u16) -> (Request, u16) {
        (self.0, 0)
    }
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// Merged histograms of all workers.
    pub recorder: Recorder,
    /// Wall (or simulated) time from start to the last operation's end.
    pub elapsed: Duration,
}

/// The shared schedule of intended start times (open loop).
struct Schedule {
    issued: u64,
    next: Duration,
    rng: WyRand,
}

/// Runs a workload against a backend until the stop condition, with the given pacing.
pub async fn run<B: Backend, S: RequestSource>(
    backend: Arc<B>,
    source: Arc<S>,
    pacer: Pacer,
    stop: StopCondition,
    phases: Arc<Vec<PhaseWindow>>,
) -> RunReport {
    let start = Instant::now();
    let issued = Arc::new(AtomicU64::new(0));
    let schedule = Arc::new(Mutex::new(Schedule {
        issued: 0,
        next: Duration::ZERO,
        rng: WyRand::new(0x5eed),
    }));
    let mut tasks = Vec::with_capacity(pacer.workers());
    for w in 0..pacer.workers() {
        let (backend, source, schedule, phases) = (
            backend.clone(),
            source.clone(),
            schedule.clone(),
            phases.clone(),
        );
        let issued = issued.clone();
        let mut state = source.worker(w);
        tasks.push(tokio::spawn(async move {
            let mut rec = Recorder::new();
            let mut last_end = start;
            loop {
                // Take the next ticket: its intended start (open loop) or none (closed loop).
                let intended = match pacer {
                    Pacer::Closed { .. } => {
                        // No lock: a counter is all a closed loop shares.
                        let over = match stop {
                            StopCondition::Count(n) => issued.fetch_add(1, Ordering::Relaxed) >= n,
                            StopCondition::Duration(d) => last_end - start >= d,
                        };
                        if over {
                            break;
                        }
                        None
                    }
                    Pacer::Open { rate, arrivals, .. } => {
                        let mut s = schedule.lock().expect("schedule lock");
                        let over = match stop {
                            StopCondition::Count(n) => s.issued >= n,
                            StopCondition::Duration(d) => s.next >= d,
                        };
                        if over {
                            break;
                        }
                        let at = s.next;
                        let gap = match arrivals {
                            Arrivals::Constant => 1.0 / rate,
                            Arrivals::Poisson => {
                                // Inverse CDF of the exponential distribution; u in (0, 1].
                                let u =
                                    ((s.rng.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
                                -u.ln() / rate
                            }
                        };
                        s.next += Duration::from_secs_f64(gap);
                        s.issued += 1;
                        Some(start + at)
                    }
                };
                if let Some(t) = intended {
                    tokio::time::sleep_until(t).await;
                }
                let actual = Instant::now();
                let intended = intended.unwrap_or(actual);
                let phase = phase_at(&phases, intended - start);
                let (req, class) = source.next(&mut state, phase);
                let outcome = backend.execute(&req).await;
                let end = Instant::now();
                last_end = end;
                if actual - intended > LATE_AFTER {
                    rec.late_starts += 1;
                }
                rec.record(
                    Key {
                        phase,
                        op: req.op,
                        class,
                        outcome,
                    },
                    end - intended,
                    end - actual,
                );
                if let Pacer::Closed { think, .. } = pacer
                    && !think.is_zero()
                {
                    tokio::time::sleep(think).await;
                }
            }
            rec
        }));
    }
    let mut recorder = Recorder::new();
    for t in tasks {
        // A worker only panics on a bug (a poisoned schedule lock); surface it.
        let rec = t.await.expect("runner worker panicked");
        recorder.merge(&rec);
    }
    RunReport {
        recorder,
        elapsed: start.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::null::NullBackend;
    use crate::backend::{ErrorKind, Op, Outcome};

    const GET: Request = Request {
        tenant: 0,
        op: Op::GetById,
        key: 0,
    };

    fn one_phase() -> Arc<Vec<PhaseWindow>> {
        Arc::new(vec![PhaseWindow {
            name: "steady".into(),
            start: Duration::ZERO,
        }])
    }

    #[tokio::test(start_paused = true)]
    async fn closed_loop_runs_exactly_the_count_and_counts_errors_apart() {
        let backend = Arc::new(NullBackend::new(Duration::from_millis(2)).with_errors_every(10));
        let pacer = Pacer::Closed {
            concurrency: 4,
            think: Duration::ZERO,
        };
        let r = run(
            backend.clone(),
            Arc::new(Repeat(GET)),
            pacer,
            StopCondition::Count(1000),
            one_phase(),
        )
        .await;
        assert_eq!(backend.calls(), 1000);
        assert_eq!(r.recorder.count(), 1000);
        assert_eq!(
            r.recorder
                .count_where(|k| k.outcome == Outcome::Error(ErrorKind::Server)),
            100
        );
        assert_eq!(r.recorder.count_where(|k| k.outcome == Outcome::Ok), 900);
        assert_eq!(backend.max_in_flight(), 4);
        // 1000 operations of 2 ms on 4 workers: 500 ms of simulated time.
        assert_eq!(r.elapsed, Duration::from_millis(500));
        assert_eq!(r.recorder.late_starts, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn open_loop_sees_a_stall_that_closed_loop_hides() {
        let run_for = StopCondition::Duration(Duration::from_secs(10));
        let stall_at = Instant::now() + Duration::from_secs(5);
        let backend = Arc::new(
            NullBackend::new(Duration::from_micros(500))
                .with_stall(stall_at, Duration::from_secs(1)),
        );
        let open = Pacer::Open {
            rate: 1000.0,
            arrivals: Arrivals::Constant,
            workers: 32,
        };
        let r = run(
            backend.clone(),
            Arc::new(Repeat(GET)),
            open,
            run_for,
            one_phase(),
        )
        .await;
        assert_eq!(
            r.recorder.count(),
            10_000,
            "one operation per intended start"
        );
        let all = r.recorder.merged(|_| true);
        let p999 = all.response.value_at_quantile(0.999);
        assert!(
            p999 >= 500_000,
            "open loop p99.9 = {p999} µs; the 1 s stall must show"
        );
        // The service time alone hides it: only the operations caught in the stall took long.
        assert!(all.service.value_at_quantile(0.99) < 10_000);
        assert!(
            backend.max_in_flight() <= 32,
            "in-flight cap: {}",
            backend.max_in_flight()
        );
        assert!(
            r.recorder.late_starts > 900,
            "late starts: {}",
            r.recorder.late_starts
        );

        let stall_at = Instant::now() + Duration::from_secs(5);
        let backend = Arc::new(
            NullBackend::new(Duration::from_micros(500))
                .with_stall(stall_at, Duration::from_secs(1)),
        );
        let closed = Pacer::Closed {
            concurrency: 1,
            think: Duration::ZERO,
        };
        let r = run(backend, Arc::new(Repeat(GET)), closed, run_for, one_phase()).await;
        let p999 = r
            .recorder
            .merged(|_| true)
            .response
            .value_at_quantile(0.999);
        assert!(
            p999 < 10_000,
            "closed loop p99.9 = {p999} µs: coordinated omission hides the stall"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn poisson_arrivals_keep_the_mean_rate_and_phases_split_by_intended_start() {
        let backend = Arc::new(NullBackend::new(Duration::from_micros(100)));
        let open = Pacer::Open {
            rate: 2000.0,
            arrivals: Arrivals::Poisson,
            workers: 8,
        };
        let phases = Arc::new(vec![
            PhaseWindow {
                name: "warmup".into(),
                start: Duration::ZERO,
            },
            PhaseWindow {
                name: "steady".into(),
                start: Duration::from_secs(1),
            },
        ]);
        let r = run(
            backend,
            Arc::new(Repeat(GET)),
            open,
            StopCondition::Duration(Duration::from_secs(5)),
            phases,
        )
        .await;
        let n = r.recorder.count();
        assert!(
            (9_500..10_500).contains(&n),
            "{n} arrivals in 5 s at 2000/s"
        );
        let warm = r.recorder.count_where(|k| k.phase == 0);
        assert!((1_800..2_200).contains(&warm), "{warm} in the 1 s warm-up");
    }

    #[test]
    fn phase_lookup() {
        let p = vec![
            PhaseWindow {
                name: "a".into(),
                start: Duration::ZERO,
            },
            PhaseWindow {
                name: "b".into(),
                start: Duration::from_secs(20),
            },
        ];
        assert_eq!(phase_at(&p, Duration::from_secs(19)), 0);
        assert_eq!(phase_at(&p, Duration::from_secs(20)), 1);
        assert_eq!(phase_at(&p, Duration::from_secs(99)), 1);
    }
}
