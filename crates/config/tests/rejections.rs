//! Every rejection is a table row: a bad config or manifest, the line and key it must
//! name, and the words the message must contain (STYLE.md, habit 5).

mod common;
use common::{GOOD_CONFIG, GOOD_MANIFEST};
use std::path::Path;

use cudadent_config::{Config, ConfigError};

fn load(config: &str, manifest: &str) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("k.cu"), "// kernel\n").expect("write source");
    std::fs::write(dir.path().join("k.toml"), manifest).expect("write manifest");
    std::fs::write(dir.path().join("c.toml"), config).expect("write config");
    Config::load(&dir.path().join("c.toml"))
}

fn edit(base: &str, from: &str, to: &str) -> String {
    assert!(base.contains(from), "fixture lacks `{from}`");
    base.replacen(from, to, 1)
}

struct Row {
    what: &'static str,
    config: String,
    manifest: String,
    file: &'static str,
    line: Option<usize>,
    key: &'static str,
    words: &'static [&'static str],
}

fn rows() -> Vec<Row> {
    let c = |from, to| edit(GOOD_CONFIG, from, to);
    let m = |from, to| edit(GOOD_MANIFEST, from, to);
    let good_c = GOOD_CONFIG.to_string();
    let good_m = GOOD_MANIFEST.to_string();
    vec![
        Row { what: "unknown top-level key", config: c("name = \"t\"\n", "name = \"t\"\ncolour = \"red\"\n"), manifest: good_m.clone(), file: "c.toml", line: Some(2), key: "colour", words: &["unknown field `colour`", "problem"] },
        Row { what: "unknown key in [problem]", config: c("causal = false\n", "causal = false\nwindow = 3\n"), manifest: good_m.clone(), file: "c.toml", line: Some(9), key: "problem.window", words: &["unknown field `window`", "head_dim"] },
        Row { what: "wrong type", config: c("batch = 2", "batch = \"two\""), manifest: good_m.clone(), file: "c.toml", line: Some(4), key: "problem.batch", words: &["invalid type", "string"] },
        Row { what: "unknown dtype", config: c("dtype = \"f16\"", "dtype = \"bf16\""), manifest: good_m.clone(), file: "c.toml", line: Some(9), key: "problem.dtype", words: &["bf16", "f16"] },
        Row { what: "missing section", config: GOOD_CONFIG.split("[kernels]").next().unwrap_or_default().to_string(), manifest: good_m.clone(), file: "c.toml", line: Some(1), key: "", words: &["missing field `kernels`"] },
        Row { what: "missing kernel manifest", config: c("[\"k.toml\"]", "[\"nope.toml\"]"), manifest: good_m.clone(), file: "c.toml", line: Some(12), key: "kernels.under_test[0]", words: &["nope.toml", "does not exist"] },
        Row { what: "head dim the kernel lacks", config: c("head_dim = 64", "head_dim = 96"), manifest: good_m.clone(), file: "c.toml", line: Some(12), key: "kernels.under_test[0]", words: &["supports head dims [64, 128]", "D=96"] },
        Row { what: "length not a multiple", config: c("seq_len = 512", "seq_len = 500"), manifest: m("seq_multiple = 1", "seq_multiple = 64"), file: "c.toml", line: Some(12), key: "kernels.under_test[0]", words: &["multiple of 64", "S=500"] },
        Row { what: "tma ABI below sm_90", config: good_c.clone(), manifest: m("abi = \"attention_fwd_v1\"", "abi = \"attention_fwd_tma_v1\""), file: "k.toml", line: None, key: "min_arch", words: &["attention_fwd_tma_v1", "sm_90 or newer", "sm_80"] },
        Row { what: "tma ABI head dim not a multiple of 64", config: good_c.clone(), manifest: m("abi = \"attention_fwd_v1\"", "abi = \"attention_fwd_tma_v1\"").replace("min_arch = \"sm_80\"", "min_arch = \"sm_90\"").replace("head_dims = [64, 128]", "head_dims = [64, 96]"), file: "k.toml", line: Some(7), key: "head_dims", words: &["head dim 96", "multiple of 64"] },
        Row { what: "tma launch rule that can run below sm_90", config: good_c.clone(), manifest: format!("{GOOD_MANIFEST}\n[[launch_rule]]\nname = \"tma\"\nhead_dim = 64\nentry = \"k_tma\"\nblock_m = 64\nthreads = 128\nabi = \"attention_fwd_tma_v1\"\n"), file: "k.toml", line: Some(22), key: "launch_rule[0].abi", words: &["attention_fwd_tma_v1", "sm_80", "archs"] },
        Row { what: "launch rule with an unknown abi", config: good_c.clone(), manifest: format!("{GOOD_MANIFEST}\n[[launch_rule]]\nname = \"tma\"\nhead_dim = 64\nentry = \"k_tma\"\nblock_m = 64\nthreads = 128\nabi = \"attention_fwd_v9\"\n"), file: "k.toml", line: Some(22), key: "launch_rule[0].abi", words: &["attention_fwd_v9", "attention_fwd_tma_v1"] },
        Row { what: "arch older than the kernel", config: good_c.clone(), manifest: m("min_arch = \"sm_80\"", "min_arch = \"sm_90\""), file: "c.toml", line: Some(12), key: "kernels.under_test[0]", words: &["needs sm_90", "sm_80"] },
        Row { what: "not an arch", config: c("\"sm_80\", \"sm_90\"", "\"sm_61\""), manifest: good_m.clone(), file: "c.toml", line: Some(13), key: "kernels.archs[0]", words: &["sm_61", "older than sm_70"] },
        Row { what: "32-bit index overflow", config: c("batch = 2", "batch = 70000"), manifest: good_m.clone(), file: "c.toml", line: Some(3), key: "problem", words: &["overflows", "32-bit"] },
        Row { what: "zero-sized dimension", config: c("heads = 8", "heads = 0"), manifest: good_m.clone(), file: "c.toml", line: Some(3), key: "problem.heads", words: &["at least 1"] },
        Row { what: "no kernels", config: c("[\"k.toml\"]", "[]"), manifest: good_m.clone(), file: "c.toml", line: Some(12), key: "kernels.under_test", words: &["names no kernel"] },
        Row { what: "kernel twice", config: c("[\"k.toml\"]", "[\"k.toml\", \"./k.toml\"]"), manifest: good_m.clone(), file: "c.toml", line: Some(12), key: "kernels.under_test[1]", words: &["listed twice"] },
        Row { what: "suppression without reason", config: format!("{GOOD_CONFIG}\n[[sanitizer.suppress]]\ntool = \"racecheck\"\nkind = \"race_hazard\"\nkernel = \"k\"\nreason = \" \"\n"), manifest: good_m.clone(), file: "c.toml", line: Some(15), key: "sanitizer.suppress", words: &["no reason"] },
        Row { what: "unknown sanitizer tool", config: format!("{GOOD_CONFIG}\n[sanitizer]\ntools = [\"leakcheck\"]\n"), manifest: good_m.clone(), file: "c.toml", line: Some(16), key: "sanitizer.tools[0]", words: &["leakcheck", "memcheck"] },
        Row { what: "unknown oracle distribution", config: format!("{GOOD_CONFIG}\n[oracle]\ndistributions = [\"cauchy\"]\n"), manifest: good_m.clone(), file: "c.toml", line: Some(16), key: "oracle.distributions[0]", words: &["cauchy", "large_magnitude"] },
        Row { what: "negative scale", config: format!("{GOOD_CONFIG}\n[oracle]\nextra_scales = [-1.0]\n"), manifest: good_m.clone(), file: "c.toml", line: Some(16), key: "oracle.extra_scales", words: &["> 0"] },
        Row { what: "manifest unknown key", config: good_c.clone(), manifest: m("tensor_cores = false", "tensor_cores = false\nwarps = 4"), file: "k.toml", line: Some(12), key: "warps", words: &["unknown field `warps`"] },
        Row { what: "manifest missing source", config: good_c.clone(), manifest: m("source = \"k.cu\"", "source = \"gone.cu\""), file: "k.toml", line: Some(2), key: "source", words: &["gone.cu", "does not exist"] },
        Row { what: "manifest bad block size", config: good_c.clone(), manifest: m("threads = 128", "threads = 100"), file: "k.toml", line: Some(6), key: "threads", words: &["multiple of 32"] },
        Row { what: "manifest shared bytes for a dim it lacks", config: good_c.clone(), manifest: m("\"64\" = 1024", "\"96\" = 1024"), file: "k.toml", line: Some(13), key: "dynamic_shared_bytes.96", words: &["not one of this kernel's head_dims"] },
        Row { what: "manifest entry for a dim it lacks", config: good_c.clone(), manifest: format!("{GOOD_MANIFEST}\n[entry_by_head_dim]\n\"96\" = \"k_fwd_d96\"\n"), file: "k.toml", line: Some(16), key: "entry_by_head_dim.96", words: &["not one of this kernel's head_dims"] },
        Row { what: "manifest per-dim entry not an identifier", config: good_c.clone(), manifest: format!("{GOOD_MANIFEST}\n[entry_by_head_dim]\n\"64\" = \"k-fwd\"\n"), file: "k.toml", line: Some(16), key: "entry_by_head_dim.64", words: &["not a C identifier"] },
        Row { what: "manifest define with -D", config: good_c.clone(), manifest: m("tensor_cores = false", "tensor_cores = false\ndefines = [\"-DX=1\"]"), file: "k.toml", line: Some(12), key: "defines[0]", words: &["NAME or NAME=VALUE"] },
        Row { what: "manifest unknown abi", config: good_c.clone(), manifest: m("attention_fwd_v1", "attention_fwd_v2"), file: "k.toml", line: Some(4), key: "abi", words: &["attention_fwd_v2", "attention_fwd_v1"] },
        Row { what: "launch rule for a dim it lacks", config: good_c.clone(), manifest: format!("{GOOD_MANIFEST}\n[[launch_rule]]\nname = \"small\"\nhead_dim = 96\nmax_default_grid = 198\nentry = \"k_small\"\nblock_m = 32\nthreads = 128\ndynamic_shared_bytes = 2048\n"), file: "k.toml", line: Some(18), key: "launch_rule[0].head_dim", words: &["not one of this kernel's head_dims"] },
        Row { what: "launch rule entry not an identifier", config: good_c.clone(), manifest: format!("{GOOD_MANIFEST}\n[[launch_rule]]\nname = \"small\"\nhead_dim = 64\nmax_default_grid = 198\nentry = \"k small\"\nblock_m = 32\nthreads = 128\ndynamic_shared_bytes = 2048\n"), file: "k.toml", line: Some(20), key: "launch_rule[0].entry", words: &["not a C identifier"] },
        Row { what: "launch rule named default", config: good_c.clone(), manifest: format!("{GOOD_MANIFEST}\n[[launch_rule]]\nname = \"default\"\nhead_dim = 64\nmax_default_grid = 198\nentry = \"k_small\"\nblock_m = 32\nthreads = 128\ndynamic_shared_bytes = 2048\n"), file: "k.toml", line: Some(17), key: "launch_rule[0].name", words: &["not a launch name"] },
        Row { what: "launch rule bad block size", config: good_c.clone(), manifest: format!("{GOOD_MANIFEST}\n[[launch_rule]]\nname = \"small\"\nhead_dim = 64\nmax_default_grid = 198\nentry = \"k_small\"\nblock_m = 32\nthreads = 48\ndynamic_shared_bytes = 2048\n"), file: "k.toml", line: Some(22), key: "launch_rule[0].threads", words: &["multiple of 32"] },
        Row { what: "launch rule zero grid bound", config: good_c.clone(), manifest: format!("{GOOD_MANIFEST}\n[[launch_rule]]\nname = \"small\"\nhead_dim = 64\nmax_default_grid = 0\nentry = \"k_small\"\nblock_m = 32\nthreads = 128\ndynamic_shared_bytes = 2048\n"), file: "k.toml", line: Some(19), key: "launch_rule[0].max_default_grid", words: &["at least 1"] },
        Row { what: "launch rule zero lower grid bound", config: good_c.clone(), manifest: format!("{GOOD_MANIFEST}\n[[launch_rule]]\nname = \"small\"\nhead_dim = 64\nmin_default_grid = 0\nentry = \"k_small\"\nblock_m = 32\nthreads = 128\ndynamic_shared_bytes = 2048\n"), file: "k.toml", line: Some(19), key: "launch_rule[0].min_default_grid", words: &["at least 1"] },
        Row { what: "launch rule empty grid range", config: good_c.clone(), manifest: format!("{GOOD_MANIFEST}\n[[launch_rule]]\nname = \"small\"\nhead_dim = 64\nmin_default_grid = 200\nmax_default_grid = 198\nentry = \"k_small\"\nblock_m = 32\nthreads = 128\ndynamic_shared_bytes = 2048\n"), file: "k.toml", line: Some(19), key: "launch_rule[0].min_default_grid", words: &["above max_default_grid = 198", "no grid would choose"] },
        Row { what: "launch rule too much shared memory", config: good_c.clone(), manifest: format!("{GOOD_MANIFEST}\n[[launch_rule]]\nname = \"small\"\nhead_dim = 64\nmax_default_grid = 198\nentry = \"k_small\"\nblock_m = 32\nthreads = 128\ndynamic_shared_bytes = 300000\n"), file: "k.toml", line: Some(23), key: "launch_rule[0].dynamic_shared_bytes", words: &["227 KiB"] },
        Row { what: "launch rule unknown key", config: good_c.clone(), manifest: format!("{GOOD_MANIFEST}\n[[launch_rule]]\nname = \"small\"\nhead_dim = 64\nmax_default_grid = 198\nentry = \"k_small\"\nblock_m = 32\nwarps = 4\nthreads = 128\ndynamic_shared_bytes = 2048\n"), file: "k.toml", line: Some(22), key: "launch_rule[0].warps", words: &["unknown field `warps`"] },
        Row { what: "launch rule with no arch", config: good_c.clone(), manifest: format!("{GOOD_MANIFEST}\n[[launch_rule]]\nname = \"wg\"\nhead_dim = 64\narchs = []\nentry = \"k_wg\"\nblock_m = 64\nthreads = 128\n"), file: "k.toml", line: Some(19), key: "launch_rule[0].archs", words: &["names no arch"] },
        Row { what: "launch rule with an unknown arch", config: good_c.clone(), manifest: format!("{GOOD_MANIFEST}\n[[launch_rule]]\nname = \"wg\"\nhead_dim = 64\narchs = [\"sm_61\"]\nentry = \"k_wg\"\nblock_m = 64\nthreads = 128\n"), file: "k.toml", line: Some(19), key: "launch_rule[0].archs[0]", words: &["sm_61"] },
        Row { what: "manifest unknown control gate", config: good_c, manifest: format!("{GOOD_MANIFEST}\n[control]\ngate = \"vibes\"\nexpect = \"x\"\n"), file: "k.toml", line: Some(17), key: "control.gate", words: &["vibes", "racecheck"] },
    ]
}

#[test]
fn good_config_loads() {
    let cfg = load(GOOD_CONFIG, GOOD_MANIFEST).expect("the good fixture must load");
    assert_eq!(cfg.name, "t");
    assert_eq!(cfg.kernels.under_test[0].shared_bytes_for(64), 1024);
    assert_eq!(cfg.kernels.under_test[0].shared_bytes_for(128), 0);
    assert_eq!(cfg.oracle.trials, 2, "absent [oracle] takes its defaults");
}

#[test]
fn entry_by_head_dim_picks_the_entry_and_defaults_to_entry() {
    let manifest = format!("{GOOD_MANIFEST}\n[entry_by_head_dim]\n\"128\" = \"k_fwd_d128\"\n");
    let cfg = load(GOOD_CONFIG, &manifest).expect("per-dim entries must load");
    let m = &cfg.kernels.under_test[0];
    assert_eq!(m.entry_for(128), "k_fwd_d128");
    assert_eq!(
        m.entry_for(64),
        "k_fwd",
        "a dim without a row launches `entry`"
    );
    assert_eq!(m.entries(), vec!["k_fwd", "k_fwd_d128"]);
    let plain = load(GOOD_CONFIG, GOOD_MANIFEST).expect("good fixture");
    assert_eq!(plain.kernels.under_test[0].entry_for(128), "k_fwd");
}

const SMALL_GRID_RULE: &str = "\n[[launch_rule]]\nname = \"small\"\nhead_dim = 64\nmax_default_grid = 198\nentry = \"k_small\"\nblock_m = 32\nthreads = 128\ndynamic_shared_bytes = 2048\n";
const SM90A_RULE: &str = "\n[[launch_rule]]\nname = \"wg\"\nhead_dim = 64\narchs = [\"sm_90a\"]\nentry = \"k_wg\"\nblock_m = 64\nthreads = 128\ndynamic_shared_bytes = 4096\n";

fn arch(s: &str) -> cudadent_config::Arch {
    s.parse().expect("an arch")
}

#[test]
fn a_launch_rule_is_chosen_only_for_its_head_dim_grid_bound_and_arch() {
    let manifest = format!("{GOOD_MANIFEST}{SMALL_GRID_RULE}{SM90A_RULE}");
    let cfg = load(GOOD_CONFIG, &manifest).expect("loads");
    let m = &cfg.kernels.under_test[0];
    let (sm80, sm90, sm90a) = (arch("sm_80"), arch("sm_90"), arch("sm_90a"));
    // GOOD_CONFIG: B2 H8 S512 D64, block_m 64 -> 8 x 8 x 2 = 128 CTAs <= 198.
    let mut p = cfg.problem;
    assert_eq!(m.default_grid_ctas(&p), 128);
    for a in [sm80, sm90a] {
        let chosen = m.launch_for(&p, a);
        assert_eq!(
            (
                chosen.name.as_str(),
                chosen.entry.as_str(),
                chosen.block_m,
                chosen.threads,
                chosen.shared_bytes
            ),
            ("small", "k_small", 32, 128, 2048),
            "the first matching rule wins, on {a}"
        );
        assert_eq!(chosen.geometry(&p), ((16, 8, 2), (128, 1, 1), 2048));
    }
    // 199 CTAs and more: the sm_90a rule from an sm_90a cubin, the default elsewhere.
    p.batch = 4; // 256 CTAs
    let d = m.launch_for(&p, sm90);
    assert!(d.is_default(), "256 CTAs > 198 on sm_90: {d:?}");
    assert_eq!(
        (d.entry.as_str(), d.block_m, d.shared_bytes),
        ("k_fwd", 64, 1024)
    );
    let wg = m.launch_for(&p, sm90a);
    assert_eq!(
        (wg.name.as_str(), wg.entry.as_str(), wg.shared_bytes),
        ("wg", "k_wg", 4096)
    );
    // Another head dim: no rule applies.
    p.batch = 1;
    p.head_dim = 128;
    assert!(m.launch_for(&p, sm90a).is_default());
    // Every launch that can run at a head dim from a cubin of an arch, default first.
    let names = |d, a| {
        m.launches_at(d, a)
            .into_iter()
            .map(|l| l.name)
            .collect::<Vec<_>>()
    };
    assert_eq!(names(64, sm80), vec!["default", "small"]);
    assert_eq!(names(64, sm90a), vec!["default", "small", "wg"]);
    assert_eq!(names(128, sm90a), vec!["default"]);
    assert_eq!(m.entries(), vec!["k_fwd", "k_small", "k_wg"]);
    assert!(m.launch_named(64, "small", sm80).is_some());
    assert!(
        m.launch_named(64, "wg", sm90).is_none(),
        "not in an sm_90 cubin"
    );
    assert!(m.launch_named(128, "small", sm80).is_none());
}

#[test]
fn a_lower_grid_bound_hands_smaller_grids_to_the_next_rule() {
    // A rule for grids of 64..=198 default CTAs first, then the small-grid rule: the first
    // matching rule wins, so grids under 64 fall through to `small`.
    let mid = "\n[[launch_rule]]\nname = \"mid\"\nhead_dim = 64\nmin_default_grid = 64\nmax_default_grid = 198\narchs = [\"sm_90a\"]\nentry = \"k_mid\"\nblock_m = 64\nthreads = 128\ndynamic_shared_bytes = 4096\n";
    let manifest = format!("{GOOD_MANIFEST}{mid}{SMALL_GRID_RULE}");
    let cfg = load(GOOD_CONFIG, &manifest).expect("loads");
    let m = &cfg.kernels.under_test[0];
    let mut p = cfg.problem;
    let name = |p: &cudadent_config::Problem, a: &str| m.launch_for(p, arch(a)).name;
    // GOOD_CONFIG: 8 x 8 x 2 = 128 CTAs.
    assert_eq!(name(&p, "sm_90a"), "mid");
    assert_eq!(
        name(&p, "sm_80"),
        "small",
        "`mid` is for sm_90a cubins only"
    );
    p.batch = 1; // 64 CTAs: the bound is inclusive
    assert_eq!(name(&p, "sm_90a"), "mid");
    p.heads = 4; // 32 CTAs
    assert_eq!(name(&p, "sm_90a"), "small");
    p.batch = 8; // 256 CTAs: neither rule
    assert_eq!(name(&p, "sm_90a"), "default");
}

#[test]
fn every_bad_input_is_rejected_with_file_line_key_and_reason() {
    let mut failures = Vec::new();
    for row in rows() {
        match load(&row.config, &row.manifest) {
            Ok(_) => failures.push(format!("{}: accepted", row.what)),
            Err(ConfigError::Invalid {
                file,
                line,
                key,
                message,
            }) => {
                let shown = ConfigError::Invalid {
                    file: file.clone(),
                    line,
                    key: key.clone(),
                    message: message.clone(),
                }
                .to_string();
                if file.file_name() != Some(Path::new(row.file).as_os_str()) {
                    failures.push(format!(
                        "{}: blamed {} not {}",
                        row.what,
                        file.display(),
                        row.file
                    ));
                }
                if line != row.line {
                    failures.push(format!(
                        "{}: line {:?}, want {:?} ({shown})",
                        row.what, line, row.line
                    ));
                }
                if key != row.key {
                    failures.push(format!(
                        "{}: key `{key}`, want `{}` ({shown})",
                        row.what, row.key
                    ));
                }
                for w in row.words {
                    if !shown.contains(w) {
                        failures.push(format!("{}: message lacks `{w}`: {shown}", row.what));
                    }
                }
            }
            Err(other) => failures.push(format!("{}: wrong error kind: {other}", row.what)),
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn kernel_flag_replaces_the_configs_kernels_and_is_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("k.cu"), "").expect("write");
    std::fs::write(dir.path().join("k.toml"), GOOD_MANIFEST).expect("write");
    std::fs::write(dir.path().join("c.toml"), GOOD_CONFIG).expect("write");
    let other = tempfile::tempdir().expect("tempdir");
    std::fs::write(other.path().join("mine.cu"), "").expect("write");
    let mine = edit(
        &edit(GOOD_MANIFEST, "name = \"k\"", "name = \"mine\""),
        "k.cu",
        "mine.cu",
    );
    std::fs::write(other.path().join("mine.toml"), &mine).expect("write");
    let cfg = Config::load(&dir.path().join("c.toml")).expect("load");
    let cfg = cfg
        .with_kernels(&[other.path().join("mine.toml")])
        .expect("replace");
    assert_eq!(cfg.kernels.under_test.len(), 1);
    assert_eq!(cfg.kernels.under_test[0].name, "mine");
    assert!(cfg.kernels.under_test[0].source_path.ends_with("mine.cu"));
    // A kernel that cannot run the shape is refused, naming its manifest.
    let narrow =
        edit(&mine, "head_dims = [64, 128]", "head_dims = [128]").replace("\"64\" = 1024", "");
    std::fs::write(other.path().join("narrow.toml"), narrow).expect("write");
    let cfg = Config::load(&dir.path().join("c.toml")).expect("load");
    let err = cfg
        .with_kernels(&[other.path().join("narrow.toml")])
        .expect_err("must refuse");
    assert!(err.to_string().contains("narrow.toml"), "{err}");
    assert!(err.to_string().contains("D=64"), "{err}");
}

#[test]
fn canon_configs_of_the_repository_load() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for n in 1..=6 {
        let p = root.join(format!("configs/canon_{n}.toml"));
        let cfg = Config::load(&p).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cfg.name, format!("canon_{n}"));
        assert!(!cfg.kernels.under_test.is_empty());
    }
}

#[test]
fn a_tma_manifest_on_sm_90_loads() {
    let manifest = edit(
        GOOD_MANIFEST,
        "abi = \"attention_fwd_v1\"",
        "abi = \"attention_fwd_tma_v1\"",
    )
    .replace("min_arch = \"sm_80\"", "min_arch = \"sm_90\"");
    let config = edit(
        GOOD_CONFIG,
        "archs = [\"sm_80\", \"sm_90\"]",
        "archs = [\"sm_90\"]",
    );
    let c = load(&config, &manifest).expect("a tma manifest with min_arch sm_90 loads");
    assert_eq!(
        c.kernels.under_test[0].abi,
        cudadent_config::Abi::AttentionFwdTmaV1
    );
}

#[test]
fn a_tma_launch_rule_takes_its_own_abi() {
    let manifest = format!(
        "{GOOD_MANIFEST}\n[[launch_rule]]\nname = \"tma\"\nhead_dim = 64\narchs = [\"sm_90a\"]\nentry = \"k_tma\"\nblock_m = 64\nthreads = 128\nabi = \"attention_fwd_tma_v1\"\n"
    );
    let config = edit(
        GOOD_CONFIG,
        "archs = [\"sm_80\", \"sm_90\"]",
        "archs = [\"sm_80\", \"sm_90a\"]",
    );
    let c = load(&config, &manifest).expect("a tma rule restricted to sm_90a loads");
    let m = &c.kernels.under_test[0];
    let sm90a: cudadent_config::Arch = "sm_90a".parse().expect("arch");
    let launches = m.launches_at(64, sm90a);
    let abis: Vec<_> = launches
        .iter()
        .map(|l| (l.name.as_str(), m.abi_of(l)))
        .collect();
    assert_eq!(
        abis,
        vec![
            ("default", cudadent_config::Abi::AttentionFwdV1),
            ("tma", cudadent_config::Abi::AttentionFwdTmaV1)
        ]
    );
}
