//! The real `artifact-check` binary on copies of the committed artifacts/ in temp dirs:
//! each test damages one thing and checks the exit code and the message that names it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn copy_dir(from: &Path, to: &Path, keep: &dyn Fn(&str) -> bool) {
    fn walk(base: &Path, d: &Path, to: &Path, keep: &dyn Fn(&str) -> bool) {
        for e in std::fs::read_dir(d).expect("read_dir") {
            let p = e.expect("entry").path();
            let rel = p
                .strip_prefix(base)
                .expect("prefix")
                .to_string_lossy()
                .replace('\\', "/");
            if p.is_dir() {
                walk(base, &p, to, keep);
            } else if keep(&rel) {
                let dst = to.join(&rel);
                std::fs::create_dir_all(dst.parent().expect("parent")).expect("mkdir");
                std::fs::copy(&p, &dst).expect("copy");
            }
        }
    }
    walk(from, from, to, keep);
}

/// A copy of the committed evidence (without its MANIFEST.json and EVIDENCE.md).
fn evidence_copy(keep: &dyn Fn(&str) -> bool) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    copy_dir(&root().join("artifacts"), tmp.path(), &|rel| {
        rel != "MANIFEST.json" && rel != "EVIDENCE.md" && keep(rel)
    });
    tmp
}

fn run(args: &[&str]) -> Output {
    run_env(args, &[])
}

fn run_env(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_artifact-check"));
    c.args(args)
        .current_dir(root())
        .env_remove("GITHUB_STEP_SUMMARY");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run artifact-check")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

fn expect(o: &Output, code: i32, needles: &[&str]) {
    let t = text(o);
    assert_eq!(o.status.code(), Some(code), "exit code; output:\n{t}");
    for n in needles {
        assert!(t.contains(n), "output should contain `{n}`:\n{t}");
    }
}

/// A fresh copy with MANIFEST.json and EVIDENCE.md written: checks clean.
fn sealed_copy() -> tempfile::TempDir {
    let tmp = evidence_copy(&|_| true);
    expect(&run(&["--write-manifest", s(tmp.path())]), 0, &["pass"]);
    tmp
}

fn edit_json(path: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json");
    f(&mut v);
    std::fs::write(path, serde_json::to_string_pretty(&v).expect("ser")).expect("write");
}

fn set_cubin(dir: &Path, rel: &str, kernel: &str, arch: &str, hash: &str) -> String {
    let mut old = String::new();
    edit_json(&dir.join(rel), |v| {
        let k = v["kernels"]
            .as_array_mut()
            .expect("kernels")
            .iter_mut()
            .find(|k| k["name"] == kernel)
            .expect("kernel");
        old = k["cubins"][arch].as_str().expect("hash").to_string();
        k["cubins"][arch] = serde_json::Value::String(hash.to_string());
    });
    old
}

/// Whether a missing toolchain (exit 3) may skip a --require-fresh test.
fn toolchain_skip(o: &Output) -> bool {
    if o.status.code() == Some(3) && std::env::var("CUDADENT_REQUIRE_TOOLCHAIN").is_err() {
        eprintln!("skipped: no CUDA toolchain here ({})", text(o).trim());
        return true;
    }
    false
}

#[test]
fn committed_artifacts_check_clean() {
    let dir = root().join("artifacts");
    expect(&run(&[s(&dir)]), 0, &["pass", "canon_6"]);
}

#[test]
fn fresh_copy_passes_require_fresh_and_writes_junit_and_step_summary() {
    let tmp = sealed_copy();
    let out = tempfile::tempdir().expect("tempdir");
    let junit = out.path().join("junit.xml");
    let summary = out.path().join("step-summary.md");
    let o = run_env(
        &["--require-fresh", "--junit", s(&junit), s(tmp.path())],
        &[("GITHUB_STEP_SUMMARY", &summary)],
    );
    if toolchain_skip(&o) {
        return;
    }
    expect(&o, 0, &["fresh against this tree"]);
    let md = std::fs::read_to_string(&summary).expect("step summary written");
    assert!(
        md.contains("## artifact-check") && md.contains("| canon_3 |"),
        "{md}"
    );
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    // The shared JUnit reader: a real XML parser plus the schema's nesting and count rules.
    let report = cli_support::ci::read_junit(&xml).expect("valid JUnit");
    let (suites, cases, failures) = (report.suites.len(), report.tests(), report.failures());
    assert!(suites >= 8, "integrity, claims and 6 configs: {suites}");
    assert!(cases > 50, "{cases}");
    assert_eq!(failures, 0);
}

#[test]
fn check_mode_never_writes_the_manifest() {
    let tmp = evidence_copy(&|_| true);
    expect(
        &run(&[s(tmp.path())]),
        1,
        &["MANIFEST.json", "--write-manifest"],
    );
    assert!(!tmp.path().join("MANIFEST.json").exists());
}

#[test]
fn a_changed_byte_fails_naming_the_file() {
    let tmp = sealed_copy();
    let p = tmp.path().join("stats/canon_2/fa_tc.sm_89.sass.txt");
    let mut bytes = std::fs::read(&p).expect("read");
    bytes[10] ^= 1;
    std::fs::write(&p, bytes).expect("write");
    let o = run(&["--junit", s(&tmp.path().join("../j.xml")), s(tmp.path())]);
    expect(&o, 1, &["stats/canon_2/fa_tc.sm_89.sass.txt: changed"]);
}

#[test]
fn a_missing_file_fails() {
    let tmp = sealed_copy();
    std::fs::remove_file(tmp.path().join("sanitizers/canon_3/fa_tc.racecheck.log")).expect("rm");
    expect(
        &run(&[s(tmp.path())]),
        1,
        &["sanitizers/canon_3/fa_tc.racecheck.log: missing"],
    );
}

#[test]
fn an_extra_file_fails() {
    let tmp = sealed_copy();
    std::fs::write(tmp.path().join("bench/canon_4/extra.txt"), "x").expect("write");
    expect(
        &run(&[s(tmp.path())]),
        1,
        &["bench/canon_4/extra.txt: not listed in MANIFEST.json"],
    );
}

#[test]
fn a_hand_edited_evidence_report_fails() {
    let tmp = sealed_copy();
    let p = tmp.path().join("EVIDENCE.md");
    // A hand-written claim added to the generated report (independent of today's figures).
    let original = std::fs::read_to_string(&p).expect("read");
    let md = original.replacen("| pass |", "| pass (hand-edited) |", 1);
    assert_ne!(md, original, "the fixture report has no claim row to edit");
    std::fs::write(&p, md).expect("write");
    expect(&run(&[s(tmp.path())]), 1, &["EVIDENCE.md differs"]);
}

#[test]
fn a_missing_gate_fails() {
    let tmp = evidence_copy(&|rel| !rel.starts_with("sanitizers/canon_5/"));
    expect(
        &run(&["--write-manifest", s(tmp.path())]),
        1,
        &["missing: sanitizers/canon_5/summary.json"],
    );
}

#[test]
fn a_failed_verdict_fails() {
    let tmp = evidence_copy(&|_| true);
    edit_json(&tmp.path().join("oracle/canon_2/summary.json"), |v| {
        v["verdict"] = "fail".into();
        v["reason"] = "fa_tc: 3 of 8 checks failed".into();
    });
    expect(
        &run(&["--write-manifest", s(tmp.path())]),
        1,
        &["oracle/canon_2/summary.json: verdict fail (fa_tc: 3 of 8 checks failed)"],
    );
}

#[test]
fn a_bench_of_a_forced_launch_is_not_evidence() {
    let tmp = evidence_copy(&|_| true);
    edit_json(&tmp.path().join("bench/canon_4/summary.json"), |v| {
        v["forced_launch"] = "default".into();
    });
    expect(
        &run(&["--write-manifest", s(tmp.path())]),
        1,
        &["bench/canon_4/summary.json: times launch `default` forced with `bench --launch`"],
    );
}

#[test]
fn a_header_field_missing_fails() {
    let tmp = evidence_copy(&|_| true);
    edit_json(&tmp.path().join("bench/canon_1/summary.json"), |v| {
        v.as_object_mut().expect("object").remove("device");
    });
    expect(
        &run(&["--write-manifest", s(tmp.path())]),
        1,
        &["bench/canon_1/summary.json: header field(s) missing: device"],
    );
}

/// Forges fa_tc's recorded `field` hash in `summary` of a good evidence copy: integrity and
/// verdicts stay fine, so only `--require-fresh` can catch it, with `message`.
fn forged_kernel_hash_is_stale(summary: &str, field: &str, message: &str) {
    let tmp = evidence_copy(&|_| true);
    edit_json(&tmp.path().join(summary), |v| {
        let k = v["kernels"]
            .as_array_mut()
            .expect("kernels")
            .iter_mut()
            .find(|k| k["name"] == "fa_tc")
            .expect("fa_tc");
        k[field] = "0".repeat(64).into();
    });
    expect(&run(&["--write-manifest", s(tmp.path())]), 0, &[]);
    let o = run(&["--require-fresh", s(tmp.path())]);
    if toolchain_skip(&o) {
        return;
    }
    expect(&o, 1, &[message]);
}

#[test]
fn a_stale_kernel_source_hash_fails_require_fresh_naming_the_source() {
    forged_kernel_hash_is_stale(
        "oracle/canon_4/summary.json",
        "source_sha256",
        "stale: kernels/attention/fa_tc.cu changed since oracle/canon_4/summary.json was written",
    );
}

#[test]
fn a_stale_manifest_hash_fails_require_fresh_naming_the_manifest() {
    // A launch rule's threshold changes what runs without touching the source.
    forged_kernel_hash_is_stale(
        "bench/canon_6/summary.json",
        "manifest_sha256",
        "stale: kernels/attention/fa_tc.toml changed since bench/canon_6/summary.json was written",
    );
}

#[test]
fn a_kernel_source_edited_in_the_tree_is_stale() {
    // A copy of the repository's configs and kernels with fa_s512_v3.cu edited.
    let repo = tempfile::tempdir().expect("tempdir");
    for d in ["configs", "kernels"] {
        copy_dir(&root().join(d), &repo.path().join(d), &|_| true);
    }
    let src = repo.path().join("kernels/attention/fa_s512_v3.cu");
    // A change to the machine code (a constant), not only to the text: the cubin check must
    // see it even where build paths already make the cubin bytes differ (it compares SASS).
    let text = std::fs::read_to_string(&src).expect("read");
    let edited = text.replacen(
        "constexpr float kLog2e = 1.4426950408889634f;",
        "constexpr float kLog2e = 1.4426950408889634f * 1.0009765625f;  // edited after the evidence was taken",
        1,
    );
    assert_ne!(
        edited, text,
        "fa_s512_v3.cu no longer has the constant this test edits"
    );
    std::fs::write(&src, edited).expect("write");
    let tmp = sealed_copy();
    let o = run(&["--require-fresh", "--repo", s(repo.path()), s(tmp.path())]);
    if toolchain_skip(&o) {
        return;
    }
    expect(
        &o,
        1,
        &[
            "stale: kernels/attention/fa_s512_v3.cu changed since",
            "fa_s512_v3 sm_90 cubin rebuilt here",
        ],
    );
}

#[test]
fn gates_disagreeing_on_the_cubin_that_ran_fail_with_both_hashes() {
    let tmp = evidence_copy(&|_| true);
    let forged = "f".repeat(64);
    let old = set_cubin(
        tmp.path(),
        "bench/canon_3/summary.json",
        "fa_tc",
        "sm_90a", // the arch the GPU gates ran (loaded_arch)
        &forged,
    );
    expect(
        &run(&["--write-manifest", s(tmp.path())]),
        1,
        &[
            &format!("fa_tc sm_90a: bench (bench/canon_3/summary.json) ran cubin sha256 {forged}"),
            &format!("stats (stats/canon_3/summary.json) inspected sha256 {old}"),
        ],
    );
}

#[test]
fn archs_that_did_not_run_may_differ_on_a_gpu_gate() {
    // The GPU machine rebuilt sm_80 with its own nvcc; it never ran: not a mismatch.
    let tmp = evidence_copy(&|_| true);
    set_cubin(
        tmp.path(),
        "oracle/canon_3/summary.json",
        "fa_tc",
        "sm_80",
        &"e".repeat(64),
    );
    expect(&run(&["--write-manifest", s(tmp.path())]), 0, &[]);
}

#[test]
fn merge_of_shards_checks_clean() {
    let gpu = evidence_copy(&|rel| !rel.starts_with("stats/"));
    let cpu = evidence_copy(&|rel| rel.starts_with("stats/"));
    let out = tempfile::tempdir().expect("tempdir");
    let merged = out.path().join("merged");
    expect(
        &run(&["merge", s(&merged), s(gpu.path()), s(cpu.path())]),
        0,
        &["pass"],
    );
    let m = std::fs::read_to_string(merged.join("MANIFEST.json")).expect("manifest");
    assert!(m.contains("merged_from"), "{m}");
    expect(&run(&[s(&merged)]), 0, &[]);
}

#[test]
fn merge_of_shards_with_different_cubin_hashes_fails_with_both_hashes() {
    // Two jobs on different machines: the bench job's sm_90a build differs from the
    // inspector's.
    let gpu = evidence_copy(&|rel| !rel.starts_with("stats/"));
    let cpu = evidence_copy(&|rel| rel.starts_with("stats/"));
    let other = "a".repeat(64);
    let old = set_cubin(
        gpu.path(),
        "bench/canon_5/summary.json",
        "fa_s512_v3",
        "sm_90a",
        &other,
    );
    let out = tempfile::tempdir().expect("tempdir");
    let merged = out.path().join("merged");
    expect(
        &run(&["merge", s(&merged), s(gpu.path()), s(cpu.path())]),
        1,
        &[&other, &old, "fa_s512_v3 sm_90a"],
    );
}

#[test]
fn merge_conflict_on_one_path_fails_naming_both_hashes() {
    let a = evidence_copy(&|rel| rel.starts_with("oracle/canon_1/"));
    let b = evidence_copy(&|rel| rel.starts_with("oracle/canon_1/"));
    edit_json(&b.path().join("oracle/canon_1/summary.json"), |v| {
        v["duration_s"] = 1.0.into();
    });
    let out = tempfile::tempdir().expect("tempdir");
    expect(
        &run(&["merge", s(out.path()), s(a.path()), s(b.path())]),
        1,
        &["oracle/canon_1/summary.json: conflict", "sha256"],
    );
}

#[test]
fn bad_input_exits_2() {
    expect(&run(&["/nonexistent/evidence"]), 2, &["not a directory"]);
    let tmp = tempfile::tempdir().expect("tempdir");
    let m = tmp.path().join("release.toml");
    std::fs::write(&m, "[matrix]\ncanon_1 = [\"orcale\"]\n").expect("write");
    expect(
        &run(&["--matrix", s(&m), s(&root().join("artifacts"))]),
        2,
        &["unknown gate `orcale`"],
    );
}

#[test]
fn a_matrix_file_can_ask_for_more() {
    let tmp = sealed_copy();
    let m = tmp.path().join("../release-more.toml");
    std::fs::write(
        &m,
        "[matrix]\ncanon_2 = [\"oracle\", \"sanitizers\", \"stats\", \"bench\"]\n",
    )
    .expect("write");
    expect(
        &run(&["--matrix", s(&m), s(tmp.path())]),
        1,
        &["missing: sanitizers/canon_2/summary.json"],
    );
}

/// SARIF 2.1.0's required fields on the committed sanitizer output.
#[test]
fn committed_sarif_has_the_required_fields() {
    for config in ["canon_1", "canon_3", "canon_5"] {
        let p = root().join(format!("artifacts/sanitizers/{config}/sanitizers.sarif"));
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).expect("read")).expect("json");
        assert_eq!(v["version"], "2.1.0", "{config}");
        let runs = v["runs"].as_array().expect("runs is an array");
        assert!(!runs.is_empty());
        for run in runs {
            assert!(
                run["tool"]["driver"]["name"]
                    .as_str()
                    .is_some_and(|n| !n.is_empty()),
                "{config}: runs[].tool.driver.name"
            );
            for r in run["results"].as_array().expect("results is an array") {
                assert!(r["ruleId"].is_string(), "{config}: results[].ruleId");
                assert!(
                    r["message"]["text"].is_string(),
                    "{config}: results[].message.text"
                );
                let locs = r["locations"].as_array().expect("results[].locations");
                for l in locs {
                    assert!(l["physicalLocation"]["artifactLocation"]["uri"].is_string());
                }
            }
        }
    }
}

#[test]
fn the_race_free_claim_names_the_launches_racecheck_cannot_see() {
    // fa_tc's wgmma_tma launch fills shared memory by TMA (UTMALDG in the committed SASS):
    // racecheck does not see those writes, and the claim says so.
    let tmp = sealed_copy();
    let report = std::fs::read_to_string(tmp.path().join("EVIDENCE.md")).expect("report");
    assert!(
        report.contains("not covered: TMA writes to shared memory in fa_tc[wgmma_tma]"),
        "{report}"
    );
    // With no TMA copy in any inspected SASS, nothing is listed.
    let tmp = evidence_copy(&|_| true);
    for config in [
        "canon_1", "canon_2", "canon_3", "canon_4", "canon_5", "canon_6",
    ] {
        edit_json(
            &tmp.path().join(format!("stats/{config}/summary.json")),
            |v| {
                for i in v["inspections"].as_array_mut().expect("inspections") {
                    i["census"]["bulk_copies"] = 0.into();
                }
            },
        );
    }
    expect(&run(&["--write-manifest", s(tmp.path())]), 0, &["pass"]);
    let report = std::fs::read_to_string(tmp.path().join("EVIDENCE.md")).expect("report");
    assert!(!report.contains("not covered"), "{report}");
}
