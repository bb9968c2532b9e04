//! `tenantbench run`: expand the matrix, run every variant `repeat` times interleaved (A B A B),
//! seeding or reusing data per variant, and write a run directory with `results.json` (after
//! every trial, so Ctrl-C or a crash keeps what ran) and one `.hlog` interval log per trial.

use std::collections::BTreeMap;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use tokio_util::sync::CancellationToken;

use crate::backend::mongo::{
    self, CheckoutStats, ClientRegistry, ConnectOptions, MongoBackend, Routing, SeedOptions,
    Servers,
};
use crate::backend::postgres::{self, PgBackend};
use crate::backend::redact_uri;
use crate::cli::RunArgs;
use crate::layout::Server;
use crate::metrics::collector::tenant_sample;
use crate::metrics::evidence as sys;
use crate::metrics::results::{
    self as res, CpuEvidence, DataEvidence, Environment, Evidence, ExplainRecord, Group, PhaseInfo,
    RegistryEvidence, Results, ScenarioInfo, ServerInfo, Spread, Summary, TenantSample, Trial,
    TrialStatus, VariantInfo,
};
use crate::metrics::{Recorder, histogram};
use crate::op::BackendKind;
use crate::op::{Op, Outcome, Request};
use crate::pacing::Pacer;
use crate::population::Population;
use crate::runner::{Live, RunConfig, RunIo};
use crate::scenario::{PhasePlan, Scenario, Strategy, Variant};
use crate::workload::{Workload, classes, collection_of};

/// Tenants kept individually: the largest this many, then log-spaced ranks.
const SAMPLE_LARGEST: usize = 10;
/// Log-spaced sample ranks per factor of ten.
const SAMPLE_PER_DECADE: usize = 5;

/// Everything a trial needs that does not change between trials.
struct Ctx<'a> {
    scenario: &'a Scenario,
    pop: &'a Population,
    /// The MongoDB URI of the default server.
    uri: &'a str,
    /// The PostgreSQL URI.
    pg_uri: &'a str,
    args: &'a RunArgs,
    plan: PhasePlan,
    class_names: Vec<String>,
    class_of: Vec<u16>,
    sample: Vec<usize>,
    dir: PathBuf,
    cancel: CancellationToken,
    progress: bool,
    /// `--worker i/N`, parsed: this process is load generator i of N.
    worker: Option<(u32, u32)>,
}

impl<'a> Ctx<'a> {
    /// The same run over a derived scenario (a variant's data scale or hybrid rule set).
    fn with_data(&self, scenario: &'a Scenario, pop: &'a Population) -> Ctx<'a> {
        let (class_names, class_of) = classes(pop);
        Ctx {
            scenario,
            pop,
            uri: self.uri,
            pg_uri: self.pg_uri,
            args: self.args,
            plan: self.plan.clone(),
            class_names,
            class_of,
            sample: tenant_sample(pop.tenants.len(), SAMPLE_LARGEST, SAMPLE_PER_DECADE),
            dir: self.dir.clone(),
            cancel: self.cancel.clone(),
            progress: self.progress,
            worker: self.worker,
        }
    }
}

/// Runs the matrix; returns the exit status.
///
/// # Errors
/// Bad flags or scenario, an unwritable run directory, an unreachable server.
pub async fn run(a: RunArgs) -> Result<u8> {
    let mut scenario = super::load_scenario(
        &a.seed.target.scenario,
        a.seed.target.prefix.as_deref(),
        a.seed.target.scale,
    )?;
    narrow(
        &mut scenario,
        a.seed.target.server.backend,
        a.seed.target.layout,
        a.seed.indexes.as_deref(),
        a.repeat,
    )?;
    let worker = a.worker.as_deref().map(parse_worker).transpose()?;
    if let Some(w) = worker {
        split_load(&mut scenario, w)?;
    }
    let start_at = a
        .start_at
        .as_deref()
        .map(|t| {
            parse_rfc3339(t).ok_or_else(|| {
                anyhow::anyhow!("--start-at {t:?}: expected a UTC time as yyyy-mm-ddThh:mm:ssZ")
            })
        })
        .transpose()?;
    let slot = match (start_at, scenario.workload.stop) {
        (None, _) => None,
        (Some(_), crate::pacing::StopCondition::Duration(d)) => Some(d + TRIAL_GAP),
        (Some(_), crate::pacing::StopCondition::Count(_)) => {
            bail!("--start-at aligns duration-stopped runs; the workload stops by count")
        }
    };
    let pop = scenario.build_population();
    // Variants of the matrix's `scale` axis or with a hybrid rule set of their own run on a
    // derived copy of the scenario, in databases of their own where the data differs.
    type Key = (f64, Option<String>);
    let key = |v: &Variant| -> Key { (v.scale, v.hybrid.clone()) };
    let mut derived: Vec<(Key, Scenario, Population)> = Vec::new();
    for v in &scenario.matrix.variants {
        if derived.iter().any(|(k, ..)| *k == key(v)) {
            continue;
        }
        if let Some(s) = scenario
            .for_variant(v)
            .map_err(|e| anyhow::anyhow!("variant {}: {e}", v.id()))?
        {
            let p = s.build_population();
            derived.push((key(v), s, p));
        }
    }
    let uri = a.seed.target.server.mongo_uri();
    let pg_uri = a.seed.target.server.pg_uri();
    let (class_names, class_of) = classes(&pop);
    let plan = PhasePlan::new(&scenario.workload, &scenario.phases);
    let sample = tenant_sample(pop.tenants.len(), SAMPLE_LARGEST, SAMPLE_PER_DECADE);

    // The run directory: new, or the one being resumed.
    let (dir, mut results) = match &a.resume {
        Some(d) => {
            let r = read_results(d)?;
            if r.scenario.hash != scenario_hash(&scenario) {
                bail!(
                    "--resume {}: its results are of a different scenario text (hash {} vs {}); start a new run instead",
                    d.display(),
                    r.scenario.hash,
                    scenario_hash(&scenario)
                );
            }
            (d.clone(), r)
        }
        None => {
            let dir = match &a.out {
                Some(d) => d.clone(),
                None => PathBuf::from("reports").join(format!(
                    "{}-{}",
                    scenario.name,
                    utc_stamp(std::time::SystemTime::now())
                )),
            };
            if dir.join("results.json").exists() {
                bail!(
                    "{} already holds results.json; use --resume {} to continue it, or another --out",
                    dir.display(),
                    dir.display()
                );
            }
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("creating the run directory {}", dir.display()))?;
            let results = new_results(&scenario, &pop, &plan, &class_names, &uri, &pg_uri).await?;
            (dir, results)
        }
    };
    results.interrupted = false;
    results.finished_at = None;
    results.worker = worker.map(|(i, n)| format!("{i}/{n}"));

    let cancel = CancellationToken::new();
    {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!(
                    "\ninterrupted: finishing the current trial's bookkeeping and writing what ran (Ctrl-C again to abort)"
                );
                cancel.cancel();
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        });
    }

    let ctx = Ctx {
        scenario: &scenario,
        pop: &pop,
        uri: &uri,
        pg_uri: &pg_uri,
        args: &a,
        plan,
        class_names,
        class_of,
        sample,
        dir: dir.clone(),
        cancel: cancel.clone(),
        progress: !a.seed.no_progress,
        worker,
    };
    let derived_ctxs: Vec<(Key, Ctx)> = derived
        .iter()
        .map(|(k, s, p)| (k.clone(), ctx.with_data(s, p)))
        .collect();
    let repeat = scenario.matrix.repeat;
    let total = repeat as usize * scenario.matrix.variants.len();
    eprintln!(
        "{}: {} variants × {} trials, run directory {}",
        scenario.name,
        scenario.matrix.variants.len(),
        repeat,
        dir.display()
    );
    let mut n = 0;
    'trials: for trial in 1..=repeat {
        for v in &scenario.matrix.variants {
            n += 1;
            let id = v.id();
            if results
                .trials
                .iter()
                .any(|t| t.variant == id && t.trial == trial && t.status == TrialStatus::Complete)
            {
                eprintln!("[{n}/{total}] {id} trial {trial}: already complete, skipped");
                continue;
            }
            if cancel.is_cancelled() {
                break 'trials;
            }
            if let (Some(at), Some(slot)) = (start_at, slot) {
                // Trial k of the sequence starts at start_at + k × slot on every generator.
                let due = at + slot * (n as u32 - 1);
                if let Ok(wait) = due.duration_since(std::time::SystemTime::now()) {
                    eprintln!(
                        "[{n}/{total}] waiting {:.1} s for the aligned start {}",
                        wait.as_secs_f64(),
                        rfc3339(due)
                    );
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = cancel.cancelled() => break 'trials,
                    }
                }
            }
            eprintln!("[{n}/{total}] {} · trial {trial}", v.label());
            let c = derived_ctxs
                .iter()
                .find(|(k, _)| *k == key(v))
                .map_or(&ctx, |(_, c)| c);
            let t = run_trial(c, v, trial).await;
            if let Some(e) = &t.error {
                eprintln!("  trial failed: {e}");
            }
            results
                .trials
                .retain(|x| !(x.variant == id && x.trial == trial));
            results.trials.push(t);
            results.spread = spread(&results);
            write_results(&dir, &results)?;
        }
    }
    results.interrupted = cancel.is_cancelled();
    results.finished_at = Some(rfc3339(std::time::SystemTime::now()));
    results.spread = spread(&results);
    write_results(&dir, &results)?;

    print!("{}", crate::report::terminal::summary_table(&results));
    println!("results: {}", dir.join("results.json").display());
    if !a.no_report {
        match crate::report::html::write(&results, &dir) {
            Ok(html) => println!("report: {}", html.display()),
            Err(e) => eprintln!("warning: the HTML report failed: {e:#}"),
        }
    }
    let failed = results
        .trials
        .iter()
        .filter(|t| t.status == TrialStatus::Failed)
        .count();
    if results.interrupted {
        println!(
            "interrupted: the results hold the trials that ran; continue with --resume {}",
            dir.display()
        );
        return Ok(super::EXIT_FINDINGS);
    }
    if failed > 0 {
        println!("{failed} trials failed; see their `error` in results.json");
        return Ok(super::EXIT_FINDINGS);
    }
    Ok(0)
}

/// Applies `--backend`, `--layout`, `--indexes` and `--repeat` to the scenario's matrix: each
/// flag replaces its axis by the one value; variants that become the same are run once, and
/// those that cannot exist (a profile or layout the backend lacks) are listed as skipped.
///
/// # Errors
/// An unknown index profile or a repeat out of range.
pub(crate) fn narrow(
    s: &mut Scenario,
    backend: Option<BackendKind>,
    layout: Option<crate::layout::Layout>,
    indexes: Option<&str>,
    repeat: Option<u32>,
) -> Result<()> {
    if let Some(i) = indexes
        && s.index_profile(i).is_none()
    {
        bail!(
            "--indexes {i:?}: unknown index profile; expected one of {}",
            s.profile_names().join(", ")
        );
    }
    let mut out: Vec<Variant> = Vec::new();
    for v in &s.matrix.variants {
        let mut v = v.clone();
        if let Some(b) = backend {
            v.backend = b;
        }
        if let Some(l) = layout {
            v.layout = l;
        }
        if v.layout != crate::layout::Layout::Hybrid {
            // A rule set places tenants only in a hybrid layout: `--layout shared` of a
            // hybrid variant is the plain shared variant.
            v.hybrid = None;
        }
        if let Some(i) = indexes {
            v.indexes = i.to_string();
        }
        if !crate::scenario::profile_on(&v.indexes, v.backend) {
            let why = format!(
                "{} × indexes {}: the profile does not exist on {}",
                v.backend.name(),
                v.indexes,
                v.backend.name()
            );
            if !s.matrix.skipped.contains(&why) {
                s.matrix.skipped.push(why);
            }
            continue;
        }
        if !v.layout.on(v.backend) {
            let why = format!(
                "{} × {}: the layout does not exist on {}",
                v.backend.name(),
                v.layout.name(),
                v.backend.name()
            );
            if !s.matrix.skipped.contains(&why) {
                s.matrix.skipped.push(why);
            }
            continue;
        }
        if !out.iter().any(|o| o.id() == v.id()) {
            out.push(v);
        }
    }
    if out.is_empty() {
        bail!(
            "no variant of the matrix exists with these flags: {}",
            s.matrix.skipped.join("; ")
        );
    }
    s.matrix.variants = out;
    if let Some(r) = repeat {
        if !(1..=1000).contains(&r) {
            bail!("--repeat {r}: expected 1 to 1,000 trials");
        }
        s.matrix.repeat = r;
    }
    Ok(())
}

/// Time between aligned trials (`--start-at`) beyond their duration: data checks, explain,
/// clients.
const TRIAL_GAP: Duration = Duration::from_secs(15);

/// Parses `i/N` (0 <= i < N <= 1000).
fn parse_worker(s: &str) -> Result<(u32, u32)> {
    let bad = || anyhow::anyhow!("--worker {s:?}: expected i/N with 0 <= i < N <= 1000, e.g. 0/2");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (u32, u32) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || n > 1000 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// Gives generator `i` of `n` its share of every variant's load: concurrency split as evenly
/// as whole workers allow, rate divided by `n` (and the in-flight cap with it).
fn split_load(s: &mut Scenario, (i, n): (u32, u32)) -> Result<()> {
    for v in &mut s.matrix.variants {
        v.pacer = match v.pacer {
            Pacer::Closed { concurrency, think } => {
                let c =
                    concurrency / n as usize + usize::from((i as usize) < concurrency % n as usize);
                if c == 0 {
                    bail!(
                        "--worker {i}/{n}: variant {} has concurrency {concurrency}, which leaves generator {i} no worker; use at most {concurrency} generators",
                        v.id()
                    );
                }
                Pacer::Closed {
                    concurrency: c,
                    think,
                }
            }
            Pacer::Open {
                rate,
                arrivals,
                workers,
            } => Pacer::Open {
                rate: rate / f64::from(n),
                arrivals,
                workers: workers.div_ceil(n as usize).max(1),
            },
        };
    }
    Ok(())
}

/// xxh3-128 of the scenario text.
pub fn scenario_hash(s: &Scenario) -> String {
    let mut text = s.source.clone();
    if s.scale != 1.0 {
        // A scaled copy is another experiment: `--resume` must not mix the two.
        text.push_str(&format!("\n# --scale {}", s.scale));
    }
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(text.as_bytes()))
}

/// Replaces anything in a text that looks like a URI with credentials (`scheme://user:pw@`).
fn redact_text(text: &str) -> String {
    text.split_inclusive(|c: char| c.is_whitespace() || c == '"' || c == '\'')
        .map(|tok| {
            if tok.contains("://") {
                redact_uri(tok)
            } else {
                tok.to_string()
            }
        })
        .collect()
}

async fn new_results(
    s: &Scenario,
    pop: &Population,
    plan: &PhasePlan,
    class_names: &[String],
    uri: &str,
    pg_uri: &str,
) -> Result<Results> {
    let run_end = match s.workload.stop {
        crate::pacing::StopCondition::Duration(d) => d,
        crate::pacing::StopCondition::Count(_) => Duration::ZERO,
    };
    let spans = plan.spans(run_end);
    let mut servers_info = Vec::new();
    // The servers of every layout in the matrix.
    let mut seen: Vec<Server> = Vec::new();
    for v in s
        .matrix
        .variants
        .iter()
        .filter(|v| v.backend == BackendKind::Mongodb)
    {
        // A variant's hybrid rule set may place tenants on other servers.
        let own = s.for_variant(v).ok().flatten();
        let servers = match &own {
            Some(x) => x.placement(&x.build_population(), v.layout).servers(),
            None => s.placement(pop, v.layout).servers(),
        };
        for srv in servers {
            if !seen.contains(&srv) {
                seen.push(srv);
            }
        }
    }
    for srv in seen {
        let u = Servers::uri_of(uri, &srv)?;
        servers_info.push(server_info(&u, &srv).await?);
    }
    if s.matrix
        .variants
        .iter()
        .any(|v| v.backend == BackendKind::Postgres)
    {
        servers_info.push(pg_server_info(pg_uri).await?);
    }
    Ok(Results {
        schema_version: res::SCHEMA_VERSION,
        scenario: ScenarioInfo {
            name: s.name.clone(),
            file: s.path.display().to_string(),
            hash: scenario_hash(s),
            seed: s.seed,
            question: s.question.clone(),
            tenants: pop.tenants.len() as u64,
            documents: pop.documents(),
            prefix: s.prefix.clone(),
            scale: s.scale,
            duration_s: match s.workload.stop {
                crate::pacing::StopCondition::Duration(d) => Some(d.as_secs_f64()),
                crate::pacing::StopCondition::Count(_) => None,
            },
            text: redact_text(&s.source),
        },
        environment: Environment {
            harness_version: env!("CARGO_PKG_VERSION").into(),
            git_commit: sys::git_commit(),
            os: sys::os(),
            cores: sys::cores(),
            memory_bytes: sys::memory_bytes(),
            servers: servers_info,
        },
        started_at: rfc3339(std::time::SystemTime::now()),
        finished_at: None,
        interrupted: false,
        worker: None,
        classes: class_names.to_vec(),
        phases: plan
            .names
            .iter()
            .zip(&plan.measured)
            .zip(spans)
            .map(|((n, m), w)| PhaseInfo {
                name: n.clone(),
                measured: *m,
                windows: w,
            })
            .collect(),
        variants: s
            .matrix
            .variants
            .iter()
            .map(|v| {
                let docs = match s.for_variant(v) {
                    Ok(Some(x)) if v.scale != 1.0 => x.build_population().documents(),
                    _ => pop.documents(),
                };
                variant_info(v, docs)
            })
            .collect(),
        repeat: s.matrix.repeat,
        trials: Vec::new(),
        spread: Vec::new(),
    })
}

fn variant_info(v: &Variant, documents: u64) -> VariantInfo {
    let (concurrency, rate, workers) = match v.pacer {
        Pacer::Closed { concurrency, .. } => (Some(concurrency as u32), None, None),
        Pacer::Open { rate, workers, .. } => (None, Some(rate), Some(workers as u32)),
    };
    VariantInfo {
        id: v.id(),
        label: v.label(),
        backend: v.backend.name().into(),
        layout: v.layout.name().into(),
        indexes: v.indexes.clone(),
        max_pool_size: v.max_pool_size,
        min_pool_size: v.min_pool_size,
        strategy: v.strategy.name().into(),
        concurrency,
        rate,
        workers,
        scale: v.scale,
        documents: Some(documents),
    }
}

async fn server_info(uri: &str, srv: &Server) -> Result<ServerInfo> {
    let conn = ConnectOptions {
        max_pool_size: 1,
        server_selection_timeout: Duration::from_secs(5),
        ..Default::default()
    };
    let client = mongo::client(uri, &conn).await?;
    let d = mongo::doctor(&client).await;
    client.shutdown().await;
    if !d.reachable {
        bail!(
            "MongoDB at {} does not answer: {} (start one with scripts/mongo-local.sh start)",
            redact_uri(uri),
            d.error.unwrap_or_default()
        );
    }
    Ok(ServerInfo {
        role: role(srv),
        backend: "mongodb".into(),
        version: d.version,
        surrogate: d.surrogate,
        storage_engine: d.storage_engine,
        wt_cache_bytes: d.wt_cache_bytes,
        local: local_port(uri).and_then(sys::local_listener_pid).is_some(),
    })
}

async fn pg_server_info(uri: &str) -> Result<ServerInfo> {
    let c = postgres::connect(uri, None)
        .await
        .context("PostgreSQL does not answer (is it running? `service postgresql start`)")?;
    let st = postgres::settings(&c).await?;
    Ok(ServerInfo {
        role: "postgres".into(),
        backend: "postgres".into(),
        version: Some(format!(
            "{} (shared_buffers {}, work_mem {}, jit {}, max_connections {})",
            st.version, st.shared_buffers, st.work_mem, st.jit, st.max_connections
        )),
        surrogate: None,
        storage_engine: None,
        wt_cache_bytes: None,
        local: pg_local_port(uri)
            .and_then(sys::local_listener_pid)
            .is_some(),
    })
}

/// The port of a PostgreSQL URI whose host is this machine.
fn pg_local_port(uri: &str) -> Option<u16> {
    let cfg = postgres::config(uri, None).ok()?;
    let local = cfg.get_hosts().iter().all(|h| match h {
        tokio_postgres::config::Host::Tcp(h) => {
            matches!(h.as_str(), "127.0.0.1" | "localhost" | "::1")
        }
        tokio_postgres::config::Host::Unix(_) => true,
    });
    local.then(|| cfg.get_ports().first().copied().unwrap_or(5432))
}

/// A server's name in results: `default`, or the variable holding its URI.
fn role(srv: &Server) -> String {
    match srv {
        Server::Default => "default".into(),
        Server::Env(v) => v.clone(),
    }
}

/// The port of a URI whose (first) host is this machine.
fn local_port(uri: &str) -> Option<u16> {
    let rest = uri.split_once("://")?.1;
    let hosts = rest.split(['/', '?']).next()?;
    let hosts = hosts.rsplit('@').next()?;
    let first = hosts.split(',').next()?;
    let (host, port) = match first.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || first.starts_with('[') => (h, p.parse().ok()?),
        _ => (first, 27017),
    };
    matches!(host, "127.0.0.1" | "localhost" | "[::1]" | "::1").then_some(port)
}

async fn run_trial(ctx: &Ctx<'_>, v: &Variant, trial: u32) -> Trial {
    let started_at = rfc3339(std::time::SystemTime::now());
    let mut t = Trial {
        variant: v.id(),
        trial,
        status: TrialStatus::Failed,
        error: None,
        started_at,
        elapsed_s: 0.0,
        operations: 0,
        errors: 0,
        late_starts: 0,
        unissued: 0,
        groups: Vec::new(),
        tenants: Vec::new(),
        timeline: Vec::new(),
        hlog: None,
        evidence: Evidence::default(),
    };
    if let Err(e) = trial_inner(ctx, v, &mut t).await {
        t.status = TrialStatus::Failed;
        t.error = Some(redact_text(&format!("{e:#}")));
    }
    t
}

async fn trial_inner(ctx: &Ctx<'_>, v: &Variant, t: &mut Trial) -> Result<()> {
    if v.backend == BackendKind::Postgres {
        return pg_trial(ctx, v, t).await;
    }
    let s = ctx.scenario;
    let placement = s.placement(ctx.pop, v.layout);

    // Data: reuse when the markers match, complete and clean; else (re)load or rebuild indexes.
    let seed_opts = seed_options(ctx, v);
    let seed_conn = ConnectOptions {
        max_pool_size: seed_opts.workers as u32 + 4,
        ..Default::default()
    };
    let seeders = Servers::for_placement(ctx.uri, &placement, &seed_conn).await?;
    let sum = if ctx.worker.is_some() {
        // Several generators must not seed at once: they only check the data is there.
        let r = mongo::check_ready(&seeders, s, &placement, &v.indexes).await;
        if let Err(e) = r {
            seeders.shutdown().await;
            bail!(
                "{e}; seed it first with `tenantbench seed --scenario {} --layout {} --indexes {}`",
                s.path.display(),
                v.layout,
                v.indexes
            );
        }
        r?
    } else {
        mongo::seed(&seeders, s, ctx.pop, &placement, &seed_opts).await?
    };
    seeders.shutdown().await;
    t.evidence.data = data_evidence(&sum);

    // Connection baseline per server, before the trial's clients exist.
    let mut samplers = Vec::new();
    let sampling = CancellationToken::new();
    for srv in placement.servers() {
        let u = Servers::uri_of(ctx.uri, &srv)?;
        let c = mongo::client(
            &u,
            &ConnectOptions {
                max_pool_size: 1,
                ..Default::default()
            },
        )
        .await?;
        let baseline = mongo::server_connections(&c)
            .await
            .map(|x| x.0)
            .unwrap_or(0);
        let role = role(&srv);
        samplers.push(tokio::spawn(mongo::sample_connections(
            c,
            role,
            baseline,
            sampling.clone(),
        )));
    }

    // The trial's clients.
    let checkout = Arc::new(CheckoutStats::default());
    let conn = ConnectOptions {
        max_pool_size: v.max_pool_size,
        min_pool_size: v.min_pool_size,
        checkout: Some(checkout.clone()),
        ..Default::default()
    };
    let servers = Servers::for_placement(ctx.uri, &placement, &conn).await?;
    let mut backend = MongoBackend::new(&servers, &placement, ctx.pop, s.seed);
    if v.strategy == Strategy::ClientPerTenant {
        let mut regs = BTreeMap::new();
        for srv in placement.servers() {
            let u = Servers::uri_of(ctx.uri, &srv)?;
            regs.insert(
                srv,
                ClientRegistry::new(
                    &u,
                    conn.clone(),
                    s.connections.max_clients,
                    s.connections.idle_ttl,
                ),
            );
        }
        backend = backend.with_routing(Routing::ClientPerTenant(regs));
    }
    let backend = Arc::new(backend);

    // Plan evidence before the load, on the data as seeded.
    t.evidence.explain = explain_evidence(ctx, &backend).await;

    // Every local server of the placement, the default one first.
    let mut local = Vec::new();
    for srv in placement.servers() {
        let u = Servers::uri_of(ctx.uri, &srv)?;
        if let Some(pid) = local_port(&u).and_then(sys::local_listener_pid)
            && !local.iter().any(|(_, p)| *p == pid)
        {
            local.push((role(&srv), pid));
        }
    }
    let report = measure(ctx, v, t, backend.clone(), &local, false).await?;

    sampling.cancel();
    for h in samplers {
        if let Ok(mut samples) = h.await {
            t.evidence.connections.append(&mut samples);
        }
    }
    t.evidence.checkout = checkout.evidence();
    if let Routing::ClientPerTenant(regs) = backend.routing() {
        let mut r = RegistryEvidence {
            max_clients: s.connections.max_clients as u64,
            ..Default::default()
        };
        for reg in regs.values() {
            use std::sync::atomic::Ordering::Relaxed;
            r.created += reg.stats.created.load(Relaxed);
            r.evicted_lru += reg.stats.evicted_lru.load(Relaxed);
            r.evicted_idle += reg.stats.evicted_idle.load(Relaxed);
            r.max_held = r.max_held.max(reg.stats.max_held.load(Relaxed) as u64);
            reg.shutdown().await;
        }
        let cold = backend.cold_starts();
        if !cold.is_empty() {
            r.cold_start = Some(Summary::of(&cold));
        }
        t.evidence.registry = Some(r);
    }
    servers.shutdown().await;

    figures(ctx, t, report);
    Ok(())
}

/// Connections the harness keeps for itself on PostgreSQL beyond the pools (sampler, admin).
const PG_HARNESS_CONNECTIONS: i64 = 3;

/// One trial on PostgreSQL: data as `seed` leaves it, a pool per database of the placement
/// (checked against `max_connections` before any is opened), EXPLAIN evidence, connections
/// from `pg_stat_activity` each second, then the workload.
async fn pg_trial(ctx: &Ctx<'_>, v: &Variant, t: &mut Trial) -> Result<()> {
    let s = ctx.scenario;
    let placement = s.placement(ctx.pop, v.layout);
    if ctx.worker.is_some() {
        bail!("--worker is not supported on the postgres backend yet: run one generator");
    }
    if v.strategy == Strategy::ClientPerTenant {
        bail!(
            "strategy client-per-tenant is MongoDB's (a client registry); on postgres use single-client with a pool per database"
        );
    }
    // Pools before anything is created: every database gets a pool of max_pool_size.
    let admin = postgres::connect(ctx.pg_uri, None).await?;
    let st = postgres::settings(&admin).await?;
    // A pool never holds more connections than requests can be in flight at once.
    let in_flight = match v.pacer {
        Pacer::Closed { concurrency, .. } => concurrency,
        Pacer::Open { workers, .. } => workers,
    };
    let per_pool = (v.max_pool_size as usize).min(in_flight).max(1);
    let dbs = placement.databases.len() as i64;
    let need = dbs * per_pool as i64 + PG_HARNESS_CONNECTIONS;
    let have = st.max_connections - st.reserved_connections;
    if need > have {
        bail!(
            "{dbs} databases × {per_pool} connections per pool (max_pool_size {} capped by {in_flight} requests in flight) + {PG_HARNESS_CONNECTIONS} for the harness = {need} connections, but the server allows {have} ({} max_connections − {} reserved): a pool per database does not fit. Lower max_pool_size, use fewer tenants, or a layout with one database (shared, schema-per-tenant)",
            v.max_pool_size,
            st.max_connections,
            st.reserved_connections
        );
    }
    let seed_opts = seed_options(ctx, v);
    let sum = postgres::seed(ctx.pg_uri, s, ctx.pop, &placement, &seed_opts).await?;
    t.evidence.data = data_evidence(&sum);

    // Connections of the placement's databases, once a second, from the admin connection.
    let names: Vec<String> = placement.databases.iter().map(|d| d.name.clone()).collect();
    let count_sql = "SELECT count(*) FROM pg_stat_activity WHERE datname = ANY($1)";
    let baseline: i64 = admin.query_one(count_sql, &[&names]).await?.get(0);
    let sampling = CancellationToken::new();
    let sampler = {
        let sampling = sampling.clone();
        let names = names.clone();
        tokio::spawn(async move {
            let t0 = std::time::Instant::now();
            let mut out = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = sampling.cancelled() => break,
                }
                if let Ok(r) = admin.query_one(count_sql, &[&names]).await {
                    let current: i64 = r.get(0);
                    out.push(res::ConnectionSample {
                        t_s: round3(t0.elapsed().as_secs_f64()),
                        server: "postgres".into(),
                        current,
                        total_created: 0,
                        trial: current - baseline,
                    });
                }
            }
            out
        })
    };

    let pools = placement
        .databases
        .iter()
        .map(|d| postgres::pool(ctx.pg_uri, &d.name, per_pool))
        .collect::<Result<Vec<_>, _>>()?;
    if v.min_pool_size > 0 {
        postgres::warm(&pools, v.min_pool_size as usize).await?;
    }
    let backend = Arc::new(PgBackend::new(pools, &placement, ctx.pop, s.seed));
    t.evidence.explain = pg_explain_evidence(ctx, &backend).await;

    let local: Vec<(String, u32)> = pg_local_port(ctx.pg_uri)
        .and_then(sys::local_listener_pid)
        .map(|pid| ("default".to_string(), pid))
        .into_iter()
        .collect();
    let report = measure(ctx, v, t, backend.clone(), &local, true).await?;
    sampling.cancel();
    if let Ok(mut samples) = sampler.await {
        t.evidence.connections.append(&mut samples);
    }
    for p in backend.pools() {
        p.close();
    }
    figures(ctx, t, report);
    Ok(())
}

/// PostgreSQL's `EXPLAIN (ANALYZE, BUFFERS)` as evidence.
async fn pg_explain_evidence(ctx: &Ctx<'_>, backend: &PgBackend) -> Vec<ExplainRecord> {
    explain_records(ctx, async |req: Request| {
        let e = backend.explain(&req).await.ok()??;
        Some(ExplainRecord {
            op: req.op,
            tenant: String::new(),
            class: String::new(),
            tenant_documents: 0,
            collection_documents: backend.table_rows(&req).await.ok().flatten().unwrap_or(0),
            stages: e.stages,
            keys_examined: e.keys_examined,
            docs_examined: e.docs_examined,
            returned: e.returned,
            limit: e.limit,
            rows_removed: Some(e.rows_removed),
            buffers_hit: Some(e.buffers_hit),
            buffers_read: Some(e.buffers_read),
        })
    })
    .await
}

/// How a trial seeds: the variant's layout and indexes, the scenario's load settings unless a
/// flag overrides them, never forced.
fn seed_options(ctx: &Ctx<'_>, v: &Variant) -> SeedOptions {
    let (s, a) = (ctx.scenario, &ctx.args.seed);
    SeedOptions {
        layout: v.layout,
        indexes: v.indexes.clone(),
        batch_size: a.batch_size.unwrap_or(s.load.batch_size),
        workers: a.workers.unwrap_or(s.load.workers),
        index_build: a.index_build.unwrap_or(s.load.index_build),
        reseed: false,
        progress: ctx.progress,
    }
}

/// The data evidence of a seed, printed as the trial's `data:` line.
fn data_evidence(sum: &mongo::SeedSummary) -> DataEvidence {
    eprintln!(
        "  data: {} databases, {} loaded, {} reused, {} indexes built ({:.1} s)",
        sum.databases, sum.loaded, sum.reused, sum.indexes_built, sum.total_seconds
    );
    DataEvidence {
        databases: sum.databases as u64,
        loaded: sum.loaded as u64,
        reused: sum.reused as u64,
        collections: sum.collections as u64,
        indexes: sum.indexes as u64,
        indexes_built: sum.indexes_built as u64,
        storage_bytes: sum.storage_bytes,
        index_bytes: sum.index_bytes,
        prepare_s: (sum.total_seconds * 1000.0).round() / 1000.0,
    }
}

/// Runs the workload against a backend: the interval log, the live line, and the CPU of the
/// harness and (when local) of the server, its whole process tree with `tree`.
async fn measure<B: crate::backend::Backend>(
    ctx: &Ctx<'_>,
    v: &Variant,
    t: &mut Trial,
    backend: Arc<B>,
    servers: &[(String, u32)],
    tree: bool,
) -> Result<crate::runner::RunReport> {
    let server_cpu = |pid: u32| {
        if tree {
            sys::process_tree_cpu_seconds(pid)
        } else {
            sys::process_cpu_seconds(pid)
        }
    };
    let mem0 = sys::memory_mark();
    let cpu0: Vec<Option<f64>> = servers.iter().map(|(_, p)| server_cpu(*p)).collect();
    let harness0 = sys::harness_cpu_seconds();
    let wall0 = std::time::Instant::now();

    let hlog_name = format!("{}-t{}.hlog", v.id(), t.trial);
    let hlog_file = std::fs::File::create(ctx.dir.join(&hlog_name))
        .with_context(|| format!("creating {}", ctx.dir.join(&hlog_name).display()))?;
    t.hlog = Some(hlog_name);

    let s = ctx.scenario;
    let stream = ctx.worker.map_or(0, |(i, _)| i);
    let source =
        Arc::new(Workload::from_scenario(ctx.pop, s, &ctx.plan).with_stream(u64::from(stream)));
    let cfg = RunConfig {
        pacer: v.pacer,
        stop: s.workload.stop,
        overrun: s.workload.overrun_for(v.pacer),
        windows: ctx.plan.windows.clone(),
        measured: ctx.plan.measured.clone(),
        classes: ctx.class_names.clone(),
        tenants: ctx.pop.tenants.len(),
        tenant_sample: ctx.sample.clone(),
    };
    let live_bar = live_bar(ctx.progress);
    let io = RunIo {
        cancel: ctx.cancel.clone(),
        hlog: Some(Box::new(BufWriter::new(hlog_file))),
        live: Some(live_callback(
            live_bar.clone(),
            v.id(),
            ctx.plan.names.clone(),
        )),
    };
    let report = crate::runner::run(backend, source, cfg, io).await;
    live_bar.finish_and_clear();
    let harness_s = round3(sys::harness_cpu_seconds() - harness0);
    let per_server: Vec<res::ServerCpu> = servers
        .iter()
        .zip(cpu0)
        .filter_map(|((role, pid), a)| {
            Some(res::ServerCpu {
                role: role.clone(),
                cpu_s: round3(server_cpu(*pid)? - a?),
                cpus: sys::cpus_allowed(*pid),
            })
        })
        .collect();
    t.evidence.cpu = CpuEvidence {
        wall_s: round3(wall0.elapsed().as_secs_f64()),
        harness_s,
        server_s: per_server.first().map(|x| x.cpu_s),
        cores: sys::cores(),
        servers: per_server,
        harness_cpus: sys::cpus_allowed(std::process::id()),
    };
    if let (Some(start_bytes), Some(peak_bytes)) = (mem0, sys::memory_peak()) {
        t.evidence.memory = Some(res::MemoryEvidence {
            start_bytes,
            peak_bytes,
        });
    }
    Ok(report)
}

/// The trial's figures from the runner's report: groups, tenant sample, timeline, status.
fn figures(ctx: &Ctx<'_>, t: &mut Trial, report: crate::runner::RunReport) {
    let rec = &report.recorder;
    t.elapsed_s = round3(report.elapsed.as_secs_f64());
    t.operations = rec.count();
    t.errors = rec.count_where(|k| matches!(k.outcome, Outcome::Error(_)));
    t.late_starts = rec.late_starts;
    t.unissued = report.unissued;
    let spans = ctx.plan.spans(report.elapsed);
    let phase_secs: Vec<f64> = spans
        .iter()
        .map(|w| w.iter().map(|[a, b]| b - a).sum::<f64>().max(1e-9))
        .collect();
    t.groups = groups(rec, &ctx.plan.names, &ctx.class_names, &phase_secs);
    // Per sampled tenant and operation it ran; documents are the tenant's in the op's collection.
    t.tenants = ctx
        .sample
        .iter()
        .flat_map(|&i| Op::ALL.iter().map(move |&op| (i, op)))
        .zip(&report.tenants)
        .filter(|(_, tally)| !tally.ok.is_empty() || tally.errors > 0)
        .map(|((i, op), tally)| {
            let tn = &ctx.pop.tenants[i];
            TenantSample {
                tenant: tn.id.clone(),
                op,
                rank: tn.rank,
                documents: tn.count(collection_of(op)),
                class: tn.class().to_string(),
                errors: tally.errors,
                response: Summary::of(&tally.ok),
                histogram: res::encode(&tally.ok),
            }
        })
        .collect();
    t.timeline = report.timeline.summaries;
    if let Some(e) = report.hlog_error {
        eprintln!("  warning: writing the interval log failed: {e}");
    }
    t.status = if report.cancelled {
        TrialStatus::Interrupted
    } else {
        TrialStatus::Complete
    };
    print_trial_line(t, rec, &ctx.plan, &phase_secs);
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn live_bar(show: bool) -> indicatif::ProgressBar {
    let pb = if show {
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::hidden()
    };
    pb.set_style(
        indicatif::ProgressStyle::with_template("  {spinner} {msg}").expect("static template"),
    );
    pb
}

fn live_callback(
    pb: indicatif::ProgressBar,
    id: String,
    phases: Vec<String>,
) -> crate::runner::LiveFn {
    Box::new(move |l: &Live| {
        pb.set_message(format!(
            "{id} · {} · {} s · {} ops/s · p99 so far {:.2} ms · {} errors",
            phases.get(usize::from(l.phase)).map_or("?", String::as_str),
            l.second + 1,
            l.ops,
            l.p99_us as f64 / 1000.0,
            l.errors
        ));
        pb.tick();
    })
}

fn print_trial_line(t: &Trial, rec: &Recorder, plan: &PhasePlan, phase_secs: &[f64]) {
    let measured = |k: &crate::metrics::Key| {
        plan.measured
            .get(usize::from(k.phase))
            .copied()
            .unwrap_or(false)
    };
    let ok = rec
        .merged(|k| measured(k) && k.outcome == Outcome::Ok)
        .response;
    let secs: f64 = phase_secs
        .iter()
        .zip(&plan.measured)
        .filter(|(_, m)| **m)
        .map(|(s, _)| s)
        .sum();
    let s = Summary::of(&ok);
    eprintln!(
        "  {:?}: {} operations, {} errors, {} late starts; measured phases: {:.0} ok ops/s, p50 {:.2} ms, p99 {:.2} ms",
        t.status,
        t.operations,
        t.errors,
        t.late_starts,
        ok.len() as f64 / secs.max(1e-9),
        s.p50_us as f64 / 1000.0,
        s.p99_us as f64 / 1000.0
    );
    if t.unissued > 0 {
        eprintln!(
            "  the server did not keep up: {} operations intended before the end never started (the trial reached its overrun limit); its percentiles are a lower bound",
            t.unissued
        );
    }
}

/// One group per recorder key.
fn groups(rec: &Recorder, phases: &[String], classes: &[String], phase_secs: &[f64]) -> Vec<Group> {
    rec.keys()
        .into_iter()
        .filter_map(|k| {
            let tm = rec.get(&k)?;
            let (outcome, error_kind) = res::outcome_fields(k.outcome);
            let secs = phase_secs.get(usize::from(k.phase)).copied().unwrap_or(1.0);
            Some(Group {
                phase: phases.get(usize::from(k.phase))?.clone(),
                op: k.op,
                class: classes.get(usize::from(k.class))?.clone(),
                outcome,
                error_kind,
                throughput: (tm.response.len() as f64 / secs * 10.0).round() / 10.0,
                response: Summary::of(&tm.response),
                service: Summary::of(&tm.service),
                response_histogram: res::encode(&tm.response),
                service_histogram: res::encode(&tm.service),
            })
        })
        .collect()
}

/// The operations of the workload's mix and of every phase's mixes, in first-seen order.
fn mix_ops(ctx: &Ctx<'_>) -> Vec<Op> {
    let mut ops: Vec<Op> = ctx.scenario.workload.mix.iter().map(|(o, _)| *o).collect();
    for p in &ctx.scenario.phases {
        for (_, m) in &p.mixes {
            for (o, _) in m {
                if !ops.contains(o) {
                    ops.push(*o);
                }
            }
        }
    }
    ops
}

/// The plan evidence of each operation in the mix for the largest and the median tenant:
/// `explain` gives each call's backend figures, completed here with the tenant's.
async fn explain_records(
    ctx: &Ctx<'_>,
    explain: impl AsyncFn(Request) -> Option<ExplainRecord>,
) -> Vec<ExplainRecord> {
    let mut out = Vec::new();
    for op in mix_ops(ctx) {
        for tenant in [0, ctx.pop.tenants.len() / 2] {
            // A record from the middle of the tenant's range: the first one would be found
            // at once by a scan in insertion order and understate what a typical call does.
            let tn = &ctx.pop.tenants[tenant];
            let key = tn.count(collection_of(op)) / 2;
            if let Some(mut e) = explain(Request { tenant, op, key }).await {
                e.tenant = tn.id.clone();
                e.class = ctx.class_names[usize::from(ctx.class_of[tenant])].clone();
                e.tenant_documents = tn.count(collection_of(op));
                out.push(e);
            }
        }
    }
    out
}

/// MongoDB's `explain` (executionStats) as evidence.
async fn explain_evidence(ctx: &Ctx<'_>, backend: &MongoBackend) -> Vec<ExplainRecord> {
    explain_records(ctx, async |req: Request| {
        let e = backend.explain(&req).await.ok()??;
        Some(ExplainRecord {
            op: req.op,
            tenant: String::new(),
            class: String::new(),
            tenant_documents: 0,
            collection_documents: backend
                .collection_documents(&req)
                .await
                .ok()
                .flatten()
                .unwrap_or(0),
            stages: e.stages,
            keys_examined: e.keys_examined,
            docs_examined: e.docs_examined,
            returned: e.returned,
            limit: e.limit,
            rows_removed: None,
            buffers_hit: None,
            buffers_read: None,
        })
    })
    .await
}

/// Per variant, phase and class (and `all`): per-trial throughput and percentiles, and the
/// merged histogram's summary.
pub fn spread(r: &Results) -> Vec<Spread> {
    let mut out = Vec::new();
    for v in &r.variants {
        let trials: Vec<&Trial> = r.trials_of(&v.id).collect();
        if trials.is_empty() {
            continue;
        }
        for ph in r.phases.iter().filter(|p| p.measured) {
            let mut classes: Vec<String> = vec!["all".into()];
            classes.extend(r.classes.iter().cloned());
            for class in classes {
                let mut merged = histogram();
                let mut tput = Vec::new();
                let mut p50 = Vec::new();
                let mut p99 = Vec::new();
                for t in &trials {
                    let mut h = histogram();
                    let mut n = 0.0;
                    for g in t.groups.iter().filter(|g| {
                        g.phase == ph.name
                            && g.outcome == "ok"
                            && (class == "all" || g.class == class)
                    }) {
                        if let Ok(x) = res::decode(&g.response_histogram) {
                            h.add(&x).expect("auto-resizing histograms add");
                        }
                        n += g.throughput;
                    }
                    if h.is_empty() {
                        continue;
                    }
                    merged.add(&h).expect("auto-resizing histograms add");
                    tput.push((n * 10.0).round() / 10.0);
                    p50.push(h.value_at_quantile(0.5));
                    p99.push(h.value_at_quantile(0.99));
                }
                if merged.is_empty() {
                    continue;
                }
                let range = if p99.len() >= 2 {
                    let (lo, hi) = (
                        *p99.iter().min().expect("non-empty"),
                        *p99.iter().max().expect("non-empty"),
                    );
                    Some(((hi - lo) as f64 / lo.max(1) as f64 * 1000.0).round() / 1000.0)
                } else {
                    None
                };
                out.push(Spread {
                    variant: v.id.clone(),
                    phase: ph.name.clone(),
                    class,
                    throughput: tput,
                    p50_us: p50,
                    p99_us: p99,
                    merged: Summary::of(&merged),
                    p99_relative_range: range,
                });
            }
        }
    }
    out
}

/// Reads a run directory's results.
///
/// # Errors
/// Missing or unreadable file, or JSON that is not a results file.
pub fn read_results(dir: &Path) -> Result<Results> {
    let p = dir.join("results.json");
    let text = std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
    // The version first, so results of another format say so instead of naming a field.
    #[derive(serde::Deserialize)]
    struct Version {
        schema_version: u32,
    }
    let v: Version = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a tenantbench results file", p.display()))?;
    if v.schema_version != res::SCHEMA_VERSION {
        bail!(
            "{}: results format {}, expected {} (written by another tenantbench version; rerun, or report it with that version)",
            p.display(),
            v.schema_version,
            res::SCHEMA_VERSION
        );
    }
    serde_json::from_str(&text)
        .with_context(|| format!("{}: not a tenantbench results file", p.display()))
}

/// Writes results.json atomically (temporary file, then rename).
///
/// # Errors
/// The directory is not writable.
pub fn write_results(dir: &Path, r: &Results) -> Result<()> {
    let tmp = dir.join("results.json.tmp");
    let json = serde_json::to_vec_pretty(r).context("encoding results")?;
    std::fs::write(&tmp, json).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, dir.join("results.json"))
        .with_context(|| format!("renaming {} to results.json", tmp.display()))?;
    Ok(())
}

/// A UTC time as `yyyymmddThhmmssZ` (run directory names).
pub fn utc_stamp(t: std::time::SystemTime) -> String {
    let (y, mo, d, h, mi, s, _) = civil(t);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
}

/// A UTC time as RFC 3339 with milliseconds.
pub fn rfc3339(t: std::time::SystemTime) -> String {
    let (y, mo, d, h, mi, s, ms) = civil(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
}

/// Parses `yyyy-mm-ddThh:mm:ss[.fff]Z` (UTC).
pub fn parse_rfc3339(s: &str) -> Option<std::time::SystemTime> {
    let s = s.strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>());
    let (y, mo, da) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|x| x.parse::<i64>());
    let (h, mi, se) = (t.next()?.ok()?, t.next()?.ok()?, t.next()?.ok()?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&da) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let ms: i64 = format!("{frac:0<3}")[..3].parse().ok()?;
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + da - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + se;
    let secs = u64::try_from(secs).ok()?;
    Some(std::time::UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(ms as u64))
}

fn civil(t: std::time::SystemTime) -> (i64, u32, u32, u32, u32, u32, u32) {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        (rem / 3600) as u32,
        (rem % 3600 / 60) as u32,
        (rem % 60) as u32,
        d.subsec_millis(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times_format_and_parse() {
        let t = std::time::UNIX_EPOCH + Duration::from_millis(1_764_097_445_123);
        assert_eq!(utc_stamp(t), "20251125T190405Z");
        assert_eq!(rfc3339(t), "2025-11-25T19:04:05.123Z");
        assert_eq!(parse_rfc3339("2025-11-25T19:04:05.123Z"), Some(t));
        assert_eq!(
            parse_rfc3339("2025-11-25T19:04:05Z"),
            Some(t - Duration::from_millis(123))
        );
        assert_eq!(parse_rfc3339("2025-13-25T19:04:05Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn generators_split_the_load() {
        assert_eq!(parse_worker("1/3").expect("valid"), (1, 3));
        for bad in ["3/3", "1", "a/2", "0/0", "-1/2"] {
            assert!(parse_worker(bad).is_err(), "{bad}");
        }
        let mut s = Scenario::parse(
            Path::new("w.toml"),
            "name = \"w\"\n[population]\ntenants = 10\ndocuments = 100\ndistribution = \"uniform\"\n[matrix]\nconcurrency = [5]\n",
        )
        .expect("parses");
        let mut t = s.clone();
        split_load(&mut s, (0, 2)).expect("splits");
        split_load(&mut t, (1, 2)).expect("splits");
        assert_eq!(
            s.matrix.variants[0].pacer.workers() + t.matrix.variants[0].pacer.workers(),
            5
        );
        let mut u = s.clone();
        assert!(
            split_load(&mut u, (5, 6)).is_err(),
            "3 workers cannot feed 6 generators"
        );
        let mut o = Scenario::parse(
            Path::new("o.toml"),
            "name = \"o\"\n[population]\ntenants = 10\ndocuments = 100\ndistribution = \"uniform\"\n[workload]\nrate = 1000.0\nworkers = 64\n",
        )
        .expect("parses");
        split_load(&mut o, (0, 4)).expect("splits");
        assert!(
            matches!(o.matrix.variants[0].pacer, Pacer::Open { rate, workers: 16, .. } if rate == 250.0)
        );
    }

    #[test]
    fn narrowing_drops_rule_sets_outside_hybrid_and_merges_twins() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/noisy-neighbour.toml");
        let base = Scenario::load(&path).expect("the noisy-neighbour scenario loads");
        let mut s = base.clone();
        narrow(
            &mut s,
            None,
            Some(crate::layout::Layout::Shared),
            None,
            None,
        )
        .expect("narrows");
        assert!(s.matrix.variants.iter().all(|v| v.hybrid.is_none()));
        let ids: Vec<String> = s.matrix.variants.iter().map(Variant::id).collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(ids.len(), unique.len(), "twins run once: {ids:?}");
        assert!(ids.len() < base.matrix.variants.len(), "{ids:?}");

        let mut p = Scenario::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/tenant-index.toml"),
        )
        .expect("the tenant-index scenario loads");
        narrow(&mut p, None, None, Some("partial"), None).expect("partial exists on PostgreSQL");
        assert!(
            p.matrix
                .variants
                .iter()
                .all(|v| v.backend == BackendKind::Postgres && v.indexes == "partial"),
            "MongoDB variants have no partial profile and are skipped"
        );
        assert!(p.matrix.skipped.iter().any(|w| w.contains("partial")));
    }

    #[test]
    fn local_ports_and_redaction() {
        assert_eq!(local_port("mongodb://127.0.0.1:27018"), Some(27018));
        assert_eq!(local_port("mongodb://u:p@localhost/db"), Some(27017));
        assert_eq!(local_port("mongodb://db.example.com:27017"), None);
        assert_eq!(
            redact_text("uri = \"mongodb://u:secret@h:1/x\" ok"),
            "uri = \"mongodb://***@h:1/x\" ok"
        );
    }
}
