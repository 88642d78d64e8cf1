// fa_wg_core.cuh -- the body of the sm_90a wgmma attention forward (head dim 64): design,
// layouts and the sources each detail was checked against are in the header of fa_wg.cu.
// Included by fa_wg.cu (the prototype's four entries) and by ../../fa_tc.cu (the shipped
// entry fa_tc_fwd_d64_wgmma).
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

#define FA_WG_SMEM_BYTES 57344       // fa_wg_fwd_d64      (1 warpgroup, block_m 64)
#define FA_WG_M128_SMEM_BYTES 65536  // fa_wg_m128_fwd_d64 (2 warpgroups, block_m 128)
#define FA_WG_OVL_SMEM_BYTES 73728   // fa_wg_ovl_fwd_d64  (1 warpgroup, 4 stages, overlap)
#define FA_WG_M128_OVL_SMEM_BYTES 81920  // fa_wg_m128_ovl_fwd_d64 (2 warpgroups, 4 stages)

#if FA_WG_HAVE_WGMMA
namespace fa_wg {

typedef unsigned int u32;
typedef unsigned long long u64;

constexpr int kD = 64;
constexpr int kBlockN = 64;
constexpr int kTileBytes = 64 * 128;                  // 64 rows x 128 B

// NWG consumer warpgroups per CTA (block_m = 64 * NWG, 128 * NWG threads), NS ring stages.
template <int NWG, int NS>
struct Cfg {
    static constexpr int kBlockM = 64 * NWG;
    static constexpr int kThreads = 128 * NWG;
    static constexpr int kStages = NS;
    static constexpr int kQBytes = NWG * kTileBytes;
    static constexpr int kStageBytes = 2 * kTileBytes;  // K tile, V tile
    static constexpr int kSmemBytes = kQBytes + NS * kStageBytes;
};
static_assert(Cfg<1, 3>::kSmemBytes == FA_WG_SMEM_BYTES, "smem bytes");
static_assert(Cfg<2, 3>::kSmemBytes == FA_WG_M128_SMEM_BYTES, "smem bytes");
static_assert(Cfg<1, 4>::kSmemBytes == FA_WG_OVL_SMEM_BYTES, "smem bytes");
static_assert(Cfg<2, 4>::kSmemBytes == FA_WG_M128_OVL_SMEM_BYTES, "smem bytes");

__device__ __forceinline__ u32 smem_u32(const void* p) {
    return static_cast<u32>(__cvta_generic_to_shared(p));
}
__device__ __forceinline__ u32 swz(int r, int c) {
    return static_cast<u32>(r * 128 + ((c ^ (r & 7)) << 4));
}
__device__ __forceinline__ void cp_async_16(u32 saddr, const void* gptr, int src_bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n"
                 :: "r"(saddr), "l"(gptr), "r"(src_bytes) : "memory");
}
__device__ __forceinline__ void cp_async_commit() {
    asm volatile("cp.async.commit_group;\n" ::: "memory");
}
template <int N>
__device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" :: "n"(N) : "memory");
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

// SM90 GMMA shared-memory descriptor (cute GmmaDescriptor), layout_type 1 = SWIZZLE_128B.
__device__ __forceinline__ u64 make_desc_sw128(u32 saddr, u32 lbo_bytes, u32 sbo_bytes) {
    return static_cast<u64>((saddr & 0x3FFFF) >> 4) |
           (static_cast<u64>((lbo_bytes >> 4) & 0x3FFF) << 16) |
           (static_cast<u64>((sbo_bytes >> 4) & 0x3FFF) << 32) | (1ull << 62);
}

#define FA_WG_D32_OUT                                                                       \
    "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]),     \
        "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]),          \
        "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]),       \
        "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]),       \
        "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]),       \
        "+f"(d[31])
#define FA_WG_D32_STR                                                                       \
    "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, "\
    "%19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}"

// D(64x64,f32) (+)= A(64x16, smem K-major) * B(16x64, smem K-major).  SCALE_D 0: D = A*B.
template <int SCALE_D>
__device__ __forceinline__ void wgmma_ss_m64n64k16(float (&d)[32], u64 desc_a, u64 desc_b) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 " FA_WG_D32_STR
        ", %32, %33, p, 1, 1, 0, 0;\n}\n"
        : FA_WG_D32_OUT
        : "l"(desc_a), "l"(desc_b), "n"(SCALE_D));
}
// D(64x64,f32) += A(64x16, registers) * B(16x64, smem MN-major: imm-trans-b = 1).
__device__ __forceinline__ void wgmma_rs_m64n64k16_tb(float (&d)[32], const u32 (&a)[4],
                                                      u64 desc_b) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 " FA_WG_D32_STR
        ", {%32, %33, %34, %35}, %36, p, 1, 1, 1;\n}\n"
        : FA_WG_D32_OUT
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "n"(1));
}

__device__ __forceinline__ u32 pack_half2(float lo, float hi) {
    __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<u32*>(&h);
}
__device__ __forceinline__ float shfl_xor(float v, int mask) {
    return __shfl_xor_sync(0xffffffffu, v, mask);
}
__device__ __forceinline__ float fast_exp2(float x) {  // ex2(-inf) = +0
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
}

// cp.async a ROWS x 128-B tile (rows row0.. of a [S, 64] head matrix g) into the swizzled
// tile at s_tile, with T threads: thread tid copies chunk c = tid & 7 of rows
// (tid >> 3) + (T / 8) i, so the swizzle term r & 7 is the same for every i.  Rows >= S:
// src-size 0 (zero fill) from the (valid) head base address.
template <int ROWS, int T>
__device__ __forceinline__ void load_tile(u32 s_tile, const __half* g, int row0, int S,
                                          int tid) {
    constexpr int kRowStep = T / 8;
    static_assert(kRowStep % 8 == 0 && ROWS % kRowStep == 0, "tile load must divide evenly");
    const int c = tid & 7;
    const int r0 = tid >> 3;
    const u32 s0 = s_tile + swz(r0, c);
#pragma unroll
    for (int i = 0; i < ROWS / kRowStep; ++i) {
        const int grow = row0 + r0 + kRowStep * i;
        const bool in_range = grow < S;
        const int off = in_range ? grow * kD + c * 8 : 0;
        cp_async_16(s0 + i * kRowStep * 128, g + off, in_range ? 16 : 0);
    }
}

// S = Q K^T for one warpgroup: 4 k-steps of 16 over D = 64 (+32 B on both start addresses).
__device__ __forceinline__ void gemm_qk(float (&s)[32], u64 desc_q, u64 desc_k) {
    wgmma_ss_m64n64k16<0>(s, desc_q + 0, desc_k + 0);
    wgmma_ss_m64n64k16<1>(s, desc_q + 2, desc_k + 2);
    wgmma_ss_m64n64k16<1>(s, desc_q + 4, desc_k + 4);
    wgmma_ss_m64n64k16<1>(s, desc_q + 6, desc_k + 6);
}
// O += P V: 4 key steps of 16 (+2048 B on V's start address each).
__device__ __forceinline__ void gemm_pv(float (&o)[32], const u32 (&pf)[4][4], u64 desc_v) {
    wgmma_rs_m64n64k16_tb(o, pf[0], desc_v + 0 * (2048 >> 4));
    wgmma_rs_m64n64k16_tb(o, pf[1], desc_v + 1 * (2048 >> 4));
    wgmma_rs_m64n64k16_tb(o, pf[2], desc_v + 2 * (2048 >> 4));
    wgmma_rs_m64n64k16_tb(o, pf[3], desc_v + 3 * (2048 >> 4));
}

// Scale, mask and exponentiate one 64x64 score tile in place (s -> unnormalised P, fp32),
// update the running row max / row sum; returns the O rescale factors in alpha.
__device__ __forceinline__ void softmax_tile(float (&s)[32], float (&row_max)[2],
                                             float (&row_sum)[2], float (&alpha)[2],
                                             float scale_log2, int n0, int q_row0,
                                             int w_row0, int S, int causal) {
    const float kNegInf = -INFINITY;
    const int tig = threadIdx.x & 3;
#pragma unroll
    for (int i = 0; i < 32; ++i) s[i] *= scale_log2;
    const bool need_mask = (n0 + kBlockN > S) || (causal && n0 + kBlockN - 1 > w_row0);
    if (need_mask) {
#pragma unroll
        for (int i = 0; i < 32; ++i) {
            const int col = n0 + (i >> 2) * 8 + tig * 2 + (i & 1);
            const int row = q_row0 + ((i >> 1) & 1) * 8;
            if (col >= S || (causal && col > row)) s[i] = kNegInf;
        }
    }
    float mx[2] = {row_max[0], row_max[1]};
#pragma unroll
    for (int j = 0; j < 8; ++j) {
        mx[0] = fmaxf(mx[0], fmaxf(s[4 * j + 0], s[4 * j + 1]));
        mx[1] = fmaxf(mx[1], fmaxf(s[4 * j + 2], s[4 * j + 3]));
    }
    float m_sub[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        mx[r] = fmaxf(mx[r], shfl_xor(mx[r], 1));
        mx[r] = fmaxf(mx[r], shfl_xor(mx[r], 2));
        m_sub[r] = (mx[r] == kNegInf) ? 0.f : mx[r];  // row fully masked so far: no NaN
        alpha[r] = fast_exp2(row_max[r] - m_sub[r]);   // ex2(-inf) = 0 on the first tile
        row_max[r] = mx[r];
    }
    float rs[2] = {0.f, 0.f};
#pragma unroll
    for (int j = 0; j < 8; ++j) {
        s[4 * j + 0] = fast_exp2(s[4 * j + 0] - m_sub[0]);
        s[4 * j + 1] = fast_exp2(s[4 * j + 1] - m_sub[0]);
        s[4 * j + 2] = fast_exp2(s[4 * j + 2] - m_sub[1]);
        s[4 * j + 3] = fast_exp2(s[4 * j + 3] - m_sub[1]);
        rs[0] += s[4 * j + 0] + s[4 * j + 1];
        rs[1] += s[4 * j + 2] + s[4 * j + 3];
    }
    row_sum[0] = row_sum[0] * alpha[0] + rs[0];
    row_sum[1] = row_sum[1] * alpha[1] + rs[1];
}

__device__ __forceinline__ void rescale_and_pack(float (&o)[32], const float (&s)[32],
                                                 const float (&alpha)[2], u32 (&pf)[4][4]) {
#pragma unroll
    for (int j = 0; j < 8; ++j) {
        o[4 * j + 0] *= alpha[0];
        o[4 * j + 1] *= alpha[0];
        o[4 * j + 2] *= alpha[1];
        o[4 * j + 3] *= alpha[1];
    }
    // A fragment of key step kk = accumulator columns 16kk..16kk+15 (see header).
#pragma unroll
    for (int kk = 0; kk < 4; ++kk) {
        pf[kk][0] = pack_half2(s[8 * kk + 0], s[8 * kk + 1]);
        pf[kk][1] = pack_half2(s[8 * kk + 2], s[8 * kk + 3]);
        pf[kk][2] = pack_half2(s[8 * kk + 4], s[8 * kk + 5]);
        pf[kk][3] = pack_half2(s[8 * kk + 6], s[8 * kk + 7]);
    }
}

// NWG warpgroups per CTA, NS ring stages, OVL: issue S(t+1) before the softmax of tile t
// (FA3's intra-warpgroup overlap; needs NS >= 4, see below).
//
// Ring: tile i lives in stage i % NS.  Loads run L tiles ahead (at the top of iteration t,
// tile t+L goes into the stage of tile t+L-NS).  One cp.async group per iteration (possibly
// empty), one __syncthreads at the end of each iteration.
//   !OVL: L = NS-1.  Iteration t reads stage t only (S(t) and PV(t) both waited for inside
//         the iteration), so stage t-1 is free at the top of iteration t; the end-of-
//         iteration wait needs tile t+1: cp.async.wait_group NS-2.
//   OVL:  L = NS-2.  Iteration t issues S(t+1) (stage t+1) before softmax(t), waits for
//         PV(t-1) and S(t+1) after softmax(t), issues PV(t) (stage t) and leaves it in
//         flight across the barrier (it overlaps the softmax of tile t+1).  So at the top of iteration t the stage of tile t-2 is the newest
//         free one (PV(t-2) was waited for in iteration t-1, before its barrier), hence
//         L = NS-2; the end-of-iteration wait needs tile t+2: wait_group NS-4.
template <int NWG, int NS, bool OVL>
__device__ __forceinline__ void fwd(const __half* __restrict__ Q, const __half* __restrict__ K,
                                    const __half* __restrict__ V, __half* __restrict__ O,
                                    int H, int S, float softmax_scale, int causal,
                                    unsigned char* smem_raw) {
    using C = Cfg<NWG, NS>;
    constexpr int T = C::kThreads;
    constexpr int L = OVL ? NS - 2 : NS - 1;
    static_assert(!OVL || NS >= 4, "OVL needs 4 stages");
    static_assert(OVL || NS >= 2, "at least 2 stages");
    const int tid = threadIdx.x;
    const int warp = tid >> 5;  // 0 .. 4*NWG-1; rows 16*warp .. of the CTA's block
    const int wg = warp >> 2;
    const int lane = tid & 31;
    const int gid = lane >> 2;
    const int tig = lane & 3;

    const int mblk = causal ? static_cast<int>(gridDim.x - 1 - blockIdx.x)
                            : static_cast<int>(blockIdx.x);
    const int m0 = mblk * C::kBlockM;
    if (m0 >= S) return;  // uniform per CTA
    const size_t head = (static_cast<size_t>(blockIdx.z) * H + blockIdx.y) * S * kD;
    const __half* Qh = Q + head;
    const __half* Kh = K + head;
    const __half* Vh = V + head;
    __half* Oh = O + head;

    const u32 sQ = smem_u32(smem_raw);
    if (sQ & 1023u) __trap();  // SW128 atoms need 1024-B aligned tiles
    const u32 sStages = sQ + C::kQBytes;

    const int n_end = causal ? min(S, m0 + C::kBlockM) : S;
    const int n_tiles = (n_end + kBlockN - 1) / kBlockN;
    // This warpgroup's rows: [wg_row0, wg_row0 + 64); causal: it needs tiles < wg_tiles only
    // (a warpgroup-uniform prefix of the CTA's tiles).
    const int wg_row0 = m0 + wg * 64;
    const int wg_tiles = causal ? min(n_tiles, (min(S, wg_row0 + 64) + kBlockN - 1) / kBlockN)
                                : n_tiles;
    const int w_row0 = m0 + warp * 16;  // first row of this warp
    const int q_row0 = w_row0 + gid;    // row of s[4j+0..1]; s[4j+2..3]: +8

    // ---- prologue: group {Q, tile 0}, group {tile 1}, ..., group {tile L-1} ----
    load_tile<C::kBlockM, T>(sQ, Qh, m0, S, tid);
#pragma unroll
    for (int ps = 0; ps < L; ++ps) {
        if (ps < n_tiles) {
            load_tile<64, T>(sStages + ps * C::kStageBytes, Kh, ps * kBlockN, S, tid);
            load_tile<64, T>(sStages + ps * C::kStageBytes + kTileBytes, Vh, ps * kBlockN, S,
                             tid);
        }
        cp_async_commit();
    }

    float o[32];
    float s[32];
#pragma unroll
    for (int i = 0; i < 32; ++i) o[i] = s[i] = 0.f;
    float row_max[2] = {-INFINITY, -INFINITY};  // log2 units
    float row_sum[2] = {0.f, 0.f};              // this lane's columns only
    const float scale_log2 = softmax_scale * 1.4426950408889634f;

    // A = this warpgroup's 64 Q rows (K-major SW128): LBO 16 B ("1", unused), SBO 1024 B.
    const u64 desc_q = make_desc_sw128(sQ + wg * kTileBytes, 16, 1024);
    auto stage_of = [&](int i) -> u32 { return sStages + (i % NS) * C::kStageBytes; };
    auto desc_k_of = [&](int i) -> u64 { return make_desc_sw128(stage_of(i), 16, 1024); };
    // V: MN-major SW128: SBO 1024 B (next 8 keys), LBO 8192 B (next 64-wide N atom: unused).
    auto desc_v_of = [&](int i) -> u64 {
        return make_desc_sw128(stage_of(i) + kTileBytes, 8192, 1024);
    };

    if constexpr (!OVL) {
        cp_async_wait<L - 1>();  // Q and tile 0 (this thread's copies)
        fence_proxy_async();     // generic-proxy writes -> visible to the async proxy
        __syncthreads();         // everyone's

        for (int t = 0; t < n_tiles; ++t) {
            if (t + L < n_tiles) {
                const u32 st = stage_of(t + L);
                load_tile<64, T>(st, Kh, (t + L) * kBlockN, S, tid);
                load_tile<64, T>(st + kTileBytes, Vh, (t + L) * kBlockN, S, tid);
            }
            cp_async_commit();  // possibly empty: keeps the wait count exact
            if (t < wg_tiles) {  // warpgroup-uniform
                wg_fence();
                gemm_qk(s, desc_q, desc_k_of(t));
                wg_commit();
                wg_wait<0>();
#pragma unroll
                for (int i = 0; i < 32; ++i) fence_reg(s[i]);
                float alpha[2];
                softmax_tile(s, row_max, row_sum, alpha, scale_log2, t * kBlockN, q_row0,
                             w_row0, S, causal);
                u32 pf[4][4];
                rescale_and_pack(o, s, alpha, pf);
                wg_fence();
                gemm_pv(o, pf, desc_v_of(t));
                wg_commit();
                wg_wait<0>();
#pragma unroll
                for (int i = 0; i < 32; ++i) fence_reg(o[i]);
#pragma unroll
                for (int kk = 0; kk < 4; ++kk) {
#pragma unroll
                    for (int e = 0; e < 4; ++e) fence_reg(pf[kk][e]);
                }
            }
            cp_async_wait<L - 1>();  // tile t+1 landed (this thread's copies)
            fence_proxy_async();
            __syncthreads();  // everyone's; nobody reads stage t any more
        }
    } else {
        float sn[32];
#pragma unroll
        for (int i = 0; i < 32; ++i) sn[i] = 0.f;
        u32 pf[4][4];
#pragma unroll
        for (int kk = 0; kk < 4; ++kk) pf[kk][0] = pf[kk][1] = pf[kk][2] = pf[kk][3] = 0u;

        cp_async_wait<L - 2>();  // Q, tiles 0 and 1 (this thread's copies)
        fence_proxy_async();
        __syncthreads();
        if (wg_tiles > 0) {
            wg_fence();
            gemm_qk(s, desc_q, desc_k_of(0));
            wg_commit();
            wg_wait<0>();
#pragma unroll
            for (int i = 0; i < 32; ++i) fence_reg(s[i]);
        }
        for (int t = 0; t < n_tiles; ++t) {
            if (t + L < n_tiles) {
                const u32 st = stage_of(t + L);
                load_tile<64, T>(st, Kh, (t + L) * kBlockN, S, tid);
                load_tile<64, T>(st + kTileBytes, Vh, (t + L) * kBlockN, S, tid);
            }
            cp_async_commit();
            if (t < wg_tiles) {  // warpgroup-uniform
                const bool has_next = t + 1 < wg_tiles;
                if (has_next) {  // S(t+1) runs on the tensor cores during softmax(t)
                    wg_fence();
                    gemm_qk(sn, desc_q, desc_k_of(t + 1));
                    wg_commit();
                }
                float alpha[2];
                softmax_tile(s, row_max, row_sum, alpha, scale_log2, t * kBlockN, q_row0,
                             w_row0, S, causal);
                // PV(t-1) must be complete before o is rescaled and pf rewritten; S(t+1),
                // issued before the softmax, is complete by now in practice, and waiting
                // for both (wait_group 0) keeps ptxas's pipeline analysis happy (with
                // wait_group 1 here ptxas 13.0 serialises every wgmma: C7514).
                // Note: ptxas 13.0 schedules this wait (WARPGROUP.DEPBAR) right after the
                // row-max shuffles, before most exponentials, whatever the PTX order; so
                // S(t+1) overlaps the scale/mask/max part of softmax(t) only.  (Forcing it
                // later with a never-taken branch made ptxas serialise all wgmmas: C7518.)
#pragma unroll
                for (int i = 0; i < 32; ++i) fence_reg(s[i]);
                wg_wait<0>();
#pragma unroll
                for (int i = 0; i < 32; ++i) {
                    fence_reg(o[i]);
                    fence_reg(sn[i]);
                }
#pragma unroll
                for (int kk = 0; kk < 4; ++kk) {
#pragma unroll
                    for (int e = 0; e < 4; ++e) fence_reg(pf[kk][e]);
                }
                rescale_and_pack(o, s, alpha, pf);
                wg_fence();
                gemm_pv(o, pf, desc_v_of(t));
                wg_commit();
                if (has_next) {  // PV(t) stays in flight across the barrier
#pragma unroll
                    for (int i = 0; i < 32; ++i) s[i] = sn[i];
                }
            } else {
                // Causal, NWG = 2: this warpgroup is past its last tile; retire its last
                // PV before the barrier so that no stage it reads can be reloaded.
                wg_wait<0>();
            }
            cp_async_wait<L - 2>();  // tile t+2 landed (this thread's copies)
            fence_proxy_async();
            __syncthreads();  // everyone's; PV(t-1) done everywhere: stage t-1 is free
        }
        wg_wait<0>();
#pragma unroll
        for (int i = 0; i < 32; ++i) fence_reg(o[i]);
#pragma unroll
        for (int kk = 0; kk < 4; ++kk) {
#pragma unroll
            for (int e = 0; e < 4; ++e) fence_reg(pf[kk][e]);
        }
    }
    cp_async_wait<0>();  // remaining groups are empty

    // ---- epilogue: O = acc / l, staged in this warp's 16 rows of the Q tile ----
    float inv_l[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        float l = row_sum[r];
        l += shfl_xor(l, 1);
        l += shfl_xor(l, 2);
        inv_l[r] = l > 0.f ? 1.f / l : 0.f;
    }
    // Rows [16 warp, 16 warp + 16) of the Q tile are read only by this warp's warpgroup's
    // S wgmmas, all complete (waited for, then a barrier) -- and by no later cp.async.
    unsigned char* sO = smem_raw;
    const int srow = warp * 16 + gid;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
        *reinterpret_cast<u32*>(sO + swz(srow, j) + tig * 4) =
            pack_half2(o[4 * j + 0] * inv_l[0], o[4 * j + 1] * inv_l[0]);
        *reinterpret_cast<u32*>(sO + swz(srow + 8, j) + tig * 4) =
            pack_half2(o[4 * j + 2] * inv_l[1], o[4 * j + 3] * inv_l[1]);
    }
    __syncwarp();
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int idx = lane + i * 32;
        const int r = idx >> 3;
        const int c = idx & 7;
        const int grow = w_row0 + r;
        if (grow < S) {
            *reinterpret_cast<uint4*>(Oh + static_cast<size_t>(grow) * kD + c * 8) =
                *reinterpret_cast<const uint4*>(sO + swz(warp * 16 + r, c));
        }
    }
}

}  // namespace fa_wg
#endif  // FA_WG_HAVE_WGMMA


#if FA_WG_HAVE_WGMMA
#define FA_WG_BODY(NWG_, NS_, OVL_) \
    fa_wg::fwd<NWG_, NS_, OVL_>(Q, K, V, O, H, S, softmax_scale, causal, fa_wg_smem);
#else
#define FA_WG_BODY(NWG_, NS_, OVL_) \
    (void)Q; (void)K; (void)V; (void)O; (void)H; (void)S; (void)softmax_scale; (void)causal; \
    (void)fa_wg_smem; __trap();
#endif

//   FA_WG_ENTRY(name, NWG, NS, OVL, min CTAs per SM for __launch_bounds__)
#define FA_WG_ENTRY(NAME, NWG_, NS_, OVL_, MINB_)                                             \
    extern "C" __global__ void __launch_bounds__(128 * (NWG_), MINB_)                        \
    NAME(const __half* Q, const __half* K, const __half* V, __half* O, int B, int H, int S,  \
         int D, float softmax_scale, int causal) {                                           \
        extern __shared__ __align__(1024) unsigned char fa_wg_smem[];                        \
        (void)B;                                                                             \
        if (D != 64) return;                                                                 \
        FA_WG_BODY(NWG_, NS_, OVL_)                                                          \
    }

