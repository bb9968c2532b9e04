//! Machine-side evidence: CPU time of the harness and of a local server process, the machine's
//! cores, memory and OS, and the harness's git commit — so a reader sees when the load
//! generator, not the database, was the limit. Linux `/proc` and `getrusage`; elsewhere the
//! figures are absent rather than wrong.

use std::path::Path;

/// CPU seconds (user + system) this process has used so far.
pub fn harness_cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the struct we pass and reads nothing else.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return 0.0;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// CPU seconds (user + system) a process has used, from `/proc/<pid>/stat`.
pub fn process_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces, inside parentheses).
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat, i.e. 11 and 12 after the name and state.
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    Some(ticks / if hz > 0 { hz as f64 } else { 100.0 })
}

/// CPU seconds of a process and its children: its own time, what its exited children have
/// used (`cutime`, `cstime`), and its live children's own time. PostgreSQL runs a process per
/// connection under the postmaster, so the postmaster's tree is the server's CPU.
pub fn process_tree_cpu_seconds(pid: u32) -> Option<f64> {
    let fields = |p: u32| -> Option<Vec<f64>> {
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
        let rest = &stat[stat.rfind(')')? + 2..];
        Some(
            rest.split_whitespace()
                .map(|x| x.parse::<f64>().unwrap_or(0.0))
                .collect(),
        )
    };
    // After the name: state 0, ppid 1, …, utime 11, stime 12, cutime 13, cstime 14.
    let own = fields(pid)?;
    let mut ticks = own.get(11)? + own.get(12)? + own.get(13)? + own.get(14)?;
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(child) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            if let Some(f) = fields(child)
                && f.get(1).copied() == Some(f64::from(pid))
            {
                ticks += f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0);
            }
        }
    }
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    Some(ticks / if hz > 0 { hz as f64 } else { 100.0 })
}

/// The CPUs a process may run on (`Cpus_allowed_list` of `/proc/<pid>/status`, e.g. `0` when
/// pinned by `taskset -c 0`, `0-1` when not).
pub fn cpus_allowed(pid: u32) -> Option<String> {
    status_field(&format!("/proc/{pid}/status"), "Cpus_allowed_list:")
}

fn status_field(path: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim().to_string())
}

/// A `kB` figure of this process's `/proc/self/status` (`VmRSS:`, `VmHWM:`), in bytes.
fn own_kb(key: &str) -> Option<u64> {
    let v = status_field("/proc/self/status", key)?;
    let kb: u64 = v.split_whitespace().next()?.parse().ok()?;
    Some(kb * 1024)
}

/// The harness's resident memory at the start of a measurement, for its peak at the end:
/// freed heap is first handed back to the kernel (`malloc_trim`) and the kernel's peak-RSS mark
/// reset (`/proc/self/clear_refs` ← 5), so memory an earlier variant used and freed neither
/// counts as this one's start nor hides its growth. What a variant still holds from before
/// (live allocations) is in the start figure, not in the growth.
pub fn memory_mark() -> Option<u64> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of glibc's arenas.
    unsafe {
        libc::malloc_trim(0);
    }
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    own_kb("VmRSS:")
}

/// The harness's resident memory now (`VmRSS`), without trimming the heap first.
pub fn rss_bytes() -> Option<u64> {
    own_kb("VmRSS:")
}

/// The harness's peak resident memory since the last [`memory_mark`].
pub fn memory_peak() -> Option<u64> {
    own_kb("VmHWM:")
}

/// The process listening on a local TCP port, found through `/proc/net/tcp{,6}` and the
/// processes' open sockets. `None` when the port is not local, or the process is not visible.
pub fn local_listener_pid(port: u16) -> Option<u32> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local_address is "ADDR:PORT" in hex; state 0A is LISTEN; inode is field 9.
            let (Some(local), Some(state), Some(inode)) = (f.get(1), f.get(3), f.get(9)) else {
                continue;
            };
            let p = local
                .rsplit(':')
                .next()
                .and_then(|h| u16::from_str_radix(h, 16).ok());
            if p == Some(port) && *state == "0A" {
                inodes.push(format!("socket:[{inode}]"));
            }
        }
    }
    if inodes.is_empty() {
        return None;
    }
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path())
                && inodes.iter().any(|i| Path::new(i) == target)
            {
                return Some(pid);
            }
        }
    }
    None
}

/// Logical CPUs.
pub fn cores() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

/// The machine's host name (a pod's name on Kubernetes); empty when unknown.
pub fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Physical memory, bytes (from `/proc/meminfo`; 0 when unknown).
pub fn memory_bytes() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Operating system and kernel release.
pub fn os() -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    format!("{} {}", std::env::consts::OS, release)
        .trim()
        .to_string()
}

/// The profile the harness was built with: `debug` builds are many times slower and can be the
/// bottleneck a run measures.
pub fn build_profile() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

/// The git commit of the harness source this binary was built from (captured by `build.rs`),
/// with `-dirty` when that work tree had uncommitted changes; `None` when it was built outside
/// a git checkout.
pub fn git_commit() -> Option<String> {
    Some(env!("TENANTBENCH_GIT_COMMIT").to_string()).filter(|c| !c.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_of_this_process_is_visible_both_ways() {
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        std::hint::black_box(x);
        assert!(harness_cpu_seconds() > 0.0);
        assert!(process_cpu_seconds(std::process::id()).is_some());
    }

    #[test]
    fn finds_the_process_listening_on_a_port() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        assert_eq!(local_listener_pid(port), Some(std::process::id()));
        drop(l);
        assert!(cores() >= 1);
        assert!(memory_bytes() > 0);
    }
}
