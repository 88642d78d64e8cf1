//! Hardening (issue 11): concurrent writers of one artifact directory.
//!
//! Threads of one process and separate processes write the same summary path many times,
//! with payloads of different sizes, while a reader keeps reading it: every read parses
//! and equals one of the payloads (never an interleaving, never a truncation), and no
//! temporary file is left at the end. The processes are this test binary run again with
//! `CUDADENT_EVIDENCE_WRITER` set (see `child_writer`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use cudadent_evidence::{write_atomic, write_json_atomic};
use serde_json::{json, Value};

const WRITES: usize = 150;

/// Payload `i`: sizes differ by two orders of magnitude so that a mix of two shows.
fn payload(i: usize) -> Value {
    let filler = "x".repeat(if i.is_multiple_of(2) { 64 } else { 64 * 1024 });
    json!({"schema_version": 1, "tool": "hardening", "writer": i, "filler": filler})
}

fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("list")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

/// Reads `path` until `stop`, checking each read against the payloads; returns the count.
fn reader(path: PathBuf, writers: usize, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<usize> {
    let expected: Vec<Value> = (0..writers).map(payload).collect();
    std::thread::spawn(move || {
        let mut reads = 0;
        while !stop.load(Ordering::Relaxed) {
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let v: Value = serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("read {} bytes that do not parse: {e}", bytes.len()));
            assert!(expected.contains(&v), "a read matched no payload");
            reads += 1;
        }
        reads
    })
}

#[test]
fn threads_writing_one_path_never_corrupt_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("stats/canon_3/summary.json");
    let writers = 4;
    write_json_atomic(&path, &payload(0)).expect("first");
    let stop = Arc::new(AtomicBool::new(false));
    let r = reader(path.clone(), writers, stop.clone());
    std::thread::scope(|s| {
        for w in 0..writers {
            let path = &path;
            s.spawn(move || {
                for _ in 0..WRITES {
                    write_json_atomic(path, &payload(w)).expect("write");
                }
            });
        }
    });
    stop.store(true, Ordering::Relaxed);
    let reads = r.join().expect("reader");
    assert!(reads > 0);
    let last: Value = serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("parse");
    assert!((0..writers).map(payload).any(|p| p == last));
    assert!(temporaries(path.parent().expect("dir")).is_empty());
}

/// Not a test of its own: the body of a writer process when the variable is set.
#[test]
fn child_writer() {
    let Ok(spec) = std::env::var("CUDADENT_EVIDENCE_WRITER") else {
        return;
    };
    let (path, id) = spec.rsplit_once('|').expect("PATH|ID");
    let id: usize = id.parse().expect("id");
    let bytes = {
        let mut v = serde_json::to_vec_pretty(&payload(id)).expect("json");
        v.push(b'\n');
        v
    };
    for _ in 0..WRITES {
        write_atomic(Path::new(path), &bytes).expect("write");
    }
}

#[test]
fn processes_writing_one_path_never_corrupt_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("summary.json");
    let writers = 3;
    write_json_atomic(&path, &payload(0)).expect("first");
    let stop = Arc::new(AtomicBool::new(false));
    let r = reader(path.clone(), writers, stop.clone());
    let exe = std::env::current_exe().expect("test binary");
    let children: Vec<_> = (0..writers)
        .map(|i| {
            Command::new(&exe)
                .args(["--exact", "child_writer", "--test-threads=1", "--quiet"])
                .env(
                    "CUDADENT_EVIDENCE_WRITER",
                    format!("{}|{i}", path.display()),
                )
                .stdout(Stdio::null())
                .spawn()
                .expect("spawn writer")
        })
        .collect();
    for mut c in children {
        assert!(c.wait().expect("wait").success(), "a writer process failed");
    }
    stop.store(true, Ordering::Relaxed);
    assert!(r.join().expect("reader") > 0);
    assert!(temporaries(dir.path()).is_empty());
}
