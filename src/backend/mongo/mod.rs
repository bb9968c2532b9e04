//! The MongoDB backend: connections to one or more servers, the marker that proves a database
//! is ours, seeding, verification, listing, dropping and the doctor's checks.

mod admin;
mod evidence;
mod ops;
mod registry;
mod seed;
pub(crate) mod verify;

use std::collections::BTreeMap;
use std::time::Duration;

use mongodb::bson::{self, Document, doc};
use mongodb::options::ClientOptions;
use mongodb::{Client, Database};
use serde::{Deserialize, Serialize};

pub use admin::{DoctorReport, DropOutcome, MarkedDb, doctor, drop_marked, list_marked, ping};
pub use evidence::{CheckoutStats, sample_connections, server_connections};
pub use ops::{Answer, Explain, LIST_LIMIT, MongoBackend, Routing, error_kind};
pub use registry::{ClientRegistry, RegistryStats};
pub use seed::{
    DbOutcome, IndexBuildTime, SeedOptions, SeedSummary, Unit, check_ready, insert_units,
    progress_bar, raw_document, seed, unit_documents, work_units,
};
pub use verify::{Mismatch, VerifyReport, verify};

use crate::backend::redact_uri;
use crate::datagen::DATAGEN_VERSION;
use crate::layout::Layout;
use crate::layout::{Placement, Server};
use crate::population::Population;
use crate::scenario::Scenario;

/// Default URI of the local server.
pub const DEFAULT_URI: &str = "mongodb://127.0.0.1:27017";
/// Environment variable that overrides the default URI.
pub const URI_ENV: &str = "TENANTBENCH_MONGO_URI";
/// The collection holding the marker in every database the harness creates.
pub const MARKER_COLLECTION: &str = "_tenantbench";

/// Errors of the MongoDB backend, with the context that explains them.
#[derive(Debug, thiserror::Error)]
pub enum MongoError {
    /// A driver call failed.
    #[error("{context}: {source}")]
    Driver {
        /// What was being done (database, collection, command).
        context: String,
        /// The driver's error.
        source: mongodb::error::Error,
    },
    /// A placement names a server whose URI variable is not set.
    #[error(
        "the scenario places tenants on the server in ${var}, but ${var} is not set; export it with that server's URI"
    )]
    MissingUriEnv {
        /// The variable name.
        var: String,
    },
    /// Databases exist that the harness did not create.
    #[error(
        "refusing to write: {} not empty and carr{} no tenantbench marker (not created by tenantbench): {}. Drop or rename {}, or choose another --prefix",
        if .0.len() == 1 { "this database is" } else { "these databases are" },
        if .0.len() == 1 { "ies" } else { "y" },
        .0.join(", "),
        if .0.len() == 1 { "it" } else { "them" }
    )]
    Foreign(Vec<String>),
    /// A database is not in the state a command needs.
    #[error("{0}")]
    State(String),
}

/// Adds context to a driver result.
pub(crate) trait Context<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T, MongoError>;
}

impl<T> Context<T> for Result<T, mongodb::error::Error> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T, MongoError> {
        self.map_err(|source| MongoError::Driver {
            context: what(),
            source,
        })
    }
}

/// Connection settings shared by every client the harness creates.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Largest number of pooled connections per client.
    pub max_pool_size: u32,
    /// Connections each client keeps open.
    pub min_pool_size: u32,
    /// How long to wait for a server before failing.
    pub server_selection_timeout: Duration,
    /// Where the clients' pool events (checkout waits) go.
    pub checkout: Option<std::sync::Arc<CheckoutStats>>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            max_pool_size: 16,
            min_pool_size: 0,
            server_selection_timeout: Duration::from_secs(10),
            checkout: None,
        }
    }
}

/// Creates a client for a URI (not yet connected: the driver connects lazily).
///
/// # Errors
/// When the URI does not parse; the message never contains the URI's credentials.
pub async fn client(uri: &str, opts: &ConnectOptions) -> Result<Client, MongoError> {
    let mut o = ClientOptions::parse(uri)
        .await
        .ctx(|| format!("parsing MongoDB URI {}", redact_uri(uri)))?;
    o.app_name = Some(format!("tenantbench/{}", env!("CARGO_PKG_VERSION")));
    o.max_pool_size = Some(opts.max_pool_size);
    if opts.min_pool_size > 0 {
        o.min_pool_size = Some(opts.min_pool_size);
    }
    if let Some(c) = &opts.checkout {
        o.cmap_event_handler = Some(c.handler());
    }
    // Timeouts written in the URI win over the harness's defaults.
    o.server_selection_timeout
        .get_or_insert(opts.server_selection_timeout);
    o.connect_timeout
        .get_or_insert(opts.server_selection_timeout.min(Duration::from_secs(5)));
    Client::with_options(o).ctx(|| format!("creating a client for {}", redact_uri(uri)))
}

/// Clients for every server a placement uses.
#[derive(Debug, Clone)]
pub struct Servers {
    clients: BTreeMap<Server, Client>,
}

impl Servers {
    /// Connects to the default server (`uri`) and to each server named by the placement's
    /// `uri_env` variables.
    ///
    /// # Errors
    /// [`MongoError::MissingUriEnv`] when such a variable is unset; driver errors for bad URIs.
    pub async fn for_placement(
        uri: &str,
        placement: &Placement,
        opts: &ConnectOptions,
    ) -> Result<Servers, MongoError> {
        let mut clients = BTreeMap::new();
        for s in placement.servers() {
            let c = match &s {
                Server::Default => client(uri, opts).await?,
                Server::Env(var) => {
                    let u = std::env::var(var)
                        .map_err(|_| MongoError::MissingUriEnv { var: var.clone() })?;
                    client(&u, opts).await?
                }
            };
            clients.insert(s, c);
        }
        Ok(Servers { clients })
    }

    /// The client of a server.
    pub fn client(&self, s: &Server) -> &Client {
        &self.clients[s]
    }

    /// Every server with its client.
    pub fn iter(&self) -> impl Iterator<Item = (&Server, &Client)> {
        self.clients.iter()
    }

    /// The URI of a server: `uri` for the default one, the variable's value otherwise.
    ///
    /// # Errors
    /// [`MongoError::MissingUriEnv`] when the variable is unset.
    pub fn uri_of(uri: &str, s: &Server) -> Result<String, MongoError> {
        match s {
            Server::Default => Ok(uri.to_string()),
            Server::Env(var) => {
                std::env::var(var).map_err(|_| MongoError::MissingUriEnv { var: var.clone() })
            }
        }
    }

    /// A database handle.
    pub fn db(&self, s: &Server, name: &str) -> Database {
        self.clients[s].database(name)
    }

    /// Shuts every client down.
    pub async fn shutdown(self) {
        for (_, c) in self.clients {
            c.shutdown().await;
        }
    }
}

/// The `_tenantbench` record in every database the harness creates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Marker {
    /// Always `"marker"`.
    #[serde(rename = "_id")]
    pub id: String,
    /// Database name prefix of the scenario that created it.
    pub prefix: String,
    /// Scenario name.
    pub scenario: String,
    /// Layout name.
    pub layout: String,
    /// Placement kind of this database (`shared`, `dedicated`, `pooled`).
    pub placement: String,
    /// Hash of everything that defines the data: population, collection mix, seed, datagen
    /// version, scale, layout (and hybrid rules).
    pub definition_hash: String,
    /// The index profile the database's indexes match.
    pub index_profile: String,
    /// Set only when the whole seed finished.
    pub complete: bool,
    /// Set by write operations: the data no longer equals what the generator says.
    pub dirty: bool,
    /// Harness version that wrote the marker.
    pub harness_version: String,
    /// Generator version of the data.
    pub datagen_version: u32,
    /// Tenants in this database.
    pub tenants: u32,
    /// Documents in this database when seeded.
    pub documents: i64,
    /// When the marker was first written (wall clock).
    pub created_at: bson::DateTime,
    /// When the marker last changed.
    pub updated_at: bson::DateTime,
}

/// What a database holds, as far as the harness is concerned.
#[derive(Debug, Clone, PartialEq)]
pub enum DbState {
    /// No collections at all.
    Empty,
    /// Carries a tenantbench marker.
    Marked(Box<Marker>),
    /// Has collections but no marker: somebody else's; never written or dropped.
    Foreign,
}

/// Reads a database's marker and decides whether it is ours.
///
/// # Errors
/// Driver errors (server unreachable, permissions).
pub async fn inspect(db: &Database) -> Result<DbState, MongoError> {
    let names = db
        .list_collection_names()
        .await
        .ctx(|| format!("listing collections of {}", db.name()))?;
    if names.is_empty() {
        return Ok(DbState::Empty);
    }
    if !names.iter().any(|n| n == MARKER_COLLECTION) {
        return Ok(DbState::Foreign);
    }
    let raw: Option<Document> = db
        .collection::<Document>(MARKER_COLLECTION)
        .find_one(doc! {"_id": "marker"})
        .await
        .ctx(|| format!("reading the marker of {}", db.name()))?;
    match raw.map(bson::from_document::<Marker>) {
        Some(Ok(m)) => Ok(DbState::Marked(Box::new(m))),
        // A `_tenantbench` collection without a readable marker is not proof of ownership.
        _ => Ok(DbState::Foreign),
    }
}

/// Writes (replaces) a database's marker.
///
/// # Errors
/// Driver errors.
pub async fn write_marker(db: &Database, m: &Marker) -> Result<(), MongoError> {
    let d = bson::to_document(m).map_err(|e| MongoError::State(format!("encoding marker: {e}")))?;
    db.collection::<Document>(MARKER_COLLECTION)
        .replace_one(doc! {"_id": "marker"}, d)
        .upsert(true)
        .await
        .ctx(|| format!("writing the marker of {}", db.name()))?;
    Ok(())
}

/// The hash of everything that defines a layout's data (not the index profile, not the prefix).
pub fn definition_hash(scenario: &Scenario, layout: Layout) -> String {
    #[derive(Serialize)]
    struct Def<'a> {
        datagen_version: u32,
        seed: u64,
        population: &'a crate::population::PopulationSpec,
        mix: &'a [f64],
        scale: f64,
        layout: &'a str,
        hybrid_rules: Option<&'a [crate::layout::Rule]>,
    }
    let def = Def {
        datagen_version: DATAGEN_VERSION,
        seed: scenario.seed,
        population: &scenario.population,
        mix: &scenario.mix,
        scale: 1.0,
        layout: layout.name(),
        hybrid_rules: (layout == Layout::Hybrid).then_some(&scenario.hybrid_rules[..]),
    };
    let json = serde_json::to_vec(&def).expect("definition serialises");
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&json))
}

/// A new marker for a database of a placement.
pub fn new_marker(
    scenario: &Scenario,
    layout: Layout,
    db: &crate::layout::DbPlan,
    pop: &Population,
    profile: &str,
) -> Marker {
    let now = bson::DateTime::now();
    Marker {
        id: "marker".into(),
        prefix: scenario.prefix.clone(),
        scenario: scenario.name.clone(),
        layout: layout.name().into(),
        placement: format!("{:?}", db.kind).to_lowercase(),
        definition_hash: definition_hash(scenario, layout),
        index_profile: profile.into(),
        complete: false,
        dirty: false,
        harness_version: env!("CARGO_PKG_VERSION").into(),
        datagen_version: DATAGEN_VERSION,
        tenants: db.tenants.len() as u32,
        documents: db
            .tenants
            .iter()
            .map(|&t| pop.tenants[t].documents as i64)
            .sum(),
        created_at: now,
        updated_at: now,
    }
}
