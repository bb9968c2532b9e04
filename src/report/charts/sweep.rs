//! The sweep chart: throughput and p99 against a numeric knob of the matrix, one line per
//! combination of the other settings; each p99 point labelled with the operations it rests on.

use plotters::prelude::*;

use super::{
    CAPTION_PX, ChartError, LEGEND_PX, LIGHT_LINES, Line, RIGHT_MARGIN, WIDTH, axis_text, colour,
    compact, legend, lines, log_tick, trim, with_decade,
};
use crate::report::analysis::SweepLine;
use crate::report::analysis::samples::{self, MARK, P99};

/// A sweep: successful operations/s (top) and p99 ms on a log axis (bottom) against a numeric
/// knob, one line per sweep line. The knob axis is logarithmic when its values span a factor of
/// 8 or more.
///
/// # Errors
/// Plotters' drawing error, as text.
pub fn sweep(title: &str, knob: &str, series: &[SweepLine]) -> Result<String, ChartError> {
    let mut svg = String::new();
    let all = series.iter().flat_map(|s| s.points.iter());
    let (x0, x1) = all
        .clone()
        .fold((f64::MAX, 0.0f64), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let x0 = x0.min(x1);
    let top = all.clone().map(|p| p.1).fold(1.0f64, f64::max) * 1.15;
    let (p_lo, p_hi) = all
        .map(|p| p.2)
        .fold((f64::MAX, 0.01f64), |(a, b), y| (a.min(y), b.max(y)));
    let (p_lo, p_hi) = with_decade(p_lo.clamp(0.001, p_hi) / 1.5, p_hi * 1.5);
    let log_x = x0 > 0.0 && x1 / x0 >= 8.0;
    let line = |i: usize, label: &str, pts: Vec<(f64, f64)>| Line {
        colour: colour(i),
        label: label.to_string(),
        points: pts,
        dashed: false,
    };
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 680)).into_drawing_area();
        root.fill(&WHITE)?;
        let (upper, lower) = root.split_vertically(340);
        let tput = |s: &SweepLine| s.points.iter().map(|p| (p.0, p.1)).collect();
        let p99 = |s: &SweepLine| s.points.iter().map(|p| (p.0, p.2)).collect();
        // The same drawing on a linear or a logarithmic knob axis.
        macro_rules! panels {
            ($xr:expr) => {{
                let mut a = ChartBuilder::on(&upper)
                    .caption(title, ("sans-serif", CAPTION_PX))
                    .margin(12)
                    .margin_right(RIGHT_MARGIN)
                    .x_label_area_size(30)
                    .y_label_area_size(80)
                    .build_cartesian_2d($xr, 0f64..top)?;
                a.configure_mesh()
                    .label_style(axis_text())
                    .max_light_lines(LIGHT_LINES)
                    .axis_desc_style(axis_text())
                    .y_desc("ok ops/s")
                    .x_label_formatter(&|x| trim(*x))
                    .y_label_formatter(&|y| format!("{y:.0}"))
                    .draw()?;
                lines(
                    &mut a,
                    series
                        .iter()
                        .enumerate()
                        .map(|(i, s)| line(i, &s.label, tput(s))),
                )?;
                legend(&mut a, SeriesLabelPosition::UpperLeft)?;
                let mut b = ChartBuilder::on(&lower)
                    .margin(12)
                    .margin_right(RIGHT_MARGIN)
                    .x_label_area_size(52)
                    .y_label_area_size(80)
                    .build_cartesian_2d($xr, (p_lo..p_hi).log_scale())?;
                b.configure_mesh()
                    .label_style(axis_text())
                    .max_light_lines(LIGHT_LINES)
                    .axis_desc_style(axis_text())
                    .x_desc(knob)
                    .y_desc("p99 response time, ms (log)")
                    .x_label_formatter(&|x| trim(*x))
                    .y_label_formatter(&|y| log_tick(*y, trim))
                    .draw()?;
                lines(
                    &mut b,
                    series
                        .iter()
                        .enumerate()
                        .map(|(i, s)| line(i, &s.label, p99(s))),
                )?;
                p99_points(&mut b, series)?;
            }};
        }
        if log_x {
            panels!((x0 / 1.3..x1 * 1.3).log_scale());
        } else {
            let pad = ((x1 - x0) * 0.05).max(0.5);
            panels!((x0 - pad)..(x1 + pad));
        }
        root.present()?;
    }
    Ok(svg)
}

/// Each p99 point of the sweep's lower panel: filled when it rests on enough operations, hollow
/// and marked when not, labelled with its operations.
fn p99_points<'a, DB: DrawingBackend + 'a, CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'a, DB, CT>,
    series: &[SweepLine],
) -> Result<(), ChartError> {
    for (i, s) in series.iter().enumerate() {
        let c = colour(i);
        chart.draw_series(s.points.iter().map(|p| {
            let enough = samples::enough(P99, p.3);
            let style = if enough {
                c.filled()
            } else {
                c.stroke_width(2)
            };
            Circle::new((p.0, p.2), if enough { 4 } else { 5 }, style)
        }))?;
        chart.draw_series(s.points.iter().map(|p| {
            let mark = if samples::enough(P99, p.3) { "" } else { MARK };
            Text::new(
                format!("{}{mark}", compact(p.3)),
                (p.0, p.2 * 1.12),
                ("sans-serif", LEGEND_PX).into_font().color(&c),
            )
        }))?;
    }
    Ok(())
}
