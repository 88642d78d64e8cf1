//! Hardening (issue 11): reading artifact summaries that a bad day damaged.
//!
//! The committed `artifacts/**/*.json` (summaries, controls, bench samples), with random
//! byte edits or cut at a random point, go through the readers' path (`serde_json` into a
//! `Value`, and into the common [`Header`]): an error, never a panic or a hang; a cut
//! strictly inside the object is always an error (a half-written summary is never taken
//! for a whole one).
//!
//! CI runs a modest number of cases (proptest's default, 256, or `PROPTEST_CASES`).
//! Longer: `PROPTEST_CASES=100000 cargo test -p cudadent-evidence --test hardening_artifacts`,
//! or `scripts/fuzz.sh`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use cudadent_evidence::Header;
use proptest::prelude::*;
use serde_json::Value;
use test_support::{bounded, edits, mutate};

fn json_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            json_under(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

fn artifacts() -> &'static [(PathBuf, Vec<u8>)] {
    static A: OnceLock<Vec<(PathBuf, Vec<u8>)>> = OnceLock::new();
    A.get_or_init(|| {
        let mut v = Vec::new();
        json_under(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../artifacts"),
            &mut v,
        );
        v.sort();
        assert!(
            v.len() >= 20,
            "expected the committed artifacts, found {}",
            v.len()
        );
        v.into_iter()
            .map(|p| {
                let b = std::fs::read(&p).expect("read");
                (p, b)
            })
            .collect()
    })
}

/// Reads bytes the way the readers do; returns whether a Value and a Header came out.
fn read(bytes: Vec<u8>) -> (bool, bool) {
    bounded(Duration::from_secs(10), "reader", move || {
        let v = serde_json::from_slice::<Value>(&bytes).is_ok();
        let h = serde_json::from_slice::<Header>(&bytes).is_ok();
        (v, h)
    })
}

#[test]
fn every_committed_summary_reads_with_its_header() {
    for (p, bytes) in artifacts() {
        let (v, h) = read(bytes.clone());
        assert!(v, "{}: not JSON", p.display());
        if p.file_name().is_some_and(|n| n == "summary.json") {
            assert!(h, "{}: no common header", p.display());
        }
    }
}

proptest! {
    #[test]
    fn truncated_summaries_are_errors(i in any::<prop::sample::Index>(), cut in any::<prop::sample::Index>()) {
        let (p, bytes) = &artifacts()[i.index(artifacts().len())];
        let end = bytes.iter().rposition(|&b| b == b'}' || b == b']').expect("closing bracket");
        let cut = cut.index(end); // strictly before the closing bracket
        let (v, h) = read(bytes[..cut].to_vec());
        prop_assert!(!v && !h, "{} cut at {} read as whole", p.display(), cut);
    }

    #[test]
    fn mutated_summaries_never_panic(i in any::<prop::sample::Index>(), e in edits(16)) {
        read(mutate(artifacts()[i.index(artifacts().len())].1.clone(), e));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        read(bytes);
    }
}

/// Deeply nested input: serde_json's recursion limit turns it into an error, not a stack
/// overflow.
#[test]
fn deep_nesting_is_an_error() {
    for open in [b'[', b'{'] {
        let bytes = if open == b'[' {
            vec![b'['; 100_000]
        } else {
            b"{\"a\":".repeat(100_000)
        };
        let (v, h) = read(bytes);
        assert!(!v && !h);
    }
}
