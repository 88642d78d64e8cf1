//! The gate's rules, one behaviour per test: what passes, what fails, what is an error.

use std::path::Path;

use cudadent_config::{SanitizerTool, Suppression};
use cudadent_evidence::Verdict;
use sanitizer_gate::gate::{apply_controls, evaluate, overall, Evaluation, Role, RunContext};
use sanitizer_gate::parse::{parse_log, RecordedExit};

const LAUNCH: &str = "cudadent-oracle: single launch done: kernel=fa_s512_v3 config=canon_3 grid=(8,8,2) block=(128,1,1) shared=0 unwritten=0";

fn fixture(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn ctx<'a>(tool: SanitizerTool, role: Role, sups: &'a [Suppression]) -> RunContext<'a> {
    RunContext {
        tool,
        kernel: "fa_s512_v3",
        config: Some("canon_3"),
        role,
        suppressions: sups,
        launch: None,
        exit: Some(RecordedExit::Code { code: 0 }),
    }
}

fn eval(text: &str, tool: SanitizerTool) -> Evaluation {
    evaluate(&parse_log(text), &ctx(tool, Role::UnderTest, &[]))
}

/// A memcheck run of the kernel under test: launch line, the given report lines, summary.
fn memcheck_run(reports: &str, errors: u32) -> String {
    format!("========= COMPUTE-SANITIZER\n{LAUNCH}\n{reports}========= LEAK SUMMARY: 0 bytes leaked in 0 allocations\n========= ERROR SUMMARY: {errors} errors\n")
}

const OOB: &str = "========= Invalid __global__ write of size 4 bytes\n=========     at fa_s512_v3_fwd+0xe0 in fa_s512_v3.cu:120\n=========     by thread (5,0,0) in block (1,0,0)\n=========     Access at 0x7f0000001000 is out of bounds\n=========\n";

#[test]
fn zero_errors_and_the_launch_line_pass() {
    let e = eval(
        &fixture("clean_memcheck.composed.log"),
        SanitizerTool::Memcheck,
    );
    assert_eq!(e.verdict, Verdict::Pass, "{}", e.reason);
    assert_eq!((e.errors, e.warnings), (Some(0), Some(0)));
    let e = evaluate(
        &parse_log(&fixture("clean_racecheck.composed.log")),
        &RunContext {
            kernel: "fa_tc",
            ..ctx(SanitizerTool::Racecheck, Role::UnderTest, &[])
        },
    );
    assert_eq!(e.verdict, Verdict::Pass, "{}", e.reason);
}

#[test]
fn a_log_without_the_summary_line_is_an_error() {
    let text = format!("========= COMPUTE-SANITIZER\n{LAUNCH}\n");
    let e = eval(&text, SanitizerTool::Memcheck);
    assert_eq!(e.verdict, Verdict::Error);
    assert!(e.reason.contains("ERROR SUMMARY"), "{}", e.reason);
    // racecheck needs its own summary: an ERROR SUMMARY does not stand in for it.
    let text = format!("{LAUNCH}\n========= ERROR SUMMARY: 0 errors\n");
    let e = eval(&text, SanitizerTool::Racecheck);
    assert_eq!(e.verdict, Verdict::Error);
    assert!(e.reason.contains("RACECHECK SUMMARY"), "{}", e.reason);
}

#[test]
fn device_not_supported_is_an_error_even_with_zero_errors() {
    let text = fixture("gvisor_device_not_supported.composed.log");
    let e = evaluate(
        &parse_log(&text),
        &RunContext {
            exit: None, // as recorded in the log: code=3
            ..ctx(SanitizerTool::Memcheck, Role::UnderTest, &[])
        },
    );
    assert_eq!(e.verdict, Verdict::Error);
    assert_eq!(e.errors, Some(0));
    let all = e.reasons.join(" | ");
    assert!(all.contains("does not support this device"), "{all}");
    assert!(all.contains("exited with status 3"), "{all}");
    assert!(all.contains("never printed its launch line"), "{all}");
}

#[test]
fn findings_in_the_kernel_fail() {
    let e = eval(&memcheck_run(OOB, 1), SanitizerTool::Memcheck);
    assert_eq!(e.verdict, Verdict::Fail, "{}", e.reason);
    assert_eq!(e.findings.len(), 1);
    let g = &e.findings[0];
    assert_eq!(
        (g.kind.name(), g.location.as_str(), g.count),
        ("out_of_bounds", "fa_s512_v3.cu:120", 1)
    );
    assert_eq!(g.function.as_deref(), Some("fa_s512_v3_fwd"));
    assert!(e.reason.contains("fa_s512_v3.cu:120"), "{}", e.reason);
}

#[test]
fn repeated_findings_are_grouped_with_a_count() {
    let three = format!(
        "{OOB}{}{}",
        OOB.replace("(5,0,0)", "(6,0,0)"),
        OOB.replace("(5,0,0)", "(7,0,0)")
    );
    let e = eval(&memcheck_run(&three, 3), SanitizerTool::Memcheck);
    assert_eq!(e.findings.len(), 1);
    assert_eq!(e.findings[0].count, 3);
    assert_eq!(
        e.findings[0].thread.map(|t| t.x),
        Some(5),
        "first report's thread kept"
    );
}

#[test]
fn a_suppressed_finding_passes_and_is_still_listed() {
    let sups = [Suppression {
        tool: SanitizerTool::Memcheck,
        kind: "out_of_bounds".into(),
        kernel: "fa_s512_v3".into(),
        location: "kernels/attention/fa_s512_v3.cu:120".into(),
        reason: "known overrun into the padding, fixed in v4".into(),
    }];
    let e = evaluate(
        &parse_log(&memcheck_run(OOB, 1)),
        &ctx(SanitizerTool::Memcheck, Role::UnderTest, &sups),
    );
    assert_eq!(e.verdict, Verdict::Pass, "{}", e.reason);
    assert_eq!(e.findings.len(), 1);
    assert!(e.findings[0].suppressed);
    assert_eq!(
        e.findings[0].suppression_reason.as_deref(),
        Some("known overrun into the padding, fixed in v4")
    );
    assert!(e.reason.contains("1 suppressed"), "{}", e.reason);
}

#[test]
fn a_suppression_for_another_line_kind_tool_or_kernel_does_not_match() {
    let base = Suppression {
        tool: SanitizerTool::Memcheck,
        kind: "out_of_bounds".into(),
        kernel: "fa_s512_v3".into(),
        location: "fa_s512_v3.cu:121".into(),
        reason: "r".into(),
    };
    let variants = [
        base.clone(),
        Suppression {
            location: String::new(),
            kind: "leak".into(),
            ..base.clone()
        },
        Suppression {
            location: String::new(),
            tool: SanitizerTool::Initcheck,
            ..base.clone()
        },
        Suppression {
            location: String::new(),
            kernel: "fa_tc".into(),
            ..base.clone()
        },
    ];
    for s in variants {
        let e = evaluate(
            &parse_log(&memcheck_run(OOB, 1)),
            &ctx(
                SanitizerTool::Memcheck,
                Role::UnderTest,
                std::slice::from_ref(&s),
            ),
        );
        assert_eq!(e.verdict, Verdict::Fail, "{s:?} matched");
    }
    // By function name, any location.
    let s = Suppression {
        location: String::new(),
        kernel: "fa_s512_v3_fwd".into(),
        ..base
    };
    let e = evaluate(
        &parse_log(&memcheck_run(OOB, 1)),
        &ctx(SanitizerTool::Memcheck, Role::UnderTest, &[s]),
    );
    assert_eq!(e.verdict, Verdict::Pass, "{}", e.reason);
}

#[test]
fn suppressions_cannot_cover_reports_that_were_not_printed() {
    let sups = [Suppression {
        tool: SanitizerTool::Memcheck,
        kind: "out_of_bounds".into(),
        kernel: "fa_s512_v3".into(),
        location: String::new(),
        reason: "r".into(),
    }];
    let text = memcheck_run(OOB, 20_000).replace(
        "========= ERROR SUMMARY: 20000 errors\n",
        "========= ERROR SUMMARY: 20000 errors\n========= ERROR SUMMARY: 19999 errors were not printed. Use --print-limit option to adjust the number of printed errors\n",
    );
    let e = evaluate(
        &parse_log(&text),
        &ctx(SanitizerTool::Memcheck, Role::UnderTest, &sups),
    );
    assert_eq!(e.verdict, Verdict::Error, "{}", e.reason);
    assert!(
        e.reason
            .contains("cannot be checked against the suppressions"),
        "{}",
        e.reason
    );
}

#[test]
fn the_launch_line_must_be_there_once_and_name_this_kernel_and_config() {
    let clean = fixture("clean_memcheck.composed.log");
    let cases = [
        (
            clean.replace(LAUNCH, "some other output"),
            "never printed its launch line",
        ),
        (
            clean.replace("kernel=fa_s512_v3", "kernel=fa_tc"),
            "names kernel `fa_tc`",
        ),
        (
            clean.replace("config=canon_3", "config=canon_1"),
            "names config `canon_1`",
        ),
        (
            clean.replace(LAUNCH, &format!("{LAUNCH}\n{LAUNCH}")),
            "printed 2 times",
        ),
    ];
    for (text, why) in cases {
        let e = eval(&text, SanitizerTool::Memcheck);
        assert_eq!(e.verdict, Verdict::Error, "{why}");
        assert!(e.reason.contains(why), "{why}: {}", e.reason);
    }
}

#[test]
fn crashes_timeouts_and_failed_targets_are_errors() {
    let clean = fixture("clean_memcheck.composed.log");
    for (exit, why) in [
        (RecordedExit::Timeout { after_s: 600.0 }, "timed out"),
        (RecordedExit::Signal { signal: 11 }, "signal 11"),
        (RecordedExit::Code { code: 1 }, "exited with status 1"),
    ] {
        let e = evaluate(
            &parse_log(&clean),
            &RunContext {
                exit: Some(exit),
                ..ctx(SanitizerTool::Memcheck, Role::UnderTest, &[])
            },
        );
        assert_eq!(e.verdict, Verdict::Error, "{why}");
        assert!(e.reason.contains(why), "{why}: {}", e.reason);
    }
    let text = clean.replace(
        "========= ERROR SUMMARY",
        "========= Target application returned an error\n========= ERROR SUMMARY",
    );
    assert_eq!(eval(&text, SanitizerTool::Memcheck).verdict, Verdict::Error);
}

#[test]
fn internal_sanitizer_errors_and_untracked_launches_are_errors() {
    let text = fixture("clean_memcheck.composed.log").replace(
        "========= LEAK SUMMARY",
        "========= Internal Sanitizer Error: The Sanitizer encountered an error while launching fa_s512_v3_fwd and didn't track the launch. Errors might go undetected. (Unable to allocate enough memory to perform the requested operation)\n========= LEAK SUMMARY",
    );
    let e = eval(&text, SanitizerTool::Memcheck);
    assert_eq!(e.verdict, Verdict::Error);
    assert!(
        e.reason.contains("errors may have gone undetected"),
        "{}",
        e.reason
    );
    assert_eq!(e.problems.len(), 2);
}

#[test]
fn racecheck_fails_on_warnings_too() {
    let text = format!(
        "{LAUNCH}\n{}========= RACECHECK SUMMARY: 1 hazard displayed (0 errors, 1 warning)\n",
        fixture("racecheck_analysis_warning.doc-example.log")
    );
    let e = eval(&text, SanitizerTool::Racecheck);
    assert_eq!(e.verdict, Verdict::Fail, "{}", e.reason);
    assert!(e.reason.contains("[warning]"), "{}", e.reason);
    assert_eq!(e.findings[0].hazards, Some(4));
}

#[test]
fn a_count_in_the_summary_with_no_report_understood_is_an_error() {
    let text = format!(
        "{LAUNCH}\n{}========= ERROR SUMMARY: 1 error\n",
        fixture("memcheck_tcgen05_guardrail.doc-example.log")
    );
    let e = eval(&text, SanitizerTool::Memcheck);
    assert_eq!(e.verdict, Verdict::Error);
    assert!(
        e.reason.contains("no report was understood"),
        "{}",
        e.reason
    );
    assert_eq!(e.lines_not_understood, 3);
}

#[test]
fn unknown_lines_on_a_clean_run_are_reported_not_hidden() {
    let text = fixture("clean_memcheck.composed.log").replace(
        "========= LEAK SUMMARY",
        "========= Some informational line from a newer release\n========= LEAK SUMMARY",
    );
    let e = eval(&text, SanitizerTool::Memcheck);
    assert_eq!(e.verdict, Verdict::Pass);
    assert!(
        e.reason.contains("1 sanitizer line(s) not understood"),
        "{}",
        e.reason
    );
    assert_eq!(
        e.unknown_lines[0].text,
        "Some informational line from a newer release"
    );
}

fn control(tool: SanitizerTool, text: &str, exit: RecordedExit) -> Evaluation {
    evaluate(
        &parse_log(text),
        &RunContext {
            kernel: "oob_write_far",
            config: Some("canon_1"),
            exit: Some(exit),
            ..ctx(tool, Role::Control, &[])
        },
    )
}

#[test]
fn a_control_is_caught_by_its_kind_even_when_its_target_dies() {
    // memcheck destroys the context: the oracle fails, prints no launch line, exits 1.
    let text = format!("========= COMPUTE-SANITIZER\n{OOB}========= Target application returned an error\n========= ERROR SUMMARY: 1 error\n");
    let c = control(
        SanitizerTool::Memcheck,
        &text,
        RecordedExit::Code { code: 1 },
    );
    assert_eq!(c.caught, Some(true), "{}", c.reason);
    assert_eq!(c.verdict, Verdict::Pass);
    assert!(
        c.reason.starts_with("planted bug caught: out_of_bounds"),
        "{}",
        c.reason
    );
}

#[test]
fn a_control_is_not_caught_by_a_clean_log_the_wrong_kind_a_timeout_or_a_suppression() {
    let clean = fixture("clean_memcheck.composed.log");
    let c = control(
        SanitizerTool::Memcheck,
        &clean,
        RecordedExit::Code { code: 0 },
    );
    assert_eq!((c.caught, c.verdict), (Some(false), Verdict::Error));
    assert!(c.reason.contains("NOT caught"), "{}", c.reason);
    // A leak is not the out-of-bounds write the memcheck control plants.
    let leak = "========= Leaked 64 bytes at 0x400200200\n========= ERROR SUMMARY: 1 error\n";
    let c = control(
        SanitizerTool::Memcheck,
        leak,
        RecordedExit::Code { code: 0 },
    );
    assert_eq!(c.caught, Some(false));
    let text = format!("{OOB}========= ERROR SUMMARY: 1 error\n");
    let c = control(
        SanitizerTool::Memcheck,
        &text,
        RecordedExit::Timeout { after_s: 5.0 },
    );
    assert_eq!(c.caught, Some(false));
    let sups = [Suppression {
        tool: SanitizerTool::Memcheck,
        kind: "out_of_bounds".into(),
        kernel: "oob_write_far".into(),
        location: String::new(),
        reason: "r".into(),
    }];
    let c = evaluate(
        &parse_log(&text),
        &RunContext {
            kernel: "oob_write_far",
            ..ctx(SanitizerTool::Memcheck, Role::Control, &sups)
        },
    );
    assert_eq!(
        c.caught,
        Some(false),
        "a suppression must not hide the planted bug"
    );
}

#[test]
fn each_tool_has_its_expected_control_kind() {
    let cases = [
        (
            SanitizerTool::Racecheck,
            "racecheck_block_error.doc-example.log",
            "",
        ),
        (
            SanitizerTool::Initcheck,
            "initcheck_suppressions_demo.doc-example.log",
            "",
        ),
        (
            SanitizerTool::Synccheck,
            "synccheck_divergent_threads.doc-example.log",
            "========= ERROR SUMMARY: 32 errors\n",
        ),
    ];
    for (tool, file, tail) in cases {
        let text = format!("{}{tail}", fixture(file));
        let c = control(tool, &text, RecordedExit::Code { code: 0 });
        assert_eq!(c.caught, Some(true), "{}: {}", tool.name(), c.reason);
    }
}

#[test]
fn an_uncaught_control_turns_its_tools_passes_into_errors() {
    let pass = eval(
        &fixture("clean_memcheck.composed.log"),
        SanitizerTool::Memcheck,
    );
    let fail = evaluate(
        &parse_log(&memcheck_run(OOB, 1)),
        &RunContext {
            kernel: "fa_s512_v3",
            ..ctx(SanitizerTool::Memcheck, Role::UnderTest, &[])
        },
    );
    let missed = control(
        SanitizerTool::Memcheck,
        &fixture("clean_memcheck.composed.log"),
        RecordedExit::Code { code: 0 },
    );
    let mut evals = vec![pass.clone(), fail.clone(), missed];
    apply_controls(&mut evals);
    assert_eq!(evals[0].verdict, Verdict::Error);
    assert!(
        evals[0].reason.contains("oob_write_far was not caught"),
        "{}",
        evals[0].reason
    );
    assert_eq!(
        evals[1].verdict,
        Verdict::Fail,
        "a real finding stays a failure"
    );
    let (v, reason) = overall(&evals, &[SanitizerTool::Memcheck]);
    assert_eq!(v, Verdict::Error);
    assert!(reason.contains("failing run"), "{reason}");

    // No control at all for the tool.
    let mut evals = vec![pass.clone()];
    apply_controls(&mut evals);
    assert_eq!(evals[0].verdict, Verdict::Error);
    assert!(
        evals[0].reason.contains("no planted-bug control"),
        "{}",
        evals[0].reason
    );
    let (v, _) = overall(&evals, &[SanitizerTool::Memcheck]);
    assert_eq!(v, Verdict::Error);

    // Caught: the pass stands.
    let text = format!("{OOB}========= ERROR SUMMARY: 1 error\n");
    let caught = control(
        SanitizerTool::Memcheck,
        &text,
        RecordedExit::Code { code: 1 },
    );
    let mut evals = vec![pass, caught];
    apply_controls(&mut evals);
    assert_eq!(evals[0].verdict, Verdict::Pass);
    let (v, reason) = overall(&evals, &[SanitizerTool::Memcheck]);
    assert_eq!(v, Verdict::Pass, "{reason}");
}

#[test]
fn the_launch_line_must_name_the_launch_that_was_asked_for() {
    // The oracle's launch line as it prints it since launch rules (kernel, config, grid,
    // block, shared, then launch and entry), under a clean memcheck summary.
    let line = |launch: &str| {
        format!(
            "========= COMPUTE-SANITIZER\ncudadent-oracle: single launch done: kernel=fa_s512_v3 config=canon_3 grid=(16,8,2) block=(128,1,1) shared=69632 launch={launch} entry=k_small unwritten=0\n========= ERROR SUMMARY: 0 errors\n"
        )
    };
    let asked = |text: &str, want: Option<&str>| {
        evaluate(
            &parse_log(text),
            &RunContext {
                launch: want,
                ..ctx(SanitizerTool::Memcheck, Role::UnderTest, &[])
            },
        )
    };
    let parsed = parse_log(&line("small_grid"));
    assert_eq!(
        parsed.launches[0].launch.as_deref(),
        Some("small_grid"),
        "launch= is parsed off the line"
    );
    let e = asked(&line("small_grid"), Some("small_grid"));
    assert_eq!(e.verdict, Verdict::Pass, "{}", e.reason);
    // The oracle ran another launch than the gate asked for: the run proves nothing.
    let e = asked(&line("default"), Some("small_grid"));
    assert_eq!(e.verdict, Verdict::Error, "{}", e.reason);
    assert!(
        e.reason.contains("launch `default`, not `small_grid`"),
        "{}",
        e.reason
    );
    // A line without launch= (an oracle from before launch rules) cannot prove the launch.
    let old = fixture("clean_memcheck.composed.log");
    let e = asked(&old, Some("default"));
    assert_eq!(e.verdict, Verdict::Error, "{}", e.reason);
    assert!(e.reason.contains("(none)"), "{}", e.reason);
    // Not asked (--from-log): not checked.
    assert_eq!(asked(&old, None).verdict, Verdict::Pass);
}
