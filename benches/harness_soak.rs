//! Soak: the harness's own memory over a long open-loop run. The quickstart scenario's
//! workload (its tenants, mix and classes) runs against a null backend (200 µs per operation,
//! one in 500 failing) at 2,000 operations/s with the precise timer, the interval log written
//! to a sink and a checkpoint of the timeline every 60 s, as `run` does — for 10 minutes
//! (`TENANTBENCH_SOAK_S` to change). The runner samples its resident memory each second; the
//! bench prints the start, the peak, the end and the least-squares slope after the first tenth.
//! A flat harness shows a slope near 0 MiB/min; the per-second summaries it keeps grow by a few
//! hundred bytes a second by design.
//!
//! Run: `cargo bench --bench harness_soak` (not a test: it takes 10 minutes).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tenantbench::backend::null::NullBackend;
use tenantbench::metrics::results::MemoryEvidence;
use tenantbench::pacing::{Arrivals, Pacer, StopCondition};
use tenantbench::runner::{Checkpoint, RunConfig, RunIo, Timer, run};
use tenantbench::scenario::{PhasePlan, Scenario};
use tenantbench::workload::Workload;

const MIB: f64 = 1024.0 * 1024.0;

fn main() {
    // `cargo bench` passes `--bench`; a filter that names another bench skips this one.
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"harness_soak".contains(&a))
    {
        return;
    }
    let seconds: u64 = std::env::var("TENANTBENCH_SOAK_S")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.toml");
    let s = Scenario::load(&path).expect("the quickstart scenario");
    let pop = s.build_population();
    let phases = PhasePlan::new(&s.workload, &s.phases);
    let workload = Workload::from_scenario(&pop, &s, &phases);
    let pacer = Pacer::Open {
        rate: 2000.0,
        arrivals: Arrivals::Poisson,
        workers: 8,
    };
    let mut cfg = RunConfig::simple(pacer, StopCondition::Duration(Duration::from_secs(seconds)));
    let (classes, _) = tenantbench::workload::classes(&pop);
    cfg.classes = classes;
    cfg.tenants = pop.tenants.len();
    cfg.timer = Timer::Precise;
    let checkpoints = Arc::new(AtomicU64::new(0));
    let seen = checkpoints.clone();
    let io = RunIo {
        hlog: Some(Box::new(std::io::sink())),
        checkpoint: Some(Checkpoint {
            every: Duration::from_secs(60),
            write: Box::new(move |tl| {
                // What `run` serialises at a checkpoint: the timeline so far.
                let json = serde_json::to_vec(&tl.summaries).expect("encodes");
                std::hint::black_box(json);
                seen.fetch_add(1, Ordering::Relaxed);
            }),
        }),
        ..RunIo::default()
    };
    let backend = Arc::new(NullBackend::new(Duration::from_micros(200)).with_errors_every(500));
    eprintln!(
        "harness_soak: {} tenants, 2,000 ops/s open loop for {seconds} s (TENANTBENCH_SOAK_S)",
        pop.tenants.len()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let report = rt.block_on(run(backend, Arc::new(workload), cfg, io));
    let rss = report.timeline.rss.clone();
    let (Some(first), Some(last)) = (rss.first(), rss.last()) else {
        eprintln!("harness_soak: no memory samples (no /proc/self/status?)");
        return;
    };
    let peak = rss.iter().map(|s| s.bytes).max().unwrap_or(0);
    let slope = MemoryEvidence::slope(&rss);
    println!(
        "harness_soak: {} operations ({} failed) in {:.0} s, {} checkpoints",
        report.recorder.count(),
        report.timeline.errors,
        report.elapsed.as_secs_f64(),
        checkpoints.load(Ordering::Relaxed)
    );
    // RSS each minute: a leak climbs to the end; allocator retention levels off.
    let per_minute: Vec<String> = rss
        .iter()
        .filter(|s| s.t % 60 == 0)
        .map(|s| format!("{}:{:.1}", s.t, s.bytes as f64 / MIB))
        .collect();
    println!("harness_soak: RSS (s:MiB) {}", per_minute.join(" "));
    // What is still live once everything the run allocated is dropped and freed heap is given
    // back to the kernel: growth that survives this is a leak; growth that does not was the
    // allocator keeping freed memory.
    let live_during = tenantbench::metrics::evidence::memory_mark();
    drop(report);
    let after = tenantbench::metrics::evidence::memory_mark();
    println!(
        "harness_soak: after malloc_trim, with the run's report held {} MiB, dropped {} MiB",
        live_during.map_or("?".into(), |b| format!("{:.1}", b as f64 / MIB)),
        after.map_or("?".into(), |b| format!("{:.1}", b as f64 / MIB)),
    );
    println!(
        "harness_soak: RSS {:.1} MiB at {} s, {:.1} MiB at {} s, peak {:.1} MiB; slope {} ({} samples)",
        first.bytes as f64 / MIB,
        first.t,
        last.bytes as f64 / MIB,
        last.t,
        peak as f64 / MIB,
        slope.map_or("n/a (under a minute of samples)".into(), |b| format!(
            "{:+.3} MiB/min",
            b / MIB
        )),
        rss.len()
    );
}
