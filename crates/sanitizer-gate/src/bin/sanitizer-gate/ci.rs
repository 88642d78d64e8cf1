//! CI outputs of a gate run (or of `--from-log`), built from its evaluations alone: the
//! JUnit report (`--junit`) and the Markdown for `$GITHUB_STEP_SUMMARY`.

use cli_support::ci::{markdown_table, Case, Junit};
use cudadent_config::SanitizerTool;
use cudadent_evidence::Verdict;
use sanitizer_gate::gate::Evaluation;

fn word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::Error => "error",
    }
}

fn kernel_label(e: &Evaluation) -> String {
    if e.control {
        format!("{} (control)", e.kernel)
    } else {
        e.kernel.clone()
    }
}

/// One test case per run, kernel x tool (suite `sanitizer-gate.<label>`, name
/// `<kernel> <tool>`, a planted-bug control's marked ` (control)`), failing on a `fail`
/// or `error` verdict with the run's reason; every reason goes into the failure's body.
pub fn junit(label: &str, runs: &[&Evaluation]) -> Junit {
    let suite = format!("sanitizer-gate.{label}");
    let mut j = Junit::new("sanitizer-gate");
    for e in runs {
        let name = format!("{} {}", kernel_label(e), e.tool.name());
        let failure =
            (e.verdict != Verdict::Pass).then(|| format!("{}: {}", word(e.verdict), e.reason));
        let detail = if failure.is_some() {
            e.reasons.join("\n")
        } else {
            e.reason.clone()
        };
        let mut case = Case::outcome(name, failure)
            .detail(detail)
            .property("verdict", word(e.verdict))
            .property("control", e.control);
        if let Some(n) = e.errors {
            case = case.property("errors", n);
        }
        if let Some(n) = e.warnings {
            case = case.property("warnings", n);
        }
        if let Some(c) = e.caught {
            case = case.property("caught", c);
        }
        j.push(&suite, case);
    }
    j
}

/// The job summary: verdict and reason, then one line per kernel (controls marked) with
/// its errors under each tool that ran, and its worst verdict.
pub fn markdown(title: &str, verdict: Verdict, reason: &str, runs: &[&Evaluation]) -> String {
    let mut md = format!(
        "### sanitizer-gate {title}: {}\n\n{}\n\n",
        word(verdict).to_uppercase(),
        reason.chars().take(200).collect::<String>()
    );
    let mut tools: Vec<SanitizerTool> = Vec::new();
    let mut kernels: Vec<(String, bool)> = Vec::new();
    for e in runs {
        if !tools.contains(&e.tool) {
            tools.push(e.tool);
        }
        if !kernels
            .iter()
            .any(|(k, c)| *k == e.kernel && *c == e.control)
        {
            kernels.push((e.kernel.clone(), e.control));
        }
    }
    let rows: Vec<Vec<String>> = kernels
        .iter()
        .map(|(k, control)| {
            let mine: Vec<&&Evaluation> = runs
                .iter()
                .filter(|e| e.kernel == *k && e.control == *control)
                .collect();
            let mut row = vec![if *control {
                format!("{k} (control)")
            } else {
                k.clone()
            }];
            for t in &tools {
                row.push(match mine.iter().find(|e| e.tool == *t) {
                    None => "-".into(),
                    Some(e) => {
                        let mut cell = e
                            .errors
                            .map(|n| n.to_string())
                            .unwrap_or_else(|| "?".into());
                        if let Some(w) = e.warnings.filter(|w| *w > 0) {
                            cell.push_str(&format!(" (+{w} warnings)"));
                        }
                        if let Some(c) = e.caught {
                            cell.push_str(if c { ", caught" } else { ", NOT caught" });
                        }
                        if e.verdict != Verdict::Pass {
                            cell.push_str(&format!(", {}", word(e.verdict)));
                        }
                        cell
                    }
                });
            }
            let worst = if mine.iter().any(|e| e.verdict == Verdict::Error) {
                Verdict::Error
            } else if mine.iter().any(|e| e.verdict == Verdict::Fail) {
                Verdict::Fail
            } else {
                Verdict::Pass
            };
            row.push(word(worst).into());
            row
        })
        .collect();
    let header: Vec<String> = std::iter::once("kernel".to_string())
        .chain(tools.iter().map(|t| format!("{} errors", t.name())))
        .chain(std::iter::once("verdict".to_string()))
        .collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    md.push_str(&markdown_table(&header, &rows));
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(
        kernel: &str,
        tool: SanitizerTool,
        control: bool,
        errors: u64,
        verdict: Verdict,
        reason: &str,
    ) -> Evaluation {
        Evaluation {
            kernel: kernel.into(),
            tool,
            control,
            caught: control.then_some(errors > 0),
            errors: Some(errors),
            warnings: None,
            not_printed: 0,
            findings: Vec::new(),
            verdict,
            reason: reason.into(),
            reasons: vec![reason.into(), "second reason".into()],
            exit: None,
            launch: None,
            problems: Vec::new(),
            lines_not_understood: 0,
            unknown_lines: Vec::new(),
        }
    }

    fn runs() -> Vec<Evaluation> {
        use SanitizerTool::{Memcheck, Racecheck};
        vec![
            eval("fa_tc", Memcheck, false, 0, Verdict::Pass, "clean"),
            eval(
                "fa_tc",
                Racecheck,
                false,
                2,
                Verdict::Fail,
                "2 race hazards",
            ),
            eval("ctl_oob", Memcheck, true, 1, Verdict::Pass, "caught"),
            eval(
                "ctl_race",
                Racecheck,
                true,
                0,
                Verdict::Error,
                "control not caught",
            ),
        ]
    }

    #[test]
    fn junit_has_one_case_per_run_failing_on_fail_and_error() {
        let runs = runs();
        let refs: Vec<&Evaluation> = runs.iter().collect();
        let r = cli_support::ci::read_junit(&junit("canon_3", &refs).to_xml().unwrap())
            .expect("valid JUnit");
        assert_eq!(r.suites.len(), 1);
        assert_eq!(r.suites[0].name, "sanitizer-gate.canon_3");
        assert_eq!((r.tests(), r.failures()), (4, 2));
        let s = "sanitizer-gate.canon_3";
        let race = r.case(s, "fa_tc racecheck").unwrap();
        let (message, body) = race.failure.as_ref().unwrap();
        assert_eq!(message, "fail: 2 race hazards");
        assert_eq!(body, "2 race hazards\nsecond reason");
        assert_eq!(race.property("errors"), Some("2"));
        let missed = r.case(s, "ctl_race (control) racecheck").unwrap();
        assert_eq!(
            missed.failure.as_ref().unwrap().0,
            "error: control not caught"
        );
        assert_eq!(missed.property("caught"), Some("false"));
        let caught = r.case(s, "ctl_oob (control) memcheck").unwrap();
        assert_eq!(caught.failure, None);
        assert_eq!(caught.property("control"), Some("true"));
        assert_eq!(r.case(s, "fa_tc memcheck").unwrap().failure, None);
    }

    #[test]
    fn markdown_has_errors_per_tool_for_each_kernel() {
        let runs = runs();
        let refs: Vec<&Evaluation> = runs.iter().collect();
        let md = markdown("`canon_3`", Verdict::Fail, "fa_tc: 2 race hazards", &refs);
        assert!(
            md.starts_with("### sanitizer-gate `canon_3`: FAIL\n"),
            "{md}"
        );
        assert!(
            md.contains("| kernel | memcheck errors | racecheck errors | verdict |"),
            "{md}"
        );
        assert!(md.contains("| fa_tc | 0 | 2, fail | fail |"), "{md}");
        assert!(
            md.contains("| ctl_oob (control) | 1, caught | - | pass |"),
            "{md}"
        );
        assert!(
            md.contains("| ctl_race (control) | - | 0, NOT caught, error | error |"),
            "{md}"
        );
    }
}
