//! The HTML report from a committed results fixture (a real quickstart run: shared layout
//! without and with `{tenant: 1}`, two trials each): sections, one series per variant, numbers
//! equal to the results, no script or external reference, and a headline that follows the data.

use scraper::{Html, Selector};
use tenantbench::metrics::results::Results;
use tenantbench::report::html::render;

fn fixture() -> Results {
    serde_json::from_str(include_str!("fixtures/quickstart-results.json")).expect("fixture parses")
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).expect("selector")
}

#[test]
fn the_report_has_its_sections_one_series_per_variant_and_the_results_numbers() {
    let r = fixture();
    let out = render(&r).expect("renders");
    let doc = Html::parse_document(&out.html);
    let h2: Vec<String> = doc.select(&sel("h2")).map(|e| e.text().collect()).collect();
    for want in [
        "Answer",
        "Variants",
        "Latency distribution",
        "Evidence",
        "Environment",
    ] {
        assert!(h2.iter().any(|h| h == want), "no section {want}: {h2:?}");
    }
    // Every chart is inline, and names every variant once in its legend.
    let svgs: Vec<_> = doc.select(&sel("svg")).collect();
    assert_eq!(svgs.len(), out.charts.len());
    for (svg, (name, _)) in svgs.iter().zip(&out.charts) {
        let text: String = svg.text().collect();
        if name.starts_with("timeline-") {
            // One timeline per variant, its lines the tenant classes.
            assert!(
                r.classes.iter().any(|c| text.contains(c.as_str())),
                "{name}"
            );
            continue;
        }
        for v in &r.variants {
            assert_eq!(text.matches(&v.id).count(), 1, "{name}: legend of {}", v.id);
        }
    }
    for v in &r.variants {
        assert!(
            out.charts
                .iter()
                .any(|(n, _)| *n == format!("timeline-{}.svg", v.id))
        );
    }
    // The variants table shows the merged p99 of the results.
    let rows: Vec<Vec<String>> = doc
        .select(&sel("table tr"))
        .map(|tr| {
            tr.select(&sel("td"))
                .map(|td| td.text().collect())
                .collect()
        })
        .filter(|cells: &Vec<String>| cells.len() == 9)
        .collect();
    for v in &r.variants {
        let s = r
            .spread
            .iter()
            .find(|s| s.variant == v.id && s.phase == "steady" && s.class == "all")
            .expect("spread");
        let row = rows.iter().find(|c| c[0] == v.id).expect("variant row");
        assert_eq!(row[4], format!("{:.2}", s.merged.p99_us as f64 / 1000.0));
    }
    // Self-contained: no script, no external reference.
    let lower = out.html.to_lowercase();
    assert!(!lower.contains("<script"));
    for attr in [
        "src=\"http",
        "href=\"http",
        "url(http",
        "url(\"http",
        "@import",
    ] {
        assert!(!lower.contains(attr), "external reference {attr}");
    }
    // The evidence says why: a collection scan without the index, an index scan with it.
    assert!(out.html.contains("SORT &gt; COLLSCAN") && out.html.contains("IXSCAN"));
    assert!(out.markdown.contains("| shared-tenant-p100-single-c8 |"));
    assert!(out.html.contains("surrogate"), "the surrogate is named");
}

#[test]
fn the_headline_follows_the_data() {
    let r = fixture();
    let line = |r: &Results| {
        render(r)
            .expect("renders")
            .markdown
            .lines()
            .find(|l| l.starts_with("- ") && l.contains("p99"))
            .expect("a headline line")
            .to_string()
    };
    let a = line(&r);
    assert!(a.starts_with("- shared-tenant-p100-single-c8:"), "{a}");
    assert!(a.contains("(0.63×)"), "{a}");
    // The same results with the variants listed the other way round: the other variant is the
    // baseline and the ratio inverts.
    let mut swapped = r.clone();
    swapped.variants.reverse();
    let b = line(&swapped);
    assert!(b.starts_with("- shared-none-p100-single-c8:"), "{b}");
    assert!(b.contains("(1.59×)"), "{b}");
}

/// Headless Chromium renders the report from `file://`: a screenshot that is not blank and
/// no console errors. Skips without Chromium, fails instead with `CI` set.
#[test]
fn a_browser_renders_the_report_offline() {
    let Ok(chromium) = which("chromium") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but chromium is missing (scripts/test.sh installs it)"
        );
        eprintln!("SKIPPED: no chromium on PATH");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let html = tenantbench::report::html::write(&fixture(), dir.path()).expect("writes");
    let shot = dir.path().join("shot.png");
    let out = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1200,1600",
        ])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("run chromium");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(
        !log.contains("CONSOLE") && !log.contains("Uncaught"),
        "console errors:\n{log}"
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    // A blank 1200×1600 page compresses to a few kilobytes; text and charts to far more.
    assert!(
        png.len() > 40_000,
        "screenshot of {} bytes looks blank",
        png.len()
    );
}

fn which(name: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or(())
}
