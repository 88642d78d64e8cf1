//! The pass rule.
//!
//! The primary rule is FlashAttention's (Dao-AILab/flash-attention,
//! `tests/test_flash_attn.py`, `test_flash_attn_output` and the other forward tests):
//!
//! ```text
//! # Check that FlashAttention's numerical error is at most twice the numerical error
//! # of a Pytorch implementation.
//! assert (out - out_ref).abs().max().item() <= 2 * (out_pt - out_ref).abs().max().item() + 1e-5
//! ```
//!
//! with `out_ref` the upcast reference ([`crate::attention_f64`] here) and `out_pt` the
//! same computation in fp16 in another order ([`crate::attention_f16_order`] here). A
//! kernel passes when its maximum absolute error is at most
//! `bound = fa_factor · max|out_pt - out_ref| + fa_noise`. The bound adapts to the data:
//! it is loose where fp16 attention is inherently inaccurate (large logits) and tight
//! where it is accurate, which a fixed atol/rtol cannot do.
//!
//! Mismatches beyond `atol + rtol·|ref|` are counted beside it and fail the check only
//! when [`Tolerance::fail_on_mismatch`] is set; an optional ceiling on the relative L2
//! error ([`Tolerance::max_rel_l2`]) catches a kernel whose error is spread everywhere
//! but nowhere above the bound.

use serde::{Deserialize, Serialize};

use crate::metrics::{compare, ErrorReport};
use crate::{OracleError, Shape};

/// The thresholds of the pass rule; every key has a default, unknown keys are rejected.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tolerance {
    /// Absolute part of the mismatch threshold `atol + rtol·|ref|` (default 1e-2).
    pub atol: f64,
    /// Relative part of the mismatch threshold (default 1e-2).
    ///
    /// 1e-2 each is a common choice for fp16 attention outputs. On the emulated
    /// kernels of `tests/emulated_kernels.rs`, a correct flash-style kernel's largest
    /// error is about 1e-3 where |O| ≲ 2 and 8e-3 where |O| ≈ 16 (large-magnitude
    /// inputs, fp16 ulp 1.6e-2 there), so it has no mismatches on any distribution.
    /// Mismatches are informational by default; the bound below is the rule.
    pub rtol: f64,
    /// The multiple of the fp16-order reference's error a kernel may make (default 2,
    /// FlashAttention's factor for the forward output).
    pub fa_factor: f64,
    /// Added to the bound (default 1e-5, FlashAttention's constant). It matters only
    /// where the fp16-order reference is exact or nearly so, so that a kernel is not
    /// failed for an error of a few fp32 roundings. It is 1/24 of fp16's half-ulp at
    /// 0.5 (2.4e-4); only for outputs below about 0.03 in magnitude does it reach one
    /// fp16 ulp.
    pub fa_noise: f64,
    /// If set, fail when the relative L2 error exceeds it (default: not set).
    pub max_rel_l2: Option<f64>,
    /// Whether any atol/rtol mismatch fails the check (default false: reported only).
    pub fail_on_mismatch: bool,
}

/// FlashAttention's factor for the forward output.
pub const DEFAULT_FA_FACTOR: f64 = 2.0;
/// FlashAttention's additive constant.
pub const DEFAULT_FA_NOISE: f64 = 1e-5;

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance {
            atol: 1e-2,
            rtol: 1e-2,
            fa_factor: DEFAULT_FA_FACTOR,
            fa_noise: DEFAULT_FA_NOISE,
            max_rel_l2: None,
            fail_on_mismatch: false,
        }
    }
}

impl From<&cudadent_config::ToleranceSettings> for Tolerance {
    /// A config's `[oracle.tolerance]` (the bench's checks use the same one).
    fn from(t: &cudadent_config::ToleranceSettings) -> Self {
        Tolerance {
            atol: t.atol,
            rtol: t.rtol,
            fa_factor: t.fa_factor,
            fa_noise: t.fa_noise,
            fail_on_mismatch: t.fail_on_mismatch,
            ..Tolerance::default()
        }
    }
}

impl Tolerance {
    /// Checks that every value is finite and non-negative, and `fa_factor` positive.
    pub fn validate(&self) -> Result<(), OracleError> {
        let non_negative = [
            ("atol", self.atol),
            ("rtol", self.rtol),
            ("fa_noise", self.fa_noise),
        ];
        for (key, value) in non_negative {
            if !(value.is_finite() && value >= 0.0) {
                return Err(OracleError::BadTolerance {
                    key,
                    value,
                    why: "must be a finite number >= 0",
                });
            }
        }
        if !(self.fa_factor.is_finite() && self.fa_factor > 0.0) {
            return Err(OracleError::BadTolerance {
                key: "fa_factor",
                value: self.fa_factor,
                why: "must be a finite number > 0",
            });
        }
        if let Some(value) = self.max_rel_l2 {
            if !(value.is_finite() && value > 0.0) {
                return Err(OracleError::BadTolerance {
                    key: "max_rel_l2",
                    value,
                    why: "must be a finite number > 0",
                });
            }
        }
        Ok(())
    }
}

/// The outcome of the pass rule for one output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Whether the output passed every enabled part of the rule.
    pub passed: bool,
    /// `fa_factor · (fp16-order reference's max abs error) + fa_noise`; `+inf` when the
    /// fp16-order reference itself is not finite (and then `passed` is false).
    #[serde(with = "crate::serde_float")]
    pub bound: f64,
    /// Why it failed, one clause per failed part joined by "; "; `None` when it passed.
    pub reason: Option<String>,
}

/// Applies a [`Tolerance`] to error reports.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PassRule {
    /// The thresholds.
    pub tolerance: Tolerance,
}

impl PassRule {
    /// A rule with these thresholds; fails if they are out of range.
    pub fn new(tolerance: Tolerance) -> Result<Self, OracleError> {
        tolerance.validate()?;
        Ok(PassRule { tolerance })
    }

    /// [`compare`] with this rule's `atol` and `rtol`.
    pub fn measure<T: Copy + Into<f64>>(
        &self,
        shape: &Shape,
        got: &[T],
        want: &[f64],
    ) -> Result<ErrorReport, OracleError> {
        compare(shape, got, want, self.tolerance.atol, self.tolerance.rtol)
    }

    /// [`crate::metrics::compare_heads`] with this rule's `atol` and `rtol`.
    pub fn measure_heads<T: Copy + Into<f64>>(
        &self,
        shape: &Shape,
        heads: &[(usize, usize)],
        got: &[T],
        want: &[f64],
    ) -> Result<ErrorReport, OracleError> {
        crate::metrics::compare_heads(
            shape,
            heads,
            got,
            want,
            self.tolerance.atol,
            self.tolerance.rtol,
        )
    }

    /// Judges a kernel's report against the report of the fp16-order reference, both
    /// measured against the same exact reference.
    ///
    /// Fails when: the fp16-order reference is not finite (no bound can be derived);
    /// the reports cover different numbers of elements, or none; the kernel's max abs
    /// error exceeds the bound (a NaN makes it infinite, so a NaN always fails); the
    /// relative L2 error exceeds `max_rel_l2` (if set); there are mismatches and
    /// `fail_on_mismatch` is set. An error exactly at the bound passes, as in
    /// FlashAttention's `<=`.
    pub fn evaluate(&self, kernel: &ErrorReport, same_precision: &ErrorReport) -> Verdict {
        let t = &self.tolerance;
        let sp = same_precision.max_abs_err;
        let bound = if sp.is_finite() {
            t.fa_factor * sp + t.fa_noise
        } else {
            f64::INFINITY
        };
        let mut reasons = Vec::new();

        if !sp.is_finite() {
            reasons.push(format!(
                "the fp16-order reference is not finite ({} non-finite elements, max abs err \
                 {}): no bound can be derived for these inputs",
                same_precision.non_finite, sp
            ));
        }
        if kernel.elements != same_precision.elements {
            reasons.push(format!(
                "the kernel report covers {} elements but the fp16-order reference {}",
                kernel.elements, same_precision.elements
            ));
        } else if kernel.elements == 0 {
            reasons.push("no elements were compared".to_string());
        }
        if sp.is_finite() && exceeds(kernel.max_abs_err, bound) {
            let (err_s, bound_s) = distinct(kernel.max_abs_err, bound);
            let mut clause = format!("max abs err {err_s}");
            if let Some(w) = &kernel.worst {
                clause += &format!(
                    " at {} (got {}, want {})",
                    w.position(),
                    sci(w.got, 4),
                    sci(w.want, 4)
                );
            }
            clause += &format!(
                " > bound {bound_s} = {} x {} (fp16-order reference) + {:e}",
                t.fa_factor,
                sci(sp, 1),
                t.fa_noise
            );
            if kernel.non_finite > 0 {
                clause += &format!(
                    "; {} non-finite outputs where the reference is finite",
                    kernel.non_finite
                );
            }
            reasons.push(clause);
        }
        if let Some(max) = t.max_rel_l2 {
            if exceeds(kernel.rel_l2_err, max) {
                let (err_s, max_s) = distinct(kernel.rel_l2_err, max);
                reasons.push(format!("relative L2 err {err_s} > max_rel_l2 {max_s}"));
            }
        }
        if t.fail_on_mismatch && kernel.mismatches > 0 {
            reasons.push(format!(
                "{} elements ({:.3}%) beyond atol {:e} + rtol {:e} x |ref|",
                kernel.mismatches, kernel.mismatch_pct, t.atol, t.rtol
            ));
        }

        Verdict {
            passed: reasons.is_empty(),
            bound,
            reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
        }
    }
}

/// Whether `x` is above `limit`, a NaN counting as above: `x > limit` alone would be
/// false for a NaN and let it pass.
fn exceeds(x: f64, limit: f64) -> bool {
    !matches!(
        x.partial_cmp(&limit),
        Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal)
    )
}

/// `x` in scientific notation with `digits` after the point (`inf`, `NaN` as such).
fn sci(x: f64, digits: usize) -> String {
    if x.is_finite() {
        format!("{x:.digits$e}")
    } else {
        format!("{x}")
    }
}

/// `a` and `b` with one decimal, or with as many more as it takes to tell them apart.
fn distinct(a: f64, b: f64) -> (String, String) {
    for digits in 1..=16 {
        let (sa, sb) = (sci(a, digits), sci(b, digits));
        if sa != sb || digits == 16 {
            return (sa, sb);
        }
    }
    unreachable!("the loop returns at digits == 16")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Element;

    fn report(max_abs_err: f64) -> ErrorReport {
        ErrorReport {
            max_abs_err,
            worst: Some(Element {
                b: 0,
                h: 3,
                row: 17,
                col: 5,
                got: 0.5,
                want: 0.5 - max_abs_err,
            }),
            rel_l2_err: max_abs_err / 10.0,
            mismatches: 0,
            mismatch_pct: 0.0,
            non_finite: 0,
            reference_non_finite: 0,
            elements: 1000,
            atol: 1e-2,
            rtol: 1e-2,
        }
    }

    #[test]
    fn passes_within_the_bound() {
        let v = PassRule::default().evaluate(&report(1e-3), &report(1.2e-3));
        assert!(v.passed, "{v:?}");
        assert_eq!(v.reason, None);
        assert!((v.bound - 2.41e-3).abs() < 1e-15);
    }

    #[test]
    fn fails_beyond_the_bound_with_a_specific_reason() {
        let v = PassRule::default().evaluate(&report(3.1e-1), &report(1.2e-3));
        assert!(!v.passed);
        assert_eq!(
            v.reason.unwrap(),
            "max abs err 3.1e-1 at (b0,h3,row17,col5) (got 5.0000e-1, want 1.9000e-1) \
             > bound 2.4e-3 = 2 x 1.2e-3 (fp16-order reference) + 1e-5"
        );
    }

    #[test]
    fn the_boundary_itself_passes_and_one_ulp_beyond_fails() {
        let rule = PassRule::default();
        let sp = report(1.2e-3);
        let bound = 2.0 * 1.2e-3 + 1e-5;
        assert!(rule.evaluate(&report(bound), &sp).passed);
        let above = f64::from_bits(bound.to_bits() + 1);
        let v = rule.evaluate(&report(above), &sp);
        assert!(!v.passed);
        // The reason prints enough digits to show the two differ.
        let reason = v.reason.unwrap();
        let err = reason["max abs err ".len()..].split(' ').next().unwrap();
        let shown_bound = reason
            .split("> bound ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap();
        assert_ne!(err, shown_bound, "{reason}");
        assert!(err.len() > "2.4e-3".len(), "{reason}");
    }

    #[test]
    fn nan_error_always_fails() {
        let mut k = report(f64::INFINITY);
        k.non_finite = 37;
        k.worst.as_mut().unwrap().got = f64::NAN;
        let v = PassRule::default().evaluate(&k, &report(1e-3));
        assert!(!v.passed);
        let reason = v.reason.unwrap();
        assert!(
            reason.starts_with("max abs err inf at (b0,h3,row17,col5) (got NaN"),
            "{reason}"
        );
        assert!(reason.ends_with("; 37 non-finite outputs where the reference is finite"));
        // Even a NaN max (which a careless report could carry) fails.
        let v = PassRule::default().evaluate(&report(f64::NAN), &report(1e-3));
        assert!(!v.passed);
    }

    #[test]
    fn a_non_finite_fp16_reference_never_yields_a_pass() {
        let mut sp = report(f64::INFINITY);
        sp.non_finite = 4;
        let v = PassRule::default().evaluate(&report(0.0), &sp);
        assert!(!v.passed);
        assert_eq!(v.bound, f64::INFINITY);
        assert!(v.reason.unwrap().contains("no bound can be derived"));
    }

    #[test]
    fn element_counts_must_agree_and_be_nonzero() {
        let mut other = report(1e-3);
        other.elements = 999;
        assert!(!PassRule::default().evaluate(&report(1e-3), &other).passed);
        let (mut a, mut b) = (report(0.0), report(0.0));
        a.elements = 0;
        b.elements = 0;
        let v = PassRule::default().evaluate(&a, &b);
        assert_eq!(v.reason.as_deref(), Some("no elements were compared"));
    }

    #[test]
    fn mismatches_fail_only_when_asked() {
        let mut k = report(1e-3);
        k.mismatches = 12;
        k.mismatch_pct = 1.2;
        assert!(PassRule::default().evaluate(&k, &report(1e-3)).passed);
        let strict = PassRule::new(Tolerance {
            fail_on_mismatch: true,
            atol: 1e-3,
            rtol: 0.0,
            ..Tolerance::default()
        })
        .unwrap();
        let v = strict.evaluate(&k, &report(1e-3));
        assert_eq!(
            v.reason.as_deref(),
            Some("12 elements (1.200%) beyond atol 1e-3 + rtol 0e0 x |ref|")
        );
    }

    #[test]
    fn rel_l2_ceiling_applies_when_set() {
        let rule = PassRule::new(Tolerance {
            max_rel_l2: Some(1e-4),
            ..Tolerance::default()
        })
        .unwrap();
        let v = rule.evaluate(&report(2e-3), &report(1e-3)); // rel 2e-4
        assert_eq!(
            v.reason.as_deref(),
            Some("relative L2 err 2.0e-4 > max_rel_l2 1.0e-4")
        );
        assert!(rule.evaluate(&report(5e-4), &report(1e-3)).passed);
    }

    #[test]
    fn several_failures_are_all_reported() {
        let rule = PassRule::new(Tolerance {
            max_rel_l2: Some(1e-4),
            ..Tolerance::default()
        })
        .unwrap();
        let v = rule.evaluate(&report(1.0), &report(1e-3));
        let reason = v.reason.unwrap();
        assert!(reason.contains("max abs err 1.0e0") && reason.contains("; relative L2 err"));
    }

    #[test]
    fn tolerance_defaults_and_strict_keys() {
        let t: Tolerance = serde_json::from_str("{}").unwrap();
        assert_eq!(t, Tolerance::default());
        assert_eq!((t.fa_factor, t.fa_noise), (2.0, 1e-5));
        let t: Tolerance = serde_json::from_str(r#"{"fa_factor": 3, "max_rel_l2": 0.01}"#).unwrap();
        assert_eq!((t.fa_factor, t.max_rel_l2, t.atol), (3.0, Some(0.01), 1e-2));
        let err = serde_json::from_str::<Tolerance>(r#"{"fa_facter": 3}"#).unwrap_err();
        assert!(
            err.to_string().contains("unknown field `fa_facter`"),
            "{err}"
        );
    }

    #[test]
    fn tolerance_validation_names_the_key() {
        for (t, msg) in [
            (
                Tolerance {
                    atol: -1.0,
                    ..Tolerance::default()
                },
                "tolerance `atol` = -1: must be a finite number >= 0",
            ),
            (
                Tolerance {
                    fa_factor: 0.0,
                    ..Tolerance::default()
                },
                "tolerance `fa_factor` = 0: must be a finite number > 0",
            ),
            (
                Tolerance {
                    fa_noise: f64::NAN,
                    ..Tolerance::default()
                },
                "tolerance `fa_noise` = NaN: must be a finite number >= 0",
            ),
            (
                Tolerance {
                    max_rel_l2: Some(0.0),
                    ..Tolerance::default()
                },
                "tolerance `max_rel_l2` = 0: must be a finite number > 0",
            ),
        ] {
            assert_eq!(PassRule::new(t).unwrap_err().to_string(), msg);
        }
    }
}
