//! The PyTorch SDPA baselines: runs scripts/sdpa_baseline.py with duct when python3 can
//! import torch with CUDA, and parses its JSON.

use std::path::Path;

use bench::{Mode, StopReason};
use cudadent_config::Config;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct SdpaOutput {
    pub torch: String,
    pub device: String,
    pub baselines: Vec<SdpaSet>,
    pub unavailable: Vec<Unavailable>,
}

#[derive(Debug, Deserialize)]
pub struct SdpaSet {
    pub name: String,
    pub mode: Mode,
    pub samples_us: Vec<f64>,
    pub stop_reason: StopReason,
    pub sampling_s: f64,
    pub launches_per_sample: u32,
    pub method: String,
    pub max_abs_err: f64,
}

#[derive(Debug, Deserialize)]
pub struct Unavailable {
    pub name: String,
    pub reason: String,
}

/// Runs the script; `Err` says why the baselines could not be taken (never fatal).
pub fn run(
    python: &str,
    script: &Path,
    cfg: &Config,
    scale: f32,
    l2_bytes: u64,
    modes: &str,
) -> Result<SdpaOutput, String> {
    if !script.is_file() {
        return Err(format!("{} does not exist", script.display()));
    }
    let probe = duct::cmd!(
        python,
        "-c",
        "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 3)"
    )
    .stdout_capture()
    .stderr_capture()
    .unchecked()
    .run()
    .map_err(|e| format!("cannot run {python}: {e}"))?;
    if !probe.status.success() {
        let err = String::from_utf8_lossy(&probe.stderr);
        let last = err.lines().last().unwrap_or("").trim().to_string();
        return Err(if probe.status.code() == Some(3) {
            format!("{python} imports torch, but torch sees no CUDA device")
        } else {
            format!("{python} cannot import torch ({last})")
        });
    }
    let p = &cfg.problem;
    let b = &cfg.bench;
    let args: Vec<String> = vec![
        script.display().to_string(),
        format!("--batch={}", p.batch),
        format!("--heads={}", p.heads),
        format!("--seq-len={}", p.seq_len),
        format!("--head-dim={}", p.head_dim),
        format!("--causal={}", p.causal as i32),
        format!("--scale={scale}"),
        format!("--warmup={}", b.warmup),
        format!("--min-samples={}", b.min_samples),
        format!("--min-time={}", b.min_time_s),
        format!("--timeout={}", b.timeout_s),
        format!("--target-rel-stdev={}", b.target_rel_stdev),
        format!("--hot-launches={}", b.hot_launches),
        format!("--l2-bytes={l2_bytes}"),
        format!("--seed={}", cfg.oracle.seed % (1 << 31)),
        format!("--modes={modes}"),
    ];
    let out = duct::cmd(python, &args)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(|e| format!("cannot run {python} {}: {e}", script.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "{python} {} exited with {}: {}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .rev()
                .take(3)
                .collect::<Vec<_>>()
                .join(" | ")
        ));
    }
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap_or("");
    serde_json::from_str(line).map_err(|e| {
        format!(
            "{} printed no baseline JSON ({e}): {}",
            script.display(),
            stdout.chars().take(300).collect::<String>()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_script_output() {
        let text = r#"{"torch": "2.11.0+cu130", "device": "NVIDIA H100 80GB HBM3", "baselines": [{"name": "torch_sdpa_flash", "mode": "cold", "samples_us": [20.5, 21.0], "stop_reason": "converged", "sampling_s": 0.6, "launches_per_sample": 1, "method": "events", "max_abs_err": 0.0009}], "unavailable": [{"name": "torch_sdpa_cudnn", "reason": "RuntimeError: No available kernel"}]}"#;
        let o: SdpaOutput = serde_json::from_str(text).unwrap();
        assert_eq!(o.baselines[0].mode, Mode::Cold);
        assert_eq!(o.baselines[0].stop_reason, StopReason::Converged);
        assert_eq!(o.unavailable[0].name, "torch_sdpa_cudnn");
    }
}
