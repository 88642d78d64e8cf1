//! The files the bench writes: `summary.json` (DESIGN.md's bench contract: `results` and
//! `baselines` with `kernel`/`name`, `mode`, `p50_us`, `p90_us`, `samples`) and
//! `samples.json` (every raw sample, which `bench compare` reads).

use serde::{Deserialize, Serialize};

use crate::stats::Summary;
use crate::stopping::StopReason;
use crate::work::{Peaks, Work};

/// Cold (L2 flushed before every sample) or hot (back-to-back launches in a CUDA graph).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// L2 flushed before every sample; one launch per sample.
    Cold,
    /// Launches back to back; per-launch time = sample time / launches.
    Hot,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Cold => "cold",
            Mode::Hot => "hot",
        })
    }
}

/// Kernel under test or baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SetKind {
    /// A kernel of the config.
    Kernel,
    /// A baseline (PyTorch SDPA backend, cuBLAS).
    Baseline,
}

impl std::fmt::Display for SetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SetKind::Kernel => "kernel",
            SetKind::Baseline => "baseline",
        })
    }
}

/// The timing of one (kernel or baseline, mode), as `summary.json` reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// `cold` or `hot`.
    pub mode: Mode,
    /// Median per-launch time, us.
    pub p50_us: f64,
    /// 90th percentile, us.
    pub p90_us: f64,
    /// Number of samples.
    pub samples: usize,
    /// Smallest sample, us.
    pub min_us: f64,
    /// 10th percentile, us.
    pub p10_us: f64,
    /// 99th percentile, us.
    pub p99_us: f64,
    /// Mean, us.
    pub mean_us: f64,
    /// Standard deviation, us.
    pub stdev_us: f64,
    /// stdev / mean.
    pub rel_stdev: f64,
    /// (p75 - p25) / p50.
    pub rel_iqr: f64,
    /// Why sampling stopped.
    pub stop_reason: StopReason,
    /// Wall time spent sampling, s.
    pub sampling_s: f64,
    /// Launches per sample (1 cold; N in a graph when hot).
    pub launches_per_sample: u32,
    /// How the launches were issued: `events` (cold), `graph`, `back_to_back`.
    pub method: String,
    /// Achieved TFLOP/s at the median.
    pub tflops: f64,
    /// Achieved GB/s at the median (Q, K, V read once, O written once).
    pub gbs: f64,
    /// tflops / measured peak.
    pub frac_peak_flops: Option<f64>,
    /// gbs / measured peak.
    pub frac_peak_bandwidth: Option<f64>,
    /// The floor this mode's time must not beat, us.
    pub floor_us: Option<f64>,
    /// Whether the median is below the floor (a suspect timer: an error).
    pub below_floor: bool,
    /// The GPU's clock, power and clock-event reasons while the samples were taken (NVML,
    /// polled every 20 ms; absent where NVML could not be read, and in results written
    /// before this field existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<gpu_telemetry::GpuState>,
    /// Board energy per launch, mJ, hot mode only ([`Timing::with_gpu`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_mj_per_launch: Option<f64>,
}

/// Board energy per launch, mJ, of a timing in `mode` with mean time per launch `mean_us`
/// taken while the GPU was in state `gpu` (see [`Timing::with_gpu`]): the energy counter's
/// mean power times the mean time, hot mode only; `None` for cold timings and where the
/// counter was not read.
pub fn energy_mj_per_launch(
    mode: Mode,
    gpu: Option<&gpu_telemetry::GpuState>,
    mean_us: f64,
) -> Option<f64> {
    match (mode, gpu) {
        (Mode::Hot, Some(g)) => g.power_w_from_energy.map(|w| w * mean_us / 1000.0),
        _ => None,
    }
}

impl Timing {
    /// Attaches the GPU's state while the samples were taken and, in hot mode, the board
    /// energy per launch it implies: the mean board power from the energy counter
    /// ([`gpu_telemetry::GpuState::power_w_from_energy`]) times the mean time per launch.
    /// The window also holds the host's gaps between samples, so this is close to, and if
    /// anything under, the energy of a launch in a stream of launches; at the board's power
    /// limit it is what the hot time is traded against. Cold samples get none: their
    /// window is mostly the L2 flush and the spin kernel around each launch.
    pub fn with_gpu(mut self, gpu: Option<gpu_telemetry::GpuState>) -> Timing {
        self.energy_mj_per_launch = energy_mj_per_launch(self.mode, gpu.as_ref(), self.mean_us);
        self.gpu = gpu;
        self
    }

    /// Builds the record from raw per-launch samples (us).
    #[allow(clippy::too_many_arguments)]
    pub fn from_samples(
        mode: Mode,
        samples_us: &[f64],
        stop_reason: StopReason,
        sampling_s: f64,
        launches_per_sample: u32,
        method: &str,
        work: &Work,
        peaks: &Peaks,
    ) -> Option<Timing> {
        let s = Summary::of(samples_us)?;
        let tflops = work.tflops(s.p50);
        let gbs = work.gbs(s.p50);
        let floor = crate::work::floor_us(work, peaks, mode == Mode::Cold);
        Some(Timing {
            mode,
            p50_us: s.p50,
            p90_us: s.p90,
            samples: s.n,
            min_us: s.min,
            p10_us: s.p10,
            p99_us: s.p99,
            mean_us: s.mean,
            stdev_us: s.stdev,
            rel_stdev: s.rel_stdev,
            rel_iqr: s.rel_iqr,
            stop_reason,
            sampling_s,
            launches_per_sample,
            method: method.to_string(),
            tflops,
            gbs,
            frac_peak_flops: peaks.tflops.map(|p| tflops / p),
            frac_peak_bandwidth: peaks.bandwidth_gbs.map(|p| gbs / p),
            floor_us: floor,
            below_floor: floor.is_some_and(|f| s.p50 < f),
            gpu: None,
            energy_mj_per_launch: None,
        })
    }
}

/// A kernel's result row (`results[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KernelResult {
    /// Kernel name.
    pub kernel: String,
    /// The manifest launch that was timed (entry and geometry): the one the manifest
    /// chooses for the config's problem. Absent in results written before launch rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch: Option<cudadent_config::Launch>,
    /// The timing.
    #[serde(flatten)]
    pub timing: Timing,
}

/// A baseline's row (`baselines[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineResult {
    /// `torch_sdpa_flash`, `torch_sdpa_efficient`, `torch_sdpa_cudnn`, `cublas_unfused`.
    pub name: String,
    /// The timing.
    #[serde(flatten)]
    pub timing: Timing,
}

/// A correctness check of a kernel's timed buffers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Correctness {
    /// Kernel or baseline name.
    pub kernel: String,
    /// `before` timing or `after_cold` / `after_hot`.
    pub when: String,
    /// Whether the output passed.
    pub passed: bool,
    /// Max abs error against the fp64 reference on the sampled heads.
    pub max_abs_err: f64,
    /// The pass rule's bound.
    pub bound: f64,
    /// Heads compared, as (b, h).
    pub heads: Vec<(usize, usize)>,
    /// Why it failed.
    pub reason: Option<String>,
}

/// A speed-up of a kernel over the fastest baseline of the same mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Speedup {
    /// Kernel name.
    pub kernel: String,
    /// Mode.
    pub mode: Mode,
    /// The fastest baseline of that mode.
    pub baseline: String,
    /// baseline p50 / kernel p50.
    pub speedup: f64,
    /// Above [`crate::work::SUSPECT_SPEEDUP`]: suspect (KernelBench's rule).
    pub suspect: bool,
}

/// GPU clocks read with nvidia-smi around the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Clocks {
    /// SM clock and max SM clock (MHz) before timing.
    pub before: Option<ClockReading>,
    /// The same after timing.
    pub after: Option<ClockReading>,
    /// Why no reading, if none.
    pub note: Option<String>,
}

/// One nvidia-smi reading.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClockReading {
    /// Current SM clock, MHz.
    pub sm_mhz: u32,
    /// Max SM clock, MHz.
    pub max_sm_mhz: u32,
}

/// Parses `nvidia-smi --query-gpu=clocks.sm,clocks.max.sm --format=csv,noheader` output
/// (first GPU): `1980 MHz, 1980 MHz`.
pub fn parse_clocks(text: &str) -> Option<ClockReading> {
    let line = text.lines().find(|l| !l.trim().is_empty())?;
    let mut it = line
        .split(',')
        .map(|f| f.trim().trim_end_matches("MHz").trim().parse::<u32>());
    Some(ClockReading {
        sm_mhz: it.next()?.ok()?,
        max_sm_mhz: it.next()?.ok()?,
    })
}

/// One raw sample set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleSet {
    /// Kernel or baseline name.
    pub name: String,
    /// Kernel or baseline.
    pub kind: SetKind,
    /// Mode.
    pub mode: Mode,
    /// Launches per sample (samples are already divided by it).
    pub launches_per_sample: u32,
    /// Per-launch times, us, in the order taken.
    pub samples_us: Vec<f64>,
    /// The GPU's state while they were taken (see [`Timing::gpu`]); absent in files written
    /// before it, or without NVML.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<gpu_telemetry::GpuState>,
}

impl SampleSet {
    /// Board energy per launch, mJ, of these samples ([`energy_mj_per_launch`] of their
    /// mean); `None` for cold sets and sets without the energy counter.
    pub fn energy_mj_per_launch(&self) -> Option<f64> {
        if self.samples_us.is_empty() {
            return None;
        }
        let (mean, _) = crate::stats::mean_stdev(&self.samples_us);
        energy_mj_per_launch(self.mode, self.gpu.as_ref(), mean)
    }
}

/// `samples.json`: every raw sample of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplesFile {
    /// Layout version.
    pub schema_version: u32,
    /// `bench`.
    pub tool: String,
    /// Config name.
    pub config: String,
    /// GPU name (null for synthetic data).
    pub device: Option<String>,
    /// HEAD of the repository, if known.
    pub git_commit: Option<String>,
    /// True for generated test data, never for a measurement.
    #[serde(default)]
    pub synthetic: bool,
    /// Free text (how synthetic data was generated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The sets.
    pub sets: Vec<SampleSet>,
}

/// p50 of an empty kernel (one thread, no work) timed like the kernels, per mode.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LaunchFloor {
    /// Cold: flush, start event, launch, end event.
    pub cold_p50_us: Option<f64>,
    /// Hot: per launch in a CUDA graph of back-to-back launches.
    pub hot_p50_us: Option<f64>,
}

/// `summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct BenchSummary {
    /// Common header.
    #[serde(flatten)]
    pub header: cudadent_evidence::Header,
    /// The problem.
    pub problem: cudadent_config::Problem,
    /// FLOPs and bytes of one pass.
    pub work: Work,
    /// Peaks measured in this run.
    pub peaks: Peaks,
    /// How the peaks were measured.
    pub peak_method: String,
    /// L2 flush buffer bytes (cold mode).
    pub l2_flush_bytes: u64,
    /// How cold samples flushed L2: `read` (L2 left clean) or `write` (a memset, L2 left
    /// dirty; runs before this field existed used it).
    pub l2_flush_method: String,
    /// Bytes of straight-line code each SM ran before every cold sample's L2 flush, evicting
    /// its instruction caches (`bench --icache-flush`); 0 without (and in runs before this
    /// field existed).
    #[serde(default)]
    pub code_flush_bytes: u64,
    /// What an empty kernel measures under this method, in the same run: the launch and
    /// event overhead included in every time above (Nsight Compute's duration excludes it).
    pub launch_floor: LaunchFloor,
    /// The arch of the cubins that were timed (the runtime's choice for this device).
    pub loaded_arch: Option<String>,
    /// The launch every kernel was forced to (`bench --launch`), where it was not the
    /// manifests' choice; absent otherwise. Such a summary is not a config's evidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forced_launch: Option<String>,
    /// Settings used (warm-up, stopping rule).
    pub settings: cudadent_config::BenchSettings,
    /// Launches per hot sample.
    pub hot_launches: u32,
    /// Kernels.
    pub results: Vec<KernelResult>,
    /// Baselines.
    pub baselines: Vec<BaselineResult>,
    /// Speed-ups over the fastest baseline per mode.
    pub speedups: Vec<Speedup>,
    /// Correctness checks of timed buffers.
    pub correctness: Vec<Correctness>,
    /// GPU clocks.
    pub clocks: Clocks,
    /// Where each timing's `gpu` state comes from, or why there is none.
    pub gpu_telemetry: String,
    /// Things the reader should know (skipped baselines, fallbacks).
    pub notes: Vec<String>,
    /// The SVG plot beside this file, if written.
    pub plot: Option<String>,
}

/// Speed-ups of each kernel over the fastest baseline of the same mode.
pub fn speedups(results: &[KernelResult], baselines: &[BaselineResult]) -> Vec<Speedup> {
    let mut out = Vec::new();
    for r in results {
        let best = baselines
            .iter()
            .filter(|b| b.timing.mode == r.timing.mode && b.timing.p50_us > 0.0)
            .min_by(|a, b| a.timing.p50_us.total_cmp(&b.timing.p50_us));
        if let Some(b) = best {
            let speedup = b.timing.p50_us / r.timing.p50_us;
            out.push(Speedup {
                kernel: r.kernel.clone(),
                mode: r.timing.mode,
                baseline: b.name.clone(),
                speedup,
                suspect: speedup > crate::work::SUSPECT_SPEEDUP,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nvidia_smi_clocks() {
        assert_eq!(
            parse_clocks("1980 MHz, 1980 MHz\n"),
            Some(ClockReading {
                sm_mhz: 1980,
                max_sm_mhz: 1980
            })
        );
        assert_eq!(
            parse_clocks("345 MHz, 1980 MHz\n1755 MHz, 1980 MHz\n").map(|c| c.sm_mhz),
            Some(345)
        );
        assert_eq!(parse_clocks("[N/A], [N/A]"), None);
        assert_eq!(parse_clocks(""), None);
    }

    fn timing(mode: Mode, p50: f64) -> Timing {
        let work = Work {
            flops: 1e9,
            bytes: 4e6,
        };
        let peaks = Peaks {
            bandwidth_gbs: Some(3000.0),
            tflops: Some(600.0),
        };
        Timing::from_samples(
            mode,
            &[p50; 10],
            StopReason::Converged,
            0.5,
            1,
            "events",
            &work,
            &peaks,
        )
        .unwrap()
    }

    #[test]
    fn energy_per_launch_is_hot_only_and_needs_the_energy_counter() {
        let at = |w: Option<f64>| gpu_telemetry::GpuState {
            samples: 30,
            power_w_from_energy: w,
            ..Default::default()
        };
        // 650 W for 50 us a launch: 32.5 mJ.
        let hot = timing(Mode::Hot, 50.0).with_gpu(Some(at(Some(650.0))));
        assert!((hot.energy_mj_per_launch.unwrap() - 32.5).abs() < 1e-9);
        assert_eq!(hot.gpu.as_ref().map(|g| g.samples), Some(30));
        // Cold windows are mostly the flush and the spin: no figure.
        let cold = timing(Mode::Cold, 50.0).with_gpu(Some(at(Some(650.0))));
        assert_eq!(cold.energy_mj_per_launch, None);
        // No counter, or no telemetry at all: none either.
        assert_eq!(
            timing(Mode::Hot, 50.0)
                .with_gpu(Some(at(None)))
                .energy_mj_per_launch,
            None
        );
        assert_eq!(
            timing(Mode::Hot, 50.0).with_gpu(None).energy_mj_per_launch,
            None
        );
    }

    #[test]
    fn speedup_is_against_the_fastest_baseline_of_the_same_mode() {
        let results = vec![KernelResult {
            kernel: "k".into(),
            launch: None,
            timing: timing(Mode::Cold, 10.0),
        }];
        let baselines = vec![
            BaselineResult {
                name: "slow".into(),
                timing: timing(Mode::Cold, 40.0),
            },
            BaselineResult {
                name: "fast".into(),
                timing: timing(Mode::Cold, 20.0),
            },
            BaselineResult {
                name: "hot".into(),
                timing: timing(Mode::Hot, 1.0),
            },
        ];
        let s = speedups(&results, &baselines);
        assert_eq!(s.len(), 1);
        assert_eq!(
            (s[0].baseline.as_str(), s[0].speedup, s[0].suspect),
            ("fast", 2.0, false)
        );
        let too_fast = vec![KernelResult {
            kernel: "k".into(),
            launch: None,
            timing: timing(Mode::Cold, 1.0),
        }];
        assert!(speedups(&too_fast, &baselines)[0].suspect);
    }

    #[test]
    fn timing_flags_a_median_below_the_floor() {
        // floor: max(1e9 / (600e12 * 1.5), 4e6 / (3000e9 * 1.5)) s = 1.111 us
        assert!(timing(Mode::Cold, 1.0).below_floor);
        assert!(!timing(Mode::Cold, 1.2).below_floor);
        let t = timing(Mode::Cold, 10.0);
        assert!((t.tflops - 100.0).abs() < 1e-9);
        assert!((t.frac_peak_flops.unwrap() - 100.0 / 600.0).abs() < 1e-12);
    }
}
