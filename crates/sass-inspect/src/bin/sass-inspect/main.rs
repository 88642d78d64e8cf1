//! The `sass-inspect` binary: builds a config's kernels (release, from the build cache),
//! reads each cubin's ptxas report, SASS (`cuobjdump --dump-sass`) and PTX, applies the
//! config's `[inspect]` policies and the manifests' tensor-core claims, compares against
//! the previous snapshot, and writes `artifacts/stats/<config>/`.

mod inspect;
mod report;
mod run;

use std::path::PathBuf;

use clap::Parser;
use cli_support::CommonArgs;

#[derive(Debug, Parser)]
#[command(
    name = "sass-inspect",
    version,
    about = "What did the compiler make of the kernel? Registers, spills, shared memory, occupancy and proof of tensor-core instructions, from the very cubins that run"
)]
/// Command line of `sass-inspect`.
pub struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    /// Compare against this summary.json instead of the previous one at the output path.
    #[arg(long, value_name = "PATH", conflicts_with = "no_snapshot")]
    snapshot: Option<PathBuf>,
    /// Skip the snapshot comparison.
    #[arg(long)]
    no_snapshot: bool,
}

fn main() -> std::process::ExitCode {
    cli_support::main_with("sass-inspect", || {
        let cli: Cli = cli_support::parse_args()?;
        run::main(&cli)
    })
}
