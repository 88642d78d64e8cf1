//! Hardening (issue 11): nothing in a kernel manifest reaches a shell.
//!
//! nvcc 13.0 runs its sub-tools through a shell and leaves `$(...)` and backticks in a
//! `-D` value or a source file name unquoted: `nvcc -DX='$(touch /tmp/f)1'` creates the
//! file. The manifest validation accepts such defines (only spaces and `-D` are refused),
//! so the build refuses them before nvcc runs. These tests plant a command that would
//! create a marker file and check that the build fails with a clear reason and the marker
//! never appears. With the real nvcc when present; the refusal needs no toolchain.

use std::path::Path;

use cudadent_config::{Arch, KernelManifest};
use kernel_runtime::build::{build_kernel, nvcc_shell_hazard, BuildOptions};
use kernel_runtime::toolchain;
use kernel_runtime::RuntimeError;

const MANIFEST: &str = r#"name = "k"
source = "SOURCE"
entry = "k_fwd"
abi = "attention_fwd_v1"
block_m = 64
threads = 128
head_dims = [64]
dtypes = ["f16"]
seq_multiple = 1
min_arch = "sm_80"
tensor_cores = false
DEFINES

[dynamic_shared_bytes]
"64" = 1024
"#;

const SOURCE: &str =
    "#ifndef X\n#define X 1\n#endif\nextern \"C\" __global__ void k_fwd(int* p) { *p = X; }\n";

/// Builds a kernel whose source is `source_name` and whose defines are `defines`; returns
/// the build result (None without a toolchain) and whether the marker file appeared.
fn build_with(dir: &Path, source_name: &str, defines: &str) -> Option<Result<(), RuntimeError>> {
    let tc = test_support::toolchain_or_skip("hardening_nvcc_shell", toolchain::discover(None))?;
    std::fs::write(dir.join(source_name), SOURCE).expect("write source");
    let text = MANIFEST
        .replace("SOURCE", source_name)
        .replace("DEFINES", defines);
    let manifest_path = dir.join("k.toml");
    let m = KernelManifest::parse(&manifest_path, &text).expect("manifest validates");
    let opts = BuildOptions {
        archs: vec!["sm_80".parse::<Arch>().expect("arch")],
        debug: true,
        cache_dir: dir.join("cache"),
    };
    Some(build_kernel(&tc, &m, &opts).map(|_| ()))
}

fn assert_refused(result: Result<(), RuntimeError>, marker: &Path) {
    let e = result.expect_err("the build must be refused");
    assert_eq!(e.exit_code(), 2, "bad input: {e}");
    let msg = e.to_string();
    assert!(msg.contains("refused") && msg.contains("shell"), "{msg}");
    assert!(
        !marker.exists(),
        "the planted command ran: {}",
        marker.display()
    );
}

#[test]
fn command_substitution_in_a_define_never_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("pwned");
    let m = marker.display();
    for define in [
        format!("defines = [\"X=$(touch${{IFS}}{m})1\"]"),
        format!("defines = [\"X=`touch${{IFS}}{m}`1\"]"),
        format!("debug_defines = [\"X=$(touch${{IFS}}{m})1\"]"),
    ] {
        let Some(result) = build_with(dir.path(), "k.cu", &define) else {
            return;
        };
        assert_refused(result, &marker);
    }
}

#[test]
fn command_substitution_in_the_source_file_name_never_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(result) = build_with(dir.path(), "a$(touch${IFS}pwned).cu", "") else {
        return;
    };
    assert_refused(result, &dir.path().join("pwned"));
}

#[test]
fn ordinary_defines_still_build() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(result) = build_with(
        dir.path(),
        "k.cu",
        "defines = [\"X=(1<<3)\", \"Y=a;b\", \"Z\"]\ndebug_defines = [\"W=1.5f\"]",
    ) else {
        return;
    };
    result.expect("ordinary defines build");
}

#[test]
fn shell_hazards_are_named() {
    assert_eq!(nvcc_shell_hazard("-DX=$(id)"), Some('$'));
    assert_eq!(nvcc_shell_hazard("-DX=`id`"), Some('`'));
    assert_eq!(nvcc_shell_hazard("-DX=a\\b"), Some('\\'));
    assert_eq!(nvcc_shell_hazard("-DX=a\nb"), Some('\n'));
    assert_eq!(nvcc_shell_hazard("-DBLOCK_M=64"), None);
    assert_eq!(nvcc_shell_hazard("fa_tc.cu"), None);
}
