//! The noisy-neighbour chart of one trial: p99 per class per second, phases and faults shaded,
//! throughput and failures beneath; a second whose p99 rests on too few operations is marked.

use plotters::prelude::*;

use super::{
    CAPTION_PX, ChartError, LEGEND_PX, LIGHT_LINES, Line, RIGHT_MARGIN, WIDTH, axis_text, colour,
    compact, legend, lines, log_tick, trim, with_decade,
};
use crate::report::analysis::samples::{self, P99};

/// One class's line on the timeline: its name and (second, p99 ms, successful operations in
/// that second) points.
pub type ClassSeries = (String, Vec<(f64, f64, u64)>);

/// The legend label of a class: its name and its median operations per second, marked when
/// that is too few for a p99 per second.
fn class_label(name: &str, pts: &[(f64, f64, u64)]) -> String {
    let mut n: Vec<u64> = pts.iter().map(|p| p.2).collect();
    n.sort_unstable();
    let median = n.get(n.len() / 2).copied().unwrap_or(0);
    samples::marked(format!("{name} · {} ops/s", compact(median)), P99, median)
}

/// The noisy-neighbour chart of one trial: p99 per class per second (log axis) with the
/// measured phases other than `steady` shaded, and throughput per second beneath.
///
/// `classes` pairs each class name with its (second, p99 ms, operations) points, a point from
/// fewer operations than a p99 needs drawn hollow; `phases` are (name,
/// start s, end s) windows to shade; `faults` the same for the trial's faults (shaded red);
/// `throughput` is (second, successful operations) and `errors` (second, failed operations),
/// drawn in red beneath when any.
///
/// # Errors
/// Plotters' drawing error, as text.
pub fn timeline(
    title: &str,
    classes: &[ClassSeries],
    phases: &[(String, f64, f64)],
    faults: &[(String, f64, f64)],
    throughput: &[(f64, f64)],
    errors: &[(f64, f64)],
) -> Result<String, ChartError> {
    let mut svg = String::new();
    let end = throughput
        .iter()
        .map(|p| p.0 + 1.0)
        .chain(phases.iter().map(|p| p.2))
        .fold(1.0f64, f64::max);
    let ys: Vec<f64> = classes
        .iter()
        .flat_map(|c| c.1.iter().map(|p| p.1))
        .collect();
    let hi = ys.iter().copied().fold(0.01f64, f64::max) * 1.5;
    let lo = ys.iter().copied().fold(f64::MAX, f64::min).clamp(0.001, hi) / 1.5;
    let (lo, hi) = with_decade(lo, hi);
    let top = throughput
        .iter()
        .chain(errors)
        .map(|p| p.1)
        .fold(1.0f64, f64::max)
        * 1.1;
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 580)).into_drawing_area();
        root.fill(&WHITE)?;
        let (upper, lower) = root.split_vertically(400);
        let mut chart = ChartBuilder::on(&upper)
            .caption(title, ("sans-serif", CAPTION_PX))
            .margin(12)
            .margin_right(RIGHT_MARGIN)
            .x_label_area_size(26)
            .y_label_area_size(80)
            .build_cartesian_2d(0f64..end, (lo..hi).log_scale())?;
        chart
            .configure_mesh()
            .label_style(axis_text())
            .max_light_lines(LIGHT_LINES)
            .axis_desc_style(axis_text())
            .y_desc("p99 response time, ms (log)")
            .y_label_formatter(&|y| log_tick(*y, trim))
            .x_label_formatter(&|x| format!("{x:.0} s"))
            .draw()?;
        shade(&mut chart, phases, faults, (lo, hi), end)?;
        lines(
            &mut chart,
            classes.iter().enumerate().map(|(i, (name, pts))| Line {
                colour: colour(i),
                label: class_label(name, pts),
                points: pts.iter().map(|p| (p.0, p.1)).collect(),
                dashed: false,
            }),
        )?;
        thin_seconds(&mut chart, classes)?;
        legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        throughput_panel(&lower, end, top, throughput, errors)?;
        root.present()?;
    }
    Ok(svg)
}

/// Shades the measured phases other than `steady` (named at their start) and the faults (in
/// red; at least a sliver, a kill being an instant) over the whole height `lo..hi`.
fn shade<'a, DB: DrawingBackend + 'a, CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'a, DB, CT>,
    phases: &[(String, f64, f64)],
    faults: &[(String, f64, f64)],
    (lo, hi): (f64, f64),
    end: f64,
) -> Result<(), ChartError> {
    for (name, a, b) in phases {
        chart.draw_series(std::iter::once(Rectangle::new(
            [(*a, lo), (*b, hi)],
            RGBColor(255, 200, 120).mix(0.3).filled(),
        )))?;
        chart.draw_series(std::iter::once(Text::new(
            name.clone(),
            (*a, hi / 1.3),
            ("sans-serif", LEGEND_PX),
        )))?;
    }
    for (name, a, b) in faults {
        // At least a sliver: a kill is an instant.
        let b = b.max(a + end / 400.0);
        chart.draw_series(std::iter::once(Rectangle::new(
            [(*a, lo), (b, hi)],
            RGBColor(207, 34, 46).mix(0.25).filled(),
        )))?;
        chart.draw_series(std::iter::once(Text::new(
            name.clone(),
            (*a, hi / 2.2),
            ("sans-serif", LEGEND_PX)
                .into_font()
                .color(&RGBColor(207, 34, 46)),
        )))?;
    }
    Ok(())
}

/// Marks each second whose p99 rests on fewer operations than a p99 needs: a hollow point.
fn thin_seconds<'a, DB: DrawingBackend + 'a, CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'a, DB, CT>,
    classes: &[ClassSeries],
) -> Result<(), ChartError> {
    for (i, (_, pts)) in classes.iter().enumerate() {
        let c = colour(i);
        chart.draw_series(
            pts.iter()
                .filter(|p| !samples::enough(P99, p.2))
                .map(|p| Circle::new((p.0, p.1), 3, c.stroke_width(1))),
        )?;
    }
    Ok(())
}

/// The lower panel: successful operations per second, and failed ones in red when any.
fn throughput_panel<DB: DrawingBackend>(
    lower: &DrawingArea<DB, plotters::coord::Shift>,
    end: f64,
    top: f64,
    throughput: &[(f64, f64)],
    errors: &[(f64, f64)],
) -> Result<(), ChartError> {
    let mut tp = ChartBuilder::on(lower)
        .margin(12)
        .margin_right(RIGHT_MARGIN)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..end, 0f64..top)?;
    tp.configure_mesh()
        .label_style(axis_text())
        .max_light_lines(LIGHT_LINES)
        .axis_desc_style(axis_text())
        .x_desc("seconds since the trial's start (by intended start)")
        .y_desc("ok ops/s")
        .y_labels(4)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()?;
    tp.draw_series(LineSeries::new(
        throughput.iter().copied(),
        BLACK.stroke_width(1),
    ))?;
    if errors.iter().any(|p| p.1 > 0.0) {
        tp.draw_series(LineSeries::new(
            errors.iter().copied(),
            RGBColor(207, 34, 46).stroke_width(2),
        ))?
        .label("failed ops/s")
        .legend(|(x, y)| {
            PathElement::new(
                vec![(x, y), (x + 16, y)],
                RGBColor(207, 34, 46).stroke_width(2),
            )
        });
        tp.configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(("sans-serif", LEGEND_PX))
            .background_style(WHITE.mix(0.8))
            .draw()?;
    }
    Ok(())
}
