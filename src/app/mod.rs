//! The commands: one file each, resolving its settings once ([`settings`]) and calling the
//! library; database work goes through the kind's driver, chosen once ([`settings::driver`],
//! [`crate::with_driver!`]). `main` calls [`run`] and turns its status into the exit code; tests
//! call the library functions directly.

pub mod audit;
pub mod data;
pub mod gate;
pub mod load;
pub mod merge;
pub mod migrate;
pub mod plan;
pub mod profile;
pub mod project;
pub mod run;
pub mod serve;
pub mod settings;

use anyhow::Result;

use crate::cli::{Cli, Command};

/// Exit status of a command that ran but found a problem (verify mismatch, refused drop,
/// failed or interrupted trials).
pub const EXIT_FINDINGS: u8 = 1;

/// Runs a parsed command line; returns the process exit status.
///
/// # Errors
/// Anything that stops the command (bad scenario, unreachable server, foreign database).
pub async fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Seed(a) => data::seed(a).await,
        Command::Verify(a) => data::verify(a).await,
        Command::Ls(a) => data::ls(a).await,
        Command::Drop(a) => data::drop(a).await,
        Command::Doctor(a) => data::doctor(a).await,
        Command::Run(a) => run::run(a).await,
        Command::Plan(a) => plan::plan(&a),
        Command::Merge(a) => merge::merge(&a),
        Command::Report(a) => report(&a),
        Command::Gate(a) => gate::gate(&a),
        Command::Serve(a) => serve::serve(a).await,
        Command::Load(a) => load::load(a).await,
        Command::Audit(a) => audit::audit(&a).await,
        Command::Profile(a) => profile::profile(&a).await,
        Command::Migrate(a) => migrate::migrate(a).await,
        Command::Schema(a) => {
            print!(
                "{}",
                match a.file {
                    crate::cli::SchemaFile::Results => crate::metrics::results::schema_json(),
                    crate::cli::SchemaFile::Audit => crate::audit::schema_json(),
                }
            );
            Ok(0)
        }
    }
}

/// `tenantbench report DIR…`: the HTML report of a run, or of the last run against the first.
fn report(a: &crate::cli::ReportArgs) -> Result<u8> {
    let results = a
        .dirs
        .iter()
        .map(|d| crate::metrics::store::read_results(d))
        .collect::<Result<Vec<_>, _>>()?;
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
