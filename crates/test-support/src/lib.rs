//! test-support owns the pieces the hardening tests of several crates share (config,
//! evidence, sass-inspect, sanitizer-gate): running a parser or reader under a deadline,
//! the byte mutations applied to real inputs, CRLF copies and lines spliced across inputs.
//! It also holds the one policy for tests that need the CUDA compiler toolchain
//! ([`toolchain_or_skip`]). A dev-dependency only; nothing here is part of any tool.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;

/// Runs `f` on its own thread; fails the test if it panics or outlives `limit`. `what`
/// names the code under test in the failure (`parser`, `reader`, `loader`).
pub fn bounded<T: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(RecvTimeoutError::Timeout) => panic!("{what} still running after {limit:?}"),
        Err(RecvTimeoutError::Disconnected) => panic!("{what} panicked"),
    }
}

/// The result of looking for the CUDA toolchain, for a test that needs it: the toolchain,
/// or `None` (the test skips, saying why on stderr). With `CUDADENT_REQUIRE_TOOLCHAIN=1`
/// (CI) a missing toolchain fails the test `test` instead of skipping it.
pub fn toolchain_or_skip<T, E: std::fmt::Display>(test: &str, found: Result<T, E>) -> Option<T> {
    match found {
        Ok(t) => Some(t),
        Err(e) => {
            if std::env::var("CUDADENT_REQUIRE_TOOLCHAIN").as_deref() == Ok("1") {
                panic!("{test}: CUDADENT_REQUIRE_TOOLCHAIN=1 but no CUDA toolchain: {e}");
            }
            eprintln!("SKIPPED {test}: no CUDA toolchain here ({e})");
            None
        }
    }
}

/// One byte edit: (operation, position, byte).
pub type Edit = (u8, Index, u8);

/// Overwrite the byte at the position.
pub const OVERWRITE: u8 = 0;
/// Insert the byte at the position.
pub const INSERT: u8 = 1;
/// Cut everything from the position on.
pub const TRUNCATE: u8 = 2;
/// Delete the byte at the position.
pub const DELETE: u8 = 3;

/// Applies `edits` to `s` in order (an edit that needs a byte on an empty input is skipped).
pub fn mutate(mut s: Vec<u8>, edits: Vec<Edit>) -> Vec<u8> {
    for (op, at, byte) in edits {
        let n = s.len();
        match op {
            OVERWRITE if n > 0 => s[at.index(n)] = byte,
            INSERT => s.insert(at.index(n + 1), byte),
            TRUNCATE if n > 0 => s.truncate(at.index(n)),
            DELETE if n > 0 => {
                s.remove(at.index(n));
            }
            _ => {}
        }
    }
    s
}

/// 1 to `max - 1` edits, each an overwrite, an insert or a delete, equally likely.
pub fn edits(max: usize) -> impl Strategy<Value = Vec<Edit>> {
    let op = prop::sample::select(vec![OVERWRITE, INSERT, DELETE]);
    prop::collection::vec((op, any::<Index>(), any::<u8>()), 1..max)
}

/// As [`edits`], plus truncation, rarer (1 in 9) so that most cases keep their end.
pub fn edits_with_truncation(max: usize) -> impl Strategy<Value = Vec<Edit>> {
    let op = prop_oneof![
        8 => prop::sample::select(vec![OVERWRITE, INSERT, DELETE]),
        1 => Just(TRUNCATE),
    ];
    prop::collection::vec((op, any::<Index>(), any::<u8>()), 1..max)
}

/// `s` cut at a position (anywhere, not necessarily a char boundary; possibly whole).
pub fn cut(s: &[u8], at: Index) -> Vec<u8> {
    s[..at.index(s.len() + 1)].to_vec()
}

/// One line of each input, picked by position, joined with `\n`: reports cut across
/// each other.
pub fn splice<'a>(picks: impl IntoIterator<Item = (&'a [u8], Index)>) -> Vec<u8> {
    let mut out = Vec::new();
    for (input, line) in picks {
        let lines: Vec<&[u8]> = input.split(|b| *b == b'\n').collect();
        out.extend_from_slice(lines[line.index(lines.len())]);
        out.push(b'\n');
    }
    out
}

/// A copy of `bytes` with every `\n` preceded by `\r`.
pub fn to_crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 16);
    for &b in bytes {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(i: usize) -> Index {
        // Index::index(n) maps the raw value into 0..n; find one landing on `i` of 10.
        use proptest::strategy::ValueTree;
        use proptest::test_runner::TestRunner;
        let mut runner = TestRunner::deterministic();
        loop {
            let idx = any::<Index>().new_tree(&mut runner).unwrap().current();
            if idx.index(10) == i {
                return idx;
            }
        }
    }

    #[test]
    fn each_edit_does_what_it_says() {
        let s = b"0123456789".to_vec();
        assert_eq!(
            mutate(s.clone(), vec![(OVERWRITE, at(2), b'x')]),
            b"01x3456789"
        );
        assert_eq!(mutate(s.clone(), vec![(DELETE, at(2), 0)]), b"013456789");
        assert_eq!(mutate(s.clone(), vec![(TRUNCATE, at(2), 0)]), b"01");
        assert_eq!(mutate(Vec::new(), vec![(DELETE, at(0), 0)]), b"");
        assert_eq!(mutate(Vec::new(), vec![(INSERT, at(0), b'a')]), b"a");
    }

    #[test]
    fn crlf_and_splice() {
        assert_eq!(to_crlf(b"a\nb\n"), b"a\r\nb\r\n");
        assert_eq!(splice([(&b"x\ny"[..], at(0))]), b"x\n");
    }
}
