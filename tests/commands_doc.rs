//! The documentation kept true by tests: `docs/commands.md` is the long `--help` of every
//! command, generated from the clap definitions (`TENANTBENCH_BLESS=1` rewrites it), and every
//! relative link in the README and `docs/` points at a file (and heading) that exists.

use std::collections::BTreeSet;
use std::path::PathBuf;

use clap::CommandFactory;
use tenantbench::cli::Cli;

/// The width help is wrapped at: clap's default when no terminal says otherwise, so the file
/// equals `tenantbench <command> --help` in any terminal at least this wide (and in a pipe).
const WIDTH: usize = 100;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The command tree as the binary builds it: named `tenantbench` (as it is when run from its
/// file, whose name clap takes), wrapped at [`WIDTH`] whatever the terminal.
fn command() -> clap::Command {
    let mut cmd = Cli::command()
        .bin_name("tenantbench")
        .term_width(WIDTH)
        .max_term_width(WIDTH);
    cmd.build();
    cmd
}

/// `(words after "tenantbench", help)` for the top level and every subcommand, depth first in
/// definition order; clap's own `help` subcommand is left out. The help is what `--help` makes
/// clap print: the long help (`render_long_help`) where a flag or the command has one, else
/// the short layout, which is why it is taken from clap's own `--help` answer.
fn helps() -> Vec<(String, String)> {
    fn walk(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
        out.push(path.to_string());
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            walk(sub, format!("{path} {}", sub.get_name()).trim(), out);
        }
    }
    let mut paths = Vec::new();
    walk(&command(), "", &mut paths);
    paths
        .into_iter()
        .map(|path| {
            let argv = std::iter::once("tenantbench")
                .chain(path.split_whitespace())
                .chain(["--help"]);
            let answer = command()
                .try_get_matches_from(argv)
                .expect_err("--help answers with the help");
            assert_eq!(answer.kind(), clap::error::ErrorKind::DisplayHelp);
            (path, answer.render().to_string())
        })
        .collect()
}

/// docs/commands.md as the clap definitions make it.
fn commands_md() -> String {
    let mut md = String::from(
        "# Command reference\n\n\
         Generated from the clap definitions in `src/cli.rs` by `tests/commands_doc.rs`: each \
         section is\nwhat `tenantbench <command> --help` prints. Do not edit by hand; after \
         changing a flag, run\n`TENANTBENCH_BLESS=1 cargo test --release --test tests \
         commands_doc::` to rewrite it. What each\ncommand does, with examples: \
         [guide.md](guide.md).\n",
    );
    for (path, help) in helps() {
        let heading = if path.is_empty() {
            "tenantbench".to_string()
        } else {
            format!("tenantbench {path}")
        };
        let body: Vec<&str> = help.lines().map(str::trim_end).collect();
        md.push_str(&format!(
            "\n## {heading}\n\n```text\n{}\n```\n",
            body.join("\n").trim_end()
        ));
    }
    md
}

#[test]
fn commands_md_is_the_help_of_every_command() {
    let want = commands_md();
    let path = root().join("docs/commands.md");
    if std::env::var_os("TENANTBENCH_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &want).expect("docs/commands.md is writable");
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    if have != want {
        let line = have
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| have.lines().count().min(want.lines().count()))
            + 1;
        panic!(
            "docs/commands.md differs from the clap definitions (first at line {line}); \
             rewrite it with `TENANTBENCH_BLESS=1 cargo test --release --test tests commands_doc::`"
        );
    }
}

#[test]
fn commands_md_covers_every_command() {
    let helps = helps();
    let names: BTreeSet<&str> = helps.iter().map(|(p, _)| p.as_str()).collect();
    for sub in [
        "", "seed", "run", "load", "gate", "report", "migrate", "schema",
    ] {
        assert!(names.contains(sub), "no section for `{sub}` in {names:?}");
    }
    for (path, help) in &helps {
        let usage = format!("Usage: tenantbench {path}").trim().to_string();
        assert!(
            help.contains(&usage),
            "the help of `{path}` does not start its usage with `{usage}`:\n{help}"
        );
        assert!(
            !help.contains('\u{1b}'),
            "the help of `{path}` has terminal escapes"
        );
        assert!(
            help.lines().all(|l| l.chars().count() <= WIDTH),
            "the help of `{path}` has a line wider than {WIDTH}"
        );
    }
}

#[test]
fn commands_md_equals_what_the_binary_prints() {
    // The rendering above against the binary itself, for every command: same name, same width.
    for (path, help) in helps() {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tenantbench"))
            .args(path.split_whitespace())
            .arg("--help")
            .env("COLUMNS", WIDTH.to_string())
            .env_remove("RUST_LOG")
            .output()
            .expect("tenantbench runs");
        assert!(out.status.success(), "tenantbench {path} --help failed");
        let printed = String::from_utf8(out.stdout).expect("help is UTF-8");
        assert_eq!(
            printed.trim_end(),
            help.trim_end(),
            "`tenantbench {path} --help` differs from its rendering in docs/commands.md"
        );
    }
}

/// The anchors GitHub gives a Markdown file's headings: lowercased, punctuation dropped, spaces
/// as `-`, a repeated anchor numbered (`-1`, `-2`, …). Headings inside code fences are not.
fn anchors(md: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut fenced = false;
    for line in md.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        let text = line.trim_start_matches('#').trim();
        let slug: String = text
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        let mut anchor = slug.clone();
        let mut n = 0;
        while out.contains(&anchor) {
            n += 1;
            anchor = format!("{slug}-{n}");
        }
        out.insert(anchor);
    }
    out
}

/// The relative link targets of a Markdown text: `](target)` outside code fences, web and mail
/// addresses left out.
fn links(md: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fenced = false;
    for line in md.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            rest = &rest[i + 2..];
            let end = rest.find(')').unwrap_or(rest.len());
            let target = &rest[..end];
            if !target.contains("://") && !target.starts_with("mailto:") && !target.is_empty() {
                out.push(target.to_string());
            }
            rest = &rest[end..];
        }
    }
    out
}

#[test]
fn every_link_in_the_readme_and_docs_points_at_something() {
    let root = root();
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/ is readable")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    let mut broken = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("markdown is readable");
        let dir = file.parent().expect("a file has a folder");
        for link in links(&text) {
            let (path, anchor) = link.split_once('#').unwrap_or((link.as_str(), ""));
            let target: PathBuf = if path.is_empty() {
                file.clone()
            } else {
                dir.join(path)
            };
            let shown = format!(
                "{}: ({link})",
                file.strip_prefix(&root).unwrap_or(file.as_path()).display()
            );
            if !target.exists() {
                broken.push(format!("{shown}: no such file"));
            } else if !anchor.is_empty() && target.extension().is_some_and(|x| x == "md") {
                let text = std::fs::read_to_string(&target).expect("markdown is readable");
                if !anchors(&text).contains(anchor) {
                    broken.push(format!("{shown}: no such heading"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_link_reader_reads_what_it_is_shown() {
    let md = "# Top\n## `[[fault]]`\n## 100,000 tenants (`skewed-100k`)\n## Top\n\
              see [a](a.md#top) and [b](https://x.y/z) and [c](#top-1)\n```\n[no](nowhere.md)\n```\n";
    assert_eq!(links(md), vec!["a.md#top", "#top-1"]);
    let a = anchors(md);
    for want in ["top", "fault", "100000-tenants-skewed-100k", "top-1"] {
        assert!(a.contains(want), "{want} not in {a:?}");
    }
}
