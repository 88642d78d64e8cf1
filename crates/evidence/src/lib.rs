//! Evidence files: what every cudadent tool writes under `artifacts/`, and how.
//!
//! This crate owns the common summary header of DESIGN.md (`schema_version`, `tool`,
//! `git_commit`, `verdict`, `kernels` ...), provenance (git commit and dirtiness, time),
//! sha256 hashing of files, and atomic writes (temporary file in the same directory, fsync,
//! rename), so that an interrupted run leaves the previous evidence intact.
//! It knows nothing about CUDA: building and running kernels is `kernel-runtime`'s job,
//! and each gate fills in its own fields beside the header.
#![deny(missing_docs)]

mod atomic;
mod header;
mod provenance;

pub use atomic::{
    clean_stale_temporaries, lock_dir, lock_run, stop_writes, write_atomic, write_json_atomic,
    DirLock, RunLock,
};
pub use header::{Header, KernelRecord, Verdict, SCHEMA_VERSION};
pub use provenance::{git_state, now_rfc3339, sha256_bytes, sha256_file, GitState};

/// Errors from writing or hashing evidence files.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// A file could not be read, written or renamed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("write", "rename", "read").
        action: &'static str,
        /// The file concerned.
        path: std::path::PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A value could not be serialised to JSON.
    #[error("serialise {what}: {source}")]
    Json {
        /// What was being serialised.
        what: String,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
}
