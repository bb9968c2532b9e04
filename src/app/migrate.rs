//! `tenantbench migrate`: moves one tenant of seeded data to a dedicated, pooled or the shared
//! database of its layout through the driver's verified, resumable migration, and prints what
//! it copied, caught up, verified and cut over; and the placement every command routes by (the
//! layout's rules with the tenant directory's moves applied).

use anyhow::{Result, bail};

use super::EXIT_FINDINGS;
use super::settings::{driver, generated_data, load_scenario};
use crate::backend::migrate::{MigrateOptions, MigrationReport, MoveSpec};
use crate::backend::migration_plan::MovePlan;
use crate::backend::migration_rates as rates;
use crate::backend::seed::SeedOptions;
use crate::backend::{Admin, Dataset, Migrate};
use crate::cli::MigrateArgs;
use crate::layout::Layout;
use crate::population::Population;
use crate::scenario::{Scenario, profile_on};
use crate::with_driver;

/// `tenantbench migrate`.
///
/// # Errors
/// Bad flags or scenario, an unknown tenant, a layout without a tenant directory, data not
/// seeded, an unreachable server, a destination that is not the harness's.
pub async fn migrate(a: MigrateArgs) -> Result<u8> {
    let s = load_scenario(
        &a.target.scenario,
        a.target.prefix.as_deref(),
        a.target.scale,
    )?;
    generated_data(&s, "migrate")?;
    let layout = a.target.layout.unwrap_or(s.default_layout);
    let backend = a.target.server.backend();
    if !layout.on(backend) {
        bail!("--layout {layout}: not a layout of {}", backend.name());
    }
    if !(1..=100_000).contains(&a.batch_size) {
        bail!(
            "--batch-size {}: expected 1 to 100000 records",
            a.batch_size
        );
    }
    if let Some(r) = a.copy_rate
        && !(r.is_finite() && r > 0.0)
    {
        bail!("--copy-rate {r}: expected a positive number of records per second");
    }
    if let Some(i) = &a.indexes.profile
        && (s.index_profile(i).is_none() || !profile_on(i, backend))
    {
        bail!(
            "--indexes {i:?}: not an index profile of this scenario on {}; expected one of {}",
            backend.name(),
            s.profile_names().join(", ")
        );
    }
    let pop = s.build_population();
    let Some(t) = pop.tenants.iter().position(|x| x.id == a.tenant) else {
        bail!(
            "--tenant {}: the scenario has no such tenant; expected one of {} … {}",
            a.tenant,
            pop.tenants.first().map_or("", |x| x.id.as_str()),
            pop.tenants.last().map_or("", |x| x.id.as_str())
        );
    };
    let any = driver(&a.target.server, backend);
    with_driver!(&any, |d| migrate_with(d, &a, &s, &pop, layout, t).await)
}

/// The index profile the tenant's database was seeded (or last run) with, from its marker:
/// what the destination gets unless `--indexes` says otherwise.
async fn seeded_profile<D: Admin>(d: &D, s: &Scenario, db: &str) -> Result<Option<String>> {
    Ok(d.list(Some(&s.prefix), false)
        .await?
        .into_iter()
        .find(|m| m.name == db)
        .map(|m| m.marker.index_profile))
}

/// The command on one driver.
async fn migrate_with<D: Admin + Migrate>(
    d: &D,
    a: &MigrateArgs,
    s: &Scenario,
    pop: &Population,
    layout: Layout,
    t: usize,
) -> Result<u8> {
    let base = s.placement(pop, layout);
    base.destination(&s.prefix, &pop.tenants[t].id, a.to)?;
    let source = &base.databases[base.tenant_db[t]].name;
    let indexes = match &a.indexes.profile {
        Some(i) => i.clone(),
        None => seeded_profile(d, s, source)
            .await?
            .unwrap_or_else(|| s.load.indexes.clone()),
    };
    let indexes = indexes.as_str();
    // The data must be what `seed` left: ours, complete, of this definition and profile.
    let seeded = SeedOptions::from_scenario(s, layout, indexes);
    d.check_ready(&Dataset::new(s, pop, &base), &seeded).await.map_err(|e| {
        anyhow::anyhow!(
            "{e}; seed it first with `tenantbench seed --scenario {} --layout {layout} --indexes {indexes}`",
            s.path.display()
        )
    })?;
    let (mut placement, version) = d.placed(s, pop, layout).await?;
    let name = placement.destination(&s.prefix, &pop.tenants[t].id, a.to)?;
    let from = placement.tenant_db[t];
    if placement.databases[from].name == name {
        bail!(
            "--to {}: tenant {} already lives in {name}; nothing to move",
            a.to,
            a.tenant
        );
    }
    let to = placement.database_named(&name, a.to);
    let rules_db = base.databases[base.tenant_db[t]].name.clone();
    let spec = MoveSpec {
        data: Dataset {
            scenario: s,
            pop,
            placement: &placement,
        },
        tenant: t,
        to,
        rules_db: &rules_db,
        indexes,
    };
    let opts = MigrateOptions {
        batch_size: a.batch_size,
        copy_rate: a.copy_rate,
        delete_source: a.delete_source,
        progress: a.progress.shown(),
        fault: None,
    };
    eprintln!(
        "{} on {} {}: tenant {} ({} records), layout {layout}, directory version {version}",
        s.name,
        d.kind().name(),
        d.redacted_uri(),
        a.tenant,
        pop.tenants[t].documents
    );
    let server = rates::server_key(d.kind().name(), &d.redacted_uri());
    if a.dry_run {
        print_plan(&d.plan_migration(&spec, &opts).await?, a.copy_rate, &server);
        return Ok(0);
    }
    eprintln!(
        "  writes by other processes are not frozen during the cut-over: stop them while {} moves",
        a.tenant
    );
    let r = d.migrate(&spec, &opts, None).await?;
    print_report(&r, D::RECORDS);
    if r.verified && !r.resumed {
        rates::record(&server, rates::Measured::of(&r, a.copy_rate, false));
    }
    Ok(if r.verified { 0 } else { EXIT_FINDINGS })
}

fn print_plan(p: &MovePlan, rate: Option<f64>, server: &str) {
    let total: u64 = p.records.iter().map(|(_, n)| n).sum();
    println!(
        "dry run: would move {} from {} to {} ({}; destination {})",
        p.tenant, p.from, p.to, p.kind, p.destination_state
    );
    let per: Vec<String> = p
        .records
        .iter()
        .map(|(c, n)| format!("{} {n}", c.name()))
        .collect();
    println!("  records   {total} ({})", per.join(", "));
    match rates::estimate(server, total, rate) {
        Some(e) => println!(
            "  estimate  {:.1} s to the cut-over ({:.1} s of copy{}), scaled from the {} records {} moved on this server on {} (copy {:.2} s, cut over at {:.2} s{})",
            e.seconds,
            e.copy_s,
            rate.map_or(String::new(), |r| format!(" at --copy-rate {r}")),
            e.from.records,
            if e.from.under_load {
                "a run's migration"
            } else {
                "`migrate`"
            },
            e.from.at,
            e.from.copy_s,
            e.from.cut_over_s,
            if e.from.under_load {
                ", under load"
            } else {
                ""
            }
        ),
        None => println!(
            "  estimate  none: no migration of {} records or more has been measured on this server ({server}) yet, and a move's time is mostly writes and index builds, which a dry run cannot measure without writing. The tenant's orders read here at {:.0} records/s, so the copy takes at least {:.1} s. Move a smaller tenant first, or run scenarios/migration.toml, and the estimate scales from it",
            rates::MIN_RECORDS,
            p.read_rate,
            total as f64 / p.read_rate.max(1e-9)
        ),
    }
    println!("nothing was written");
}

fn print_report(r: &MigrationReport, unit: &str) {
    println!(
        "migrate {}: {} → {} ({}), method {}",
        r.tenant, r.from, r.to, r.kind, r.method
    );
    let resumed = if r.resumed {
        format!(
            ", resumed after {} {unit} a stopped migration had copied",
            r.resumed_at
        )
    } else {
        String::new()
    };
    println!(
        "  copy      {} {unit} in {:.2} s ({:.0} {unit}/s){resumed}",
        r.copied,
        r.copy_s,
        r.copy_rate()
    );
    println!(
        "  catch-up  {} {unit} changed during the copy, re-copied or removed",
        r.caught_up
    );
    for c in &r.checks {
        println!(
            "  verify    {:<14} source {:>8}  destination {:>8}  checksum {}",
            c.collection.name(),
            c.source,
            c.destination,
            if c.checksum_matches {
                "equal"
            } else {
                "DIFFERS"
            }
        );
    }
    if !r.verified {
        println!(
            "FAILED: the destination does not hold exactly the source's records; nothing was cut over (the tenant stays in {}, the directory is unchanged)",
            r.from
        );
        return;
    }
    println!(
        "  cut over  directory version {}; last catch-up, verification and cut-over {:.3} s (what a run's freeze holds the tenant for); {:.2} s in all",
        r.version.unwrap_or(0),
        r.freeze_s,
        r.cut_over_s
    );
    match r.deleted_source {
        Some(n) => println!(
            "  source    {n} {unit} deleted from {} (marked dirty)",
            r.from
        ),
        None => println!(
            "  source    kept in {} (`verify` counts it as left behind; --delete-source removes it)",
            r.from
        ),
    }
    println!("OK: {} verified and moved to {}", r.tenant, r.to);
}
