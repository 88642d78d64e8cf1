use std::fs;
use std::io::Write;
use std::path::Path;

use crate::EvidenceError;

/// Writes `bytes` to `path` atomically: into a temporary file beside it, flushed to disk,
/// then renamed over `path`. Readers see either the old file or the new one, never a part.
/// Parent directories are created as needed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), EvidenceError> {
    let io = |action: &'static str, p: &Path| {
        let p = p.to_path_buf();
        move |source| EvidenceError::Io {
            action,
            path: p,
            source,
        }
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir).map_err(io("create directory", dir))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".to_string());
    // A leading dot and a `.tmp` suffix: artifact-check and MANIFEST listing skip these.
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp).map_err(io("create", &tmp))?;
        f.write_all(bytes).map_err(io("write", &tmp))?;
        f.sync_all().map_err(io("sync", &tmp))?;
        fs::rename(&tmp, path).map_err(io("rename", path))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Serialises `value` as pretty JSON (with a trailing newline) and writes it atomically.
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), EvidenceError> {
    let mut text = serde_json::to_vec_pretty(value).map_err(|source| EvidenceError::Json {
        what: path.display().to_string(),
        source,
    })?;
    text.push(b'\n');
    write_atomic(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("a/b/summary.json");
        write_atomic(&p, b"first version, long").expect("write 1");
        write_atomic(&p, b"second").expect("write 2");
        assert_eq!(fs::read(&p).expect("read"), b"second");
        let left: Vec<_> = fs::read_dir(p.parent().expect("parent"))
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("summary.json")]);
    }

    #[test]
    fn failed_write_keeps_previous_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("x.json");
        write_atomic(&p, b"old").expect("write");
        // Renaming a file over a non-empty directory fails: the old evidence must survive.
        let blocker = dir.path().join("blocked");
        fs::create_dir_all(blocker.join("inner")).expect("mkdir");
        assert!(write_atomic(&blocker, b"new").is_err());
        assert_eq!(fs::read(&p).expect("read"), b"old");
    }
}
