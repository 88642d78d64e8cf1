//! Poison, guard-band canaries and bit-exact comparisons, on the host side.
//!
//! Everything here works on fp16 *bits* (`u16`): a NaN is not equal to itself, so
//! comparing `f16` values would call every poisoned element "changed" and every pair
//! of NaN outputs "different". [`bits`] views an `f16` slice as its bits without a copy.
//!
//! The device side (allocating `guard + payload + guard` elements, launching on the
//! payload, copying the whole buffer back) is kernel-runtime's job; this module says
//! what to write there and how to read what came back.

use std::ops::Range;

use half::f16;
use half::slice::HalfFloatSliceExt;
use serde::{Deserialize, Serialize};

/// The bits of the poison written into every output element before every launch: the
/// fp16 quiet NaN `0x7E00`.
///
/// An element still holding these bits after the launch was not written (or was written
/// with this exact NaN, which a kernel computing a NaN does not produce: CUDA's
/// `cvt.rn.f16.f32` and `__float2half` give the canonical `0x7FFF`). It is also the
/// bits of `half::f16::NAN` on the host, so host code must not write that as a result. A kernel that accumulates into O instead of
/// overwriting it turns the poison into NaN everywhere, which the metrics then catch.
pub const POISON: u16 = 0x7E00;

/// The two alternating 16-bit canary words filling the guard bands: element `i` of a
/// guard band (counted from the start of the whole buffer) holds `CANARY[i % 2]`.
///
/// `0x7A5A` is +52032 and `0xF9A7` is -46304 as fp16: finite, so no NaN handling
/// anywhere can mistake them for poison or canonicalise them; of a magnitude no
/// attention output reaches (an output is a convex combination of rows of V, and the
/// inputs this crate generates stay below 100); not zero, not ±inf, not ±65504 (what a
/// saturating conversion writes), not 0x7E00/0x7FFF (poison, CUDA's NaN); made of four
/// different bytes, so no `memset` reproduces them; and together the 32-bit word
/// `0xF9A77A5A`, which as an fp32 is about -1.1e35, not a plausible fp32 result either.
/// A NaN payload would not do: a kernel that computes a NaN writes one, and some code
/// paths rewrite NaN payloads. The check compares bits, so any write of any other value
/// is seen.
pub const CANARY: [u16; 2] = [0x7A5A, 0xF9A7];

/// Views fp16 values as their bits.
pub fn bits(values: &[f16]) -> &[u16] {
    values.reinterpret_cast()
}

/// `n` elements of [`POISON`].
pub fn poison(n: usize) -> Vec<u16> {
    vec![POISON; n]
}

/// Output elements still equal (bit for bit) to [`POISON`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Unwritten {
    /// How many elements still hold the poison.
    pub count: u64,
    /// The index of the first of them.
    pub first: Option<usize>,
}

/// Counts the output elements still holding [`POISON`] after a launch.
pub fn unwritten(output: &[u16]) -> Unwritten {
    let mut result = Unwritten::default();
    for (i, &x) in output.iter().enumerate() {
        if x == POISON {
            result.count += 1;
            result.first.get_or_insert(i);
        }
    }
    result
}

/// A buffer of `guard_elems` canaries, then `payload_elems` elements, then
/// `guard_elems` canaries. The kernel gets a pointer to the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardedLayout {
    /// Canary elements before the payload, and again after it.
    pub guard_elems: usize,
    /// Elements of the tensor itself.
    pub payload_elems: usize,
}

/// What happened to the guard bands of one buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CanaryReport {
    /// Canary elements before the payload that no longer hold their canary.
    pub before_changed: u64,
    /// Canary elements after the payload that no longer hold their canary.
    pub after_changed: u64,
    /// The lowest changed guard element, as an offset from the start of the payload:
    /// `-1` is the element just before the payload, `payload_elems` the one just after.
    pub first_changed_offset: Option<i64>,
}

impl CanaryReport {
    /// Whether every canary is intact.
    pub fn clean(&self) -> bool {
        self.before_changed == 0 && self.after_changed == 0
    }
}

impl GuardedLayout {
    /// A layout with `guard_elems` canaries on each side of `payload_elems` elements.
    pub fn new(guard_elems: usize, payload_elems: usize) -> Self {
        GuardedLayout {
            guard_elems,
            payload_elems,
        }
    }

    /// Elements of the whole buffer: `2 · guard_elems + payload_elems`.
    pub fn total_elems(&self) -> usize {
        2 * self.guard_elems + self.payload_elems
    }

    /// Where the payload lies in the whole buffer.
    pub fn payload_range(&self) -> Range<usize> {
        self.guard_elems..self.guard_elems + self.payload_elems
    }

    /// The whole buffer: canaries, `payload`, canaries.
    ///
    /// # Panics
    /// If `payload.len() != payload_elems` (a bug in the caller).
    pub fn fill_guarded(&self, payload: &[u16]) -> Vec<u16> {
        assert_eq!(
            payload.len(),
            self.payload_elems,
            "payload length does not match the guarded layout"
        );
        let mut buf = Vec::with_capacity(self.total_elems());
        buf.extend((0..self.guard_elems).map(canary_at));
        buf.extend_from_slice(payload);
        buf.extend((self.payload_range().end..self.total_elems()).map(canary_at));
        buf
    }

    /// The payload part of a whole buffer.
    ///
    /// # Panics
    /// If `buf.len() != total_elems()`.
    pub fn payload<'a>(&self, buf: &'a [u16]) -> &'a [u16] {
        assert_eq!(
            buf.len(),
            self.total_elems(),
            "buffer length does not match the guarded layout"
        );
        &buf[self.payload_range()]
    }

    /// Compares each guard element of `buf` (the whole buffer, copied back from the
    /// device) with its canary.
    ///
    /// # Panics
    /// If `buf.len() != total_elems()`.
    pub fn check_canaries(&self, buf: &[u16]) -> CanaryReport {
        assert_eq!(
            buf.len(),
            self.total_elems(),
            "buffer length does not match the guarded layout"
        );
        let mut report = CanaryReport::default();
        let start = self.guard_elems as i64;
        let guards = (0..self.guard_elems).chain(self.payload_range().end..self.total_elems());
        for i in guards {
            if buf[i] != canary_at(i) {
                if i < self.guard_elems {
                    report.before_changed += 1;
                } else {
                    report.after_changed += 1;
                }
                report.first_changed_offset.get_or_insert(i as i64 - start);
            }
        }
        report
    }
}

/// The canary of element `i` of a whole buffer.
fn canary_at(i: usize) -> u16 {
    CANARY[i % 2]
}

/// The first index where `before` and `after` differ (bit for bit), or where one ends
/// and the other goes on; `None` when they are identical. For Q, K and V, copied back
/// after the launch, against the host copies that were uploaded.
pub fn inputs_unchanged(before: &[u16], after: &[u16]) -> Option<usize> {
    first_difference(before, after).map(|(i, _, _)| i)
}

/// The first index where two outputs differ bit for bit, with both values (as bits);
/// `None` when they are identical. For determinism reruns: two launches on the same
/// inputs must give the same bits. A length difference is reported at the shorter
/// length, with the missing side as `None`.
pub fn bit_identical(a: &[u16], b: &[u16]) -> Option<(usize, Option<u16>, Option<u16>)> {
    first_difference(a, b)
}

fn first_difference(a: &[u16], b: &[u16]) -> Option<(usize, Option<u16>, Option<u16>)> {
    if let Some(i) = a.iter().zip(b).position(|(x, y)| x != y) {
        return Some((i, Some(a[i]), Some(b[i])));
    }
    if a.len() != b.len() {
        let i = a.len().min(b.len());
        return Some((i, a.get(i).copied(), b.get(i).copied()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canaries_are_finite_large_and_not_special() {
        for c in CANARY {
            let x = f16::from_bits(c);
            assert!(x.is_finite(), "{c:#06x}");
            assert!(x.to_f64().abs() > 32768.0, "{c:#06x} = {x}");
            assert_ne!(x, f16::MAX);
            assert_ne!(x, f16::MIN);
            assert_ne!(c, POISON);
            let [lo, hi] = c.to_le_bytes();
            assert_ne!(lo, hi);
        }
        assert_eq!(f16::from_bits(CANARY[0]).to_f64(), 52032.0);
        assert_eq!(f16::from_bits(CANARY[1]).to_f64(), -46304.0);
        assert!(f16::from_bits(POISON).is_nan());
    }

    #[test]
    fn fill_guarded_puts_payload_between_canaries() {
        let layout = GuardedLayout::new(3, 4);
        let buf = layout.fill_guarded(&[1, 2, 3, 4]);
        assert_eq!(buf.len(), 10);
        assert_eq!(layout.payload(&buf), &[1, 2, 3, 4]);
        assert_eq!(&buf[..3], &[CANARY[0], CANARY[1], CANARY[0]]);
        assert_eq!(&buf[7..], &[CANARY[1], CANARY[0], CANARY[1]]);
        assert!(layout.check_canaries(&buf).clean());
    }

    #[test]
    fn a_write_one_past_the_payload_is_caught() {
        let layout = GuardedLayout::new(8, 16);
        let mut buf = layout.fill_guarded(&poison(16));
        buf[layout.payload_range().end] = f16::from_f32(0.25).to_bits();
        let r = layout.check_canaries(&buf);
        assert_eq!((r.before_changed, r.after_changed), (0, 1));
        assert_eq!(r.first_changed_offset, Some(16));
        assert!(!r.clean());
    }

    #[test]
    fn a_write_one_before_the_payload_is_caught() {
        let layout = GuardedLayout::new(8, 16);
        let mut buf = layout.fill_guarded(&poison(16));
        buf[layout.guard_elems - 1] = 0;
        let r = layout.check_canaries(&buf);
        assert_eq!((r.before_changed, r.after_changed), (1, 0));
        assert_eq!(r.first_changed_offset, Some(-1));
    }

    #[test]
    fn a_nan_written_into_the_guard_is_caught() {
        let layout = GuardedLayout::new(2, 2);
        let mut buf = layout.fill_guarded(&[0, 0]);
        buf[0] = f16::NAN.to_bits();
        buf[5] = POISON;
        let r = layout.check_canaries(&buf);
        assert_eq!(
            (r.before_changed, r.after_changed, r.first_changed_offset),
            (1, 1, Some(-2))
        );
    }

    #[test]
    fn writes_inside_the_payload_are_not_guard_violations() {
        let layout = GuardedLayout::new(4, 4);
        let mut buf = layout.fill_guarded(&poison(4));
        let range = layout.payload_range();
        buf[range].fill(0x3C00);
        assert!(layout.check_canaries(&buf).clean());
    }

    #[test]
    fn unwritten_counts_the_remaining_poison() {
        let mut out = poison(10);
        assert_eq!(
            unwritten(&out),
            Unwritten {
                count: 10,
                first: Some(0)
            }
        );
        for (i, x) in out.iter_mut().enumerate() {
            if i != 3 && i != 7 {
                *x = f16::from_f32(i as f32).to_bits();
            }
        }
        assert_eq!(
            unwritten(&out),
            Unwritten {
                count: 2,
                first: Some(3)
            }
        );
        out[3] = 0x7FFF; // a NaN computed on the GPU (canonical 0x7FFF) is written
        out[7] = POISON; // ... but the host's f16::NAN is the poison itself
        assert_eq!(f16::NAN.to_bits(), POISON);
        assert_eq!(
            unwritten(&out),
            Unwritten {
                count: 1,
                first: Some(7)
            }
        );
        out[7] = 0;
        assert_eq!(
            unwritten(&out),
            Unwritten {
                count: 0,
                first: None
            }
        );
    }

    #[test]
    fn bits_views_f16_values() {
        let xs = [f16::ONE, f16::NAN, f16::from_bits(POISON)];
        assert_eq!(bits(&xs), &[0x3C00, f16::NAN.to_bits(), POISON]);
    }

    #[test]
    fn input_comparison_finds_the_first_change_and_length_changes() {
        let a = [1u16, 2, 3, 4];
        assert_eq!(inputs_unchanged(&a, &a), None);
        assert_eq!(inputs_unchanged(&a, &[1, 2, 9, 9]), Some(2));
        assert_eq!(inputs_unchanged(&a, &[1, 2, 3]), Some(3));
        // NaN bits equal to themselves are unchanged.
        let n = [POISON, POISON];
        assert_eq!(inputs_unchanged(&n, &n), None);
    }

    #[test]
    fn bit_identical_reports_both_values() {
        let a = [0x3C00u16, 0x4000, 0x4200];
        let mut b = a;
        assert_eq!(bit_identical(&a, &b), None);
        b[1] = 0x4001; // one ulp
        assert_eq!(bit_identical(&a, &b), Some((1, Some(0x4000), Some(0x4001))));
        assert_eq!(bit_identical(&a, &a[..2]), Some((2, Some(0x4200), None)));
        // +0 and -0 are equal as numbers but not as bits: a rerun must match bits.
        assert!(bit_identical(&[0x0000], &[0x8000]).is_some());
    }
}
