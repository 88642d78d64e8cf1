//! The planted-bug controls (kernels/selftest/*.toml with a `[control]` section): each
//! tool's gate run includes its control, which must be caught for any pass to count.

use std::path::Path;

use cudadent_config::{ConfigError, KernelManifest, SanitizerTool};

/// Loads every `*.toml` manifest in `dir` (sorted by file name) that declares a control.
/// A missing folder gives no controls (the gate then errors: no control ran); a manifest
/// that does not load is bad input.
pub fn scan(dir: &Path) -> Result<Vec<KernelManifest>, ConfigError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(ConfigError::Read {
                file: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        let m = KernelManifest::load(&p)?;
        if m.control.is_some() {
            out.push(m);
        }
    }
    Ok(out)
}

/// The controls whose `[control] gate` is `tool`.
pub fn for_tool(all: &[KernelManifest], tool: SanitizerTool) -> Vec<&KernelManifest> {
    all.iter()
        .filter(|m| {
            m.control
                .as_ref()
                .is_some_and(|c| c.gate.name() == tool.name())
        })
        .collect()
}
