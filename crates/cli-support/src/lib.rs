//! What every cudadent binary shares, so that the tools behave alike: the common flags
//! (`--config`, `--out`, `--json`, `--quiet`, `--kernel`, `--cuda-root`, `--junit`), the exit codes
//! of DESIGN.md as named constants, the one function that maps an error to an exit code,
//! and the output layer (the only place that prints to stdout).
//!
//! The gates themselves live in their own crates; this one only makes their binaries
//! consistent.
#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use cudadent_config::{Config, ConfigError};
use cudadent_evidence::RunLock;
use kernel_runtime::build::{self, BuildOptions, BuiltKernel};
use kernel_runtime::toolchain::{self, Toolchain};
use kernel_runtime::RuntimeError;

/// Exit codes are API (DESIGN.md, "Exit codes").
pub mod exit {
    /// Every check passed.
    pub const PASS: u8 = 0;
    /// The gate found a problem.
    pub const GATE_FAILED: u8 = 1;
    /// Bad input: arguments, config, manifest, a kernel that does not compile.
    pub const BAD_INPUT: u8 = 2;
    /// Could not run here: no GPU, no driver, a tool missing.
    pub const CANNOT_RUN: u8 = 3;
}

/// Flags every tool takes.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// Problem config.
    #[arg(
        long,
        global = true,
        default_value = "configs/canon_3.toml",
        value_name = "PATH"
    )]
    pub config: PathBuf,
    /// Artifact root.
    #[arg(long, global = true, default_value = "artifacts", value_name = "DIR")]
    pub out: PathBuf,
    /// Print the summary JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Print nothing but errors.
    #[arg(long, global = true)]
    pub quiet: bool,
    /// Put this kernel manifest under test instead of the config's kernels (repeatable).
    #[arg(long = "kernel", global = true, value_name = "MANIFEST")]
    pub kernels: Vec<PathBuf>,
    /// CUDA toolkit root (its bin/ has nvcc); overrides discovery.
    #[arg(long, global = true, value_name = "DIR")]
    pub cuda_root: Option<PathBuf>,
    /// Also write a JUnit XML report (one test case per kernel x config x check) to FILE,
    /// after the summary.
    #[arg(long, global = true, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

impl CommonArgs {
    /// Loads and validates the config, with `--kernel` replacements applied.
    pub fn load_config(&self) -> Result<Config, ConfigError> {
        Config::load(&self.config)?.with_kernels(&self.kernels)
    }

    /// Finds the compiler toolchain (explicit root first).
    pub fn toolchain(&self) -> Result<Toolchain, RuntimeError> {
        toolchain::discover(self.cuda_root.as_deref())
    }

    /// The artifact folder of one gate for one config: `<out>/<gate>/<config>/`.
    pub fn gate_dir(&self, gate: &str, config: &str) -> PathBuf {
        self.out.join(gate).join(config)
    }

    /// Takes the run lock of [`Self::gate_dir`] for the rest of the run (until the guard is
    /// dropped): another run of the same gate and config waits, saying so on stderr, so the
    /// files of two runs are never mixed and two benches of one config never overlap.
    pub fn lock_gate_dir(&self, gate: &str, config: &str) -> anyhow::Result<RunLock> {
        let dir = self.gate_dir(gate, config);
        let quiet = self.quiet;
        cudadent_evidence::lock_run(&dir, || {
            if !quiet {
                eprintln!(
                    "{gate}: waiting for another run of {gate} on {config}, which holds {}",
                    shown(&dir)
                );
            }
        })
        .with_context(|| format!("locking {} for this run", shown(&dir)))
    }
}

/// Builds every kernel the config names (under test and reference) for the config's archs.
pub fn build_all(cfg: &Config, tc: &Toolchain, debug: bool) -> anyhow::Result<Vec<BuiltKernel>> {
    let opts = BuildOptions {
        archs: cfg.kernels.archs.clone(),
        debug,
        cache_dir: build::default_cache_dir(),
    };
    cfg.all_kernels()
        .map(|m| {
            build::build_kernel(tc, m, &opts)
                .with_context(|| format!("building kernel `{}` for config `{}`", m.name, cfg.name))
        })
        .collect()
}

/// The exit code for an error: the first typed error in its chain decides.
pub fn exit_code_for(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if cause.downcast_ref::<ConfigError>().is_some() {
            return exit::BAD_INPUT;
        }
        if let Some(e) = cause.downcast_ref::<RuntimeError>() {
            return e.exit_code();
        }
        if let Some(e) = cause.downcast_ref::<Classified>() {
            return e.code;
        }
        if cause.downcast_ref::<clap::Error>().is_some() {
            return exit::BAD_INPUT;
        }
    }
    exit::CANNOT_RUN
}

/// An error with an explicit exit code, for binaries that decide it themselves.
#[derive(Debug)]
pub struct Classified {
    /// Exit code.
    pub code: u8,
    /// One-line reason.
    pub reason: String,
}

impl std::fmt::Display for Classified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for Classified {}

/// Bad input (exit 2) with a reason.
pub fn bad_input(reason: impl Into<String>) -> anyhow::Error {
    Classified {
        code: exit::BAD_INPUT,
        reason: reason.into(),
    }
    .into()
}

/// Could not run here (exit 3) with a reason.
pub fn cannot_run(reason: impl Into<String>) -> anyhow::Error {
    Classified {
        code: exit::CANNOT_RUN,
        reason: reason.into(),
    }
    .into()
}

/// Parses the command line of a binary. `--help` and `--version` print and exit 0; any
/// other parse error becomes a bad-input error (exit 2) with clap's own message.
pub fn parse_args<T: clap::Parser>() -> anyhow::Result<T> {
    T::try_parse().map_err(|e| {
        if matches!(
            e.kind(),
            clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
        ) {
            let _ = e.print();
            std::process::exit(0);
        }
        anyhow::Error::new(e)
    })
}

/// Runs a binary's body: its `Ok(code)` is the exit code; an error prints
/// `<tool>: error: <reason>` (with its causes) on stderr and exits with its mapped code.
///
/// First it installs the interrupt handler every tool shares: on SIGINT, SIGTERM or SIGHUP
/// it lets an atomic write in progress finish, refuses new ones, stops every child process
/// group (nvcc, compute-sanitizer, python3, a gate that `cudadent verify` started) and exits
/// with 128 + the signal; the previous evidence stays whole.
pub fn main_with(tool: &str, body: impl FnOnce() -> anyhow::Result<u8>) -> ExitCode {
    if let Err(e) = child_guard::install_interrupt_handler(cudadent_evidence::stop_writes) {
        eprintln!("{tool}: warning: no interrupt handler ({e}); children may outlive an interrupt");
    }
    let result = body();
    // Interrupted: the handler is stopping the children and will exit with 128 + signal.
    child_guard::park_if_interrupted();
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            let code = exit_code_for(&err);
            // clap renders its own "error: ..." with usage: keep its words, name the tool once.
            let text = err.to_string();
            let text = text.strip_prefix("error: ").unwrap_or(&text);
            let mut msg = format!("{tool}: error: {text}");
            for cause in err.chain().skip(1) {
                msg.push_str(&format!("\n  caused by: {cause}"));
            }
            eprintln!("{msg}");
            ExitCode::from(code)
        }
    }
}

/// The output layer: human lines unless `--quiet`, JSON when `--json`.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// `--json`.
    pub json: bool,
    /// `--quiet`.
    pub quiet: bool,
}

impl Output {
    /// From the common flags.
    pub fn from_args(a: &CommonArgs) -> Self {
        Output {
            json: a.json,
            quiet: a.quiet,
        }
    }

    /// A human line (stdout unless `--json` or `--quiet`, where it goes nowhere or stderr).
    #[allow(clippy::print_stdout)]
    pub fn line(&self, text: impl AsRef<str>) {
        if self.quiet {
            return;
        }
        if self.json {
            eprintln!("{}", text.as_ref());
        } else {
            println!("{}", text.as_ref());
        }
    }

    /// A progress line on stderr (never on stdout, so `--json` stays clean).
    pub fn progress(&self, text: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", text.as_ref());
        }
    }

    /// The summary as JSON on stdout, when `--json`.
    #[allow(clippy::print_stdout)]
    pub fn summary<T: serde::Serialize>(&self, value: &T) -> anyhow::Result<()> {
        if self.json {
            println!("{}", serde_json::to_string_pretty(value)?);
        }
        Ok(())
    }
}

/// Builds the common header for a summary.
pub fn header(
    tool: &str,
    cfg: &Config,
    started: std::time::Instant,
    started_at: String,
    verdict: cudadent_evidence::Verdict,
    reason: String,
) -> cudadent_evidence::Header {
    let repo = toolchain::repository_root().unwrap_or_else(|| PathBuf::from("."));
    let git = cudadent_evidence::git_state(&repo);
    cudadent_evidence::Header {
        schema_version: cudadent_evidence::SCHEMA_VERSION,
        tool: tool.to_string(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        git_commit: git.commit,
        git_dirty: git.dirty,
        config: cfg.name.clone(),
        config_sha256: cudadent_evidence::sha256_bytes(&cfg.bytes),
        device: None,
        driver_version: None,
        toolkit_version: None,
        started_at,
        duration_s: started.elapsed().as_secs_f64(),
        verdict,
        reason,
        kernels: Vec::new(),
    }
}

/// Records in a gate's header what it ran with: the toolchain's version, the kernels it
/// built (with their cubin hashes) and, for a gate that ran on a GPU, the device and driver.
pub fn record_run(
    h: &mut cudadent_evidence::Header,
    tc: &Toolchain,
    built: &[BuiltKernel],
    device: Option<&kernel_runtime::device::DeviceInfo>,
) {
    h.toolkit_version = Some(tc.version().to_string());
    h.kernels = built.iter().map(BuiltKernel::record).collect();
    if let Some(d) = device {
        h.device = Some(d.name.clone());
        h.driver_version = Some(d.driver_version.clone());
    }
}

/// A path shown relative to the current directory where possible (for messages).
pub fn shown(p: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| p.strip_prefix(cwd).ok().map(|r| r.display().to_string()))
        .unwrap_or_else(|| p.display().to_string())
}

pub mod ci;
