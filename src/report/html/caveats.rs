//! The report's caveats: what limits how far its figures can be trusted (a surrogate server,
//! plans that understate the work, a busy harness, failed trials).

use super::evidence::ResourceRow;
use crate::metrics::results::{Results, TrialStatus};
use crate::report::analysis::Growth;

/// The caveats, most general first: the surrogate, plan-vs-reality gaps, a busy harness,
/// failed trials.
pub(super) fn caveats(r: &Results, growth: &[Growth], resources: &[ResourceRow]) -> Vec<String> {
    let mut caveats = Vec::new();
    for s in &r.environment.servers {
        if let Some(v) = &s.surrogate {
            caveats.push(format!(
                "The {} server is the SecantusDB surrogate {v}, not mongod: its latencies are surrogate latencies, and its explain output may claim bounded work where latency grows with the tenant.",
                s.role
            ));
        }
    }
    caveats.extend(crate::metrics::results::empty_plans(r));
    caveats.extend(growth.iter().filter_map(|g| g.plan_gap.clone()));
    for row in resources.iter().filter(|x| x.busy) {
        caveats.push(format!(
            "The harness used most of a core in {} ({}): the load generator may have limited these figures.",
            row.variant, row.harness_cpu
        ));
    }
    let failed = r
        .trials
        .iter()
        .filter(|t| t.status == TrialStatus::Failed)
        .count();
    if failed > 0 {
        caveats.push(format!(
            "{failed} trial(s) failed and are left out of every figure (see results.json)."
        ));
    }
    caveats
}
