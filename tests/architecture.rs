//! The module boundaries of docs/architecture.md, kept by reading the sources: every import
//! between the crate's top-level modules allowed by the page's "may import" table (which names
//! only modules that exist, each once), no import circle between the top-level modules or between
//! the children of one module, and no database folder under `src/backend/` naming another; and
//! every file the page names exists. A path counts wherever it is written (`use` lines and inline
//! `crate::x::y` paths); unit-test modules (`#[cfg(test)]` to the end of the file) are left out,
//! as they may build fixtures from anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, recursively.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("src is readable") {
        let p = e.expect("directory entry").path();
        if p.is_dir() {
            out.extend(sources(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// The module path of a file under `src/`: `backend/postgres/seed.rs` → [backend, postgres, seed].
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|l| l == "mod") {
        parts.pop();
    }
    parts
}

/// The code of a file without its unit tests and comments.
fn code(text: &str) -> String {
    let end = text.find("#[cfg(test)]").unwrap_or(text.len());
    text[..end]
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths a file names after `crate::`, as module components (lowercase identifiers only),
/// including those inside `crate::{a::b, c}` groups.
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                out.push(segments(item.trim()));
            }
        } else {
            out.push(segments(rest));
        }
    }
    out.retain(|p| !p.is_empty());
    out
}

fn segments(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    for seg in s.split("::") {
        let id: String = seg
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if id.is_empty() || !id.starts_with(|c: char| c.is_ascii_lowercase()) {
            break;
        }
        out.push(id);
        if seg.len() != out.last().map_or(0, String::len) {
            break;
        }
    }
    out
}

/// A cycle in a directed graph, if any, as the list of nodes around it.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                1 => {
                    let from = stack.iter().position(|x| x == m).expect("on the stack");
                    let mut c = stack[from..].to_vec();
                    c.push(m.clone());
                    return Some(c);
                }
                0 => {
                    if let Some(c) = visit(m, g, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0 {
            let mut stack = Vec::new();
            if let Some(c) = visit(n, graph, &mut state, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}

struct Crate {
    /// (module path, code without tests) per file.
    files: Vec<(Vec<String>, String)>,
}

impl Crate {
    fn read() -> Crate {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let files = sources(&src)
            .into_iter()
            .map(|f| {
                let text = std::fs::read_to_string(&f).expect("source is readable");
                (module_of(&src, &f), code(&text))
            })
            .filter(|(m, _)| !m.is_empty() && m[0] != "lib" && m[0] != "main")
            .collect();
        Crate { files }
    }

    /// Edges between the children of `parent` (the crate root for an empty `parent`): a file in
    /// child A naming `crate::<parent>::B…` or (one level down) `super::B` depends on B.
    fn graph(&self, parent: &[String]) -> BTreeMap<String, BTreeSet<String>> {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let depth = parent.len();
        let children: BTreeSet<String> = self
            .files
            .iter()
            .filter(|(m, _)| m.len() > depth && m.starts_with(parent))
            .map(|(m, _)| m[depth].clone())
            .collect();
        for (m, code) in &self.files {
            if m.len() <= depth || !m.starts_with(parent) {
                continue;
            }
            let from = &m[depth];
            g.entry(from.clone()).or_default();
            let mut targets: Vec<String> = crate_paths(code)
                .into_iter()
                .filter(|p| p.len() > depth && p.starts_with(parent))
                .map(|p| p[depth].clone())
                .collect();
            if depth > 0 && m.len() == depth + 1 {
                // `super::x` from a direct child of `parent`.
                let mut rest = code.as_str();
                while let Some(i) = rest.find("super::") {
                    rest = &rest[i + "super::".len()..];
                    let seg = segments(rest);
                    if let Some(first) = seg.first() {
                        targets.push(first.clone());
                    }
                }
            }
            for t in targets {
                if &t != from && children.contains(&t) {
                    g.entry(from.clone()).or_default().insert(t);
                }
            }
        }
        g
    }
}

#[test]
fn no_import_circle_between_top_level_modules() {
    let c = Crate::read();
    let g = c.graph(&[]);
    assert!(g.contains_key("op") && g.contains_key("backend"), "{g:?}");
    if let Some(cycle) = cycle(&g) {
        panic!("import circle between modules: {}", cycle.join(" → "));
    }
    // The leaves name nothing of the crate.
    for leaf in ["op", "pacing", "datagen", "spans"] {
        let deps = &g[leaf];
        assert!(deps.is_empty(), "{leaf} is a leaf but imports {deps:?}");
    }
}

#[test]
fn no_import_circle_inside_a_module() {
    let c = Crate::read();
    let parents: BTreeSet<Vec<String>> = c
        .files
        .iter()
        .filter(|(m, _)| m.len() >= 2)
        .map(|(m, _)| m[..m.len() - 1].to_vec())
        .collect();
    assert!(parents.contains(&vec!["report".to_string()]));
    for p in parents {
        if let Some(cycle) = cycle(&c.graph(&p)) {
            panic!(
                "import circle inside {}: {}",
                p.join("::"),
                cycle.join(" → ")
            );
        }
    }
}

#[test]
fn no_database_folder_names_another() {
    let c = Crate::read();
    let dbs: BTreeSet<String> = c
        .files
        .iter()
        .filter(|(m, _)| m.len() >= 3 && m[0] == "backend")
        .map(|(m, _)| m[1].clone())
        .collect();
    assert!(dbs.contains("mongo") && dbs.contains("postgres"), "{dbs:?}");
    for (m, code) in &c.files {
        if m.len() < 2 || m[0] != "backend" || !dbs.contains(&m[1]) {
            continue;
        }
        for p in crate_paths(code) {
            if p.len() >= 2 && p[0] == "backend" && dbs.contains(&p[1]) && p[1] != m[1] {
                panic!(
                    "src/{}.rs names crate::backend::{}: shared code belongs in src/backend/",
                    m.join("/"),
                    p[1..].join("::")
                );
            }
        }
    }
}

#[test]
fn the_reader_finds_circles_it_is_shown() {
    // The checker itself: a circle written in code is found, a chain is not.
    let paths = crate_paths("use crate::{a::X, b::c::Y};\nfn f() { crate::d::g(); }");
    assert_eq!(paths, vec![vec!["a"], vec!["b", "c"], vec!["d", "g"]]);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    assert_eq!(cycle(&g), None);
    g.entry("c".into()).or_default().insert("a".into());
    assert_eq!(
        cycle(&g),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}

/// docs/architecture.md's text.
fn architecture_md() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/architecture.md");
    std::fs::read_to_string(path).expect("docs/architecture.md is readable")
}

/// What a row of the "may import" table allows: the modules it lists, or every module.
#[derive(Debug, PartialEq)]
enum Allowed {
    Only(BTreeSet<String>),
    Every,
}

/// The `` `name` `` spans of a text, outside parentheses (which hold notes, not rules).
fn ticked_outside_parens(cell: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0u32;
    let mut tick: Option<String> = None;
    for c in cell.chars() {
        if c == '`' {
            match tick.take() {
                Some(name) if depth == 0 => out.push(name),
                Some(_) => {}
                None => tick = Some(String::new()),
            }
        } else if let Some(name) = tick.as_mut() {
            name.push(c);
        } else if c == '(' {
            depth += 1;
        } else if c == ')' {
            depth = depth.saturating_sub(1);
        }
    }
    out
}

/// The "may import" table of a page: module → what it may import, in the order of the rows.
/// The table is the one whose header names a `may import` column (its last); a row's first cell
/// is the module, its last the rule: `nothing`, `every other module`, or the modules in
/// backticks (notes in parentheses aside).
fn may_import_table(md: &str) -> Result<Vec<(String, Allowed)>, String> {
    let mut lines = md.lines().skip_while(|l| {
        !(l.trim_start().starts_with('|') && l.contains("module") && l.contains("may import"))
    });
    lines.next().ok_or("no table with a `may import` column")?;
    let mut rows = Vec::new();
    for line in lines.take_while(|l| l.trim_start().starts_with('|')) {
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        if cells
            .iter()
            .all(|c| c.chars().all(|ch| ch == '-' || ch == ':'))
        {
            continue;
        }
        let (first, last) = (cells[0], cells[cells.len() - 1]);
        let module = match ticked_outside_parens(first).as_slice() {
            [m] => m.clone(),
            _ => return Err(format!("a row's first cell is not one `module`: {line}")),
        };
        let allowed = match last {
            "nothing" => Allowed::Only(BTreeSet::new()),
            "every other module" => Allowed::Every,
            _ => {
                let names: BTreeSet<String> = ticked_outside_parens(last).into_iter().collect();
                if names.is_empty() {
                    return Err(format!(
                        "`{module}`'s row names no module it may import: {line}"
                    ));
                }
                Allowed::Only(names)
            }
        };
        rows.push((module, allowed));
    }
    if rows.is_empty() {
        return Err("the `may import` table has no rows".into());
    }
    Ok(rows)
}

#[test]
fn imports_follow_the_may_import_table() {
    let c = Crate::read();
    let g = c.graph(&[]);
    let table = may_import_table(&architecture_md()).unwrap_or_else(|e| panic!("{e}"));
    let mut wrong = Vec::new();
    let mut rows: BTreeMap<&str, &Allowed> = BTreeMap::new();
    for (module, allowed) in &table {
        if rows.insert(module.as_str(), allowed).is_some() {
            wrong.push(format!("`{module}` has two rows"));
        }
        if !g.contains_key(module) {
            wrong.push(format!(
                "the table has a row for `{module}`, which is not a module under src/"
            ));
        }
        if let Allowed::Only(names) = allowed {
            for n in names.iter().filter(|n| !g.contains_key(*n)) {
                wrong.push(format!(
                    "`{module}` may import `{n}`, which is not a module under src/"
                ));
            }
        }
    }
    for (module, deps) in &g {
        let Some(allowed) = rows.get(module.as_str()) else {
            wrong.push(format!("src/{module} has no row in the table"));
            continue;
        };
        let Allowed::Only(names) = allowed else {
            continue;
        };
        for dep in deps.iter().filter(|d| !names.contains(*d)) {
            let files: Vec<String> = c
                .files
                .iter()
                .filter(|(m, code)| {
                    &m[0] == module && crate_paths(code).iter().any(|p| &p[0] == dep)
                })
                .map(|(m, _)| format!("src/{}.rs", m.join("/")))
                .collect();
            wrong.push(format!(
                "`{module}` imports `{dep}` ({}), which its row does not allow",
                files.join(", ")
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "docs/architecture.md's may-import table and the code disagree (change the code, or the \
         table with the reason):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_table_reader_reads_what_it_is_shown() {
    let md = "text\n\n| module | its one job | may import |\n| --- | --- | --- |\n\
              | `op` | the words (`Op`) | nothing |\n\
              | `gate` | rules | `metrics`, `report` (names, `Pct`) |\n\
              | `app` | commands | every other module |\n\nafter\n| a | b |\n";
    let t = may_import_table(md).expect("a table");
    let set = |xs: &[&str]| Allowed::Only(xs.iter().map(|x| x.to_string()).collect());
    assert_eq!(
        t,
        vec![
            ("op".to_string(), set(&[])),
            ("gate".to_string(), set(&["metrics", "report"])),
            ("app".to_string(), Allowed::Every),
        ]
    );
    assert!(may_import_table("| module | may import |\n| --- | --- |\n| `x` | soon |\n").is_err());
    assert!(may_import_table("no table here").is_err());
}

#[test]
fn architecture_md_names_only_files_that_exist() {
    // Paths in backticks (`report/html/`, `app/trial.rs`, `docs/ci.md`), from the repository
    // root or from src/, and the `src/…` paths of the tree; placeholders (`<kind>`, `{a,b}`,
    // `*`) are not paths.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let md = architecture_md();
    let mut names: BTreeSet<String> = BTreeSet::new();
    let mut fenced = false;
    for line in md.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            names.extend(
                line.split_whitespace()
                    .filter(|w| w.starts_with("src/"))
                    .map(str::to_string),
            );
        } else {
            names.extend(line.split('`').skip(1).step_by(2).map(str::to_string));
        }
    }
    let path_like = |s: &str| {
        !s.is_empty()
            && !s.contains([' ', '<', '{', '*', '…', ':', '$'])
            && (s.contains('/')
                || [".rs", ".html", ".md", ".toml", ".xml"]
                    .iter()
                    .any(|x| s.ends_with(x)))
    };
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| path_like(n.as_str()))
        .filter(|n| !root.join(n).exists() && !root.join("src").join(n).exists())
        .collect();
    assert!(
        names.iter().filter(|n| path_like(n.as_str())).count() > 20,
        "the reader found too few paths: {names:?}"
    );
    assert!(
        missing.is_empty(),
        "docs/architecture.md names files that do not exist: {missing:?}"
    );
}

/// Functions longer than this (signature to closing brace) are split.
const MAX_FN_LINES: usize = 100;
/// Files longer than this are split into modules.
const MAX_FILE_LINES: usize = 700;

/// The text with comments, string and character literals blanked (newlines kept), so braces
/// and `fn` can be read from it with their line numbers.
fn blank_literals(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !ident_before(&b, i) {
            // A raw string: r"…", r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            for &x in &b[i..j.min(b.len())] {
                out.push(blank(x));
            }
            i = j;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < b.len() {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{7f}'), not a lifetime ('a).
            let end = if next == Some('\\') {
                (i + 2..b.len()).find(|&k| b[k] == '\'')
            } else if b.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(e) => {
                    for _ in i..=e {
                        out.push(' ');
                    }
                    i = e + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Whether the character before `i` continues an identifier (`br"…"` aside, `for`'s `r`).
fn ident_before(b: &[char], i: usize) -> bool {
    i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_')
}

/// Every function with a body in `code` (literals blanked): (name, first line, lines).
fn functions(code: &str) -> Vec<(String, usize, usize)> {
    let b: Vec<char> = code.chars().collect();
    let line_at = |k: usize| b[..k].iter().filter(|&&c| c == '\n').count() + 1;
    let mut out = Vec::new();
    let mut i = 0;
    while i + 3 < b.len() {
        let is_fn =
            b[i] == 'f' && b[i + 1] == 'n' && b[i + 2].is_whitespace() && !ident_before(&b, i);
        if !is_fn {
            i += 1;
            continue;
        }
        let name: String = b[i + 3..]
            .iter()
            .skip_while(|c| c.is_whitespace())
            .take_while(|c| c.is_alphanumeric() || **c == '_')
            .collect();
        // The body opens at the first `{` outside parentheses and angle brackets; a `;` first
        // means a declaration without a body (a trait's, an extern's).
        let (mut paren, mut j) = (0i32, i + 2);
        let open = loop {
            match b.get(j) {
                None => break None,
                Some('(' | '[') => paren += 1,
                Some(')' | ']') => paren -= 1,
                Some(';') if paren == 0 => break None,
                Some('{') if paren == 0 => break Some(j),
                _ => {}
            }
            j += 1;
        };
        let Some(open) = open else {
            i = j;
            continue;
        };
        let mut depth = 0;
        let mut k = open;
        while k < b.len() {
            match b[k] {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            k += 1;
        }
        let (first, last) = (line_at(i), line_at(k.min(b.len() - 1)));
        out.push((name, first, last - first + 1));
        i += 3;
    }
    out
}

#[test]
fn no_function_over_100_lines_and_no_file_over_700() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut long = Vec::new();
    for f in sources(&src) {
        let text = std::fs::read_to_string(&f).expect("source is readable");
        let rel = f
            .strip_prefix(&src)
            .expect("under src")
            .display()
            .to_string();
        let lines = text.lines().count();
        if lines > MAX_FILE_LINES {
            long.push(format!(
                "src/{rel}: {lines} lines (at most {MAX_FILE_LINES})"
            ));
        }
        for (name, line, n) in functions(&blank_literals(&text)) {
            if n > MAX_FN_LINES {
                long.push(format!(
                    "src/{rel}:{line} fn {name}: {n} lines (at most {MAX_FN_LINES})"
                ));
            }
        }
    }
    assert!(
        long.is_empty(),
        "split these (a function into steps, a file into modules):\n{}",
        long.join("\n")
    );
}

#[test]
fn the_size_reader_measures_what_it_is_shown() {
    let code = blank_literals(
        "fn a() {\n    let s = \"}{\";\n    let c = '}';\n    // }\n}\ntrait T {\n    fn b(&self);\n    fn c<'a>(x: &'a str) -> Vec<u8> where u8: Copy {\n        vec![]\n    }\n}\nconst R: &str = r#\"fn d() {\"#;\n",
    );
    let f = functions(&code);
    assert_eq!(
        f,
        vec![("a".to_string(), 1, 5), ("c".to_string(), 8, 3)],
        "{code}"
    );
}
