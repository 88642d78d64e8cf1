//! Hardening: the config and manifest loaders on untrusted input (issue 11).
//!
//! - Fuzzing: `Config::load` on arbitrary bytes and on mutated real configs, and
//!   `KernelManifest::parse` on mutated real manifests, never panic and never hang (each
//!   case runs on a thread with a deadline); whatever they accept satisfies the invariants
//!   the gates rely on (every dimension at least 1, B*H*S*D within 32-bit indices).
//! - Untrusted configs: names that could climb out of a directory or reach a shell are
//!   rejected by validation, one table row each (the define row is in rejections.rs).
//! - Shapes: across random B, H, S, D (the whole `u32` range), a config is accepted iff
//!   B*H*S*D <= i32::MAX, and the refusal names the 32-bit overflow.
//!
//! CI runs a modest number of cases (proptest's default, 256, or `PROPTEST_CASES`).
//! Longer: `PROPTEST_CASES=100000 cargo test -p cudadent-config --test hardening_config`,
//! or `scripts/fuzz.sh`.

mod common;
use common::{GOOD_CONFIG, GOOD_MANIFEST};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use cudadent_config::{Config, ConfigError, KernelManifest};
use proptest::prelude::*;
use test_support::{bounded, edits_with_truncation, mutate};

const PER_CASE: Duration = Duration::from_secs(10);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Writes `config` as c.toml beside a good manifest and source, and loads it.
fn load_bytes(config: Vec<u8>, manifest: &str) -> Result<Config, ConfigError> {
    let manifest = manifest.to_string();
    bounded(PER_CASE, "loader", move || {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("k.cu"), "// kernel\n").expect("write source");
        std::fs::write(dir.path().join("k.toml"), manifest).expect("write manifest");
        std::fs::write(dir.path().join("c.toml"), config).expect("write config");
        Config::load(&dir.path().join("c.toml"))
    })
}

/// What every accepted config must satisfy, whatever bytes it came from.
fn check_invariants(cfg: &Config) -> Result<(), TestCaseError> {
    let p = &cfg.problem;
    prop_assert!(p.batch >= 1 && p.heads >= 1 && p.seq_len >= 1 && p.head_dim >= 1);
    let exact = p.batch as u128 * p.heads as u128 * p.seq_len as u128 * p.head_dim as u128;
    prop_assert!(exact <= i32::MAX as u128, "accepted {exact} elements");
    prop_assert!(!cfg.kernels.under_test.is_empty());
    prop_assert!(!cfg.kernels.archs.is_empty());
    Ok(())
}

/// Real configs with their kernel paths made absolute (they can load from a temp dir),
/// and real manifests.
/// (configs, (manifest path, manifest text)).
type Seeds = (Vec<Vec<u8>>, Vec<(PathBuf, String)>);

fn seeds() -> &'static Seeds {
    static SEEDS: OnceLock<Seeds> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let kernels = repo().join("kernels");
        let kernels = kernels.canonicalize().expect("kernels dir");
        let mut configs = vec![GOOD_CONFIG.as_bytes().to_vec()];
        for e in std::fs::read_dir(repo().join("configs"))
            .expect("configs")
            .flatten()
        {
            let text = std::fs::read_to_string(e.path()).expect("read config");
            let text = text.replace("../kernels", &kernels.to_string_lossy());
            configs.push(text.into_bytes());
        }
        let mut manifests = Vec::new();
        let mut stack = vec![kernels];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).expect("read dir").flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "toml") {
                    let text = std::fs::read_to_string(&p).expect("read manifest");
                    manifests.push((p, text));
                }
            }
        }
        configs.sort();
        manifests.sort();
        assert!(configs.len() >= 7 && manifests.len() >= 3);
        (configs, manifests)
    })
}

/// Replaces one TOML value with something of another type, size or shape.
fn value_swaps() -> impl Strategy<Value = (prop::sample::Index, &'static str)> {
    let values = &[
        "0",
        "-1",
        "4294967295",
        "4294967296",
        "18446744073709551616",
        "9223372036854775807",
        "1e309",
        "nan",
        "inf",
        "\"\"",
        "\"../../etc/passwd\"",
        "\"$(touch /tmp/pwned)\"",
        "[]",
        "[[]]",
        "{}",
        "{ a = 1 }",
        "true",
        "1979-05-27T07:32:00Z",
        "'''\nmulti\n'''",
        "\"\\u0000\"",
    ][..];
    (any::<prop::sample::Index>(), prop::sample::select(values))
}

fn swap_value(text: &str, at: prop::sample::Index, value: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let with_value: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].contains(" = "))
        .collect();
    if with_value.is_empty() {
        return text.to_string();
    }
    let i = with_value[at.index(with_value.len())];
    let key = lines[i].split(" = ").next().unwrap_or("");
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    out[i] = format!("{key} = {value}");
    out.join("\n") + "\n"
}

proptest! {
    #[test]
    fn config_from_arbitrary_bytes_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..2048)
    ) {
        if let Ok(cfg) = load_bytes(bytes, GOOD_MANIFEST) {
            check_invariants(&cfg)?;
        }
    }

    #[test]
    fn mutated_real_configs_never_panic(
        i in any::<prop::sample::Index>(),
        e in edits_with_truncation(12),
    ) {
        let seed = seeds().0[i.index(seeds().0.len())].clone();
        if let Ok(cfg) = load_bytes(mutate(seed, e), GOOD_MANIFEST) {
            check_invariants(&cfg)?;
        }
    }

    #[test]
    fn configs_with_swapped_values_never_panic(
        i in any::<prop::sample::Index>(),
        (at, value) in value_swaps(),
    ) {
        let seed = &seeds().0[i.index(seeds().0.len())];
        let text = swap_value(&String::from_utf8_lossy(seed), at, value);
        if let Ok(cfg) = load_bytes(text.into_bytes(), GOOD_MANIFEST) {
            check_invariants(&cfg)?;
        }
    }

    /// A good config naming a mutated manifest: the manifest errors come through, no panic.
    #[test]
    fn config_with_mutated_manifest_never_panics(e in edits_with_truncation(12)) {
        let manifest = String::from_utf8_lossy(&mutate(GOOD_MANIFEST.as_bytes().to_vec(), e))
            .into_owned();
        if let Ok(cfg) = load_bytes(GOOD_CONFIG.as_bytes().to_vec(), &manifest) {
            check_invariants(&cfg)?;
        }
    }

    /// `KernelManifest::parse` on the repository's own manifests, mutated, in place (their
    /// sources resolve beside them).
    #[test]
    fn mutated_real_manifests_never_panic(
        i in any::<prop::sample::Index>(),
        e in edits_with_truncation(12),
        (at, value) in value_swaps(),
        swap in any::<bool>(),
    ) {
        let (path, text) = seeds().1[i.index(seeds().1.len())].clone();
        let text = if swap { swap_value(&text, at, value) } else { text };
        let text = String::from_utf8_lossy(&mutate(text.into_bytes(), e)).into_owned();
        let parsed = bounded(PER_CASE, "loader", move || {
            KernelManifest::parse(&path, &text).map(|m| (m.name, m.entry, m.defines))
        });
        if let Ok((name, entry, defines)) = parsed {
            let word = |s: &str| !s.is_empty()
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            prop_assert!(word(&name), "accepted name {name:?}");
            prop_assert!(word(&entry), "accepted entry {entry:?}");
            for d in defines {
                // One argument each: no whitespace, no `-D`, a word before any `=`.
                prop_assert!(!d.contains(char::is_whitespace), "accepted define {d:?}");
                let name = d.split('=').next().unwrap_or("");
                prop_assert!(word(name) && !name.contains('-'), "accepted define {d:?}");
            }
        }
    }

    /// D fixed at 64 (the manifest supports it, S any multiple of 1): accepted iff
    /// B*H*S*64 fits in 32-bit indices.
    #[test]
    fn shapes_are_accepted_iff_they_fit_32_bit_indices(
        b in dim(),
        h in dim(),
        s in dim(),
    ) {
        let text = GOOD_CONFIG
            .replace("batch = 2", &format!("batch = {b}"))
            .replace("heads = 8", &format!("heads = {h}"))
            .replace("seq_len = 512", &format!("seq_len = {s}"));
        let product = b as u128 * h as u128 * s as u128 * 64;
        match load_bytes(text.into_bytes(), GOOD_MANIFEST) {
            Ok(cfg) => {
                prop_assert!(product <= i32::MAX as u128, "accepted {b}x{h}x{s}x64 = {product}");
                prop_assert_eq!(cfg.problem.elements() as u128, product);
            }
            Err(e) => {
                prop_assert!(product > i32::MAX as u128, "refused {b}x{h}x{s}x64: {e}");
                prop_assert!(e.to_string().contains("32-bit"), "{e}");
            }
        }
    }

    /// All four dimensions over the whole `u32` range: the overflow refusal appears iff
    /// the exact product exceeds i32::MAX (the product of four u32 can pass 2^64: it must
    /// neither panic nor wrap).
    #[test]
    fn overflow_is_refused_for_any_u32_dims(
        b in dim(),
        h in dim(),
        s in dim(),
        d in dim(),
    ) {
        let text = GOOD_CONFIG
            .replace("batch = 2", &format!("batch = {b}"))
            .replace("heads = 8", &format!("heads = {h}"))
            .replace("seq_len = 512", &format!("seq_len = {s}"))
            .replace("head_dim = 64", &format!("head_dim = {d}"));
        let product = b as u128 * h as u128 * s as u128 * d as u128;
        let result = load_bytes(text.into_bytes(), GOOD_MANIFEST);
        let overflow = matches!(&result, Err(e) if e.to_string().contains("32-bit"));
        prop_assert_eq!(overflow, product > i32::MAX as u128, "{}x{}x{}x{}: {:?}", b, h, s, d, result.err());
    }
}

/// A dimension: small, near the 32-bit boundary, a power of two, or anything up to u32::MAX.
fn dim() -> impl Strategy<Value = u32> {
    prop_oneof![
        1u32..=4096,
        (0u32..=31).prop_map(|k| 1u32 << k),
        (1u32..=65536).prop_map(|x| x.saturating_mul(x)),
        1u32..=u32::MAX,
        Just(u32::MAX),
        Just(65536),
    ]
}

/// Four dims of 65536 multiply to exactly 2^64: a u64 product wraps to 0.
#[test]
fn product_wrapping_to_zero_in_u64_is_refused() {
    let text = GOOD_CONFIG
        .replace("batch = 2", "batch = 65536")
        .replace("heads = 8", "heads = 65536")
        .replace("seq_len = 512", "seq_len = 65536")
        .replace("head_dim = 64", "head_dim = 65536");
    let e = load_bytes(text.into_bytes(), GOOD_MANIFEST).expect_err("2^64 elements accepted");
    let msg = e.to_string();
    assert!(msg.contains("32-bit"), "{msg}");
    assert!(
        msg.contains("18446744073709551616"),
        "the exact product is named: {msg}"
    );
}

/// The largest shape that fits is accepted; one more row is refused.
#[test]
fn boundary_of_32_bit_indices() {
    // 2^31 - 1 = 7 x 31 x 151 x 64451: D must be 64 for the manifest, so use S*64 near it.
    let s_max = (i32::MAX as u64 / 64) as u32; // 33554431, B = H = 1
    let ok = GOOD_CONFIG
        .replace("batch = 2", "batch = 1")
        .replace("heads = 8", "heads = 1")
        .replace("seq_len = 512", &format!("seq_len = {s_max}"));
    assert!(load_bytes(ok.into_bytes(), GOOD_MANIFEST).is_ok());
    let over = GOOD_CONFIG
        .replace("batch = 2", "batch = 1")
        .replace("heads = 8", "heads = 1")
        .replace("seq_len = 512", &format!("seq_len = {}", s_max + 1));
    let e = load_bytes(over.into_bytes(), GOOD_MANIFEST).expect_err("over the limit");
    assert!(e.to_string().contains("32-bit"), "{e}");
}

struct Row {
    what: &'static str,
    config: String,
    manifest: String,
    key: &'static str,
    words: &'static [&'static str],
}

/// Names and strings that could leave a directory or reach a shell: each is refused by
/// validation, naming the key. Commands are built as argument vectors, but nvcc itself
/// runs its sub-tools through a shell: a define *value* without spaces such as
/// `X=$(id)` or ``X=`id` `` passes this validation and is refused by the build instead
/// (kernel-runtime's `nvcc_shell_hazard`, tested with the real nvcc in
/// crates/kernel-runtime/tests/hardening_nvcc_shell.rs).
fn untrusted_rows() -> Vec<Row> {
    let c = |from: &str, to: &str| {
        assert!(GOOD_CONFIG.contains(from));
        GOOD_CONFIG.replacen(from, to, 1)
    };
    let m = |from: &str, to: &str| {
        assert!(GOOD_MANIFEST.contains(from));
        GOOD_MANIFEST.replacen(from, to, 1)
    };
    let gc = GOOD_CONFIG.to_string();
    let gm = GOOD_MANIFEST.to_string();
    vec![
        Row {
            what: "config name with ..",
            config: c("name = \"t\"", "name = \"../t\""),
            manifest: gm.clone(),
            key: "name",
            words: &["not a config name"],
        },
        Row {
            what: "config name with /",
            config: c("name = \"t\"", "name = \"a/b\""),
            manifest: gm.clone(),
            key: "name",
            words: &["not a config name"],
        },
        Row {
            what: "config name that is ..",
            config: c("name = \"t\"", "name = \"..\""),
            manifest: gm.clone(),
            key: "name",
            words: &["not a config name"],
        },
        Row {
            what: "config name with a shell substitution",
            config: c("name = \"t\"", "name = \"$(id)\""),
            manifest: gm.clone(),
            key: "name",
            words: &["not a config name"],
        },
        Row {
            what: "config name with a NUL",
            config: c("name = \"t\"", "name = \"t\\u0000x\""),
            manifest: gm.clone(),
            key: "name",
            words: &["not a config name"],
        },
        Row {
            what: "empty config name",
            config: c("name = \"t\"", "name = \"\""),
            manifest: gm.clone(),
            key: "name",
            words: &["not a config name"],
        },
        Row {
            what: "kernel name with ../",
            config: gc.clone(),
            manifest: m("name = \"k\"", "name = \"../k\""),
            key: "name",
            words: &["not a kernel name"],
        },
        Row {
            what: "kernel name with /",
            config: gc.clone(),
            manifest: m("name = \"k\"", "name = \"/tmp/k\""),
            key: "name",
            words: &["not a kernel name"],
        },
        Row {
            what: "kernel name with a space",
            config: gc.clone(),
            manifest: m("name = \"k\"", "name = \"k x\""),
            key: "name",
            words: &["not a kernel name"],
        },
        Row {
            what: "entry with ;",
            config: gc.clone(),
            manifest: m("entry = \"k_fwd\"", "entry = \"k_fwd;rm\""),
            key: "entry",
            words: &["entry"],
        },
        Row {
            what: "entry with a backtick",
            config: gc.clone(),
            manifest: m("entry = \"k_fwd\"", "entry = \"`id`\""),
            key: "entry",
            words: &["entry"],
        },
        Row {
            what: "entry with -",
            config: gc.clone(),
            manifest: m("entry = \"k_fwd\"", "entry = \"-o/tmp/x\""),
            key: "entry",
            words: &["entry"],
        },
        Row {
            what: "define with a command substitution",
            config: gc.clone(),
            manifest: m(
                "tensor_cores = false",
                "tensor_cores = false\ndefines = [\"X=$(touch /tmp/pwned)\"]",
            ),
            key: "defines[0]",
            words: &["NAME or NAME=VALUE"],
        },
        Row {
            what: "define with a space (a second argument)",
            config: gc.clone(),
            manifest: m(
                "tensor_cores = false",
                "tensor_cores = false\ndefines = [\"X=1 -o/tmp/x\"]",
            ),
            key: "defines[0]",
            words: &["NAME or NAME=VALUE"],
        },
        Row {
            what: "debug define with a space",
            config: gc.clone(),
            manifest: m(
                "tensor_cores = false",
                "tensor_cores = false\ndebug_defines = [\"X=`touch /tmp/x`\"]",
            ),
            key: "debug_defines[0]",
            words: &["NAME or NAME=VALUE"],
        },
        Row {
            what: "define name with $",
            config: gc.clone(),
            manifest: m(
                "tensor_cores = false",
                "tensor_cores = false\ndefines = [\"$(id)=1\"]",
            ),
            key: "defines[0]",
            words: &["NAME or NAME=VALUE"],
        },
    ]
}

#[test]
fn untrusted_names_are_rejected_by_validation() {
    let mut failures = Vec::new();
    for row in untrusted_rows() {
        match load_bytes(row.config.clone().into_bytes(), &row.manifest) {
            Ok(_) => failures.push(format!("{}: accepted", row.what)),
            Err(e) => {
                let msg = e.to_string();
                let key_ok = match &e {
                    ConfigError::Invalid { key, .. } => key == row.key,
                    _ => false,
                };
                if !key_ok || !row.words.iter().all(|w| msg.contains(w)) {
                    failures.push(format!(
                        "{}: wanted key `{}` and {:?}, got {e:?}",
                        row.what, row.key, row.words
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
