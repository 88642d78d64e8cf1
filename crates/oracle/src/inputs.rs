//! Inputs built to break kernels, reproducible from a seed.
//!
//! Each element of each tensor is a pure function of `(seed, tensor, index)`: element
//! `i` of Q is made from the `i`-th 64-bit word of the ChaCha8 stream 0 seeded with
//! `seed` (K uses stream 1, V stream 2). The tensors are therefore the same whatever the
//! number of threads, and a larger batch starts with the same values as a smaller one.
//! Filling runs in parallel over chunks, each of which seeks its stream to its own
//! position (`set_word_pos`), so an 8M-element tensor takes a fraction of a second.

use std::fmt;
use std::str::FromStr;

use half::f16;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{OracleError, Shape};

/// The default factor of [`Distribution::LargeMagnitude`].
///
/// With Q and K drawn from N(0, f²), one logit `scale · q·k` has standard deviation
/// `scale · sqrt(D) · f²` (see [`Distribution::logit_std`]): at D = 64, scale = 1/8 and
/// f = 8 that is 64. `exp` overflows fp32 above `ln(f32::MAX)` ≈ 88.72, i.e. 1.39
/// standard deviations, which about 8% of all (query, key) pairs exceed; a row of 512
/// keys has its maximum near 3 standard deviations (≈ 190), and the chance that a row
/// of 512 keys has no logit above 88.72 is about 0.917^512 ≈ 1e-19. So every row of a
/// kernel that computes `exp(s)` instead of `exp(s - max)` produces inf/inf = NaN (or
/// inf), and the same holds at D = 128 with scale 1/sqrt(128). A factor of 4 would not
/// be enough (σ = 16: the row maximum ≈ 48 stays below 88.72), which is why the
/// default is 8 and not smaller. The values themselves (|x| up to ≈ 50) and the
/// unscaled `q·k` (σ = 512 at D = 64) stay far inside fp16's range (65504).
pub const DEFAULT_LARGE_FACTOR: f32 = 8.0;

/// The largest accepted [`Distribution::LargeMagnitude`] factor: beyond it the inputs
/// themselves overflow fp16 (N(0,1) samples reach ±6).
pub const MAX_LARGE_FACTOR: f32 = 1024.0;

/// Probability that an element of [`Distribution::SparseSmallIntegers`] is not zero.
pub const SPARSE_NONZERO_PROBABILITY: f64 = 0.25;

/// How the elements of Q, K and V are drawn.
///
/// Serialised as a string: `"normal"`, `"large_magnitude"` (the default factor),
/// `"large_magnitude:<factor>"` (e.g. `"large_magnitude:16"`), `"uniform"`,
/// `"sparse_int"`. A string keeps the `distribution` field of the oracle's records one
/// JSON type, and a config line short (`distributions = ["normal", "large_magnitude"]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Distribution {
    /// Standard normal N(0, 1), rounded to fp16: what attention sees in practice.
    Normal,
    /// Standard normal times `factor`: logits large enough that `exp` overflows fp32
    /// unless the row maximum is subtracted first (see [`DEFAULT_LARGE_FACTOR`]).
    LargeMagnitude {
        /// The multiplier of N(0, 1); in (0, [`MAX_LARGE_FACTOR`]].
        factor: f32,
    },
    /// Uniform on (-1, 1), rounded to fp16 (so ±1.0 itself can occur after rounding).
    Uniform,
    /// Mostly zeros (75%); the rest uniform on {-3, -2, -1, 1, 2, 3}. Every product and
    /// every `q·k` is exact in fp16 and fp32, rows are full of ties (many logits equal,
    /// many exactly 0), and rows of Q that are all zero give a uniform softmax.
    SparseSmallIntegers,
}

impl Distribution {
    /// Every distribution, with the default large-magnitude factor.
    pub const ALL: [Distribution; 4] = [
        Distribution::Normal,
        Distribution::LargeMagnitude {
            factor: DEFAULT_LARGE_FACTOR,
        },
        Distribution::Uniform,
        Distribution::SparseSmallIntegers,
    ];

    /// The name without parameters: `normal`, `large_magnitude`, `uniform`, `sparse_int`.
    pub fn name(&self) -> &'static str {
        match self {
            Distribution::Normal => "normal",
            Distribution::LargeMagnitude { .. } => "large_magnitude",
            Distribution::Uniform => "uniform",
            Distribution::SparseSmallIntegers => "sparse_int",
        }
    }

    /// The standard deviation of one logit `scale · q·k` for independent rows q and k of
    /// this distribution at head dimension `head_dim` (ignoring fp16 rounding).
    ///
    /// Normal: `scale·sqrt(D)`; large magnitude: `scale·sqrt(D)·f²`; uniform:
    /// `scale·sqrt(D)/3`; sparse integers: `scale·sqrt(D)·7/6` (`E[x²] = 0.25·14/3`).
    /// A kernel without the max subtraction overflows where the row maximum, about
    /// three of these for S = 512, exceeds 88.72.
    pub fn logit_std(&self, head_dim: usize, scale: f64) -> f64 {
        let base = scale.abs() * (head_dim as f64).sqrt();
        match self {
            Distribution::Normal => base,
            Distribution::LargeMagnitude { factor } => base * f64::from(*factor).powi(2),
            Distribution::Uniform => base / 3.0,
            Distribution::SparseSmallIntegers => {
                base * SPARSE_NONZERO_PROBABILITY * (1.0 + 4.0 + 9.0) / 3.0
            }
        }
    }

    /// Checks the parameters (the large-magnitude factor).
    pub fn validate(&self) -> Result<(), OracleError> {
        if let Distribution::LargeMagnitude { factor } = self {
            if !(factor.is_finite() && *factor > 0.0 && *factor <= MAX_LARGE_FACTOR) {
                return Err(OracleError::BadDistribution {
                    given: self.to_string(),
                    why: format!("the factor must be in (0, {MAX_LARGE_FACTOR}]"),
                });
            }
        }
        Ok(())
    }
}

impl fmt::Display for Distribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Distribution::LargeMagnitude { factor } if *factor != DEFAULT_LARGE_FACTOR => {
                write!(f, "large_magnitude:{factor}")
            }
            other => f.write_str(other.name()),
        }
    }
}

impl FromStr for Distribution {
    type Err = OracleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| OracleError::BadDistribution {
            given: s.to_string(),
            why: why.to_string(),
        };
        let dist = match s {
            "normal" => Distribution::Normal,
            "uniform" => Distribution::Uniform,
            "sparse_int" => Distribution::SparseSmallIntegers,
            "large_magnitude" => Distribution::LargeMagnitude {
                factor: DEFAULT_LARGE_FACTOR,
            },
            other => match other.strip_prefix("large_magnitude:") {
                Some(factor) => Distribution::LargeMagnitude {
                    factor: factor
                        .parse()
                        .map_err(|_| bad("the factor is not a number"))?,
                },
                None => return Err(bad("unknown distribution")),
            },
        };
        dist.validate()?;
        Ok(dist)
    }
}

impl Serialize for Distribution {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Distribution {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Q, K and V of one check, each `[B, H, S, D]` row-major fp16.
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    /// Queries.
    pub q: Vec<f16>,
    /// Keys.
    pub k: Vec<f16>,
    /// Values.
    pub v: Vec<f16>,
}

/// Elements filled by one parallel task; even, so that Box-Muller pairs never straddle
/// two tasks.
const CHUNK: usize = 1 << 15;

/// ChaCha stream ids of the three tensors.
const STREAM_Q: u64 = 0;
const STREAM_K: u64 = 1;
const STREAM_V: u64 = 2;

/// Draws Q, K and V for `shape` from `dist`, reproducibly from `seed`.
///
/// Fails if the shape is empty or too large, or the distribution's parameters are out
/// of range.
pub fn generate(shape: &Shape, dist: Distribution, seed: u64) -> Result<Inputs, OracleError> {
    let n = shape.validate()?;
    dist.validate()?;
    Ok(Inputs {
        q: generate_tensor(n, dist, seed, STREAM_Q),
        k: generate_tensor(n, dist, seed, STREAM_K),
        v: generate_tensor(n, dist, seed, STREAM_V),
    })
}

/// `n` elements of `dist` from ChaCha8 stream `stream` of `seed`.
fn generate_tensor(n: usize, dist: Distribution, seed: u64, stream: u64) -> Vec<f16> {
    let mut out = vec![f16::ZERO; n];
    out.par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(chunk, slice)| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(stream);
            // One u64 (two 32-bit words) per element.
            rng.set_word_pos((chunk as u128) * (CHUNK as u128) * 2);
            fill(slice, dist, &mut rng);
        });
    out
}

/// 2^-53: turns the top 53 bits of a u64 into a fraction.
const TWO_POW_M53: f64 = 1.0 / (1u64 << 53) as f64;

/// Fills `out`, consuming exactly one u64 of `rng` per element.
fn fill(out: &mut [f16], dist: Distribution, rng: &mut ChaCha8Rng) {
    match dist {
        Distribution::Normal => fill_normal(out, 1.0, rng),
        Distribution::LargeMagnitude { factor } => fill_normal(out, f64::from(factor), rng),
        Distribution::Uniform => {
            for x in out {
                // (0, 1): never exactly 0 or 1.
                let u = ((rng.next_u64() >> 11) as f64 + 0.5) * TWO_POW_M53;
                *x = f16::from_f64(2.0 * u - 1.0);
            }
        }
        Distribution::SparseSmallIntegers => {
            const VALUES: [f32; 6] = [-3.0, -2.0, -1.0, 1.0, 2.0, 3.0];
            for x in out {
                let r = rng.next_u64();
                // The low two bits are zero with probability 1/4.
                *x = if r & 3 == 0 {
                    f16::from_f32(VALUES[((r >> 2) % 6) as usize])
                } else {
                    f16::ZERO
                };
            }
        }
    }
}

/// Box-Muller: each pair of u64 gives a pair of independent N(0, 1) samples.
fn fill_normal(out: &mut [f16], factor: f64, rng: &mut ChaCha8Rng) {
    for pair in out.chunks_mut(2) {
        // u1 in (0, 1] so that ln(u1) is finite; u2 in [0, 1).
        let u1 = ((rng.next_u64() >> 11) as f64 + 1.0) * TWO_POW_M53;
        let u2 = (rng.next_u64() >> 11) as f64 * TWO_POW_M53;
        let r = (-2.0 * u1.ln()).sqrt() * factor;
        let (sin, cos) = (std::f64::consts::TAU * u2).sin_cos();
        pair[0] = f16::from_f64(r * cos);
        if let Some(second) = pair.get_mut(1) {
            *second = f16::from_f64(r * sin);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(xs: &[f16]) -> (f64, f64) {
        let n = xs.len() as f64;
        let mean = xs.iter().map(|x| x.to_f64()).sum::<f64>() / n;
        let var = xs.iter().map(|x| (x.to_f64() - mean).powi(2)).sum::<f64>() / n;
        (mean, var.sqrt())
    }

    const SHAPE: Shape = Shape {
        batch: 1,
        heads: 4,
        seq_len: 256,
        head_dim: 64,
        causal: false,
    };

    #[test]
    fn normal_has_mean_0_and_std_1() {
        let inp = generate(&SHAPE, Distribution::Normal, 1).unwrap();
        for t in [&inp.q, &inp.k, &inp.v] {
            let (mean, std) = stats(t);
            assert!(mean.abs() < 0.01, "mean {mean}");
            assert!((std - 1.0).abs() < 0.01, "std {std}");
            assert!(t.iter().all(|x| x.is_finite()));
        }
    }

    #[test]
    fn large_magnitude_scales_the_normal() {
        let inp = generate(&SHAPE, Distribution::ALL[1], 1).unwrap();
        let (mean, std) = stats(&inp.q);
        assert!(mean.abs() < 0.1, "mean {mean}");
        assert!((std - 8.0).abs() < 0.1, "std {std}");
        let normal = generate(&SHAPE, Distribution::Normal, 1).unwrap();
        // The same stream, multiplied: equal up to fp16 rounding of either.
        for (l, n) in inp.q.iter().zip(&normal.q).take(1000) {
            assert!((l.to_f64() - 8.0 * n.to_f64()).abs() <= 0.01 * l.to_f64().abs() + 1e-3);
        }
    }

    #[test]
    fn large_magnitude_overflows_exp_in_every_row() {
        // The claim of DEFAULT_LARGE_FACTOR, checked on generated data: at D=64,
        // scale 1/8, S=512, every query row has a logit above ln(f32::MAX).
        let shape = Shape::new(1, 2, 512, 64, false);
        let inp = generate(&shape, Distribution::ALL[1], 7).unwrap();
        let (s, d) = (shape.seq_len, shape.head_dim);
        let limit = f64::from(f32::MAX).ln();
        let mut rows_over = 0;
        let mut smallest_row_max = f64::INFINITY;
        for h in 0..shape.heads {
            for i in 0..s {
                let q = &inp.q[shape.index(0, h, i, 0)..][..d];
                let row_max = (0..s)
                    .map(|j| {
                        let k = &inp.k[shape.index(0, h, j, 0)..][..d];
                        0.125
                            * q.iter()
                                .zip(k)
                                .map(|(a, b)| a.to_f64() * b.to_f64())
                                .sum::<f64>()
                    })
                    .fold(f64::NEG_INFINITY, f64::max);
                smallest_row_max = smallest_row_max.min(row_max);
                rows_over += usize::from(row_max > limit);
            }
        }
        assert_eq!(
            rows_over,
            shape.heads * s,
            "smallest row max {smallest_row_max}"
        );
        let sigma = Distribution::ALL[1].logit_std(64, 0.125);
        assert_eq!(sigma, 64.0);
    }

    #[test]
    fn uniform_is_inside_minus_one_one_with_variance_one_third() {
        let inp = generate(&SHAPE, Distribution::Uniform, 2).unwrap();
        let (mean, std) = stats(&inp.v);
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((std * std - 1.0 / 3.0).abs() < 0.01, "var {}", std * std);
        assert!(inp.v.iter().all(|x| x.to_f64().abs() <= 1.0));
        let lo = inp.v.iter().map(|x| x.to_f64()).fold(1.0, f64::min);
        let hi = inp.v.iter().map(|x| x.to_f64()).fold(-1.0, f64::max);
        assert!(lo < -0.99 && hi > 0.99, "range [{lo}, {hi}]");
    }

    #[test]
    fn sparse_int_is_mostly_zero_and_small_integers() {
        let inp = generate(&SHAPE, Distribution::SparseSmallIntegers, 3).unwrap();
        let n = inp.k.len() as f64;
        let mut counts = [0usize; 7];
        for x in &inp.k {
            let v = x.to_f64();
            assert_eq!(v, v.round(), "{v} is not an integer");
            assert!((-3.0..=3.0).contains(&v), "{v}");
            counts[(v + 3.0) as usize] += 1;
        }
        let zero_frac = counts[3] as f64 / n;
        assert!((zero_frac - 0.75).abs() < 0.01, "zeros {zero_frac}");
        for (i, &c) in counts.iter().enumerate().filter(|&(i, _)| i != 3) {
            let frac = c as f64 / n;
            assert!(
                (frac - 0.25 / 6.0).abs() < 0.005,
                "value {} frac {frac}",
                i as i32 - 3
            );
        }
    }

    #[test]
    fn same_seed_same_bits_other_seed_other_values() {
        for dist in Distribution::ALL {
            let a = generate(&SHAPE, dist, 42).unwrap();
            let b = generate(&SHAPE, dist, 42).unwrap();
            let c = generate(&SHAPE, dist, 43).unwrap();
            let bits = |t: &[f16]| t.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&a.q), bits(&b.q), "{dist}");
            assert_eq!(bits(&a.v), bits(&b.v), "{dist}");
            assert_ne!(bits(&a.q), bits(&c.q), "{dist}");
            assert_ne!(bits(&a.q), bits(&a.k), "{dist}: q and k share a stream");
            assert_ne!(bits(&a.k), bits(&a.v), "{dist}: k and v share a stream");
        }
    }

    #[test]
    fn values_do_not_depend_on_threads_or_size() {
        let small = Shape::new(1, 1, 100, 33, false); // odd element count
        let big = Shape::new(3, 5, 100, 33, false); // several chunks
        for dist in Distribution::ALL {
            let a = generate(&small, dist, 9).unwrap();
            let one_thread = rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build()
                .unwrap();
            let b = one_thread.install(|| generate(&big, dist, 9).unwrap());
            let c = generate(&big, dist, 9).unwrap();
            assert_eq!(a.q[..], b.q[..a.q.len()], "{dist}");
            assert_eq!(b, c, "{dist}");
        }
    }

    #[test]
    fn names_round_trip_through_serde() {
        let cases = [
            (Distribution::Normal, "\"normal\""),
            (Distribution::ALL[1], "\"large_magnitude\""),
            (
                Distribution::LargeMagnitude { factor: 16.0 },
                "\"large_magnitude:16\"",
            ),
            (Distribution::Uniform, "\"uniform\""),
            (Distribution::SparseSmallIntegers, "\"sparse_int\""),
        ];
        for (dist, json) in cases {
            assert_eq!(serde_json::to_string(&dist).unwrap(), json);
            assert_eq!(serde_json::from_str::<Distribution>(json).unwrap(), dist);
        }
    }

    #[test]
    fn bad_names_and_factors_are_rejected_with_the_known_names() {
        for (text, why) in [
            ("gaussian", "unknown distribution"),
            ("large_magnitude:x", "the factor is not a number"),
            ("large_magnitude:0", "the factor must be in (0, 1024]"),
            ("large_magnitude:-2", "the factor must be in (0, 1024]"),
            ("large_magnitude:inf", "the factor must be in (0, 1024]"),
        ] {
            let err = text.parse::<Distribution>().unwrap_err().to_string();
            assert!(err.contains(why), "{text}: {err}");
            assert!(err.contains("known: normal, large_magnitude"), "{err}");
        }
        let err = generate(&SHAPE, Distribution::LargeMagnitude { factor: f32::NAN }, 1);
        assert!(err.is_err());
    }
}
