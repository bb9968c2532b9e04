//! The flusher: once a second, closes the seconds (by intended start) no running or future
//! operation can still add to, streams them to the interval log and feeds the live line.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::shared::{Shared, us};
use super::{Checkpoint, Live, LiveFn};
use crate::metrics::timeline::Timeline;
use crate::pacing::{Pacer, phase_at};

/// Closes seconds into `timeline` once a second, and every second left once `done` is
/// cancelled (the workers have ended); samples the harness's memory each second; hands the
/// timeline to `checkpoint` at its interval. Returns the timeline and the first error writing
/// the interval log, if any.
pub(super) async fn flusher(
    ctx: Arc<Shared>,
    done: CancellationToken,
    mut timeline: Timeline,
    mut live: Option<LiveFn>,
    mut checkpoint: Option<Checkpoint>,
) -> (Timeline, Option<String>) {
    let mut hlog_error = None;
    let mut saved = ctx.start;
    let mut tick =
        tokio::time::interval_at(ctx.start + Duration::from_secs(1), Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let finished = tokio::select! {
            _ = tick.tick() => false,
            () = done.cancelled() => true,
        };
        let before = if finished {
            u64::MAX
        } else {
            closable_before(&ctx)
        };
        let seconds = ctx.collector.take_seconds(before);
        let closed_any = !seconds.is_empty();
        if let Err(e) = timeline.add(seconds)
            && hlog_error.is_none()
        {
            hlog_error = Some(e.to_string());
        }
        if closed_any && let (Some(f), Some(t)) = (live.as_mut(), timeline.last_t) {
            f(&Live {
                second: t,
                phase: phase_at(&ctx.windows, Duration::from_secs(t)),
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
        timeline.sample_rss(ctx.start.elapsed().as_secs());
        if let Some(c) = checkpoint.as_mut()
            && saved.elapsed() >= c.every
        {
            saved = tokio::time::Instant::now();
            (c.write)(&timeline);
        }
    }
}

/// The seconds (since the start) before which every second can be closed: none is still to
/// come (the clock, and the open loop's next ticket) and no worker runs or is about to start
/// an operation intended in it (the slots).
fn closable_before(ctx: &Shared) -> u64 {
    let mut mark = us(ctx.start.elapsed());
    if matches!(ctx.pacer, Pacer::Open { .. }) {
        let s = ctx.schedule.lock().unwrap_or_else(|p| p.into_inner());
        mark = mark.min(us(s.next));
    }
    for s in &ctx.slots {
        mark = mark.min(s.0.load(Ordering::SeqCst));
    }
    mark / 1_000_000
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::SystemTime;

    use tokio::time::Instant;

    use super::*;
    use crate::metrics::Key;
    use crate::op::{Op, Outcome};
    use crate::pacing::{Arrivals, StopCondition};
    use crate::runner::RunConfig;
    use crate::runner::shared::IDLE;

    fn record(ctx: &Shared, intended_ms: u64) {
        let key = Key {
            phase: 0,
            op: Op::GetById,
            class: 0,
            outcome: Outcome::Ok,
        };
        let ms = Duration::from_millis(1);
        ctx.collector
            .record(0, key, 0, Duration::from_millis(intended_ms), ms, ms);
    }

    #[tokio::test(start_paused = true)]
    async fn a_second_closes_once_no_operation_intended_in_it_runs() {
        let open = Pacer::Open {
            rate: 1.0,
            arrivals: Arrivals::Constant,
            workers: 1,
        };
        let cfg = RunConfig::simple(open, StopCondition::Duration(Duration::from_secs(10)));
        let ctx = Arc::new(Shared::new(&cfg, Instant::now(), CancellationToken::new()));
        // The schedule is past the seconds looked at: only the worker's slot holds them open.
        ctx.schedule.lock().expect("lock").next = Duration::from_secs(10);
        // An operation intended at 0.5 s still runs; those intended at 1.5 s and 2.5 s ended.
        ctx.slots[0]
            .0
            .store(us(Duration::from_millis(500)), Ordering::SeqCst);
        record(&ctx, 1500);
        record(&ctx, 2500);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let live: LiveFn = {
            let seen = seen.clone();
            Box::new(move |l: &Live| seen.lock().expect("lock").push((l.second, l.ops)))
        };
        let done = CancellationToken::new();
        let timeline = Timeline::new(vec!["all".into()], None, SystemTime::now());
        let task = tokio::spawn(flusher(
            ctx.clone(),
            done.clone(),
            timeline,
            Some(live),
            None,
        ));

        tokio::time::sleep(Duration::from_millis(3500)).await;
        assert!(
            seen.lock().expect("lock").is_empty(),
            "second 0 is held open, and the later ones with it"
        );
        record(&ctx, 500);
        ctx.slots[0].0.store(IDLE, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            *seen.lock().expect("lock"),
            [(2, 1)],
            "closed up to second 2"
        );

        done.cancel();
        let (timeline, hlog_error) = task.await.expect("flusher");
        let closed: Vec<u64> = timeline.summaries.iter().map(|s| s.t).collect();
        assert_eq!(closed, [0, 1, 2]);
        assert!(hlog_error.is_none());
    }
}
