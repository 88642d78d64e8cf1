//! Hardening (issue 11), the GPU half: the committed log of `scripts/device-hardening.sh`
//! (`artifacts/device-logs/hardening.log`, written on the H100 by the script, one
//! `PASS name: ...` or `FAIL name: ...` line per case) must hold every case the script
//! runs, each passed. A case that failed, went missing or was renamed without the log
//! being regenerated fails here, on a CPU-only CI machine.

use std::path::Path;

/// The cases of scripts/device-hardening.sh, in its order.
const CASES: [&str; 9] = [
    "trap.oracle",
    "trap.bench",
    "oom.context.oracle",
    "oom.context.bench",
    "oom.buffers.bench",
    "notorch.bench",
    "hang.sanitizer",
    "sigint.bench",
    "sigint.sanitizer",
];

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

#[test]
fn every_gpu_hardening_case_passed_in_the_committed_log() {
    let log = std::fs::read_to_string(repo().join("artifacts/device-logs/hardening.log"))
        .expect("the committed GPU hardening log");
    let verdicts: Vec<(&str, &str)> = log
        .lines()
        .filter_map(|l| {
            let (verdict, rest) = l.split_once(' ')?;
            let name = rest.split_once(':')?.0;
            matches!(verdict, "PASS" | "FAIL").then_some((verdict, name))
        })
        .collect();
    let names: Vec<&str> = verdicts.iter().map(|v| v.1).collect();
    assert_eq!(names, CASES, "the log's cases differ from the script's");
    let failed: Vec<&str> = verdicts
        .iter()
        .filter(|v| v.0 != "PASS")
        .map(|v| v.1)
        .collect();
    assert!(failed.is_empty(), "failed on the GPU: {failed:?}");
}

#[test]
fn the_script_runs_exactly_these_cases() {
    let script = std::fs::read_to_string(repo().join("scripts/device-hardening.sh"))
        .expect("scripts/device-hardening.sh");
    for case in CASES {
        let runs = script.contains(&format!("run {case} "))
            || script.contains(&format!("interrupt {case} "));
        assert!(runs, "the script does not run `{case}`");
    }
}
