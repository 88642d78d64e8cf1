//! The `bench` binary: times a config's kernels (cold and hot) against baselines and
//! writes `artifacts/bench/<config>/summary.json`, `samples.json` and `samples.svg`;
//! `bench compare OLD NEW` compares two runs.

mod ci;
mod compare_cmd;
mod run;
mod sdpa;
mod timing;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use cli_support::CommonArgs;

/// Command line of `bench`.
#[derive(Debug, Parser)]
#[command(
    name = "bench",
    version,
    about = "Timings a kernel engineer can trust: cold (L2 flushed) and hot (CUDA graph) CUDA-event timings, checked outputs, baselines, comparisons"
)]
pub struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(subcommand)]
    command: Option<Command>,
    /// Skip the PyTorch SDPA baselines.
    #[arg(long)]
    no_torch: bool,
    /// Skip the cuBLAS baseline.
    #[arg(long)]
    no_cublas: bool,
    /// Python interpreter for the SDPA baselines.
    #[arg(long, default_value = "python3", value_name = "EXE")]
    python: String,
    /// The SDPA baseline script (default: scripts/sdpa_baseline.py of the repository).
    #[arg(long, value_name = "PATH")]
    sdpa_script: Option<PathBuf>,
    /// Time only this mode (default: both).
    #[arg(long, value_parser = ["cold", "hot"])]
    mode: Option<String>,
    /// How cold samples flush L2, for our kernels and every baseline alike: `read` (a
    /// kernel reads a buffer of twice the L2; L2 is left clean, as after Nsight Compute's
    /// cache control) or `write` (a memset, as NVBench and triton do; L2 is left dirty).
    #[arg(long, value_enum, default_value_t = FlushArg::Read)]
    l2_flush: FlushArg,
    /// Cold samples also evict the SMs' instruction caches, for our kernels and every
    /// baseline alike: 1 MiB of straight-line code runs on every SM before the L2 flush
    /// (built here with ptxas, ~10 s). Nsight Compute's cache control invalidates them; the
    /// L2 flush alone leaves the timed kernel's code in them from its previous sample, so a
    /// kernel that runs much of its code once looks faster than where other kernels run
    /// between its launches. The summary records `code_flush_bytes`.
    #[arg(long)]
    icache_flush: bool,
    /// Time each kernel under test as this manifest launch (`default` or a
    /// `[[launch_rule]]`'s name) instead of the one its manifest chooses for the config,
    /// e.g. fa_tc's mma.sync default where the config selects its wgmma launch. A kernel
    /// without that launch at the config's head dim (in the cubin loaded for this GPU) is
    /// bad input (exit 2); pick kernels with --kernel. The summary records
    /// `forced_launch`, and artifact-check does not accept it as a config's evidence: write
    /// such runs elsewhere with --out.
    #[arg(long, value_name = "NAME")]
    launch: Option<String>,
}

/// `--l2-flush`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FlushArg {
    /// Read the flush buffer.
    Read,
    /// Memset the flush buffer.
    Write,
}

impl From<FlushArg> for kernel_runtime::device::timing::FlushMethod {
    fn from(a: FlushArg) -> Self {
        match a {
            FlushArg::Read => Self::Read,
            FlushArg::Write => Self::Write,
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compare two runs (summary.json or samples.json files, or their folders):
    /// FASTER / SLOWER / SAME / UNCLEAR per kernel and mode; exit 1 if anything is SLOWER.
    Compare {
        /// The old run.
        old: PathBuf,
        /// The new run.
        new: PathBuf,
        /// Compare runs from different GPUs anyway.
        #[arg(long)]
        allow_different_devices: bool,
        /// Noise threshold (fraction); default: the config's bench.noise_threshold, else 0.01.
        #[arg(long, value_name = "FRACTION")]
        noise_threshold: Option<f64>,
        /// Bootstrap seed.
        #[arg(long, default_value_t = 20_261_125)]
        seed: u64,
        /// Bootstrap resamples.
        #[arg(long, default_value_t = 2000)]
        resamples: usize,
    },
}

fn main() -> std::process::ExitCode {
    cli_support::main_with("bench", || {
        let cli: Cli = cli_support::parse_args()?;
        match &cli.command {
            Some(Command::Compare {
                old,
                new,
                allow_different_devices,
                noise_threshold,
                seed,
                resamples,
            }) => compare_cmd::main(
                &cli.common,
                old,
                new,
                *allow_different_devices,
                *noise_threshold,
                *seed,
                *resamples,
            ),
            None => run::main(&cli),
        }
    })
}
