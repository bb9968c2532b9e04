//! What a placement refuses: a move in a layout that keeps no tenant directory, and a
//! directory that moves a tenant the population does not have.

use super::Layout;

/// A move a placement cannot take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    /// Tenants are moved only in layouts that keep a shared database and a tenant directory
    /// (`shared`, `hybrid`).
    #[error(
        "--layout {0}: tenants are moved in the shared and hybrid layouts, which keep a shared database and a tenant directory; {0} has none"
    )]
    NotMoved(Layout),
    /// The tenant directory moves a tenant the scenario's population does not have.
    #[error(
        "the tenant directory moves tenant {tenant} to {database}, but the scenario has no such tenant"
    )]
    UnknownTenant {
        /// The tenant's id, as the directory has it.
        tenant: String,
        /// The database the directory moves it to.
        database: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_layout_or_the_tenant_and_its_database() {
        assert_eq!(
            PlacementError::NotMoved(Layout::PerTenant).to_string(),
            "--layout per-tenant: tenants are moved in the shared and hybrid layouts, which keep a shared database and a tenant directory; per-tenant has none"
        );
        let e = PlacementError::UnknownTenant {
            tenant: "t09999".into(),
            database: "tb_p_t_t09999".into(),
        };
        assert_eq!(
            e.to_string(),
            "the tenant directory moves tenant t09999 to tb_p_t_t09999, but the scenario has no such tenant"
        );
    }
}
