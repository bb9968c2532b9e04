//! Property-based fuzzing of everything a user hands the harness as a file: scenario files,
//! gate rules and results.json. Random bytes, truncations and mutations of the shipped files
//! must never panic, and every refusal must name a place (`file:line:column`). Results that
//! still parse after a mutation go on through every reader (report, Markdown, terminal table,
//! gate, JUnit) — none may panic.
//!
//! `tests/fixtures/fuzz/` is the corpus replayed by [`the_corpus_is_handled`]: boundary inputs
//! (empty, truncated, out-of-range, inconsistent results), and any input a hunt ever finds
//! failing, shrunk, goes there too. A longer hunt: `TENANTBENCH_FUZZ_CASES=20000 cargo test
//! --release --test tests fuzz`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_json::Value;
use tenantbench::gate::rules::Rules;
use tenantbench::gate::{Gate, mismatches};
use tenantbench::metrics::results::Results;
use tenantbench::metrics::store::{self, StoreError};
use tenantbench::report;
use tenantbench::scenario::{Scenario, ScenarioError};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shipped files of one kind (sorted, so a failure names the same file every time).
fn shipped(dir: &str, ext: &str) -> Vec<(PathBuf, String)> {
    let mut out: Vec<(PathBuf, String)> = std::fs::read_dir(root().join(dir))
        .expect("shipped directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("shipped file reads");
            (p, text)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no {ext} files in {dir}");
    out
}

fn results_fixture() -> String {
    std::fs::read_to_string(root().join("tests/fixtures/quickstart-results.json"))
        .expect("results fixture")
}

/// One edit of a text: what a truncated download, a bad merge or a stray keystroke does.
#[derive(Debug, Clone)]
enum Edit {
    /// Cut the text at this fraction of its length.
    Truncate(u16),
    /// Replace the byte at a fraction of the length.
    Replace(u16, u8),
    /// Insert bytes at a fraction of the length.
    Insert(u16, Vec<u8>),
    /// Delete up to n bytes at a fraction of the length.
    Delete(u16, u8),
    /// Duplicate the line at a fraction of the line count.
    DuplicateLine(u16),
}

fn edit() -> impl Strategy<Value = Edit> {
    // Bytes that matter to TOML and JSON, and some that do not, and multi-byte UTF-8.
    let interesting = prop_oneof![
        Just(b'"'),
        Just(b'['),
        Just(b']'),
        Just(b'{'),
        Just(b'}'),
        Just(b'='),
        Just(b','),
        Just(b'.'),
        Just(b'-'),
        Just(b'\n'),
        Just(b'#'),
        Just(b'0'),
        Just(b'9'),
        Just(0xC3),
        Just(0xA9),
        any::<u8>(),
    ];
    prop_oneof![
        any::<u16>().prop_map(Edit::Truncate),
        (any::<u16>(), interesting.clone()).prop_map(|(at, b)| Edit::Replace(at, b)),
        (
            any::<u16>(),
            prop_oneof![
                proptest::collection::vec(interesting, 1..6),
                Just(b"\xc3\xa9".to_vec()),
                Just(b"1e308".to_vec()),
                Just(b"-1".to_vec()),
                Just(b"99999999999999999999".to_vec()),
                Just(b"\n[[fault]]\n".to_vec()),
                Just(b"\n[[variant]]\n".to_vec()),
                Just(b"\"\"".to_vec()),
            ]
        )
            .prop_map(|(at, b)| Edit::Insert(at, b)),
        (any::<u16>(), 1u8..40).prop_map(|(at, n)| Edit::Delete(at, n)),
        any::<u16>().prop_map(Edit::DuplicateLine),
    ]
}

fn at(frac: u16, len: usize) -> usize {
    (usize::from(frac) * len) / (usize::from(u16::MAX) + 1)
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut b = text.as_bytes().to_vec();
    for e in edits {
        match e {
            Edit::Truncate(f) => b.truncate(at(*f, b.len() + 1)),
            Edit::Replace(f, x) if !b.is_empty() => {
                let i = at(*f, b.len());
                b[i] = *x;
            }
            Edit::Replace(..) => {}
            Edit::Insert(f, xs) => {
                let i = at(*f, b.len() + 1);
                b.splice(i..i, xs.iter().copied());
            }
            Edit::Delete(f, n) => {
                let i = at(*f, b.len() + 1);
                let j = (i + usize::from(*n)).min(b.len());
                b.drain(i..j);
            }
            Edit::DuplicateLine(f) => {
                let s = String::from_utf8_lossy(&b).into_owned();
                let mut lines: Vec<&str> = s.split('\n').collect();
                let i = at(*f, lines.len());
                let l = lines[i];
                lines.insert(i, l);
                b = lines.join("\n").into_bytes();
            }
        }
    }
    // A file is read as UTF-8 text; bytes that are not are refused by the reader before
    // parsing, so the parsers see the lossy text (what they would see of a near miss).
    String::from_utf8_lossy(&b).into_owned()
}

/// `file:line:column: ` at the start of an error, with a line inside the text.
fn assert_located(message: &str, file: &Path, text: &str) {
    let head = format!("{}:", file.display());
    let rest = message
        .strip_prefix(&head)
        .unwrap_or_else(|| panic!("error does not start with the file: {message}"));
    let mut parts = rest.splitn(3, ':');
    let line: usize = parts
        .next()
        .and_then(|l| l.parse().ok())
        .unwrap_or_else(|| panic!("error names no line: {message}"));
    let column: usize = parts
        .next()
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("error names no column: {message}"));
    let lines = text.split('\n').count();
    assert!(
        (1..=lines).contains(&line) && column >= 1,
        "line {line} of {lines}, column {column}: {message}"
    );
}

/// Parses a scenario; panics (failing the property) on a panic or an unlocated error.
fn check_scenario(file: &Path, text: &str) {
    let parsed = catch_unwind(AssertUnwindSafe(|| Scenario::parse(file, text)));
    match parsed {
        Err(_) => panic!("Scenario::parse panicked on:\n{text}"),
        Ok(Ok(_)) => {}
        Ok(Err(ScenarioError::Invalid(e))) => assert_located(&e.to_string(), file, text),
        Ok(Err(e)) => panic!("unexpected error kind: {e}"),
    }
}

fn check_rules(file: &Path, text: &str) {
    let parsed = catch_unwind(AssertUnwindSafe(|| Rules::parse(file, text)));
    match parsed {
        Err(_) => panic!("Rules::parse panicked on:\n{text}"),
        Ok(Ok(_)) => {}
        Ok(Err(e)) => assert_located(&e.to_string(), file, text),
    }
}

/// Every reader of results, on results that parsed.
fn read_everywhere(r: &Results) {
    let rules = Rules::load(&root().join("gates/default.toml")).expect("default rules");
    let _ = report::analysis::answer(r);
    let _ = report::terminal::summary_table(r);
    let _ = store::spread(r);
    let _ = report::html::render(r);
    let g = Gate::evaluate(&rules, r, Some(r), mismatches(r, r));
    let _ = (
        g.table(),
        g.summary(),
        g.markdown(),
        g.junit(),
        g.exit_code(true),
    );
}

fn check_results(file: &Path, text: &str) {
    let parsed = catch_unwind(AssertUnwindSafe(|| store::parse_results(file, text)));
    match parsed {
        Err(_) => panic!("parse_results panicked on:\n{text}"),
        Ok(Ok(r)) => {
            if catch_unwind(AssertUnwindSafe(|| read_everywhere(&r))).is_err() {
                panic!("a reader of results panicked on:\n{text}");
            }
        }
        Ok(Err(e @ StoreError::NotResults { .. })) => assert_located(&e.to_string(), file, text),
        Ok(Err(StoreError::Version { .. })) => {}
        Ok(Err(e)) => panic!("unexpected error kind: {e}"),
    }
}

/// One structural edit of a JSON value: values of the wrong kind, out of range, missing keys,
/// emptied or repeated arrays. Applied at the `pick`-th node in document order.
#[derive(Debug, Clone)]
enum JsonEdit {
    /// Every value under one key name, anywhere in the file (`trial`, `p99_us`, `histogram`…):
    /// a consistent lie the readers must survive.
    SetKey(u32, Value),
    Set(u32, Value),
    Remove(u32),
    Empty(u32),
    Repeat(u32),
}

fn json_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop_oneof![
            Just(0.0),
            Just(-1.0),
            Just(1e300),
            Just(f64::MIN_POSITIVE),
            any::<f64>().prop_filter("finite", |x| x.is_finite())
        ]
        .prop_map(Value::from),
        Just(Value::from(u64::MAX)),
        "[a-z0-9_ -]{0,12}".prop_map(Value::from),
        Just(Value::from(
            "HISTFAAAAB54nJNpmSzMwMDAyQABzFCaEUrLQWgGAEMmA3E="
        )),
        Just(Value::from("not base64 !")),
        Just(Value::Array(vec![])),
        Just(Value::Object(serde_json::Map::new())),
        Just(Value::from(-1)),
        Just(Value::from("complete")),
        Just(Value::from("partial")),
        Just(Value::from("leak")),
        Just(Value::from("all")),
    ]
}

fn json_edit() -> impl Strategy<Value = JsonEdit> {
    prop_oneof![
        3 => (any::<u32>(), json_value()).prop_map(|(i, v)| JsonEdit::SetKey(i, v)),
        3 => (any::<u32>(), json_value()).prop_map(|(i, v)| JsonEdit::Set(i, v)),
        2 => any::<u32>().prop_map(JsonEdit::Remove),
        1 => any::<u32>().prop_map(JsonEdit::Empty),
        1 => any::<u32>().prop_map(JsonEdit::Repeat),
    ]
}

fn count(v: &Value) -> u32 {
    1 + match v {
        Value::Array(a) => a.iter().map(count).sum(),
        Value::Object(o) => o.values().map(count).sum(),
        _ => 0,
    }
}

/// The `n`-th node (pre-order) of `v`; `n` is below `count(v)`.
fn nth(v: &mut Value, n: u32) -> &mut Value {
    if n == 0 {
        return v;
    }
    let mut n = n - 1;
    let children: Vec<&mut Value> = match v {
        Value::Array(a) => a.iter_mut().collect(),
        Value::Object(o) => o.values_mut().collect(),
        _ => unreachable!("n is below the node count"),
    };
    for c in children {
        let k = count(c);
        if n < k {
            return nth(c, n);
        }
        n -= k;
    }
    unreachable!("n is below the node count")
}

/// Every key name of `v`, sorted.
fn keys(v: &Value, out: &mut std::collections::BTreeSet<String>) {
    match v {
        Value::Array(a) => a.iter().for_each(|x| keys(x, out)),
        Value::Object(o) => {
            for (k, x) in o {
                out.insert(k.clone());
                keys(x, out);
            }
        }
        _ => {}
    }
}

fn set_key(v: &mut Value, key: &str, to: &Value) {
    match v {
        Value::Array(a) => a.iter_mut().for_each(|x| set_key(x, key, to)),
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                if k == key {
                    *x = to.clone();
                } else {
                    set_key(x, key, to);
                }
            }
        }
        _ => {}
    }
}

fn apply_json(mut v: Value, edits: &[JsonEdit]) -> Value {
    for e in edits {
        let total = count(&v);
        match e {
            JsonEdit::SetKey(i, x) => {
                let mut all = std::collections::BTreeSet::new();
                keys(&v, &mut all);
                if let Some(k) = all.iter().nth(*i as usize % all.len().max(1)).cloned() {
                    set_key(&mut v, &k, x);
                }
            }
            JsonEdit::Set(i, x) => *nth(&mut v, i % total) = x.clone(),
            JsonEdit::Remove(i) => match nth(&mut v, i % total) {
                Value::Object(o) if !o.is_empty() => {
                    let k = o.keys().nth(*i as usize % o.len()).cloned();
                    if let Some(k) = k {
                        o.remove(&k);
                    }
                }
                Value::Array(a) if !a.is_empty() => {
                    let k = *i as usize % a.len();
                    a.remove(k);
                }
                _ => {}
            },
            JsonEdit::Empty(i) => match nth(&mut v, i % total) {
                Value::Array(a) => a.clear(),
                Value::String(s) => s.clear(),
                _ => {}
            },
            JsonEdit::Repeat(i) => {
                if let Value::Array(a) = nth(&mut v, i % total)
                    && let Some(x) = a.first().cloned()
                {
                    a.push(x);
                }
            }
        }
    }
    v
}

/// Cases per property: `default`, or `TENANTBENCH_FUZZ_CASES` (a longer hunt: 20000).
fn cases(default: u32) -> ProptestConfig {
    let n = std::env::var("TENANTBENCH_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases: n,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn mutated_shipped_scenarios_never_panic_and_errors_name_a_place(
        pick in any::<prop::sample::Index>(),
        edits in proptest::collection::vec(edit(), 1..5),
    ) {
        let files = shipped("scenarios", "toml");
        let (path, text) = &files[pick.index(files.len())];
        check_scenario(path, &apply(text, &edits));
    }

    #[test]
    fn random_bytes_as_a_scenario_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let text = String::from_utf8_lossy(&bytes);
        check_scenario(Path::new("random.toml"), &text);
    }

    #[test]
    fn random_toml_shapes_as_a_scenario_never_panic(
        text in "(name = \"[a-z]{0,4}\"\n|\\[population\\]\n|\\[workload\\]\n|\\[\\[variant\\]\\]\n|\\[\\[fault\\]\\]\n|\\[\\[phase\\]\\]\n|\\[run\\]\n|[a-z_]{1,10} = (-?[0-9]{1,12}|\"[a-z0-9_ .:]{0,10}\"|\\[\\]|true|[0-9]\\.[0-9]e[0-9]{1,3}|\\{\\})\n){0,14}"
    ) {
        check_scenario(Path::new("shapes.toml"), &text);
    }

    #[test]
    fn mutated_gate_rules_never_panic_and_errors_name_a_place(
        edits in proptest::collection::vec(edit(), 1..5),
    ) {
        let path = root().join("gates/default.toml");
        let text = std::fs::read_to_string(&path).expect("default rules");
        check_rules(&path, &apply(&text, &edits));
    }

    #[test]
    fn random_toml_shapes_as_gate_rules_never_panic(
        text in "(\\[\\[absolute\\]\\]\n|\\[\\[relative\\]\\]\n|\\[\\[isolation\\]\\]\n|\\[\\[plan\\]\\]\n|[a-z_]{1,8} = (-?[0-9]{1,12}|\"[a-z0-9_ .:*]{0,10}\"|\\[\\]|-?[0-9]\\.[0-9]+|\\{\\})\n){0,10}"
    ) {
        check_rules(Path::new("rules.toml"), &text);
    }
}

proptest! {
    // Each case renders the whole report (SVG charts included): fewer cases, still hundreds
    // of mutations per CI run.
    #![proptest_config(cases(48))]

    #[test]
    fn mutated_results_never_panic_any_reader(edits in proptest::collection::vec(json_edit(), 1..6)) {
        let v: Value = serde_json::from_str(&results_fixture()).expect("fixture parses");
        let text = serde_json::to_string_pretty(&apply_json(v, &edits)).expect("encodes");
        check_results(Path::new("results.json"), &text);
    }

    #[test]
    fn byte_mutated_results_never_panic_and_errors_name_a_place(
        edits in proptest::collection::vec(edit(), 1..4),
    ) {
        let text = apply(&results_fixture(), &edits);
        check_results(Path::new("results.json"), &text);
    }
}

/// Every file of the corpus is handled (no panic; refusals name a place): the directory names
/// the reader (`scenario`, `rules`, `results`).
#[test]
fn the_corpus_is_handled() {
    let dir = root().join("tests/fixtures/fuzz");
    let mut seen = 0;
    for kind in ["scenario", "rules", "results"] {
        let Ok(entries) = std::fs::read_dir(dir.join(kind)) else {
            continue;
        };
        for e in entries {
            let p = e.expect("corpus entry").path();
            let text = String::from_utf8_lossy(&std::fs::read(&p).expect("corpus file reads"))
                .into_owned();
            match kind {
                "scenario" => check_scenario(&p, &text),
                "rules" => check_rules(&p, &text),
                _ => check_results(&p, &text),
            }
            seen += 1;
        }
    }
    assert!(seen > 0, "the corpus in {} is empty", dir.display());
}
