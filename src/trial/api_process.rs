//! The API process of a `load` trial: `tenantbench serve --variant ID` started as a child on a
//! free loopback port, awaited on `/healthz`, stopped with SIGTERM (killed if dropped first), and
//! the connection evidence it wrote on shutdown read back.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

use super::plan::HttpPlan;
use crate::metrics::results::Evidence;

/// How long the API may take to answer `/healthz` after it starts (its data check included).
const API_START: Duration = Duration::from_secs(120);
/// How long the API may take to drain and stop after SIGTERM.
const API_STOP: Duration = Duration::from_secs(30);

/// A `serve --variant` child process: killed if dropped before [`ApiProcess::stop`] (an
/// aborted run leaves no API behind).
pub(super) struct ApiProcess {
    child: Option<Child>,
    /// Where it listens (`http://127.0.0.1:PORT`).
    pub(super) base_url: String,
    evidence: PathBuf,
    log: PathBuf,
}

impl ApiProcess {
    /// Starts `serve --variant ID` (`api`'s binary and flags) on a free loopback port, its
    /// output in `<dir>/<stem>-api.log`, the server's URI (`uri`: its environment variable and
    /// value) in its environment; waits until `/healthz` answers.
    pub(super) async fn start(
        api: &HttpPlan,
        dir: &Path,
        uri: Option<(&str, &str)>,
        id: &str,
        stem: &str,
    ) -> Result<ApiProcess> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("finding a free port for the API")?
            .port();
        let listen = format!("127.0.0.1:{port}");
        let log = dir.join(format!("{stem}-api.log"));
        let evidence = dir.join(format!("{stem}-api.json"));
        let out =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let mut cmd = Command::new(&api.exe);
        cmd.args(&api.serve_args)
            .args(["--variant", id, "--listen", &listen, "--evidence"])
            .arg(&evidence)
            .stdin(Stdio::null())
            .stdout(out.try_clone().context("the API's log")?)
            .stderr(out);
        // The server's URI reaches the child through its environment, never its command line.
        if let Some((var, value)) = uri {
            cmd.env(var, value);
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

    /// Its process id.
    pub(super) fn pid(&self) -> u32 {
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
    pub(super) async fn stop(mut self) -> Result<Evidence> {
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
