//! The report's chart of the harness's resident memory through each trial.

use plotters::prelude::*;

use super::{CAPTION_PX, ChartError, LIGHT_LINES, RIGHT_MARGIN, WIDTH, axis_text, colour, legend};

/// One trial's line on the memory chart: variant index, label, (seconds, MiB) points.
pub type MemorySeries = (usize, String, Vec<(f64, f64)>);

/// The harness's resident memory through each trial: one line per trial (its variant's colour),
/// MiB against seconds since the trial's start.
///
/// # Errors
/// Plotters' drawing error, as text.
pub fn memory(title: &str, series: &[MemorySeries]) -> Result<String, ChartError> {
    let mut svg = String::new();
    let pts = series.iter().flat_map(|s| s.2.iter().copied());
    let (x1, y1) = pts.fold((1.0f64, 1.0f64), |(a, b), p| (a.max(p.0), b.max(p.1)));
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 360)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", CAPTION_PX))
            .margin(12)
            .margin_right(RIGHT_MARGIN)
            .x_label_area_size(52)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..x1, 0.0..y1 * 1.15)?;
        chart
            .configure_mesh()
            .label_style(axis_text())
            .max_light_lines(LIGHT_LINES)
            .axis_desc_style(axis_text())
            .x_desc("seconds since the trial's start")
            .y_desc("harness resident memory, MiB")
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()?;
        let mut labelled = std::collections::BTreeSet::new();
        for (i, label, points) in series {
            let c = colour(*i);
            let s =
                chart.draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))?;
            if labelled.insert(*i) {
                s.label(label.clone())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c));
            }
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        root.present()?;
    }
    Ok(svg)
}
