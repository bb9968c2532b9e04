//! The evidence behind the figures, per variant and trial: explain plans, resources (pool
//! checkouts, server connections, data, CPU, memory) and client-per-tenant registries.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::metrics::results::{Evidence, ExplainRecord, Results, Trial};
use crate::op::Op;
use crate::report::analysis::samples::{self, P50, P99, marked};
use crate::report::analysis::{self as an, count, ms};
use crate::report::names::Names;

/// A variant's plan for one operation, with the smallest and largest tenant's work.
#[derive(Serialize)]
pub(super) struct ExplainRow {
    variant: String,
    op: String,
    plan: String,
    small: String,
    large: String,
    collection: String,
    limit: String,
}

/// Per variant and operation: the plan, and the work of the smallest and largest tenant
/// explained.
pub(super) fn explain_rows(r: &Results, n: &Names) -> Vec<ExplainRow> {
    let mut rows = Vec::new();
    for v in &r.variants {
        // Every operation explained, the scenario's own ([[operation]]) as well as the
        // built-ins, in the order they were explained.
        let mut ops: Vec<Op> = Vec::new();
        for e in r.trials_of(&v.id).flat_map(|t| &t.evidence.explain) {
            if !ops.contains(&e.op) {
                ops.push(e.op);
            }
        }
        for op in ops {
            let ex: Vec<_> = an::explains(r, &v.id, op).collect();
            let (Some(small), Some(large)) = (
                ex.iter().min_by_key(|e| e.tenant_documents),
                ex.iter().max_by_key(|e| e.tenant_documents),
            ) else {
                continue;
            };
            let work = |e: &ExplainRecord| {
                let mut w = format!(
                    "{} ({}, {} docs): keys {}, docs {}, returned {}",
                    e.tenant,
                    e.class,
                    count(e.tenant_documents),
                    count(e.keys_examined),
                    count(e.docs_examined),
                    count(e.returned)
                );
                if let Some(r) = e.rows_removed {
                    w.push_str(&format!(", removed by filter {}", count(r)));
                }
                if let (Some(h), Some(rd)) = (e.buffers_hit, e.buffers_read) {
                    w.push_str(&format!(", buffers hit {} read {}", count(h), count(rd)));
                }
                w
            };
            let mut plans: Vec<String> = ex.iter().map(|e| e.stages.join(" > ")).collect();
            plans.dedup();
            rows.push(ExplainRow {
                variant: n.get(&v.id).to_string(),
                op: op.name().into(),
                plan: plans.join(" | "),
                small: work(small),
                large: work(large),
                collection: count(large.collection_documents),
                limit: large.limit.map_or("-".into(), |l| l.to_string()),
            });
        }
    }
    rows
}

/// One trial's client-per-tenant registry.
#[derive(Serialize)]
pub(super) struct StrategyRow {
    variant: String,
    trial: u32,
    clients: String,
    cold: String,
    memory: String,
    pub(super) few: bool,
}

/// Client-per-tenant registries, per trial: clients created, evicted and held, the latency of
/// cold starts, and the harness's memory.
pub(super) fn strategy_rows(r: &Results, n: &Names) -> Vec<StrategyRow> {
    let mut rows = Vec::new();
    for v in &r.variants {
        for t in r.trials_of(&v.id) {
            let Some(g) = &t.evidence.registry else {
                continue;
            };
            rows.push(StrategyRow {
                variant: n.get(&v.id).to_string(),
                trial: t.trial,
                clients: format!(
                    "created {}, evicted {} (LRU) + {} (idle), at most {} held of {}",
                    count(g.created),
                    count(g.evicted_lru),
                    count(g.evicted_idle),
                    g.max_held,
                    g.max_clients
                ),
                cold: g.cold_start.as_ref().map_or("-".into(), |c| {
                    format!(
                        "{} cold starts: p50 {} ms, p99 {} ms",
                        count(c.count),
                        marked(ms(c.p50_us), P50, c.count),
                        marked(ms(c.p99_us), P99, c.count)
                    )
                }),
                few: g
                    .cold_start
                    .as_ref()
                    .is_some_and(|c| !samples::enough(P99, c.count)),
                memory: t.evidence.memory.as_ref().map_or("-".into(), |m| {
                    format!(
                        "peak {:.1} MiB (+{:.1} MiB over the start)",
                        m.peak_bytes as f64 / MIB,
                        m.peak_bytes.saturating_sub(m.start_bytes) as f64 / MIB
                    )
                }),
            });
        }
    }
    rows
}

/// One trial run through the tenant API (`load`).
#[derive(Serialize)]
pub(super) struct HttpRow {
    variant: String,
    trial: u32,
    users: String,
    requests: String,
    goose_p99: String,
    backfill: String,
    api_cpu: String,
    reports: Vec<String>,
    pub(super) few: bool,
}

/// Trials run through the API: goose's users and throttle, its request count beside ours,
/// its own p99 measured and with its coordinated-omission backfill, the API's CPU, and its
/// report files.
pub(super) fn http_rows(r: &Results, n: &Names) -> Vec<HttpRow> {
    let mut rows = Vec::new();
    for v in &r.variants {
        for t in r.trials_of(&v.id) {
            let Some(h) = &t.evidence.http else {
                continue;
            };
            let api = t.evidence.cpu.servers.iter().find(|s| s.role == "api");
            rows.push(HttpRow {
                variant: n.get(&v.id).to_string(),
                trial: t.trial,
                users: match h.throttle_rps {
                    Some(r) => format!("{} users, throttle {r}/s", h.users),
                    None => format!("{} users", h.users),
                },
                requests: format!(
                    "goose sent {}, tenantbench recorded {}",
                    count(h.requests),
                    count(t.operations)
                ),
                goose_p99: h
                    .goose_p99_us
                    .map_or("-".into(), |us| marked(ms(us), P99, h.requests)),
                backfill: format!(
                    "{} with {} synthetic requests from {} stalls",
                    h.goose_p99_backfilled_us.map_or("-".into(), |us| {
                        marked(ms(us), P99, h.requests + h.synthetic_requests)
                    }),
                    count(h.synthetic_requests),
                    count(h.co_events)
                ),
                api_cpu: api.map_or("-".into(), |a| {
                    format!(
                        "{:.1} s ({:.0}% of a core)",
                        a.cpu_s,
                        100.0 * a.cpu_s / t.evidence.cpu.wall_s.max(1e-9)
                    )
                }),
                reports: h.reports.clone(),
                few: h.goose_p99_us.is_some() && !samples::enough(P99, h.requests),
            });
        }
    }
    rows
}

/// One trial's resources.
#[derive(Serialize)]
pub(super) struct ResourceRow {
    pub(super) variant: String,
    trial: u32,
    checkout: String,
    connections: String,
    databases: u64,
    collections: u64,
    indexes: u64,
    storage: String,
    prepare: String,
    pub(super) harness_cpu: String,
    server_cpu: String,
    memory: String,
    pub(super) busy: bool,
    pub(super) few: bool,
}

/// Per variant and trial that ran, its resources: later trials differ (data reused, connections
/// left by earlier variants, the harness's memory).
pub(super) fn resources(r: &Results, n: &Names) -> Vec<ResourceRow> {
    let mut rows = Vec::new();
    for v in &r.variants {
        for t in r.trials_of(&v.id) {
            let mut row = resource_row(n.get(&v.id), t);
            if r.generators.len() > 1 {
                // The CPU is the generators' sum: the limit is one generator near a core.
                row.busy = r
                    .generators
                    .iter()
                    .flat_map(|g| &g.trials)
                    .filter(|x| x.variant == t.variant && x.trial == t.trial && x.wall_s > 0.0)
                    .any(|x| x.harness_s / x.wall_s > 0.8);
                row.harness_cpu = format!(
                    "{} (sum of {} generators)",
                    row.harness_cpu,
                    r.generators.len()
                );
            }
            rows.push(row);
        }
    }
    rows
}

/// One trial's resources.
fn resource_row(name: &str, t: &Trial) -> ResourceRow {
    let ev = &t.evidence;
    let share = if ev.cpu.wall_s > 0.0 {
        ev.cpu.harness_s / ev.cpu.wall_s
    } else {
        0.0
    };
    // Percentiles of the checkout waits, marked when from too few; none without a wait.
    let waits = ev.checkout.wait.count;
    let wait = |us: u64, q: f64| {
        if waits == 0 {
            "-".to_string()
        } else {
            marked(ms(us), q, waits)
        }
    };
    ResourceRow {
        variant: name.to_string(),
        trial: t.trial,
        checkout: format!(
            "{} checkouts, p50 {} ms, p99 {} ms, {} failed",
            count(ev.checkout.checkouts),
            wait(ev.checkout.wait.p50_us, P50),
            wait(ev.checkout.wait.p99_us, P99),
            ev.checkout.failed
        ),
        connections: connections(ev),
        databases: ev.data.databases,
        collections: ev.data.collections,
        indexes: ev.data.indexes,
        storage: format!(
            "{:.1} MiB (indexes {:.1} MiB)",
            ev.data.storage_bytes as f64 / MIB,
            ev.data.index_bytes as f64 / MIB
        ),
        prepare: format!("{:.1} s", ev.data.prepare_s),
        harness_cpu: format!(
            "{:.2} s in {:.1} s ({:.0}% of a core{})",
            ev.cpu.harness_s,
            ev.cpu.wall_s,
            100.0 * share,
            cpus(ev.cpu.harness_cpus.as_deref())
        ),
        server_cpu: server_cpu(ev),
        memory: ev.memory.as_ref().map_or("-".into(), |m| {
            let slope = m
                .rss_slope_bytes_per_min
                .map(|s| format!(", {:+.2} MiB/min over the trial", s / MIB))
                .unwrap_or_default();
            format!(
                "{:.1} MiB at start, peak {:.1} MiB (+{:.1}){slope}",
                m.start_bytes as f64 / MIB,
                m.peak_bytes as f64 / MIB,
                m.peak_bytes.saturating_sub(m.start_bytes) as f64 / MIB
            )
        }),
        busy: share > 0.8,
        few: waits > 0 && !samples::enough(P99, waits),
    }
}

/// Bytes in a MiB.
const MIB: f64 = 1048576.0;

/// One load generator of a run split over several (`run --worker i/N`, then `merge`).
#[derive(Serialize)]
pub(super) struct GeneratorRow {
    worker: String,
    host: String,
    cores: u32,
    share: String,
    operations: String,
    cpu: String,
    pub(super) busy: bool,
}

impl GeneratorRow {
    /// The row as one line of the Markdown summary.
    pub(super) fn line(&self) -> String {
        format!(
            "generator {} on {} ({} CPUs): {}; {} operations; harness CPU {}",
            self.worker, self.host, self.cores, self.share, self.operations, self.cpu
        )
    }
}

/// The load generators a merged run came from, each with its share of the load and its own
/// CPU (its busiest trial too: a generator near a whole core was the limit, whatever the sum).
pub(super) fn generator_rows(r: &Results, n: &Names) -> Vec<GeneratorRow> {
    r.generators
        .iter()
        .map(|g| {
            let mut shares: Vec<String> = g
                .shares
                .iter()
                .map(|s| {
                    let load = match (s.concurrency, s.rate) {
                        (Some(c), _) => format!("concurrency {c}"),
                        (None, Some(rate)) => format!("{rate:.1}/s"),
                        (None, None) => "-".into(),
                    };
                    format!("{load} · pool {}", s.max_pool_size)
                })
                .collect();
            shares.dedup();
            let share = if shares.len() == 1 {
                shares.remove(0)
            } else {
                g.shares
                    .iter()
                    .zip(&shares)
                    .map(|(s, x)| format!("{}: {x}", n.get(&s.variant)))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            let cpu: f64 = g.trials.iter().map(|t| t.harness_s).sum();
            let wall: f64 = g.trials.iter().map(|t| t.wall_s).sum();
            let peak = g
                .trials
                .iter()
                .filter(|t| t.wall_s > 0.0)
                .map(|t| t.harness_s / t.wall_s)
                .fold(0.0, f64::max);
            GeneratorRow {
                worker: g.worker.clone(),
                host: if g.host.is_empty() {
                    "-".into()
                } else {
                    g.host.clone()
                },
                cores: g.cores,
                share,
                operations: count(g.trials.iter().map(|t| t.operations).sum()),
                cpu: if g.trials.is_empty() {
                    "-".into()
                } else {
                    format!(
                        "{cpu:.2} s in {wall:.1} s of trials ({:.0}% of a core; busiest trial {:.0}%)",
                        100.0 * cpu / wall.max(1e-9),
                        100.0 * peak
                    )
                },
                busy: peak > 0.8,
            }
        })
        .collect()
}

/// The CPUs a process may run on, as a suffix (`, CPUs 0-1`), or nothing.
fn cpus(list: Option<&str>) -> String {
    list.map(|c| format!(", CPUs {c}")).unwrap_or_default()
}

/// Per server: most connections at once, and connections created during the trial.
fn connections(ev: &Evidence) -> String {
    let mut by_server: BTreeMap<&str, (i64, i64, i64)> = BTreeMap::new();
    for c in &ev.connections {
        let e = by_server
            .entry(c.server.as_str())
            .or_insert((0, i64::MAX, i64::MIN));
        e.0 = e.0.max(c.current);
        e.1 = e.1.min(c.total_created);
        e.2 = e.2.max(c.total_created);
    }
    if by_server.is_empty() {
        "-".to_string()
    } else {
        by_server
            .iter()
            .map(|(s, (max, lo, hi))| format!("{s}: max {max}, created {}", hi - lo))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// CPU of each local server during the trial (or of the one server measured), as shares of
/// a core.
fn server_cpu(ev: &Evidence) -> String {
    if ev.cpu.servers.is_empty() {
        ev.cpu.server_s.map_or("-".into(), |s| {
            format!(
                "{s:.2} s ({:.0}% of a core)",
                100.0 * s / ev.cpu.wall_s.max(1e-9)
            )
        })
    } else {
        ev.cpu
            .servers
            .iter()
            .map(|x| {
                format!(
                    "{}: {:.2} s ({:.0}% of a core{})",
                    x.role,
                    x.cpu_s,
                    100.0 * x.cpu_s / ev.cpu.wall_s.max(1e-9),
                    cpus(x.cpus.as_deref())
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}
