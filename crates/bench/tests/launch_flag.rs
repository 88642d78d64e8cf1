//! `bench --launch NAME`: a launch the kernels under test do not have at the config's head
//! dim is bad input (exit 2) before any GPU is needed; a launch they have passes that check
//! (and then needs the GPU: exit 3 on a machine without one).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn bench(config: &str, launch: &str) -> Output {
    let out = tempfile::tempdir().expect("tempdir");
    Command::new(env!("CARGO_BIN_EXE_bench"))
        .current_dir(root())
        .args([
            "--config",
            config,
            "--kernel",
            "kernels/attention/fa_tc.toml",
        ])
        .args([
            "--launch",
            launch,
            "--no-torch",
            "--no-cublas",
            "--quiet",
            "--out",
        ])
        .arg(out.path())
        .output()
        .expect("run bench")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn an_unknown_launch_is_bad_input_naming_the_launches_there_are() {
    let o = bench("configs/canon_4.toml", "nope");
    assert_eq!(o.status.code(), Some(2), "stderr: {}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("kernel `fa_tc` has no launch `nope` at D=128")
            && e.contains("(it has: default, wgmma_d128)"),
        "{e}"
    );
}

#[test]
fn a_launch_of_another_head_dim_is_bad_input() {
    // wgmma_d128 is a D = 128 launch; canon_6 is D = 64.
    let o = bench("configs/canon_6.toml", "wgmma_d128");
    assert_eq!(o.status.code(), Some(2), "stderr: {}", stderr(&o));
    assert!(
        stderr(&o).contains("(it has: default, small_grid, wgmma_ks2, wgmma_tma)"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_launch_the_kernel_has_passes_the_check() {
    let o = bench("configs/canon_4.toml", "default");
    assert_ne!(o.status.code(), Some(2), "stderr: {}", stderr(&o));
}
