//! Shared helpers: the server under test, tiny scenarios, unique prefixes.

use std::path::Path;
use std::time::Duration;

use mongodb::Client;
use tenantbench::backend::mongo::{self, ConnectOptions, Servers};
use tenantbench::layout::Layout;
use tenantbench::layout::Placement;
use tenantbench::op::Op;
use tenantbench::population::Population;
use tenantbench::scenario::Scenario;

/// The read operations of the catalogue: what layouts and tiers must answer alike.
pub const READS: [Op; 6] = [
    Op::ListRecent,
    Op::GetById,
    Op::CountByStatus,
    Op::FindUserByEmail,
    Op::RevenueByDay,
    Op::AdminCrossTenant,
];

/// The URI of the server under test.
pub fn uri() -> String {
    std::env::var(mongo::URI_ENV).unwrap_or_else(|_| mongo::DEFAULT_URI.to_string())
}

/// A client of the server under test, or `None` (with a skip line) when none answers.
/// With `CI` set, a missing server fails the test instead.
pub async fn server() -> Option<Client> {
    let opts = ConnectOptions {
        server_selection_timeout: Duration::from_secs(3),
        ..Default::default()
    };
    let client = mongo::client(&uri(), &opts)
        .await
        .expect("client for the test URI");
    let Err(why) = mongo::ping(&client).await else {
        return Some(client);
    };
    if std::env::var_os("CI").is_some() {
        panic!(
            "CI is set but no MongoDB server answers at {}: {why}",
            uri()
        );
    }
    eprintln!(
        "SKIPPED: no MongoDB server at {} ({why}); start one with scripts/mongo-local.sh start",
        uri()
    );
    None
}

/// A tiny scenario with its own prefix; `extra` is appended to the TOML.
pub fn tiny(prefix: &str, tenants: u32, documents: u64, extra: &str) -> Scenario {
    let text = format!(
        "name = \"tiny\"\nprefix = \"{prefix}\"\nseed = 7\n[population]\ntenants = {tenants}\ndocuments = {documents}\n\
         distribution = {{ zipf = {{ s = 1.0 }} }}\nmin_per_tenant = 5\n[population.tiers]\nenterprise = 10\npremium = 20\nbasic = 30\n\
         [load]\nbatch_size = 250\nworkers = 3\n{extra}"
    );
    Scenario::parse(Path::new("tiny.toml"), &text).expect("tiny scenario parses")
}

/// Everything a test needs for one layout.
pub struct Setup {
    pub scenario: Scenario,
    pub pop: Population,
    pub placement: Placement,
    pub servers: Servers,
}

pub async fn setup(scenario: Scenario, layout: Layout) -> Setup {
    let pop = scenario.build_population();
    let placement = scenario.placement(&pop, layout);
    let servers = Servers::for_placement(&uri(), &placement, &ConnectOptions::default())
        .await
        .expect("servers");
    Setup {
        scenario,
        pop,
        placement,
        servers,
    }
}

impl Setup {
    /// Seeds the setup's layout with an index profile (no progress bar), expecting success.
    pub async fn seed(&self, indexes: &str) -> tenantbench::backend::seed::SeedSummary {
        let opts = seed_opts(&self.scenario, self.placement.layout, indexes);
        mongo::seed(
            &self.servers,
            &self.scenario,
            &self.pop,
            &self.placement,
            &opts,
        )
        .await
        .expect("seed")
    }

    /// Verifies the setup's layout (no progress bar), expecting the verification to run.
    pub async fn verify(&self) -> tenantbench::backend::verify::VerifyReport {
        mongo::verify(
            &self.servers,
            &self.scenario,
            &self.pop,
            &self.placement,
            false,
        )
        .await
        .expect("verify")
    }
}

/// Seed options for tests: the scenario's load settings, no progress bar.
pub fn seed_opts(
    s: &Scenario,
    layout: Layout,
    indexes: &str,
) -> tenantbench::backend::seed::SeedOptions {
    tenantbench::backend::seed::SeedOptions::from_scenario(s, layout, indexes)
}

/// Drops everything a test prefix left behind.
pub async fn clean(client: &Client, prefix: &str) {
    mongo::drop_marked(client, prefix, None)
        .await
        .expect("clean up");
}

/// The address a `serve` child prints on stderr (`serving NAME on http://ADDR: …`), read from
/// its lines; the lines after it stay in the iterator.
pub fn served_address(lines: &mut impl Iterator<Item = std::io::Result<String>>) -> String {
    lines
        .map_while(Result::ok)
        .find_map(|l| {
            let rest = l.split("on http://").nth(1)?.to_string();
            let mut parts = rest.splitn(3, ':');
            Some(format!("{}:{}", parts.next()?, parts.next()?))
        })
        .expect("serve prints its address")
}
