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
//!   service time from the actual start; starts later than
//!   [`LATE_AFTER`](crate::metrics::LATE_AFTER) are counted.
//!
//! Workers (`worker`) record into a [`Collector`](crate::metrics::Collector); a flusher task
//! (`flusher`) closes each second (by intended start) once no operation intended in it is still
//! running, streams it to the interval log, and feeds the live line. A [`CancellationToken`]
//! stops a run cleanly (Ctrl-C): what ran is kept. What they share is in `shared`; [`run`] wires
//! them.
//!
//! Time is read through `tokio::time::Instant`, so tests run on paused, simulated time.

pub mod external;
mod flusher;
mod shared;
mod timer;
mod worker;

pub use timer::Timer;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::backend::Backend;
use crate::metrics::Recorder;
use crate::metrics::collector::TenantTally;
use crate::metrics::timeline::Timeline;
use crate::op::Request;
use crate::pacing::{Pacer, PhaseWindow, StopCondition};
use flusher::flusher;
use shared::Shared;
use worker::{quota, worker_loop};

/// Points in a run after which it notes its first successful operation: each armed while the
/// run goes on (by whoever ends a fault), then read after it. Workers check them only after a
/// success, with relaxed atomics: a few loads per operation while any are present.
#[derive(Debug)]
pub struct Watches(Vec<(AtomicU64, AtomicU64)>);

impl Watches {
    /// `n` unarmed watches.
    pub fn new(n: usize) -> Arc<Watches> {
        Arc::new(Watches(
            (0..n)
                .map(|_| (AtomicU64::new(u64::MAX), AtomicU64::new(u64::MAX)))
                .collect(),
        ))
    }

    /// Arms watch `i` at `from` after the run's start: successes ending from then on count.
    pub fn arm(&self, i: usize, from: Duration) {
        if let Some((f, _)) = self.0.get(i) {
            f.store(shared::us(from), Ordering::Relaxed);
        }
    }

    /// When the first success at or after watch `i`'s point ended, from the run's start.
    pub fn first(&self, i: usize) -> Option<Duration> {
        match self.0.get(i)?.1.load(Ordering::Relaxed) {
            u64::MAX => None,
            us => Some(Duration::from_micros(us)),
        }
    }

    /// A success ended at `at` after the run's start.
    fn note(&self, at: Duration) {
        let at = shared::us(at);
        for (from, first) in &self.0 {
            if at >= from.load(Ordering::Relaxed) {
                first.fetch_min(at, Ordering::Relaxed);
            }
        }
    }
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

/// What a run does: pacing, stop condition, phases, and what to record.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Closed or open loop.
    pub pacer: Pacer,
    /// When to stop.
    pub stop: StopCondition,
    /// Open loop with a duration: how long past the duration the run may go on working off a
    /// backlog. Past it, workers take no more tickets and the operations still intended before
    /// the duration are counted as [`RunReport::unissued`] instead of run; `None`: no limit.
    pub overrun: Option<Duration>,
    /// Phase windows, by start (at least one, starting at zero).
    pub windows: Vec<PhaseWindow>,
    /// Per phase index: whether it is measured (the warm-up is not).
    pub measured: Vec<bool>,
    /// Class names, by class index (tags of the interval log).
    pub classes: Vec<String>,
    /// Tenants in the population.
    pub tenants: usize,
    /// Tenant indices whose figures are kept individually.
    pub tenant_sample: Vec<usize>,
    /// Open loop: how workers wait for an intended start.
    pub timer: Timer,
    /// Offsets, armed while the run goes on (the ends of a scenario's faults), after which it
    /// notes its first successful operation; with them it also keeps every second's classes
    /// merged ([`Timeline::merged`]).
    pub watch: Option<Arc<Watches>>,
    /// Open loop, `run --worker i/N`: this process takes every N-th ticket of the whole
    /// schedule, from ticket i, so the generators' intended starts together are one process's
    /// exactly; `None`: every ticket.
    pub slice: Option<(u32, u32)>,
}

impl RunConfig {
    /// A single-phase run over one class and one tenant: for tests and benchmarks. It waits with
    /// the runtime's timer, so tests on paused time can advance it; set [`RunConfig::timer`]
    /// for precise starts.
    pub fn simple(pacer: Pacer, stop: StopCondition) -> RunConfig {
        RunConfig {
            pacer,
            stop,
            overrun: None,
            windows: vec![PhaseWindow {
                phase: 0,
                start: Duration::ZERO,
                rate: None,
            }],
            measured: vec![true],
            classes: vec!["all".into()],
            tenants: 1,
            tenant_sample: Vec::new(),
            timer: Timer::Runtime,
            watch: None,
            slice: None,
        }
    }
}

/// Figures the live line shows, once a second.
#[derive(Debug, Clone, Copy)]
pub struct Live {
    /// Seconds since the start (by intended start of the last closed second).
    pub second: u64,
    /// Phase of that second.
    pub phase: u16,
    /// Successful operations in that second.
    pub ops: u64,
    /// p99 response time of every successful operation so far, µs.
    pub p99_us: u64,
    /// Failed operations so far.
    pub errors: u64,
}

/// The live line's callback: called by the flusher once per closed second.
pub type LiveFn = Box<dyn FnMut(&Live) + Send>;

/// A long run's checkpoint: every `every`, the flusher hands the timeline so far (closed
/// seconds, memory samples) to `write`, which saves it (`run` rewrites results.json with the
/// trial as `partial`), so a crash loses at most that much.
pub struct Checkpoint {
    /// How often.
    pub every: Duration,
    /// Saves the timeline so far.
    pub write: Box<dyn FnMut(&Timeline) + Send>,
}

/// The run's connections to the outside: cancellation, interval log, live line.
#[derive(Default)]
pub struct RunIo {
    /// Cancelled: stop issuing operations, finish, report what ran.
    pub cancel: CancellationToken,
    /// Where the interval log goes.
    pub hlog: Option<Box<dyn Write + Send>>,
    /// Called once per closed second.
    pub live: Option<LiveFn>,
    /// Sent the run's start instant as the run starts (what runs beside it, such as a
    /// scenario's faults, is timed from it).
    pub started: Option<tokio::sync::oneshot::Sender<Instant>>,
    /// Saves the run so far at intervals.
    pub checkpoint: Option<Checkpoint>,
}

/// What a run produced.
#[derive(Debug)]
pub struct RunReport {
    /// Histograms of all workers, merged.
    pub recorder: Recorder,
    /// The sampled tenants' figures per operation: tenant `i` of [`RunConfig::tenant_sample`]
    /// and op `o` at `i * Op::ALL.len() + o as usize`.
    pub tenants: Vec<TenantTally>,
    /// Per-second summaries.
    pub timeline: Timeline,
    /// Wall (or simulated) time from start to the last operation's end.
    pub elapsed: Duration,
    /// True when the run was cancelled before its stop condition.
    pub cancelled: bool,
    /// Writing the interval log failed (the run itself went on).
    pub hlog_error: Option<String>,
    /// Open loop: operations intended before the duration that never started, because the
    /// run reached [`RunConfig::overrun`] still working off its backlog (0 otherwise).
    pub unissued: u64,
    /// Open loop: operations the schedule intended (started ones and [`RunReport::unissued`]
    /// ones), counted by the schedule apart from the recorder, so an operation lost between
    /// the two would show; `None` for a closed loop.
    pub intended: Option<u64>,
}

/// Runs a workload against a backend until the stop condition (or cancellation), with the
/// configured pacing, recording into per-key histograms, the tenant sample and the timeline.
///
/// Wires the parts: a `cancel_watcher`, one `worker_loop` per worker and the `flusher`, sharing
/// one `Shared`.
pub async fn run<B: Backend, S: RequestSource>(
    backend: Arc<B>,
    source: Arc<S>,
    cfg: RunConfig,
    io: RunIo,
) -> RunReport {
    let start = Instant::now();
    let start_wall = SystemTime::now();
    if let Some(tx) = io.started {
        // Nobody listening is fine: the side task ended early.
        let _ = tx.send(start);
    }
    let ctx = Arc::new(Shared::new(&cfg, start, io.cancel));
    // Cancelled when the workers are done: ends the flusher and the watcher.
    let done = CancellationToken::new();
    {
        let (ctx, done) = (ctx.clone(), done.clone());
        tokio::spawn(async move { cancel_watcher(&ctx.cancel, &done, &ctx.stopped).await });
    }

    let workers = cfg.pacer.workers();
    let mut tasks = Vec::with_capacity(workers);
    for w in 0..workers {
        let state = source.worker(w);
        tasks.push(tokio::spawn(worker_loop(
            ctx.clone(),
            backend.clone(),
            source.clone(),
            state,
            w,
            quota(cfg.stop, w, workers),
        )));
    }

    let timeline =
        Timeline::new(cfg.classes.clone(), io.hlog, start_wall).keeping_merged(cfg.watch.is_some());
    let flusher = tokio::spawn(flusher(
        ctx.clone(),
        done.clone(),
        timeline,
        io.live,
        io.checkpoint,
    ));

    let mut last_end = start;
    for t in tasks {
        // A worker only panics on a bug; surface it.
        last_end = last_end.max(t.await.expect("runner worker panicked"));
    }
    done.cancel();
    let (timeline, hlog_error) = flusher.await.expect("flusher panicked");
    let (recorder, tenants) = ctx.collector.finish();
    let (unissued, issued) = {
        let s = ctx.schedule.lock().unwrap_or_else(|p| p.into_inner());
        (s.unissued, s.issued)
    };
    let intended = matches!(cfg.pacer, Pacer::Open { .. }).then_some(issued + unissued);

    RunReport {
        recorder,
        tenants,
        timeline,
        elapsed: last_end - start,
        cancelled: ctx.cancel.is_cancelled(),
        hlog_error,
        unissued,
        intended,
    }
}

/// Raises `stopped` when `cancel` is cancelled, so workers stop taking tickets; returns then,
/// or when `done` is cancelled (the run ended) without touching the flag.
async fn cancel_watcher(
    cancel: &CancellationToken,
    done: &CancellationToken,
    stopped: &AtomicBool,
) {
    tokio::select! {
        () = cancel.cancelled() => stopped.store(true, Ordering::Relaxed),
        () = done.cancelled() => {}
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::backend::null::NullBackend;
    use crate::op::{ErrorKind, Op, Outcome};
    use crate::pacing::{Arrivals, phase_at};

    const GET: Request = Request {
        tenant: 0,
        op: Op::GetById,
        key: 0,
    };

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
            RunConfig::simple(pacer, StopCondition::Count(1000)),
            RunIo::default(),
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
    async fn an_overloaded_open_loop_stops_at_its_overrun_and_counts_what_it_left() {
        // One worker at 10 ms serves 100/s of the 200/s intended: the backlog grows by 100/s.
        let backend = Arc::new(NullBackend::new(Duration::from_millis(10)));
        let open = Pacer::Open {
            rate: 200.0,
            arrivals: Arrivals::Constant,
            workers: 1,
        };
        let mut cfg = RunConfig::simple(open, StopCondition::Duration(Duration::from_secs(2)));
        cfg.overrun = Some(Duration::from_secs(1));
        let r = run(
            backend.clone(),
            Arc::new(Repeat(GET)),
            cfg.clone(),
            RunIo::default(),
        )
        .await;
        assert_eq!(
            r.recorder.count() + r.unissued,
            400,
            "every intended operation ran or was counted as unissued"
        );
        assert_eq!(r.recorder.count(), backend.calls());
        assert_eq!(r.intended, Some(400), "the schedule's own count agrees");
        assert!(r.unissued >= 90, "unissued: {}", r.unissued);
        assert!(
            r.elapsed <= Duration::from_millis(3_020),
            "stopped at duration + overrun: {:?}",
            r.elapsed
        );
        // Without the limit the same run works off its whole backlog.
        cfg.overrun = None;
        let r = run(backend, Arc::new(Repeat(GET)), cfg, RunIo::default()).await;
        assert_eq!((r.recorder.count(), r.unissued), (400, 0));
        assert!(r.elapsed >= Duration::from_secs(4), "{:?}", r.elapsed);
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
            RunConfig::simple(open, run_for),
            RunIo::default(),
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
        let r = run(
            backend,
            Arc::new(Repeat(GET)),
            RunConfig::simple(closed, run_for),
            RunIo::default(),
        )
        .await;
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
        let mut cfg = RunConfig::simple(open, StopCondition::Duration(Duration::from_secs(5)));
        cfg.windows = vec![
            PhaseWindow {
                phase: 0,
                start: Duration::ZERO,
                rate: None,
            },
            PhaseWindow {
                phase: 1,
                start: Duration::from_secs(1),
                rate: None,
            },
        ];
        cfg.measured = vec![false, true];
        let r = run(backend, Arc::new(Repeat(GET)), cfg, RunIo::default()).await;
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
        let w = |phase, s| PhaseWindow {
            phase,
            start: Duration::from_secs(s),
            rate: None,
        };
        // steady, burst, steady again.
        let p = vec![w(0, 0), w(1, 20), w(0, 30)];
        assert_eq!(phase_at(&p, Duration::from_secs(19)), 0);
        assert_eq!(phase_at(&p, Duration::from_secs(20)), 1);
        assert_eq!(phase_at(&p, Duration::from_secs(99)), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_timeline_closes_every_second_and_the_interval_log_holds_them() {
        let backend = Arc::new(NullBackend::new(Duration::from_millis(1)));
        let open = Pacer::Open {
            rate: 100.0,
            arrivals: Arrivals::Constant,
            workers: 4,
        };
        let log = SharedBuf::default();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let io = RunIo {
            hlog: Some(Box::new(log.clone())),
            live: Some(Box::new(move |l: &Live| {
                s2.lock().expect("lock").push(l.second)
            })),
            ..RunIo::default()
        };
        let r = run(
            backend,
            Arc::new(Repeat(GET)),
            RunConfig::simple(open, StopCondition::Duration(Duration::from_secs(5))),
            io,
        )
        .await;
        let t = &r.timeline.summaries;
        assert_eq!(t.iter().map(|s| s.t).collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
        assert!(t.iter().all(|s| s.response.count == 100), "{t:?}");
        assert_eq!(*seen.lock().expect("lock"), [0, 1, 2, 3, 4]);
        let bytes = log.0.lock().expect("lock").clone();
        let intervals: Vec<_> =
            hdrhistogram::serialization::interval_log::IntervalLogIterator::new(&bytes)
                .filter_map(|e| match e {
                    Ok(hdrhistogram::serialization::interval_log::LogEntry::Interval(i)) => Some(i),
                    _ => None,
                })
                .collect();
        assert_eq!(intervals.len(), 5);
        assert_eq!(intervals[0].tag().map(|t| t.as_str()), Some("all"));
        let h = crate::metrics::results::decode(intervals[2].encoded_histogram()).expect("decodes");
        assert_eq!(h.len(), 100);
        assert!(r.hlog_error.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn cancelling_stops_the_run_and_keeps_what_ran() {
        let backend = Arc::new(NullBackend::new(Duration::from_millis(10)));
        let io = RunIo::default();
        let cancel = io.cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1005)).await;
            cancel.cancel();
        });
        let closed = Pacer::Closed {
            concurrency: 2,
            think: Duration::ZERO,
        };
        let r = run(
            backend,
            Arc::new(Repeat(GET)),
            RunConfig::simple(closed, StopCondition::Duration(Duration::from_secs(60))),
            io,
        )
        .await;
        assert!(r.cancelled);
        // 100 operations of 10 ms per worker in 1 s, plus the one each had in flight, which
        // finishes and is recorded; none starts after the cancellation.
        assert_eq!(r.recorder.count(), 202);
        assert!(r.elapsed < Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_phase_can_change_the_open_loop_rate() {
        let backend = Arc::new(NullBackend::new(Duration::from_micros(100)));
        let open = Pacer::Open {
            rate: 100.0,
            arrivals: Arrivals::Constant,
            workers: 8,
        };
        let mut cfg = RunConfig::simple(open, StopCondition::Duration(Duration::from_secs(3)));
        cfg.windows = vec![
            PhaseWindow {
                phase: 0,
                start: Duration::ZERO,
                rate: None,
            },
            PhaseWindow {
                phase: 1,
                start: Duration::from_secs(1),
                rate: Some(1000.0),
            },
            PhaseWindow {
                phase: 0,
                start: Duration::from_secs(2),
                rate: None,
            },
        ];
        cfg.measured = vec![true, true];
        let r = run(backend, Arc::new(Repeat(GET)), cfg, RunIo::default()).await;
        assert_eq!(r.recorder.count_where(|k| k.phase == 1), 1000);
        assert_eq!(r.recorder.count_where(|k| k.phase == 0), 200);
    }

    #[tokio::test(start_paused = true)]
    async fn the_cancel_watcher_raises_the_stop_flag_on_cancellation_only() {
        let (cancel, stopped) = (CancellationToken::new(), AtomicBool::new(false));
        let done = CancellationToken::new();
        done.cancel();
        cancel_watcher(&cancel, &done, &stopped).await;
        assert!(!stopped.load(Ordering::Relaxed), "the run ended first");

        let done = CancellationToken::new();
        let c = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            c.cancel();
        });
        cancel_watcher(&cancel, &done, &stopped).await;
        assert!(stopped.load(Ordering::Relaxed));
    }

    /// A writer whose bytes the test can read afterwards.
    #[derive(Clone, Default)]
    struct SharedBuf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for SharedBuf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
