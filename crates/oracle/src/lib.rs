//! oracle decides whether a kernel following `attention_fwd_v1` computes attention:
//! references, inputs built to break kernels, error metrics and the pass rule, poison
//! and canary checks; launching kernels is kernel-runtime's job.
//!
//! Everything in this crate runs on the CPU and never touches a GPU, so all of it is
//! tested anywhere. The pieces, in the order one check uses them:
//!
//! - [`inputs`]: reproducible Q, K, V from a seed and a [`Distribution`], including
//!   large-magnitude inputs that overflow a softmax that skips the max subtraction;
//! - [`guard`]: host-side layouts for guard bands with a [`guard::CANARY`] pattern, the
//!   NaN [`guard::POISON`] written into the output before every launch, and bit-exact
//!   comparisons (inputs unchanged, reruns identical);
//! - [`reference`](mod@reference): the exact fp64 reference and the fp16 "same-precision reference in
//!   another operation order" that FlashAttention's tests measure kernels against;
//! - [`metrics`]: an [`ErrorReport`] of a kernel's output against a reference, in which
//!   a NaN can never hide (it makes the maximum error infinite);
//! - [`rule`]: the pass rule ([`PassRule`]): FlashAttention's "at most twice the error of
//!   the fp16 reference", with atol/rtol mismatch counts beside it;
//! - [`report`]: the serialisable [`CheckRecord`] of one check, whose field names follow
//!   the oracle contract in DESIGN.md.
//!
//! Tensors are `[batch, heads, seq_len, head_dim]`, contiguous and row-major, described
//! by a [`Shape`]; fp16 values are [`half::f16`] on the host, or their bits as `u16` where
//! only bit patterns matter (poison, canaries).
#![deny(missing_docs)]

pub mod guard;
pub mod inputs;
pub mod metrics;
pub mod reference;
pub mod report;
pub mod rule;
mod serde_float;
mod shape;

pub use inputs::{generate, Distribution, Inputs};
pub use metrics::{compare, compare_heads, gather_heads, Element, ErrorReport};
pub use reference::{
    attention_f16_order, attention_f16_order_heads, attention_f64, attention_f64_heads,
};
pub use report::{launch_label, CheckRecord};
pub use rule::{PassRule, Tolerance, Verdict};
pub use shape::Shape;

/// What can go wrong when the oracle is handed inconsistent data.
///
/// These are errors of the caller (a shape that describes no tensor, a slice of the
/// wrong length), reported instead of panicking so that a binary can map them to its
/// "bad input" exit code.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OracleError {
    /// A dimension of the shape is zero.
    #[error("shape {shape}: {dim} is 0; every dimension must be at least 1")]
    EmptyDimension {
        /// The shape, as `Shape`'s `Display` writes it.
        shape: String,
        /// The name of the dimension that is zero.
        dim: &'static str,
    },
    /// The number of elements does not fit in `usize` (or in an `i32` launch argument).
    #[error("shape {shape}: {what}")]
    TooLarge {
        /// The shape, as `Shape`'s `Display` writes it.
        shape: String,
        /// Which limit was exceeded.
        what: String,
    },
    /// A `(b, h)` head that the shape does not have.
    #[error("head (b{b}, h{h}) is outside shape {shape}")]
    HeadOutOfRange {
        /// The shape, as `Shape`'s `Display` writes it.
        shape: String,
        /// Batch index given.
        b: usize,
        /// Head index given.
        h: usize,
    },
    /// A slice does not have the length the shape asks for.
    #[error("{what} has {got} elements, but shape {shape} needs {expected}")]
    LengthMismatch {
        /// Which argument (e.g. "q", "kernel output").
        what: &'static str,
        /// The shape, as `Shape`'s `Display` writes it.
        shape: String,
        /// The length the shape asks for.
        expected: usize,
        /// The length that was given.
        got: usize,
    },
    /// A tolerance value out of its range.
    #[error("tolerance `{key}` = {value}: {why}")]
    BadTolerance {
        /// The key (field name) of [`Tolerance`].
        key: &'static str,
        /// The value given.
        value: f64,
        /// What was allowed.
        why: &'static str,
    },
    /// A distribution name or parameter that is not understood.
    #[error("distribution `{given}`: {why} (known: normal, large_magnitude, large_magnitude:<factor>, uniform, sparse_int)")]
    BadDistribution {
        /// The text that was given.
        given: String,
        /// What is wrong with it.
        why: String,
    },
}
