//! The verdict: what a parsed log must show for a run to pass. Pure functions of a
//! [`ParsedLog`] and the run's context, so every rule is tested without a GPU.
//!
//! A run of a kernel under test passes only when all of these hold:
//! - the process exited with status 0 (with `--error-exitcode 0`, a non-zero status is the
//!   target's or the tool's own failure), was not killed, and did not time out;
//! - the tool's summary line was printed (`ERROR SUMMARY`, racecheck: `RACECHECK SUMMARY`);
//! - no line says the run cannot be trusted (`Internal Sanitizer Error`, a launch the tool
//!   `didn't track`, `Device not supported`, `Target application returned an error`, other
//!   `Error:` / `Warning:` lines of the tool);
//! - the target printed its launch line exactly once, naming this kernel and config;
//! - every report is suppressed, and the summary counts no error or warning that was not
//!   printed (racecheck: zero errors AND zero warnings);
//! - the planted-bug control for the tool was caught in the same gate run
//!   ([`apply_controls`]).
//!
//! Findings in the kernel make the run `fail`; anything else that stops a pass makes it
//! `error`, with the reason.

use cudadent_config::{SanitizerTool, Suppression};
use cudadent_evidence::Verdict;
use serde::Serialize;

use crate::finding::{Finding, GroupedFinding, Severity};
use crate::parse::{
    LaunchLine, LogLine, ParsedLog, Problem, ProblemKind, RecordedExit, SummaryKind,
};

/// Whether a run is of a kernel under test or of a planted-bug control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A kernel under test: must be clean.
    UnderTest,
    /// A negative control: must be caught.
    Control,
}

/// What the evaluation needs to know besides the log.
#[derive(Debug, Clone)]
pub struct RunContext<'a> {
    /// The tool that ran.
    pub tool: SanitizerTool,
    /// The kernel's manifest name.
    pub kernel: &'a str,
    /// The config the launch line must name (None: not checked).
    pub config: Option<&'a str>,
    /// Under test or control.
    pub role: Role,
    /// `[[sanitizer.suppress]]` entries.
    pub suppressions: &'a [Suppression],
    /// The manifest launch the launch line must name (None: not checked).
    pub launch: Option<&'a str>,
    /// How the process ended; None: as recorded in the log, if at all.
    pub exit: Option<RecordedExit>,
}

/// The evaluation of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    /// Kernel (manifest name).
    pub kernel: String,
    /// Tool.
    pub tool: SanitizerTool,
    /// Whether this run is a control.
    pub control: bool,
    /// Controls only: was the planted bug caught?
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caught: Option<bool>,
    /// Errors per the summary line (null when there was none).
    pub errors: Option<u64>,
    /// Warnings per the summary line (racecheck; null when there was none).
    pub warnings: Option<u64>,
    /// Errors the tool counted but did not print (past `--print-limit`).
    pub not_printed: u64,
    /// Grouped findings, suppressed ones included (marked).
    pub findings: Vec<GroupedFinding>,
    /// pass / fail / error.
    pub verdict: Verdict,
    /// One line.
    pub reason: String,
    /// Every reason, problems included.
    pub reasons: Vec<String>,
    /// How the process ended, where known.
    pub exit: Option<RecordedExit>,
    /// The oracle's launch line, when printed.
    pub launch: Option<LaunchLine>,
    /// Lines that made the run untrustworthy.
    pub problems: Vec<Problem>,
    /// Sanitizer lines not understood.
    pub lines_not_understood: usize,
    /// The first of them, verbatim.
    pub unknown_lines: Vec<LogLine>,
}

/// How many unknown lines an evaluation keeps verbatim.
pub const UNKNOWN_KEPT: usize = 20;

/// The finding kind a tool's planted-bug control must produce.
pub fn expected_kind(tool: SanitizerTool) -> &'static str {
    match tool {
        SanitizerTool::Memcheck => "out_of_bounds",
        SanitizerTool::Racecheck => "race_hazard",
        SanitizerTool::Initcheck => "uninitialized_read",
        SanitizerTool::Synccheck => "barrier_error",
    }
}

/// The summary line a tool must print.
pub fn required_summary(tool: SanitizerTool) -> SummaryKind {
    match tool {
        SanitizerTool::Racecheck => SummaryKind::Racecheck,
        _ => SummaryKind::Error,
    }
}

fn summary_text(kind: SummaryKind) -> &'static str {
    match kind {
        SummaryKind::Error => "ERROR SUMMARY",
        SummaryKind::Racecheck => "RACECHECK SUMMARY",
    }
}

fn basename(p: &str) -> &str {
    p.rsplit(['/', '\\']).next().unwrap_or(p)
}

/// Whether suppression `s` matches finding `f` of a `tool` run of `kernel`. The kernel may
/// be named by its manifest name or by the reporting function; the location, when given,
/// is `file:line` (compared by file name, since the tool prints no directories) or the
/// finding's `function+0xpc` key.
pub fn suppression_matches(
    s: &Suppression,
    tool: SanitizerTool,
    kernel: &str,
    f: &Finding,
) -> bool {
    if s.tool != tool || s.kind != f.kind.name() {
        return false;
    }
    let kernel_ok = s.kernel == kernel || f.function_name().as_deref() == Some(s.kernel.as_str());
    if !kernel_ok {
        return false;
    }
    let want = s.location.trim();
    if want.is_empty() {
        return true;
    }
    if want == f.location_key() {
        return true;
    }
    let at = match &f.at {
        Some(a) => a,
        None => return false,
    };
    match (want.rsplit_once(':'), &at.file, at.line) {
        (Some((file, line)), Some(ffile), Some(fline)) => {
            line.trim().parse::<u32>().ok() == Some(fline) && basename(file) == basename(ffile)
        }
        _ => false,
    }
}

/// The first suppression matching `f`.
pub fn suppression_for<'s>(
    sups: &'s [Suppression],
    tool: SanitizerTool,
    kernel: &str,
    f: &Finding,
) -> Option<&'s Suppression> {
    sups.iter()
        .find(|s| suppression_matches(s, tool, kernel, f))
}

/// Groups repeated findings by (kind, details, function, location), counting them;
/// suppressed ones are marked. Order: first appearance in the log.
pub fn group(
    findings: &[Finding],
    tool: SanitizerTool,
    kernel: &str,
    suppressions: &[Suppression],
) -> Vec<GroupedFinding> {
    let mut out: Vec<GroupedFinding> = Vec::new();
    let mut keys: Vec<(String, String, Option<String>, String)> = Vec::new();
    for f in findings {
        let key = (
            f.kind.name().to_string(),
            f.kind.detail(),
            f.function_name(),
            f.location_key(),
        );
        if let Some(i) = keys.iter().position(|k| *k == key) {
            let g = &mut out[i];
            g.count += 1;
            if let Some(h) = f.hazards {
                g.hazards = Some(g.hazards.unwrap_or(0) + h);
            }
            g.severity = g.severity.min(f.severity);
            continue;
        }
        let sup = suppression_for(suppressions, tool, kernel, f);
        let at = f.at.clone().unwrap_or_default();
        keys.push(key);
        out.push(GroupedFinding {
            tool,
            kind: f.kind.clone(),
            severity: f.severity,
            kernel: kernel.to_string(),
            function: f.function_name(),
            file: at.file.clone(),
            line: at.line,
            location: f.location_key(),
            count: 1,
            hazards: f.hazards,
            thread: f.thread,
            block: f.block,
            address: f.address.clone(),
            message: f.message.clone(),
            log_line: f.log_line,
            suppressed: sup.is_some(),
            suppression_reason: sup.map(|s| s.reason.clone()),
        });
    }
    out
}

/// Whether a grouped finding fails a kernel under test (errors and warnings do; INFO and
/// suppressed ones do not).
pub fn fails(g: &GroupedFinding) -> bool {
    !g.suppressed && g.severity != Severity::Info
}

fn describe_problem(p: &Problem) -> String {
    let why = match p.kind {
        ProblemKind::InternalError => "internal sanitizer error: errors may have gone undetected",
        ProblemKind::UntrackedLaunch => {
            "the sanitizer did not track a launch: errors may have gone undetected"
        }
        ProblemKind::DeviceNotSupported => {
            "the sanitizer does not support this device: nothing was checked"
        }
        ProblemKind::TargetFailed => "the target application returned an error",
        ProblemKind::ProcessDidNotTerminate => "the target did not terminate successfully",
        ProblemKind::ToolError => "the tool reported an error of its own",
        ProblemKind::ToolWarning => "the tool warned that results may be incomplete",
        ProblemKind::IncompleteSummary => "the summary line has no error/warning counts",
        ProblemKind::Truncated => {
            "the captured output was cut at its size limit: part of the report is missing"
        }
    };
    format!("{why} (log line {}: `{}`)", p.log_line, p.text)
}

fn describe_finding(g: &GroupedFinding) -> String {
    let mut s = format!("{} at {} ({})", g.kind.name(), g.location, g.kind.detail());
    if g.count > 1 {
        s.push_str(&format!(" x{}", g.count));
    }
    if let Some(h) = g.hazards {
        s.push_str(&format!(", {h} hazard(s)"));
    }
    if g.severity == Severity::Warning {
        s.push_str(" [warning]");
    }
    s
}

/// Evaluates one run's log.
pub fn evaluate(log: &ParsedLog, ctx: &RunContext<'_>) -> Evaluation {
    let exit = ctx.exit.clone().or_else(|| log.gate_exit.clone());
    let findings = group(&log.findings, ctx.tool, ctx.kernel, ctx.suppressions);
    let required = required_summary(ctx.tool);
    let has_summary = log.summaries_of(required).next().is_some();
    let errors = log.errors();
    let warnings = log.warnings();
    let counted = errors.unwrap_or(0).saturating_add(warnings.unwrap_or(0));
    let mut problems: Vec<String> = Vec::new();
    let log_problems: Vec<Problem> = log
        .problems
        .iter()
        .filter(|p| {
            // A control is expected to make its target fail (memcheck destroys the context).
            ctx.role == Role::UnderTest
                || !matches!(
                    p.kind,
                    ProblemKind::TargetFailed | ProblemKind::ProcessDidNotTerminate
                )
        })
        .cloned()
        .collect();
    problems.extend(log_problems.iter().map(describe_problem));
    let timed_out = matches!(exit, Some(RecordedExit::Timeout { .. }));
    match &exit {
        Some(RecordedExit::Timeout { after_s }) => {
            problems.push(format!("timed out after {after_s} s; the process group was killed"))
        }
        Some(RecordedExit::Signal { signal }) => {
            problems.push(format!("crashed: compute-sanitizer was killed by signal {signal}"))
        }
        Some(RecordedExit::Code { code }) if *code != 0 && ctx.role == Role::UnderTest => problems.push(format!(
            "compute-sanitizer exited with status {code}: with --error-exitcode 0 that is the target's or the tool's own failure"
        )),
        _ => {}
    }
    if !has_summary {
        problems.push(format!(
            "no `{}` line: {} did not finish its report",
            summary_text(required),
            ctx.tool.name()
        ));
    }
    let unknown_lines: Vec<LogLine> = log.unknown.iter().take(UNKNOWN_KEPT).cloned().collect();
    let launch = log.launches.first().cloned();
    let mut eval = Evaluation {
        kernel: ctx.kernel.to_string(),
        tool: ctx.tool,
        control: ctx.role == Role::Control,
        caught: None,
        errors,
        warnings,
        not_printed: log.not_printed,
        findings,
        verdict: Verdict::Error,
        reason: String::new(),
        reasons: Vec::new(),
        exit,
        launch,
        problems: log_problems,
        lines_not_understood: log.unknown.len(),
        unknown_lines,
    };
    match ctx.role {
        Role::Control => {
            let expected = expected_kind(ctx.tool);
            let hit = eval
                .findings
                .iter()
                .find(|g| g.kind.name() == expected && fails(g))
                .cloned();
            let caught = !timed_out && has_summary && counted > 0 && hit.is_some();
            eval.caught = Some(caught);
            if let Some(h) = hit.as_ref().filter(|_| caught) {
                eval.verdict = Verdict::Pass;
                eval.reason = format!("planted bug caught: {}", describe_finding(h));
                eval.reasons = vec![eval.reason.clone()];
            } else {
                let mut why = vec![format!(
                    "planted bug NOT caught: expected an unsuppressed {expected} report from {}",
                    ctx.tool.name()
                )];
                if has_summary && counted == 0 {
                    why.push(format!(
                        "{} counts 0 errors and 0 warnings",
                        summary_text(required)
                    ));
                }
                why.extend(problems);
                eval.verdict = Verdict::Error;
                eval.reason = why.join("; ");
                eval.reasons = why;
            }
        }
        Role::UnderTest => {
            match log.launches.len() {
                0 => problems.push(
                    "the target never printed its launch line (`cudadent-oracle: single launch done: ...`): the kernel may not have run".into(),
                ),
                1 => {
                    let l = &log.launches[0];
                    if l.kernel != ctx.kernel {
                        problems.push(format!(
                            "the launch line names kernel `{}`, not `{}`",
                            l.kernel, ctx.kernel
                        ));
                    }
                    if let Some(c) = ctx.config {
                        if l.config != c {
                            problems.push(format!("the launch line names config `{}`, not `{c}`", l.config));
                        }
                    }
                    if let Some(want) = ctx.launch {
                        if l.launch.as_deref() != Some(want) {
                            problems.push(format!(
                                "the launch line names launch `{}`, not `{want}`",
                                l.launch.as_deref().unwrap_or("(none)")
                            ));
                        }
                    }
                }
                n => problems.push(format!("the launch line was printed {n} times; exactly one launch was expected")),
            }
            let failing: Vec<&GroupedFinding> = eval.findings.iter().filter(|g| fails(g)).collect();
            if !failing.is_empty() {
                let total: u64 = failing.iter().map(|g| g.count).sum();
                let mut why = vec![format!(
                    "{} reported {total} finding(s) in {} place(s): {}",
                    ctx.tool.name(),
                    failing.len(),
                    failing
                        .iter()
                        .map(|g| describe_finding(g))
                        .collect::<Vec<_>>()
                        .join("; ")
                )];
                why.extend(problems);
                eval.verdict = Verdict::Fail;
                eval.reason = why[0].clone();
                eval.reasons = why;
                return eval;
            }
            let printed = log.findings.len() as u64;
            if counted > 0 {
                if log.findings.is_empty() {
                    problems.push(format!(
                        "the summary counts {counted} error(s)/warning(s) but no report was understood ({} sanitizer line(s) not understood)",
                        log.unknown.len()
                    ));
                } else if log.not_printed > 0 || counted > printed {
                    problems.push(format!(
                        "the summary counts {counted} error(s)/warning(s) but only {printed} were printed, all suppressed: the others cannot be checked against the suppressions"
                    ));
                }
            }
            if problems.is_empty() {
                let suppressed: u64 = eval
                    .findings
                    .iter()
                    .filter(|g| g.suppressed)
                    .map(|g| g.count)
                    .sum();
                let mut r = format!(
                    "{}: {} error(s), {} warning(s){}",
                    ctx.tool.name(),
                    errors.unwrap_or(0),
                    warnings.unwrap_or(0),
                    if suppressed > 0 {
                        format!(", {suppressed} suppressed report(s)")
                    } else {
                        String::new()
                    }
                );
                if !log.unknown.is_empty() {
                    r.push_str(&format!(
                        "; {} sanitizer line(s) not understood",
                        log.unknown.len()
                    ));
                }
                eval.verdict = Verdict::Pass;
                eval.reason = r;
                eval.reasons = vec![eval.reason.clone()];
            } else {
                eval.verdict = Verdict::Error;
                eval.reason = problems[0].clone();
                eval.reasons = problems;
            }
        }
    }
    eval
}

/// Applies the control rule: for each tool, a kernel-under-test run passes only if a
/// planted-bug control of that tool was caught in the same gate run. Passing runs of a
/// tool whose control is missing or was not caught become `error`.
pub fn apply_controls(evals: &mut [Evaluation]) {
    let tools: Vec<SanitizerTool> = evals.iter().map(|e| e.tool).collect();
    for tool in tools {
        let controls: Vec<(String, bool)> = evals
            .iter()
            .filter(|e| e.control && e.tool == tool)
            .map(|e| (e.kernel.clone(), e.caught == Some(true)))
            .collect();
        let why = if controls.is_empty() {
            Some(format!(
                "no planted-bug control for {} ran in this gate run: a pass cannot be trusted",
                tool.name()
            ))
        } else {
            let missed: Vec<&str> = controls
                .iter()
                .filter(|(_, c)| !c)
                .map(|(k, _)| k.as_str())
                .collect();
            (!missed.is_empty()).then(|| {
                format!(
                    "the planted-bug control {} was not caught by {} in this gate run: a pass cannot be trusted",
                    missed.join(", "),
                    tool.name()
                )
            })
        };
        if let Some(why) = why {
            for e in evals.iter_mut().filter(|e| !e.control && e.tool == tool) {
                if e.verdict == Verdict::Pass {
                    e.verdict = Verdict::Error;
                    e.reason = why.clone();
                    e.reasons.insert(0, why.clone());
                }
            }
        }
    }
}

/// The gate's verdict over all runs of `tools`, with a one-line reason. `error` wins over
/// `fail` (the gate itself could not be trusted), and both are listed in the reason.
pub fn overall(evals: &[Evaluation], tools: &[SanitizerTool]) -> (Verdict, String) {
    let mut errors: Vec<String> = Vec::new();
    for &tool in tools {
        if !evals.iter().any(|e| e.control && e.tool == tool) {
            errors.push(format!("{}: no planted-bug control ran", tool.name()));
        }
    }
    for e in evals.iter().filter(|e| e.verdict == Verdict::Error) {
        let who = if e.control { "control " } else { "" };
        errors.push(format!(
            "{who}{} under {}: {}",
            e.kernel,
            e.tool.name(),
            e.reason
        ));
    }
    let fails: Vec<String> = evals
        .iter()
        .filter(|e| e.verdict == Verdict::Fail)
        .map(|e| format!("{} under {}: {}", e.kernel, e.tool.name(), e.reason))
        .collect();
    if !errors.is_empty() {
        let mut r = format!("{} gate error(s): {}", errors.len(), errors.join(" | "));
        if !fails.is_empty() {
            r.push_str(&format!(
                " || {} failing run(s): {}",
                fails.len(),
                fails.join(" | ")
            ));
        }
        return (Verdict::Error, r);
    }
    if !fails.is_empty() {
        return (
            Verdict::Fail,
            format!("{} failing run(s): {}", fails.len(), fails.join(" | ")),
        );
    }
    let tested = evals.iter().filter(|e| !e.control).count();
    let controls = evals.iter().filter(|e| e.control).count();
    (
        Verdict::Pass,
        format!(
            "{tested} run(s) clean under {}; {controls} planted-bug control(s) caught",
            tools
                .iter()
                .map(|t| t.name())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
}
