//! The problem shape shared by every tensor of one attention call.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::OracleError;

/// The shape of one `attention_fwd_v1` call: Q, K, V and O are all
/// `[batch, heads, seq_len, head_dim]`, contiguous and row-major.
///
/// `causal` masks key `j > i` for query row `i` (top-left aligned, square), as the ABI
/// says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shape {
    /// B: independent problems.
    pub batch: usize,
    /// H: heads per problem.
    pub heads: usize,
    /// S: query and key rows per head.
    pub seq_len: usize,
    /// D: features per row.
    pub head_dim: usize,
    /// Whether key `j > i` is masked for query row `i`.
    pub causal: bool,
}

impl Shape {
    /// A shape from its four dimensions and the causal flag.
    pub fn new(batch: usize, heads: usize, seq_len: usize, head_dim: usize, causal: bool) -> Self {
        Shape {
            batch,
            heads,
            seq_len,
            head_dim,
            causal,
        }
    }

    /// Checks that every dimension is at least 1, fits the ABI's `int` arguments, and
    /// that the element count fits in `usize`; returns the element count of one tensor.
    pub fn validate(&self) -> Result<usize, OracleError> {
        let dims = [
            ("batch", self.batch),
            ("heads", self.heads),
            ("seq_len", self.seq_len),
            ("head_dim", self.head_dim),
        ];
        for (name, value) in dims {
            if value == 0 {
                return Err(OracleError::EmptyDimension {
                    shape: self.to_string(),
                    dim: name,
                });
            }
            if i32::try_from(value).is_err() {
                return Err(OracleError::TooLarge {
                    shape: self.to_string(),
                    what: format!("{name} = {value} does not fit the ABI's int argument"),
                });
            }
        }
        dims.iter()
            .try_fold(1usize, |acc, &(_, v)| acc.checked_mul(v))
            .ok_or_else(|| OracleError::TooLarge {
                shape: self.to_string(),
                what: "the element count overflows usize".to_string(),
            })
    }

    /// Elements of one tensor (B·H·S·D). Saturates instead of overflowing; call
    /// [`Shape::validate`] first where the shape comes from outside.
    pub fn elems(&self) -> usize {
        self.batch
            .saturating_mul(self.heads)
            .saturating_mul(self.seq_len)
            .saturating_mul(self.head_dim)
    }

    /// Elements of one head (S·D).
    pub fn head_elems(&self) -> usize {
        self.seq_len.saturating_mul(self.head_dim)
    }

    /// `1 / sqrt(head_dim)`, the usual softmax scale (the oracle also tests others).
    pub fn default_scale(&self) -> f32 {
        (1.0 / (self.head_dim as f64).sqrt()) as f32
    }

    /// The flat index of element `(b, h, row, col)`.
    pub fn index(&self, b: usize, h: usize, row: usize, col: usize) -> usize {
        ((b * self.heads + h) * self.seq_len + row) * self.head_dim + col
    }

    /// The `(b, h, row, col)` coordinates of a flat index (inverse of [`Shape::index`]).
    pub fn coords(&self, index: usize) -> (usize, usize, usize, usize) {
        let col = index % self.head_dim;
        let rest = index / self.head_dim;
        let row = rest % self.seq_len;
        let rest = rest / self.seq_len;
        let h = rest % self.heads;
        let b = rest / self.heads;
        (b, h, row, col)
    }

    /// Checks that `slice_len` is one tensor of this shape.
    pub(crate) fn check_len(
        &self,
        what: &'static str,
        slice_len: usize,
    ) -> Result<(), OracleError> {
        let expected = self.validate()?;
        if slice_len != expected {
            return Err(OracleError::LengthMismatch {
                what,
                shape: self.to_string(),
                expected,
                got: slice_len,
            });
        }
        Ok(())
    }
}

impl fmt::Display for Shape {
    /// `B2 H8 S512 D64` (with ` causal` appended when causal).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "B{} H{} S{} D{}",
            self.batch, self.heads, self.seq_len, self.head_dim
        )?;
        if self.causal {
            write!(f, " causal")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_and_coords_are_inverse() {
        let s = Shape::new(2, 3, 5, 7, false);
        for i in 0..s.elems() {
            let (b, h, r, c) = s.coords(i);
            assert_eq!(s.index(b, h, r, c), i);
        }
        assert_eq!(s.coords(s.index(1, 2, 4, 6)), (1, 2, 4, 6));
    }

    #[test]
    fn validate_rejects_zero_and_names_the_dimension() {
        let err = Shape::new(1, 0, 4, 4, false).validate().unwrap_err();
        assert_eq!(
            err.to_string(),
            "shape B1 H0 S4 D4: heads is 0; every dimension must be at least 1"
        );
        assert_eq!(Shape::new(2, 8, 512, 64, false).validate(), Ok(524_288));
    }

    #[test]
    fn validate_rejects_dimensions_beyond_int() {
        let err = Shape::new(1, 1, 1 << 31, 1, false).validate().unwrap_err();
        assert!(matches!(err, OracleError::TooLarge { .. }), "{err}");
    }

    #[test]
    fn display_and_default_scale() {
        let s = Shape::new(2, 8, 512, 64, true);
        assert_eq!(s.to_string(), "B2 H8 S512 D64 causal");
        assert_eq!(s.default_scale(), 0.125);
    }
}
