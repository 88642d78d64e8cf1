//! The run: build (release, cached), inspect every kernel on every arch in parallel,
//! compare with the snapshot, write the artifacts, print.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use cli_support::{build_all, exit, header, Output};
use cudadent_evidence::{now_rfc3339, write_atomic, write_json_atomic, Verdict};
use kernel_runtime::build;
use sass_inspect::snapshot::{compare, Allowances, SnapshotDiff};
use sass_inspect::InspectionRecord;
use serde::Serialize;

use crate::inspect::{self, Context, Inspection, KernelViolation, Role};
use crate::report;
use crate::Cli;

#[derive(Serialize)]
struct Summary {
    #[serde(flatten)]
    header: cudadent_evidence::Header,
    head_dim: u32,
    cuobjdump_version: Option<String>,
    inspections: Vec<Inspection>,
    violations: Vec<KernelViolation>,
    snapshot: SnapshotOutcome,
    lines_not_understood: usize,
    notes: Vec<String>,
}

#[derive(Serialize, Default)]
struct SnapshotOutcome {
    /// `explicit` (--snapshot), `previous` (the summary this run replaces), or `none`.
    source: &'static str,
    path: Option<String>,
    /// Why no comparison was made, where none was.
    skipped: Option<String>,
    allowances: Allowances,
    diff: Option<SnapshotDiff>,
    /// Regressions and removed records, one line each.
    failures: Vec<String>,
    passed: bool,
}

pub fn main(cli: &Cli) -> anyhow::Result<u8> {
    let out = Output::from_args(&cli.common);
    let started = Instant::now();
    let started_at = now_rfc3339();
    let cfg = cli.common.load_config()?;
    let _run_lock = cli.common.lock_gate_dir("stats", &cfg.name)?;
    let tc = cli.common.toolchain()?;
    let cuobjdump = tc.require_cuobjdump()?.clone();
    let dir = cli.common.gate_dir("stats", &cfg.name);
    let summary_path = dir.join("summary.json");

    // The snapshot is read before anything is written (it may be the file this run replaces).
    let mut snap = SnapshotOutcome {
        source: "none",
        allowances: Allowances {
            registers_allowance: cfg.inspect.registers_allowance,
            shared_bytes_allowance: u64::from(cfg.inspect.shared_allowance_bytes),
            ..Allowances::default()
        },
        passed: true,
        ..SnapshotOutcome::default()
    };
    let mut notes: Vec<String> = Vec::new();
    let baseline: Option<Vec<InspectionRecord>> = if cli.no_snapshot {
        snap.skipped = Some("--no-snapshot".into());
        None
    } else if let Some(p) = &cli.snapshot {
        snap.source = "explicit";
        snap.path = Some(p.display().to_string());
        Some(report::load_records(p)?)
    } else if summary_path.is_file() {
        snap.source = "previous";
        snap.path = Some(summary_path.display().to_string());
        match report::load_records(&summary_path) {
            Ok(r) => Some(r),
            Err(e) => {
                snap.skipped = Some(format!("previous summary not readable: {e}"));
                notes.push(format!(
                    "snapshot not compared: previous summary not readable: {e}"
                ));
                None
            }
        }
    } else {
        snap.skipped = Some(format!("no previous summary at {}", summary_path.display()));
        None
    };

    let built = build_all(&cfg, &tc, false)?;
    let n_test = cfg.kernels.under_test.len();
    let sass_cache: Option<PathBuf> = build::default_cache_dir().parent().map(|p| p.join("sass"));
    let mut jobs: Vec<(Context<'_>, &kernel_runtime::build::BuiltCubin)> = Vec::new();
    for (i, b) in built.iter().enumerate() {
        let role = if i < n_test {
            Role::UnderTest
        } else {
            Role::Reference
        };
        // A reference also listed under test is inspected once, as a kernel under test.
        if role == Role::Reference
            && built[..n_test]
                .iter()
                .any(|t| t.manifest.name == b.manifest.name)
        {
            continue;
        }
        // Every launch that can run at this head dim from each cubin: the default and each
        // launch rule for that cubin's arch.
        let d = cfg.problem.head_dim;
        for (c, launch) in b.cubins.iter().flat_map(|c| {
            b.manifest
                .launches_at(d, c.arch)
                .into_iter()
                .map(move |l| (c, l))
        }) {
            jobs.push((
                Context {
                    manifest: &b.manifest,
                    launch,
                    role,
                    inspect: &cfg.inspect,
                    cuobjdump: &cuobjdump,
                    sass_cache: sass_cache.as_deref(),
                },
                c,
            ));
        }
    }
    let mut rows: Vec<Inspection> = std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .iter()
            .map(|(cx, c)| s.spawn(move || inspect::inspect(cx, c)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(kernel_runtime::RuntimeError::ToolFailed {
                        command: "inspection".into(),
                        detail: "inspection thread panicked".into(),
                    })
                })
            })
            .collect::<Result<Vec<_>, _>>()
    })?;

    // Snapshot comparison.
    let current: Vec<InspectionRecord> = rows.iter().map(Inspection::record).collect();
    if let Some(mut old) = baseline {
        if snap.source == "previous" {
            // The previous run may have inspected other kernels (--kernel): compare only
            // the kernels inspected now. An explicit snapshot is compared whole.
            old.retain(|r| current.iter().any(|c| c.kernel == r.kernel));
        }
        let diff = compare(&old, &current, &snap.allowances)
            .map_err(|e| cli_support::bad_input(format!("snapshot: {e}")))?;
        for (r, m) in diff.regressions() {
            snap.failures.push(format!("{} {}: {m}", r.kernel, r.arch));
        }
        for (k, a) in &diff.removed {
            snap.failures.push(format!(
                "{k} {a}: in the snapshot but not inspected now (lost coverage)"
            ));
        }
        snap.passed = diff.passed();
        for (r, _) in diff.regressions() {
            for row in rows
                .iter_mut()
                .filter(|x| x.label() == r.kernel && x.arch == r.arch)
            {
                row.verdict = "fail";
            }
        }
        snap.diff = Some(diff);
    }

    // Notes: parser lines not understood, ptxas warnings, occupancy not computed.
    let mut not_understood = 0;
    for r in &rows {
        let n = r.lines_not_understood;
        not_understood += n.total();
        if n.total() > 0 {
            notes.push(format!(
                "{} {}: {} lines not understood (ptxas {}, sass {}, ptx {}): the tool format may have changed",
                r.kernel, r.arch, n.total(), n.ptxas, n.sass, n.ptx
            ));
        }
        if let Some(e) = &r.occupancy_error {
            notes.push(format!(
                "{} {}: occupancy not computed: {e}",
                r.kernel, r.arch
            ));
        }
        for w in sass_inspect::parse_ptxas(&r.ptxas_report).warnings {
            notes.push(format!("{} {}: ptxas warning: {w}", r.kernel, r.arch));
        }
    }

    let violations: Vec<KernelViolation> = rows
        .iter()
        .flat_map(|r| r.violations.iter().cloned())
        .collect();
    let failed = !violations.is_empty() || !snap.passed;
    let (verdict, reason) = if !failed {
        (
            Verdict::Pass,
            format!(
                "{} kernels ({} launches) x {} archs: every policy holds{}",
                built.len(),
                rows.iter()
                    .map(Inspection::label)
                    .collect::<std::collections::BTreeSet<_>>()
                    .len(),
                cfg.kernels.archs.len(),
                match snap.diff {
                    Some(_) => ", no regression against the snapshot",
                    None => "",
                }
            ),
        )
    } else {
        let mut parts: Vec<String> = violations.iter().map(|v| v.message.clone()).collect();
        parts.extend(
            snap.failures
                .iter()
                .map(|f| format!("snapshot regression: {f}")),
        );
        let n = parts.len();
        let mut reason = parts.into_iter().take(3).collect::<Vec<_>>().join("; ");
        if n > 3 {
            reason.push_str(&format!("; and {} more", n - 3));
        }
        (Verdict::Fail, reason)
    };

    // Artifacts: the ptxas report and the tensor-core excerpt per row, then the summary.
    for r in &rows {
        write_atomic(&dir.join(&r.ptxas_file), r.ptxas_report.as_bytes())
            .with_context(|| format!("writing {}", r.ptxas_file))?;
        write_atomic(&dir.join(&r.sass_file), r.sass_excerpt().as_bytes())
            .with_context(|| format!("writing {}", r.sass_file))?;
    }
    let mut h = header(
        "sass-inspect",
        &cfg,
        started,
        started_at,
        verdict,
        reason.clone(),
    );
    cli_support::record_run(&mut h, &tc, &built, None);
    let table = report::table(&rows, snap.diff.as_ref());
    let junit = report::junit(&cfg.name, &rows, &snap.failures);
    let summary = Summary {
        header: h,
        head_dim: cfg.problem.head_dim,
        cuobjdump_version: cuobjdump.version.clone(),
        inspections: rows,
        violations,
        snapshot: snap,
        lines_not_understood: not_understood,
        notes,
    };
    write_json_atomic(&summary_path, &summary).context("writing the sass-inspect summary")?;
    // CI outputs, after the summary: the job summary's table, then the JUnit report.
    cli_support::ci::append_step_summary(&report::markdown(
        &cfg.name,
        verdict_word(summary.header.verdict),
        &summary.header.reason,
        &summary.inspections,
    ))?;
    if let Some(path) = &cli.common.junit {
        junit.write(path)?;
    }

    out.summary(&summary)?;
    print_human(&out, &cfg, &tc, &summary, &table, &summary_path);
    Ok(if failed {
        exit::GATE_FAILED
    } else {
        exit::PASS
    })
}

fn print_human(
    out: &Output,
    cfg: &cudadent_config::Config,
    tc: &kernel_runtime::toolchain::Toolchain,
    s: &Summary,
    table: &str,
    path: &Path,
) {
    let p = &cfg.problem;
    out.line(format!(
        "sass-inspect {}: B{} H{} S{} D{} {:?}{}, nvcc {}, release cubins",
        cfg.name,
        p.batch,
        p.heads,
        p.seq_len,
        p.head_dim,
        p.dtype,
        if p.causal { " causal" } else { "" },
        tc.version()
    ));
    out.line(table);
    for v in &s.violations {
        out.line(format!("VIOLATION {}", v.message));
    }
    if let Some(d) = &s.snapshot.diff {
        let src = s.snapshot.path.as_deref().unwrap_or("-");
        if d.changed.is_empty() && d.added.is_empty() && d.removed.is_empty() {
            out.line(format!("snapshot ({src}): nothing moved"));
        } else {
            out.line(format!("snapshot ({src}):"));
            for r in &d.changed {
                for m in &r.moves {
                    out.line(format!("  {} {}: {m}", r.kernel, r.arch));
                }
            }
            for (k, a) in &d.added {
                out.line(format!("  {k} {a}: new (not in the snapshot)"));
            }
            for (k, a) in &d.removed {
                out.line(format!(
                    "  {k} {a}: REMOVED (in the snapshot, not inspected now)"
                ));
            }
        }
    } else if let Some(why) = &s.snapshot.skipped {
        out.line(format!("snapshot: not compared ({why})"));
    }
    for n in &s.notes {
        out.line(format!("note: {n}"));
    }
    let word = verdict_word(s.header.verdict);
    out.line(format!(
        "sass-inspect {}: {word} ({}) -> {}",
        cfg.name,
        s.header.reason,
        path.display()
    ));
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
        Verdict::Error => "ERROR",
    }
}
