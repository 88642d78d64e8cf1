//! Builds with the real nvcc (the pinned toolchain in CI). Without a toolchain these tests
//! say so and return, unless CUDADENT_REQUIRE_TOOLCHAIN=1 (set by .ci/run), where a missing
//! toolchain fails them: CI must never pass by not running them.

use std::path::{Path, PathBuf};
use std::time::Instant;

use cudadent_config::{Arch, KernelManifest};
use kernel_runtime::build::{build_kernel, BuildOptions};
use kernel_runtime::toolchain::{self, Toolchain};

fn toolchain_or_skip() -> Option<Toolchain> {
    test_support::toolchain_or_skip("build_real_nvcc", toolchain::discover(None))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn opts(cache: &Path) -> BuildOptions {
    BuildOptions {
        archs: vec![
            "sm_80".parse::<Arch>().expect("arch"),
            "sm_90".parse().expect("arch"),
        ],
        debug: false,
        cache_dir: cache.to_path_buf(),
    }
}

#[test]
fn builds_cubin_ptx_and_report_then_hits_the_cache() {
    let Some(tc) = toolchain_or_skip() else {
        return;
    };
    let m =
        KernelManifest::load(&repo().join("kernels/attention/fa_s512_v3.toml")).expect("manifest");
    let cache = tempfile::tempdir().expect("tempdir");
    let first = build_kernel(&tc, &m, &opts(cache.path())).expect("build");
    assert_eq!(first.cubins.len(), 2);
    for c in &first.cubins {
        assert!(!c.cached);
        assert!(std::fs::metadata(&c.cubin).expect("cubin").len() > 1000);
        let ptx = std::fs::read_to_string(&c.ptx).expect("ptx");
        assert!(ptx.contains(".entry fa_s512_v3_fwd"), "PTX lacks the entry");
        assert!(
            c.ptxas_report.contains("Used") && c.ptxas_report.contains("registers"),
            "{}",
            c.ptxas_report
        );
        assert!(c.command.contains("-lineinfo"));
    }
    let t = Instant::now();
    let second = build_kernel(&tc, &m, &opts(cache.path())).expect("rebuild");
    assert!(
        t.elapsed().as_millis() < 500,
        "cached rebuild took {:?}",
        t.elapsed()
    );
    for (a, b) in first.cubins.iter().zip(&second.cubins) {
        assert!(b.cached);
        assert_eq!(a.sha256, b.sha256);
    }
}

#[test]
fn changed_define_is_a_different_cache_entry() {
    let Some(tc) = toolchain_or_skip() else {
        return;
    };
    let m =
        KernelManifest::load(&repo().join("kernels/attention/fa_s512_v3.toml")).expect("manifest");
    let cache = tempfile::tempdir().expect("tempdir");
    let release = build_kernel(&tc, &m, &opts(cache.path())).expect("build");
    let mut o = opts(cache.path());
    o.debug = true;
    let debug = build_kernel(&tc, &m, &o).expect("debug build");
    assert!(
        !debug.cubins[0].cached,
        "a debug build must not reuse the release cubin"
    );
    assert_ne!(release.cubins[0].cubin, debug.cubins[0].cubin);
}

#[test]
fn compile_error_keeps_nvccs_diagnostics_and_is_bad_input() {
    let Some(tc) = toolchain_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("broken.cu"),
        "extern \"C\" __global__ void k() { int x = ; }\n",
    )
    .expect("write");
    let manifest = r#"name = "broken"
source = "broken.cu"
entry = "k"
abi = "attention_fwd_v1"
block_m = 64
threads = 128
head_dims = [64]
dtypes = ["f16"]
min_arch = "sm_80"
tensor_cores = false
"#;
    std::fs::write(dir.path().join("broken.toml"), manifest).expect("write");
    let m = KernelManifest::load(&dir.path().join("broken.toml")).expect("manifest");
    let err = build_kernel(&tc, &m, &opts(&dir.path().join("cache"))).expect_err("must fail");
    assert_eq!(err.exit_code(), 2);
    let msg = err.to_string();
    assert!(
        msg.contains("broken.cu(1)"),
        "nvcc's own diagnostic missing: {msg}"
    );
    assert!(msg.contains("expected an expression"), "{msg}");
    assert!(msg.contains("-arch=sm_"), "command line missing: {msg}");
}

#[test]
fn the_same_sources_in_two_checkouts_give_identical_cubins() {
    // With -lineinfo nvcc records the compilation directory; built in place, a clean clone
    // produced different cubin bytes than the working checkout. The build stages sources at
    // a path that depends only on their content, so the bytes must not depend on where the
    // checkout lives.
    let Some(tc) = toolchain_or_skip() else {
        return;
    };
    let mut hashes = Vec::new();
    for _ in 0..2 {
        let checkout = tempfile::tempdir().expect("tempdir");
        let dir = checkout.path().join("kernels/selftest");
        std::fs::create_dir_all(&dir).expect("mkdir");
        for f in ["drops_key.cu", "drops_key.toml", "common.cuh"] {
            std::fs::copy(repo().join("kernels/selftest").join(f), dir.join(f)).expect("copy");
        }
        let m = KernelManifest::load(&dir.join("drops_key.toml")).expect("manifest");
        let built = build_kernel(&tc, &m, &opts(&checkout.path().join("cache"))).expect("build");
        hashes.push(
            built
                .cubins
                .iter()
                .map(|c| c.sha256.clone())
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(
        hashes[0], hashes[1],
        "cubin bytes depend on the checkout's path"
    );
}

#[test]
fn an_sm_90_gpu_runs_the_sm_90a_cubin_where_one_was_built() {
    // Cubin selection needs no GPU: built products are plain records here.
    let m = KernelManifest::load(&repo().join("kernels/attention/fa_tc.toml")).expect("manifest");
    let cubin = |arch: &str| kernel_runtime::build::BuiltCubin {
        arch: arch.parse().expect("arch"),
        cubin: format!("{arch}.cubin").into(),
        ptx: format!("{arch}.ptx").into(),
        ptxas_report: String::new(),
        sha256: arch.into(),
        cached: true,
        command: String::new(),
    };
    let built = |archs: &[&str]| kernel_runtime::build::BuiltKernel {
        manifest: m.clone(),
        source_sha256: String::new(),
        cubins: archs.iter().map(|a| cubin(a)).collect(),
    };
    let pick = |dev: &str, archs: &[&str]| {
        kernel_runtime::device::pick_cubin(dev.parse().expect("arch"), &built(archs))
            .map(|c| c.arch.to_string())
    };
    let all = ["sm_80", "sm_89", "sm_90", "sm_90a"];
    assert_eq!(pick("sm_90", &all).as_deref(), Some("sm_90a"));
    assert_eq!(pick("sm_90", &all[..3]).as_deref(), Some("sm_90"));
    assert_eq!(pick("sm_89", &all).as_deref(), Some("sm_89"));
    assert_eq!(
        pick("sm_86", &all).as_deref(),
        Some("sm_80"),
        "same major, not newer"
    );
    assert_eq!(pick("sm_100", &all), None, "no cubin of that major");
    // An sm_90a cubin alone does not run on another 9.x part.
    assert_eq!(pick("sm_91", &["sm_90a"]), None);
    // And the sm_90a cubin carries the wgmma launches; the sm_90 one does not.
    let d64 = |arch: &str| {
        m.launches_at(64, arch.parse().expect("arch"))
            .into_iter()
            .map(|l| l.name)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        d64("sm_90a"),
        vec!["default", "wgmma_ks2", "small_grid", "wgmma_tma"]
    );
    assert_eq!(d64("sm_90"), vec!["default", "small_grid"]);
}
