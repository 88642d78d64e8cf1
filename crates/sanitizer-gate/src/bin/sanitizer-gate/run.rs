//! Orchestration: find the tools, build, run every (tool, kernel) and (tool, control),
//! write the evidence. The rules live in the library's `gate` module.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use cli_support::{bad_input, build_all, cannot_run, header, Output};
use cudadent_config::{Config, KernelManifest, SanitizerTool, Suppression};
use cudadent_evidence::{now_rfc3339, sha256_bytes, write_atomic, write_json_atomic, Verdict};
use kernel_runtime::toolchain::{self, Toolchain};
use sanitizer_gate::command::{sanitizer_args, Target, PRINT_LIMIT};
use sanitizer_gate::controls;
use sanitizer_gate::finding::FindingKind;
use sanitizer_gate::gate::{self, Evaluation, Role, RunContext};
use sanitizer_gate::parse::{parse_log, GATE_PREFIX};
use sanitizer_gate::process::{self, shell_line};
use sanitizer_gate::report::{self, GateSummary, RunRecord, SanitizerInfo, SourceFile};
use serde::Serialize;

use crate::Cli;

/// The config controls run on when --control-config is not given, beside --config.
const DEFAULT_CONTROL_CONFIG: &str = "canon_1.toml";

pub fn main(cli: &Cli) -> anyhow::Result<u8> {
    let out = Output::from_args(&cli.common);
    if let Some(log) = &cli.from_log {
        return from_log(cli, log, &out);
    }
    let started = Instant::now();
    let started_at = now_rfc3339();
    let cfg = cli.common.load_config()?;
    check_suppressions(&cfg.sanitizer.suppress)?;
    let _run_lock = cli.common.lock_gate_dir("sanitizers", &cfg.name)?;
    let tools = tools_of(cli, &cfg)?;
    let tc = cli.common.toolchain()?;
    let cs = compute_sanitizer(cli, &tc)?;
    let oracle = oracle_path(cli)?;
    let selftest_dir = cli.selftest_dir.clone().unwrap_or_else(|| {
        toolchain::repository_root()
            .unwrap_or_else(|| PathBuf::from("."))
            .join("kernels/selftest")
    });
    let all_controls = controls::scan(&selftest_dir)?;
    let control_cfg_path = cli.control_config.clone().unwrap_or_else(|| {
        cfg.path
            .parent()
            .unwrap_or(Path::new("."))
            .join(DEFAULT_CONTROL_CONFIG)
    });
    let control_cfg = Config::load(&control_cfg_path)?;
    // No driver or no GPU: exit 3 here, before anything runs.
    let device = {
        let gpu = kernel_runtime::device::Gpu::open(0)?;
        gpu.info().clone()
    };
    // Build what the oracle will build, so the launches under the sanitizer find every
    // cubin in the cache (and a kernel that does not compile is bad input, exit 2).
    let built = build_all(&cfg, &tc, false)?;
    let mut runs: Vec<RunRecord> = Vec::new();
    // (tool, kernel, role, launch): every launch of a kernel under test that can run at
    // this head dim, so that a launch rule's entry is sanitized even on configs that
    // choose another.
    let mut plan: Vec<(SanitizerTool, KernelManifest, Role, Option<String>)> = Vec::new();
    // The arch of the cubin the oracle will load for each kernel under test on this device:
    // it decides which launch rules exist.
    let loaded_arch = |m: &KernelManifest| {
        built
            .iter()
            .find(|b| b.manifest.name == m.name)
            .and_then(|b| kernel_runtime::device::pick_cubin(device.arch, b))
            .map(|c| c.arch)
            .unwrap_or(device.arch)
    };
    for &tool in &tools {
        for m in &cfg.kernels.under_test {
            for l in m.launches_at(cfg.problem.head_dim, loaded_arch(m)) {
                plan.push((tool, m.clone(), Role::UnderTest, Some(l.name)));
            }
        }
        let mine = controls::for_tool(&all_controls, tool);
        if mine.is_empty() {
            out.progress(format!(
                "sanitizer-gate: no manifest in {} declares [control] gate = \"{}\"",
                selftest_dir.display(),
                tool.name()
            ));
        }
        for c in mine {
            match control_cfg
                .clone()
                .with_kernels(std::slice::from_ref(&c.manifest_path))
            {
                Ok(ccfg) => {
                    build_all(&ccfg, &tc, false)
                        .with_context(|| format!("building planted-bug control `{}`", c.name))?;
                    plan.push((tool, c.clone(), Role::Control, None));
                }
                Err(e) => runs.push(not_run(
                    tool,
                    c,
                    format!("the control cannot run config `{}`: {e}", control_cfg.name),
                )),
            }
        }
    }
    let dir = cli.common.gate_dir("sanitizers", &cfg.name);
    let timeout = Duration::from_secs(cli.timeout_s.unwrap_or(cfg.sanitizer.timeout_s).max(1));
    let total = plan.len();
    for (i, (tool, m, role, launch)) in plan.iter().enumerate() {
        let (run_cfg, run_cfg_path) = match role {
            Role::UnderTest => (&cfg, cfg.path.as_path()),
            Role::Control => (&control_cfg, control_cfg_path.as_path()),
        };
        let target = Target {
            oracle: relative_to_cwd(&oracle),
            config: relative_to_cwd(run_cfg_path),
            manifest: relative_to_cwd(&m.manifest_path),
            cuda_root: cli.common.cuda_root.clone(),
            launch: launch.clone(),
        };
        // Controls run as their manifest chooses: named like a default launch.
        let named = launch.as_deref().unwrap_or(cudadent_config::DEFAULT_LAUNCH);
        let label = cudadent_config::launch_label(&m.name, named);
        let args = sanitizer_args(*tool, cfg.sanitizer.padding_bytes, &target);
        let command = shell_line(&cs.path, &args);
        out.progress(format!(
            "[{:>6.1}s] run {}/{total}: {} {}{}",
            started.elapsed().as_secs_f64(),
            i + 1,
            tool.name(),
            label,
            if *role == Role::Control {
                " (planted-bug control)"
            } else {
                ""
            }
        ));
        let cap = process::run_captured(&cs.path, &args, timeout)
            .map_err(|e| cannot_run(format!("could not start {command}: {e}")))?;
        let mut text = format!("{GATE_PREFIX} command: {command}\n");
        text.push_str(&String::from_utf8_lossy(&cap.output));
        if !text.ends_with('\n') {
            text.push('\n');
        }
        if cap.truncated {
            text.push_str(&format!(
                "{GATE_PREFIX} output truncated at {} bytes\n",
                process::MAX_OUTPUT
            ));
        }
        text.push_str(&format!(
            "{GATE_PREFIX} {}\n",
            cap.exit.annotation(cap.wall_s)
        ));
        let log_name = format!(
            "{}.{}.log",
            cudadent_config::launch_file_stem(&m.name, named),
            tool.name()
        );
        write_atomic(&dir.join(&log_name), text.as_bytes())?;
        let parsed = parse_log(&text);
        let eval = gate::evaluate(
            &parsed,
            &RunContext {
                tool: *tool,
                kernel: &m.name,
                config: Some(&run_cfg.name),
                role: *role,
                suppressions: &cfg.sanitizer.suppress,
                launch: launch.as_deref(),
                exit: Some(cap.exit.clone()),
            },
        );
        out.progress(format!(
            "          -> {}: {}",
            format!("{:?}", eval.verdict).to_lowercase(),
            eval.reason
        ));
        runs.push(RunRecord {
            eval,
            kernel_launch: launch.clone(),
            log: log_name,
            log_sha256: sha256_bytes(text.as_bytes()),
            wall_s: cap.wall_s,
            command,
            truncated: cap.truncated,
        });
    }
    let mut evals: Vec<Evaluation> = runs.iter().map(|r| r.eval.clone()).collect();
    gate::apply_controls(&mut evals);
    for (r, e) in runs.iter_mut().zip(evals) {
        r.eval = e;
    }
    let (verdict, reason) = gate::overall(
        &runs.iter().map(|r| r.eval.clone()).collect::<Vec<_>>(),
        &tools,
    );
    let evals: Vec<&Evaluation> = runs.iter().map(|r| &r.eval).collect();
    let repo = toolchain::repository_root();
    let sources: Vec<SourceFile> = cfg
        .kernels
        .under_test
        .iter()
        .chain(all_controls.iter())
        .map(|m| SourceFile {
            kernel: m.name.clone(),
            path: repo
                .as_ref()
                .and_then(|r| {
                    absolute(&m.source_path)
                        .strip_prefix(r)
                        .ok()
                        .map(Path::to_path_buf)
                })
                .unwrap_or_else(|| m.source_path.clone()),
        })
        .collect();
    let sarif = report::sarif(&evals, &sources, env!("CARGO_PKG_VERSION"));
    write_json_atomic(&dir.join("sanitizers.sarif"), &sarif)?;
    let mut h = header(
        "sanitizer-gate",
        &cfg,
        started,
        started_at,
        verdict,
        reason.clone(),
    );
    cli_support::record_run(
        &mut h,
        &tc,
        &built[..cfg.kernels.under_test.len()],
        Some(&device),
    );
    let summary = GateSummary {
        header: h,
        loaded_arch: cfg
            .kernels
            .under_test
            .first()
            .map(|m| loaded_arch(m).to_string()),
        compute_sanitizer: SanitizerInfo {
            path: cs.path.display().to_string(),
            version: cs.version.clone(),
        },
        tools: tools.clone(),
        control_config: Some(control_cfg.name.clone()),
        print_limit: PRINT_LIMIT,
        padding_bytes: cfg.sanitizer.padding_bytes,
        timeout_s: timeout.as_secs(),
        lines_not_understood: runs.iter().map(|r| r.eval.lines_not_understood).sum(),
        runs,
    };
    write_json_atomic(&dir.join("summary.json"), &summary)?;
    // CI outputs, after the summary: the job summary's table, then the JUnit report.
    let evals: Vec<&Evaluation> = summary.runs.iter().map(|r| &r.eval).collect();
    cli_support::ci::append_step_summary(&crate::ci::markdown(
        &format!("`{}`", cfg.name),
        verdict,
        &reason,
        &evals,
    ))?;
    if let Some(path) = &cli.common.junit {
        crate::ci::junit(&cfg.name, &evals).write(path)?;
    }
    let table = report::findings_table(
        summary
            .runs
            .iter()
            .flat_map(|r| r.eval.findings.iter().map(move |g| (g, r.eval.control))),
    );
    if !table.is_empty() {
        out.line(table);
    }
    out.line(report::runs_table(
        &summary.runs.iter().map(|r| &r.eval).collect::<Vec<_>>(),
    ));
    out.line(format!(
        "sanitizer-gate: {} for config `{}`: {reason}",
        format!("{verdict:?}").to_uppercase(),
        cfg.name
    ));
    out.line(format!("evidence: {}", cli_support::shown(&dir)));
    out.summary(&summary)?;
    Ok(verdict.exit_code())
}

/// `p` relative to the current directory where it lies below it, so that commands recorded
/// in logs and summaries name repository paths, not where this machine keeps the checkout.
fn relative_to_cwd(p: &Path) -> PathBuf {
    let Ok(cwd) = std::env::current_dir() else {
        return p.to_path_buf();
    };
    match absolute(p).strip_prefix(absolute(&cwd)) {
        Ok(rel) if !rel.as_os_str().is_empty() => Path::new(".").join(rel),
        _ => p.to_path_buf(),
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// A control that could not be run at all: an error row, never a pass.
fn not_run(tool: SanitizerTool, m: &KernelManifest, why: String) -> RunRecord {
    RunRecord {
        eval: Evaluation {
            kernel: m.name.clone(),
            tool,
            control: true,
            caught: Some(false),
            errors: None,
            warnings: None,
            not_printed: 0,
            findings: Vec::new(),
            verdict: Verdict::Error,
            reason: why.clone(),
            reasons: vec![why],
            exit: None,
            launch: None,
            problems: Vec::new(),
            lines_not_understood: 0,
            unknown_lines: Vec::new(),
        },
        kernel_launch: None,
        log: String::new(),
        log_sha256: String::new(),
        wall_s: 0.0,
        command: String::new(),
        truncated: false,
    }
}

fn tools_of(cli: &Cli, cfg: &Config) -> anyhow::Result<Vec<SanitizerTool>> {
    let mut tools: Vec<SanitizerTool> = if cli.tools.is_empty() {
        cfg.sanitizer.tools.clone()
    } else {
        cli.tools.clone()
    };
    let mut seen = Vec::new();
    tools.retain(|t| {
        let new = !seen.contains(t);
        seen.push(*t);
        new
    });
    if tools.is_empty() {
        return Err(bad_input(format!(
            "config `{}` lists no [sanitizer] tools and no --tool was given",
            cfg.name
        )));
    }
    Ok(tools)
}

/// A suppression whose kind no finding can have would never match: reject it.
fn check_suppressions(sups: &[Suppression]) -> anyhow::Result<()> {
    for s in sups {
        if !FindingKind::NAMES.contains(&s.kind.as_str()) {
            return Err(bad_input(format!(
                "[[sanitizer.suppress]] for kernel `{}`: unknown kind `{}` (known: {})",
                s.kernel,
                s.kind,
                FindingKind::NAMES.join(", ")
            )));
        }
    }
    Ok(())
}

struct SanitizerExe {
    path: PathBuf,
    version: Option<String>,
}

fn compute_sanitizer(cli: &Cli, tc: &Toolchain) -> anyhow::Result<SanitizerExe> {
    if let Some(p) = &cli.compute_sanitizer {
        if !p.is_file() {
            return Err(cannot_run(format!(
                "compute-sanitizer not found at {} (given with --compute-sanitizer)",
                p.display()
            )));
        }
        let version = std::process::Command::new(p)
            .arg("--version")
            .output()
            .ok()
            .and_then(|o| {
                toolchain::parse_version(&format!(
                    "{}\n{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                ))
            });
        return Ok(SanitizerExe {
            path: p.clone(),
            version,
        });
    }
    match toolchain::find_compute_sanitizer(Some(tc)) {
        Some(t) => Ok(SanitizerExe {
            path: t.path,
            version: t.version,
        }),
        None => Err(cannot_run(format!(
            "compute-sanitizer not found (looked in {0}/bin, {0}/compute-sanitizer, on PATH, in /usr/local/cuda); it ships with the full CUDA toolkit on the GPU machine, or pass --compute-sanitizer PATH",
            tc.root.display()
        ))),
    }
}

fn oracle_path(cli: &Cli) -> anyhow::Result<PathBuf> {
    let p = match &cli.oracle {
        Some(p) => p.clone(),
        None => std::env::current_exe()
            .context("locating this executable")?
            .parent()
            .unwrap_or(Path::new("."))
            .join("oracle"),
    };
    if !p.is_file() {
        return Err(cannot_run(format!(
            "the oracle (the sanitizer's target) is not at {}: build it beside sanitizer-gate (cargo build --release -p oracle) or pass --oracle PATH",
            p.display()
        )));
    }
    Ok(p)
}

#[derive(Serialize)]
struct FromLog<'a> {
    log: String,
    gate_command: Option<&'a str>,
    #[serde(flatten)]
    eval: &'a Evaluation,
}

fn from_log(cli: &Cli, path: &Path, out: &Output) -> anyhow::Result<u8> {
    let tool = match cli.tools.as_slice() {
        [t] => *t,
        _ => {
            return Err(bad_input(
                "--from-log needs exactly one --tool (memcheck, racecheck, initcheck or synccheck): the one that wrote the log",
            ))
        }
    };
    let bytes = std::fs::read(path)
        .map_err(|e| bad_input(format!("cannot read {}: {e}", path.display())))?;
    let text = String::from_utf8_lossy(&bytes);
    let sups: Vec<Suppression> = if cli.apply_suppressions {
        let cfg = cli.common.load_config()?;
        check_suppressions(&cfg.sanitizer.suppress)?;
        cfg.sanitizer.suppress
    } else {
        Vec::new()
    };
    let parsed = parse_log(&text);
    let kernel = cli
        .kernel_name
        .clone()
        .or_else(|| parsed.launches.first().map(|l| l.kernel.clone()))
        .unwrap_or_else(|| "unknown".to_string());
    let role = if cli.control {
        Role::Control
    } else {
        Role::UnderTest
    };
    let eval = gate::evaluate(
        &parsed,
        &RunContext {
            tool,
            kernel: &kernel,
            config: None,
            role,
            suppressions: &sups,
            launch: None,
            exit: None,
        },
    );
    let table = report::findings_table(eval.findings.iter().map(|g| (g, eval.control)));
    if !table.is_empty() {
        out.line(table);
    }
    if eval.lines_not_understood > 0 {
        out.line(format!(
            "{} sanitizer line(s) not understood, first: {}",
            eval.lines_not_understood,
            eval.unknown_lines
                .first()
                .map(|l| format!("line {}: `{}`", l.log_line, l.text))
                .unwrap_or_default()
        ));
    }
    for r in eval.reasons.iter().skip(1) {
        out.line(format!("  also: {r}"));
    }
    let note = match (role, eval.verdict) {
        (Role::UnderTest, Verdict::Pass) => {
            " (this log alone: the planted-bug control is not re-checked; evaluate its log with --control)"
        }
        _ => "",
    };
    out.line(format!(
        "sanitizer-gate --from-log {}: {} under {}: {}: {}{note}",
        path.display(),
        kernel,
        tool.name(),
        format!("{:?}", eval.verdict).to_uppercase(),
        eval.reason
    ));
    out.summary(&FromLog {
        log: path.display().to_string(),
        gate_command: parsed.gate_command.as_deref(),
        eval: &eval,
    })?;
    // CI outputs: one run, one test case (suite `sanitizer-gate.from-log`).
    cli_support::ci::append_step_summary(&crate::ci::markdown(
        &format!("--from-log `{}`", path.display()),
        eval.verdict,
        &eval.reason,
        &[&eval],
    ))?;
    if let Some(junit) = &cli.common.junit {
        crate::ci::junit("from-log", &[&eval]).write(junit)?;
    }
    Ok(eval.verdict.exit_code())
}
