// fa_tc_v1.cu -- FlashAttention-2 style attention forward on tensor cores (mma.sync, sm_80+).
//
// This is fa_tc v1, the first shipped version, kept as a variant (manifest fa_tc_v1.toml,
// entry fa_tc_v1_fwd).  The shipped ../fa_tc.cu is now v5 (variants/fa_tc_core.cuh with
// per-D stage counts; see ../NOTES.md).  This header still documents the algorithm,
// fragment layouts, swizzle and masking shared by every fa_tc variant.
//
// ABI attention_fwd_v1 (see kernels/README.md):
//   extern "C" __global__ void fa_tc_v1_fwd(const __half* Q, const __half* K, const __half* V,
//                                        __half* O, int B, int H, int S, int D,
//                                        float softmax_scale, int causal);
//   Q, K, V, O: [B, H, S, D] contiguous row-major fp16.
//   grid (ceil(S / 64), H, B), block (128, 1, 1),
//   dynamic shared memory: 40960 bytes at D = 64, 81920 bytes at D = 128 (fa_tc_v1.toml).
//   causal != 0 masks key j > query i (top-left aligned).
//
// ------------------------------------------------------------------------------------------
// Algorithm (FlashAttention-2 forward, one CTA per (64-query block, head, batch))
// ------------------------------------------------------------------------------------------
//   for each 64-row key/value tile j (only tiles not fully masked, see "Causal"):
//     S    = Q_blk K_j^T                      (tensor cores, fp32 accumulators)
//     S   *= softmax_scale * log2(e)          (scores now in the log2 domain)
//     mask S (-inf) on the diagonal tile (causal) and on the tail tile (key >= S)
//     m'   = max(m, rowmax(S));  alpha = exp2(m - m');  P = exp2(S - m')
//     l    = alpha * l + rowsum(P);  O_acc = alpha * O_acc + P V_j   (tensor cores)
//   O = O_acc / l, written once as fp16.
//
// Tiling.  block_m = 64 query rows per CTA, 4 warps (128 threads); warp w owns query rows
// [16w, 16w + 16) of the block, so all softmax state of a row lives inside one warp (in the
// 4 lanes of one quad) and warps never exchange data.  block_n = 64 keys per tile.
// Head dim D is a template parameter (64 or 128); the single entry dispatches on D.
//
// Tensor-core fragments (PTX ISA, "Matrix Fragments for mma.m16n8k16 with floating point
// type"; gid = lane / 4, tig = lane % 4):
//   A (16x16, row)  : reg0 = A[gid][2tig..+1], reg1 = A[gid+8][2tig..+1],
//                     reg2 = A[gid][2tig+8..+9], reg3 = A[gid+8][2tig+8..+9]
//   B (16x8,  col)  : reg0 = B[2tig..+1][gid], reg1 = B[2tig+8..+9][gid]
//   C/D (16x8, f32) : c0,c1 = C[gid][2tig..+1], c2,c3 = C[gid+8][2tig..+1]
//   (lower 16 bits of a packed register hold the lower-indexed element.)
// ldmatrix.x4 loads four 8x8 b16 matrices; lane 8*i + r supplies the address of row r of
// matrix i, and lane t receives, for matrix i, row t/4, columns 2(t%4), 2(t%4)+1 (with
// .trans: rows 2(t%4), 2(t%4)+1 of column t/4, i.e. the transposed matrix).
//   * Q (A operand of S = Q K^T): rows of Q in smem are A rows, so plain ldmatrix.x4 with
//     lane l -> (row 16w + l%16, cols 8*(l/16)..) gives reg0..reg3 in A order.  Loaded ONCE
//     into registers (qf[D/16][4]) and kept for the whole key loop.
//   * K (B operand of S = Q K^T, B[k][n] = K[n][k]): a K row is a B column, so plain ldmatrix
//     gives the "col" B layout.  One x4 covers two 8-key n-tiles x 16 d:
//     lane l -> (key 8*(l/16) + l%8, d chunk (l/8)%2); regs {0,1} = n-tile 2p, {2,3} = 2p+1.
//   * P (A operand of O += P V): the fp32 C fragments of S for n-tiles 2k, 2k+1 are exactly
//     the A fragment of k-step k (keys 16k..16k+15) after packing to fp16 -- no shuffles.
//   * V (B operand, B[k][n] = V[key][d], V row-major = B row-major): ldmatrix .trans.
//     One x4 covers 16 keys x two 8-wide d-tiles:
//     lane l -> (key 8*((l/8)%2) + l%8, d chunk l/16); regs {0,1} = d-tile 2p, {2,3} = 2p+1.
//
// Shared memory layout (dynamic, extern __shared__), tile = 64 rows x D fp16 = 128*D bytes:
//   [ Q tile | K buf 0 | K buf 1 | V buf 0 | V buf 1 ]   = 5 tiles = 640*D bytes
//   (D=64: 40960 B, D=128: 81920 B -- below the 99 KiB sm_89 per-block limit.)
//   Each row is D/8 16-byte chunks; chunk c of row r is stored at chunk position
//   c ^ (r & 7) (XOR swizzle).  ldmatrix reads 8 rows x 16 B per 8x8 matrix: the 8 rows
//   r..r+7 (r multiple of 8) of one logical chunk land in 8 distinct 16-byte bank groups,
//   so ldmatrix, the cp.async writes and the epilogue staging are bank-conflict free.
//   The Q tile region is reused at the end as the per-warp staging buffer for O (each warp
//   only touches its own 16 rows, which only it ever read).
//
// Pipeline (cp.async.cg.shared.global, 16 B per instruction, per-thread commit groups):
//   prologue: {Q, K_0} -> group, {V_0} -> group.
//   iteration t (buffer t&1):
//     wait_group 1 (K_t landed) ; __syncthreads   <- also: every warp finished tile t-1,
//                                                    so buffer (t+1)&1 is free
//     issue K_{t+1} -> group, V_{t+1} -> group into buffer (t+1)&1   (overlaps tile t)
//     S = Q K_t^T, mask, online softmax
//     wait_group 2 (or 0 on the last tile: V_t landed) ; __syncthreads
//     O_acc += P V_t
//
// Where each requirement is handled:
//   * tensor cores: mma_16816() (mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32), both
//     products; fragments through ldsm_x4 / ldsm_x4_trans (ldmatrix, .trans for V).
//   * fp32 accumulators and fp32 softmax state (m, l per row) in registers; exp2f with the
//     scale folded into log2(e) (scale_log2); the running max is always subtracted.
//   * causal: the key loop stops at the last tile that touches the CTA's diagonal
//     (n_end = min(S, m0 + 64)), so fully masked tiles are never loaded or computed; the
//     element-wise -inf mask is applied only to tiles that cross a warp's diagonal or the
//     sequence tail (need_mask).  A row max of -inf is replaced by 0 before subtraction
//     (m_sub), so exp2f(-inf - -inf) never occurs and fully masked rows yield P = 0.
//   * tails (S % 64 != 0): load_tile_async() zero-fills rows >= S with cp.async src-size 0
//     (the source address is clamped to row 0 of the same head, so no out-of-range address
//     is even formed); key columns >= S are masked with -inf; Q rows >= S are zero-filled
//     (never read) and O rows >= S are never stored.
//   * every O element of rows < S is written exactly once by a 16-byte store; O is never
//     read.  No atomics; the reduction order is fixed, so results are deterministic.
//   * 1/l is guarded (l == 0 -> 0) although with these masks every valid row has l >= 1.
//
// Building for a host-side emulator: defining FA_TC_HOST_EMULATION omits the device
// intrinsics section below; the emulator then provides the same helpers itself.
// ------------------------------------------------------------------------------------------

#ifndef FA_TC_HOST_EMULATION
#include <cuda_fp16.h>

namespace fa_tc_ptx {

typedef unsigned int u32;

// Shared-state-space address of a generic pointer into shared memory.
__device__ __forceinline__ u32 smem_u32(const void* p) {
    return static_cast<u32>(__cvta_generic_to_shared(p));
}

// 16-byte async copy global -> shared.  src_bytes = 16 copies; src_bytes = 0 reads nothing
// and zero-fills the 16 destination bytes.
__device__ __forceinline__ void cp_async_16(u32 saddr, const void* gptr, int src_bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n"
                 :: "r"(saddr), "l"(gptr), "r"(src_bytes) : "memory");
}

__device__ __forceinline__ void cp_async_commit() {
    asm volatile("cp.async.commit_group;\n" ::: "memory");
}

// Wait until at most N of this thread's committed groups are still pending.
template <int N>
__device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" :: "n"(N) : "memory");
}

__device__ __forceinline__ void ldsm_x4(u32 (&r)[4], u32 addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr) : "memory");
}

__device__ __forceinline__ void ldsm_x4_trans(u32 (&r)[4], u32 addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr) : "memory");
}

// d += a * b   (16x8x16, fp16 inputs, fp32 accumulate)
__device__ __forceinline__ void mma_16816(float (&d)[4], const u32 (&a)[4], u32 b0, u32 b1) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
        "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two floats -> packed fp16x2 (round to nearest); lo goes to the lower 16 bits.
__device__ __forceinline__ u32 pack_half2(float lo, float hi) {
    __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<u32*>(&h);
}

__device__ __forceinline__ float shfl_xor(float v, int mask) {
    return __shfl_xor_sync(0xffffffffu, v, mask);
}

__device__ __forceinline__ void sync_cta() { __syncthreads(); }
__device__ __forceinline__ void sync_warp() { __syncwarp(); }

// 16-byte shared -> global copy for the epilogue (plain vector load/store).
__device__ __forceinline__ void copy16_smem_to_global(void* g, const void* s) {
    *reinterpret_cast<uint4*>(g) = *reinterpret_cast<const uint4*>(s);
}

}  // namespace fa_tc_ptx
#endif  // FA_TC_HOST_EMULATION

namespace fa_tc {

using namespace fa_tc_ptx;

constexpr int kBlockM = 64;   // query rows per CTA (manifest block_m)
constexpr int kBlockN = 64;   // keys per K/V tile
constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;  // manifest threads
static_assert(kBlockM == kWarps * 16, "each warp owns 16 query rows");
static_assert(kBlockM == kBlockN, "tiles share one size (Q / K / V regions are equal)");

template <int D>
struct Cfg {
    static constexpr int kChunks = D / 8;                 // 16-byte chunks per row
    static constexpr int kTileBytes = kBlockN * D * 2;    // one 64 x D fp16 tile
    static constexpr int kQOff = 0;                       // Q tile (later: O staging)
    static constexpr int kKOff = kTileBytes;              // K buffers 0, 1
    static constexpr int kVOff = 3 * kTileBytes;          // V buffers 0, 1
    static constexpr int kSmemBytes = 5 * kTileBytes;     // = manifest dynamic_shared_bytes
    static_assert(D % 16 == 0 && (kChunks & (kChunks - 1)) == 0, "D must be 64 or 128");
    static_assert((kBlockN * kChunks) % kThreads == 0, "tile load must divide evenly");
};

// Byte offset, inside a swizzled tile, of 16-byte chunk c (logical) of row r.
template <int D>
__device__ __forceinline__ u32 swz(int r, int c) {
    return static_cast<u32>(r * (D * 2) + ((c ^ (r & 7)) << 4));
}

// Issue the cp.async copies of rows [row0, row0 + 64) of one [S, D] head matrix into the
// swizzled tile at shared address s_tile.  Rows >= S are zero-filled (src-size 0) from a
// clamped, valid source address (row 0).  Thread tid copies chunks tid, tid + 128, ...;
// consecutive threads read consecutive 16-byte chunks of a row (coalesced).
template <int D>
__device__ __forceinline__ void load_tile_async(u32 s_tile, const __half* g_head, int row0,
                                                int S, int tid) {
    constexpr int C = Cfg<D>::kChunks;
    constexpr int kIters = kBlockN * C / kThreads;  // 4 (D=64) or 8 (D=128)
#pragma unroll
    for (int i = 0; i < kIters; ++i) {
        const int idx = tid + i * kThreads;
        const int r = idx / C;
        const int c = idx % C;
        const int grow = row0 + r;
        const bool in_range = grow < S;
        const __half* src = g_head + static_cast<size_t>(in_range ? grow : 0) * D + c * 8;
        cp_async_16(s_tile + swz<D>(r, c), src, in_range ? 16 : 0);
    }
}

template <int D>
__device__ __forceinline__ void fa_tc_v1_fwd_impl(const __half* __restrict__ Q,
                                               const __half* __restrict__ K,
                                               const __half* __restrict__ V,
                                               __half* __restrict__ O, int H, int S,
                                               float softmax_scale, int causal,
                                               unsigned char* smem_raw) {
    using C = Cfg<D>;
    constexpr int kKSteps = D / 16;       // k-steps of S = Q K^T (over d)
    constexpr int kDTiles = D / 8;        // 8-wide d n-tiles of O
    constexpr int kNTiles = kBlockN / 8;  // 8-wide key n-tiles of S
    constexpr int kPSteps = kBlockN / 16; // k-steps of O += P V (over keys)
    const float kNegInf = -INFINITY;

    const int tid = threadIdx.x;
    const int warp = tid >> 5;
    const int lane = tid & 31;
    const int gid = lane >> 2;  // fragment row group
    const int tig = lane & 3;   // thread in group

    const int m0 = blockIdx.x * kBlockM;
    if (m0 >= S) return;  // grid is exact; defensive only (uniform per CTA)
    const size_t head_off =
        (static_cast<size_t>(blockIdx.z) * H + blockIdx.y) * static_cast<size_t>(S) * D;
    const __half* Qh = Q + head_off;
    const __half* Kh = K + head_off;
    const __half* Vh = V + head_off;
    __half* Oh = O + head_off;

    const u32 s_base = smem_u32(smem_raw);
    const u32 sQ = s_base + C::kQOff;
    const u32 sK = s_base + C::kKOff;
    const u32 sV = s_base + C::kVOff;

    // Causal loop bound: keys beyond the CTA's last query row (m0 + 63) are masked for
    // every row of the CTA, so those tiles are skipped entirely.
    const int n_end = causal ? (S < m0 + kBlockM ? S : m0 + kBlockM) : S;
    const int n_tiles = (n_end + kBlockN - 1) / kBlockN;  // >= 1 since m0 < S

    // ---- prologue: {Q, K_0} and {V_0} as two commit groups ----
    load_tile_async<D>(sQ, Qh, m0, S, tid);
    load_tile_async<D>(sK, Kh, 0, S, tid);
    cp_async_commit();
    load_tile_async<D>(sV, Vh, 0, S, tid);
    cp_async_commit();

    cp_async_wait<1>();  // Q and K_0 have landed (this thread's copies) ...
    sync_cta();          // ... and everyone's.

    // Q fragments for this warp's 16 rows, kept in registers for the whole key loop.
    u32 qf[kKSteps][4];
#pragma unroll
    for (int kk = 0; kk < kKSteps; ++kk) {
        ldsm_x4(qf[kk], sQ + swz<D>(warp * 16 + (lane & 15), kk * 2 + (lane >> 4)));
    }

    float acc_o[kDTiles][4];
#pragma unroll
    for (int dt = 0; dt < kDTiles; ++dt) {
        acc_o[dt][0] = acc_o[dt][1] = acc_o[dt][2] = acc_o[dt][3] = 0.f;
    }
    // Row state for rows (gid) and (gid + 8) of the warp's 16 rows, in log2 units.
    float row_max[2] = {kNegInf, kNegInf};
    float row_sum[2] = {0.f, 0.f};  // partial: this lane's columns only (quad-reduced at end)
    const float scale_log2 = softmax_scale * 1.4426950408889634f;  // scale * log2(e)

    // Per-lane ldmatrix row / chunk selectors (see header).
    const int k_row = (lane & 7) + ((lane >> 4) << 3);       // key within a 16-key pair
    const int k_chunk = (lane >> 3) & 1;                      // d chunk within a k-step
    const int v_row = (lane & 7) + (((lane >> 3) & 1) << 3);  // key within a 16-key step
    const int v_chunk = lane >> 4;                            // d chunk within a d-tile pair

    const int q_row0 = m0 + warp * 16 + gid;  // global query row of c0/c1 (c2/c3: +8)

    for (int t = 0; t < n_tiles; ++t) {
        const int buf = t & 1;
        const u32 sKt = sK + buf * C::kTileBytes;
        const u32 sVt = sV + buf * C::kTileBytes;
        const int n0 = t * kBlockN;

        // K_t has landed; all warps are done with tile t-1, so buffer buf^1 may be refilled.
        cp_async_wait<1>();
        sync_cta();

        if (t + 1 < n_tiles) {  // prefetch tile t+1 while computing tile t
            load_tile_async<D>(sK + (buf ^ 1) * C::kTileBytes, Kh, n0 + kBlockN, S, tid);
            cp_async_commit();
            load_tile_async<D>(sV + (buf ^ 1) * C::kTileBytes, Vh, n0 + kBlockN, S, tid);
            cp_async_commit();
        }

        // ---- S = Q K_t^T  (16 x 64 per warp, fp32) ----
        float s[kNTiles][4];
#pragma unroll
        for (int nt = 0; nt < kNTiles; ++nt) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.f;
#pragma unroll
        for (int kk = 0; kk < kKSteps; ++kk) {
#pragma unroll
            for (int np = 0; np < kNTiles / 2; ++np) {
                u32 kb[4];
                ldsm_x4(kb, sKt + swz<D>(np * 16 + k_row, kk * 2 + k_chunk));
                mma_16816(s[2 * np], qf[kk], kb[0], kb[1]);
                mma_16816(s[2 * np + 1], qf[kk], kb[2], kb[3]);
            }
        }

        // ---- scale into the log2 domain, mask ----
#pragma unroll
        for (int nt = 0; nt < kNTiles; ++nt) {
#pragma unroll
            for (int e = 0; e < 4; ++e) s[nt][e] *= scale_log2;
        }
        // Element-wise mask only where needed: the sequence tail, or (causal) a tile whose
        // last key lies beyond this warp's first query row.
        const bool need_mask =
            (n0 + kBlockN > S) || (causal && n0 + kBlockN - 1 > m0 + warp * 16);
        if (need_mask) {
#pragma unroll
            for (int nt = 0; nt < kNTiles; ++nt) {
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int col = n0 + nt * 8 + tig * 2 + (e & 1);
                    const int row = q_row0 + ((e >> 1) << 3);
                    if (col >= S || (causal && col > row)) s[nt][e] = kNegInf;
                }
            }
        }

        // ---- online softmax (rows gid, gid+8; a row spans the 4 lanes of a quad) ----
        float mx[2] = {row_max[0], row_max[1]};
#pragma unroll
        for (int nt = 0; nt < kNTiles; ++nt) {
            mx[0] = fmaxf(mx[0], fmaxf(s[nt][0], s[nt][1]));
            mx[1] = fmaxf(mx[1], fmaxf(s[nt][2], s[nt][3]));
        }
        float m_sub[2], alpha[2];
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            mx[r] = fmaxf(mx[r], shfl_xor(mx[r], 1));
            mx[r] = fmaxf(mx[r], shfl_xor(mx[r], 2));
            // -inf guard: a row with no unmasked key so far subtracts 0, so masked entries
            // give exp2f(-inf) = 0 and never exp2f(-inf - -inf) = NaN.
            m_sub[r] = (mx[r] == kNegInf) ? 0.f : mx[r];
            alpha[r] = exp2f(row_max[r] - m_sub[r]);  // old max -inf -> 0 (acc, l are 0)
            row_max[r] = mx[r];
        }
        float rs[2] = {0.f, 0.f};
#pragma unroll
        for (int nt = 0; nt < kNTiles; ++nt) {
            s[nt][0] = exp2f(s[nt][0] - m_sub[0]);
            s[nt][1] = exp2f(s[nt][1] - m_sub[0]);
            s[nt][2] = exp2f(s[nt][2] - m_sub[1]);
            s[nt][3] = exp2f(s[nt][3] - m_sub[1]);
            rs[0] += s[nt][0] + s[nt][1];
            rs[1] += s[nt][2] + s[nt][3];
        }
        row_sum[0] = row_sum[0] * alpha[0] + rs[0];
        row_sum[1] = row_sum[1] * alpha[1] + rs[1];
#pragma unroll
        for (int dt = 0; dt < kDTiles; ++dt) {
            acc_o[dt][0] *= alpha[0];
            acc_o[dt][1] *= alpha[0];
            acc_o[dt][2] *= alpha[1];
            acc_o[dt][3] *= alpha[1];
        }

        // P as A fragments: k-step kk (keys 16kk..16kk+15) = S n-tiles 2kk (cols 0-7) and
        // 2kk+1 (cols 8-15):  reg0 = (gid, 2tig..), reg1 = (gid+8, 2tig..),
        //                     reg2 = (gid, 8+2tig..), reg3 = (gid+8, 8+2tig..).
        u32 pf[kPSteps][4];
#pragma unroll
        for (int kk = 0; kk < kPSteps; ++kk) {
            pf[kk][0] = pack_half2(s[2 * kk][0], s[2 * kk][1]);
            pf[kk][1] = pack_half2(s[2 * kk][2], s[2 * kk][3]);
            pf[kk][2] = pack_half2(s[2 * kk + 1][0], s[2 * kk + 1][1]);
            pf[kk][3] = pack_half2(s[2 * kk + 1][2], s[2 * kk + 1][3]);
        }

        // V_t has landed (the two groups of tile t+1 may still be in flight).
        if (t + 1 < n_tiles) {
            cp_async_wait<2>();
        } else {
            cp_async_wait<0>();
        }
        sync_cta();

        // ---- O_acc += P V_t ----
#pragma unroll
        for (int kk = 0; kk < kPSteps; ++kk) {
#pragma unroll
            for (int dp = 0; dp < kDTiles / 2; ++dp) {
                u32 vb[4];
                ldsm_x4_trans(vb, sVt + swz<D>(kk * 16 + v_row, dp * 2 + v_chunk));
                mma_16816(acc_o[2 * dp], pf[kk], vb[0], vb[1]);
                mma_16816(acc_o[2 * dp + 1], pf[kk], vb[2], vb[3]);
            }
        }
    }

    // ---- epilogue: O = acc / l, fp16, staged through this warp's rows of the Q region ----
    float inv_l[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        float l = row_sum[r];
        l += shfl_xor(l, 1);
        l += shfl_xor(l, 2);
        inv_l[r] = l > 0.f ? 1.f / l : 0.f;
    }
    // Only this warp ever read rows [16w, 16w+16) of the Q region (its own Q fragments,
    // loaded before the loop) and no cp.async targets the Q region after the prologue,
    // so the warp may overwrite them without a CTA barrier.
    unsigned char* sO = smem_raw + C::kQOff;
    const int srow = warp * 16 + gid;
#pragma unroll
    for (int dt = 0; dt < kDTiles; ++dt) {
        *reinterpret_cast<u32*>(sO + swz<D>(srow, dt) + tig * 4) =
            pack_half2(acc_o[dt][0] * inv_l[0], acc_o[dt][1] * inv_l[0]);
        *reinterpret_cast<u32*>(sO + swz<D>(srow + 8, dt) + tig * 4) =
            pack_half2(acc_o[dt][2] * inv_l[1], acc_o[dt][3] * inv_l[1]);
    }
    sync_warp();
    // 16 rows x D/8 chunks per warp, one 16-byte global store per chunk; rows >= S skipped.
    constexpr int kOutIters = 16 * C::kChunks / 32;
#pragma unroll
    for (int i = 0; i < kOutIters; ++i) {
        const int idx = lane + i * 32;
        const int r = idx / C::kChunks;
        const int c = idx % C::kChunks;
        const int grow = m0 + warp * 16 + r;
        if (grow < S) {
            copy16_smem_to_global(Oh + static_cast<size_t>(grow) * D + c * 8,
                                  sO + swz<D>(warp * 16 + r, c));
        }
    }
}

}  // namespace fa_tc

// Single ABI entry: dispatches on the head dim.  Other D values are not declared in the
// manifest and return without touching memory.
extern "C" __global__ void __launch_bounds__(fa_tc::kThreads)
fa_tc_v1_fwd(const __half* Q, const __half* K, const __half* V, __half* O, int B, int H, int S,
          int D, float softmax_scale, int causal) {
    extern __shared__ __align__(128) unsigned char fa_tc_smem[];
    (void)B;
    if (D == 64) {
        fa_tc::fa_tc_v1_fwd_impl<64>(Q, K, V, O, H, S, softmax_scale, causal, fa_tc_smem);
    } else if (D == 128) {
        fa_tc::fa_tc_v1_fwd_impl<128>(Q, K, V, O, H, S, softmax_scale, causal, fa_tc_smem);
    }
}
