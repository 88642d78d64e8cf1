//! `bench compare` on SYNTHETIC sample sets (tests/fixtures/compare/README.md): the
//! fixtures are regenerated here and must match, then compared through the library and
//! the binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use bench::{compare_files, Call, CompareOptions, Mode, SampleSet, SamplesFile, SetKind};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/compare")
}

fn file(device: &str, sets: &[(Mode, u64, usize, f64, f64)]) -> SamplesFile {
    SamplesFile {
        schema_version: 1,
        tool: "bench".into(),
        config: "canon_3".into(),
        device: Some(device.into()),
        git_commit: None,
        synthetic: true,
        note: Some(
            "SYNTHETIC: bench::synthetic::samples(seed, n, median_us, rel_noise); see README.md"
                .into(),
        ),
        sets: sets
            .iter()
            .map(|&(mode, seed, n, median, noise)| SampleSet {
                name: "fa_tc".into(),
                kind: SetKind::Kernel,
                mode,
                launches_per_sample: if mode == Mode::Hot { 20 } else { 1 },
                samples_us: bench::synthetic::samples(seed, n, median, noise),
                gpu: None,
            })
            .collect(),
    }
}

fn fixtures() -> Vec<(&'static str, SamplesFile)> {
    use Mode::{Cold, Hot};
    vec![
        (
            "base.json",
            file(
                "synthetic",
                &[(Cold, 1, 200, 40.0, 0.004), (Hot, 2, 200, 30.0, 0.003)],
            ),
        ),
        (
            "identical.json",
            file(
                "synthetic",
                &[(Cold, 3, 200, 40.0, 0.004), (Hot, 4, 200, 30.0, 0.003)],
            ),
        ),
        (
            "slower5.json",
            file(
                "synthetic",
                &[(Cold, 5, 200, 42.0, 0.004), (Hot, 6, 200, 31.5, 0.003)],
            ),
        ),
        (
            "noisy_old.json",
            file("synthetic", &[(Cold, 7, 25, 40.0, 0.08)]),
        ),
        (
            "noisy_new.json",
            file("synthetic", &[(Cold, 8, 25, 40.8, 0.08)]),
        ),
        (
            "other_device.json",
            file(
                "synthetic-other",
                &[(Cold, 3, 200, 40.0, 0.004), (Hot, 4, 200, 30.0, 0.003)],
            ),
        ),
    ]
}

fn load(name: &str) -> SamplesFile {
    serde_json::from_str(&std::fs::read_to_string(dir().join(name)).unwrap()).unwrap()
}

#[test]
fn fixtures_match_their_generator() {
    for (name, f) in fixtures() {
        let text = serde_json::to_string_pretty(&f).unwrap() + "\n";
        let path = dir().join(name);
        if std::env::var_os("BENCH_REGENERATE_FIXTURES").is_some() {
            std::fs::write(&path, &text).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == text,
            "{name} differs from its generator; regenerate (see README.md)"
        );
    }
}

fn calls(old: &str, new: &str) -> Vec<(String, Call)> {
    let r = compare_files(&load(old), &load(new), &CompareOptions::default(), false).unwrap();
    r.rows
        .iter()
        .map(|r| (r.mode.clone(), r.change.call))
        .collect()
}

#[test]
fn identical_distributions_are_same() {
    assert_eq!(
        calls("base.json", "identical.json"),
        [("cold".into(), Call::Same), ("hot".into(), Call::Same)]
    );
}

#[test]
fn five_percent_slower_is_slower() {
    let r = compare_files(
        &load("base.json"),
        &load("slower5.json"),
        &CompareOptions::default(),
        false,
    )
    .unwrap();
    assert!(r.any_slower());
    for row in &r.rows {
        assert_eq!(row.change.call, Call::Slower);
        assert!(
            (row.change.change - 0.05).abs() < 0.005,
            "{}",
            row.change.change
        );
        assert!(row.change.ci_low > 0.04 && row.change.ci_high < 0.06);
    }
    // And the other way round it is faster.
    assert_eq!(
        calls("slower5.json", "base.json"),
        [("cold".into(), Call::Faster), ("hot".into(), Call::Faster)]
    );
}

#[test]
fn noisy_overlapping_runs_are_unclear() {
    assert_eq!(
        calls("noisy_old.json", "noisy_new.json"),
        [("cold".into(), Call::Unclear)]
    );
}

#[test]
fn different_devices_are_refused_unless_allowed() {
    let (a, b) = (load("base.json"), load("other_device.json"));
    assert!(compare_files(&a, &b, &CompareOptions::default(), false).is_err());
    assert!(compare_files(&a, &b, &CompareOptions::default(), true).is_ok());
}

fn bench(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(args)
        .current_dir(dir())
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}

#[test]
fn compare_cli_exit_codes() {
    let (code, out, _) = bench(&[
        "compare",
        "base.json",
        "identical.json",
        "--noise-threshold",
        "0.01",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("SAME"));
    let (code, out, _) = bench(&[
        "compare",
        "base.json",
        "slower5.json",
        "--noise-threshold",
        "0.01",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("SLOWER"));
    let (code, _, err) = bench(&[
        "compare",
        "base.json",
        "other_device.json",
        "--noise-threshold",
        "0.01",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--allow-different-devices"), "{err}");
    let (code, _, _) = bench(&[
        "compare",
        "base.json",
        "other_device.json",
        "--noise-threshold",
        "0.01",
        "--allow-different-devices",
    ]);
    assert_eq!(code, 0);
    let (code, out, _) = bench(&[
        "compare",
        "base.json",
        "slower5.json",
        "--noise-threshold",
        "0.01",
        "--json",
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value =
        serde_json::from_str(&out).expect("--json prints only JSON on stdout");
    assert_eq!(v["rows"][0]["call"], "SLOWER");
    // --junit: one case per set x mode, each failing as SLOWER.
    let tmp = tempfile::tempdir().unwrap();
    let junit = tmp.path().join("compare.xml");
    let (code, out, err) = bench(&[
        "compare",
        "base.json",
        "slower5.json",
        "--noise-threshold",
        "0.01",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    let r = cli_support::ci::read_junit(&std::fs::read_to_string(&junit).unwrap())
        .expect("valid JUnit");
    let rows = v["rows"].as_array().unwrap();
    assert_eq!((r.tests(), r.failures()), (rows.len(), rows.len()));
    for row in rows {
        let name = format!(
            "{} {}",
            row["name"].as_str().unwrap(),
            row["mode"].as_str().unwrap()
        );
        let case = r.case("bench.compare", &name).expect("a case per row");
        assert!(case.failure.as_ref().unwrap().0.starts_with("SLOWER: p50"));
        assert_eq!(case.property("call"), Some("SLOWER"));
    }
    let (code, _, err) = bench(&[
        "compare",
        "missing.json",
        "base.json",
        "--noise-threshold",
        "0.01",
    ]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn run_without_gpu_exits_3_cleanly() {
    if Path::new("/proc/driver/nvidia/version").exists() {
        return; // a GPU machine: this test is about machines without one
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let tmp = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(["--config", "configs/canon_3.toml", "--out"])
        .arg(tmp.path())
        .current_dir(&repo)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.starts_with("bench: error:"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
