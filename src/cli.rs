//! Command-line definitions (clap derive) and nothing else.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::scenario::{IndexBuild, Layout};

/// Measures multi-tenant database layouts: seeds skewed tenant populations into shared,
/// per-tenant and hybrid layouts, and verifies them.
#[derive(Debug, Parser)]
#[command(
    name = "tenantbench",
    version,
    about,
    after_help = "EXAMPLES:
  scripts/mongo-local.sh start                                   # a local MongoDB-wire server
  tenantbench doctor                                             # is it there, what is it
  tenantbench seed --scenario scenarios/quickstart.toml          # seed the scenario's default layout
  tenantbench seed --scenario scenarios/quickstart.toml --layout per-tenant --indexes compound
  tenantbench verify --scenario scenarios/quickstart.toml --layout per-tenant
  tenantbench ls
  tenantbench drop --scenario scenarios/quickstart.toml --layout hybrid

The MongoDB URI comes from --uri, else $TENANTBENCH_MONGO_URI, else mongodb://127.0.0.1:27017.
Credentials in a URI are never printed or stored."
)]
pub struct Cli {
    /// More log output (-v: debug, -vv: trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Seed a scenario's tenants into a layout (reuses databases that already hold the same data).
    #[command(after_help = "EXAMPLES:
  tenantbench seed --scenario scenarios/quickstart.toml
  tenantbench seed --scenario scenarios/skewed-10k.toml --layout hybrid --workers 8
  tenantbench seed --scenario scenarios/quickstart.toml --indexes none   # only rebuilds indexes")]
    Seed(SeedArgs),
    /// Check counts and checksums per tenant and collection against the generator.
    #[command(after_help = "EXAMPLES:
  tenantbench verify --scenario scenarios/quickstart.toml
  tenantbench verify --scenario scenarios/quickstart.toml --layout per-tenant")]
    Verify(VerifyArgs),
    /// List the databases created by tenantbench on a server.
    #[command(after_help = "EXAMPLES:
  tenantbench ls
  tenantbench ls --prefix tb_quickstart     # only inspects databases named tb_quickstart_*")]
    Ls(LsArgs),
    /// Drop the databases tenantbench created for a scenario or prefix (never any other).
    #[command(after_help = "EXAMPLES:
  tenantbench drop --scenario scenarios/quickstart.toml               # every layout
  tenantbench drop --scenario scenarios/quickstart.toml --layout per-tenant
  tenantbench drop --prefix tb_quickstart")]
    Drop(DropArgs),
    /// Check a server: reachable, version, surrogate or not, round-trip time, cache size.
    Doctor(ServerArgs),
    /// Seed if needed (same flags as seed), run the scenario's workload, print latencies and
    /// plan evidence. (Matrix, trials and results files are being built.)
    #[command(after_help = "EXAMPLES:
  tenantbench run --scenario scenarios/quickstart.toml --indexes none
  tenantbench run --scenario scenarios/quickstart.toml --indexes tenant --layout per-tenant")]
    Run(SeedArgs),
}

/// Which server.
#[derive(Debug, Args, Clone)]
pub struct ServerArgs {
    /// MongoDB URI of the default server.
    #[arg(long, env = "TENANTBENCH_MONGO_URI", default_value = crate::backend::mongo::DEFAULT_URI, hide_env_values = true)]
    pub uri: String,
}

/// `ls` arguments.
#[derive(Debug, Args, Clone)]
pub struct LsArgs {
    /// Only databases of this prefix.
    #[arg(long)]
    pub prefix: Option<String>,
    /// Server.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Which scenario, layout and databases.
#[derive(Debug, Args, Clone)]
pub struct Target {
    /// Scenario file (TOML).
    #[arg(long, short = 's', value_name = "FILE")]
    pub scenario: PathBuf,
    /// Layout (default: the scenario's `layout.default`, else shared).
    #[arg(long, short = 'l', value_enum)]
    pub layout: Option<Layout>,
    /// Database name prefix, overriding the scenario's.
    #[arg(long)]
    pub prefix: Option<String>,
    /// Server.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// `seed` arguments.
#[derive(Debug, Args, Clone)]
pub struct SeedArgs {
    /// Scenario, layout, prefix and server.
    #[command(flatten)]
    pub target: Target,
    /// Index profile: none, tenant, compound, or a profile defined in the scenario.
    #[arg(long, short = 'i', value_name = "PROFILE")]
    pub indexes: Option<String>,
    /// Documents per insert_many (default: the scenario's, else 1000).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Concurrent insert workers (default: the scenario's, else 4).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Build indexes before or after the bulk load (default: the scenario's, else after).
    #[arg(long, value_enum)]
    pub index_build: Option<IndexBuild>,
    /// Drop and reload even databases that already hold the same complete data.
    #[arg(long)]
    pub reseed: bool,
    /// No progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

/// `verify` arguments.
#[derive(Debug, Args, Clone)]
pub struct VerifyArgs {
    /// Scenario, layout, prefix and server.
    #[command(flatten)]
    pub target: Target,
    /// No progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

/// `drop` arguments.
#[derive(Debug, Args, Clone)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["scenario", "prefix"])))]
pub struct DropArgs {
    /// Scenario whose databases to drop.
    #[arg(long, short = 's', value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Only this layout's databases.
    #[arg(long, short = 'l', value_enum)]
    pub layout: Option<Layout>,
    /// Prefix whose databases to drop (with --scenario: overrides the scenario's prefix).
    #[arg(long)]
    pub prefix: Option<String>,
    /// Server.
    #[command(flatten)]
    pub server: ServerArgs,
}
