// common.cuh: the correct, simple attention kernel that every negative control is built from.
//
// Each control is this kernel with ONE planted bug. The kernel body below calls a handful of
// small "policy" hooks (struct Correct); a control derives from Correct, redefines exactly one
// hook with the wrong line (marked `// PLANTED BUG:`), and instantiates the kernel with it:
//
//     struct DropsKey : st::Correct {
//         __device__ static int key_end(int S) { return S - 1; }  // PLANTED BUG: ...
//     };
//     ST_ATTENTION_ENTRY(drops_key_fwd, DropsKey)
//
// The correct kernel (ABI attention_fwd_v1, any S, D in {32, 64, 96, 128}):
//   * CTA = 16 query rows of one (b, h); 128 threads = 4 warps; warp w owns rows w, w+4, w+8, w+12;
//   * the Q tile and 32-key K/V tiles are staged in static shared memory as fp32;
//   * online softmax per row (fp32 running max and sum, max subtracted before exp);
//   * score phase: lane L computes the dot product for key kv0 + L;
//     PV phase: lane L owns output columns L, L+32, ... and takes p_j from lane j by shuffle;
//   * the output row is written once, by its owning lanes, at the end.
// Manifests of all controls: block_m = 16, threads = 128, no dynamic shared memory.
#pragma once
#include <cuda_fp16.h>
#include <math.h>

namespace st {

constexpr int kBlockM = 16;    // query rows per CTA (manifest block_m)
constexpr int kThreads = 128;  // manifest threads
constexpr int kWarps = kThreads / 32;
constexpr int kRowsPerWarp = kBlockM / kWarps;  // 4
constexpr int kBlockN = 32;    // keys per K/V tile: one per lane
constexpr int kMaxD = 128;
constexpr int kCols = kMaxD / 32;  // output columns per lane, at most
constexpr unsigned kFullMask = 0xffffffffu;

// The hooks. Every one is the correct behaviour; a control redefines exactly one of them.
struct Correct {
    // Rows i < row_end(S) are computed and written.
    __device__ static int row_end(int S) { return S; }
    // Keys j < key_end(S) exist.
    __device__ static int key_end(int S) { return S; }
    // Causal mask: key j is visible to query row i.
    __device__ static bool visible(int i, int j) { return j <= i; }
    // The scale applied to q.k.
    __device__ static float scale(float softmax_scale, int D) { return softmax_scale; }
    // New running max, given the old one and the max of this tile's scores.
    __device__ static float running_max(float m_old, float tile_max) { return fmaxf(m_old, tile_max); }
    // Between storing a K/V tile into shared memory and reading it from other warps.
    __device__ static void sync_tile_stored() { __syncthreads(); }
    // Called by every thread once the CTA's Q rows are in shared memory (q_tile = first element).
    __device__ static void q_tile_read(const __half* Q, size_t q_tile) {}
    // Store output element idx (flat index into O; total = B*H*S*D elements).
    __device__ static void store(__half* O, size_t idx, size_t total, int D, float v) {
        O[idx] = __float2half_rn(v);
    }
    // Called by every thread after all its output stores.
    __device__ static void epilogue() {}
};

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

template <class P>
__device__ __forceinline__ void attention(const __half* Q, const __half* K, const __half* V, __half* O,
                                          int B, int H, int S, int D, float softmax_scale, int causal) {
    __shared__ float q_s[kBlockM][kMaxD];       // broadcast reads: no padding needed
    __shared__ float k_s[kBlockN][kMaxD + 1];   // lane L reads row L: +1 float -> distinct banks
    __shared__ float v_s[kBlockN][kMaxD];       // lanes read consecutive columns of one row

    if (D < 32 || D > kMaxD || D % 32 != 0) return;  // unsupported head dim (see manifest)

    const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
    const int q0 = blockIdx.x * kBlockM;
    const size_t slice = ((size_t)blockIdx.z * H + blockIdx.y) * (size_t)S * D;
    const size_t total = (size_t)B * H * S * D;
    const int ncols = D / 32;
    const int row_end = P::row_end(S);
    const int key_end = P::key_end(S);
    const float scale = P::scale(softmax_scale, D);

    for (int e = tid; e < kBlockM * D; e += kThreads) {
        const int r = e / D, d = e % D;
        q_s[r][d] = q0 + r < S ? __half2float(Q[slice + (size_t)(q0 + r) * D + d]) : 0.f;
    }
    __syncthreads();
    P::q_tile_read(Q, slice + (size_t)q0 * D);

    float m[kRowsPerWarp], l[kRowsPerWarp], acc[kRowsPerWarp][kCols];
#pragma unroll
    for (int rr = 0; rr < kRowsPerWarp; ++rr) {
        m[rr] = -INFINITY;
        l[rr] = 0.f;
#pragma unroll
        for (int c = 0; c < kCols; ++c) acc[rr][c] = 0.f;
    }

    const int kv_end = causal ? min(key_end, q0 + kBlockM) : key_end;
    for (int kv0 = 0; kv0 < kv_end; kv0 += kBlockN) {
        for (int e = tid; e < kBlockN * D; e += kThreads) {
            const int jj = e / D, d = e % D, j = kv0 + jj;
            k_s[jj][d] = j < key_end ? __half2float(K[slice + (size_t)j * D + d]) : 0.f;
            v_s[jj][d] = j < key_end ? __half2float(V[slice + (size_t)j * D + d]) : 0.f;
        }
        P::sync_tile_stored();

        const int j = kv0 + lane;  // the key this lane scores
#pragma unroll
        for (int rr = 0; rr < kRowsPerWarp; ++rr) {
            const int r = rr * kWarps + warp, i = q0 + r;  // warp-uniform
            if (i >= row_end) continue;
            float s = -INFINITY;
            if (j < key_end && (!causal || P::visible(i, j))) {
                float dot = 0.f;
                for (int d = 0; d < D; ++d) dot += q_s[r][d] * k_s[lane][d];
                s = dot * scale;
            }
            const float m_new = P::running_max(m[rr], warp_max(s));
            if (m_new == -INFINITY) continue;  // no visible key for this row yet
            const float alpha = expf(m[rr] - m_new);
            const float p = expf(s - m_new);
            l[rr] = l[rr] * alpha + warp_sum(p);
#pragma unroll
            for (int c = 0; c < kCols; ++c) acc[rr][c] *= alpha;
            for (int jj = 0; jj < kBlockN; ++jj) {
                const float pj = __shfl_sync(kFullMask, p, jj);
#pragma unroll
                for (int c = 0; c < kCols; ++c)
                    if (c < ncols) acc[rr][c] += pj * v_s[jj][lane + 32 * c];
            }
            m[rr] = m_new;
        }
        __syncthreads();  // all warps done with k_s/v_s before the next tile overwrites them
    }

#pragma unroll
    for (int rr = 0; rr < kRowsPerWarp; ++rr) {
        const int i = q0 + rr * kWarps + warp;
        if (i >= row_end) continue;
#pragma unroll
        for (int c = 0; c < kCols; ++c)
            if (c < ncols) P::store(O, slice + (size_t)i * D + lane + 32 * c, total, D, acc[rr][c] / l[rr]);
    }
    P::epilogue();
}

}  // namespace st

// Defines the extern "C" ABI entry NAME running st::attention with policy POLICY.
#define ST_ATTENTION_ENTRY(NAME, POLICY)                                                      \
    extern "C" __global__ void __launch_bounds__(st::kThreads)                                \
    NAME(const __half* Q, const __half* K, const __half* V, __half* O, int B, int H, int S,   \
         int D, float softmax_scale, int causal) {                                            \
        st::attention<POLICY>(Q, K, V, O, B, H, S, D, softmax_scale, causal);                  \
    }
