//! bench turns CUDA-event timings of attention kernels into numbers a kernel engineer can
//! trust, and compares two runs. This library owns the pure parts: the statistics
//! ([`stats`]), the adaptive stopping rule ([`stopping`]), the work and floor of a
//! problem ([`work`]), the result files ([`record`]), the comparison of two runs
//! ([`compare`]) and the renderings ([`render`]: table and SVG).
//!
//! Launching is kernel-runtime's job, and correctness is the oracle's: the `bench`
//! binary asks kernel-runtime for launches, CUDA events and graphs, times them with the
//! rules of this crate, and checks the timed buffers with the oracle's pass rule. Nothing
//! here touches a GPU, so all of it is tested anywhere.
#![deny(missing_docs)]

pub mod compare;
pub mod record;
pub mod render;
pub mod stats;
pub mod stopping;
pub mod synthetic;
pub mod work;

pub use compare::{compare_files, compare_samples, Call, CompareOptions};
pub use record::{BenchSummary, Mode, SampleSet, SamplesFile, SetKind, Timing};
pub use stats::Summary;
pub use stopping::{Sampler, StopReason, StopRule};
pub use work::{Peaks, Work};
