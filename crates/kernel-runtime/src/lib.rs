//! The ground every cudadent tool stands on: finding the CUDA toolchain, building kernels,
//! and running them on a GPU.
//!
//! - [`toolchain`] finds nvcc, ptxas, cuobjdump, nvdisasm, compute-sanitizer and ncu
//!   (explicit root, `CUDADENT_CUDA_ROOT`, `PATH`, `CUDA_HOME`, `/usr/local/cuda`, the
//!   project-local pinned install) and reads their versions.
//! - [`build`] turns a kernel manifest into a cubin and PTX per arch with `-lineinfo`,
//!   keeps the `-Xptxas -v` report, and caches by a hash of every input.
//! - [`device`] probes for the driver before touching cudarc (which panics without one),
//!   describes the GPU, and launches kernels of ABI `attention_fwd_v1` or
//!   `attention_fwd_tma_v1` (the tensor maps of K and V encoded here) with every launch
//!   checked. All `unsafe` of the workspace lives in its `device` module.
//!
//! What the numbers mean is the gates' business: the oracle, the inspector and the bench
//! only ask this crate for cubins and launches.
#![deny(missing_docs)]

pub mod build;
pub mod device;
mod error;
pub mod toolchain;

pub use error::RuntimeError;
