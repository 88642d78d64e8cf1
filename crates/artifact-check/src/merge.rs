//! `artifact-check merge OUT DIR...`: one evidence directory from the directories of CI
//! shards (one per tool x config job, possibly from several machines).
//!
//! Every file of every shard is copied to the same relative path under OUT. A shard with a
//! MANIFEST.json must match it first (a shard damaged in transit is not merged). Two shards
//! with the same path and different bytes are a conflict: the merge fails naming the path
//! and both hashes. Shards whose summaries disagree on a cubin are copied side by side
//! (different gates), and the check that follows the merge fails on them with both hashes
//! named (see [`crate::cubins`]). OUT's own MANIFEST.json and EVIDENCE.md are written by the
//! caller after the merge.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::manifest;

/// Merges `shards` into `out_dir`. Returns the conflicts (empty on success).
pub fn merge(out_dir: &Path, shards: &[PathBuf]) -> Result<Vec<String>, String> {
    let mut problems = Vec::new();
    let mut taken: BTreeMap<String, (String, String)> = BTreeMap::new();
    // Files already in OUT count as a shard of their own.
    for e in manifest::scan(out_dir).unwrap_or_default() {
        taken.insert(e.path, (e.sha256, out_dir.display().to_string()));
    }
    for shard in shards {
        if !shard.is_dir() {
            return Err(format!("{}: not a directory", shard.display()));
        }
        if shard.join(manifest::MANIFEST).is_file() {
            let m = manifest::read(shard)?;
            for p in manifest::verify(shard, &m)? {
                problems.push(format!("{}: {p}", shard.display()));
            }
        }
        for e in manifest::scan(shard)? {
            let from = shard.display().to_string();
            match taken.get(&e.path) {
                Some((h, _)) if *h == e.sha256 => continue,
                Some((h, other)) => {
                    problems.push(format!(
                        "{}: conflict: {other} has sha256 {h}, {from} has sha256 {}",
                        e.path, e.sha256
                    ));
                    continue;
                }
                None => {}
            }
            let src = shard.join(&e.path);
            let bytes =
                std::fs::read(&src).map_err(|err| format!("read {}: {err}", src.display()))?;
            cudadent_evidence::write_atomic(&out_dir.join(&e.path), &bytes)
                .map_err(|err| err.to_string())?;
            taken.insert(e.path, (e.sha256, from));
        }
    }
    Ok(problems)
}
