//! Placement: which database (on which server) holds each tenant, for each layout. Backend
//! independent; database names follow ARCHITECTURE.md's vocabulary.
//!
//! - `shared`: `<prefix>_shared`
//! - `per-tenant`: `<prefix>_t_<tenant>`
//! - `schema-per-tenant` (PostgreSQL): `<prefix>_schemas`, a schema `t_<tenant>` per tenant
//! - `rls` (PostgreSQL): `<prefix>_rls`, shared tables behind row-level security
//! - `hybrid`: `<prefix>_hy_t_<tenant>` (dedicated), `<prefix>_hy_pool_<n>` (pooled),
//!   `<prefix>_hy_shared` (the rest); hybrid names differ from the other layouts' so all three
//!   layouts of one scenario can live side by side on one server.

mod error;
pub use error::PlacementError;

use std::collections::BTreeMap;

use crate::population::{Population, Tenant};
use serde::Deserialize;

use crate::op::BackendKind;

/// The tenancy layout a dataset is placed in (vocabulary: ARCHITECTURE.md).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Deserialize,
    serde::Serialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// One database; documents carry `tenant`.
    Shared,
    /// One database per tenant.
    PerTenant,
    /// Placement by tier or role: dedicated, pooled or shared databases.
    Hybrid,
    /// PostgreSQL: one database, a schema per tenant.
    SchemaPerTenant,
    /// PostgreSQL: shared tables with row-level security on `tenant_id`.
    Rls,
}

impl Layout {
    /// Every layout the MongoDB backend knows.
    pub const ALL: [Layout; 3] = [Layout::Shared, Layout::PerTenant, Layout::Hybrid];
    /// Every layout the PostgreSQL backend knows.
    pub const POSTGRES: [Layout; 5] = [
        Layout::Shared,
        Layout::PerTenant,
        Layout::Hybrid,
        Layout::SchemaPerTenant,
        Layout::Rls,
    ];

    /// The name used in scenarios, on the command line and in markers.
    pub fn name(self) -> &'static str {
        match self {
            Layout::Shared => "shared",
            Layout::PerTenant => "per-tenant",
            Layout::Hybrid => "hybrid",
            Layout::SchemaPerTenant => "schema-per-tenant",
            Layout::Rls => "rls",
        }
    }

    /// Parses a layout name as written on the command line.
    pub fn parse(s: &str) -> Option<Layout> {
        Layout::POSTGRES.into_iter().find(|l| l.name() == s)
    }

    /// Whether the layout exists on a backend (`schema-per-tenant` and `rls` are PostgreSQL's).
    pub fn on(self, backend: BackendKind) -> bool {
        match backend {
            BackendKind::Mongodb => Layout::ALL.contains(&self),
            BackendKind::Postgres => true,
        }
    }
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a hybrid rule (or a migration) sends the tenants it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum PlacementKind {
    /// A database of its own per tenant.
    Dedicated,
    /// Databases shared by `tenants_per_db` tenants each.
    Pooled,
    /// The layout's shared database.
    Shared,
}

impl PlacementKind {
    /// The name used in scenarios, markers and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            PlacementKind::Dedicated => "dedicated",
            PlacementKind::Pooled => "pooled",
            PlacementKind::Shared => "shared",
        }
    }

    /// Parses [`PlacementKind::name`].
    pub fn parse(s: &str) -> Option<PlacementKind> {
        [
            PlacementKind::Dedicated,
            PlacementKind::Pooled,
            PlacementKind::Shared,
        ]
        .into_iter()
        .find(|k| k.name() == s)
    }
}

impl std::fmt::Display for PlacementKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Tenants a pooled destination of a migration holds at most (the hybrid rules' default).
pub const MOVED_POOL_SIZE: usize = 4;

/// A tenant living elsewhere than its layout's rules place it: a migration's cut-over, as the
/// tenant directory in the layout's home database records it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct Move {
    /// Tenant id.
    pub tenant: String,
    /// The database it lives in now (on the default server).
    pub database: String,
    /// What kind of placement that database is.
    pub kind: PlacementKind,
    /// The directory version this move made.
    pub version: u64,
    /// Databases this tenant's moves deleted its records from (`--delete-source`): those the
    /// layout's rules place it in must be reloaded before the tenant is put back there.
    #[serde(default)]
    pub emptied: Vec<String>,
}

/// Which tenants a hybrid rule matches.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Matcher {
    /// Tenants whose class (tier, or role when they have one) or tier is this name.
    Class(String),
    /// The `n` largest tenants.
    Top(u32),
}

/// One hybrid placement rule; the first rule that matches a tenant places it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rule {
    /// Which tenants.
    pub matcher: Matcher,
    /// Where they go.
    pub placement: PlacementKind,
    /// For `pooled`: tenants per database.
    pub tenants_per_db: u32,
    /// The environment variable holding the URI of another server, if not the default one.
    /// Not part of the data's definition (where data lives is not what it is): two rule sets
    /// that differ only in servers share the definition hash of their databases.
    #[serde(skip_serializing)]
    pub uri_env: Option<String>,
}

/// Which server a database lives on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Server {
    /// The server of `--uri` / the backend's URI variable / its default.
    Default,
    /// The server whose URI is in this environment variable.
    Env(String),
}

impl std::fmt::Display for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Server::Default => f.write_str("default server"),
            Server::Env(v) => write!(f, "server in ${v}"),
        }
    }
}

/// One database of a placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbPlan {
    /// Database name.
    pub name: String,
    /// The server it lives on.
    pub server: Server,
    /// What kind of placement it is.
    pub kind: PlacementKind,
    /// Indices (rank - 1) of the tenants it holds, in rank order.
    pub tenants: Vec<usize>,
    /// Tenants the layout placed here that a migration moved elsewhere: their records may
    /// still be here (a move keeps its source unless told to delete it), and `verify` counts
    /// them as left behind rather than as strangers.
    pub moved_out: Vec<usize>,
}

/// Where every tenant of a scenario lives in one layout.
#[derive(Debug, Clone)]
pub struct Placement {
    /// The layout.
    pub layout: Layout,
    /// Databases, in a stable order.
    pub databases: Vec<DbPlan>,
    /// For each tenant (by index), the index of its database in `databases`.
    pub tenant_db: Vec<usize>,
}

impl Placement {
    /// The destination database of a move of `tenant` (its id) to a placement of `kind`: a
    /// database of its own, the first moved pool with room, or the layout's shared database;
    /// named under `prefix`.
    ///
    /// # Errors
    /// A layout tenants are not moved in.
    pub fn destination(
        &self,
        prefix: &str,
        tenant: &str,
        kind: PlacementKind,
    ) -> Result<String, PlacementError> {
        let layout = self.layout;
        let name = |n: usize| moved_name(prefix, layout, kind, tenant, n);
        let Some(first) = name(1) else {
            return Err(PlacementError::NotMoved(layout));
        };
        if kind != PlacementKind::Pooled {
            return Ok(first);
        }
        let mut n = 1;
        loop {
            let candidate = name(n).unwrap_or_default();
            let held = self
                .databases
                .iter()
                .find(|d| d.name == candidate)
                .map_or(0, |d| d.tenants.len());
            if held < MOVED_POOL_SIZE {
                return Ok(candidate);
            }
            n += 1;
        }
    }

    /// A team's own database (`[target] existing = true`): every one of `n` tenants in it,
    /// on the default server, as in the shared layout.
    pub fn existing(database: &str, n: usize) -> Placement {
        let (databases, tenant_db) = one_database(database.to_string(), n);
        Placement {
            layout: Layout::Shared,
            databases,
            tenant_db,
        }
    }

    /// Places a population with an explicit prefix and hybrid rules.
    pub fn with_prefix(
        prefix: &str,
        rules: &[Rule],
        population: &Population,
        layout: Layout,
    ) -> Placement {
        let n = population.tenants.len();
        let (databases, tenant_db) = match layout {
            Layout::Shared => one_database(format!("{prefix}_shared"), n),
            // One database; PostgreSQL places each tenant in its own schema (schema-per-tenant)
            // or keeps one set of tables behind row-level security (rls).
            Layout::SchemaPerTenant => one_database(format!("{prefix}_schemas"), n),
            Layout::Rls => one_database(format!("{prefix}_rls"), n),
            Layout::PerTenant => per_tenant(prefix, population),
            Layout::Hybrid => hybrid(prefix, rules, population),
        };
        Placement {
            layout,
            databases,
            tenant_db,
        }
    }

    /// The database holding the layout's shared tenants on the default server, which keeps the
    /// tenant directory: `shared`'s one database, `hybrid`'s shared one. `None` where a layout
    /// has none (`per-tenant`) or keeps tenants apart inside one (`schema-per-tenant`, `rls`):
    /// tenants are not migrated there.
    pub fn home(&self) -> Option<usize> {
        if !matches!(self.layout, Layout::Shared | Layout::Hybrid) {
            return None;
        }
        self.databases
            .iter()
            .position(|d| d.kind == PlacementKind::Shared && d.server == Server::Default)
    }

    /// The placement with the directory's moves applied: each moved tenant taken out of the
    /// database the rules gave it (remembered in `moved_out`) and put into its destination,
    /// which is appended when the rules do not name it.
    ///
    /// # Errors
    /// A move of a tenant the population does not have.
    pub fn with_moves(
        mut self,
        pop: &Population,
        moves: &[Move],
    ) -> Result<Placement, PlacementError> {
        for m in moves {
            let t = pop
                .tenants
                .iter()
                .position(|x| x.id == m.tenant)
                .ok_or_else(|| PlacementError::UnknownTenant {
                    tenant: m.tenant.clone(),
                    database: m.database.clone(),
                })?;
            let to = self.database_named(&m.database, m.kind);
            self.put(t, to);
        }
        Ok(self)
    }

    /// The index of database `name`, appended (empty, on the default server) when absent.
    pub fn database_named(&mut self, name: &str, kind: PlacementKind) -> usize {
        if let Some(i) = self.databases.iter().position(|d| d.name == name) {
            return i;
        }
        self.databases.push(DbPlan {
            name: name.to_string(),
            server: Server::Default,
            kind,
            tenants: Vec::new(),
            moved_out: Vec::new(),
        });
        self.databases.len() - 1
    }

    /// Puts tenant `t` into database `to`, out of the one holding it now.
    pub fn put(&mut self, t: usize, to: usize) {
        let from = self.tenant_db[t];
        if from == to {
            return;
        }
        let src = &mut self.databases[from];
        src.tenants.retain(|&x| x != t);
        if !src.moved_out.contains(&t) {
            src.moved_out.push(t);
        }
        let dst = &mut self.databases[to];
        dst.moved_out.retain(|&x| x != t);
        if let Err(at) = dst.tenants.binary_search(&t) {
            dst.tenants.insert(at, t);
        }
        self.tenant_db[t] = to;
    }

    /// The distinct servers this placement uses.
    pub fn servers(&self) -> Vec<Server> {
        let mut s: Vec<Server> = self.databases.iter().map(|d| d.server.clone()).collect();
        s.sort();
        s.dedup();
        s
    }
}

/// Every one of `n` tenants in one shared database (`shared`, `schema-per-tenant`, `rls`): the
/// databases and each tenant's database index.
fn one_database(name: String, n: usize) -> (Vec<DbPlan>, Vec<usize>) {
    let db = DbPlan {
        name,
        server: Server::Default,
        kind: PlacementKind::Shared,
        tenants: (0..n).collect(),
        moved_out: Vec::new(),
    };
    (vec![db], vec![0; n])
}

/// `per-tenant`: a database of its own for every tenant, in rank order.
fn per_tenant(prefix: &str, population: &Population) -> (Vec<DbPlan>, Vec<usize>) {
    let databases = population
        .tenants
        .iter()
        .enumerate()
        .map(|(i, t)| DbPlan {
            name: format!("{prefix}_t_{}", t.id),
            server: Server::Default,
            kind: PlacementKind::Dedicated,
            tenants: vec![i],
            moved_out: Vec::new(),
        })
        .collect();
    (databases, (0..population.tenants.len()).collect())
}

/// `hybrid`: each tenant where the first rule matching it sends it (the shared database of the
/// default server when none does), in rank order.
fn hybrid(prefix: &str, rules: &[Rule], population: &Population) -> (Vec<DbPlan>, Vec<usize>) {
    let mut dbs = HybridDbs {
        prefix,
        databases: Vec::new(),
        open_pool: BTreeMap::new(),
        pools: 0,
        shared: BTreeMap::new(),
    };
    let mut tenant_db = vec![0usize; population.tenants.len()];
    for (i, t) in population.tenants.iter().enumerate() {
        let (rule_ix, rule) = match rules.iter().enumerate().find(|(_, r)| matches(r, t)) {
            Some((ix, r)) => (Some(ix), Some(r)),
            None => (None, None),
        };
        let server = rule
            .and_then(|r| r.uri_env.clone())
            .map_or(Server::Default, Server::Env);
        let db = match rule.map_or(PlacementKind::Shared, |r| r.placement) {
            PlacementKind::Dedicated => dbs.dedicated(t, server),
            PlacementKind::Pooled => {
                let per = rule.map_or(1, |r| r.tenants_per_db) as usize;
                dbs.pooled(rule_ix.unwrap_or(usize::MAX), per, server)
            }
            PlacementKind::Shared => dbs.shared(server),
        };
        dbs.databases[db].tenants.push(i);
        tenant_db[i] = db;
    }
    (dbs.databases, tenant_db)
}

/// The databases of a hybrid placement as tenants fill them: pooled databases fill per
/// (rule, server), shared databases per server.
struct HybridDbs<'a> {
    prefix: &'a str,
    databases: Vec<DbPlan>,
    /// Per rule index: the pool it is filling.
    open_pool: BTreeMap<usize, usize>,
    /// Pools opened so far (they are numbered from 1).
    pools: usize,
    /// Per server: its shared database.
    shared: BTreeMap<Server, usize>,
}

impl HybridDbs<'_> {
    /// Appends an empty database; returns its index.
    fn open(&mut self, name: String, server: Server, kind: PlacementKind) -> usize {
        self.databases.push(DbPlan {
            name,
            server,
            kind,
            tenants: Vec::new(),
            moved_out: Vec::new(),
        });
        self.databases.len() - 1
    }

    /// A new database for tenant `t` alone.
    fn dedicated(&mut self, t: &Tenant, server: Server) -> usize {
        let name = format!("{}_hy_t_{}", self.prefix, t.id);
        self.open(name, server, PlacementKind::Dedicated)
    }

    /// Rule `rule_ix`'s pool being filled, or a new one once it holds `per` tenants.
    fn pooled(&mut self, rule_ix: usize, per: usize, server: Server) -> usize {
        match self.open_pool.get(&rule_ix) {
            Some(&db) if self.databases[db].tenants.len() < per => db,
            _ => {
                self.pools += 1;
                let name = format!("{}_hy_pool_{}", self.prefix, self.pools);
                let db = self.open(name, server, PlacementKind::Pooled);
                self.open_pool.insert(rule_ix, db);
                db
            }
        }
    }

    /// The shared database of `server`, opened on first use.
    fn shared(&mut self, server: Server) -> usize {
        if let Some(&db) = self.shared.get(&server) {
            return db;
        }
        let name = match &server {
            Server::Default => format!("{}_hy_shared", self.prefix),
            Server::Env(v) => format!("{}_hy_shared_{}", self.prefix, v.to_ascii_lowercase()),
        };
        let db = self.open(name, server.clone(), PlacementKind::Shared);
        self.shared.insert(server, db);
        db
    }
}

fn matches(rule: &Rule, t: &Tenant) -> bool {
    match &rule.matcher {
        Matcher::Class(c) => t.class() == c || t.tier.name() == c,
        Matcher::Top(n) => t.rank <= *n,
    }
}

/// Where a migration in `layout` puts a tenant it moves to a placement of `kind`: dedicated
/// `<prefix>_shared_mv_t_<tenant>` (`_hy_mv_t_` in hybrid), pooled `…_mv_pool_<n>`, shared the
/// layout's shared database. The names extend the layout's own, so `drop --layout` and `ls`
/// treat moved databases as the layout's. `None` for layouts tenants are not moved in.
pub fn moved_name(
    prefix: &str,
    layout: Layout,
    kind: PlacementKind,
    tenant: &str,
    pool: usize,
) -> Option<String> {
    let stem = match layout {
        Layout::Shared => format!("{prefix}_shared"),
        Layout::Hybrid => format!("{prefix}_hy"),
        _ => return None,
    };
    Some(match kind {
        PlacementKind::Dedicated => format!("{stem}_mv_t_{tenant}"),
        PlacementKind::Pooled => format!("{stem}_mv_pool_{pool}"),
        PlacementKind::Shared => match layout {
            Layout::Hybrid => format!("{stem}_shared"),
            _ => stem,
        },
    })
}

/// What the name of every database a migration creates in `layout` starts with (see
/// [`moved_name`]); `None` for layouts tenants are not moved in.
pub fn moved_prefix(prefix: &str, layout: Layout) -> Option<String> {
    match layout {
        Layout::Shared => Some(format!("{prefix}_shared_mv_")),
        Layout::Hybrid => Some(format!("{prefix}_hy_mv_")),
        _ => None,
    }
}

/// Every database name a layout of this prefix can produce starts with one of these.
pub fn name_prefixes(prefix: &str, layout: Layout) -> Vec<String> {
    match layout {
        Layout::Shared => vec![format!("{prefix}_shared")],
        Layout::PerTenant => vec![format!("{prefix}_t_")],
        Layout::Hybrid => vec![format!("{prefix}_hy_")],
        Layout::SchemaPerTenant => vec![format!("{prefix}_schemas")],
        Layout::Rls => vec![format!("{prefix}_rls")],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;
    use std::path::Path;

    fn scenario(extra: &str) -> Scenario {
        let text = format!(
            "name = \"p\"\n[population]\ntenants = 100\ndocuments = 10000\ndistribution = {{ zipf = {{ s = 1.0 }} }}\n{extra}"
        );
        Scenario::parse(Path::new("p.toml"), &text).unwrap()
    }

    #[test]
    fn every_tenant_is_placed_exactly_once() {
        let s = scenario("");
        let p = s.build_population();
        for layout in Layout::ALL {
            let pl = s.placement(&p, layout);
            let mut seen = vec![0; 100];
            for (d, db) in pl.databases.iter().enumerate() {
                for &t in &db.tenants {
                    seen[t] += 1;
                    assert_eq!(pl.tenant_db[t], d);
                }
            }
            assert!(seen.iter().all(|&x| x == 1), "{layout}");
        }
    }

    #[test]
    fn default_hybrid_dedicates_enterprise_and_pools_premium_by_four() {
        let s = scenario("");
        let p = s.build_population();
        let pl = s.placement(&p, Layout::Hybrid);
        // 100 tenants: 1 enterprise, 9 premium (3 pools: 4 + 4 + 1), 90 shared.
        let names: Vec<&str> = pl.databases.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "tb_p_hy_t_t00001",
                "tb_p_hy_pool_1",
                "tb_p_hy_pool_2",
                "tb_p_hy_pool_3",
                "tb_p_hy_shared"
            ]
        );
        assert_eq!(pl.databases[1].tenants, vec![1, 2, 3, 4]);
        assert_eq!(pl.databases[3].tenants, vec![9]);
        assert_eq!(pl.databases[4].tenants.len(), 90);
    }

    #[test]
    fn moves_take_a_tenant_out_of_its_database_into_another() {
        let s = scenario("");
        let p = s.build_population();
        let base = s.placement(&p, Layout::Shared);
        assert_eq!(base.home(), Some(0));
        let mv = |t: &str, db: &str, kind| Move {
            tenant: t.into(),
            database: db.into(),
            kind,
            version: 1,
            emptied: Vec::new(),
        };
        let moved = base
            .clone()
            .with_moves(
                &p,
                &[
                    mv(
                        "t00002",
                        "tb_p_shared_mv_t_t00002",
                        PlacementKind::Dedicated,
                    ),
                    mv("t00005", "tb_p_shared_mv_pool_1", PlacementKind::Pooled),
                    mv("t00003", "tb_p_shared_mv_pool_1", PlacementKind::Pooled),
                ],
            )
            .unwrap();
        assert_eq!(moved.databases.len(), 3);
        assert_eq!(moved.databases[0].tenants.len(), 97);
        assert_eq!(moved.databases[0].moved_out, vec![1, 4, 2]);
        assert_eq!(moved.databases[1].tenants, vec![1]);
        assert_eq!(moved.databases[2].tenants, vec![2, 4], "in rank order");
        assert_eq!(moved.tenant_db[4], 2);
        // Moving back to the shared database: no longer moved out.
        let mut back = moved.clone();
        back.put(1, 0);
        assert_eq!(back.databases[0].moved_out, vec![4, 2]);
        assert!(back.databases[0].tenants.contains(&1));
        assert!(matches!(
            base.with_moves(&p, &[mv("t09999", "x", PlacementKind::Dedicated)]),
            Err(PlacementError::UnknownTenant { .. })
        ));
        assert_eq!(
            moved_name("tb_p", Layout::Hybrid, PlacementKind::Pooled, "t00001", 2).as_deref(),
            Some("tb_p_hy_mv_pool_2")
        );
        assert_eq!(
            moved_name("tb_p", Layout::Shared, PlacementKind::Shared, "t00001", 1).as_deref(),
            Some("tb_p_shared")
        );
        assert_eq!(
            moved_name("tb_p", Layout::PerTenant, PlacementKind::Dedicated, "t1", 1),
            None
        );
        // Every moved name starts with the layout's own prefix (so drop --layout covers it).
        let n = moved_name(
            "tb_p",
            Layout::Shared,
            PlacementKind::Dedicated,
            "t00001",
            1,
        )
        .unwrap();
        assert!(
            name_prefixes("tb_p", Layout::Shared)
                .iter()
                .any(|x| n.starts_with(x.as_str()))
        );
        assert!(n.starts_with(&moved_prefix("tb_p", Layout::Shared).unwrap()));
    }

    #[test]
    fn hybrid_rules_can_send_a_role_to_another_server() {
        let s = scenario(
            "[population.roles]\nnoisy = [\"t00001\"]\n[[layout.hybrid.rule]]\nclass = \"noisy\"\nplacement = \"dedicated\"\nuri_env = \"TB_SECOND\"\n[[layout.hybrid.rule]]\ntop = 3\nplacement = \"dedicated\"\n",
        );
        let p = s.build_population();
        let pl = s.placement(&p, Layout::Hybrid);
        assert_eq!(pl.databases[0].server, Server::Env("TB_SECOND".into()));
        assert_eq!(pl.databases[0].name, "tb_p_hy_t_t00001");
        assert_eq!(pl.databases[1].name, "tb_p_hy_t_t00002");
        assert_eq!(pl.databases[1].server, Server::Default);
        assert_eq!(pl.databases[3].name, "tb_p_hy_shared");
        assert_eq!(
            pl.servers(),
            vec![Server::Default, Server::Env("TB_SECOND".into())]
        );
    }
}
