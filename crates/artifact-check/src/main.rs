//! `artifact-check [DIR]`: is this evidence directory complete, intact, fresh and green?
//! `artifact-check --write-manifest [DIR]` writes MANIFEST.json and EVIDENCE.md, then checks;
//! `artifact-check merge OUT DIR...` merges CI shards into OUT, writes both, then checks.
//! The logic is in the library; this file parses flags and renders.

use std::path::{Path, PathBuf};

use artifact_check::matrix::Matrix;
use artifact_check::{cubins, evidence, fresh, manifest, merge, render, Outcome};
use clap::{Parser, Subcommand};
use cli_support::{bad_input, exit, CommonArgs, Output};

#[derive(Debug, Parser)]
#[command(
    name = "artifact-check",
    version,
    about = "Checks an evidence directory: complete, intact, fresh and green (no GPU needed)",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    check: CheckFlags,
    /// The evidence directory (default: --out, i.e. artifacts/).
    dir: Option<PathBuf>,
    /// Write MANIFEST.json and EVIDENCE.md for DIR (atomically), then check it.
    #[arg(long)]
    write_manifest: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, clap::Args)]
struct CheckFlags {
    /// The release matrix (TOML; default: the built-in crates/artifact-check/release.toml).
    #[arg(long, global = true, value_name = "FILE")]
    matrix: Option<PathBuf>,
    /// Also require the evidence to match this working tree: configs, kernel sources, and
    /// cubins rebuilt with the pinned toolchain.
    #[arg(long, global = true)]
    require_fresh: bool,
    /// The repository whose configs/ and kernels/ --require-fresh compares against
    /// (default: the repository this is run in).
    #[arg(long, global = true, value_name = "DIR")]
    repo: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Merge the evidence directories of CI shards into OUT, write its MANIFEST.json and
    /// EVIDENCE.md, then check it.
    Merge {
        /// The merged directory (created if needed).
        out: PathBuf,
        /// Shard directories, each laid out like artifacts/.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
    },
}

fn main() -> std::process::ExitCode {
    cli_support::main_with("artifact-check", || {
        let cli: Cli = cli_support::parse_args()?;
        run(&cli)
    })
}

fn run(cli: &Cli) -> anyhow::Result<u8> {
    let out = Output::from_args(&cli.common);
    let matrix = Matrix::load(cli.check.matrix.as_deref()).map_err(bad_input)?;
    let repo = cli
        .check
        .repo
        .clone()
        .or_else(kernel_runtime::toolchain::repository_root)
        .unwrap_or_else(|| PathBuf::from("."));
    match &cli.command {
        Some(Command::Merge { out: dir, shards }) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| bad_input(format!("create {}: {e}", dir.display())))?;
            let conflicts = merge::merge(dir, shards).map_err(bad_input)?;
            if !conflicts.is_empty() {
                for c in &conflicts {
                    out.line(format!("merge: {c}"));
                }
                return Err(cli_support::Classified {
                    code: exit::GATE_FAILED,
                    reason: format!(
                        "merge into {} failed: {} conflict(s), first: {}",
                        dir.display(),
                        conflicts.len(),
                        conflicts[0]
                    ),
                }
                .into());
            }
            let from = shards.iter().map(|s| s.display().to_string()).collect();
            write_manifest(dir, &matrix, &repo, from)?;
            check(cli, &out, dir, &matrix, &repo)
        }
        None => {
            let dir = cli.dir.clone().unwrap_or_else(|| cli.common.out.clone());
            if !dir.is_dir() {
                return Err(bad_input(format!(
                    "{}: not a directory (the evidence directory to check)",
                    dir.display()
                )));
            }
            if cli.write_manifest {
                write_manifest(&dir, &matrix, &repo, Vec::new())?;
                out.progress(format!(
                    "wrote {} and {}",
                    dir.join(manifest::MANIFEST).display(),
                    dir.join(manifest::EVIDENCE).display()
                ));
            }
            check(cli, &out, &dir, &matrix, &repo)
        }
    }
}

/// EVIDENCE.md first (rendered from the summaries), then MANIFEST.json over everything else.
fn write_manifest(
    dir: &Path,
    matrix: &Matrix,
    repo: &Path,
    from: Vec<String>,
) -> anyhow::Result<()> {
    let mut o = Outcome::default();
    artifact_check::check_summaries(dir, matrix, &mut o).map_err(bad_input)?;
    let md = evidence::render(&o, matrix);
    cudadent_evidence::write_atomic(&dir.join(manifest::EVIDENCE), md.as_bytes())?;
    let m = manifest::build(dir, repo, from).map_err(bad_input)?;
    manifest::write(dir, &m).map_err(bad_input)?;
    Ok(())
}

fn check(cli: &Cli, out: &Output, dir: &Path, matrix: &Matrix, repo: &Path) -> anyhow::Result<u8> {
    let mut o = Outcome::default();
    artifact_check::check_summaries(dir, matrix, &mut o).map_err(bad_input)?;
    artifact_check::check_integrity(dir, matrix, &mut o).map_err(bad_input)?;
    cubins::check(&mut o);
    evidence::check_claims(&mut o, matrix);
    if cli.check.require_fresh {
        fresh::check(repo, &mut o, || Ok(cli.common.toolchain()?))?;
    }
    let fresh = cli.check.require_fresh;
    out.line(render::table(&o, matrix, fresh));
    let verdict = if o.passed() { "pass" } else { "fail" };
    let failures = o.failures().count();
    out.line(format!(
        "artifact-check {}: {verdict} ({} check(s), {failures} problem(s){})",
        dir.display(),
        o.cases.len(),
        if fresh {
            ", fresh against this tree"
        } else {
            ""
        }
    ));
    cli_support::ci::append_step_summary(&render::markdown(
        &o,
        matrix,
        fresh,
        &dir.display().to_string(),
    ))?;
    // The common --junit flag (one test case per check).
    if let Some(path) = &cli.common.junit {
        render::junit(&o).write(path)?;
    }
    out.summary(&serde_json::json!({
        "tool": "artifact-check",
        "tool_version": env!("CARGO_PKG_VERSION"),
        "dir": dir.display().to_string(),
        "verdict": verdict,
        "require_fresh": fresh,
        "checks": o.cases.iter().map(|c| serde_json::json!({
            "suite": c.suite, "name": c.name, "failures": c.failures,
        })).collect::<Vec<_>>(),
    }))?;
    Ok(if o.passed() {
        exit::PASS
    } else {
        exit::GATE_FAILED
    })
}
