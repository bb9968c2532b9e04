//! Shared helpers: the binary under test as a command builder ([`tenantbench`]), the servers
//! under test (MongoDB-wire [`server`], PostgreSQL [`pg`]), tiny scenarios, clean-up.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use mongodb::Client;
use mongodb::bson::doc;
use tenantbench::backend::mongo::{self, ConnectOptions, Servers};
use tenantbench::backend::postgres;
use tenantbench::layout::Layout;
use tenantbench::layout::Placement;
use tenantbench::op::Op;
use tenantbench::population::Population;
use tenantbench::scenario::Scenario;

/// The read operations of the catalogue: what layouts and tiers must answer alike.
pub const READS: [Op; 6] = [
    Op::ListRecent,
    Op::GetById,
    Op::CountByStatus,
    Op::FindUserByEmail,
    Op::RevenueByDay,
    Op::AdminCrossTenant,
];

/// `tenantbench` (the binary this test build made) as a command: chain arguments, a working
/// directory and environment, then run it with [`TestCommand::output`] (whatever the exit),
/// [`TestCommand::success`] or [`TestCommand::stdout`] (exit 0 asserted),
/// [`TestCommand::assert_exit_code`] or [`TestCommand::fails`]; a failed assertion names the
/// command line and prints what it said. In the manner of ripgrep's `TestCommand`.
pub fn tenantbench() -> TestCommand {
    TestCommand {
        cmd: Command::new(env!("CARGO_BIN_EXE_tenantbench")),
    }
}

/// A command under test; see [`tenantbench`].
#[derive(Debug)]
pub struct TestCommand {
    cmd: Command,
}

impl TestCommand {
    pub fn arg(&mut self, a: impl AsRef<OsStr>) -> &mut Self {
        self.cmd.arg(a);
        self
    }

    pub fn args<I, A>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = A>,
        A: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.cmd.current_dir(dir);
        self
    }

    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Self {
        self.cmd.env(key, value);
        self
    }

    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.cmd.envs(vars);
        self
    }

    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Self {
        self.cmd.env_remove(key);
        self
    }

    /// Standard output and error discarded (for a child the test kills).
    pub fn quiet(&mut self) -> &mut Self {
        self.cmd.stdout(Stdio::null()).stderr(Stdio::null());
        self
    }

    /// Standard error piped to the child (for a `serve` whose address the test reads).
    pub fn piped_stderr(&mut self) -> &mut Self {
        self.cmd.stderr(Stdio::piped());
        self
    }

    /// Standard output and error piped to the child (read by `wait_with_output`).
    pub fn piped(&mut self) -> &mut Self {
        self.cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        self
    }

    /// The command line, for messages.
    pub fn line(&self) -> String {
        let mut line = self.cmd.get_program().to_string_lossy().into_owned();
        for a in self.cmd.get_args() {
            line.push(' ');
            line.push_str(&a.to_string_lossy());
        }
        line
    }

    /// Starts it (stdio as set; inherited otherwise); panics only when it cannot start.
    pub fn spawn(&mut self) -> Child {
        self.cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.line()))
    }

    /// Runs it to its end, whatever its exit; panics only when it cannot start.
    pub fn output(&mut self) -> Ran {
        let output = self
            .cmd
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", self.line()));
        Ran {
            output,
            line: self.line(),
        }
    }

    /// Runs it, asserting exit 0.
    pub fn success(&mut self) -> Ran {
        let o = self.output();
        assert!(
            o.status.success(),
            "{} exited {:?}:\n{}",
            o.line,
            o.status.code(),
            o.text()
        );
        o
    }

    /// Runs it, asserting exit 0; its standard output.
    pub fn stdout(&mut self) -> String {
        self.success().stdout_text()
    }

    /// Runs it, asserting exit code `code`.
    pub fn assert_exit_code(&mut self, code: i32) -> Ran {
        let o = self.output();
        assert_eq!(
            o.status.code(),
            Some(code),
            "{} exited {:?}, expected {code}:\n{}",
            o.line,
            o.status.code(),
            o.text()
        );
        o
    }

    /// Runs it, asserting that it did not succeed (any exit but 0, or a signal).
    pub fn fails(&mut self) -> Ran {
        let o = self.output();
        assert!(
            !o.status.success(),
            "{} succeeded, expected a failure:\n{}",
            o.line,
            o.text()
        );
        o
    }
}

/// What a [`TestCommand`] did: its `Output` (dereferenced: `status`, `stdout`, `stderr`) and
/// its command line.
#[derive(Debug)]
pub struct Ran {
    output: Output,
    pub line: String,
}

impl std::ops::Deref for Ran {
    type Target = Output;

    fn deref(&self) -> &Output {
        &self.output
    }
}

impl Ran {
    /// Standard output as text.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    /// Standard error as text.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Standard output, a newline, then standard error: everything it said.
    pub fn text(&self) -> String {
        format!("{}\n{}", self.stdout_text(), self.stderr_text())
    }
}

/// `tenantbench run` of scenario text `toml`, written to `dir/<name>.toml`, into `dir/<name>`
/// (removed first, so a refused run leaves no results), without a progress bar, in `dir`. Add
/// flags, then run it; read what it wrote with `metrics::store::read_results(&dir.join(name))`.
pub fn run_toml(dir: &Path, name: &str, toml: &str) -> TestCommand {
    let scenario = dir.join(format!("{name}.toml"));
    std::fs::write(&scenario, toml).expect("write the scenario");
    let out = dir.join(name);
    let _ = std::fs::remove_dir_all(&out);
    let mut c = tenantbench();
    c.arg("run")
        .arg("--scenario")
        .arg(&scenario)
        .arg("--no-progress")
        .arg("--out")
        .arg(&out)
        .current_dir(dir);
    c
}

/// The URI of the server under test.
pub fn uri() -> String {
    std::env::var(mongo::URI_ENV).unwrap_or_else(|_| mongo::DEFAULT_URI.to_string())
}

/// A client of the server under test, or `None` (with a skip line) when none answers.
/// With `CI` set, a missing server fails the test instead.
pub async fn server() -> Option<Client> {
    let opts = ConnectOptions {
        server_selection_timeout: Duration::from_secs(3),
        ..Default::default()
    };
    let client = mongo::client(&uri(), &opts)
        .await
        .expect("client for the test URI");
    let Err(why) = mongo::ping(&client).await else {
        return Some(client);
    };
    if std::env::var_os("CI").is_some() {
        panic!(
            "CI is set but no MongoDB server answers at {}: {why}",
            uri()
        );
    }
    eprintln!(
        "SKIPPED: no MongoDB server at {} ({why}); start one with scripts/mongo-local.sh start",
        uri()
    );
    None
}

/// The results of a real quickstart run (tests/fixtures/quickstart-results.json).
pub fn quickstart_results() -> tenantbench::metrics::results::Results {
    serde_json::from_str(include_str!("fixtures/quickstart-results.json")).expect("fixture parses")
}

/// `host:port` of a URI (after any user info, before any path or options).
pub fn hosts_of(u: &str) -> String {
    let rest = u.split_once("://").map_or(u, |x| x.1);
    let rest = rest.rsplit('@').next().unwrap_or(rest);
    rest.split(['/', '?']).next().unwrap_or(rest).to_string()
}

/// A URI of the MongoDB server under test that logs in as `user` with `password` (a root user,
/// created first when missing), for tests that look for the password in what is written.
pub async fn mongo_user_uri(client: &Client, user: &str, password: &str) -> String {
    let r = client
        .database("admin")
        .run_command(
            doc! {"createUser": user, "pwd": password, "roles": [{"role": "root", "db": "admin"}]},
        )
        .await;
    if let Err(e) = r {
        assert!(e.to_string().contains("already exists"), "createUser: {e}");
    }
    format!(
        "mongodb://{user}:{password}@{}/?authSource=admin",
        hosts_of(&uri())
    )
}

/// The PostgreSQL URI under test, or `None` (with a skip line) when the server does not answer;
/// with `CI` set a missing server fails the test instead.
pub async fn pg() -> Option<String> {
    let uri = postgres::resolve_uri(None);
    match tokio::time::timeout(Duration::from_secs(5), postgres::connect(&uri, None)).await {
        Ok(Ok(_)) => Some(uri),
        Ok(Err(e)) => pg_skip(&uri, &e.to_string()),
        Err(_) => pg_skip(&uri, "timed out"),
    }
}

fn pg_skip(uri: &str, why: &str) -> Option<String> {
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but PostgreSQL does not answer at {}: {why}",
        tenantbench::backend::redact_uri(uri)
    );
    eprintln!("SKIPPED: no PostgreSQL ({why})");
    None
}

/// Drops every PostgreSQL database a test prefix left behind.
pub async fn pg_clean(uri: &str, prefix: &str) {
    postgres::drop_marked(uri, prefix, None)
        .await
        .expect("clean up");
}

/// Seeds scenario `s` in `layout` on PostgreSQL with an index profile; its placement.
pub async fn pg_seeded(uri: &str, s: &Scenario, layout: Layout, indexes: &str) -> Placement {
    let pop = s.build_population();
    let placement = s.placement(&pop, layout);
    postgres::seed(uri, s, &pop, &placement, &seed_opts(s, layout, indexes))
        .await
        .expect("seed");
    placement
}

/// A tiny scenario with its own prefix; `extra` is appended to the TOML.
pub fn tiny(prefix: &str, tenants: u32, documents: u64, extra: &str) -> Scenario {
    let text = format!(
        "name = \"tiny\"\nprefix = \"{prefix}\"\nseed = 7\n[population]\ntenants = {tenants}\ndocuments = {documents}\n\
         distribution = {{ zipf = {{ s = 1.0 }} }}\nmin_per_tenant = 5\n[population.tiers]\nenterprise = 10\npremium = 20\nbasic = 30\n\
         [load]\nbatch_size = 250\nworkers = 3\n{extra}"
    );
    Scenario::parse(Path::new("tiny.toml"), &text).expect("tiny scenario parses")
}

/// Everything a test needs for one layout.
pub struct Setup {
    pub scenario: Scenario,
    pub pop: Population,
    pub placement: Placement,
    pub servers: Servers,
}

pub async fn setup(scenario: Scenario, layout: Layout) -> Setup {
    let pop = scenario.build_population();
    let placement = scenario.placement(&pop, layout);
    let servers = Servers::for_placement(&uri(), &placement, &ConnectOptions::default())
        .await
        .expect("servers");
    Setup {
        scenario,
        pop,
        placement,
        servers,
    }
}

impl Setup {
    /// Seeds the setup's layout with an index profile (no progress bar), expecting success.
    pub async fn seed(&self, indexes: &str) -> tenantbench::backend::seed::SeedSummary {
        let opts = seed_opts(&self.scenario, self.placement.layout, indexes);
        mongo::seed(
            &self.servers,
            &self.scenario,
            &self.pop,
            &self.placement,
            &opts,
        )
        .await
        .expect("seed")
    }

    /// Verifies the setup's layout (no progress bar), expecting the verification to run.
    pub async fn verify(&self) -> tenantbench::backend::verify::VerifyReport {
        mongo::verify(
            &self.servers,
            &self.scenario,
            &self.pop,
            &self.placement,
            false,
        )
        .await
        .expect("verify")
    }
}

/// Seed options for tests: the scenario's load settings, no progress bar.
pub fn seed_opts(
    s: &Scenario,
    layout: Layout,
    indexes: &str,
) -> tenantbench::backend::seed::SeedOptions {
    tenantbench::backend::seed::SeedOptions::from_scenario(s, layout, indexes)
}

/// Drops everything a test prefix left behind.
pub async fn clean(client: &Client, prefix: &str) {
    mongo::drop_marked(client, prefix, None)
        .await
        .expect("clean up");
}

/// The address a `serve` child prints on stderr (`serving NAME on http://ADDR: …`), read from
/// its lines; the lines after it stay in the iterator.
pub fn served_address(lines: &mut impl Iterator<Item = std::io::Result<String>>) -> String {
    lines
        .map_while(Result::ok)
        .find_map(|l| {
            let rest = l.split("on http://").nth(1)?.to_string();
            let mut parts = rest.splitn(3, ':');
            Some(format!("{}:{}", parts.next()?, parts.next()?))
        })
        .expect("serve prints its address")
}
