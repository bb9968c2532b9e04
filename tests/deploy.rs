//! The Kubernetes manifests (deploy/k8s), the Dockerfile and the binary they ship: manifests
//! valid against the official schemas (kubernetes-validate from PyPI, as scripts/setup-test-tools.sh
//! installs it), every Job's arguments parsed by the real CLI and resolved as `run` resolves
//! them, N the same in the run and the merge Job, credentials only by reference, non-root pods,
//! and a binary that needs no more than glibc (what the runtime image has).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser as _;
use serde_yaml::Value;
use tenantbench::app::settings::RunPlan;
use tenantbench::cli::{Cli, Command as Cmd};
use tenantbench::layout::Layout;
use tenantbench::scenario::generator_prefix;

/// The image the manifests name; docs/scale-out.md applies them with the pushed image instead.
const IMAGE: &str = "tenantbench:dev";
/// Kubernetes versions checked: the oldest with everything the Jobs use on by default
/// (backoffLimitPerIndex, beta in 1.29) and the newest kubernetes-validate 1.37.0 ships.
const KUBE_VERSIONS: [&str; 2] = ["1.29.0", "1.37.0"];
/// The environment variables that carry a server's URI (and so its password).
const URI_ENVS: [&str; 3] = [
    "TENANTBENCH_MONGO_URI",
    "TENANTBENCH_MONGO_URI_2",
    "TENANTBENCH_PG_URI",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn k8s() -> PathBuf {
    root().join("deploy/k8s")
}

/// Every Kubernetes object file of deploy/k8s (kustomization.yaml is kustomize's, not one).
fn object_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(k8s())
        .expect("deploy/k8s is there")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .filter(|p| !p.ends_with("kustomization.yaml"))
        .collect();
    files.sort();
    files
}

fn text(name: &str) -> String {
    let path = k8s().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One manifest file: one object.
fn object(name: &str) -> Value {
    serde_yaml::from_str(&text(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn str_of<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what}: expected a string, found {v:?}"))
}

fn seq<'a>(v: &'a Value, what: &str) -> &'a [Value] {
    v.as_sequence()
        .map(Vec::as_slice)
        .unwrap_or_else(|| panic!("{what}: expected a list, found {v:?}"))
}

/// The pod spec of a Job (its template) or of a Pod.
fn pod_spec(obj: &Value) -> &Value {
    match str_of(&obj["kind"], "kind") {
        "Job" => &obj["spec"]["template"]["spec"],
        "Pod" => &obj["spec"],
        other => panic!("no pod spec in a {other}"),
    }
}

/// The init containers, then the containers, of a pod spec.
fn containers(spec: &Value) -> Vec<&Value> {
    ["initContainers", "containers"]
        .iter()
        .filter_map(|k| spec.get(k).and_then(Value::as_sequence))
        .flatten()
        .collect()
}

fn args(c: &Value) -> Vec<String> {
    seq(&c["args"], "args")
        .iter()
        .map(|a| str_of(a, "an argument").to_string())
        .collect()
}

/// The value after `flag` in `args`.
fn flag<'a>(args: &'a [String], flag: &str) -> &'a str {
    let at = args
        .iter()
        .position(|a| a == flag)
        .unwrap_or_else(|| panic!("{flag} missing from {args:?}"));
    args.get(at + 1)
        .unwrap_or_else(|| panic!("{flag} without a value in {args:?}"))
}

/// The container's environment by name.
fn env(c: &Value) -> BTreeMap<String, &Value> {
    c.get("env")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .map(|e| (str_of(&e["name"], "env name").to_string(), e))
        .collect()
}

/// `$(NAME)` references in an argument, as Kubernetes expands them.
fn references(arg: &str) -> Vec<&str> {
    arg.split("$(")
        .skip(1)
        .filter_map(|rest| rest.split_once(')').map(|(name, _)| name))
        .collect()
}

/// The args with `$(NAME)` replaced, after checking that the container declares every NAME
/// (Kubernetes leaves an undeclared reference as it is).
fn expanded(c: &Value, args: &[String], values: &BTreeMap<&str, String>) -> Vec<String> {
    let declared = env(c);
    args.iter()
        .map(|a| {
            let mut out = a.clone();
            for name in references(a) {
                assert!(
                    declared.contains_key(name),
                    "{a}: $({name}) is not declared in the container's env"
                );
                let value = values
                    .get(name)
                    .unwrap_or_else(|| panic!("no test value for $({name})"));
                out = out.replace(&format!("$({name})"), value);
            }
            out
        })
        .collect()
}

/// The args with each configMap volume's mount path replaced by a directory holding that
/// ConfigMap's files, as the pod sees them (the ConfigMaps are deploy/k8s's).
fn with_config_maps(spec: &Value, c: &Value, args: &[String], dir: &Path) -> Vec<String> {
    let maps: BTreeMap<String, Value> = object_files()
        .iter()
        .map(|p| serde_yaml::from_str::<Value>(&std::fs::read_to_string(p).expect("read")))
        .map(|r| r.expect("parses"))
        .filter(|o| o["kind"].as_str() == Some("ConfigMap"))
        .map(|o| (str_of(&o["metadata"]["name"], "name").to_string(), o))
        .collect();
    let mut out = args.to_vec();
    for m in c
        .get("volumeMounts")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
    {
        let volume = str_of(&m["name"], "volumeMount name");
        let Some(v) = seq(&spec["volumes"], "volumes")
            .iter()
            .find(|v| v["name"].as_str() == Some(volume))
        else {
            panic!("volumeMount {volume}: no such volume in the pod");
        };
        let Some(map) = v["configMap"]["name"].as_str() else {
            continue;
        };
        let files = maps
            .get(map)
            .unwrap_or_else(|| panic!("ConfigMap {map} is not in deploy/k8s"));
        let here = dir.join(map);
        std::fs::create_dir_all(&here).expect("mkdir");
        for (k, body) in files["data"].as_mapping().expect("data") {
            std::fs::write(here.join(str_of(k, "key")), str_of(body, "data")).expect("write");
        }
        let mount = str_of(&m["mountPath"], "mountPath");
        let there = here.to_str().expect("utf-8");
        for a in &mut out {
            if let Some(rest) = a.strip_prefix(mount)
                && (rest.is_empty() || rest.starts_with('/'))
            {
                *a = format!("{there}{rest}");
            }
        }
    }
    out
}

fn parse(args: &[String]) -> Cli {
    Cli::try_parse_from(std::iter::once("tenantbench".to_string()).chain(args.iter().cloned()))
        .unwrap_or_else(|e| panic!("tenantbench {}: {e}", args.join(" ")))
}

/// N of the run Job, from its `--worker $(JOB_COMPLETION_INDEX)/N`.
fn generators() -> u64 {
    let job = object("job-run.yaml");
    let c = containers(pod_spec(&job))[0];
    let worker = flag(&args(c), "--worker").to_string();
    let n = worker
        .strip_prefix("$(JOB_COMPLETION_INDEX)/")
        .unwrap_or_else(|| panic!("--worker {worker}: expected $(JOB_COMPLETION_INDEX)/N"));
    n.parse().expect("N is a number")
}

/// Whether the validator is installed (else the check skips, or fails with `CI` set).
fn validator_present() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import kubernetes_validate"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but kubernetes-validate is missing (scripts/setup-test-tools.sh installs it)"
        );
        eprintln!(
            "SKIPPED: kubernetes-validate not installed (scripts/setup-test-tools.sh installs it: pip install kubernetes-validate)"
        );
    }
    ok
}

fn validate(files: &[PathBuf]) -> std::process::Output {
    let mut cmd = Command::new("python3");
    cmd.args(["-m", "kubernetes_validate", "--strict", "--quiet"]);
    for v in KUBE_VERSIONS {
        cmd.args(["-k", v]);
    }
    cmd.args(files).output().expect("python3 runs")
}

#[test]
fn the_manifests_pass_the_kubernetes_schemas_strictly() {
    let files = object_files();
    assert!(files.len() >= 6, "{files:?}");
    if !validator_present() {
        return;
    }
    let out = validate(&files);
    assert!(
        out.status.success(),
        "kubernetes-validate: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The same validator rejects a misspelt field: it checks strictly, not just the syntax.
    let dir = tempfile::tempdir().expect("tempdir");
    let broken = dir.path().join("job-run.yaml");
    let run = text("job-run.yaml");
    assert!(run.contains("  parallelism:"));
    std::fs::write(&broken, run.replace("  parallelism:", "  paralelism:")).expect("write");
    let out = validate(&[broken]);
    assert!(!out.status.success(), "a misspelt field passed");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("'paralelism' was unexpected"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn the_run_job_is_indexed_and_n_agrees_with_the_merge() {
    let job = object("job-run.yaml");
    let n = generators();
    assert!(n >= 2, "N = {n}");
    let spec = &job["spec"];
    // The schemas leave completionMode a free string: `Indxed` would pass them.
    assert_eq!(spec["completionMode"].as_str(), Some("Indexed"));
    assert_eq!(spec["completions"].as_u64(), Some(n), "completions");
    assert_eq!(spec["parallelism"].as_u64(), Some(n), "parallelism");
    // A generator started again would miss the aligned start.
    assert_eq!(spec["backoffLimitPerIndex"].as_u64(), Some(0));
    let c = containers(pod_spec(&job))[0];
    let e = env(c);
    assert_eq!(
        e["JOB_COMPLETION_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"].as_str(),
        Some("metadata.annotations['batch.kubernetes.io/job-completion-index']")
    );
    let start = &e["START_AT"]["valueFrom"]["configMapKeyRef"];
    assert_eq!(start["key"].as_str(), Some("START_AT"));
    let a = args(c);
    assert_eq!(flag(&a, "--start-at"), "$(START_AT)");
    let out = flag(&a, "--out");
    assert!(out.contains("$(JOB_COMPLETION_INDEX)"), "{out}");

    // The merge Job reads exactly the N run directories, in order, and reports what it wrote.
    let merge = object("job-merge.yaml");
    let steps = containers(pod_spec(&merge));
    assert_eq!(steps.len(), 2, "merge, then report");
    let (Cmd::Merge(m), Cmd::Report(r)) = (
        parse(&args(steps[0])).command,
        parse(&args(steps[1])).command,
    ) else {
        panic!("the merge Job runs merge, then report");
    };
    let expected: Vec<PathBuf> = (0..n)
        .map(|i| PathBuf::from(out.replace("$(JOB_COMPLETION_INDEX)", &i.to_string())))
        .collect();
    assert_eq!(m.dirs, expected);
    assert_eq!(r.dirs, vec![m.out.clone()]);
    assert!(
        !expected.contains(&m.out),
        "merge writes apart from its inputs"
    );

    // The docs wait for each Job by its name and make the START_AT ConfigMap the Job reads.
    let doc = std::fs::read_to_string(root().join("docs/scale-out.md")).expect("docs/scale-out.md");
    for f in ["job-seed.yaml", "job-run.yaml", "job-merge.yaml"] {
        let obj = object(f);
        let name = str_of(&obj["metadata"]["name"], "name");
        assert!(
            doc.lines()
                .any(|l| l.contains("--for=condition=complete --timeout=")
                    && l.contains(&format!("job/{name}"))),
            "docs/scale-out.md does not wait for job/{name}"
        );
        assert!(doc.contains(&format!("deploy/k8s/{f}")), "{f}");
    }
    let start_map = str_of(&start["name"], "configMapKeyRef name");
    assert!(
        doc.contains(&format!("kubectl create configmap {start_map}"))
            && doc.contains("--from-literal=START_AT="),
        "docs/scale-out.md does not create {start_map}"
    );
}

#[test]
fn every_job_runs_with_arguments_the_cli_accepts_and_run_resolves() {
    let n = generators();
    let dir = tempfile::tempdir().expect("tempdir");
    let start = "2026-01-01T00:00:00Z".to_string();
    let mut commands = 0;
    let mut seeded: Option<Vec<DataSet>> = None;
    for file in ["job-seed.yaml", "job-run.yaml", "job-merge.yaml"] {
        let job = object(file);
        let spec = pod_spec(&job);
        for c in containers(spec) {
            assert_eq!(c["image"].as_str(), Some(IMAGE), "{file}");
            assert!(
                c.get("command").is_none(),
                "{file}: the image's entrypoint runs"
            );
            let a = with_config_maps(spec, c, &args(c), dir.path());
            let scenario = a
                .iter()
                .position(|x| x == "--scenario")
                .map(|at| &a[at + 1]);
            if let Some(s) = scenario {
                assert!(
                    Path::new(s).is_file(),
                    "{file}: --scenario {s} is not a file of a mounted ConfigMap"
                );
            }
            // Each generator's index; one pass for the other Jobs.
            let pods: Vec<u64> = if file == "job-run.yaml" {
                (0..n).collect()
            } else {
                vec![0]
            };
            for i in pods {
                let values = BTreeMap::from([
                    ("JOB_COMPLETION_INDEX", i.to_string()),
                    ("START_AT", start.clone()),
                ]);
                let cli = parse(&expanded(c, &a, &values));
                commands += 1;
                match cli.command {
                    Cmd::Run(r) if r.seed_only => {
                        assert_eq!(file, "job-seed.yaml", "only the seed Job seeds");
                        let plan = RunPlan::resolve(&r).unwrap_or_else(|e| panic!("{e:#}"));
                        assert!(plan.worker.is_none() && !plan.progress);
                        seeded = Some(data_sets(&plan));
                    }
                    Cmd::Run(r) => {
                        let plan = RunPlan::resolve(&r).unwrap_or_else(|e| panic!("{e:#}"));
                        assert_eq!(plan.worker, Some((i as u32, n as u32)));
                        assert!(plan.start_at.is_some(), "--start-at resolved");
                        assert!(!plan.progress && !plan.report);
                        // Every trial runs on data the seed Job made (generators never seed),
                        // each generator with at least one worker of its own.
                        let seeded = seeded.as_ref().expect("the seed Job comes first");
                        assert_eq!(&data_sets(&plan), seeded, "generator {i}'s data");
                        let m = &plan.scenario.matrix;
                        assert!(!m.variants.is_empty());
                        for v in &m.variants {
                            assert!(v.pacer.workers() >= 1);
                            for trial in 1..=m.repeat {
                                let copy = plan.generator_copy(v, trial);
                                let prefix =
                                    generator_prefix(&plan.dataset_prefix(v), &v.indexes, copy);
                                let set = (v.backend.name().to_string(), v.layout, prefix);
                                assert!(seeded.contains(&set), "{} trial {trial}: {set:?}", v.id());
                            }
                        }
                    }
                    Cmd::Merge(_) | Cmd::Report(_) => {}
                    other => panic!("{file}: unexpected command {other:?}"),
                }
            }
        }
    }
    // seed, N generators, merge, report.
    assert_eq!(commands, 3 + n);
}

/// A set of databases generators run on: database kind, layout, prefix.
type DataSet = (String, Layout, String);

/// The sets of databases a plan's generators run on ([`RunPlan::generator_data`]).
fn data_sets(plan: &RunPlan) -> Vec<DataSet> {
    plan.generator_data()
        .into_iter()
        .map(|d| {
            (
                d.variant.backend.name().to_string(),
                d.variant.layout,
                d.prefix,
            )
        })
        .collect()
}

#[test]
fn the_scenario_config_map_is_the_repository_scenario() {
    let map = object("configmap-scenario.yaml");
    let data = map["data"].as_mapping().expect("data");
    assert_eq!(data.len(), 1, "one scenario");
    let toml = str_of(&map["data"]["scenario.toml"], "scenario.toml");
    let repo = std::fs::read_to_string(root().join("scenarios/quickstart.toml")).expect("read");
    assert!(
        toml == repo,
        "configmap-scenario.yaml differs from scenarios/quickstart.toml"
    );

    // `kubectl apply -k` makes the shared pieces only: no Job (they run in order), no example
    // Secret, no helper pod.
    let k: Value = serde_yaml::from_str(&text("kustomization.yaml")).expect("parses");
    let resources: Vec<&str> = seq(&k["resources"], "resources")
        .iter()
        .map(|r| str_of(r, "resource"))
        .collect();
    assert_eq!(resources, ["pvc-results.yaml", "configmap-scenario.yaml"]);
    for r in resources {
        assert!(k8s().join(r).is_file(), "{r}");
    }
}

#[test]
fn pods_run_as_non_root_with_read_only_roots_and_bounded_resources() {
    let uid = dockerfile_user();
    let pods: Vec<(String, Value)> = object_files()
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().to_string())
        .map(|name| {
            let obj = object(&name);
            (name, obj)
        })
        .filter(|(_, o)| matches!(o["kind"].as_str(), Some("Job" | "Pod")))
        .collect();
    assert!(pods.len() >= 4, "seed, run, merge and the helper pod");
    for (name, obj) in &pods {
        let spec = pod_spec(obj);
        assert_eq!(spec["restartPolicy"].as_str(), Some("Never"), "{name}");
        assert_eq!(spec["automountServiceAccountToken"].as_bool(), Some(false));
        let sc = &spec["securityContext"];
        assert_eq!(sc["runAsNonRoot"].as_bool(), Some(true), "{name}");
        assert_eq!(
            sc["runAsUser"].as_u64(),
            Some(uid),
            "{name}: the image's user"
        );
        let volumes: Vec<&str> = spec
            .get("volumes")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .map(|v| str_of(&v["name"], "volume name"))
            .collect();
        for c in containers(spec) {
            let what = format!("{name}: container {}", str_of(&c["name"], "name"));
            let csc = &c["securityContext"];
            assert_eq!(
                csc["readOnlyRootFilesystem"].as_bool(),
                Some(true),
                "{what}"
            );
            assert_eq!(
                csc["allowPrivilegeEscalation"].as_bool(),
                Some(false),
                "{what}"
            );
            assert!(
                seq(&csc["capabilities"]["drop"], "drop")
                    .iter()
                    .any(|d| d.as_str() == Some("ALL")),
                "{what}: drops ALL capabilities"
            );
            for bound in ["requests", "limits"] {
                for r in ["cpu", "memory"] {
                    assert!(!c["resources"][bound][r].is_null(), "{what}: {bound}.{r}");
                }
            }
            for m in c
                .get("volumeMounts")
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten()
            {
                let v = str_of(&m["name"], "volumeMount name");
                assert!(volumes.contains(&v), "{what}: mounts {v}, no such volume");
            }
        }
    }
}

/// A `user:password@` in a URI (`scheme://user:pw@host`), wherever it is written.
fn uris_with_passwords(text: &str) -> Vec<String> {
    text.match_indices("://")
        .filter_map(|(at, _)| {
            let rest = &text[at + 3..];
            let end = rest
                .find(|ch: char| ch.is_whitespace() || "/\"'`?#)".contains(ch))
                .unwrap_or(rest.len());
            let authority = &rest[..end];
            let (userinfo, _) = authority.rsplit_once('@')?;
            userinfo.contains(':').then(|| authority.to_string())
        })
        .collect()
}

#[test]
fn credentials_come_from_the_secret_by_reference_only() {
    assert_eq!(
        uris_with_passwords("a mongodb://alice:s3cret@db:27017/x and postgres://bob@db/x"),
        ["alice:s3cret@db:27017"],
        "the scan finds a password"
    );
    let secret = object("secret-uri.example.yaml");
    assert_eq!(secret["kind"].as_str(), Some("Secret"));
    let secret_name = str_of(&secret["metadata"]["name"], "name");
    let example = text("secret-uri.example.yaml");
    assert!(
        example.starts_with("# EXAMPLE ONLY"),
        "says it is an example"
    );
    let mut refs = 0;
    for path in object_files() {
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        let body = text(&name);
        assert!(
            uris_with_passwords(&body).is_empty(),
            "{name}: a URI with a password: {:?}",
            uris_with_passwords(&body)
        );
        let obj = object(&name);
        if obj["kind"].as_str() != Some("Job") {
            continue;
        }
        for c in containers(pod_spec(&obj)) {
            assert!(
                !args(c).iter().any(|a| a.starts_with("--uri")),
                "{name}: --uri"
            );
            for (var, e) in env(c) {
                if !URI_ENVS.contains(&var.as_str()) {
                    continue;
                }
                assert!(
                    e.get("value").is_none(),
                    "{name}: {var} written in the manifest"
                );
                let r = &e["valueFrom"]["secretKeyRef"];
                assert_eq!(r["name"].as_str(), Some(secret_name), "{name}: {var}");
                let key = str_of(&r["key"], "key");
                assert!(
                    example.contains(key),
                    "the example Secret names the key {key}"
                );
                refs += 1;
            }
        }
    }
    // The seed Job and the generator: each with the three URIs.
    assert_eq!(refs, 2 * URI_ENVS.len());
}

/// The Dockerfile's instructions: comments dropped, continued lines joined.
fn dockerfile() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(root().join("Dockerfile")).expect("Dockerfile");
    let mut out = Vec::new();
    let mut line = String::new();
    for l in text.lines() {
        let t = l.trim();
        if t.starts_with('#') || (t.is_empty() && line.is_empty()) {
            continue;
        }
        match t.strip_suffix('\\') {
            Some(part) => {
                line.push_str(part);
                line.push(' ');
            }
            None => {
                line.push_str(t);
                let (op, rest) = line.split_once(' ').unwrap_or((line.as_str(), ""));
                out.push((op.to_uppercase(), rest.trim().to_string()));
                line.clear();
            }
        }
    }
    out
}

/// The numeric user of the Dockerfile's final stage.
fn dockerfile_user() -> u64 {
    let ins = dockerfile();
    let last_from = ins.iter().rposition(|(op, _)| op == "FROM").expect("FROM");
    let user = ins[last_from..]
        .iter()
        .rev()
        .find(|(op, _)| op == "USER")
        .map(|(_, u)| u.clone())
        .expect("the final stage sets USER");
    let uid = user.split(':').next().expect("uid");
    uid.parse()
        .unwrap_or_else(|_| panic!("USER {user}: numeric, so Kubernetes can check runAsNonRoot"))
}

#[test]
fn the_dockerfile_builds_the_locked_binary_into_a_non_root_image() {
    let ins = dockerfile();
    let froms: Vec<&str> = ins
        .iter()
        .filter(|(op, _)| op == "FROM")
        .map(|(_, f)| f.as_str())
        .collect();
    assert!(froms.len() >= 2, "multi-stage: {froms:?}");
    assert!(froms[0].starts_with("rust:1.95"), "{}", froms[0]);
    let stages: Vec<&str> = froms
        .iter()
        .filter_map(|f| f.split_once(" AS ").map(|(_, name)| name.trim()))
        .collect();
    assert!(dockerfile_user() != 0, "the image runs as root");

    let build = ins
        .iter()
        .find(|(op, r)| op == "RUN" && r.contains("cargo build"))
        .map(|(_, r)| r)
        .expect("a RUN builds with cargo");
    for word in ["--release", "--locked", "--bin tenantbench"] {
        assert!(build.contains(word), "cargo build lacks {word}: {build}");
    }
    let entry = ins
        .iter()
        .rev()
        .find(|(op, _)| op == "ENTRYPOINT")
        .map(|(_, e)| e)
        .expect("ENTRYPOINT");
    let entry: Vec<String> = serde_json::from_str(entry).expect("exec form");
    assert!(entry[0].ends_with("tenantbench"), "{entry:?}");

    // What it copies from the build context exists, and .dockerignore keeps it in the context.
    let ignored: Vec<String> = std::fs::read_to_string(root().join(".dockerignore"))
        .expect(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.trim_end_matches('/').to_string())
        .collect();
    for must in ["target", ".git", "reports"] {
        assert!(
            ignored.iter().any(|i| i == must),
            ".dockerignore lacks {must}/"
        );
    }
    let mut copied = 0;
    for (_, rest) in ins.iter().filter(|(op, _)| op == "COPY") {
        let words: Vec<&str> = rest.split_whitespace().collect();
        if let Some(from) = words.iter().find_map(|w| w.strip_prefix("--from=")) {
            assert!(stages.contains(&from), "COPY --from={from}: no such stage");
            continue;
        }
        let sources = &words[..words.len() - 1];
        for s in sources.iter().filter(|s| !s.starts_with("--")) {
            let s = s.trim_end_matches('/');
            assert!(root().join(s).exists(), "COPY {s}: not in the repository");
            assert!(
                !ignored
                    .iter()
                    .any(|i| s == i || s.starts_with(&format!("{i}/"))),
                "COPY {s}: excluded by .dockerignore"
            );
            copied += 1;
        }
    }
    // Cargo.toml, Cargo.lock, build.rs, src, benches, scenarios; scenarios and gates again.
    assert!(copied >= 8, "{copied} sources copied");
}

/// The release binary links only glibc's libraries and libgcc_s: what the runtime image
/// (distroless/cc) has, and no OpenSSL.
#[test]
fn the_binary_needs_only_glibc() {
    const ALLOWED: [&str; 9] = [
        "linux-vdso",
        "linux-gate",
        "libc",
        "libm",
        "libgcc_s",
        "libpthread",
        "libdl",
        "librt",
        "ld-linux",
    ];
    let out = match Command::new("ldd")
        .arg(env!("CARGO_BIN_EXE_tenantbench"))
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but ldd fails: {e}"
            );
            eprintln!("SKIPPED: no ldd here ({e})");
            return;
        }
    };
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ldd: {listing}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let libs: Vec<&str> = listing
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(|l| l.rsplit('/').next().unwrap_or(l))
        .map(|l| l.split(".so").next().unwrap_or(l))
        .collect();
    assert!(libs.contains(&"libc"), "{listing}");
    assert!(!listing.contains("not found"), "{listing}");
    for lib in &libs {
        assert!(
            ALLOWED
                .iter()
                .any(|a| lib == a || (*a == "ld-linux" && lib.starts_with("ld-linux"))),
            "the binary needs {lib}, which the runtime image lacks:\n{listing}"
        );
    }
}
