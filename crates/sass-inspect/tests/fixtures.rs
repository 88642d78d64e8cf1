//! The parsers on real output of the pinned toolchain (see `fixtures/README.md`): one
//! snapshot per fixture, and explicit checks of what each kernel was written to show.

use std::path::Path;

use sass_inspect::occupancy::{occupancy, KernelResources, Limiter};
use sass_inspect::policy::{check, Measured, Policy, Rule};
use sass_inspect::sass::Census;
use sass_inspect::{
    census, parse_ptx, parse_ptxas, parse_sass, tensor_core_lines, PtxasReport, SassDump,
};
use serde::Serialize;

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn ptxas(name: &str) -> PtxasReport {
    let r = parse_ptxas(&fixture(name));
    assert_eq!(r.not_understood(), 0, "{name}: {:?}", r.unknown_lines);
    r
}

fn sass(name: &str) -> SassDump {
    let d = parse_sass(&fixture(name));
    assert!(d.unknown_lines.is_empty(), "{name}: {:?}", d.unknown_lines);
    assert!(
        d.functions.iter().all(|f| f.complete),
        "{name}: a function is incomplete"
    );
    d
}

fn function_census(dump: &SassDump, name: &str) -> Census {
    census(
        &dump
            .function(name, None)
            .unwrap_or_else(|| panic!("no {name}"))
            .instructions,
    )
}

// ---- snapshots of every fixture -------------------------------------------------------------

#[test]
fn snapshot_every_ptxas_report() {
    insta::glob!("fixtures/*.ptxas.txt", |path| {
        let report = parse_ptxas(&std::fs::read_to_string(path).unwrap());
        insta::assert_json_snapshot!(report);
    });
}

/// A SASS dump is summarised per function (instruction count and census): the instruction
/// lists themselves are the fixture.
#[derive(Serialize)]
struct SassSummary {
    fatbin_entries: Vec<sass_inspect::sass::FatbinEntry>,
    encoding_lines: usize,
    unknown_lines: Vec<String>,
    functions: Vec<FunctionSummary>,
}

#[derive(Serialize)]
struct FunctionSummary {
    name: String,
    arch: Option<String>,
    target: Option<String>,
    header_flags: Option<String>,
    complete: bool,
    instructions: usize,
    census: Census,
    tensor_core_lines: Vec<String>,
}

#[test]
fn snapshot_every_sass_dump() {
    insta::glob!("fixtures/*.sass.txt", |path| {
        let d = parse_sass(&std::fs::read_to_string(path).unwrap());
        let summary = SassSummary {
            fatbin_entries: d.fatbin_entries.clone(),
            encoding_lines: d.encoding_lines,
            unknown_lines: d.unknown_lines.clone(),
            functions: d
                .functions
                .iter()
                .map(|f| FunctionSummary {
                    name: f.name.clone(),
                    arch: f.arch.clone(),
                    target: f.target.clone(),
                    header_flags: f.header_flags.clone(),
                    complete: f.complete,
                    instructions: f.instructions.len(),
                    census: census(&f.instructions),
                    tensor_core_lines: tensor_core_lines(&f.instructions),
                })
                .collect(),
        };
        insta::assert_json_snapshot!(summary);
    });
}

#[test]
fn snapshot_every_ptx() {
    insta::glob!("fixtures/*{.ptx,.dump-ptx.txt}", |path| {
        insta::assert_json_snapshot!(parse_ptx(&std::fs::read_to_string(path).unwrap()));
    });
}

#[test]
fn parsers_never_panic_on_a_prefix_of_a_fixture() {
    // Every cut of a real file (at a step that still hits every kind of line) goes through
    // all three parsers; with the parser for its kind, a prefix never yields more than the
    // whole.
    let size = |name: &str, t: &str| -> usize {
        let sizes = [
            parse_ptxas(t).functions.len(),
            parse_sass(t).instructions().count(),
            parse_ptx(t).census().instructions as usize,
        ];
        match name {
            n if n.ends_with(".ptxas.txt") => sizes[0],
            n if n.ends_with(".sass.txt") => sizes[1],
            _ => sizes[2],
        }
    };
    for (name, step) in [
        ("spill.sm_90.rdc.ptxas.txt", 1),
        ("wmma.sm_90.maxrreg16.ptxas.txt", 1),
        ("ffma.fatbin.sass.txt", 97),
        ("wgmma.sm_90a.sass.txt", 23),
        ("spill.sm_80.ptx", 41),
        ("wmma.compute_80.dump-ptx.txt", 3),
    ] {
        let text = fixture(name);
        let whole = size(name, &text);
        for end in (0..=text.len())
            .step_by(step)
            .filter(|&e| text.is_char_boundary(e))
        {
            assert!(size(name, &text[..end]) <= whole, "{name} cut at {end}");
        }
    }
}

// ---- ptxas ---------------------------------------------------------------------------------

#[test]
fn every_fixture_is_fully_understood() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".ptxas.txt") {
            ptxas(&name);
        } else if name.ends_with(".sass.txt") {
            sass(&name);
        } else if name.ends_with(".ptx") || name.ends_with(".dump-ptx.txt") {
            let r = parse_ptx(&fixture(&name));
            assert!(r.unknown_lines.is_empty(), "{name}: {:?}", r.unknown_lines);
        } else {
            continue;
        }
        seen += 1;
    }
    assert!(seen >= 35, "only {seen} fixtures found");
}

#[test]
fn shared_memory_and_barrier_kernel_on_three_archs() {
    for arch in ["sm_80", "sm_89", "sm_90"] {
        let r = ptxas(&format!("smem_barrier.{arch}.ptxas.txt"));
        let k = r.function("smem_reduce", Some(arch)).unwrap();
        assert!(k.is_entry);
        assert_eq!(
            (k.registers, k.barriers, k.shared_bytes),
            (Some(12), Some(1), Some(1024))
        );
        assert_eq!(k.spill_bytes(), Some(0));
        // sm_90 reports no cmem[0] for kernel parameters; sm_80 and sm_89 do.
        assert_eq!(
            k.constant_bytes.get(&0).copied(),
            (arch != "sm_90").then_some(368)
        );
    }
}

#[test]
fn spilling_kernels() {
    for (arch, spill) in [("sm_80", 80), ("sm_89", 80), ("sm_90", 68)] {
        let r = ptxas(&format!("spill.{arch}.ptxas.txt"));
        let regs = r.function("spill_regs", Some(arch)).unwrap();
        assert_eq!(regs.registers, Some(32), "__maxnreg__(32)");
        assert_eq!(
            (regs.spill_stores_bytes, regs.spill_loads_bytes),
            (Some(spill), Some(spill))
        );
        let local = r.function("spill_local", Some(arch)).unwrap();
        assert_eq!(
            (local.stack_frame_bytes, local.spill_bytes()),
            (Some(1024), Some(0))
        );
        assert_eq!(local.cumulative_stack_bytes, Some(1024));
        // The non-inlined device function: no entry, the module's arch, no `Used` line.
        let pick = r.function("_Z4pickPKfi", Some(arch)).unwrap();
        assert!(!pick.is_entry);
        assert_eq!((pick.registers, pick.shared_bytes), (None, None));
        assert_eq!(r.modules.len(), 1);
        assert_eq!(r.modules[0].gmem_bytes, 4, "__device__ int g_calls");
    }
    // The module-level constant bank of sm_80/89 (`4 bytes gmem, 8 bytes cmem[4]`).
    assert_eq!(
        ptxas("spill.sm_80.ptxas.txt").modules[0]
            .constant_bytes
            .get(&4),
        Some(&8)
    );
}

#[test]
fn module_constant_bank_of_constant_data() {
    let r = ptxas("ffma.sm_80.ptxas.txt");
    assert_eq!(
        r.modules[0].constant_bytes.get(&3),
        Some(&16),
        "__constant__ float c_coef[4]"
    );
}

#[test]
fn relocatable_device_code_puts_a_device_function_first() {
    let r = ptxas("spill.sm_90.rdc.ptxas.txt");
    let first = &r.functions[0];
    assert_eq!(first.function, "_Z4pickPKfi$7");
    assert_eq!(
        first.arch.as_deref(),
        Some("sm_90"),
        "arch comes from the module"
    );
    assert!(first.compile_time_ms.is_some());
    assert_eq!(
        r.entries().map(|f| f.function.as_str()).collect::<Vec<_>>(),
        ["spill_regs", "spill_local"]
    );
}

#[test]
fn warnings_are_kept_in_ptxas_words() {
    let r = ptxas("spill.sm_90.warn.ptxas.txt");
    assert_eq!(r.warnings.len(), 3);
    assert_eq!(
        r.warnings[1],
        "ptxas warning : Registers are spilled to local memory in function 'spill_regs', 68 bytes spill stores, 68 bytes spill loads"
    );
    assert_eq!(
        r.function("spill_regs", None).unwrap().spill_stores_bytes,
        Some(68)
    );
}

#[test]
fn multi_arch_report_has_one_module_per_arch() {
    let r = ptxas("smem_barrier.multi.ptxas.txt");
    let archs: Vec<_> = r.modules.iter().map(|m| m.arch.as_deref()).collect();
    assert_eq!(archs, [Some("sm_80"), Some("sm_90")]);
    assert_eq!(
        r.function("smem_reduce", Some("sm_90")).unwrap().module,
        Some(1)
    );
}

#[test]
fn a_failed_compile_keeps_errors_and_overrides() {
    let r = ptxas("wmma.sm_90.maxrreg16.ptxas.txt");
    assert!(r.functions.is_empty());
    assert_eq!(r.warnings.len(), 1);
    assert_eq!(r.errors.len(), 2);
    assert!(r.errors[0].starts_with("ptxas fatal   : (C7602) Insufficient registers (24)"));
    assert_eq!(r.register_limit_overrides.len(), 2);
    assert_eq!(
        (
            r.register_limit_overrides[1].function.as_str(),
            r.register_limit_overrides[1].limit
        ),
        ("wmma_f32acc", 24)
    );
}

#[test]
fn crlf_and_truncated_real_report() {
    let text = fixture("wmma.sm_80.ptxas.txt");
    assert_eq!(parse_ptxas(&text.replace('\n', "\r\n")), parse_ptxas(&text));
    let cut = &text[..text.find("22 registers").unwrap() + 4];
    let r = parse_ptxas(cut);
    assert_eq!(r.unknown_lines, ["ptxas info    : Used 22 r"]);
    assert_eq!(r.function("wmma_f16acc", None).unwrap().registers, Some(18));
    assert_eq!(r.function("wmma_f32acc", None).unwrap().registers, None);
}

// ---- SASS ----------------------------------------------------------------------------------

#[test]
fn wmma_f32_and_f16_accumulators_on_three_archs() {
    for arch in ["sm_80", "sm_89", "sm_90"] {
        let d = sass(&format!("wmma.{arch}.sass.txt"));
        let f32 = function_census(&d, "wmma_f32acc").tensor_core;
        assert_eq!(f32.by_opcode.get("HMMA.16816.F32"), Some(&2), "{arch}");
        assert_eq!(
            (f32.total, f32.f32_accumulate, f32.f16_accumulate),
            (2, 2, 0)
        );
        assert!(f32.has_f32_accumulate());
        let f16 = function_census(&d, "wmma_f16acc").tensor_core;
        assert_eq!(f16.by_opcode.get("HMMA.16816.F16"), Some(&2), "{arch}");
        assert!(!f16.has_f32_accumulate());
        let f = d.function("wmma_f32acc", None).unwrap();
        assert_eq!(f.arch.as_deref(), Some(arch));
        let lines = tensor_core_lines(&f.instructions);
        assert_eq!(lines.len(), 2);
        assert!(lines
            .iter()
            .all(|l| l.contains("HMMA.16816.F32 ") && l.starts_with("/*")));
    }
}

#[test]
fn wgmma_is_hgmma_with_f32_accumulate() {
    let d = sass("wgmma.sm_90a.sass.txt");
    let f = d.function("wgmma_f32acc", Some("sm_90a")).unwrap();
    let lines = tensor_core_lines(&f.instructions);
    assert_eq!(lines.len(), 1);
    assert!(lines[0].contains("HGMMA.64x8x16.F32 R24, R28, gdesc[UR8].tnspB, RZ, !UPT, gsb0 ;"));
    let c = census(&f.instructions);
    assert_eq!(
        (c.tensor_core.f32_accumulate, c.barriers, c.shared_stores),
        (1, 1, 1)
    );
}

#[test]
fn local_memory_in_both_spill_kernels() {
    for arch in ["sm_80", "sm_90"] {
        let d = sass(&format!("spill.{arch}.sass.txt"));
        for kernel in ["spill_regs", "spill_local"] {
            let c = function_census(&d, kernel);
            assert!(
                c.local_loads > 0 && c.local_stores > 0,
                "{kernel} on {arch}: {c:?}"
            );
            assert_eq!(c.tensor_core.total, 0);
        }
    }
}

#[test]
fn plain_ffma_kernel() {
    for name in ["ffma.sm_80.sass.txt", "ffma.sm_90.sass.txt"] {
        let c = function_census(&sass(name), "ffma_chain");
        assert_eq!(
            (c.ffma, c.mufu, c.tensor_core.total, c.local_memory()),
            (32, 1, 0, 0),
            "{name}"
        );
        assert_eq!(
            (c.global_load_max_bits, c.global_store_max_bits),
            (Some(128), Some(128))
        );
    }
    // HFMA2.MMA (a constant move on sm_80) is an HFMA2, never a tensor-core instruction.
    let c = function_census(&sass("ffma.sm_80.sass.txt"), "ffma_chain");
    assert_eq!(c.hfma2, 1);
}

#[test]
fn async_copy_kernel() {
    for name in ["async_copy.sm_80.sass.txt", "async_copy.sm_90.sass.txt"] {
        let c = function_census(&sass(name), "async_copy");
        assert_eq!(
            (c.async_copies, c.barriers, c.global_loads),
            (1, 1, 0),
            "{name}: LDGSTS"
        );
        assert_eq!(c.global_store_max_bits, Some(16), "{name}: STG.E.U16");
    }
    for name in ["async_copy.sm_80.sass.txt", "async_copy.sm_90.sass.txt"] {
        let c = function_census(&sass(name), "async_copy");
        assert_eq!(c.bulk_copies, 0, "{name}: cp.async is not the TMA");
    }
    // The Tensor Memory Accelerator: a bulk copy and a tensor-map load, one each.
    for f in ["bulk_copy", "tma_load"] {
        let c = function_census(&sass("tma.sm_90.sass.txt"), f);
        assert_eq!((c.async_copies, c.bulk_copies), (1, 1), "{f}");
    }
    let c = function_census(&sass("smem_barrier.sm_90.sass.txt"), "smem_reduce");
    assert_eq!(
        (c.barriers, c.shared_stores, c.global_max_bits()),
        (9, 9, Some(32))
    );
}

#[test]
fn fatbin_dump_has_a_header_per_entry() {
    let d = sass("ffma.fatbin.sass.txt");
    let entries: Vec<_> = d
        .fatbin_entries
        .iter()
        .map(|e| (e.kind.as_str(), e.arch.as_deref()))
        .collect();
    assert_eq!(
        entries,
        [
            ("elf", Some("sm_80")),
            ("elf", Some("sm_90")),
            ("ptx", Some("sm_90"))
        ]
    );
    let archs: Vec<_> = d.functions.iter().map(|f| f.arch.as_deref()).collect();
    assert_eq!(archs, [Some("sm_80"), Some("sm_90")]);
    // The same instructions as the single-cubin dumps.
    assert_eq!(
        d.functions[0].instructions,
        sass("ffma.sm_80.sass.txt").functions[0].instructions
    );
}

#[test]
fn crlf_and_truncated_real_dump() {
    let text = fixture("wmma.sm_80.sass.txt");
    assert_eq!(parse_sass(&text.replace('\n', "\r\n")), parse_sass(&text));
    let cut = &text[..text.find("HMMA.16816.F32 R16").unwrap() + 10];
    let d = parse_sass(cut);
    assert_eq!(d.unknown_lines.len(), 1, "the line cut in the middle");
    let f32 = d.function("wmma_f32acc", None).unwrap();
    assert!(!f32.complete);
    assert_eq!(census(&f32.instructions).tensor_core.total, 0);
    assert!(d.function("wmma_f16acc", None).unwrap().complete);
}

// ---- PTX -----------------------------------------------------------------------------------

#[test]
fn ptx_census_of_each_kernel() {
    let wmma = parse_ptx(&fixture("wmma.sm_80.ptx"));
    let m = &wmma.modules[0];
    assert_eq!(
        (m.version.as_deref(), m.target.as_deref()),
        (Some("9.0"), Some("sm_80"))
    );
    assert_eq!(m.entries, ["wmma_f32acc", "wmma_f16acc"]);
    let c = wmma.census();
    assert_eq!(
        (c.wmma_mma_sync, c.mma_f32_accumulate, c.mma_f16_accumulate),
        (2, 1, 1)
    );
    assert_eq!(c.tensor_core(), 2);

    let c = parse_ptx(&fixture("wgmma.sm_90a.ptx")).census();
    assert_eq!(
        (c.wgmma_mma_async, c.mma_f32_accumulate, c.barrier_sync),
        (1, 1, 1)
    );
    assert_eq!(
        parse_ptx(&fixture("wgmma.sm_90a.ptx")).modules[0]
            .target
            .as_deref(),
        Some("sm_90a")
    );

    let c = parse_ptx(&fixture("async_copy.sm_80.ptx")).census();
    assert_eq!((c.cp_async, c.barrier_sync), (1, 1));

    let spill = parse_ptx(&fixture("spill.sm_80.ptx"));
    assert_eq!(spill.modules[0].functions, ["_Z4pickPKfi"]);
    let c = spill.census();
    assert_eq!((c.ld_local, c.st_local), (2, 2));

    let c = parse_ptx(&fixture("smem_barrier.sm_80.ptx")).census();
    assert_eq!((c.barrier_sync, c.tensor_core()), (9, 0));
}

#[test]
fn cuobjdump_ptx_dump_matches_nvcc_ptx() {
    let dump = parse_ptx(&fixture("wmma.compute_80.dump-ptx.txt"));
    let nvcc = parse_ptx(&fixture("wmma.sm_80.ptx"));
    assert_eq!(dump.modules.len(), 1);
    assert_eq!(dump.census(), nvcc.census());
    assert_eq!(dump.modules[0].target.as_deref(), Some("sm_80"));
}

#[test]
fn crlf_real_ptx() {
    let text = fixture("spill.sm_80.ptx");
    assert_eq!(parse_ptx(&text.replace('\n', "\r\n")), parse_ptx(&text));
}

// ---- policy and occupancy on what was parsed -------------------------------------------------

fn measured(kernel: &str, ptxas_name: &str, sass_name: &str) -> Measured {
    let usage = ptxas(ptxas_name).function(kernel, None).unwrap().clone();
    Measured::new(&usage, &function_census(&sass(sass_name), kernel), 0)
}

#[test]
fn policy_on_the_fixture_kernels() {
    let attention = Policy {
        require_tensor_cores: true,
        require_f32_accumulate: true,
        max_registers: Some(255),
        ..Policy::default()
    };
    let rules = |kernel, p, s| -> Vec<Rule> {
        check(&attention, &measured(kernel, p, s))
            .iter()
            .map(|v| v.rule)
            .collect()
    };
    assert_eq!(
        rules("wmma_f32acc", "wmma.sm_90.ptxas.txt", "wmma.sm_90.sass.txt"),
        []
    );
    assert_eq!(
        rules("wmma_f16acc", "wmma.sm_90.ptxas.txt", "wmma.sm_90.sass.txt"),
        [Rule::RequireF32Accumulate, Rule::RequireF32Accumulate]
    );
    assert_eq!(
        rules("ffma_chain", "ffma.sm_80.ptxas.txt", "ffma.sm_80.sass.txt"),
        [Rule::RequireTensorCores]
    );
    assert_eq!(
        rules(
            "spill_regs",
            "spill.sm_90.ptxas.txt",
            "spill.sm_90.sass.txt"
        ),
        [
            Rule::RequireTensorCores,
            Rule::MaxSpillBytes,
            Rule::MaxSpillBytes,
            Rule::AllowLocalMemory
        ]
    );
    // No spill at all, but a stack array: only the local-memory rule catches it.
    let v = check(
        &Policy::default(),
        &measured(
            "spill_local",
            "spill.sm_80.ptxas.txt",
            "spill.sm_80.sass.txt",
        ),
    );
    assert_eq!(v.len(), 1);
    assert_eq!(
        v[0].message,
        "allow_local_memory: 4 local-memory instructions (LDL/STL) in SASS, at most 0 allowed"
    );
}

#[test]
fn occupancy_of_the_fixture_kernels() {
    let usage = ptxas("wgmma.sm_90a.ptxas.txt")
        .function("wgmma_f32acc", None)
        .unwrap()
        .clone();
    let kernel = KernelResources {
        registers_per_thread: usage.registers.unwrap(),
        threads_per_block: 128,
        shared_bytes_per_block: usage.shared_bytes.unwrap() + 96 * 1024,
        barriers: usage.barriers.unwrap(),
    };
    let o = occupancy(usage.arch.as_deref().unwrap(), &kernel).unwrap();
    // 96.25 KiB + 1 KiB reserve = 97.25 KiB per block: 228 / 97.25 = 2 blocks.
    assert_eq!((o.blocks_per_sm, o.warps_per_sm), (2, 8));
    assert_eq!(o.limited_by, [Limiter::SharedMemory]);
}
