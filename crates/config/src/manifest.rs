use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::arch::Arch;
use crate::error::{parse_strict, ConfigError};

/// Kernel calling conventions cudadent knows how to launch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Abi {
    /// `(Q, K, V, O, B, H, S, D, softmax_scale, causal)`, [B,H,S,D] fp16; see kernels/README.md.
    #[serde(rename = "attention_fwd_v1")]
    AttentionFwdV1,
}

/// Element types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    /// IEEE half precision.
    F16,
}

/// The gate that must catch a negative-control kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Gate {
    /// The oracle (numerics, poison, canaries, determinism).
    Oracle,
    /// compute-sanitizer memcheck.
    Memcheck,
    /// compute-sanitizer racecheck.
    Racecheck,
    /// compute-sanitizer initcheck.
    Initcheck,
    /// compute-sanitizer synccheck.
    Synccheck,
    /// sass-inspect (resources and instruction census).
    Inspect,
}

impl Gate {
    /// Lower-case name as written in manifests.
    pub fn name(self) -> &'static str {
        match self {
            Gate::Oracle => "oracle",
            Gate::Memcheck => "memcheck",
            Gate::Racecheck => "racecheck",
            Gate::Initcheck => "initcheck",
            Gate::Synccheck => "synccheck",
            Gate::Inspect => "inspect",
        }
    }
}

/// Marks a kernel as a negative control: a planted bug that `gate` must catch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Control {
    /// The gate that must catch it.
    pub gate: Gate,
    /// What the gate must report.
    pub expect: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    name: Spanned<String>,
    source: Spanned<String>,
    entry: Spanned<String>,
    abi: Abi,
    block_m: Spanned<u32>,
    threads: Spanned<u32>,
    head_dims: Spanned<Vec<u32>>,
    dtypes: Vec<Dtype>,
    #[serde(default = "one")]
    seq_multiple: Spanned<u32>,
    min_arch: Arch,
    tensor_cores: bool,
    #[serde(default)]
    defines: Vec<Spanned<String>>,
    #[serde(default)]
    debug_defines: Vec<Spanned<String>>,
    #[serde(default = "no_shared")]
    dynamic_shared_bytes: Spanned<BTreeMap<String, u32>>,
    #[serde(default = "no_entries")]
    entry_by_head_dim: Spanned<BTreeMap<String, String>>,
    #[serde(default)]
    control: Option<Control>,
}

fn no_entries() -> Spanned<BTreeMap<String, String>> {
    Spanned::new(0..0, BTreeMap::new())
}

fn no_shared() -> Spanned<BTreeMap<String, u32>> {
    Spanned::new(0..0, BTreeMap::new())
}

/// Whether `s` can name a C function: letters, digits and `_`, not empty.
fn is_c_identifier(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn one() -> Spanned<u32> {
    Spanned::new(0..0, 1)
}

/// A validated kernel manifest: how to build and launch one kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KernelManifest {
    /// Unique kernel name (artifact file names use it).
    pub name: String,
    /// The manifest file.
    pub manifest_path: PathBuf,
    /// The CUDA source, resolved relative to the manifest.
    pub source_path: PathBuf,
    /// `extern "C"` entry symbol.
    pub entry: String,
    /// Calling convention.
    pub abi: Abi,
    /// Query rows per CTA (grid.x = ceil(S / block_m)).
    pub block_m: u32,
    /// Threads per CTA.
    pub threads: u32,
    /// Supported head dims.
    pub head_dims: Vec<u32>,
    /// Supported element types.
    pub dtypes: Vec<Dtype>,
    /// S must be a multiple of this.
    pub seq_multiple: u32,
    /// Oldest arch the kernel supports.
    pub min_arch: Arch,
    /// Whether the kernel must run on tensor cores.
    pub tensor_cores: bool,
    /// Extra preprocessor definitions (`NAME` or `NAME=VALUE`).
    pub defines: Vec<String>,
    /// Definitions for the checked debug build.
    pub debug_defines: Vec<String>,
    /// Dynamic shared memory per head dim, in bytes.
    pub dynamic_shared_bytes: BTreeMap<u32, u32>,
    /// Optional per-head-dim entry symbols (`[entry_by_head_dim]`); a head dim absent here
    /// launches `entry`.
    pub entry_by_head_dim: BTreeMap<u32, String>,
    /// Present on negative controls.
    pub control: Option<Control>,
}

impl KernelManifest {
    /// Reads and validates a manifest file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Validates manifest `text` as if read from `path` (the source is resolved beside it
    /// and must exist).
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let raw: RawManifest = parse_strict(path, text)?;
        let err = |span: std::ops::Range<usize>, key: &str, msg: String| {
            ConfigError::invalid(path, text, Some(span), key, msg)
        };
        let name = raw.name.get_ref();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(err(
                raw.name.span(),
                "name",
                format!("`{name}` is not a kernel name (letters, digits, `_`, `-`)"),
            ));
        }
        let entry = raw.entry.get_ref();
        if !is_c_identifier(entry) {
            return Err(err(
                raw.entry.span(),
                "entry",
                format!("`{entry}` is not a C identifier"),
            ));
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        let source_path = dir.join(raw.source.get_ref());
        if !source_path.is_file() {
            return Err(err(
                raw.source.span(),
                "source",
                format!(
                    "kernel source {} does not exist (paths are relative to the manifest)",
                    source_path.display()
                ),
            ));
        }
        let threads = *raw.threads.get_ref();
        if threads == 0 || threads > 1024 || !threads.is_multiple_of(32) {
            return Err(err(
                raw.threads.span(),
                "threads",
                format!("{threads} threads per block: must be a multiple of 32 in 32..=1024"),
            ));
        }
        if *raw.block_m.get_ref() == 0 {
            return Err(err(
                raw.block_m.span(),
                "block_m",
                "must be at least 1".into(),
            ));
        }
        if *raw.seq_multiple.get_ref() == 0 {
            return Err(err(
                raw.seq_multiple.span(),
                "seq_multiple",
                "must be at least 1".into(),
            ));
        }
        let head_dims = raw.head_dims.get_ref().clone();
        if head_dims.is_empty() || head_dims.iter().any(|&d| d == 0 || d > 256 || d % 8 != 0) {
            return Err(err(
                raw.head_dims.span(),
                "head_dims",
                format!(
                    "{head_dims:?}: need at least one head dim, each a multiple of 8 in 8..=256"
                ),
            ));
        }
        // A per-head-dim table's key: one of this kernel's head dims.
        let head_dim_key = |span: std::ops::Range<usize>, key: &str, k: &str| {
            k.parse::<u32>()
                .ok()
                .filter(|d| head_dims.contains(d))
                .ok_or_else(|| {
                    err(
                        span,
                        key,
                        format!("`{k}` is not one of this kernel's head_dims {head_dims:?}"),
                    )
                })
        };
        let mut dynamic_shared_bytes = BTreeMap::new();
        for (k, &v) in raw.dynamic_shared_bytes.get_ref() {
            let d = head_dim_key(
                raw.dynamic_shared_bytes.span(),
                &format!("dynamic_shared_bytes.{k}"),
                k,
            )?;
            if v > 227 * 1024 {
                return Err(err(
                    raw.dynamic_shared_bytes.span(),
                    &format!("dynamic_shared_bytes.{k}"),
                    format!("{v} bytes is more than any GPU offers per block (227 KiB)"),
                ));
            }
            dynamic_shared_bytes.insert(d, v);
        }
        let mut entry_by_head_dim = BTreeMap::new();
        for (k, v) in raw.entry_by_head_dim.get_ref() {
            let key = format!("entry_by_head_dim.{k}");
            let d = head_dim_key(raw.entry_by_head_dim.span(), &key, k)?;
            if !is_c_identifier(v) {
                return Err(err(
                    raw.entry_by_head_dim.span(),
                    &key,
                    format!("`{v}` is not a C identifier"),
                ));
            }
            entry_by_head_dim.insert(d, v.clone());
        }
        let check_defines =
            |list: &[Spanned<String>], key: &str| -> Result<Vec<String>, ConfigError> {
                list.iter()
                    .enumerate()
                    .map(|(i, d)| {
                        let s = d.get_ref();
                        let name = s.split('=').next().unwrap_or("");
                        let ok = !name.is_empty()
                            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                            && !s.contains(char::is_whitespace);
                        if ok {
                            Ok(s.clone())
                        } else {
                            Err(err(
                                d.span(),
                                &format!("{key}[{i}]"),
                                format!("`{s}` is not NAME or NAME=VALUE (no -D, no spaces)"),
                            ))
                        }
                    })
                    .collect()
            };
        Ok(KernelManifest {
            name: name.clone(),
            manifest_path: path.to_path_buf(),
            source_path,
            entry: entry.clone(),
            abi: raw.abi,
            block_m: *raw.block_m.get_ref(),
            threads,
            head_dims,
            dtypes: raw.dtypes,
            seq_multiple: *raw.seq_multiple.get_ref(),
            min_arch: raw.min_arch,
            tensor_cores: raw.tensor_cores,
            defines: check_defines(&raw.defines, "defines")?,
            debug_defines: check_defines(&raw.debug_defines, "debug_defines")?,
            dynamic_shared_bytes,
            entry_by_head_dim,
            control: raw.control,
        })
    }

    /// Dynamic shared memory to launch with at head dim `d` (0 where the manifest says none).
    pub fn shared_bytes_for(&self, d: u32) -> u32 {
        self.dynamic_shared_bytes.get(&d).copied().unwrap_or(0)
    }

    /// The entry symbol to launch at head dim `d`: its `[entry_by_head_dim]` row, else
    /// `entry`.
    pub fn entry_for(&self, d: u32) -> &str {
        self.entry_by_head_dim
            .get(&d)
            .map(String::as_str)
            .unwrap_or(&self.entry)
    }

    /// Every distinct entry symbol: `entry` first, then the per-head-dim ones.
    pub fn entries(&self) -> Vec<&str> {
        let mut v = vec![self.entry.as_str()];
        for e in self.entry_by_head_dim.values() {
            if !v.contains(&e.as_str()) {
                v.push(e.as_str());
            }
        }
        v
    }

    /// Why this kernel cannot run `problem`, if it cannot.
    pub fn unsupported_reason(&self, problem: &crate::Problem) -> Option<String> {
        if !self.head_dims.contains(&problem.head_dim) {
            return Some(format!(
                "kernel `{}` supports head dims {:?}, not D={}",
                self.name, self.head_dims, problem.head_dim
            ));
        }
        if !problem.seq_len.is_multiple_of(self.seq_multiple) {
            return Some(format!(
                "kernel `{}` needs S to be a multiple of {}, S={} is not",
                self.name, self.seq_multiple, problem.seq_len
            ));
        }
        if !self.dtypes.contains(&problem.dtype) {
            return Some(format!(
                "kernel `{}` supports dtypes {:?}, not {:?}",
                self.name, self.dtypes, problem.dtype
            ));
        }
        None
    }
}
