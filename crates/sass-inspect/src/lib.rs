//! sass-inspect turns ptxas reports, SASS and PTX text into typed resource usage and an
//! instruction census, and applies policies to them; building cubins is kernel-runtime's
//! job.
//!
//! It answers "what did the compiler make of this kernel?" from text alone, so that every
//! test and every check runs without a GPU:
//! - [`ptxas`]: the `-Xptxas -v` report as per-function [`ResourceUsage`] (registers,
//!   barriers, stack, spills, static shared memory, constant banks, compile time);
//! - [`sass`]: `cuobjdump --dump-sass` as per-function [`SassInstruction`] lists, and the
//!   [`Census`] of them: tensor-core instructions (`HMMA`/`HGMMA`/`IMMA`/`QGMMA`) with
//!   their accumulator type, local memory (`LDL`/`STL`), shared and global memory, async
//!   copies, barriers, FMAs;
//! - [`ptx`]: PTX as a [`PtxCensus`] (`mma.sync`, `wmma.mma.sync`, `wgmma.mma_async`,
//!   `ldmatrix`, `cp.async`, local memory, barriers) with its `.version` / `.target`;
//! - [`policy`]: [`Policy`] rules (tensor cores, f32 accumulation, registers, spills, local
//!   memory, shared memory) checked against [`Measured`] values, as [`Violation`]s;
//! - [`occupancy`](mod@occupancy): theoretical occupancy from registers, threads and shared memory;
//! - [`snapshot`]: [`InspectionRecord`] lists compared against a committed snapshot.
//!
//! The parsers are pure functions from `&str` to typed values. They never fail and never
//! guess: a line they do not understand is kept, as written, in an `unknown_lines` list,
//! so that a new CUDA release that changes a format shows up as "N lines not understood".
//! Running nvcc, ptxas and cuobjdump, and reading their files, is the caller's job.

#![deny(missing_docs)]

pub mod occupancy;
pub mod policy;
pub mod ptx;
pub mod ptxas;
pub mod sass;
pub mod snapshot;

pub use occupancy::{occupancy, KernelResources, Occupancy, OccupancyError};
pub use policy::{check, Measured, Policy, Rule, Violation};
pub use ptx::{parse_ptx, PtxCensus, PtxReport};
pub use ptxas::{parse_ptxas, PtxasReport, ResourceUsage};
pub use sass::{census, parse_sass, tensor_core_lines, Census, SassDump, SassInstruction};
pub use snapshot::{compare, Allowances, InspectionRecord, SnapshotDiff};
