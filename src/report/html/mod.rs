//! The HTML report (`index.html`, self-contained: inline SVG and CSS, no script, no network)
//! and its Markdown summary (`summary.md`), from results only: one run, or a current run
//! compared with a baseline run. The HTML comes from the template `templates/report.html`
//! (minijinja, auto-escaped); what it says is computed in [`super::analysis`]. This module
//! puts the sections together and writes the files; each kind of section has its own child.

mod caveats;
mod evidence;
mod figures;
mod markdown;
mod tables;

use std::path::Path;

use anyhow::{Context as _, Result};

use super::analysis::samples::{self, MARK, P50, P99, P999};
use super::analysis::{self as an, Answer, Growth};
use crate::metrics::results::Results;
use crate::report::names::Names;
use evidence::ResourceRow;
use figures::Charts;
use tables::{DeltaRow, VariantRow};

const TEMPLATE: &str = include_str!("../templates/report.html");

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
    let names = Names::of(r);
    let answer = an::answer(r);
    let growth = an::growth(r);
    let resources = evidence::resources(r, &names);
    let generators = evidence::generator_rows(r, &names);
    let shown = Shown {
        variants: tables::variant_rows(r, &names, &answer.baseline),
        caveats: caveats::caveats(r, &growth, &resources),
        deltas: tables::delta_rows(runs, &names),
        answer,
        growth,
        resources,
        generators,
        names,
    };
    let charts = figures::draw(runs, &shown.names, &shown.growth)?;
    let html = page(runs, &shown, &charts)?;
    let markdown = markdown::summary(
        r,
        &shown.answer.lines,
        &shown.variants,
        (runs.len() >= 2).then(|| runs[0].name),
        &shown.deltas,
        &shown.caveats,
        &tables::leak_lines(r, &shown.names),
    )?;
    Ok(Rendered {
        html,
        markdown,
        charts: charts.files,
    })
}

/// What both the page and the summary show, computed once.
struct Shown {
    answer: Answer,
    growth: Vec<Growth>,
    variants: Vec<VariantRow>,
    resources: Vec<ResourceRow>,
    generators: Vec<evidence::GeneratorRow>,
    caveats: Vec<String>,
    deltas: Vec<DeltaRow>,
    names: Names,
}

/// Which of the page's parts show a percentile from too few operations (and so the footnote).
#[derive(serde::Serialize, Default)]
struct Few {
    headline: bool,
    variants: bool,
    deltas: bool,
    phases: bool,
    growth: bool,
    resources: bool,
    isolation: bool,
    faults: bool,
    migration: bool,
    strategy: bool,
    http: bool,
}

/// The HTML page of the last of `runs`, from the template.
fn page(runs: &[Run], shown: &Shown, charts: &Charts) -> Result<String> {
    let cur = runs.last().context("no run to report")?;
    let r = cur.results;
    let n = &shown.names;
    let migration = tables::migration_rows(r, n);
    let phase_rows = tables::phase_rows(r, n);
    let growth = tables::growth_rows(n, &shown.growth);
    let isolation = tables::isolation_rows(r, n);
    let faults = tables::fault_rows(r, n);
    let strategy = evidence::strategy_rows(r, n);
    let http = evidence::http_rows(r, n);
    let few = Few {
        headline: shown.answer.lines.iter().any(|l| l.contains(MARK)),
        variants: shown.variants.iter().any(|x| x.few),
        deltas: shown.deltas.iter().any(|x| x.few),
        phases: phase_rows.iter().any(|x| x.few),
        growth: growth.iter().any(|x| x.few),
        resources: shown.resources.iter().any(|x| x.few),
        isolation: isolation.iter().any(|x| x.few),
        faults: faults.iter().any(|x| x.few),
        migration: migration.1.iter().any(|x| x.few),
        strategy: strategy.iter().any(|x| x.few),
        http: http.iter().any(|x| x.few),
    };
    let mut env = minijinja::Environment::new();
    env.add_template("report.html", TEMPLATE)
        .context("the report template")?;
    env.get_template("report.html")
        .context("the report template")?
        .render(minijinja::context! {
            scenario => &r.scenario,
            headline => &shown.answer.lines,
            winner => shown.answer.winner.as_deref().map(|w| shown.names.get(w)),
            caveats => &shown.caveats,
            leaks => &tables::leak_lines(r, &shown.names),
            baseline => shown.names.with_id(&shown.answer.baseline),
            variants => &shown.variants,
            charts => &charts.sections,
            phase_rows => &phase_rows,
            growth => &growth,
            explain => &evidence::explain_rows(r, &shown.names),
            resources => &shown.resources,
            generators => &shown.generators,
            strategy => &strategy,
            http => &http,
            isolation => &isolation,
            faults => &faults,
            migration => &migration.0,
            migration_cost => &migration.1,
            deltas => &shown.deltas,
            compared => runs.len() >= 2,
            baseline_run => runs.first().map(|x| x.name),
            current_run => cur.name,
            servers => &tables::servers(r),
            env => &r.environment,
            started_at => &r.started_at,
            few => &few,
            footnote => samples::footnote(),
            mark => MARK,
            needed => minijinja::context! {
                p50 => an::count(samples::needed(P50)),
                p99 => an::count(samples::needed(P99)),
                p999 => an::count(samples::needed(P999)),
            },
        })
        .context("rendering the report")
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
