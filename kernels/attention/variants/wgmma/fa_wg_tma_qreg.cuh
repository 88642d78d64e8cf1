// fa_wg_tma_qreg.cuh -- prototype (harness only, not shipped): fa_wg_tma.cuh's body with Q
// held in registers for the whole key loop.  S = Q K^T takes wgmma's register-A form (the
// form P V already uses), so each tile's four Q K^T wgmmas read only K from shared memory
// instead of Q and K: a third less shared-memory reading per tile.  The question it
// answers (NOTES.md, v16): is shared-memory traffic a share of the energy per launch that
// decides canon_6 at the H100's power limit?
// Q's fragments: after Q lands, each warp reads its 16 rows once with ldmatrix.x4 (per
// 16-column k-step: matrices rows 0-7 / 8-15 x columns 0-7 / 8-15 of the step, which are
// the a0..a3 registers of the m64nNk16 A fragment, the layout pack_p gives P).
#pragma once
#include "fa_wg_tma.cuh"
#ifndef FA_WG_QREG_KEEP
#define FA_WG_QREG_KEEP 1
#endif

#if FA_WG_HAVE_WGMMA
namespace fa_wg {

// D(64x64, f32) (+)= A(64x16, registers) * B(16x64, smem K-major); SCALE_D 0: D = A * B.
template <int SCALE_D>
__device__ __forceinline__ void wgmma_rs_kb(float (&d)[32], const u32 (&a)[4], u64 desc_b) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 " FA_WG_ACC32_STR
        ", {%32, %33, %34, %35}, %36, p, 1, 1, 0;\n}\n"
        : FA_WG_ACC32_OUT
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "n"(SCALE_D));
}
template <int SCALE_D>
__device__ __forceinline__ void wgmma_rs_kb(float (&d)[64], const u32 (&a)[4], u64 desc_b) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 " FA_WG_ACC64_STR
        ", {%64, %65, %66, %67}, %68, p, 1, 1, 0;\n}\n"
        : FA_WG_ACC64_OUT
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "n"(SCALE_D));
}

// This warp's A fragments of Q (64 x 64 tile at sQ, one SW128 atom): qf[kk] for k-step kk
// (the first QR of the four).
template <int QR>
__device__ __forceinline__ void load_q_frags(u32 (&qf)[QR][4], u32 sQ, int warp, int lane) {
    const int mat = lane >> 3;
    const int row = warp * 16 + (lane & 7) + 8 * (mat & 1);
#pragma unroll
    for (int kk = 0; kk < QR; ++kk) {
        const u32 addr = sQ + swz(row, 2 * kk + (mat >> 1));
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                     : "=r"(qf[kk][0]), "=r"(qf[kk][1]), "=r"(qf[kk][2]), "=r"(qf[kk][3])
                     : "r"(addr)
                     : "memory");
    }
}

// S = Q K^T: k-steps 0..QR-1 with Q from registers, the others from shared memory.
template <int BN, int QR>
__device__ __forceinline__ void gemm_qk_rs(float (&s)[BN / 2], const u32 (&qf)[QR][4],
                                           u64 desc_q, u64 desc_k) {
    wgmma_rs_kb<0>(s, qf[0], desc_k);
#pragma unroll
    for (int kk = 1; kk < 4; ++kk) {
        if (kk < QR) {
            wgmma_rs_kb<1>(s, qf[kk < QR ? kk : 0], desc_k + ((kk * 32) >> 4));
        } else {
            wgmma_ss<1>(s, desc_q + ((kk * 32) >> 4), desc_k + ((kk * 32) >> 4));
        }
    }
}

template <int BN, int NS, int QR, bool POS, bool LAZY>
__device__ __forceinline__ void fwd_tma_qreg(const __half* __restrict__ Q, const CUtensorMap* tmK,
                                             const CUtensorMap* tmV, __half* __restrict__ O,
                                             int H, int S, float softmax_scale, int causal,
                                             unsigned char* smem_raw) {
    constexpr int D = 64;
    using C = Cfg<D, BN, NS>;
    constexpr int L = NS - 1;
    const int tid = threadIdx.x;
    const int warp = tid >> 5;
    const int lane = tid & 31;
    const int gid = lane >> 2;

    const int mblk = causal ? static_cast<int>(gridDim.x - 1 - blockIdx.x)
                            : static_cast<int>(blockIdx.x);
    const int m0 = mblk * C::kBlockM;
    if (m0 >= S) return;
    const int bh = static_cast<int>(blockIdx.z) * H + static_cast<int>(blockIdx.y);
    const size_t head = static_cast<size_t>(bh) * S * D;
    const __half* Qh = Q + head;
    __half* Oh = O + head;

    const u32 sQ = smem_u32(smem_raw);
    if (sQ & 1023u) __trap();
    const u32 sStages = sQ + C::kQBytes;
    const u32 sBar = sStages + NS * C::kStageBytes;

    const int n_end = causal ? min(S, m0 + C::kBlockM) : S;
    const int n_tiles = (n_end + BN - 1) / BN;
    const int w_row0 = m0 + warp * 16;
    const int q_row0 = w_row0 + gid;

    if (tid == 0) {
#pragma unroll
        for (int st = 0; st < NS; ++st) mbar_init(sBar + 8 * st, 1);
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
        asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<u64>(tmK)) : "memory");
        asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<u64>(tmV)) : "memory");
    }
    load_rows<64, D>(sQ, Qh, m0, S, tid);
    cp_async_commit();
    __syncthreads();

    auto issue = [&](int i) {
        const u32 st = sStages + (i % NS) * C::kStageBytes;
        const u32 bar = sBar + 8 * (i % NS);
        mbar_expect_tx(bar, C::kStageBytes);
#pragma unroll
        for (int r = 0; r < BN / 64; ++r) {
            tma_load_3d(st + r * (64 * 128), tmK, bar, 0, i * BN + 64 * r, bh);
            tma_load_3d(st + C::kKvBytes + r * (64 * 128), tmV, bar, 0, i * BN + 64 * r, bh);
        }
    };
    if (tid == 0) {
        for (int i = 0; i < L && i < n_tiles; ++i) issue(i);
    }

    float o[C::kO], s[C::kS], row_max[2], row_sum[2];
    reset_rows<D, BN>(o, s, row_max, row_sum);
    const float scale_log2 = softmax_scale * 1.4426950408889634f;

    cp_async_wait<0>();
    __syncthreads();  // Q landed (generic proxy: ldmatrix reads it, no proxy fence needed)
    static_assert(QR >= 1 && QR <= 4, "1 to 4 k-steps of Q in registers");
    u32 qf[QR][4];
    load_q_frags<QR>(qf, sQ, warp, lane);
    const u64 desc_q = make_desc_sw128(sQ, 16, 1024);
    const u32 zero = static_cast<u32>(S) >> 31;
    (void)zero;

    for (int t = 0; t < n_tiles; ++t) {
        if (tid == 0 && t + L < n_tiles) issue(t + L);
        mbar_wait_bounded(sBar + 8 * (t % NS), (t / NS) & 1);
        const u32 st = sStages + (t % NS) * C::kStageBytes;
        wg_fence();
        gemm_qk_rs<BN, QR>(s, qf, desc_q, make_desc_sw128(st, 16, 1024));
        wg_commit();
        wg_wait<0>();
        fence_regs(s);
        u32 pf[BN / 16][4];
        softmax_pack<D, BN, POS, LAZY>(s, o, row_max, row_sum, pf, scale_log2, t * BN, q_row0,
                                       w_row0, S, causal);
        wg_fence();
        gemm_pv<D, BN>(o, pf, make_desc_sw128(st + C::kKvBytes, BN * 128, 1024));
        wg_commit();
        wg_wait<0>();
        fence_regs(o);
        fence_regs(pf);
#if FA_WG_QREG_KEEP
        // Q stays live into the next tile: ptxas (13.0) otherwise reuses Q's registers for P
        // after the first Q K^T (a loop-invariant register-A operand); an XOR with a zero it
        // cannot see through (S >> 31, S >= 0) redefines them every tile.
#pragma unroll
        for (int kk = 0; kk < QR; ++kk) {
#pragma unroll
            for (int e = 0; e < 4; ++e)
                asm volatile("xor.b32 %0, %0, %1;\n" : "+r"(qf[kk][e]) : "r"(zero));
        }
#endif
        __syncthreads();  // nobody reads stage t any more
    }
    store_o<D>(o, row_sum, smem_raw, warp, Oh, w_row0, S);
}

}  // namespace fa_wg
#endif  // FA_WG_HAVE_WGMMA

//   FA_WG_TMA_QREG_ENTRY(name, keys per tile, stages, k-steps of Q in registers, lazy, min
//   CTAs per SM): D = 64, the
//   arguments and launch of FA_WG_TMA_ENTRY.
#if FA_WG_HAVE_WGMMA
#define FA_WG_TMA_QREG_BODY(BN_, NS_, QR_, LAZY_)                                            \
    if (softmax_scale > 0.f) {                                                               \
        fa_wg::fwd_tma_qreg<BN_, NS_, QR_, true, LAZY_>(Q, &tmK, &tmV, O, H, S, softmax_scale,    \
                                                   causal, fa_wg_smem);                      \
    } else {                                                                                 \
        fa_wg::fwd_tma_qreg<BN_, NS_, QR_, false, LAZY_>(Q, &tmK, &tmV, O, H, S, softmax_scale,   \
                                                    causal, fa_wg_smem);                     \
    }
#else
#define FA_WG_TMA_QREG_BODY(BN_, NS_, QR_, LAZY_) \
    (void)Q; (void)O; (void)H; (void)S; (void)softmax_scale; (void)causal; __trap();
#endif
#define FA_WG_TMA_QREG_ENTRY(NAME, BN_, NS_, QR_, LAZY_, MINB_)                                   \
    extern "C" __global__ void __launch_bounds__(128, MINB_)                                 \
    NAME(const __half* Q, const __grid_constant__ CUtensorMap tmK,                           \
         const __grid_constant__ CUtensorMap tmV, __half* O, int B, int H, int S, int D,     \
         float softmax_scale, int causal) {                                                  \
        extern __shared__ __align__(1024) unsigned char fa_wg_smem[];                        \
        (void)B;                                                                             \
        if (D != 64) return;                                                                 \
        FA_WG_TMA_QREG_BODY(BN_, NS_, QR_, LAZY_)                                               \
    }
