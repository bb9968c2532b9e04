//! Open-loop backlogs: variants whose server fell behind the intended rate, named in the
//! headline because their latencies include the queueing.

use super::count;
use crate::metrics::results::{self as res, Results};
use crate::report::names::Names;

/// Open-loop variants whose server fell behind the intended rate: trials that ran on past
/// their scheduled duration by more than a tenth (plus a second) working off a backlog, or
/// left operations unissued at their overrun limit. Their latencies include the backlog's
/// queueing, and are a lower bound where operations went unissued.
pub(super) fn behind(r: &Results, n: &Names) -> Vec<String> {
    let mut out = Vec::new();
    let scheduled = r.scenario.duration_s;
    for v in &r.variants {
        let Some(rate) = v.rate else { continue };
        let trials: Vec<&res::Trial> = r.trials.iter().filter(|t| t.variant == v.id).collect();
        let over = |t: &res::Trial| scheduled.map_or(0.0, |d| t.elapsed_s - d);
        let late: Vec<&&res::Trial> = trials
            .iter()
            .filter(|t| t.unissued > 0 || scheduled.is_some_and(|d| t.elapsed_s > d * 1.1 + 1.0))
            .collect();
        if late.is_empty() {
            continue;
        }
        let most = late.iter().map(|t| over(t)).fold(0.0, f64::max);
        let unissued: u64 = late.iter().map(|t| t.unissued).sum();
        let mut line = format!(
            "{}: the server fell behind the intended {rate:.0} operations/s in {} of {} trials, which ran up to {most:.0} s past their {:.0} s working off the backlog",
            n.get(&v.id),
            late.len(),
            trials.len(),
            scheduled.unwrap_or(0.0)
        );
        if unissued > 0 {
            line.push_str(&format!(
                "; {} intended operations never started before the overrun limit, so its percentiles are a lower bound",
                count(unissued)
            ));
        } else {
            line.push_str(": its latencies include that queueing");
        }
        line.push('.');
        out.push(line);
    }
    out
}
