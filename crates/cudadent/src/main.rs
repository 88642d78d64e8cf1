//! `cudadent`: the orchestrator.
//!
//! - `cudadent verify` builds the config's kernels, then runs each gate binary (`sass-inspect`,
//!   `oracle`, ...) that sits beside this executable, in order, as its own process with
//!   the same common flags, and prints one table of verdicts. Gates that need a GPU report
//!   "not run" (exit 3) on a machine without one; the others still run.
//! - `cudadent doctor` prints, one line each, what this machine has (toolchain, driver,
//!   GPU, NVML, compute-sanitizer, ncu, python3 with torch) and what each missing piece disables.
//!
//! The gates own their logic; this binary owns only the order and the roll-up.

mod doctor;
mod verify;

use clap::{Parser, Subcommand};
use cli_support::CommonArgs;

#[derive(Debug, Parser)]
#[command(
    name = "cudadent",
    version,
    about = "Verification toolkit for CUDA attention kernels"
)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build the kernels and run every gate for one config (the main job).
    Verify(verify::VerifyArgs),
    /// Say what this machine has and what each missing piece disables.
    Doctor,
    /// Build the config's kernels (cubin + PTX per arch) and print where they are.
    Build {
        /// Add the manifests' debug defines (checked build).
        #[arg(long)]
        debug: bool,
    },
}

fn main() -> std::process::ExitCode {
    cli_support::main_with("cudadent", || {
        let cli: Cli = cli_support::parse_args()?;
        match cli.command {
            Command::Verify(args) => verify::run(&cli.common, &args),
            Command::Doctor => doctor::run(&cli.common),
            Command::Build { debug } => verify::build_only(&cli.common, debug),
        }
    })
}
