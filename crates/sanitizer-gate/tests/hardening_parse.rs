//! Hardening: the compute-sanitizer log parser under fuzzing (issue 11).
//!
//! Properties: `parse_log` never panics and never hangs (each case runs on a thread with a
//! deadline), on arbitrary bytes read the way the binary reads them (`from_utf8_lossy`),
//! on real logs (fixtures and the committed H100 logs under artifacts/sanitizers) cut at
//! random points or mutated, and on sanitizer-shaped lines built from the format's own
//! words. A CRLF copy of every real log parses to the same findings as the LF one, and a
//! multi-megabyte log parses in time linear in its size.
//!
//! CI runs a modest number of cases (proptest's default, 256, or `PROPTEST_CASES`).
//! Longer: `PROPTEST_CASES=100000 cargo test -p sanitizer-gate --test hardening_parse`,
//! or `scripts/fuzz.sh`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use sanitizer_gate::parse::{parse_log, ParsedLog};
use test_support::{bounded, cut, edits, mutate, splice, to_crlf};

/// Deadline per parsed input: generous for a debug build on a loaded 2-core runner.
const PER_CASE: Duration = Duration::from_secs(10);
/// Seeds larger than this are used only by the size test (mutating 5 MB per case is slow).
const SEED_MAX_BYTES: u64 = 256 * 1024;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Parses bytes the way `sanitizer-gate --from-log` reads a file.
fn parse_bytes(bytes: Vec<u8>) -> ParsedLog {
    bounded(PER_CASE, "parser", move || {
        parse_log(&String::from_utf8_lossy(&bytes))
    })
}

fn logs_under(dir: &Path, out: &mut Vec<(PathBuf, u64)>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            logs_under(&p, out);
        } else if p.extension().is_some_and(|x| x == "log") {
            let len = e.metadata().map(|m| m.len()).unwrap_or(0);
            out.push((p, len));
        }
    }
}

/// Every real log: the fixtures and the committed H100 logs, sorted, with sizes.
fn all_logs() -> Vec<(PathBuf, u64)> {
    let mut v = Vec::new();
    logs_under(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"),
        &mut v,
    );
    logs_under(&repo().join("artifacts/sanitizers"), &mut v);
    v.sort();
    assert!(
        v.len() >= 20,
        "expected the fixtures and committed logs, found {v:?}"
    );
    v
}

fn seeds() -> &'static [Vec<u8>] {
    static SEEDS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    SEEDS.get_or_init(|| {
        all_logs()
            .into_iter()
            .filter(|(_, len)| *len <= SEED_MAX_BYTES)
            .map(|(p, _)| std::fs::read(&p).expect("read seed"))
            .collect()
    })
}

/// Pieces of real sanitizer lines, so generated lines reach the parser's deeper branches.
const WORDS: &[&str] = &[
    "=========",
    "========= ",
    "COMPUTE-SANITIZER",
    "Invalid __global__ write of size 4 bytes",
    "Invalid __shared__ read of size",
    "at",
    "k+0xe0",
    "in",
    "k.cu:1",
    "by thread (0,0,0) in block (0,0,0)",
    "by thread (",
    "in block (",
    "Address 0x7f0000000000 is out of bounds",
    "Address",
    "ERROR SUMMARY: 1 error",
    "ERROR SUMMARY:",
    "RACECHECK SUMMARY: 1 hazard displayed (1 error, 0 warnings)",
    "RACECHECK SUMMARY:",
    "(1 error, 0 warnings)",
    "Race reported between Write access at r+0x160 in k.cu:3",
    "and Read access at r+0x1e0 in k.cu:4 [1024 hazards]",
    "Error: Race reported between",
    "Warning:",
    "Barrier error detected.",
    "Uninitialized __global__ memory read of size 4 bytes",
    "Internal Sanitizer Error",
    "didn't track",
    "LEAK SUMMARY: 0 bytes leaked in 0 allocations",
    "Program hit cudaErrorInvalidValue",
    "Saved host backtrace up to driver entry point at error",
    "Target application returned an error",
    "Process did not terminate successfully",
    "#0",
    "0x",
    "0xffffffffffffffffffffffffff",
    "18446744073709551616",
    "99999999999999999999999999",
    "-1",
    "0",
    "(",
    ")",
    "[",
    "]",
    ",",
    ":",
    "+",
    "\t",
    "é",
    "\u{feff}",
];

fn sanitizer_line() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(WORDS), 0..12).prop_map(|w| w.join(" "))
}

fn sanitizer_text() -> impl Strategy<Value = String> {
    prop::collection::vec(sanitizer_line(), 0..40).prop_map(|l| l.join("\n"))
}

/// One seed, cut at a random byte (not necessarily a char boundary).
fn truncated_seed() -> impl Strategy<Value = Vec<u8>> {
    (0..seeds().len(), any::<prop::sample::Index>()).prop_map(|(i, at)| cut(&seeds()[i], at))
}

/// One seed with a few random byte edits: overwrite, insert, delete.
fn mutated_seed() -> impl Strategy<Value = Vec<u8>> {
    (0..seeds().len(), edits(16)).prop_map(|(i, e)| mutate(seeds()[i].clone(), e))
}

/// Lines of several seeds, shuffled and spliced together (reports cut across each other).
fn spliced_seeds() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec((0..seeds().len(), any::<prop::sample::Index>()), 1..30).prop_map(
        |picks| {
            splice(
                picks
                    .into_iter()
                    .map(|(i, line)| (seeds()[i].as_slice(), line)),
            )
        },
    )
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        parse_bytes(bytes);
    }

    #[test]
    fn sanitizer_shaped_lines_never_panic(text in sanitizer_text()) {
        parse_bytes(text.into_bytes());
    }

    #[test]
    fn truncated_real_logs_never_panic(bytes in truncated_seed()) {
        parse_bytes(bytes);
    }

    #[test]
    fn mutated_real_logs_never_panic(bytes in mutated_seed()) {
        parse_bytes(bytes);
    }

    #[test]
    fn spliced_real_logs_never_panic(bytes in spliced_seeds()) {
        parse_bytes(bytes);
    }

    /// Line ends must not change what is found, on generated text too.
    #[test]
    fn crlf_generated_text_parses_the_same(text in sanitizer_text()) {
        let lf = parse_bytes(text.clone().into_bytes());
        let crlf = parse_bytes(to_crlf(text.as_bytes()));
        prop_assert_eq!(lf, crlf);
    }
}

/// Every real log, big ones included, parses to the same findings with CRLF line ends.
#[test]
fn crlf_real_logs_parse_the_same() {
    for (p, _) in all_logs() {
        let bytes = std::fs::read(&p).expect("read");
        let lf = parse_bytes(bytes.clone());
        let crlf = parse_bytes(to_crlf(&bytes));
        assert_eq!(lf, crlf, "{}: CRLF changed the parse", p.display());
    }
}

/// Invalid UTF-8 inside a real log loses only the bytes it replaces: the findings of a
/// committed log with a stray 0xFF byte in a non-sanitizer line are those of the original.
#[test]
fn invalid_utf8_outside_reports_keeps_findings() {
    for (p, len) in all_logs() {
        if len > SEED_MAX_BYTES {
            continue;
        }
        let bytes = std::fs::read(&p).expect("read");
        let mut dirty = b"\xff\xfe garbage from the target \xc3\x28\n".to_vec();
        dirty.extend_from_slice(&bytes);
        let clean = parse_bytes(bytes);
        let mut got = parse_bytes(dirty);
        // The extra first line shifts every line number by one.
        for f in &mut got.findings {
            f.log_line -= 1;
        }
        assert_eq!(got.findings.len(), clean.findings.len(), "{}", p.display());
        let first_diff = got
            .findings
            .iter()
            .zip(&clean.findings)
            .find(|(a, b)| a != b);
        assert!(
            first_diff.is_none(),
            "{}: invalid UTF-8 changed a finding: {first_diff:?}",
            p.display()
        );
        assert_eq!(
            got.summaries.len(),
            clean.summaries.len(),
            "{}",
            p.display()
        );
    }
}

/// A real log repeated to about 2 MB and to about 4 MB: parse time stays linear-ish (the
/// double-size log takes at most ~3x as long, with slack for noise) and under 10 s in a
/// debug build, and the repeated log yields the findings of each copy. The committed 5 MB
/// racecheck logs parse under 10 s as they are.
#[test]
fn multi_megabyte_log_parses_in_linear_time() {
    let logs = all_logs();
    let (medium, _) = logs
        .iter()
        .filter(|(_, len)| *len <= SEED_MAX_BYTES)
        .max_by_key(|(_, len)| *len)
        .expect("a log");
    let base = std::fs::read(medium).expect("read");
    let base_findings = parse_bytes(base.clone()).findings.len();
    assert!(base_findings > 0, "{}: no findings", medium.display());
    let build = |target: usize| {
        let mut v = Vec::with_capacity(target + base.len());
        let mut copies = 0usize;
        while v.len() < target {
            v.extend_from_slice(&base);
            copies += 1;
        }
        (v, copies)
    };
    let time = |bytes: Vec<u8>| {
        let t = Instant::now();
        let parsed = parse_bytes(bytes);
        (t.elapsed(), parsed)
    };
    let (small, small_copies) = build(2 << 20);
    let (large, large_copies) = build(4 << 20);
    let (t_small, p_small) = time(small);
    let (t_large, p_large) = time(large);
    assert_eq!(p_small.findings.len(), base_findings * small_copies);
    assert_eq!(p_large.findings.len(), base_findings * large_copies);
    assert!(
        t_large < Duration::from_secs(10),
        "4 MB log took {t_large:?}"
    );
    let ratio = t_large.as_secs_f64() / t_small.as_secs_f64().max(1e-3);
    let size_ratio = large_copies as f64 / small_copies as f64;
    assert!(
        ratio < 3.0 * size_ratio,
        "parse time grew {ratio:.1}x for {size_ratio:.1}x the size ({t_small:?} -> {t_large:?})"
    );
    for (p, len) in logs.iter().filter(|(_, len)| *len > SEED_MAX_BYTES) {
        let (t, parsed) = time(std::fs::read(p).expect("read"));
        assert!(
            t < Duration::from_secs(10),
            "{} ({len} bytes) took {t:?}",
            p.display()
        );
        assert!(!parsed.findings.is_empty(), "{}: no findings", p.display());
    }
}
