//! Theoretical occupancy of a kernel on an arch, from registers per thread, threads per
//! block, shared memory per block and named barriers: the calculation of the CUDA
//! occupancy calculator, without a GPU.
//!
//! The algorithm follows the toolkit's own `cuda_occupancy.h` (CUDA 13.0,
//! `cudaOccMaxActiveBlocksPerMultiprocessor` and the functions it calls):
//! - registers are allocated per warp, rounded up to 256 (`cudaOccRegAllocationGranularity`),
//!   from 4 sub-partitions of the register file (`cudaOccSubPartitionsPerMultiprocessor`);
//!   a block whose warps, rounded up to a multiple of 4, need more than the per-block
//!   register file cannot launch;
//! - shared memory per block is static + dynamic + the 1 KiB the driver reserves per block
//!   on sm_80 and later, rounded up to 128 bytes (`cudaOccSMemAllocationGranularity`);
//!   a block over the opt-in per-block maximum (plus the reserve) cannot launch; the SM's
//!   capacity is the largest carveout (the default preference), as listed in
//!   `cudaOccAlignUpShmemSizeVoltaPlus`;
//! - blocks per SM are capped by `cudaOccMaxBlocksPerMultiprocessor`, and by named
//!   barriers: `2 x block cap` barriers per SM on 8.0 and 9.0, `1 x` on 8.6 and 8.9
//!   (`cudaOccMaxBlocksPerSMBlockBarrierLimit`).
//!
//! The per-arch numbers are those of the CUDA C++ Programming Guide's "Technical
//! Specifications per Compute Capability" table and the NVIDIA Ampere, Ada and Hopper
//! tuning guides ("Streaming Multiprocessor" and "Shared Memory" sections):
//!
//! | arch  | threads/SM | blocks/SM | registers/SM | smem/SM | smem/block (opt-in) |
//! |-------|-----------:|----------:|-------------:|--------:|--------------------:|
//! | sm_80 | 2048       | 32        | 64 Ki        | 164 KiB | 163 KiB             |
//! | sm_86 | 1536       | 16        | 64 Ki        | 100 KiB | 99 KiB              |
//! | sm_89 | 1536       | 24        | 64 Ki        | 100 KiB | 99 KiB              |
//! | sm_90 | 2048       | 32        | 64 Ki        | 228 KiB | 227 KiB             |
//!
//! with 255 registers per thread at most, 1024 threads per block at most, and 64 Ki
//! registers per block at most on all four. The blocks/SM and smem/SM columns are also
//! in `cuda_occupancy.h` (above), which agrees. An arch not in this table is an error,
//! never a guess.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The per-SM limits of one arch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchLimits {
    /// `sm_80`, ...
    pub arch: &'static str,
    /// Resident threads per SM.
    pub max_threads_per_sm: u32,
    /// Resident blocks per SM.
    pub max_blocks_per_sm: u32,
    /// Threads per block.
    pub max_threads_per_block: u32,
    /// 32-bit registers per SM.
    pub registers_per_sm: u32,
    /// 32-bit registers one block may hold.
    pub registers_per_block: u32,
    /// Registers per thread.
    pub max_registers_per_thread: u32,
    /// Registers are allocated per warp in multiples of this.
    pub register_allocation_granularity: u32,
    /// Sub-partitions the register file is split into.
    pub sub_partitions: u32,
    /// Shared memory per SM at the largest carveout, bytes.
    pub shared_per_sm: u32,
    /// Shared memory one block may use after opting in, bytes (reserve excluded).
    pub shared_per_block_optin: u32,
    /// Shared memory the driver reserves per block, bytes.
    pub reserved_shared_per_block: u32,
    /// Shared memory is allocated per block in multiples of this, bytes.
    pub shared_allocation_granularity: u32,
    /// Named barriers per SM per block slot (2 on 8.0 and 9.0, 1 on 8.6 and 8.9).
    pub barriers_per_block_slot: u32,
}

const KIB: u32 = 1024;

/// The archs this module knows, from the table in the module docs.
pub const ARCHS: &[ArchLimits] = &[
    limits("sm_80", 2048, 32, 164 * KIB, 163 * KIB, 2),
    limits("sm_86", 1536, 16, 100 * KIB, 99 * KIB, 1),
    limits("sm_89", 1536, 24, 100 * KIB, 99 * KIB, 1),
    limits("sm_90", 2048, 32, 228 * KIB, 227 * KIB, 2),
];

const fn limits(
    arch: &'static str,
    max_threads_per_sm: u32,
    max_blocks_per_sm: u32,
    shared_per_sm: u32,
    shared_per_block_optin: u32,
    barriers_per_block_slot: u32,
) -> ArchLimits {
    ArchLimits {
        arch,
        max_threads_per_sm,
        max_blocks_per_sm,
        max_threads_per_block: 1024,
        registers_per_sm: 64 * KIB,
        registers_per_block: 64 * KIB,
        max_registers_per_thread: 255,
        register_allocation_granularity: 256,
        sub_partitions: 4,
        shared_per_sm,
        shared_per_block_optin,
        reserved_shared_per_block: KIB,
        shared_allocation_granularity: 128,
        barriers_per_block_slot,
    }
}

/// The limits of `arch` (`sm_90`; a feature suffix as in `sm_90a` is ignored), or `None`.
pub fn arch_limits(arch: &str) -> Option<&'static ArchLimits> {
    let base = arch.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    ARCHS.iter().find(|l| l.arch == base)
}

/// What a kernel launch uses per block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelResources {
    /// Registers per thread (ptxas `Used N registers`).
    pub registers_per_thread: u32,
    /// Threads per block.
    pub threads_per_block: u32,
    /// Shared memory per block, static + dynamic, bytes (the driver's reserve excluded).
    pub shared_bytes_per_block: u32,
    /// Named barriers (ptxas `used N barriers`).
    pub barriers: u32,
}

/// What caps the number of resident blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limiter {
    /// The register file.
    Registers,
    /// Resident warps (threads) per SM, or threads per block.
    Warps,
    /// Resident blocks per SM.
    Blocks,
    /// Shared memory.
    SharedMemory,
    /// Named barriers.
    Barriers,
}

/// Theoretical occupancy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Occupancy {
    /// The arch it was computed for.
    pub arch: String,
    /// Resident blocks per SM; 0 when the block cannot launch at all.
    pub blocks_per_sm: u32,
    /// Resident warps per SM.
    pub warps_per_sm: u32,
    /// The arch's resident-warp maximum.
    pub max_warps_per_sm: u32,
    /// `warps_per_sm / max_warps_per_sm`.
    pub occupancy: f64,
    /// The limiters that bind (all that tie at `blocks_per_sm`).
    pub limited_by: Vec<Limiter>,
    /// Blocks per SM each limiter alone would allow.
    pub blocks_by_registers: u32,
    /// See [`Occupancy::blocks_by_registers`].
    pub blocks_by_warps: u32,
    /// See [`Occupancy::blocks_by_registers`].
    pub blocks_by_blocks: u32,
    /// See [`Occupancy::blocks_by_registers`].
    pub blocks_by_shared_memory: u32,
    /// See [`Occupancy::blocks_by_registers`]; `u32::MAX` without named barriers.
    pub blocks_by_barriers: u32,
    /// Shared memory allocated per block, reserve and rounding included.
    pub allocated_shared_per_block: u32,
    /// Registers allocated per block, rounding included.
    pub allocated_registers_per_block: u32,
}

/// Why occupancy could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OccupancyError {
    /// The arch is not in [`ARCHS`].
    #[error("no occupancy limits for arch `{arch}` (known: {known})")]
    UnknownArch {
        /// The arch asked for.
        arch: String,
        /// The archs that are known, comma-separated.
        known: String,
    },
    /// A block of zero threads.
    #[error("threads per block must be at least 1")]
    ZeroThreads,
}

fn round_up(x: u64, y: u64) -> u64 {
    x.div_ceil(y) * y
}

fn narrow(x: u64) -> u32 {
    u32::try_from(x).unwrap_or(u32::MAX)
}

/// Theoretical occupancy of `kernel` on `arch`.
pub fn occupancy(arch: &str, kernel: &KernelResources) -> Result<Occupancy, OccupancyError> {
    let l = arch_limits(arch).ok_or_else(|| OccupancyError::UnknownArch {
        arch: arch.to_string(),
        known: ARCHS.iter().map(|l| l.arch).collect::<Vec<_>>().join(", "),
    })?;
    if kernel.threads_per_block == 0 {
        return Err(OccupancyError::ZeroThreads);
    }
    // In u64 (saturating where two inputs multiply): no input can overflow.
    const WARP: u64 = 32;
    let (registers, threads) = (
        u64::from(kernel.registers_per_thread),
        u64::from(kernel.threads_per_block),
    );
    let (shared, barriers) = (
        u64::from(kernel.shared_bytes_per_block),
        u64::from(kernel.barriers),
    );
    let max_warps = u64::from(l.max_threads_per_sm) / WARP;
    let warps_per_block = threads.div_ceil(WARP);
    let sub_partitions = u64::from(l.sub_partitions);
    let registers_per_block = u64::from(l.registers_per_block);

    // Warps (cudaOccMaxBlocksPerSMWarpsLimit).
    let by_warps = if threads > u64::from(l.max_threads_per_block) {
        0
    } else {
        max_warps / warps_per_block
    };

    // Registers (cudaOccMaxBlocksPerSMRegsLimit): allocated per warp, from sub-partitions;
    // the hardware check rounds the block's warps up to a multiple of the sub-partitions.
    let regs_per_warp = round_up(
        registers * WARP,
        u64::from(l.register_allocation_granularity),
    );
    let regs_per_block = regs_per_warp.saturating_mul(warps_per_block);
    let regs_assumed = regs_per_warp.saturating_mul(round_up(warps_per_block, sub_partitions));
    let by_registers = if regs_assumed > registers_per_block
        || regs_per_block > registers_per_block
        || registers > u64::from(l.max_registers_per_thread)
    {
        0
    } else {
        // Per sub-partition, then the whole SM; no registers at all: no register limit.
        match (u64::from(l.registers_per_sm) / sub_partitions).checked_div(regs_per_warp) {
            Some(warps_per_sub_partition) => {
                warps_per_sub_partition * sub_partitions / warps_per_block
            }
            None => u64::MAX,
        }
    };

    // Shared memory (cudaOccMaxBlocksPerSMSmemLimit), at the largest carveout.
    let reserved = u64::from(l.reserved_shared_per_block);
    let smem_per_block = round_up(
        shared + reserved,
        u64::from(l.shared_allocation_granularity),
    );
    let by_shared = if smem_per_block > u64::from(l.shared_per_block_optin) + reserved {
        0
    } else {
        u64::from(l.shared_per_sm) / smem_per_block
    };

    // Blocks, then named barriers (cudaOccMaxBlocksPerSMBlockBarrierLimit).
    let by_blocks = u64::from(l.max_blocks_per_sm);
    let by_barriers = match barriers {
        0 => u64::MAX,
        n => by_blocks * u64::from(l.barriers_per_block_slot) / n,
    };

    let all = [
        (Limiter::Registers, by_registers),
        (Limiter::Warps, by_warps),
        (Limiter::Blocks, by_blocks),
        (Limiter::SharedMemory, by_shared),
        (Limiter::Barriers, by_barriers),
    ];
    let blocks = all.iter().map(|(_, n)| *n).min().unwrap_or(0);
    let warps = blocks * warps_per_block;
    Ok(Occupancy {
        arch: l.arch.to_string(),
        blocks_per_sm: narrow(blocks),
        warps_per_sm: narrow(warps),
        max_warps_per_sm: narrow(max_warps),
        occupancy: warps as f64 / max_warps as f64,
        limited_by: all
            .iter()
            .filter(|(_, n)| *n == blocks)
            .map(|(k, _)| *k)
            .collect(),
        blocks_by_registers: narrow(by_registers),
        blocks_by_warps: narrow(by_warps),
        blocks_by_blocks: narrow(by_blocks),
        blocks_by_shared_memory: narrow(by_shared),
        blocks_by_barriers: narrow(by_barriers),
        allocated_shared_per_block: narrow(smem_per_block),
        allocated_registers_per_block: narrow(regs_per_block),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(registers: u32, threads: u32, shared: u32, barriers: u32) -> KernelResources {
        KernelResources {
            registers_per_thread: registers,
            threads_per_block: threads,
            shared_bytes_per_block: shared,
            barriers,
        }
    }

    fn occ(arch: &str, kernel: KernelResources) -> (u32, u32, Vec<Limiter>) {
        let o = occupancy(arch, &kernel).unwrap();
        (o.blocks_per_sm, o.warps_per_sm, o.limited_by)
    }

    #[test]
    fn full_occupancy_small_kernel() {
        // 32 registers x 256 threads: 8 warps/block, 8 blocks = 64 warps on sm_80.
        let o = occupancy("sm_80", &k(32, 256, 0, 1)).unwrap();
        assert_eq!((o.blocks_per_sm, o.warps_per_sm, o.occupancy), (8, 64, 1.0));
        assert_eq!(o.limited_by, [Limiter::Registers, Limiter::Warps]);
        assert_eq!(
            o.allocated_shared_per_block, 1024,
            "the driver's 1 KiB reserve"
        );
    }

    #[test]
    fn register_bound() {
        // 128 regs: 4096 per warp; 16384 per sub-partition -> 4 warps x 4 = 16 warps/SM.
        assert_eq!(
            occ("sm_90", k(128, 128, 0, 0)),
            (4, 16, vec![Limiter::Registers])
        );
        // 168 regs round to 5376 per warp: 3 warps per sub-partition, 12 per SM.
        assert_eq!(
            occ("sm_80", k(168, 128, 0, 0)),
            (3, 12, vec![Limiter::Registers])
        );
    }

    #[test]
    fn shared_memory_bound_with_reserve_and_granularity() {
        // 48 KiB + 1 KiB reserve = 49 KiB per block: 164/49 = 3 on sm_80, 228/49 = 4 on
        // sm_90, 100/49 = 2 on sm_89.
        assert_eq!(occ("sm_80", k(32, 128, 48 * 1024, 1)).0, 3);
        assert_eq!(occ("sm_90", k(32, 128, 48 * 1024, 1)).0, 4);
        assert_eq!(
            occ("sm_89", k(32, 128, 48 * 1024, 1)),
            (2, 8, vec![Limiter::SharedMemory])
        );
        // 1 byte rounds to 128, plus the reserve: 1152 per block.
        assert_eq!(
            occupancy("sm_80", &k(32, 32, 1, 0))
                .unwrap()
                .allocated_shared_per_block,
            1152
        );
    }

    #[test]
    fn over_the_per_block_maximum_cannot_launch() {
        // 163 KiB fits on sm_80; 164 KiB does not; sm_89 stops at 99 KiB, sm_90 at 227 KiB.
        assert_eq!(occ("sm_80", k(32, 128, 163 * 1024, 0)).0, 1);
        assert_eq!(
            occ("sm_80", k(32, 128, 164 * 1024, 0)),
            (0, 0, vec![Limiter::SharedMemory])
        );
        assert_eq!(occ("sm_89", k(32, 128, 99 * 1024, 0)).0, 1);
        assert_eq!(occ("sm_89", k(32, 128, 100 * 1024, 0)).0, 0);
        assert_eq!(occ("sm_90a", k(32, 128, 227 * 1024, 0)).0, 1);
        assert_eq!(occ("sm_90", k(32, 128, 228 * 1024, 0)).0, 0);
    }

    #[test]
    fn warp_and_block_bounds() {
        // 1024 threads: 2 blocks on sm_80 (64 warps), 1 on sm_89 (48 warps).
        assert_eq!(
            occ("sm_80", k(16, 1024, 0, 0)),
            (2, 64, vec![Limiter::Warps])
        );
        assert_eq!(
            occ("sm_89", k(16, 1024, 0, 0)),
            (1, 32, vec![Limiter::Warps])
        );
        // 32 threads: the block cap binds (32 on sm_80, 24 on sm_89, 16 on sm_86).
        assert_eq!(occ("sm_80", k(16, 32, 0, 0)).0, 32);
        assert_eq!(occ("sm_89", k(16, 32, 0, 0)).0, 24);
        assert_eq!(occ("sm_86", k(16, 32, 0, 0)).0, 16);
        // Over 1024 threads per block never launches.
        assert_eq!(occ("sm_90", k(16, 1056, 0, 0)).0, 0);
    }

    #[test]
    fn hardware_register_check_rounds_warps_to_sub_partitions() {
        // 255 regs -> 8192 per warp; 5 warps round to 8: 65536, fits; 9 warps -> 12 -> no.
        assert_eq!(occ("sm_90", k(255, 160, 0, 0)).0, 1);
        assert_eq!(occ("sm_90", k(255, 288, 0, 0)).0, 0);
    }

    #[test]
    fn named_barriers_bound() {
        // sm_89: 24 barriers per SM; 4 per block -> 6 blocks. sm_80: 64 / 4 = 16.
        assert_eq!(
            occ("sm_89", k(16, 32, 0, 4)),
            (6, 6, vec![Limiter::Barriers])
        );
        assert_eq!(occ("sm_80", k(16, 32, 0, 4)).0, 16);
    }

    #[test]
    fn absurd_inputs_do_not_overflow() {
        assert_eq!(occ("sm_90", k(u32::MAX, u32::MAX, u32::MAX, u32::MAX)).0, 0);
        let o = occupancy("sm_90", &k(0, 32, 0, 0)).unwrap();
        assert_eq!((o.blocks_by_registers, o.blocks_per_sm), (u32::MAX, 32));
    }

    #[test]
    fn unknown_arch_is_an_error() {
        let e = occupancy("sm_75", &k(32, 128, 0, 0)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "no occupancy limits for arch `sm_75` (known: sm_80, sm_86, sm_89, sm_90)"
        );
        assert_eq!(
            occupancy("sm_80", &k(32, 0, 0, 0)).unwrap_err(),
            OccupancyError::ZeroThreads
        );
    }
}
