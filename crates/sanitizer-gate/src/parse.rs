//! compute-sanitizer's text output -> typed values. Pure `&str -> ParsedLog`: no GPU, no
//! files, no process, so it runs anywhere and is tested on captured logs.
//!
//! What a log holds, as documented for compute-sanitizer 2025.x and measured on an H100
//! (2025.3.1): every line the tool prints starts with `=========` (the `--prefix`); a
//! report is a headline followed by detail lines (`at ...`, `by thread (x,y,z) in block
//! (x,y,z)`, `Address 0x... is out of bounds`) and ends at a bare `=========` or the next
//! headline. The run ends with `ERROR SUMMARY: N errors` (memcheck, initcheck, synccheck)
//! or `RACECHECK SUMMARY: N hazards displayed (E errors, W warnings)`; past the print limit
//! a second line `ERROR SUMMARY: N errors were not printed...` follows. Lines without the
//! prefix belong to the target (the oracle's launch line among them) or to the gate
//! (`cudadent-sanitizer-gate: ...` annotations written around the captured output).
//!
//! Sanitizer lines this parser does not understand are kept and counted, never guessed
//! (STYLE.md habit 7).

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::finding::{
    Access, BarrierClass, CodeLocation, Dim3, Finding, FindingKind, HazardType, MemorySpace,
    RaceAccess, RaceReport, Severity,
};

/// The prefix compute-sanitizer puts before every line it prints.
pub const SANITIZER_PREFIX: &str = "=========";

/// The prefix of the lines the gate writes into a saved log around the captured output.
pub const GATE_PREFIX: &str = "cudadent-sanitizer-gate:";

/// The oracle's proof that the target launched the kernel (printed on stderr on success).
pub const LAUNCH_PREFIX: &str = "cudadent-oracle: single launch done:";

/// Which summary line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SummaryKind {
    /// `ERROR SUMMARY: N errors` (memcheck, initcheck, synccheck).
    Error,
    /// `RACECHECK SUMMARY: N hazards displayed (E errors, W warnings)`.
    Racecheck,
}

/// A summary line, with the counts it states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryLine {
    /// Which one.
    pub kind: SummaryKind,
    /// Errors.
    pub errors: u64,
    /// Warnings (racecheck; 0 for the others).
    pub warnings: u64,
    /// racecheck's `N hazards displayed`.
    pub displayed: Option<u64>,
    /// 1-based log line.
    pub log_line: usize,
}

/// memcheck's `LEAK SUMMARY: N bytes leaked in M allocations`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeakSummary {
    /// Bytes.
    pub bytes: u64,
    /// Allocations.
    pub allocations: u64,
}

/// The oracle's launch line:
/// `cudadent-oracle: single launch done: kernel=K config=C grid=(x,y,z) block=(t,1,1) ...`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchLine {
    /// Kernel (manifest name).
    pub kernel: String,
    /// Config name.
    pub config: String,
    /// Grid.
    pub grid: Dim3,
    /// Block.
    pub block: Dim3,
    /// The manifest launch (`launch=NAME`); absent from logs of oracles that predate
    /// launch rules.
    #[serde(default)]
    pub launch: Option<String>,
    /// 1-based log line.
    pub log_line: usize,
}

/// Something in the log that says the run cannot be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// `Internal Sanitizer Error`: errors may have gone undetected.
    InternalError,
    /// A launch the sanitizer `didn't track`: errors may have gone undetected.
    UntrackedLaunch,
    /// `Device not supported` (seen under a gVisor sandbox): nothing was checked.
    DeviceNotSupported,
    /// `Target application returned an error`.
    TargetFailed,
    /// `Error: process didn't terminate successfully`.
    ProcessDidNotTerminate,
    /// Any other `Error: ...` line of the tool.
    ToolError,
    /// A `Warning: ...` line of the tool that is not a race report (e.g. an overflow of
    /// tracked barriers: "Results might be incorrect").
    ToolWarning,
    /// A racecheck summary whose error/warning counts could not be read.
    IncompleteSummary,
    /// The gate cut the captured output at its size limit: part of the report is missing.
    Truncated,
}

/// A problem line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Which.
    pub kind: ProblemKind,
    /// The line, in the tool's words.
    pub text: String,
    /// 1-based log line.
    pub log_line: usize,
}

/// How the captured process ended, as the gate recorded it in the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "how", rename_all = "snake_case")]
pub enum RecordedExit {
    /// Exited with a status code.
    Code {
        /// The code.
        code: i32,
    },
    /// Killed by a signal.
    Signal {
        /// The signal number.
        signal: i32,
    },
    /// Ran past its timeout; the gate killed its process group.
    Timeout {
        /// The timeout.
        after_s: f64,
    },
}

impl RecordedExit {
    /// The annotation line the gate writes (without the prefix).
    pub fn annotation(&self, wall_s: f64) -> String {
        match self {
            RecordedExit::Code { code } => format!("exit: code={code} wall_s={wall_s:.3}"),
            RecordedExit::Signal { signal } => format!("exit: signal={signal} wall_s={wall_s:.3}"),
            RecordedExit::Timeout { after_s } => {
                format!("exit: timeout after_s={after_s} wall_s={wall_s:.3} (process group killed)")
            }
        }
    }

    /// Human description.
    pub fn describe(&self) -> String {
        match self {
            RecordedExit::Code { code } => format!("exit status {code}"),
            RecordedExit::Signal { signal } => format!("killed by signal {signal}"),
            RecordedExit::Timeout { after_s } => format!("timed out after {after_s} s"),
        }
    }
}

/// A line kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// 1-based log line.
    pub log_line: usize,
    /// The text.
    pub text: String,
}

/// Everything a log says, typed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ParsedLog {
    /// One per report, in log order.
    pub findings: Vec<Finding>,
    /// Summary lines.
    pub summaries: Vec<SummaryLine>,
    /// Sum of `ERROR SUMMARY: N errors were not printed`.
    pub not_printed: u64,
    /// memcheck's leak summary.
    pub leak_summary: Option<LeakSummary>,
    /// The oracle's launch lines (exactly one on a good run).
    pub launches: Vec<LaunchLine>,
    /// Lines that make the run untrustworthy.
    pub problems: Vec<Problem>,
    /// `========= COMPUTE-SANITIZER` seen.
    pub banner: bool,
    /// Lines with the sanitizer prefix.
    pub sanitizer_lines: usize,
    /// Sanitizer lines not understood (kept, counted, never guessed).
    pub unknown: Vec<LogLine>,
    /// The command line the gate recorded.
    pub gate_command: Option<String>,
    /// How the process ended, as the gate recorded it.
    pub gate_exit: Option<RecordedExit>,
}

impl ParsedLog {
    /// The summary lines of `kind`.
    pub fn summaries_of(&self, kind: SummaryKind) -> impl Iterator<Item = &SummaryLine> {
        self.summaries.iter().filter(move |s| s.kind == kind)
    }

    /// Errors over all summary lines (None when there is none).
    pub fn errors(&self) -> Option<u64> {
        (!self.summaries.is_empty()).then(|| self.summaries.iter().map(|s| s.errors).sum())
    }

    /// Warnings over all summary lines (None when there is none).
    pub fn warnings(&self) -> Option<u64> {
        (!self.summaries.is_empty()).then(|| self.summaries.iter().map(|s| s.warnings).sum())
    }
}

fn re(s: &str) -> Regex {
    Regex::new(s).unwrap_or_else(|e| panic!("bad built-in regex {s}: {e}"))
}

// Numbers are printed with thousands separators in places (`1,024 bytes`).
const NUM: &str = r"[0-9][0-9,]*";

static ERROR_SUMMARY: LazyLock<Regex> =
    LazyLock::new(|| re(&format!(r"^ERROR SUMMARY:\s*({NUM}) errors?\s*$")));
static NOT_PRINTED: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"^ERROR SUMMARY:\s*({NUM}) errors? (?:were|was) not printed"
    ))
});
static RACE_SUMMARY: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"^RACECHECK SUMMARY:\s*({NUM}) hazards? displayed\s*(?:\(\s*({NUM}) errors?,\s*({NUM}) warnings?\s*\))?\s*$"
    ))
});
static RACE_COUNTS: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"^\(\s*({NUM}) errors?,\s*({NUM}) warnings?\s*\)\s*$"
    ))
});
static LEAK_SUMMARY: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"^LEAK SUMMARY:\s*({NUM}) bytes? leaked in ({NUM}) allocations?"
    ))
});
static LAUNCH: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^cudadent-oracle: single launch done: kernel=(\S+) config=(\S+) grid=\((\d+),(\d+),(\d+)\) block=\((\d+),(\d+),(\d+)\)(?:\s|$)",
    )
});
static LAUNCH_NAME: LazyLock<Regex> = LazyLock::new(|| re(r"\slaunch=(\S+)"));
static INVALID: LazyLock<Regex> =
    LazyLock::new(|| re(&format!(r"^Invalid (__\w+__) (\w+) of size ({NUM}) bytes?")));
static POTENTIAL_INVALID: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"^Potential invalid (__\w+__) (\w+) of size ({NUM}) bytes?"
    ))
});
static UNINIT: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"^Uninitialized (__\w+__) memory (?:\w+ )?of size ({NUM}) bytes?"
    ))
});
static BARRIER: LazyLock<Regex> = LazyLock::new(|| re(r"^Barrier error detected\.?\s*(.*)$"));
static WGMMA: LazyLock<Regex> =
    LazyLock::new(|| re(r"^Warpgroup MMA sequence error detected\.?\s*(.*)$"));
static RACE_ANALYSIS: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^(?:(?i:(error|warning|info)):\s*)?Race reported between (Write|Read) access at (.+)$")
});
static RACE_AND: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"^and (Write|Read) access at (.+?)(?:\s*\[({NUM}) hazards?\])?\s*$"
    ))
});
static RACE_HAZARD: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^(?i:(error|warning|info)):\s*(?:\([^)]*\)\s*)?Potential (RAW|WAR|WAW) hazard detected at (__\w+__) (0x[0-9a-fA-F]+) in block \(\s*(\d+),\s*(\d+),\s*(\d+)\s*\)",
    )
});
static RACE_THREAD: LazyLock<Regex> =
    LazyLock::new(|| re(r"^(Write|Read) Thread \(\s*(\d+),\s*(\d+),\s*(\d+)\s*\) at (.+)$"));
static LEAKED: LazyLock<Regex> =
    LazyLock::new(|| re(&format!(r"^Leaked ({NUM}) bytes? at (0x[0-9a-fA-F]+)(.*)$")));
static PROGRAM_HIT: LazyLock<Regex> = LazyLock::new(|| {
    re(r#"^Program hit (.+?)(?: \(error \d+\))?(?: due to ".*")? on CUDA API call to (\w+)"#)
});
static THREAD_BLOCK: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^by thread \(\s*(\d+),\s*(\d+),\s*(\d+)\s*\) in block \(\s*(\d+),\s*(\d+),\s*(\d+)\s*\)")
});
static ADDRESS: LazyLock<Regex> =
    LazyLock::new(|| re(r"^(?:Address|Access at) (0x[0-9a-fA-F]+)(?:\s+is\s+(.+?))?\.?\s*$"));
static HAZARD_COUNT_TAIL: LazyLock<Regex> =
    LazyLock::new(|| re(&format!(r"^(.*?)\s*\[({NUM}) hazards?\]\s*$")));
static AND_ACCESS_SPLIT: LazyLock<Regex> =
    LazyLock::new(|| re(r"\s+and (Write|Read) access at\s+"));
static FILE_LINE: LazyLock<Regex> = LazyLock::new(|| re(r"^(\S+?):(\d+)(?::(.+))?$"));
static FUNC_PC: LazyLock<Regex> = LazyLock::new(|| re(r"^(.+?)(?:\+|\):)0x([0-9a-fA-F]+)$"));
static PC_ONLY: LazyLock<Regex> = LazyLock::new(|| re(r"^0x([0-9a-fA-F]+)$"));

fn num(s: &str) -> u64 {
    s.replace(',', "").parse().unwrap_or(u64::MAX)
}

fn dim(a: &str, b: &str, c: &str) -> Dim3 {
    let p = |s: &str| s.parse().unwrap_or(u32::MAX);
    Dim3 {
        x: p(a),
        y: p(b),
        z: p(c),
    }
}

/// Parses the text after `at ` of a report line into a location. Accepts every form
/// seen in compute-sanitizer output across releases:
/// `k+0xe0 in k.cu:1` (2025.x with -lineinfo), `k():0x160 in f.cu:6`,
/// `vectorAdd(int *)+0x70 in /path/f.cu:41`, `0xc8 in /path/f.cuh:75:void k(double*)`,
/// `0x20 in test(int*, int*)`, `unaligned_kernel()+0x50`, `__cuda_sm70_warpsync+0x30`,
/// `vector_add in kernel.cu:9`.
pub fn parse_location(text: &str) -> CodeLocation {
    let text = text.trim();
    let mut loc = CodeLocation::default();
    // Split at the last " in " whose right side is file:line; else at the last " in ".
    let mut where_part = text;
    if let Some(idx) = text.rfind(" in ") {
        let (left, right) = (&text[..idx], text[idx + 4..].trim());
        if let Some(c) = FILE_LINE.captures(right) {
            loc.file = Some(c[1].to_string());
            loc.line = c[2].parse().ok();
            if let Some(f) = c.get(3) {
                loc.function = Some(f.as_str().trim().to_string());
            }
            where_part = left.trim();
        } else if PC_ONLY.is_match(left.trim()) {
            // `0x20 in test(int*, int*)`: pc, then the function.
            loc.function = Some(right.to_string());
            where_part = left.trim();
        } else if let Some(c) = FILE_LINE.captures(left.trim()) {
            // `stencil.cu:27 in update(float const*, float*)`.
            loc.file = Some(c[1].to_string());
            loc.line = c[2].parse().ok();
            loc.function = Some(right.to_string());
            return loc;
        }
    }
    if let Some(c) = PC_ONLY.captures(where_part) {
        loc.pc = u64::from_str_radix(&c[1], 16).ok();
    } else if let Some(c) = FUNC_PC.captures(where_part) {
        let func = if where_part.contains("):0x") {
            format!("{})", &c[1])
        } else {
            c[1].to_string()
        };
        if loc.function.is_none() {
            loc.function = Some(func.trim().to_string());
        }
        loc.pc = u64::from_str_radix(&c[2], 16).ok();
    } else if !where_part.is_empty() && loc.function.is_none() {
        loc.function = Some(where_part.to_string());
    }
    loc
}

/// Parses `text` (a whole captured log) into findings, summaries and problems.
pub fn parse_log(text: &str) -> ParsedLog {
    let mut p = Parser::default();
    for (i, raw) in text.lines().enumerate() {
        p.line(i + 1, raw.trim_end_matches('\r'));
    }
    p.finish()
}

#[derive(Default)]
struct Parser {
    out: ParsedLog,
    /// Index of the report being built.
    current: Option<usize>,
    /// A `RACECHECK SUMMARY: N hazards displayed` whose counts may follow on the next line.
    pending_race_summary: Option<(u64, usize)>,
}

/// The content of a sanitizer line (after the prefix), or None for other lines.
fn sanitizer_content(line: &str) -> Option<&str> {
    let rest = line.strip_prefix(SANITIZER_PREFIX)?;
    // Exactly the prefix, then a space or the end of line (not a longer run of '=').
    if rest.is_empty() {
        return Some("");
    }
    rest.strip_prefix(' ').or_else(|| rest.strip_prefix('\t'))
}

impl Parser {
    fn finish(mut self) -> ParsedLog {
        self.flush_race_summary(None);
        self.out
    }

    fn problem(&mut self, kind: ProblemKind, text: &str, n: usize) {
        self.out.problems.push(Problem {
            kind,
            text: text.to_string(),
            log_line: n,
        });
    }

    fn unknown(&mut self, text: &str, n: usize) {
        self.out.unknown.push(LogLine {
            log_line: n,
            text: text.to_string(),
        });
    }

    fn flush_race_summary(&mut self, counts: Option<(u64, u64)>) {
        if let Some((displayed, n)) = self.pending_race_summary.take() {
            match counts {
                Some((errors, warnings)) => self.out.summaries.push(SummaryLine {
                    kind: SummaryKind::Racecheck,
                    errors,
                    warnings,
                    displayed: Some(displayed),
                    log_line: n,
                }),
                None => self.problem(
                    ProblemKind::IncompleteSummary,
                    &format!("RACECHECK SUMMARY: {displayed} hazards displayed (no error/warning counts)"),
                    n,
                ),
            }
        }
    }

    fn push(&mut self, f: Finding) {
        self.out.findings.push(f);
        self.current = Some(self.out.findings.len() - 1);
    }

    fn line(&mut self, n: usize, line: &str) {
        if let Some(rest) = line.strip_prefix(GATE_PREFIX) {
            self.gate_annotation(rest.trim(), n);
            return;
        }
        if line.to_ascii_lowercase().contains("device not supported") {
            self.problem(ProblemKind::DeviceNotSupported, line.trim(), n);
        }
        let Some(content) = sanitizer_content(line) else {
            let t = line.trim();
            if let Some(c) = LAUNCH.captures(t) {
                self.out.launches.push(LaunchLine {
                    kernel: c[1].to_string(),
                    config: c[2].to_string(),
                    grid: dim(&c[3], &c[4], &c[5]),
                    block: dim(&c[6], &c[7], &c[8]),
                    launch: LAUNCH_NAME.captures(t).map(|l| l[1].to_string()),
                    log_line: n,
                });
            }
            // The target's own output: not the sanitizer's, not parsed further.
            return;
        };
        self.out.sanitizer_lines += 1;
        let content = content.trim();
        if self.pending_race_summary.is_some() {
            if let Some(c) = RACE_COUNTS.captures(content) {
                let counts = (num(&c[1]), num(&c[2]));
                self.flush_race_summary(Some(counts));
                return;
            }
            self.flush_race_summary(None);
        }
        if content.is_empty() {
            self.current = None;
            return;
        }
        if content == "COMPUTE-SANITIZER" {
            self.out.banner = true;
            self.current = None;
            return;
        }
        if self.summary(content, n) {
            self.current = None;
            return;
        }
        if self.current.is_some() && self.detail(content) {
            return;
        }
        self.headline(content, n);
    }

    fn gate_annotation(&mut self, rest: &str, n: usize) {
        if rest.starts_with("output truncated") {
            self.problem(ProblemKind::Truncated, rest, n);
        } else if let Some(cmd) = rest.strip_prefix("command:") {
            self.out.gate_command = Some(cmd.trim().to_string());
        } else if let Some(exit) = rest.strip_prefix("exit:") {
            let exit = exit.trim();
            let field = |k: &str| {
                exit.split_whitespace()
                    .find_map(|w| w.strip_prefix(k).map(str::to_string))
            };
            self.out.gate_exit = if exit.starts_with("timeout") {
                Some(RecordedExit::Timeout {
                    after_s: field("after_s=")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(f64::NAN),
                })
            } else if let Some(s) = field("signal=").and_then(|v| v.parse().ok()) {
                Some(RecordedExit::Signal { signal: s })
            } else {
                field("code=")
                    .and_then(|v| v.parse().ok())
                    .map(|code| RecordedExit::Code { code })
            };
        }
    }

    fn summary(&mut self, content: &str, n: usize) -> bool {
        if let Some(c) = NOT_PRINTED.captures(content) {
            self.out.not_printed += num(&c[1]);
            return true;
        }
        if let Some(c) = ERROR_SUMMARY.captures(content) {
            self.out.summaries.push(SummaryLine {
                kind: SummaryKind::Error,
                errors: num(&c[1]),
                warnings: 0,
                displayed: None,
                log_line: n,
            });
            return true;
        }
        if let Some(c) = RACE_SUMMARY.captures(content) {
            let displayed = num(&c[1]);
            match (c.get(2), c.get(3)) {
                (Some(e), Some(w)) => self.out.summaries.push(SummaryLine {
                    kind: SummaryKind::Racecheck,
                    errors: num(e.as_str()),
                    warnings: num(w.as_str()),
                    displayed: Some(displayed),
                    log_line: n,
                }),
                // The counts may be printed on the next line.
                _ => self.pending_race_summary = Some((displayed, n)),
            }
            return true;
        }
        if let Some(c) = LEAK_SUMMARY.captures(content) {
            self.out.leak_summary = Some(LeakSummary {
                bytes: num(&c[1]),
                allocations: num(&c[2]),
            });
            return true;
        }
        false
    }

    /// A detail line of the current report. False when `content` is not one.
    fn detail(&mut self, content: &str) -> bool {
        let Some(idx) = self.current else {
            return false;
        };
        let f = &mut self.out.findings[idx];
        if let Some(rest) = content.strip_prefix("at ") {
            if f.at.is_none() {
                let loc = parse_location(rest);
                if let FindingKind::RaceHazard { accesses, .. } = &mut f.kind {
                    if let Some(first) = accesses.first_mut() {
                        if first.at == CodeLocation::default() {
                            first.at = loc.clone();
                        }
                    }
                }
                f.at = Some(loc);
            } else {
                f.details.push(content.to_string());
            }
            return true;
        }
        if let Some(c) = THREAD_BLOCK.captures(content) {
            f.thread = Some(dim(&c[1], &c[2], &c[3]));
            f.block = Some(dim(&c[4], &c[5], &c[6]));
            return true;
        }
        if let Some(c) = ADDRESS.captures(content) {
            f.address = Some(c[1].to_string());
            if let (FindingKind::OutOfBounds { problem, .. }, Some(p)) = (&mut f.kind, c.get(2)) {
                *problem = Some(p.as_str().to_string());
            } else if let Some(p) = c.get(2) {
                f.details
                    .push(format!("address {} is {}", &c[1], p.as_str()));
            }
            return true;
        }
        if let FindingKind::RaceHazard {
            report, accesses, ..
        } = &mut f.kind
        {
            if *report == RaceReport::Analysis {
                if let Some(c) = RACE_AND.captures(content) {
                    let hz = c.get(3).map(|m| num(m.as_str()));
                    accesses.push(RaceAccess {
                        access: Access::from_word(&c[1]),
                        at: parse_location(&c[2]),
                        thread: None,
                        hazards: hz,
                    });
                    if let Some(h) = hz {
                        f.hazards = Some(f.hazards.unwrap_or(0) + h);
                    }
                    return true;
                }
            }
            if *report == RaceReport::Hazard {
                if let Some(c) = RACE_THREAD.captures(content) {
                    let loc = parse_location(&c[5]);
                    let thread = dim(&c[2], &c[3], &c[4]);
                    accesses.push(RaceAccess {
                        access: Access::from_word(&c[1]),
                        at: loc.clone(),
                        thread: Some(thread),
                        hazards: None,
                    });
                    if f.at.is_none() {
                        f.at = Some(loc);
                        f.thread = Some(thread);
                    }
                    return true;
                }
            }
        }
        const DETAIL_STARTS: [&str; 10] = [
            "and is ",
            "and ",
            "Device Frame",
            "Host Frame",
            "Saved host backtrace",
            "Current Value",
            "Incoming Value",
            "Not written",
            "These unused bytes",
            "[...]",
        ];
        if DETAIL_STARTS.iter().any(|s| content.starts_with(s)) {
            f.details.push(content.to_string());
            return true;
        }
        false
    }

    fn headline(&mut self, content: &str, n: usize) {
        let finding = |kind: FindingKind, severity: Severity| Finding {
            kind,
            severity,
            at: None,
            thread: None,
            block: None,
            address: None,
            hazards: None,
            message: content.to_string(),
            details: Vec::new(),
            log_line: n,
        };
        if let Some(c) = INVALID.captures(content) {
            let kind = FindingKind::OutOfBounds {
                space: MemorySpace::from_token(&c[1]),
                access: Access::from_word(&c[2]),
                size: Some(num(&c[3])),
                problem: None,
            };
            self.push(finding(kind, Severity::Error));
            return;
        }
        if let Some(c) = POTENTIAL_INVALID.captures(content) {
            let kind = FindingKind::RaceHazard {
                hazard: None,
                space: MemorySpace::from_token(&c[1]),
                report: RaceReport::Cluster,
                accesses: vec![RaceAccess {
                    access: Access::from_word(&c[2]),
                    at: CodeLocation::default(),
                    thread: None,
                    hazards: None,
                }],
            };
            self.push(finding(kind, Severity::Error));
            return;
        }
        if let Some(c) = UNINIT.captures(content) {
            let kind = FindingKind::UninitializedRead {
                space: MemorySpace::from_token(&c[1]),
                size: Some(num(&c[2])),
            };
            self.push(finding(kind, Severity::Error));
            return;
        }
        if content.starts_with("Uninitialized ") {
            let kind = FindingKind::UninitializedRead {
                space: if content.contains("__shared__") {
                    MemorySpace::Shared
                } else {
                    MemorySpace::Global
                },
                size: None,
            };
            self.push(finding(kind, Severity::Error));
            return;
        }
        if let Some(c) = BARRIER.captures(content) {
            let kind = FindingKind::BarrierError {
                class: BarrierClass::from_text(&c[1]),
            };
            self.push(finding(kind, Severity::Error));
            return;
        }
        if let Some(c) = WGMMA.captures(content) {
            let kind = FindingKind::BarrierError {
                class: BarrierClass::Other(format!(
                    "warpgroup MMA sequence error: {}",
                    c[1].trim()
                )),
            };
            self.push(finding(kind, Severity::Error));
            return;
        }
        if let Some(c) = RACE_ANALYSIS.captures(content) {
            let severity = c
                .get(1)
                .map(|m| Severity::from_word(m.as_str()))
                .unwrap_or(Severity::Error);
            let rest = &c[3];
            // One-line form: `... at A in f.cu:3 and Read access at B in f.cu:4 [N hazards]`;
            // the continuation lines (`and Read access at ...`) are read by `detail`.
            let mut pieces: Vec<(Access, &str)> = Vec::new();
            let mut last = 0;
            let mut access = Access::from_word(&c[2]);
            for m in AND_ACCESS_SPLIT.captures_iter(rest) {
                if let Some(g) = m.get(0) {
                    pieces.push((access, &rest[last..g.start()]));
                    access = Access::from_word(&m[1]);
                    last = g.end();
                }
            }
            pieces.push((access, &rest[last..]));
            let mut total: Option<u64> = None;
            let mut sides: Vec<(Access, String, Option<u64>)> = Vec::new();
            for (a, text) in pieces {
                let (loc_text, hz) = match HAZARD_COUNT_TAIL.captures(text) {
                    Some(h) => (h[1].to_string(), Some(num(&h[2]))),
                    None => (text.to_string(), None),
                };
                if let Some(h) = hz {
                    total = Some(total.unwrap_or(0) + h);
                }
                sides.push((a, loc_text, hz));
            }
            let accesses: Vec<RaceAccess> = sides
                .into_iter()
                .map(|(access, t, hazards)| RaceAccess {
                    access,
                    at: parse_location(&t),
                    thread: None,
                    hazards,
                })
                .collect();
            let at = accesses.first().map(|a| a.at.clone());
            let mut f = finding(
                FindingKind::RaceHazard {
                    hazard: None,
                    space: MemorySpace::Shared,
                    report: RaceReport::Analysis,
                    accesses,
                },
                severity,
            );
            f.at = at;
            f.hazards = total;
            self.push(f);
            return;
        }
        if let Some(c) = RACE_HAZARD.captures(content) {
            let mut f = finding(
                FindingKind::RaceHazard {
                    hazard: HazardType::from_token(&c[2]),
                    space: MemorySpace::from_token(&c[3]),
                    report: RaceReport::Hazard,
                    accesses: Vec::new(),
                },
                Severity::from_word(&c[1]),
            );
            f.address = Some(c[4].to_string());
            f.block = Some(dim(&c[5], &c[6], &c[7]));
            f.hazards = Some(1);
            self.push(f);
            return;
        }
        if let Some(c) = LEAKED.captures(content) {
            let kind = FindingKind::Leak {
                bytes: num(&c[1]),
                device_heap: c[3].contains("device heap"),
            };
            let mut f = finding(kind, Severity::Error);
            f.address = Some(c[2].to_string());
            self.push(f);
            return;
        }
        if content.starts_with("Program hit ") {
            let (error, api) = match PROGRAM_HIT.captures(content) {
                Some(c) => (Some(c[1].to_string()), Some(c[2].to_string())),
                None => (None, None),
            };
            self.push(finding(
                FindingKind::ApiError { api, error },
                Severity::Error,
            ));
            return;
        }
        if content.starts_with("Malloc/Free error") {
            self.push(finding(
                FindingKind::Other {
                    what: content.to_string(),
                },
                Severity::Error,
            ));
            return;
        }
        // Lines that say the run cannot be trusted.
        self.current = None;
        let lower = content.to_ascii_lowercase();
        let mut is_problem = false;
        if lower.contains("internal sanitizer error") {
            self.problem(ProblemKind::InternalError, content, n);
            is_problem = true;
        }
        if lower.contains("didn't track") || lower.contains("did not track") {
            self.problem(ProblemKind::UntrackedLaunch, content, n);
            is_problem = true;
        }
        if lower.contains("device not supported") {
            // Already recorded for the whole line.
            is_problem = true;
        }
        if is_problem {
            return;
        }
        if lower.starts_with("target application returned an error") {
            self.problem(ProblemKind::TargetFailed, content, n);
        } else if lower.starts_with("error:") {
            let kind = if lower.contains("didn't terminate successfully") {
                ProblemKind::ProcessDidNotTerminate
            } else {
                ProblemKind::ToolError
            };
            self.problem(kind, content, n);
        } else if lower.starts_with("warning:") {
            self.problem(ProblemKind::ToolWarning, content, n);
        } else {
            self.unknown(content, n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_in_every_known_form() {
        let l = parse_location("k+0xe0 in k.cu:1");
        assert_eq!(
            (l.function.as_deref(), l.pc, l.file.as_deref(), l.line),
            (Some("k"), Some(0xe0), Some("k.cu"), Some(1))
        );
        let l = parse_location("unaligned_kernel():0x160 in memcheck_demo.cu:6");
        assert_eq!(
            (l.function.as_deref(), l.pc, l.file.as_deref(), l.line),
            (
                Some("unaligned_kernel()"),
                Some(0x160),
                Some("memcheck_demo.cu"),
                Some(6)
            )
        );
        let l = parse_location("vectorAdd(int *)+0x70 in /home/cuda/memset_error.cu:41");
        assert_eq!(
            (l.function.as_deref(), l.pc, l.file.as_deref(), l.line),
            (
                Some("vectorAdd(int *)"),
                Some(0x70),
                Some("/home/cuda/memset_error.cu"),
                Some(41)
            )
        );
        let l = parse_location(
            "0x000000c8 in /home/u/src/my_helper.cuh:75:void vector_projection<double>(double*, int)",
        );
        assert_eq!(
            (l.function.as_deref(), l.pc, l.file.as_deref(), l.line),
            (
                Some("void vector_projection<double>(double*, int)"),
                Some(0xc8),
                Some("/home/u/src/my_helper.cuh"),
                Some(75)
            )
        );
        let l = parse_location("0x00000020 in test(int*, int*)");
        assert_eq!(
            (l.function.as_deref(), l.pc, l.file.as_deref(), l.line),
            (Some("test(int*, int*)"), Some(0x20), None, None)
        );
        let l = parse_location("unaligned_kernel()+0x50");
        assert_eq!(
            (l.function.as_deref(), l.pc, l.file),
            (Some("unaligned_kernel()"), Some(0x50), None)
        );
        let l = parse_location("RAW()+0x280 in raceGroupBasic:46");
        assert_eq!(
            (l.file.as_deref(), l.line),
            (Some("raceGroupBasic"), Some(46))
        );
        let l = parse_location("[clone myKernel(int *, int *)] outlineSync()+0x11f0 in test.cu:42");
        assert_eq!(
            l.function.as_deref(),
            Some("[clone myKernel(int *, int *)] outlineSync()")
        );
        assert_eq!(l.key(), "test.cu:42");
    }

    #[test]
    fn summaries_as_quoted_in_the_issue() {
        let p = parse_log("========= ERROR SUMMARY: 3 errors\n");
        assert_eq!(p.errors(), Some(3));
        let p =
            parse_log("========= RACECHECK SUMMARY: 1 hazard displayed (1 error, 0 warnings)\n");
        assert_eq!((p.errors(), p.warnings()), (Some(1), Some(0)));
        assert_eq!(p.summaries[0].displayed, Some(1));
        let p = parse_log(
            "========= ERROR SUMMARY: 128000 errors\n========= ERROR SUMMARY: 127900 errors were not printed. Use --print-limit option to adjust the number of printed errors\n",
        );
        assert_eq!((p.errors(), p.not_printed), (Some(128_000), 127_900));
        assert!(p.unknown.is_empty());
    }

    #[test]
    fn racecheck_summary_with_counts_on_the_next_line() {
        let p = parse_log(
            "========= RACECHECK SUMMARY: 100 hazards displayed\n========= (4528176 errors, 661824 warnings)\n",
        );
        assert_eq!((p.errors(), p.warnings()), (Some(4_528_176), Some(661_824)));
        let p = parse_log("========= RACECHECK SUMMARY: 100 hazards displayed\n");
        assert_eq!(p.errors(), None);
        assert_eq!(p.problems[0].kind, ProblemKind::IncompleteSummary);
    }

    #[test]
    fn one_line_race_report_as_measured_on_the_h100() {
        let p = parse_log(
            "========= Error: Race reported between Write access at r+0x160 in k.cu:3 and Read access at r+0x1e0 in k.cu:4 [1024 hazards]\n",
        );
        let f = &p.findings[0];
        assert_eq!(f.severity, Severity::Error);
        assert_eq!(f.hazards, Some(1024));
        assert_eq!(f.location_key(), "k.cu:3");
        let FindingKind::RaceHazard {
            accesses, report, ..
        } = &f.kind
        else {
            panic!("not a race: {f:?}");
        };
        assert_eq!(*report, RaceReport::Analysis);
        assert_eq!(accesses.len(), 2);
        assert_eq!(accesses[1].access, Access::Read);
        assert_eq!(accesses[1].at.key(), "k.cu:4");
        assert_eq!(accesses[1].hazards, Some(1024));
    }

    #[test]
    fn launch_line_of_the_oracle() {
        let p = parse_log(
            "cudadent-oracle: single launch done: kernel=fa_s512_v3 config=canon_3 grid=(8,8,2) block=(128,1,1) shared=0 unwritten=0\n",
        );
        assert_eq!(p.launches.len(), 1);
        assert_eq!(p.launches[0].kernel, "fa_s512_v3");
        assert_eq!(p.launches[0].grid, Dim3 { x: 8, y: 8, z: 2 });
        // A sanitizer line quoting it is not a launch.
        let p = parse_log("========= cudadent-oracle: single launch done: kernel=a config=b grid=(1,1,1) block=(1,1,1)\n");
        assert!(p.launches.is_empty());
    }

    #[test]
    fn unknown_lines_are_kept() {
        let p = parse_log("========= Something new in CUDA 14\n=========     with a detail\n");
        assert_eq!(p.unknown.len(), 2);
        assert_eq!(p.unknown[0].log_line, 1);
    }

    #[test]
    fn gate_annotations_round_trip() {
        for exit in [
            RecordedExit::Code { code: 3 },
            RecordedExit::Signal { signal: 11 },
            RecordedExit::Timeout { after_s: 600.0 },
        ] {
            let text = format!(
                "{GATE_PREFIX} command: cs --tool memcheck\n{GATE_PREFIX} {}\n",
                exit.annotation(1.5)
            );
            let p = parse_log(&text);
            assert_eq!(p.gate_exit.as_ref(), Some(&exit));
            assert_eq!(p.gate_command.as_deref(), Some("cs --tool memcheck"));
        }
    }
}
