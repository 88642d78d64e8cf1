//! CPU references for `attention_fwd_v1`.
//!
//! Two references, after the test rule of FlashAttention
//! (`tests/test_flash_attn.py` in Dao-AILab/flash-attention, e.g. `test_flash_attn_output`):
//!
//! ```text
//! out_ref = attention_ref(q, k, v, ...)                               # fp32 upcast
//! out_pt  = attention_ref(q, k, v, ..., upcast=False, reorder_ops=True) # fp16 math
//! assert (out - out_ref).abs().max().item() <= 2 * (out_pt - out_ref).abs().max().item() + 1e-5
//! ```
//!
//! - [`attention_f64`] plays `out_ref`, more exactly: the fp16 inputs upcast to f64 and
//!   everything computed in f64 (FlashAttention upcasts to fp32 and rounds the result
//!   back to fp16; we keep the unrounded value, so the rounding of the output to fp16
//!   counts as error on both sides of the rule).
//! - [`attention_f16_order`] plays `out_pt`: the same mathematics in fp16 with fp32
//!   accumulation, in another order of operations, as PyTorch's fp16 path computes it.
//!   Its distance from [`attention_f64`] measures how much error fp16 attention makes
//!   anyway; the rule allows a kernel twice that.
//!
//! Both work per head: K is transposed to `[D, S]` once per head so that a row of
//! `S = q Kᵀ` is a sum of contiguous `axpy`s over the keys, and `O = P V` a sum of
//! contiguous `axpy`s over the head dimension; both loops vectorise. Work is spread with
//! rayon over (batch, head) and over blocks of query rows.

use half::f16;
use rayon::prelude::*;

use crate::{OracleError, Shape};

/// Query rows per parallel task.
const ROW_BLOCK: usize = 32;

/// Keys visible from query row `i`: all of them, or `0..=i` when causal.
fn visible_keys(shape: &Shape, row: usize) -> usize {
    if shape.causal {
        row + 1
    } else {
        shape.seq_len
    }
}

fn check_inputs(shape: &Shape, q: &[f16], k: &[f16], v: &[f16]) -> Result<(), OracleError> {
    shape.check_len("q", q.len())?;
    shape.check_len("k", k.len())?;
    shape.check_len("v", v.len())
}

/// Exact attention on the fp16 inputs: each input upcast to f64 (exactly), logits
/// `scale · q·k` in f64 with `scale` the f32 the kernel receives, softmax with the row
/// maximum subtracted, and `P V` in f64. The only error is f64 rounding (relative
/// ~1e-14), far below fp16's 2^-11.
///
/// When `shape.causal`, key `j > i` is masked for query row `i`; every row keeps at
/// least key `i`, so no row is empty. Returns `[B, H, S, D]` row-major.
pub fn attention_f64(
    shape: &Shape,
    q: &[f16],
    k: &[f16],
    v: &[f16],
    scale: f32,
) -> Result<Vec<f64>, OracleError> {
    check_inputs(shape, q, k, v)?;
    Ok(heads_f64(shape, q, k, v, scale, &all_heads(shape)))
}

/// [`attention_f64`] for the listed `(b, h)` heads only, for shapes too large to
/// check every head on the CPU: the outputs of those heads, one `[S, D]` block per
/// entry of `heads`, in the order given. Compare them with
/// [`crate::metrics::compare_heads`].
pub fn attention_f64_heads(
    shape: &Shape,
    q: &[f16],
    k: &[f16],
    v: &[f16],
    scale: f32,
    heads: &[(usize, usize)],
) -> Result<Vec<f64>, OracleError> {
    check_inputs(shape, q, k, v)?;
    Ok(heads_f64(shape, q, k, v, scale, &flat_heads(shape, heads)?))
}

/// Every head, as flat `b·H + h` indices.
fn all_heads(shape: &Shape) -> Vec<usize> {
    (0..shape.batch * shape.heads).collect()
}

/// `(b, h)` pairs as flat `b·H + h` indices, checked against the shape.
pub(crate) fn flat_heads(
    shape: &Shape,
    heads: &[(usize, usize)],
) -> Result<Vec<usize>, OracleError> {
    heads
        .iter()
        .map(|&(b, h)| {
            if b < shape.batch && h < shape.heads {
                Ok(b * shape.heads + h)
            } else {
                Err(OracleError::HeadOutOfRange {
                    shape: shape.to_string(),
                    b,
                    h,
                })
            }
        })
        .collect()
}

fn heads_f64(
    shape: &Shape,
    q: &[f16],
    k: &[f16],
    v: &[f16],
    scale: f32,
    heads: &[usize],
) -> Vec<f64> {
    let scale = f64::from(scale);
    rows_of_heads(shape, q, k, v, heads, |row, v_head, o_row| {
        let mut max = f64::NEG_INFINITY;
        for x in row.iter_mut() {
            *x *= scale;
            max = max.max(*x);
        }
        let mut sum = 0.0;
        for x in row.iter_mut() {
            *x = (*x - max).exp();
            sum += *x;
        }
        weighted_rows(row, v_head, o_row);
        let inv = 1.0 / sum;
        for o in o_row.iter_mut() {
            *o *= inv;
        }
    })
}

/// The loop both references share: for every query row `i` of every listed head (heads
/// in parallel, and blocks of [`ROW_BLOCK`] rows within a head), the logits `q_i · k_j`
/// of its visible keys computed in `T`, then `finish(logits, v_head, o_row)` turns them
/// into the output row (`v_head` is the head's V as `[S, D]` in `T`).
fn rows_of_heads<T, F>(
    shape: &Shape,
    q: &[f16],
    k: &[f16],
    v: &[f16],
    heads: &[usize],
    finish: F,
) -> Vec<T>
where
    T: Element,
    F: Fn(&mut [T], &[T], &mut [T]) + Sync,
{
    let (s, d) = (shape.seq_len, shape.head_dim);
    let head = shape.head_elems();
    let mut out = vec![T::default(); heads.len() * head];
    out.par_chunks_mut(head)
        .zip(heads)
        .for_each(|(out_head, &bh)| {
            let base = bh * head;
            let q_head = &q[base..base + head];
            let kt = transpose_to::<T>(&k[base..base + head], s, d);
            let v_head: Vec<T> = v[base..base + head].iter().map(|&x| T::from(x)).collect();
            out_head
                .par_chunks_mut(ROW_BLOCK * d)
                .enumerate()
                .for_each(|(block, out_block)| {
                    let mut q_row = vec![T::default(); d];
                    let mut logits = vec![T::default(); s];
                    for (r, o_row) in out_block.chunks_mut(d).enumerate() {
                        let i = block * ROW_BLOCK + r;
                        for (dst, &src) in q_row.iter_mut().zip(&q_head[i * d..(i + 1) * d]) {
                            *dst = T::from(src);
                        }
                        let row = &mut logits[..visible_keys(shape, i)];
                        dot_rows(&q_row, &kt, s, row);
                        finish(row, &v_head, o_row);
                    }
                });
        });
    out
}

/// Attention as PyTorch's fp16 math path computes it, the "same-precision reference
/// in another operation order" of FlashAttention's test rule:
///
/// 1. `S = Q Kᵀ` with fp32 accumulation, rounded to fp16 (a half matmul's output);
/// 2. `S · scale` computed in fp32 and rounded to fp16 (a half tensor times a scalar);
/// 3. softmax in fp32 with the row maximum subtracted (PyTorch's half softmax
///    accumulates in fp32), the probabilities `P` rounded to fp16;
/// 4. `O = P V` with fp32 accumulation, rounded to fp16.
///
/// Returns the fp16 results as `f32` (each exactly representable in fp16). Causal
/// masking as in [`attention_f64`]. Where `|q·k|` exceeds 65504 step 1 overflows to
/// infinity and the result holds NaN; [`crate::PassRule`] then refuses to judge.
pub fn attention_f16_order(
    shape: &Shape,
    q: &[f16],
    k: &[f16],
    v: &[f16],
    scale: f32,
) -> Result<Vec<f32>, OracleError> {
    check_inputs(shape, q, k, v)?;
    Ok(heads_f16_order(shape, q, k, v, scale, &all_heads(shape)))
}

/// [`attention_f16_order`] for the listed `(b, h)` heads only, laid out as
/// [`attention_f64_heads`] lays them out.
pub fn attention_f16_order_heads(
    shape: &Shape,
    q: &[f16],
    k: &[f16],
    v: &[f16],
    scale: f32,
    heads: &[(usize, usize)],
) -> Result<Vec<f32>, OracleError> {
    check_inputs(shape, q, k, v)?;
    Ok(heads_f16_order(
        shape,
        q,
        k,
        v,
        scale,
        &flat_heads(shape, heads)?,
    ))
}

fn heads_f16_order(
    shape: &Shape,
    q: &[f16],
    k: &[f16],
    v: &[f16],
    scale: f32,
    heads: &[usize],
) -> Vec<f32> {
    let round = |x: f32| f16::from_f32(x).to_f32();
    rows_of_heads(shape, q, k, v, heads, |row, v_head, o_row| {
        let mut max = f32::NEG_INFINITY;
        for x in row.iter_mut() {
            *x = round(round(*x) * scale);
            max = max.max(*x);
        }
        let mut sum = 0.0f32;
        for x in row.iter_mut() {
            *x = (*x - max).exp();
            sum += *x;
        }
        for x in row.iter_mut() {
            *x = round(*x / sum);
        }
        weighted_rows(row, v_head, o_row);
        for o in o_row.iter_mut() {
            *o = round(*o);
        }
    })
}

/// Converts one head of K (`[S, D]`, fp16) to `[D, S]` in `T`.
fn transpose_to<T: Element>(k_head: &[f16], s: usize, d: usize) -> Vec<T> {
    let mut kt = vec![T::default(); s * d];
    for (j, row) in k_head.chunks_exact(d).enumerate() {
        for (c, &x) in row.iter().enumerate() {
            kt[c * s + j] = T::from(x);
        }
    }
    kt
}

/// What the references compute in: `f64` (exact) or `f32` (PyTorch's fp16 order).
trait Element:
    From<f16> + Copy + Default + Send + Sync + std::ops::Mul<Output = Self> + std::ops::AddAssign
{
}

impl Element for f64 {}
impl Element for f32 {}

/// `out[j] = Σ_c q[c] · kt[c, j]` for the first `out.len()` keys, `kt` being `[D, S]`
/// with row stride `s`.
fn dot_rows<T: Element>(q: &[T], kt: &[T], s: usize, out: &mut [T]) {
    out.fill(T::default());
    let keys = out.len();
    for (c, &qc) in q.iter().enumerate() {
        axpy(qc, &kt[c * s..c * s + keys], out);
    }
}

/// `o_row = Σ_j p[j] · v[j, :]` over the keys of `p`, `v_head` being `[S, D]`.
fn weighted_rows<T: Element>(p: &[T], v_head: &[T], o_row: &mut [T]) {
    let d = o_row.len();
    o_row.fill(T::default());
    for (j, &pj) in p.iter().enumerate() {
        axpy(pj, &v_head[j * d..(j + 1) * d], o_row);
    }
}

/// `y += a · x` (equal lengths).
#[inline]
fn axpy<T: Element>(a: T, x: &[T], y: &mut [T]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{generate, Distribution};

    fn h(xs: &[f32]) -> Vec<f16> {
        xs.iter().map(|&x| f16::from_f32(x)).collect()
    }

    /// The textbook formula, one element at a time, with no shared code.
    fn naive(shape: &Shape, q: &[f16], k: &[f16], v: &[f16], scale: f64) -> Vec<f64> {
        let mut out = vec![0.0; shape.elems()];
        for b in 0..shape.batch {
            for hh in 0..shape.heads {
                for i in 0..shape.seq_len {
                    let keys: Vec<usize> = (0..shape.seq_len)
                        .filter(|&j| !shape.causal || j <= i)
                        .collect();
                    let logits: Vec<f64> = keys
                        .iter()
                        .map(|&j| {
                            (0..shape.head_dim)
                                .map(|c| {
                                    q[shape.index(b, hh, i, c)].to_f64()
                                        * k[shape.index(b, hh, j, c)].to_f64()
                                })
                                .sum::<f64>()
                                * scale
                        })
                        .collect();
                    let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let w: Vec<f64> = logits.iter().map(|x| (x - max).exp()).collect();
                    let total: f64 = w.iter().sum();
                    for c in 0..shape.head_dim {
                        out[shape.index(b, hh, i, c)] = keys
                            .iter()
                            .zip(&w)
                            .map(|(&j, wj)| wj / total * v[shape.index(b, hh, j, c)].to_f64())
                            .sum();
                    }
                }
            }
        }
        out
    }

    #[test]
    fn hand_computed_two_by_two() {
        // q0 = (1, 0), q1 = (0, 2); k0 = (1, 0), k1 = (0, 1); v0 = (1, 2), v1 = (3, 4).
        // scale 1. Row 0: logits (1, 0): p = (e/(e+1), 1/(e+1)).
        // Row 1: logits (0, 2): p = (1/(1+e²), e²/(1+e²)).
        let shape = Shape::new(1, 1, 2, 2, false);
        let q = h(&[1.0, 0.0, 0.0, 2.0]);
        let k = h(&[1.0, 0.0, 0.0, 1.0]);
        let v = h(&[1.0, 2.0, 3.0, 4.0]);
        let out = attention_f64(&shape, &q, &k, &v, 1.0).unwrap();
        let e = std::f64::consts::E;
        let (a0, a1) = (e / (e + 1.0), 1.0 / (e + 1.0));
        let (b0, b1) = (1.0 / (1.0 + e * e), e * e / (1.0 + e * e));
        let want = [
            a0 * 1.0 + a1 * 3.0,
            a0 * 2.0 + a1 * 4.0,
            b0 * 1.0 + b1 * 3.0,
            b0 * 2.0 + b1 * 4.0,
        ];
        for (got, want) in out.iter().zip(want) {
            assert!((got - want).abs() < 1e-14, "{got} vs {want}");
        }
        // Causal: row 0 sees only key 0, so it is v0 exactly; row 1 is unchanged.
        let causal = Shape::new(1, 1, 2, 2, true);
        let out = attention_f64(&causal, &q, &k, &v, 1.0).unwrap();
        assert_eq!(&out[..2], &[1.0, 2.0]);
        assert!((out[2] - want[2]).abs() < 1e-14 && (out[3] - want[3]).abs() < 1e-14);
    }

    #[test]
    fn matches_the_naive_triple_loop() {
        for causal in [false, true] {
            // S = 45 is not a multiple of ROW_BLOCK; D = 24 is unusual.
            let shape = Shape::new(2, 3, 45, 24, causal);
            for (seed, dist) in Distribution::ALL.into_iter().enumerate() {
                let inp = generate(&shape, dist, seed as u64).unwrap();
                let scale = 0.3;
                let fast = attention_f64(&shape, &inp.q, &inp.k, &inp.v, scale).unwrap();
                let slow = naive(&shape, &inp.q, &inp.k, &inp.v, f64::from(scale));
                for (i, (a, b)) in fast.iter().zip(&slow).enumerate() {
                    assert!(
                        (a - b).abs() <= 1e-12 * (1.0 + b.abs()),
                        "{dist} causal={causal} at {:?}: {a} vs {b}",
                        shape.coords(i)
                    );
                }
            }
        }
    }

    #[test]
    fn causal_masks_later_keys() {
        // Changing K and V at key j must not change rows i < j when causal.
        let shape = Shape::new(1, 2, 40, 16, true);
        let inp = generate(&shape, Distribution::Normal, 5).unwrap();
        let base = attention_f64(&shape, &inp.q, &inp.k, &inp.v, 0.25).unwrap();
        let j = 30;
        let (mut k2, mut v2) = (inp.k.clone(), inp.v.clone());
        for hh in 0..shape.heads {
            for c in 0..shape.head_dim {
                k2[shape.index(0, hh, j, c)] = f16::from_f32(5.0);
                v2[shape.index(0, hh, j, c)] = f16::from_f32(-7.0);
            }
        }
        let changed = attention_f64(&shape, &inp.q, &k2, &v2, 0.25).unwrap();
        for i in 0..shape.elems() {
            let (_, _, row, _) = shape.coords(i);
            if row < j {
                assert_eq!(base[i], changed[i], "row {row} saw key {j}");
            } else {
                assert_ne!(base[i], changed[i], "row {row} did not see key {j}");
            }
        }
        // Row 0 is exactly V row 0.
        for c in 0..shape.head_dim {
            assert_eq!(
                base[shape.index(0, 1, 0, c)],
                inp.v[shape.index(0, 1, 0, c)].to_f64()
            );
        }
        // Non-causal differs from causal except in the last row.
        let full = Shape {
            causal: false,
            ..shape
        };
        let nc = attention_f64(&full, &inp.q, &inp.k, &inp.v, 0.25).unwrap();
        assert_ne!(nc[shape.index(0, 0, 3, 0)], base[shape.index(0, 0, 3, 0)]);
        let last = shape.index(0, 0, shape.seq_len - 1, 0);
        assert!((nc[last] - base[last]).abs() < 1e-14);
    }

    #[test]
    fn survives_large_magnitude_without_overflow() {
        let shape = Shape::new(1, 2, 128, 64, false);
        let inp = generate(&shape, Distribution::ALL[1], 11).unwrap();
        let out = attention_f64(&shape, &inp.q, &inp.k, &inp.v, 0.125).unwrap();
        assert!(out.iter().all(|x| x.is_finite()));
        let sp = attention_f16_order(&shape, &inp.q, &inp.k, &inp.v, 0.125).unwrap();
        assert!(sp.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn f16_order_is_close_but_not_equal_and_rounded_to_f16() {
        for causal in [false, true] {
            let shape = Shape::new(1, 2, 100, 64, causal);
            let inp = generate(&shape, Distribution::Normal, 3).unwrap();
            let exact = attention_f64(&shape, &inp.q, &inp.k, &inp.v, 0.125).unwrap();
            let sp = attention_f16_order(&shape, &inp.q, &inp.k, &inp.v, 0.125).unwrap();
            let mut max_err = 0.0f64;
            for (a, b) in sp.iter().zip(&exact) {
                assert_eq!(f16::from_f32(*a).to_f32(), *a, "{a} is not an fp16 value");
                max_err = max_err.max((f64::from(*a) - b).abs());
            }
            // fp16 attention on N(0,1) data: errors of a few fp16 ulps of O (|O| < 2).
            assert!(max_err > 0.0 && max_err < 1e-2, "max err {max_err}");
        }
    }

    #[test]
    fn head_subsets_equal_the_full_computation() {
        let shape = Shape::new(2, 3, 40, 16, true);
        let inp = generate(&shape, Distribution::Normal, 4).unwrap();
        let full = attention_f64(&shape, &inp.q, &inp.k, &inp.v, 0.2).unwrap();
        let full16 = attention_f16_order(&shape, &inp.q, &inp.k, &inp.v, 0.2).unwrap();
        let heads = [(1, 2), (0, 0), (1, 0)];
        let part = attention_f64_heads(&shape, &inp.q, &inp.k, &inp.v, 0.2, &heads).unwrap();
        let part16 =
            attention_f16_order_heads(&shape, &inp.q, &inp.k, &inp.v, 0.2, &heads).unwrap();
        let n = shape.head_elems();
        assert_eq!(part.len(), 3 * n);
        for (slot, &(b, h)) in heads.iter().enumerate() {
            let start = shape.index(b, h, 0, 0);
            assert_eq!(&part[slot * n..][..n], &full[start..start + n]);
            assert_eq!(&part16[slot * n..][..n], &full16[start..start + n]);
        }
        let err = attention_f64_heads(&shape, &inp.q, &inp.k, &inp.v, 0.2, &[(2, 0)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "head (b2, h0) is outside shape B2 H3 S40 D16 causal"
        );
    }

    #[test]
    fn rejects_wrong_lengths() {
        let shape = Shape::new(1, 1, 4, 4, false);
        let ok = vec![f16::ZERO; 16];
        let short = vec![f16::ZERO; 15];
        let err = attention_f64(&shape, &ok, &short, &ok, 1.0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "k has 15 elements, but shape B1 H1 S4 D4 needs 16"
        );
        assert!(attention_f16_order(&shape, &ok, &ok, &short, 1.0).is_err());
    }
}
