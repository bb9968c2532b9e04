//! A trial's faults (`[[fault]]`): each injected through the driver at its time from the
//! run's start, beside the workload, then the recovery figures read from what the workload saw
//! — errors by kind, the first success after the fault's end, and when the p99 came back within
//! 1.5× of the seconds before.

use std::sync::Arc;

use anyhow::Result;
use hdrhistogram::Histogram;

use super::{Side, Trials, round3};
use crate::backend::{FaultDone, FullDriver};
use crate::layout::Placement;
use crate::metrics::histogram;
use crate::metrics::results::{FaultEvidence, Trial};
use crate::runner::{RunReport, Watches};
use crate::scenario::Variant;
use crate::scenario::faults::FaultSpec;

/// Seconds before a fault whose p99 it is compared with.
const BEFORE: u64 = 5;
/// How much above the p99 before a second may be and count as recovered.
const RECOVERED: f64 = 1.5;
/// Errors are counted from a fault's start until this long after its end.
const AFTER: f64 = 10.0;

impl Trials<'_> {
    /// The faults a variant goes through: the scenario's that apply to its database.
    pub(super) fn faults_of(&self, v: &Variant) -> Vec<FaultSpec> {
        self.scenario
            .faults
            .iter()
            .filter(|f| f.kind.applies_to(v.backend))
            .cloned()
            .collect()
    }

    /// Runs the workload with the variant's faults ([`Trials::faults_of`]) injected beside it,
    /// each at its time from the run's start; the runner's report and each fault's evidence.
    pub(super) async fn measure_faulty<D: FullDriver>(
        &self,
        d: &D,
        v: &Variant,
        t: &mut Trial,
        backend: Arc<D::Backend>,
        local: &[(String, u32)],
        placement: &Placement,
    ) -> (Result<RunReport>, Vec<FaultEvidence>) {
        let faults = &self.faults_of(v);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let watches = Watches::new(faults.len());
        let side = Side {
            watch: Some(watches.clone()),
            started: Some(tx),
        };
        let run = self.measure_with(v, t, backend, local, |pid| d.server_cpu(pid), side);
        let inject = async {
            let Ok(start) = rx.await else {
                return Vec::new();
            };
            let mut done = Vec::new();
            for (i, f) in faults.iter().enumerate() {
                tokio::select! {
                    () = tokio::time::sleep_until(start + f.at) => {}
                    () = self.cancel.cancelled() => break,
                }
                eprintln!("  fault: {}", f.describe());
                // Successes count from the fault's real end on, armed the moment it ends.
                let on_end = |at: std::time::Instant| {
                    watches.arm(i, at.saturating_duration_since(start.into_std()));
                };
                let r = d.fault(placement, self.pop, f, &self.cancel, &on_end).await;
                match &r {
                    Ok(x) => {
                        eprintln!("  fault: {} ended: {}", f.kind.name(), x.detail);
                    }
                    Err(e) => eprintln!(
                        "  fault: {} could not be injected: {}",
                        f.kind.name(),
                        crate::backend::redact_text(&e.to_string())
                    ),
                }
                done.push((f.clone(), r));
            }
            done.into_iter()
                .map(|(f, r)| (f, r, start.into_std()))
                .collect::<Vec<_>>()
        };
        let (report, done) = tokio::join!(run, inject);
        let evidence = match &report {
            Ok(rep) => done
                .into_iter()
                .enumerate()
                .map(|(i, (f, r, start))| self.fault_evidence(&f, r, start, rep, watches.first(i)))
                .collect(),
            Err(_) => Vec::new(),
        };
        for e in &evidence {
            eprintln!("  {}", describe(e));
        }
        (report, evidence)
    }

    /// One fault's evidence from what the driver did and what the workload saw (its error
    /// recorded redacted: a driver's message may quote a URI).
    fn fault_evidence<E: std::fmt::Display>(
        &self,
        f: &FaultSpec,
        done: Result<FaultDone, E>,
        start: std::time::Instant,
        rep: &RunReport,
        first_ok: Option<std::time::Duration>,
    ) -> FaultEvidence {
        let mut ev = FaultEvidence {
            kind: f.kind.name().to_string(),
            tenant: f
                .tenant
                .as_ref()
                .and_then(|p| p.index(self.pop))
                .map(|i| self.pop.tenants[i].id.clone()),
            planned_at_s: round3(f.at.as_secs_f64()),
            planned_duration_s: round3(f.duration.as_secs_f64()),
            ..FaultEvidence::default()
        };
        let done = match done {
            Ok(d) => d,
            Err(e) => {
                ev.error = Some(crate::backend::redact_text(&e.to_string()));
                return ev;
            }
        };
        let since = |i: std::time::Instant| i.saturating_duration_since(start).as_secs_f64();
        let (began, ended) = (since(done.began), since(done.ended));
        ev.began_s = Some(round3(began));
        ev.ended_s = Some(round3(ended));
        ev.detail = done.detail;
        ev.error = done.error;
        // Errors by kind, by intended start, from the fault's second to AFTER past its end.
        for s in &rep.timeline.summaries {
            let t = s.t as f64;
            if t + 1.0 > began && t < ended + AFTER {
                for (k, n) in &s.error_kinds {
                    *ev.errors.entry(*k).or_default() += n;
                }
            }
        }
        ev.first_ok_after_s = first_ok.map(|at| round3((at.as_secs_f64() - ended).max(0.0)));
        let merged = &rep.timeline.merged;
        let first = began.floor() as u64;
        let mut before: Histogram<u64> = histogram();
        for (_, h) in merged
            .iter()
            .filter(|(t, _)| *t + BEFORE >= first && *t < first)
        {
            before.add(h).expect("auto-resizing histograms add");
        }
        if before.is_empty() {
            return ev;
        }
        let p99_before = before.value_at_quantile(0.99) as f64;
        ev.p99_before_ms = Some(round3(p99_before / 1000.0));
        let from = ended.ceil() as u64;
        ev.p99_recovered_s = merged
            .iter()
            .filter(|(t, h)| *t >= from && !h.is_empty())
            .find(|(_, h)| h.value_at_quantile(0.99) as f64 <= RECOVERED * p99_before)
            .map(|(t, _)| round3((*t as f64 - ended).max(0.0)));
        ev
    }
}

/// The faults' part of a trial's line: `pause_server: first success 0.01 s after, p99 back
/// within 1.5× after 1 s, 12 errors (timeout 12)`.
fn describe(ev: &FaultEvidence) -> String {
    if let Some(e) = &ev.error
        && ev.began_s.is_none()
    {
        return format!("{}: not injected ({e})", ev.kind);
    }
    let secs = |x: Option<f64>, what: &str| {
        x.map_or(format!("no {what} within the run"), |s| {
            format!("{what} {s:.2} s after")
        })
    };
    let errors: u64 = ev.errors.values().sum();
    let kinds: Vec<String> = ev
        .errors
        .iter()
        .map(|(k, n)| format!("{} {n}", k.name()))
        .collect();
    format!(
        "{}: {}, {}, {errors} errors{}",
        ev.kind,
        secs(ev.first_ok_after_s, "first success"),
        secs(ev.p99_recovered_s, "p99 back within 1.5×"),
        if kinds.is_empty() {
            String::new()
        } else {
            format!(" ({})", kinds.join(", "))
        }
    )
}
