//! MANIFEST.json: every file of an artifact directory with its sha256 and size, and the
//! provenance of the listing. `MANIFEST.json` and `EVIDENCE.md` at the root are left out
//! (the manifest cannot hash itself; EVIDENCE.md is derived from the summaries, and the
//! check renders it again and compares, so it cannot drift either). Temporary files of an
//! interrupted atomic write (`.NAME.PID.tmp`) are left out too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The manifest's file name.
pub const MANIFEST: &str = "MANIFEST.json";
/// The generated evidence report's file name.
pub const EVIDENCE: &str = "EVIDENCE.md";

/// One listed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Path relative to the directory, `/`-separated.
    pub path: String,
    /// sha256 of the bytes.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// MANIFEST.json.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Layout version.
    pub schema_version: u32,
    /// `artifact-check`.
    pub tool: String,
    /// Its version.
    pub tool_version: String,
    /// HEAD of the repository where it was written, if any.
    pub git_commit: Option<String>,
    /// Whether tracked files differed from HEAD there.
    pub git_dirty: Option<bool>,
    /// RFC 3339 UTC time of writing.
    pub written_at: String,
    /// Files at the root that are not listed, and why.
    pub excluded: Vec<String>,
    /// Where the files came from (the shard directories of a merge), if merged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<String>,
    /// Every file, sorted by path.
    pub files: Vec<Entry>,
}

fn is_excluded(rel: &str) -> bool {
    rel == MANIFEST || rel == EVIDENCE
}

fn is_temporary(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".tmp")
}

/// Every file under `dir` (relative `/` paths, sorted), except the excluded ones.
/// Anything that is not a plain file or folder (a symlink, a socket) is an error.
pub fn list_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = std::fs::read_dir(&d).map_err(|e| format!("list {}: {e}", d.display()))?;
        for entry in rd {
            let entry = entry.map_err(|e| format!("list {}: {e}", d.display()))?;
            let p = entry.path();
            let ft = entry
                .file_type()
                .map_err(|e| format!("stat {}: {e}", p.display()))?;
            let rel = p
                .strip_prefix(dir)
                .map_err(|_| format!("{} is outside {}", p.display(), dir.display()))?
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !is_excluded(&rel) && !is_temporary(&name) {
                    out.push((rel, p));
                }
            } else {
                return Err(format!(
                    "{rel}: not a plain file (symlinks and special files are not evidence)"
                ));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Hashes every file of `dir`.
pub fn scan(dir: &Path) -> Result<Vec<Entry>, String> {
    list_files(dir)?
        .into_iter()
        .map(|(rel, p)| {
            let sha256 = cudadent_evidence::sha256_file(&p).map_err(|e| e.to_string())?;
            let size = std::fs::metadata(&p)
                .map_err(|e| format!("stat {}: {e}", p.display()))?
                .len();
            Ok(Entry {
                path: rel,
                sha256,
                size,
            })
        })
        .collect()
}

/// A fresh manifest of `dir` with provenance from the repository at `repo`.
pub fn build(dir: &Path, repo: &Path, merged_from: Vec<String>) -> Result<Manifest, String> {
    let git = cudadent_evidence::git_state(repo);
    Ok(Manifest {
        schema_version: 1,
        tool: "artifact-check".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        git_commit: git.commit,
        git_dirty: git.dirty,
        written_at: cudadent_evidence::now_rfc3339(),
        excluded: vec![
            format!("{MANIFEST}: this file"),
            format!("{EVIDENCE}: rendered from the summaries; artifact-check renders it again and compares"),
        ],
        merged_from,
        files: scan(dir)?,
    })
}

/// Writes `m` to `dir/MANIFEST.json` atomically.
pub fn write(dir: &Path, m: &Manifest) -> Result<(), String> {
    cudadent_evidence::write_json_atomic(&dir.join(MANIFEST), m).map_err(|e| e.to_string())
}

/// Reads `dir/MANIFEST.json`.
pub fn read(dir: &Path) -> Result<Manifest, String> {
    let p = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&p).map_err(|e| format!("read {}: {e}", p.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))
}

/// Compares the listing with the directory: one message per changed, missing or
/// unlisted file.
pub fn verify(dir: &Path, m: &Manifest) -> Result<Vec<String>, String> {
    let now: BTreeMap<String, Entry> = scan(dir)?
        .into_iter()
        .map(|e| (e.path.clone(), e))
        .collect();
    let mut problems = Vec::new();
    let mut listed = BTreeMap::new();
    for e in &m.files {
        if listed.insert(e.path.clone(), e).is_some() {
            problems.push(format!("{}: listed twice in {MANIFEST}", e.path));
        }
    }
    for (path, want) in &listed {
        match now.get(path) {
            None => problems.push(format!("{path}: missing (listed in {MANIFEST})")),
            Some(got) if got.sha256 != want.sha256 || got.size != want.size => {
                problems.push(format!(
                    "{path}: changed (listed sha256 {} size {}, now sha256 {} size {})",
                    want.sha256, want.size, got.sha256, got.size
                ))
            }
            Some(_) => {}
        }
    }
    for path in now.keys() {
        if !listed.contains_key(path) {
            problems.push(format!("{path}: not listed in {MANIFEST}"));
        }
    }
    Ok(problems)
}
