//! A trial's CPU and memory mark: the harness's, each local server's and the wall clock's
//! readings at a measurement's start, turned into the trial's CPU and memory evidence at its end.

use crate::metrics::evidence as sys;
use crate::metrics::results::{self as res, CpuEvidence, Trial};

use super::round3;

/// CPU and memory readings at a measurement's start: the harness, each local server, the wall
/// clock, and the memory mark.
pub(super) struct CpuMark {
    mem: Option<u64>,
    servers: Vec<Option<f64>>,
    harness: f64,
    wall: std::time::Instant,
}

impl CpuMark {
    /// Reads them now; `server_cpu` reads a server's CPU seconds by pid.
    pub(super) fn take(servers: &[(String, u32)], server_cpu: impl Fn(u32) -> Option<f64>) -> Self {
        CpuMark {
            mem: sys::memory_mark(),
            servers: servers.iter().map(|(_, p)| server_cpu(*p)).collect(),
            harness: sys::harness_cpu_seconds(),
            wall: std::time::Instant::now(),
        }
    }

    /// The CPU (and memory) evidence since the mark into `t`: each server's CPU seconds, with
    /// `more` (other processes measured apart, such as the API's) listed after them.
    pub(super) fn evidence(
        self,
        t: &mut Trial,
        servers: &[(String, u32)],
        server_cpu: impl Fn(u32) -> Option<f64>,
        more: Vec<res::ServerCpu>,
    ) {
        let harness_s = round3(sys::harness_cpu_seconds() - self.harness);
        let mut per_server: Vec<res::ServerCpu> = servers
            .iter()
            .zip(self.servers)
            .filter_map(|((role, pid), a)| {
                Some(res::ServerCpu {
                    role: role.clone(),
                    cpu_s: round3(server_cpu(*pid)? - a?),
                    cpus: sys::cpus_allowed(*pid),
                })
            })
            .collect();
        let server_s = per_server.first().map(|x| x.cpu_s);
        per_server.extend(more);
        t.evidence.cpu = CpuEvidence {
            wall_s: round3(self.wall.elapsed().as_secs_f64()),
            harness_s,
            server_s,
            cores: sys::cores(),
            servers: per_server,
            harness_cpus: sys::cpus_allowed(std::process::id()),
        };
        if let (Some(start_bytes), Some(peak_bytes)) = (self.mem, sys::memory_peak()) {
            t.evidence.memory = Some(res::MemoryEvidence {
                start_bytes,
                peak_bytes,
                rss: Vec::new(),
                rss_slope_bytes_per_min: None,
            });
        }
    }
}
