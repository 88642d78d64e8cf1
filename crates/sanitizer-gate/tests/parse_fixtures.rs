//! The parser on the fixture logs (tests/fixtures/README.md says where each comes from):
//! explicit checks of what matters per tool, plus a snapshot of everything parsed.

use std::path::Path;

use sanitizer_gate::finding::{
    Access, BarrierClass, Dim3, FindingKind, HazardType, MemorySpace, RaceReport, Severity,
};
use sanitizer_gate::parse::{parse_log, ParsedLog, ProblemKind, SummaryKind};

fn fixture(name: &str) -> ParsedLog {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    parse_log(&text)
}

#[test]
fn snapshot_every_fixture() {
    insta::glob!("fixtures/*.log", |path| {
        let text = std::fs::read_to_string(path).expect("read fixture");
        insta::assert_json_snapshot!(parse_log(&text));
    });
}

#[test]
fn memcheck_debug_build() {
    let p = fixture("memcheck_demo_debug.doc-example.log");
    assert!(p.banner);
    assert_eq!(p.errors(), Some(2));
    assert_eq!(p.findings.len(), 2);
    assert!(p.unknown.is_empty(), "{:?}", p.unknown);
    let f = &p.findings[1];
    assert_eq!(
        f.kind,
        FindingKind::OutOfBounds {
            space: MemorySpace::Global,
            access: Access::Write,
            size: Some(4),
            problem: Some("out of bounds".into()),
        }
    );
    assert_eq!(f.location_key(), "memcheck_demo.cu:39");
    assert_eq!(f.function_name().as_deref(), Some("out_of_bounds_function"));
    assert_eq!(f.thread, Some(Dim3 { x: 0, y: 0, z: 0 }));
    assert_eq!(f.address.as_deref(), Some("0x87654320"));
    assert!(f
        .details
        .iter()
        .any(|d| d.contains("before the nearest allocation")));
    let FindingKind::OutOfBounds { problem, .. } = &p.findings[0].kind else {
        panic!("first is not an access error");
    };
    assert_eq!(problem.as_deref(), Some("misaligned"));
}

#[test]
fn memcheck_release_build_has_no_source_line() {
    let p = fixture("memcheck_demo_release.doc-example.log");
    assert_eq!(p.findings.len(), 2);
    assert_eq!(p.findings[1].location_key(), "out_of_bounds_kernel()+0x90");
    assert_eq!(p.findings[1].at.as_ref().and_then(|a| a.line), None);
}

#[test]
fn memcheck_docs_location_form() {
    let p = fixture("memcheck_precise_error.doc-example.log");
    let at = p.findings[0].at.clone().expect("location");
    assert_eq!(at.function.as_deref(), Some("unaligned_kernel()"));
    assert_eq!(at.pc, Some(0x160));
    assert_eq!(at.key(), "memcheck_demo.cu:6");
    assert_eq!(p.errors(), None, "no summary in this snippet");
}

#[test]
fn memcheck_leaks_api_errors_and_malloc_errors() {
    let p = fixture("memcheck_error_kinds.doc-example.log");
    let kinds: Vec<&str> = p.findings.iter().map(|f| f.kind.name()).collect();
    assert_eq!(kinds, ["other", "leak", "leak", "api_error"]);
    assert_eq!(
        p.findings[2].kind,
        FindingKind::Leak {
            bytes: 16,
            device_heap: true
        }
    );
    assert_eq!(
        p.findings[3].kind,
        FindingKind::ApiError {
            api: Some("cudaMemcpy".into()),
            error: Some("invalid copy direction for memcpy".into()),
        }
    );
    let p = fixture("memcheck_leak_check.doc-example.log");
    assert_eq!(
        p.findings[0].kind,
        FindingKind::Leak {
            bytes: 1024,
            device_heap: false
        }
    );
    assert_eq!(
        p.leak_summary.map(|l| (l.bytes, l.allocations)),
        Some((1024, 1))
    );
    assert_eq!(p.errors(), Some(3));
    let p = fixture("memcheck_api_error.doc-example.log");
    assert_eq!(
        p.findings[0].kind,
        FindingKind::ApiError {
            api: Some("cudaMalloc".into()),
            error: Some("cudaErrorMemoryAllocation".into()),
        }
    );
}

#[test]
fn an_unknown_report_format_is_kept_not_guessed() {
    let p = fixture("memcheck_tcgen05_guardrail.doc-example.log");
    assert!(p.findings.is_empty());
    assert_eq!(p.unknown.len(), 3);
    assert!(p.unknown[0].text.starts_with("Tensor Memory column 32"));
}

#[test]
fn racecheck_analysis_report() {
    let p = fixture("racecheck_block_error.doc-example.log");
    assert_eq!(p.summaries[0].kind, SummaryKind::Racecheck);
    assert_eq!((p.errors(), p.warnings()), (Some(1), Some(0)));
    let f = &p.findings[0];
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.hazards, Some(508));
    let FindingKind::RaceHazard {
        report,
        accesses,
        space,
        ..
    } = &f.kind
    else {
        panic!("not a race");
    };
    assert_eq!(
        (*report, *space),
        (RaceReport::Analysis, MemorySpace::Shared)
    );
    assert_eq!(accesses.len(), 2);
    assert_eq!(accesses[0].access, Access::Write);
    assert_eq!(accesses[0].at.line, Some(41));
    assert_eq!(accesses[1].access, Access::Read);
    assert_eq!(accesses[1].at.line, Some(51));
    assert!(p.unknown.is_empty(), "{:?}", p.unknown);

    let p = fixture("racecheck_analysis_warning.doc-example.log");
    assert_eq!(p.findings[0].severity, Severity::Warning);
    assert_eq!(p.findings[0].hazards, Some(4));
}

#[test]
fn racecheck_hazard_reports_carry_the_type_and_threads() {
    let p = fixture("racecheck_hazard_waw.doc-example.log");
    let f = &p.findings[0];
    let FindingKind::RaceHazard {
        hazard,
        accesses,
        report,
        ..
    } = &f.kind
    else {
        panic!("not a race");
    };
    assert_eq!(
        (*hazard, *report),
        (Some(HazardType::Waw), RaceReport::Hazard)
    );
    assert_eq!(accesses.len(), 2);
    assert_eq!(accesses[1].thread, Some(Dim3 { x: 1, y: 0, z: 0 }));
    assert_eq!(f.block, Some(Dim3 { x: 0, y: 0, z: 0 }));
    assert_eq!(f.address.as_deref(), Some("0x0"));
    assert_eq!(f.location_key(), "raceWAW.cu:20");

    let p = fixture("racecheck_warp_error.doc-example.log");
    let f = &p.findings[0];
    assert_eq!(f.severity, Severity::Warning);
    assert!(matches!(
        f.kind,
        FindingKind::RaceHazard {
            hazard: Some(HazardType::Raw),
            ..
        }
    ));
    assert_eq!(
        f.location_key(),
        "/home/cuda/github/compute-sanitizer-samples/Racecheck/warp_error.cu:44"
    );
}

#[test]
fn racecheck_cluster_races_and_the_barrier_overflow_warning() {
    let p = fixture("racecheck_cluster.doc-example.log");
    assert_eq!(p.findings.len(), 2);
    assert!(matches!(
        p.findings[0].kind,
        FindingKind::RaceHazard {
            report: RaceReport::Cluster,
            ..
        }
    ));
    assert_eq!(p.findings[0].location_key(), "RaceCluster.cu:10");
    let p = fixture("racecheck_barrier_overflow.doc-example.log");
    assert_eq!(p.problems[0].kind, ProblemKind::ToolWarning);
}

#[test]
fn initcheck_reports() {
    let p = fixture("initcheck_memset_error.doc-example.log");
    let f = &p.findings[0];
    assert_eq!(
        f.kind,
        FindingKind::UninitializedRead {
            space: MemorySpace::Global,
            size: Some(4)
        }
    );
    assert_eq!(f.block, Some(Dim3 { x: 1, y: 0, z: 0 }));
    assert_eq!(f.address.as_deref(), Some("0x7f3c7ec000fc"));
    let p = fixture("initcheck_shared.doc-example.log");
    assert_eq!(
        p.findings[0].kind,
        FindingKind::UninitializedRead {
            space: MemorySpace::Shared,
            size: Some(4)
        }
    );
    let p = fixture("initcheck_suppressions_demo.doc-example.log");
    assert_eq!(p.errors(), Some(1));
    assert_eq!(p.findings.len(), 1);
    assert_eq!(p.findings[0].location_key(), "mult(int *, int *, int)+0x60");
}

#[test]
fn synccheck_reports() {
    let p = fixture("synccheck_divergent_threads.doc-example.log");
    let f = &p.findings[0];
    assert_eq!(
        f.kind,
        FindingKind::BarrierError {
            class: BarrierClass::DivergentBlock
        }
    );
    assert_eq!(f.location_key(), "test.cu:42");
    assert_eq!(f.function_name().as_deref(), Some("outlineSync"));
    assert_eq!(f.thread, Some(Dim3 { x: 32, y: 0, z: 0 }));
    let p = fixture("synccheck_thread_divergence.doc-example.log");
    assert_eq!(
        p.findings[0].kind,
        FindingKind::BarrierError {
            class: BarrierClass::DivergentWarp
        }
    );
    let p = fixture("synccheck_illegal_syncwarp.doc-example.log");
    assert_eq!(
        p.findings[0].kind,
        FindingKind::BarrierError {
            class: BarrierClass::InvalidArguments
        }
    );
    assert_eq!(p.findings[0].location_key(), "__cuda_sm70_warpsync+0x30");
    assert_eq!(
        p.findings[0].details.len(),
        2,
        "device frames kept as details"
    );
}

#[test]
fn lines_that_make_a_run_untrustworthy() {
    let p = fixture("internal_error_memory_footprint.doc-example.log");
    let kinds: Vec<ProblemKind> = p.problems.iter().map(|x| x.kind).collect();
    assert_eq!(
        kinds,
        [
            ProblemKind::InternalError,
            ProblemKind::UntrackedLaunch,
            ProblemKind::ProcessDidNotTerminate,
            ProblemKind::TargetFailed
        ]
    );
    let p = fixture("gvisor_device_not_supported.composed.log");
    assert!(p
        .problems
        .iter()
        .any(|x| x.kind == ProblemKind::DeviceNotSupported));
    assert_eq!(p.errors(), Some(0));
}

#[test]
fn every_documented_fixture_parses_without_unknown_lines_except_the_new_format() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for e in std::fs::read_dir(&dir).expect("fixtures dir") {
        let p = e.expect("entry").path();
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if !name.ends_with(".log") || name.starts_with("memcheck_tcgen05_guardrail") {
            continue;
        }
        let parsed = parse_log(&std::fs::read_to_string(&p).expect("read"));
        assert!(parsed.unknown.is_empty(), "{name}: {:?}", parsed.unknown);
    }
}
