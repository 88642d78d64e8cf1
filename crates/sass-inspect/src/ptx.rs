//! PTX text (`nvcc -ptx`, or `cuobjdump --dump-ptx` of a fatbin) as a census of the
//! instructions that matter to attention kernels: tensor-core MMAs, `ldmatrix`, `cp.async`,
//! local memory and CTA barriers, with the `.version` / `.target` directives of each module.
//!
//! Lines are read as PTX statements: directives (`.loc`, `.reg`, `.b8 ...`), labels,
//! braces, comments and instructions (one or more per line, `;`-terminated, possibly
//! continued on following lines). `cuobjdump --dump-ptx` headers (`Fatbin ptx code:`,
//! `arch = sm_80`, ...) are understood too. Anything else is kept in
//! [`PtxReport::unknown_lines`].

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// Counts of the instructions of interest in PTX.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PtxCensus {
    /// All instructions.
    pub instructions: u64,
    /// `mma.sync` (and `mma.sp.sync`): warp-level tensor-core MMA.
    pub mma_sync: u64,
    /// `wmma.mma.sync`.
    pub wmma_mma_sync: u64,
    /// `wgmma.mma_async` (Hopper warpgroup MMA).
    pub wgmma_mma_async: u64,
    /// Of the three MMA forms above, those whose D type is `.f32`.
    pub mma_f32_accumulate: u64,
    /// Of the three MMA forms above, those whose D type is `.f16`.
    pub mma_f16_accumulate: u64,
    /// `ldmatrix`.
    pub ldmatrix: u64,
    /// `cp.async.ca` / `cp.async.cg` copies (not `commit_group` / `wait_group`).
    pub cp_async: u64,
    /// `cp.async.bulk*` copies (TMA).
    pub cp_async_bulk: u64,
    /// `ld.local`.
    pub ld_local: u64,
    /// `st.local`.
    pub st_local: u64,
    /// CTA barriers that wait: `bar.sync`, `barrier.sync`, `bar.red` and their `.cta` forms.
    pub barrier_sync: u64,
}

impl PtxCensus {
    /// All tensor-core MMA instructions (`mma.sync`, `wmma.mma.sync`, `wgmma.mma_async`).
    pub fn tensor_core(&self) -> u64 {
        self.mma_sync + self.wmma_mma_sync + self.wgmma_mma_async
    }

    /// Counts one instruction, given its opcode (`mma.sync.aligned.m16n8k16...`).
    pub fn add(&mut self, opcode: &str) {
        self.instructions += 1;
        let parts: Vec<&str> = opcode.split('.').collect();
        let second = parts.get(1).copied().unwrap_or("");
        let third = parts.get(2).copied().unwrap_or("");
        let is_mma = match parts[0] {
            "mma" => {
                self.mma_sync += 1;
                true
            }
            "wmma" if second == "mma" => {
                self.wmma_mma_sync += 1;
                true
            }
            "wgmma" if second.starts_with("mma_async") => {
                self.wgmma_mma_async += 1;
                true
            }
            _ => false,
        };
        if is_mma {
            // The D type is the first type after the shape (`m16n8k16`).
            let d_type = parts
                .iter()
                .skip_while(|p| !is_shape(p))
                .skip(1)
                .find(|p| matches!(**p, "f32" | "f16" | "s32" | "f64" | "bf16"));
            match d_type {
                Some(&"f32") => self.mma_f32_accumulate += 1,
                Some(&"f16") => self.mma_f16_accumulate += 1,
                _ => {}
            }
        }
        match parts[0] {
            "ldmatrix" => self.ldmatrix += 1,
            "cp" if second == "async" && matches!(third, "ca" | "cg") => self.cp_async += 1,
            "cp" if second == "async" && third == "bulk" => self.cp_async_bulk += 1,
            "ld" if parts.contains(&"local") => self.ld_local += 1,
            "st" if parts.contains(&"local") => self.st_local += 1,
            "bar" | "barrier" if parts.iter().any(|p| matches!(*p, "sync" | "red")) => {
                self.barrier_sync += 1
            }
            _ => {}
        }
    }

    /// Adds another census's counts to this one.
    pub fn merge(&mut self, o: &PtxCensus) {
        self.instructions += o.instructions;
        self.mma_sync += o.mma_sync;
        self.wmma_mma_sync += o.wmma_mma_sync;
        self.wgmma_mma_async += o.wgmma_mma_async;
        self.mma_f32_accumulate += o.mma_f32_accumulate;
        self.mma_f16_accumulate += o.mma_f16_accumulate;
        self.ldmatrix += o.ldmatrix;
        self.cp_async += o.cp_async;
        self.cp_async_bulk += o.cp_async_bulk;
        self.ld_local += o.ld_local;
        self.st_local += o.st_local;
        self.barrier_sync += o.barrier_sync;
    }
}

fn is_shape(p: &str) -> bool {
    SHAPE.is_match(p)
}

/// One PTX module (from one `.version` directive to the next).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PtxModule {
    /// `.version` (e.g. `9.0`).
    pub version: Option<String>,
    /// `.target` as written (e.g. `sm_90a`, `sm_80, debug`).
    pub target: Option<String>,
    /// `.address_size`.
    pub address_size: Option<u32>,
    /// Names of `.entry` functions (kernels).
    pub entries: Vec<String>,
    /// Names of `.func` functions.
    pub functions: Vec<String>,
    /// Its instruction census.
    pub census: PtxCensus,
}

/// A parsed PTX text: one or more modules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PtxReport {
    /// Modules in order; a cuobjdump dump of a fatbin may hold several.
    pub modules: Vec<PtxModule>,
    /// Non-blank lines not understood, as written.
    pub unknown_lines: Vec<String>,
}

impl PtxReport {
    /// The census of all modules together.
    pub fn census(&self) -> PtxCensus {
        let mut c = PtxCensus::default();
        self.modules.iter().for_each(|m| c.merge(&m.census));
        c
    }
}

static SHAPE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^m\d+n\d+k\d+$").unwrap());
static INSTRUCTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:@!?%?[\w$]+\s+)?([a-z][a-z0-9_]*(?:\.[a-z0-9_:]+)*)(?:\s|$)").unwrap()
});
static LABEL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z_$%][\w$]*:(?:\s+|$)").unwrap());
static ENTRY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|\s)\.entry\s+([\w$]+)").unwrap());
static FUNC: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|\s)\.func\s+(?:\([^)]*\)\s*)?([\w$]+)").unwrap());
static DIRECTIVE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\.([a-z_]+)\s*(.*)$").unwrap());
static FATBIN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^Fatbin (elf|ptx) code:$").unwrap());
static FATBIN_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(arch|code version|host|compile_size|ptxasOptions|identifier) =").unwrap()
});

/// Parses PTX text. Never fails: what is not understood is kept in
/// [`PtxReport::unknown_lines`]. CRLF line ends are accepted.
pub fn parse_ptx(text: &str) -> PtxReport {
    let mut report = PtxReport::default();
    let mut in_block_comment = false;
    // An instruction or initialised directive whose `;` has not come yet.
    let mut continuing = false;
    let mut in_fatbin_header = false;

    for raw in text.lines() {
        let line = strip_comments(raw, &mut in_block_comment);
        let line = line.trim();
        if line.is_empty() {
            continue;
        }

        if FATBIN.is_match(line) {
            in_fatbin_header = true;
            continue;
        }
        if in_fatbin_header {
            if line.chars().all(|c| c == '=') || line == "compressed" || FATBIN_FIELD.is_match(line)
            {
                continue;
            }
            in_fatbin_header = false;
        }

        let mut rest = line;
        if continuing {
            match rest.find(';') {
                Some(end) => {
                    continuing = false;
                    rest = &rest[end + 1..];
                }
                None => continue,
            }
        }
        let mut understood = true;
        let segments: Vec<&str> = rest.split(';').collect();
        let last = segments.len() - 1;
        for (n, segment) in segments.into_iter().enumerate() {
            let open = n == last; // no `;` after it on this line
            let mut s = segment.trim();
            s = s
                .trim_start_matches(['{', '}', ' ', '\t'])
                .trim_end_matches(['{', '}', ' ', '\t']);
            while let Some(m) = LABEL.find(s) {
                s = &s[m.end()..];
            }
            if s.is_empty() || s == ")" || s == "(" {
                continue;
            }
            if s.starts_with('.') {
                directive(&mut report, s);
                if open && s.contains('=') {
                    continuing = true;
                }
            } else if let Some(c) = INSTRUCTION.captures(s) {
                module(&mut report).census.add(&c[1]);
                if open {
                    continuing = true;
                }
            } else {
                understood = false;
            }
        }
        if !understood {
            report.unknown_lines.push(raw.trim_end().to_string());
        }
    }
    report
}

/// `line` without `// ...` and `/* ... */` comments; `in_block` carries an open block
/// comment from one line to the next.
fn strip_comments(line: &str, in_block: &mut bool) -> String {
    let mut out = String::new();
    let mut rest = line;
    loop {
        if *in_block {
            match rest.find("*/") {
                Some(end) => {
                    rest = &rest[end + 2..];
                    *in_block = false;
                }
                None => return out,
            }
        }
        let block = rest.find("/*");
        let line_comment = rest.find("//");
        match (block, line_comment) {
            (Some(b), l) if l.is_none_or(|l| b < l) => {
                out.push_str(&rest[..b]);
                out.push(' ');
                rest = &rest[b + 2..];
                *in_block = true;
            }
            (_, Some(l)) => {
                out.push_str(&rest[..l]);
                return out;
            }
            _ => {
                out.push_str(rest);
                return out;
            }
        }
    }
}

fn module(report: &mut PtxReport) -> &mut PtxModule {
    if report.modules.is_empty() {
        report.modules.push(PtxModule::default());
    }
    report.modules.last_mut().expect("just ensured")
}

fn directive(report: &mut PtxReport, s: &str) {
    if let Some(c) = ENTRY.captures(s) {
        module(report).entries.push(c[1].to_string());
        return;
    }
    if let Some(c) = FUNC.captures(s) {
        let m = module(report);
        if !s.contains(".extern") && !m.functions.iter().any(|f| f == &c[1]) {
            m.functions.push(c[1].to_string());
        }
        return;
    }
    let Some(c) = DIRECTIVE.captures(s) else {
        return;
    };
    let value = c[2].trim().to_string();
    match &c[1] {
        "version" => report.modules.push(PtxModule {
            version: Some(value),
            ..PtxModule::default()
        }),
        "target" => module(report).target = Some(value),
        "address_size" => module(report).address_size = value.parse().ok(),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PTX: &str = "//
// Generated by NVIDIA NVVM Compiler
.version 9.0
.target sm_80
.address_size 64

\t// .globl\tk
.visible .entry k(
\t.param .u64 k_param_0
)
{
\t.reg .f32 \t%f<10>;
\t.loc\t1 7 0
\tld.param.u64 \t%rd1, [k_param_0];
\t@%p1 bra \t$L__BB0_2;
$L__BB0_2:
\tbar.sync \t0;
\twmma.mma.sync.aligned.row.col.m16n16k16.f32.f32 {%f2, %f3}, {%r2, %r3}, {%r10}, {%f1, %f1};
\tcp.async.cg.shared.global [%r1], [%rd1], 16, 16;
\tcp.async.commit_group;
\tld.local.f32 \t%f1, [%rd5];
\tret;
}
";

    #[test]
    fn counts_and_directives() {
        let r = parse_ptx(PTX);
        assert!(r.unknown_lines.is_empty(), "{:?}", r.unknown_lines);
        let m = &r.modules[0];
        assert_eq!(m.version.as_deref(), Some("9.0"));
        assert_eq!(m.target.as_deref(), Some("sm_80"));
        assert_eq!(m.address_size, Some(64));
        assert_eq!(m.entries, ["k"]);
        let c = &m.census;
        assert_eq!(c.instructions, 8);
        assert_eq!((c.wmma_mma_sync, c.mma_f32_accumulate), (1, 1));
        assert_eq!((c.cp_async, c.ld_local, c.barrier_sync), (1, 1, 1));
    }

    #[test]
    fn crlf_line_ends_parse_the_same() {
        assert_eq!(parse_ptx(&PTX.replace('\n', "\r\n")), parse_ptx(PTX));
    }

    #[test]
    fn empty_input_is_an_empty_report() {
        assert_eq!(parse_ptx(""), PtxReport::default());
    }

    #[test]
    fn unknown_lines_are_kept_and_counted() {
        let r = parse_ptx(&format!("{PTX}#pragma something odd\n"));
        assert_eq!(r.unknown_lines, ["#pragma something odd"]);
        assert_eq!(r.census().instructions, 8);
    }

    #[test]
    fn truncated_ptx_counts_what_is_there() {
        let cut = &PTX[..PTX.find("cp.async.cg").unwrap()];
        let r = parse_ptx(cut);
        assert!(r.unknown_lines.is_empty());
        assert_eq!(r.census().wmma_mma_sync, 1);
        assert_eq!(r.census().cp_async, 0);
    }

    #[test]
    fn inline_asm_shapes() {
        // Several statements on one line, an instruction continued over lines, block comments.
        let r = parse_ptx(
            "{ .reg .pred p; setp.ne.b32 p, %r9, 0; }\n\
             mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 /* d */ {%f1, %f2,\n\
             %f3, %f4}, {%r1, %r2, %r3, %r4}, {%r5, %r6}, {%f1, %f2, %f3, %f4};\n\
             mma.sync.aligned.m16n8k16.row.col.f16.f16.f16.f16 {%r1, %r2}, {%r1, %r2, %r3, %r4}, {%r5, %r6}, {%r7, %r8}; ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%r1, %r2, %r3, %r4}, [%r9];\n\
             /* a\n comment */ barrier.cta.sync.aligned 0;\n\
             wgmma.mma_async.sync.aligned.m64n8k16.f32.f16.f16 {%f1, %f2, %f3, %f4}, {%r5, %r6, %r7, %r8}, %rd3, p, 1, 1, 1;\n\
             cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%r1], [%rd1, {%r2, %r3}], [%r4];\n",
        );
        assert!(r.unknown_lines.is_empty(), "{:?}", r.unknown_lines);
        let c = r.census();
        assert_eq!(c.instructions, 7);
        assert_eq!((c.mma_sync, c.wgmma_mma_async, c.tensor_core()), (2, 1, 3));
        assert_eq!((c.mma_f32_accumulate, c.mma_f16_accumulate), (2, 1));
        assert_eq!((c.ldmatrix, c.barrier_sync, c.cp_async_bulk), (1, 1, 1));
    }
}
