//! The real `sanitizer-gate` binary: `--from-log` on fixture logs (no GPU needed), and the
//! "cannot run here" exits.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sanitizer-gate"))
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(args: &[&str]) -> (i32, String, String) {
    // A CI runner's own job summary must not collect the tests' tables.
    let o: Output = bin()
        .args(args)
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .expect("run sanitizer-gate");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn from_log_reports_findings_and_fails() {
    let log = fixture("memcheck_demo_debug.doc-example.log");
    let (code, out, err) = run(&[
        "--from-log",
        s(&log),
        "--tool",
        "memcheck",
        "--kernel-name",
        "memcheck_demo",
    ]);
    assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("out_of_bounds"), "{out}");
    assert!(out.contains("memcheck_demo.cu:39"), "{out}");
    assert!(out.contains("FAIL"), "{out}");
}

#[test]
fn from_log_passes_a_clean_run_and_says_the_control_is_not_rechecked() {
    let log = fixture("clean_memcheck.composed.log");
    let (code, out, err) = run(&["--from-log", s(&log), "--tool", "memcheck"]);
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("fa_s512_v3 under memcheck: PASS"), "{out}");
    assert!(out.contains("control is not re-checked"), "{out}");
}

#[test]
fn from_log_writes_junit_and_the_job_summary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let junit = dir.path().join("junit/from-log.xml");
    let step_summary = dir.path().join("step_summary.md");
    std::fs::write(&step_summary, "# earlier step\n").expect("write");
    let log = fixture("memcheck_demo_debug.doc-example.log");
    let o = bin()
        .args([
            "--from-log",
            s(&log),
            "--tool",
            "memcheck",
            "--kernel-name",
            "memcheck_demo",
            "--json",
            "--junit",
            s(&junit),
        ])
        .env("GITHUB_STEP_SUMMARY", &step_summary)
        .output()
        .expect("run sanitizer-gate");
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let errors = v["errors"].as_u64().expect("errors");
    assert!(errors > 0, "{v}");
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    let r = cli_support::ci::read_junit(&xml).expect("valid JUnit");
    assert_eq!(r.suites.len(), 1);
    assert_eq!(r.suites[0].name, "sanitizer-gate.from-log");
    assert_eq!((r.tests(), r.failures()), (1, 1));
    let case = r
        .case("sanitizer-gate.from-log", "memcheck_demo memcheck")
        .expect("one case: kernel x tool");
    let (message, _) = case.failure.as_ref().expect("fails");
    assert_eq!(
        message,
        &format!("fail: {}", v["reason"].as_str().expect("reason"))
    );
    assert_eq!(case.property("errors"), Some(errors.to_string().as_str()));
    let md = std::fs::read_to_string(&step_summary).expect("step summary");
    assert!(md.starts_with("# earlier step\n"), "{md}");
    assert!(
        md.contains(&format!(
            "### sanitizer-gate --from-log `{}`: FAIL",
            s(&log)
        )),
        "{md}"
    );
    assert!(
        md.contains("| kernel | memcheck errors | verdict |"),
        "{md}"
    );
    assert!(
        md.contains(&format!("| memcheck_demo | {errors}, fail | fail |")),
        "{md}"
    );

    // A caught control passes: its case passes and says so.
    let log = fixture("racecheck_block_error.doc-example.log");
    let (code, out, err) = run(&[
        "--from-log",
        s(&log),
        "--tool",
        "racecheck",
        "--control",
        "--junit",
        s(&junit),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let r = cli_support::ci::read_junit(&std::fs::read_to_string(&junit).expect("junit"))
        .expect("valid JUnit");
    assert_eq!((r.tests(), r.failures()), (1, 0));
    let (_, case) = r.cases().next().expect("one case");
    assert!(case.name.ends_with(" (control) racecheck"), "{}", case.name);
    assert_eq!(case.property("caught"), Some("true"));
}

#[test]
fn from_log_device_not_supported_is_an_error() {
    let log = fixture("gvisor_device_not_supported.composed.log");
    let (code, out, _) = run(&[
        "--from-log",
        s(&log),
        "--tool",
        "memcheck",
        "--kernel-name",
        "fa_s512_v3",
    ]);
    assert_eq!(code, 1);
    assert!(out.contains("ERROR"), "{out}");
    assert!(out.contains("does not support this device"), "{out}");
}

#[test]
fn from_log_json_is_the_evaluation() {
    let log = fixture("racecheck_block_error.doc-example.log");
    let (code, out, err) = run(&[
        "--from-log",
        s(&log),
        "--tool",
        "racecheck",
        "--kernel-name",
        "block_error",
        "--json",
    ]);
    assert_eq!(code, 1, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["verdict"], "fail");
    assert_eq!(v["tool"], "racecheck");
    assert_eq!(v["errors"], 1);
    assert_eq!(v["warnings"], 0);
    let f = &v["findings"][0];
    assert_eq!(f["kind"], "race_hazard");
    assert_eq!(f["hazards"], 508);
    assert_eq!(
        f["location"],
        "/home/cuda/github/compute-sanitizer-samples/Racecheck/block_error.cu:41"
    );
    assert_eq!(f["suppressed"], false);
}

#[test]
fn from_log_control_must_be_caught() {
    let log = fixture("racecheck_block_error.doc-example.log");
    let (code, out, err) = run(&[
        "--from-log",
        s(&log),
        "--tool",
        "racecheck",
        "--control",
        "--json",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["caught"], true);
    let log = fixture("clean_racecheck.composed.log");
    let (code, _, _) = run(&["--from-log", s(&log), "--tool", "racecheck", "--control"]);
    assert_eq!(code, 1, "a clean log does not catch a planted bug");
}

#[test]
fn from_log_applies_the_configs_suppressions_on_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clean = std::fs::read_to_string(fixture("clean_memcheck.composed.log")).expect("read");
    let with_oob = clean
        .replace(
            "========= LEAK SUMMARY",
            "========= Invalid __global__ write of size 4 bytes\n=========     at fa_s512_v3_fwd+0xe0 in fa_s512_v3.cu:120\n=========     by thread (5,0,0) in block (1,0,0)\n=========     Access at 0x7f0000001000 is out of bounds\n=========\n========= LEAK SUMMARY",
        )
        .replace("ERROR SUMMARY: 0 errors", "ERROR SUMMARY: 1 error");
    let log = dir.path().join("fa_s512_v3.memcheck.log");
    std::fs::write(&log, with_oob).expect("write log");
    let kernels = repo().join("kernels/attention");
    let config = |suppress: &str| {
        format!(
            "name = \"supp\"\n[problem]\nbatch = 1\nheads = 8\nseq_len = 128\nhead_dim = 64\ncausal = false\ndtype = \"f16\"\n[kernels]\nunder_test = [\"{}\"]\n{suppress}",
            s(&kernels.join("fa_s512_v3.toml"))
        )
    };
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        config("[[sanitizer.suppress]]\ntool = \"memcheck\"\nkind = \"out_of_bounds\"\nkernel = \"fa_s512_v3\"\nlocation = \"fa_s512_v3.cu:120\"\nreason = \"known, fixed in v4\"\n"),
    )
    .expect("write config");
    let (code, out, err) = run(&["--from-log", s(&log), "--tool", "memcheck"]);
    assert_eq!(code, 1, "without suppressions: {out}{err}");
    let (code, out, err) = run(&[
        "--from-log",
        s(&log),
        "--tool",
        "memcheck",
        "--apply-suppressions",
        "--config",
        s(&good),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("suppressed"), "{out}");

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        config("[[sanitizer.suppress]]\ntool = \"memcheck\"\nkind = \"oob\"\nkernel = \"fa_s512_v3\"\nreason = \"r\"\n"),
    )
    .expect("write config");
    let (code, _, err) = run(&[
        "--from-log",
        s(&log),
        "--tool",
        "memcheck",
        "--apply-suppressions",
        "--config",
        s(&bad),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown kind `oob`"), "{err}");
}

#[test]
fn from_log_bad_input_exits_2() {
    let log = fixture("clean_memcheck.composed.log");
    let (code, _, err) = run(&["--from-log", s(&log)]);
    assert_eq!(code, 2);
    assert!(err.contains("exactly one --tool"), "{err}");
    let (code, _, _) = run(&[
        "--from-log",
        s(&log),
        "--tool",
        "memcheck",
        "--tool",
        "racecheck",
    ]);
    assert_eq!(code, 2);
    let (code, _, err) = run(&["--from-log", s(&log), "--tool", "asan"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown tool `asan`"), "{err}");
    let (code, _, err) = run(&["--from-log", "/nonexistent/x.log", "--tool", "memcheck"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read"), "{err}");
}

#[test]
fn a_missing_compute_sanitizer_exits_3_with_a_reason() {
    let config = repo().join("configs/canon_3.toml");
    let out = tempfile::tempdir().expect("tempdir");
    let (code, _, err) = run(&[
        "--config",
        s(&config),
        "--out",
        s(out.path()),
        "--compute-sanitizer",
        "/nonexistent/compute-sanitizer",
    ]);
    assert_eq!(code, 3, "{err}");
    // Without nvcc this machine fails one step earlier, also with exit 3.
    assert!(
        err.contains("compute-sanitizer not found at /nonexistent/compute-sanitizer")
            || err.contains("nvcc not found"),
        "{err}"
    );
}
