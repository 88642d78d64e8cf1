//! `--require-fresh`: is the evidence about the code in this working tree?
//!
//! For every config with evidence: the config file's sha256 must equal the recorded
//! `config_sha256`; every kernel's source (found through the config's manifests) must
//! hash to the recorded `source_sha256`; and the cubins rebuilt here with the pinned
//! toolchain (`cli_support::build_all`, cached) must equal the hashes the stats gate
//! recorded for each arch. The GPU gates are tied to the stats gate by the cubin rule of
//! [`crate::cubins`], so they are fresh when it is. Each stale item names its file.

use std::path::Path;

use anyhow::Context as _;
use cudadent_config::Config;
use kernel_runtime::toolchain::Toolchain;

use crate::Outcome;

/// `p` relative to `repo`, with `.` and `..` resolved lexically (`configs/../kernels/x.cu`
/// is shown as `kernels/x.cu`).
fn rel(repo: &Path, p: &Path) -> String {
    use std::path::Component;
    let norm = |p: &Path| {
        let mut out: Vec<String> = Vec::new();
        for c in p.components() {
            match c {
                Component::CurDir => {}
                Component::ParentDir if out.last().is_some_and(|l| l != "..") => {
                    out.pop();
                }
                c => out.push(c.as_os_str().to_string_lossy().into_owned()),
            }
        }
        out
    };
    let (r, q) = (norm(repo), norm(p));
    if q.starts_with(&r) {
        q[r.len()..].join("/")
    } else {
        q.join("/")
    }
}

/// Checks freshness against the repository at `repo`. `toolchain` is called once, when the
/// first rebuild is needed; its error (no nvcc: exit 3) ends the check.
pub fn check(
    repo: &Path,
    out: &mut Outcome,
    mut toolchain: impl FnMut() -> anyhow::Result<Toolchain>,
) -> anyhow::Result<()> {
    let mut configs: Vec<String> = out.summaries.iter().map(|s| s.config.clone()).collect();
    configs.dedup();
    let mut tc: Option<Toolchain> = None;
    for config in configs {
        let path = repo.join("configs").join(format!("{config}.toml"));
        let shown = rel(repo, &path);
        if !path.is_file() {
            out.fail(
                &config,
                "config.fresh",
                format!("stale: {shown} not found (the evidence is for a config this tree no longer has)"),
            );
            continue;
        }
        let cfg = Config::load(&path)?;
        let now = cudadent_evidence::sha256_bytes(&cfg.bytes);
        let summaries: Vec<_> = out
            .summaries
            .iter()
            .filter(|s| s.config == config)
            .cloned()
            .collect();
        out.pass(&config, "config.fresh");
        for s in &summaries {
            if s.header.config_sha256 != now {
                out.fail(
                    &config,
                    "config.fresh",
                    format!(
                        "stale: {shown} changed since {} was written (recorded config_sha256 {}, now {now})",
                        s.rel, s.header.config_sha256
                    ),
                );
            }
        }
        // Kernel sources.
        for s in &summaries {
            for k in &s.header.kernels {
                let case = format!("{}.fresh", k.name);
                let Some(m) = cfg.all_kernels().find(|m| m.name == k.name) else {
                    out.fail(
                        &config,
                        &case,
                        format!(
                            "stale: {} records kernel `{}`, which {shown} no longer names",
                            s.rel, k.name
                        ),
                    );
                    continue;
                };
                // The manifest: its launches decide what ran as much as the source does.
                let man = cudadent_evidence::sha256_file(&m.manifest_path)
                    .with_context(|| format!("hash the manifest of `{}`", m.name))?;
                match &k.manifest_sha256 {
                    Some(h) if *h == man => {}
                    Some(h) => out.fail(
                        &config,
                        &format!("{}.manifest", k.name),
                        format!(
                            "stale: {} changed since {} was written (recorded manifest_sha256 {h}, now {man})",
                            rel(repo, &m.manifest_path),
                            s.rel
                        ),
                    ),
                    None => out.fail(
                        &config,
                        &format!("{}.manifest", k.name),
                        format!(
                            "stale: {} records no manifest_sha256 for `{}` (written before manifests were hashed): run the gate again",
                            s.rel, k.name
                        ),
                    ),
                }
                let src = cudadent_evidence::sha256_file(&m.source_path)
                    .with_context(|| format!("hash kernel source of `{}`", m.name))?;
                if src == k.source_sha256 {
                    out.pass(&config, &case);
                } else {
                    out.fail(
                        &config,
                        &case,
                        format!(
                            "stale: {} changed since {} was written (recorded source_sha256 {}, now {src})",
                            rel(repo, &m.source_path),
                            s.rel,
                            k.source_sha256
                        ),
                    );
                }
            }
        }
        // Cubins, against what the stats gate built and inspected.
        let Some(stats) = summaries.iter().find(|s| s.gate == "stats") else {
            continue;
        };
        if tc.is_none() {
            tc = Some(toolchain()?);
        }
        let Some(tc) = tc.as_ref() else { continue };
        let built = cli_support::build_all(&cfg, tc, false)?;
        for b in &built {
            let case = format!("{}.fresh", b.manifest.name);
            let Some(rec) = stats
                .header
                .kernels
                .iter()
                .find(|k| k.name == b.manifest.name)
            else {
                out.fail(
                    &config,
                    &case,
                    format!(
                        "stale: {shown} names kernel `{}`, which {} does not record",
                        b.manifest.name, stats.rel
                    ),
                );
                continue;
            };
            for c in &b.cubins {
                let arch = c.arch.to_string();
                match rec.cubins.get(&arch) {
                    Some(h) if *h == c.sha256 => {}
                    // The bytes differ, but the machine code may not: with -lineinfo a cubin
                    // records where the build ran (the checkout, the toolchain's include
                    // folder). The stats gate records the hash of the whole SASS listing;
                    // equal listings mean the tree still compiles to the code inspected.
                    Some(_) if same_sass(tc, stats, &b.manifest.name, &arch, &c.cubin)? => {}
                    Some(h) => out.fail(
                        &config,
                        &case,
                        format!(
                            "stale: {} {arch} cubin rebuilt here from {} is sha256 {}, {} recorded {h}",
                            b.manifest.name,
                            rel(repo, &b.manifest.source_path),
                            c.sha256,
                            stats.rel
                        ),
                    ),
                    None => out.fail(
                        &config,
                        &case,
                        format!(
                            "stale: {} builds {} for {arch}, which {} does not record",
                            shown, b.manifest.name, stats.rel
                        ),
                    ),
                }
            }
        }
    }
    Ok(())
}

/// Whether the rebuilt `cubin`'s SASS listing hashes to the `sass_sha256` the stats gate
/// recorded for this kernel and arch. A summary without that field never matches.
fn same_sass(
    tc: &Toolchain,
    stats: &crate::summary::Summary,
    kernel: &str,
    arch: &str,
    cubin: &Path,
) -> anyhow::Result<bool> {
    let recorded = stats
        .value
        .get("inspections")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .find(|i| i["kernel"] == kernel && i["arch"] == arch)
        .and_then(|i| i["sass_sha256"].as_str());
    let Some(recorded) = recorded else {
        return Ok(false);
    };
    let cuobjdump = tc.require_cuobjdump()?;
    let out = child_guard::output(
        &duct::cmd(
            &cuobjdump.path,
            [std::ffi::OsStr::new("--dump-sass"), cubin.as_os_str()],
        )
        .stdout_capture()
        .stderr_capture()
        .unchecked(),
    )
    .with_context(|| format!("running {}", cuobjdump.path.display()))?;
    if !out.status.success() {
        anyhow::bail!(
            "{} --dump-sass {} failed: {}",
            cuobjdump.path.display(),
            cubin.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(cudadent_evidence::sha256_bytes(&out.stdout) == recorded)
}
