//! The real `cudadent` and `oracle` binaries on this (CPU-only) machine: exit codes and
//! messages of DESIGN.md. Where a GPU driver is present the GPU expectations are skipped.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

fn cudadent(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_cudadent"))
        .args(args)
        .current_dir(repo())
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .expect("run cudadent");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn has_driver() -> bool {
    kernel_runtime::device::probe_driver().is_ok()
}

fn has_toolchain() -> bool {
    let ok = kernel_runtime::toolchain::discover(None).is_ok();
    if !ok && std::env::var("CUDADENT_REQUIRE_TOOLCHAIN").as_deref() == Ok("1") {
        panic!("CUDADENT_REQUIRE_TOOLCHAIN=1 but no CUDA toolchain was found");
    }
    ok
}

#[test]
fn bad_config_is_exit_2_naming_file_line_and_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(repo().join("configs/canon_3.toml"))
        .expect("canon_3")
        .replace("head_dim = 64", "head_dim = 64\nhead_dims = 64")
        .replace("../kernels", &repo().join("kernels").display().to_string());
    let p = dir.path().join("bad.toml");
    std::fs::write(&p, text).expect("write");
    let (code, _, err) = cudadent(&["--config", p.to_str().expect("utf8"), "verify"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad.toml:10"), "{err}");
    assert!(err.contains("unknown field `head_dims`"), "{err}");
}

#[test]
fn unknown_gate_name_is_bad_input() {
    let (code, _, err) = cudadent(&["verify", "--only", "vibes"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown gate `vibes`"), "{err}");
}

#[test]
fn missing_toolchain_is_exit_3_with_the_install_command() {
    let empty = tempfile::tempdir().expect("tempdir");
    let (code, _, err) = cudadent(&["--cuda-root", empty.path().to_str().expect("utf8"), "build"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("nvcc not found"), "{err}");
    assert!(err.contains("scripts/install-cuda-toolchain.sh"), "{err}");
}

#[test]
fn doctor_names_each_piece() {
    let (code, out, err) = cudadent(&["doctor"]);
    for piece in [
        "nvcc",
        "cuobjdump",
        "GPU",
        "compute-sanitizer",
        "ncu",
        "python3",
    ] {
        assert!(out.contains(piece), "doctor output lacks {piece}:\n{out}");
    }
    if has_toolchain() {
        assert_eq!(code, 0, "{out}{err}");
    }
    if !has_driver() {
        assert!(out.contains("MISSING  GPU: disables oracle"), "{out}");
    }
}

#[test]
fn verify_without_gpu_builds_then_reports_gpu_gates_not_run() {
    if has_driver() || !has_toolchain() {
        eprintln!("skipped: needs a toolchain and no GPU driver");
        return;
    }
    let out_dir = tempfile::tempdir().expect("tempdir");
    let junit = out_dir.path().join("ci/verify.xml");
    let (code, out, err) = cudadent(&[
        "--config",
        "configs/canon_1.toml",
        "--out",
        out_dir.path().to_str().expect("utf8"),
        "--junit",
        junit.to_str().expect("utf8"),
        "verify",
    ]);
    assert_eq!(code, 3, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("build") && out.contains("pass"), "{out}");
    assert!(out.contains("not run"), "{out}");
    assert!(err.contains("no CUDA driver"), "{err}");
    // --junit: a case per stage (GPU gates skipped, not passed), and each gate that ran
    // wrote its own report beside it.
    let read = |p: &Path| {
        cli_support::ci::read_junit(&std::fs::read_to_string(p).expect("junit written"))
            .expect("valid JUnit")
    };
    let r = read(&junit);
    let stages: Vec<(&str, bool, bool)> = r
        .cases()
        .map(|(_, c)| (c.name.as_str(), c.failure.is_some(), c.skipped.is_some()))
        .collect();
    assert_eq!(
        stages,
        [
            ("build", false, false),
            ("inspect", false, false),
            ("oracle", false, true),
            ("sanitizer", false, true),
            ("bench", false, true),
        ]
    );
    let inspect = read(&out_dir.path().join("ci/verify.sass-inspect.xml"));
    assert_eq!(inspect.suites[0].name, "sass-inspect.canon_1");
    assert!(inspect.tests() > 1 && inspect.failures() == 0);
}

#[test]
fn oracle_without_gpu_is_exit_3_and_says_why() {
    if has_driver() || !has_toolchain() {
        eprintln!("skipped: needs a toolchain and no GPU driver");
        return;
    }
    let oracle = Path::new(env!("CARGO_BIN_EXE_cudadent")).with_file_name("oracle");
    if !oracle.is_file() {
        panic!(
            "oracle binary not built beside cudadent ({}): run cargo test --workspace",
            oracle.display()
        );
    }
    let o = Command::new(&oracle)
        .args(["--config", "configs/canon_1.toml"])
        .current_dir(repo())
        .output()
        .expect("run oracle");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("no CUDA driver"), "{err}");
}
