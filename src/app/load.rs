//! `tenantbench load`: `run`'s matrix, trials and results with the workload going through the
//! tenant API: per trial, `serve --variant` in the variant's configuration as a child process
//! (or `--host`'s API), a goose attack on it ([`crate::http::attack`]), and the API's CPU and
//! connection evidence kept apart from the database servers'.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use tokio_util::sync::CancellationToken;

use super::settings::{HttpPlan, RunPlan};
use super::trial::{CpuMark, Trials, round3};
use crate::cli::LoadArgs;
use crate::http::attack::{self, AttackPlan};
use crate::http::staging::{Staging, tenants_file};
use crate::metrics::evidence as sys;
use crate::metrics::results::{Evidence, HttpEvidence, ServerCpu, Trial};
use crate::op::Op;
use crate::pacing::{Pacer, StopCondition};
use crate::population::Population;
use crate::runner::RunReport;
use crate::runner::external::External;
use crate::scenario::{Scenario, Variant};

/// How long the API may take to answer `/healthz` after it starts (its data check included).
const API_START: Duration = Duration::from_secs(120);
/// How long the API may take to drain and stop after SIGTERM.
const API_STOP: Duration = Duration::from_secs(30);
/// Per-request timeout of goose's users.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// `tenantbench load`.
///
/// # Errors
/// Bad flags or scenario (one `load` cannot run), and whatever `run` refuses.
pub async fn load(a: LoadArgs) -> Result<u8> {
    if a.run.worker.is_some() || a.run.start_at.is_some() {
        bail!(
            "--worker and --start-at split `run`'s open loop across generators; `load` runs one goose attack per trial"
        );
    }
    let mut plan = RunPlan::resolve(&a.run)?;
    check_scenario(&plan.scenario)?;
    if let Some(host) = &a.host {
        if plan.scenario.http.is_some() {
            bail!(
                "--host {host}: {} has an [http] table, whose base_url_env names the API; --host is for the reference API (`serve`)",
                plan.scenario.path.display()
            );
        }
        check_host(host)?;
        one_configuration(&plan.scenario, &format!("--host {host}: the API there"))?;
    }
    let staging = match &plan.scenario.http {
        Some(spec) => Some(open_staging(&plan.scenario, spec, a.allow_writes)?),
        None => None,
    };
    if staging.is_some() {
        // Layouts and indexes are the team's: a staging variant is its load.
        for v in &mut plan.scenario.matrix.variants {
            if v.name.is_none() {
                v.name = Some(match v.pacer {
                    Pacer::Closed { concurrency, .. } => format!("staging · {concurrency} users"),
                    Pacer::Open { rate, .. } => format!("staging · {rate}/s"),
                });
            }
        }
    }
    let t = &a.run.seed.target;
    let mut serve_args = vec![
        "serve".to_string(),
        "--scenario".into(),
        t.scenario.display().to_string(),
    ];
    if let Some(p) = &t.prefix {
        serve_args.extend(["--prefix".into(), p.clone()]);
    }
    if let Some(s) = t.scale {
        serve_args.extend(["--scale".into(), s.to_string()]);
    }
    plan.http = Some(HttpPlan {
        exe: std::env::current_exe().context("finding this program, to start `serve`")?,
        serve_args,
        host: a.host.clone(),
        staging,
    });
    super::run::run_plan(plan).await
}

/// What goose can run: a workload stopped by duration, in whole seconds, with no phase that
/// sets its own rate (goose's throttle is one rate for a whole attack).
fn check_scenario(s: &Scenario) -> Result<()> {
    let StopCondition::Duration(d) = s.workload.stop else {
        bail!(
            "{}: the workload stops after a count of operations; `load` runs goose for a duration (set [workload] duration)",
            s.path.display()
        );
    };
    attack::test_plan(1, s.workload.warmup, d)
        .map_err(|e| anyhow::anyhow!("{}: {e}", s.path.display()))?;
    if let Some(p) = s.phases.iter().find(|p| p.rate.is_some()) {
        bail!(
            "{}: phase {:?} sets its own rate; goose's throttle holds one rate for a whole attack, so `load` cannot change it mid-run (`run` can)",
            s.path.display(),
            p.name
        );
    }
    Ok(())
}

/// `--host`: an http(s) URL without credentials.
fn check_host(host: &str) -> Result<()> {
    let url = reqwest::Url::parse(host).map_err(|e| {
        anyhow::anyhow!("--host {host:?}: not a URL ({e}); expected http://host:port")
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        bail!("--host {host:?}: expected an http:// or https:// base URL");
    }
    if !url.username().is_empty() || url.password().is_some() {
        bail!(
            "--host: credentials in the URL would end up in results and logs; pass the API's address only"
        );
    }
    Ok(())
}

/// An API that `load` does not start runs one configuration: the matrix may vary only the
/// load (concurrency, rate), not layouts, indexes, pools, strategies or scale.
fn one_configuration(s: &Scenario, what: &str) -> Result<()> {
    let server_side = |v: &Variant| {
        (
            v.backend,
            v.layout,
            v.hybrid.clone(),
            v.indexes.clone(),
            v.max_pool_size,
            v.min_pool_size,
            v.strategy,
            v.scale.to_bits(),
        )
    };
    let mut configs: Vec<_> = s.matrix.variants.iter().map(server_side).collect();
    configs.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    configs.dedup();
    if configs.len() > 1 {
        bail!(
            "{what} runs one configuration, but the matrix of {} has {} (layouts, indexes, pools, strategies or scales differ); narrow it with --layout and --indexes, or vary only concurrency and rate",
            s.path.display(),
            configs.len()
        );
    }
    Ok(())
}

/// A scenario's `[http]` API: its base URL and secrets from the environment, its tenants
/// file, an endpoint for every operation the workload can draw, and no write unless
/// `--allow-writes`.
fn open_staging(
    s: &Scenario,
    spec: &crate::scenario::http::HttpSpec,
    allow_writes: bool,
) -> Result<(Arc<Staging>, Population)> {
    one_configuration(s, "a staging API")?;
    let mut ops: Vec<Op> = s.workload.mix.iter().map(|(o, _)| *o).collect();
    ops.extend(
        s.phases
            .iter()
            .flat_map(|p| &p.mixes)
            .flat_map(|(_, m)| m)
            .map(|(o, _)| *o),
    );
    for op in ops {
        let Some(e) = spec.endpoint(op) else {
            bail!(
                "{}: the workload's mix has {} but [http] has no endpoint for it; add an [[http.endpoint]] with op = \"{}\"",
                s.path.display(),
                op.name(),
                op.name()
            );
        };
        if e.writes() && !allow_writes {
            bail!(
                "{}: {} is a write ({}); against a staging API `load` only reads unless --allow-writes is given",
                e.at,
                e.route,
                op.name()
            );
        }
    }
    let staging = Staging::open(spec).map_err(anyhow::Error::msg)?;
    let dir = s.path.parent().unwrap_or(Path::new("."));
    let pop = tenants_file(&spec.tenants, dir, spec.max_record).map_err(anyhow::Error::msg)?;
    Ok((Arc::new(staging), pop))
}

/// Installs the Ctrl-C handler of a `load` run before goose installs its own (which then
/// fails harmlessly): the first press stops the attack under way and the run after it
/// (`cancel`), the second aborts (`abort`).
pub(super) fn on_ctrl_c(cancel: CancellationToken, abort: CancellationToken) {
    let presses = AtomicU8::new(0);
    let installed = ctrlc::set_handler(move || {
        if presses.fetch_add(1, Ordering::SeqCst) == 0 {
            eprintln!("{}", super::run::INTERRUPTED);
            cancel.cancel();
            attack::stop("Ctrl-C");
        } else {
            abort.cancel();
        }
    });
    if let Err(e) = installed {
        eprintln!("warning: Ctrl-C will not stop the run cleanly: {e}");
    }
}

/// One trial through the API: start it (unless `--host`), attack it, stop it; the runner's
/// report, with the API's CPU, connections and goose's counts in `t.evidence`.
pub(super) async fn measure(
    tr: &Trials<'_>,
    api: &HttpPlan,
    v: &Variant,
    t: &mut Trial,
    servers: &[(String, u32)],
    server_cpu: impl Fn(u32) -> Option<f64>,
) -> Result<RunReport> {
    let stem = format!("{}-t{}", v.id(), t.trial);
    let staging = api.staging.as_ref().map(|(s, _)| s.clone());
    let started = match (&api.host, &staging) {
        (None, None) => Some(ApiProcess::start(api, tr, v, &stem).await?),
        _ => None,
    };
    let base_url = match (&api.host, &staging, &started) {
        (_, Some(s), _) => s.base_url.clone(),
        (Some(h), None, _) => h.trim_end_matches('/').to_string(),
        (None, None, Some(p)) => p.base_url.clone(),
        (None, None, None) => bail!("no API to attack"),
    };
    let (users, throttle, think) = match v.pacer {
        Pacer::Closed { concurrency, think } => (concurrency, None, think),
        Pacer::Open { rate, workers, .. } => (
            workers,
            Some(rate.round().max(1.0) as usize),
            Duration::ZERO,
        ),
    };
    let s = tr.scenario;
    let StopCondition::Duration(duration) = s.workload.stop else {
        bail!("`load` runs for a duration");
    };
    let test_plan =
        attack::test_plan(users, s.workload.warmup, duration).map_err(anyhow::Error::msg)?;
    let reports = vec![format!("{stem}-goose.html"), format!("{stem}-goose.json")];
    let plan = AttackPlan {
        base_url: base_url.clone(),
        users,
        throttle,
        think,
        test_plan: test_plan.clone(),
        reports: reports.iter().map(|r| tr.dir.join(r)).collect(),
        seed: s.seed,
        session_ops: s.workload.session_ops,
        timeout: REQUEST_TIMEOUT,
        staging,
        fixed_path: None,
    };
    let pid = started.as_ref().map(ApiProcess::pid);
    let started_api = started.is_some();
    let api0 = pid.and_then(sys::process_cpu_seconds);
    let mark = CpuMark::take(servers, &server_cpu);
    let users_pacer = Pacer::Closed {
        concurrency: users,
        think: Duration::ZERO,
    };
    let (cfg, io, live_bar) = tr.run_setup(v, t, users_pacer)?;
    let run = Arc::new(External::start(&cfg, io));
    let ids = tr.pop.tenants.iter().map(|x| x.id.clone()).collect();
    // Ctrl-C before the attack: none starts. During it: goose's kill switch, also when the
    // press came while goose was starting (it clears the switch when it starts).
    let counts = if tr.cancel.is_cancelled() {
        Ok(attack::GooseCounts::default())
    } else {
        let cancel = tr.cancel.clone();
        let stopper = tokio::spawn(async move {
            cancel.cancelled().await;
            attack::stop("Ctrl-C");
        });
        let c = attack::attack(&plan, tr.workload(), ids, run.clone()).await;
        stopper.abort();
        c
    };
    let run = Arc::into_inner(run).context("goose's users still hold the run")?;
    let report = run.finish().await;
    live_bar.finish_and_clear();
    let api_cpu = match (pid.and_then(sys::process_cpu_seconds), api0) {
        (Some(b), Some(a)) => vec![ServerCpu {
            role: "api".into(),
            cpu_s: round3(b - a),
            cpus: pid.and_then(sys::cpus_allowed),
        }],
        _ => Vec::new(),
    };
    mark.evidence(t, servers, &server_cpu, api_cpu);
    if let Some(p) = started {
        let ev = p.stop().await?;
        t.evidence.connections = ev.connections;
        t.evidence.checkout = ev.checkout;
        t.evidence.registry = ev.registry;
    }
    let counts = counts.map_err(anyhow::Error::msg)?;
    t.evidence.http = Some(HttpEvidence {
        engine: attack::ENGINE.into(),
        base_url: crate::backend::redact_uri(&base_url),
        started_api,
        users: users as u64,
        throttle_rps: throttle.map(|r| r as u64),
        test_plan,
        co_mitigation: "average".into(),
        requests: counts.requests,
        goose_failures: counts.failures,
        synthetic_requests: counts.synthetic,
        co_events: counts.co_events,
        goose_p99_us: counts.p99_us,
        goose_p99_backfilled_us: counts.p99_backfilled_us,
        reports,
    });
    Ok(report)
}

/// A `serve --variant` child process: killed if dropped before [`ApiProcess::stop`] (an
/// aborted run leaves no API behind).
struct ApiProcess {
    child: Option<Child>,
    base_url: String,
    evidence: PathBuf,
    log: PathBuf,
}

impl ApiProcess {
    /// Starts the API of variant `v` on a free loopback port, its output in `<stem>-api.log`,
    /// and waits until `/healthz` answers.
    async fn start(api: &HttpPlan, tr: &Trials<'_>, v: &Variant, stem: &str) -> Result<ApiProcess> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("finding a free port for the API")?
            .port();
        let listen = format!("127.0.0.1:{port}");
        let log = tr.dir.join(format!("{stem}-api.log"));
        let evidence = tr.dir.join(format!("{stem}-api.json"));
        let out =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let mut cmd = Command::new(&api.exe);
        cmd.args(&api.serve_args)
            .args(["--variant", &v.id(), "--listen", &listen, "--evidence"])
            .arg(&evidence)
            .stdin(Stdio::null())
            .stdout(out.try_clone().context("the API's log")?)
            .stderr(out);
        // The server's URI reaches the child through its environment, never its command line.
        if let Some(uri) = &tr.plan.server.uri {
            cmd.env(crate::backend::uri_env(tr.plan.server.backend()), uri);
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting the API ({} serve)", api.exe.display()))?;
        let mut p = ApiProcess {
            child: Some(child),
            base_url: format!("http://{listen}"),
            evidence,
            log,
        };
        p.wait_healthy().await?;
        Ok(p)
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Polls `/healthz` until it answers 200, the process exits (its log's last lines say
    /// why) or [`API_START`] passes.
    async fn wait_healthy(&mut self) -> Result<()> {
        let url = format!("{}/healthz", self.base_url);
        let deadline = std::time::Instant::now() + API_START;
        loop {
            if let Some(c) = self.child.as_mut()
                && let Some(status) = c.try_wait().context("waiting for the API")?
            {
                bail!(
                    "the API exited ({status}) before it answered /healthz:\n{}",
                    tail(&self.log, 8)
                );
            }
            if healthz(&url) {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                bail!(
                    "the API did not answer {url} within {} s:\n{}",
                    API_START.as_secs(),
                    tail(&self.log, 8)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM, then waits for it to drain and exit (SIGKILL past [`API_STOP`]); the
    /// connection evidence it wrote.
    async fn stop(mut self) -> Result<Evidence> {
        let mut child = self.child.take().context("the API was stopped already")?;
        // SAFETY: signalling our own child by its pid, which it holds until we reap it.
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = std::time::Instant::now() + API_STOP;
        let status = loop {
            if let Some(s) = child.try_wait().context("waiting for the API to stop")? {
                break s;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                bail!(
                    "the API did not stop within {} s of SIGTERM (killed)",
                    API_STOP.as_secs()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        if !status.success() {
            bail!("the API failed ({status}):\n{}", tail(&self.log, 8));
        }
        let text = std::fs::read_to_string(&self.evidence)
            .with_context(|| format!("reading the API's evidence {}", self.evidence.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("parsing the API's evidence {}", self.evidence.display()))
    }
}

impl Drop for ApiProcess {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Whether `url` answers 200 (a blocking one-shot GET on loopback, before any load).
fn healthz(url: &str) -> bool {
    use std::io::{Read as _, Write as _};
    let Ok(u) = reqwest::Url::parse(url) else {
        return false;
    };
    let addr = format!(
        "{}:{}",
        u.host_str().unwrap_or("127.0.0.1"),
        u.port_or_known_default().unwrap_or(80)
    );
    let Ok(mut s) = std::net::TcpStream::connect(&addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n",
        u.path()
    );
    let mut answer = String::new();
    s.write_all(req.as_bytes()).is_ok()
        && s.read_to_string(&mut answer).is_ok()
        && answer.starts_with("HTTP/1.1 200")
}

/// The last `n` lines of a file, indented.
fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
