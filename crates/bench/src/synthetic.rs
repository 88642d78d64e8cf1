//! A deterministic generator of synthetic timing samples, for tests and for the
//! compare fixtures in `tests/fixtures/compare/` (which are SYNTHETIC, never measured).
//!
//! Sample `i` of `samples(seed, n, median, rel_noise)` is
//! `median * exp(rel_noise * z_i)`, rounded to 1 ns, where `z_i` are standard normal
//! draws (Box-Muller) from ChaCha8 seeded with `seed`: a log-normal whose median is
//! `median` and whose relative spread is about `rel_noise`.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `n` synthetic samples (microseconds) around `median` with relative noise `rel_noise`.
pub fn samples(seed: u64, n: usize, median: f64, rel_noise: f64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
            let u2: f64 = rng.random::<f64>();
            let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            (median * (rel_noise * z).exp() * 1000.0).round() / 1000.0
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproducible_and_centred() {
        let a = samples(7, 2001, 50.0, 0.01);
        assert_eq!(a, samples(7, 2001, 50.0, 0.01));
        assert_ne!(a, samples(8, 2001, 50.0, 0.01));
        let m = crate::stats::median(&a).unwrap();
        assert!((m / 50.0 - 1.0).abs() < 0.002, "median {m}");
    }
}
