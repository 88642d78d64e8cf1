// fa_wg_core.cuh -- the body of the sm_90a wgmma attention forward (head dims 64 and 128):
// design, layouts and the sources each detail was checked against are in the header of
// fa_wg.cu.  Included by fa_wg.cu (the prototype's entries) and by ../../fa_tc.cu (the
// shipped entries fa_tc_fwd_d64_wgmma, fa_tc_fwd_d128_wgmma).
//
// wgmma exists on sm_90a only.  The device code below is compiled only for sm_90a
// (__CUDA_ARCH_FEAT_SM90_ALL); for any other arch an FA_WG_ENTRY compiles to a stub that
// traps, so one source builds for every arch of a config and a launch rule restricted to
// sm_90a (fa_tc.toml) is the only way the real body runs.
#pragma once
#if !defined(__CUDA_ARCH__) || defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define FA_WG_HAVE_WGMMA 1
#else
#define FA_WG_HAVE_WGMMA 0
#endif

#include <cuda_fp16.h>

#include "../fa_common.cuh"

// Dynamic shared memory of a configuration: Q (64 x D) + NS stages x (K + V tiles of BN x D),
// fp16.  Used by the entries' static_asserts and by the selfcheck's launches.
#define FA_WG_SMEM_BYTES(D, BN, NS) ((64 * (D) + (NS) * 2 * (BN) * (D)) * 2)
// The same with WG row groups (WG Q tiles) and KS key parts (KS K / V tile pairs per stage).
#define FA_WG_SMEM_BYTES_WG(D, BN, NS, WG, KS) \
    ((64 * (WG) * (D) + (NS) * (KS) * 2 * (BN) * (D)) * 2)

// Speed-of-light builds of the prototype harness only (-DFA_WG_SOL=N; their results are
// wrong by design and their checks are skipped): 1 = no K / V loads after the prologue's
// (every later tile reads stale shared memory: the time the loads cost), 2 = no softmax
// (P = the raw scores: the time the softmax costs). The tools never define it.
#ifndef FA_WG_SOL
#define FA_WG_SOL 0
#endif

// Phase marks of the trace build (fa_wg_trace.cu, -DFA_WG_TRACE=1; the tools never define it):
// thread 0 of every warpgroup records %globaltimer and clock64 at mark i of its CTA.
#ifndef FA_WG_TRACE
#define FA_WG_TRACE 0
#endif
#if FA_WG_TRACE
#define FA_WG_TRACE_CTAS 1024
#define FA_WG_TRACE_MARKS 16
__device__ unsigned long long fa_wg_trace_ns[FA_WG_TRACE_CTAS * 4 * FA_WG_TRACE_MARKS];
__device__ long long fa_wg_trace_clk[FA_WG_TRACE_CTAS * 4 * FA_WG_TRACE_MARKS];
__device__ unsigned fa_wg_trace_sm[FA_WG_TRACE_CTAS];
#endif

#if FA_WG_HAVE_WGMMA
namespace fa_wg {

using fa_common::cp_async_16;
using fa_common::cp_async_commit;
using fa_common::cp_async_wait;
using fa_common::cta_first_row;
using fa_common::head_offset;
using fa_common::fast_exp2;
using fa_common::inv_row_sums;
using fa_common::pack_half2;
using fa_common::shfl_xor;
using fa_common::rescale;
using fa_common::smem_u32;
using fa_common::smem_u32_sw128;
using fa_common::softmax_tile;
using fa_common::u32;
typedef unsigned long long u64;

// One consumer warpgroup (128 threads) per 64 query rows; head dim D, BN keys per tile,
// NS cp.async ring stages.
template <int D, int BN, int NS>
struct Cfg {
    static_assert(D == 64 || D == 128, "head dim 64 or 128");
    static_assert(BN == 64 || BN == 128, "64 or 128 keys per tile");
    static_assert(NS >= 2, "at least 2 stages");
    static constexpr int kThreads = 128;
    static constexpr int kBlockM = 64;
    static constexpr int kAtoms = D / 64;           // 128-byte swizzle atoms per row
    static constexpr int kQBytes = 64 * D * 2;
    static constexpr int kKvBytes = BN * D * 2;     // one K or one V tile
    static constexpr int kStageBytes = 2 * kKvBytes;
    static constexpr int kSmemBytes = kQBytes + NS * kStageBytes;
    static constexpr int kS = BN / 2;               // S accumulators per thread (64 x BN f32)
    static constexpr int kO = D / 2;                // O accumulators per thread (64 x D f32)
};
static_assert(Cfg<64, 64, 3>::kSmemBytes == FA_WG_SMEM_BYTES(64, 64, 3), "smem bytes");
static_assert(Cfg<128, 64, 3>::kSmemBytes == FA_WG_SMEM_BYTES(128, 64, 3), "smem bytes");

// Byte offset of 16-byte chunk c (0..7) of row r inside a 128-byte-wide swizzle atom.
__device__ __forceinline__ u32 swz(int r, int c) {
    return static_cast<u32>(r * 128 + ((c ^ (r & 7)) << 4));
}
__device__ __forceinline__ void named_bar_sync(int id, int threads) {
    asm volatile("bar.sync %0, %1;\n" :: "r"(id), "r"(threads) : "memory");
}
// Arrive at named barrier id (of `threads` arrivals in all) without waiting for it.
__device__ __forceinline__ void named_bar_arrive(int id, int threads) {
    asm volatile("bar.arrive %0, %1;\n" :: "r"(id), "r"(threads) : "memory");
}
__device__ __forceinline__ void trace_mark(int i) {
#if FA_WG_TRACE
    if ((threadIdx.x & 127) == 0 && i >= 0 && i < FA_WG_TRACE_MARKS) {
        const unsigned cta = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
        if (cta < FA_WG_TRACE_CTAS) {
            unsigned long long ns;
            asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(ns));
            const size_t at = (static_cast<size_t>(cta) * 4 + (threadIdx.x >> 7)) * FA_WG_TRACE_MARKS + i;
            fa_wg_trace_ns[at] = ns;
            fa_wg_trace_clk[at] = clock64();
            if (i == 0 && threadIdx.x == 0) {
                unsigned sm;
                asm volatile("mov.u32 %0, %%smid;" : "=r"(sm));
                fa_wg_trace_sm[cta] = sm;
            }
        }
    }
#else
    (void)i;
#endif
}
__device__ __forceinline__ void fence_proxy_async() {
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}
__device__ __forceinline__ void wg_fence() {
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void wg_commit() {
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
template <int N>
__device__ __forceinline__ void wg_wait() {
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" :: "n"(N) : "memory");
}
__device__ __forceinline__ void fence_reg(float& r) { asm volatile("" : "+f"(r) :: "memory"); }
__device__ __forceinline__ void fence_reg(u32& r) { asm volatile("" : "+r"(r) :: "memory"); }
template <int N>
__device__ __forceinline__ void fence_regs(float (&r)[N]) {
#pragma unroll
    for (int i = 0; i < N; ++i) fence_reg(r[i]);
}
template <int M>
__device__ __forceinline__ void fence_regs(u32 (&r)[M][4]) {
#pragma unroll
    for (int i = 0; i < M; ++i) {
#pragma unroll
        for (int e = 0; e < 4; ++e) fence_reg(r[i][e]);
    }
}

// SM90 GMMA shared-memory descriptor (cute GmmaDescriptor), layout_type 1 = SWIZZLE_128B.
__device__ __forceinline__ u64 make_desc_sw128(u32 saddr, u32 lbo_bytes, u32 sbo_bytes) {
    return static_cast<u64>((saddr & 0x3FFFF) >> 4) |
           (static_cast<u64>((lbo_bytes >> 4) & 0x3FFF) << 16) |
           (static_cast<u64>((sbo_bytes >> 4) & 0x3FFF) << 32) | (1ull << 62);
}

// The accumulator operands d[0..N) of a wgmma's asm, each with constraint C: "+f" to
// accumulate into them, "=f" where the wgmma overwrites them (scale-d 0).
#define FA_WG_ACC32(C) \
    C(d[0]), C(d[1]), C(d[2]), C(d[3]), C(d[4]), C(d[5]), C(d[6]), C(d[7]), C(d[8]), \
    C(d[9]), C(d[10]), C(d[11]), C(d[12]), C(d[13]), C(d[14]), C(d[15]), C(d[16]), C(d[17]), \
    C(d[18]), C(d[19]), C(d[20]), C(d[21]), C(d[22]), C(d[23]), C(d[24]), C(d[25]), \
    C(d[26]), C(d[27]), C(d[28]), C(d[29]), C(d[30]), C(d[31])
#define FA_WG_ACC32_OUT FA_WG_ACC32("+f")
#define FA_WG_ACC32_STR \
    "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, " \
    "%17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}"
#define FA_WG_ACC64(C) \
    C(d[0]), C(d[1]), C(d[2]), C(d[3]), C(d[4]), C(d[5]), C(d[6]), C(d[7]), C(d[8]), \
    C(d[9]), C(d[10]), C(d[11]), C(d[12]), C(d[13]), C(d[14]), C(d[15]), C(d[16]), C(d[17]), \
    C(d[18]), C(d[19]), C(d[20]), C(d[21]), C(d[22]), C(d[23]), C(d[24]), C(d[25]), \
    C(d[26]), C(d[27]), C(d[28]), C(d[29]), C(d[30]), C(d[31]), C(d[32]), C(d[33]), \
    C(d[34]), C(d[35]), C(d[36]), C(d[37]), C(d[38]), C(d[39]), C(d[40]), C(d[41]), \
    C(d[42]), C(d[43]), C(d[44]), C(d[45]), C(d[46]), C(d[47]), C(d[48]), C(d[49]), \
    C(d[50]), C(d[51]), C(d[52]), C(d[53]), C(d[54]), C(d[55]), C(d[56]), C(d[57]), \
    C(d[58]), C(d[59]), C(d[60]), C(d[61]), C(d[62]), C(d[63])
#define FA_WG_ACC64_OUT FA_WG_ACC64("+f")
#define FA_WG_ACC64_STR \
    "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, " \
    "%17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, " \
    "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, " \
    "%47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, " \
    "%62, %63}"

// D(64xN,f32) (+)= A(64x16, smem K-major) * B(16xN, smem K-major); SCALE_D 0: D = A*B.
template <int SCALE_D>
__device__ __forceinline__ void wgmma_ss(float (&d)[32], u64 desc_a, u64 desc_b) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 " FA_WG_ACC32_STR
        ", %32, %33, p, 1, 1, 0, 0;\n}\n"
        : FA_WG_ACC32_OUT
        : "l"(desc_a), "l"(desc_b), "n"(SCALE_D));
}
template <int SCALE_D>
__device__ __forceinline__ void wgmma_ss(float (&d)[64], u64 desc_a, u64 desc_b) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 " FA_WG_ACC64_STR
        ", %64, %65, p, 1, 1, 0, 0;\n}\n"
        : FA_WG_ACC64_OUT
        : "l"(desc_a), "l"(desc_b), "n"(SCALE_D));
}
// D(64xN,f32) += A(64x16, registers) * B(16xN, smem MN-major: imm-trans-b = 1).
__device__ __forceinline__ void wgmma_rs_tb(float (&d)[32], const u32 (&a)[4], u64 desc_b) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 " FA_WG_ACC32_STR
        ", {%32, %33, %34, %35}, %36, p, 1, 1, 1;\n}\n"
        : FA_WG_ACC32_OUT
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "n"(1));
}
__device__ __forceinline__ void wgmma_rs_tb(float (&d)[64], const u32 (&a)[4], u64 desc_b) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 " FA_WG_ACC64_STR
        ", {%64, %65, %66, %67}, %68, p, 1, 1, 1;\n}\n"
        : FA_WG_ACC64_OUT
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "n"(1));
}

// cp.async an R x D tile (rows row0.. of a [S, D] head matrix g) into the tile at s_tile:
// kAtoms swizzle atoms of R rows x 128 B each, atom a holding columns 64a..64a+63.  The T
// copying threads (tid = 0..T-1; T a multiple of 64) split it: thread tid copies chunk
// c = tid & 7 of rows (tid >> 3) + (T / 8) i of every atom, so the swizzle term r & 7 is the
// same for all its copies.  FULL: all R rows are < S (no predicates, one pointer);
// otherwise rows >= S are zero-filled (src-size 0, from the valid row-0 address).
template <int R, int D, bool FULL, int T = 128>
__device__ __forceinline__ void load_tile(u32 s_tile, const __half* g, int row0, int S,
                                          int tid) {
    constexpr int kAtoms = D / 64;
    constexpr int kStep = T / 8;  // rows per pass
    static_assert(T % 64 == 0 && R % kStep == 0, "tile rows");
    const int c = tid & 7;
    const int r0 = tid >> 3;  // 0..kStep-1
    const u32 s0 = s_tile + swz(r0, c);
    const __half* g0 = g + static_cast<size_t>(row0 + r0) * D + c * 8;
#pragma unroll
    for (int i = 0; i < R / kStep; ++i) {
#pragma unroll
        for (int a = 0; a < kAtoms; ++a) {
            const u32 sa = s0 + a * (R * 128) + i * (kStep * 128);
            const int off = i * kStep * D + a * 64;
            if constexpr (FULL) {
                cp_async_16(sa, g0 + off);
            } else {
                const bool in_range = row0 + r0 + kStep * i < S;
                cp_async_16(sa, in_range ? g0 + off : g, in_range ? 16 : 0);
            }
        }
    }
}
template <int R, int D, int T = 128>
__device__ __forceinline__ void load_rows(u32 s_tile, const __half* g, int row0, int S,
                                          int tid) {
    if (row0 + R <= S) {
        load_tile<R, D, true, T>(s_tile, g, row0, S, tid);
    } else {
        load_tile<R, D, false, T>(s_tile, g, row0, S, tid);
    }
}

// S = Q K^T: D/16 k-steps; k-step kk reads columns 16kk.. of atom kk/4 (+32 B per step
// inside an atom; atoms are 64 x 128 B apart in Q and BN x 128 B apart in K).
template <int D, int BN>
__device__ __forceinline__ void gemm_qk(float (&s)[BN / 2], u64 desc_q, u64 desc_k) {
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
        const u64 dq = desc_q + (((kk / 4) * 64 * 128 + (kk % 4) * 32) >> 4);
        const u64 dk = desc_k + (((kk / 4) * BN * 128 + (kk % 4) * 32) >> 4);
        if (kk == 0) {
            wgmma_ss<0>(s, dq, dk);
        } else {
            wgmma_ss<1>(s, dq, dk);
        }
    }
}
// O += P V: BN/16 key steps of 16 (+2048 B on V's start address each); N = D spans the
// kAtoms atoms of V at the descriptor's LBO.
template <int D, int BN>
__device__ __forceinline__ void gemm_pv(float (&o)[D / 2], const u32 (&pf)[BN / 16][4],
                                        u64 desc_v) {
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk) wgmma_rs_tb(o, pf[kk], desc_v + kk * (2048 >> 4));
}

template <int BN>
__device__ __forceinline__ void pack_p(const float (&s)[BN / 2], u32 (&pf)[BN / 16][4]) {
    // A fragment of key step kk = accumulator columns 16kk..16kk+15 (see fa_wg.cu).
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk) {
        pf[kk][0] = pack_half2(s[8 * kk + 0], s[8 * kk + 1]);
        pf[kk][1] = pack_half2(s[8 * kk + 2], s[8 * kk + 3]);
        pf[kk][2] = pack_half2(s[8 * kk + 4], s[8 * kk + 5]);
        pf[kk][3] = pack_half2(s[8 * kk + 6], s[8 * kk + 7]);
    }
}

// The epilogue of one warp: O = acc / l for its 16 rows (warp wq of a 64-row tile whose
// first global row is w_row0 - 16 wq), staged as fp16 in the warp's rows of the shared tile
// sO (the Q tile's atom layout), then written with 16-byte stores; rows >= S are not
// written.  Each warp writes and then reads only its own 16 rows of sO.  Columns: v holds
// the accumulators of NJ blocks of 8 columns from block j0 (default: all of O;
// fa_wg_parts.cuh stores a part's share of the columns).  QUAD: row_sum holds this lane's
// partial sums (summed over the row's quad here); false: the full row sums.
template <int D, int NJ = D / 8, bool QUAD = true>
__device__ __forceinline__ void store_o(const float (&v)[4 * NJ], const float (&row_sum)[2],
                                        unsigned char* sO, int wq, __half* Oh, int w_row0,
                                        int S, int j0 = 0) {
    static_assert((16 * NJ) % 32 == 0 && NJ <= D / 8, "column blocks");
    const int lane = threadIdx.x & 31;
    const int gid = lane >> 2;
    const int tig = lane & 3;
    float inv_l[2];
    if constexpr (QUAD) {
        inv_row_sums(row_sum, inv_l);
    } else {
        // (MUFU.RCP without IEEE division's slow path: row sums are >= 1 when positive --
        // the row's max term is exp2(0) -- so no denormal or overflow case arises.)
        inv_l[0] = row_sum[0] > 0.f ? __fdividef(1.f, row_sum[0]) : 0.f;
        inv_l[1] = row_sum[1] > 0.f ? __fdividef(1.f, row_sum[1]) : 0.f;
    }
    const int srow = wq * 16 + gid;
#pragma unroll
    for (int jl = 0; jl < NJ; ++jl) {
        const int j = j0 + jl;
        unsigned char* atom = sO + (j / 8) * (64 * 128);
        *reinterpret_cast<u32*>(atom + swz(srow, j % 8) + tig * 4) =
            pack_half2(v[4 * jl + 0] * inv_l[0], v[4 * jl + 1] * inv_l[0]);
        *reinterpret_cast<u32*>(atom + swz(srow + 8, j % 8) + tig * 4) =
            pack_half2(v[4 * jl + 2] * inv_l[1], v[4 * jl + 3] * inv_l[1]);
    }
    __syncwarp();
    trace_mark(14);
#pragma unroll
    for (int i = 0; i < 16 * NJ / 32; ++i) {
        const int idx = lane + i * 32;
        const int r = idx / NJ;
        const int jj = j0 + idx % NJ;  // 16-byte chunk of the row: block jj
        const int a = jj / 8;
        const int ch = jj % 8;
        const int grow = w_row0 + r;
        if (grow < S) {
            *reinterpret_cast<uint4*>(Oh + static_cast<size_t>(grow) * D + a * 64 + ch * 8) =
                *reinterpret_cast<const uint4*>(sO + a * (64 * 128) + swz(wq * 16 + r, ch));
        }
    }
    trace_mark(15);
}

// The softmax of one key tile (scores in s, first key n0): O rescaled where the max moved,
// P packed as the A fragments of the P V wgmmas (FA_WG_SOL 2: P = the raw scores).
template <int D, int BN, bool POS, bool LAZY>
__device__ __forceinline__ void softmax_pack(float (&s)[BN / 2], float (&o)[D / 2],
                                             float (&row_max)[2], float (&row_sum)[2],
                                             u32 (&pf)[BN / 16][4], float scale_log2, int n0,
                                             int q_row0, int w_row0, int S, int causal) {
    if constexpr (FA_WG_SOL != 2) {
        float alpha[2];
        if (softmax_tile<BN, POS, LAZY>(s, row_max, row_sum, alpha, scale_log2, n0, q_row0,
                                        w_row0, S, causal)) {
            rescale<D>(o, alpha);
        }
    }
    pack_p<BN>(s, pf);
}

// A warpgroup's accumulators and online-softmax state before its first key tile (the bodies
// fwd, fwd_ws and fa_wg_tma.cuh's fwd_tma start each row block with it): O and S zero,
// row_max -inf (units of s: raw if POS, else log2-scaled), row_sum 0 (this lane's columns).
template <int D, int BN>
__device__ __forceinline__ void reset_rows(float (&o)[D / 2], float (&s)[BN / 2],
                                           float (&row_max)[2], float (&row_sum)[2]) {
#pragma unroll
    for (int i = 0; i < D / 2; ++i) o[i] = 0.f;
#pragma unroll
    for (int i = 0; i < BN / 2; ++i) s[i] = 0.f;
    row_max[0] = row_max[1] = -INFINITY;
    row_sum[0] = row_sum[1] = 0.f;
}

// One key tile of the plain schedule: S = Q K^T, the softmax, O += P V, each wgmma waited
// for before the next step (the bodies fwd, fwd_ws and fa_wg_tma.cuh's fwd_tma share it).
// kv_tile(): the stage's K tile (BN x D, SW128 atoms), its V tile right behind it; called
// where each wgmma is issued, as the bodies did before they shared this (ptxas schedules
// the shipped entries to the same SASS that way).
template <int D, int BN, bool POS, bool LAZY, class KvTile>
__device__ __forceinline__ void plain_tile(float (&s)[BN / 2], float (&o)[D / 2],
                                           float (&row_max)[2], float (&row_sum)[2],
                                           float scale_log2, u64 desc_q, KvTile kv_tile, int n0,
                                           int q_row0, int w_row0, int S, int causal,
                                           int mark = -1) {
    wg_fence();
    gemm_qk<D, BN>(s, desc_q, make_desc_sw128(kv_tile(), 16, 1024));
    wg_commit();
    wg_wait<0>();
    fence_regs(s);
    if (FA_WG_TRACE && mark >= 0) trace_mark(mark);
    u32 pf[BN / 16][4];
    softmax_pack<D, BN, POS, LAZY>(s, o, row_max, row_sum, pf, scale_log2, n0, q_row0, w_row0,
                                   S, causal);
    if (FA_WG_TRACE && mark >= 0) trace_mark(mark + 1);
    wg_fence();
    // V: MN-major SW128: SBO 1024 B (next 8 keys), LBO BN x 128 B (next 64-wide atom of d).
    gemm_pv<D, BN>(o, pf, make_desc_sw128(kv_tile() + BN * D * 2, BN * 128, 1024));
    wg_commit();
    wg_wait<0>();
    fence_regs(o);
    fence_regs(pf);
    if (FA_WG_TRACE && mark >= 0) trace_mark(mark + 2);
}

// The forward pass of one CTA: 64 WG query rows of one head, 128 WG KS threads.
//   WG row groups: the warpgroups of row group g own rows 64g.. and read its own Q tile;
//   KS key parts: the KS warpgroups of a row group split the key tiles (part p computes
//   tiles p, p + KS, ...) and merge their (O, max, sum) through shared memory at the end,
//   so each runs 1 / KS of the serial chain of a key loop (grids of about one CTA per SM,
//   where nothing else on the SM hides that chain).
// Every warpgroup reads every K / V tile it needs from one shared ring, which all threads
// load together (OWN, key parts only: each part loads its own tiles and meets only its own
// warpgroup at the per-step barrier until the merge).
//
// Ring: iteration ("step") t covers key tiles KS t .. KS t + KS - 1, held in stage t % NS
// (KS K / V tile pairs).  Loads run L = NS-1 steps ahead: at the top of step t, step t+L
// goes into the stage of step t-1, which nobody reads any more (the barrier that ended step
// t-1 came after every S(t-1) and PV(t-1) was waited for).  One cp.async group per step
// (possibly empty), one __syncthreads at the end of each step, after cp.async.wait_group
// NS-2 (step t+1 landed) and the proxy fence.
template <int D, int BN, int NS, bool POS, bool LAZY, bool PIPE, int WG = 1, int KS = 1,
          bool OWN = false>
__device__ __forceinline__ void fwd(const __half* __restrict__ Q, const __half* __restrict__ K,
                                    const __half* __restrict__ V, __half* __restrict__ O,
                                    int H, int S, float softmax_scale, int causal,
                                    unsigned char* smem_raw) {
    using C = Cfg<D, BN, NS>;
    static_assert(WG >= 1 && KS >= 1 && WG * KS <= 4, "at most 4 warpgroups");
    constexpr int kThreads = 128 * WG * KS;
    constexpr int kBlockM = 64 * WG;
    constexpr int kStepBytes = KS * C::kStageBytes;
    constexpr int L = NS - 1;
    const int tid = threadIdx.x;
    const int warp = tid >> 5;
    // (Compile-time 0 / warp for one warpgroup: the compiler cannot know tid < 128.)
    const int wgi = WG * KS == 1 ? 0 : warp >> 2;  // warpgroup
    const int rg = WG == 1 ? 0 : wgi / KS;         // its row group: rows 64 rg.. of the CTA's
    const int kp = KS == 1 ? 0 : wgi % KS;         // its key part
    const int wq = WG * KS == 1 ? warp : warp & 3;  // rows 16 wq.. of the row group's 64
    const int lane = tid & 31;
    const int gid = lane >> 2;

    const int m0 = cta_first_row(causal, kBlockM);  // heaviest causal blocks first
    if (m0 >= S) return;  // uniform per CTA
    const size_t head = head_offset(H, S, D);
    const __half* Qh = Q + head;
    const __half* Kh = K + head;
    const __half* Vh = V + head;
    __half* Oh = O + head;

    const u32 sQ = smem_u32_sw128(smem_raw);
    const u32 sQw = sQ + rg * C::kQBytes;  // this row group's Q tile
    const u32 sStages = sQ + WG * C::kQBytes;

    const int n_end = causal ? min(S, m0 + kBlockM) : S;
    const int n_tiles = (n_end + BN - 1) / BN;
    const int n_steps = (n_tiles + KS - 1) / KS;
    // Causal with 2 row groups: the key tiles row group rg needs (the CTA's later ones are
    // fully masked for its rows); it still loads and meets the barriers of every step.
    const int rg_tiles =
        (WG == 1 || !causal) ? n_tiles : (min(S, m0 + 64 * (rg + 1)) + BN - 1) / BN;
    // Whether this warpgroup computes its tile of loop step t (warpgroup-uniform; always
    // with a single warpgroup).  PIPE computes every step (a conditional wgmma in its
    // pipeline makes ptxas serialise them, C7515).
    auto mine = [&](int t) -> bool { return WG * KS == 1 || KS * t + kp < rg_tiles; };
    const int w_row0 = m0 + rg * 64 + wq * 16;  // first row of this warp
    const int q_row0 = w_row0 + gid;            // row of s[4j+0..1]; s[4j+2..3]: +8

    // The K and V tiles of step t into the stage at st.  A tile past the last one (KS = 2,
    // an odd tile count) is zero-filled: PIPE computes it (every score masked, P = 0).
    auto load_step = [&](u32 st, int t) {
#pragma unroll
        for (int p = 0; p < KS; ++p) {
            const int row0 = (KS * t + p) * BN;
            load_rows<BN, D, kThreads>(st + p * C::kStageBytes, Kh, row0, S, tid);
            load_rows<BN, D, kThreads>(st + p * C::kStageBytes + C::kKvBytes, Vh, row0, S, tid);
        }
    };

    // OWN (key parts, plain schedule): each warpgroup loads only its own tile of a step and
    // meets only its own warpgroup at the per-step barrier (named barrier 1 + kp), so the
    // parts run decoupled until the merge; the ring halves are private to their part.
    static_assert(!OWN || (KS > 1 && WG == 1 && !PIPE), "OWN: key parts, plain schedule");
    auto load_own = [&](u32 st, int t) {
        const int row0 = (KS * t + kp) * BN;
        u32 sp = st + kp * C::kStageBytes;
        load_rows<BN, D>(sp, Kh, row0, S, tid & 127);
        load_rows<BN, D>(sp + C::kKvBytes, Vh, row0, S, tid & 127);
    };
    auto load_any = [&](u32 st, int t) {
        if constexpr (OWN) {
            load_own(st, t);
        } else {
            load_step(st, t);
        }
    };

    trace_mark(0);
    // ---- prologue: group {Q, step 0}, group {step 1}, ..., group {step L-1} ----
    load_rows<64, D, 128 * KS>(sQw, Qh, m0 + 64 * rg, S, WG == 1 ? tid : tid % (128 * KS));
#pragma unroll
    for (int ps = 0; ps < L; ++ps) {
        if (ps < n_steps) load_any(sStages + ps * kStepBytes, ps);
        cp_async_commit();
    }

    float o[C::kO], s[C::kS], row_max[2], row_sum[2];
    reset_rows<D, BN>(o, s, row_max, row_sum);
    const float scale_log2 = softmax_scale * 1.4426950408889634f;

    // A = Q (K-major SW128): LBO 16 B ("1", unused), SBO 1024 B (next 8 rows).
    const u64 desc_q = make_desc_sw128(sQw, 16, 1024);
    // This warpgroup's K / V tile of step t.
    auto tile_of = [&](int t) -> u32 {
        return sStages + (t % NS) * kStepBytes + kp * C::kStageBytes;
    };
    auto desc_k_of = [&](int t) -> u64 { return make_desc_sw128(tile_of(t), 16, 1024); };
    // V: MN-major SW128: SBO 1024 B (next 8 keys), LBO BN x 128 B (next 64-wide atom of d).
    auto desc_v_of = [&](int t) -> u64 {
        return make_desc_sw128(tile_of(t) + C::kKvBytes, BN * 128, 1024);
    };

    if constexpr (!PIPE) {
        cp_async_wait<L - 1>();  // Q and step 0 (this thread's copies)
        fence_proxy_async();     // generic-proxy writes -> visible to the async proxy
        __syncthreads();         // everyone's (Q is shared by every part)
        trace_mark(1);

        for (int t = 0; t < n_steps; ++t) {
            if (FA_WG_SOL != 1 && t + L < n_steps) {
                load_any(sStages + ((t + L) % NS) * kStepBytes, t + L);
            }
            cp_async_commit();  // possibly empty: keeps the wait count exact
            if (mine(t)) {
                plain_tile<D, BN, POS, LAZY>(
                    s, o, row_max, row_sum, scale_log2, desc_q, [&] { return tile_of(t); },
                    (KS * t + kp) * BN, q_row0, w_row0, S, causal, t < 2 ? 2 + 3 * t : -1);
            }
            cp_async_wait<L - 1>();  // step t+1 landed (this thread's copies)
            fence_proxy_async();
            if constexpr (OWN) {
                named_bar_sync(1 + kp, 128);  // the part's; nobody of it reads stage t any more
            } else {
                __syncthreads();  // everyone's; nobody reads stage t any more
            }
            if (t < 2) trace_mark(8 + t);
        }
    } else {
        // PIPE: PV(t) stays in flight across the barrier and S(t+1) is issued right behind
        // it, one wait for both.  Loads go out after the barrier of step t, into the stage
        // of step t-1 (PV(t-1) was waited for by every warp before that barrier), for step
        // t+NS-1; the barrier of step t needs step t+1: wait_group NS-3.
        static_assert(!PIPE || NS >= 3, "PIPE needs 3 stages");
        cp_async_wait<NS - 2>();  // Q and step 0 (this thread's copies)
        fence_proxy_async();
        __syncthreads();
        wg_fence();
        gemm_qk<D, BN>(s, desc_q, desc_k_of(0));
        wg_commit();
        wg_wait<0>();
        fence_regs(s);
        for (int t = 0; t < n_steps; ++t) {
            u32 pf[BN / 16][4];
            softmax_pack<D, BN, POS, LAZY>(s, o, row_max, row_sum, pf, scale_log2,
                                           (KS * t + kp) * BN, q_row0, w_row0, S, causal);
            wg_fence();
            gemm_pv<D, BN>(o, pf, desc_v_of(t));
            wg_commit();
            cp_async_wait<NS - 3>();  // step t+1 landed (this thread's copies)
            fence_proxy_async();
            __syncthreads();  // everyone's; stage t-1 is free
            if (t + NS - 1 < n_steps) {
                load_step(sStages + ((t + NS - 1) % NS) * kStepBytes, t + NS - 1);
            }
            cp_async_commit();  // possibly empty: keeps the wait count exact
            if (t + 1 < n_steps) {
                wg_fence();
                gemm_qk<D, BN>(s, desc_q, desc_k_of(t + 1));
                wg_commit();
            }
            wg_wait<0>();  // PV(t) and S(t+1)
            fence_regs(o);
            fence_regs(s);
            fence_regs(pf);
        }
    }
    cp_async_wait<0>();  // remaining groups are empty

    trace_mark(10);
    if constexpr (KS > 1) {
        // Merge the key parts of each row group: parts 1.. leave (O, max, sum) in the dead
        // ring (every wgmma reading it is complete: each warpgroup waited for its own before
        // this barrier), part 0 rescales its own and each of theirs to the larger max and
        // adds them, one part at a time.
        constexpr int kSlot = (C::kO + 4) * 128;  // floats of one part's record
        static_assert((KS - 1) * WG * kSlot * 4 <= NS * kStepBytes, "merge fits the ring");
        __syncthreads();
        float* red = reinterpret_cast<float*>(smem_raw + WG * C::kQBytes) +
                     rg * (KS - 1) * kSlot;
        const int lt = tid & 127;
        if (kp > 0) {
            float* mine_rec = red + (kp - 1) * kSlot;
#pragma unroll
            for (int i = 0; i < C::kO; ++i) mine_rec[i * 128 + lt] = o[i];
#pragma unroll
            for (int r = 0; r < 2; ++r) {
                mine_rec[(C::kO + r) * 128 + lt] = row_max[r];
                mine_rec[(C::kO + 2 + r) * 128 + lt] = row_sum[r];
            }
        }
        __syncthreads();
        if (kp > 0) return;
        const float c = POS ? scale_log2 : 1.f;  // row_max in the units of s
#pragma unroll
        for (int p = 0; p < KS - 1; ++p) {
            const float* rec = red + p * kSlot;
            float a_own[2], a_other[2];
#pragma unroll
            for (int r = 0; r < 2; ++r) {
                const float m1 = rec[(C::kO + r) * 128 + lt];
                const float l1 = rec[(C::kO + 2 + r) * 128 + lt];
                const float m = fmaxf(row_max[r], m1);
                a_own[r] = row_max[r] == -INFINITY ? 0.f : fast_exp2((row_max[r] - m) * c);
                a_other[r] = m1 == -INFINITY ? 0.f : fast_exp2((m1 - m) * c);
                row_sum[r] = row_sum[r] * a_own[r] + l1 * a_other[r];
                row_max[r] = m;
            }
#pragma unroll
            for (int i = 0; i < C::kO; ++i) {
                const int r = (i >> 1) & 1;
                o[i] = o[i] * a_own[r] + rec[i * 128 + lt] * a_other[r];
            }
        }
        trace_mark(11);
    }


    // ---- epilogue: O = acc / l, staged in the row group's (dead) Q tile, same layout ----
    // Every S wgmma (the only reader of the Q tiles) is complete: waited for, then a barrier.
    store_o<D>(o, row_sum, smem_raw + rg * C::kQBytes, wq, Oh, w_row0, S);
    trace_mark(12);
}


// ---- warp-specialised variant (fwd_ws): PW producer warps, WGS consumer warpgroups ----
//
// CTA = WGS consumer warpgroups (64 query rows each) + PW producer warps, 128 WGS + 32 PW
// threads.  A CTA works through ITEMS items of 64 WGS query rows of one head (block_m =
// 64 WGS ITEMS; item it of CTA x is row block it * gridDim.x + x, heaviest first when
// causal), so the producer loads the next item's Q and first K/V tiles while the consumers
// finish the current one.  The producer alone issues every cp.async (Q tiles, K/V tiles
// into an NS-stage ring that runs on across items); the consumers only wait, compute and
// release.  No __syncthreads after setup; mbarriers:
//   full[s]  (count 32 PW): every producer thread arrives once its copies of the tile in stage s
//            (and of Q, with an item's first tile) have landed (cp.async.wait_group) and it
//            has fenced them into the async proxy (the writer-side fence of the single-role
//            body), then a release-arrive;
//   empty[s] (count 4 WGS): lane 0 of every consumer warp arrives once its warpgroup's
//            wgmmas reading stage s (S = Q K^T and O += P V) have completed (wait_group 0);
//   qempty[b] (count 4 WGS): the same once a warp is done with the Q tiles in buffer b.
// Producer: ring tile g (counted across items) goes into stage g % NS after empty[g % NS]
// completes phase g / NS - 1 (g >= NS); the full arrive of tile g-1 follows the issue of
// tile g, so one tile's copies are in flight behind the one being signalled.  Q is double
// buffered: item it's Q tiles go into buffer it & 1 with its first ring tile, after
// qempty[it & 1] has completed for item it - 2.
// Shared memory: [Q buffer 0 | Q buffer 1 | O staging | ring | barriers], Q buffers and the
// O staging region WGS x 64 x D fp16 each.
template <int D, int NS, int WGS, int ITEMS, int PW>
struct WsCfg {
    static constexpr int kBN = 64;
    static constexpr int kProducers = 32 * PW;
    static constexpr int kThreads = 128 * WGS + kProducers;
    static constexpr int kItemM = 64 * WGS;
    static constexpr int kBlockM = kItemM * ITEMS;
    static constexpr int kQBytes = 64 * D * 2;  // one warpgroup's Q (or O staging) tile
    static constexpr int kKvBytes = kBN * D * 2;
    static constexpr int kStageBytes = 2 * kKvBytes;
    static constexpr int kOOff = 2 * WGS * kQBytes;
    static constexpr int kRingOff = 3 * WGS * kQBytes;
    static constexpr int kBarOff = kRingOff + NS * kStageBytes;
    static constexpr int kSmemBytes = kBarOff + (2 * NS + 2) * 8;
};

__device__ __forceinline__ void mbar_init(u32 bar, u32 count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" :: "r"(bar), "r"(count) : "memory");
}
__device__ __forceinline__ void mbar_arrive(u32 bar) {
    asm volatile("mbarrier.arrive.release.cta.shared::cta.b64 _, [%0];\n" :: "r"(bar) : "memory");
}
__device__ __forceinline__ void mbar_wait(u32 bar, u32 parity) {
    asm volatile(
        "{\n"
        ".reg .pred p;\n"
        "FA_WS_WAIT:\n"
        "mbarrier.try_wait.parity.acquire.cta.shared::cta.b64 p, [%0], %1;\n"
        "@!p bra FA_WS_WAIT;\n"
        "}\n" :: "r"(bar), "r"(parity) : "memory");
}

template <int D, int NS, int WGS, int ITEMS, int PW, bool POS, bool LAZY>
__device__ __forceinline__ void fwd_ws(const __half* __restrict__ Q,
                                       const __half* __restrict__ K,
                                       const __half* __restrict__ V, __half* __restrict__ O,
                                       int H, int S, float softmax_scale, int causal,
                                       unsigned char* smem_raw) {
    using C = WsCfg<D, NS, WGS, ITEMS, PW>;
    constexpr int BN = C::kBN;
    const int tid = threadIdx.x;
    const int warp = tid >> 5;
    const int lane = tid & 31;

    const size_t head = head_offset(H, S, D);
    const __half* Qh = Q + head;
    const __half* Kh = K + head;
    const __half* Vh = V + head;
    __half* Oh = O + head;
    const int n_items_head = (S + C::kItemM - 1) / C::kItemM;  // row blocks of this head
    // Row block of item it (or -1 past the end): strided over the CTAs of the head, the
    // heaviest (last) blocks first when causal.
    auto item_block = [&](int it) -> int {
        const int b = it * static_cast<int>(gridDim.x) + static_cast<int>(blockIdx.x);
        if (b >= n_items_head) return -1;
        return causal ? n_items_head - 1 - b : b;
    };
    auto item_tiles = [&](int mb) -> int {
        const int n_end = causal ? min(S, (mb + 1) * C::kItemM) : S;
        return (n_end + BN - 1) / BN;
    };

    const u32 sBase = smem_u32_sw128(smem_raw);
    const u32 sRing = sBase + C::kRingOff;
    const u32 sFull = sBase + C::kBarOff;
    const u32 sEmpty = sFull + NS * 8;
    const u32 sQEmpty = sEmpty + NS * 8;

    if (tid == 0) {
#pragma unroll
        for (int st = 0; st < NS; ++st) {
            mbar_init(sFull + 8 * st, C::kProducers);
            mbar_init(sEmpty + 8 * st, 4 * WGS);
        }
        mbar_init(sQEmpty, 4 * WGS);
        mbar_init(sQEmpty + 8, 4 * WGS);
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();

    if (warp >= 4 * WGS) {
        // ---- producer warps ----
        const int ptid = tid - 128 * WGS;
        int g = 0;  // ring tiles issued so far (all items)
        for (int it = 0; it < ITEMS; ++it) {
            const int mb = item_block(it);
            if (mb < 0) break;
            const int n_tiles = item_tiles(mb);
            for (int i = 0; i < n_tiles; ++i, ++g) {
                const int st = g % NS;
                if (g >= NS) mbar_wait(sEmpty + 8 * st, static_cast<u32>(g / NS + 1) & 1u);
                if (i == 0) {
                    const int qb = it & 1;
                    if (it >= 2) mbar_wait(sQEmpty + 8 * qb, static_cast<u32>(it / 2 + 1) & 1u);
#pragma unroll
                    for (int w = 0; w < WGS; ++w)
                        load_rows<64, D, C::kProducers>(sBase + (qb * WGS + w) * C::kQBytes, Qh,
                                                        mb * C::kItemM + 64 * w, S, ptid);
                }
                const u32 sst = sRing + st * C::kStageBytes;
                load_rows<BN, D, C::kProducers>(sst, Kh, i * BN, S, ptid);
                load_rows<BN, D, C::kProducers>(sst + C::kKvBytes, Vh, i * BN, S, ptid);
                cp_async_commit();
                if (g > 0) {
                    cp_async_wait<1>();  // ring tile g-1 (with its item's Q) landed
                    fence_proxy_async();
                    mbar_arrive(sFull + 8 * ((g - 1) % NS));
                }
            }
        }
        if (g > 0) {
            cp_async_wait<0>();
            fence_proxy_async();
            mbar_arrive(sFull + 8 * ((g - 1) % NS));
        }
        return;
    }

    // ---- consumer warpgroup wg: rows 64 wg .. 64 wg + 63 of each item ----
    const int wg = warp >> 2;
    const int wq = warp & 3;
    const int gid = lane >> 2;
    const float scale_log2 = softmax_scale * 1.4426950408889634f;
    unsigned char* sO = smem_raw + C::kOOff + wg * C::kQBytes;

    int stage = 0;
    u32 phase = 0;
    for (int it = 0; it < ITEMS; ++it) {
        const int mb = item_block(it);
        if (mb < 0) break;
        const int n_tiles = item_tiles(mb);
        const int wg_row0 = mb * C::kItemM + 64 * wg;
        const int w_row0 = wg_row0 + wq * 16;
        const int q_row0 = w_row0 + gid;
        const int qb = it & 1;
        const u64 desc_q = make_desc_sw128(sBase + (qb * WGS + wg) * C::kQBytes, 16, 1024);

        float o[D / 2], s[BN / 2], row_max[2], row_sum[2];
        reset_rows<D, BN>(o, s, row_max, row_sum);

        for (int t = 0; t < n_tiles; ++t) {
            const u32 st = sRing + stage * C::kStageBytes;
            mbar_wait(sFull + 8 * stage, phase);
            // Warpgroup-uniform: a causal tile whose first key lies past this warpgroup's
            // last row contributes nothing (its stage is still released).
            if (!(causal && t * BN > wg_row0 + 63)) {
                plain_tile<D, BN, POS, LAZY>(s, o, row_max, row_sum, scale_log2, desc_q,
                                             [st] { return st; }, t * BN, q_row0, w_row0, S,
                                             causal);
            }
            __syncwarp();
            if (lane == 0) {
                mbar_arrive(sEmpty + 8 * stage);
                // Every S wgmma of the item done: its Q buffer may be refilled.
                if (t == n_tiles - 1) mbar_arrive(sQEmpty + 8 * qb);
            }
            if (++stage == NS) {
                stage = 0;
                phase ^= 1u;
            }
        }

        // ---- epilogue: O = acc / l, staged in this warpgroup's O tile ----
        store_o<D>(o, row_sum, sO, wq, Oh, w_row0, S);
        __syncwarp();  // the warp's O rows are read back before the next item overwrites them
    }
}

}  // namespace fa_wg
#endif  // FA_WG_HAVE_WGMMA

#if FA_WG_HAVE_WGMMA
#define FA_WG_BODY(D_, BN_, NS_, LAZY_, PIPE_, WG_, KS_, OWN_)                              \
    if (softmax_scale > 0.f) {                                                               \
        fa_wg::fwd<D_, BN_, NS_, true, LAZY_, PIPE_, WG_, KS_, OWN_>(                        \
            Q, K, V, O, H, S, softmax_scale, causal, fa_wg_smem);                            \
    } else {                                                                                 \
        fa_wg::fwd<D_, BN_, NS_, false, LAZY_, PIPE_, WG_, KS_, OWN_>(                       \
            Q, K, V, O, H, S, softmax_scale, causal, fa_wg_smem);                            \
    }
#else
#define FA_WG_BODY(D_, BN_, NS_, LAZY_, PIPE_, WG_, KS_, OWN_) \
    (void)Q; (void)K; (void)V; (void)O; (void)H; (void)S; (void)softmax_scale; (void)causal; \
    (void)fa_wg_smem; __trap();
#endif

//   FA_WG_ENTRY(name, head dim, keys per tile, ring stages, lazy rescale, pipe, min CTAs per
//               SM for __launch_bounds__); 128 threads, FA_WG_SMEM_BYTES(D, BN, NS) bytes.
//   FA_WG_ENTRY_WG(..., row groups WG, key parts KS, min CTAs per SM): 128 WG KS threads,
//               block_m 64 WG, FA_WG_SMEM_BYTES_WG(D, BN, NS, WG, KS) bytes.
//   FA_WG_ENTRY_X(..., row groups WG, key parts KS, own loads and barriers per part, min
//               CTAs per SM).
#define FA_WG_ENTRY_X(NAME, D_, BN_, NS_, LAZY_, PIPE_, WG_, KS_, OWN_, MINB_)               \
    extern "C" __global__ void __launch_bounds__(128 * (WG_) * (KS_), MINB_)                 \
    NAME(const __half* Q, const __half* K, const __half* V, __half* O, int B, int H, int S,  \
         int D, float softmax_scale, int causal) {                                           \
        extern __shared__ __align__(1024) unsigned char fa_wg_smem[];                        \
        (void)B;                                                                             \
        if (D != (D_)) return;                                                               \
        FA_WG_BODY(D_, BN_, NS_, LAZY_, PIPE_, WG_, KS_, OWN_)                               \
    }
#define FA_WG_ENTRY_WG(NAME, D_, BN_, NS_, LAZY_, PIPE_, WG_, KS_, MINB_) \
    FA_WG_ENTRY_X(NAME, D_, BN_, NS_, LAZY_, PIPE_, WG_, KS_, false, MINB_)
#define FA_WG_ENTRY(NAME, D_, BN_, NS_, LAZY_, PIPE_, MINB_) \
    FA_WG_ENTRY_WG(NAME, D_, BN_, NS_, LAZY_, PIPE_, 1, 1, MINB_)

// Warp-specialised entries: FA_WS_ENTRY(name, head dim, ring stages, lazy, consumer
// warpgroups, items per CTA, producer warps (2 or 4), min CTAs per SM); 128 WGS + 32 PW
// threads, block_m 64 WGS ITEMS,
// FA_WS_SMEM_BYTES(D, NS, WGS) bytes of dynamic shared memory.
#define FA_WS_SMEM_BYTES(D, NS, WGS) \
    (3 * (WGS) * 64 * (D) * 2 + (NS) * 2 * 64 * (D) * 2 + (2 * (NS) + 2) * 8)
#if FA_WG_HAVE_WGMMA
#define FA_WS_BODY(D_, NS_, LAZY_, WGS_, ITEMS_, PW_)                                       \
    if (softmax_scale > 0.f) {                                                               \
        fa_wg::fwd_ws<D_, NS_, WGS_, ITEMS_, PW_, true, LAZY_>(Q, K, V, O, H, S,             \
                                                               softmax_scale, causal,        \
                                                               fa_wg_smem);                  \
    } else {                                                                                 \
        fa_wg::fwd_ws<D_, NS_, WGS_, ITEMS_, PW_, false, LAZY_>(Q, K, V, O, H, S,            \
                                                                softmax_scale, causal,       \
                                                                fa_wg_smem);                 \
    }
#else
#define FA_WS_BODY(D_, NS_, LAZY_, WGS_, ITEMS_, PW_) FA_WG_BODY(D_, 64, NS_, LAZY_, false, 1, 1, false)
#endif
#define FA_WS_ENTRY(NAME, D_, NS_, LAZY_, WGS_, ITEMS_, PW_, MINB_)                          \
    extern "C" __global__ void __launch_bounds__(128 * (WGS_) + 32 * (PW_), MINB_)           \
    NAME(const __half* Q, const __half* K, const __half* V, __half* O, int B, int H, int S,  \
         int D, float softmax_scale, int causal) {                                           \
        extern __shared__ __align__(1024) unsigned char fa_wg_smem[];                        \
        (void)B;                                                                             \
        if (D != (D_)) return;                                                               \
        FA_WS_BODY(D_, NS_, LAZY_, WGS_, ITEMS_, PW_)                                        \
    }
