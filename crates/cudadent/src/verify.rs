//! `cudadent verify`: build, then every gate in order, then one table.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use cli_support::{build_all, exit, CommonArgs, Output};
use tabled::{Table, Tabled};

/// The gates `verify` runs, in order: (gate name for --only/--skip, binary).
const GATES: &[(&str, &str)] = &[
    ("inspect", "sass-inspect"),
    ("oracle", "oracle"),
    ("sanitizer", "sanitizer-gate"),
    ("bench", "bench"),
];

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Run only these gates (comma-separated: build, inspect, oracle, sanitizer, bench).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Skip these gates (comma-separated).
    #[arg(long, value_delimiter = ',')]
    skip: Vec<String>,
}

#[derive(Tabled)]
struct Row {
    gate: String,
    verdict: String,
    exit: String,
    seconds: String,
    detail: String,
}

fn verdict_word(code: u8) -> &'static str {
    match code {
        exit::PASS => "pass",
        exit::GATE_FAILED => "FAIL",
        exit::BAD_INPUT => "bad input",
        exit::CANNOT_RUN => "not run",
        _ => "error",
    }
}

pub fn build_only(common: &CommonArgs, debug: bool) -> anyhow::Result<u8> {
    let out = Output::from_args(common);
    let cfg = common.load_config()?;
    let tc = common.toolchain()?;
    let built = build_all(&cfg, &tc, debug)?;
    for k in &built {
        for c in &k.cubins {
            out.line(format!(
                "{} {} {} sha256 {}{}",
                k.manifest.name,
                c.arch,
                c.cubin.display(),
                &c.sha256[..16],
                if c.cached { " (cached)" } else { "" }
            ));
        }
    }
    Ok(exit::PASS)
}

pub fn run(common: &CommonArgs, args: &VerifyArgs) -> anyhow::Result<u8> {
    let out = Output::from_args(common);
    let known: Vec<&str> = std::iter::once("build")
        .chain(GATES.iter().map(|g| g.0))
        .collect();
    for g in args.only.iter().chain(&args.skip) {
        if !known.contains(&g.as_str()) {
            return Err(cli_support::bad_input(format!(
                "unknown gate `{g}` in --only/--skip (known: {})",
                known.join(", ")
            )));
        }
    }
    let wanted = |g: &str| {
        (args.only.is_empty() || args.only.iter().any(|o| o == g))
            && !args.skip.iter().any(|s| s == g)
    };
    let cfg = common.load_config()?;
    let t0 = Instant::now();
    let mut rows = Vec::new();
    let mut codes = Vec::new();
    // --junit: each gate writes its own report beside ours; ours has a case per stage.
    let mut junit = cli_support::ci::Junit::new("verify");
    let suite = format!("verify.{}", cfg.name);

    // The build is a stage of its own: every gate loads the cubins it leaves in the cache.
    if wanted("build") || GATES.iter().any(|g| wanted(g.0)) {
        let t = Instant::now();
        out.progress(format!(
            "[{:>6.1}s] build: {} kernels x {} archs",
            t0.elapsed().as_secs_f64(),
            cfg.all_kernels().count(),
            cfg.kernels.archs.len()
        ));
        let tc = common.toolchain()?;
        let built = build_all(&cfg, &tc, false)?;
        let fresh = built
            .iter()
            .flat_map(|k| &k.cubins)
            .filter(|c| !c.cached)
            .count();
        let total = built.iter().map(|k| k.cubins.len()).sum::<usize>();
        rows.push(Row {
            gate: "build".into(),
            verdict: "pass".into(),
            exit: "0".into(),
            seconds: format!("{:.1}", t.elapsed().as_secs_f64()),
            detail: format!(
                "{total} cubins ({fresh} compiled, {} cached), nvcc {}",
                total - fresh,
                tc.version()
            ),
        });
        codes.push(exit::PASS);
        junit.push(
            &suite,
            cli_support::ci::Case::pass("build").detail(&rows[rows.len() - 1].detail),
        );
    }

    for &(gate, binary) in GATES {
        if !wanted(gate) {
            continue;
        }
        let t = Instant::now();
        out.progress(format!(
            "[{:>6.1}s] {gate}: running {binary}",
            t0.elapsed().as_secs_f64()
        ));
        let gate_junit = common.junit.as_deref().map(|p| gate_junit_path(p, binary));
        let (code, detail) = run_gate(common, binary, gate_junit.as_deref())?;
        out.progress(format!(
            "[{:>6.1}s] {gate}: {} ({detail})",
            t0.elapsed().as_secs_f64(),
            verdict_word(code)
        ));
        let case = match code {
            exit::PASS => cli_support::ci::Case::pass(gate),
            exit::CANNOT_RUN => cli_support::ci::Case::skipped(gate, detail.as_str()),
            _ => cli_support::ci::Case::fail(
                gate,
                format!("{binary}: {} (exit {code}): {detail}", verdict_word(code)),
            ),
        };
        junit.push(&suite, case.property("exit", code));
        rows.push(Row {
            gate: gate.into(),
            verdict: verdict_word(code).into(),
            exit: code.to_string(),
            seconds: format!("{:.1}", t.elapsed().as_secs_f64()),
            detail,
        });
        codes.push(code);
    }
    if let Some(path) = &common.junit {
        junit.write(path)?;
    }
    out.line(format!(
        "config {} ({:.1}s)",
        cfg.name,
        t0.elapsed().as_secs_f64()
    ));
    out.line(
        Table::new(rows)
            .with(tabled::settings::Style::sharp())
            .to_string(),
    );
    // Worst first: a failed gate outranks bad input, which outranks "not run".
    let code = [exit::GATE_FAILED, exit::BAD_INPUT, exit::CANNOT_RUN]
        .into_iter()
        .find(|c| codes.contains(c))
        .unwrap_or(exit::PASS);
    Ok(code)
}

/// Where a gate's own JUnit report goes under `verify --junit FILE`: beside FILE, the
/// gate's binary name before the extension (`ci/verify.xml` -> `ci/verify.oracle.xml`).
fn gate_junit_path(file: &Path, binary: &str) -> PathBuf {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "junit".into());
    let name = match file.extension() {
        Some(ext) => format!("{stem}.{binary}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{binary}"),
    };
    file.with_file_name(name)
}

/// Runs one gate binary with the common flags (and its own `--junit` file, if any);
/// returns its exit code and the last line of its stderr (its one-line reason) or "ok".
fn run_gate(
    common: &CommonArgs,
    binary: &str,
    junit: Option<&Path>,
) -> anyhow::Result<(u8, String)> {
    let exe = match sibling(binary) {
        Ok(p) => p,
        Err(e) => return Ok((exit::CANNOT_RUN, e.to_string())),
    };
    let mut argv: Vec<String> = vec![
        "--config".into(),
        common.config.display().to_string(),
        "--out".into(),
        common.out.display().to_string(),
    ];
    for k in &common.kernels {
        argv.push("--kernel".into());
        argv.push(k.display().to_string());
    }
    if let Some(r) = &common.cuda_root {
        argv.push("--cuda-root".into());
        argv.push(r.display().to_string());
    }
    if common.quiet {
        argv.push("--quiet".into());
    }
    if let Some(j) = junit {
        argv.push("--junit".into());
        argv.push(j.display().to_string());
    }
    // The gate's own output goes straight to our stderr/stdout; we keep its stderr tail.
    let o = child_guard::output(
        &duct::cmd(&exe, &argv)
            .stderr_capture()
            .stdout_to_stderr()
            .unchecked(),
    )
    .with_context(|| format!("could not start {}", exe.display()))?;
    let stderr = String::from_utf8_lossy(&o.stderr);
    eprint!("{stderr}");
    let code = o.status.code().map(|c| c as u8).unwrap_or(exit::CANNOT_RUN);
    let detail = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().chars().take(160).collect())
        .unwrap_or_else(|| "ok".into());
    Ok((
        code,
        if code == exit::PASS {
            "ok".into()
        } else {
            detail
        },
    ))
}

fn sibling(binary: &str) -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe().context("locating the cudadent executable")?;
    let p = me.with_file_name(binary);
    if p.is_file() {
        Ok(p)
    } else {
        Err(cli_support::cannot_run(format!(
            "gate binary {} not found beside cudadent; build the workspace (cargo build --release --workspace)",
            p.display()
        )))
    }
}
