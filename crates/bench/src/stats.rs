//! Robust statistics of a set of timing samples (microseconds).

use serde::{Deserialize, Serialize};

/// Quantile `q` in [0, 1] of an ascending slice, by linear interpolation between the
/// two nearest ranks (Hyndman & Fan type 7, as numpy's default). `None` when empty.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
}

/// The samples sorted ascending, NaNs dropped.
pub fn sorted(samples: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = samples.iter().copied().filter(|x| !x.is_nan()).collect();
    v.sort_by(f64::total_cmp);
    v
}

/// Median of unsorted samples (`None` when empty).
pub fn median(samples: &[f64]) -> Option<f64> {
    quantile_sorted(&sorted(samples), 0.5)
}

/// Mean and sample standard deviation (n - 1); stdev 0 for one sample.
pub fn mean_stdev(samples: &[f64]) -> (f64, f64) {
    let n = samples.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = samples.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return (mean, 0.0);
    }
    let var = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    (mean, var.sqrt())
}

/// The statistics every result reports.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of samples.
    pub n: usize,
    /// Smallest sample.
    pub min: f64,
    /// 10th percentile.
    pub p10: f64,
    /// 25th percentile.
    pub p25: f64,
    /// Median.
    pub p50: f64,
    /// 75th percentile.
    pub p75: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest sample.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation.
    pub stdev: f64,
    /// stdev / mean.
    pub rel_stdev: f64,
    /// (p75 - p25) / p50: the spread that outliers cannot inflate.
    pub rel_iqr: f64,
}

impl Summary {
    /// Statistics of `samples`; `None` when there is no (non-NaN) sample.
    pub fn of(samples: &[f64]) -> Option<Summary> {
        let s = sorted(samples);
        if s.is_empty() {
            return None;
        }
        let q = |p| quantile_sorted(&s, p).unwrap_or(f64::NAN);
        let (mean, stdev) = mean_stdev(&s);
        let p50 = q(0.5);
        Some(Summary {
            n: s.len(),
            min: s[0],
            p10: q(0.10),
            p25: q(0.25),
            p50,
            p75: q(0.75),
            p90: q(0.90),
            p99: q(0.99),
            max: s[s.len() - 1],
            mean,
            stdev,
            rel_stdev: if mean != 0.0 { stdev / mean } else { f64::NAN },
            rel_iqr: if p50 != 0.0 {
                (q(0.75) - q(0.25)) / p50
            } else {
                f64::NAN
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let s = [1.0, 2.0, 3.0, 4.0];
        // numpy.quantile([1,2,3,4], [0, .1, .25, .5, .9, 1]) = 1, 1.3, 1.75, 2.5, 3.7, 4
        let want = [
            (0.0, 1.0),
            (0.1, 1.3),
            (0.25, 1.75),
            (0.5, 2.5),
            (0.9, 3.7),
            (1.0, 4.0),
        ];
        for (q, w) in want {
            let got = quantile_sorted(&s, q).unwrap();
            assert!((got - w).abs() < 1e-12, "q {q}: {got} != {w}");
        }
        assert_eq!(quantile_sorted(&[], 0.5), None);
        assert_eq!(quantile_sorted(&[7.0], 0.99), Some(7.0));
        assert_eq!(quantile_sorted(&s, 1.5), None);
    }

    #[test]
    fn summary_of_one_to_hundred() {
        let v: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let s = Summary::of(&v).unwrap();
        assert_eq!(s.n, 100);
        assert_eq!(s.min, 1.0);
        assert_eq!(s.max, 100.0);
        assert!((s.p50 - 50.5).abs() < 1e-12);
        assert!((s.p10 - 10.9).abs() < 1e-12);
        assert!((s.p90 - 90.1).abs() < 1e-12);
        assert!((s.p99 - 99.01).abs() < 1e-12);
        assert!((s.mean - 50.5).abs() < 1e-12);
        // stdev of 1..=100 (n - 1) = sqrt(841.666...) = 29.0115
        assert!((s.stdev - 29.011_491_975_882_016).abs() < 1e-9);
        // IQR = 75.25 - 25.75 = 49.5; relative to 50.5
        assert!((s.rel_iqr - 49.5 / 50.5).abs() < 1e-12);
    }

    #[test]
    fn summary_ignores_nan_and_handles_empty() {
        assert!(Summary::of(&[]).is_none());
        assert!(Summary::of(&[f64::NAN]).is_none());
        let s = Summary::of(&[2.0, f64::NAN, 2.0]).unwrap();
        assert_eq!((s.n, s.stdev, s.rel_iqr), (2, 0.0, 0.0));
    }
}
