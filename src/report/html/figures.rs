//! The report's charts, drawn from results and grouped by the section that shows them: latency
//! distributions, tenant classes, timelines, sweeps, tenant size and run comparisons. Each
//! percentile comes with the operations it rests on (in legends, above bars, beside points).
//! The drawing itself is [`crate::report::charts`]'s.

use std::collections::BTreeMap;

use anyhow::Result;
use hdrhistogram::Histogram;
use serde::Serialize;

use super::Run;
use crate::metrics::results::{Results, Spread};
use crate::op::Op;
use crate::report::analysis::samples::{P50, P99};
use crate::report::analysis::{self as an, Growth};
use crate::report::charts::{self, Bar, Curve};
use crate::report::names::Names;

/// A chart as the page inlines it.
#[derive(Serialize, Clone)]
pub(super) struct ChartRef {
    file: String,
    svg: String,
}

/// Charts, grouped by the report section that shows them.
#[derive(Default)]
pub(super) struct Charts {
    /// Each chart as its own file: (file name, SVG), in the order drawn.
    pub(super) files: Vec<(String, String)>,
    /// The charts of each section (`distribution`, `classes`, …), for the page.
    pub(super) sections: BTreeMap<&'static str, Vec<ChartRef>>,
}

impl Charts {
    fn add(
        &mut self,
        section: &'static str,
        file: String,
        svg: Result<String, charts::ChartError>,
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

/// Every chart of the report of the last of `runs` (compared with the first when there are
/// two or more), in the order the files are written.
pub(super) fn draw(runs: &[Run], n: &Names, growth: &[Growth]) -> Result<Charts> {
    let r = runs.last().expect("runs").results;
    let mut charts = Charts::default();
    distribution_charts(r, n, &mut charts)?;
    class_charts(r, n, &mut charts)?;
    timeline_charts(r, n, &mut charts)?;
    sweep_charts(r, &mut charts)?;
    scaling_charts(r, n, growth, &mut charts)?;
    memory_chart(r, n, &mut charts)?;
    if runs.len() >= 2 {
        compare_charts(runs, n, &mut charts)?;
    }
    Ok(charts)
}

/// The harness's resident memory through every trial with 10 seconds or more of samples.
fn memory_chart(r: &Results, n: &Names, charts: &mut Charts) -> Result<()> {
    const MIB: f64 = 1024.0 * 1024.0;
    let series: Vec<charts::MemorySeries> = r
        .variants
        .iter()
        .enumerate()
        .flat_map(|(i, v)| {
            r.trials_of(&v.id).filter_map(move |t| {
                let m = t.evidence.memory.as_ref()?;
                (m.rss.len() >= 10).then(|| {
                    let pts = m.rss.iter().map(|s| (s.t as f64, s.bytes as f64 / MIB));
                    (i, n.get(&v.id).to_string(), pts.collect())
                })
            })
        })
        .collect();
    if !series.is_empty() {
        charts.add(
            "memory",
            "memory.svg".into(),
            charts::memory("Harness resident memory, each trial", &series),
        )?;
    }
    Ok(())
}

/// A curve's legend label: the variant's name and the operations behind its curve.
fn with_ops(label: &str, h: &Histogram<u64>) -> String {
    format!("{label} ({} ops)", an::count(h.len()))
}

/// Histogram and percentile curves, all operations then each operation, one line per variant.
fn distribution_charts(r: &Results, n: &Names, charts: &mut Charts) -> Result<()> {
    let curves_of = |op: Option<Op>| -> Vec<(usize, String, Histogram<u64>)> {
        r.variants
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let h = an::merged(r, &v.id, |g| op.is_none_or(|o| o == g.op));
                (i, with_ops(n.get(&v.id), &h), h)
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
fn class_charts(r: &Results, n: &Names, charts: &mut Charts) -> Result<()> {
    let Some(phase) = an::headline_phase(r) else {
        return Ok(());
    };
    type Pick = fn(&Spread) -> (u64, &[u64]);
    let picks: [(&str, f64, Pick); 2] = [
        ("p50", P50, |s| (s.merged.p50_us, &s.p50_us)),
        ("p99", P99, |s| (s.merged.p99_us, &s.p99_us)),
    ];
    for (name, q, pick) in picks {
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
                        Some(Bar::of(
                            q,
                            f(merged),
                            f(trials.iter().copied().min().unwrap_or(merged)),
                            f(trials.iter().copied().max().unwrap_or(merged)),
                            s.merged.count,
                        ))
                    })
                    .collect();
                (i, n.get(&v.id).to_string(), bars)
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
fn timeline_charts(r: &Results, n: &Names, charts: &mut Charts) -> Result<()> {
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
        let classes: Vec<charts::ClassSeries> = r
            .classes
            .iter()
            .map(|c| {
                let pts: Vec<(f64, f64, u64)> = t
                    .timeline
                    .iter()
                    .filter(|s| &s.class == c && s.response.count > 0)
                    .map(|s| {
                        (
                            s.t as f64 + 0.5,
                            s.response.p99_us as f64 / 1000.0,
                            s.response.count,
                        )
                    })
                    .collect();
                (c.clone(), pts)
            })
            .filter(|(_, p)| !p.is_empty())
            .collect();
        if classes.is_empty() {
            continue;
        }
        let mut per_sec: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
        for s in &t.timeline {
            let e = per_sec.entry(s.t).or_default();
            e.0 += s.response.count;
            e.1 += s.errors;
        }
        let tput: Vec<(f64, f64)> = per_sec
            .iter()
            .map(|(t, n)| (*t as f64 + 0.5, n.0 as f64))
            .collect();
        let errors: Vec<(f64, f64)> = per_sec
            .iter()
            .map(|(t, n)| (*t as f64 + 0.5, n.1 as f64))
            .collect();
        let faults: Vec<(String, f64, f64)> = t
            .evidence
            .faults
            .iter()
            .filter_map(|f| Some((f.kind.clone(), f.began_s?, f.ended_s?)))
            .collect();
        charts.add(
            "timelines",
            format!("timeline-{}.svg", v.id),
            charts::timeline(
                &format!(
                    "p99 per class per second, {} trial {}",
                    n.get(&v.id),
                    t.trial
                ),
                &classes,
                &shaded,
                &faults,
                &tput,
                &errors,
            ),
        )?;
    }
    Ok(())
}

/// Throughput and p99 against each numeric knob that varies.
fn sweep_charts(r: &Results, charts: &mut Charts) -> Result<()> {
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
    Ok(())
}

/// Per operation, the sampled tenants' p50 against their size with each variant's fit.
fn scaling_charts(r: &Results, n: &Names, growth: &[Growth], charts: &mut Charts) -> Result<()> {
    for op in an::ops_of(r) {
        let series: Vec<charts::ScalingSeries> = growth
            .iter()
            .filter(|g| g.op == op && g.points.len() >= 2)
            .map(|g| {
                (
                    g.index,
                    n.get(&g.variant).to_string(),
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
    Ok(())
}

/// Per operation, each variant's percentile curve in the baseline run (dashed) and in every
/// later run (solid), same colour per variant.
fn compare_charts(runs: &[Run], n: &Names, charts: &mut Charts) -> Result<()> {
    let cur = runs.last().expect("runs").results;
    let mut ops: Vec<Option<Op>> = vec![None];
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
                    let label = with_ops(&format!("{} · {}", n.get(&v.id), run.name), &h);
                    hs.push((i, label, h, ri == 0));
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
