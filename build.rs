//! Captures the git commit the harness is built from, so a copied binary still reports the
//! commit of its source (`environment.git_commit` in results). Outside a git checkout, or
//! without git, the commit is unknown and results say so.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).map(|mut c| {
        let dirty =
            git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
        if dirty {
            c.push_str("-dirty");
        }
        c
    });
    println!(
        "cargo:rustc-env=TENANTBENCH_GIT_COMMIT={}",
        commit.unwrap_or_default()
    );
    // Rebuild when HEAD moves (a commit, a checkout). Not on the index: `git status` rewrites
    // it, and every rebuild of the crate costs minutes; edits are followed through the sources.
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
        if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"]) {
            println!("cargo:rerun-if-changed={dir}/{r}");
        }
    }
    // And when the sources change, so that `-dirty` follows edits (cargo watches directories
    // recursively).
    for p in ["build.rs", "Cargo.toml", "src", "scenarios"] {
        println!("cargo:rerun-if-changed={p}");
    }
}
