//! `cuobjdump --dump-sass` output as per-function instruction lists, and the census of them.
//!
//! cuobjdump prints, per cubin (a fatbin adds a `Fatbin elf code:` header before each):
//!
//! ```text
//!     code for sm_90
//!     .target sm_90
//!
//!         Function : smem_reduce
//!     .headerflags @"EF_CUDA_SM90 EF_CUDA_VIRTUAL_SM(EF_CUDA_SM90)"
//!         /*0000*/                   LDC R1, c[0x0][0x28] ;           /* 0x00000a00ff017b82 */
//!                                                                     /* 0x000fe20000000800 */
//!         ...
//!         ..........
//! ```
//!
//! The second line of each 128-bit instruction holds only the rest of its encoding: those
//! lines are counted in [`SassDump::encoding_lines`] and otherwise skipped. Header lines give
//! the structure. Anything else, including an instruction line cut short (no `;`), is kept
//! in [`SassDump::unknown_lines`].

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// One SASS instruction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SassInstruction {
    /// Byte offset in the function (`/*01c0*/`).
    pub offset: u64,
    /// The guard predicate without the `@` (`P0`, `!P1`, `!UPT`), if any.
    pub predicate: Option<String>,
    /// The full opcode with its modifiers: `HMMA.16816.F32`, `LDG.E.128`.
    pub opcode: String,
    /// The opcode without modifiers: `HMMA`, `LDG`.
    pub base_opcode: String,
    /// The operands as printed, without the closing ` ;`.
    pub operands: String,
    /// The whole line as cuobjdump printed it, trimmed.
    pub raw: String,
}

impl SassInstruction {
    /// The modifiers after the base opcode: `["16816", "F32"]` for `HMMA.16816.F32`.
    pub fn modifiers(&self) -> impl Iterator<Item = &str> {
        self.opcode.split('.').skip(1)
    }
}

/// One function of one cubin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SassFunction {
    /// The name after `Function :`.
    pub name: String,
    /// The arch of the `code for sm_XX` line above it.
    pub arch: Option<String>,
    /// The `.target` line above it.
    pub target: Option<String>,
    /// The `.headerflags` value, as printed.
    pub header_flags: Option<String>,
    /// Its instructions, in order.
    pub instructions: Vec<SassInstruction>,
    /// Whether cuobjdump's end-of-function line (`..........`) was seen: `false` for a dump
    /// cut short.
    pub complete: bool,
}

/// One `Fatbin elf code:` / `Fatbin ptx code:` header of a fatbin dump.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FatbinEntry {
    /// `elf` or `ptx`.
    pub kind: String,
    /// The `arch = ` value.
    pub arch: Option<String>,
    /// The `code version = ` value.
    pub code_version: Option<String>,
}

/// A parsed `cuobjdump --dump-sass` output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SassDump {
    /// Functions in dump order (one per function per cubin).
    pub functions: Vec<SassFunction>,
    /// Fatbin entry headers, where the input was a fatbin.
    pub fatbin_entries: Vec<FatbinEntry>,
    /// Encoding-only lines skipped (the second half of each instruction).
    pub encoding_lines: usize,
    /// Non-blank lines not understood, as written.
    pub unknown_lines: Vec<String>,
}

impl SassDump {
    /// All instructions of all functions, in dump order.
    pub fn instructions(&self) -> impl Iterator<Item = &SassInstruction> {
        self.functions.iter().flat_map(|f| f.instructions.iter())
    }

    /// The first function named `name` compiled for `arch` (any arch where `arch` is `None`).
    pub fn function(&self, name: &str, arch: Option<&str>) -> Option<&SassFunction> {
        self.functions
            .iter()
            .find(|f| f.name == name && arch.is_none_or(|a| f.arch.as_deref() == Some(a)))
    }
}

static INSTRUCTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*/\*([0-9a-fA-F]+)\*/\s*(.*?)\s*;\s*(?:/\*\s*0x[0-9a-fA-F]+\s*\*/)?\s*$")
        .unwrap()
});
static ENCODING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*/\*\s*0x[0-9a-fA-F]+\s*\*/\s*$").unwrap());
static OPCODE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Z][A-Z0-9_]*(?:\.[A-Za-z0-9_]+)*$").unwrap());
static CODE_FOR: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\s*code for (\S+)\s*$").unwrap());
static TARGET: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\s*\.target\s+(\S+)\s*$").unwrap());
static FUNCTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*Function\s*:\s*(\S+)\s*$").unwrap());
static HEADERFLAGS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*\.headerflags\s+(.+?)\s*$").unwrap());
static END: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\s*\.{10}\s*$").unwrap());
static FATBIN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^Fatbin (elf|ptx) code:$").unwrap());
static FATBIN_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(arch|code version|host|compile_size|ptxasOptions|identifier) =\s?(.*)$").unwrap()
});

/// Parses `cuobjdump --dump-sass` output of a cubin or a fatbin. Never fails: what is not
/// understood is kept in [`SassDump::unknown_lines`]. CRLF line ends are accepted.
pub fn parse_sass(text: &str) -> SassDump {
    let mut dump = SassDump::default();
    let mut arch: Option<String> = None;
    let mut target: Option<String> = None;
    // Whether the last lines were a fatbin header, whose field lines we then accept.
    let mut in_fatbin_header = false;

    for raw in text.lines() {
        let line = raw.trim_end();
        if line.trim().is_empty() {
            continue;
        }
        if let Some(c) = INSTRUCTION.captures(line) {
            in_fatbin_header = false;
            match (instruction(&c[1], &c[2], line), dump.functions.last_mut()) {
                (Some(i), Some(f)) if !f.complete => f.instructions.push(i),
                _ => dump.unknown_lines.push(line.to_string()),
            }
            continue;
        }
        if ENCODING.is_match(line) {
            dump.encoding_lines += 1;
            continue;
        }
        if let Some(c) = FATBIN.captures(line) {
            in_fatbin_header = true;
            dump.fatbin_entries.push(FatbinEntry {
                kind: c[1].to_string(),
                ..FatbinEntry::default()
            });
            continue;
        }
        if in_fatbin_header {
            if line.chars().all(|c| c == '=') || line == "compressed" {
                continue;
            }
            if let Some(c) = FATBIN_FIELD.captures(line) {
                if let Some(entry) = dump.fatbin_entries.last_mut() {
                    match &c[1] {
                        "arch" => entry.arch = Some(c[2].to_string()),
                        "code version" => entry.code_version = Some(c[2].to_string()),
                        _ => {}
                    }
                }
                continue;
            }
        }
        in_fatbin_header = false;
        if let Some(c) = CODE_FOR.captures(line) {
            arch = Some(c[1].to_string());
            target = None;
        } else if let Some(c) = TARGET.captures(line) {
            target = Some(c[1].to_string());
        } else if let Some(c) = FUNCTION.captures(line) {
            dump.functions.push(SassFunction {
                name: c[1].to_string(),
                arch: arch.clone(),
                target: target.clone(),
                ..SassFunction::default()
            });
        } else if let Some(c) = HEADERFLAGS.captures(line) {
            match dump.functions.last_mut() {
                Some(f) if f.header_flags.is_none() && f.instructions.is_empty() => {
                    f.header_flags = Some(c[1].to_string())
                }
                _ => dump.unknown_lines.push(line.to_string()),
            }
        } else if END.is_match(line) {
            match dump.functions.last_mut() {
                Some(f) if !f.complete => f.complete = true,
                _ => dump.unknown_lines.push(line.to_string()),
            }
        } else {
            dump.unknown_lines.push(line.to_string());
        }
    }
    dump
}

fn instruction(offset: &str, body: &str, line: &str) -> Option<SassInstruction> {
    let offset = u64::from_str_radix(offset, 16).ok()?;
    let (predicate, rest) = match body.strip_prefix('@') {
        Some(p) => {
            let (pred, rest) = p.split_once(char::is_whitespace)?;
            (Some(pred.to_string()), rest.trim_start())
        }
        None => (None, body),
    };
    let (opcode, operands) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    if !OPCODE.is_match(opcode) {
        return None;
    }
    Some(SassInstruction {
        offset,
        predicate,
        opcode: opcode.to_string(),
        base_opcode: opcode.split('.').next().unwrap_or(opcode).to_string(),
        operands: operands.trim().to_string(),
        raw: line.trim().to_string(),
    })
}

/// Base opcodes that run on tensor cores: warp-level MMA (`HMMA` fp16/bf16/tf32, `IMMA`
/// integer, `DMMA` fp64, `BMMA` binary), Hopper warpgroup MMA (`HGMMA`, `IGMMA`, `QGMMA`
/// fp8, `BGMMA`). Not `HFMA2.MMA`, which is an FMA-pipe instruction despite its name.
pub const TENSOR_CORE_OPCODES: &[&str] = &[
    "HMMA", "IMMA", "DMMA", "BMMA", "HGMMA", "IGMMA", "QGMMA", "BGMMA",
];

/// Whether `instruction` runs on tensor cores (its base opcode is in [`TENSOR_CORE_OPCODES`]).
pub fn is_tensor_core(instruction: &SassInstruction) -> bool {
    TENSOR_CORE_OPCODES.contains(&instruction.base_opcode.as_str())
}

/// The accumulator type of a tensor-core instruction, from the first type modifier
/// (`HMMA.16816.F32.BF16` accumulates in F32, `HMMA.16816.F16` in F16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Accumulator {
    /// `.F32` comes first.
    F32,
    /// `.F16` comes first.
    F16,
    /// Neither: integer (`IMMA`), fp64 (`DMMA`) or a form this crate does not know.
    Other,
}

/// The accumulator of a tensor-core instruction; `None` for any other instruction.
pub fn accumulator(instruction: &SassInstruction) -> Option<Accumulator> {
    if !is_tensor_core(instruction) {
        return None;
    }
    let first_type = instruction.modifiers().find(|m| {
        matches!(
            *m,
            "F32"
                | "F16"
                | "BF16"
                | "TF32"
                | "F64"
                | "S32"
                | "S8"
                | "U8"
                | "S4"
                | "U4"
                | "E4M3"
                | "E5M2"
                | "E2M1"
                | "E2M3"
                | "E3M2"
        )
    });
    Some(match first_type {
        Some("F32") => Accumulator::F32,
        Some("F16") => Accumulator::F16,
        _ => Accumulator::Other,
    })
}

/// Tensor-core instructions of a census.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorCoreCensus {
    /// All tensor-core instructions.
    pub total: u64,
    /// Per full opcode: `HMMA.16816.F32` -> count.
    pub by_opcode: BTreeMap<String, u64>,
    /// Those accumulating in F32.
    pub f32_accumulate: u64,
    /// Those accumulating in F16.
    pub f16_accumulate: u64,
    /// Those with another accumulator (integer, fp64, unknown form).
    pub other_accumulate: u64,
}

impl TensorCoreCensus {
    /// Whether any tensor-core instruction accumulates in F32.
    pub fn has_f32_accumulate(&self) -> bool {
        self.f32_accumulate > 0
    }
}

/// Instruction counts by class.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Census {
    /// All instructions, `NOP` included.
    pub total: u64,
    /// `NOP` padding.
    pub nop: u64,
    /// Tensor-core instructions.
    pub tensor_core: TensorCoreCensus,
    /// `LDL`: loads from local memory (spills, dynamically indexed arrays).
    pub local_loads: u64,
    /// `STL`: stores to local memory.
    pub local_stores: u64,
    /// `LDS` and `LDSM`.
    pub shared_loads: u64,
    /// `STS` and `STSM`.
    pub shared_stores: u64,
    /// `LDSM` alone (ldmatrix).
    pub ldsm: u64,
    /// Asynchronous copies into shared memory: `LDGSTS` (cp.async), `UBLKCP` (bulk copy),
    /// `UTMALDG` (TMA load).
    pub async_copies: u64,
    /// Of those, the Tensor Memory Accelerator's: `UBLKCP` and `UTMALDG`. Their writes into
    /// shared memory go through the async proxy, which compute-sanitizer's racecheck did not
    /// see in the tma_race probe (kernels/attention/NOTES.md, v13).
    #[serde(default)]
    pub bulk_copies: u64,
    /// `LDG`.
    pub global_loads: u64,
    /// `STG`.
    pub global_stores: u64,
    /// Widest `LDG` access in bits (from `.128`, `.64`, `.U16`...; 32 without a size).
    pub global_load_max_bits: Option<u32>,
    /// Widest `STG` access in bits.
    pub global_store_max_bits: Option<u32>,
    /// CTA barriers: `BAR.*` (`BAR.SYNC`, `BAR.ARV`, `BAR.RED`); not `BSYNC`/`WARPSYNC`.
    pub barriers: u64,
    /// `FFMA`.
    pub ffma: u64,
    /// `HFMA2`, `HFMA2.MMA` included (an FMA-pipe form, not a tensor-core instruction).
    pub hfma2: u64,
    /// `MUFU` (special functions: `EX2`, `RCP`, ...).
    pub mufu: u64,
}

impl Census {
    /// Adds one instruction to the counts.
    pub fn add(&mut self, i: &SassInstruction) {
        self.total += 1;
        if let Some(acc) = accumulator(i) {
            let tc = &mut self.tensor_core;
            tc.total += 1;
            *tc.by_opcode.entry(i.opcode.clone()).or_default() += 1;
            match acc {
                Accumulator::F32 => tc.f32_accumulate += 1,
                Accumulator::F16 => tc.f16_accumulate += 1,
                Accumulator::Other => tc.other_accumulate += 1,
            }
        }
        match i.base_opcode.as_str() {
            "NOP" => self.nop += 1,
            "LDL" => self.local_loads += 1,
            "STL" => self.local_stores += 1,
            "LDS" => self.shared_loads += 1,
            "LDSM" => {
                self.shared_loads += 1;
                self.ldsm += 1;
            }
            "STS" | "STSM" => self.shared_stores += 1,
            "LDGSTS" => self.async_copies += 1,
            "UBLKCP" | "UTMALDG" => {
                self.async_copies += 1;
                self.bulk_copies += 1;
            }
            "LDG" => {
                self.global_loads += 1;
                self.global_load_max_bits = self.global_load_max_bits.max(Some(access_bits(i)));
            }
            "STG" => {
                self.global_stores += 1;
                self.global_store_max_bits = self.global_store_max_bits.max(Some(access_bits(i)));
            }
            "BAR" => self.barriers += 1,
            "FFMA" => self.ffma += 1,
            "HFMA2" => self.hfma2 += 1,
            "MUFU" => self.mufu += 1,
            _ => {}
        }
    }

    /// Adds another census's counts to this one.
    pub fn merge(&mut self, other: &Census) {
        self.total += other.total;
        self.nop += other.nop;
        let (tc, o) = (&mut self.tensor_core, &other.tensor_core);
        tc.total += o.total;
        for (op, n) in &o.by_opcode {
            *tc.by_opcode.entry(op.clone()).or_default() += n;
        }
        tc.f32_accumulate += o.f32_accumulate;
        tc.f16_accumulate += o.f16_accumulate;
        tc.other_accumulate += o.other_accumulate;
        self.local_loads += other.local_loads;
        self.local_stores += other.local_stores;
        self.shared_loads += other.shared_loads;
        self.shared_stores += other.shared_stores;
        self.ldsm += other.ldsm;
        self.async_copies += other.async_copies;
        self.bulk_copies += other.bulk_copies;
        self.global_loads += other.global_loads;
        self.global_stores += other.global_stores;
        self.global_load_max_bits = self.global_load_max_bits.max(other.global_load_max_bits);
        self.global_store_max_bits = self.global_store_max_bits.max(other.global_store_max_bits);
        self.barriers += other.barriers;
        self.ffma += other.ffma;
        self.hfma2 += other.hfma2;
        self.mufu += other.mufu;
    }

    /// `LDL` plus `STL`.
    pub fn local_memory(&self) -> u64 {
        self.local_loads + self.local_stores
    }

    /// The widest global access, load or store, in bits.
    pub fn global_max_bits(&self) -> Option<u32> {
        self.global_load_max_bits.max(self.global_store_max_bits)
    }
}

/// The access width of a load or store, from its size modifier; 32 bits without one.
pub fn access_bits(i: &SassInstruction) -> u32 {
    i.modifiers()
        .filter_map(|m| match m {
            "8" | "U8" | "S8" => Some(8),
            "16" | "U16" | "S16" => Some(16),
            "32" => Some(32),
            "64" => Some(64),
            "128" => Some(128),
            "256" => Some(256),
            _ => None,
        })
        .max()
        .unwrap_or(32)
}

/// Counts `instructions` by class.
pub fn census(instructions: &[SassInstruction]) -> Census {
    let mut c = Census::default();
    instructions.iter().for_each(|i| c.add(i));
    c
}

/// The raw lines of the tensor-core instructions: the excerpt that proves tensor-core use.
pub fn tensor_core_lines(instructions: &[SassInstruction]) -> Vec<String> {
    instructions
        .iter()
        .filter(|i| is_tensor_core(i))
        .map(|i| i.raw.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DUMP: &str = "
\tcode for sm_80
\t.target\tsm_80

\t\tFunction : k
\t.headerflags\t@\"EF_CUDA_SM80 EF_CUDA_VIRTUAL_SM(EF_CUDA_SM80)\"
        /*0000*/                   MOV R1, c[0x0][0x28] ;                     /* 0x00000a0000017a02 */
                                                                              /* 0x000fe40000000f00 */
        /*0010*/              @!P1 LDS R4, [R5] ;                             /* 0x0000000005049984 */
                                                                              /* 0x000fe80000000800 */
        /*0020*/                   HMMA.16816.F32 R16, R4.reuse, R12, RZ ;    /* 0x0000000c0410723c */
                                                                              /* 0x000fe20000001810 */
        /*0030*/                   HFMA2.MMA R29, -RZ, RZ, 0, 2.384185791015625e-07 ; /* 0x00000004ff1d7435 */
                                                                              /* 0x000fe200000001ff */
        /*0040*/                   EXIT ;                                     /* 0x000000000000794d */
                                                                              /* 0x000fea0003800000 */
\t\t..........
";

    #[test]
    fn parses_structure_and_instructions() {
        let d = parse_sass(DUMP);
        assert!(d.unknown_lines.is_empty(), "{:?}", d.unknown_lines);
        assert_eq!(d.encoding_lines, 5);
        let f = &d.functions[0];
        assert_eq!(
            (f.name.as_str(), f.arch.as_deref(), f.target.as_deref()),
            ("k", Some("sm_80"), Some("sm_80"))
        );
        assert!(f.complete);
        assert_eq!(
            f.header_flags.as_deref(),
            Some("@\"EF_CUDA_SM80 EF_CUDA_VIRTUAL_SM(EF_CUDA_SM80)\"")
        );
        let lds = &f.instructions[1];
        assert_eq!(lds.offset, 0x10);
        assert_eq!(lds.predicate.as_deref(), Some("!P1"));
        assert_eq!(
            (lds.opcode.as_str(), lds.base_opcode.as_str()),
            ("LDS", "LDS")
        );
        assert_eq!(lds.operands, "R4, [R5]");
        let hmma = &f.instructions[2];
        assert_eq!(
            (hmma.opcode.as_str(), hmma.base_opcode.as_str()),
            ("HMMA.16816.F32", "HMMA")
        );
        assert_eq!(hmma.raw, "/*0020*/                   HMMA.16816.F32 R16, R4.reuse, R12, RZ ;    /* 0x0000000c0410723c */");
        let exit = &f.instructions[4];
        assert_eq!((exit.opcode.as_str(), exit.operands.as_str()), ("EXIT", ""));
    }

    #[test]
    fn census_tells_tensor_cores_from_hfma2_mma() {
        let d = parse_sass(DUMP);
        let c = census(&d.functions[0].instructions);
        assert_eq!(c.total, 5);
        assert_eq!(c.tensor_core.total, 1);
        assert_eq!(c.tensor_core.f32_accumulate, 1);
        assert_eq!(c.hfma2, 1);
        assert_eq!(c.shared_loads, 1);
        assert_eq!(tensor_core_lines(&d.functions[0].instructions).len(), 1);
    }

    #[test]
    fn crlf_line_ends_parse_the_same() {
        assert_eq!(parse_sass(&DUMP.replace('\n', "\r\n")), parse_sass(DUMP));
    }

    #[test]
    fn empty_input_is_an_empty_dump() {
        assert_eq!(parse_sass(""), SassDump::default());
    }

    #[test]
    fn truncated_dump_is_incomplete_and_the_cut_line_unknown() {
        let cut = &DUMP[..DUMP.find("R4.reuse").unwrap()];
        let d = parse_sass(cut);
        let f = &d.functions[0];
        assert!(!f.complete);
        assert_eq!(f.instructions.len(), 2);
        assert_eq!(
            d.unknown_lines,
            ["        /*0020*/                   HMMA.16816.F32 R16,"]
        );
    }

    #[test]
    fn unknown_lines_are_kept_and_counted() {
        let text = DUMP.replace("\t\t..........", "\t.elftype\t@\"ET_EXEC\"\n\t\t..........");
        let d = parse_sass(&text);
        assert_eq!(d.unknown_lines, ["\t.elftype\t@\"ET_EXEC\""]);
        assert_eq!(d.functions[0].instructions.len(), 5);
    }

    #[test]
    fn instructions_outside_a_function_are_unknown() {
        let d =
            parse_sass("        /*0000*/                   EXIT ;   /* 0x000000000000794d */\n");
        assert!(d.functions.is_empty());
        assert_eq!(d.unknown_lines.len(), 1);
    }

    fn op(opcode: &str) -> SassInstruction {
        instruction("0", &format!("{opcode} R0, R1"), "").unwrap()
    }

    #[test]
    fn accumulator_forms() {
        for (opcode, acc) in [
            ("HMMA.16816.F32", Some(Accumulator::F32)),
            ("HMMA.16816.F32.BF16", Some(Accumulator::F32)),
            ("HMMA.1688.F32.TF32", Some(Accumulator::F32)),
            ("HMMA.16816.F16", Some(Accumulator::F16)),
            ("HGMMA.64x8x16.F32", Some(Accumulator::F32)),
            ("HGMMA.64x128x16.F16", Some(Accumulator::F16)),
            ("QGMMA.64x128x32.F32.E4M3.E4M3", Some(Accumulator::F32)),
            ("IMMA.16832.S8.S8", Some(Accumulator::Other)),
            ("DMMA.884", Some(Accumulator::Other)),
            ("HFMA2.MMA", None),
            ("FFMA", None),
        ] {
            assert_eq!(accumulator(&op(opcode)), acc, "{opcode}");
        }
    }

    #[test]
    fn access_widths() {
        for (opcode, bits) in [
            ("LDG.E", 32),
            ("LDG.E.128", 128),
            ("LDG.E.64.CONSTANT", 64),
            ("STG.E.U16", 16),
            ("LDG.E.U8", 8),
            ("LDG.E.S16", 16),
            ("LDG.E.EF.128", 128),
        ] {
            assert_eq!(access_bits(&op(opcode)), bits, "{opcode}");
        }
    }

    #[test]
    fn only_cta_barriers_count() {
        let ops = [
            "BAR.SYNC.DEFER_BLOCKING",
            "BAR.ARV",
            "BSYNC",
            "WARPSYNC",
            "DEPBAR.LE",
            "LDGDEPBAR",
        ];
        let c = census(&ops.map(op));
        assert_eq!(c.barriers, 2);
    }
}
