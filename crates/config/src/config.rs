use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::arch::Arch;
use crate::error::{line_of_key, parse_strict, ConfigError};
use crate::manifest::{Dtype, KernelManifest};

/// The attention problem a config describes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Problem {
    /// B.
    pub batch: u32,
    /// H.
    pub heads: u32,
    /// S (queries and keys).
    pub seq_len: u32,
    /// D.
    pub head_dim: u32,
    /// Mask keys after the query.
    pub causal: bool,
    /// Element type of Q, K, V, O.
    pub dtype: Dtype,
}

impl Problem {
    /// Elements in one of Q, K, V, O; `u64::MAX` where the product does not fit in 64 bits
    /// (four `u32` can reach 2^128: a plain product would panic in debug and wrap in
    /// release, letting a huge shape pass the 32-bit index check).
    pub fn elements(&self) -> u64 {
        u64::try_from(self.elements_exact()).unwrap_or(u64::MAX)
    }

    /// Elements in one of Q, K, V, O, exact for any four `u32`.
    fn elements_exact(&self) -> u128 {
        self.batch as u128 * self.heads as u128 * self.seq_len as u128 * self.head_dim as u128
    }

    /// The default softmax scale, 1/sqrt(D).
    pub fn default_scale(&self) -> f32 {
        1.0 / (self.head_dim as f32).sqrt()
    }
}

/// Which kernels a config puts under test, and for which archs.
#[derive(Debug, Clone, Serialize)]
pub struct KernelsSection {
    /// Manifests of the kernels under test.
    pub under_test: Vec<KernelManifest>,
    /// The GPU reference kernel's manifest, if any.
    pub reference: Option<KernelManifest>,
    /// SASS targets to build and inspect.
    pub archs: Vec<Arch>,
}

/// Input distributions the oracle draws from (see the oracle crate for their definition).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DistributionName {
    /// Standard normal.
    Normal,
    /// Normal times a large factor: overflows a softmax without max subtraction.
    LargeMagnitude,
    /// Uniform in (-1, 1).
    Uniform,
    /// Mostly zeros, some small integers: exact in fp16.
    SparseInt,
}

/// Where the oracle's high-precision reference is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferenceChoice {
    /// CPU fp64 when the problem is small enough, else the GPU fp32 reference kernel.
    Auto,
    /// Always the CPU fp64 reference.
    Cpu,
    /// Always the GPU fp32 reference kernel.
    Gpu,
}

/// Tolerances of the oracle's pass rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ToleranceSettings {
    /// Absolute tolerance of the plain mismatch count.
    pub atol: f64,
    /// Relative tolerance of the plain mismatch count.
    pub rtol: f64,
    /// FlashAttention's factor on the same-precision reference's error.
    pub fa_factor: f64,
    /// Rounding-noise term added to the FlashAttention bound.
    pub fa_noise: f64,
    /// Also fail when any element is outside atol + rtol * |ref|.
    pub fail_on_mismatch: bool,
}

impl Default for ToleranceSettings {
    fn default() -> Self {
        ToleranceSettings {
            atol: 1e-2,
            rtol: 1e-2,
            fa_factor: 2.0,
            fa_noise: 1e-5,
            fail_on_mismatch: false,
        }
    }
}

/// `[oracle]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OracleSettings {
    /// Seeded trials per distribution.
    pub trials: u32,
    /// Base seed; trial t of distribution d uses a seed derived from it (recorded).
    pub seed: u64,
    /// Distributions to draw inputs from.
    pub distributions: Vec<DistributionName>,
    /// Softmax scales tried besides 1/sqrt(D).
    pub extra_scales: Vec<f32>,
    /// Extra launches on the same input that must be bit-identical.
    pub determinism_runs: u32,
    /// Reference selection.
    pub reference: ReferenceChoice,
    /// Guard band before and after each buffer, in elements.
    pub guard_elems: u32,
    /// Tolerances.
    pub tolerance: ToleranceSettings,
}

impl Default for OracleSettings {
    fn default() -> Self {
        OracleSettings {
            trials: 2,
            seed: 20_261_125,
            distributions: vec![
                DistributionName::Normal,
                DistributionName::LargeMagnitude,
                DistributionName::Uniform,
                DistributionName::SparseInt,
            ],
            extra_scales: vec![0.05, 0.5],
            determinism_runs: 3,
            reference: ReferenceChoice::Auto,
            guard_elems: 4096,
            tolerance: ToleranceSettings::default(),
        }
    }
}

/// The compute-sanitizer tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SanitizerTool {
    /// Out-of-bounds and misaligned accesses, leaks.
    Memcheck,
    /// Shared-memory hazards.
    Racecheck,
    /// Reads of uninitialised global memory.
    Initcheck,
    /// Barrier misuse.
    Synccheck,
}

impl SanitizerTool {
    /// The name compute-sanitizer's `--tool` takes.
    pub fn name(self) -> &'static str {
        match self {
            SanitizerTool::Memcheck => "memcheck",
            SanitizerTool::Racecheck => "racecheck",
            SanitizerTool::Initcheck => "initcheck",
            SanitizerTool::Synccheck => "synccheck",
        }
    }
}

/// A known finding to ignore. It still appears in reports, marked suppressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suppression {
    /// Tool that reports it.
    pub tool: SanitizerTool,
    /// Finding kind (as the sanitizer gate names it, e.g. `race_hazard`).
    pub kind: String,
    /// Kernel name.
    pub kernel: String,
    /// `file:line`, or empty for any location.
    #[serde(default)]
    pub location: String,
    /// Why it is acceptable. Required.
    pub reason: String,
}

/// `[sanitizer]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SanitizerSettings {
    /// Tools to run.
    pub tools: Vec<SanitizerTool>,
    /// Timeout per run, seconds.
    pub timeout_s: u64,
    /// memcheck `--padding` bytes between allocations.
    pub padding_bytes: u64,
    /// Known findings to ignore.
    pub suppress: Vec<Suppression>,
}

impl Default for SanitizerSettings {
    fn default() -> Self {
        SanitizerSettings {
            tools: vec![
                SanitizerTool::Memcheck,
                SanitizerTool::Racecheck,
                SanitizerTool::Initcheck,
                SanitizerTool::Synccheck,
            ],
            timeout_s: 600,
            padding_bytes: 4096,
            suppress: Vec::new(),
        }
    }
}

/// `[inspect]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InspectSettings {
    /// Most registers per thread allowed.
    pub max_registers: Option<u32>,
    /// Most spill bytes (stores + loads) allowed.
    pub max_spill_bytes: u32,
    /// Whether LDL/STL may appear at all.
    pub allow_local_memory: bool,
    /// Most shared memory per block (static + dynamic) allowed.
    pub max_shared_bytes: Option<u32>,
    /// Register increase over the snapshot tolerated before failing.
    pub registers_allowance: u32,
    /// Shared-memory increase over the snapshot tolerated before failing.
    pub shared_allowance_bytes: u32,
}

impl Default for InspectSettings {
    fn default() -> Self {
        InspectSettings {
            max_registers: Some(255),
            max_spill_bytes: 0,
            allow_local_memory: false,
            max_shared_bytes: None,
            registers_allowance: 0,
            shared_allowance_bytes: 0,
        }
    }
}

/// `[bench]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BenchSettings {
    /// Warm-up launches before timing.
    pub warmup: u32,
    /// Fewest samples per mode.
    pub min_samples: u32,
    /// Least time spent sampling, seconds.
    pub min_time_s: f64,
    /// Stop once relative stdev falls below this.
    pub target_rel_stdev: f64,
    /// Give up sampling after this many seconds.
    pub timeout_s: f64,
    /// A change smaller than this fraction is noise.
    pub noise_threshold: f64,
    /// Time PyTorch SDPA backends when python3 has torch.
    pub torch_baselines: bool,
    /// Launches per hot-mode sample (one CUDA graph of this many launches).
    pub hot_launches: u32,
    /// Time the in-process cuBLAS baseline (batched GEMMs and a softmax kernel).
    pub cublas_baseline: bool,
}

impl Default for BenchSettings {
    fn default() -> Self {
        BenchSettings {
            warmup: 20,
            min_samples: 10,
            min_time_s: 0.5,
            target_rel_stdev: 0.005,
            timeout_s: 15.0,
            noise_threshold: 0.01,
            torch_baselines: true,
            hot_launches: 20,
            cublas_baseline: true,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKernels {
    under_test: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    reference: Option<Spanned<String>>,
    #[serde(default = "default_archs")]
    archs: Vec<Arch>,
}

fn default_archs() -> Vec<Arch> {
    ["sm_80", "sm_89", "sm_90"]
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    problem: Spanned<Problem>,
    kernels: RawKernels,
    #[serde(default)]
    oracle: OracleSettings,
    #[serde(default)]
    sanitizer: SanitizerSettings,
    #[serde(default)]
    inspect: InspectSettings,
    #[serde(default)]
    bench: BenchSettings,
}

/// A validated problem config: the problem, the kernels under test (manifests loaded and
/// checked against the problem), and each gate's settings.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// Config name (`canon_3`).
    pub name: String,
    /// Free text.
    pub description: String,
    /// The config file.
    pub path: PathBuf,
    /// The config file's exact bytes (hashed into every artifact).
    #[serde(skip)]
    pub bytes: Vec<u8>,
    /// The problem.
    pub problem: Problem,
    /// Kernels and archs.
    pub kernels: KernelsSection,
    /// `[oracle]`.
    pub oracle: OracleSettings,
    /// `[sanitizer]`.
    pub sanitizer: SanitizerSettings,
    /// `[inspect]`.
    pub inspect: InspectSettings,
    /// `[bench]`.
    pub bench: BenchSettings,
}

/// Largest element count per tensor: the ABI indexes with 32-bit `int`.
const MAX_ELEMENTS: u64 = i32::MAX as u64;

impl Config {
    /// Reads and validates a config and every kernel manifest it names.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
            file: path.to_path_buf(),
            source,
        })?;
        let text = String::from_utf8(bytes.clone())
            .map_err(|e| ConfigError::invalid(path, "", None, "", format!("not UTF-8: {e}")))?;
        Self::parse(path, &text, bytes)
    }

    fn parse(path: &Path, text: &str, bytes: Vec<u8>) -> Result<Self, ConfigError> {
        let raw: RawConfig = parse_strict(path, text)?;
        let err = |span: std::ops::Range<usize>, key: &str, msg: String| {
            ConfigError::invalid(path, text, Some(span), key, msg)
        };
        // Semantic errors about a key without a span: point at the key's line.
        let keyed = |key: &str, msg: String| {
            let leaf = key.rsplit('.').next().unwrap_or(key);
            ConfigError::Invalid {
                file: path.to_path_buf(),
                line: line_of_key(text, leaf),
                key: key.to_string(),
                message: msg,
            }
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
                format!("`{name}` is not a config name (letters, digits, `_`, `-`)"),
            ));
        }
        let problem = raw.problem.get_ref().clone();
        let pspan = raw.problem.span();
        for (key, v) in [
            ("problem.batch", problem.batch),
            ("problem.heads", problem.heads),
            ("problem.seq_len", problem.seq_len),
            ("problem.head_dim", problem.head_dim),
        ] {
            if v == 0 {
                return Err(err(pspan.clone(), key, "must be at least 1".into()));
            }
        }
        if problem.elements() > MAX_ELEMENTS {
            return Err(err(
                pspan,
                "problem",
                format!(
                    "B*H*S*D = {} elements overflows the ABI's 32-bit indices (at most {MAX_ELEMENTS})",
                    problem.elements_exact()
                ),
            ));
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        let archs = raw.kernels.archs.clone();
        if archs.is_empty() {
            return Err(keyed("kernels.archs", "needs at least one arch".into()));
        }
        if raw.kernels.under_test.get_ref().is_empty() {
            return Err(err(
                raw.kernels.under_test.span(),
                "kernels.under_test",
                "names no kernel: list at least one manifest".into(),
            ));
        }
        let mut under_test = Vec::new();
        for (i, entry) in raw.kernels.under_test.get_ref().iter().enumerate() {
            let key = format!("kernels.under_test[{i}]");
            let m = load_named_manifest(dir, entry, &key, path, text)?;
            if let Some(why) = m.unsupported_reason(&problem) {
                return Err(err(entry.span(), &key, why));
            }
            if let Some(a) = archs.iter().find(|a| a.number() < m.min_arch.number()) {
                return Err(err(
                    entry.span(),
                    &key,
                    format!(
                        "kernel `{}` needs {} or newer, but kernels.archs lists {a}",
                        m.name, m.min_arch
                    ),
                ));
            }
            if under_test.iter().any(|k: &KernelManifest| k.name == m.name) {
                return Err(err(
                    entry.span(),
                    &key,
                    format!("kernel `{}` is listed twice", m.name),
                ));
            }
            under_test.push(m);
        }
        let reference = match &raw.kernels.reference {
            Some(entry) => {
                let m = load_named_manifest(dir, entry, "kernels.reference", path, text)?;
                if let Some(why) = m.unsupported_reason(&problem) {
                    return Err(err(entry.span(), "kernels.reference", why));
                }
                Some(m)
            }
            None => None,
        };
        let oracle = raw.oracle;
        if oracle.trials == 0 || oracle.distributions.is_empty() {
            return Err(keyed(
                "oracle.trials",
                "needs at least one trial and one distribution".into(),
            ));
        }
        if oracle
            .extra_scales
            .iter()
            .any(|s| !s.is_finite() || *s <= 0.0)
        {
            return Err(keyed(
                "oracle.extra_scales",
                format!("{:?}: scales must be finite and > 0", oracle.extra_scales),
            ));
        }
        if let Some(s) = raw
            .sanitizer
            .suppress
            .iter()
            .find(|s| s.reason.trim().is_empty())
        {
            return Err(keyed(
                "sanitizer.suppress",
                format!(
                    "suppression of {} `{}` in `{}` has no reason: every suppression must say why",
                    s.tool.name(),
                    s.kind,
                    s.kernel
                ),
            ));
        }
        let cfg = Config {
            name: name.clone(),
            description: raw.description,
            path: path.to_path_buf(),
            bytes,
            problem,
            kernels: KernelsSection {
                under_test,
                reference,
                archs,
            },
            oracle,
            sanitizer: raw.sanitizer,
            inspect: raw.inspect,
            bench: raw.bench,
        };
        Ok(cfg)
    }

    /// Replaces the config's kernels under test by the manifests at `paths` (the
    /// `--kernel PATH` flag: a kernel from anywhere on disk), checked against the problem.
    pub fn with_kernels(mut self, paths: &[PathBuf]) -> Result<Self, ConfigError> {
        if paths.is_empty() {
            return Ok(self);
        }
        let mut under_test = Vec::new();
        for p in paths {
            let m = KernelManifest::load(p)?;
            if let Some(why) = m.unsupported_reason(&self.problem) {
                return Err(ConfigError::Invalid {
                    file: p.clone(),
                    line: None,
                    key: String::new(),
                    message: format!("cannot run config `{}`: {why}", self.name),
                });
            }
            under_test.push(m);
        }
        self.kernels.under_test = under_test;
        Ok(self)
    }

    /// Every kernel the config builds: those under test, then the reference.
    pub fn all_kernels(&self) -> impl Iterator<Item = &KernelManifest> {
        self.kernels
            .under_test
            .iter()
            .chain(self.kernels.reference.iter())
    }
}

fn load_named_manifest(
    dir: &Path,
    entry: &Spanned<String>,
    key: &str,
    config_path: &Path,
    text: &str,
) -> Result<KernelManifest, ConfigError> {
    let p = dir.join(entry.get_ref());
    if !p.is_file() {
        return Err(ConfigError::invalid(
            config_path,
            text,
            Some(entry.span()),
            key,
            format!(
                "kernel manifest {} does not exist (paths are relative to the config file)",
                p.display()
            ),
        ));
    }
    KernelManifest::load(&p)
}
