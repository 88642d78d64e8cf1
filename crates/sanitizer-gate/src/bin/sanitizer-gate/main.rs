//! The `sanitizer-gate` binary: runs compute-sanitizer's tools over the oracle's single
//! launch of each kernel under test and of each tool's planted-bug control, and writes
//! `artifacts/sanitizers/<config>/` (one log per run, summary.json, sanitizers.sarif).
//! `--from-log FILE --tool T` re-evaluates a saved log without a GPU.

mod ci;
mod run;

use std::path::PathBuf;

use clap::Parser;
use cli_support::CommonArgs;
use cudadent_config::SanitizerTool;

/// Command line of `sanitizer-gate`.
#[derive(Debug, Parser)]
#[command(
    name = "sanitizer-gate",
    version,
    about = "compute-sanitizer as a gate that cannot pass by accident: memcheck, racecheck, initcheck, synccheck over one launch of each kernel, with a planted-bug control per tool"
)]
pub struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    /// Run only this tool (repeatable; default: the config's [sanitizer] tools). With
    /// --from-log: the tool that wrote the log (exactly one).
    #[arg(long = "tool", value_name = "TOOL", value_parser = sanitizer_gate::parse_tool)]
    tools: Vec<SanitizerTool>,
    /// Config the planted-bug controls run on (default: canon_1.toml beside --config).
    #[arg(long, value_name = "PATH")]
    control_config: Option<PathBuf>,
    /// Folder of planted-bug controls (default: kernels/selftest of the repository).
    #[arg(long, value_name = "DIR")]
    selftest_dir: Option<PathBuf>,
    /// The oracle executable (default: `oracle` beside this executable).
    #[arg(long, value_name = "PATH")]
    oracle: Option<PathBuf>,
    /// compute-sanitizer executable (default: beside nvcc, on PATH, /usr/local/cuda).
    #[arg(long, value_name = "PATH")]
    compute_sanitizer: Option<PathBuf>,
    /// Timeout per run in seconds (default: the config's [sanitizer] timeout_s).
    #[arg(long, value_name = "SECONDS")]
    timeout_s: Option<u64>,
    /// Re-evaluate a saved log (no GPU): print its findings and verdict.
    #[arg(long, value_name = "FILE")]
    from_log: Option<PathBuf>,
    /// With --from-log: the kernel's name (default: the one the launch line names).
    #[arg(long, value_name = "NAME", requires = "from_log")]
    kernel_name: Option<String>,
    /// With --from-log: the log is a planted-bug control's (it must be caught).
    #[arg(long, requires = "from_log")]
    control: bool,
    /// With --from-log: apply the [[sanitizer.suppress]] entries of --config.
    #[arg(long, requires = "from_log")]
    apply_suppressions: bool,
}

fn main() -> std::process::ExitCode {
    cli_support::main_with("sanitizer-gate", || {
        let cli: Cli = cli_support::parse_args()?;
        run::main(&cli)
    })
}
