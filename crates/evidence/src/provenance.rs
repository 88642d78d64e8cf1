use std::io::Read;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::EvidenceError;

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex sha256 of a file's contents, streamed.
pub fn sha256_file(path: &Path) -> Result<String, EvidenceError> {
    let io = |source| EvidenceError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Git provenance of the working tree a tool ran in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitState {
    /// HEAD commit, if `dir` is inside a git work tree with commits.
    pub commit: Option<String>,
    /// Whether tracked files differ from HEAD (untracked files do not count).
    pub dirty: Option<bool>,
}

/// Reads HEAD and dirtiness of the repository containing `dir`. Missing git, or no
/// repository, gives `None`s: provenance is recorded where it exists, never invented.
///
/// A run from a copy of the tree without `.git` (the GPU machine gets one) takes them from
/// `CUDADENT_GIT_COMMIT` and `CUDADENT_GIT_DIRTY` (`true`/`false`), which the script that
/// made the copy read from the real repository.
pub fn git_state(dir: &Path) -> GitState {
    if let Ok(commit) = std::env::var("CUDADENT_GIT_COMMIT") {
        if !commit.is_empty() {
            let dirty = std::env::var("CUDADENT_GIT_DIRTY")
                .ok()
                .and_then(|d| d.parse().ok());
            return GitState {
                commit: Some(commit),
                dirty,
            };
        }
    }
    let commit = git_stdout(dir, &["rev-parse", "HEAD"])
        .map(|out| String::from_utf8_lossy(&out).trim().to_string())
        .filter(|s| !s.is_empty());
    let dirty = commit.as_ref().and_then(|_| {
        git_stdout(dir, &["status", "--porcelain", "--untracked-files=no"])
            .map(|out| !out.is_empty())
    });
    GitState { commit, dirty }
}

/// Standard output of `git <args>` run in `dir`, or `None` when git is missing or fails.
fn git_stdout(dir: &Path, args: &[&str]) -> Option<Vec<u8>> {
    duct::cmd("git", args)
        .dir(dir)
        .stderr_null()
        .stdout_capture()
        .unchecked()
        .run()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| o.stdout)
}

/// Current UTC time as RFC 3339 (`2026-11-25T12:00:00Z`), without a date crate.
pub fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339_from_unix(secs)
}

fn rfc3339_from_unix(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_input() {
        assert_eq!(
            sha256_bytes(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339_from_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_from_unix(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_from_unix(1_795_609_845), "2026-11-25T12:30:45Z");
    }
}
