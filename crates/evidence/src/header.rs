use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Version of the summary.json layout. Bump on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// A gate's overall result, as written into `verdict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every check passed.
    Pass,
    /// The gate found a problem in a kernel.
    Fail,
    /// The gate could not decide (a tool crashed, a control was not caught, ...).
    Error,
}

impl Verdict {
    /// The exit code DESIGN.md assigns to this verdict when the run itself completed.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Pass => 0,
            Verdict::Fail => 1,
            Verdict::Error => 1,
        }
    }
}

/// One kernel under test as recorded in every summary: the cubins all gates must agree on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelRecord {
    /// Manifest name.
    pub name: String,
    /// sha256 of the kernel's source (and nothing else).
    pub source_sha256: String,
    /// sha256 of the kernel's manifest: its launches (entries, geometry, launch rules) decide
    /// what ran as much as the source does. Absent in summaries written before it was
    /// recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_sha256: Option<String>,
    /// sha256 of each built cubin, by arch (`sm_90`).
    pub cubins: BTreeMap<String, String>,
}

/// The common header of every summary.json (DESIGN.md, "Artifact layout"). These field
/// names are a contract read by CI scripts and release checklists: never rename them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    /// Layout version, [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The binary that wrote the file (`oracle`, `sass-inspect`, ...).
    pub tool: String,
    /// That binary's version.
    pub tool_version: String,
    /// HEAD of the repository the tool ran in, if any.
    pub git_commit: Option<String>,
    /// Whether tracked files differed from HEAD.
    pub git_dirty: Option<bool>,
    /// Config name (`canon_3`).
    pub config: String,
    /// sha256 of the config file's bytes.
    pub config_sha256: String,
    /// GPU name, or null where no GPU was used.
    pub device: Option<String>,
    /// CUDA driver version, where a driver was used.
    pub driver_version: Option<String>,
    /// CUDA toolkit (nvcc) version that built the cubins.
    pub toolkit_version: Option<String>,
    /// RFC 3339 UTC time the run started.
    pub started_at: String,
    /// Wall time of the run.
    pub duration_s: f64,
    /// Overall result.
    pub verdict: Verdict,
    /// One line saying why, for fail and error (and a summary for pass).
    pub reason: String,
    /// The kernels under test with their source and cubin hashes.
    pub kernels: Vec<KernelRecord>,
}
