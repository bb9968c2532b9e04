//! Fits over measured points: the log-log slope that says how latency grows with a tenant's
//! size. Pure statistics; the analysis uses it, charts only draw what the analysis found.

/// Least-squares fit of ln y on ln x: (slope, intercept); `None` with fewer than 3 points or
/// no spread in x.
pub fn loglog_fit(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let w: Vec<(f64, f64, f64)> = points.iter().map(|&(x, y)| (x, y, 1.0)).collect();
    loglog_fit_weighted(&w)
}

/// Weighted least-squares fit of ln y on ln x over (x, y, weight): (slope, intercept); `None`
/// with fewer than 3 usable points or no spread in x. A point whose y is a percentile of n
/// operations is weighted by n: its estimate's variance shrinks as 1/n, so a tenant measured
/// 500 times counts for more than one measured 3 times.
pub fn loglog_fit_weighted(points: &[(f64, f64, f64)]) -> Option<(f64, f64)> {
    let p: Vec<(f64, f64, f64)> = points
        .iter()
        .filter(|(x, y, w)| *x > 0.0 && *y > 0.0 && *w > 0.0)
        .map(|(x, y, w)| (x.ln(), y.ln(), *w))
        .collect();
    if p.len() < 3 {
        return None;
    }
    let sw: f64 = p.iter().map(|q| q.2).sum();
    let mx = p.iter().map(|q| q.2 * q.0).sum::<f64>() / sw;
    let my = p.iter().map(|q| q.2 * q.1).sum::<f64>() / sw;
    let sxx: f64 = p.iter().map(|q| q.2 * (q.0 - mx).powi(2)).sum();
    if sxx < 1e-12 * sw {
        return None;
    }
    let sxy: f64 = p.iter().map(|q| q.2 * (q.0 - mx) * (q.1 - my)).sum();
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

    #[test]
    fn weights_pull_the_fit_towards_the_points_measured_most() {
        // Two heavy points on slope 1, one light outlier: the fit stays near slope 1 with
        // weights, and is dragged below zero without them.
        let pts = [
            (10.0, 10.0, 100.0),
            (100.0, 100.0, 100.0),
            (1000.0, 1.0, 1.0),
        ];
        let (w, _) = loglog_fit_weighted(&pts).expect("fits");
        let plain: Vec<(f64, f64)> = pts.iter().map(|p| (p.0, p.1)).collect();
        let (u, _) = loglog_fit(&plain).expect("fits");
        assert!(w > 0.8, "weighted slope {w}");
        assert!(u < 0.0, "unweighted slope {u}");
    }
}
