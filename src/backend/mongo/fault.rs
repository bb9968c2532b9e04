//! Faults on MongoDB: pausing (SIGSTOP/SIGCONT) or restarting a local server that
//! `scripts/mongo-local.sh` started — found by its pid file only, and only when that pid is the
//! process listening on the URI's port — and `killAllSessions` for the harness's connections.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use mongodb::bson::doc;
use tokio_util::sync::CancellationToken;

use super::ConnectOptions;
use super::MongoDriver;
use super::MongoError;
use super::Servers;
use super::client;
use super::local_port;
use crate::backend::{FaultDone, hold};
use crate::layout::Placement;
use crate::metrics::evidence as sys;
use crate::population::Population;
use crate::scenario::faults::FaultKind;
use crate::scenario::faults::FaultSpec;

/// The folder `scripts/mongo-local.sh` keeps a port's server in: `$TENANTBENCH_MONGO_DATA/P`,
/// else `target/mongo-data/P` under the working directory (the repository, as the README runs
/// it).
fn server_dir(port: u16) -> PathBuf {
    let root = std::env::var_os("TENANTBENCH_MONGO_DATA")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from("target/mongo-data"), PathBuf::from);
    root.join(port.to_string())
}

/// The local server behind `uri` that `scripts/mongo-local.sh` started: its pid (from the pid
/// file, and listening on the port) and folder. Refuses anything else, naming what to do.
fn local_server(uri: &str) -> Result<(u32, u16, PathBuf), MongoError> {
    let redacted = crate::backend::redact_uri(uri);
    let port = local_port(uri).ok_or_else(|| {
        MongoError::State(format!(
            "server faults need a local server (127.0.0.1), and {redacted} is not: run them against scripts/mongo-local.sh's servers, or use kill_connections"
        ))
    })?;
    let dir = server_dir(port);
    let pidfile = dir.join("server.pid");
    let text = std::fs::read_to_string(&pidfile).map_err(|e| {
        MongoError::State(format!(
            "server faults pause or restart only a server scripts/mongo-local.sh started, found by its pid file; {} could not be read ({e}). Start the server with `scripts/mongo-local.sh start --port {port}` (TENANTBENCH_MONGO_DATA names its data root)",
            pidfile.display()
        ))
    })?;
    let pid: u32 = text.trim().parse().map_err(|_| {
        MongoError::State(format!(
            "{}: expected a process id, found {:?}",
            pidfile.display(),
            text.trim()
        ))
    })?;
    match sys::local_listener_pid(port) {
        Some(p) if p == pid => Ok((pid, port, dir)),
        Some(p) => Err(MongoError::State(format!(
            "{} names pid {pid}, but pid {p} listens on port {port}: refusing to signal a process the pid file does not name",
            pidfile.display()
        ))),
        None => Err(MongoError::State(format!(
            "{} names pid {pid}, but nothing listens on port {port}",
            pidfile.display()
        ))),
    }
}

fn signal(pid: u32, sig: libc::c_int) -> Result<(), MongoError> {
    // SAFETY: plain syscall on a pid checked above to be the server's.
    if unsafe { libc::kill(pid as libc::pid_t, sig) } != 0 {
        return Err(MongoError::State(format!(
            "signalling pid {pid}: {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

/// Resumes a paused server when dropped, so a run that ends (or panics) mid-pause never
/// leaves it stopped.
struct Paused(u32);

impl Drop for Paused {
    fn drop(&mut self) {
        // SAFETY: see `signal`; SIGCONT to a running process is harmless.
        unsafe {
            libc::kill(self.0 as libc::pid_t, libc::SIGCONT);
        }
    }
}

/// `pause_server`: SIGSTOP, hold, SIGCONT.
pub(super) async fn pause(
    uri: &str,
    hold_for: Duration,
    cancel: &CancellationToken,
    on_end: &dyn Fn(Instant),
) -> Result<FaultDone, MongoError> {
    let (pid, port, _) = local_server(uri)?;
    signal(pid, libc::SIGSTOP)?;
    let paused = Paused(pid);
    let began = Instant::now();
    hold(hold_for, cancel).await;
    drop(paused);
    let ended = Instant::now();
    on_end(ended);
    Ok(FaultDone {
        began,
        ended,
        detail: format!("paused pid {pid} (port {port}) with SIGSTOP, resumed with SIGCONT"),
        error: None,
    })
}

/// Whether a process is gone (or a zombie).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(s) => s
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

/// `restart_server`: SIGTERM (SIGKILL after 10 s), hold, then the same command line again in
/// the same folder, in a process group of its own, its pid written back to the pid file.
pub(super) async fn restart(
    uri: &str,
    hold_for: Duration,
    cancel: &CancellationToken,
    on_end: &dyn Fn(Instant),
) -> Result<FaultDone, MongoError> {
    let (pid, port, dir) = local_server(uri)?;
    let argv: Vec<String> = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map_err(|e| MongoError::State(format!("reading pid {pid}'s command line: {e}")))?
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd"))
        .map_err(|e| MongoError::State(format!("reading pid {pid}'s folder: {e}")))?;
    let Some((program, args)) = argv.split_first() else {
        return Err(MongoError::State(format!(
            "pid {pid} has an empty command line"
        )));
    };
    signal(pid, libc::SIGTERM)?;
    let began = Instant::now();
    let mut how = "SIGTERM";
    while !gone(pid) {
        if began.elapsed() > Duration::from_secs(10) {
            let _ = signal(pid, libc::SIGKILL);
            how = "SIGKILL after 10 s";
        }
        if began.elapsed() > Duration::from_secs(20) {
            return Err(MongoError::State(format!(
                "pid {pid} did not exit 20 s after SIGTERM and SIGKILL"
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stopped = began.elapsed();
    hold(hold_for.saturating_sub(stopped), cancel).await;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .map_err(|e| MongoError::State(format!("opening the server's log: {e}")))?;
    let log2 = log
        .try_clone()
        .map_err(|e| MongoError::State(format!("opening the server's log: {e}")))?;
    let child = {
        use std::os::unix::process::CommandExt as _;
        std::process::Command::new(program)
            .args(args)
            .current_dir(&cwd)
            .stdin(std::process::Stdio::null())
            .stdout(log)
            .stderr(log2)
            // Its own process group: a Ctrl-C to the harness does not reach the server.
            .process_group(0)
            .spawn()
            .map_err(|e| MongoError::State(format!("starting {program} again: {e}")))?
    };
    let ended = Instant::now();
    on_end(ended);
    let new_pid = child.id();
    std::fs::write(dir.join("server.pid"), format!("{new_pid}\n"))
        .map_err(|e| MongoError::State(format!("writing the pid file: {e}")))?;
    // The fault ends when the server is started again; that it answers is the workload's to
    // find out (its first success after the end), but a server that never listens is said.
    let mut error = None;
    let deadline = Instant::now() + Duration::from_secs(120);
    while sys::local_listener_pid(port) != Some(new_pid) {
        if Instant::now() > deadline || gone(new_pid) {
            error = Some(format!(
                "the server started again as pid {new_pid} but did not listen on port {port} within 120 s; see {}",
                dir.join("server.log").display()
            ));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(FaultDone {
        began,
        ended,
        detail: format!(
            "stopped pid {pid} (port {port}, {how}, down {:.2} s), started it again as pid {new_pid}",
            (ended - began).as_secs_f64()
        ),
        error,
    })
}

/// `kill_connections`: `killAllSessions` on the server (every session, the harness's being the
/// only ones on a benchmark server); the sessions' operations fail and the driver reconnects.
pub(super) async fn kill_sessions(
    client: &mongodb::Client,
    hold_for: Duration,
    cancel: &CancellationToken,
    on_end: &dyn Fn(Instant),
) -> Result<FaultDone, MongoError> {
    let began = Instant::now();
    client
        .database("admin")
        .run_command(doc! {"killAllSessions": []})
        .await
        .map_err(|e| {
            MongoError::State(format!(
                "the server refused killAllSessions ({}); this server cannot end the harness's sessions from outside",
                e.to_string().lines().next().unwrap_or_default()
            ))
        })?;
    let ended = Instant::now();
    on_end(ended);
    hold(hold_for, cancel).await;
    Ok(FaultDone {
        began,
        ended,
        detail: "killAllSessions accepted by the server (its sessions' operations are ended where the server supports it)".into(),
        error: None,
    })
}

impl crate::backend::Faults for MongoDriver {
    async fn fault(
        &self,
        placement: &Placement,
        _: &Population,
        f: &FaultSpec,
        cancel: &CancellationToken,
        on_end: &dyn Fn(std::time::Instant),
    ) -> Result<FaultDone, MongoError> {
        // The placement's home server: the default one, where the shared database lives.
        let home = placement
            .databases
            .first()
            .map(|d| d.server.clone())
            .ok_or_else(|| MongoError::State("the placement has no database".into()))?;
        let uri = Servers::uri_of(&self.uri, &home)?;
        match f.kind {
            FaultKind::PauseServer => super::fault::pause(&uri, f.duration, cancel, on_end).await,
            FaultKind::RestartServer => {
                super::fault::restart(&uri, f.duration, cancel, on_end).await
            }
            FaultKind::KillConnections => {
                let c = client(&uri, &ConnectOptions::default()).await?;
                let r = super::fault::kill_sessions(&c, f.duration, cancel, on_end).await;
                c.shutdown().await;
                r
            }
            FaultKind::LockTenant => Err(MongoError::State(
                "lock_tenant holds a PostgreSQL table lock; MongoDB has none to hold".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_faults_refuse_a_remote_server_and_never_print_its_password() {
        let e = local_server("mongodb://u:hunter2@db.example.com:27017")
            .expect_err("remote")
            .to_string();
        assert!(e.contains("need a local server"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn a_missing_pid_file_names_the_file_and_how_to_start_the_server() {
        // A port no test server uses: its folder has no pid file.
        let e = local_server("mongodb://127.0.0.1:1")
            .expect_err("no pid file")
            .to_string();
        assert!(e.contains("1/server.pid"), "{e}");
        assert!(e.contains("scripts/mongo-local.sh start --port 1"), "{e}");
    }
}
