//! Index profiles: the built-in ones (`none`, `tenant`, `compound`, `partial`), which backends
//! have them, and how a scenario resolves a profile name to per-collection index keys.

use std::collections::BTreeMap;

use super::{IndexKeys, Scenario};
use crate::datagen::Collection;
use crate::op::BackendKind;

/// Built-in index profile names.
pub const BUILTIN_PROFILES: [&str; 4] = ["none", "tenant", "compound", "partial"];

/// Whether an index profile exists on a backend: `partial` (a hot-status partial index next to
/// `tenant_id`) is PostgreSQL's.
pub fn profile_on(name: &str, backend: BackendKind) -> bool {
    name != "partial" || backend == BackendKind::Postgres
}

impl Scenario {
    /// Resolves an index profile name to per-collection index keys.
    ///
    /// Built-in profiles: `none` (only `_id`), `tenant` (`{tenant: 1}` everywhere), `compound`
    /// (`{tenant: 1, status: 1, createdAt: -1}` where a collection has those fields, else
    /// `{tenant: 1}`).
    pub fn index_profile(&self, name: &str) -> Option<BTreeMap<Collection, Vec<IndexKeys>>> {
        let tenant: IndexKeys = vec![("tenant".into(), false)];
        match name {
            "none" => Some(Collection::ALL.iter().map(|&c| (c, Vec::new())).collect()),
            "tenant" => Some(
                Collection::ALL
                    .iter()
                    .map(|&c| (c, vec![tenant.clone()]))
                    .collect(),
            ),
            // On PostgreSQL `partial` adds partial indexes on top (backend::postgres::schema).
            "partial" => Some(
                Collection::ALL
                    .iter()
                    .map(|&c| (c, vec![tenant.clone()]))
                    .collect(),
            ),
            "compound" => Some(
                Collection::ALL
                    .iter()
                    .map(|&c| {
                        let keys = if c.has_field("status") && c.has_field("createdAt") {
                            vec![
                                ("tenant".into(), false),
                                ("status".into(), false),
                                ("createdAt".into(), true),
                            ]
                        } else {
                            tenant.clone()
                        };
                        (c, vec![keys])
                    })
                    .collect(),
            ),
            other => self.index_profiles.get(other).map(|p| {
                Collection::ALL
                    .iter()
                    .map(|&c| (c, p.get(&c).cloned().unwrap_or_default()))
                    .collect()
            }),
        }
    }

    /// Every index profile name this scenario accepts.
    pub fn profile_names(&self) -> Vec<String> {
        BUILTIN_PROFILES
            .iter()
            .map(|s| s.to_string())
            .chain(self.index_profiles.keys().cloned())
            .collect()
    }
}
