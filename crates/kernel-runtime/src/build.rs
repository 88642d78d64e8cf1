//! Kernel builds: nvcc turns a manifest into one cubin and one PTX file per target arch,
//! always with `-lineinfo`, keeping the `-Xptxas -v` resource report.
//!
//! Builds are cached under `.cache/cudadent/build/<kernel>/<key>/`, where the key hashes
//! the source, every file it `#include "..."`s (recursively), the flags, the arch and the
//! toolchain version: a rebuild of unchanged input is a directory lookup. A cache entry
//! is complete or absent (built in a temporary folder, then renamed).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cudadent_config::{Arch, KernelManifest};
use cudadent_evidence::{sha256_bytes, sha256_file};
use regex::Regex;

use crate::toolchain::Toolchain;
use crate::RuntimeError;

/// How to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Target archs.
    pub archs: Vec<Arch>,
    /// Add the manifest's `debug_defines` (a checked build).
    pub debug: bool,
    /// Cache root (`.cache/cudadent/build`).
    pub cache_dir: PathBuf,
}

/// One arch's build products.
#[derive(Debug, Clone)]
pub struct BuiltCubin {
    /// Target arch.
    pub arch: Arch,
    /// The cubin (what every tool loads and inspects).
    pub cubin: PathBuf,
    /// The PTX nvcc generated on the way.
    pub ptx: PathBuf,
    /// nvcc's stderr: the `-Xptxas -v` report and any warnings.
    pub ptxas_report: String,
    /// sha256 of the cubin bytes.
    pub sha256: String,
    /// Whether this came from the cache.
    pub cached: bool,
    /// The nvcc command line.
    pub command: String,
}

/// A kernel built for every requested arch.
#[derive(Debug, Clone)]
pub struct BuiltKernel {
    /// The manifest it was built from.
    pub manifest: KernelManifest,
    /// sha256 of the source file alone.
    pub source_sha256: String,
    /// One per arch, in the order asked.
    pub cubins: Vec<BuiltCubin>,
}

impl BuiltKernel {
    /// The cubin for `arch`, if built.
    pub fn cubin_for(&self, arch: Arch) -> Option<&BuiltCubin> {
        self.cubins.iter().find(|c| c.arch == arch)
    }

    /// The record every summary.json carries for this kernel.
    pub fn record(&self) -> cudadent_evidence::KernelRecord {
        cudadent_evidence::KernelRecord {
            name: self.manifest.name.clone(),
            source_sha256: self.source_sha256.clone(),
            manifest_sha256: Some(self.manifest.manifest_sha256.clone()),
            cubins: self
                .cubins
                .iter()
                .map(|c| (c.arch.to_string(), c.sha256.clone()))
                .collect(),
        }
    }
}

/// The nvcc arguments (without input and outputs) for one arch.
pub fn nvcc_flags(manifest: &KernelManifest, arch: Arch, debug: bool) -> Vec<String> {
    let mut flags = vec![
        "-cubin".to_string(),
        format!("-arch={arch}"),
        "-lineinfo".to_string(),
        "-Xptxas".to_string(),
        "-v".to_string(),
        "-std=c++17".to_string(),
    ];
    let defines = manifest.defines.iter().chain(
        debug
            .then_some(&manifest.debug_defines)
            .into_iter()
            .flatten(),
    );
    flags.extend(defines.map(|d| format!("-D{d}")));
    flags
}

/// Builds `manifest` for every arch in `opts`, from the cache where possible. Archs build
/// in parallel.
pub fn build_kernel(
    tc: &Toolchain,
    manifest: &KernelManifest,
    opts: &BuildOptions,
) -> Result<BuiltKernel, RuntimeError> {
    let source_sha256 = sha256_file(&manifest.source_path).map_err(|e| RuntimeError::Io {
        action: "hash",
        path: manifest.source_path.clone(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let inputs = source_closure(&manifest.source_path)?;
    let inputs = &inputs;
    let results: Vec<Result<BuiltCubin, RuntimeError>> = std::thread::scope(|s| {
        let handles: Vec<_> = opts
            .archs
            .iter()
            .map(|&arch| s.spawn(move || build_one(tc, manifest, arch, opts, inputs)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(RuntimeError::ToolFailed {
                        command: "nvcc".into(),
                        detail: "build thread panicked".into(),
                    })
                })
            })
            .collect()
    });
    let cubins = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(BuiltKernel {
        manifest: manifest.clone(),
        source_sha256,
        cubins,
    })
}

/// The source and every local header it includes, recursively, as (path, bytes).
fn source_closure(source: &Path) -> Result<Vec<(PathBuf, Vec<u8>)>, RuntimeError> {
    let re =
        Regex::new(r#"(?m)^\s*#\s*include\s*"([^"]+)""#).map_err(|e| RuntimeError::ToolFailed {
            command: "include scan".into(),
            detail: e.to_string(),
        })?;
    let mut seen = BTreeSet::new();
    let mut stack = vec![source.to_path_buf()];
    let mut out = Vec::new();
    while let Some(p) = stack.pop() {
        if !seen.insert(p.clone()) {
            continue;
        }
        let bytes = std::fs::read(&p).map_err(|source| RuntimeError::Io {
            action: "read",
            path: p.clone(),
            source,
        })?;
        let dir = p.parent().unwrap_or(Path::new(".")).to_path_buf();
        for c in re.captures_iter(&String::from_utf8_lossy(&bytes)) {
            let inc = dir.join(&c[1]);
            if inc.is_file() {
                stack.push(inc);
            }
        }
        out.push((p, bytes));
    }
    Ok(out)
}

fn cache_key(
    tc: &Toolchain,
    flags: &[String],
    inputs: &[(PathBuf, Vec<u8>)],
    source: &Path,
) -> String {
    let mut material = Vec::new();
    // v2: sources are staged (see `stage_sources`); v1 cubins were built in the checkout.
    material.extend_from_slice(b"cudadent-build-v2\0nvcc ");
    material.extend_from_slice(tc.version().as_bytes());
    for f in flags {
        material.push(0);
        material.extend_from_slice(f.as_bytes());
    }
    let rels = match layout(inputs, source) {
        Ok((_, rels)) => rels,
        // Unresolvable paths fail the build right after; the key only needs to be stable.
        Err(_) => inputs.iter().map(|(p, _)| p.clone()).collect(),
    };
    for (rel, (_, bytes)) in rels.iter().zip(inputs) {
        material.push(0);
        material.extend_from_slice(rel.to_string_lossy().as_bytes());
        material.push(0);
        material.extend_from_slice(sha256_bytes(bytes).as_bytes());
    }
    sha256_bytes(&material)[..24].to_string()
}

/// The first character of `arg` that nvcc's driver would let its shell act on, if any.
///
/// nvcc runs its sub-tools (cicc, ptxas ...) through a shell and quotes their arguments
/// only partly: with nvcc 13.0, `-DX=$(cmd)1`, a backtick pair or a source file named
/// `a$(cmd).cu` runs `cmd` (checked on the pinned toolchain), while `;`, `|` and quotes
/// stay quoted. A manifest may come from anywhere on disk, so its defines and source
/// name are refused here, before nvcc sees them: `$`, backtick, backslash, control bytes.
pub fn nvcc_shell_hazard(arg: &str) -> Option<char> {
    arg.chars()
        .find(|&c| matches!(c, '$' | '`' | '\\') || c.is_control())
}

fn build_one(
    tc: &Toolchain,
    manifest: &KernelManifest,
    arch: Arch,
    opts: &BuildOptions,
    inputs: &[(PathBuf, Vec<u8>)],
) -> Result<BuiltCubin, RuntimeError> {
    let flags = nvcc_flags(manifest, arch, opts.debug);
    let source_name = manifest
        .source_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for arg in flags.iter().chain([&source_name]) {
        if let Some(c) = nvcc_shell_hazard(arg) {
            return Err(RuntimeError::CompileFailed {
                kernel: manifest.name.clone(),
                arch: arch.to_string(),
                command: format!("{} {} {source_name}", tc.nvcc.path.display(), flags.join(" ")),
                status: "not run".into(),
                stderr: format!(
                    "refused: `{arg}` contains {c:?}, which nvcc's internal shell would expand \
                     (defines and source file names may not contain `$`, backticks, backslashes or control characters)"
                ),
            });
        }
    }
    let key = cache_key(tc, &flags, inputs, &manifest.source_path);
    let variant = if opts.debug { "debug" } else { "release" };
    let entry = opts
        .cache_dir
        .join(&manifest.name)
        .join(format!("{arch}-{variant}-{key}"));
    let stem = format!("{}.{arch}", manifest.name);
    let cubin = entry.join(format!("{stem}.cubin"));
    let ptx = entry.join(format!("{stem}.ptx"));
    let report = entry.join(format!("{stem}.ptxas.txt"));
    let command_file = entry.join("command.txt");
    let io = |action: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| RuntimeError::Io {
            action,
            path,
            source,
        }
    };
    if cubin.is_file() && ptx.is_file() && report.is_file() {
        let ptxas_report = std::fs::read_to_string(&report).map_err(io("read", &report))?;
        let command = std::fs::read_to_string(&command_file).unwrap_or_default();
        return Ok(BuiltCubin {
            sha256: hash(&cubin)?,
            arch,
            cubin,
            ptx,
            ptxas_report,
            cached: true,
            command,
        });
    }
    // nvcc runs on the bare file name in a staged copy of the sources at a path that depends
    // only on the build key. With -lineinfo the cubin records the compilation directory: built
    // in the checkout, the same source gave different cubin bytes in two checkouts (seen: this
    // repository and a clean clone in CI). Staged, the same input gives the same bytes on
    // every machine with the same nvcc, and the line info names `fa_tc.cu`, not a local path.
    let src_dir = stage_sources(inputs, &manifest.source_path, &key)?;
    let src_name = manifest
        .source_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = opts.cache_dir.join(&manifest.name).join(format!(
        ".tmp-{arch}-{variant}-{key}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    let keep = tmp.join("keep");
    std::fs::create_dir_all(&keep).map_err(io("create", &keep))?;
    let mut args = flags.clone();
    args.extend([
        "--keep".to_string(),
        "--keep-dir".to_string(),
        keep.display().to_string(),
        "-o".to_string(),
        tmp.join(format!("{stem}.cubin")).display().to_string(),
        src_name.clone(),
    ]);
    let command = format!("{} {}", tc.nvcc.path.display(), args.join(" "));
    let out = child_guard::output(
        &duct::cmd(&tc.nvcc.path, &args)
            .dir(&src_dir)
            .stdout_capture()
            .stderr_capture()
            .unchecked(),
    )
    .map_err(|e| RuntimeError::ToolFailed {
        command: command.clone(),
        detail: format!("could not start nvcc: {e}"),
    })?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(RuntimeError::CompileFailed {
            kernel: manifest.name.clone(),
            arch: arch.to_string(),
            command,
            status: out
                .status
                .code()
                .map(|c| c.to_string())
                .unwrap_or_else(|| "signal".into()),
            stderr: format!("{}{stderr}", String::from_utf8_lossy(&out.stdout)),
        });
    }
    // nvcc --keep leaves <source stem>.ptx in the keep folder.
    let src_stem = manifest
        .source_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let kept_ptx = keep.join(format!("{src_stem}.ptx"));
    std::fs::rename(&kept_ptx, tmp.join(format!("{stem}.ptx")))
        .map_err(io("move PTX", &kept_ptx))?;
    std::fs::remove_dir_all(&keep).map_err(io("clean", &keep))?;
    std::fs::write(tmp.join(format!("{stem}.ptxas.txt")), &stderr).map_err(io("write", &tmp))?;
    std::fs::write(tmp.join("command.txt"), &command).map_err(io("write", &tmp))?;
    let _ = std::fs::remove_dir_all(&entry);
    std::fs::rename(&tmp, &entry).map_err(io("rename", &entry))?;
    Ok(BuiltCubin {
        sha256: hash(&cubin)?,
        arch,
        cubin,
        ptx,
        ptxas_report: stderr,
        cached: false,
        command,
    })
}

/// Where sources are staged for nvcc: a fixed path, so that builds are reproducible.
const STAGING_ROOT: &str = "/tmp/cudadent-nvcc";

/// Copies the source and its local includes to `STAGING_ROOT/<key>/`, keeping their
/// layout relative to their deepest common folder, and returns the folder that holds the
/// staged source. The key hashes their contents, so an existing staging folder is reused.
fn stage_sources(
    inputs: &[(PathBuf, Vec<u8>)],
    source: &Path,
    key: &str,
) -> Result<PathBuf, RuntimeError> {
    let (source_rel_dir, rels) = layout(inputs, source)?;
    let root = Path::new(STAGING_ROOT).join(key);
    for (rel, (_, bytes)) in rels.iter().zip(inputs) {
        let dest = root.join(rel);
        if std::fs::read(&dest).ok().as_deref() == Some(bytes.as_slice()) {
            continue;
        }
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| RuntimeError::Io {
                action: "create staging folder",
                path: parent.to_path_buf(),
                source: e,
            })?;
        }
        // Each build thread has its own key (the arch is part of it), so no two writers
        // share a staged file; a leftover from a killed build is simply rewritten.
        std::fs::write(&dest, bytes).map_err(|e| RuntimeError::Io {
            action: "stage",
            path: dest.clone(),
            source: e,
        })?;
    }
    Ok(root.join(source_rel_dir))
}

/// The inputs' paths relative to their deepest common folder (after resolving `..` and
/// links), and the source's folder relative to it: the layout that is the same in every
/// checkout.
fn layout(
    inputs: &[(PathBuf, Vec<u8>)],
    source: &Path,
) -> Result<(PathBuf, Vec<PathBuf>), RuntimeError> {
    let canon = |p: &Path| {
        std::fs::canonicalize(p).map_err(|e| RuntimeError::Io {
            action: "resolve",
            path: p.to_path_buf(),
            source: e,
        })
    };
    let paths: Vec<PathBuf> = inputs
        .iter()
        .map(|(p, _)| canon(p))
        .collect::<Result<_, _>>()?;
    let source = canon(source)?;
    let mut base = source.parent().unwrap_or(Path::new("/")).to_path_buf();
    while !paths.iter().all(|p| p.starts_with(&base)) {
        if !base.pop() {
            break;
        }
    }
    let rels = paths
        .iter()
        .map(|p| p.strip_prefix(&base).unwrap_or(p).to_path_buf())
        .collect();
    let source_rel_dir = source
        .parent()
        .and_then(|d| d.strip_prefix(&base).ok())
        .unwrap_or(Path::new(""))
        .to_path_buf();
    Ok((source_rel_dir, rels))
}

fn hash(p: &Path) -> Result<String, RuntimeError> {
    sha256_file(p).map_err(|e| RuntimeError::Io {
        action: "hash",
        path: p.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })
}

/// The default cache root under the repository (or the current directory).
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CUDADENT_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let base = crate::toolchain::repository_root()
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    base.join(".cache/cudadent/build")
}
