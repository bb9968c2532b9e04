//! Where the runner's workers record: a few shards, each a [`Recorder`] plus open per-second,
//! per-class histograms and the sampled tenants' histograms per operation, behind an
//! uncontended mutex.
//!
//! Why shards and not one recorder per worker (STYLE.md §5): a worker's histogram set is
//! phases × ops × classes × outcomes × 2 histograms of ~40 KB, megabytes per worker; an open
//! loop has 64 or more workers. Shards are sized to the cores that run the workers, so memory
//! grows with cores, not with workers, and two workers rarely meet on one lock.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::{Key, Recorder, histogram, micros, put};
use crate::op::{Op, Outcome};

/// A sampled tenant's figures.
#[derive(Debug, Clone)]
pub struct TenantTally {
    /// Response times of its successful operations, µs.
    pub ok: Histogram<u64>,
    /// Its failed operations.
    pub errors: u64,
}

impl Default for TenantTally {
    fn default() -> Self {
        TenantTally {
            ok: histogram(),
            errors: 0,
        }
    }
}

/// One class in one second.
#[derive(Debug, Clone)]
pub struct ClassSecond {
    /// Response times of successful operations, µs.
    pub ok: Histogram<u64>,
    /// Failed operations.
    pub errors: u64,
    /// Failed operations by kind, in [`ErrorKind::ALL`] order.
    pub kinds: [u64; 4],
}

impl Default for ClassSecond {
    fn default() -> Self {
        ClassSecond {
            ok: histogram(),
            errors: 0,
            kinds: [0; 4],
        }
    }
}

/// The per-class histograms of one second (by intended start).
#[derive(Debug, Clone)]
pub struct Second {
    /// Seconds since the run's start.
    pub t: u64,
    /// Indexed by class; `None` where the class had no operation.
    pub classes: Vec<Option<ClassSecond>>,
}

#[derive(Debug, Default)]
struct Shard {
    rec: Recorder,
    seconds: VecDeque<Second>,
    tenants: Vec<TenantTally>,
}

/// Recording target of a run.
#[derive(Debug)]
pub struct Collector {
    shards: Vec<Mutex<Shard>>,
    classes: usize,
    /// Per tenant index: its slot in the tenant sample, or `NO_SLOT`.
    tenant_slot: Vec<u32>,
    slots: usize,
    /// Per phase: whether it counts for the tenant sample (not the warm-up).
    measured: Vec<bool>,
    /// Record start lags (open loop).
    lags: bool,
}

const NO_SLOT: u32 = u32::MAX;

impl Collector {
    /// A collector with `shards` shards (at least 1) for `classes` classes; `sample` lists the
    /// tenant indices (below `tenants`) whose figures are kept individually; `measured[p]` says
    /// whether phase `p` counts for them.
    pub fn new(
        shards: usize,
        classes: usize,
        tenants: usize,
        sample: &[usize],
        measured: Vec<bool>,
    ) -> Collector {
        let mut tenant_slot = vec![NO_SLOT; tenants];
        for (i, &t) in sample.iter().enumerate() {
            if let Some(s) = tenant_slot.get_mut(t) {
                *s = i as u32;
            }
        }
        Collector {
            shards: (0..shards.max(1))
                .map(|_| Mutex::new(Shard::default()))
                .collect(),
            classes,
            tenant_slot,
            slots: sample.len(),
            measured,
            lags: false,
        }
    }

    /// Also records each operation's start lag (open loop: response minus service time).
    #[must_use]
    pub fn with_lags(mut self, lags: bool) -> Collector {
        self.lags = lags;
        self
    }

    /// Number of shards; worker `w` records into shard `w % shards()`.
    pub fn shards(&self) -> usize {
        self.shards.len()
    }

    /// Records one operation: its key, tenant, intended start (offset from the run's start),
    /// response time and service time.
    pub fn record(
        &self,
        shard: usize,
        key: Key,
        tenant: usize,
        intended: Duration,
        response: Duration,
        service: Duration,
    ) {
        let mut s = self.shards[shard % self.shards.len()]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        s.rec.record(key, response, service);
        if self.lags {
            s.rec.record_lag(response.saturating_sub(service));
        }
        let us = micros(response);
        let ok = key.outcome == Outcome::Ok;
        let failed = matches!(key.outcome, Outcome::Error(_));

        // Per-second histogram of the class, by intended start. Seconds arrive almost in
        // order, so the open ones are a short deque searched from the back.
        let t = intended.as_secs();
        let pos = match s.seconds.iter().rposition(|x| x.t <= t) {
            Some(i) if s.seconds[i].t == t => i,
            found => {
                let at = found.map_or(0, |i| i + 1);
                s.seconds.insert(
                    at,
                    Second {
                        t,
                        classes: vec![None; self.classes],
                    },
                );
                at
            }
        };
        let c = usize::from(key.class).min(self.classes.saturating_sub(1));
        if let Some(slot) = s.seconds[pos].classes.get_mut(c) {
            let cs = slot.get_or_insert_with(ClassSecond::default);
            if ok {
                put(&mut cs.ok, us);
            } else if let Outcome::Error(k) = key.outcome {
                cs.errors += 1;
                cs.kinds[k.index()] += 1;
            }
        }

        // The tenant sample, measured phases only.
        let slot = self.tenant_slot.get(tenant).copied().unwrap_or(NO_SLOT);
        // The tenant sample tallies the built-ins (a scenario's own operations are in the
        // histograms by class, not per sampled tenant).
        if slot != NO_SLOT
            && key.op.is_builtin()
            && self
                .measured
                .get(usize::from(key.phase))
                .copied()
                .unwrap_or(true)
        {
            if s.tenants.is_empty() {
                s.tenants = vec![TenantTally::default(); self.slots * Op::ALL.len()];
            }
            let tt = &mut s.tenants[slot as usize * Op::ALL.len() + key.op.index()];
            if ok {
                put(&mut tt.ok, us);
            } else if failed {
                tt.errors += 1;
            }
        }
    }

    /// Counts a late start.
    pub fn late_start(&self, shard: usize) {
        let mut s = self.shards[shard % self.shards.len()]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        s.rec.late_starts += 1;
    }

    /// Removes and returns, merged across shards, every second before `before` (seconds since
    /// the start), in order.
    pub fn take_seconds(&self, before: u64) -> Vec<Second> {
        let mut out: Vec<Second> = Vec::new();
        for shard in &self.shards {
            let mut s = shard.lock().unwrap_or_else(|p| p.into_inner());
            while s.seconds.front().is_some_and(|x| x.t < before) {
                let sec = s.seconds.pop_front().expect("checked");
                match out.iter_mut().find(|o| o.t == sec.t) {
                    Some(o) => merge_second(o, &sec),
                    None => out.push(sec),
                }
            }
        }
        out.sort_by_key(|s| s.t);
        out
    }

    /// Ends recording: the merged recorder and the tenant sample's tallies, per sampled tenant
    /// (in sample order) and operation (in [`Op::ALL`] order): tenant `i`'s tally of op `o` is
    /// at `i * Op::ALL.len() + o as usize`.
    pub fn finish(&self) -> (Recorder, Vec<TenantTally>) {
        let mut rec = Recorder::new();
        let mut tenants = vec![TenantTally::default(); self.slots * Op::ALL.len()];
        for shard in &self.shards {
            let s = shard.lock().unwrap_or_else(|p| p.into_inner());
            rec.merge(&s.rec);
            for (a, b) in tenants.iter_mut().zip(&s.tenants) {
                a.ok.add(&b.ok).expect("auto-resizing histograms add");
                a.errors += b.errors;
            }
        }
        (rec, tenants)
    }
}

fn merge_second(into: &mut Second, from: &Second) {
    for (a, b) in into.classes.iter_mut().zip(&from.classes) {
        if let Some(b) = b {
            let a = a.get_or_insert_with(ClassSecond::default);
            a.ok.add(&b.ok).expect("auto-resizing histograms add");
            a.errors += b.errors;
            for (x, y) in a.kinds.iter_mut().zip(b.kinds) {
                *x += y;
            }
        }
    }
}

/// The tenants whose figures are kept individually: the `largest` biggest (ranks 1..=largest),
/// then ranks spaced evenly on a log scale down to the smallest, about `per_decade` per factor
/// of ten. Indices are rank − 1, ascending.
pub fn tenant_sample(tenants: usize, largest: usize, per_decade: usize) -> Vec<usize> {
    let mut out: Vec<usize> = (0..largest.min(tenants)).collect();
    if tenants > largest && per_decade > 0 {
        let step = 10f64.powf(1.0 / per_decade as f64);
        let mut r = largest.max(1) as f64;
        loop {
            r *= step;
            let rank = (r.round() as usize).min(tenants);
            if out.last().is_none_or(|&l| rank - 1 > l) {
                out.push(rank - 1);
            }
            if rank >= tenants {
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::{ErrorKind, Op};

    fn key(phase: u16, class: u16, outcome: Outcome) -> Key {
        Key {
            phase,
            op: Op::GetById,
            class,
            outcome,
        }
    }

    #[test]
    fn seconds_and_tenants_are_kept_by_intended_start_and_merged_across_shards() {
        let c = Collector::new(3, 2, 10, &[0, 9], vec![false, true]);
        let ms = Duration::from_millis;
        // Out of order across shards; phase 0 (warm-up) does not count for tenants.
        c.record(0, key(1, 0, Outcome::Ok), 0, ms(2500), ms(5), ms(5));
        c.record(1, key(1, 0, Outcome::Ok), 9, ms(500), ms(7), ms(7));
        c.record(
            2,
            key(1, 1, Outcome::Error(ErrorKind::Server)),
            9,
            ms(1200),
            ms(1),
            ms(1),
        );
        c.record(0, key(0, 1, Outcome::Ok), 0, ms(100), ms(3), ms(3));
        let first = c.take_seconds(2);
        assert_eq!(first.iter().map(|s| s.t).collect::<Vec<_>>(), [0, 1]);
        let s0 = &first[0];
        assert_eq!(s0.classes[0].as_ref().map(|x| x.ok.len()), Some(1));
        assert_eq!(s0.classes[1].as_ref().map(|x| x.ok.len()), Some(1));
        assert_eq!(first[1].classes[1].as_ref().map(|x| x.errors), Some(1));
        let rest = c.take_seconds(u64::MAX);
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].t, 2);
        // Another operation of the same tenant is kept apart.
        let list = Key {
            op: Op::ListRecent,
            ..key(1, 0, Outcome::Ok)
        };
        c.record(1, list, 9, ms(2600), ms(9), ms(9));
        let (rec, tenants) = c.finish();
        assert_eq!(rec.count(), 5);
        let at = |slot: usize, op: Op| &tenants[slot * Op::ALL.len() + op.index()];
        assert_eq!(tenants.len(), 2 * Op::ALL.len());
        assert_eq!(at(0, Op::GetById).ok.len(), 1, "the warm-up op is left out");
        assert_eq!(at(1, Op::GetById).ok.len(), 1);
        assert_eq!(at(1, Op::GetById).errors, 1);
        assert_eq!(at(1, Op::ListRecent).ok.len(), 1);
        assert_eq!(at(0, Op::ListRecent).ok.len(), 0);
    }

    #[test]
    fn tenant_sample_takes_the_largest_then_log_spaced_ranks() {
        let s = tenant_sample(10_000, 10, 5);
        assert_eq!(&s[..10], &(0..10).collect::<Vec<_>>()[..]);
        assert_eq!(*s.last().expect("non-empty"), 9_999, "the smallest tenant");
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        // 3 decades from rank 10 to 10,000 at 5 per decade: about 15 more.
        assert!((23..=27).contains(&s.len()), "{}", s.len());
        assert_eq!(tenant_sample(5, 10, 5), vec![0, 1, 2, 3, 4]);
        assert_eq!(tenant_sample(0, 10, 5), Vec::<usize>::new());
    }
}
