//! The `-Xptxas -v` report (what nvcc prints on stderr) as typed per-function resource usage.
//!
//! A report is a sequence of *modules*, one per ptxas run (one per arch in a multi-arch
//! build), each opened by a `N bytes gmem` line. Inside a module:
//!
//! ```text
//! ptxas info    : 0 bytes gmem
//! ptxas info    : Compiling entry function 'k' for 'sm_90'
//! ptxas info    : Function properties for k
//!     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
//! ptxas info    : Used 10 registers, used 0 barriers, 16384 bytes smem, 400 bytes cmem[0]
//! ptxas info    : Compile time = 2.033 ms
//! ```
//!
//! Non-inlined device functions get a `Function properties for` block with no `Compiling`
//! line; with `-rdc=true` it may come before any entry, with its own compile time. Their arch
//! is the module's. Lines this parser does not understand are kept in
//! [`PtxasReport::unknown_lines`], items of a `Used ...` line it does not understand in
//! [`ResourceUsage::unknown_items`]: a new ptxas wording shows up as a count, never as a guess.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// Everything one `-Xptxas -v` report says.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PtxasReport {
    /// One record per function block, in report order (entries and device functions).
    pub functions: Vec<ResourceUsage>,
    /// One record per `N bytes gmem` line, in report order.
    pub modules: Vec<ModuleUsage>,
    /// `Overriding maximum register limit ...` lines (from `-maxrregcount`).
    pub register_limit_overrides: Vec<RegisterLimitOverride>,
    /// `ptxas warning` lines, as ptxas wrote them.
    pub warnings: Vec<String>,
    /// `ptxas error` and `ptxas fatal` lines, as ptxas wrote them.
    pub errors: Vec<String>,
    /// Non-blank lines that are none of the above, as written.
    pub unknown_lines: Vec<String>,
}

/// Module-level usage: the `N bytes gmem[, M bytes cmem[B]]` line that opens a ptxas run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModuleUsage {
    /// The arch of the functions compiled in this module, where they name exactly one.
    pub arch: Option<String>,
    /// Bytes of `__device__` globals.
    pub gmem_bytes: u64,
    /// Module-level constant banks (e.g. `__constant__` data in `cmem[3]`): bank -> bytes.
    pub constant_bytes: BTreeMap<u32, u64>,
    /// Items of the line that were not understood, as written.
    pub unknown_items: Vec<String>,
}

/// Resource usage of one function for one arch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourceUsage {
    /// The (mangled) function name as ptxas prints it.
    pub function: String,
    /// `sm_XX` from the `Compiling entry function` line, or the module's arch for device
    /// functions; `None` where the report never names one.
    pub arch: Option<String>,
    /// Whether ptxas compiled it as an entry (`Compiling entry function`).
    pub is_entry: bool,
    /// Index into [`PtxasReport::modules`] of the module it was reported in.
    pub module: Option<usize>,
    /// Registers per thread (`Used N registers`); `None` where the line is missing.
    pub registers: Option<u32>,
    /// Named barriers (`used N barriers`); `None` where not reported.
    pub barriers: Option<u32>,
    /// `N bytes stack frame`; `None` where the properties line is missing.
    pub stack_frame_bytes: Option<u32>,
    /// `N bytes spill stores`; `None` where the properties line is missing.
    pub spill_stores_bytes: Option<u32>,
    /// `N bytes spill loads`; `None` where the properties line is missing.
    pub spill_loads_bytes: Option<u32>,
    /// `N bytes cumulative stack size` (stack of the entry and its callees).
    pub cumulative_stack_bytes: Option<u32>,
    /// Static shared memory (`N bytes smem`): `Some(0)` when the `Used` line omits it,
    /// `None` when there is no `Used` line at all.
    pub shared_bytes: Option<u32>,
    /// Constant banks the function uses (`N bytes cmem[B]`): bank -> bytes.
    pub constant_bytes: BTreeMap<u32, u32>,
    /// `__device__` globals of the module this function was compiled in.
    pub gmem_bytes: Option<u64>,
    /// `Compile time = N ms`.
    pub compile_time_ms: Option<f64>,
    /// Items of the `Used ...` line that were not understood, as written.
    pub unknown_items: Vec<String>,
}

/// One `Overriding maximum register limit L for 'f' with N of maxrregcount option` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterLimitOverride {
    /// The function whose limit was overridden.
    pub function: String,
    /// The limit ptxas would have used.
    pub default_limit: u32,
    /// The limit it used instead.
    pub limit: u32,
}

impl ResourceUsage {
    /// Spill stores plus spill loads, where both were reported.
    pub fn spill_bytes(&self) -> Option<u32> {
        Some(self.spill_stores_bytes? + self.spill_loads_bytes?)
    }
}

impl PtxasReport {
    /// How many lines and items were not understood: `0` for a report in a known format.
    pub fn not_understood(&self) -> usize {
        self.unknown_lines.len()
            + self
                .modules
                .iter()
                .map(|m| m.unknown_items.len())
                .sum::<usize>()
            + self
                .functions
                .iter()
                .map(|f| f.unknown_items.len())
                .sum::<usize>()
    }

    /// The entry functions (kernels), in report order.
    pub fn entries(&self) -> impl Iterator<Item = &ResourceUsage> {
        self.functions.iter().filter(|f| f.is_entry)
    }

    /// The first record of `function` compiled for `arch` (any arch where `arch` is `None`).
    pub fn function(&self, function: &str, arch: Option<&str>) -> Option<&ResourceUsage> {
        self.functions
            .iter()
            .find(|f| f.function == function && arch.is_none_or(|a| f.arch.as_deref() == Some(a)))
    }
}

static LINE: LazyLock<Regex> = LazyLock::new(|| {
    // `ptxas info    : msg`, and the located form `ptxas x.ptx, line 5; error   : msg`.
    Regex::new(r"^ptxas(?:\s+[^;]*;)?\s+(info|warning|error|fatal)\s*:\s?(.*)$").unwrap()
});
static STACK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^\s*(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads\s*$",
    )
    .unwrap()
});
static GMEM: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d+) bytes gmem(?:, (.*))?$").unwrap());
static COMPILING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^Compiling (entry )?function '(.+)' for '(.+)'$").unwrap());
static PROPERTIES: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^Function properties for (.+)$").unwrap());
static USED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^Used (\d+) registers(?:, (.*))?$").unwrap());
static COMPILE_TIME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^Compile time = (\d+(?:\.\d+)?) ms$").unwrap());
static OVERRIDE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^Overriding maximum register limit (\d+) for '(.+)' with\s+(\d+) of maxrregcount option$",
    )
    .unwrap()
});
static CMEM: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d+) bytes cmem\[(\d+)\]$").unwrap());
static BARRIERS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^used (\d+) barriers$").unwrap());
static SMEM: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(\d+) bytes smem$").unwrap());
static CUMULATIVE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d+) bytes cumulative stack size$").unwrap());

/// Parses a `-Xptxas -v` report (nvcc's stderr). Never fails: what is not understood is kept
/// in [`PtxasReport::unknown_lines`]. CRLF line ends are accepted.
pub fn parse_ptxas(text: &str) -> PtxasReport {
    let mut report = PtxasReport::default();
    let mut module: Option<usize> = None;
    // The function whose `Function properties` line came last, until its stack line.
    let mut awaiting_stack: Option<usize> = None;

    for raw in text.lines() {
        let line = raw.trim_end();
        if line.trim().is_empty() {
            continue;
        }
        let pending = awaiting_stack.take();
        if let Some(c) = STACK.captures(line) {
            match (pending, num(&c[1]), num(&c[2]), num(&c[3])) {
                (Some(i), Some(stack), Some(stores), Some(loads)) => {
                    let f = &mut report.functions[i];
                    f.stack_frame_bytes = Some(stack);
                    f.spill_stores_bytes = Some(stores);
                    f.spill_loads_bytes = Some(loads);
                }
                _ => report.unknown_lines.push(line.to_string()),
            }
            continue;
        }
        let Some(c) = LINE.captures(line) else {
            report.unknown_lines.push(line.to_string());
            continue;
        };
        let msg = c[2].trim_end();
        match &c[1] {
            "warning" => {
                report.warnings.push(line.to_string());
                continue;
            }
            "error" | "fatal" => {
                report.errors.push(line.to_string());
                continue;
            }
            _ => {}
        }

        if let Some(c) = GMEM.captures(msg) {
            let Some(gmem_bytes) = num(&c[1]) else {
                report.unknown_lines.push(line.to_string());
                continue;
            };
            finish_module(&mut report, module);
            let mut m = ModuleUsage {
                gmem_bytes,
                ..ModuleUsage::default()
            };
            for item in c.get(2).map(|s| s.as_str()).unwrap_or("").split(", ") {
                match cmem(item) {
                    Some((bank, bytes)) => {
                        let total = m.constant_bytes.entry(bank).or_default();
                        *total = total.saturating_add(bytes.into());
                    }
                    None if item.is_empty() => {}
                    None => m.unknown_items.push(item.to_string()),
                }
            }
            report.modules.push(m);
            module = Some(report.modules.len() - 1);
        } else if let Some(c) = COMPILING.captures(msg) {
            report.functions.push(ResourceUsage {
                function: c[2].to_string(),
                arch: Some(c[3].to_string()),
                is_entry: c.get(1).is_some(),
                module,
                gmem_bytes: module.map(|m| report.modules[m].gmem_bytes),
                ..ResourceUsage::default()
            });
        } else if let Some(c) = PROPERTIES.captures(msg) {
            let name = &c[1];
            // The properties of the function just opened by `Compiling`, or a device function.
            let open = report.functions.last().filter(|f| {
                f.function == name && f.stack_frame_bytes.is_none() && f.registers.is_none()
            });
            if open.is_none() {
                let arch = report
                    .functions
                    .last()
                    .filter(|f| f.module == module)
                    .and_then(|f| f.arch.clone());
                report.functions.push(ResourceUsage {
                    function: name.to_string(),
                    arch,
                    is_entry: false,
                    module,
                    gmem_bytes: module.map(|m| report.modules[m].gmem_bytes),
                    ..ResourceUsage::default()
                });
            }
            awaiting_stack = Some(report.functions.len() - 1);
        } else if let Some(c) = USED.captures(msg) {
            let (Some(f), Some(registers)) = (
                report
                    .functions
                    .last_mut()
                    .filter(|f| f.registers.is_none()),
                num(&c[1]),
            ) else {
                report.unknown_lines.push(line.to_string());
                continue;
            };
            f.registers = Some(registers);
            f.shared_bytes = Some(0);
            for item in c.get(2).map(|s| s.as_str()).unwrap_or("").split(", ") {
                let parsed = if item.is_empty() {
                    Some(())
                } else if let Some(b) = BARRIERS.captures(item) {
                    num(&b[1]).map(|n| f.barriers = Some(n))
                } else if let Some(b) = SMEM.captures(item) {
                    num(&b[1]).map(|n| f.shared_bytes = Some(n))
                } else if let Some((bank, bytes)) = cmem(item) {
                    let total = f.constant_bytes.entry(bank).or_default();
                    *total = total.saturating_add(bytes);
                    Some(())
                } else if let Some(b) = CUMULATIVE.captures(item) {
                    num(&b[1]).map(|n| f.cumulative_stack_bytes = Some(n))
                } else {
                    None
                };
                if parsed.is_none() {
                    f.unknown_items.push(item.to_string());
                }
            }
        } else if let Some(c) = COMPILE_TIME.captures(msg) {
            match report
                .functions
                .last_mut()
                .filter(|f| f.compile_time_ms.is_none())
            {
                Some(f) => f.compile_time_ms = c[1].parse().ok(),
                None => report.unknown_lines.push(line.to_string()),
            }
        } else if let Some(c) = OVERRIDE.captures(msg) {
            match (num(&c[1]), num(&c[3])) {
                (Some(default_limit), Some(limit)) => {
                    report.register_limit_overrides.push(RegisterLimitOverride {
                        function: c[2].to_string(),
                        default_limit,
                        limit,
                    })
                }
                _ => report.unknown_lines.push(line.to_string()),
            }
        } else {
            report.unknown_lines.push(line.to_string());
        }
    }
    finish_module(&mut report, module);
    report
}

/// Gives the module, and its functions that name no arch, the one arch its functions name.
fn finish_module(report: &mut PtxasReport, module: Option<usize>) {
    let mut archs: Vec<&str> = report
        .functions
        .iter()
        .filter(|f| f.module == module)
        .filter_map(|f| f.arch.as_deref())
        .collect();
    archs.sort_unstable();
    archs.dedup();
    let [arch] = archs[..] else { return };
    let arch = arch.to_string();
    for f in report
        .functions
        .iter_mut()
        .filter(|f| f.module == module && f.arch.is_none())
    {
        f.arch = Some(arch.clone());
    }
    if let Some(m) = module {
        report.modules[m].arch = Some(arch);
    }
}

fn num<T: std::str::FromStr>(s: &str) -> Option<T> {
    s.parse().ok()
}

/// `N bytes cmem[B]` as `(B, N)`; `None` for anything else, or a number out of range.
fn cmem(item: &str) -> Option<(u32, u32)> {
    let c = CMEM.captures(item)?;
    Some((num(&c[2])?, num(&c[1])?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SM90: &str = "ptxas info    : 0 bytes gmem
ptxas info    : Compiling entry function 'k' for 'sm_90'
ptxas info    : Function properties for k
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 10 registers, used 0 barriers, 16384 bytes smem, 400 bytes cmem[0]
ptxas info    : Compile time = 2.033 ms
";

    #[test]
    fn parses_the_basic_block() {
        let r = parse_ptxas(SM90);
        assert_eq!(r.not_understood(), 0, "{r:#?}");
        assert_eq!(r.functions.len(), 1);
        let k = &r.functions[0];
        assert_eq!(k.function, "k");
        assert_eq!(k.arch.as_deref(), Some("sm_90"));
        assert!(k.is_entry);
        assert_eq!(k.registers, Some(10));
        assert_eq!(k.barriers, Some(0));
        assert_eq!(k.shared_bytes, Some(16384));
        assert_eq!(k.constant_bytes, BTreeMap::from([(0, 400)]));
        assert_eq!(k.spill_bytes(), Some(0));
        assert_eq!(k.gmem_bytes, Some(0));
        assert_eq!(k.compile_time_ms, Some(2.033));
        assert_eq!(r.modules[0].arch.as_deref(), Some("sm_90"));
    }

    #[test]
    fn crlf_line_ends_parse_the_same() {
        assert_eq!(parse_ptxas(&SM90.replace('\n', "\r\n")), parse_ptxas(SM90));
    }

    #[test]
    fn empty_input_is_an_empty_report() {
        assert_eq!(parse_ptxas(""), PtxasReport::default());
        assert_eq!(parse_ptxas("\n\n  \n"), PtxasReport::default());
    }

    #[test]
    fn unknown_lines_are_kept_and_counted() {
        let text = format!("{SM90}ptxas info    : Something new in CUDA 14\nrandom tool chatter\n");
        let r = parse_ptxas(&text);
        assert_eq!(
            r.unknown_lines,
            [
                "ptxas info    : Something new in CUDA 14",
                "random tool chatter"
            ]
        );
        assert_eq!(r.not_understood(), 2);
        assert_eq!(r.functions[0].registers, Some(10));
    }

    #[test]
    fn unknown_items_of_the_used_line_are_kept() {
        let r = parse_ptxas(
            "ptxas info    : Compiling entry function 'k' for 'sm_80'\n\
             ptxas info    : Used 168 registers, used 1 barriers, 376 bytes cmem[0], 8 bytes cmem[2], 3 textures\n",
        );
        let k = &r.functions[0];
        assert_eq!(k.registers, Some(168));
        assert_eq!(k.barriers, Some(1));
        assert_eq!(k.shared_bytes, Some(0));
        assert_eq!(k.constant_bytes, BTreeMap::from([(0, 376), (2, 8)]));
        assert_eq!(k.unknown_items, ["3 textures"]);
        assert_eq!(r.not_understood(), 1);
    }

    #[test]
    fn older_wording_without_barriers_parses() {
        // The `Used` line of older ptxas releases has no `used N barriers` item (typed here,
        // not captured: the pinned toolchain always prints it).
        let r = parse_ptxas(
            "ptxas info    : Compiling entry function '_Z1kPf' for 'sm_80'\n\
             ptxas info    : Function properties for _Z1kPf\n\
             \x20   0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n\
             ptxas info    : Used 4 registers, 1024 bytes smem, 352 bytes cmem[0]\n",
        );
        assert_eq!(r.not_understood(), 0);
        let k = &r.functions[0];
        assert_eq!(
            (k.registers, k.barriers, k.shared_bytes),
            (Some(4), None, Some(1024))
        );
        assert_eq!(k.compile_time_ms, None);
    }

    #[test]
    fn truncated_report_leaves_missing_values_unknown() {
        let cut = &SM90[..SM90.find("    0 bytes stack").unwrap()];
        let r = parse_ptxas(cut);
        assert_eq!(r.not_understood(), 0);
        let k = &r.functions[0];
        assert_eq!(k.stack_frame_bytes, None);
        assert_eq!(k.spill_bytes(), None);
        assert_eq!(k.registers, None);
        assert_eq!(k.shared_bytes, None);

        // Cut inside a line: the partial line is not understood, and says so.
        let cut = &SM90[..SM90.find("registers").unwrap() + 3];
        let r = parse_ptxas(cut);
        assert_eq!(r.unknown_lines, ["ptxas info    : Used 10 reg"]);
        assert_eq!(r.functions[0].registers, None);
    }

    #[test]
    fn numbers_out_of_range_are_not_understood() {
        let r = parse_ptxas(
            "ptxas info    : 99999999999999999999 bytes gmem\n\
             ptxas info    : Compiling entry function 'k' for 'sm_90'\n\
             ptxas info    : Used 12 registers, 99999999999 bytes smem, 1 bytes cmem[99999999999]\n",
        );
        assert_eq!(
            r.unknown_lines,
            ["ptxas info    : 99999999999999999999 bytes gmem"]
        );
        assert_eq!(
            r.functions[0].unknown_items,
            ["99999999999 bytes smem", "1 bytes cmem[99999999999]"]
        );
        assert_eq!(r.functions[0].shared_bytes, Some(0));
        assert_eq!(r.not_understood(), 3);
    }

    #[test]
    fn a_stack_line_without_properties_is_unknown() {
        let r = parse_ptxas("    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n");
        assert_eq!(r.unknown_lines.len(), 1);
        assert!(r.functions.is_empty());
    }

    #[test]
    fn located_errors_are_errors() {
        let r = parse_ptxas(
            "ptxas tmpxft_00001a2b_00000000-6_k.ptx, line 5; error   : Unknown symbol 'y'\n",
        );
        assert_eq!(
            r.errors,
            ["ptxas tmpxft_00001a2b_00000000-6_k.ptx, line 5; error   : Unknown symbol 'y'"]
        );
        assert_eq!(r.not_understood(), 0);
    }
}
