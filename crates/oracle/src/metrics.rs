//! Error metrics of a kernel's output against a reference.
//!
//! A NaN can never hide here. Comparisons such as `err > max` are false for a NaN, so a
//! naive maximum silently skips NaN outputs; instead every element whose output is not
//! finite (where the reference is finite) counts as an error of `+inf`, is counted in
//! [`ErrorReport::non_finite`] and as a mismatch, and makes `max_abs_err` and
//! `rel_l2_err` infinite.

use serde::{Deserialize, Serialize};

use crate::{OracleError, Shape};

/// One output element: where it is, what the kernel wrote, what the reference says.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Element {
    /// Batch index.
    pub b: usize,
    /// Head index.
    pub h: usize,
    /// Query row.
    pub row: usize,
    /// Column (head-dimension index).
    pub col: usize,
    /// The compared output (NaN and infinities serialised as strings).
    #[serde(with = "crate::serde_float")]
    pub got: f64,
    /// The reference value.
    #[serde(with = "crate::serde_float")]
    pub want: f64,
}

impl Element {
    /// `(b0,h3,row17,col5)`: the position, as reasons print it.
    pub fn position(&self) -> String {
        format!("(b{},h{},row{},col{})", self.b, self.h, self.row, self.col)
    }
}

/// How far an output is from a reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorReport {
    /// `max |got - want|`; `+inf` if any output is non-finite where the reference is
    /// finite (or finite where the reference is not).
    #[serde(with = "crate::serde_float")]
    pub max_abs_err: f64,
    /// The first element (in memory order) with the largest error; `None` when every
    /// element matches exactly.
    pub worst: Option<Element>,
    /// `‖got - want‖₂ / ‖want‖₂`; `+inf` when `max_abs_err` is, and when the reference
    /// is all zeros but the output is not.
    #[serde(with = "crate::serde_float")]
    pub rel_l2_err: f64,
    /// Elements with `|got - want| > atol + rtol·|want|` (non-finite errors included).
    pub mismatches: u64,
    /// `100 · mismatches / elements`.
    pub mismatch_pct: f64,
    /// Non-finite outputs where the reference is finite.
    pub non_finite: u64,
    /// Non-finite reference values (0 for the references in this crate; an element
    /// there matches only an output of the same non-finite value).
    pub reference_non_finite: u64,
    /// Elements compared.
    pub elements: u64,
    /// The `atol` the mismatches were counted with.
    pub atol: f64,
    /// The `rtol` the mismatches were counted with.
    pub rtol: f64,
}

/// Compares `got` (a kernel's fp16 output, or [`crate::attention_f16_order`]'s result)
/// with `want` (normally [`crate::attention_f64`]) element by element.
///
/// `atol` and `rtol` only decide what counts as a mismatch; the maximum and relative
/// errors do not depend on them. Fails if either slice is not one tensor of `shape`.
pub fn compare<T: Copy + Into<f64>>(
    shape: &Shape,
    got: &[T],
    want: &[f64],
    atol: f64,
    rtol: f64,
) -> Result<ErrorReport, OracleError> {
    shape.check_len("output", got.len())?;
    shape.check_len("reference", want.len())?;
    Ok(compare_mapped(shape, got, want, atol, rtol, |i| i))
}

/// [`compare`] on a subset of heads: `got` and `want` each hold one `[S, D]` block per
/// entry of `heads`, in that order (as [`crate::attention_f64_heads`] returns them and
/// [`gather_heads`] cuts them out of a kernel's whole output). Positions in the report
/// are those of the whole tensor.
pub fn compare_heads<T: Copy + Into<f64>>(
    shape: &Shape,
    heads: &[(usize, usize)],
    got: &[T],
    want: &[f64],
    atol: f64,
    rtol: f64,
) -> Result<ErrorReport, OracleError> {
    let flat = crate::reference::flat_heads(shape, heads)?;
    shape.validate()?;
    let n = shape.head_elems();
    for (what, len) in [("output", got.len()), ("reference", want.len())] {
        if len != flat.len() * n {
            return Err(OracleError::LengthMismatch {
                what,
                shape: format!("{shape} ({} heads)", flat.len()),
                expected: flat.len() * n,
                got: len,
            });
        }
    }
    Ok(compare_mapped(shape, got, want, atol, rtol, |i| {
        flat[i / n] * n + i % n
    }))
}

/// The `[S, D]` blocks of the listed heads, cut out of a whole `[B, H, S, D]` tensor.
pub fn gather_heads<T: Copy>(
    shape: &Shape,
    whole: &[T],
    heads: &[(usize, usize)],
) -> Result<Vec<T>, OracleError> {
    shape.check_len("tensor", whole.len())?;
    let flat = crate::reference::flat_heads(shape, heads)?;
    let n = shape.head_elems();
    Ok(flat
        .iter()
        .flat_map(|&bh| whole[bh * n..(bh + 1) * n].iter().copied())
        .collect())
}

/// The comparison itself; `global(i)` is the index in the whole tensor of element `i`
/// of `got` and `want`, which have equal lengths.
fn compare_mapped<T: Copy + Into<f64>>(
    shape: &Shape,
    got: &[T],
    want: &[f64],
    atol: f64,
    rtol: f64,
    global: impl Fn(usize) -> usize,
) -> ErrorReport {
    let mut max_abs_err = 0.0f64;
    let mut worst_index = None;
    let mut sum_sq_err = 0.0f64;
    let mut sum_sq_ref = 0.0f64;
    let mut mismatches = 0u64;
    let mut non_finite = 0u64;
    let mut reference_non_finite = 0u64;

    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let g: f64 = g.into();
        let err = if w.is_finite() {
            sum_sq_ref += w * w;
            if g.is_finite() {
                (g - w).abs()
            } else {
                non_finite += 1;
                f64::INFINITY
            }
        } else {
            reference_non_finite += 1;
            let same = (w.is_nan() && g.is_nan()) || g == w;
            if same {
                0.0
            } else {
                f64::INFINITY
            }
        };
        // `err` is never NaN here: finite - finite is finite, the rest is 0 or inf.
        sum_sq_err += err * err;
        if err.is_infinite() || err > atol + rtol * w.abs() {
            mismatches += 1;
        }
        if err > max_abs_err {
            max_abs_err = err;
            worst_index = Some(i);
        }
    }

    let rel_l2_err = if max_abs_err.is_infinite() {
        f64::INFINITY
    } else if sum_sq_ref > 0.0 {
        (sum_sq_err / sum_sq_ref).sqrt()
    } else if sum_sq_err == 0.0 {
        0.0
    } else {
        f64::INFINITY
    };
    let elements = got.len() as u64;
    let worst = worst_index.map(|i| {
        let (b, h, row, col) = shape.coords(global(i));
        Element {
            b,
            h,
            row,
            col,
            got: got[i].into(),
            want: want[i],
        }
    });
    ErrorReport {
        max_abs_err,
        worst,
        rel_l2_err,
        mismatches,
        mismatch_pct: if elements == 0 {
            0.0
        } else {
            100.0 * mismatches as f64 / elements as f64
        },
        non_finite,
        reference_non_finite,
        elements,
        atol,
        rtol,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use half::f16;

    const SHAPE: Shape = Shape {
        batch: 1,
        heads: 2,
        seq_len: 2,
        head_dim: 2,
        causal: false,
    };

    fn want() -> Vec<f64> {
        vec![0.5, -0.25, 1.0, 2.0, 0.0, 0.125, -1.0, 3.0]
    }

    fn got_from(w: &[f64]) -> Vec<f16> {
        w.iter().map(|&x| f16::from_f64(x)).collect()
    }

    #[test]
    fn exact_output_has_zero_error_and_no_worst() {
        let w = want();
        let r = compare(&SHAPE, &got_from(&w), &w, 1e-3, 1e-3).unwrap();
        assert_eq!(r.max_abs_err, 0.0);
        assert_eq!(r.rel_l2_err, 0.0);
        assert_eq!(r.worst, None);
        assert_eq!((r.mismatches, r.non_finite, r.elements), (0, 0, 8));
    }

    #[test]
    fn worst_element_is_located_and_errors_are_measured() {
        let w = want();
        let mut g = got_from(&w);
        g[5] = f16::from_f64(0.25); // error 0.125 at (b0,h1,row0,col1)
        g[2] = f16::from_f64(1.0625); // error 0.0625
        let r = compare(&SHAPE, &g, &w, 0.1, 0.0).unwrap();
        assert_eq!(r.max_abs_err, 0.125);
        let worst = r.worst.unwrap();
        assert_eq!((worst.b, worst.h, worst.row, worst.col), (0, 1, 0, 1));
        assert_eq!((worst.got, worst.want), (0.25, 0.125));
        assert_eq!(worst.position(), "(b0,h1,row0,col1)");
        assert_eq!(r.mismatches, 1);
        assert_eq!(r.mismatch_pct, 12.5);
        let norm_ref = w.iter().map(|x| x * x).sum::<f64>().sqrt();
        let norm_err = (0.125f64.powi(2) + 0.0625f64.powi(2)).sqrt();
        assert!((r.rel_l2_err - norm_err / norm_ref).abs() < 1e-15);
        // rtol widens the threshold with |want|: 0.0625 <= 0.01 + 0.1·1.0.
        let r = compare(&SHAPE, &g, &w, 0.01, 0.1).unwrap();
        assert_eq!(r.mismatches, 1);
    }

    #[test]
    fn nan_output_makes_the_error_infinite() {
        let w = want();
        let mut g = got_from(&w);
        g[3] = f16::NAN;
        let r = compare(&SHAPE, &g, &w, 1.0, 1.0).unwrap();
        assert_eq!(r.max_abs_err, f64::INFINITY);
        assert_eq!(r.rel_l2_err, f64::INFINITY);
        assert_eq!((r.non_finite, r.mismatches), (1, 1));
        let worst = r.worst.unwrap();
        assert!(worst.got.is_nan());
        assert_eq!((worst.row, worst.col), (1, 1));
    }

    #[test]
    fn nan_everywhere_is_not_a_pass() {
        let w = want();
        let g = vec![f16::NAN; 8];
        let r = compare(&SHAPE, &g, &w, 1e9, 1e9).unwrap();
        assert_eq!(r.max_abs_err, f64::INFINITY);
        assert_eq!((r.non_finite, r.mismatches), (8, 8));
        assert_eq!(r.worst.unwrap().col, 0, "the first NaN is the worst");
    }

    #[test]
    fn infinities_are_errors_unless_the_reference_agrees() {
        let mut w = want();
        let mut g = got_from(&w);
        g[0] = f16::INFINITY;
        g[1] = f16::NEG_INFINITY;
        let r = compare(&SHAPE, &g, &w, 1e-3, 0.0).unwrap();
        assert_eq!((r.non_finite, r.mismatches), (2, 2));
        assert_eq!(r.max_abs_err, f64::INFINITY);
        // A non-finite reference is matched only by the same value.
        w[0] = f64::INFINITY;
        w[1] = f64::NAN;
        let r = compare(&SHAPE, &g, &w, 1e-3, 0.0).unwrap();
        assert_eq!((r.reference_non_finite, r.non_finite), (2, 0));
        assert_eq!(r.mismatches, 1, "-inf does not match NaN");
        g[1] = f16::NAN;
        let r = compare(&SHAPE, &g, &w, 1e-3, 0.0).unwrap();
        assert_eq!((r.mismatches, r.max_abs_err), (0, 0.0));
    }

    #[test]
    fn f32_outputs_compare_too() {
        let w = want();
        let g: Vec<f32> = w.iter().map(|&x| x as f32 + 0.001).collect();
        let r = compare(&SHAPE, &g, &w, 1e-2, 0.0).unwrap();
        assert!((r.max_abs_err - 0.001).abs() < 1e-6);
        assert_eq!(r.mismatches, 0);
    }

    #[test]
    fn zero_reference_gives_infinite_relative_error_for_nonzero_output() {
        let w = vec![0.0; 8];
        let mut g = vec![0.0f32; 8];
        assert_eq!(compare(&SHAPE, &g, &w, 0.0, 0.0).unwrap().rel_l2_err, 0.0);
        g[7] = 1e-3;
        assert_eq!(
            compare(&SHAPE, &g, &w, 0.0, 0.0).unwrap().rel_l2_err,
            f64::INFINITY
        );
    }

    #[test]
    fn serialises_infinite_errors_as_strings() {
        let w = want();
        let g = vec![f16::NAN; 8];
        let r = compare(&SHAPE, &g, &w, 0.0, 0.0).unwrap();
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["max_abs_err"], "inf");
        assert_eq!(json["worst"]["got"], "nan");
        assert_eq!(json["worst"]["want"], 0.5);
    }

    #[test]
    fn head_subsets_report_whole_tensor_positions() {
        let shape = Shape::new(2, 2, 2, 2, false);
        let want: Vec<f64> = (0..16).map(|i| i as f64 / 16.0).collect();
        let mut got: Vec<f32> = want.iter().map(|&x| x as f32).collect();
        got[shape.index(1, 0, 1, 1)] += 0.5;
        let heads = [(0, 1), (1, 0)];
        let g = gather_heads(&shape, &got, &heads).unwrap();
        let w = gather_heads(&shape, &want, &heads).unwrap();
        assert_eq!(g.len(), 8);
        let r = compare_heads(&shape, &heads, &g, &w, 1e-3, 0.0).unwrap();
        assert_eq!(r.elements, 8);
        assert_eq!(r.max_abs_err, 0.5);
        let worst = r.worst.unwrap();
        assert_eq!(worst.position(), "(b1,h0,row1,col1)");
        let err = compare_heads(&shape, &heads, &g[..7], &w, 0.0, 0.0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "output has 7 elements, but shape B2 H2 S2 D2 (2 heads) needs 8"
        );
        assert!(compare_heads(&shape, &[(0, 2)], &g, &w, 0.0, 0.0).is_err());
    }

    #[test]
    fn rejects_wrong_lengths() {
        let w = want();
        let err = compare(&SHAPE, &[0.0f32; 7], &w, 0.0, 0.0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "output has 7 elements, but shape B1 H2 S2 D2 needs 8"
        );
    }
}
