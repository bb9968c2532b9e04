//! `[[phase]]`: named time windows of a run (a noisy burst, say) that change the open-loop rate,
//! give a class or role a share of the operations, or give a class its own operation mix; and
//! the phase plan of a run: `warmup`, `steady`, then the scenario's phases as windows. The
//! checks of `[[phase]]` are in `check::phases`.

use std::time::Duration;

use super::WorkloadSpec;
use crate::op::Op;
use crate::pacing::PhaseWindow;

/// A scenario phase.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseSpec {
    /// Name (not `warmup` or `steady`).
    pub name: String,
    /// Start, from the run's start (warm-up included).
    pub start: Duration,
    /// Length; `None`: until the end of the run.
    pub duration: Option<Duration>,
    /// Open loop: operations per second during the phase.
    pub rate: Option<f64>,
    /// Class or role → share of all operations that go to its tenants during the phase.
    pub shares: Vec<(String, f64)>,
    /// Class or role → its tenants' operation mix during the phase.
    pub mixes: Vec<(String, Vec<(Op, f64)>)>,
    /// `migrate`: the tenant this phase moves while the workload runs (each variant's own,
    /// see [`crate::scenario::Variant::migration`]).
    pub migration: Option<crate::scenario::migration::MigrationSpec>,
}

/// The phases of a run: names (index = the recorder's phase key), which are measured, and the
/// windows in time order. `warmup` (when the workload has one) and `steady` come first; each
/// scenario phase is a window after which `steady` resumes.
#[derive(Debug, Clone, PartialEq)]
pub struct PhasePlan {
    /// Phase names.
    pub names: Vec<String>,
    /// Per phase: counted in summaries (all but the warm-up).
    pub measured: Vec<bool>,
    /// Windows by start.
    pub windows: Vec<PhaseWindow>,
}

impl PhasePlan {
    /// The plan of a workload and its scenario phases.
    pub fn new(w: &WorkloadSpec, phases: &[PhaseSpec]) -> PhasePlan {
        let mut names = Vec::new();
        let mut measured = Vec::new();
        let mut windows = Vec::new();
        if !w.warmup.is_zero() {
            names.push("warmup".to_string());
            measured.push(false);
            windows.push(PhaseWindow {
                phase: 0,
                start: Duration::ZERO,
                rate: None,
            });
        }
        let steady = names.len() as u16;
        names.push("steady".to_string());
        measured.push(true);
        windows.push(PhaseWindow {
            phase: steady,
            start: w.warmup,
            rate: None,
        });
        for p in phases {
            let i = names.len() as u16;
            names.push(p.name.clone());
            measured.push(true);
            windows.push(PhaseWindow {
                phase: i,
                start: p.start,
                rate: p.rate,
            });
            if let Some(d) = p.duration {
                windows.push(PhaseWindow {
                    phase: steady,
                    start: p.start + d,
                    rate: None,
                });
            }
        }
        windows.sort_by_key(|w| w.start);
        PhasePlan {
            names,
            measured,
            windows,
        }
    }

    /// Each phase's windows as `[start, end)` seconds; `end` is the run's end for the last.
    pub fn spans(&self, run_end: Duration) -> Vec<Vec<[f64; 2]>> {
        let mut out = vec![Vec::new(); self.names.len()];
        for (i, w) in self.windows.iter().enumerate() {
            let end = self.windows.get(i + 1).map_or(run_end, |n| n.start);
            if end > w.start {
                out[usize::from(w.phase)].push([w.start.as_secs_f64(), end.as_secs_f64()]);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::scenario::{Scenario, ScenarioError};

    fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse(Path::new("t.toml"), text)
    }

    #[test]
    fn phases_become_windows_and_steady_resumes_after_them() {
        let s = parse(
            "name = \"p\"\n[population]\ntenants = 10\ndocuments = 1000\ndistribution = \"uniform\"\n[population.roles]\nnoisy = [\"t00001\"]\n[workload]\nrate = 100.0\nduration_s = 60\nwarmup_s = 5\n[[phase]]\nname = \"burst\"\nstart_s = 20\nduration_s = 10\nrate = 500\n[phase.share]\nnoisy = 0.5\n[phase.mix.noisy]\nrevenue_by_day = 1\n",
        )
        .expect("parses");
        let plan = PhasePlan::new(&s.workload, &s.phases);
        assert_eq!(plan.names, ["warmup", "steady", "burst"]);
        assert_eq!(plan.measured, [false, true, true]);
        let spans = plan.spans(Duration::from_secs(60));
        assert_eq!(spans[0], [[0.0, 5.0]]);
        assert_eq!(spans[1], [[5.0, 20.0], [30.0, 60.0]]);
        assert_eq!(spans[2], [[20.0, 30.0]]);
        assert_eq!(plan.windows[2].rate, Some(500.0));
        assert_eq!(s.phases[0].shares, [("noisy".to_string(), 0.5)]);
        assert_eq!(s.phases[0].mixes[0].1, [(Op::RevenueByDay, 1.0)]);
    }
}
