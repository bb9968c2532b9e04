//! Checks of `[workload]`: the operation mix (also a phase's), tenant choice, pacing (closed
//! loop by `concurrency` or open loop by `rate`), when the run stops, warm-up and overrun.

use std::time::Duration;

use toml::Spanned;

use super::Checker;
use crate::op::Op;
use crate::pacing::{Arrivals, Pacer, StopCondition};
use crate::population::{PopulationSpec, rank_of};
use crate::scenario::model::{ArrivalsModel, OpMixModel, TenantChoiceModel, WorkloadModel};
use crate::scenario::{ScenarioError, TenantChoiceSpec, WorkloadSpec, default_workload};

/// The operation named `name`: a built-in, else one of the scenario's own (`own`).
pub(in crate::scenario) fn op_named(name: &str, own: &[Op]) -> Option<Op> {
    Op::builtin(name).or_else(|| own.iter().copied().find(|o| o.name() == name))
}

/// An operation mix: weights >= 0 for built-ins and the scenario's own operations (`ops`:
/// its `[[operation]]`s and `[[http.endpoint]]` names), at least one > 0; only positive weights
/// are kept, built-ins first in catalogue order, then the scenario's in file order.
pub(in crate::scenario) fn check_op_mix(
    c: &Checker,
    mix: &Spanned<OpMixModel>,
    ops: &[Op],
) -> Result<Vec<(Op, f64)>, ScenarioError> {
    let mut out = Vec::new();
    for (k, v) in mix.get_ref() {
        let name = k.get_ref();
        let Some(op) = op_named(name, ops) else {
            let mut names: Vec<&str> = Op::ALL.iter().map(|o| o.name()).collect();
            names.extend(ops.iter().map(|o| o.name()));
            return Err(c.err(
                k.span(),
                format!(
                    "unknown operation `{name}`; expected one of {} (or an [[operation]] or [[http.endpoint]] of this file)",
                    names.join(", ")
                ),
            ));
        };
        let w = *v.get_ref();
        if !(w >= 0.0 && w.is_finite()) {
            return Err(c.err(v.span(), format!("expected a weight >= 0 for `{name}`")));
        }
        if w > 0.0 {
            out.push((op, w));
        }
    }
    if out.is_empty() {
        return Err(c.err(
            mix.span(),
            "expected at least one operation with a weight > 0",
        ));
    }
    out.sort_by_key(|(op, _)| op.index());
    Ok(out)
}

/// `[workload]`: each setting checked in turn, [`default_workload`]'s where one is left out.
pub(in crate::scenario) fn check_workload(
    c: &Checker,
    w: &Spanned<WorkloadModel>,
    p: &PopulationSpec,
    ops: &[Op],
) -> Result<WorkloadSpec, ScenarioError> {
    let m = w.get_ref();
    let d = default_workload();
    let mix = match &m.mix {
        None => d.mix,
        Some(mix) => check_op_mix(c, mix, ops)?,
    };
    let tenants = match &m.tenants {
        None => d.tenants,
        Some(t) => check_tenant_choice(c, t, p)?,
    };
    let pacer = check_pacer(c, m, d.pacer)?;
    let stop = check_stop(c, m, d.stop)?;
    let warmup = check_warmup(c, m.warmup_s.as_ref(), stop, d.warmup)?;
    let overrun = check_overrun(c, m.overrun_s.as_ref(), stop)?;
    let session_ops = match &m.session_ops {
        Some(x) if !(1..=1_000_000_000).contains(x.get_ref()) => {
            return Err(c.err(
                x.span(),
                "expected session_ops, the operations a goose user sends for one tenant, from 1 to 10^9",
            ));
        }
        Some(x) => Some(*x.get_ref() as u64),
        None => None,
    };
    Ok(WorkloadSpec {
        mix,
        tenants,
        pacer,
        stop,
        warmup,
        overrun,
        session_ops,
    })
}

/// `tenants`: proportional, uniform, or hot tenants (known ids) with a share in (0, 1].
fn check_tenant_choice(
    c: &Checker,
    t: &Spanned<TenantChoiceModel>,
    p: &PopulationSpec,
) -> Result<TenantChoiceSpec, ScenarioError> {
    Ok(match t.get_ref() {
        TenantChoiceModel::Proportional => TenantChoiceSpec::Proportional,
        TenantChoiceModel::Uniform => TenantChoiceSpec::Uniform,
        TenantChoiceModel::Hot { tenants, share } => {
            let sh = *share.get_ref();
            if !(sh > 0.0 && sh <= 1.0) {
                return Err(c.err(share.span(), "expected a share of operations in (0, 1]"));
            }
            let mut ix = Vec::new();
            for id in tenants {
                let rank = rank_of(id.get_ref(), p.tenants).ok_or_else(|| {
                    c.err(id.span(), format!("unknown tenant `{}`", id.get_ref()))
                })?;
                ix.push(rank as usize - 1);
            }
            if ix.is_empty() {
                return Err(c.err(t.span(), "expected at least one hot tenant"));
            }
            TenantChoiceSpec::Hot {
                tenants: ix,
                share: sh,
            }
        }
    })
}

/// Pacing: a closed loop (`concurrency`, `think_ms`) or an open loop (`rate`, `arrivals`,
/// `workers`), not both; `workers` only in an open loop; `dflt`'s concurrency without either.
fn check_pacer(c: &Checker, m: &WorkloadModel, dflt: Pacer) -> Result<Pacer, ScenarioError> {
    let think = match &m.think_ms {
        Some(v) => c.seconds(v, "think_ms")? / 1000,
        None => Duration::ZERO,
    };
    let pacer = match (&m.concurrency, &m.rate) {
        (Some(_), Some(r)) => {
            return Err(c.err(
                r.span(),
                "expected either `concurrency` (closed loop) or `rate` (open loop), not both",
            ));
        }
        (Some(n), None) => {
            let v = *n.get_ref();
            if !(1..=10_000).contains(&v) {
                return Err(c.err(n.span(), "expected a concurrency between 1 and 10,000"));
            }
            Pacer::Closed {
                concurrency: v as usize,
                think,
            }
        }
        (None, Some(r)) => check_open_loop(c, m, r)?,
        (None, None) => match dflt {
            Pacer::Closed { concurrency, .. } => Pacer::Closed { concurrency, think },
            other => other,
        },
    };
    if let (Pacer::Closed { .. }, Some(w)) = (pacer, &m.workers) {
        return Err(c.err(
            w.span(),
            "`workers` applies to an open loop (`rate`); a closed loop has `concurrency`",
        ));
    }
    Ok(pacer)
}

/// An open loop: `rate` > 0 operations per second, up to `workers` in flight (64 by default),
/// constant or Poisson arrivals.
fn check_open_loop(
    c: &Checker,
    m: &WorkloadModel,
    r: &Spanned<f64>,
) -> Result<Pacer, ScenarioError> {
    let rate = *r.get_ref();
    if !(rate > 0.0 && rate <= 10_000_000.0) {
        return Err(c.err(r.span(), "expected a rate in operations per second, > 0"));
    }
    let workers = match &m.workers {
        Some(w) if !(1..=10_000).contains(w.get_ref()) => {
            return Err(c.err(
                w.span(),
                "expected between 1 and 10,000 workers (the in-flight cap)",
            ));
        }
        Some(w) => *w.get_ref() as usize,
        None => 64,
    };
    let arrivals = match m.arrivals {
        Some(ArrivalsModel::Poisson) => Arrivals::Poisson,
        _ => Arrivals::Constant,
    };
    Ok(Pacer::Open {
        rate,
        arrivals,
        workers,
    })
}

/// When the run stops: after `duration_s` (> 0) or `count` operations (>= 1), not both; `dflt`
/// without either.
fn check_stop(
    c: &Checker,
    m: &WorkloadModel,
    dflt: StopCondition,
) -> Result<StopCondition, ScenarioError> {
    Ok(match (&m.duration_s, &m.count) {
        (Some(_), Some(n)) => {
            return Err(c.err(
                n.span(),
                "expected either `duration_s` or `count`, not both",
            ));
        }
        (Some(v), None) => {
            let dur = c.seconds(v, "duration_s")?;
            if dur.is_zero() {
                return Err(c.err(v.span(), "expected a duration > 0 seconds"));
            }
            StopCondition::Duration(dur)
        }
        (None, Some(n)) => {
            if *n.get_ref() < 1 {
                return Err(c.err(n.span(), "expected a count of at least 1 operation"));
            }
            StopCondition::Count(*n.get_ref() as u64)
        }
        (None, None) => dflt,
    })
}

/// `warmup_s`: shorter than a run by duration; by default `dflt`, at most a fifth of the
/// duration, and none for a run by count.
fn check_warmup(
    c: &Checker,
    warmup_s: Option<&Spanned<f64>>,
    stop: StopCondition,
    dflt: Duration,
) -> Result<Duration, ScenarioError> {
    Ok(match warmup_s {
        Some(v) => {
            let w = c.seconds(v, "warmup_s")?;
            if let StopCondition::Duration(dur) = stop
                && w >= dur
            {
                return Err(c.err(
                    v.span(),
                    "expected a warm-up shorter than the run's duration",
                ));
            }
            w
        }
        None => match stop {
            StopCondition::Duration(dur) => dflt.min(dur / 5),
            StopCondition::Count(_) => Duration::ZERO,
        },
    })
}

/// `overrun_s`: only for a run by duration.
fn check_overrun(
    c: &Checker,
    overrun_s: Option<&Spanned<f64>>,
    stop: StopCondition,
) -> Result<Option<Duration>, ScenarioError> {
    let Some(v) = overrun_s else {
        return Ok(None);
    };
    if let StopCondition::Count(_) = stop {
        return Err(c.err(
            v.span(),
            "`overrun_s` limits a run by duration; this workload stops by `count`",
        ));
    }
    Ok(Some(c.seconds(v, "overrun_s")?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::tests::{OK, parse};

    #[test]
    fn workload_parses_closed_and_open_loops() {
        let s = parse(OK).unwrap();
        assert_eq!(s.workload, default_workload());
        let open = format!(
            "{OK}[workload]\nmix = {{ get_by_id = 3, revenue_by_day = 1, insert_one = 0 }}\nrate = 500\narrivals = \"poisson\"\nworkers = 16\nduration_s = 30\nwarmup_s = 5\ntenants = {{ hot = {{ tenants = [\"t00001\"], share = 0.5 }} }}\n"
        );
        let w = parse(&open).unwrap().workload;
        assert_eq!(w.mix, vec![(Op::GetById, 3.0), (Op::RevenueByDay, 1.0)]);
        assert_eq!(
            w.pacer,
            Pacer::Open {
                rate: 500.0,
                arrivals: Arrivals::Poisson,
                workers: 16
            }
        );
        assert_eq!(w.stop, StopCondition::Duration(Duration::from_secs(30)));
        assert_eq!(w.warmup, Duration::from_secs(5));
        assert_eq!(
            w.tenants,
            TenantChoiceSpec::Hot {
                tenants: vec![0],
                share: 0.5
            }
        );
        let closed = format!("{OK}[workload]\nconcurrency = 3\nthink_ms = 2\ncount = 1000\n");
        let w = parse(&closed).unwrap().workload;
        assert_eq!(
            w.pacer,
            Pacer::Closed {
                concurrency: 3,
                think: Duration::from_millis(2)
            }
        );
        assert_eq!(
            (w.stop, w.warmup),
            (StopCondition::Count(1000), Duration::ZERO)
        );
    }

    #[test]
    fn the_overrun_limit_defaults_to_the_duration_and_needs_one() {
        let base = "name = \"o\"\n[population]\ntenants = 10\ndocuments = 1000\ndistribution = \"uniform\"\n[workload]\n";
        let s = parse(&format!("{base}rate = 100.0\nduration_s = 30\n")).expect("parses");
        assert_eq!(
            s.workload.overrun_for(s.workload.pacer),
            Some(Duration::from_secs(30))
        );
        let s = parse(&format!(
            "{base}rate = 100.0\nduration_s = 30\noverrun_s = 5\n"
        ))
        .expect("parses");
        assert_eq!(
            s.workload.overrun_for(s.workload.pacer),
            Some(Duration::from_secs(5))
        );
        let closed = Pacer::Closed {
            concurrency: 4,
            think: Duration::ZERO,
        };
        assert_eq!(
            s.workload.overrun_for(closed),
            None,
            "a closed loop has no backlog"
        );
        let err = parse(&format!("{base}rate = 100.0\ncount = 500\noverrun_s = 5\n"))
            .expect_err("overrun with a count");
        let msg = err.to_string();
        assert!(msg.starts_with("t.toml:9:"), "{msg}");
        assert!(msg.contains("stops by `count`"), "{msg}");
    }
}
