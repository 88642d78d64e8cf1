//! CI outputs of a bench run, built from its result records alone (pure, so they are
//! tested without a GPU): the JUnit report (`--junit`) and the Markdown for
//! `$GITHUB_STEP_SUMMARY`.

use bench::record::{Correctness, KernelResult, Speedup};
use bench::Mode;
use cli_support::ci::{markdown_table, Case, Junit};

/// What the CI outputs read from a run: the kernels under test (in order), the modes
/// timed, and the summary's records.
pub struct Run<'a> {
    /// The config's name.
    pub config: &'a str,
    /// Kernels under test, in run order.
    pub kernels: &'a [String],
    /// Modes timed.
    pub modes: &'a [Mode],
    /// `results[]`.
    pub results: &'a [KernelResult],
    /// `correctness[]`.
    pub correctness: &'a [Correctness],
    /// `speedups[]`.
    pub speedups: &'a [Speedup],
}

impl Run<'_> {
    /// Why `kernel` in `mode` failed, if it did: a wrong output (before timing or after
    /// any mode's timed launches: either voids every time of the kernel), no timing at
    /// all, a p50 below the bytes/FLOPs floor, or a speed-up over the fastest baseline too
    /// large to believe.
    fn failure(&self, kernel: &str, mode: Mode) -> Option<String> {
        let wrong = self
            .correctness
            .iter()
            .find(|c| c.kernel == kernel && !c.passed);
        if let Some(c) = wrong {
            return Some(format!(
                "wrong output ({}): {}",
                c.when,
                c.reason.as_deref().unwrap_or("failed the pass rule")
            ));
        }
        let Some(r) = self.result(kernel, mode) else {
            return Some(format!("no {mode} timing reported"));
        };
        if r.timing.below_floor {
            return Some(format!(
                "suspect timing: p50 {:.2} us is below the bytes/FLOPs floor {:.2} us",
                r.timing.p50_us,
                r.timing.floor_us.unwrap_or(f64::NAN)
            ));
        }
        if let Some(s) = self.speedup(kernel, mode).filter(|s| s.suspect) {
            return Some(format!(
                "suspect timing: {:.1}x faster than {} (more than {}x)",
                s.speedup,
                s.baseline,
                bench::work::SUSPECT_SPEEDUP
            ));
        }
        None
    }

    fn result(&self, kernel: &str, mode: Mode) -> Option<&KernelResult> {
        self.results
            .iter()
            .find(|r| r.kernel == kernel && r.timing.mode == mode)
    }

    fn speedup(&self, kernel: &str, mode: Mode) -> Option<&Speedup> {
        self.speedups
            .iter()
            .find(|s| s.kernel == kernel && s.mode == mode)
    }
}

/// One test case per kernel x mode (suite `bench.<config>`, name `<kernel> <mode>`),
/// failing when the kernel was wrong or its timing suspect; p50/p90 (and the speed-up
/// over the fastest baseline) as properties and as the case's text.
pub fn junit(run: &Run<'_>) -> Junit {
    let suite = format!("bench.{}", run.config);
    let mut j = Junit::new("bench");
    for k in run.kernels {
        for &mode in run.modes {
            let failure = run.failure(k, mode);
            let mut text = Vec::new();
            let mut case = Case::outcome(format!("{k} {mode}"), failure.clone());
            if let Some(r) = run.result(k, mode) {
                let t = &r.timing;
                text.push(format!(
                    "p50 {:.2} us, p90 {:.2} us ({} samples, {}, rel stdev {:.2}%)",
                    t.p50_us,
                    t.p90_us,
                    t.samples,
                    t.method,
                    t.rel_stdev * 100.0
                ));
                case = case
                    .property("p50_us", format!("{:.3}", t.p50_us))
                    .property("p90_us", format!("{:.3}", t.p90_us))
                    .property("samples", t.samples);
            }
            if let Some(s) = run.speedup(k, mode) {
                text.push(format!(
                    "{:.2}x against the fastest baseline ({})",
                    s.speedup, s.baseline
                ));
                case = case
                    .property("speedup", format!("{:.3}", s.speedup))
                    .property("baseline", &s.baseline);
            }
            if let Some(f) = failure {
                text.insert(0, f);
            }
            j.push(&suite, case.detail(text.join("\n")));
        }
    }
    j
}

/// The job summary: verdict and reason, then one line per kernel: p50 cold and hot, the
/// speed-up over the fastest baseline per mode, and the verdict.
pub fn markdown(run: &Run<'_>, verdict: &str, reason: &str) -> String {
    let mut md = format!(
        "### bench `{}`: {verdict}\n\n{}\n\n",
        run.config,
        reason.chars().take(200).collect::<String>()
    );
    let p50 = |k: &str, m: Mode| {
        run.result(k, m)
            .map(|r| format!("{:.2}", r.timing.p50_us))
            .unwrap_or_else(|| "-".into())
    };
    let rows: Vec<Vec<String>> = run
        .kernels
        .iter()
        .map(|k| {
            let speedups: Vec<String> = run
                .modes
                .iter()
                .filter_map(|&m| {
                    run.speedup(k, m)
                        .map(|s| format!("{m} {:.2}x ({})", s.speedup, s.baseline))
                })
                .collect();
            let failures: Vec<String> = run
                .modes
                .iter()
                .filter_map(|&m| run.failure(k, m).map(|f| format!("{m}: {f}")))
                .collect();
            vec![
                run.config.to_string(),
                k.clone(),
                p50(k, Mode::Cold),
                p50(k, Mode::Hot),
                if speedups.is_empty() {
                    "-".into()
                } else {
                    speedups.join(", ")
                },
                if failures.is_empty() {
                    "pass".into()
                } else {
                    format!("FAIL: {}", failures.join("; "))
                },
            ]
        })
        .collect();
    md.push_str(&markdown_table(
        &[
            "config",
            "kernel",
            "p50 cold (us)",
            "p50 hot (us)",
            "speedup vs fastest baseline",
            "verdict",
        ],
        &rows,
    ));
    md
}

/// `bench compare`: one test case per compared set x mode (suite `bench.compare`, name
/// `<name> <mode>`), failing when the new run is SLOWER beyond the noise threshold.
pub fn junit_compare(report: &bench::compare::Report) -> Junit {
    let mut j = Junit::new("bench");
    for r in &report.rows {
        let c = &r.change;
        let text = format!(
            "{}: p50 {:.2} -> {:.2} us ({:+.1}%, 95% CI [{:+.1}%, {:+.1}%], p = {:.2e}, n {} / {})",
            c.call,
            c.old_p50_us,
            c.new_p50_us,
            c.change * 100.0,
            c.ci_low * 100.0,
            c.ci_high * 100.0,
            c.p_value,
            c.old_n,
            c.new_n
        );
        let failure = (c.call == bench::Call::Slower).then(|| text.clone());
        j.push(
            "bench.compare",
            Case::outcome(format!("{} {}", r.name, r.mode), failure)
                .detail(text)
                .property("call", c.call)
                .property("old_p50_us", format!("{:.3}", c.old_p50_us))
                .property("new_p50_us", format!("{:.3}", c.new_p50_us)),
        );
    }
    j
}

#[cfg(test)]
mod tests {
    use super::*;
    use bench::record::Timing;

    fn timing(mode: Mode, p50: f64, p90: f64, below_floor: bool) -> Timing {
        serde_json::from_value(serde_json::json!({
            "mode": mode, "p50_us": p50, "p90_us": p90, "samples": 1000,
            "min_us": p50 * 0.99, "p10_us": p50 * 0.995, "p99_us": p90 * 1.01,
            "mean_us": p50, "stdev_us": 0.01, "rel_stdev": 0.001, "rel_iqr": 0.001,
            "stop_reason": "converged", "sampling_s": 0.5, "launches_per_sample": 1,
            "method": "events", "tflops": 100.0, "gbs": 1000.0,
            "frac_peak_flops": 0.1, "frac_peak_bandwidth": 0.1,
            "floor_us": 1.0, "below_floor": below_floor,
        }))
        .expect("a Timing")
    }

    fn result(kernel: &str, mode: Mode, p50: f64, p90: f64, below: bool) -> KernelResult {
        KernelResult {
            kernel: kernel.into(),
            launch: None,
            timing: timing(mode, p50, p90, below),
        }
    }

    fn check(kernel: &str, when: &str, reason: Option<&str>) -> Correctness {
        Correctness {
            kernel: kernel.into(),
            when: when.into(),
            passed: reason.is_none(),
            max_abs_err: 1e-4,
            bound: 1e-3,
            heads: vec![(0, 0)],
            reason: reason.map(str::to_string),
        }
    }

    fn speedup(kernel: &str, mode: Mode, x: f64) -> Speedup {
        Speedup {
            kernel: kernel.into(),
            mode,
            baseline: "torch_sdpa_cudnn".into(),
            speedup: x,
            suspect: x > bench::work::SUSPECT_SPEEDUP,
        }
    }

    /// fa_tc: good in both modes; too_fast: hot below the floor and a 40x speed-up;
    /// wrong: wrong before timing, so no timing at all.
    fn records() -> (
        Vec<String>,
        Vec<KernelResult>,
        Vec<Correctness>,
        Vec<Speedup>,
    ) {
        let kernels = vec!["fa_tc".into(), "too_fast".into(), "wrong".into()];
        let results = vec![
            result("fa_tc", Mode::Cold, 10.82, 11.02, false),
            result("fa_tc", Mode::Hot, 7.55, 7.61, false),
            result("too_fast", Mode::Cold, 12.0, 12.5, false),
            result("too_fast", Mode::Hot, 0.2, 0.3, true),
        ];
        let correctness = vec![
            check("fa_tc", "before", None),
            check("fa_tc", "after_cold", None),
            check("fa_tc", "after_hot", None),
            check("too_fast", "before", None),
            check("wrong", "before", Some("max abs err 0.5 > bound 1e-3")),
        ];
        let speedups = vec![
            speedup("fa_tc", Mode::Cold, 2.91),
            speedup("fa_tc", Mode::Hot, 1.25),
            speedup("too_fast", Mode::Hot, 40.0),
        ];
        (kernels, results, correctness, speedups)
    }

    #[test]
    fn junit_has_one_case_per_kernel_and_mode_with_p50_and_p90() {
        let (kernels, results, correctness, speedups) = records();
        let run = Run {
            config: "canon_3",
            kernels: &kernels,
            modes: &[Mode::Cold, Mode::Hot],
            results: &results,
            correctness: &correctness,
            speedups: &speedups,
        };
        let r = cli_support::ci::read_junit(&junit(&run).to_xml().unwrap()).expect("JUnit");
        assert_eq!(r.suites.len(), 1);
        assert_eq!(r.suites[0].name, "bench.canon_3");
        assert_eq!((r.tests(), r.failures()), (6, 3));
        let s = "bench.canon_3";
        let hot = r.case(s, "fa_tc hot").expect("fa_tc hot");
        assert_eq!(hot.failure, None);
        assert_eq!(hot.property("p50_us"), Some("7.550"));
        assert_eq!(hot.property("p90_us"), Some("7.610"));
        assert_eq!(hot.property("speedup"), Some("1.250"));
        assert!(
            hot.system_out.starts_with("p50 7.55 us, p90 7.61 us"),
            "{}",
            hot.system_out
        );
        assert_eq!(r.case(s, "too_fast cold").unwrap().failure, None);
        let (msg, body) = r.case(s, "too_fast hot").unwrap().failure.clone().unwrap();
        assert!(msg.contains("below the bytes/FLOPs floor"), "{msg}");
        assert!(body.contains("p50 0.20 us, p90 0.30 us"), "{body}");
        for mode in ["cold", "hot"] {
            let (msg, _) = r
                .case(s, &format!("wrong {mode}"))
                .unwrap()
                .failure
                .clone()
                .unwrap();
            assert_eq!(msg, "wrong output (before): max abs err 0.5 > bound 1e-3");
        }
    }

    #[test]
    fn a_suspect_speedup_alone_fails_the_case() {
        let kernels = vec!["k".to_string()];
        let results = vec![result("k", Mode::Hot, 1.0, 1.1, false)];
        let speedups = vec![speedup("k", Mode::Hot, 12.0)];
        let run = Run {
            config: "canon_1",
            kernels: &kernels,
            modes: &[Mode::Hot],
            results: &results,
            correctness: &[],
            speedups: &speedups,
        };
        let r = cli_support::ci::read_junit(&junit(&run).to_xml().unwrap()).expect("JUnit");
        let (msg, _) = r
            .case("bench.canon_1", "k hot")
            .unwrap()
            .failure
            .clone()
            .unwrap();
        assert!(msg.contains("12.0x faster than torch_sdpa_cudnn"), "{msg}");
    }

    #[test]
    fn markdown_has_p50_cold_and_hot_and_the_speedup_per_kernel() {
        let (kernels, results, correctness, speedups) = records();
        let run = Run {
            config: "canon_3",
            kernels: &kernels,
            modes: &[Mode::Cold, Mode::Hot],
            results: &results,
            correctness: &correctness,
            speedups: &speedups,
        };
        let md = markdown(&run, "FAIL", "wrong output, no time reported: wrong");
        assert!(md.starts_with("### bench `canon_3`: FAIL\n"), "{md}");
        assert!(
            md.contains("| canon_3 | fa_tc | 10.82 | 7.55 | cold 2.91x (torch_sdpa_cudnn), hot 1.25x (torch_sdpa_cudnn) | pass |"),
            "{md}"
        );
        assert!(
            md.contains("| canon_3 | wrong | - | - | - | FAIL: cold: wrong output"),
            "{md}"
        );
        assert!(md.contains("| canon_3 | too_fast | 12.00 | 0.20 |"), "{md}");
    }
}
