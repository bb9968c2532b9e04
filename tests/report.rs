//! The HTML report from a committed results fixture (a real quickstart run: shared layout with
//! no index, `{tenant: 1}` and the compound index, two trials each, on the SecantusDB surrogate):
//! sections, one series per variant, numbers equal to the results, no script or external
//! reference, headlines that follow the data, the plan-vs-reality flag, run comparisons, and a
//! real browser rendering it. Results built from it (`as_is_and_fixed`, `thin`) hold the
//! regressions of issue 29: a headline judged on one merged percentile that the largest tenant
//! dominates, and percentiles from too few operations shown without a word.

use scraper::{Html, Selector};
use tenantbench::metrics::histogram;
use tenantbench::metrics::results::{Group, Results, Summary, encode};
use tenantbench::op::Op;
use tenantbench::report::analysis;
use tenantbench::report::html::{Run, render, render_runs};
use tenantbench::report::names::Names;

use crate::util::quickstart_results as fixture;

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
        .filter(|cells: &Vec<String>| cells.len() == 13)
        .collect();
    for v in &r.variants {
        let s = analysis::spread(&r, &v.id, "all").expect("spread");
        let row = rows
            .iter()
            .find(|c| c[0] == name(&r, &v.id))
            .expect("variant row");
        // The operations the percentiles rest on, then the merged p99 (enough: unmarked).
        assert_eq!(row[3], analysis::count(s.merged.count));
        assert_eq!(row[5], analysis::ms(s.merged.p99_us));
        // The id stays, in one column of its own.
        assert_eq!(row[12], v.id);
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

/// The p99 (µs) and operations of `classes` in variant `id`'s headline phase, trials merged.
fn class_p99(r: &Results, id: &str, classes: &[&str]) -> (u64, u64) {
    let h = analysis::phase_histogram(r, id, "steady", |g| classes.contains(&g.class.as_str()));
    (h.value_at_quantile(0.99), h.len())
}

#[test]
fn the_headline_names_the_winner_with_the_results_numbers() {
    let r = fixture();
    let a = analysis::answer(&r);
    let winner = a.winner.clone().expect("a winner");
    // In the real run the compound index is better for every class; the headline names it
    // and quotes small tenants' p99 against the baseline's, trials merged.
    assert_eq!(name(&r, &winner), "compound index");
    let first = &a.lines[0];
    assert!(
        first.starts_with(&format!(
            "Answer: {} — better than the baseline, {},",
            name(&r, &winner),
            name(&r, &a.baseline)
        )),
        "{first}"
    );
    assert!(first.contains("worse for none"), "{first}");
    let small = ["basic", "free"];
    for id in [&winner, &a.baseline] {
        let (p99, n) = class_p99(&r, id, &small);
        assert!(n >= 100, "the fixture has enough small-tenant operations");
        assert!(
            first.contains(&format!("{} ms", analysis::ms(p99))),
            "{first}"
        );
    }
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
        a.lines[0].starts_with(&format!("Answer: {} —", name(&r, &won)))
            && b.lines[0].starts_with(&format!(
                "Answer: the baseline, {} — no other variant is better",
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
            "CI is set but chromium is missing (scripts/setup-test-tools.sh installs it)"
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

/// One class's successful `list_recent` operations in one 10-s trial: `n` of them, the slowest
/// `tail` (a fraction) at `slow_ms` and the rest at a tenth of that; its p99 is `slow_ms` when
/// `tail` ≥ 1%.
fn group(class: &str, n: u64, slow_ms: f64, tail: f64) -> Group {
    let mut h = histogram();
    let slow = ((n as f64 * tail).ceil() as u64).min(n);
    h.record_n((slow_ms * 1000.0) as u64, slow)
        .expect("records");
    h.record_n((slow_ms * 100.0) as u64, n - slow)
        .expect("records");
    Group {
        phase: "steady".into(),
        op: Op::ListRecent,
        class: class.into(),
        outcome: tenantbench::metrics::results::GroupOutcome::Ok,
        error_kind: None,
        throughput: n as f64 / 10.0,
        response: Summary::of(&h),
        service: Summary::of(&h),
        response_histogram: encode(&h),
        service_histogram: encode(&h),
    }
}

/// A class of [`as_is_and_fixed`]: name, operations per trial with the indexes as they are,
/// p99 ms as they are, p99 ms fixed, and the share of its operations at that p99.
type Class = (&'static str, u64, f64, f64, f64);

/// The fixture's first two variants renamed "indexes as is" (the baseline) and "indexes fixed",
/// their trials' figures replaced by `classes`; the fixed variant runs `more` times the
/// operations (its throughput ratio). Spread recomputed as `run` computes it.
fn as_is_and_fixed(classes: &[Class], more: f64) -> Results {
    let mut r = fixture();
    r.variants.truncate(2);
    r.variants[0].name = Some("indexes as is".into());
    r.variants[1].name = Some("indexes fixed".into());
    let ids = ids(&r);
    r.trials.retain(|t| ids.contains(&t.variant));
    r.classes = classes.iter().map(|c| c.0.to_string()).collect();
    for t in &mut r.trials {
        let fixed = t.variant == ids[1];
        t.groups = classes
            .iter()
            .map(|&(class, n, as_is, fix, tail)| {
                if fixed {
                    group(class, (n as f64 * more).round() as u64, fix, tail)
                } else {
                    group(class, n, as_is, tail)
                }
            })
            .collect();
    }
    r.spread = tenantbench::metrics::store::spread(&r);
    r
}

/// Issue 29, part 4: a ×10 run of a team's data, indexes as they are against a missing tenant
/// index fixed. The fix had 1.72× the throughput and cut small tenants' p99 from 1,101 ms to
/// 75 ms, but the largest tenants' p99 (which no index helps) dominated the merged p99, 1.03×
/// in the baseline's favour, and the headline called the fix second. It must name the fix.
#[test]
fn issue_29_the_answer_follows_the_classes_not_one_merged_percentile() {
    let r = as_is_and_fixed(
        &[
            ("enterprise", 600, 1675.0, 1726.0, 0.10),
            ("premium", 400, 900.0, 120.0, 0.02),
            ("basic", 500, 1101.0, 75.0, 0.02),
            ("free", 500, 1101.0, 75.0, 0.02),
        ],
        1.72,
    );
    let (as_is, fixed) = (r.variants[0].id.clone(), r.variants[1].id.clone());
    // The trap: over all operations merged the baseline's p99 is the lower one.
    let all = |id: &str| {
        analysis::spread(&r, id, "all")
            .expect("spread")
            .merged
            .p99_us
    };
    assert!(
        all(&as_is) < all(&fixed),
        "{} < {}",
        all(&as_is),
        all(&fixed)
    );
    let a = analysis::answer(&r);
    assert_eq!(a.winner.as_deref(), Some(fixed.as_str()), "{:#?}", a.lines);
    let first = &a.lines[0];
    assert!(
        first.starts_with(
            "Answer: indexes fixed — better than the baseline, indexes as is, for small tenants (basic + free) and premium, worse for none (level within 10% for enterprise)"
        ),
        "{first}"
    );
    let (small_fixed, _) = class_p99(&r, &fixed, &["basic", "free"]);
    let (small_as_is, _) = class_p99(&r, &as_is, &["basic", "free"]);
    assert!(
        first.contains(&format!(
            "p99 for small tenants (basic + free) {} ms against {} ms",
            analysis::ms(small_fixed),
            analysis::ms(small_as_is)
        )),
        "{first}"
    );
    assert!(first.contains("successful operations/s (1.72×)"), "{first}");
    // Never second, never the baseline's win; and the merged figure is explained, not hidden.
    assert!(
        !a.lines
            .iter()
            .any(|l| l.contains("next best") || l.contains("Answer: the baseline")),
        "{:#?}",
        a.lines
    );
    assert!(
        a.lines.iter().any(
            |l| l.starts_with("All operations merged, indexes fixed's p99")
                && l.contains("(enterprise)")
        ),
        "{:#?}",
        a.lines
    );
    // The report and the summary say the same.
    let out = render(&r).expect("renders");
    let doc = Html::parse_document(&out.html);
    let li: String = doc
        .select(&sel("section.headline li"))
        .next()
        .expect("a headline")
        .text()
        .collect();
    assert_eq!(&li, first);
    assert!(
        out.markdown.contains(&format!("- {first}")),
        "{}",
        out.markdown
    );
}

/// Where the classes disagree — the fix helps small tenants but makes the largest much slower
/// — the answer says so in one sentence and names no winner.
#[test]
fn issue_29_classes_that_disagree_are_said_to_disagree() {
    let r = as_is_and_fixed(
        &[
            ("enterprise", 600, 1675.0, 3900.0, 0.10),
            ("basic", 500, 1101.0, 75.0, 0.02),
            ("free", 500, 1101.0, 75.0, 0.02),
        ],
        1.2,
    );
    let a = analysis::answer(&r);
    assert_eq!(a.winner, None, "{:#?}", a.lines);
    let line = a
        .lines
        .iter()
        .find(|l| l.contains("disagree"))
        .unwrap_or_else(|| panic!("no line says the classes disagree: {:#?}", a.lines));
    assert!(
        line.starts_with("No single answer — the tenant classes disagree: indexes fixed has the lowest p99 for small tenants (basic + free) at")
            && line.contains(", indexes as is for enterprise at"),
        "{line}"
    );
    assert_eq!(line.matches(". ").count(), 0, "one sentence: {line}");
}

/// A run like a `--scale 0.01` smoke: every class's p99 from 6 to 21 operations per trial.
fn thin() -> Results {
    let mut r = as_is_and_fixed(
        &[
            ("enterprise", 6, 1675.0, 1726.0, 0.10),
            ("premium", 9, 900.0, 120.0, 0.02),
            ("basic", 21, 1101.0, 75.0, 0.02),
            ("free", 8, 1101.0, 75.0, 0.02),
        ],
        1.0,
    );
    r.scenario.scale = 0.01;
    r
}

/// Issue 29, part 5: figures from too few operations. No winner is named from them; the
/// headline says what to run for more, and every table (terminal, HTML, Markdown, gate) and
/// chart marks them and shows the operations behind them.
#[test]
fn issue_29_percentiles_from_too_few_operations_are_marked_and_name_no_winner() {
    use tenantbench::report::analysis::samples::{MARK, footnote};
    let r = thin();
    let a = analysis::answer(&r);
    assert_eq!(a.winner, None, "{:#?}", a.lines);
    let first = &a.lines[0];
    // Small tenants: 21 + 8 per trial, 2 trials: 58 operations in each variant.
    assert!(
        first.starts_with("No winner named: too few operations for a p99 per tenant class — small tenants (basic + free) had 58 in"),
        "{first}"
    );
    assert!(first.contains("a p99 needs about 100"), "{first}");
    assert!(
        first.contains("`--scale 0.02` (this run: `--scale 0.01`"),
        "{first}"
    );
    assert!(
        a.lines.iter().all(|l| !l.starts_with("Answer:")),
        "{:#?}",
        a.lines
    );
    // Terminal: counts beside the percentiles, the marks and what they mean.
    let term = tenantbench::report::terminal::summary_table(&r);
    assert!(term.contains("ok ops") && term.contains(MARK), "{term}");
    assert!(term.contains(&footnote()), "{term}");
    let (p99, n) = class_p99(&r, &r.variants[0].id, &["enterprise"]);
    assert!(
        term.contains(&format!("{}{MARK} ({n})", analysis::ms(p99))),
        "{term}"
    );
    // HTML: the variants table's percentiles marked, with their operations.
    let out = render(&r).expect("renders");
    let doc = Html::parse_document(&out.html);
    let cells: Vec<_> = doc.select(&sel("table.variants td.few")).collect();
    assert_eq!(
        cells.len(),
        2 * 2,
        "88 operations a variant: enough for its p50, too few for its p99 and p99.9"
    );
    for td in &cells {
        let text: String = td.text().collect();
        assert!(text.ends_with(MARK), "{text}");
        assert!(
            td.value()
                .attr("title")
                .is_some_and(|t| t.contains("operations"))
        );
    }
    assert!(
        doc.select(&sel("p.note"))
            .any(|p| p.text().collect::<String>() == footnote()),
        "the footnote"
    );
    // The class charts carry each bar's operations, marked; the timeline its thin seconds.
    let chart = |name: &str| &out.charts.iter().find(|c| c.0 == name).expect(name).1;
    assert!(chart("p99-by-class.svg").contains(&format!("12{MARK}")));
    // Markdown: marked values and the footnote.
    assert!(
        out.markdown.contains(&format!("{MARK} |")),
        "{}",
        out.markdown
    );
    assert!(out.markdown.contains(&footnote()), "{}", out.markdown);
    // The gate shows the count behind a p99 rule's figure and flags it.
    let rules = tenantbench::gate::rules::Rules::parse(
        std::path::Path::new("rules.toml"),
        "[[absolute]]\nmetric = \"p99_ms\"\nmax = 5000\nselect = { class = \"basic|free\" }\n",
    )
    .expect("rules");
    let gate = tenantbench::gate::Gate::evaluate(&rules, &r, None, Vec::new());
    let f = &gate.findings[0];
    assert!(f.current.ends_with(MARK), "{f:?}");
    assert!(
        f.note.contains("p99 of 58 operations (needs about 100)"),
        "{f:?}"
    );
    assert!(gate.table().contains(&footnote()));
    assert!(gate.markdown().expect("markdown").contains(&footnote()));
    // The same figures with enough operations carry no mark.
    let fixture = render(&fixture()).expect("renders");
    assert!(
        Html::parse_document(&fixture.html)
            .select(&sel("table.variants td.few"))
            .next()
            .is_none()
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
