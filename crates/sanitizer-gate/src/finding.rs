//! The findings model: one typed value per compute-sanitizer report, and the grouped form
//! that summaries, tables and SARIF render (STYLE.md habit 10: one model, many renderers).

use std::fmt;

use cudadent_config::SanitizerTool;
use serde::{Deserialize, Serialize};

/// A thread or block index as the sanitizer prints it, `(x,y,z)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Dim3 {
    /// x.
    pub x: u32,
    /// y.
    pub y: u32,
    /// z.
    pub z: u32,
}

impl fmt::Display for Dim3 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({},{},{})", self.x, self.y, self.z)
    }
}

/// Where in device code a report points: the function and instruction offset, and the
/// source line when the cubin carries line information (`-lineinfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CodeLocation {
    /// The function as printed (`k`, `vectorAdd(int *)`, `[clone k(int *)] f()`).
    pub function: Option<String>,
    /// Instruction offset inside the function.
    pub pc: Option<u64>,
    /// Source file as printed (compute-sanitizer strips directories by default).
    pub file: Option<String>,
    /// Source line.
    pub line: Option<u32>,
}

impl CodeLocation {
    /// `file:line` when known, else `function+0xpc`, else `?`: the location findings are
    /// grouped by and suppressions name.
    pub fn key(&self) -> String {
        match (&self.file, self.line, &self.function, self.pc) {
            (Some(f), Some(l), _, _) => format!("{f}:{l}"),
            (_, _, Some(func), Some(pc)) => format!("{func}+{pc:#x}"),
            (_, _, Some(func), None) => func.clone(),
            (_, _, None, Some(pc)) => format!("{pc:#x}"),
            _ => "?".to_string(),
        }
    }

    /// The function's bare name: no `[clone ...]` prefix, return type, parameters.
    pub fn function_name(&self) -> Option<String> {
        self.function.as_deref().map(bare_function_name)
    }
}

/// `void k<int>(int *, int)` -> `k<int>`; `[clone k(int *)] f()` -> `f`; `k` -> `k`.
pub fn bare_function_name(printed: &str) -> String {
    let mut s = printed.trim();
    if let Some(rest) = s.strip_prefix("[clone ") {
        // `[clone outer(args)] inner(args)`: the reporting function is the inner one.
        if let Some(end) = rest.find("] ") {
            s = rest[end + 2..].trim();
        }
    }
    // Parameters: cut at the first '(' that is not part of the name.
    let mut name = match s.find('(') {
        Some(i) if i > 0 => &s[..i],
        _ => s,
    };
    // Return type of the old `file:line:void k(...)` form.
    if let Some(i) = name.rfind(' ') {
        name = &name[i + 1..];
    }
    name.trim().to_string()
}

/// Memory address space of an access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemorySpace {
    /// `__global__`.
    Global,
    /// `__shared__`.
    Shared,
    /// `__local__`.
    Local,
    /// Any other space the sanitizer names (kept in the finding's message).
    Other,
}

impl MemorySpace {
    /// From the sanitizer's `__global__` style token.
    pub fn from_token(t: &str) -> Self {
        match t {
            "__global__" => MemorySpace::Global,
            "__shared__" => MemorySpace::Shared,
            "__local__" => MemorySpace::Local,
            _ => MemorySpace::Other,
        }
    }

    fn label(self) -> &'static str {
        match self {
            MemorySpace::Global => "global",
            MemorySpace::Shared => "shared",
            MemorySpace::Local => "local",
            MemorySpace::Other => "other",
        }
    }
}

/// Kind of memory access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// A load.
    Read,
    /// A store.
    Write,
    /// An atomic.
    Atomic,
    /// Anything else the sanitizer names.
    Other,
}

impl Access {
    /// From the sanitizer's word (`read`, `Write`, `atomic`).
    pub fn from_word(w: &str) -> Self {
        match w.to_ascii_lowercase().as_str() {
            "read" => Access::Read,
            "write" => Access::Write,
            "atomic" => Access::Atomic,
            _ => Access::Other,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
            Access::Atomic => "atomic",
            Access::Other => "access",
        }
    }
}

/// racecheck's hazard types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum HazardType {
    /// Read after write.
    #[serde(rename = "RAW")]
    Raw,
    /// Write after read.
    #[serde(rename = "WAR")]
    War,
    /// Write after write.
    #[serde(rename = "WAW")]
    Waw,
}

impl HazardType {
    /// From `RAW`, `WAR`, `WAW`.
    pub fn from_token(t: &str) -> Option<Self> {
        match t {
            "RAW" => Some(HazardType::Raw),
            "WAR" => Some(HazardType::War),
            "WAW" => Some(HazardType::Waw),
            _ => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            HazardType::Raw => "RAW",
            HazardType::War => "WAR",
            HazardType::Waw => "WAW",
        }
    }
}

/// Which racecheck output a race finding came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RaceReport {
    /// An analysis report (`Race reported between ...`): source locations, hazard count.
    Analysis,
    /// A hazard report (`Potential RAW hazard detected at __shared__ 0x..`): one byte,
    /// two threads.
    Hazard,
    /// A cluster entry/exit race (`Potential invalid __shared__ read ...`).
    Cluster,
}

/// One side of a race: an access and where it happened.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RaceAccess {
    /// Read or write.
    pub access: Access,
    /// Where.
    pub at: CodeLocation,
    /// The thread (hazard reports).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread: Option<Dim3>,
    /// Hazards between this access and the first one (analysis reports).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hazards: Option<u64>,
}

/// synccheck's classification of a barrier error.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BarrierClass {
    /// `Divergent thread(s) in block`.
    DivergentBlock,
    /// `Divergent thread(s) in warp`.
    DivergentWarp,
    /// `Invalid arguments`.
    InvalidArguments,
    /// Another classification, in the tool's words (`Missing wait`, a wgmma sequence error).
    Other(String),
}

impl BarrierClass {
    /// From the text after `Barrier error detected.`.
    pub fn from_text(t: &str) -> Self {
        let t = t.trim().trim_end_matches('.').trim();
        let lower = t.to_ascii_lowercase();
        if lower.starts_with("divergent thread(s) in block") {
            BarrierClass::DivergentBlock
        } else if lower.starts_with("divergent thread(s) in warp") {
            BarrierClass::DivergentWarp
        } else if lower.starts_with("invalid arguments") {
            BarrierClass::InvalidArguments
        } else {
            BarrierClass::Other(t.to_string())
        }
    }
}

/// What a report says is wrong. Serialised with `kind` as the tag; [`FindingKind::name`]
/// is the name suppressions use.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FindingKind {
    /// memcheck: `Invalid __global__ write of size 4 bytes` (out of bounds or misaligned).
    OutOfBounds {
        /// Address space.
        space: MemorySpace,
        /// Access type.
        access: Access,
        /// Access size in bytes.
        size: Option<u64>,
        /// What the address line says is wrong (`out of bounds`, `misaligned`).
        problem: Option<String>,
    },
    /// racecheck: a shared-memory hazard (errors and warnings alike).
    RaceHazard {
        /// RAW / WAR / WAW where the report says (hazard reports).
        hazard: Option<HazardType>,
        /// Always shared for racecheck (it sees shared memory only).
        space: MemorySpace,
        /// Which report format.
        report: RaceReport,
        /// The accesses in contention, first one first.
        accesses: Vec<RaceAccess>,
    },
    /// initcheck: `Uninitialized __global__ memory read of size 4 bytes`.
    UninitializedRead {
        /// Address space.
        space: MemorySpace,
        /// Access size in bytes.
        size: Option<u64>,
    },
    /// synccheck: `Barrier error detected. ...`.
    BarrierError {
        /// The classification.
        class: BarrierClass,
    },
    /// memcheck `--leak-check full`: `Leaked N bytes at 0x...`.
    Leak {
        /// Bytes leaked.
        bytes: u64,
        /// On the device heap (device-side `malloc`).
        device_heap: bool,
    },
    /// A CUDA API call that failed: `Program hit ... on CUDA API call to cuX`.
    ApiError {
        /// The API function.
        api: Option<String>,
        /// The error as printed (`cudaErrorMemoryAllocation`).
        error: Option<String>,
    },
    /// Anything else the tool reports as an error (malloc/free errors, ...).
    Other {
        /// The report's first line.
        what: String,
    },
}

impl FindingKind {
    /// Every kind name, as suppressions spell them.
    pub const NAMES: [&'static str; 7] = [
        "out_of_bounds",
        "race_hazard",
        "uninitialized_read",
        "barrier_error",
        "leak",
        "api_error",
        "other",
    ];

    /// The kind's name (`out_of_bounds`, `race_hazard`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            FindingKind::OutOfBounds { .. } => "out_of_bounds",
            FindingKind::RaceHazard { .. } => "race_hazard",
            FindingKind::UninitializedRead { .. } => "uninitialized_read",
            FindingKind::BarrierError { .. } => "barrier_error",
            FindingKind::Leak { .. } => "leak",
            FindingKind::ApiError { .. } => "api_error",
            FindingKind::Other { .. } => "other",
        }
    }

    /// A short human description of the kind's details (`global write 4 B, out of bounds`).
    pub fn detail(&self) -> String {
        match self {
            FindingKind::OutOfBounds {
                space,
                access,
                size,
                problem,
            } => {
                let mut s = format!("{} {}", space.label(), access.label());
                if let Some(n) = size {
                    s.push_str(&format!(" {n} B"));
                }
                if let Some(p) = problem {
                    s.push_str(&format!(", {p}"));
                }
                s
            }
            FindingKind::RaceHazard {
                hazard,
                space,
                report,
                accesses,
            } => {
                let h = hazard.map(HazardType::label).unwrap_or("race");
                let sides: Vec<String> = accesses
                    .iter()
                    .map(|a| format!("{} at {}", a.access.label(), a.at.key()))
                    .collect();
                let report = match report {
                    RaceReport::Analysis => "analysis",
                    RaceReport::Hazard => "hazard",
                    RaceReport::Cluster => "cluster",
                };
                format!("{h} {} ({report}): {}", space.label(), sides.join(" vs "))
            }
            FindingKind::UninitializedRead { space, size } => match size {
                Some(n) => format!("{} read {n} B", space.label()),
                None => format!("{} read", space.label()),
            },
            FindingKind::BarrierError { class } => match class {
                BarrierClass::DivergentBlock => "divergent threads in block".into(),
                BarrierClass::DivergentWarp => "divergent threads in warp".into(),
                BarrierClass::InvalidArguments => "invalid arguments".into(),
                BarrierClass::Other(t) => t.clone(),
            },
            FindingKind::Leak { bytes, device_heap } => {
                if *device_heap {
                    format!("{bytes} B on the device heap")
                } else {
                    format!("{bytes} B")
                }
            }
            FindingKind::ApiError { api, error } => format!(
                "{} from {}",
                error.as_deref().unwrap_or("error"),
                api.as_deref().unwrap_or("a CUDA API call")
            ),
            FindingKind::Other { what } => what.clone(),
        }
    }
}

/// How serious the tool says a report is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Counted as an error by the tool.
    Error,
    /// racecheck WARNING (warp-level hazards): the gate fails on these too.
    Warning,
    /// racecheck INFO.
    Info,
}

impl Severity {
    /// From `Error`, `WARNING`, `info` ...
    pub fn from_word(w: &str) -> Self {
        match w.to_ascii_lowercase().as_str() {
            "warning" => Severity::Warning,
            "info" => Severity::Info,
            _ => Severity::Error,
        }
    }
}

/// One report of the sanitizer, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// What is wrong.
    #[serde(flatten)]
    pub kind: FindingKind,
    /// How serious.
    pub severity: Severity,
    /// Where (the first `at` line; for races, the first access).
    pub at: Option<CodeLocation>,
    /// The thread that hit it.
    pub thread: Option<Dim3>,
    /// Its block.
    pub block: Option<Dim3>,
    /// The address, as printed.
    pub address: Option<String>,
    /// racecheck's `[N hazards]` (summed over the report's access pairs).
    pub hazards: Option<u64>,
    /// The report's first line, in the tool's words.
    pub message: String,
    /// Other lines of the report (`and is 4 bytes after the nearest allocation ...`).
    pub details: Vec<String>,
    /// 1-based line of the report's first line in the log.
    pub log_line: usize,
}

impl Finding {
    /// The location key findings are grouped by (see [`CodeLocation::key`]).
    pub fn location_key(&self) -> String {
        self.at
            .as_ref()
            .map(CodeLocation::key)
            .unwrap_or_else(|| "?".into())
    }

    /// The reporting function's bare name, if the report names one.
    pub fn function_name(&self) -> Option<String> {
        self.at.as_ref().and_then(CodeLocation::function_name)
    }
}

/// Repeated findings of one kind at one place, counted: what summaries and SARIF show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupedFinding {
    /// The tool that reported it.
    pub tool: SanitizerTool,
    /// What (tagged with `kind`).
    #[serde(flatten)]
    pub kind: FindingKind,
    /// How serious (the worst of the group).
    pub severity: Severity,
    /// The kernel under test (or control) whose run reported it.
    pub kernel: String,
    /// The reporting function's bare name.
    pub function: Option<String>,
    /// Source file as printed.
    pub file: Option<String>,
    /// Source line.
    pub line: Option<u32>,
    /// The grouping location (`file:line` or `function+0xpc`).
    pub location: String,
    /// Reports in the group.
    pub count: u64,
    /// racecheck hazards summed over the group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hazards: Option<u64>,
    /// The first report's thread.
    pub thread: Option<Dim3>,
    /// The first report's block.
    pub block: Option<Dim3>,
    /// The first report's address.
    pub address: Option<String>,
    /// The first report's first line, in the tool's words.
    pub message: String,
    /// Log line of the first report.
    pub log_line: usize,
    /// Matched by a `[[sanitizer.suppress]]` entry: listed, but does not fail the gate.
    pub suppressed: bool,
    /// The suppression's reason, when suppressed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppression_reason: Option<String>,
}

impl GroupedFinding {
    /// `tool/kind`, the SARIF rule id.
    pub fn rule_id(&self) -> String {
        format!("{}/{}", self.tool.name(), self.kind.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_names() {
        assert_eq!(bare_function_name("k"), "k");
        assert_eq!(bare_function_name("vectorAdd(int *)"), "vectorAdd");
        assert_eq!(bare_function_name("unaligned_kernel()"), "unaligned_kernel");
        assert_eq!(
            bare_function_name("void vector_projection<double>(double*, int)"),
            "vector_projection<double>"
        );
        assert_eq!(
            bare_function_name("[clone myKernel(int *, int *)] outlineSync()"),
            "outlineSync"
        );
    }

    #[test]
    fn location_keys() {
        let l = CodeLocation {
            function: Some("k".into()),
            pc: Some(0xe0),
            file: Some("k.cu".into()),
            line: Some(1),
        };
        assert_eq!(l.key(), "k.cu:1");
        let l = CodeLocation {
            file: None,
            line: None,
            ..l
        };
        assert_eq!(l.key(), "k+0xe0");
    }
}
