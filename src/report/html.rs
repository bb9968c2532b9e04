//! The HTML report (`index.html`, self-contained: inline SVG and CSS, no script, no network)
//! and its Markdown summary (`summary.md`), from a run's results only. The HTML comes from the
//! template `templates/report.html` (minijinja, auto-escaped).

use std::path::Path;

use anyhow::{Context as _, Result};
use hdrhistogram::Histogram;
use serde::Serialize;

use super::charts;
use crate::metrics::histogram;
use crate::metrics::results::{self as res, Results, Spread};

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
    errors: u64,
}

#[derive(Serialize)]
struct ScalingRow {
    variant: String,
    tenants: usize,
    slope: String,
    growth: String,
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

#[derive(Serialize)]
struct ChartRef {
    file: String,
    svg: String,
}

#[derive(Serialize)]
struct ExplainRow {
    variant: String,
    op: String,
    tenant: String,
    plan: String,
    keys: u64,
    docs: u64,
    collection: u64,
    returned: u64,
}

#[derive(Serialize)]
struct ResourceRow {
    variant: String,
    checkout_p99: String,
    connections: String,
    databases: u64,
    collections: u64,
    indexes: u64,
    storage: String,
    harness_cpu: String,
    server_cpu: String,
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

/// The `all`-class spread of a variant over the first measured phase (`steady`).
fn headline_spread<'a>(r: &'a Results, variant: &str) -> Option<&'a Spread> {
    let phase = r.phases.iter().find(|p| p.measured)?;
    r.spread
        .iter()
        .find(|s| s.variant == variant && s.phase == phase.name && s.class == "all")
}

/// Successful operations of one variant and op (`None`: all ops) over the measured phases of
/// every non-failed trial, histograms added.
fn merged(r: &Results, variant: &str, op: Option<crate::backend::Op>) -> Histogram<u64> {
    let mut h = histogram();
    for t in r.trials_of(variant) {
        for g in &t.groups {
            let measured = r.phases.iter().any(|p| p.measured && p.name == g.phase);
            if measured
                && g.outcome == "ok"
                && op.is_none_or(|o| o == g.op)
                && let Ok(x) = res::decode(&g.response_histogram)
            {
                h.add(&x).expect("auto-resizing histograms add");
            }
        }
    }
    h
}

/// Renders the report of one run's results.
///
/// # Errors
/// A chart or the template failed to render.
pub fn render(r: &Results) -> Result<Rendered> {
    let baseline = r.variants.first().map(|v| v.id.clone()).unwrap_or_default();
    let base_p99 = headline_spread(r, &baseline).map(|s| s.merged.p99_us);

    let mut rows = Vec::new();
    let mut headline = Vec::new();
    for (i, v) in r.variants.iter().enumerate() {
        let Some(s) = headline_spread(r, &v.id) else {
            continue;
        };
        let errors: u64 = r
            .trials
            .iter()
            .filter(|t| t.variant == v.id)
            .flat_map(|t| &t.groups)
            .filter(|g| g.outcome == "error")
            .map(|g| g.response.count)
            .sum();
        let ratio = match base_p99 {
            Some(b) if b > 0 => s.merged.p99_us as f64 / b as f64,
            _ => 1.0,
        };
        let tput: f64 = if s.throughput.is_empty() {
            0.0
        } else {
            s.throughput.iter().sum::<f64>() / s.throughput.len() as f64
        };
        if v.id != baseline
            && let Some(b) = base_p99
        {
            let base_tput = headline_spread(r, &baseline)
                .map(|b| b.throughput.iter().sum::<f64>() / b.throughput.len().max(1) as f64)
                .unwrap_or(0.0);
            headline.push(format!(
                "{}: p99 {} ms against {} ms for {} ({:.2}×), {:.0} against {:.0} successful operations/s ({:.2}×).",
                v.id,
                ms(s.merged.p99_us),
                ms(b),
                baseline,
                ratio,
                tput,
                base_tput,
                if base_tput > 0.0 { tput / base_tput } else { 0.0 }
            ));
        }
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
            errors,
        });
    }
    // Documents examined by list_recent for the median tenant, per variant.
    let examined: Vec<String> = r
        .variants
        .iter()
        .filter_map(|v| {
            let t = r.trials.iter().find(|t| t.variant == v.id)?;
            let e = t
                .evidence
                .explain
                .iter()
                .filter(|e| e.op == crate::backend::Op::ListRecent)
                .nth(1)?;
            Some(format!(
                "{} {} ({})",
                v.id,
                e.docs_examined,
                e.stages.join(" > ")
            ))
        })
        .collect();
    if !examined.is_empty() {
        headline.push(format!(
            "Documents examined by one list_recent call of a median-size tenant: {}.",
            examined.join("; ")
        ));
    }

    let mut caveats = Vec::new();
    for s in &r.environment.servers {
        if let Some(v) = &s.surrogate {
            caveats.push(format!(
                "The {} server is the SecantusDB surrogate {v}, not mongod: its latencies are surrogate latencies, and its explain output may claim bounded work where latency grows with the tenant.",
                s.role
            ));
        }
    }

    // Charts: all operations, then each operation, one line per variant.
    let mut chart_files = Vec::new();
    let all: Vec<(usize, String, Histogram<u64>)> = r
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| (i, v.id.clone(), merged(r, &v.id, None)))
        .filter(|(_, _, h)| !h.is_empty())
        .collect();
    let refs: Vec<(usize, String, &Histogram<u64>)> =
        all.iter().map(|(i, l, h)| (*i, l.clone(), h)).collect();
    chart_files.push((
        "histogram-all.svg".to_string(),
        charts::log_histogram("Response-time histogram, all operations", &refs)
            .map_err(anyhow::Error::msg)?,
    ));
    chart_files.push((
        "percentiles-all.svg".to_string(),
        charts::percentile_chart("Response time by percentile, all operations", &refs)
            .map_err(anyhow::Error::msg)?,
    ));
    let mut ops: Vec<crate::backend::Op> = r
        .trials
        .iter()
        .flat_map(|t| t.groups.iter().map(|g| g.op))
        .collect();
    ops.sort();
    ops.dedup();
    for op in ops {
        let hs: Vec<(usize, String, Histogram<u64>)> = r
            .variants
            .iter()
            .enumerate()
            .map(|(i, v)| (i, v.id.clone(), merged(r, &v.id, Some(op))))
            .filter(|(_, _, h)| !h.is_empty())
            .collect();
        let refs: Vec<(usize, String, &Histogram<u64>)> =
            hs.iter().map(|(i, l, h)| (*i, l.clone(), h)).collect();
        if refs.is_empty() {
            continue;
        }
        chart_files.push((
            format!("percentiles-{}.svg", op.name()),
            charts::percentile_chart(
                &format!("Response time by percentile, {}", op.name()),
                &refs,
            )
            .map_err(anyhow::Error::msg)?,
        ));
    }
    // p99 by class and variant.
    if let Some(phase) = r.phases.iter().find(|p| p.measured) {
        let series: Vec<(usize, String, Vec<Option<f64>>)> = r
            .variants
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let vals = r
                    .classes
                    .iter()
                    .map(|c| {
                        r.spread
                            .iter()
                            .find(|s| s.variant == v.id && s.phase == phase.name && &s.class == c)
                            .map(|s| s.merged.p99_us as f64 / 1000.0)
                    })
                    .collect();
                (i, v.id.clone(), vals)
            })
            .collect();
        chart_files.push((
            "p99-by-class.svg".into(),
            charts::class_bars(
                &format!("p99 by tenant class, phase {}", phase.name),
                &r.classes,
                &series,
            )
            .map_err(anyhow::Error::msg)?,
        ));
    }

    // Timelines: the first trial of each variant that ran.
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
        let mut per_sec: std::collections::BTreeMap<u64, u64> = Default::default();
        for s in &t.timeline {
            *per_sec.entry(s.t).or_default() += s.response.count;
        }
        let tput: Vec<(f64, f64)> = per_sec
            .into_iter()
            .map(|(t, n)| (t as f64 + 0.5, n as f64))
            .collect();
        if classes.is_empty() {
            continue;
        }
        chart_files.push((
            format!("timeline-{}.svg", v.id),
            charts::timeline(
                &format!("p99 per class per second, {} trial {}", v.id, t.trial),
                &classes,
                &shaded,
                &tput,
            )
            .map_err(anyhow::Error::msg)?,
        ));
    }

    // Scaling: the sampled tenants' p50 against their size, fitted on log-log axes.
    let mut scaling_rows = Vec::new();
    let mut scaling_series = Vec::new();
    for (i, v) in r.variants.iter().enumerate() {
        let mut by_tenant: std::collections::BTreeMap<&str, (u64, Histogram<u64>)> =
            Default::default();
        for t in r.trials_of(&v.id) {
            for ts in &t.tenants {
                let e = by_tenant
                    .entry(ts.tenant.as_str())
                    .or_insert_with(|| (ts.documents, histogram()));
                if let Ok(x) = res::decode(&ts.histogram) {
                    e.1.add(&x).expect("auto-resizing histograms add");
                }
            }
        }
        let pts: Vec<(f64, f64)> = by_tenant
            .values()
            .filter(|(_, h)| !h.is_empty())
            .map(|(d, h)| (*d as f64, h.value_at_quantile(0.5).max(1) as f64 / 1000.0))
            .collect();
        if pts.is_empty() {
            continue;
        }
        let fit = charts::loglog_fit(&pts);
        scaling_rows.push(ScalingRow {
            variant: v.id.clone(),
            tenants: pts.len(),
            slope: fit.map_or("-".into(), |f| format!("{:.2}", f.0)),
            growth: match fit {
                None => "too few tenants to fit".into(),
                Some((s, _)) if s < 0.2 => {
                    "flat across tenant sizes (bounded by the query, or by the whole collection)"
                        .into()
                }
                Some((s, _)) if s <= 0.5 => "grows weakly with the tenant".into(),
                Some(_) => "grows with the tenant".into(),
            },
        });
        scaling_series.push((i, v.id.clone(), pts, fit));
    }
    if !scaling_series.is_empty() {
        chart_files.push((
            "scaling.svg".into(),
            charts::scaling(
                "Sampled tenants: p50 against tenant size, measured phases",
                &scaling_series,
            )
            .map_err(anyhow::Error::msg)?,
        ));
    }

    // Each measured phase against steady, per class: the noisy-neighbour ratio.
    let mut phase_rows = Vec::new();
    for v in &r.variants {
        for ph in r.phases.iter().filter(|p| p.measured && p.name != "steady") {
            for class in std::iter::once("all".to_string()).chain(r.classes.iter().cloned()) {
                let find = |phase: &str| {
                    r.spread
                        .iter()
                        .find(|s| s.variant == v.id && s.phase == phase && s.class == class)
                        .map(|s| s.merged.p99_us)
                };
                if let (Some(base), Some(x)) = (find("steady"), find(&ph.name)) {
                    phase_rows.push(PhaseRow {
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

    let mut explain = Vec::new();
    let mut resources = Vec::new();
    for v in &r.variants {
        let Some(t) = r.trials_of(&v.id).next() else {
            continue;
        };
        for e in &t.evidence.explain {
            explain.push(ExplainRow {
                variant: v.id.clone(),
                op: e.op.name().into(),
                tenant: format!("{} ({})", e.tenant, e.class),
                plan: e.stages.join(" > "),
                keys: e.keys_examined,
                docs: e.docs_examined,
                collection: e.collection_documents,
                returned: e.returned,
            });
        }
        let ev = &t.evidence;
        let max_conn = ev.connections.iter().map(|c| c.current).max().unwrap_or(0);
        let max_trial = ev.connections.iter().map(|c| c.trial).max().unwrap_or(0);
        let busy = ev.cpu.wall_s > 0.0 && ev.cpu.harness_s / ev.cpu.wall_s > 0.8;
        resources.push(ResourceRow {
            variant: v.id.clone(),
            checkout_p99: ms(ev.checkout.wait.p99_us),
            connections: format!("{max_conn}, {max_trial}"),
            databases: ev.data.databases,
            collections: ev.data.collections,
            indexes: ev.data.indexes,
            storage: format!("{:.1} MiB", ev.data.storage_bytes as f64 / 1048576.0),
            harness_cpu: format!(
                "{:.2} s / {:.1} s{}",
                ev.cpu.harness_s,
                ev.cpu.wall_s,
                if busy {
                    " — the harness used most of a core"
                } else {
                    ""
                }
            ),
            server_cpu: ev.cpu.server_s.map_or("-".into(), |s| format!("{s:.2} s")),
        });
    }
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
                "{} server: MongoDB {}",
                s.role,
                s.version.as_deref().unwrap_or("?")
            ),
        })
        .collect();

    let charts_ctx: Vec<ChartRef> = chart_files
        .iter()
        .map(|(f, s)| ChartRef {
            file: f.clone(),
            svg: strip_xml_header(s),
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
            headline => &headline,
            caveats => &caveats,
            baseline => &baseline,
            variants => &rows,
            charts => &charts_ctx,
            phase_rows => &phase_rows,
            scaling => &scaling_rows,
            explain => &explain,
            resources => &resources,
            servers => &servers,
            env => &r.environment,
            started_at => &r.started_at,
        })
        .context("rendering the report")?;

    let mut md = format!("## tenantbench · {}\n\n", r.scenario.name);
    if let Some(q) = &r.scenario.question {
        md.push_str(&format!("{q}\n\n"));
    }
    for l in &headline {
        md.push_str(&format!("- {l}\n"));
    }
    md.push_str("\n| variant | trials | ok ops/s per trial | p50 ms | p99 ms | p99.9 ms | p99 vs baseline | errors |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for v in &rows {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            v.id, v.trials, v.throughput, v.p50, v.p99, v.p999, v.ratio, v.errors
        ));
    }
    for c in &caveats {
        md.push_str(&format!("\n> {c}\n"));
    }
    Ok(Rendered {
        html,
        markdown: md,
        charts: chart_files,
    })
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
    let out = render(r)?;
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
