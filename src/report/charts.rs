//! Charts as SVG strings, drawn with plotters: every plotters call of the crate lives here.
//! One colour per variant across all charts (by the variant's index in the results). Every
//! chart that shows a percentile shows what it rests on: percentile curves fade beyond the
//! percentile their operations support, bars and sweep points carry their operations, and a
//! timeline marks the seconds whose p99 rests on too few ([`super::analysis::samples`]).

use hdrhistogram::Histogram;
use plotters::prelude::*;

use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::analysis::samples::{self, MARK};

/// A chart plotters could not draw (its message; plotters' error is generic over the backend).
#[derive(Debug, thiserror::Error)]
#[error("plotters: {0}")]
pub struct ChartError(String);

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for ChartError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        ChartError(e.to_string())
    }
}

/// Width of every chart, px: the report page's content width (its `max-width` less its
/// padding), so a chart is shown at the size it was drawn and its text at the size set here.
pub const WIDTH: u32 = 1060;

// Font sizes in plotters' units: its SVG backend writes `font-size` as the size / 1.24, so
// 19 shows as 15.3 px (the page's table text is about 14 px) and 24 as 19.4 px.

/// Chart titles (19.4 px).
const CAPTION_PX: u32 = 24;

/// Axis tick labels and axis descriptions (15.3 px).
pub const AXIS_PX: u32 = 19;

/// Legend entries and phase names (15.3 px).
pub const LEGEND_PX: u32 = 19;

/// Right margin, px: room for the last x label (`99.99%`) centred on the axis's end.
const RIGHT_MARGIN: u32 = 40;

/// Light grid lines between two labelled ones: plotters' default (10) greys out a log decade.
const LIGHT_LINES: usize = 1;

/// A log axis's range widened, if need be, to hold a power of ten: plotters labels a log axis
/// at its powers of ten and their multiples, and left none on a range inside one decade.
fn with_decade(lo: f64, hi: f64) -> (f64, f64) {
    let p = 10f64.powf(hi.log10().floor());
    (lo.min(p * 0.9), hi)
}

/// A log axis's label at 1, 2 and 5 × a power of ten, none at its other key points (their grid
/// lines stay): a decade reads 10 20 50 100, not ten crowded numbers.
fn log_tick(v: f64, fmt: fn(f64) -> String) -> String {
    if v <= 0.0 {
        return fmt(v);
    }
    let m = v / 10f64.powf(v.log10().floor());
    let lead = m.round();
    if (m - lead).abs() < 0.05 && [1.0, 2.0, 5.0, 10.0].contains(&lead) {
        fmt(v)
    } else {
        String::new()
    }
}

/// A count as a chart label: `612`, `1.2k`, `34k`, `1.2M`.
fn compact(n: u64) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..10_000 => format!("{:.1}k", n as f64 / 1e3),
        10_000..1_000_000 => format!("{}k", n / 1_000),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// The style of axis text.
fn axis_text() -> TextStyle<'static> {
    ("sans-serif", AXIS_PX).into_font().color(&BLACK)
}

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
) -> Result<(), ChartError> {
    chart
        .configure_series_labels()
        .position(pos)
        .label_font(("sans-serif", LEGEND_PX))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// A line of a chart: its colour, legend label, points, and whether it is dashed (a baseline
/// run under a current one).
pub struct Line {
    /// Colour.
    pub colour: RGBColor,
    /// Legend label.
    pub label: String,
    /// Points in chart coordinates.
    pub points: Vec<(f64, f64)>,
    /// Dashed instead of solid.
    pub dashed: bool,
}

/// Draws each line with its legend entry.
fn lines<'a, DB: DrawingBackend + 'a, CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'a, DB, CT>,
    series: impl Iterator<Item = Line>,
) -> Result<(), ChartError> {
    for l in series {
        let c = l.colour;
        let drawn = if l.dashed {
            chart.draw_series(DashedLineSeries::new(l.points, 6, 4, c.stroke_width(2)))
        } else {
            chart.draw_series(LineSeries::new(l.points, c.stroke_width(2)))
        };
        let legend = move |(x, y): (i32, i32)| {
            PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
        };
        drawn?.label(l.label).legend(legend);
    }
    Ok(())
}

/// A histogram drawn as one line: variant index (its colour), label, and dashed or not.
pub struct Curve<'a> {
    /// Variant index: the line's colour.
    pub index: usize,
    /// Legend label.
    pub label: String,
    /// Response times, µs.
    pub hist: &'a Histogram<u64>,
    /// Dashed (a baseline run's line under the current run's).
    pub dashed: bool,
}

impl<'a> Curve<'a> {
    /// A solid line.
    pub fn solid(index: usize, label: impl Into<String>, hist: &'a Histogram<u64>) -> Self {
        Curve {
            index,
            label: label.into(),
            hist,
            dashed: false,
        }
    }
}

/// "Nines" of a quantile: 0 at the median's 0%, 1 at 90%, 2 at 99%, 3 at 99.9%.
fn nines(q: f64) -> f64 {
    -(1.0 - q).max(1e-7).log10()
}

/// A curve's pale tail: its colour and the points beyond the percentile its operations support.
type Tail = (RGBColor, Vec<(f64, f64)>);

/// Each curve's points split where its operations stop supporting the percentile (p99 needs
/// 100 operations: 2 nines): the line up to there, solid and in the legend, and the pale tail
/// beyond (its colour and points), which traces only the slowest few operations.
fn supported(series: &[Curve], points: Vec<Vec<(f64, f64)>>) -> (Vec<Line>, Vec<Tail>) {
    let mut tails = Vec::new();
    let heads = series
        .iter()
        .zip(points)
        .map(|(c, points)| {
            let lim = (c.hist.len().max(1) as f64).log10();
            let (head, tail) = match points.iter().position(|p| p.0 > lim + 1e-9) {
                Some(i) if i > 0 => (points[..i].to_vec(), points[i - 1..].to_vec()),
                Some(_) => (Vec::new(), points),
                None => (points, Vec::new()),
            };
            if tail.len() >= 2 {
                tails.push((colour(c.index), tail));
            }
            Line {
                colour: colour(c.index),
                label: c.label.clone(),
                points: head,
                dashed: c.dashed,
            }
        })
        .collect();
    (heads, tails)
}

/// A percentile-distribution chart (HdrHistogram style): latency in ms on a log axis against
/// percentile on a "nines" axis, one line per curve.
///
/// # Errors
/// Plotters' drawing error, as text.
pub fn percentile_chart(title: &str, series: &[Curve]) -> Result<String, ChartError> {
    let mut svg = String::new();
    let points: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|c| {
            c.hist
                .iter_quantiles(2)
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
        .map(|c| c.hist.len())
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
    let (lo, hi) = with_decade(lo, hi);
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 460)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", CAPTION_PX))
            .margin(12)
            .margin_right(RIGHT_MARGIN)
            .x_label_area_size(52)
            .y_label_area_size(80)
            .build_cartesian_2d(0f64..max_x, (lo..hi).log_scale())?;
        chart
            .configure_mesh()
            .label_style(axis_text())
            .max_light_lines(LIGHT_LINES)
            .axis_desc_style(axis_text())
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
            .y_label_formatter(&|y| log_tick(*y, trim))
            .draw()?;
        let (heads, tails) = supported(series, points);
        lines(&mut chart, heads.into_iter())?;
        for (c, tail) in tails {
            chart.draw_series(LineSeries::new(tail, c.mix(0.35).stroke_width(2)))?;
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        root.present()?;
    }
    Ok(svg)
}

/// One bar: the value over all trials merged, and the lowest and highest single trial.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    /// Trials merged (histograms added), ms.
    pub value: f64,
    /// Lowest trial, ms.
    pub lo: f64,
    /// Highest trial, ms.
    pub hi: f64,
    /// Successful operations behind `value`.
    pub count: u64,
    /// Too few operations for the percentile shown.
    pub few: bool,
}

impl Bar {
    /// A bar of quantile `q` (`value` from `count` operations), `few` set by the rule.
    pub fn of(q: f64, value: f64, lo: f64, hi: f64, count: u64) -> Bar {
        Bar {
            value,
            lo,
            hi,
            count,
            few: !samples::enough(q, count),
        }
    }
}

/// A bar's whisker, from its lowest to its highest trial, over the bar's span `(x0, x1)`.
fn whisker(b: &Bar, (x0, x1): (f64, f64), lo: f64) -> PathElement<(f64, f64)> {
    let (xm, cap) = ((x0 + x1) / 2.0, (x1 - x0) / 4.0);
    let (a, z) = (b.lo.max(lo), b.hi.max(lo));
    PathElement::new(
        vec![
            (xm - cap, a),
            (xm + cap, a),
            (xm, a),
            (xm, z),
            (xm - cap, z),
            (xm + cap, z),
        ],
        BLACK.stroke_width(1),
    )
}

/// Above a bar starting at `x0`, the operations it rests on (marked when too few).
fn count_label(b: &Bar, x0: f64, lo: f64) -> Text<'static, (f64, f64), String> {
    let mark = if b.few { MARK } else { "" };
    Text::new(
        format!("{}{mark}", compact(b.count)),
        (x0, b.hi.max(b.value).max(lo) * 1.15),
        ("sans-serif", LEGEND_PX)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Bottom)),
    )
}

/// Grouped bars: one group per category (class), one bar per series (variant), values in ms
/// on a log axis, each with a whisker from its lowest to its highest trial.
///
/// # Errors
/// Plotters' drawing error, as text.
pub fn class_bars(
    title: &str,
    categories: &[String],
    series: &[(usize, String, Vec<Option<Bar>>)],
) -> Result<String, ChartError> {
    let mut svg = String::new();
    let vals: Vec<f64> = series
        .iter()
        .flat_map(|s| s.2.iter().flatten().flat_map(|b| [b.value, b.lo, b.hi]))
        .filter(|v| *v > 0.0)
        .collect();
    // Headroom above the tallest bar (a log decade and more) keeps the legend off the bars.
    let hi = vals.iter().copied().fold(0.0f64, f64::max).max(0.01) * 12.0;
    let lo = vals
        .iter()
        .copied()
        .fold(f64::MAX, f64::min)
        .clamp(0.001, hi)
        / 2.0;
    let n = series.len().max(1) as f64;
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 420)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", CAPTION_PX))
            .margin(12)
            .margin_right(RIGHT_MARGIN)
            .x_label_area_size(52)
            .y_label_area_size(80)
            .build_cartesian_2d(0f64..categories.len() as f64, (lo..hi).log_scale())?;
        let cats = categories.to_vec();
        chart
            .configure_mesh()
            .label_style(axis_text())
            .max_light_lines(LIGHT_LINES)
            .axis_desc_style(axis_text())
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
            .x_desc("tenant class (whiskers: lowest to highest trial)")
            .y_desc("ms (log)")
            .y_label_formatter(&|y| log_tick(*y, trim))
            .draw()?;
        for (si, (i, label, values)) in series.iter().enumerate() {
            let c = colour(*i);
            let place = |ci: usize| {
                let x0 = ci as f64 + 0.1 + 0.8 * si as f64 / n;
                (x0, x0 + 0.8 / n)
            };
            // A bar from too few operations is pale.
            let bars = values.iter().enumerate().filter_map(|(ci, b)| {
                let b = (*b)?;
                let (x0, x1) = place(ci);
                let fill = if b.few {
                    c.mix(0.3).filled()
                } else {
                    c.filled()
                };
                Some(Rectangle::new([(x0, lo), (x1, b.value.max(lo))], fill))
            });
            chart
                .draw_series(bars)?
                .label(label.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
            let whiskers = values
                .iter()
                .enumerate()
                .filter_map(|(ci, b)| Some(whisker(b.as_ref()?, place(ci), lo)));
            chart.draw_series(whiskers)?;
            let counts = values
                .iter()
                .enumerate()
                .filter_map(|(ci, b)| Some(count_label(b.as_ref()?, place(ci).0, lo)));
            chart.draw_series(counts)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        root.present()?;
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

/// One variant's points on the scaling chart: variant index, label, (documents, ms) per
/// sampled tenant, and the fitted (slope, intercept) of ln ms on ln documents.
pub type ScalingSeries = (usize, String, Vec<(f64, f64)>, Option<(f64, f64)>);

/// Per-tenant latency against tenant size, both on log axes: one point per sampled tenant and
/// variant, and each variant's fitted line. `series` is (variant index, label, points
/// (documents, ms), fitted (slope, intercept) of ln ms on ln documents).
///
/// # Errors
/// Plotters' drawing error, as text.
pub fn scaling(title: &str, series: &[ScalingSeries]) -> Result<String, ChartError> {
    let mut svg = String::new();
    let pts: Vec<(f64, f64)> = series.iter().flat_map(|s| s.2.iter().copied()).collect();
    let (x0, x1) = pts
        .iter()
        .fold((f64::MAX, 1.0f64), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (y0, y1) = pts
        .iter()
        .fold((f64::MAX, 0.01f64), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let (x0, x1) = with_decade(x0.clamp(1.0, x1) / 1.5, x1 * 1.5);
    let (y0, y1) = with_decade(y0.clamp(0.001, y1) / 1.5, y1 * 1.5);
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 460)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", CAPTION_PX))
            .margin(12)
            .margin_right(RIGHT_MARGIN)
            .x_label_area_size(52)
            .y_label_area_size(80)
            .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())?;
        chart
            .configure_mesh()
            .label_style(axis_text())
            .max_light_lines(LIGHT_LINES)
            .axis_desc_style(axis_text())
            .x_desc("tenant documents (log)")
            .y_desc("p50 response time, ms (log)")
            .x_label_formatter(&|x| log_tick(*x, |x| format!("{x:.0}")))
            .y_label_formatter(&|y| log_tick(*y, trim))
            .draw()?;
        for (i, label, points, fit) in series {
            let c = colour(*i);
            chart
                .draw_series(points.iter().map(|p| Circle::new(*p, 3, c.filled())))?
                .label(label.clone())
                .legend(move |(x, y)| Circle::new((x + 6, y), 3, c.filled()));
            if let Some((slope, icpt)) = fit {
                let f = |x: f64| (icpt + slope * x.ln()).exp();
                chart.draw_series(LineSeries::new(
                    [(x0, f(x0)), (x1, f(x1))]
                        .into_iter()
                        .filter(|p| p.1 > y0 && p.1 < y1),
                    c.stroke_width(1),
                ))?;
            }
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        root.present()?;
    }
    Ok(svg)
}

/// Latency histograms on logarithmic buckets (each twice the last, from 100 µs): the share of
/// operations per bucket, one line per curve.
///
/// # Errors
/// Plotters' drawing error, as text.
pub fn log_histogram(title: &str, series: &[Curve]) -> Result<String, ChartError> {
    let mut svg = String::new();
    let points: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|c| {
            let h = c.hist;
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
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 420)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", CAPTION_PX))
            .margin(12)
            .margin_right(RIGHT_MARGIN)
            .x_label_area_size(52)
            .y_label_area_size(80)
            .build_cartesian_2d((0.05f64..x1).log_scale(), 0f64..y1)?;
        chart
            .configure_mesh()
            .label_style(axis_text())
            .max_light_lines(LIGHT_LINES)
            .axis_desc_style(axis_text())
            .x_desc("response time, ms (log; buckets double)")
            .y_desc("% of operations")
            .x_label_formatter(&|x| log_tick(*x, trim))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()?;
        lines(
            &mut chart,
            series.iter().zip(points).map(|(c, points)| Line {
                colour: colour(c.index),
                label: c.label.clone(),
                points,
                dashed: c.dashed,
            }),
        )?;
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        root.present()?;
    }
    Ok(svg)
}

mod memory;
mod sweep;
mod timeline;
pub use memory::{MemorySeries, memory};
pub use sweep::sweep;
pub use timeline::{ClassSeries, timeline};
