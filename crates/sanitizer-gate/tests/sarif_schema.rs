//! SARIF validity against the full official OASIS SARIF 2.1.0 JSON schema (Errata 01,
//! vendored under tests/fixtures/sarif/, whose README.md says where it came from): the
//! committed `artifacts/sanitizers/**/*.sarif` files, and what `report::sarif` writes for
//! clean runs and for runs with findings. A negative control proves the validator rejects
//! a schema violation, so a pass here means something. Every `$ref` resolves inside the
//! vendored file: jsonschema is built without HTTP or file retrieval.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use cudadent_config::{SanitizerTool, Suppression};
use jsonschema::Validator;
use sanitizer_gate::gate::{evaluate, Evaluation, Role, RunContext};
use sanitizer_gate::parse::{parse_log, RecordedExit};
use sanitizer_gate::report::{sarif, SourceFile};
use serde_json::{json, Value};

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn repo() -> PathBuf {
    manifest_dir().join("../..")
}

/// The vendored schema, compiled once, with format checks (`uri`, `uri-reference`,
/// `date-time`) on.
fn validator() -> &'static Validator {
    static V: OnceLock<Validator> = OnceLock::new();
    V.get_or_init(|| {
        let p = manifest_dir().join("tests/fixtures/sarif/sarif-schema-2.1.0.json");
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
        assert_eq!(
            schema["title"], "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema",
            "not the SARIF 2.1.0 schema"
        );
        jsonschema::options()
            .should_validate_formats(true)
            .with_format("uri-reference", is_uri_reference)
            .build(&schema)
            .unwrap_or_else(|e| panic!("the SARIF schema does not compile: {e}"))
    })
}

/// RFC 3986 URI-reference, by jsonschema's own draft-07 check. The schema declares
/// draft-04, which has no `uri-reference` format, so without this the validator would
/// skip the one place SARIF uses it: `artifactLocation.uri`, where the writer puts source
/// paths.
fn is_uri_reference(s: &str) -> bool {
    static V: OnceLock<Validator> = OnceLock::new();
    V.get_or_init(|| {
        jsonschema::draft7::options()
            .should_validate_formats(true)
            .build(&json!({ "type": "string", "format": "uri-reference" }))
            .expect("the uri-reference check compiles")
    })
    .is_valid(&json!(s))
}

/// Every schema violation in `doc`, as `instance path: message [schema path]`
/// (the root's instance path is empty, shown as `/`).
fn violations(doc: &Value) -> Vec<String> {
    validator()
        .iter_errors(doc)
        .map(|e| {
            let at = e.instance_path().as_str();
            format!(
                "{}: {e} [schema {}]",
                if at.is_empty() { "/" } else { at },
                e.schema_path()
            )
        })
        .collect()
}

/// Panics with every violation of every document that has one.
fn assert_all_valid(docs: &[(String, Value)]) {
    let failing: Vec<String> = docs
        .iter()
        .filter_map(|(name, doc)| {
            let v = violations(doc);
            (!v.is_empty()).then(|| format!("{name}:\n    {}", v.join("\n    ")))
        })
        .collect();
    assert!(
        failing.is_empty(),
        "{} of {} SARIF documents violate the SARIF 2.1.0 schema:\n{}",
        failing.len(),
        docs.len(),
        failing.join("\n")
    );
}

fn sarif_files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let rd = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for e in rd {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            sarif_files_under(&p, out);
        } else if p.extension().is_some_and(|x| x == "sarif") {
            out.push(p);
        }
    }
}

/// The committed SARIF files, sorted, each with its path relative to the repository.
fn committed_sarif() -> Vec<(String, Value)> {
    let root = repo();
    let mut files = Vec::new();
    sarif_files_under(&root.join("artifacts/sanitizers"), &mut files);
    files.sort();
    assert!(
        !files.is_empty(),
        "no *.sarif file under artifacts/sanitizers/: nothing to validate"
    );
    files
        .iter()
        .map(|p| {
            let name = p
                .strip_prefix(&root)
                .unwrap_or(p)
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{name}: {e}"));
            let doc = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, doc)
        })
        .collect()
}

fn fixture(name: &str) -> String {
    let p = manifest_dir().join("tests/fixtures").join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn eval(
    log: &str,
    tool: SanitizerTool,
    kernel: &str,
    role: Role,
    sups: &[Suppression],
) -> Evaluation {
    evaluate(
        &parse_log(&fixture(log)),
        &RunContext {
            tool,
            kernel,
            config: Some("canon_3"),
            role,
            suppressions: sups,
            launch: None,
            exit: Some(RecordedExit::Code { code: 0 }),
        },
    )
}

/// Where the kernels' sources are, as the binary passes them (repository-relative).
fn sources() -> Vec<SourceFile> {
    [
        ("fa_s512_v3", "kernels/attention/fa_s512_v3.cu"),
        ("fa_tc", "kernels/attention/fa_tc.cu"),
        ("memcheck_demo", "kernels/demo/memcheck_demo.cu"),
    ]
    .into_iter()
    .map(|(kernel, path)| SourceFile {
        kernel: kernel.into(),
        path: path.into(),
    })
    .collect()
}

fn writer_output(evals: &[Evaluation]) -> Value {
    let refs: Vec<&Evaluation> = evals.iter().collect();
    sarif(&refs, &sources(), env!("CARGO_PKG_VERSION"))
}

fn results(doc: &Value) -> &Vec<Value> {
    doc["runs"][0]["results"]
        .as_array()
        .expect("runs[0].results")
}

/// The writer's output for runs with findings of every tool, from the documented logs in
/// tests/fixtures: source lines and none, functions, leaks and API errors without a
/// location, race hazards, a suppressed finding, and a control run (not a result).
fn writer_output_with_findings() -> Value {
    use SanitizerTool::{Initcheck, Memcheck, Racecheck, Synccheck};
    let sups = [Suppression {
        tool: Memcheck,
        kind: "out_of_bounds".into(),
        kernel: "memcheck_demo".into(),
        location: "memcheck_demo.cu:39".into(),
        reason: "the guide's planted overrun".into(),
    }];
    let runs = [
        ("memcheck_demo_debug", Memcheck, "memcheck_demo"),
        ("memcheck_demo_release", Memcheck, "memcheck_demo"),
        ("memcheck_precise_error", Memcheck, "fa_s512_v3"),
        ("memcheck_error_kinds", Memcheck, "fa_s512_v3"),
        ("memcheck_leak_check", Memcheck, "fa_s512_v3"),
        ("memcheck_api_error", Memcheck, "fa_s512_v3"),
        ("memcheck_optix", Memcheck, "fa_s512_v3"),
        ("racecheck_block_error", Racecheck, "fa_tc"),
        ("racecheck_hazard_waw", Racecheck, "fa_tc"),
        ("racecheck_warp_error", Racecheck, "fa_tc"),
        ("racecheck_analysis_warning", Racecheck, "fa_tc"),
        ("racecheck_cluster", Racecheck, "fa_tc"),
        ("racecheck_barrier_overflow", Racecheck, "fa_tc"),
        ("initcheck_memset_error", Initcheck, "fa_tc"),
        ("initcheck_shared", Initcheck, "fa_tc"),
        ("synccheck_divergent_threads", Synccheck, "fa_tc"),
        ("synccheck_illegal_syncwarp", Synccheck, "fa_tc"),
    ];
    let log = |stem: &str| format!("{stem}.doc-example.log");
    let mut evals: Vec<Evaluation> = runs
        .iter()
        .map(|&(stem, tool, kernel)| eval(&log(stem), tool, kernel, Role::UnderTest, &sups))
        .collect();
    // A control's planted bug is not a result.
    evals.push(eval(
        &log("memcheck_demo_debug"),
        Memcheck,
        "oob_write_far",
        Role::Control,
        &[],
    ));
    let doc = writer_output(&evals);
    // The document exercises what it claims to, or a pass proves less than it says.
    let rs = results(&doc);
    let under_test: usize = evals
        .iter()
        .filter(|e| !e.control)
        .map(|e| e.findings.len())
        .sum();
    assert_eq!(
        rs.len(),
        under_test,
        "one result per finding of a kernel under test"
    );
    for (what, present) in [
        (
            "a region",
            rs.iter()
                .any(|r| !r["locations"][0]["physicalLocation"]["region"].is_null()),
        ),
        (
            "no location",
            rs.iter().any(|r| r["locations"] == json!([])),
        ),
        (
            "a function",
            rs.iter()
                .any(|r| !r["locations"][0]["logicalLocations"].is_null()),
        ),
        (
            "a suppression",
            rs.iter().any(|r| !r["suppressions"].is_null()),
        ),
        (
            "hazards",
            rs.iter().any(|r| r["properties"]["hazards"].is_u64()),
        ),
        ("a warning", rs.iter().any(|r| r["level"] == "warning")),
        ("an error", rs.iter().any(|r| r["level"] == "error")),
    ] {
        assert!(
            present,
            "no result with {what}: the fixtures no longer cover it"
        );
    }
    doc
}

/// Every SARIF file committed under artifacts/sanitizers/ is valid SARIF 2.1.0; finding
/// none fails, so the test cannot pass by looking at nothing.
#[test]
fn committed_sarif_files_are_valid_sarif_2_1_0() {
    assert_all_valid(&committed_sarif());
}

/// The writer's output for clean runs (memcheck and racecheck, no results, no rules) is
/// valid SARIF 2.1.0.
#[test]
fn writer_output_for_clean_runs_is_valid() {
    let ut = Role::UnderTest;
    let evals = [
        eval(
            "clean_memcheck.composed.log",
            SanitizerTool::Memcheck,
            "fa_s512_v3",
            ut,
            &[],
        ),
        eval(
            "clean_racecheck.composed.log",
            SanitizerTool::Racecheck,
            "fa_tc",
            ut,
            &[],
        ),
    ];
    let doc = writer_output(&evals);
    assert!(
        results(&doc).is_empty(),
        "a clean run has no results: {doc:#}"
    );
    assert_all_valid(&[("clean runs".into(), doc)]);
}

/// The writer's output for runs with findings of all four tools (with and without source
/// locations, suppressed, and a control's findings left out) is valid SARIF 2.1.0.
#[test]
fn writer_output_with_findings_is_valid() {
    assert_all_valid(&[("runs with findings".into(), writer_output_with_findings())]);
}

/// Negative control: a valid document (the writer's, a committed file) with one violation
/// planted at an existing path (a `version` other than 2.1.0; a result `level` outside the
/// enum; a region line below 1; an artifact `uri` that is no URI reference) is rejected,
/// and every error names that instance path.
#[test]
fn the_validator_rejects_a_planted_violation_at_its_path() {
    let valid = writer_output_with_findings();
    assert_eq!(
        violations(&valid),
        Vec::<String>::new(),
        "the base document must be valid"
    );
    let at = results(&valid)
        .iter()
        .position(|r| r["locations"][0]["physicalLocation"]["region"]["startLine"].is_u64())
        .expect("a result with a line");
    let (name, committed) = committed_sarif().remove(0);
    assert_eq!(
        violations(&committed),
        Vec::<String>::new(),
        "{name} must be valid"
    );
    let location = format!("/runs/0/results/{at}/locations/0/physicalLocation");
    let cases = [
        (&committed, "/version".to_string(), json!("2.0.0")),
        (&valid, "/version".to_string(), json!("2.0.0")),
        (
            &valid,
            "/runs/0/results/0/level".to_string(),
            json!("fatal"),
        ),
        (&valid, format!("{location}/region/startLine"), json!(0)),
        (
            &valid,
            format!("{location}/artifactLocation/uri"),
            json!("C:\\src\\my kernel.cu"),
        ),
    ];
    for (base, path, bad) in cases {
        let mut doc = base.clone();
        let slot = doc
            .pointer_mut(&path)
            .unwrap_or_else(|| panic!("{path} is not in the valid document"));
        *slot = bad.clone();
        let v = violations(&doc);
        assert!(!v.is_empty(), "{path} = {bad}: accepted");
        assert!(
            v.iter().all(|m| m.starts_with(&format!("{path}: "))),
            "{path} = {bad}: expected violations at {path} only, got:\n{}",
            v.join("\n")
        );
    }
}
