//! Do the gates of one config agree on the cubin bytes of each kernel?
//!
//! Every summary records, per kernel, the sha256 of the cubin it built for each arch. The
//! GPU gates (oracle, sanitizers, bench: those with a `device`) loaded exactly one of those
//! archs, the device's; the others were built on the GPU machine by its own nvcc and never
//! ran, so they may differ from the CPU machines' builds without meaning anything. The rule:
//!
//! 1. A GPU gate's hash for the arch it ran (`loaded_arch` where the summary records it,
//!    else the arch of the `device` it names) must equal the stats gate's (sass-inspect's)
//!    hash for that arch: what was inspected is what ran. Without a stats summary, the GPU
//!    gates that ran the same arch must agree among themselves.
//! 2. For every arch, the CPU-only gates (no `device`) must agree among themselves.
//! 3. A GPU gate whose ran arch cannot be told, or that records no cubin for it, fails.
//!
//! Each mismatch names the kernel, the arch, both gates and both hashes.

use std::collections::BTreeMap;

use crate::summary::Summary;
use crate::Outcome;

/// Applies the rule to every config's summaries, adding `<kernel>.cubins` cases.
pub fn check(out: &mut Outcome) {
    let mut configs: Vec<String> = out.summaries.iter().map(|s| s.config.clone()).collect();
    configs.dedup();
    let mut results: Vec<(String, String, Option<String>)> = Vec::new();
    for config in &configs {
        let gates: Vec<&Summary> = out
            .summaries
            .iter()
            .filter(|s| &s.config == config)
            .collect();
        for (kernel, failure) in check_config(&gates) {
            results.push((config.clone(), kernel, failure));
        }
    }
    for (config, kernel, failure) in results {
        let name = format!("{kernel}.cubins");
        match failure {
            Some(f) => out.fail(&config, &name, f),
            None => out.pass(&config, &name),
        }
    }
}

fn who(s: &Summary) -> String {
    format!("{} ({})", s.gate, s.rel)
}

/// Per kernel of one config: `None` for agreement, else one failure message per finding.
fn check_config(gates: &[&Summary]) -> Vec<(String, Option<String>)> {
    let mut kernels: Vec<String> = Vec::new();
    for s in gates {
        for k in &s.header.kernels {
            if !kernels.contains(&k.name) {
                kernels.push(k.name.clone());
            }
        }
    }
    let hash = |s: &Summary, kernel: &str, arch: &str| -> Option<String> {
        s.header
            .kernels
            .iter()
            .find(|k| k.name == kernel)
            .and_then(|k| k.cubins.get(arch).cloned())
    };
    let stats = gates.iter().find(|s| s.gate == "stats").copied();
    let mut out = Vec::new();
    for kernel in &kernels {
        let mut failures = Vec::new();
        // Rule 1 and 3: what each GPU gate ran.
        let mut ran_first: BTreeMap<String, (&Summary, String)> = BTreeMap::new();
        for s in gates.iter().filter(|s| s.header.device.is_some()) {
            if !s.header.kernels.iter().any(|k| &k.name == kernel) {
                continue;
            }
            let device = s.header.device.as_deref().unwrap_or_default();
            let Some(arch) = s.ran_arch() else {
                failures.push(format!(
                    "{}: cannot tell which arch ran on `{device}` (no `loaded_arch`, device not known to artifact-check)",
                    who(s)
                ));
                continue;
            };
            let Some(ran) = hash(s, kernel, &arch) else {
                failures.push(format!(
                    "{kernel} {arch}: {} ran on {device} ({arch}) but records no {arch} cubin",
                    who(s)
                ));
                continue;
            };
            match stats.and_then(|st| hash(st, kernel, &arch).map(|h| (st, h))) {
                Some((st, inspected)) => {
                    if inspected != ran {
                        failures.push(format!(
                            "{kernel} {arch}: {} ran cubin sha256 {ran} on {device}, but {} inspected sha256 {inspected}",
                            who(s),
                            who(st)
                        ));
                    }
                }
                None => match ran_first.get(&arch) {
                    Some((first, h)) if *h != ran => failures.push(format!(
                        "{kernel} {arch}: {} ran cubin sha256 {h}, but {} ran sha256 {ran}",
                        who(first),
                        who(s)
                    )),
                    Some(_) => {}
                    None => {
                        ran_first.insert(arch.clone(), (s, ran));
                    }
                },
            }
        }
        // Rule 2: CPU-only gates agree on every arch.
        let cpu: Vec<&&Summary> = gates.iter().filter(|s| s.header.device.is_none()).collect();
        let mut first: BTreeMap<String, (&Summary, String)> = BTreeMap::new();
        for s in cpu {
            let Some(k) = s.header.kernels.iter().find(|k| &k.name == kernel) else {
                continue;
            };
            for (arch, h) in &k.cubins {
                match first.get(arch) {
                    Some((f, fh)) if fh != h => failures.push(format!(
                        "{kernel} {arch}: {} built cubin sha256 {fh}, but {} built sha256 {h}",
                        who(f),
                        who(s)
                    )),
                    Some(_) => {}
                    None => {
                        first.insert(arch.clone(), (s, h.clone()));
                    }
                }
            }
        }
        if failures.is_empty() {
            out.push((kernel.clone(), None));
        }
        for f in failures {
            out.push((kernel.clone(), Some(f)));
        }
    }
    out
}
