//! `bench --icache-flush` is a flag of the bench (not bad input); like any timing it then
//! needs the GPU: exit 3 on a machine without one, naming what is missing. On the GPU machine
//! it runs for real (device stage `icachebench`).

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_flag_parses_and_then_needs_a_gpu() {
    if kernel_runtime::device::probe_driver().is_ok() {
        eprintln!("a GPU is present: the device stage covers this flag");
        return;
    }
    let out = tempfile::tempdir().expect("tempdir");
    let o = Command::new(env!("CARGO_BIN_EXE_bench"))
        .current_dir(root())
        .args([
            "--config",
            "configs/canon_3.toml",
            "--icache-flush",
            "--mode",
            "cold",
        ])
        .args(["--no-torch", "--no-cublas", "--quiet", "--out"])
        .arg(out.path())
        .output()
        .expect("run bench");
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "stderr: {e}");
    assert!(!e.contains("unexpected argument"), "{e}");
}
