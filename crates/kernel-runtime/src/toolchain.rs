//! CUDA toolchain discovery: which nvcc, ptxas, cuobjdump, nvdisasm, compute-sanitizer
//! and ncu this run uses, where they were found, and their versions.
//!
//! Order for the compiler root (the folder whose `bin/` holds nvcc): an explicit root
//! (`--cuda-root`), `CUDADENT_CUDA_ROOT`, nvcc on `PATH`, `CUDA_HOME`, `/usr/local/cuda`,
//! then the project-local pinned install (`.toolchain/cuda/nvidia/cu13`, made by
//! `scripts/install-cuda-toolchain.sh`). The first root that has nvcc wins; the other
//! tools come from that root when it has them, else from the next places in the same order.

use std::fmt;
use std::path::{Path, PathBuf};

use regex::Regex;

use crate::RuntimeError;

/// The command that installs the pinned compiler toolchain.
pub const INSTALL_COMMAND: &str = "scripts/install-cuda-toolchain.sh";

/// The project-local pinned install, relative to the repository root.
pub const PROJECT_LOCAL_ROOT: &str = ".toolchain/cuda/nvidia/cu13";

/// Where a root was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `--cuda-root`.
    Explicit,
    /// `CUDADENT_CUDA_ROOT`.
    EnvVar,
    /// `PATH`.
    Path,
    /// `CUDA_HOME`.
    CudaHome,
    /// `/usr/local/cuda`.
    UsrLocal,
    /// `.toolchain/cuda/nvidia/cu13` in the repository.
    ProjectLocal,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::Explicit => "--cuda-root",
            Origin::EnvVar => "CUDADENT_CUDA_ROOT",
            Origin::Path => "PATH",
            Origin::CudaHome => "CUDA_HOME",
            Origin::UsrLocal => "/usr/local/cuda",
            Origin::ProjectLocal => "project-local pinned install",
        })
    }
}

/// One tool found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tool {
    /// Executable.
    pub path: PathBuf,
    /// Version as the tool prints it (`13.0.88`, `2025.3.1.0`), if it could be read.
    pub version: Option<String>,
}

/// The compiler toolchain chosen for this run.
#[derive(Debug, Clone)]
pub struct Toolchain {
    /// Root folder (its `bin/` has nvcc).
    pub root: PathBuf,
    /// Where the root was found.
    pub origin: Origin,
    /// nvcc.
    pub nvcc: Tool,
    /// cuobjdump, if found.
    pub cuobjdump: Option<Tool>,
    /// nvdisasm, if found.
    pub nvdisasm: Option<Tool>,
}

impl Toolchain {
    /// nvcc's version (`13.0.88`), or "unknown".
    pub fn version(&self) -> &str {
        self.nvcc.version.as_deref().unwrap_or("unknown")
    }

    /// cuobjdump, or the error that names the install command.
    pub fn require_cuobjdump(&self) -> Result<&Tool, RuntimeError> {
        self.cuobjdump
            .as_ref()
            .ok_or_else(|| RuntimeError::ToolMissing {
                tool: "cuobjdump".into(),
                searched: format!(
                    "{} and the places nvcc is looked for",
                    self.root.join("bin").display()
                ),
                install: INSTALL_COMMAND,
            })
    }
}

/// Candidate roots in discovery order.
fn candidate_roots(explicit: Option<&Path>) -> Vec<(Origin, PathBuf)> {
    let mut out = Vec::new();
    if let Some(p) = explicit {
        out.push((Origin::Explicit, p.to_path_buf()));
    }
    if let Some(p) = std::env::var_os("CUDADENT_CUDA_ROOT").filter(|v| !v.is_empty()) {
        out.push((Origin::EnvVar, PathBuf::from(p)));
    }
    if let Some(nvcc) = find_on_path("nvcc") {
        if let Some(root) = nvcc.parent().and_then(Path::parent) {
            out.push((Origin::Path, root.to_path_buf()));
        }
    }
    if let Some(p) = std::env::var_os("CUDA_HOME").filter(|v| !v.is_empty()) {
        out.push((Origin::CudaHome, PathBuf::from(p)));
    }
    out.push((Origin::UsrLocal, PathBuf::from("/usr/local/cuda")));
    if let Some(repo) = repository_root() {
        out.push((Origin::ProjectLocal, repo.join(PROJECT_LOCAL_ROOT)));
    }
    out
}

/// Finds the compiler toolchain. An explicit root that lacks nvcc is an error (never
/// silently replaced by another toolchain).
pub fn discover(explicit: Option<&Path>) -> Result<Toolchain, RuntimeError> {
    let candidates = candidate_roots(explicit);
    if let Some(p) = explicit {
        if !p.join("bin/nvcc").is_file() {
            return Err(RuntimeError::ToolMissing {
                tool: "nvcc".into(),
                searched: format!("{} (given with --cuda-root)", p.join("bin").display()),
                install: INSTALL_COMMAND,
            });
        }
    }
    let (origin, root) = candidates
        .iter()
        .find(|(_, r)| r.join("bin/nvcc").is_file())
        .cloned()
        .ok_or_else(|| RuntimeError::ToolMissing {
            tool: "nvcc".into(),
            searched: describe(&candidates),
            install: INSTALL_COMMAND,
        })?;
    let nvcc_path = root.join("bin/nvcc");
    let nvcc = Tool {
        version: tool_version(&nvcc_path, &["--version"]),
        path: nvcc_path,
    };
    let other = |name: &str| -> Option<Tool> {
        std::iter::once(root.clone())
            .chain(candidates.iter().map(|(_, r)| r.clone()))
            .map(|r| r.join("bin").join(name))
            .find(|p| p.is_file())
            .or_else(|| find_on_path(name))
            .map(|path| Tool {
                version: tool_version(&path, &["--version"]),
                path,
            })
    };
    Ok(Toolchain {
        cuobjdump: other("cuobjdump"),
        nvdisasm: other("nvdisasm"),
        root,
        origin,
        nvcc,
    })
}

/// compute-sanitizer: beside nvcc (`bin/` or `compute-sanitizer/`), else on `PATH`, else
/// in `/usr/local/cuda`.
pub fn find_compute_sanitizer(toolchain: Option<&Toolchain>) -> Option<Tool> {
    let mut places: Vec<PathBuf> = Vec::new();
    if let Some(tc) = toolchain {
        places.push(tc.root.join("bin/compute-sanitizer"));
        places.push(tc.root.join("compute-sanitizer/compute-sanitizer"));
    }
    let found = places
        .into_iter()
        .find(|p| p.is_file())
        .or_else(|| find_on_path("compute-sanitizer"))
        .or_else(|| {
            [
                "/usr/local/cuda/bin/compute-sanitizer",
                "/usr/local/cuda/compute-sanitizer/compute-sanitizer",
            ]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
        })?;
    Some(Tool {
        version: tool_version(&found, &["--version"]),
        path: found,
    })
}

/// Nsight Compute's `ncu`, on `PATH` or in `/usr/local/cuda/bin`.
pub fn find_ncu() -> Option<Tool> {
    let p = find_on_path("ncu").or_else(|| {
        let p = PathBuf::from("/usr/local/cuda/bin/ncu");
        p.is_file().then_some(p)
    })?;
    Some(Tool {
        version: tool_version(&p, &["--version"]),
        path: p,
    })
}

fn describe(c: &[(Origin, PathBuf)]) -> String {
    c.iter()
        .map(|(o, r)| format!("{} ({o})", r.join("bin").display()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An executable named `name` on `PATH`.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The repository root: the nearest folder, from the current directory up and then from
/// the running executable up, that holds both `Cargo.toml` and `kernels/`.
pub fn repository_root() -> Option<PathBuf> {
    let looks_like_root = |d: &Path| d.join("Cargo.toml").is_file() && d.join("kernels").is_dir();
    let from_cwd = std::env::current_dir().ok().and_then(|d| {
        d.ancestors()
            .find(|a| looks_like_root(a))
            .map(Path::to_path_buf)
    });
    from_cwd.or_else(|| {
        std::env::current_exe().ok().and_then(|e| {
            e.ancestors()
                .find(|a| looks_like_root(a))
                .map(Path::to_path_buf)
        })
    })
}

fn tool_version(path: &Path, args: &[&str]) -> Option<String> {
    let out = child_guard::output(
        &duct::cmd(path, args)
            .stdout_capture()
            .stderr_capture()
            .unchecked(),
    )
    .ok()?;
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    parse_version(&text)
}

/// Reads a version from a CUDA tool's `--version` text: `V13.0.88` (nvcc, cuobjdump,
/// nvdisasm), `Version 2025.3.1.0` (compute-sanitizer, ncu).
pub fn parse_version(text: &str) -> Option<String> {
    let re = Regex::new(r"(?m)(?:\bV|[Vv]ersion\s+)(\d+\.\d+(?:\.\d+)*)").ok()?;
    re.captures(text).map(|c| c[1].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_from_real_tool_output() {
        // nvcc 13.0.88 from the pinned wheels, `nvcc --version`.
        let nvcc = "nvcc: NVIDIA (R) Cuda compiler driver\nCopyright (c) 2005-2025 NVIDIA Corporation\nBuilt on Wed_Aug_20_01:58:59_PM_PDT_2025\nCuda compilation tools, release 13.0, V13.0.88\nBuild cuda_13.0.r13.0/compiler.36424714_0\n";
        assert_eq!(parse_version(nvcc).as_deref(), Some("13.0.88"));
        // cuobjdump 13.2.86 from the pinned wheels.
        let cuobjdump = "cuobjdump: NVIDIA (R) fat binary listing tool\nCopyright (c) 2005-2026 NVIDIA Corporation\nBuilt on Fri_May_08_10:53:34_AM_PDT_2026\nCuda compilation tools, release 13.2, V13.2.86\n";
        assert_eq!(parse_version(cuobjdump).as_deref(), Some("13.2.86"));
        assert_eq!(parse_version("no version here"), None);
    }

    #[test]
    fn explicit_root_without_nvcc_is_an_error_naming_the_install_command() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = discover(Some(dir.path())).expect_err("must fail");
        assert_eq!(err.exit_code(), 3);
        let msg = err.to_string();
        assert!(msg.contains("nvcc not found"), "{msg}");
        assert!(msg.contains(INSTALL_COMMAND), "{msg}");
    }
}
