//! Re-evaluates the real compute-sanitizer logs committed under `artifacts/sanitizers/`
//! (captured on the H100 by the gate itself, compute-sanitizer 2025.3.1, driver 580) with
//! `sanitizer-gate --from-log`, and requires the same verdict as the gate's summary.json:
//! kernels under test clean, every planted-bug control caught. CI runs this on every push,
//! so a parser change that would misread real output fails here.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn controls() -> Vec<String> {
    std::fs::read_dir(repo().join("kernels/selftest"))
        .expect("kernels/selftest")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect()
}

#[test]
fn every_committed_log_re_evaluates_to_its_recorded_verdict() {
    let root = repo().join("artifacts/sanitizers");
    let controls = controls();
    let mut seen = 0;
    let mut failures = Vec::new();
    for cfg in std::fs::read_dir(&root).expect("artifacts/sanitizers") {
        let dir = cfg.expect("entry").path();
        let summary: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("summary.json")).expect("summary.json"),
        )
        .expect("summary parses");
        for run in summary["runs"].as_array().expect("runs") {
            let kernel = run["kernel"].as_str().expect("kernel");
            let tool = run["tool"].as_str().expect("tool");
            let log = dir.join(format!("{kernel}.{tool}.log"));
            let is_control = controls.iter().any(|c| c == kernel);
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_sanitizer-gate"));
            cmd.args([
                "--from-log",
                log.to_str().expect("utf8"),
                "--tool",
                tool,
                "--kernel-name",
                kernel,
                "--json",
            ]);
            if is_control {
                cmd.arg("--control");
            }
            let o = cmd.output().expect("run sanitizer-gate");
            let out = String::from_utf8_lossy(&o.stdout);
            let v: serde_json::Value = match serde_json::from_str(&out) {
                Ok(v) => v,
                Err(e) => {
                    failures.push(format!(
                        "{}: no JSON ({e}): {}",
                        log.display(),
                        String::from_utf8_lossy(&o.stderr)
                    ));
                    continue;
                }
            };
            seen += 1;
            if o.status.code() != Some(0) {
                failures.push(format!(
                    "{}: exit {:?}, want 0: {out}",
                    log.display(),
                    o.status.code()
                ));
            }
            if is_control && v["caught"] != true {
                failures.push(format!(
                    "{}: control not caught on re-evaluation",
                    log.display()
                ));
            }
            if !is_control && run["verdict"] != "pass" {
                failures.push(format!(
                    "{}: recorded verdict {}, want pass",
                    log.display(),
                    run["verdict"]
                ));
            }
        }
    }
    assert!(seen >= 20, "only {seen} committed logs found");
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
