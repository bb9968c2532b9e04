//! One worker of a run: the loop that takes its next ticket (closed or open pacing, until the
//! stop condition), waits for the intended start, asks the request source for an operation,
//! times it against the backend and records it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::time::Instant;

use super::RequestSource;
use super::shared::{IDLE, PENDING, Shared, us};
use super::timer::Wait;
use crate::backend::Backend;
use crate::metrics::{Key, LATE_AFTER};
use crate::op::Outcome;
use crate::pacing::{Pacer, StopCondition, phase_at};

/// Closed loop with a count: worker `w`'s share of the operations, handed out up front (YCSB
/// splits `operationcount` across threads the same way), so workers share no counter. Without a
/// count: unlimited.
pub(super) fn quota(stop: StopCondition, w: usize, workers: usize) -> u64 {
    match stop {
        StopCondition::Count(n) => n / workers as u64 + u64::from((w as u64) < n % workers as u64),
        StopCondition::Duration(_) => u64::MAX,
    }
}

/// Worker `w`: runs operations until the stop condition, its `quota` (see [`quota`]), the stop
/// flag or cancellation, and returns when its last operation ended. `state` is its request
/// source's state, created before the run started.
pub(super) async fn worker_loop<B: Backend, S: RequestSource>(
    ctx: Arc<Shared>,
    backend: Arc<B>,
    source: Arc<S>,
    mut state: S::Worker,
    w: usize,
    mut quota: u64,
) -> Instant {
    let (start, pacer) = (ctx.start, ctx.pacer);
    let shard = w % ctx.collector.shards();
    let slot = &ctx.slots[w].0;
    let mut last_end = start;
    let mut wait = Wait::new(ctx.timer);
    loop {
        if ctx.stopped.load(Ordering::Relaxed) {
            break;
        }
        let Some(intended) = take_ticket(&ctx, &mut quota, last_end, slot) else {
            break;
        };
        if let Some(t) = intended {
            tokio::select! {
                () = wait.until(t) => {}
                () = ctx.cancel.cancelled() => { slot.store(IDLE, Ordering::Release); break; }
            }
        } else {
            // SeqCst: must be visible before the clock is read, or the flusher could close
            // the second this operation is about to start in.
            slot.store(PENDING, Ordering::SeqCst);
        }
        let actual = Instant::now();
        if overran(&ctx, actual) {
            slot.store(IDLE, Ordering::Release);
            break;
        }
        let intended = intended.unwrap_or(actual);
        let offset = intended - start;
        if pacer_is_closed(pacer) {
            slot.store(us(offset), Ordering::Release);
        }
        let phase = phase_at(&ctx.windows, offset);
        let (req, class) = source.next(&mut state, phase);
        // Not raced against cancellation: an operation in flight finishes and is
        // recorded (operations are bounded by the driver's timeouts), and the hot path
        // stays a plain await.
        let outcome = backend.execute(&req).await;
        let end = Instant::now();
        last_end = end;
        if let Some(w) = &ctx.watch
            && outcome == Outcome::Ok
        {
            w.note(end - start);
        }
        if actual - intended > LATE_AFTER {
            ctx.collector.late_start(shard);
        }
        ctx.collector.record(
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
                () = ctx.cancel.cancelled() => break,
            }
        }
    }
    last_end
}

/// Takes a worker's next ticket: `None` once the stop condition is reached; else the intended
/// start of its next operation (open loop, published in the worker's `slot`), or `Some(None)`
/// when it has none (closed loop: it starts now).
#[inline]
fn take_ticket(
    ctx: &Shared,
    quota: &mut u64,
    last_end: Instant,
    slot: &AtomicU64,
) -> Option<Option<Instant>> {
    match ctx.pacer {
        Pacer::Closed { .. } => {
            let over = match ctx.stop {
                StopCondition::Count(_) => {
                    let done = *quota == 0;
                    *quota = quota.saturating_sub(1);
                    done
                }
                StopCondition::Duration(d) => last_end - ctx.start >= d,
            };
            if over { None } else { Some(None) }
        }
        Pacer::Open { rate, arrivals, .. } => {
            let mut s = ctx.schedule.lock().unwrap_or_else(|p| p.into_inner());
            let over = match ctx.stop {
                StopCondition::Count(n) => s.issued >= n,
                StopCondition::Duration(d) => s.next >= d,
            };
            if over {
                return None;
            }
            let at = s.advance(rate, arrivals, &ctx.windows);
            s.issued += 1;
            // Published under the lock, so the flusher never sees the ticket in
            // neither the schedule nor a slot.
            slot.store(us(at), Ordering::Release);
            Some(Some(ctx.start + at))
        }
    }
}

/// Whether a worker woke past the overrun limit (checked with the clock read the start needs
/// anyway, not one more under the schedule's lock): then this ticket and those still owed are
/// counted, not run, and the worker stops.
#[inline]
fn overran(ctx: &Shared, actual: Instant) -> bool {
    let Some(c) = ctx.cutoff else {
        return false;
    };
    if actual <= c.limit {
        return false;
    }
    let mut s = ctx.schedule.lock().unwrap_or_else(|p| p.into_inner());
    // The ticket this worker took is owed, not run.
    s.issued -= 1;
    s.unissued += 1;
    s.abandon(c.rate, c.arrivals, &ctx.windows, c.end);
    true
}

#[inline]
fn pacer_is_closed(p: Pacer) -> bool {
    matches!(p, Pacer::Closed { .. })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::backend::null::NullBackend;
    use crate::op::{Op, Request};
    use crate::pacing::Arrivals;
    use crate::runner::{Repeat, RunConfig};

    const GET: Request = Request {
        tenant: 0,
        op: Op::GetById,
        key: 0,
    };

    fn shared(pacer: Pacer, stop: StopCondition) -> Arc<Shared> {
        let cfg = RunConfig::simple(pacer, stop);
        Arc::new(Shared::new(&cfg, Instant::now(), CancellationToken::new()))
    }

    const ONE_CLOSED: Pacer = Pacer::Closed {
        concurrency: 1,
        think: Duration::ZERO,
    };

    #[test]
    fn a_count_is_split_across_workers_to_the_last_operation() {
        let shares: Vec<u64> = (0..4)
            .map(|w| quota(StopCondition::Count(10), w, 4))
            .collect();
        assert_eq!(shares, [3, 3, 2, 2]);
        let d = StopCondition::Duration(Duration::from_secs(1));
        assert_eq!(quota(d, 0, 4), u64::MAX);
    }

    #[tokio::test(start_paused = true)]
    async fn a_closed_loop_worker_runs_its_quota_back_to_back() {
        let ctx = shared(ONE_CLOSED, StopCondition::Count(50));
        let backend = Arc::new(NullBackend::new(Duration::from_millis(2)));
        let source = Arc::new(Repeat(GET));
        let end = worker_loop(ctx.clone(), backend.clone(), source, (), 0, 50).await;
        assert_eq!(backend.calls(), 50);
        assert_eq!(end - ctx.start, Duration::from_millis(100));
        assert_eq!(ctx.collector.finish().0.count(), 50);
        assert_eq!(ctx.slots[0].0.load(Ordering::SeqCst), IDLE);
    }

    #[tokio::test(start_paused = true)]
    async fn the_stop_flag_ends_a_worker_once_its_operation_in_flight_is_recorded() {
        let ctx = shared(ONE_CLOSED, StopCondition::Duration(Duration::from_secs(60)));
        let backend = Arc::new(NullBackend::new(Duration::from_millis(10)));
        let task = tokio::spawn(worker_loop(
            ctx.clone(),
            backend,
            Arc::new(Repeat(GET)),
            (),
            0,
            u64::MAX,
        ));
        tokio::time::sleep(Duration::from_millis(1005)).await;
        ctx.stopped.store(true, Ordering::Relaxed);
        let end = task.await.expect("worker");
        // Operations at 0, 10, …, 1000 ms; the last one ends at 1010 ms.
        assert_eq!(ctx.collector.finish().0.count(), 101);
        assert_eq!(end - ctx.start, Duration::from_millis(1010));
    }

    #[tokio::test(start_paused = true)]
    async fn cancellation_wakes_an_open_loop_worker_waiting_for_its_ticket() {
        let open = Pacer::Open {
            rate: 1.0,
            arrivals: Arrivals::Constant,
            workers: 1,
        };
        let ctx = shared(open, StopCondition::Duration(Duration::from_secs(60)));
        let backend = Arc::new(NullBackend::new(Duration::from_millis(1)));
        let task = tokio::spawn(worker_loop(
            ctx.clone(),
            backend,
            Arc::new(Repeat(GET)),
            (),
            0,
            u64::MAX,
        ));
        tokio::time::sleep(Duration::from_millis(2500)).await;
        ctx.cancel.cancel();
        let end = task.await.expect("worker");
        assert_eq!(
            ctx.start.elapsed(),
            Duration::from_millis(2500),
            "woken by the cancellation, not by its ticket at 3 s"
        );
        assert_eq!(end - ctx.start, Duration::from_millis(2001));
        assert_eq!(ctx.collector.finish().0.count(), 3);
        assert_eq!(ctx.slots[0].0.load(Ordering::SeqCst), IDLE);
    }
}
