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
    /// When the set's samples were taken, Unix seconds (scripts before this field: absent).
    #[serde(default)]
    pub window_unix_s: Option<[f64; 2]>,
}

#[derive(Debug, Deserialize)]
pub struct Unavailable {
    pub name: String,
    pub reason: String,
}

/// How the script times: the bench's own method, passed on.
#[derive(Debug, Clone, Copy)]
pub struct Method<'a> {
    /// The device's L2 bytes (the flush buffer is twice that).
    pub l2_bytes: u64,
    /// `cold`, `hot` or `cold,hot`.
    pub modes: &'a str,
    /// `read` or `write`.
    pub l2_flush: &'a str,
    /// SM clocks to hold the GPU before every sample.
    pub spin_cycles: i64,
    /// The code flush's cubin, its grid and block size, for cold samples
    /// (`--icache-flush`).
    pub code_flush: Option<(&'a Path, u32, u32)>,
}

/// Runs the script; `Err` says why the baselines could not be taken (never fatal).
pub fn run(
    python: &str,
    script: &Path,
    cfg: &Config,
    scale: f32,
    method: &Method,
) -> Result<SdpaOutput, String> {
    let Method {
        l2_bytes,
        modes,
        l2_flush,
        spin_cycles,
        code_flush,
    } = *method;
    if !script.is_file() {
        return Err(format!("{} does not exist", script.display()));
    }
    let probe = child_guard::output(
        &duct::cmd!(
            python,
            "-c",
            "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 3)"
        )
        .stdout_capture()
        .stderr_capture()
        .unchecked(),
    )
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
    let mut args: Vec<String> = vec![
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
        format!("--l2-flush={l2_flush}"),
        format!("--spin-cycles={spin_cycles}"),
    ];
    if let Some((cubin, grid, threads)) = code_flush {
        args.push(format!("--code-flush-cubin={}", cubin.display()));
        args.push(format!("--code-flush-grid={grid}"));
        args.push(format!("--code-flush-threads={threads}"));
    }
    let out = child_guard::output(
        &duct::cmd(python, &args)
            .stdout_capture()
            .stderr_capture()
            .unchecked(),
    )
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

    fn method(modes: &str) -> Method<'_> {
        Method {
            l2_bytes: 50 << 20,
            modes,
            l2_flush: "read",
            spin_cycles: 1000,
            code_flush: None,
        }
    }

    fn canon_3() -> Config {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        Config::load(&root.join("configs/canon_3.toml")).expect("canon_3 loads")
    }

    /// An executable shell script in a fresh temporary directory.
    fn fake_python(body: &str) -> (tempfile::TempDir, String) {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("python3");
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let s = p.display().to_string();
        (dir, s)
    }

    fn script() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/sdpa_baseline.py")
    }

    /// The sampling window the script reports (for the bench's GPU polls) parses; output of
    /// a script from before it still parses, without one.
    #[test]
    fn parses_the_sampling_window() {
        let text = r#"{"torch": "2.11.0+cu130", "device": "NVIDIA H100 80GB HBM3", "baselines": [{"name": "torch_sdpa_cudnn", "mode": "hot", "samples_us": [50.1, 50.3], "stop_reason": "noise_stable", "sampling_s": 0.6, "launches_per_sample": 20, "method": "graph", "max_abs_err": 0.0009, "window_unix_s": [1795788516.25, 1795788516.87]}], "unavailable": []}"#;
        let o: SdpaOutput = serde_json::from_str(text).unwrap();
        assert_eq!(
            o.baselines[0].window_unix_s,
            Some([1795788516.25, 1795788516.87])
        );
        let old = text.replace(r#", "window_unix_s": [1795788516.25, 1795788516.87]"#, "");
        let o: SdpaOutput = serde_json::from_str(&old).unwrap();
        assert_eq!(o.baselines[0].window_unix_s, None);
    }

    /// A real CPython that cannot import torch (site-packages off with -S): the baselines
    /// are skipped with Python's own reason, never a panic or a pass.
    #[test]
    fn python_without_torch_is_a_reason_not_a_failure() {
        let (_d, py) = fake_python("exec python3 -I -S \"$@\"");
        let err = run(&py, &script(), &canon_3(), 0.125, &method("cold,hot"))
            .expect_err("torch cannot be imported");
        assert!(err.contains("cannot import torch"), "{err}");
        assert!(err.contains("No module named 'torch'"), "{err}");
    }

    /// torch present but no CUDA device (the probe exits 3): said so.
    #[test]
    fn torch_without_cuda_is_named() {
        let (_d, py) = fake_python("exit 3");
        let err = run(&py, &script(), &canon_3(), 0.125, &method("cold")).expect_err("no CUDA");
        assert!(err.contains("torch sees no CUDA device"), "{err}");
    }

    /// A script that dies, or prints something that is not the JSON, is an error naming it.
    #[test]
    fn a_crashing_or_garbled_script_is_an_error_naming_it() {
        let (_d, py) = fake_python(
            "case \"$2\" in *torch*) exit 0;; esac; echo 'Traceback: boom' >&2; exit 1",
        );
        let err = run(&py, &script(), &canon_3(), 0.125, &method("cold")).expect_err("crash");
        assert!(err.contains("exited with") && err.contains("boom"), "{err}");
        let (_d, py) =
            fake_python("case \"$2\" in *torch*) exit 0;; esac; echo 'not json'; exit 0");
        let err = run(&py, &script(), &canon_3(), 0.125, &method("cold")).expect_err("garbled");
        assert!(err.contains("printed no baseline JSON"), "{err}");
    }
}
