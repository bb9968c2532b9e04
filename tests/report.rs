//! The HTML report from a committed results fixture (a real quickstart run: shared layout with
//! no index, `{tenant: 1}` and the compound index, two trials each, on the SecantusDB surrogate):
//! sections, one series per variant, numbers equal to the results, no script or external
//! reference, headlines that follow the data, the plan-vs-reality flag, run comparisons, and a
//! real browser rendering it.

use scraper::{Html, Selector};
use tenantbench::metrics::results::Results;
use tenantbench::op::Op;
use tenantbench::report::analysis;
use tenantbench::report::html::{Run, render, render_runs};
use tenantbench::report::names::Names;

fn fixture() -> Results {
    serde_json::from_str(include_str!("fixtures/quickstart-results.json")).expect("fixture parses")
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).expect("selector")
}

/// The fixture with the recorded figures of variants `a` and `b` exchanged: every number of
/// one now belongs to the other, so the data's winner changes while the matrix stays.
fn swapped(r: &Results, a: &str, b: &str) -> Results {
    let mut r = r.clone();
    let swap = |v: &mut String| {
        if v == a {
            *v = b.to_string();
        } else if v == b {
            *v = a.to_string();
        }
    };
    for t in &mut r.trials {
        swap(&mut t.variant);
    }
    for s in &mut r.spread {
        swap(&mut s.variant);
    }
    r
}

fn ids(r: &Results) -> Vec<String> {
    r.variants.iter().map(|v| v.id.clone()).collect()
}

/// The name the report gives variant `id` of `r`.
fn name(r: &Results, id: &str) -> String {
    Names::of(r).get(id).to_string()
}

#[test]
fn the_report_has_its_sections_one_series_per_variant_and_the_results_numbers() {
    let r = fixture();
    assert_eq!(r.variants.len(), 3, "none, tenant, compound");
    let out = render(&r).expect("renders");
    let doc = Html::parse_document(&out.html);
    let h2: Vec<String> = doc.select(&sel("h2")).map(|e| e.text().collect()).collect();
    for want in [
        "Answer",
        "Variants",
        "Latency distribution",
        "Tenant classes",
        "Timeline",
        "Tenant size",
        "Evidence",
        "Environment",
    ] {
        assert!(h2.iter().any(|h| h == want), "no section {want}: {h2:?}");
    }
    assert!(
        !h2.iter()
            .any(|h| h == "Sweeps" || h == "Against the baseline run"),
        "no numeric knob varies and no baseline run was given: {h2:?}"
    );
    // Every chart is inline, and names every variant once in its legend.
    let svgs: Vec<_> = doc.select(&sel("svg")).collect();
    assert_eq!(svgs.len(), out.charts.len());
    for name in [
        "histogram-all.svg",
        "percentiles-all.svg",
        "percentiles-list_recent.svg",
        "p50-by-class.svg",
        "p99-by-class.svg",
        "scaling-list_recent.svg",
    ] {
        assert!(out.charts.iter().any(|(n, _)| n == name), "no {name}");
    }
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
        // Legends name variants by what differs between them, never by id.
        assert!(
            r.variants.iter().all(|v| !text.contains(&v.id)),
            "{name}: an id in a legend"
        );
        if name.starts_with("scaling-") {
            // Variants with too few sampled tenants for an op are left out; none twice.
            for v in &r.variants {
                let n = self::name(&r, &v.id);
                assert!(text.matches(&n).count() <= 1, "{name}: legend of {n}");
            }
            continue;
        }
        for v in &r.variants {
            let n = self::name(&r, &v.id);
            assert_eq!(text.matches(&n).count(), 1, "{name}: legend of {n}");
        }
    }
    assert_eq!(
        ids(&r).iter().map(|v| name(&r, v)).collect::<Vec<_>>(),
        ["no index", "tenant index", "compound index"]
    );
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
        .filter(|cells: &Vec<String>| cells.len() == 12)
        .collect();
    for v in &r.variants {
        let s = analysis::spread(&r, &v.id, "all").expect("spread");
        let row = rows
            .iter()
            .find(|c| c[0] == name(&r, &v.id))
            .expect("variant row");
        assert_eq!(row[4], analysis::ms(s.merged.p99_us));
        // The id stays, in one column of its own.
        assert_eq!(row[11], v.id);
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
    assert!(
        out.markdown.contains("| tenant index | 2 |"),
        "{}",
        out.markdown
    );
    assert!(out.markdown.contains("| `shared-tenant-p100-single-c8` |"));
    assert!(out.html.contains("surrogate"), "the surrogate is named");
}

#[test]
fn the_headline_names_the_winner_with_the_results_numbers() {
    let r = fixture();
    let a = analysis::answer(&r);
    let winner = a.winner.clone().expect("a winner");
    // The winner is the variant with the lowest merged p99, and the headline quotes it.
    let lowest = r
        .variants
        .iter()
        .filter_map(|v| analysis::spread(&r, &v.id, "all"))
        .min_by_key(|s| s.merged.p99_us)
        .expect("spreads");
    assert_eq!(winner, lowest.variant);
    let first = &a.lines[0];
    assert!(
        first.starts_with(&format!("Lowest p99: {} —", name(&r, &winner))),
        "{first}"
    );
    assert!(
        first.contains(&format!("{} ms", analysis::ms(lowest.merged.p99_us))),
        "{first}"
    );
    let base = analysis::spread(&r, &a.baseline, "all").expect("baseline spread");
    assert!(
        first.contains(&format!("{} ms", analysis::ms(base.merged.p99_us))),
        "{first}"
    );
    // Where it shows: small tenants, one operation, with documents examined.
    assert!(
        a.lines
            .iter()
            .any(|l| l.contains("small tenants' (basic + free) p99 for")
                && l.contains("documents examined")),
        "{:?}",
        a.lines
    );
}

#[test]
fn fixtures_with_opposite_winners_give_opposite_headlines() {
    let r = fixture();
    let ids = ids(&r);
    let a = analysis::answer(&r);
    let won = a.winner.clone().expect("winner");
    // The baseline (no index) loses in the real run; give it the winner's figures.
    assert_ne!(won, ids[0]);
    let twin = swapped(&r, &won, &ids[0]);
    let b = analysis::answer(&twin);
    assert_eq!(b.winner.as_deref(), Some(ids[0].as_str()));
    assert!(
        a.lines[0].starts_with(&format!("Lowest p99: {} —", name(&r, &won)))
            && b.lines[0].starts_with(&format!(
                "Lowest p99: the baseline, {} —",
                name(&r, &ids[0])
            )),
        "{}\n{}",
        a.lines[0],
        b.lines[0]
    );
    let md = |r: &Results| render(r).expect("renders").markdown;
    assert_ne!(md(&r).lines().nth(4), md(&twin).lines().nth(4));
}

#[test]
fn variants_that_share_every_knob_value_make_no_sweep() {
    // The fixture's variants differ only in their index profile; with that made equal, the
    // knobs (documents, pool size, concurrency) have one value each: nothing to sweep.
    let mut r = fixture();
    assert!(analysis::sweeps(&r).is_empty());
    for v in &mut r.variants {
        v.indexes = "same".into();
    }
    assert!(analysis::sweeps(&r).is_empty(), "one x value is no sweep");
    // Two data sizes are.
    r.variants[0].documents = Some(100_000);
    r.variants[1].documents = Some(200_000);
    let sw = analysis::sweeps(&r);
    assert!(
        sw.iter().any(|s| s.knob == analysis::Knob::Documents),
        "two sizes sweep"
    );
}

#[test]
fn the_resources_table_has_a_row_per_trial() {
    let r = fixture();
    let out = render(&r).expect("renders");
    let doc = Html::parse_document(&out.html);
    let table = doc
        .select(&sel("table"))
        .find(|t| t.text().any(|x| x == "checkout wait"))
        .expect("the resources table");
    let rows: Vec<Vec<String>> = table
        .select(&sel("tr"))
        .skip(1)
        .map(|tr| {
            tr.select(&sel("td"))
                .map(|td| td.text().collect())
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), r.trials.len(), "one row per trial");
    for t in &r.trials {
        assert!(
            rows.iter()
                .any(|row| row[0] == name(&r, &t.variant) && row[1] == t.trial.to_string()),
            "{} trial {}",
            t.variant,
            t.trial
        );
    }
}

#[test]
fn an_open_loop_variant_whose_server_fell_behind_is_named_in_the_headline() {
    let names_backlog = |r: &Results| {
        analysis::answer(r)
            .lines
            .iter()
            .any(|l| l.contains("fell behind"))
    };
    let mut r = fixture();
    assert!(!names_backlog(&r), "closed loop: nothing to say");
    let id = r.variants[0].id.clone();
    r.variants[0].rate = Some(500.0);
    assert!(
        !names_backlog(&r),
        "no scheduled duration: nothing to compare with"
    );
    r.scenario.duration_s = Some(12.0);
    assert!(!names_backlog(&r), "the fixture's trials ended on schedule");
    for t in r.trials.iter_mut().filter(|t| t.variant == id) {
        t.elapsed_s = 24.0;
    }
    r.trials
        .iter_mut()
        .find(|t| t.variant == id)
        .expect("a trial")
        .unissued = 1_234;
    let lines = analysis::answer(&r).lines;
    let line = lines
        .iter()
        .find(|l| l.contains("fell behind"))
        .unwrap_or_else(|| panic!("no line names the backlog: {lines:?}"));
    assert!(line.starts_with(&name(&r, &id)), "{line}");
    assert!(line.contains("500 operations/s in 2 of 2 trials"), "{line}");
    assert!(line.contains("up to 12 s past their 12 s"), "{line}");
    assert!(
        line.contains("1,234 intended operations never started"),
        "{line}"
    );
    assert!(line.contains("lower bound"), "{line}");
}

#[test]
fn plan_vs_reality_flags_the_compound_index_and_not_its_honest_twin() {
    let r = fixture();
    let flagged: Vec<_> = analysis::growth(&r)
        .into_iter()
        .filter(|g| g.plan_gap.is_some())
        .collect();
    assert!(
        flagged
            .iter()
            .any(|g| g.op == Op::ListRecent && g.variant.contains("compound")),
        "{:?}",
        flagged
            .iter()
            .map(|g| (&g.variant, g.op))
            .collect::<Vec<_>>()
    );
    let out = render(&r).expect("renders");
    assert!(
        out.html
            .contains("Plan vs reality, list_recent on compound index")
    );
    // The same latencies with an explain that admits the work (every matching key examined):
    // the plan no longer claims bounded work, so nothing is flagged.
    let mut twin = r.clone();
    for t in &mut twin.trials {
        for e in &mut t.evidence.explain {
            e.keys_examined = e.keys_examined.max(e.tenant_documents);
            e.docs_examined = e.docs_examined.max(e.tenant_documents);
        }
    }
    assert!(
        analysis::growth(&twin).iter().all(|g| g.plan_gap.is_none()),
        "the honest twin is not flagged"
    );
    assert!(
        !render(&twin)
            .expect("renders")
            .html
            .contains("Plan vs reality")
    );
}

#[test]
fn growth_classes_name_scans_of_the_collection_and_growth_with_the_tenant() {
    let r = fixture();
    let g = analysis::growth(&r);
    let of = |variant: &str, op: Op| {
        g.iter()
            .find(|x| x.variant == variant && x.op == op)
            .map(|x| x.class)
    };
    let ids = ids(&r);
    // Without an index every list_recent call scans the collection: flat across tenants.
    assert_eq!(
        of(&ids[0], Op::ListRecent),
        Some(analysis::GrowthClass::WithCollection)
    );
    // With {tenant: 1} it sorts all of the tenant's orders: it grows with the tenant.
    assert!(matches!(
        of(&ids[1], Op::ListRecent),
        Some(analysis::GrowthClass::WithTenant | analysis::GrowthClass::WeaklyWithTenant)
    ));
}

#[test]
fn comparing_runs_colours_deltas_by_direction_and_overlays_the_curves() {
    let r = fixture();
    let ids = ids(&r);
    let won = analysis::answer(&r).winner.expect("winner");
    let twin = swapped(&r, &won, &ids[0]);
    let out = render_runs(&[
        Run {
            name: "before",
            results: &r,
        },
        Run {
            name: "after",
            results: &twin,
        },
    ])
    .expect("renders");
    let doc = Html::parse_document(&out.html);
    assert!(
        doc.select(&sel("h2"))
            .any(|h| h.text().collect::<String>() == "Against the baseline run")
    );
    // The variant that got the baseline's figures is slower, the baseline faster.
    let row = |variant: &str| -> (String, String) {
        doc.select(&sel("table tr"))
            .map(|tr| tr.select(&sel("td")).collect::<Vec<_>>())
            .find(|td| {
                td.len() == 7
                    && td[1].text().collect::<String>() == variant
                    && td[2].text().collect::<String>() == "all"
                    && td[3].text().collect::<String>() == "all"
            })
            .map(|td| {
                (
                    td[6].value().attr("class").unwrap_or("").to_string(),
                    td[6].text().collect(),
                )
            })
            .expect("delta row")
    };
    let (won, first) = (name(&r, &won), name(&r, &ids[0]));
    assert_eq!(row(&won).0, "worse", "{:?}", row(&won));
    assert!(row(&won).1.starts_with('+'));
    assert_eq!(row(&first).0, "better", "{:?}", row(&first));
    assert!(row(&first).1.starts_with('-'));
    // Overlaid: each variant twice in the comparison chart, once per run.
    let (_, svg) = out
        .charts
        .iter()
        .find(|(n, _)| n == "compare-all.svg")
        .expect("comparison chart");
    for v in ids.iter().map(|v| name(&r, v)) {
        assert!(svg.contains(&format!("{v} · before")) && svg.contains(&format!("{v} · after")));
    }
    assert!(svg.contains("stroke-dasharray") || svg.matches("<polyline").count() > 6);
    assert!(out.markdown.contains("Against the baseline run before"));
}

#[test]
fn a_numeric_knob_that_varies_gets_a_sweep_with_one_line_per_other_setting() {
    let mut r = fixture();
    // Make the three variants one line over pool sizes 5, 10 and 100.
    for (v, pool) in r.variants.iter_mut().zip([5, 10, 100]) {
        v.indexes = "tenant".into();
        v.max_pool_size = pool;
    }
    let sw = analysis::sweeps(&r);
    assert_eq!(sw.len(), 1);
    assert_eq!(sw[0].knob, analysis::Knob::Pool);
    assert_eq!(sw[0].lines.len(), 1);
    let xs: Vec<f64> = sw[0].lines[0].points.iter().map(|p| p.0).collect();
    assert_eq!(xs, [5.0, 10.0, 100.0]);
    let out = render(&r).expect("renders");
    assert!(
        out.charts
            .iter()
            .any(|(n, _)| n == "sweep-max_pool_size.svg")
    );
    assert!(out.html.contains("<h2>Sweeps</h2>"));
}

/// Charts are drawn at the page's content width, so they are shown at the size they were drawn,
/// and no text in them is smaller than a table's.
#[test]
fn charts_fill_the_page_width_with_text_a_person_reads_without_zooming() {
    use tenantbench::report::charts::WIDTH;
    let out = render(&fixture()).expect("renders");
    // The page's content width: its max-width less the padding of 1em (16 px) a side.
    let max_width: u32 = out
        .html
        .split("max-width: ")
        .nth(1)
        .and_then(|x| x.split("px").next())
        .and_then(|x| x.parse().ok())
        .expect("the page states its max-width in px");
    assert!(
        WIDTH <= max_width - 32 && WIDTH >= max_width - 64,
        "charts {WIDTH} px wide on a page {max_width} px wide"
    );
    for (name, svg) in &out.charts {
        assert!(
            svg.contains(&format!("width=\"{WIDTH}\"")),
            "{name} is not {WIDTH} px wide"
        );
        let sizes: Vec<f64> = svg
            .split("font-size=\"")
            .skip(1)
            .filter_map(|x| x.split('"').next()?.parse().ok())
            .collect();
        assert!(!sizes.is_empty(), "{name} has no text");
        let smallest = sizes.iter().copied().fold(f64::INFINITY, f64::min);
        assert!(smallest >= 14.0, "{name}: text at {smallest} px");
        let largest = sizes.iter().copied().fold(0.0, f64::max);
        assert!(largest <= 24.0, "{name}: text at {largest} px");
    }
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
