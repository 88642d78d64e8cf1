//! The compute-sanitizer command line for each tool, and the target it runs.
//!
//! Every flag is documented for compute-sanitizer 2025.x ("Command Line Options"):
//! - `--tool T`: memcheck | racecheck | initcheck | synccheck.
//! - `--print-limit 10000`: the default (100) stops printing long before a real bug's
//!   reports end; the summary line still counts them all.
//! - `--error-exitcode 0`: the documented default, made explicit. The gate never reads the
//!   exit status as "no errors": it parses the reports and the summary line.
//! - `--show-backtrace no`: host and device backtraces add nothing the `at` line does not
//!   say, and multiply the log's size.
//! - `--check-exit-code yes` (default, explicit): the tool prints an error when the target
//!   exits non-zero.
//! - `--target-processes application-only`: check the oracle, not the compilers it may run.
//! - memcheck: `--leak-check full` and `--padding N` (space after every allocation, so an
//!   overrun into a neighbouring allocation is reported instead of landing silently).
//! - racecheck: `--racecheck-report all` (analysis reports with the source lines and hazard
//!   counts, plus hazard reports with the RAW/WAR/WAW type and the threads) and
//!   `--racecheck-detect-level warn` (the default, explicit: warp-level hazards are
//!   warnings and the gate fails on them too).
//! - `--` ends the sanitizer's options; the target follows.

use std::ffi::OsString;
use std::path::PathBuf;

use cudadent_config::SanitizerTool;

/// `--print-limit`.
pub const PRINT_LIMIT: u32 = 10_000;

/// The target: the oracle's single launch of one kernel on one config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The `oracle` executable.
    pub oracle: PathBuf,
    /// `--config`.
    pub config: PathBuf,
    /// `--kernel` (a manifest).
    pub manifest: PathBuf,
    /// `--cuda-root`, passed on when given.
    pub cuda_root: Option<PathBuf>,
    /// `--launch`: the manifest launch to run (None: the one the manifest chooses).
    pub launch: Option<String>,
}

impl Target {
    /// `oracle --config C --kernel M --single-launch [--launch L] [--cuda-root R]`.
    pub fn argv(&self) -> Vec<OsString> {
        let mut v: Vec<OsString> = vec![
            self.oracle.clone().into(),
            "--config".into(),
            self.config.clone().into(),
            "--kernel".into(),
            self.manifest.clone().into(),
            "--single-launch".into(),
        ];
        if let Some(l) = &self.launch {
            v.push("--launch".into());
            v.push(l.into());
        }
        if let Some(r) = &self.cuda_root {
            v.push("--cuda-root".into());
            v.push(r.clone().into());
        }
        v
    }
}

/// compute-sanitizer's arguments (without the program itself) for `tool` over `target`.
pub fn sanitizer_args(tool: SanitizerTool, padding_bytes: u64, target: &Target) -> Vec<OsString> {
    let mut v: Vec<String> = vec![
        "--tool".into(),
        tool.name().into(),
        "--print-limit".into(),
        PRINT_LIMIT.to_string(),
        "--error-exitcode".into(),
        "0".into(),
        "--show-backtrace".into(),
        "no".into(),
        "--check-exit-code".into(),
        "yes".into(),
        "--target-processes".into(),
        "application-only".into(),
    ];
    match tool {
        SanitizerTool::Memcheck => {
            v.extend([
                "--leak-check".into(),
                "full".into(),
                "--padding".into(),
                padding_bytes.to_string(),
            ]);
        }
        SanitizerTool::Racecheck => {
            v.extend([
                "--racecheck-report".into(),
                "all".into(),
                "--racecheck-detect-level".into(),
                "warn".into(),
            ]);
        }
        SanitizerTool::Initcheck | SanitizerTool::Synccheck => {}
    }
    v.push("--".into());
    let mut out: Vec<OsString> = v.into_iter().map(OsString::from).collect();
    out.extend(target.argv());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::shell_line;
    use std::path::Path;

    fn target() -> Target {
        Target {
            oracle: "/opt/cudadent/bin/oracle".into(),
            config: "configs/canon_3.toml".into(),
            manifest: "kernels/attention/fa_s512_v3.toml".into(),
            cuda_root: None,
            launch: None,
        }
    }

    #[test]
    fn exact_command_lines() {
        let cs = Path::new("/usr/local/cuda/bin/compute-sanitizer");
        let common = "/usr/local/cuda/bin/compute-sanitizer --tool {T} --print-limit 10000 --error-exitcode 0 --show-backtrace no --check-exit-code yes --target-processes application-only";
        let tail = "-- /opt/cudadent/bin/oracle --config configs/canon_3.toml --kernel kernels/attention/fa_s512_v3.toml --single-launch";
        let cases = [
            (SanitizerTool::Memcheck, " --leak-check full --padding 4096"),
            (
                SanitizerTool::Racecheck,
                " --racecheck-report all --racecheck-detect-level warn",
            ),
            (SanitizerTool::Initcheck, ""),
            (SanitizerTool::Synccheck, ""),
        ];
        for (tool, extra) in cases {
            let line = shell_line(cs, &sanitizer_args(tool, 4096, &target()));
            let want = format!("{}{extra} {tail}", common.replace("{T}", tool.name()));
            assert_eq!(line, want);
        }
    }

    #[test]
    fn cuda_root_is_passed_on() {
        let t = Target {
            cuda_root: Some("/opt/cuda".into()),
            ..target()
        };
        let argv = t.argv();
        assert_eq!(argv[argv.len() - 2], "--cuda-root");
        assert_eq!(argv[argv.len() - 1], "/opt/cuda");
    }
}
