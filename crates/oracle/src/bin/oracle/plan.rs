//! Which checks a config asks for: (distribution, trial, seed, scale) tuples, and which
//! reference covers them.

use cudadent_config::{Config, DistributionName};
use oracle::{Distribution, Shape};

/// One check: one input set, one scale, every kernel.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    pub distribution: Distribution,
    pub trial: u32,
    pub seed: u64,
    pub scale: f32,
}

/// The oracle library's distribution for a config name.
pub fn distribution(d: DistributionName) -> Distribution {
    match d {
        DistributionName::Normal => Distribution::Normal,
        DistributionName::LargeMagnitude => Distribution::ALL[1],
        DistributionName::Uniform => Distribution::Uniform,
        DistributionName::SparseInt => Distribution::SparseSmallIntegers,
    }
}

/// Every (distribution, trial) pair gets a distinct, recorded seed; the scales rotate so
/// that each scale meets several distributions (1/sqrt(D) first).
pub fn checks(cfg: &Config) -> Vec<Check> {
    let o = &cfg.oracle;
    let mut scales = vec![cfg.problem.default_scale()];
    scales.extend(o.extra_scales.iter().copied());
    let mut out = Vec::new();
    for (di, d) in o.distributions.iter().enumerate() {
        for t in 0..o.trials {
            let i = di * o.trials as usize + t as usize;
            out.push(Check {
                distribution: distribution(*d),
                trial: t,
                seed: o.seed.wrapping_mul(1_000_003).wrapping_add(i as u64),
                scale: scales[(t as usize + di) % scales.len()],
            });
        }
    }
    out
}

/// Multiply-adds of one reference evaluation (QK^T and PV, causal halves it).
pub fn reference_work(shape: &Shape) -> f64 {
    let per_head = 2.0 * (shape.seq_len as f64).powi(2) * shape.head_dim as f64;
    let all = per_head * (shape.batch * shape.heads) as f64;
    if shape.causal {
        all / 2.0
    } else {
        all
    }
}

/// Above this many multiply-adds the CPU references cover sampled heads only and the GPU
/// fp32 reference kernel covers every element (canon_3 is 2.7e8, canon_6 4.3e9).
pub const CPU_FULL_LIMIT: f64 = 1.2e9;

/// Heads the CPU checks in sampled mode: first, last and a seeded spread, at most `n`.
pub fn sampled_heads(shape: &Shape, n: usize, seed: u64) -> Vec<(usize, usize)> {
    let total = shape.batch * shape.heads;
    let mut picks = vec![0, total - 1];
    let mut x = seed | 1;
    while picks.len() < n.min(total) {
        // xorshift: reproducible from the seed, no extra dependency.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let p = (x % total as u64) as usize;
        if !picks.contains(&p) {
            picks.push(p);
        }
    }
    picks.sort_unstable();
    picks.dedup();
    picks
        .into_iter()
        .map(|i| (i / shape.heads, i % shape.heads))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampled_heads_cover_first_and_last_and_are_reproducible() {
        let s = Shape::new(4, 16, 64, 64, true);
        let a = sampled_heads(&s, 4, 7);
        assert_eq!(a, sampled_heads(&s, 4, 7));
        assert_eq!(a.len(), 4);
        assert_eq!(a[0], (0, 0));
        assert_eq!(*a.last().expect("non-empty"), (3, 15));
        assert_eq!(
            sampled_heads(&Shape::new(1, 1, 8, 8, false), 4, 1),
            vec![(0, 0)]
        );
    }
}
