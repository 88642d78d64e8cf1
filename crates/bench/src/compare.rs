//! Comparing two runs: for every (name, mode) present in both, the relative change of the
//! median with a seeded bootstrap confidence interval (criterion), a Mann-Whitney U
//! p-value (google-benchmark's compare.py), and a call:
//!
//! - `SLOWER` / `FASTER`: the whole confidence interval lies beyond the noise threshold
//!   on one side, and the U test agrees (p below alpha);
//! - `SAME`: the whole interval lies inside +-threshold;
//! - `UNCLEAR`: anything else (the interval straddles the threshold, or the tests disagree).
//!
//! The run-to-run noise enters through the interval, which is drawn from the samples
//! themselves: a noisy pair of runs gets a wide interval and an UNCLEAR, never a SLOWER.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::record::{SampleSet, SamplesFile};

/// The call for one (name, mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Call {
    /// Faster beyond the threshold.
    Faster,
    /// Slower beyond the threshold.
    Slower,
    /// Within the threshold.
    Same,
    /// Cannot tell.
    Unclear,
}

impl std::fmt::Display for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Call::Faster => "FASTER",
            Call::Slower => "SLOWER",
            Call::Same => "SAME",
            Call::Unclear => "UNCLEAR",
        })
    }
}

/// Settings of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CompareOptions {
    /// A change smaller than this fraction is noise (config `bench.noise_threshold`).
    pub noise_threshold: f64,
    /// Significance level of the U test, and 1 - confidence of the interval.
    pub alpha: f64,
    /// Bootstrap resamples.
    pub resamples: usize,
    /// Bootstrap seed (recorded, so the interval is reproducible).
    pub seed: u64,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            noise_threshold: 0.01,
            alpha: 0.05,
            resamples: 2000,
            seed: 20_261_125,
        }
    }
}

/// The outcome for one pair of sample sets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Median of the old samples, us.
    pub old_p50_us: f64,
    /// Median of the new samples, us.
    pub new_p50_us: f64,
    /// new median / old median - 1 (positive = slower).
    pub change: f64,
    /// Lower end of the bootstrap interval of `change`.
    pub ci_low: f64,
    /// Upper end of the bootstrap interval of `change`.
    pub ci_high: f64,
    /// Two-sided Mann-Whitney U p-value.
    pub p_value: f64,
    /// Old sample count.
    pub old_n: usize,
    /// New sample count.
    pub new_n: usize,
    /// The call.
    pub call: Call,
}

/// Median of a slice in place, by selection (type-7 median).
fn median_in_place(v: &mut [f64]) -> f64 {
    let n = v.len();
    let mid = n / 2;
    let (left, m, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    let m = *m;
    if n % 2 == 1 {
        m
    } else {
        let lower = left.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lower + m) / 2.0
    }
}

/// Bootstrap percentile interval (confidence `1 - alpha`) of `median(new)/median(old) - 1`.
pub fn bootstrap_ci(
    old: &[f64],
    new: &[f64],
    resamples: usize,
    alpha: f64,
    seed: u64,
) -> (f64, f64) {
    if old.is_empty() || new.is_empty() || resamples == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut a = vec![0.0; old.len()];
    let mut b = vec![0.0; new.len()];
    let mut ratios = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        for x in a.iter_mut() {
            *x = old[rng.random_range(0..old.len())];
        }
        for x in b.iter_mut() {
            *x = new[rng.random_range(0..new.len())];
        }
        ratios.push(median_in_place(&mut b) / median_in_place(&mut a) - 1.0);
    }
    ratios.sort_by(f64::total_cmp);
    let q = |p| crate::stats::quantile_sorted(&ratios, p).unwrap_or(f64::NAN);
    (q(alpha / 2.0), q(1.0 - alpha / 2.0))
}

/// Complementary error function (Numerical Recipes `erfcc`, fractional error < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// Mann-Whitney U test: `(U of x, two-sided p)`, by the normal approximation with tie
/// and continuity corrections (scipy's `mannwhitneyu(method="asymptotic")`).
pub fn mann_whitney_u(x: &[f64], y: &[f64]) -> (f64, f64) {
    let (n1, n2) = (x.len(), y.len());
    if n1 == 0 || n2 == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mut all: Vec<(f64, bool)> = x
        .iter()
        .map(|&v| (v, true))
        .chain(y.iter().map(|&v| (v, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = all.len();
    let (mut r1, mut ties) = (0.0, 0.0);
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        let t = (j - i + 1) as f64;
        ties += t * t * t - t;
        r1 += all[i..=j].iter().filter(|e| e.1).count() as f64 * rank;
        i = j + 1;
    }
    let (f1, f2, nf) = (n1 as f64, n2 as f64, n as f64);
    let u1 = r1 - f1 * (f1 + 1.0) / 2.0;
    let mu = f1 * f2 / 2.0;
    let var = f1 * f2 / 12.0 * ((nf + 1.0) - ties / (nf * (nf - 1.0)));
    if var <= 0.0 {
        return (u1, 1.0);
    }
    let u = u1.max(f1 * f2 - u1);
    let z = (u - mu - 0.5) / var.sqrt();
    (u1, erfc(z / std::f64::consts::SQRT_2).min(1.0))
}

/// Compares two sample sets.
pub fn compare_samples(old: &[f64], new: &[f64], opts: &CompareOptions) -> Change {
    let old_p50 = crate::stats::median(old).unwrap_or(f64::NAN);
    let new_p50 = crate::stats::median(new).unwrap_or(f64::NAN);
    let (ci_low, ci_high) = bootstrap_ci(old, new, opts.resamples, opts.alpha, opts.seed);
    let (_, p) = mann_whitney_u(old, new);
    let t = opts.noise_threshold;
    let significant = p < opts.alpha;
    let call = if ci_low > t && significant {
        Call::Slower
    } else if ci_high < -t && significant {
        Call::Faster
    } else if ci_low >= -t && ci_high <= t {
        Call::Same
    } else {
        Call::Unclear
    };
    Change {
        old_p50_us: old_p50,
        new_p50_us: new_p50,
        change: new_p50 / old_p50 - 1.0,
        ci_low,
        ci_high,
        p_value: p,
        old_n: old.len(),
        new_n: new.len(),
        call,
    }
}

/// One row of a comparison of two files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Kernel or baseline name.
    pub name: String,
    /// `kernel` or `baseline`.
    pub kind: String,
    /// `cold` or `hot`.
    pub mode: String,
    /// The change.
    #[serde(flatten)]
    pub change: Change,
    /// Set when the two runs' GPU states differ enough to explain part of the change (see
    /// [`clock_difference`]); absent when they agree or either run has no GPU state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_note: Option<String>,
    /// Board energy per launch in the old run, mJ (hot sets with the energy counter only:
    /// [`SampleSet::energy_mj_per_launch`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_energy_mj: Option<f64>,
    /// The same in the new run. At the board's power limit a hot time follows the energy
    /// per launch, so a change of one with the other is the code's; of the time alone at an
    /// unchanged energy, more likely the clock's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_energy_mj: Option<f64>,
}

/// Relative SM-clock difference above which two timings ran at materially different clocks.
pub const CLOCK_TOLERANCE: f64 = 0.02;

/// Why two timings' GPU states make them hard to compare, if they do: median SM clocks more
/// than [`CLOCK_TOLERANCE`] apart, or one held by the power limit in most of its polls and
/// the other in few (a change in energy per launch, or in the board's temperature, can move
/// the clock without the code changing).
pub fn clock_difference(
    old: &gpu_telemetry::GpuState,
    new: &gpu_telemetry::GpuState,
) -> Option<String> {
    let rel = f64::from(new.sm_mhz_p50) / f64::from(old.sm_mhz_p50.max(1)) - 1.0;
    let capped = |g: &gpu_telemetry::GpuState| g.power_limited >= 0.5;
    if rel.abs() <= CLOCK_TOLERANCE && capped(old) == capped(new) {
        return None;
    }
    Some(format!(
        "SM clock {} -> {}",
        old.clock_label(),
        new.clock_label()
    ))
}

/// A comparison of two runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Old run's device.
    pub old_device: Option<String>,
    /// New run's device.
    pub new_device: Option<String>,
    /// Options used.
    pub options: CompareOptions,
    /// One per (name, mode) in both runs, in the new run's order.
    pub rows: Vec<Row>,
    /// `name/mode` present in only one of the runs.
    pub unmatched: Vec<String>,
}

impl Report {
    /// Whether anything got slower beyond the threshold.
    pub fn any_slower(&self) -> bool {
        self.rows.iter().any(|r| r.change.call == Call::Slower)
    }
}

/// Why two files cannot be compared.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CompareError {
    /// Different GPUs: timings are not comparable.
    #[error("the runs were timed on different devices (old: {old}, new: {new}); pass --allow-different-devices to compare anyway")]
    DifferentDevices {
        /// Old device.
        old: String,
        /// New device.
        new: String,
    },
    /// No (name, mode) in common.
    #[error("the runs have no kernel or baseline in common (old: {old}; new: {new})")]
    NothingInCommon {
        /// Old sets.
        old: String,
        /// New sets.
        new: String,
    },
}

fn key(s: &SampleSet) -> String {
    format!("{}/{}", s.name, s.mode)
}

/// Compares every (name, mode) present in both files.
pub fn compare_files(
    old: &SamplesFile,
    new: &SamplesFile,
    opts: &CompareOptions,
    allow_different_devices: bool,
) -> Result<Report, CompareError> {
    let dev = |d: &Option<String>| d.clone().unwrap_or_else(|| "none".into());
    if old.device != new.device && !allow_different_devices {
        return Err(CompareError::DifferentDevices {
            old: dev(&old.device),
            new: dev(&new.device),
        });
    }
    let mut rows = Vec::new();
    let mut unmatched = Vec::new();
    for n in &new.sets {
        match old.sets.iter().find(|o| key(o) == key(n)) {
            Some(o) => rows.push(Row {
                name: n.name.clone(),
                kind: n.kind.to_string(),
                mode: n.mode.to_string(),
                change: compare_samples(&o.samples_us, &n.samples_us, opts),
                clock_note: match (&o.gpu, &n.gpu) {
                    (Some(a), Some(b)) => clock_difference(a, b),
                    _ => None,
                },
                old_energy_mj: o.energy_mj_per_launch(),
                new_energy_mj: n.energy_mj_per_launch(),
            }),
            None => unmatched.push(format!("{} (new only)", key(n))),
        }
    }
    for o in &old.sets {
        if !new.sets.iter().any(|n| key(n) == key(o)) {
            unmatched.push(format!("{} (old only)", key(o)));
        }
    }
    if rows.is_empty() {
        let names = |f: &SamplesFile| f.sets.iter().map(key).collect::<Vec<_>>().join(", ");
        return Err(CompareError::NothingInCommon {
            old: names(old),
            new: names(new),
        });
    }
    Ok(Report {
        old_device: old.device.clone(),
        new_device: new.device.clone(),
        options: *opts,
        rows,
        unmatched,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpu(mhz: u32, capped: f64) -> gpu_telemetry::GpuState {
        gpu_telemetry::GpuState {
            samples: 25,
            sm_mhz_min: mhz,
            sm_mhz_p50: mhz,
            sm_mhz_max: mhz,
            power_limited: capped,
            ..Default::default()
        }
    }

    #[test]
    fn clock_difference_flags_a_moved_clock_or_a_new_power_cap() {
        assert_eq!(clock_difference(&gpu(1980, 0.0), &gpu(1980, 0.0)), None);
        assert_eq!(clock_difference(&gpu(1980, 0.0), &gpu(1950, 0.0)), None);
        assert_eq!(clock_difference(&gpu(1710, 0.83), &gpu(1740, 0.88)), None);
        // bench/canon_6 of 627ddaa: cold against hot of fa_tc.
        assert_eq!(
            clock_difference(&gpu(1980, 0.0), &gpu(1710, 0.83)).as_deref(),
            Some("SM clock 1980 MHz -> 1710 MHz (power-capped 83%)")
        );
        // Same clock, but one capped most of the time.
        assert!(clock_difference(&gpu(1965, 0.1), &gpu(1965, 0.9)).is_some());
    }

    /// A synthetic samples file of canon_6 on the H100 holding `sets`.
    fn canon_6_file(sets: Vec<SampleSet>) -> SamplesFile {
        SamplesFile {
            schema_version: 1,
            tool: "bench".into(),
            config: "canon_6".into(),
            device: Some("NVIDIA H100 80GB HBM3".into()),
            git_commit: None,
            synthetic: true,
            note: None,
            sets,
        }
    }

    #[test]
    fn compare_files_notes_the_clock_only_where_both_runs_have_it() {
        let set = |median: f64, g: Option<gpu_telemetry::GpuState>| SampleSet {
            name: "fa_tc".into(),
            kind: crate::record::SetKind::Kernel,
            mode: crate::record::Mode::Hot,
            launches_per_sample: 20,
            samples_us: crate::synthetic::samples(7, 60, median, 0.01),
            gpu: g,
        };
        let file = |s: SampleSet| canon_6_file(vec![s]);
        let o = CompareOptions::default();
        let r = compare_files(
            &file(set(47.4, Some(gpu(1980, 0.0)))),
            &file(set(51.7, Some(gpu(1710, 0.83)))),
            &o,
            false,
        )
        .unwrap();
        assert_eq!(r.rows[0].change.call, Call::Slower);
        assert!(r.rows[0]
            .clock_note
            .as_deref()
            .unwrap()
            .contains("1710 MHz"));
        let r = compare_files(
            &file(set(47.4, None)),
            &file(set(51.7, Some(gpu(1710, 0.83)))),
            &o,
            false,
        )
        .unwrap();
        assert_eq!(r.rows[0].clock_note, None);
    }

    #[test]
    fn compare_files_reports_the_energy_per_launch_of_hot_sets() {
        // Power from the energy counter as bench/canon_6 of a2c229f recorded it: fa_tc hot
        // 51.05 us at 729.4 W (37.2 mJ a launch).
        let with_power = |w: f64| gpu_telemetry::GpuState {
            power_w_from_energy: Some(w),
            ..gpu(1740, 0.85)
        };
        let set = |mode, median: f64, g| SampleSet {
            name: "fa_tc".into(),
            kind: crate::record::SetKind::Kernel,
            mode,
            launches_per_sample: 20,
            samples_us: vec![median; 9],
            gpu: g,
        };
        use crate::record::Mode::{Cold, Hot};
        let old = canon_6_file(vec![
            set(Hot, 51.05, Some(with_power(729.4))),
            set(Cold, 47.97, Some(with_power(300.0))),
        ]);
        let new = canon_6_file(vec![
            set(Hot, 50.00, Some(with_power(720.0))),
            set(Cold, 47.50, Some(with_power(300.0))),
        ]);
        let r = compare_files(&old, &new, &CompareOptions::default(), false).unwrap();
        let hot = r.rows.iter().find(|r| r.mode == "hot").unwrap();
        assert!((hot.old_energy_mj.unwrap() - 37.236).abs() < 1e-3);
        assert!((hot.new_energy_mj.unwrap() - 36.0).abs() < 1e-9);
        // Cold sets have none (their window is mostly the flush around each launch).
        let cold = r.rows.iter().find(|r| r.mode == "cold").unwrap();
        assert_eq!((cold.old_energy_mj, cold.new_energy_mj), (None, None));
        let table = crate::render::compare_table(&r);
        assert!(table.contains("37.2 -> 36.0"), "{table}");
        // A run without the counter on one side.
        let r = compare_files(
            &canon_6_file(vec![set(Hot, 51.05, None)]),
            &new,
            &CompareOptions::default(),
            false,
        )
        .unwrap();
        let hot = r.rows.iter().find(|r| r.mode == "hot").unwrap();
        assert_eq!(hot.old_energy_mj, None);
        assert!(crate::render::compare_table(&r).contains("- -> 36.0"));
    }

    #[test]
    fn mann_whitney_matches_scipy_asymptotic() {
        // scipy.stats.mannwhitneyu(x, y, method="asymptotic") (use_continuity=True).
        let cases: [(&[f64], &[f64], f64, f64); 3] = [
            (
                &[1.0, 2.0, 3.0],
                &[4.0, 5.0, 6.0],
                0.0,
                0.080_855_598_370_052_3,
            ),
            // scipy's documentation example: statistic 17, pvalue 0.11134688653314041.
            (
                &[19.0, 22.0, 16.0, 29.0, 24.0],
                &[20.0, 11.0, 17.0, 12.0],
                17.0,
                0.111_346_886_533_140_4,
            ),
            // With ties (average ranks, tie-corrected variance).
            (
                &[1.1, 2.2, 2.2, 3.5, 4.0, 5.1],
                &[2.2, 3.5, 6.0, 7.1, 8.3],
                6.5,
                0.139_547_143_725_315_9,
            ),
        ];
        for (x, y, u, p) in cases {
            let (gu, gp) = mann_whitney_u(x, y);
            assert_eq!(gu, u);
            assert!((gp - p).abs() < 1e-6, "p {gp} != {p}");
        }
        assert_eq!(mann_whitney_u(&[1.0, 1.0], &[1.0, 1.0]).1, 1.0);
    }

    #[test]
    fn erfc_known_values() {
        for (x, want) in [
            (0.0, 1.0),
            (0.5, 0.479_500_122_186_953_5),
            (1.0, 0.157_299_207_050_285_1),
            (-1.0, 1.842_700_792_949_715),
            (3.0, 2.209_049_699_858_544e-5),
        ] {
            assert!(
                (erfc(x) - want).abs() <= 1.2e-7 * want.max(1e-3),
                "erfc({x})"
            );
        }
    }

    #[test]
    fn bootstrap_is_reproducible_with_its_seed() {
        let a = crate::synthetic::samples(1, 200, 100.0, 0.02);
        let b = crate::synthetic::samples(2, 200, 103.0, 0.02);
        let ci = bootstrap_ci(&a, &b, 1000, 0.05, 42);
        assert_eq!(ci, bootstrap_ci(&a, &b, 1000, 0.05, 42));
        assert_ne!(ci, bootstrap_ci(&a, &b, 1000, 0.05, 43));
        assert!(ci.0 < 0.03 && 0.03 < ci.1, "{ci:?}");
        assert!(ci.0 > 0.0, "{ci:?}");
    }

    #[test]
    fn median_by_selection_matches_sorted_median() {
        let v = crate::synthetic::samples(5, 101, 10.0, 0.3);
        for n in [1, 2, 3, 100, 101] {
            let mut w = v[..n].to_vec();
            assert_eq!(
                median_in_place(&mut w),
                crate::stats::median(&v[..n]).unwrap()
            );
        }
    }

    #[test]
    fn calls_on_synthetic_pairs() {
        let o = CompareOptions::default();
        let base = crate::synthetic::samples(10, 300, 100.0, 0.005);
        let same = crate::synthetic::samples(11, 300, 100.0, 0.005);
        let slower = crate::synthetic::samples(12, 300, 105.0, 0.005);
        let faster = crate::synthetic::samples(13, 300, 95.0, 0.005);
        assert_eq!(compare_samples(&base, &same, &o).call, Call::Same);
        assert_eq!(compare_samples(&base, &base, &o).call, Call::Same);
        assert_eq!(compare_samples(&base, &slower, &o).call, Call::Slower);
        assert_eq!(compare_samples(&base, &faster, &o).call, Call::Faster);
        let noisy_a = crate::synthetic::samples(14, 30, 100.0, 0.08);
        let noisy_b = crate::synthetic::samples(15, 30, 102.0, 0.08);
        assert_eq!(compare_samples(&noisy_a, &noisy_b, &o).call, Call::Unclear);
    }
}
