//! artifact-check verifies an evidence directory (`artifacts/`) for a release manager,
//! without a GPU: complete (every gate the release matrix asks for, for every config),
//! intact (MANIFEST.json lists every file with its sha256), green (every verdict is pass),
//! consistent (the gates agree on the cubin bytes, see [`cubins`]) and, with
//! `--require-fresh`, fresh (configs, kernel sources and rebuilt cubins of the working tree
//! match what the evidence recorded). It renders EVIDENCE.md (every claim of the kernel
//! project with its figure and the file that proves it) and merges the evidence
//! directories of CI shards.
//!
//! Running the gates is their own binaries' job; building cubins for the freshness check
//! is `kernel-runtime`'s (through `cli_support::build_all`).
#![deny(missing_docs)]

pub mod cubins;
pub mod evidence;
pub mod fresh;
pub mod manifest;
pub mod matrix;
pub mod merge;
pub mod render;
pub mod summary;

use std::collections::BTreeMap;
use std::path::Path;

use cudadent_evidence::Verdict;

use crate::matrix::{Matrix, GATES};
use crate::summary::Summary;

/// One check, as a JUnit test case: `suite` is a config (or `integrity`, `claims`),
/// `name` a gate or `<kernel>.<check>`.
#[derive(Debug, Clone)]
pub struct Case {
    /// Suite.
    pub suite: String,
    /// Test case name.
    pub name: String,
    /// What failed; empty for a pass.
    pub failures: Vec<String>,
}

/// Everything one check run found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Every check made, in order.
    pub cases: Vec<Case>,
    /// The summaries that could be read.
    pub summaries: Vec<Summary>,
    /// The oracle's negative-control results (`oracle/<config>/controls.json`), by path.
    pub controls: Vec<(String, serde_json::Value)>,
}

impl Outcome {
    /// Records that a check was made (a pass unless [`Outcome::fail`] adds to it).
    pub fn pass(&mut self, suite: &str, name: &str) {
        self.case_mut(suite, name);
    }

    /// Records a failure of a check.
    pub fn fail(&mut self, suite: &str, name: &str, msg: impl Into<String>) {
        self.case_mut(suite, name).failures.push(msg.into());
    }

    fn case_mut(&mut self, suite: &str, name: &str) -> &mut Case {
        let i = match self
            .cases
            .iter()
            .position(|c| c.suite == suite && c.name == name)
        {
            Some(i) => i,
            None => {
                self.cases.push(Case {
                    suite: suite.to_string(),
                    name: name.to_string(),
                    failures: Vec::new(),
                });
                self.cases.len() - 1
            }
        };
        &mut self.cases[i]
    }

    /// Every failure message, in order.
    pub fn failures(&self) -> impl Iterator<Item = (&Case, &String)> {
        self.cases
            .iter()
            .flat_map(|c| c.failures.iter().map(move |f| (c, f)))
    }

    /// Whether everything passed.
    pub fn passed(&self) -> bool {
        self.cases.iter().all(|c| c.failures.is_empty())
    }

    /// The summary of `gate` for `config`.
    pub fn summary(&self, config: &str, gate: &str) -> Option<&Summary> {
        self.summaries
            .iter()
            .find(|s| s.config == config && s.gate == gate)
    }
}

/// What to check.
#[derive(Debug)]
pub struct CheckOptions<'a> {
    /// The release matrix.
    pub matrix: &'a Matrix,
    /// Whether a missing MANIFEST.json is a failure (it is, except while writing one).
    pub require_manifest: bool,
}

/// Reads every summary and checks presence, headers and verdicts against the matrix.
/// Integrity (MANIFEST.json, EVIDENCE.md), cubin agreement and freshness are separate
/// passes ([`check_integrity`], [`cubins::check`], [`fresh::check`]).
pub fn check_summaries(dir: &Path, matrix: &Matrix, out: &mut Outcome) -> Result<(), String> {
    let files = manifest::list_files(dir)?;
    let mut by_cell: BTreeMap<(String, String), Summary> = BTreeMap::new();
    for (rel, path) in &files {
        if rel.starts_with("oracle/") && rel.ends_with("/controls.json") {
            match std::fs::read_to_string(path)
                .map_err(|e| e.to_string())
                .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
            {
                Ok(v) => out.controls.push((rel.clone(), v)),
                Err(e) => out.fail("integrity", rel, format!("{rel}: {e}")),
            }
            continue;
        }
        if !rel.ends_with("/summary.json") && rel != "summary.json" {
            continue;
        }
        match summary::load(dir, rel) {
            Ok(s) => {
                by_cell.insert((s.config.clone(), s.gate.clone()), s);
            }
            Err(problems) => {
                let mut parts = rel.split('/');
                let (gate, config) = (parts.next().unwrap_or(rel), parts.next());
                let suite = config.unwrap_or("integrity");
                for p in problems {
                    out.fail(suite, gate, p);
                }
            }
        }
    }
    let mut configs: Vec<String> = matrix.matrix.keys().cloned().collect();
    for (c, _) in by_cell.keys() {
        if !configs.contains(c) {
            configs.push(c.clone());
        }
    }
    for config in &configs {
        for (gate, _) in GATES {
            let required = matrix.requires(config, gate);
            match by_cell.get(&(config.clone(), gate.to_string())) {
                None if required => out.fail(
                    config,
                    gate,
                    format!(
                        "missing: {gate}/{config}/summary.json (the release matrix requires it)"
                    ),
                ),
                None => {}
                Some(s) => match (forced_launch(s), s.header.verdict) {
                    // A bench of a launch forced with `bench --launch` is not what the
                    // config runs.
                    (Some(launch), _) => out.fail(
                        config,
                        gate,
                        format!(
                            "{}: times launch `{launch}` forced with `bench --launch`, not the launch the config's manifests choose (not evidence for the config; write such runs with --out elsewhere)",
                            s.rel
                        ),
                    ),
                    (None, Verdict::Pass) => out.pass(config, gate),
                    (None, v) => out.fail(
                        config,
                        gate,
                        format!(
                            "{}: verdict {} ({})",
                            s.rel,
                            serde_json::to_value(v)
                                .ok()
                                .and_then(|v| v.as_str().map(str::to_string))
                                .unwrap_or_default(),
                            s.header.reason
                        ),
                    ),
                },
            }
        }
    }
    out.summaries = by_cell.into_values().collect();
    Ok(())
}

/// The launch a bench summary was forced to (`forced_launch`), if any.
fn forced_launch(s: &Summary) -> Option<&str> {
    (s.gate == "bench")
        .then(|| {
            s.value
                .get("forced_launch")
                .and_then(serde_json::Value::as_str)
        })
        .flatten()
}

/// Checks MANIFEST.json against the directory, and EVIDENCE.md against its rendering.
pub fn check_integrity(dir: &Path, matrix: &Matrix, out: &mut Outcome) -> Result<(), String> {
    match manifest::read(dir) {
        Err(e) => out.fail(
            "integrity",
            manifest::MANIFEST,
            format!("{e} (write it with `artifact-check --write-manifest`)"),
        ),
        Ok(m) => {
            out.pass("integrity", manifest::MANIFEST);
            for p in manifest::verify(dir, &m)? {
                out.fail("integrity", manifest::MANIFEST, p);
            }
        }
    }
    let want = evidence::render(out, matrix);
    match std::fs::read_to_string(dir.join(manifest::EVIDENCE)) {
        Err(e) => out.fail(
            "integrity",
            manifest::EVIDENCE,
            format!("{}: {e}", manifest::EVIDENCE),
        ),
        Ok(got) if got != want => out.fail(
            "integrity",
            manifest::EVIDENCE,
            format!(
                "{} differs from what the summaries say (edited by hand, or not rewritten after the evidence changed)",
                manifest::EVIDENCE
            ),
        ),
        Ok(_) => out.pass("integrity", manifest::EVIDENCE),
    }
    Ok(())
}
