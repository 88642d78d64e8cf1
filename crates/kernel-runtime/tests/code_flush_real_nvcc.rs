//! The bench's code flush (`bench --icache-flush`) built with the real nvcc, as the bench
//! builds it: the cubin must hold the entry and at least one SASS instruction per PTX
//! instruction (ptxas merging them would shrink the code a block runs through, and with it
//! what the flush evicts). Without a toolchain the test says so and returns, unless
//! CUDADENT_REQUIRE_TOOLCHAIN=1 (set by scripts/test.sh), where that fails it.

use kernel_runtime::device::timing::{code_flush_ptx, CODE_FLUSH_ENTRY, CODE_FLUSH_INSTRUCTIONS};
use kernel_runtime::toolchain::{self, Toolchain};

fn toolchain_or_skip() -> Option<Toolchain> {
    test_support::toolchain_or_skip("code_flush_real_nvcc", toolchain::discover(None))
}

#[test]
fn the_code_flush_compiles_to_a_megabyte_of_distinct_instructions() {
    let Some(tc) = toolchain_or_skip() else {
        return;
    };
    let Some(cuobjdump) = tc.cuobjdump.as_ref() else {
        panic!("the toolchain has nvcc but no cuobjdump");
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let ptx = dir.path().join("code_flush.ptx");
    let cubin = dir.path().join("code_flush.sm_90a.cubin");
    std::fs::write(&ptx, code_flush_ptx(CODE_FLUSH_INSTRUCTIONS)).expect("write ptx");
    // The bench's own command line (run.rs, build_helper).
    let out = duct::cmd(
        &tc.nvcc.path,
        [
            "-cubin",
            "-O3",
            "-arch=sm_90a",
            "-o",
            cubin.to_str().expect("path"),
            ptx.to_str().expect("path"),
        ],
    )
    .stderr_capture()
    .unchecked()
    .run()
    .expect("run nvcc");
    assert!(
        out.status.success(),
        "nvcc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sass = duct::cmd(&cuobjdump.path, ["-sass", cubin.to_str().expect("path")])
        .read()
        .expect("cuobjdump -sass");
    assert!(
        sass.contains(&format!("Function : {CODE_FLUSH_ENTRY}")),
        "{}",
        &sass[..sass.len().min(500)]
    );
    // Instruction lines: `/*0a30*/   IADD3 R0, R0, 0x5bd1e995, RZ ;   /* 0x... */`.
    let instructions = sass
        .lines()
        .filter(|l| l.trim_start().starts_with("/*") && l.contains(" ;"))
        .count();
    assert!(
        instructions >= CODE_FLUSH_INSTRUCTIONS,
        "{instructions} SASS instructions for {CODE_FLUSH_INSTRUCTIONS} PTX instructions"
    );
}

#[test]
fn the_code_flush_ptx_has_distinct_immediates_and_one_entry() {
    let ptx = code_flush_ptx(1000);
    assert_eq!(ptx.matches(".entry ").count(), 1);
    let imms: std::collections::HashSet<&str> = ptx
        .lines()
        .filter(|l| l.contains("%r0, %r0, "))
        .map(|l| l.rsplit(", ").next().expect("imm"))
        .collect();
    assert_eq!(imms.len(), 1000, "immediates repeat");
}
