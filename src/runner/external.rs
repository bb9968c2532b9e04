//! A run whose operations another load generator issues (goose's users, `tenantbench load`):
//! the same collector, per-second timeline, interval log and live line as [`run`](super::run),
//! fed by [`External::begin`] and [`External::end_timed`] around each operation.
//!
//! Such a generator is a closed loop per user: an operation's time is measured from its
//! actual start, so a stall delays the next operations instead of timing them (coordinated
//! omission). Each slot (one per user) publishes its operation's start while it runs, so the
//! flusher closes a second only when nothing started in it is still running, as in `run`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::flusher::flusher;
use super::shared::{IDLE, PENDING, Shared, us};
use super::{RunConfig, RunIo, RunReport};
use crate::metrics::Key;
use crate::metrics::timeline::Timeline;
use crate::op::{Op, Outcome};
use crate::pacing::phase_at;

/// One external run: `slots` generators record into it at once (goose users, by index).
pub struct External {
    ctx: Arc<Shared>,
    done: CancellationToken,
    flusher: JoinHandle<(Timeline, Option<String>)>,
}

/// An operation under way in a slot: its start.
#[derive(Debug, Clone, Copy)]
pub struct Started {
    slot: usize,
    at: Instant,
}

impl External {
    /// Starts the clock and the flusher of a run of `cfg` (its pacer's worker count is the
    /// number of slots; its stop condition is the generator's business).
    pub fn start(cfg: &RunConfig, io: RunIo) -> External {
        let start = Instant::now();
        let ctx = Arc::new(Shared::new(cfg, start, io.cancel));
        let done = CancellationToken::new();
        let timeline = Timeline::new(cfg.classes.clone(), io.hlog, SystemTime::now());
        let flusher = tokio::spawn(flusher(
            ctx.clone(),
            done.clone(),
            timeline,
            io.live,
            io.checkpoint,
        ));
        External { ctx, done, flusher }
    }

    /// Number of slots.
    pub fn slots(&self) -> usize {
        self.ctx.slots.len()
    }

    /// Seconds since the run's start.
    pub fn elapsed(&self) -> std::time::Duration {
        self.ctx.start.elapsed()
    }

    /// The phase at this moment.
    pub fn phase_now(&self) -> u16 {
        phase_at(&self.ctx.windows, self.ctx.start.elapsed())
    }

    /// Marks an operation's start in `slot` (below [`slots`](Self::slots); a larger one shares
    /// the last slot's mark). The slot must be idle: one operation per slot at a time.
    pub fn begin(&self, slot: usize) -> Started {
        let slot = slot.min(self.ctx.slots.len().saturating_sub(1));
        let mark = &self.ctx.slots[slot].0;
        // SeqCst before the clock is read, or the flusher could close the second this
        // operation is about to start in (as a closed-loop worker does).
        mark.store(PENDING, Ordering::SeqCst);
        let at = Instant::now();
        mark.store(us(at - self.ctx.start), Ordering::Release);
        Started { slot, at }
    }

    /// Records the operation `s` began: its op, tenant class, outcome and tenant, timed from
    /// its start to now; frees its slot.
    pub fn end(&self, s: Started, op: Op, class: u16, outcome: Outcome, tenant: usize) {
        self.end_timed(s, s.at.elapsed(), op, class, outcome, tenant);
    }

    /// Records the operation `s` began as one that took `took` and ended now (the generator
    /// timed it, after waits of its own such as a throttle): it started at now − `took`
    /// (never before `s`), which picks its phase and second; frees its slot.
    pub fn end_timed(
        &self,
        s: Started,
        took: std::time::Duration,
        op: Op,
        class: u16,
        outcome: Outcome,
        tenant: usize,
    ) {
        let at = Instant::now()
            .checked_sub(took)
            .map_or(s.at, |a| a.max(s.at));
        let offset = at - self.ctx.start;
        let shard = s.slot % self.ctx.collector.shards();
        self.ctx.collector.record(
            shard,
            Key {
                phase: phase_at(&self.ctx.windows, offset),
                op,
                class,
                outcome,
            },
            tenant,
            offset,
            took,
            took,
        );
        self.ctx.slots[s.slot].0.store(IDLE, Ordering::Release);
    }

    /// Closes every second left and returns what the run recorded, timed to now.
    pub async fn finish(self) -> RunReport {
        let elapsed = self.ctx.start.elapsed();
        self.done.cancel();
        let (timeline, hlog_error) = self.flusher.await.expect("flusher panicked");
        let (recorder, tenants) = self.ctx.collector.finish();
        RunReport {
            recorder,
            tenants,
            timeline,
            elapsed,
            cancelled: self.ctx.cancel.is_cancelled(),
            hlog_error,
            unissued: 0,
            intended: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::pacing::{Pacer, PhaseWindow, StopCondition};

    #[tokio::test(start_paused = true)]
    async fn operations_from_outside_land_in_their_phase_second_and_histogram() {
        let users = Pacer::Closed {
            concurrency: 2,
            think: Duration::ZERO,
        };
        let mut cfg = RunConfig::simple(users, StopCondition::Duration(Duration::from_secs(3)));
        cfg.windows.push(PhaseWindow {
            phase: 1,
            start: Duration::from_secs(2),
            rate: None,
        });
        cfg.measured = vec![true, true];
        let run = External::start(&cfg, RunIo::default());
        assert_eq!(run.slots(), 2);
        // Two users, 10 ms operations back to back for 3 s; user 1's fail.
        let user = |run: Arc<External>, slot: usize| async move {
            while run.elapsed() < Duration::from_secs(3) {
                let s = run.begin(slot);
                tokio::time::sleep(Duration::from_millis(10)).await;
                let outcome = if slot == 1 {
                    Outcome::Error(crate::op::ErrorKind::Server)
                } else {
                    Outcome::Ok
                };
                run.end(s, Op::GetById, 0, outcome, 0);
            }
        };
        let run = Arc::new(run);
        let a = tokio::spawn(user(run.clone(), 0));
        let b = tokio::spawn(user(run.clone(), 1));
        a.await.expect("user 0");
        b.await.expect("user 1");
        let run = Arc::into_inner(run).expect("users are done");
        let r = run.finish().await;
        assert_eq!(r.recorder.count(), 600);
        assert_eq!(r.recorder.count_where(|k| k.outcome == Outcome::Ok), 300);
        assert_eq!(r.recorder.count_where(|k| k.phase == 1), 200);
        let ok = r.recorder.merged(|k| k.outcome == Outcome::Ok).response;
        // Every operation took the same 10 ms (one HDR bucket: 3 significant digits).
        assert!(ok.max() - ok.min() < 10, "{} .. {}", ok.min(), ok.max());
        assert!((9_990..=10_010).contains(&ok.min()), "{}", ok.min());
        let seconds: Vec<u64> = r.timeline.summaries.iter().map(|s| s.t).collect();
        assert_eq!(seconds, [0, 1, 2]);
        assert!(r.timeline.summaries.iter().all(|s| s.response.count == 100));
    }
}
