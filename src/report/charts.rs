//! Charts as SVG strings, drawn with plotters: every plotters call of the crate lives here.
//! One colour per variant across all charts (by the variant's index in the results).

use hdrhistogram::Histogram;
use plotters::prelude::*;

/// The colour of variant `i`.
pub fn colour(i: usize) -> RGBColor {
    const P: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(255, 127, 14),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(23, 190, 207),
    ];
    P[i % P.len()]
}

/// The colour of variant `i` as CSS.
pub fn css_colour(i: usize) -> String {
    let c = colour(i);
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// Draws a chart's legend (series labels) at `pos`, on a translucent white box.
fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    pos: SeriesLabelPosition,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(pos)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())
}

/// Draws one labelled line per (colour, label, points), each with its legend entry.
fn lines<'a, DB: DrawingBackend + 'a, CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'a, DB, CT>,
    series: impl Iterator<Item = (RGBColor, String, Vec<(f64, f64)>)>,
) -> Result<(), String> {
    for (c, label, pts) in series {
        chart
            .draw_series(LineSeries::new(pts, c.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
    }
    Ok(())
}

/// "Nines" of a quantile: 0 at the median's 0%, 1 at 90%, 2 at 99%, 3 at 99.9%.
fn nines(q: f64) -> f64 {
    -(1.0 - q).max(1e-7).log10()
}

/// A percentile-distribution chart (HdrHistogram style): latency in ms on a log axis against
/// percentile on a "nines" axis, one line per (variant index, label, histogram).
///
/// # Errors
/// Plotters' drawing error, as text.
pub fn percentile_chart(
    title: &str,
    series: &[(usize, String, &Histogram<u64>)],
) -> Result<String, String> {
    let mut svg = String::new();
    let points: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|(_, _, h)| {
            h.iter_quantiles(2)
                .map(|v| {
                    (
                        nines(v.quantile_iterated_to()),
                        v.value_iterated_to().max(1) as f64 / 1000.0,
                    )
                })
                .filter(|(x, _)| x.is_finite())
                .collect()
        })
        .collect();
    // Beyond log10(count) nines a histogram has nothing left to say.
    let most = series
        .iter()
        .map(|(_, _, h)| h.len())
        .max()
        .unwrap_or(1)
        .max(10);
    let max_x = (most as f64).log10().floor().clamp(2.0, 6.0);
    let points: Vec<Vec<(f64, f64)>> = points
        .into_iter()
        .map(|p| p.into_iter().map(|(x, y)| (x.min(max_x), y)).collect())
        .collect();
    let (lo, hi) = points
        .iter()
        .flatten()
        .fold((f64::MAX, 0.0f64), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
    let (lo, hi) = if hi > 0.0 {
        (lo.max(0.001) / 1.5, hi * 1.5)
    } else {
        (0.001, 1.0)
    };
    {
        let root = SVGBackend::with_string(&mut svg, (720, 400)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..max_x, (lo..hi).log_scale())
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("percentile")
            .y_desc("response time, ms (log)")
            .x_labels(max_x as usize + 1)
            .x_label_formatter(&|x| {
                let q = 100.0 * (1.0 - 10f64.powf(-x));
                if q < 0.5 {
                    "0%".into()
                } else {
                    format!("{}%", trim(q))
                }
            })
            .y_label_formatter(&|y| trim(*y))
            .draw()
            .map_err(|e| e.to_string())?;
        lines(
            &mut chart,
            series
                .iter()
                .zip(points)
                .map(|((i, label, _), pts)| (colour(*i), label.clone(), pts)),
        )?;
        legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// Grouped bars: one group per category (class), one bar per series (variant), values in ms
/// on a log axis.
///
/// # Errors
/// Plotters' drawing error, as text.
pub fn class_bars(
    title: &str,
    categories: &[String],
    series: &[(usize, String, Vec<Option<f64>>)],
) -> Result<String, String> {
    let mut svg = String::new();
    let vals: Vec<f64> = series
        .iter()
        .flat_map(|s| s.2.iter().flatten().copied())
        .collect();
    let hi = vals.iter().copied().fold(0.0f64, f64::max).max(0.01) * 2.0;
    let lo = vals
        .iter()
        .copied()
        .fold(f64::MAX, f64::min)
        .clamp(0.001, hi)
        / 2.0;
    let n = series.len().max(1) as f64;
    {
        let root = SVGBackend::with_string(&mut svg, (720, 360)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..categories.len() as f64, (lo..hi).log_scale())
            .map_err(|e| e.to_string())?;
        let cats = categories.to_vec();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(categories.len() * 2 + 1)
            .x_label_formatter(&move |x| {
                let i = x.floor() as usize;
                if (x - x.floor() - 0.5).abs() < 0.01 {
                    cats.get(i).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc("ms (log)")
            .y_label_formatter(&|y| trim(*y))
            .draw()
            .map_err(|e| e.to_string())?;
        for (si, (i, label, values)) in series.iter().enumerate() {
            let c = colour(*i);
            let bars = values.iter().enumerate().filter_map(|(ci, v)| {
                let v = (*v)?;
                let x0 = ci as f64 + 0.1 + 0.8 * si as f64 / n;
                let x1 = x0 + 0.8 / n;
                Some(Rectangle::new([(x0, lo), (x1, v.max(lo))], c.filled()))
            });
            chart
                .draw_series(bars)
                .map_err(|e| e.to_string())?
                .label(label.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// A number with at most three significant decimals and no trailing zeros.
fn trim(x: f64) -> String {
    let s = if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// The noisy-neighbour chart of one trial: p99 per class per second (log axis) with the
/// measured phases other than `steady` shaded, and throughput per second beneath.
///
/// `classes` pairs each class name with its (second, p99 ms) points; `phases` are (name,
/// start s, end s) windows to shade; `throughput` is (second, successful operations).
///
/// # Errors
/// Plotters' drawing error, as text.
pub fn timeline(
    title: &str,
    classes: &[(String, Vec<(f64, f64)>)],
    phases: &[(String, f64, f64)],
    throughput: &[(f64, f64)],
) -> Result<String, String> {
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
    let top = throughput.iter().map(|p| p.1).fold(1.0f64, f64::max) * 1.1;
    {
        let root = SVGBackend::with_string(&mut svg, (720, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (upper, lower) = root.split_vertically(330);
        let mut chart = ChartBuilder::on(&upper)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(20)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..end, (lo..hi).log_scale())
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .y_desc("p99 response time, ms (log)")
            .y_label_formatter(&|y| trim(*y))
            .x_label_formatter(&|x| format!("{x:.0} s"))
            .draw()
            .map_err(|e| e.to_string())?;
        for (name, a, b) in phases {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(*a, lo), (*b, hi)],
                    RGBColor(255, 200, 120).mix(0.3).filled(),
                )))
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(std::iter::once(Text::new(
                    name.clone(),
                    (*a, hi / 1.3),
                    ("sans-serif", 13),
                )))
                .map_err(|e| e.to_string())?;
        }
        lines(
            &mut chart,
            classes
                .iter()
                .enumerate()
                .map(|(i, (name, pts))| (colour(i), name.clone(), pts.clone())),
        )?;
        legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        let mut tp = ChartBuilder::on(&lower)
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..end, 0f64..top)
            .map_err(|e| e.to_string())?;
        tp.configure_mesh()
            .x_desc("seconds since the trial's start (by intended start)")
            .y_desc("ok ops/s")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()
            .map_err(|e| e.to_string())?;
        tp.draw_series(LineSeries::new(
            throughput.iter().copied(),
            BLACK.stroke_width(1),
        ))
        .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// One variant's points on the scaling chart: variant index, label, (documents, ms) per
/// sampled tenant, and the fitted (slope, intercept) of ln ms on ln documents.
pub type ScalingSeries = (usize, String, Vec<(f64, f64)>, Option<(f64, f64)>);

/// Per-tenant latency against tenant size, both on log axes: one point per sampled tenant and
/// variant, and each variant's fitted line. `series` is (variant index, label, points
/// (documents, ms), fitted (slope, intercept) of ln ms on ln documents).
///
/// # Errors
/// Plotters' drawing error, as text.
pub fn scaling(title: &str, series: &[ScalingSeries]) -> Result<String, String> {
    let mut svg = String::new();
    let pts: Vec<(f64, f64)> = series.iter().flat_map(|s| s.2.iter().copied()).collect();
    let (x0, x1) = pts
        .iter()
        .fold((f64::MAX, 1.0f64), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (y0, y1) = pts
        .iter()
        .fold((f64::MAX, 0.01f64), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let (x0, x1) = (x0.clamp(1.0, x1) / 1.5, x1 * 1.5);
    let (y0, y1) = (y0.clamp(0.001, y1) / 1.5, y1 * 1.5);
    {
        let root = SVGBackend::with_string(&mut svg, (720, 400)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("tenant documents (log)")
            .y_desc("p50 response time, ms (log)")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| trim(*y))
            .draw()
            .map_err(|e| e.to_string())?;
        for (i, label, points, fit) in series {
            let c = colour(*i);
            chart
                .draw_series(points.iter().map(|p| Circle::new(*p, 3, c.filled())))
                .map_err(|e| e.to_string())?
                .label(label.clone())
                .legend(move |(x, y)| Circle::new((x + 6, y), 3, c.filled()));
            if let Some((slope, icpt)) = fit {
                let f = |x: f64| (icpt + slope * x.ln()).exp();
                chart
                    .draw_series(LineSeries::new(
                        [(x0, f(x0)), (x1, f(x1))]
                            .into_iter()
                            .filter(|p| p.1 > y0 && p.1 < y1),
                        c.stroke_width(1),
                    ))
                    .map_err(|e| e.to_string())?;
            }
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// Latency histograms on logarithmic buckets (each twice the last, from 100 µs): the share of
/// operations per bucket, one line per (variant index, label, histogram).
///
/// # Errors
/// Plotters' drawing error, as text.
pub fn log_histogram(
    title: &str,
    series: &[(usize, String, &Histogram<u64>)],
) -> Result<String, String> {
    let mut svg = String::new();
    let points: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|(_, _, h)| {
            let n = h.len().max(1) as f64;
            h.iter_log(100, 2.0)
                .map(|v| {
                    (
                        v.value_iterated_to().max(1) as f64 / 1000.0,
                        100.0 * v.count_since_last_iteration() as f64 / n,
                    )
                })
                .collect()
        })
        .collect();
    let all = points.iter().flatten();
    let x1 = all.clone().map(|p| p.0).fold(1.0f64, f64::max) * 1.5;
    let y1 = all.map(|p| p.1).fold(1.0f64, f64::max) * 1.1;
    {
        let root = SVGBackend::with_string(&mut svg, (720, 360)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((0.05f64..x1).log_scale(), 0f64..y1)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("response time, ms (log; buckets double)")
            .y_desc("% of operations")
            .x_label_formatter(&|x| trim(*x))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()
            .map_err(|e| e.to_string())?;
        lines(
            &mut chart,
            series
                .iter()
                .zip(points)
                .map(|((i, label, _), pts)| (colour(*i), label.clone(), pts)),
        )?;
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// Least-squares fit of ln y on ln x: (slope, intercept); `None` with fewer than 3 points or
/// no spread in x.
pub fn loglog_fit(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let p: Vec<(f64, f64)> = points
        .iter()
        .filter(|(x, y)| *x > 0.0 && *y > 0.0)
        .map(|(x, y)| (x.ln(), y.ln()))
        .collect();
    if p.len() < 3 {
        return None;
    }
    let n = p.len() as f64;
    let mx = p.iter().map(|q| q.0).sum::<f64>() / n;
    let my = p.iter().map(|q| q.1).sum::<f64>() / n;
    let sxx: f64 = p.iter().map(|q| (q.0 - mx).powi(2)).sum();
    if sxx < 1e-12 {
        return None;
    }
    let sxy: f64 = p.iter().map(|q| (q.0 - mx) * (q.1 - my)).sum();
    let slope = sxy / sxx;
    Some((slope, my - slope * mx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loglog_fit_recovers_a_power_law() {
        let pts: Vec<(f64, f64)> = [10.0, 100.0, 1000.0, 10000.0]
            .iter()
            .map(|&x| (x, 0.5 * f64::powf(x, 0.8)))
            .collect();
        let (slope, icpt) = loglog_fit(&pts).expect("fits");
        assert!((slope - 0.8).abs() < 1e-9 && (icpt - 0.5f64.ln()).abs() < 1e-9);
        assert_eq!(loglog_fit(&pts[..2]), None);
        assert_eq!(loglog_fit(&[(5.0, 1.0), (5.0, 2.0), (5.0, 3.0)]), None);
    }
}
