//! The real `sass-inspect` binary on the real kernels with the real pinned toolchain.
//!
//! Without a toolchain (nvcc and cuobjdump) these tests skip with a message, unless
//! `CUDADENT_REQUIRE_TOOLCHAIN=1`, where they fail.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether the toolchain (with cuobjdump) is here; panics when it is required and absent.
fn toolchain_present(test: &str) -> bool {
    let found = kernel_runtime::toolchain::discover(None)
        .map_err(|e| e.to_string())
        .and_then(|tc| {
            tc.require_cuobjdump()
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
    test_support::toolchain_or_skip(test, found).is_some()
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Run {
    run_with_step_summary(args, None)
}

/// Runs sass-inspect with `$GITHUB_STEP_SUMMARY` set to `step_summary`, or unset (a CI
/// runner's own would otherwise collect the tests' tables).
fn run_with_step_summary(args: &[&str], step_summary: Option<&Path>) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sass-inspect"));
    cmd.args(args).current_dir(repo());
    match step_summary {
        Some(p) => cmd.env("GITHUB_STEP_SUMMARY", p),
        None => cmd.env_remove("GITHUB_STEP_SUMMARY"),
    };
    let o = cmd.output().expect("run sass-inspect");
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn summary(out: &Path, config: &str) -> Value {
    let p = out.join("stats").join(config).join("summary.json");
    serde_json::from_str(&std::fs::read_to_string(&p).expect("summary.json")).expect("json")
}

fn inspection<'a>(v: &'a Value, kernel: &str, arch: &str) -> &'a Value {
    v["inspections"]
        .as_array()
        .expect("inspections")
        .iter()
        .find(|i| i["kernel"] == kernel && i["launch"] == "default" && i["arch"] == arch)
        .unwrap_or_else(|| panic!("no inspection for {kernel} {arch}"))
}

const ARCHS: [&str; 4] = ["sm_80", "sm_89", "sm_90", "sm_90a"];

#[test]
fn canon_3_passes_with_tensor_cores_in_fa_tc_only() {
    if !toolchain_present("canon_3_passes_with_tensor_cores_in_fa_tc_only") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let junit = tmp.path().join("ci/junit.xml");
    let step_summary = tmp.path().join("step_summary.md");
    std::fs::write(&step_summary, "earlier step\n").unwrap();
    let r = run_with_step_summary(
        &[
            "--config",
            "configs/canon_3.toml",
            "--out",
            s(tmp.path()),
            "--json",
            "--junit",
            s(&junit),
        ],
        Some(&step_summary),
    );
    assert_eq!(r.code, 0, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    let printed: Value = serde_json::from_str(&r.stdout).expect("--json prints the summary");
    let v = summary(tmp.path(), "canon_3");
    // JUnit: one case per kernel x arch plus the snapshot case, none failing; the
    // figures ride along as properties.
    let report = cli_support::ci::read_junit(&std::fs::read_to_string(&junit).unwrap())
        .expect("valid JUnit");
    let rows = v["inspections"].as_array().unwrap().len();
    // fa_s512_v3, fa_tc (default launch), fa_tc's small_grid launch, attention_ref on every
    // arch, and fa_tc's wgmma_tma and wgmma_ks2 launches on sm_90a alone (their rules name
    // that arch).
    assert_eq!(rows, 4 * ARCHS.len() + 2);
    let wg: Vec<&Value> = v["inspections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["launch"] == "wgmma_tma")
        .collect();
    assert_eq!(wg.len(), 1, "{wg:?}");
    assert_eq!(
        (&wg[0]["arch"], &wg[0]["entry"]),
        (
            &Value::from("sm_90a"),
            &Value::from("fa_tc_fwd_d64_wgmma_tma")
        )
    );
    let hgmma = wg[0]["census"].to_string();
    assert!(
        hgmma.contains("HGMMA"),
        "the wgmma_tma launch's SASS has HGMMA: {hgmma}"
    );
    assert!(wg[0]["tensor_core_f32_accumulate"].as_u64().unwrap() > 0);
    assert_eq!(wg[0]["spill_stores"], 0);
    assert_eq!(report.suites.len(), 1);
    assert_eq!(report.suites[0].name, "sass-inspect.canon_3");
    assert_eq!((report.tests(), report.failures()), (rows + 1, 0));
    for arch in ARCHS {
        let case = report
            .case("sass-inspect.canon_3", &format!("fa_tc.{arch}"))
            .expect("fa_tc case");
        assert_eq!(case.classname, "sass-inspect.canon_3");
        let tc = inspection(&v, "fa_tc", arch);
        assert_eq!(
            case.property("tensor_core_instructions"),
            Some(tc["tensor_core_instructions"].to_string().as_str())
        );
        assert_eq!(
            case.property("registers"),
            Some(tc["registers"].to_string().as_str())
        );
    }
    assert!(report.case("sass-inspect.canon_3", "snapshot").is_some());
    // fa_tc's launch rule is inspected on its own: its entry, its geometry, its own files.
    for arch in ARCHS {
        let sg = v["inspections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["kernel"] == "fa_tc" && i["launch"] == "small_grid" && i["arch"] == arch)
            .unwrap_or_else(|| panic!("no small_grid inspection on {arch}"));
        assert_eq!(sg["entry"], "fa_tc_fwd_d64_small_grid");
        assert_eq!(sg["dynamic_shared_bytes"], 69632);
        assert_eq!(sg["threads"], 128);
        assert!(
            sg["tensor_core_f32_accumulate"].as_u64().unwrap() > 0,
            "{sg}"
        );
        assert_eq!(sg["verdict"], "pass");
        let file = format!("fa_tc.small_grid.{arch}.sass.txt");
        assert_eq!(sg["sass_file"], file.as_str());
        let excerpt =
            std::fs::read_to_string(tmp.path().join("stats/canon_3").join(&file)).unwrap();
        assert!(
            excerpt.contains("# entry: fa_tc_fwd_d64_small_grid") && excerpt.contains("HMMA"),
            "{excerpt}"
        );
        assert!(report
            .case("sass-inspect.canon_3", &format!("fa_tc[small_grid].{arch}"))
            .is_some());
    }
    // The job summary: appended after what was there, one row per kernel x arch.
    let md = std::fs::read_to_string(&step_summary).unwrap();
    assert!(md.starts_with("earlier step\n"), "{md}");
    assert!(md.contains("### sass-inspect `canon_3`: PASS"), "{md}");
    let fa_tc_90 = inspection(&v, "fa_tc", "sm_90");
    let line = format!(
        "| canon_3 | fa_tc | sm_90 | {} | 0/0 | {} | pass |",
        fa_tc_90["registers"], fa_tc_90["tensor_core_instructions"]
    );
    assert!(md.contains(&line), "{line} not in:\n{md}");
    assert_eq!(
        md.lines().filter(|l| l.starts_with("| canon_3 |")).count(),
        rows
    );
    assert_eq!(printed["inspections"], v["inspections"]);
    assert_eq!(v["tool"], "sass-inspect");
    assert_eq!(v["verdict"], "pass");
    assert!(v["device"].is_null());
    assert!(v["toolkit_version"].is_string());
    let stats = tmp.path().join("stats/canon_3");
    for arch in ARCHS {
        let tc = inspection(&v, "fa_tc", arch);
        let n = tc["tensor_core_instructions"].as_u64().unwrap();
        assert!(n > 0, "fa_tc {arch}: no tensor-core instructions: {tc}");
        assert_eq!(tc["tensor_core_f32_accumulate"].as_u64(), Some(n), "{tc}");
        assert_eq!(tc["verdict"], "pass");
        let scalar = inspection(&v, "fa_s512_v3", arch);
        assert_eq!(scalar["tensor_core_instructions"], 0, "{scalar}");
        assert_eq!(scalar["verdict"], "pass");
        let reference = inspection(&v, "attention_ref", arch);
        assert_eq!(reference["role"], "reference");
        for row in [tc, scalar, reference] {
            for f in ["registers", "spill_stores", "spill_loads", "shared_bytes"] {
                assert!(row[f].is_u64(), "{f} missing: {row}");
            }
            assert_eq!(row["spill_stores"], 0);
            assert!(row["occupancy"]["blocks_per_sm"].as_u64().unwrap() > 0);
            assert_eq!(row["lines_not_understood"]["ptxas"], 0);
            assert_eq!(row["lines_not_understood"]["sass"], 0);
        }
        // The inspected cubin is the one the header records, and the excerpt says so.
        let sha = tc["cubin_sha256"].as_str().unwrap();
        let recorded = v["kernels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["name"] == "fa_tc")
            .unwrap()["cubins"][arch]
            .clone();
        assert_eq!(recorded, sha);
        let excerpt =
            std::fs::read_to_string(stats.join(format!("fa_tc.{arch}.sass.txt"))).unwrap();
        assert!(excerpt.contains(sha), "{excerpt}");
        assert!(excerpt.contains("HMMA"), "{excerpt}");
        assert_eq!(
            excerpt.lines().filter(|l| l.contains("HMMA")).count() as u64,
            n
        );
        let none =
            std::fs::read_to_string(stats.join(format!("fa_s512_v3.{arch}.sass.txt"))).unwrap();
        assert!(none.contains("# none:"), "{none}");
        let ptxas = std::fs::read_to_string(stats.join(format!("fa_tc.{arch}.ptxas.txt"))).unwrap();
        assert!(ptxas.contains("Used"), "{ptxas}");
    }
    // A second run compares against the first: nothing moved, still a pass.
    let again = run(&["--config", "configs/canon_3.toml", "--out", s(tmp.path())]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert!(again.stdout.contains("nothing moved"), "{}", again.stdout);
    assert!(again.stdout.contains("fa_tc"), "{}", again.stdout);
}

#[test]
fn fake_tensor_cores_fails_the_tensor_core_rule() {
    if !toolchain_present("fake_tensor_cores_fails_the_tensor_core_rule") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let junit = tmp.path().join("junit.xml");
    let r = run(&[
        "--config",
        "configs/canon_3.toml",
        "--kernel",
        "kernels/selftest/fake_tensor_cores.toml",
        "--out",
        s(tmp.path()),
        "--junit",
        s(&junit),
    ]);
    assert_eq!(r.code, 1, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    let report = cli_support::ci::read_junit(&std::fs::read_to_string(&junit).unwrap())
        .expect("valid JUnit");
    for arch in ARCHS {
        let case = report
            .case("sass-inspect.canon_3", &format!("fake_tensor_cores.{arch}"))
            .expect("a case per arch");
        let (message, _) = case.failure.as_ref().expect("the control's case fails");
        assert!(message.contains("require_tensor_cores"), "{message}");
    }
    let ref_cases = report
        .cases()
        .filter(|(_, c)| c.name.starts_with("attention_ref."))
        .count();
    assert_eq!(ref_cases, ARCHS.len());
    assert_eq!(report.failures(), ARCHS.len(), "only the control fails");
    assert!(r.stdout.contains("require_tensor_cores"), "{}", r.stdout);
    let v = summary(tmp.path(), "canon_3");
    assert_eq!(v["verdict"], "fail");
    for arch in ARCHS {
        let row = inspection(&v, "fake_tensor_cores", arch);
        assert_eq!(row["verdict"], "fail");
        let rules: Vec<&str> = row["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["rule"].as_str().unwrap())
            .collect();
        assert!(rules.contains(&"require_tensor_cores"), "{arch}: {rules:?}");
        assert!(r
            .stdout
            .contains(&format!("fake_tensor_cores {arch}: require_tensor_cores")));
    }
}

#[test]
fn spills_registers_fails_on_spills_and_local_memory() {
    if !toolchain_present("spills_registers_fails_on_spills_and_local_memory") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let r = run(&[
        "--config",
        "configs/canon_3.toml",
        "--kernel",
        "kernels/selftest/spills_registers.toml",
        "--out",
        s(tmp.path()),
    ]);
    assert_eq!(r.code, 1, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert!(r.stdout.contains("max_spill_bytes"), "{}", r.stdout);
    assert!(r.stdout.contains("allow_local_memory"), "{}", r.stdout);
    let v = summary(tmp.path(), "canon_3");
    for arch in ARCHS {
        let row = inspection(&v, "spills_registers", arch);
        assert!(row["spill_stores"].as_u64().unwrap() > 0, "{row}");
        assert!(
            row["local_memory_instructions"].as_u64().unwrap() > 0,
            "{row}"
        );
        assert_eq!(row["verdict"], "fail");
    }
}

#[test]
fn a_register_increase_over_the_snapshot_fails_and_shows_old_to_new() {
    if !toolchain_present("a_register_increase_over_the_snapshot_fails_and_shows_old_to_new") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let first = run(&[
        "--config",
        "configs/canon_3.toml",
        "--out",
        s(tmp.path()),
        "--no-snapshot",
    ]);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    let mut v = summary(tmp.path(), "canon_3");
    let mut now = 0;
    for i in v["inspections"].as_array_mut().unwrap() {
        if i["kernel"] == "fa_tc" && i["launch"] == "default" && i["arch"] == "sm_80" {
            now = i["registers"].as_u64().unwrap();
            i["registers"] = Value::from(now - 10);
        }
    }
    assert!(now > 10);
    let snap = tmp.path().join("snapshot.json");
    std::fs::write(&snap, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let junit = tmp.path().join("junit.xml");
    let r = run(&[
        "--config",
        "configs/canon_3.toml",
        "--out",
        s(tmp.path()),
        "--snapshot",
        s(&snap),
        "--junit",
        s(&junit),
    ]);
    assert_eq!(r.code, 1, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    let moved = format!("{} -> {now}", now - 10);
    assert!(
        r.stdout
            .contains(&format!("fa_tc sm_80: registers: {moved}")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(&format!("{moved} !")),
        "table cell: {}",
        r.stdout
    );
    let after = summary(tmp.path(), "canon_3");
    assert_eq!(after["verdict"], "fail");
    assert_eq!(after["snapshot"]["passed"], false);
    assert_eq!(inspection(&after, "fa_tc", "sm_80")["verdict"], "fail");
    assert_eq!(inspection(&after, "fa_tc", "sm_89")["verdict"], "pass");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("failures=\"1\""), "{xml}");
    assert!(xml.contains(&moved.replace('>', "&gt;")), "{xml}");
    // Read back: only the snapshot case fails, its body naming the move.
    let report = cli_support::ci::read_junit(&xml).expect("valid JUnit");
    assert_eq!(report.failures(), 1, "{xml}");
    let snap_case = report
        .case("sass-inspect.canon_3", "snapshot")
        .expect("snapshot case");
    let (message, body) = snap_case.failure.as_ref().expect("snapshot case fails");
    assert_eq!(message, "snapshot regression");
    assert!(
        body.contains(&format!("fa_tc sm_80: registers: {moved}")),
        "{body}"
    );
}

#[test]
fn an_unreadable_snapshot_is_bad_input() {
    if !toolchain_present("an_unreadable_snapshot_is_bad_input") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope.json");
    let r = run(&[
        "--config",
        "configs/canon_3.toml",
        "--out",
        s(tmp.path()),
        "--snapshot",
        s(&missing),
    ]);
    assert_eq!(r.code, 2, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert!(r.stderr.contains("snapshot"), "{}", r.stderr);
}

#[test]
fn a_missing_toolchain_exits_3() {
    let tmp = tempfile::tempdir().unwrap();
    let r = run(&[
        "--config",
        "configs/canon_3.toml",
        "--out",
        s(tmp.path()),
        "--cuda-root",
        s(&tmp.path().join("no-cuda-here")),
    ]);
    assert_eq!(r.code, 3, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert!(r.stderr.starts_with("sass-inspect: error:"), "{}", r.stderr);
}

#[test]
fn a_bad_config_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let r = run(&[
        "--config",
        "configs/no_such_config.toml",
        "--out",
        s(tmp.path()),
    ]);
    assert_eq!(r.code, 2, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
}
