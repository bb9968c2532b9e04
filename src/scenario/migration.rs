//! A migration under load: `[[phase]] migrate = { tenant, to, copy_rate, batch_size, delete_source }`
//! moves one tenant while the workload runs, starting when its phase starts; an explicit
//! `[[matrix.variant]]` may move another tenant (`migrate_tenant`) or at another copy
//! rate (`migrate_copy_rate`), so one run compares tenants and copy limits side by side.

use crate::layout::PlacementKind;
use crate::population::Population;

/// Which tenant moves: by size rank, so a scaled copy of the scenario still has it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantPick {
    /// The largest tenant (rank 1).
    Largest,
    /// The tenant of the middle rank (`n / 2` rounded up).
    Median,
    /// A tenant by id (`t00042`).
    Id(String),
}

impl TenantPick {
    /// Parses `largest`, `median` or a tenant id `t` + digits.
    pub fn parse(s: &str) -> Option<TenantPick> {
        match s {
            "largest" => Some(TenantPick::Largest),
            "median" => Some(TenantPick::Median),
            id if id.len() > 1
                && id.starts_with('t')
                && id[1..].chars().all(|c| c.is_ascii_digit()) =>
            {
                Some(TenantPick::Id(id.to_string()))
            }
            _ => None,
        }
    }

    /// The name as written (`largest`, `median`, the id).
    pub fn name(&self) -> &str {
        match self {
            TenantPick::Largest => "largest",
            TenantPick::Median => "median",
            TenantPick::Id(id) => id,
        }
    }

    /// The tenant's index in a population, if it has one.
    pub fn index(&self, pop: &Population) -> Option<usize> {
        let n = pop.tenants.len();
        match self {
            _ if n == 0 => None,
            TenantPick::Largest => Some(0),
            TenantPick::Median => Some(n.div_ceil(2) - 1),
            TenantPick::Id(id) => pop.tenants.iter().position(|t| &t.id == id),
        }
    }
}

/// One migration: which tenant, where to, how fast.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MigrationSpec {
    /// The tenant.
    pub tenant: TenantPick,
    /// Its destination's placement kind.
    pub to: PlacementKind,
    /// Records per second the copy may not exceed (`None`: unlimited).
    pub copy_rate: Option<f64>,
    /// Records per copy batch.
    pub batch_size: usize,
    /// Delete the tenant's records from the source after the cut-over.
    pub delete_source: bool,
}

impl MigrationSpec {
    /// A short, file-name-safe token for variant ids: `mv.largest.dedicated.r2000`.
    pub fn token(&self) -> String {
        let rate = match self.copy_rate {
            Some(r) => format!("r{}", r.round() as u64),
            None => "rmax".to_string(),
        };
        format!("mv.{}.{}.{rate}", self.tenant.name(), self.to.name())
    }

    /// In words: `moves the largest tenant to a dedicated database at ≤ 2000 records/s`.
    pub fn describe(&self) -> String {
        let who = match &self.tenant {
            TenantPick::Id(id) => format!("tenant {id}"),
            p => format!("the {} tenant", p.name()),
        };
        let rate = match self.copy_rate {
            Some(r) => format!(" at ≤ {r} records/s"),
            None => String::new(),
        };
        format!("moves {who} to a {} database{rate}", self.to.name())
    }

    /// The class its tenant is measured in during a run: a role of its own, so its latency and
    /// errors are kept apart from everyone else's.
    pub fn class_of(id: &str) -> String {
        format!("moving-{id}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_parse_and_resolve_by_rank() {
        assert_eq!(TenantPick::parse("largest"), Some(TenantPick::Largest));
        assert_eq!(
            TenantPick::parse("t00042"),
            Some(TenantPick::Id("t00042".into()))
        );
        assert_eq!(TenantPick::parse("biggest"), None);
        assert_eq!(TenantPick::parse("t"), None);
        assert_eq!(TenantPick::parse("t12x"), None);
        let s = crate::scenario::Scenario::parse(
            std::path::Path::new("p.toml"),
            "name = \"p\"\n[population]\ntenants = 41\ndocuments = 4100\ndistribution = \"uniform\"\n",
        )
        .unwrap();
        let pop = s.build_population();
        assert_eq!(TenantPick::Largest.index(&pop), Some(0));
        assert_eq!(TenantPick::Median.index(&pop), Some(20));
        assert_eq!(TenantPick::Id("t00041".into()).index(&pop), Some(40));
        assert_eq!(TenantPick::Id("t00042".into()).index(&pop), None);
    }
}
