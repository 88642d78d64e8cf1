//! The `oracle` binary: runs a config's kernels on a GPU against the references of the
//! `oracle` library, on inputs built to break them, and writes
//! `artifacts/oracle/<config>/summary.json`.
//!
//! Modes: the full check suite (default); `--single-launch`, one launch of one kernel on
//! one input set and nothing else on the GPU (the sanitizer gate's target); `--controls`,
//! the suite over the oracle's negative controls (kernels/selftest), each of which must fail.

mod ci;
mod plan;
mod run;

use std::path::PathBuf;

use clap::Parser;
use cli_support::CommonArgs;

#[derive(Debug, Parser)]
#[command(
    name = "oracle",
    version,
    about = "Does the kernel compute attention? Checks it against fp64 on inputs built to break it"
)]
/// Command line of `oracle`.
pub struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    /// Launch the first kernel under test exactly once on one input set (normal, the
    /// config's seed, default scale), without guard bands or references: the target the
    /// sanitizer gate runs under compute-sanitizer.
    #[arg(long, conflicts_with = "controls")]
    single_launch: bool,
    /// With --single-launch: launch the kernel as this manifest launch (`default` or a
    /// `[[launch_rule]]`'s name) instead of the one its manifest chooses for the config.
    #[arg(long, value_name = "NAME", requires = "single_launch")]
    launch: Option<String>,
    /// Run the suite over the oracle's negative controls (kernels/selftest, gate "oracle")
    /// that support this config's shape: each must fail. Writes controls.json.
    #[arg(long)]
    controls: bool,
    /// Folder of negative controls (default: kernels/selftest of the repository).
    #[arg(long, value_name = "DIR")]
    selftest_dir: Option<PathBuf>,
}

fn main() -> std::process::ExitCode {
    cli_support::main_with("oracle", || {
        let cli: Cli = cli_support::parse_args()?;
        run::main(&cli)
    })
}
