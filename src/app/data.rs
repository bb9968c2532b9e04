//! The data commands — `seed`, `verify`, `ls`, `drop`, `doctor` — each written once over the
//! driver of `--backend`, printing what the driver found.

use anyhow::{Context as _, Result, bail};

use super::EXIT_FINDINGS;
use super::settings::{SeedSettings, checked_prefix, driver, generated_data, load_scenario};
use crate::backend::marker::{MarkedDb, state_words};
use crate::backend::seed::SeedSummary;
use crate::backend::verify::VerifyReport;
use crate::backend::{Admin, Dataset, Driver, Migrate};
use crate::cli::{DropArgs, LsArgs, SeedArgs, ServerArgs, Target, VerifyArgs};
use crate::layout::Layout;
use crate::metrics::human_bytes;
use crate::scenario::{Scenario, profile_on};
use crate::with_driver;

/// The scenario and layout a command's target names, the layout checked against the backend.
fn resolve(t: &Target, command: &str) -> Result<(Scenario, Layout)> {
    let s = load_scenario(&t.scenario, t.prefix.as_deref(), t.scale)?;
    generated_data(&s, command)?;
    let layout = t.layout.unwrap_or(s.default_layout);
    let backend = t.server.backend();
    if !layout.on(backend) {
        bail!(
            "--layout {layout}: not a layout of {}; expected one of {}",
            backend.name(),
            Layout::ALL.map(Layout::name).join(", ")
        );
    }
    Ok((s, layout))
}

/// `tenantbench seed`.
///
/// # Errors
/// Bad flags or scenario, an unreachable server, databases the harness did not create.
pub async fn seed(a: SeedArgs) -> Result<u8> {
    let (scenario, layout) = resolve(&a.target, "seed")?;
    let backend = a.target.server.backend();
    let indexes = a
        .indexes
        .profile
        .clone()
        .unwrap_or_else(|| scenario.load.indexes.clone());
    if scenario.index_profile(&indexes).is_none() {
        bail!(
            "--indexes {indexes:?}: unknown index profile; expected one of {}",
            scenario.profile_names().join(", ")
        );
    }
    if !profile_on(&indexes, backend) {
        bail!("--indexes {indexes}: a PostgreSQL index profile; use it with --backend postgres");
    }
    let opts = SeedSettings::resolve(&scenario, &a)?.options(layout, &indexes, a.reseed);
    let pop = scenario.build_population();
    let placement = scenario.placement(&pop, layout);
    let any = driver(&a.target.server, backend);
    let s = with_driver!(&any, |d| {
        eprintln!(
            "{} ({} tenants, {} documents), layout {} on {} {}: {} databases, prefix {}",
            scenario.name,
            pop.tenants.len(),
            pop.documents(),
            layout,
            backend.name(),
            d.redacted_uri(),
            placement.databases.len(),
            scenario.prefix
        );
        d.seed(&Dataset::new(&scenario, &pop, &placement), &opts)
            .await?
    });
    print_seed(&scenario, &s);
    Ok(0)
}

fn print_seed(scenario: &Scenario, s: &SeedSummary) {
    println!(
        "seeded {} / layout {} / index profile {}",
        scenario.name, s.layout, s.index_profile
    );
    println!(
        "  databases    {} ({} loaded, {} reused as they were)",
        s.databases, s.loaded, s.reused
    );
    println!(
        "  collections  {} tenant collections (tables)",
        s.collections
    );
    println!("  documents    {} inserted", s.documents);
    if s.documents > 0 {
        println!(
            "  load         {:.2} s, {:.0} docs/s",
            s.load_seconds,
            s.docs_per_sec()
        );
    }
    println!(
        "  indexes      {} secondary indexes in the layout, {} built now",
        s.indexes, s.indexes_built
    );
    for b in &s.index_builds {
        println!(
            "    {:<14} {:<40} {} builds, {:.3} s total, {:.3} s max",
            b.collection.name(),
            b.keys,
            b.builds,
            b.seconds_total,
            b.seconds_max
        );
    }
    println!(
        "  storage      {} (indexes {}) from dbStats / pg_database_size",
        human_bytes(s.storage_bytes.max(0) as u64),
        human_bytes(s.index_bytes.max(0) as u64)
    );
    println!("  total        {:.2} s", s.total_seconds);
}

/// `tenantbench verify`.
///
/// # Errors
/// Bad flags or scenario, an unreachable server.
pub async fn verify(a: VerifyArgs) -> Result<u8> {
    let (scenario, layout) = resolve(&a.target, "verify")?;
    let pop = scenario.build_population();
    let any = driver(&a.target.server, a.target.server.backend());
    let (r, version) = with_driver!(&any, |d| {
        // Where the tenant directory has the tenants now (moves applied).
        let (placement, version) = d.placed(&scenario, &pop, layout).await?;
        (
            d.verify(
                &Dataset::new(&scenario, &pop, &placement),
                a.progress.shown(),
            )
            .await?,
            version,
        )
    });
    let moved = if version > 0 {
        format!(" (tenant directory version {version})")
    } else {
        String::new()
    };
    println!(
        "verify {} / layout {}{moved}: {} databases, {} tenant collections, {} documents read",
        scenario.name, layout, r.databases, r.checked, r.documents
    );
    Ok(print_verify(&r))
}

fn print_verify(r: &VerifyReport) -> u8 {
    for p in &r.marker_problems {
        println!("  marker: {p}");
    }
    for (db, tenant, c, n) in &r.left_behind {
        println!(
            "  left behind: {db}.{} holds {n} records of {tenant}, which moved out (a migration without --delete-source)",
            c.name()
        );
    }
    const SHOWN: usize = 50;
    for m in r.mismatches.iter().take(SHOWN) {
        println!("  MISMATCH {m}");
    }
    if r.mismatches.len() > SHOWN {
        println!("  … and {} more mismatches", r.mismatches.len() - SHOWN);
    }
    if r.ok() {
        println!("OK: counts and checksums match the generator for every tenant and collection");
        0
    } else {
        println!(
            "FAILED: {} mismatches, {} marker problems",
            r.mismatches.len(),
            r.marker_problems.len()
        );
        EXIT_FINDINGS
    }
}

/// `tenantbench ls`.
///
/// # Errors
/// A bad prefix, an unreachable server.
pub async fn ls(a: LsArgs) -> Result<u8> {
    let prefix = a.prefix.as_deref().map(checked_prefix).transpose()?;
    let any = driver(&a.server, a.server.backend());
    let (dbs, records, uri) = with_driver!(&any, |d| (
        d.list(prefix.as_deref(), a.sizes).await?,
        d_records(d),
        d.redacted_uri()
    ));
    if dbs.is_empty() {
        println!("no tenantbench databases on {uri}");
        return Ok(0);
    }
    print!("{}", ls_table(&dbs, records));
    println!("{} databases", dbs.len());
    Ok(0)
}

/// What a driver's records are called (`documents`, `rows`).
fn d_records<D: Driver>(_: &D) -> &'static str {
    D::RECORDS
}

/// `ls`'s table: columns as wide as their widest cell, counts and sizes right-aligned, no
/// borders and no trailing spaces.
fn ls_table(dbs: &[MarkedDb], records: &str) -> String {
    use comfy_table::{Cell, CellAlignment, Table, presets::NOTHING};
    let mut t = Table::new();
    t.load_preset(NOTHING);
    t.set_header(vec![
        "database", "prefix", "scenario", "layout", "tenants", records, "size", "state",
    ]);
    let right = |s: String| Cell::new(s).set_alignment(CellAlignment::Right);
    for d in dbs {
        let m = &d.marker;
        t.add_row(vec![
            Cell::new(&d.name),
            Cell::new(&m.prefix),
            Cell::new(&m.scenario),
            Cell::new(&m.layout),
            right(m.tenants.to_string()),
            right(m.records.to_string()),
            right(d.size_bytes.map_or("-".into(), human_bytes)),
            Cell::new(format!(
                "{} (indexes: {})",
                state_words(m.complete, m.dirty),
                m.index_profile
            )),
        ]);
    }
    // Two spaces between columns and none before the first, as `ls` always printed.
    let last = t.column_count().saturating_sub(1);
    for (c, col) in t.column_iter_mut().enumerate() {
        col.set_padding((0, if c == last { 0 } else { 2 }));
        if (4..7).contains(&c) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    let mut out = String::new();
    for line in t.to_string().lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `tenantbench drop`.
///
/// # Errors
/// A bad prefix or scenario, an unreachable server.
pub async fn drop(a: DropArgs) -> Result<u8> {
    let prefix = match (&a.scenario, &a.prefix) {
        (Some(path), p) => load_scenario(path, p.as_deref(), None)?.prefix,
        (None, Some(p)) => checked_prefix(p)?,
        (None, None) => bail!("drop needs --scenario FILE or --prefix P"),
    };
    let any = driver(&a.server, a.server.backend());
    let out = with_driver!(&any, |d| d
        .drop(&prefix, a.layout)
        .await
        .with_context(|| format!("dropping databases of prefix {prefix}"))?);
    for d in &out.dropped {
        println!("dropped {d}");
    }
    for (d, why) in &out.refused {
        println!("REFUSED {d}: {why}; left untouched");
    }
    println!(
        "{} dropped, {} refused",
        out.dropped.len(),
        out.refused.len()
    );
    Ok(if out.refused.is_empty() {
        0
    } else {
        EXIT_FINDINGS
    })
}

/// `tenantbench doctor`.
///
/// # Errors
/// None today; the signature leaves room for a command that cannot start.
pub async fn doctor(a: ServerArgs) -> Result<u8> {
    let any = driver(&a, a.backend());
    let r = with_driver!(&any, |d| d.doctor().await);
    println!("{}", r.title);
    if let Some(e) = &r.unreachable {
        let answer = if r.refused { "yes, refused us" } else { "no" };
        println!("  reachable    {answer}: {e}");
        for h in &r.hints {
            println!("  {h}");
        }
        return Ok(EXIT_FINDINGS);
    }
    println!("  reachable    yes");
    for (label, value) in &r.facts {
        println!("  {label:<12} {value}");
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::marker::Marker;

    #[test]
    fn ls_columns_fit_their_widest_cell() {
        let db = MarkedDb {
            name: "tb_tenant_index_s0p01_s0p02".into(),
            size_bytes: Some(42 * 1024 * 1024),
            marker: Marker {
                prefix: "tb_tenant_index_s0p01".into(),
                scenario: "tenant-index".into(),
                layout: "shared".into(),
                placement: "shared".into(),
                definition_hash: "h".into(),
                index_profile: "none".into(),
                complete: true,
                dirty: false,
                tenants: 200,
                records: 100_000,
            },
        };
        let out = ls_table(&[db], "documents");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        // Left-aligned columns start where their header does, past the longest name.
        for (h, cell) in [
            ("prefix", "tb_tenant_index_s0p01 "),
            ("scenario", "tenant-index"),
            ("layout", "shared"),
            ("state", "complete"),
        ] {
            assert_eq!(lines[0].find(h), lines[1].find(cell), "{h}\n{out}");
        }
        assert_eq!(lines[0].find("prefix"), Some(29));
        // Right-aligned counts end under their header.
        let end = |l: &str, x: &str| l.find(x).map(|i| i + x.len());
        assert_eq!(end(lines[0], "documents"), end(lines[1], "100000"));
        assert_eq!(end(lines[0], "size"), end(lines[1], "42.0 MiB"));
        assert!(lines.iter().all(|l| !l.ends_with(' ')), "{out}");
    }
}
