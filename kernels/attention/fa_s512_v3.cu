// fa_s512_v3: scalar FlashAttention forward (no tensor cores), ABI attention_fwd_v1.
//
// One CTA = 64 query rows of one (b, h); 128 threads = 4 warps; warp w owns rows w, w+4, ..., w+60
// (interleaved, so causal work is balanced across warps). Keys are streamed in tiles of 32 through
// shared memory and folded into each row with the online softmax:
//
//   m' = max(m, max_j s_j)          running max (fp32), starts at -inf
//   l' = l * 2^(m - m') + sum_j p_j  running normaliser (fp32), p_j = 2^(s_j - m')
//   o' = o * 2^(m - m') + sum_j p_j V_j
//
// Scores live in the log2 domain (s = log2(e) * scale * q.k) so that exp2f can be used.
//
// Work split inside a warp, for one query row and one 32-key tile:
//   * score phase: lane L computes the full fp32 dot product q . k_L for key kv0 + L;
//   * PV phase:    lane L owns output columns L, L+32, ... (D/32 of them) and accumulates
//                  p_j * V[j][col] for all 32 keys, taking p_j from lane j by shuffle.
// No two lanes ever touch the same accumulator; each output element is written once, by its
// owning lane, at the end. No atomics; summation order is fixed, so results are deterministic.
//
// Shared memory (dynamic, sized per D; see the manifest):
//   q_s [64][D]      fp16   read as a broadcast (all lanes read the same address)
//   k_s [32][D + 2]  fp16   lane L reads row L: the +2 halves make the row stride an odd number
//                           of 32-bit words (D/2 + 1), so the 32 lanes hit 32 different banks
//   v_s [32][D + 2]  fp16   lanes read consecutive columns of one row: conflict-free; padded
//                           like k_s
//   D = 64: 16640 bytes, D = 128: 33024 bytes (both under the 48 KiB default limit).
//
// Bounds: every global load is guarded by j < S / i < S (rows and keys past S read as zero and are
// masked), every store by i < S. Any S >= 1 works (no tile multiple needed).
//
// Debug build (-DFA_CHECK_NORMALISER): each online-softmax step checks on the device that the
// running max never decreases (and is a real number once the row has seen a key); a violation
// prints the location and traps.

#include <cuda_fp16.h>
#include <math.h>
#ifdef FA_CHECK_NORMALISER
#include <cstdio>
#endif

namespace fa {

constexpr int kBlockM = 64;                    // query rows per CTA (manifest block_m)
constexpr int kThreads = 128;                  // manifest threads
constexpr int kWarps = kThreads / 32;
constexpr int kRowsPerWarp = kBlockM / kWarps;  // 16
constexpr int kBlockN = 32;                    // keys per K/V tile: one key per lane
constexpr int kPad = 2;                        // fp16 padding per K/V row (bank conflicts)
constexpr unsigned kFullMask = 0xffffffffu;
constexpr float kLog2e = 1.4426950408889634f;

// Dynamic shared memory in bytes for head dim D; must match [dynamic_shared_bytes] in the manifest.
template <int D>
constexpr int smem_bytes() {
    return (kBlockM * D + 2 * kBlockN * (D + kPad)) * (int)sizeof(__half);
}
static_assert(smem_bytes<64>() == 16640, "update fa_s512_v3.toml [dynamic_shared_bytes] \"64\"");
static_assert(smem_bytes<128>() == 33024, "update fa_s512_v3.toml [dynamic_shared_bytes] \"128\"");

__device__ __forceinline__ float warp_max(float x) {
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) x = fmaxf(x, __shfl_xor_sync(kFullMask, x, off));
    return x;
}

__device__ __forceinline__ float warp_sum(float x) {
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) x += __shfl_xor_sync(kFullMask, x, off);
    return x;
}

template <int D>
__device__ __forceinline__ void forward(const __half* __restrict__ Q, const __half* __restrict__ K,
                                        const __half* __restrict__ V, __half* __restrict__ O,
                                        int H, int S, float scale_log2, int causal,
                                        unsigned char* smem) {
    static_assert(D % 32 == 0, "lanes own D/32 output columns each");
    constexpr int kCols = D / 32;    // output columns per lane
    constexpr int kStride = D + kPad;  // halves per K/V row in shared memory

    __half* q_s = reinterpret_cast<__half*>(smem);
    __half* k_s = q_s + kBlockM * D;
    __half* v_s = k_s + kBlockN * kStride;

    const int tid = threadIdx.x;
    const int lane = tid % 32;
    const int warp = tid / 32;
    const int q0 = blockIdx.x * kBlockM;
    const size_t slice = ((size_t)blockIdx.z * H + blockIdx.y) * (size_t)S * D;
    Q += slice;
    K += slice;
    V += slice;
    O += slice;

    // Q tile -> shared (rows past S are zero and never used). Published by the first
    // __syncthreads() of the key loop below.
    for (int e = tid; e < kBlockM * D; e += kThreads) {
        const int r = e / D, d = e % D;
        q_s[e] = q0 + r < S ? Q[(size_t)(q0 + r) * D + d] : __float2half(0.f);
    }

    // Per-row online-softmax state. m is identical in all lanes of the warp; l is this lane's
    // share of the normaliser (its own keys' p), summed across the warp at the end.
    float m[kRowsPerWarp], l[kRowsPerWarp], acc[kRowsPerWarp][kCols];
#pragma unroll
    for (int rr = 0; rr < kRowsPerWarp; ++rr) {
        m[rr] = -INFINITY;
        l[rr] = 0.f;
#pragma unroll
        for (int c = 0; c < kCols; ++c) acc[rr][c] = 0.f;
    }

    // Causal: no row of this CTA sees a key at or past q0 + 64.
    const int kv_end = causal ? min(S, q0 + kBlockM) : S;
    for (int kv0 = 0; kv0 < kv_end; kv0 += kBlockN) {
        // K/V tile -> shared (keys past S are zero; they are masked below).
        for (int e = tid; e < kBlockN * D; e += kThreads) {
            const int jj = e / D, d = e % D, j = kv0 + jj;
            const __half zero = __float2half(0.f);
            k_s[jj * kStride + d] = j < S ? K[(size_t)j * D + d] : zero;
            v_s[jj * kStride + d] = j < S ? V[(size_t)j * D + d] : zero;
        }
        __syncthreads();  // tile (and, first time round, q_s) visible to all warps

        const int j = kv0 + lane;  // the key this lane scores
#pragma unroll
        for (int rr = 0; rr < kRowsPerWarp; ++rr) {
            const int r = rr * kWarps + warp;  // row within the CTA tile
            const int i = q0 + r;              // query row (warp-uniform)
            // Row past S, or (causal) every key of this tile is after the row: nothing to do.
            // Otherwise key kv0 is visible, so the tile max below is finite.
            if (i >= S || (causal && kv0 > i)) continue;

            // Score phase: lane computes s_j for its key, -inf if masked or past S.
            float s = -INFINITY;
            if (j < S && (!causal || j <= i)) {
                const __half2* qr = reinterpret_cast<const __half2*>(q_s + r * D);
                const __half2* kr = reinterpret_cast<const __half2*>(k_s + lane * kStride);
                float dot0 = 0.f, dot1 = 0.f;  // two chains: shorter dependency latency
#pragma unroll 8
                for (int d2 = 0; d2 < D / 2; ++d2) {
                    const float2 a = __half22float2(qr[d2]);
                    const float2 b = __half22float2(kr[d2]);
                    dot0 = fmaf(a.x, b.x, dot0);
                    dot1 = fmaf(a.y, b.y, dot1);
                }
                s = (dot0 + dot1) * scale_log2;
            }

            // Online softmax update.
            const float m_new = fmaxf(m[rr], warp_max(s));
#ifdef FA_CHECK_NORMALISER
            // The running max must never decrease, and must be a real number now that the row
            // has seen at least one key (kv0 <= i). !(a >= b) is also true for NaN.
            if (!(m_new >= m[rr]) || !(m_new > -INFINITY)) {
                if (lane == 0)
                    printf("fa_s512_v3 FA_CHECK_NORMALISER: running max went %g -> %g "
                           "(b=%d h=%d row=%d kv0=%d)\n",
                           m[rr], m_new, (int)blockIdx.z, (int)blockIdx.y, i, kv0);
                __trap();
            }
#endif
            const float alpha = exp2f(m[rr] - m_new);  // rescales the old state; 0 on first key
            const float p = exp2f(s - m_new);          // 0 for masked keys
            l[rr] = l[rr] * alpha + p;
#pragma unroll
            for (int c = 0; c < kCols; ++c) acc[rr][c] *= alpha;

            // PV phase: lane owns columns lane + 32c; p_j comes from lane j.
#pragma unroll 4
            for (int jj = 0; jj < kBlockN; ++jj) {
                const float pj = __shfl_sync(kFullMask, p, jj);
                const __half* vr = v_s + jj * kStride + lane;
#pragma unroll
                for (int c = 0; c < kCols; ++c)
                    acc[rr][c] = fmaf(pj, __half2float(vr[32 * c]), acc[rr][c]);
            }
            m[rr] = m_new;
        }
        __syncthreads();  // all warps done with k_s/v_s before the next tile overwrites them
    }

    // Epilogue: O = acc / l. Every row i < S has seen key 0, so l >= 1 (the arg-max key has p = 1).
#pragma unroll
    for (int rr = 0; rr < kRowsPerWarp; ++rr) {
        const int i = q0 + rr * kWarps + warp;
        if (i >= S) continue;
        const float inv = 1.f / warp_sum(l[rr]);
#pragma unroll
        for (int c = 0; c < kCols; ++c)
            O[(size_t)i * D + lane + 32 * c] = __float2half_rn(acc[rr][c] * inv);
    }
}

}  // namespace fa

extern "C" __global__ void __launch_bounds__(fa::kThreads)
fa_s512_v3_fwd(const __half* Q, const __half* K, const __half* V, __half* O,
               int B, int H, int S, int D, float softmax_scale, int causal) {
    extern __shared__ __align__(16) unsigned char fa_smem[];
    (void)B;  // the grid's z dimension is B
    const float scale_log2 = softmax_scale * fa::kLog2e;  // e^x = 2^(x log2 e)
    if (D == 64)
        fa::forward<64>(Q, K, V, O, H, S, scale_log2, causal, fa_smem);
    else if (D == 128)
        fa::forward<128>(Q, K, V, O, H, S, scale_log2, causal, fa_smem);
    // Any other D is unsupported (manifest head_dims): nothing is read or written.
}
