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
    /// `(Q, tensor map of K, tensor map of V, O, B, H, S, D, softmax_scale, causal)`: v1 with
    /// K and V as `__grid_constant__ CUtensorMap` arguments that the runtime encodes (3-D
    /// {D, S, B*H} fp16, box {64, 64, 1}, 128-byte swizzle, zero fill), for kernels that
    /// load them with TMA; sm_90 and newer, head dims multiples of 64; see kernels/README.md.
    #[serde(rename = "attention_fwd_tma_v1")]
    AttentionFwdTmaV1,
}

impl Abi {
    /// Every ABI, with the name manifests use for it.
    pub const ALL: [(Abi, &'static str); 2] = [
        (Abi::AttentionFwdV1, "attention_fwd_v1"),
        (Abi::AttentionFwdTmaV1, "attention_fwd_tma_v1"),
    ];

    /// The ABI a manifest calls `name`.
    pub fn from_name(name: &str) -> Option<Abi> {
        Abi::ALL.iter().find(|(_, n)| *n == name).map(|(a, _)| *a)
    }
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
    launch_rule: Vec<Spanned<RawLaunchRule>>,
    #[serde(default)]
    control: Option<Control>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLaunchRule {
    name: Spanned<String>,
    head_dim: Spanned<u32>,
    #[serde(default)]
    min_default_grid: Option<Spanned<u64>>,
    #[serde(default)]
    max_default_grid: Option<Spanned<u64>>,
    #[serde(default)]
    archs: Option<Spanned<Vec<Arch>>>,
    entry: Spanned<String>,
    block_m: Spanned<u32>,
    threads: Spanned<u32>,
    #[serde(default)]
    dynamic_shared_bytes: Option<Spanned<u32>>,
    #[serde(default)]
    abi: Option<Spanned<String>>,
}

/// The name of the launch a manifest describes at its top level (`entry`,
/// `[entry_by_head_dim]`, `block_m`, `threads`, `[dynamic_shared_bytes]`).
pub const DEFAULT_LAUNCH: &str = "default";

/// A `[[launch_rule]]`: another entry and geometry for one head dim, chosen for a problem
/// instead of the default launch when its condition holds (the first matching rule wins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LaunchRule {
    /// The rule's name (artifacts name the launch by it).
    pub name: String,
    /// The head dim it serves.
    pub head_dim: u32,
    /// Chosen only when the default launch's grid (`ceil(S / block_m) * H * B` CTAs) has at
    /// least this many CTAs; no bound where absent.
    pub min_default_grid: Option<u64>,
    /// Chosen only when the default launch's grid has at most this many CTAs; no bound where
    /// absent.
    pub max_default_grid: Option<u64>,
    /// The cubin archs whose code has this launch (`sm_90a` for wgmma); empty: every arch.
    /// A launch that needs arch-specific instructions names its arch here, and its entry
    /// is a stub in the other cubins.
    pub archs: Vec<Arch>,
    /// `extern "C"` entry symbol.
    pub entry: String,
    /// Query rows per CTA.
    pub block_m: u32,
    /// Threads per CTA.
    pub threads: u32,
    /// Dynamic shared memory, bytes.
    pub dynamic_shared_bytes: u32,
    /// The entry's calling convention: the rule's `abi`, else the manifest's.
    pub abi: Abi,
}

/// One way to launch a kernel: which entry, with which geometry. A launch follows the
/// manifest's ABI unless its rule names another ([`KernelManifest::abi_of`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Launch {
    /// [`DEFAULT_LAUNCH`] or a `[[launch_rule]]`'s name.
    pub name: String,
    /// `extern "C"` entry symbol.
    pub entry: String,
    /// Query rows per CTA (grid.x = ceil(S / block_m)).
    pub block_m: u32,
    /// Threads per CTA.
    pub threads: u32,
    /// Dynamic shared memory, bytes.
    pub shared_bytes: u32,
}

impl Launch {
    /// Whether this is the manifest's default launch.
    pub fn is_default(&self) -> bool {
        self.name == DEFAULT_LAUNCH
    }

    /// Grid, block and dynamic shared memory for `p`.
    pub fn geometry(&self, p: &crate::Problem) -> ((u32, u32, u32), (u32, u32, u32), u32) {
        (
            (p.seq_len.div_ceil(self.block_m), p.heads, p.batch),
            (self.threads, 1, 1),
            self.shared_bytes,
        )
    }
}

fn no_entries() -> Spanned<BTreeMap<String, String>> {
    Spanned::new(0..0, BTreeMap::new())
}

fn no_shared() -> Spanned<BTreeMap<String, u32>> {
    Spanned::new(0..0, BTreeMap::new())
}

/// Lower-case hex sha256 of `bytes`.
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `s` can name a kernel or a launch: letters, digits, `_` and `-`, not empty.
fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// What is wrong with `threads` threads per block, if anything.
fn threads_problem(threads: u32) -> Option<String> {
    (threads == 0 || threads > 1024 || !threads.is_multiple_of(32))
        .then(|| format!("{threads} threads per block: must be a multiple of 32 in 32..=1024"))
}

/// What is wrong with `bytes` of dynamic shared memory per block, if anything.
fn shared_bytes_problem(bytes: u32) -> Option<String> {
    (bytes > 227 * 1024)
        .then(|| format!("{bytes} bytes is more than any GPU offers per block (227 KiB)"))
}

/// Whether `s` can name a C function: letters, digits and `_`, not empty.
fn is_c_identifier(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn one() -> Spanned<u32> {
    Spanned::new(0..0, 1)
}

/// How reports name one launch of a kernel: `kernel` for its default launch,
/// `kernel[launch]` for a launch rule.
pub fn launch_label(kernel: &str, launch: &str) -> String {
    if launch == DEFAULT_LAUNCH {
        kernel.to_string()
    } else {
        format!("{kernel}[{launch}]")
    }
}

/// How artifact file names start for one launch of a kernel: `kernel` for its default
/// launch, `kernel.launch` for a launch rule (`fa_tc.small_grid.sm_90.sass.txt`).
pub fn launch_file_stem(kernel: &str, launch: &str) -> String {
    if launch == DEFAULT_LAUNCH {
        kernel.to_string()
    } else {
        format!("{kernel}.{launch}")
    }
}

impl LaunchRule {
    /// Whether a cubin built for `arch` has this launch.
    pub fn runs_on(&self, arch: Arch) -> bool {
        self.archs.is_empty() || self.archs.contains(&arch)
    }

    /// The launch this rule chooses.
    pub fn launch(&self) -> Launch {
        Launch {
            name: self.name.clone(),
            entry: self.entry.clone(),
            block_m: self.block_m,
            threads: self.threads,
            shared_bytes: self.dynamic_shared_bytes,
        }
    }
}

/// A validated kernel manifest: how to build and launch one kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KernelManifest {
    /// Unique kernel name (artifact file names use it).
    pub name: String,
    /// The manifest file.
    pub manifest_path: PathBuf,
    /// sha256 of the manifest text that was parsed (the file's bytes, when loaded from one).
    pub manifest_sha256: String,
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
    /// `[[launch_rule]]`s, in file order: other launches for some problems.
    pub launch_rules: Vec<LaunchRule>,
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
        if !is_name(name) {
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
        if let Some(msg) = threads_problem(threads) {
            return Err(err(raw.threads.span(), "threads", msg));
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
        if raw.abi == Abi::AttentionFwdTmaV1 {
            if raw.min_arch.number() < 90 {
                return Err(ConfigError::invalid(
                    path,
                    text,
                    None,
                    "min_arch",
                    format!(
                        "ABI attention_fwd_tma_v1 needs the Tensor Memory Accelerator: min_arch must be sm_90 or newer, not {}",
                        raw.min_arch
                    ),
                ));
            }
            if let Some(d) = head_dims.iter().find(|&&d| d % 64 != 0) {
                return Err(err(
                    raw.head_dims.span(),
                    "head_dims",
                    format!(
                        "head dim {d}: ABI attention_fwd_tma_v1 loads whole 64-column boxes, so every head dim must be a multiple of 64"
                    ),
                ));
            }
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
            if let Some(msg) = shared_bytes_problem(v) {
                return Err(err(
                    raw.dynamic_shared_bytes.span(),
                    &format!("dynamic_shared_bytes.{k}"),
                    msg,
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
        let mut launch_rules: Vec<LaunchRule> = Vec::new();
        for (i, spanned) in raw.launch_rule.iter().enumerate() {
            let r = spanned.get_ref();
            let key = |field: &str| format!("launch_rule[{i}].{field}");
            let name = r.name.get_ref();
            if !is_name(name) || name == DEFAULT_LAUNCH {
                return Err(err(
                    r.name.span(),
                    &key("name"),
                    format!(
                        "`{name}` is not a launch name (letters, digits, `_`, `-`; not `{DEFAULT_LAUNCH}`)"
                    ),
                ));
            }
            if launch_rules.iter().any(|o: &LaunchRule| &o.name == name) {
                return Err(err(
                    r.name.span(),
                    &key("name"),
                    format!("launch rule `{name}` is named twice"),
                ));
            }
            let head_dim = *r.head_dim.get_ref();
            head_dim_key(r.head_dim.span(), &key("head_dim"), &head_dim.to_string())?;
            let entry = r.entry.get_ref();
            if !is_c_identifier(entry) {
                return Err(err(
                    r.entry.span(),
                    &key("entry"),
                    format!("`{entry}` is not a C identifier"),
                ));
            }
            if *r.block_m.get_ref() == 0 {
                return Err(err(
                    r.block_m.span(),
                    &key("block_m"),
                    "must be at least 1".into(),
                ));
            }
            if let Some(msg) = threads_problem(*r.threads.get_ref()) {
                return Err(err(r.threads.span(), &key("threads"), msg));
            }
            let shared = r.dynamic_shared_bytes.as_ref();
            if let Some(msg) = shared.and_then(|b| shared_bytes_problem(*b.get_ref())) {
                let span = shared.map(Spanned::span).unwrap_or_else(|| spanned.span());
                return Err(err(span, &key("dynamic_shared_bytes"), msg));
            }
            for (field, bound) in [
                ("max_default_grid", &r.max_default_grid),
                ("min_default_grid", &r.min_default_grid),
            ] {
                if let Some(g) = bound.as_ref().filter(|g| *g.get_ref() == 0) {
                    return Err(err(
                        g.span(),
                        &key(field),
                        "must be at least 1 (leave it out for no bound)".into(),
                    ));
                }
            }
            if let (Some(lo), Some(hi)) = (r.min_default_grid.as_ref(), r.max_default_grid.as_ref())
            {
                if lo.get_ref() > hi.get_ref() {
                    return Err(err(
                        lo.span(),
                        &key("min_default_grid"),
                        format!(
                            "{} is above max_default_grid = {}: no grid would choose this rule",
                            lo.get_ref(),
                            hi.get_ref()
                        ),
                    ));
                }
            }
            if let Some(a) = r.archs.as_ref().filter(|a| a.get_ref().is_empty()) {
                return Err(err(
                    a.span(),
                    &key("archs"),
                    "names no arch (leave it out for every arch)".into(),
                ));
            }
            let abi = match r.abi.as_ref() {
                None => raw.abi,
                Some(a) => Abi::from_name(a.get_ref()).ok_or_else(|| {
                    let known: Vec<&str> = Abi::ALL.iter().map(|(_, n)| *n).collect();
                    err(
                        a.span(),
                        &key("abi"),
                        format!(
                            "`{}` is not an ABI cudadent knows ({})",
                            a.get_ref(),
                            known.join(", ")
                        ),
                    )
                })?,
            };
            if abi == Abi::AttentionFwdTmaV1 {
                let span = r
                    .abi
                    .as_ref()
                    .map(Spanned::span)
                    .unwrap_or_else(|| spanned.span());
                if head_dim % 64 != 0 {
                    return Err(err(
                        span,
                        &key("abi"),
                        format!(
                            "ABI attention_fwd_tma_v1 loads whole 64-column boxes: head_dim {head_dim} is not a multiple of 64"
                        ),
                    ));
                }
                let archs = r
                    .archs
                    .as_ref()
                    .map(|a| a.get_ref().as_slice())
                    .unwrap_or(&[]);
                let old = if archs.is_empty() {
                    (raw.min_arch.number() < 90).then_some(raw.min_arch)
                } else {
                    archs.iter().copied().find(|a| a.number() < 90)
                };
                if let Some(a) = old {
                    return Err(err(
                        span,
                        &key("abi"),
                        format!(
                            "ABI attention_fwd_tma_v1 needs the Tensor Memory Accelerator (sm_90 or newer), but this rule can run on {a}: name its archs (`archs = [\"sm_90a\"]`)"
                        ),
                    ));
                }
            }
            launch_rules.push(LaunchRule {
                abi,
                name: name.clone(),
                head_dim,
                min_default_grid: r.min_default_grid.as_ref().map(|g| *g.get_ref()),
                max_default_grid: r.max_default_grid.as_ref().map(|g| *g.get_ref()),
                archs: r
                    .archs
                    .as_ref()
                    .map(|a| a.get_ref().clone())
                    .unwrap_or_default(),
                entry: entry.clone(),
                block_m: *r.block_m.get_ref(),
                threads: *r.threads.get_ref(),
                dynamic_shared_bytes: shared.map(|b| *b.get_ref()).unwrap_or(0),
            });
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
            manifest_sha256: sha256_hex(text.as_bytes()),
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
            launch_rules,
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

    /// Every distinct entry symbol: `entry` first, then the per-head-dim ones, then the
    /// launch rules'.
    pub fn entries(&self) -> Vec<&str> {
        let mut v = vec![self.entry.as_str()];
        let others = self
            .entry_by_head_dim
            .values()
            .chain(self.launch_rules.iter().map(|r| &r.entry));
        for e in others {
            if !v.contains(&e.as_str()) {
                v.push(e.as_str());
            }
        }
        v
    }

    /// The default launch at head dim `d`: the top-level entry (or its
    /// `[entry_by_head_dim]` row), `block_m`, `threads` and shared memory.
    pub fn default_launch(&self, d: u32) -> Launch {
        Launch {
            name: DEFAULT_LAUNCH.to_string(),
            entry: self.entry_for(d).to_string(),
            block_m: self.block_m,
            threads: self.threads,
            shared_bytes: self.shared_bytes_for(d),
        }
    }

    /// Every launch that can run at head dim `d` from a cubin built for `arch`: the
    /// default, then each launch rule for `d` (and `arch`) in file order. The gates that must
    /// cover all code that can run (sass-inspect, the sanitizer gate, the oracle) go through
    /// this list.
    pub fn launches_at(&self, d: u32, arch: Arch) -> Vec<Launch> {
        let mut v = vec![self.default_launch(d)];
        v.extend(
            self.launch_rules
                .iter()
                .filter(|r| r.head_dim == d && r.runs_on(arch))
                .map(LaunchRule::launch),
        );
        v
    }

    /// The calling convention of `launch` (one of this manifest's): its rule's ABI, else the
    /// manifest's.
    pub fn abi_of(&self, launch: &Launch) -> Abi {
        if launch.is_default() {
            return self.abi;
        }
        self.launch_rules
            .iter()
            .find(|r| r.name == launch.name)
            .map_or(self.abi, |r| r.abi)
    }

    /// The launch called `name` at head dim `d` in a cubin for `arch`, if there is one.
    pub fn launch_named(&self, d: u32, name: &str, arch: Arch) -> Option<Launch> {
        self.launches_at(d, arch)
            .into_iter()
            .find(|l| l.name == name)
    }

    /// CTAs in the default launch's grid for `p`: `ceil(S / block_m) * H * B`.
    pub fn default_grid_ctas(&self, p: &crate::Problem) -> u64 {
        u64::from(p.seq_len.div_ceil(self.block_m)) * u64::from(p.heads) * u64::from(p.batch)
    }

    /// The launch that runs `p` from a cubin built for `arch`: the first launch rule for
    /// `p`'s head dim (and `arch`) whose grid bounds hold, else the default launch.
    pub fn launch_for(&self, p: &crate::Problem, arch: Arch) -> Launch {
        let grid = self.default_grid_ctas(p);
        self.launch_rules
            .iter()
            .find(|r| {
                r.head_dim == p.head_dim
                    && r.runs_on(arch)
                    && r.min_default_grid.is_none_or(|min| grid >= min)
                    && r.max_default_grid.is_none_or(|max| grid <= max)
            })
            .map(LaunchRule::launch)
            .unwrap_or_else(|| self.default_launch(p.head_dim))
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
