//! `bench compare OLD NEW`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use bench::{compare_files, CompareOptions, SamplesFile};
use cli_support::{bad_input, exit, CommonArgs, Output};

/// `samples.json` for a path naming it, a `summary.json` beside it, or their folder.
fn samples_path(p: &Path) -> PathBuf {
    if p.is_dir() {
        return p.join("samples.json");
    }
    if p.file_name().is_some_and(|n| n == "summary.json") {
        return p.with_file_name("samples.json");
    }
    p.to_path_buf()
}

fn load(p: &Path) -> anyhow::Result<SamplesFile> {
    let path = samples_path(p);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        bad_input(format!(
            "cannot read {}: {e} (bench compare reads samples.json)",
            path.display()
        ))
    })?;
    serde_json::from_str(&text)
        .map_err(|e| bad_input(format!("{}: not a bench samples file: {e}", path.display())))
}

pub fn main(
    common: &CommonArgs,
    old: &Path,
    new: &Path,
    allow_different_devices: bool,
    noise_threshold: Option<f64>,
    seed: u64,
    resamples: usize,
) -> anyhow::Result<u8> {
    let out = Output::from_args(common);
    let threshold = match noise_threshold {
        Some(t) => t,
        None => match common.load_config() {
            Ok(cfg) => cfg.bench.noise_threshold,
            Err(_) => CompareOptions::default().noise_threshold,
        },
    };
    if !(threshold.is_finite() && threshold >= 0.0) || resamples == 0 {
        return Err(bad_input(format!(
            "noise threshold {threshold} must be >= 0 and resamples > 0"
        )));
    }
    let opts = CompareOptions {
        noise_threshold: threshold,
        seed,
        resamples,
        ..CompareOptions::default()
    };
    let (a, b) = (load(old)?, load(new)?);
    let report = compare_files(&a, &b, &opts, allow_different_devices)
        .map_err(|e| bad_input(e.to_string()))?;
    if a.synthetic || b.synthetic {
        out.progress(
            "bench compare: note: at least one input is SYNTHETIC test data, not a measurement",
        );
    }
    out.line(bench::render::compare_table(&report));
    for u in &report.unmatched {
        out.line(format!("not compared: {u}"));
    }
    for r in &report.rows {
        if let Some(note) = &r.clock_note {
            out.line(format!(
                "note: {}/{} ran at a different clock ({note}): part of its change may be the clock's, not the code's",
                r.name, r.mode
            ));
        }
    }
    out.summary(&report).context("printing the comparison")?;
    if let Some(path) = &common.junit {
        crate::ci::junit_compare(&report).write(path)?;
    }
    let slower: Vec<String> = report
        .rows
        .iter()
        .filter(|r| r.change.call == bench::Call::Slower)
        .map(|r| format!("{}/{}", r.name, r.mode))
        .collect();
    if slower.is_empty() {
        out.line(format!(
            "bench compare: nothing slower beyond {:.1}%",
            threshold * 100.0
        ));
        Ok(exit::PASS)
    } else {
        out.line(format!(
            "bench compare: SLOWER beyond {:.1}%: {}",
            threshold * 100.0,
            slower.join(", ")
        ));
        Ok(exit::GATE_FAILED)
    }
}
