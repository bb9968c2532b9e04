//! Settings, resolved once per command: defaults, then the scenario file, then the flags, into
//! values nothing changes afterwards. [`load_scenario`] reads a scenario as the flags ask
//! (`--scale`, `--prefix`); [`SeedSettings`] owns how data is seeded; [`RunPlan`] is everything
//! `run` and its trials read — the matrix narrowed by `--backend/--layout/--indexes/--repeat`
//! and split for `--worker`, the alignment of `--start-at`, the run directory.

use crate::scenario::target::TargetSpec;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Result, bail};

use crate::cli::{RunArgs, SeedArgs};
use crate::layout::Layout;
use crate::op::BackendKind;
use crate::pacing::{Pacer, StopCondition};
use crate::scenario::{
    MAX_BATCH, MAX_WORKERS, MatrixSpec, Scenario, Variant, profile_on, valid_prefix,
};
pub use crate::trial::plan::{
    GatePlan, GeneratorData, HttpPlan, RunDir, RunPlan, SeedSettings, StagingPlan, StartAt, driver,
    generator_scenario,
};

/// Checks a `--prefix` value.
///
/// # Errors
/// Not 1 to 24 lowercase letters, digits and `_` starting with a letter.
pub fn checked_prefix(p: &str) -> Result<String> {
    if !valid_prefix(p) {
        bail!(
            "--prefix {p:?}: expected 1 to 24 lowercase letters, digits and '_', starting with a letter"
        );
    }
    Ok(p.to_string())
}

/// Reads a scenario as the command line asks: the file, a scaled copy (`--scale`), another
/// prefix (`--prefix`). What it returns is not changed afterwards.
///
/// # Errors
/// An unreadable or invalid file, a scale out of range, a bad prefix.
pub fn load_scenario(path: &Path, prefix: Option<&str>, scale: Option<f64>) -> Result<Scenario> {
    let read = Scenario::load(path)?;
    let s = match scale {
        Some(f) => read
            .scaled(f, true)
            .map_err(|e| anyhow::anyhow!("--scale {f}: {e}"))?,
        None => read,
    };
    Ok(match prefix {
        Some(p) => Scenario {
            prefix: checked_prefix(p)?,
            ..s
        },
        None => s,
    })
}

/// Refuses a scenario with an existing `[target]` for a command over generated data.
///
/// # Errors
/// The scenario has a `[target]`.
pub fn generated_data(s: &Scenario, command: &str) -> Result<()> {
    if let Some(t) = &s.target {
        bail!(
            "{}: its [target] is the existing database {}, which only `run` reads (as it is); `{command}` works on generated data",
            s.path.display(),
            t.database
        );
    }
    Ok(())
}

/// Refuses a scenario whose mix has an operation only its `[http]` API answers, for a command
/// that runs the mix on a database.
///
/// # Errors
/// The mix draws an `[[http.endpoint]]`'s own operation.
pub fn database_ops(s: &Scenario, command: &str) -> Result<()> {
    if let Some(op) = s.api_only_op() {
        let at = s
            .http
            .as_ref()
            .and_then(|h| h.endpoint(op))
            .map_or_else(|| s.path.display().to_string(), |e| e.at.clone());
        bail!(
            "{at}: operation `{}` is an [[http.endpoint]] of the team's API, which no database runs; `{command}` runs the mix on a database: measure it with `tenantbench load`, or add an [[operation]] named `{}` with its query",
            op.name(),
            op.name()
        );
    }
    Ok(())
}

impl SeedSettings {
    /// Resolves the seeding flags over the scenario's `[load]`.
    ///
    /// # Errors
    /// A batch size or worker count out of range.
    pub fn resolve(s: &Scenario, a: &SeedArgs) -> Result<SeedSettings> {
        let batch_size = a.batch_size.unwrap_or(s.load.batch_size);
        let workers = a.workers.unwrap_or(s.load.workers);
        if !(1..=MAX_BATCH as usize).contains(&batch_size) {
            bail!("--batch-size {batch_size}: expected 1 to {MAX_BATCH}");
        }
        if !(1..=MAX_WORKERS as usize).contains(&workers) {
            bail!("--workers {workers}: expected 1 to {MAX_WORKERS}");
        }
        Ok(SeedSettings {
            batch_size,
            workers,
            index_build: a.index_build.unwrap_or(s.load.index_build),
            progress: a.progress.shown(),
        })
    }
}

impl RunPlan {
    /// Resolves `run`'s flags over its scenario.
    ///
    /// # Errors
    /// Bad flags or scenario.
    pub fn resolve(a: &RunArgs) -> Result<RunPlan> {
        let t = &a.seed.target;
        let loaded = load_scenario(&t.scenario, t.prefix.as_deref(), t.scale)?;
        let narrowed = narrow(
            &loaded,
            t.server.backend.kind,
            t.layout,
            a.seed.indexes.profile.as_deref(),
            a.repeat,
        )?;
        let mut narrowed = narrowed;
        if let Some(target) = narrowed.target.clone() {
            check_existing(&narrowed, &target, a)?;
            // Its layout and indexes are the database's own: a variant is its load.
            for v in &mut narrowed.matrix.variants {
                if v.name.is_none() {
                    v.name = Some(existing_variant_name(&target, v));
                }
            }
        }
        let worker = a.worker;
        if let (Some(_), Some((phase, _))) = (worker, narrowed.migration_phase()) {
            bail!(
                "--worker: phase `{phase}` migrates a tenant, which one process does while it runs the load; run the scenario without --worker"
            );
        }
        if let (Some(_), Some(f)) = (worker, narrowed.faults.first()) {
            bail!(
                "--worker: the scenario injects faults ({}), which one process times against its own load; run it without --worker",
                f.describe()
            );
        }
        let scenario = match worker {
            Some(w) => {
                let mut workload = narrowed.workload.clone();
                if let StopCondition::Count(n) = workload.stop {
                    // A count-stopped run: each generator its part of the count.
                    let c = crate::scenario::part(n as usize, w) as u64;
                    if c == 0 {
                        bail!(
                            "--worker {}/{}: the workload stops after {n} operations, which leaves generator {} none; use at most {n} generators",
                            w.0,
                            w.1,
                            w.0
                        );
                    }
                    workload.stop = StopCondition::Count(c);
                }
                Scenario {
                    matrix: split_load(&narrowed.matrix, w)?,
                    workload,
                    ..narrowed
                }
            }
            None => narrowed,
        };
        let start_at = match a.start_at {
            None => None,
            Some(at) => match scenario.workload.stop {
                StopCondition::Duration(d) => Some(StartAt {
                    at,
                    slot: d + Duration::from_secs(a.trial_gap),
                }),
                StopCondition::Count(_) => {
                    bail!("--start-at aligns duration-stopped runs; the workload stops by count")
                }
            },
        };
        let dir = match (&a.resume, &a.out) {
            (Some(d), _) => RunDir::Resume(d.clone()),
            (None, Some(d)) => RunDir::New(d.clone()),
            (None, None) => RunDir::New(PathBuf::from("reports").join(format!(
                "{}-{}",
                scenario.name,
                crate::clock::utc_stamp(SystemTime::now())
            ))),
        };
        Ok(RunPlan {
            seed: SeedSettings::resolve(&scenario, &a.seed)?,
            scenario,
            worker,
            seed_only: a.seed_only,
            start_at,
            dir,
            progress: a.seed.progress.shown(),
            report: !a.no_report,
            server: t.server.clone(),
            gate: a.gate.clone().map(|rules| GatePlan {
                rules,
                baseline: a.gate_baseline.clone(),
            }),
            http: None,
            timer: a.timer,
            checkpoint_every: Duration::from_secs(a.checkpoint_every),
        })
    }
}

/// A copy of the scenario with `--backend`, `--layout`, `--indexes` and `--repeat` applied to its
/// matrix: each flag replaces its axis by the one value; variants that become the same are run
/// once, and those that cannot exist (a profile or layout the backend lacks) are listed as
/// skipped.
///
/// # Errors
/// An unknown index profile, no variant left, or a repeat out of range.
pub fn narrow(
    s: &Scenario,
    backend: Option<BackendKind>,
    layout: Option<Layout>,
    indexes: Option<&str>,
    repeat: Option<u32>,
) -> Result<Scenario> {
    if let Some(i) = indexes
        && s.index_profile(i).is_none()
    {
        bail!(
            "--indexes {i:?}: unknown index profile; expected one of {}",
            s.profile_names().join(", ")
        );
    }
    let mut m = MatrixSpec {
        variants: Vec::new(),
        repeat: s.matrix.repeat,
        skipped: s.matrix.skipped.clone(),
    };
    for v in &s.matrix.variants {
        let mut v = v.clone();
        if let Some(b) = backend {
            v.backend = b;
        }
        if let Some(l) = layout {
            v.layout = l;
        }
        if v.layout != Layout::Hybrid {
            // A rule set places tenants only in a hybrid layout: `--layout shared` of a
            // hybrid variant is the plain shared variant.
            v.hybrid = None;
        }
        if let Some(i) = indexes {
            v.indexes = i.to_string();
        }
        let missing = if !profile_on(&v.indexes, v.backend) {
            Some(format!("indexes {}: the profile", v.indexes))
        } else if !v.layout.on(v.backend) {
            Some(format!("{}: the layout", v.layout.name()))
        } else {
            None
        };
        if let Some(what) = missing {
            let b = v.backend.name();
            let why = format!("{b} × {what} does not exist on {b}");
            if !m.skipped.contains(&why) {
                m.skipped.push(why);
            }
            continue;
        }
        if !m.variants.iter().any(|o| o.id() == v.id()) {
            m.variants.push(v);
        }
    }
    if m.variants.is_empty() {
        bail!(
            "no variant of the matrix exists with these flags: {}",
            m.skipped.join("; ")
        );
    }
    if let Some(r) = repeat {
        if !(1..=1000).contains(&r) {
            bail!("--repeat {r}: expected 1 to 1,000 trials");
        }
        m.repeat = r;
    }
    Ok(Scenario {
        matrix: m,
        ..s.clone()
    })
}

/// Generator `i` of `n`'s share of every variant ([`Variant::share`]): its load and pool.
fn split_load(m: &MatrixSpec, w: (u32, u32)) -> Result<MatrixSpec> {
    let mut out = m.clone();
    for v in &mut out.variants {
        *v = v.share(w)?;
    }
    Ok(out)
}

/// A variant's name on an existing target: the database and the load (its layout and
/// indexes are the database's, not the variant's).
fn existing_variant_name(t: &TargetSpec, v: &Variant) -> String {
    let load = match v.pacer {
        Pacer::Closed { concurrency, .. } => format!("{concurrency} workers"),
        Pacer::Open { rate, .. } => format!("{rate}/s"),
    };
    format!("{} · {load} · pool {}", t.database, v.max_pool_size)
}

/// What `run` refuses for an existing target: flags that shape generated data, a matrix over
/// several database kinds, and writes unless `--allow-writes`.
///
/// # Errors
/// The first such flag or operation, by name.
fn check_existing(s: &Scenario, t: &TargetSpec, a: &RunArgs) -> Result<()> {
    let f = &a.seed.target;
    let db = &t.database;
    let path = s.path.display();
    let generated = [
        f.scale.map(|x| format!("--scale {x}")),
        f.layout.map(|l| format!("--layout {l}")),
        f.prefix.as_ref().map(|p| format!("--prefix {p}")),
        a.seed
            .indexes
            .profile
            .as_ref()
            .map(|i| format!("--indexes {i}")),
    ];
    if let Some(flag) = generated.into_iter().flatten().next() {
        bail!(
            "{flag}: {path} reads the existing database {db} as it is, and {flag} shapes generated data; leave it out (shorten [workload] duration_s for a short run)"
        );
    }
    let mut kinds: Vec<BackendKind> = s.matrix.variants.iter().map(|v| v.backend).collect();
    kinds.dedup();
    if kinds.len() > 1 {
        bail!(
            "{path}: the matrix runs on {} but the existing database {db} is on one server; name its kind with --backend",
            kinds
                .iter()
                .map(|k| k.name())
                .collect::<Vec<_>>()
                .join(" and ")
        );
    }
    if let Some(op) = s.mix_writes()
        && !a.allow_writes
    {
        bail!(
            "{path}: operation `{op}` writes (read_only = false), and tenantbench only reads the existing database {db} unless --allow-writes is given"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generators_split_the_load() {
        assert_eq!(crate::cli::parse_worker("1/3").expect("valid"), (1, 3));
        for bad in ["3/3", "1", "a/2", "0/0", "-1/2"] {
            assert!(crate::cli::parse_worker(bad).is_err(), "{bad}");
        }
        let s = Scenario::parse(
            Path::new("w.toml"),
            "name = \"w\"\n[population]\ntenants = 10\ndocuments = 100\ndistribution = \"uniform\"\n[matrix]\nconcurrency = [5]\n",
        )
        .expect("parses");
        let a = split_load(&s.matrix, (0, 2)).expect("splits");
        let b = split_load(&s.matrix, (1, 2)).expect("splits");
        assert_eq!(
            a.variants[0].pacer.workers() + b.variants[0].pacer.workers(),
            5
        );
        assert!(
            split_load(&a, (5, 6)).is_err(),
            "a share is cut from the whole again: 5 workers leave a sixth generator none"
        );
        let o = Scenario::parse(
            Path::new("o.toml"),
            "name = \"o\"\n[population]\ntenants = 10\ndocuments = 100\ndistribution = \"uniform\"\n[workload]\nrate = 1000.0\nworkers = 64\n",
        )
        .expect("parses");
        let o = split_load(&o.matrix, (0, 4)).expect("splits");
        // The whole schedule's rate, of which the runner takes every fourth start.
        assert!(
            matches!(o.variants[0].pacer, Pacer::Open { rate, workers: 16, .. } if rate == 1000.0)
        );
        assert_eq!(o.variants[0].share.as_ref().map(|x| x.worker), Some((0, 4)));
    }

    /// `run` resolved from its command line.
    fn run_plan(args: &[&str]) -> RunPlan {
        use clap::Parser as _;
        let cli = crate::cli::Cli::try_parse_from(["tenantbench", "run"].iter().chain(args))
            .expect("parses");
        let crate::cli::Command::Run(a) = cli.command else {
            panic!("run")
        };
        RunPlan::resolve(&a).expect("resolves")
    }

    #[test]
    fn generators_get_a_copy_per_index_profile_and_per_trial_when_the_workload_writes() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.toml");
        let path = path.to_str().expect("utf-8");
        let plan = run_plan(&["--scenario", path]);
        assert!(
            plan.scenario.mix_writes().is_some(),
            "the quickstart writes"
        );
        let prefixes = |p: &RunPlan| -> Vec<String> {
            p.generator_data().into_iter().map(|d| d.prefix).collect()
        };
        // Three profiles × two trials: every trial starts on data of its own, as seeded.
        assert_eq!(
            prefixes(&plan),
            [
                "tb_quickstart_gnone_c1",
                "tb_quickstart_gtenant_c1",
                "tb_quickstart_gcompound_c1",
                "tb_quickstart_gnone_c2",
                "tb_quickstart_gtenant_c2",
                "tb_quickstart_gcompound_c2",
            ]
        );
        // A generator's share of a variant runs on the copy the whole variant's trial has.
        let g = run_plan(&["--scenario", path, "--worker", "2/3", "--scale", "0.05"]);
        let v = &g.scenario.matrix.variants[1];
        assert_eq!((g.generator_copy(v, 1), g.generator_copy(v, 2)), (1, 2));
        assert!(
            prefixes(&g)
                .iter()
                .all(|p| p.starts_with("tb_quickstart_s0p05_g"))
        );

        // Variants on the same data (a pool axis) take turns: a copy per trial of each.
        let mut pools = run_plan(&["--scenario", path, "--indexes", "tenant"]);
        let mut other = pools.scenario.matrix.variants[0].clone();
        other.max_pool_size = 4;
        pools.scenario.matrix.variants.push(other);
        let vs = pools.scenario.matrix.variants.clone();
        let copies: Vec<u32> = [1, 2]
            .iter()
            .flat_map(|&t| vs.iter().map(move |v| (v, t)))
            .map(|(v, t)| pools.generator_copy(v, t))
            .collect();
        assert_eq!(copies, [1, 2, 3, 4]);
        assert_eq!(pools.generator_data().len(), 4);

        // A workload that only reads leaves the data as seeded: one copy per profile.
        let mut reads = plan.clone();
        let writes = |op: &crate::op::Op| plan.scenario.writes(*op);
        reads.scenario.workload.mix.retain(|(op, _)| !writes(op));
        assert!(reads.scenario.mix_writes().is_none());
        assert_eq!(
            prefixes(&reads),
            [
                "tb_quickstart_gnone_c1",
                "tb_quickstart_gtenant_c1",
                "tb_quickstart_gcompound_c1"
            ]
        );
    }

    #[test]
    fn narrowing_drops_rule_sets_outside_hybrid_and_merges_twins() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/noisy-neighbour.toml");
        let base = Scenario::load(&path).expect("the noisy-neighbour scenario loads");
        let s = narrow(&base, None, Some(Layout::Shared), None, None).expect("narrows");
        assert!(s.matrix.variants.iter().all(|v| v.hybrid.is_none()));
        let ids: Vec<String> = s.matrix.variants.iter().map(Variant::id).collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(ids.len(), unique.len(), "twins run once: {ids:?}");
        assert!(ids.len() < base.matrix.variants.len(), "{ids:?}");
        assert_eq!(
            base.matrix.variants.len(),
            Scenario::load(&path).expect("loads").matrix.variants.len(),
            "narrowing leaves the loaded scenario as it was"
        );

        let p = Scenario::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/tenant-index.toml"),
        )
        .expect("the tenant-index scenario loads");
        let p =
            narrow(&p, None, None, Some("partial"), None).expect("partial exists on PostgreSQL");
        assert!(
            p.matrix
                .variants
                .iter()
                .all(|v| v.backend == BackendKind::Postgres && v.indexes == "partial"),
            "MongoDB variants have no partial profile and are skipped"
        );
        assert!(p.matrix.skipped.iter().any(|w| w.contains("partial")));
    }
}
