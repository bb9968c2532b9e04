//! The commands: resolve flags over scenario values, call the library, print results. `main`
//! calls [`run`]; tests call the library functions directly.

pub mod merge;
pub mod plan;
pub mod run;

use std::path::Path;

use anyhow::{Context as _, Result, bail};

use crate::backend::mongo::{self, ConnectOptions, SeedOptions, Servers};
use crate::backend::postgres;
use crate::backend::redact_uri;
use crate::cli::{Cli, Command, DropArgs, LsArgs, SeedArgs, ServerArgs, Target, VerifyArgs};
use crate::layout::Layout;
use crate::layout::Placement;
use crate::op::BackendKind;
use crate::scenario::{MAX_BATCH, MAX_WORKERS, Scenario, valid_prefix};

/// Exit status of a command that ran but found a problem (verify mismatch, refused drop).
pub const EXIT_FINDINGS: u8 = 1;

/// Runs a parsed command line; returns the process exit status.
///
/// # Errors
/// Anything that stops the command (bad scenario, unreachable server, foreign database).
pub async fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Seed(a) => seed(a).await,
        Command::Verify(a) => verify(a).await,
        Command::Ls(a) => ls(a).await,
        Command::Drop(a) => drop(a).await,
        Command::Doctor(a) => doctor(a).await,
        Command::Run(a) => run::run(a).await,
        Command::Plan(a) => plan::plan(&a),
        Command::Merge(a) => merge::merge(&a),
        Command::Report(a) => {
            let results = a
                .dirs
                .iter()
                .map(|d| run::read_results(d))
                .collect::<Result<Vec<_>>>()?;
            let names: Vec<String> = a
                .dirs
                .iter()
                .map(|d| {
                    let d = std::fs::canonicalize(d).unwrap_or_else(|_| d.clone());
                    d.file_name()
                        .map_or_else(|| d.display().to_string(), |n| n.to_string_lossy().into())
                })
                .collect();
            let runs: Vec<crate::report::html::Run> = names
                .iter()
                .zip(&results)
                .map(|(name, results)| crate::report::html::Run { name, results })
                .collect();
            let out = a.out.as_deref().unwrap_or(&a.dirs[0]);
            let html = crate::report::html::write_runs(&runs, out)?;
            println!("report: {}", html.display());
            Ok(0)
        }
        Command::Schema => {
            print!("{}", crate::metrics::results::schema_json());
            Ok(0)
        }
    }
}

fn checked_prefix(p: &str) -> Result<String> {
    if !valid_prefix(p) {
        bail!(
            "--prefix {p:?}: expected 1 to 24 lowercase letters, digits and '_', starting with a letter"
        );
    }
    Ok(p.to_string())
}

pub(crate) fn load_scenario(
    path: &Path,
    prefix: Option<&str>,
    scale: Option<f64>,
) -> Result<Scenario> {
    let mut s = Scenario::load(path)?;
    if let Some(f) = scale {
        s = s
            .scaled(f, true)
            .map_err(|e| anyhow::anyhow!("--scale {f}: {e}"))?;
    }
    if let Some(p) = prefix {
        s.prefix = checked_prefix(p)?;
    }
    Ok(s)
}

fn resolve(t: &Target) -> Result<(Scenario, Layout)> {
    let s = load_scenario(&t.scenario, t.prefix.as_deref(), t.scale)?;
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

/// Everything `seed` resolves from its flags and the scenario.
struct Prepared {
    scenario: Scenario,
    pop: crate::population::Population,
    placement: Placement,
    opts: SeedOptions,
}

async fn prepare(a: &SeedArgs) -> Result<Prepared> {
    let (scenario, layout) = resolve(&a.target)?;
    let indexes = a
        .indexes
        .clone()
        .unwrap_or_else(|| scenario.load.indexes.clone());
    if scenario.index_profile(&indexes).is_none() {
        bail!(
            "--indexes {indexes:?}: unknown index profile; expected one of {}",
            scenario.profile_names().join(", ")
        );
    }
    if !crate::scenario::profile_on(&indexes, a.target.server.backend()) {
        bail!("--indexes {indexes}: a PostgreSQL index profile; use it with --backend postgres");
    }
    let batch_size = a.batch_size.unwrap_or(scenario.load.batch_size);
    let workers = a.workers.unwrap_or(scenario.load.workers);
    if !(1..=MAX_BATCH as usize).contains(&batch_size) {
        bail!("--batch-size {batch_size}: expected 1 to {MAX_BATCH}");
    }
    if !(1..=MAX_WORKERS as usize).contains(&workers) {
        bail!("--workers {workers}: expected 1 to {MAX_WORKERS}");
    }
    let opts = SeedOptions {
        layout,
        indexes,
        batch_size,
        workers,
        index_build: a.index_build.unwrap_or(scenario.load.index_build),
        reseed: a.reseed,
        progress: !a.no_progress,
    };
    let pop = scenario.build_population();
    let placement = scenario.placement(&pop, layout);
    let backend = a.target.server.backend();
    let uri = match backend {
        BackendKind::Mongodb => a.target.server.mongo_uri(),
        BackendKind::Postgres => a.target.server.pg_uri(),
    };
    eprintln!(
        "{} ({} tenants, {} documents), layout {} on {} {}: {} databases, prefix {}",
        scenario.name,
        pop.tenants.len(),
        pop.documents(),
        layout,
        backend.name(),
        redact_uri(&uri),
        placement.databases.len(),
        scenario.prefix
    );
    Ok(Prepared {
        scenario,
        pop,
        placement,
        opts,
    })
}

async fn seed(a: SeedArgs) -> Result<u8> {
    let Prepared {
        scenario,
        pop,
        placement,
        opts,
    } = prepare(&a).await?;
    let s = match a.target.server.backend() {
        BackendKind::Mongodb => {
            let conn = ConnectOptions {
                max_pool_size: (opts.workers as u32 + 4).max(16),
                ..Default::default()
            };
            let servers =
                Servers::for_placement(&a.target.server.mongo_uri(), &placement, &conn).await?;
            let s = mongo::seed(&servers, &scenario, &pop, &placement, &opts).await?;
            servers.shutdown().await;
            s
        }
        BackendKind::Postgres => {
            postgres::seed(
                &a.target.server.pg_uri(),
                &scenario,
                &pop,
                &placement,
                &opts,
            )
            .await?
        }
    };
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
    Ok(0)
}

async fn verify(a: VerifyArgs) -> Result<u8> {
    let (scenario, layout) = resolve(&a.target)?;
    let pop = scenario.build_population();
    let placement = scenario.placement(&pop, layout);
    let r = match a.target.server.backend() {
        BackendKind::Mongodb => {
            let servers = Servers::for_placement(
                &a.target.server.mongo_uri(),
                &placement,
                &ConnectOptions::default(),
            )
            .await?;
            let r = mongo::verify(&servers, &scenario, &pop, &placement, !a.no_progress).await?;
            servers.shutdown().await;
            r
        }
        BackendKind::Postgres => {
            postgres::verify(
                &a.target.server.pg_uri(),
                &scenario,
                &pop,
                &placement,
                !a.no_progress,
            )
            .await?
        }
    };
    println!(
        "verify {} / layout {}: {} databases, {} tenant collections, {} documents read",
        scenario.name, layout, r.databases, r.checked, r.documents
    );
    for p in &r.marker_problems {
        println!("  marker: {p}");
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
        Ok(0)
    } else {
        println!(
            "FAILED: {} mismatches, {} marker problems",
            r.mismatches.len(),
            r.marker_problems.len()
        );
        Ok(EXIT_FINDINGS)
    }
}

async fn ls(a: LsArgs) -> Result<u8> {
    let prefix = a.prefix.as_deref().map(checked_prefix).transpose()?;
    let mut rows: Vec<Vec<String>> = Vec::new();
    let uri;
    let count = if a.server.backend() == BackendKind::Postgres {
        uri = a.server.pg_uri();
        let dbs = postgres::list_marked(&uri, prefix.as_deref()).await?;
        rows.push(ls_header("rows"));
        for d in &dbs {
            let m = &d.marker;
            rows.push(vec![
                d.name.clone(),
                m.prefix.clone(),
                m.scenario.clone(),
                m.layout.clone(),
                m.tenants.to_string(),
                m.rows.to_string(),
                human_bytes(d.size.max(0) as u64),
                format!(
                    "{} (indexes: {})",
                    marker_state(m.complete, m.dirty),
                    m.index_profile
                ),
            ]);
        }
        dbs.len()
    } else {
        uri = a.server.mongo_uri();
        let client = mongo::client(&uri, &ConnectOptions::default()).await?;
        let dbs = mongo::list_marked(&client, prefix.as_deref()).await?;
        client.shutdown().await;
        rows.push(ls_header("documents"));
        for d in &dbs {
            let m = &d.marker;
            rows.push(vec![
                d.name.clone(),
                m.prefix.clone(),
                m.scenario.clone(),
                m.layout.clone(),
                m.tenants.to_string(),
                m.documents.to_string(),
                human_bytes(d.size_on_disk),
                format!(
                    "{} (indexes: {})",
                    marker_state(m.complete, m.dirty),
                    m.index_profile
                ),
            ]);
        }
        dbs.len()
    };
    if count == 0 {
        println!("no tenantbench databases on {}", redact_uri(&uri));
        return Ok(0);
    }
    print!("{}", columns(&rows, &[4, 5, 6]));
    println!("{count} databases");
    Ok(0)
}

/// The header of `ls`'s table, with `what` naming the count column.
fn ls_header(what: &str) -> Vec<String> {
    [
        "database", "prefix", "scenario", "layout", "tenants", what, "size", "state",
    ]
    .map(String::from)
    .to_vec()
}

/// Rows as columns as wide as their widest cell (by characters), two spaces apart; the columns
/// in `right` right-aligned; no trailing spaces.
fn columns(rows: &[Vec<String>], right: &[usize]) -> String {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let width: Vec<usize> = (0..n)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|x| x.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c > 0 {
                line.push_str("  ");
            }
            let pad = width[c].saturating_sub(cell.chars().count());
            if right.contains(&c) {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A marker's state in words.
fn marker_state(complete: bool, dirty: bool) -> &'static str {
    match (complete, dirty) {
        (true, false) => "complete",
        (true, true) => "complete, dirty",
        (false, false) => "incomplete",
        (false, true) => "incomplete, dirty",
    }
}

async fn drop(a: DropArgs) -> Result<u8> {
    let prefix = match (&a.scenario, &a.prefix) {
        (Some(path), p) => load_scenario(path, p.as_deref(), None)?.prefix,
        (None, Some(p)) => checked_prefix(p)?,
        (None, None) => bail!("drop needs --scenario FILE or --prefix P"),
    };
    let (dropped, refused) = match a.server.backend() {
        BackendKind::Mongodb => {
            let client = mongo::client(&a.server.mongo_uri(), &ConnectOptions::default()).await?;
            let out = mongo::drop_marked(&client, &prefix, a.layout)
                .await
                .with_context(|| format!("dropping databases of prefix {prefix}"))?;
            client.shutdown().await;
            (out.dropped, out.refused)
        }
        BackendKind::Postgres => {
            let out = postgres::drop_marked(&a.server.pg_uri(), &prefix, a.layout)
                .await
                .with_context(|| format!("dropping databases of prefix {prefix}"))?;
            (out.dropped, out.refused)
        }
    };
    for d in &dropped {
        println!("dropped {d}");
    }
    for (d, why) in &refused {
        println!("REFUSED {d}: {why}; left untouched");
    }
    println!("{} dropped, {} refused", dropped.len(), refused.len());
    Ok(if refused.is_empty() { 0 } else { EXIT_FINDINGS })
}

async fn doctor(a: ServerArgs) -> Result<u8> {
    if a.backend() == BackendKind::Postgres {
        return pg_doctor(&a.pg_uri()).await;
    }
    let uri = a.mongo_uri();
    let conn = ConnectOptions {
        server_selection_timeout: std::time::Duration::from_secs(3),
        ..Default::default()
    };
    let client = mongo::client(&uri, &conn).await?;
    let r = mongo::doctor(&client).await;
    println!("MongoDB at {}", redact_uri(&uri));
    if !r.reachable {
        println!(
            "  reachable    no: {}",
            r.error.as_deref().unwrap_or("unknown error")
        );
        println!("  to start a local server:  scripts/mongo-local.sh start");
        println!("  or with Docker:           docker run -p 27017:27017 mongo:8");
        println!("  then point tenantbench at it with --uri or TENANTBENCH_MONGO_URI");
        return Ok(EXIT_FINDINGS);
    }
    println!("  reachable    yes");
    match (&r.version, &r.surrogate) {
        (Some(v), Some(s)) => println!(
            "  server       SecantusDB {s} (a MongoDB-compatible surrogate, not mongod; reports MongoDB {v}). Its latencies are surrogate latencies"
        ),
        (Some(v), None) => println!("  server       MongoDB {v}"),
        _ => println!("  server       unknown (buildInfo failed)"),
    }
    if let Some(e) = &r.storage_engine {
        println!("  engine       {e}");
    }
    if !r.rtt_us.is_empty() {
        println!(
            "  round trip   min {} µs, median {} µs, max {} µs (ping ×{})",
            r.rtt_us[0],
            r.rtt_us[r.rtt_us.len() / 2],
            r.rtt_us[r.rtt_us.len() - 1],
            r.rtt_us.len()
        );
    }
    match r.wt_cache_bytes {
        Some(b) => println!("  WT cache     {}", human_bytes(b)),
        None => println!("  WT cache     not reported"),
    }
    if let Some((all, ours)) = r.databases {
        println!(
            "  databases    {all} ({ours} created by tenantbench; `tenantbench ls` lists them)"
        );
    }
    client.shutdown().await;
    Ok(0)
}

async fn pg_doctor(uri: &str) -> Result<u8> {
    let r = postgres::doctor(uri).await;
    println!("PostgreSQL at {}", redact_uri(uri));
    if let Some(e) = &r.error {
        println!("  reachable    no: {e}");
        println!("  start it (Debian): service postgresql start");
        println!(
            "  then point tenantbench at it with --uri or {}",
            postgres::URI_ENV
        );
        return Ok(EXIT_FINDINGS);
    }
    println!("  reachable    yes");
    if let Some(s) = &r.settings {
        println!("  server       PostgreSQL {}", s.version);
        println!(
            "  connections  max_connections {} ({} reserved for superusers)",
            s.max_connections, s.reserved_connections
        );
        println!(
            "  memory       shared_buffers {}, work_mem {}",
            s.shared_buffers, s.work_mem
        );
        println!("  jit          {}", s.jit);
    }
    if !r.rtt_us.is_empty() {
        println!(
            "  round trip   min {} µs, median {} µs, max {} µs (SELECT 1 ×{})",
            r.rtt_us[0],
            r.rtt_us[r.rtt_us.len() / 2],
            r.rtt_us[r.rtt_us.len() - 1],
            r.rtt_us.len()
        );
    }
    if let Some((all, ours)) = r.databases {
        println!(
            "  databases    {all} ({ours} created by tenantbench; `tenantbench ls --backend postgres` lists them)"
        );
    }
    Ok(0)
}

/// Bytes in binary units.
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_fit_their_widest_cell() {
        let rows = vec![
            ls_header("documents"),
            [
                "tb_tenant_index_s0p01_s0p02",
                "tb_tenant_index_s0p01",
                "tenant-index",
                "shared",
                "200",
                "100000",
                "42 MiB",
                "complete (indexes: none)",
            ]
            .map(String::from)
            .to_vec(),
        ];
        let out = columns(&rows, &[4, 5, 6]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2);
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
        assert_eq!(end(lines[0], "size"), end(lines[1], "42 MiB"));
    }
}
