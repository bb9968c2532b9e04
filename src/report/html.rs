//! The HTML report (`index.html`, self-contained: inline SVG and CSS, no script, no network)
//! and its Markdown summary (`summary.md`), from results only: one run, or a current run
//! compared with a baseline run. The HTML comes from the template `templates/report.html`
//! (minijinja, auto-escaped); what it says is computed in [`super::analysis`].

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, Result};
use hdrhistogram::Histogram;
use serde::Serialize;

use super::analysis::{self as an, count, ms};
use super::charts::{self, Bar, Curve};
use crate::metrics::results::{Results, Spread, Trial, VariantInfo};

const TEMPLATE: &str = include_str!("templates/report.html");

/// A rendered report.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// `index.html`.
    pub html: String,
    /// `summary.md`.
    pub markdown: String,
    /// Each chart as its own file: (file name, SVG).
    pub charts: Vec<(String, String)>,
}

/// A run to report on, with the name it goes by in a comparison (its directory's name).
#[derive(Debug, Clone, Copy)]
pub struct Run<'a> {
    /// Short name (the run directory's name).
    pub name: &'a str,
    /// Its results.
    pub results: &'a Results,
}

#[derive(Serialize)]
struct VariantRow {
    id: String,
    colour: String,
    trials: usize,
    throughput: String,
    p50: String,
    p99: String,
    p999: String,
    p99_trials: String,
    ratio: String,
    tput_ratio: String,
    errors: u64,
}

#[derive(Serialize)]
struct GrowthRow {
    variant: String,
    op: String,
    tenants: usize,
    bands: usize,
    slope_p50: String,
    slope_p99: String,
    growth: String,
    flagged: bool,
}

#[derive(Serialize)]
struct PhaseRow {
    variant: String,
    phase: String,
    class: String,
    steady_p99: String,
    phase_p99: String,
    ratio: String,
}

#[derive(Serialize, Clone)]
struct ChartRef {
    file: String,
    svg: String,
}

#[derive(Serialize)]
struct ExplainRow {
    variant: String,
    op: String,
    plan: String,
    small: String,
    large: String,
    collection: String,
    limit: String,
}

#[derive(Serialize)]
struct ResourceRow {
    variant: String,
    trial: u32,
    checkout: String,
    connections: String,
    databases: u64,
    collections: u64,
    indexes: u64,
    storage: String,
    prepare: String,
    harness_cpu: String,
    server_cpu: String,
    memory: String,
    busy: bool,
}

#[derive(Serialize)]
struct DeltaRow {
    run: String,
    variant: String,
    op: String,
    class: String,
    base: String,
    cur: String,
    change: String,
    direction: &'static str,
}

/// Charts, grouped by the report section that shows them.
#[derive(Default)]
struct Charts {
    files: Vec<(String, String)>,
    sections: BTreeMap<&'static str, Vec<ChartRef>>,
}

impl Charts {
    fn add(
        &mut self,
        section: &'static str,
        file: String,
        svg: Result<String, String>,
    ) -> Result<()> {
        let svg = svg.map_err(|e| anyhow::anyhow!("drawing {file}: {e}"))?;
        self.sections.entry(section).or_default().push(ChartRef {
            file: file.clone(),
            svg: strip_xml_header(&svg),
        });
        self.files.push((file, svg));
        Ok(())
    }
}

/// Renders the report of one run's results.
///
/// # Errors
/// A chart or the template failed to render.
pub fn render(r: &Results) -> Result<Rendered> {
    render_runs(&[Run {
        name: "run",
        results: r,
    }])
}

/// Renders the report of the last run; with two runs or more, the first is the baseline every
/// later run is compared with (deltas, overlaid percentile charts).
///
/// # Errors
/// No run, or a chart or the template failed to render.
pub fn render_runs(runs: &[Run]) -> Result<Rendered> {
    let cur = runs.last().context("no run to report")?;
    let r = cur.results;
    let answer = an::answer(r);
    let baseline = answer.baseline.clone();
    let base = an::spread(r, &baseline, "all").cloned();
    let mut charts = Charts::default();

    // Variants table.
    let mut rows = Vec::new();
    for (i, v) in r.variants.iter().enumerate() {
        let Some(s) = an::spread(r, &v.id, "all") else {
            continue;
        };
        let errors: u64 = r
            .trials_of(&v.id)
            .flat_map(|t| &t.groups)
            .filter(|g| g.outcome == "error")
            .map(|g| g.response.count)
            .sum();
        let (ratio, tput_ratio) = match &base {
            Some(b) => (
                s.merged.p99_us as f64 / b.merged.p99_us.max(1) as f64,
                an::mean_throughput(s) / an::mean_throughput(b).max(1e-9),
            ),
            None => (1.0, 1.0),
        };
        rows.push(VariantRow {
            id: v.id.clone(),
            colour: charts::css_colour(i),
            trials: s.p99_us.len(),
            throughput: s
                .throughput
                .iter()
                .map(|x| format!("{x:.0}"))
                .collect::<Vec<_>>()
                .join(" / "),
            p50: ms(s.merged.p50_us),
            p99: ms(s.merged.p99_us),
            p999: ms(s.merged.p999_us),
            p99_trials: s
                .p99_us
                .iter()
                .map(|x| ms(*x))
                .collect::<Vec<_>>()
                .join(" / "),
            ratio: format!("{ratio:.2}×"),
            tput_ratio: format!("{tput_ratio:.2}×"),
            errors,
        });
    }

    // Caveats: the surrogate, plan-vs-reality gaps, a busy harness, failed trials.
    let growth = an::growth(r);
    let mut caveats = Vec::new();
    for s in &r.environment.servers {
        if let Some(v) = &s.surrogate {
            caveats.push(format!(
                "The {} server is the SecantusDB surrogate {v}, not mongod: its latencies are surrogate latencies, and its explain output may claim bounded work where latency grows with the tenant.",
                s.role
            ));
        }
    }
    caveats.extend(growth.iter().filter_map(|g| g.plan_gap.clone()));
    let resources = resources(r);
    for row in resources.iter().filter(|x| x.busy) {
        caveats.push(format!(
            "The harness used most of a core in {} ({}): the load generator may have limited these figures.",
            row.variant, row.harness_cpu
        ));
    }
    let failed = r
        .trials
        .iter()
        .filter(|t| t.status == crate::metrics::results::TrialStatus::Failed)
        .count();
    if failed > 0 {
        caveats.push(format!(
            "{failed} trial(s) failed and are left out of every figure (see results.json)."
        ));
    }

    distribution_charts(r, &mut charts)?;
    class_charts(r, &mut charts)?;
    timeline_charts(r, &mut charts)?;
    for sw in an::sweeps(r) {
        charts.add(
            "sweeps",
            format!("sweep-{}.svg", sw.knob.name()),
            charts::sweep(
                &format!("Throughput and p99 against {}", sw.knob.name()),
                sw.knob.axis(),
                &sw.lines,
            ),
        )?;
    }

    // Tenant size: the growth table and one chart per operation.
    let growth_rows: Vec<GrowthRow> = growth
        .iter()
        .map(|g| GrowthRow {
            variant: g.variant.clone(),
            op: g.op.name().into(),
            tenants: g.points.len(),
            bands: g.bands,
            slope_p50: g.fit_p50.map_or("-".into(), |f| format!("{:.2}", f.0)),
            slope_p99: g.slope_p99.map_or("-".into(), |s| format!("{s:.2}")),
            growth: g.class.describe().into(),
            flagged: g.plan_gap.is_some(),
        })
        .collect();
    for op in an::ops_of(r) {
        let series: Vec<charts::ScalingSeries> = growth
            .iter()
            .filter(|g| g.op == op && g.points.len() >= 2)
            .map(|g| {
                (
                    g.index,
                    g.variant.clone(),
                    g.points
                        .iter()
                        .map(|p| (p.documents as f64, p.p50_ms))
                        .collect(),
                    g.fit_p50,
                )
            })
            .collect();
        if series.is_empty() {
            continue;
        }
        charts.add(
            "scaling",
            format!("scaling-{}.svg", op.name()),
            charts::scaling(
                &format!("{}: sampled tenants' p50 against their size", op.name()),
                &series,
            ),
        )?;
    }

    // Comparison with a baseline run.
    let mut delta_rows = Vec::new();
    if runs.len() >= 2 {
        let first = &runs[0];
        for later in &runs[1..] {
            for d in an::deltas(first.results, later.results) {
                let c = d.change();
                delta_rows.push(DeltaRow {
                    run: later.name.to_string(),
                    variant: d.variant.clone(),
                    op: d.op.clone(),
                    class: d.class.clone(),
                    base: ms(d.base_p99_us),
                    cur: ms(d.cur_p99_us),
                    change: format!("{:+.1}%", 100.0 * c),
                    direction: if c.abs() < 0.02 {
                        "same"
                    } else if c < 0.0 {
                        "better"
                    } else {
                        "worse"
                    },
                });
            }
        }
        compare_charts(runs, &mut charts)?;
    }

    let phase_rows = phase_rows(r);
    let explain = explain_rows(r);
    let servers: Vec<String> = r
        .environment
        .servers
        .iter()
        .map(|s| match &s.surrogate {
            Some(sur) => format!(
                "{} server: SecantusDB {sur} (MongoDB-compatible surrogate, reports MongoDB {})",
                s.role,
                s.version.as_deref().unwrap_or("?")
            ),
            None => format!(
                "{} server: {} {}",
                s.role,
                match s.backend.as_str() {
                    "mongodb" => "MongoDB",
                    "postgres" => "PostgreSQL",
                    other => other,
                },
                s.version.as_deref().unwrap_or("?")
            ),
        })
        .collect();

    let mut env = minijinja::Environment::new();
    env.add_template("report.html", TEMPLATE)
        .context("the report template")?;
    let html = env
        .get_template("report.html")
        .context("the report template")?
        .render(minijinja::context! {
            scenario => &r.scenario,
            headline => &answer.lines,
            winner => &answer.winner,
            caveats => &caveats,
            baseline => &baseline,
            variants => &rows,
            charts => &charts.sections,
            phase_rows => &phase_rows,
            growth => &growth_rows,
            explain => &explain,
            resources => &resources,
            strategy => &strategy_rows(r),
            isolation => &isolation_rows(r),
            deltas => &delta_rows,
            compared => runs.len() >= 2,
            baseline_run => runs.first().map(|x| x.name),
            current_run => cur.name,
            servers => &servers,
            env => &r.environment,
            started_at => &r.started_at,
        })
        .context("rendering the report")?;

    let mut md = format!("## tenantbench · {}\n\n", r.scenario.name);
    if let Some(q) = &r.scenario.question {
        md.push_str(&format!("{q}\n\n"));
    }
    for l in &answer.lines {
        md.push_str(&format!("- {l}\n"));
    }
    md.push_str("\n| variant | trials | ok ops/s per trial | p50 ms | p99 ms | p99.9 ms | p99 vs baseline | ops/s vs baseline | errors |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for v in &rows {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            v.id, v.trials, v.throughput, v.p50, v.p99, v.p999, v.ratio, v.tput_ratio, v.errors
        ));
    }
    let moved: Vec<&DeltaRow> = delta_rows
        .iter()
        .filter(|d| d.op == "all" && d.class == "all")
        .collect();
    if !moved.is_empty() {
        md.push_str(&format!(
            "\nAgainst the baseline run {}:\n\n| run | variant | baseline p99 ms | p99 ms | change |\n| --- | --- | ---: | ---: | ---: |\n",
            runs[0].name
        ));
        for d in moved {
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} ({}) |\n",
                d.run, d.variant, d.base, d.cur, d.change, d.direction
            ));
        }
    }
    for c in &caveats {
        md.push_str(&format!("\n> {c}\n"));
    }
    Ok(Rendered {
        html,
        markdown: md,
        charts: charts.files,
    })
}

/// Histogram and percentile curves, all operations then each operation, one line per variant.
fn distribution_charts(r: &Results, charts: &mut Charts) -> Result<()> {
    let curves_of = |op: Option<crate::op::Op>| -> Vec<(usize, String, Histogram<u64>)> {
        r.variants
            .iter()
            .enumerate()
            .map(|(i, v)| {
                (
                    i,
                    v.id.clone(),
                    an::merged(r, &v.id, |g| op.is_none_or(|o| o == g.op)),
                )
            })
            .filter(|(_, _, h)| !h.is_empty())
            .collect()
    };
    let all = curves_of(None);
    let curves: Vec<Curve> = all.iter().map(|(i, l, h)| Curve::solid(*i, l, h)).collect();
    charts.add(
        "distribution",
        "histogram-all.svg".into(),
        charts::log_histogram("Response-time histogram, all operations", &curves),
    )?;
    charts.add(
        "distribution",
        "percentiles-all.svg".into(),
        charts::percentile_chart("Response time by percentile, all operations", &curves),
    )?;
    for op in an::ops_of(r) {
        let hs = curves_of(Some(op));
        if hs.is_empty() {
            continue;
        }
        let curves: Vec<Curve> = hs.iter().map(|(i, l, h)| Curve::solid(*i, l, h)).collect();
        charts.add(
            "distribution",
            format!("percentiles-{}.svg", op.name()),
            charts::percentile_chart(
                &format!("Response time by percentile, {}", op.name()),
                &curves,
            ),
        )?;
    }
    Ok(())
}

/// p50 and p99 by class and variant, trials merged, with each trial's lowest and highest.
fn class_charts(r: &Results, charts: &mut Charts) -> Result<()> {
    let Some(phase) = an::headline_phase(r) else {
        return Ok(());
    };
    type Pick = fn(&Spread) -> (u64, &[u64]);
    let picks: [(&str, Pick); 2] = [
        ("p50", |s| (s.merged.p50_us, &s.p50_us)),
        ("p99", |s| (s.merged.p99_us, &s.p99_us)),
    ];
    for (name, pick) in picks {
        let series: Vec<(usize, String, Vec<Option<Bar>>)> = r
            .variants
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let bars = r
                    .classes
                    .iter()
                    .map(|c| {
                        let s = an::spread(r, &v.id, c)?;
                        let (merged, trials) = pick(s);
                        if s.merged.count == 0 {
                            return None;
                        }
                        let f = |us: u64| us as f64 / 1000.0;
                        Some(Bar {
                            value: f(merged),
                            lo: f(trials.iter().copied().min().unwrap_or(merged)),
                            hi: f(trials.iter().copied().max().unwrap_or(merged)),
                        })
                    })
                    .collect();
                (i, v.id.clone(), bars)
            })
            .collect();
        charts.add(
            "classes",
            format!("{name}-by-class.svg"),
            charts::class_bars(
                &format!("{name} by tenant class, phase {phase}, trials merged"),
                &r.classes,
                &series,
            ),
        )?;
    }
    Ok(())
}

/// The noisy-neighbour chart of each variant's first trial that ran.
fn timeline_charts(r: &Results, charts: &mut Charts) -> Result<()> {
    let shaded: Vec<(String, f64, f64)> = r
        .phases
        .iter()
        .filter(|p| p.name != "steady")
        .flat_map(|p| p.windows.iter().map(move |w| (p.name.clone(), w[0], w[1])))
        .collect();
    for v in &r.variants {
        let Some(t) = r.trials_of(&v.id).next() else {
            continue;
        };
        let classes: Vec<(String, Vec<(f64, f64)>)> = r
            .classes
            .iter()
            .map(|c| {
                let pts: Vec<(f64, f64)> = t
                    .timeline
                    .iter()
                    .filter(|s| &s.class == c && s.response.count > 0)
                    .map(|s| (s.t as f64 + 0.5, s.response.p99_us as f64 / 1000.0))
                    .collect();
                (c.clone(), pts)
            })
            .filter(|(_, p)| !p.is_empty())
            .collect();
        if classes.is_empty() {
            continue;
        }
        let mut per_sec: BTreeMap<u64, u64> = BTreeMap::new();
        for s in &t.timeline {
            *per_sec.entry(s.t).or_default() += s.response.count;
        }
        let tput: Vec<(f64, f64)> = per_sec
            .into_iter()
            .map(|(t, n)| (t as f64 + 0.5, n as f64))
            .collect();
        charts.add(
            "timelines",
            format!("timeline-{}.svg", v.id),
            charts::timeline(
                &format!("p99 per class per second, {} trial {}", v.id, t.trial),
                &classes,
                &shaded,
                &tput,
            ),
        )?;
    }
    Ok(())
}

/// Per operation, each variant's percentile curve in the baseline run (dashed) and in every
/// later run (solid), same colour per variant.
fn compare_charts(runs: &[Run], charts: &mut Charts) -> Result<()> {
    let cur = runs.last().expect("runs").results;
    let mut ops: Vec<Option<crate::op::Op>> = vec![None];
    ops.extend(an::ops_of(cur).into_iter().map(Some));
    for op in ops {
        let mut hs: Vec<(usize, String, Histogram<u64>, bool)> = Vec::new();
        for (ri, run) in runs.iter().enumerate() {
            for v in &run.results.variants {
                let Some(i) = cur.variants.iter().position(|c| c.id == v.id) else {
                    continue;
                };
                let h = an::merged(run.results, &v.id, |g| op.is_none_or(|o| o == g.op));
                if !h.is_empty() {
                    hs.push((i, format!("{} · {}", v.id, run.name), h, ri == 0));
                }
            }
        }
        if !hs.iter().any(|x| x.3) || hs.iter().all(|x| x.3) {
            continue;
        }
        let curves: Vec<Curve> = hs
            .iter()
            .map(|(i, l, h, dashed)| Curve {
                index: *i,
                label: l.clone(),
                hist: h,
                dashed: *dashed,
            })
            .collect();
        let name = op.map_or("all", |o| o.name());
        charts.add(
            "compare",
            format!("compare-{name}.svg"),
            charts::percentile_chart(
                &format!("Baseline run (dashed) against current, {name}"),
                &curves,
            ),
        )?;
    }
    Ok(())
}

/// Each measured phase against steady, per class: the noisy-neighbour ratio.
fn phase_rows(r: &Results) -> Vec<PhaseRow> {
    let mut rows = Vec::new();
    for v in &r.variants {
        for ph in r.phases.iter().filter(|p| p.measured && p.name != "steady") {
            for class in std::iter::once("all".to_string()).chain(r.classes.iter().cloned()) {
                let find = |phase: &str| {
                    r.spread
                        .iter()
                        .find(|s| s.variant == v.id && s.phase == phase && s.class == class)
                        .filter(|s| s.merged.count > 0)
                        .map(|s| s.merged.p99_us)
                };
                if let (Some(base), Some(x)) = (find("steady"), find(&ph.name)) {
                    rows.push(PhaseRow {
                        variant: v.id.clone(),
                        phase: ph.name.clone(),
                        class: class.clone(),
                        steady_p99: ms(base),
                        phase_p99: ms(x),
                        ratio: format!("{:.2}×", x as f64 / base.max(1) as f64),
                    });
                }
            }
        }
    }
    rows
}

/// Per variant and operation: the plan, and the work of the smallest and largest tenant
/// explained.
fn explain_rows(r: &Results) -> Vec<ExplainRow> {
    let mut rows = Vec::new();
    for v in &r.variants {
        for op in crate::op::Op::ALL {
            let ex: Vec<_> = an::explains(r, &v.id, op).collect();
            let (Some(small), Some(large)) = (
                ex.iter().min_by_key(|e| e.tenant_documents),
                ex.iter().max_by_key(|e| e.tenant_documents),
            ) else {
                continue;
            };
            let work = |e: &crate::metrics::results::ExplainRecord| {
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
                variant: v.id.clone(),
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

#[derive(Serialize)]
struct StrategyRow {
    variant: String,
    trial: u32,
    clients: String,
    cold: String,
    memory: String,
}

/// Client-per-tenant registries, per trial: clients created, evicted and held, the latency of
/// cold starts, and the harness's memory.
fn strategy_rows(r: &Results) -> Vec<StrategyRow> {
    let mut rows = Vec::new();
    for v in &r.variants {
        for t in r.trials_of(&v.id) {
            let Some(g) = &t.evidence.registry else {
                continue;
            };
            rows.push(StrategyRow {
                variant: v.id.clone(),
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
                        ms(c.p50_us),
                        ms(c.p99_us)
                    )
                }),
                memory: t.evidence.memory.as_ref().map_or("-".into(), |m| {
                    format!(
                        "peak {:.1} MiB (+{:.1} MiB over the start)",
                        m.peak_bytes as f64 / 1048576.0,
                        m.peak_bytes.saturating_sub(m.start_bytes) as f64 / 1048576.0
                    )
                }),
            });
        }
    }
    rows
}

#[derive(Serialize)]
struct IsolationRow {
    variant: String,
    phase: String,
    solo: String,
    during: String,
    relative: String,
    trials: String,
}

/// Relative latency per variant (small tenants' p99 in a phase over their p99 in `solo`).
fn isolation_rows(r: &Results) -> Vec<IsolationRow> {
    super::analysis::isolation(r)
        .iter()
        .map(|i| IsolationRow {
            variant: i.variant.clone(),
            phase: i.phase.clone(),
            solo: ms(i.solo_p99_us),
            during: ms(i.phase_p99_us),
            relative: format!("{:.2}×", i.relative()),
            trials: i
                .per_trial
                .iter()
                .map(|x| format!("{x:.2}×"))
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect()
}

/// Per variant and trial that ran, its resources: later trials differ (data reused, connections
/// left by earlier variants, the harness's memory).
fn resources(r: &Results) -> Vec<ResourceRow> {
    let mut rows = Vec::new();
    for v in &r.variants {
        for t in r.trials_of(&v.id) {
            rows.push(resource_row(v, t));
        }
    }
    rows
}

/// One trial's resources.
fn resource_row(v: &VariantInfo, t: &Trial) -> ResourceRow {
    let ev = &t.evidence;
    // Per server: most connections at once, and connections created during the trial.
    let mut by_server: BTreeMap<&str, (i64, i64, i64)> = BTreeMap::new();
    for c in &ev.connections {
        let e = by_server
            .entry(c.server.as_str())
            .or_insert((0, i64::MAX, i64::MIN));
        e.0 = e.0.max(c.current);
        e.1 = e.1.min(c.total_created);
        e.2 = e.2.max(c.total_created);
    }
    let connections = if by_server.is_empty() {
        "-".to_string()
    } else {
        by_server
            .iter()
            .map(|(s, (max, lo, hi))| format!("{s}: max {max}, created {}", hi - lo))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let share = if ev.cpu.wall_s > 0.0 {
        ev.cpu.harness_s / ev.cpu.wall_s
    } else {
        0.0
    };
    ResourceRow {
        variant: v.id.clone(),
        trial: t.trial,
        checkout: format!(
            "{} checkouts, p50 {} ms, p99 {} ms, {} failed",
            count(ev.checkout.checkouts),
            ms(ev.checkout.wait.p50_us),
            ms(ev.checkout.wait.p99_us),
            ev.checkout.failed
        ),
        connections,
        databases: ev.data.databases,
        collections: ev.data.collections,
        indexes: ev.data.indexes,
        storage: format!(
            "{:.1} MiB (indexes {:.1} MiB)",
            ev.data.storage_bytes as f64 / 1048576.0,
            ev.data.index_bytes as f64 / 1048576.0
        ),
        prepare: format!("{:.1} s", ev.data.prepare_s),
        harness_cpu: format!(
            "{:.2} s in {:.1} s ({:.0}% of a core{})",
            ev.cpu.harness_s,
            ev.cpu.wall_s,
            100.0 * share,
            ev.cpu
                .harness_cpus
                .as_ref()
                .map(|c| format!(", CPUs {c}"))
                .unwrap_or_default()
        ),
        server_cpu: if ev.cpu.servers.is_empty() {
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
                        x.cpus
                            .as_ref()
                            .map(|c| format!(", CPUs {c}"))
                            .unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        },
        memory: ev.memory.as_ref().map_or("-".into(), |m| {
            format!(
                "{:.1} MiB at start, peak {:.1} MiB (+{:.1})",
                m.start_bytes as f64 / 1048576.0,
                m.peak_bytes as f64 / 1048576.0,
                m.peak_bytes.saturating_sub(m.start_bytes) as f64 / 1048576.0
            )
        }),
        busy: share > 0.8,
    }
}

/// SVG for inlining in HTML: without an XML declaration.
fn strip_xml_header(svg: &str) -> String {
    match svg.strip_prefix("<?xml") {
        Some(rest) => rest
            .split_once("?>")
            .map_or(svg, |x| x.1)
            .trim_start()
            .to_string(),
        None => svg.to_string(),
    }
}

/// Writes `index.html`, `summary.md` and the charts into `dir`; returns the path of the HTML.
///
/// # Errors
/// Rendering failed or the directory is not writable.
pub fn write(r: &Results, dir: &Path) -> Result<std::path::PathBuf> {
    write_runs(
        &[Run {
            name: "run",
            results: r,
        }],
        dir,
    )
}

/// Writes the report of [`render_runs`] into `dir`; returns the path of the HTML.
///
/// # Errors
/// Rendering failed or the directory is not writable.
pub fn write_runs(runs: &[Run], dir: &Path) -> Result<std::path::PathBuf> {
    let out = render_runs(runs)?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, svg) in &out.charts {
        std::fs::write(dir.join(name), svg)
            .with_context(|| format!("writing {}", dir.join(name).display()))?;
    }
    std::fs::write(dir.join("summary.md"), &out.markdown)
        .with_context(|| format!("writing {}", dir.join("summary.md").display()))?;
    let html = dir.join("index.html");
    std::fs::write(&html, &out.html).with_context(|| format!("writing {}", html.display()))?;
    Ok(html)
}
