//! A trial's figures from the runner's report: latency groups per (phase, op, class, outcome),
//! the tenant sample, the timeline and status, the end-of-trial line, and what a checkpoint
//! keeps of a trial still running.

use super::{Trials, round3};
use crate::metrics::results::{self as res, Group, Summary, TenantSample, Trial, TrialStatus};
use crate::metrics::timeline::Timeline;
use crate::metrics::{Key, Recorder};
use crate::op::{Op, Outcome};
use crate::runner::RunReport;
use crate::scenario::PhasePlan;
use crate::workload::collection_of;

impl Trials<'_> {
    /// The trial's figures from the runner's report: groups, tenant sample, timeline, status.
    pub(super) fn figures(&self, t: &mut Trial, report: RunReport) {
        let rec = &report.recorder;
        t.elapsed_s = round3(report.elapsed.as_secs_f64());
        t.operations = rec.count();
        t.errors = rec.count_where(|k| matches!(k.outcome, Outcome::Error(_)));
        t.leaks = rec.count_where(|k| k.outcome == Outcome::Leak);
        t.late_starts = rec.late_starts;
        t.unissued = report.unissued;
        t.intended = report.intended;
        t.start_lag = rec.start_lag.as_ref().map(Summary::of);
        let spans = self.phases.spans(report.elapsed);
        let phase_secs: Vec<f64> = spans
            .iter()
            .map(|w| w.iter().map(|[a, b]| b - a).sum::<f64>().max(1e-9))
            .collect();
        t.groups = groups(rec, &self.phases.names, &self.class_names, &phase_secs);
        t.tenants = self.tenant_samples(&report);
        if let Some(m) = &mut t.evidence.memory {
            m.rss_slope_bytes_per_min = res::MemoryEvidence::slope(&report.timeline.rss);
            m.rss = report.timeline.rss;
        }
        t.timeline = report.timeline.summaries;
        if let Some(e) = report.hlog_error {
            eprintln!("  warning: writing the interval log failed: {e}");
        }
        t.status = if report.cancelled {
            TrialStatus::Interrupted
        } else {
            TrialStatus::Complete
        };
        print_trial_line(t, rec, self.phases, &phase_secs);
    }

    /// Per sampled tenant and operation it ran; documents are the tenant's in the op's
    /// collection.
    fn tenant_samples(&self, report: &RunReport) -> Vec<TenantSample> {
        self.sample
            .iter()
            .flat_map(|&i| Op::ALL.iter().map(move |&op| (i, op)))
            .zip(&report.tenants)
            .filter(|(_, tally)| !tally.ok.is_empty() || tally.errors > 0)
            .map(|((i, op), tally)| {
                let tn = &self.pop.tenants[i];
                TenantSample {
                    tenant: tn.id.clone(),
                    op,
                    rank: tn.rank,
                    documents: tn.count(collection_of(op)),
                    class: self.pop.class_of(i).to_string(),
                    errors: tally.errors,
                    response: Summary::of(&tally.ok),
                    histogram: res::encode(&tally.ok),
                }
            })
            .collect()
    }
}

/// Trial `head` as it stands in a checkpoint: status `partial`, the timeline's closed seconds
/// and memory samples, the counts they hold; no latency groups.
pub(super) fn partial(head: &Trial, tl: &Timeline) -> Trial {
    let mut p = head.clone();
    p.status = TrialStatus::Partial;
    let seconds = tl.last_t.map_or(0, |t| t + 1);
    p.error = Some(format!(
        "saved while the trial ran, after {seconds} s; the harness stopped before it ended (--resume runs it again)"
    ));
    p.elapsed_s = seconds as f64;
    p.errors = tl.errors;
    p.operations = tl.summaries.iter().map(|s| s.response.count).sum::<u64>() + tl.errors;
    p.timeline = tl.summaries.clone();
    let mut m = p.evidence.memory.take().unwrap_or(res::MemoryEvidence {
        start_bytes: tl.rss.first().map_or(0, |s| s.bytes),
        peak_bytes: 0,
        rss: Vec::new(),
        rss_slope_bytes_per_min: None,
    });
    m.peak_bytes = tl.rss.iter().map(|s| s.bytes).max().unwrap_or(m.peak_bytes);
    m.rss = tl.rss.clone();
    m.rss_slope_bytes_per_min = res::MemoryEvidence::slope(&tl.rss);
    p.evidence.memory = Some(m);
    p
}

fn print_trial_line(t: &Trial, rec: &Recorder, plan: &PhasePlan, phase_secs: &[f64]) {
    let measured = |k: &Key| {
        plan.measured
            .get(usize::from(k.phase))
            .copied()
            .unwrap_or(false)
    };
    let ok = rec
        .merged(|k| measured(k) && k.outcome == Outcome::Ok)
        .response;
    let secs: f64 = phase_secs
        .iter()
        .zip(&plan.measured)
        .filter(|(_, m)| **m)
        .map(|(s, _)| s)
        .sum();
    let s = Summary::of(&ok);
    eprintln!(
        "  {:?}: {} operations, {} errors, {} late starts; measured phases: {:.0} ok ops/s, p50 {:.2} ms, p99 {:.2} ms",
        t.status,
        t.operations,
        t.errors,
        t.late_starts,
        ok.len() as f64 / secs.max(1e-9),
        s.p50_us as f64 / 1000.0,
        s.p99_us as f64 / 1000.0
    );
    if let Some(l) = &t.start_lag {
        eprintln!(
            "  open loop ({} timer): operations started {} µs after their intended start at the median, {} µs at p99, {} µs at most",
            t.timer.as_deref().unwrap_or("?"),
            l.p50_us,
            l.p99_us,
            l.max_us
        );
    }
    if t.unissued > 0 {
        eprintln!(
            "  the server did not keep up: {} operations intended before the end never started (the trial reached its overrun limit); its percentiles are a lower bound",
            t.unissued
        );
    }
    if t.leaks > 0 {
        eprintln!(
            "  ISOLATION FAILURE: {} operations returned records of another tenant (the report shows them in red; a gate fails)",
            t.leaks
        );
    }
}

/// One group per recorder key.
fn groups(rec: &Recorder, phases: &[String], classes: &[String], phase_secs: &[f64]) -> Vec<Group> {
    rec.keys()
        .into_iter()
        .filter_map(|k| {
            let tm = rec.get(&k)?;
            let (outcome, error_kind) = res::GroupOutcome::of(k.outcome);
            let secs = phase_secs.get(usize::from(k.phase)).copied().unwrap_or(1.0);
            Some(Group {
                phase: phases.get(usize::from(k.phase))?.clone(),
                op: k.op,
                class: classes.get(usize::from(k.class))?.clone(),
                outcome,
                error_kind,
                throughput: (tm.response.len() as f64 / secs * 10.0).round() / 10.0,
                response: Summary::of(&tm.response),
                service: Summary::of(&tm.service),
                response_histogram: res::encode(&tm.response),
                service_histogram: res::encode(&tm.service),
            })
        })
        .collect()
}
