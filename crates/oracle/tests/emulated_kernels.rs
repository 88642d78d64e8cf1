//! The rule and the inputs must catch real bugs and pass real kernels.
//!
//! Each "kernel" here is a CPU emulation of how a GPU kernel computes attention, right
//! or with one bug seen in real attention kernels. A correct flash-style kernel (online
//! softmax over key tiles, fp32 accumulation, P rounded to fp16 for the P·V product as
//! tensor-core kernels do) must pass on every distribution, causal or not, at several
//! scales; each buggy one must fail where DESIGN.md says the oracle catches it.

use half::f16;
use oracle::{
    attention_f16_order, attention_f64, generate, Distribution, PassRule, Shape, Verdict,
};

/// Key tile of the emulated kernels; S below is not a multiple of it.
const BLOCK_N: usize = 64;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Bug {
    None,
    /// `exp(s)` instead of `exp(s - max)`.
    NoMaxSubtraction,
    /// Uses 1/sqrt(D) whatever `softmax_scale` says.
    IgnoresScale,
    /// Drops the last key tile when S is not a multiple of the tile.
    DropsPartialTile,
    /// Causal mask off by one: lets query i see key i + 1.
    CausalOffByOne,
    /// P kept in fp32 (no rounding): an equally correct, more accurate kernel.
    ExactP,
    /// The P·V accumulator rounded to fp16 after every key.
    F16Accumulator,
}

/// A flash-style forward pass in f32, one query row at a time, over key tiles.
fn kernel(shape: &Shape, q: &[f16], k: &[f16], v: &[f16], scale: f32, bug: Bug) -> Vec<f16> {
    let up = |x: &[f16]| x.iter().map(|h| h.to_f32()).collect::<Vec<f32>>();
    let (q, k, v) = (up(q), up(k), up(v));
    let (s, d) = (shape.seq_len, shape.head_dim);
    let scale = if bug == Bug::IgnoresScale {
        1.0 / (d as f32).sqrt()
    } else {
        scale
    };
    let mut out = vec![f16::ZERO; shape.elems()];
    for bh in 0..shape.batch * shape.heads {
        let base = bh * s * d;
        for i in 0..s {
            let mut keys = if shape.causal { i + 1 } else { s };
            if bug == Bug::CausalOffByOne && shape.causal {
                keys = (i + 2).min(s);
            }
            if bug == Bug::DropsPartialTile {
                keys = keys.min(s / BLOCK_N * BLOCK_N).max(1);
            }
            let qi = &q[base + i * d..base + (i + 1) * d];
            let mut m = f32::NEG_INFINITY;
            let mut l = 0.0f32;
            let mut acc = vec![0.0f32; d];
            for tile in (0..keys).step_by(BLOCK_N) {
                let end = (tile + BLOCK_N).min(keys);
                let logits: Vec<f32> = (tile..end)
                    .map(|j| {
                        let kj = &k[base + j * d..base + (j + 1) * d];
                        qi.iter().zip(kj).map(|(a, b)| a * b).sum::<f32>() * scale
                    })
                    .collect();
                let m_new = if bug == Bug::NoMaxSubtraction {
                    0.0
                } else {
                    logits.iter().cloned().fold(m, f32::max)
                };
                let correction = if m == f32::NEG_INFINITY {
                    0.0
                } else {
                    (m - m_new).exp()
                };
                l *= correction;
                for a in acc.iter_mut() {
                    *a *= correction;
                }
                for (t, &x) in logits.iter().enumerate() {
                    let p = (x - m_new).exp();
                    l += p;
                    let p_mma = if bug == Bug::ExactP {
                        p
                    } else {
                        f16::from_f32(p).to_f32()
                    };
                    let vj = &v[base + (tile + t) * d..base + (tile + t + 1) * d];
                    for (a, vv) in acc.iter_mut().zip(vj) {
                        *a += p_mma * vv;
                        if bug == Bug::F16Accumulator {
                            *a = f16::from_f32(*a).to_f32();
                        }
                    }
                }
                m = m_new;
            }
            for (c, a) in acc.iter().enumerate() {
                out[base + i * d + c] = f16::from_f32(a / l);
            }
        }
    }
    out
}

struct Outcome {
    verdict: Verdict,
    kernel_err: f64,
    sp_err: f64,
    mismatches: u64,
}

/// Runs each of `bugs` on one set of inputs and judges it; the references are computed
/// once.
fn check_all(
    shape: &Shape,
    dist: Distribution,
    seed: u64,
    scale: f32,
    bugs: &[Bug],
) -> Vec<Outcome> {
    let rule = PassRule::default();
    let inp = generate(shape, dist, seed).unwrap();
    let exact = attention_f64(shape, &inp.q, &inp.k, &inp.v, scale).unwrap();
    let sp = attention_f16_order(shape, &inp.q, &inp.k, &inp.v, scale).unwrap();
    let sr = rule.measure(shape, &sp, &exact).unwrap();
    bugs.iter()
        .map(|&bug| {
            let out = kernel(shape, &inp.q, &inp.k, &inp.v, scale, bug);
            let kr = rule.measure(shape, &out, &exact).unwrap();
            Outcome {
                verdict: rule.evaluate(&kr, &sr),
                kernel_err: kr.max_abs_err,
                sp_err: sr.max_abs_err,
                mismatches: kr.mismatches,
            }
        })
        .collect()
}

fn check(shape: &Shape, dist: Distribution, seed: u64, scale: f32, bug: Bug) -> Outcome {
    check_all(shape, dist, seed, scale, &[bug]).remove(0)
}

/// S = 200: four key tiles, the last one partial.
fn shape(causal: bool) -> Shape {
    Shape::new(1, 1, 200, 64, causal)
}

#[test]
fn a_correct_flash_kernel_passes_everywhere() {
    for causal in [false, true] {
        for (n, dist) in Distribution::ALL.into_iter().enumerate() {
            for scale in [0.125f32, 0.05, 0.3] {
                let bugs = [Bug::None, Bug::ExactP];
                let outcomes = check_all(&shape(causal), dist, 100 + n as u64, scale, &bugs);
                for (bug, o) in bugs.into_iter().zip(outcomes) {
                    eprintln!(
                        "{dist:>16} causal={causal:<5} scale={scale:<5} {bug:?}: kernel {:.2e} \
                         fp16-order {:.2e} bound {:.2e} mismatches {}",
                        o.kernel_err, o.sp_err, o.verdict.bound, o.mismatches
                    );
                    assert!(
                        o.verdict.passed,
                        "{dist} causal={causal} scale={scale} {bug:?}: {:?}",
                        o.verdict.reason
                    );
                    if !matches!(dist, Distribution::LargeMagnitude { .. }) {
                        assert_eq!(o.mismatches, 0, "{dist}: default atol/rtol too tight");
                    }
                }
            }
        }
    }
}

#[test]
fn skipping_the_max_subtraction_fails_on_large_magnitude_inputs() {
    for causal in [false, true] {
        let o = check(
            &shape(causal),
            Distribution::ALL[1],
            7,
            0.125,
            Bug::NoMaxSubtraction,
        );
        assert!(!o.verdict.passed);
        let reason = o.verdict.reason.unwrap();
        assert!(reason.starts_with("max abs err inf at "), "{reason}");
        assert!(reason.contains("non-finite outputs"), "{reason}");
    }
    // The same kernel is invisible on normal inputs: that is why large-magnitude inputs
    // exist (logits of N(0,1) inputs stay far below exp's overflow).
    let o = check(
        &shape(false),
        Distribution::Normal,
        7,
        0.125,
        Bug::NoMaxSubtraction,
    );
    assert!(o.verdict.passed, "{:?}", o.verdict.reason);
}

#[test]
fn ignoring_the_scale_argument_fails_at_other_scales() {
    let o = check(
        &shape(false),
        Distribution::Normal,
        8,
        0.3,
        Bug::IgnoresScale,
    );
    assert!(!o.verdict.passed);
    assert!(o.verdict.reason.unwrap().starts_with("max abs err"));
    // ... and is invisible at the default scale, hence several scales per config.
    let o = check(
        &shape(false),
        Distribution::Normal,
        8,
        0.125,
        Bug::IgnoresScale,
    );
    assert!(o.verdict.passed);
}

#[test]
fn dropping_the_partial_tile_fails() {
    for dist in [
        Distribution::Normal,
        Distribution::Uniform,
        Distribution::SparseSmallIntegers,
    ] {
        let o = check(&shape(false), dist, 9, 0.125, Bug::DropsPartialTile);
        assert!(
            !o.verdict.passed,
            "{dist}: err {:.2e} bound {:.2e}",
            o.kernel_err, o.verdict.bound
        );
    }
}

#[test]
fn a_causal_off_by_one_fails() {
    for dist in [
        Distribution::Normal,
        Distribution::Uniform,
        Distribution::SparseSmallIntegers,
    ] {
        let o = check(&shape(true), dist, 10, 0.125, Bug::CausalOffByOne);
        assert!(
            !o.verdict.passed,
            "{dist}: err {:.2e} bound {:.2e}",
            o.kernel_err, o.verdict.bound
        );
    }
}

#[test]
fn an_fp16_accumulator_fails() {
    // DESIGN.md leaves fp16 accumulation to the inspector (HMMA's F16 form); the rule
    // catches it on these inputs too, which this records.
    for causal in [false, true] {
        for (n, dist) in Distribution::ALL.into_iter().enumerate() {
            let o = check(
                &shape(causal),
                dist,
                200 + n as u64,
                0.125,
                Bug::F16Accumulator,
            );
            eprintln!(
                "{dist:>16} causal={causal:<5}: fp16 accumulator {:.2e}, bound {:.2e}, passed {}",
                o.kernel_err, o.verdict.bound, o.verdict.passed
            );
        }
    }
    let o = check(
        &shape(false),
        Distribution::Normal,
        11,
        0.125,
        Bug::F16Accumulator,
    );
    assert!(
        !o.verdict.passed,
        "err {:.2e} bound {:.2e}",
        o.kernel_err, o.verdict.bound
    );
}
