//! `[target]`: a team's own database, which a run reads as it is (issue 16) — which database
//! (and PostgreSQL schema), the tenant field, and where the tenants and their weights come
//! from. Such a run never seeds, never writes a marker, and runs only the scenario's own
//! operations.

use std::path::PathBuf;

/// Where an existing target's tenants and their weights come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantsFrom {
    /// Counted in the database: documents per tenant value over `collections` (every
    /// collection that carries the tenant field when empty).
    Database {
        /// The collections or tables whose documents weigh a tenant.
        collections: Vec<String>,
    },
    /// A file of `tenant,weight[,class]` rows (CSV) or such objects (JSON), as written
    /// (relative to the scenario's folder).
    File(PathBuf),
}

/// `[target] existing = true`: the database a run reads instead of generated data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    /// The database (MongoDB) or database (PostgreSQL) to read.
    pub database: String,
    /// PostgreSQL: the schema first on the connections' `search_path`; `None`: the server's.
    pub schema: Option<String>,
    /// The tenant field; `None`: detected as `audit` detects it.
    pub tenant_field: Option<String>,
    /// The tenants and their weights.
    pub tenants: TenantsFrom,
}

impl TargetSpec {
    /// How the tenants were found, for results and reports.
    pub fn tenants_from(&self) -> String {
        match &self.tenants {
            TenantsFrom::Database { collections } if collections.is_empty() => {
                "counted in the database (documents per tenant)".into()
            }
            TenantsFrom::Database { collections } => format!(
                "counted in the database (documents per tenant in {})",
                collections.join(", ")
            ),
            TenantsFrom::File(p) => format!("the file {}", p.display()),
        }
    }
}
