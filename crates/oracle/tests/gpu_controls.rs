//! On a machine with a GPU: the real `oracle` binary passes the shipped kernels and catches
//! every negative control. Without a driver the test says so and returns (CI machines have
//! no GPU; the H100 runs are committed under artifacts/oracle/).

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn oracle(args: &[&str], out: &Path) -> (Option<i32>, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_oracle"))
        .args(args)
        .args(["--out", out.to_str().expect("utf8")])
        .current_dir(repo())
        .output()
        .expect("run oracle");
    (
        o.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

fn gpu_present() -> bool {
    match kernel_runtime::device::probe_driver() {
        Ok(()) => true,
        Err(e) => {
            eprintln!("skipped (no GPU here): {e}");
            false
        }
    }
}

#[test]
fn shipped_kernels_pass_and_every_control_is_caught_on_canon_5() {
    if !gpu_present() {
        return;
    }
    let out = tempfile::tempdir().expect("tempdir");
    let (code, text) = oracle(&["--config", "configs/canon_5.toml"], out.path());
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = oracle(
        &["--config", "configs/canon_5.toml", "--controls"],
        out.path(),
    );
    assert_eq!(code, Some(0), "every control must be caught:\n{text}");
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("oracle/canon_5/controls.json"))
            .expect("controls.json"),
    )
    .expect("json");
    for k in v["kernel_outcomes"].as_array().expect("outcomes") {
        assert_eq!(k["passed"], false, "control {} passed", k["kernel"]);
        assert!(
            k["first_failure"].as_str().is_some_and(|r| !r.is_empty()),
            "{k}"
        );
    }
}

#[test]
fn the_committed_evidence_records_every_control_caught_with_its_reason() {
    // CPU-side check of the committed H100 evidence: the controls file lists each oracle
    // control of kernels/selftest, each failed, each with a reason.
    let p = repo().join("artifacts/oracle/canon_5/controls.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p).expect("controls.json")).expect("json");
    assert_eq!(v["verdict"], "pass");
    let names: Vec<&str> = v["kernel_outcomes"]
        .as_array()
        .expect("outcomes")
        .iter()
        .map(|k| k["kernel"].as_str().expect("name"))
        .collect();
    for expected in [
        "accumulates_into_output",
        "causal_off_by_one",
        "drops_key",
        "ignores_scale",
        "input_clobber",
        "no_max_subtraction",
        "tail_rows_unwritten",
        "writes_past_slice",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
}
