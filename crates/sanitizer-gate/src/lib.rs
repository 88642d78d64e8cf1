//! sanitizer-gate turns compute-sanitizer logs into findings and a verdict; running the
//! target is kernel-runtime's and the oracle's job.
//!
//! compute-sanitizer exits 0 with errors found (its `--error-exitcode` defaults to 0), so
//! its exit status says nothing: this crate reads what it printed. The pieces:
//! - [`parse`]: `&str -> ParsedLog`, every report typed ([`finding::Finding`]): out of
//!   bounds accesses, shared-memory races (RAW/WAR/WAW), uninitialised reads, barrier
//!   errors, leaks, API errors; the summary lines; lines that make a run untrustworthy
//!   (`Internal Sanitizer Error`, an untracked launch, `Device not supported`); the
//!   oracle's launch line. Lines not understood are kept and counted.
//! - [`gate`]: the rules a run must meet to pass, and the planted-bug control rule; pure.
//! - [`command`]: the exact compute-sanitizer command line per tool.
//! - [`process`]: one run with a timeout that kills the whole process group.
//! - [`controls`]: finding the planted-bug controls (kernels/selftest).
//! - [`report`]: summary record, tables and SARIF 2.1.0 from the same findings.
//!
//! The `sanitizer-gate` binary wires them together; `sanitizer-gate --from-log FILE
//! --tool T` re-evaluates a saved log without a GPU.
#![deny(missing_docs)]

pub mod command;
pub mod controls;
pub mod finding;
pub mod gate;
pub mod parse;
pub mod process;
pub mod report;

pub use finding::{Finding, FindingKind, GroupedFinding};
pub use gate::{evaluate, Evaluation, Role, RunContext};
pub use parse::{parse_log, ParsedLog};

/// Parses a tool name as `--tool` takes it (`memcheck`, `racecheck`, `initcheck`,
/// `synccheck`).
pub fn parse_tool(s: &str) -> Result<cudadent_config::SanitizerTool, String> {
    use cudadent_config::SanitizerTool as T;
    match s {
        "memcheck" => Ok(T::Memcheck),
        "racecheck" => Ok(T::Racecheck),
        "initcheck" => Ok(T::Initcheck),
        "synccheck" => Ok(T::Synccheck),
        other => Err(format!(
            "unknown tool `{other}` (known: memcheck, racecheck, initcheck, synccheck)"
        )),
    }
}
