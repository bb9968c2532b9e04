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
//! Workers record into a [`Collector`]; a flusher task closes each second (by intended start)
//! once no operation intended in it is still running, streams it to the interval log, and
//! feeds the live line. A [`CancellationToken`] stops a run cleanly (Ctrl-C): what ran is kept.
//!
//! Time is read through `tokio::time::Instant`, so tests run on paused, simulated time.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::backend::Backend;
use crate::datagen::WyRand;
use crate::metrics::collector::TenantTally;
use crate::metrics::timeline::Timeline;
use crate::metrics::{Collector, Key, LATE_AFTER, Recorder};
use crate::op::Request;
use crate::pacing::window_at;
use crate::pacing::{Arrivals, Pacer, PhaseWindow, StopCondition, phase_at};

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
}

impl RunConfig {
    /// A single-phase run over one class and one tenant: for tests and benchmarks.
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

/// The run's connections to the outside: cancellation, interval log, live line.
#[derive(Default)]
pub struct RunIo {
    /// Cancelled: stop issuing operations, finish, report what ran.
    pub cancel: CancellationToken,
    /// Where the interval log goes.
    pub hlog: Option<Box<dyn Write + Send>>,
    /// Called once per closed second.
    pub live: Option<LiveFn>,
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
}

/// The shared schedule of intended start times (open loop).
struct Schedule {
    issued: u64,
    next: Duration,
    rng: WyRand,
    unissued: u64,
}

impl Schedule {
    /// Advances to the next intended start, returning the current one.
    fn advance(&mut self, rate: f64, arrivals: Arrivals, windows: &[PhaseWindow]) -> Duration {
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
        self.next += Duration::from_secs_f64(gap);
        at
    }

    /// Past the overrun limit: counts the tickets left before `end` as unissued and moves the
    /// schedule to `end`, so every worker stops.
    fn abandon(&mut self, rate: f64, arrivals: Arrivals, windows: &[PhaseWindow], end: Duration) {
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
struct Slot(AtomicU64);

const IDLE: u64 = u64::MAX;
const PENDING: u64 = 0;

fn us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX - 1)
}

/// Runs a workload against a backend until the stop condition (or cancellation), with the
/// configured pacing, recording into per-key histograms, the tenant sample and the timeline.
pub async fn run<B: Backend, S: RequestSource>(
    backend: Arc<B>,
    source: Arc<S>,
    cfg: RunConfig,
    io: RunIo,
) -> RunReport {
    let start = Instant::now();
    let start_wall = SystemTime::now();
    let workers = cfg.pacer.workers();
    let shards = workers.min(2 * crate::metrics::evidence::cores() as usize);
    let collector = Arc::new(Collector::new(
        shards,
        cfg.classes.len(),
        cfg.tenants,
        &cfg.tenant_sample,
        cfg.measured.clone(),
    ));
    let schedule = Arc::new(Mutex::new(Schedule {
        issued: 0,
        next: Duration::ZERO,
        rng: WyRand::new(0x5eed),
        unissued: 0,
    }));
    let slots: Arc<Vec<Slot>> =
        Arc::new((0..workers).map(|_| Slot(AtomicU64::new(IDLE))).collect());
    let windows = Arc::new(cfg.windows.clone());
    let (pacer, stop) = (cfg.pacer, cfg.stop);
    // The instant past which an open loop stops working off its backlog, with what
    // [`Schedule::abandon`] needs to count the tickets left.
    let cutoff = match (pacer, stop, cfg.overrun) {
        (Pacer::Open { rate, arrivals, .. }, StopCondition::Duration(d), Some(o)) => {
            Some((start + d + o, d, rate, arrivals))
        }
        _ => None,
    };
    let cancel = io.cancel.clone();
    // The token's `is_cancelled` takes a lock shared by every worker (it showed as 11% of a
    // zero-delay run in perf); workers poll this flag instead, and await the token only where
    // they sleep anyway.
    let stopped = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Cancelled when the workers are done: ends the flusher and the watcher below.
    let done = CancellationToken::new();
    {
        let (cancel, stopped, done) = (cancel.clone(), stopped.clone(), done.clone());
        tokio::spawn(async move {
            tokio::select! {
                () = cancel.cancelled() => stopped.store(true, Ordering::Relaxed),
                () = done.cancelled() => {}
            }
        });
    }

    let mut tasks = Vec::with_capacity(workers);
    for w in 0..workers {
        // Closed loop with a count: each worker gets its share up front (YCSB splits
        // `operationcount` across threads the same way), so workers share no counter.
        let mut quota = match stop {
            StopCondition::Count(n) => {
                n / workers as u64 + u64::from((w as u64) < n % workers as u64)
            }
            StopCondition::Duration(_) => u64::MAX,
        };
        let stopped = stopped.clone();
        let (backend, source, schedule, windows, collector, slots, cancel) = (
            backend.clone(),
            source.clone(),
            schedule.clone(),
            windows.clone(),
            collector.clone(),
            slots.clone(),
            cancel.clone(),
        );
        let mut state = source.worker(w);
        let shard = w % collector.shards();
        tasks.push(tokio::spawn(async move {
            let mut last_end = start;
            let slot = &slots[w].0;
            loop {
                if stopped.load(Ordering::Relaxed) {
                    break;
                }
                // Take the next ticket: its intended start (open loop) or none (closed loop).
                let intended = match pacer {
                    Pacer::Closed { .. } => {
                        let over = match stop {
                            StopCondition::Count(_) => {
                                let done = quota == 0;
                                quota = quota.saturating_sub(1);
                                done
                            }
                            StopCondition::Duration(d) => last_end - start >= d,
                        };
                        if over {
                            break;
                        }
                        None
                    }
                    Pacer::Open { rate, arrivals, .. } => {
                        let mut s = schedule.lock().unwrap_or_else(|p| p.into_inner());
                        let over = match stop {
                            StopCondition::Count(n) => s.issued >= n,
                            StopCondition::Duration(d) => s.next >= d,
                        };
                        if over {
                            break;
                        }
                        let at = s.advance(rate, arrivals, &windows);
                        s.issued += 1;
                        // Published under the lock, so the flusher never sees the ticket in
                        // neither the schedule nor a slot.
                        slot.store(us(at), Ordering::Release);
                        Some(start + at)
                    }
                };
                if let Some(t) = intended {
                    tokio::select! {
                        () = tokio::time::sleep_until(t) => {}
                        () = cancel.cancelled() => { slot.store(IDLE, Ordering::Release); break; }
                    }
                } else {
                    // SeqCst: must be visible before the clock is read, or the flusher could close
                    // the second this operation is about to start in.
                    slot.store(PENDING, Ordering::SeqCst);
                }
                let actual = Instant::now();
                // Woken past the overrun limit (the clock read the start needs anyway, not one
                // more under the schedule's lock): this ticket and those still owed are counted,
                // not run.
                if let Some((limit, end, rate, arrivals)) = cutoff
                    && actual > limit
                {
                    let mut s = schedule.lock().unwrap_or_else(|p| p.into_inner());
                    s.unissued += 1;
                    s.abandon(rate, arrivals, &windows, end);
                    slot.store(IDLE, Ordering::Release);
                    break;
                }
                let intended = intended.unwrap_or(actual);
                let offset = intended - start;
                if pacer_is_closed(pacer) {
                    slot.store(us(offset), Ordering::Release);
                }
                let phase = phase_at(&windows, offset);
                let (req, class) = source.next(&mut state, phase);
                // Not raced against cancellation: an operation in flight finishes and is
                // recorded (operations are bounded by the driver's timeouts), and the hot path
                // stays a plain await.
                let outcome = backend.execute(&req).await;
                let end = Instant::now();
                last_end = end;
                if actual - intended > LATE_AFTER {
                    collector.late_start(shard);
                }
                collector.record(
                    shard,
                    Key {
                        phase,
                        op: req.op,
                        class,
                        outcome,
                    },
                    req.tenant,
                    offset,
                    end - intended,
                    end - actual,
                );
                slot.store(IDLE, Ordering::Release);
                if let Pacer::Closed { think, .. } = pacer
                    && !think.is_zero()
                {
                    tokio::select! {
                        () = tokio::time::sleep(think) => {}
                        () = cancel.cancelled() => break,
                    }
                }
            }
            last_end
        }));
    }

    // The flusher: once a second, close the seconds no running operation can still add to.
    let flusher = {
        let (collector, slots, schedule, done, windows) = (
            collector.clone(),
            slots.clone(),
            schedule.clone(),
            done.clone(),
            windows.clone(),
        );
        let mut timeline = Timeline::new(cfg.classes.clone(), io.hlog, start_wall);
        let mut live = io.live;
        tokio::spawn(async move {
            let mut hlog_error = None;
            let mut tick =
                tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                let finished = tokio::select! {
                    _ = tick.tick() => false,
                    () = done.cancelled() => true,
                };
                let before = if finished {
                    u64::MAX
                } else {
                    let mut mark = us(start.elapsed());
                    if matches!(pacer, Pacer::Open { .. }) {
                        let s = schedule.lock().unwrap_or_else(|p| p.into_inner());
                        mark = mark.min(us(s.next));
                    }
                    for s in slots.iter() {
                        mark = mark.min(s.0.load(Ordering::SeqCst));
                    }
                    mark / 1_000_000
                };
                let seconds = collector.take_seconds(before);
                let closed_any = !seconds.is_empty();
                if let Err(e) = timeline.add(seconds)
                    && hlog_error.is_none()
                {
                    hlog_error = Some(e.to_string());
                }
                if closed_any && let (Some(f), Some(t)) = (live.as_mut(), timeline.last_t) {
                    f(&Live {
                        second: t,
                        phase: phase_at(&windows, Duration::from_secs(t)),
                        ops: timeline.last_second_ops,
                        p99_us: if timeline.so_far.is_empty() {
                            0
                        } else {
                            timeline.so_far.value_at_quantile(0.99)
                        },
                        errors: timeline.errors,
                    });
                }
                if finished {
                    return (timeline, hlog_error);
                }
            }
        })
    };

    let mut last_end = start;
    for t in tasks {
        // A worker only panics on a bug; surface it.
        last_end = last_end.max(t.await.expect("runner worker panicked"));
    }
    done.cancel();
    let (timeline, hlog_error) = flusher.await.expect("flusher panicked");
    let (recorder, tenants) = collector.finish();
    let unissued = schedule.lock().unwrap_or_else(|p| p.into_inner()).unissued;
    RunReport {
        recorder,
        tenants,
        timeline,
        elapsed: last_end - start,
        cancelled: cancel.is_cancelled(),
        hlog_error,
        unissued,
    }
}

fn pacer_is_closed(p: Pacer) -> bool {
    matches!(p, Pacer::Closed { .. })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::null::NullBackend;
    use crate::op::{ErrorKind, Op, Outcome};

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
        // The token's `is_cancelled` takes a lock shared by every worker (it showed as 11% of a
        // zero-delay run in perf); workers poll this flag instead, and await the token only where
        // they sleep anyway.
        let stopped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        // Cancelled when the workers are done: ends the flusher and the watcher below.
        let done = CancellationToken::new();
        {
            let (cancel, stopped, done) = (cancel.clone(), stopped.clone(), done.clone());
            tokio::spawn(async move {
                tokio::select! {
                    () = cancel.cancelled() => stopped.store(true, Ordering::Relaxed),
                    () = done.cancelled() => {}
                }
            });
        }
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
