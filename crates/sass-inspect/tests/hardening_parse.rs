//! Hardening: the ptxas, SASS and PTX parsers under fuzzing (issue 11).
//!
//! Properties, for each of `parse_ptxas`, `parse_sass` (and the census and tensor-core
//! lines built from it) and `parse_ptx`: no panic and no hang (each case runs on a thread
//! with a deadline) on arbitrary bytes read lossily, on real outputs (the fixtures and the
//! committed artifacts/stats files) cut at random points, mutated byte by byte, spliced
//! line by line, and on lines rebuilt from the real outputs' own tokens with extreme
//! numbers mixed in. A CRLF copy of every real output parses to the same values as the LF
//! one, and a multi-megabyte SASS dump parses in time linear in its size.
//!
//! CI runs a modest number of cases (proptest's default, 256, or `PROPTEST_CASES`).
//! Longer: `PROPTEST_CASES=100000 cargo test -p sass-inspect --test hardening_parse`,
//! or `scripts/fuzz.sh`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use sass_inspect::{census, parse_ptx, parse_ptxas, parse_sass, tensor_core_lines};
use test_support::{bounded, cut, edits, mutate, splice, to_crlf};

const PER_CASE: Duration = Duration::from_secs(10);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// What every parser made of one text, compared whole for the CRLF property.
#[derive(Debug, PartialEq)]
struct Parsed {
    ptxas: sass_inspect::PtxasReport,
    sass: sass_inspect::SassDump,
    census: sass_inspect::Census,
    tc_lines: Vec<String>,
    ptx: sass_inspect::PtxReport,
}

/// Runs every parser on `bytes`, read lossily as a binary reading a file would.
fn parse_all(bytes: Vec<u8>) -> Parsed {
    bounded(PER_CASE, "parser", move || {
        let text = String::from_utf8_lossy(&bytes);
        let sass = parse_sass(&text);
        let all: Vec<_> = sass.instructions().cloned().collect();
        Parsed {
            ptxas: parse_ptxas(&text),
            census: census(&all),
            tc_lines: tensor_core_lines(&all),
            sass,
            ptx: parse_ptx(&text),
        }
    })
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "src") {
                files_under(&p, out);
            }
        } else {
            let name = p.to_string_lossy();
            if name.ends_with(".txt") || name.ends_with(".ptx") {
                out.push(p);
            }
        }
    }
}

/// Every real output: the fixtures and the committed stats files.
fn real_outputs() -> &'static [(PathBuf, Vec<u8>)] {
    static SEEDS: OnceLock<Vec<(PathBuf, Vec<u8>)>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let mut v = Vec::new();
        files_under(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"),
            &mut v,
        );
        files_under(&repo().join("artifacts/stats"), &mut v);
        v.sort();
        assert!(
            v.len() >= 40,
            "expected fixtures and stats files, found {}",
            v.len()
        );
        v.into_iter()
            .map(|p| {
                let b = std::fs::read(&p).expect("read seed");
                (p, b)
            })
            .collect()
    })
}

/// Whitespace-separated tokens of every real output, plus numbers that overflow.
fn tokens() -> &'static [String] {
    static TOKENS: OnceLock<Vec<String>> = OnceLock::new();
    TOKENS.get_or_init(|| {
        let mut set = std::collections::BTreeSet::new();
        for (_, b) in real_outputs() {
            for t in String::from_utf8_lossy(b).split_whitespace() {
                set.insert(t.to_string());
            }
        }
        for t in [
            "18446744073709551616",
            "4294967296",
            "99999999999999999999999999",
            "-1",
            "0x",
            "0xffffffffffffffffffffffff",
            "/*",
            "*/",
            "'",
            "(",
            ")",
            "{",
            "}",
            ";",
            ":",
            "é",
            "\u{feff}",
        ] {
            set.insert(t.to_string());
        }
        set.into_iter().collect()
    })
}

fn token_text() -> impl Strategy<Value = String> {
    let line = prop::collection::vec(
        (
            prop::sample::select(tokens()),
            prop::sample::select(&[" ", "\t", ""][..]),
        ),
        0..14,
    )
    .prop_map(|w| {
        w.into_iter()
            .map(|(t, sep)| format!("{t}{sep}"))
            .collect::<String>()
    });
    prop::collection::vec(line, 0..40).prop_map(|l| l.join("\n"))
}

fn truncated_seed() -> impl Strategy<Value = Vec<u8>> {
    (0..real_outputs().len(), any::<prop::sample::Index>())
        .prop_map(|(i, at)| cut(&real_outputs()[i].1, at))
}

fn mutated_seed() -> impl Strategy<Value = Vec<u8>> {
    (0..real_outputs().len(), edits(16)).prop_map(|(i, e)| mutate(real_outputs()[i].1.clone(), e))
}

fn spliced_seeds() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        (0..real_outputs().len(), any::<prop::sample::Index>()),
        1..40,
    )
    .prop_map(|picks| {
        splice(
            picks
                .into_iter()
                .map(|(i, line)| (real_outputs()[i].1.as_slice(), line)),
        )
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        parse_all(bytes);
    }

    #[test]
    fn real_tokens_rearranged_never_panic(text in token_text()) {
        parse_all(text.into_bytes());
    }

    #[test]
    fn truncated_real_outputs_never_panic(bytes in truncated_seed()) {
        parse_all(bytes);
    }

    #[test]
    fn mutated_real_outputs_never_panic(bytes in mutated_seed()) {
        parse_all(bytes);
    }

    #[test]
    fn spliced_real_outputs_never_panic(bytes in spliced_seeds()) {
        parse_all(bytes);
    }

    #[test]
    fn crlf_generated_text_parses_the_same(text in token_text()) {
        let lf = parse_all(text.clone().into_bytes());
        let crlf = parse_all(to_crlf(text.as_bytes()));
        prop_assert_eq!(lf, crlf);
    }
}

#[test]
fn crlf_real_outputs_parse_the_same() {
    for (p, bytes) in real_outputs() {
        let lf = parse_all(bytes.clone());
        let crlf = parse_all(to_crlf(bytes));
        assert!(lf == crlf, "{}: CRLF changed the parse", p.display());
    }
}

/// The largest real SASS dump, repeated to about 2 MB and 4 MB: time grows linearly-ish,
/// stays under 10 s in a debug build, and the tensor-core count is that of each copy.
#[test]
fn multi_megabyte_sass_parses_in_linear_time() {
    let (path, base) = real_outputs()
        .iter()
        .filter(|(p, _)| p.to_string_lossy().ends_with(".sass.txt"))
        .max_by_key(|(_, b)| b.len())
        .expect("a SASS dump");
    let base_tc = parse_all(base.clone()).census.tensor_core.total;
    let build = |target: usize| {
        let mut v = Vec::with_capacity(target + base.len());
        let mut copies = 0u64;
        while v.len() < target {
            v.extend_from_slice(base);
            copies += 1;
        }
        (v, copies)
    };
    let time = |bytes: Vec<u8>| {
        let t = Instant::now();
        let parsed = parse_all(bytes);
        (t.elapsed(), parsed)
    };
    let (small, n_small) = build(2 << 20);
    let (large, n_large) = build(4 << 20);
    let (t_small, p_small) = time(small);
    let (t_large, p_large) = time(large);
    assert_eq!(
        p_small.census.tensor_core.total,
        base_tc * n_small,
        "{}",
        path.display()
    );
    assert_eq!(
        p_large.census.tensor_core.total,
        base_tc * n_large,
        "{}",
        path.display()
    );
    assert!(
        t_large < Duration::from_secs(10),
        "4 MB SASS took {t_large:?}"
    );
    let ratio = t_large.as_secs_f64() / t_small.as_secs_f64().max(1e-3);
    let size_ratio = n_large as f64 / n_small as f64;
    assert!(
        ratio < 3.0 * size_ratio,
        "parse time grew {ratio:.1}x for {size_ratio:.1}x the size ({t_small:?} -> {t_large:?})"
    );
}
