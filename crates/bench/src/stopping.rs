//! When to stop sampling, after NVBench's stdev criterion: at least `min_samples` samples
//! and `min_time_s` seconds; then stop as soon as the relative standard deviation is
//! below the target, or once the noise estimate has stopped moving (more samples would
//! not make it smaller); give up at the timeout.
//!
//! A [`Sampler`] is fed one sample at a time with the wall time spent so far, so the
//! rule is a pure function of the sample stream and is tested on synthetic streams.

use serde::{Deserialize, Serialize};

/// Why sampling stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The relative standard deviation fell below the target.
    Converged,
    /// The noise estimate was stable over the last window: it will not shrink further.
    NoiseStable,
    /// The timeout was reached first.
    Timeout,
    /// The sample cap was reached.
    MaxSamples,
}

/// Parameters of the rule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StopRule {
    /// Fewest samples.
    pub min_samples: usize,
    /// Least wall time, seconds.
    pub min_time_s: f64,
    /// Stop once stdev / mean is below this.
    pub target_rel_stdev: f64,
    /// Give up after this many seconds.
    pub timeout_s: f64,
    /// Samples in the window over which the noise estimate must be stable.
    pub stable_window: usize,
    /// The noise estimate is stable when it moved by less than this fraction of itself
    /// across the window (by a least-squares line through the window's estimates).
    pub stable_rel_change: f64,
    /// Hard cap on the number of samples.
    pub max_samples: usize,
}

impl StopRule {
    /// NVBench's defaults where the config does not say otherwise.
    pub fn new(min_samples: u32, min_time_s: f64, target_rel_stdev: f64, timeout_s: f64) -> Self {
        StopRule {
            min_samples: min_samples.max(2) as usize,
            min_time_s,
            target_rel_stdev,
            timeout_s,
            stable_window: 64,
            stable_rel_change: 0.02,
            max_samples: 200_000,
        }
    }
}

/// Running state of the rule over one sample stream (Welford's mean and variance).
#[derive(Debug, Clone)]
pub struct Sampler {
    rule: StopRule,
    samples: Vec<f64>,
    mean: f64,
    m2: f64,
    noise: Vec<f64>,
}

impl Sampler {
    /// An empty stream.
    pub fn new(rule: StopRule) -> Self {
        Sampler {
            rule,
            samples: Vec::new(),
            mean: 0.0,
            m2: 0.0,
            noise: Vec::new(),
        }
    }

    /// The samples so far.
    pub fn samples(&self) -> &[f64] {
        &self.samples
    }

    /// Consumes the sampler, returning its samples.
    pub fn into_samples(self) -> Vec<f64> {
        self.samples
    }

    /// Current relative standard deviation (NaN before two samples).
    pub fn rel_stdev(&self) -> f64 {
        let n = self.samples.len();
        if n < 2 || self.mean == 0.0 {
            return f64::NAN;
        }
        (self.m2 / (n - 1) as f64).sqrt() / self.mean
    }

    /// Adds a sample taken when `elapsed_s` seconds had been spent; returns why to stop,
    /// or `None` to go on.
    pub fn push(&mut self, sample: f64, elapsed_s: f64) -> Option<StopReason> {
        self.samples.push(sample);
        let n = self.samples.len() as f64;
        let delta = sample - self.mean;
        self.mean += delta / n;
        self.m2 += delta * (sample - self.mean);
        let rel = self.rel_stdev();
        if rel.is_finite() {
            self.noise.push(rel);
        }
        let r = &self.rule;
        if elapsed_s >= r.timeout_s {
            return Some(StopReason::Timeout);
        }
        if self.samples.len() >= r.max_samples {
            return Some(StopReason::MaxSamples);
        }
        if self.samples.len() < r.min_samples || elapsed_s < r.min_time_s {
            return None;
        }
        if rel.is_finite() && rel < r.target_rel_stdev {
            return Some(StopReason::Converged);
        }
        if self.noise_is_stable() {
            return Some(StopReason::NoiseStable);
        }
        None
    }

    /// Whether the last `stable_window` noise estimates lie on a line whose change
    /// across the window is under `stable_rel_change` of their mean.
    fn noise_is_stable(&self) -> bool {
        let w = self.rule.stable_window;
        if w < 2 || self.noise.len() < w {
            return false;
        }
        let ys = &self.noise[self.noise.len() - w..];
        let n = w as f64;
        let xm = (n - 1.0) / 2.0;
        let ym = ys.iter().sum::<f64>() / n;
        if ym.is_nan() || ym <= 0.0 {
            return false;
        }
        let (mut sxy, mut sxx) = (0.0, 0.0);
        for (i, y) in ys.iter().enumerate() {
            let dx = i as f64 - xm;
            sxy += dx * (y - ym);
            sxx += dx * dx;
        }
        let slope = sxy / sxx;
        (slope * (n - 1.0)).abs() < self.rule.stable_rel_change * ym
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic;

    fn rule() -> StopRule {
        StopRule::new(10, 0.5, 0.005, 15.0)
    }

    /// Feeds a stream where every sample costs `cost_s` of wall time.
    fn run(stream: &[f64], cost_s: f64) -> (usize, Option<StopReason>) {
        let mut s = Sampler::new(rule());
        for (i, &x) in stream.iter().enumerate() {
            if let Some(r) = s.push(x, (i + 1) as f64 * cost_s) {
                return (i + 1, Some(r));
            }
        }
        (stream.len(), None)
    }

    #[test]
    fn quiet_stream_converges_once_min_time_is_spent() {
        let stream = synthetic::samples(1, 10_000, 100.0, 0.001);
        // 10 ms per sample: min_time (0.5 s) is reached at sample 50.
        let (n, why) = run(&stream, 0.01);
        assert_eq!(why, Some(StopReason::Converged));
        assert_eq!(n, 50);
    }

    #[test]
    fn quiet_stream_needs_min_samples_even_when_slow() {
        let stream = synthetic::samples(2, 100, 100.0, 0.001);
        // 1 s per sample: time is not the limit, the 10 samples are.
        let (n, why) = run(&stream, 1.0);
        assert_eq!((n, why), (10, Some(StopReason::Converged)));
    }

    #[test]
    fn noisy_stationary_stream_stops_on_stable_noise_before_timeout() {
        let stream = synthetic::samples(3, 20_000, 100.0, 0.05);
        let (n, why) = run(&stream, 0.001);
        assert_eq!(why, Some(StopReason::NoiseStable), "after {n} samples");
        assert!(n < 15_000, "took {n} samples");
    }

    #[test]
    fn slow_noisy_stream_times_out() {
        // 0.5 s per sample and 5% noise: the noise window (64 samples) would need 32 s,
        // so the 15 s timeout ends it at sample 30.
        let stream = synthetic::samples(4, 1000, 100.0, 0.05);
        let (n, why) = run(&stream, 0.5);
        assert_eq!((n, why), (30, Some(StopReason::Timeout)));
    }

    #[test]
    fn rel_stdev_matches_two_pass_formula() {
        let v = [3.0, 5.0, 4.0, 10.0];
        let mut s = Sampler::new(rule());
        for x in v {
            s.push(x, 0.0);
        }
        let (m, sd) = crate::stats::mean_stdev(&v);
        assert!((s.rel_stdev() - sd / m).abs() < 1e-12);
    }
}
