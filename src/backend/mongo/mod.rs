//! The MongoDB backend: connections to one or more servers, the marker that proves a database
//! is ours, seeding, verification, listing, dropping and the doctor's checks.

mod admin;
pub mod audit;
mod custom;
mod driver;
mod errors;
mod evidence;
mod fault;
mod migrate;
mod ops;
mod registry;
mod seed;
pub mod tenant;
mod verify;

use std::collections::BTreeMap;
use std::time::Duration;

use mongodb::bson::{self, Document, doc};
use mongodb::options::ClientOptions;
use mongodb::{Client, Database};
use serde::{Deserialize, Serialize};

pub use admin::{DoctorReport, doctor, drop_marked, list_marked, list_marked_sized, ping};
pub use driver::{MongoDriver, MongoSession};
pub use errors::explain;
pub use evidence::{CheckoutStats, sample_connections, server_connections};
pub use migrate::{MongoMigration, clear_directory, read_directory};
pub use ops::{Answer, Explain, LIST_LIMIT, MongoBackend, Routing, error_kind};
pub use registry::{ClientRegistry, RegistryStats};
pub use seed::{MongoSeeder, check_ready, insert_units, raw_document, seed, unit_documents};
pub use verify::verify;

use crate::backend::marker::{DbState, Marker};
use crate::backend::redact_uri;
use crate::datagen::DATAGEN_VERSION;
use crate::layout::{Placement, Server};

/// Default URI of the local server.
pub const DEFAULT_URI: &str = "mongodb://127.0.0.1:27017";
/// Environment variable that overrides the default URI.
pub const URI_ENV: &str = "TENANTBENCH_MONGO_URI";
/// The collection holding the marker in every database the harness creates.
pub const MARKER_COLLECTION: &str = "_tenantbench";

/// Errors of the MongoDB backend, with the context that explains them.
#[derive(Debug, thiserror::Error)]
pub enum MongoError {
    /// A driver call failed: what was being done, then the driver's error in one line
    /// ([`explain`]). The driver's error is kept but not chained as a source, so `{:#}` does
    /// not print its debug structure again.
    #[error("{context}: {}", explain(error))]
    Driver {
        /// What was being done (database, collection, command).
        context: String,
        /// The driver's error.
        error: mongodb::error::Error,
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
        self.map_err(|error| MongoError::Driver {
            context: what(),
            error,
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

/// The `_tenantbench` record as MongoDB stores it (camelCase fields, BSON dates).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredMarker {
    #[serde(rename = "_id")]
    id: String,
    prefix: String,
    scenario: String,
    layout: String,
    placement: String,
    definition_hash: String,
    index_profile: String,
    complete: bool,
    dirty: bool,
    harness_version: String,
    datagen_version: u32,
    tenants: u32,
    documents: i64,
    created_at: bson::DateTime,
    updated_at: bson::DateTime,
}

impl From<StoredMarker> for Marker {
    fn from(m: StoredMarker) -> Marker {
        Marker {
            prefix: m.prefix,
            scenario: m.scenario,
            layout: m.layout,
            placement: m.placement,
            definition_hash: m.definition_hash,
            index_profile: m.index_profile,
            complete: m.complete,
            dirty: m.dirty,
            tenants: u64::from(m.tenants),
            records: m.documents.max(0) as u64,
        }
    }
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
    match raw.map(bson::from_document::<StoredMarker>) {
        Some(Ok(m)) => Ok(DbState::Marked(Box::new(m.into()))),
        // A `_tenantbench` collection without a readable marker is not proof of ownership.
        _ => Ok(DbState::Foreign),
    }
}

/// Writes (replaces) a database's marker, keeping the time it was first written.
///
/// # Errors
/// Driver errors.
pub async fn write_marker(db: &Database, m: &Marker) -> Result<(), MongoError> {
    let now = bson::DateTime::now();
    let stored = StoredMarker {
        id: "marker".into(),
        prefix: m.prefix.clone(),
        scenario: m.scenario.clone(),
        layout: m.layout.clone(),
        placement: m.placement.clone(),
        definition_hash: m.definition_hash.clone(),
        index_profile: m.index_profile.clone(),
        complete: m.complete,
        dirty: m.dirty,
        harness_version: env!("CARGO_PKG_VERSION").into(),
        datagen_version: DATAGEN_VERSION,
        tenants: m.tenants as u32,
        documents: m.records as i64,
        created_at: now,
        updated_at: now,
    };
    let mut set = bson::to_document(&stored)
        .map_err(|e| MongoError::State(format!("encoding marker: {e}")))?;
    set.remove("_id");
    set.remove("createdAt");
    db.collection::<Document>(MARKER_COLLECTION)
        .update_one(
            doc! {"_id": "marker"},
            doc! {"$set": set, "$setOnInsert": {"createdAt": now}},
        )
        .upsert(true)
        .await
        .ctx(|| format!("writing the marker of {}", db.name()))?;
    Ok(())
}

/// The port of a URI whose (first) host is this machine.
pub fn local_port(uri: &str) -> Option<u16> {
    use mongodb::options::{ConnectionString, HostInfo, ServerAddress};
    let cs = ConnectionString::parse(uri).ok()?;
    let HostInfo::HostIdentifiers(hosts) = cs.host_info else {
        return None;
    };
    match hosts.first()? {
        ServerAddress::Tcp { host, port } => {
            matches!(host.as_str(), "127.0.0.1" | "localhost" | "::1" | "[::1]")
                .then(|| port.unwrap_or(27017))
        }
        #[allow(unreachable_patterns)]
        _ => None,
    }
}
