//! CI outputs of a run, built from its records alone (pure, so they are tested without a
//! GPU): the JUnit report (`--junit`) and the Markdown for `$GITHUB_STEP_SUMMARY`.

use cli_support::ci::{markdown_table, Case, Junit};
use oracle::CheckRecord;

use crate::plan::Check;
use crate::run::KernelOutcome;

/// A test case's name for one check of one kernel.
pub fn case_name(kernel: &str, c: &Check) -> String {
    format!(
        "{kernel} {} trial {} scale {}",
        c.distribution, c.trial, c.scale
    )
}

fn same_check(r: &CheckRecord, c: &Check) -> bool {
    r.seed == c.seed
        && r.trial == c.trial
        && r.scale.to_bits() == c.scale.to_bits()
        && r.distribution.to_string() == c.distribution.to_string()
}

/// Suite mode: one test case per kernel x config x check of the plan (suite
/// `oracle.<config>`), failing with the check's reason. A planned check that never ran
/// (the run stopped after a failed launch) is a skipped case, so nothing goes missing.
pub fn junit_suite(
    config: &str,
    plan: &[Check],
    outcomes: &[KernelOutcome],
    records: &[CheckRecord],
) -> Junit {
    let suite = format!("oracle.{config}");
    let mut j = Junit::new("oracle");
    for c in plan {
        for k in outcomes {
            let name = case_name(&k.label(), c);
            let rec = records
                .iter()
                .find(|r| r.kernel == k.kernel && r.launch == k.launch && same_check(r, c));
            let case = match rec {
                None => Case::skipped(
                    name,
                    "not run: the run stopped after a failed launch (see the summary's notes)",
                ),
                Some(r) => {
                    let failure = (!r.passed).then(|| {
                        r.reason
                            .clone()
                            .unwrap_or_else(|| "check failed (no reason recorded)".into())
                    });
                    let figures = format!(
                        "max_abs_err {:.3e} (bound {:.3e}), rel_l2_err {:.2e}, seed {}{}",
                        r.max_abs_err,
                        r.bound,
                        r.rel_l2_err,
                        r.seed,
                        r.worst
                            .as_ref()
                            .map(|w| format!(", worst element {}", w.position()))
                            .unwrap_or_default()
                    );
                    let detail = match &failure {
                        Some(reason) => format!("{reason}\n{figures}"),
                        None => figures,
                    };
                    Case::outcome(name, failure)
                        .detail(detail)
                        .property("max_abs_err", r.max_abs_err)
                        .property("bound", r.bound)
                        .property("rel_l2_err", r.rel_l2_err)
                        .property("seed", r.seed)
                }
            };
            j.push(&suite, case);
        }
    }
    j
}

/// Controls mode: one test case per negative control (suite `oracle.<config>.controls`),
/// failing when the control was NOT caught (every check passed) or never checked.
pub fn junit_controls(config: &str, outcomes: &[KernelOutcome]) -> Junit {
    let suite = format!("oracle.{config}.controls");
    let mut j = Junit::new("oracle");
    for k in outcomes {
        let case = if k.checks == 0 {
            Case::fail(k.kernel.as_str(), "negative control never checked")
        } else if k.passed {
            Case::fail(
                k.kernel.as_str(),
                format!(
                    "negative control NOT caught: all {} checks passed (max_abs_err {:.3e})",
                    k.checks, k.max_abs_err
                ),
            )
        } else {
            Case::pass(k.kernel.as_str()).detail(format!(
                "caught by {} of {} checks; first: {}",
                k.failed,
                k.checks,
                k.first_failure.as_deref().unwrap_or("-")
            ))
        };
        j.push(&suite, case.property("checks_failed", k.failed));
    }
    j
}

/// The job summary: verdict and reason, then one line per kernel (suite mode: checks,
/// failures, worst max_abs_err) or per control (caught or not).
pub fn markdown(
    config: &str,
    controls: bool,
    verdict: &str,
    reason: &str,
    outcomes: &[KernelOutcome],
) -> String {
    let cut = |s: &str| s.chars().take(160).collect::<String>();
    let mut md = format!(
        "### oracle `{config}`{}: {verdict}\n\n{}\n\n",
        if controls { " negative controls" } else { "" },
        cut(reason)
    );
    if controls {
        let rows: Vec<Vec<String>> = outcomes
            .iter()
            .map(|k| {
                vec![
                    config.to_string(),
                    k.label(),
                    if k.passed || k.checks == 0 {
                        "NOT caught".into()
                    } else {
                        format!("caught ({}/{} checks failed)", k.failed, k.checks)
                    },
                    cut(k.first_failure.as_deref().unwrap_or("-")),
                ]
            })
            .collect();
        md.push_str(&markdown_table(
            &["config", "control", "caught", "first failure"],
            &rows,
        ));
    } else {
        let rows: Vec<Vec<String>> = outcomes
            .iter()
            .map(|k| {
                vec![
                    config.to_string(),
                    k.label(),
                    k.checks.to_string(),
                    k.failed.to_string(),
                    format!("{:.3e}", k.max_abs_err),
                    if k.passed {
                        "pass".into()
                    } else {
                        format!("FAIL: {}", cut(k.first_failure.as_deref().unwrap_or("-")))
                    },
                ]
            })
            .collect();
        md.push_str(&markdown_table(
            &[
                "config",
                "kernel",
                "checks",
                "failed",
                "max_abs_err",
                "verdict",
            ],
            &rows,
        ));
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use oracle::{Distribution, Shape};

    fn check(distribution: Distribution, trial: u32, seed: u64, scale: f32) -> Check {
        Check {
            distribution,
            trial,
            seed,
            scale,
        }
    }

    fn record(kernel: &str, c: &Check, max_abs_err: f64, reason: Option<&str>) -> CheckRecord {
        CheckRecord {
            kernel: kernel.into(),
            launch: "default".into(),
            trial: c.trial,
            seed: c.seed,
            distribution: c.distribution,
            scale: c.scale,
            shape: Shape::new(1, 2, 128, 64, false),
            max_abs_err,
            rel_l2_err: 1e-4,
            bound: 2e-3,
            passed: reason.is_none(),
            fp16_order_max_abs_err: 1e-3,
            worst: None,
            mismatches: 0,
            mismatch_pct: 0.0,
            non_finite: 0,
            unwritten: Default::default(),
            canaries: Vec::new(),
            inputs_modified: Vec::new(),
            deterministic: Some(true),
            reason: reason.map(str::to_string),
        }
    }

    fn outcome(kernel: &str, checks: usize, failed: usize, first: Option<&str>) -> KernelOutcome {
        KernelOutcome {
            kernel: kernel.into(),
            launch: "default".into(),
            selected: true,
            checks,
            failed,
            max_abs_err: 1.5e-3,
            passed: failed == 0 && checks > 0,
            first_failure: first.map(str::to_string),
        }
    }

    fn plan() -> Vec<Check> {
        vec![
            check(Distribution::Normal, 0, 11, 0.125),
            check(Distribution::Uniform, 1, 12, 0.088_388_35),
            check(Distribution::SparseSmallIntegers, 0, 13, 0.5),
        ]
    }

    #[test]
    fn suite_mode_has_one_case_per_kernel_and_check_with_the_reason() {
        let plan = plan();
        let bad = "max abs err 3.1e-1 > bound 2.0e-3 at (0,1,5,7)";
        let mut records = Vec::new();
        for c in &plan[..2] {
            records.push(record("fa_tc", c, 1e-3, None));
        }
        records.push(record("broken", &plan[0], 1e-3, None));
        records.push(record("broken", &plan[1], 0.31, Some(bad)));
        // The third check never ran (a launch failed): both kernels' cases are skipped.
        let outcomes = [
            outcome("fa_tc", 2, 0, None),
            outcome("broken", 2, 1, Some(bad)),
        ];
        let j = junit_suite("canon_3", &plan, &outcomes, &records);
        let r = cli_support::ci::read_junit(&j.to_xml().unwrap()).expect("valid JUnit");
        assert_eq!(r.suites.len(), 1);
        assert_eq!(r.suites[0].name, "oracle.canon_3");
        assert_eq!((r.tests(), r.failures()), (6, 1));
        let failed = r
            .case("oracle.canon_3", "broken uniform trial 1 scale 0.08838835")
            .expect("named <kernel> <distribution> trial <t> scale <s>");
        assert_eq!(failed.classname, "oracle.canon_3");
        let (message, body) = failed.failure.as_ref().expect("fails");
        assert_eq!(message, bad);
        assert!(body.contains("max_abs_err 3.100e-1"), "{body}");
        assert_eq!(failed.property("max_abs_err"), Some("0.31"));
        let ok = r
            .case("oracle.canon_3", "fa_tc normal trial 0 scale 0.125")
            .expect("pass case");
        assert_eq!(ok.failure, None);
        assert_eq!(ok.property("seed"), Some("11"));
        let skipped: Vec<&str> = r
            .cases()
            .filter(|(_, c)| c.skipped.is_some())
            .map(|(_, c)| c.name.as_str())
            .collect();
        assert_eq!(
            skipped,
            [
                "fa_tc sparse_int trial 0 scale 0.5",
                "broken sparse_int trial 0 scale 0.5"
            ]
        );
    }

    #[test]
    fn controls_mode_fails_only_a_control_that_was_not_caught() {
        let outcomes = [
            outcome("ctl_off_by_one", 8, 3, Some("unwritten: 64 elements")),
            outcome("ctl_too_clean", 8, 0, None),
        ];
        let j = junit_controls("canon_5", &outcomes);
        let r = cli_support::ci::read_junit(&j.to_xml().unwrap()).expect("valid JUnit");
        assert_eq!(r.suites[0].name, "oracle.canon_5.controls");
        assert_eq!((r.tests(), r.failures()), (2, 1));
        let caught = r.case("oracle.canon_5.controls", "ctl_off_by_one").unwrap();
        assert_eq!(caught.failure, None);
        assert!(caught.system_out.contains("unwritten: 64 elements"));
        let missed = r.case("oracle.canon_5.controls", "ctl_too_clean").unwrap();
        let (message, _) = missed.failure.as_ref().expect("not caught fails");
        assert!(message.contains("NOT caught"), "{message}");
    }

    #[test]
    fn markdown_has_one_line_per_kernel_with_max_abs_err() {
        let outcomes = [
            outcome("fa_tc", 8, 0, None),
            outcome("broken", 8, 1, Some("a | b")),
        ];
        let md = markdown("canon_3", false, "FAIL", "failed: broken", &outcomes);
        assert!(
            md.starts_with("### oracle `canon_3`: FAIL\n\nfailed: broken\n"),
            "{md}"
        );
        assert!(
            md.contains("| canon_3 | fa_tc | 8 | 0 | 1.500e-3 | pass |"),
            "{md}"
        );
        assert!(
            md.contains("| canon_3 | broken | 8 | 1 | 1.500e-3 | FAIL: a \\| b |"),
            "{md}"
        );
        let md = markdown("canon_5", true, "PASS", "all caught", &outcomes);
        assert!(md.contains("| canon_5 | fa_tc | NOT caught | - |"), "{md}");
        assert!(
            md.contains("| canon_5 | broken | caught (1/8 checks failed) | a \\| b |"),
            "{md}"
        );
    }
}
