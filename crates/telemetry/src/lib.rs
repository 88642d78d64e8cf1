//! GPU telemetry while a measurement runs.
//!
//! This crate owns one question about a timing: at what clock, under which limit, and at
//! what power did the GPU run while it was taken? [`Sampler`] polls NVML (SM clock, board
//! power draw, the board's energy counter, the driver's clock-event reasons) on a
//! background thread while a closure runs, stamping
//! every [`Sample`] with Unix time so that samples can also be attributed to windows that
//! another process reports (the PyTorch baselines run in a subprocess). [`summarize`] and
//! [`within`] are pure: samples in, a [`GpuState`] out.
//!
//! Why it matters: an H100 SXM held at its 700 W board limit lowers its SM clock (the
//! `sw_power_cap` reason), so a kernel's back-to-back ("hot") time depends on its energy
//! per launch as much as on its cycles; a cold sample, taken after an L2 flush and a spin,
//! runs at the full boost clock. A time without the clock it ran at cannot tell the two
//! apart.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nvml_wrapper::enum_wrappers::device::Clock;
use nvml_wrapper::error::NvmlError;
use nvml_wrapper::{Device, Nvml};
use serde::{Deserialize, Serialize};

/// How often the sampler polls NVML.
pub const INTERVAL: Duration = Duration::from_millis(20);

/// What can stop telemetry from being taken.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// NVML could not be loaded or initialised (no driver, no GPU).
    #[error("NVML unavailable: {0}")]
    Unavailable(String),
    /// NVML has no device at this PCI address.
    #[error("NVML has no GPU at PCI address {pci_bus_id}: {detail}")]
    NoDevice {
        /// The address asked for.
        pci_bus_id: String,
        /// NVML's error.
        detail: String,
    },
}

/// One poll of the GPU. A field NVML did not answer is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// When, seconds since the Unix epoch.
    pub at_unix_s: f64,
    /// Current SM clock, MHz.
    pub sm_mhz: Option<u32>,
    /// Board power draw, W.
    pub power_w: Option<f64>,
    /// NVML's clock-event (throttle) reason bits.
    pub reasons: Option<u64>,
    /// The board's energy counter, mJ since the driver loaded (`nvmlDeviceGetTotalEnergy
    /// Consumption`); absent in polls recorded before it was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_mj: Option<u64>,
}

/// NVML's clock-event reason bits (`nvmlClocksEventReason*`) and the names reported.
pub const REASONS: [(u64, &str); 9] = [
    (0x1, "gpu_idle"),
    (0x2, "applications_clocks_setting"),
    (0x4, "sw_power_cap"),
    (0x8, "hw_slowdown"),
    (0x10, "sync_boost"),
    (0x20, "sw_thermal_slowdown"),
    (0x40, "hw_thermal_slowdown"),
    (0x80, "hw_power_brake_slowdown"),
    (0x100, "display_clock_setting"),
];
/// Reasons that mean the clock was held down by power: the software power cap and the
/// hardware power brake.
pub const POWER_LIMIT_BITS: u64 = 0x4 | 0x80;
/// Reasons that mean the clock was held down by temperature.
pub const THERMAL_BITS: u64 = 0x20 | 0x40;

/// The names of the reason bits set in `bits`, in [`REASONS`] order; unknown bits as hex.
pub fn reason_names(bits: u64) -> Vec<String> {
    let mut out: Vec<String> = REASONS
        .iter()
        .filter(|(b, _)| bits & b != 0)
        .map(|(_, n)| n.to_string())
        .collect();
    let known: u64 = REASONS.iter().map(|(b, _)| b).sum();
    if bits & !known != 0 {
        out.push(format!("{:#x}", bits & !known));
    }
    out
}

/// What the GPU did during a set of samples (`Default`: no polls, for building one by hand).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GpuState {
    /// Polls taken (every [`INTERVAL`]).
    pub samples: usize,
    /// Lowest SM clock seen, MHz.
    pub sm_mhz_min: u32,
    /// Median SM clock, MHz.
    pub sm_mhz_p50: u32,
    /// Highest SM clock seen, MHz.
    pub sm_mhz_max: u32,
    /// Mean board power, W (of the polls that read it). NVML's power reading is itself an
    /// average over about a second on this class of board, so over a short window it lags;
    /// [`GpuState::power_w_from_energy`] does not.
    pub power_w_mean: Option<f64>,
    /// Highest board power seen, W.
    pub power_w_max: Option<f64>,
    /// Fraction of polls with a power-limit reason set (`sw_power_cap`,
    /// `hw_power_brake_slowdown`).
    pub power_limited: f64,
    /// Fraction of polls with a thermal reason set.
    pub thermal_limited: f64,
    /// Every reason seen in any poll.
    pub reasons_seen: Vec<String>,
    /// Mean board power over the window from the energy counter ([`energy_power_w`]), W;
    /// absent where the counter did not advance twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_w_from_energy: Option<f64>,
}

/// Mean board power, W, from the energy counter of `samples` (in time order): the energy
/// between the first and the last poll that saw the counter advance, over the time between
/// them. Timing the span by the counter's own steps, not by the window's ends, keeps the
/// counter's update period out of the estimate (it steps less often than the sampler
/// polls). `None` with fewer than two steps, or when the counter went backwards (a driver
/// reload).
pub fn energy_power_w(samples: &[Sample]) -> Option<f64> {
    let polls: Vec<(f64, u64)> = samples
        .iter()
        .filter_map(|s| s.energy_mj.map(|e| (s.at_unix_s, e)))
        .collect();
    if polls.windows(2).any(|w| w[1].1 < w[0].1) {
        return None;
    }
    let steps: Vec<(f64, u64)> = polls
        .windows(2)
        .filter(|w| w[1].1 != w[0].1)
        .map(|w| w[1])
        .collect();
    let (first, last) = (steps.first()?, steps.last()?);
    let dt = last.0 - first.0;
    (steps.len() >= 2 && dt > 0.0).then(|| (last.1 - first.1) as f64 / 1000.0 / dt)
}

/// The state over `samples`; `None` when no poll read the SM clock.
pub fn summarize(samples: &[Sample]) -> Option<GpuState> {
    let mut clocks: Vec<u32> = samples.iter().filter_map(|s| s.sm_mhz).collect();
    if clocks.is_empty() {
        return None;
    }
    clocks.sort_unstable();
    let powers: Vec<f64> = samples.iter().filter_map(|s| s.power_w).collect();
    let reasons: Vec<u64> = samples.iter().filter_map(|s| s.reasons).collect();
    let frac = |mask: u64| {
        if reasons.is_empty() {
            0.0
        } else {
            reasons.iter().filter(|r| *r & mask != 0).count() as f64 / reasons.len() as f64
        }
    };
    Some(GpuState {
        samples: samples.len(),
        sm_mhz_min: clocks[0],
        sm_mhz_p50: clocks[(clocks.len() - 1) / 2],
        sm_mhz_max: clocks[clocks.len() - 1],
        power_w_mean: (!powers.is_empty())
            .then(|| powers.iter().sum::<f64>() / powers.len() as f64),
        power_w_max: powers.iter().copied().reduce(f64::max),
        power_limited: frac(POWER_LIMIT_BITS),
        thermal_limited: frac(THERMAL_BITS),
        reasons_seen: reason_names(reasons.iter().fold(0, |a, r| a | r)),
        power_w_from_energy: energy_power_w(samples),
    })
}

impl GpuState {
    /// `1710 MHz (power-capped 83%)`, or `1980 MHz` when no poll was power-limited.
    pub fn clock_label(&self) -> String {
        clock_label(self.sm_mhz_p50, self.power_limited)
    }
}

/// A median SM clock and the share of polls held by the power limit, as every report words
/// them (the bench's table, EVIDENCE.md): `1710 MHz (power-capped 83%)`, or `1980 MHz` when
/// no poll was power-limited.
pub fn clock_label(sm_mhz_p50: u32, power_limited: f64) -> String {
    if power_limited > 0.0 {
        format!(
            "{sm_mhz_p50} MHz (power-capped {:.0}%)",
            power_limited * 100.0
        )
    } else {
        format!("{sm_mhz_p50} MHz")
    }
}

/// Runs `f` under `sampler` when there is one ([`Sampler::record`]); without one, no polls.
pub fn record_with<T>(sampler: Option<&Sampler>, f: impl FnOnce() -> T) -> (T, Vec<Sample>) {
    match sampler {
        Some(s) => s.record(f),
        None => (f(), Vec::new()),
    }
}

/// The samples taken within `[start, end]` (Unix seconds).
pub fn within(samples: &[Sample], start: f64, end: f64) -> Vec<Sample> {
    samples
        .iter()
        .filter(|s| s.at_unix_s >= start && s.at_unix_s <= end)
        .copied()
        .collect()
}

/// Now, as Unix seconds.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Polls one GPU through NVML.
pub struct Sampler {
    nvml: Nvml,
    pci_bus_id: String,
}

impl std::fmt::Debug for Sampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampler")
            .field("pci_bus_id", &self.pci_bus_id)
            .finish()
    }
}

impl Sampler {
    /// Loads NVML and checks that the GPU at PCI address `pci_bus_id` (`domain:bus:device.0`
    /// in hex, as CUDA reports it) answers: the same GPU as the CUDA device, whatever order
    /// CUDA and NVML number devices in.
    pub fn open(pci_bus_id: &str) -> Result<Sampler, TelemetryError> {
        let nvml = Nvml::init().map_err(|e| TelemetryError::Unavailable(e.to_string()))?;
        nvml.device_by_pci_bus_id(pci_bus_id)
            .map_err(|e| TelemetryError::NoDevice {
                pci_bus_id: pci_bus_id.to_string(),
                detail: e.to_string(),
            })?;
        Ok(Sampler {
            nvml,
            pci_bus_id: pci_bus_id.to_string(),
        })
    }

    /// The PCI address polled.
    pub fn pci_bus_id(&self) -> &str {
        &self.pci_bus_id
    }

    /// One poll now.
    pub fn poll(&self) -> Sample {
        read(self.device().ok().as_ref())
    }

    /// NVML's handle of the GPU polled.
    fn device(&self) -> Result<Device<'_>, NvmlError> {
        self.nvml.device_by_pci_bus_id(self.pci_bus_id.as_str())
    }

    /// Runs `f` while a background thread polls every [`INTERVAL`] (and once more at the
    /// end); returns `f`'s result and the polls.
    pub fn record<T>(&self, f: impl FnOnce() -> T) -> (T, Vec<Sample>) {
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let poller = scope.spawn(|| {
                // One lookup for the whole recording, not one per poll.
                let device = self.device().ok();
                let mut out = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    out.push(read(device.as_ref()));
                    std::thread::sleep(INTERVAL);
                }
                out.push(read(device.as_ref()));
                out
            });
            let value = f();
            stop.store(true, Ordering::Relaxed);
            // A panicking poller loses the polls, never the measurement.
            (value, poller.join().unwrap_or_default())
        })
    }
}

/// One poll of `device` now; every field `None` without a device.
fn read(device: Option<&Device<'_>>) -> Sample {
    let at_unix_s = unix_now();
    match device {
        Some(d) => Sample {
            at_unix_s,
            sm_mhz: d.clock_info(Clock::SM).ok(),
            power_w: d.power_usage().ok().map(|mw| f64::from(mw) / 1000.0),
            reasons: d.current_throttle_reasons().ok().map(|r| r.bits()),
            energy_mj: d.total_energy_consumption().ok(),
        },
        None => Sample {
            at_unix_s,
            sm_mhz: None,
            power_w: None,
            reasons: None,
            energy_mj: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(at: f64, mhz: u32, w: f64, reasons: u64) -> Sample {
        Sample {
            at_unix_s: at,
            sm_mhz: Some(mhz),
            power_w: Some(w),
            reasons: Some(reasons),
            energy_mj: None,
        }
    }

    /// Polls every 20 ms of a counter that steps every `period` s at `watts`.
    fn counter(n: usize, period: f64, watts: f64, offset: f64) -> Vec<Sample> {
        (0..n)
            .map(|i| {
                let t = i as f64 * 0.02;
                let stepped = ((t + offset) / period).floor() * period;
                Sample {
                    energy_mj: Some(1_000_000 + (stepped * watts * 1000.0) as u64),
                    ..s(100.0 + t, 1700, watts, 0x4)
                }
            })
            .collect()
    }

    #[test]
    fn energy_power_is_timed_by_the_counter_steps() {
        // A 100 ms counter polled every 20 ms over 1 s, whatever its phase: the estimate
        // is within the 20 ms poll spacing of the truth (2 % of 0.8 s or more).
        for offset in [0.0, 0.03, 0.07] {
            let p = energy_power_w(&counter(51, 0.1, 650.0, offset)).unwrap();
            assert!((p - 650.0).abs() < 650.0 * 0.03, "offset {offset}: {p}");
        }
        // And in the summary.
        let g = summarize(&counter(51, 0.1, 600.0, 0.0)).unwrap();
        assert!(
            (g.power_w_from_energy.unwrap() - 600.0).abs() < 18.0,
            "{g:?}"
        );
    }

    #[test]
    fn energy_power_needs_two_steps_and_a_monotonic_counter() {
        assert_eq!(energy_power_w(&[]), None);
        // No counter read.
        assert_eq!(energy_power_w(&[s(0.0, 1980, 300.0, 0)]), None);
        // One step only: no span to time.
        assert_eq!(energy_power_w(&counter(6, 0.1, 600.0, 0.0)), None);
        // A counter that went backwards (driver reload) gives nothing, not a negative power.
        let mut xs = counter(51, 0.1, 600.0, 0.0);
        xs[30].energy_mj = Some(5);
        assert_eq!(energy_power_w(&xs), None);
    }

    #[test]
    fn names_known_and_unknown_bits() {
        assert_eq!(reason_names(0), Vec::<String>::new());
        assert_eq!(reason_names(0x4), vec!["sw_power_cap"]);
        assert_eq!(
            reason_names(0x1 | 0x40),
            vec!["gpu_idle", "hw_thermal_slowdown"]
        );
        assert_eq!(reason_names(0x4 | 0x1000), vec!["sw_power_cap", "0x1000"]);
    }

    #[test]
    fn summary_of_nothing_is_none() {
        assert_eq!(summarize(&[]), None);
        let blank = Sample {
            at_unix_s: 1.0,
            sm_mhz: None,
            power_w: None,
            reasons: None,
            energy_mj: None,
        };
        assert_eq!(summarize(&[blank]), None);
    }

    #[test]
    fn summary_counts_power_limited_polls() {
        let xs = [
            s(0.0, 1980, 300.0, 0),
            s(0.1, 1700, 690.0, 0x4),
            s(0.2, 1650, 700.0, 0x4),
            s(0.3, 1600, 698.0, 0x4 | 0x20),
        ];
        let g = summarize(&xs).unwrap();
        assert_eq!(
            (g.sm_mhz_min, g.sm_mhz_p50, g.sm_mhz_max),
            (1600, 1650, 1980)
        );
        assert_eq!(g.power_limited, 0.75);
        assert_eq!(g.thermal_limited, 0.25);
        assert_eq!(g.power_w_max, Some(700.0));
        assert!((g.power_w_mean.unwrap() - 597.0).abs() < 1e-9);
        assert_eq!(g.reasons_seen, vec!["sw_power_cap", "sw_thermal_slowdown"]);
    }

    #[test]
    fn clock_label_names_the_power_cap_only_when_seen() {
        let mut g = summarize(&[s(0.0, 1980, 300.0, 0)]).unwrap();
        assert_eq!(g.clock_label(), "1980 MHz");
        g.sm_mhz_p50 = 1710;
        g.power_limited = 0.83;
        assert_eq!(g.clock_label(), "1710 MHz (power-capped 83%)");
    }

    #[test]
    fn record_with_no_sampler_runs_f_and_polls_nothing() {
        let (v, polls) = record_with(None, || 3);
        assert_eq!((v, polls.len()), (3, 0));
    }

    #[test]
    fn within_keeps_the_window_inclusive() {
        let xs = [s(1.0, 1, 0.0, 0), s(2.0, 2, 0.0, 0), s(3.0, 3, 0.0, 0)];
        let w = within(&xs, 2.0, 3.0);
        assert_eq!(
            w.iter().map(|x| x.sm_mhz.unwrap()).collect::<Vec<_>>(),
            [2, 3]
        );
    }

    #[test]
    fn opening_without_a_driver_is_an_error_not_a_panic() {
        // On a machine with an NVIDIA driver this opens; either way it must not panic.
        match Sampler::open("0:1:0.0") {
            Ok(sampler) => {
                let (v, polls) = sampler.record(|| 7);
                assert_eq!(v, 7);
                assert!(!polls.is_empty());
            }
            Err(e) => assert!(e.to_string().contains("NVML"), "{e}"),
            // (A machine whose GPU sits elsewhere answers NoDevice, which also names NVML.)
        }
    }
}
