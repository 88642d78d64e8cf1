//! Hardening (issue 11): the real `sass-inspect` binary killed at random points.
//!
//! A temp `--out` directory first gets a good run (SIGTERM and SIGINT go through the tools'
//! interrupt handler, which exits with 128 + the signal; hardening_signals.rs tests that
//! it also stops nvcc). Then, 20 times, sass-inspect runs again
//! into it and is killed (SIGKILL, SIGTERM or SIGINT, in turn, through the `kill` binary)
//! after a delay spread over a whole run. After every kill: each file under the out
//! directory is whole (every JSON parses with the common header; every text file equals
//! that file from a complete run); temporaries (`.NAME.PID.N.tmp`) are the only debris.
//! Finally a run completes, exits 0, and leaves no temporary: `write_atomic` removes the
//! temporaries of dead writers.
//!
//! Needs the CUDA toolchain (nvcc, cuobjdump); skips without it unless
//! `CUDADENT_REQUIRE_TOOLCHAIN=1`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KILLS: u64 = 20;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn toolchain_present() -> bool {
    let found = kernel_runtime::toolchain::discover(None)
        .map_err(|e| e.to_string())
        .and_then(|tc| {
            tc.require_cuobjdump()
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
    test_support::toolchain_or_skip("hardening_interrupt", found).is_some()
}

fn command(out: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sass-inspect"));
    c.args(["--config", "configs/canon_3.toml", "--quiet", "--out"])
        .arg(out)
        .current_dir(repo())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

fn complete_run(out: &Path) -> Duration {
    let t = Instant::now();
    let o = command(out).output().expect("run sass-inspect");
    assert_eq!(
        o.status.code(),
        Some(0),
        "a complete run failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    t.elapsed()
}

fn is_temporary(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".tmp")
}

/// Every file under `dir`, by path relative to it.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).expect("list").flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).expect("under root").to_path_buf();
                out.insert(rel, std::fs::read(&p).expect("read"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// A deterministic spread of delays (a small LCG: no dependency, reproducible).
fn delays(n: u64, max: Duration) -> Vec<Duration> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    (0..n)
        .map(|i| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // The first few land early (argument parsing, config, cache), the rest anywhere.
            let frac = if i < 4 {
                (i as f64) / 40.0
            } else {
                (x >> 11) as f64 / (1u64 << 53) as f64
            };
            max.mul_f64(frac)
        })
        .collect()
}

#[test]
fn killed_runs_leave_only_whole_files_and_the_next_run_cleans_up() {
    if !toolchain_present() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path();
    complete_run(out); // warms the build cache; the "good previous summary"
    let duration = complete_run(out);
    let good = files(out);
    assert!(
        good.keys().any(|p| p.ends_with("summary.json")),
        "{:?}",
        good.keys()
    );

    let signals = ["KILL", "TERM", "INT"];
    let mut snapshots = Vec::new();
    let mut killed_before_exit = 0;
    for (i, delay) in delays(KILLS, duration.mul_f64(1.2)).into_iter().enumerate() {
        let signal = signals[i % signals.len()];
        let mut child = command(out).spawn().expect("spawn sass-inspect");
        std::thread::sleep(delay);
        let status = Command::new("kill")
            .args(["-s", signal, &child.id().to_string()])
            .stderr(Stdio::null())
            .status()
            .expect("run kill");
        let exit = child.wait().expect("wait");
        // SIGKILL ends it by the signal; SIGTERM and SIGINT reach the tool's handler, which
        // stops its children and exits with 128 + the signal.
        let handled = match signal {
            "TERM" => exit.code() == Some(143),
            "INT" => exit.code() == Some(130),
            _ => false,
        };
        if status.success() && (exit.code().is_none() || handled) {
            killed_before_exit += 1;
        }
        snapshots.push((signal, delay, files(out)));
    }
    assert!(
        killed_before_exit >= KILLS / 2,
        "only {killed_before_exit} of {KILLS} kills landed before exit"
    );

    // A kill that lands inside a write leaves `.NAME.PID.N.tmp`; the writes are short, so
    // plant such debris as well, from a process that has exited, in every stats folder.
    let mut gone = Command::new("true").spawn().expect("spawn true");
    let dead = gone.id();
    gone.wait().expect("wait");
    let mut planted = Vec::new();
    for rel in good.keys().filter(|p| p.ends_with("summary.json")) {
        let p = out
            .join(rel)
            .with_file_name(format!(".summary.json.{dead}.0.tmp"));
        std::fs::write(&p, b"{\"schema_version\": 1, \"verd").expect("plant");
        planted.push(p);
    }
    // The next run succeeds and removes every temporary the kills left.
    complete_run(out);
    for p in &planted {
        assert!(!p.exists(), "{} survived the next run", p.display());
    }
    let last = files(out);
    let leftovers: Vec<_> = last
        .keys()
        .filter(|p| is_temporary(&p.file_name().unwrap_or_default().to_string_lossy()))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporaries after a complete run: {leftovers:?}"
    );

    let with_debris = snapshots
        .iter()
        .filter(|(_, _, snap)| {
            snap.keys()
                .any(|p| is_temporary(&p.file_name().unwrap_or_default().to_string_lossy()))
        })
        .count();
    eprintln!(
        "{killed_before_exit} of {KILLS} kills landed mid-run; {with_debris} left temporaries"
    );
    for (signal, delay, snap) in &snapshots {
        for (rel, bytes) in snap {
            let name = rel
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            if is_temporary(&name) {
                continue; // debris of the killed writer, skipped by readers, removed later
            }
            let whole = good.get(rel) == Some(bytes) || last.get(rel) == Some(bytes);
            if name.ends_with(".json") {
                let v: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_else(|e| {
                    panic!(
                        "SIG{signal} after {delay:?}: {} does not parse: {e}",
                        rel.display()
                    )
                });
                assert!(
                    v.get("verdict").is_some() && v.get("inspections").is_some(),
                    "{}",
                    rel.display()
                );
            } else {
                assert!(
                    whole,
                    "SIG{signal} after {delay:?}: {} is not a whole file",
                    rel.display()
                );
            }
        }
    }
}
