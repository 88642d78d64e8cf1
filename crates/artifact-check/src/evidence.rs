//! EVIDENCE.md: each claim of the kernel project (race-free, tensor cores, correct,
//! faster), its verdict, its figure and the files that prove it. Every number is read from
//! the summaries; the claims themselves (which kernel, which config) come from the release
//! matrix. The text depends on nothing but the summaries and the matrix (no clock), so the
//! check can render it again and compare.

use std::fmt::Write as _;

use serde_json::Value;

use crate::matrix::{Matrix, SpeedClaim};
use crate::summary::Summary;
use crate::Outcome;

/// One claim's result.
#[derive(Debug, Clone)]
pub struct Claim {
    /// Short id (`race_free.fa_tc`), the JUnit test case name.
    pub id: String,
    /// The claim in words.
    pub title: String,
    /// Whether the evidence backs it, and why not.
    pub failure: Option<String>,
    /// The headline figure.
    pub figure: String,
    /// The files that prove it.
    pub proof: Vec<String>,
    /// A Markdown table with every figure.
    pub details: String,
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("?")
}

fn num(v: &Value, k: &str) -> Option<f64> {
    match v.get(k)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn int(v: &Value, k: &str) -> i64 {
    v.get(k).and_then(Value::as_i64).unwrap_or(-1)
}

fn arr<'a>(v: &'a Value, k: &str) -> &'a [Value] {
    v.get(k)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn sci(x: Option<f64>) -> String {
    match x {
        Some(x) if x.is_finite() => format!("{x:.2e}"),
        Some(x) => format!("{x}"),
        None => "?".into(),
    }
}

fn gate_summaries<'a>(out: &'a Outcome, m: &Matrix, gate: &str) -> Vec<&'a Summary> {
    out.summaries
        .iter()
        .filter(|s| s.gate == gate && m.matrix.contains_key(&s.config))
        .collect()
}

fn race_free(out: &Outcome, m: &Matrix, kernel: &str) -> Claim {
    let mut details = String::from(
        "| config | tool | kernel | errors | warnings | verdict | file |\n|---|---|---|---|---|---|---|\n",
    );
    let (mut runs, mut bad, mut proof) = (0, Vec::new(), Vec::new());
    let mut controls: Vec<String> = Vec::new();
    let mut uncaught: Vec<String> = Vec::new();
    for sm in gate_summaries(out, m, "sanitizers") {
        let mut tools_run: Vec<String> = Vec::new();
        for r in arr(&sm.value, "runs") {
            let tool = s(r, "tool");
            if !matches!(tool, "racecheck" | "synccheck") {
                continue;
            }
            let control = r.get("control").and_then(Value::as_bool).unwrap_or(false);
            let dir = sm.rel.trim_end_matches("summary.json");
            let log = format!("{dir}{}", s(r, "log"));
            if control {
                continue;
            }
            if s(r, "kernel") != kernel {
                continue;
            }
            runs += 1;
            tools_run.push(tool.to_string());
            let (e, w) = (int(r, "errors"), int(r, "warnings"));
            if e != 0 || w != 0 || s(r, "verdict") != "pass" {
                bad.push(format!(
                    "{} {tool}: {e} error(s), {w} warning(s)",
                    sm.config
                ));
            }
            let _ = writeln!(
                details,
                "| {} | {tool} | {kernel} | {e} | {w} | {} | `{log}` |",
                sm.config,
                s(r, "verdict")
            );
            proof.push(log);
        }
        for r in arr(&sm.value, "runs") {
            let tool = s(r, "tool");
            let control = r.get("control").and_then(Value::as_bool).unwrap_or(false);
            if !control || !tools_run.iter().any(|t| t == tool) {
                continue;
            }
            let caught = r.get("caught").and_then(Value::as_bool).unwrap_or(false);
            let dir = sm.rel.trim_end_matches("summary.json");
            let log = format!("{dir}{}", s(r, "log"));
            let _ = writeln!(
                details,
                "| {} | {tool} | {} (planted-bug control) | {} | {} | {} | `{log}` |",
                sm.config,
                s(r, "kernel"),
                int(r, "errors"),
                int(r, "warnings"),
                if caught { "caught" } else { "NOT caught" }
            );
            if caught {
                controls.push(format!("{} ({tool}, {})", s(r, "kernel"), sm.config));
            } else {
                uncaught.push(format!("{} ({tool}, {})", s(r, "kernel"), sm.config));
            }
        }
        if !tools_run.is_empty() {
            proof.push(sm.rel.clone());
        }
    }
    let unseen = tma_launches(out, m, kernel);
    if !unseen.is_empty() {
        let _ = writeln!(
            details,
            "\nNot covered: the shared-memory writes of Tensor Memory Accelerator copies \
             (`UBLKCP` / `UTMALDG` in the SASS the stats gate read), which go through the async \
             proxy; racecheck reported no hazard for a probe that skips the barrier before such \
             a refill (kernels/attention/NOTES.md, v13). Launches with them: {}.",
            unseen.join(", ")
        );
    }
    let failure = if runs == 0 {
        Some(format!(
            "no racecheck or synccheck run of {kernel} in this directory"
        ))
    } else if !bad.is_empty() {
        Some(bad.join("; "))
    } else if !uncaught.is_empty() {
        Some(format!("control(s) not caught: {}", uncaught.join(", ")))
    } else if controls.is_empty() {
        Some("no planted-bug control ran beside these runs".into())
    } else {
        None
    };
    Claim {
        id: format!("race_free.{kernel}"),
        title: format!("{kernel} is free of shared-memory races and barrier errors"),
        failure,
        figure: format!(
            "{runs} racecheck/synccheck run(s) of {kernel}, {} with findings; {} planted-bug control(s) caught in the same gate runs{}",
            bad.len(),
            controls.len(),
            if unseen.is_empty() {
                String::new()
            } else {
                format!(
                    "; not covered: TMA writes to shared memory in {}",
                    unseen.join(", ")
                )
            }
        ),
        proof,
        details,
    }
}

/// `launch_label` of each launch whose SASS, in any stats summary, has copies by
/// the Tensor Memory Accelerator (`census.bulk_copies`): sorted, each once.
fn tma_launches(out: &Outcome, m: &Matrix, kernel: &str) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for st in gate_summaries(out, m, "stats") {
        for i in arr(&st.value, "inspections") {
            let bulk = i.get("census").map_or(0, |c| int(c, "bulk_copies"));
            if s(i, "kernel") != kernel || bulk <= 0 {
                continue;
            }
            // Summaries from before launch rules name no launch: the default one.
            let launch = match s(i, "launch") {
                "" => cudadent_config::DEFAULT_LAUNCH,
                l => l,
            };
            v.push(cudadent_config::launch_label(kernel, launch));
        }
    }
    v.sort();
    v.dedup();
    v
}

fn tensor_cores(out: &Outcome, m: &Matrix, kernel: &str) -> Claim {
    let mut details = String::from(
        "| config | arch | tensor-core instructions | fp32 accumulate | fp16 accumulate | cubin sha256 | SASS excerpt |\n|---|---|---|---|---|---|---|\n",
    );
    let (mut rows, mut bad, mut proof) = (0, Vec::new(), Vec::new());
    let mut per_arch: Vec<(String, i64, i64)> = Vec::new();
    for st in gate_summaries(out, m, "stats") {
        for i in arr(&st.value, "inspections") {
            if s(i, "kernel") != kernel {
                continue;
            }
            rows += 1;
            let arch = s(i, "arch").to_string();
            let (tc, f32, f16) = (
                int(i, "tensor_core_instructions"),
                int(i, "tensor_core_f32_accumulate"),
                int(i, "tensor_core_f16_accumulate"),
            );
            let dir = st.rel.trim_end_matches("summary.json");
            let excerpt = match i.get("sass_file").and_then(Value::as_str) {
                Some(f) => format!("{dir}{f}"),
                None => format!("{dir}{kernel}.{arch}.sass.txt"),
            };
            if tc <= 0 || f32 <= 0 {
                bad.push(format!(
                    "{} {arch}: {tc} tensor-core instruction(s), {f32} with fp32 accumulation",
                    st.config
                ));
            }
            let sha = s(i, "cubin_sha256");
            let _ = writeln!(
                details,
                "| {} | {arch} | {tc} | {f32} | {f16} | `{}` | `{excerpt}` |",
                st.config,
                &sha[..sha.len().min(16)]
            );
            if !per_arch
                .iter()
                .any(|(a, t, f)| *a == arch && *t == tc && *f == f32)
            {
                per_arch.push((arch, tc, f32));
            }
            proof.push(excerpt);
        }
        proof.push(st.rel.clone());
    }
    per_arch.sort();
    let figure = per_arch
        .iter()
        .map(|(a, t, f)| format!("{a}: {t} ({f} fp32-accumulate)"))
        .collect::<Vec<_>>()
        .join(", ");
    Claim {
        id: format!("tensor_cores.{kernel}"),
        title: format!("{kernel} runs on tensor cores (fp32 accumulation)"),
        failure: if rows == 0 {
            Some(format!("no stats inspection of {kernel} in this directory"))
        } else if !bad.is_empty() {
            Some(bad.join("; "))
        } else {
            None
        },
        figure: format!("tensor-core instructions in SASS, {figure}"),
        proof,
        details,
    }
}

fn correct(out: &Outcome, m: &Matrix, kernel: &str) -> Claim {
    let mut details = String::from(
        "| config | kernel | checks | failed | max abs err | verdict | file |\n|---|---|---|---|---|---|---|\n",
    );
    let (mut bad, mut proof, mut worst, mut seen) = (Vec::new(), Vec::new(), 0.0f64, Vec::new());
    for config in m.matrix.keys() {
        let Some(o) = out.summary(config, "oracle") else {
            bad.push(format!("{config}: no oracle summary"));
            continue;
        };
        let Some(k) = arr(&o.value, "kernel_outcomes")
            .iter()
            .find(|k| s(k, "kernel") == kernel)
        else {
            bad.push(format!("{config}: {} has no outcome for {kernel}", o.rel));
            continue;
        };
        let passed = k.get("passed").and_then(Value::as_bool).unwrap_or(false);
        let err = num(k, "max_abs_err");
        if let Some(e) = err {
            worst = worst.max(e);
        }
        if !passed || int(k, "failed") != 0 {
            bad.push(format!(
                "{config}: {} of {} check(s) failed",
                int(k, "failed"),
                int(k, "checks")
            ));
        }
        seen.push(config.clone());
        let _ = writeln!(
            details,
            "| {config} | {kernel} | {} | {} | {} | {} | `{}` |",
            int(k, "checks"),
            int(k, "failed"),
            sci(err),
            if passed { "pass" } else { "FAIL" },
            o.rel
        );
        proof.push(o.rel.clone());
    }
    let mut ctl = String::from(
        "\nNegative controls (kernels with one planted bug each, which the oracle must reject):\n\n| file | config | verdict | reason |\n|---|---|---|---|\n",
    );
    let mut caught_all = Vec::new();
    for (rel, v) in &out.controls {
        let _ = writeln!(
            ctl,
            "| `{rel}` | {} | {} | {} |",
            s(v, "config"),
            s(v, "verdict"),
            s(v, "reason")
        );
        if s(v, "verdict") == "pass" {
            caught_all.push(rel.clone());
        }
    }
    details.push_str(&ctl);
    proof.extend(caught_all.iter().cloned());
    let failure = if !bad.is_empty() {
        Some(bad.join("; "))
    } else if caught_all.is_empty() {
        Some("no oracle controls run caught every planted bug (run `oracle --controls`)".into())
    } else {
        None
    };
    Claim {
        id: format!("correct.{kernel}"),
        title: format!("{kernel} computes attention correctly on every config of the release matrix"),
        failure,
        figure: format!(
            "every oracle check passed on {} config(s); largest max abs err {}; all negative controls caught in {}",
            seen.len(),
            sci(Some(worst)),
            if caught_all.is_empty() { "none".to_string() } else { caught_all.join(", ") }
        ),
        proof,
        details,
    }
}

/// A bench row's median SM clock while it was timed and the share of polls held by the
/// power limit (the row's `gpu`, written by bench's NVML sampler), worded as the bench's
/// own table words it (`gpu_telemetry::clock_label`); `-` where absent.
fn sm_clock(row: Option<&serde_json::Value>) -> String {
    let Some(g) = row.and_then(|r| r.get("gpu")) else {
        return "-".into();
    };
    match num(g, "sm_mhz_p50") {
        Some(mhz) => {
            gpu_telemetry::clock_label(mhz.round() as u32, num(g, "power_limited").unwrap_or(0.0))
        }
        None => "-".into(),
    }
}

/// A bench row's board energy per launch (`energy_mj_per_launch`, hot rows only: bench's
/// NVML energy counter over the row's sampling window), mJ with one decimal; `-` where
/// absent.
fn energy(row: Option<&serde_json::Value>) -> String {
    match row.and_then(|r| num(r, "energy_mj_per_launch")) {
        Some(mj) => format!("{mj:.1}"),
        None => "-".into(),
    }
}

fn faster(out: &Outcome, claim: &SpeedClaim) -> Claim {
    let (kernel, config) = (claim.kernel.as_str(), claim.config.as_str());
    let mut details = String::from(
        "| mode | kernel p50 (us) | kernel SM clock | kernel energy (mJ/launch) | fastest baseline | baseline p50 (us) | baseline SM clock | baseline energy (mJ/launch) | speed-up | device | file |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let (id, title) = (claim.id(), claim.title());
    let Some(b) = out.summary(config, "bench") else {
        return Claim {
            id,
            title,
            failure: Some(format!("no bench summary for {config}")),
            figure: String::new(),
            proof: Vec::new(),
            details,
        };
    };
    let device = b.header.device.clone().unwrap_or_else(|| "?".into());
    let (mut bad, mut figs) = (Vec::new(), Vec::new());
    for mode in ["cold", "hot"] {
        let k_row = arr(&b.value, "results")
            .iter()
            .find(|r| s(r, "kernel") == kernel && s(r, "mode") == mode);
        let k = k_row.and_then(|r| num(r, "p50_us"));
        let base = arr(&b.value, "baselines")
            .iter()
            .filter(|r| s(r, "mode") == mode)
            .filter_map(|r| num(r, "p50_us").map(|p| (r, s(r, "name").to_string(), p)))
            .min_by(|a, b| a.2.total_cmp(&b.2));
        match (k, base) {
            (Some(k), Some((b_row, name, p))) => {
                let speedup = p / k;
                if !claim.met_by(speedup) {
                    bad.push(format!("{mode}: {speedup:.3}x against {name}"));
                }
                let (k_mj, b_mj) = (energy(k_row), energy(Some(b_row)));
                // At the board's power limit a hot time is traded against the energy per
                // launch: the figure names both where the bench measured them.
                let joules = if k_mj != "-" && b_mj != "-" {
                    format!(", {k_mj} vs {b_mj} mJ/launch")
                } else {
                    String::new()
                };
                figs.push(format!(
                    "{mode} {k:.2} us vs {name} {p:.2} us ({speedup:.2}x{joules})"
                ));
                let _ = writeln!(
                    details,
                    "| {mode} | {k:.2} | {} | {k_mj} | {name} | {p:.2} | {} | {b_mj} | {speedup:.2}x | {device} | `{}` |",
                    sm_clock(k_row),
                    sm_clock(Some(b_row)),
                    b.rel
                );
            }
            (None, _) => bad.push(format!("{mode}: no {kernel} result in {}", b.rel)),
            (_, None) => bad.push(format!("{mode}: no baseline in {}", b.rel)),
        }
    }
    Claim {
        id,
        title,
        failure: (!bad.is_empty()).then(|| bad.join("; ")),
        figure: format!("{} on {device}", figs.join("; ")),
        proof: vec![b.rel.clone()],
        details,
    }
}

/// Every claim of the matrix, judged.
pub fn claims(out: &Outcome, m: &Matrix) -> Vec<Claim> {
    let c = &m.claims;
    let mut v = Vec::new();
    v.extend(c.race_free.iter().map(|k| race_free(out, m, k)));
    v.extend(c.tensor_cores.iter().map(|k| tensor_cores(out, m, k)));
    v.extend(c.correct.iter().map(|k| correct(out, m, k)));
    v.extend(c.faster.iter().map(|f| faster(out, f)));
    v
}

/// Adds one `claims` test case per claim.
pub fn check_claims(out: &mut Outcome, m: &Matrix) {
    for c in claims(out, m) {
        match &c.failure {
            None => out.pass("claims", &c.id),
            Some(f) => out.fail("claims", &c.id, format!("{}: {f}", c.title)),
        }
    }
}

fn dedup(v: &[String]) -> Vec<&String> {
    let mut out: Vec<&String> = Vec::new();
    for x in v {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

/// The whole EVIDENCE.md text.
pub fn render(out: &Outcome, m: &Matrix) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Evidence\n");
    let _ = writeln!(
        md,
        "Generated by `artifact-check --write-manifest` from the summaries in this directory: every figure \
         is read from the file named beside it, nothing is written by hand. `artifact-check` renders this \
         file again and fails if it differs. The release matrix names the claims and the gates each config needs.\n"
    );
    let claims = claims(out, m);
    md.push_str("## Claims\n\n| claim | verdict | figure |\n|---|---|---|\n");
    for c in &claims {
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            c.title,
            if c.failure.is_none() { "pass" } else { "FAIL" },
            c.figure
        );
    }
    for c in &claims {
        let _ = writeln!(
            md,
            "\n### {}: {}\n",
            c.title,
            match &c.failure {
                None => "pass".to_string(),
                Some(f) => format!("FAIL ({f})"),
            }
        );
        let _ = writeln!(md, "{}\n", c.figure);
        md.push_str(&c.details);
        let proof: Vec<String> = dedup(&c.proof).iter().map(|p| format!("`{p}`")).collect();
        let _ = writeln!(md, "\nProof: {}", proof.join(", "));
    }
    md.push_str("\n## Gates\n\n| config | gate | verdict | reason | device | started | commit | file |\n|---|---|---|---|---|---|---|---|\n");
    for (config, gates) in &m.matrix {
        for (gate, _) in crate::matrix::GATES {
            let required = gates.iter().any(|g| g == gate);
            match out.summary(config, gate) {
                Some(sm) => {
                    let _ = writeln!(
                        md,
                        "| {config} | {gate} | {} | {} | {} | {} | {} | `{}` |",
                        serde_json::to_value(sm.header.verdict)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default(),
                        sm.header.reason.replace('|', "\\|"),
                        sm.header.device.as_deref().unwrap_or("none (CPU)"),
                        sm.header.started_at,
                        sm.header
                            .git_commit
                            .as_deref()
                            .map(|c| &c[..c.len().min(12)])
                            .unwrap_or("?"),
                        sm.rel
                    );
                }
                None if required => {
                    let _ = writeln!(
                        md,
                        "| {config} | {gate} | MISSING | required by the release matrix | | | | |"
                    );
                }
                None => {}
            }
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::{energy, faster, sm_clock};
    use crate::matrix::SpeedClaim;
    use crate::summary::Summary;
    use crate::Outcome;
    use serde_json::json;

    /// A bench summary with the figures of bench/canon_3 of a501903 (fa_tc v20 against
    /// cuDNN, the fastest baseline of each mode; flash slower), header fields only as
    /// needed.
    fn canon_3_bench() -> Outcome {
        let value = json!({
            "schema_version": cudadent_evidence::SCHEMA_VERSION, "tool": "bench",
            "tool_version": "0", "git_commit": null, "git_dirty": null, "config": "canon_3",
            "config_sha256": "", "device": "NVIDIA H100 80GB HBM3", "driver_version": null,
            "toolkit_version": null, "started_at": "", "duration_s": 1.0, "verdict": "pass",
            "reason": "", "kernels": [],
            "results": [
                {"kernel": "fa_tc", "mode": "cold", "p50_us": 8.77},
                {"kernel": "fa_tc", "mode": "hot", "p50_us": 5.75},
            ],
            "baselines": [
                {"name": "torch_sdpa_cudnn", "mode": "cold", "p50_us": 11.17},
                {"name": "torch_sdpa_flash", "mode": "cold", "p50_us": 16.99},
                {"name": "torch_sdpa_cudnn", "mode": "hot", "p50_us": 9.18},
            ],
        });
        Outcome {
            summaries: vec![Summary {
                gate: "bench".into(),
                config: "canon_3".into(),
                rel: "bench/canon_3/summary.json".into(),
                header: serde_json::from_value(value.clone()).unwrap(),
                value,
            }],
            ..Outcome::default()
        }
    }

    fn claim(config: &str, at_least: Option<f64>) -> SpeedClaim {
        SpeedClaim {
            kernel: "fa_tc".into(),
            config: config.into(),
            at_least,
        }
    }

    #[test]
    fn a_speed_claim_is_judged_on_every_mode_against_the_fastest_baseline() {
        let out = canon_3_bench();
        let c = faster(&out, &claim("canon_3", None));
        assert_eq!(c.failure, None);
        assert!(
            c.figure
                .starts_with("cold 8.77 us vs torch_sdpa_cudnn 11.17 us (1.27x); hot 5.75"),
            "{}",
            c.figure
        );
        assert_eq!(faster(&out, &claim("canon_3", Some(1.25))).failure, None);
        // Cold is 1.274x: a floor of 1.3 fails on cold alone, naming the ratio.
        let c = faster(&out, &claim("canon_3", Some(1.3)));
        assert_eq!(
            c.failure.as_deref(),
            Some("cold: 1.274x against torch_sdpa_cudnn")
        );
        let c = faster(&out, &claim("canon_3", Some(1.7)));
        assert!(c.failure.unwrap().contains("hot: 1.597x"));
        let c = faster(&out, &claim("canon_6", None));
        assert_eq!(c.failure.as_deref(), Some("no bench summary for canon_6"));
    }

    #[test]
    fn energy_is_the_hot_rows_energy_per_launch() {
        assert_eq!(energy(None), "-");
        // A cold row: the bench records no energy for it.
        assert_eq!(energy(Some(&json!({"mode": "cold", "p50_us": 47.97}))), "-");
        // bench/canon_6 of a2c229f, fa_tc hot.
        let row =
            json!({"mode": "hot", "p50_us": 51.05, "energy_mj_per_launch": 37.23579894043923});
        assert_eq!(energy(Some(&row)), "37.2");
    }

    #[test]
    fn sm_clock_names_the_clock_and_the_power_cap() {
        assert_eq!(sm_clock(None), "-");
        assert_eq!(sm_clock(Some(&json!({"p50_us": 5.0}))), "-");
        let row = json!({"gpu": {"sm_mhz_p50": 1980, "power_limited": 0.0}});
        assert_eq!(sm_clock(Some(&row)), "1980 MHz");
        // bench/canon_6 of 627ddaa, fa_tc hot.
        let row = json!({"gpu": {"sm_mhz_p50": 1710, "power_limited": 0.8297872340425532}});
        assert_eq!(sm_clock(Some(&row)), "1710 MHz (power-capped 83%)");
    }
}
