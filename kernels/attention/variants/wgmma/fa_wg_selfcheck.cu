// fa_wg_selfcheck.cu -- standalone check + timing of the wgmma prototype's entries (fa_wg.cu)
// next to fa_tc's mma.sync entries (../../fa_tc.cu).  cuda_runtime only; sm_90a only (wgmma).
//
// Build (from the repository root; run.sh does this):
//   nvcc -gencode=arch=compute_90a,code=sm_90a -O3 -lineinfo \
//        -o /tmp/fa_wg_selfcheck kernels/attention/variants/wgmma/fa_wg_selfcheck.cu
//   (with the pinned toolchain here add -L.toolchain/cuda/nvidia/cu13/lib, where
//    libcudart_static.a lives; -DFA_WG_V9_CORE='"path"' adds v9's body as a baseline:
//    README.md says how that file is made.)
// Run: /tmp/fa_wg_selfcheck   (exit 0 = every check passed; 1 = a check failed; 2 = CUDA error)
//   FA_WG_ONLY=a,b: those kernels only; FA_WG_CHECK_ONLY=1: no timings (for compute-sanitizer).
//
// Kernels: the fa_wg* and fa_ws* entries of fa_wg.cu (README.md's table), fa_tc's mma.sync
// entries (fa_tc, fa_tc_sg, fa_tc_d128) and the mma.sync candidates below (fa_tcf*; the
// fa_tcm2* entries of the v11 log, two m16 tiles per warp, are at commit 3ec0e0c);
// with -DFA_TC_OLD_CORE='"path"' also the mma.sync core of an earlier commit (fa_tc_old*,
// README.md says how that file is made), each with its head dim: a case runs the kernels of
// its D.  canon_4 is timed three times, the D = 128 entries interleaved, against clock drift.
// Checks, per case and per kernel, launched exactly as the ABI says (grid
// (ceil(S/block_m), H, B), the kernel's thread count, its fixed dynamic shared memory):
//   * random fp16 Q, K, V uniform in [-mag, mag] (fixed seed per case);
//   * O poisoned with 0xFFFF (fp16 NaN) and surrounded by 4096-half guard zones on each side;
//   * fp64 CPU reference from the same fp16 inputs, ALL rows of up to 4 sampled (b, h) heads
//     (first head, last head, two others);
//   * rule: PASS iff max |O - ref| <= 2e-2 over the sampled heads (absolute; outputs are convex
//     combinations of V, |O| <= mag), no NaN anywhere in O (every element written), both
//     guard zones still 0xFFFF, and two launches (O re-poisoned between) bitwise identical.
// Prints "CHECK <shape> <kernel> max_abs_err=... PASS|FAIL" per case and kernel.
//
// Timing (canon_1, canon_5, canon_6, canon_3, canon_2, canon_4; every kernel of the case's D,
// same process, same buffers):
//   hot  = 5 repetitions of (20 warm-up launches, then 200 back-to-back launches between two
//          cudaEvents; average per launch); the median of the 5 is reported.  FA_WG_SUSTAIN=N
//          (N > 5): N repetitions, the median of the last N / 2 reported (sustained load,
//          under the board's power limit).
//   cold = 50 samples of (read a 256 MiB buffer with a kernel to flush the 50 MiB L2, then one
//          launch between two cudaEvents); the median is reported.
//   tflops_hot = 4*B*H*S*S*D / hot (halved for causal shapes).
// Prints "TIME <shape> <kernel> hot_us=... cold_us=... tflops_hot=...".

#include "fa_wg.cu"
#include "fa_wg_tma.cuh"
#include "fa_wg_tma_n128.cuh"
#include "fa_wg_parts.cuh"
#include "../../fa_tc.cu"

// TMA entries (fa_wg_tma.cuh): K and V through tensor maps, not the ABI's pointers.
//              name              D    BN  NS lazy  MINB
FA_WG_TMA_ENTRY(fa_tma_ns2_fwd_d64, 64, 64, 2, true, 5)
FA_WG_TMA_ENTRY(fa_tma_ns3_fwd_d64, 64, 64, 3, true, 3)
FA_WG_TMA_ENTRY(fa_tma_ns4_fwd_d64, 64, 64, 4, true, 3)
FA_WG_TMA_ENTRY(fa_tma_d128_fwd_d128, 128, 64, 3, true, 2)
FA_WG_TMA_ENTRY(fa_tma_d128_ns2_fwd_d128, 128, 64, 2, true, 2)
// One K slot and one V slot, each refilled as soon as it is free (fa_wg_tma_n128.cuh; v18):
// fa_n128e is the body fa_tc ships as its wgmma_tma launch; fa_n128 refills both slots after
// P V; fa_n64e the same protocol with 64-key tiles at 5 CTAs/SM.
//                   name              BN   lazy  early K  MINB
FA_WG_TMA_N128_ENTRY(fa_n128e_fwd_d64, 128, true, true,    4)
FA_WG_TMA_N128_ENTRY(fa_n128_fwd_d64,  128, true, false,   4)
FA_WG_TMA_N128_ENTRY(fa_n64e_fwd_d64,  64,  true, true,    5)
// fa_ks2n128eo's two key parts with the loads under the first wgmma and a shared epilogue
// (fa_wg_parts.cuh; v19): fa_ks2x eager rescale (as fa_ks2n128eo); p: turns at the tensor
// cores (ping-pong); l: lazy rescale.  Every entry's first tile skips the rescale
// (softmax_tile FIRST).  The split / poly / tensor-sum and four-part entries of the v19 logs
// are at 77964ef.
//                name              lazy   ping-pong
FA_WG_PARTS_ENTRY(fa_ks2x_fwd_d64,  false, false)
FA_WG_PARTS_ENTRY(fa_ks2xp_fwd_d64, false, true)
FA_WG_PARTS_ENTRY(fa_ks2xl_fwd_d64, true,  false)
// fa_tc's mma.sync default launches with fa_common::softmax_tile's POS schedule and lazy
// rescaling (tried in v11; fa_tc_fwd_d128 ships POS without lazy, fa_tc_fwd_d64 the v5
// softmax).
//                name                 D    RW SPLIT NS MINB lazy
FA_TCV_ENTRY_FAST(fa_tcf_fwd_d64,      64,  4, 1,    3, 3,   true)
FA_TCV_ENTRY_FAST(fa_tcf_fwd_d128,     128, 4, 1,    2, 2,   true)

#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cudaTypedefs.h>  // PFN_cuTensorMapEncodeTiled

#include "fa_wg_host.cuh"  // CK, fa_entry_t, flush_l2_kernel

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

struct Kernel {
    const char* name;
    fa_entry_t fn;
    int smem;
    int threads;
    int block_m;
    int d;  // head dim the entry computes (the cases of another D skip it)
    bool tma = false;  // a TMA entry (fa_wg_tma.cuh): K and V as tensor maps
};

// FA_WG_ONLY=a,b,...: check and time only the named kernels (every kernel when unset).
static bool selected(const char* name) {
    const char* only = getenv("FA_WG_ONLY");
    if (!only || !*only) return true;
    const std::string list = std::string(",") + only + ",";
    return list.find(std::string(",") + name + ",") != std::string::npos;
}
typedef void (*fa_tma_entry_t)(const __half*, CUtensorMap, CUtensorMap, __half*, int, int, int,
                               int, float, int);

#ifdef FA_TC_OLD_CORE
// fa_tc's mma.sync core as of the commit the build names (a renamed copy, made at build time:
// README.md), as the baseline of its successor in this run.
#include FA_TC_OLD_CORE
FA_TCVOLD_ENTRY_NS(fa_tc_old_fwd_d64, 64, 4, 1, 3, 3)
FA_TCVOLD_ENTRY_NS(fa_tc_old_fwd_d128, 128, 4, 1, 2, 2)
FA_TCVOLD_ENTRY_NS(fa_tc_old_sg_fwd_d64, 64, 2, 2, 2, 3)
#endif

#ifdef FA_WG_V9_CORE
// The wgmma body shipped in fa_tc v9 (a renamed copy of that version's fa_wg_core.cuh, made
// at build time: see run.sh), as the baseline of this run.
#include FA_WG_V9_CORE
FA_WGV9_ENTRY(fa_wg_v9_fwd_d64, 1, 3, false, 4)
#endif

// fa_wg (D = 64) and fa_wg_d128 (D = 128) are the entries fa_tc ships; the others are
// experimental siblings (see fa_wg.cu's header); fa_tc / fa_tc_d128 the mma.sync launches.
static const Kernel kKernels[] = {
    {"fa_wg", fa_wg_fwd_d64, FA_WG_SMEM_BYTES(64, 64, 3), 128, 64, 64},
    {"fa_wg_pipe", fa_wg_pipe_fwd_d64, FA_WG_SMEM_BYTES(64, 64, 3), 128, 64, 64},
    {"fa_wg_ns2", fa_wg_ns2_fwd_d64, FA_WG_SMEM_BYTES(64, 64, 2), 128, 64, 64},
    {"fa_wg_n128", fa_wg_n128_fwd_d64, FA_WG_SMEM_BYTES(64, 128, 2), 128, 64, 64},
    {"fa_wg_n128p", fa_wg_n128p_fwd_d64, FA_WG_SMEM_BYTES(64, 128, 3), 128, 64, 64},
    {"fa_wg2", fa_wg2_fwd_d64, FA_WG_SMEM_BYTES_WG(64, 64, 3, 2, 1), 256, 128, 64},
    {"fa_ks2", fa_ks2_fwd_d64, FA_WG_SMEM_BYTES_WG(64, 64, 3, 1, 2), 256, 64, 64},
    {"fa_ks2p", fa_ks2p_fwd_d64, FA_WG_SMEM_BYTES_WG(64, 64, 3, 1, 2), 256, 64, 64},
    {"fa_ks2n128", fa_ks2n128_fwd_d64, FA_WG_SMEM_BYTES_WG(64, 128, 2, 1, 2), 256, 64, 64},
    {"fa_ks2n128p", fa_ks2n128p_fwd_d64, FA_WG_SMEM_BYTES_WG(64, 128, 3, 1, 2), 256, 64, 64},
    {"fa_ks2n128pe", fa_ks2n128pe_fwd_d64, FA_WG_SMEM_BYTES_WG(64, 128, 3, 1, 2), 256, 64, 64},
    {"fa_ks2n128e", fa_ks2n128e_fwd_d64, FA_WG_SMEM_BYTES_WG(64, 128, 2, 1, 2), 256, 64, 64},
    {"fa_ks2pe", fa_ks2pe_fwd_d64, FA_WG_SMEM_BYTES_WG(64, 64, 3, 1, 2), 256, 64, 64},
    {"fa_ks4", fa_ks4_fwd_d64, FA_WG_SMEM_BYTES_WG(64, 64, 3, 1, 4), 512, 64, 64},
    {"fa_ks4e", fa_ks4e_fwd_d64, FA_WG_SMEM_BYTES_WG(64, 64, 3, 1, 4), 512, 64, 64},
    {"fa_ks4pe", fa_ks4pe_fwd_d64, FA_WG_SMEM_BYTES_WG(64, 64, 3, 1, 4), 512, 64, 64},
    {"fa_ks4n2e", fa_ks4n2e_fwd_d64, FA_WG_SMEM_BYTES_WG(64, 64, 2, 1, 4), 512, 64, 64},
    {"fa_ks2n128eo", fa_ks2n128eo_fwd_d64, FA_WG_SMEM_BYTES_WG(64, 128, 2, 1, 2), 256, 64, 64},
    {"fa_ks2n128e3o", fa_ks2n128e3o_fwd_d64, FA_WG_SMEM_BYTES_WG(64, 128, 3, 1, 2), 256, 64, 64},
    {"fa_ks2eo", fa_ks2eo_fwd_d64, FA_WG_SMEM_BYTES_WG(64, 64, 3, 1, 2), 256, 64, 64},
    {"fa_ks4eo", fa_ks4eo_fwd_d64, FA_WG_SMEM_BYTES_WG(64, 64, 3, 1, 4), 512, 64, 64},
    {"fa_ks2x", fa_ks2x_fwd_d64, FA_WG_PARTS_SMEM_BYTES, 256, 64, 64},
    {"fa_ks2xp", fa_ks2xp_fwd_d64, FA_WG_PARTS_SMEM_BYTES, 256, 64, 64},
    {"fa_ks2xl", fa_ks2xl_fwd_d64, FA_WG_PARTS_SMEM_BYTES, 256, 64, 64},
    {"fa_tma_ns2", (fa_entry_t)fa_tma_ns2_fwd_d64, FA_WG_TMA_SMEM_BYTES(64, 64, 2), 128, 64, 64, true},
    {"fa_tma_ns3", (fa_entry_t)fa_tma_ns3_fwd_d64, FA_WG_TMA_SMEM_BYTES(64, 64, 3), 128, 64, 64, true},
    {"fa_tma_ns4", (fa_entry_t)fa_tma_ns4_fwd_d64, FA_WG_TMA_SMEM_BYTES(64, 64, 4), 128, 64, 64, true},
    // The shipped body held to 4 CTAs/SM by its shared-memory request: the control of
    // designs with 4 warpgroups per SM (NOTES.md, v16, v17).
    {"fa_tma_o4", (fa_entry_t)fa_tma_ns2_fwd_d64, 56 * 1024, 128, 64, 64, true},
    {"fa_n128e", (fa_entry_t)fa_n128e_fwd_d64, FA_WG_TMA_N128_SMEM_BYTES(64, 128), 128, 64, 64, true},
    {"fa_n128", (fa_entry_t)fa_n128_fwd_d64, FA_WG_TMA_N128_SMEM_BYTES(64, 128), 128, 64, 64, true},
    {"fa_n64e", (fa_entry_t)fa_n64e_fwd_d64, FA_WG_TMA_N128_SMEM_BYTES(64, 64), 128, 64, 64, true},
#ifdef FA_WG_V9_CORE
    {"fa_wg_v9", fa_wg_v9_fwd_d64, FA_WGV9_SMEM_BYTES, 128, 64, 64},
#endif
    {"fa_ws2i1p2", fa_ws2i1p2_fwd_d64, FA_WS_SMEM_BYTES(64, 3, 2), 320, 128, 64},
    {"fa_ws2i4p2", fa_ws2i4p2_fwd_d64, FA_WS_SMEM_BYTES(64, 3, 2), 320, 512, 64},
#ifdef FA_TC_OLD_CORE
    {"fa_tc_old", fa_tc_old_fwd_d64, 57344, 128, 64, 64},
    {"fa_tc_old_sg", fa_tc_old_sg_fwd_d64, 69632, 128, 32, 64},
#endif
    {"fa_tc", fa_tc_fwd_d64, 57344, 128, 64, 64},
    {"fa_tcf", fa_tcf_fwd_d64, 57344, 128, 64, 64},
    {"fa_tc_sg", fa_tc_fwd_d64_small_grid, 69632, 128, 32, 64},
    {"fa_wg_d128", fa_wg_fwd_d128, FA_WG_SMEM_BYTES(128, 64, 3), 128, 64, 128},
    {"fa_wg_d128_pipe", fa_wg_pipe_fwd_d128, FA_WG_SMEM_BYTES(128, 64, 3), 128, 64, 128},
    {"fa_tma_d128", (fa_entry_t)fa_tma_d128_fwd_d128, FA_WG_TMA_SMEM_BYTES(128, 64, 3), 128, 64, 128, true},
    {"fa_tma_d128_ns2", (fa_entry_t)fa_tma_d128_ns2_fwd_d128, FA_WG_TMA_SMEM_BYTES(128, 64, 2), 128, 64, 128, true},
    {"fa_ws2i2p2_d128", fa_ws2i2p2_fwd_d128, FA_WS_SMEM_BYTES(128, 2, 2), 320, 256, 128},
#ifdef FA_TC_OLD_CORE
    {"fa_tc_old_d128", fa_tc_old_fwd_d128, 81920, 128, 64, 128},
#endif
    {"fa_tc_d128", fa_tc_fwd_d128, 81920, 128, 64, 128},
    {"fa_tcf_d128", fa_tcf_fwd_d128, 81920, 128, 64, 128},
};
static const int kNumKernels = sizeof(kKernels) / sizeof(kKernels[0]);

struct Case {
    const char* name;
    int B, H, S, D, causal;
    float scale, mag;
};

static std::string shape_str(const Case& c) {
    char buf[160];
    snprintf(buf, sizeof buf, "%s(B%d,H%d,S%d,D%d,%s,mag%g)", c.name, c.B, c.H, c.S, c.D,
             c.causal ? "causal" : "nc", c.mag);
    return buf;
}

// The tensor map ABI attention_fwd_tma_v1 gives a kernel of one of K / V: 3-D {D, S, B * H}
// fp16, box 64 x 64 x 1, 128-byte swizzle; cached for the last two (pointer, shape) asked
// for, so that timing loops launch without host-side encoding in between.
static CUtensorMap tensor_map(const __half* base, const Case& c) {
    struct Entry {
        const __half* base;
        int B, H, S, D;
        CUtensorMap map;
    };
    static Entry cache[2] = {};
    static int next = 0;
    for (const Entry& e : cache) {
        if (e.base == base && e.B == c.B && e.H == c.H && e.S == c.S && e.D == c.D)
            return e.map;
    }
    static PFN_cuTensorMapEncodeTiled_v12000 encode = nullptr;
    if (!encode) {
        cudaDriverEntryPointQueryResult q;
        CK(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled",
                                            reinterpret_cast<void**>(&encode), 12000,
                                            cudaEnableDefault, &q));
        if (q != cudaDriverEntryPointSuccess || !encode) {
            fprintf(stderr, "cuTensorMapEncodeTiled not found in the driver\n");
            exit(2);
        }
    }
    Entry e{base, c.B, c.H, c.S, c.D, {}};
    const cuuint64_t dims[3] = {(cuuint64_t)c.D, (cuuint64_t)c.S, (cuuint64_t)c.B * c.H};
    const cuuint64_t strides[2] = {(cuuint64_t)c.D * 2, (cuuint64_t)c.S * c.D * 2};
    const cuuint32_t box[3] = {64, 64, 1};
    const cuuint32_t estr[3] = {1, 1, 1};
    const CUresult r = encode(&e.map, CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 3,
                              const_cast<__half*>(base), dims, strides, box, estr,
                              CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                              CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                              CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    if (r != CUDA_SUCCESS) {
        fprintf(stderr, "cuTensorMapEncodeTiled failed: %d\n", (int)r);
        exit(2);
    }
    cache[next] = e;
    next = (next + 1) % 2;
    return e.map;
}

static void launch(const Kernel& k, const Case& c, const __half* q, const __half* kk,
                   const __half* v, __half* o, cudaStream_t st = 0) {
    dim3 grid((c.S + k.block_m - 1) / k.block_m, c.H, c.B), block(k.threads, 1, 1);
    if (k.tma) {
        const CUtensorMap mk = tensor_map(kk, c);
        const CUtensorMap mv = tensor_map(v, c);
        reinterpret_cast<fa_tma_entry_t>(k.fn)<<<grid, block, k.smem, st>>>(
            q, mk, mv, o, c.B, c.H, c.S, c.D, c.scale, c.causal);
        return;
    }
    k.fn<<<grid, block, k.smem, st>>>(q, kk, v, o, c.B, c.H, c.S, c.D, c.scale, c.causal);
}

struct Inputs {
    size_t n;
    std::vector<float> fq, fk, fv;
    __half *dq, *dk, *dv;
};

static void make_inputs(const Case& c, unsigned seed, Inputs& in) {
    in.n = (size_t)c.B * c.H * c.S * c.D;
    std::vector<__half> hq(in.n), hk(in.n), hv(in.n);
    in.fq.resize(in.n);
    in.fk.resize(in.n);
    in.fv.resize(in.n);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> U(-1.f, 1.f);
    for (size_t i = 0; i < in.n; ++i) {
        hq[i] = __float2half(c.mag * U(rng));
        hk[i] = __float2half(c.mag * U(rng));
        hv[i] = __float2half(c.mag * U(rng));
        in.fq[i] = __half2float(hq[i]);
        in.fk[i] = __half2float(hk[i]);
        in.fv[i] = __half2float(hv[i]);
    }
    CK(cudaMalloc(&in.dq, in.n * sizeof(__half)));
    CK(cudaMalloc(&in.dk, in.n * sizeof(__half)));
    CK(cudaMalloc(&in.dv, in.n * sizeof(__half)));
    CK(cudaMemcpy(in.dq, hq.data(), in.n * sizeof(__half), cudaMemcpyHostToDevice));
    CK(cudaMemcpy(in.dk, hk.data(), in.n * sizeof(__half), cudaMemcpyHostToDevice));
    CK(cudaMemcpy(in.dv, hv.data(), in.n * sizeof(__half), cudaMemcpyHostToDevice));
}
static void free_inputs(Inputs& in) {
    CK(cudaFree(in.dq));
    CK(cudaFree(in.dk));
    CK(cudaFree(in.dv));
}

// fp64 reference for all rows of head bh: out[i*D + d].
static void reference_head(const Case& c, const Inputs& in, int bh, std::vector<double>& out) {
    const size_t base = (size_t)bh * c.S * c.D;
    out.assign((size_t)c.S * c.D, 0.0);
    std::vector<double> p(c.S);
    for (int i = 0; i < c.S; ++i) {
        const int jend = c.causal ? i + 1 : c.S;
        double mx = -INFINITY;
        const float* qi = &in.fq[base + (size_t)i * c.D];
        for (int j = 0; j < jend; ++j) {
            const float* kj = &in.fk[base + (size_t)j * c.D];
            double s = 0.0;
            for (int d = 0; d < c.D; ++d) s += (double)qi[d] * (double)kj[d];
            p[j] = s * (double)c.scale;
            mx = std::max(mx, p[j]);
        }
        double sum = 0.0;
        for (int j = 0; j < jend; ++j) {
            p[j] = std::exp(p[j] - mx);
            sum += p[j];
        }
        for (int d = 0; d < c.D; ++d) {
            double acc = 0.0;
            for (int j = 0; j < jend; ++j) acc += p[j] * (double)in.fv[base + (size_t)j * c.D + d];
            out[(size_t)i * c.D + d] = acc / sum;
        }
    }
}

static bool check_case(const Case& c, unsigned seed) {
    Inputs in;
    make_inputs(c, seed, in);
    const size_t n = in.n;
    const size_t guard = 4096;
    __half* dobuf;
    CK(cudaMalloc(&dobuf, (n + 2 * guard) * sizeof(__half)));
    __half* dO = dobuf + guard;

    // Sampled heads: first, last, and up to two in between.
    const int nbh = c.B * c.H;
    std::vector<int> heads = {0};
    if (nbh > 1) heads.push_back(nbh - 1);
    if (nbh > 2) heads.push_back(nbh / 2);
    if (nbh > 3) heads.push_back((nbh * 3) / 4 + 1 < nbh - 1 ? (nbh * 3) / 4 + 1 : 1);
    std::vector<std::vector<double>> refs(heads.size());
    for (size_t h = 0; h < heads.size(); ++h) reference_head(c, in, heads[h], refs[h]);

    bool all_ok = true;
    for (int ki = 0; ki < kNumKernels; ++ki) {
        const Kernel& k = kKernels[ki];
        if (!selected(k.name)) continue;
        if (k.d != c.D) continue;
        std::vector<__half> out[2];
        for (int rep = 0; rep < 2; ++rep) {
            CK(cudaMemset(dobuf, 0xFF, (n + 2 * guard) * sizeof(__half)));  // fp16 NaN
            launch(k, c, in.dq, in.dk, in.dv, dO);
            CK(cudaGetLastError());
            CK(cudaDeviceSynchronize());
            out[rep].resize(n + 2 * guard);
            CK(cudaMemcpy(out[rep].data(), dobuf, (n + 2 * guard) * sizeof(__half),
                          cudaMemcpyDeviceToHost));
        }
        bool ok = true;
        std::string why;
        for (size_t i = 0; i < guard; ++i) {
            unsigned short a, b;
            memcpy(&a, &out[0][i], 2);
            memcpy(&b, &out[0][guard + n + i], 2);
            if (a != 0xFFFF || b != 0xFFFF) {
                ok = false;
                why += " guard-zone-written";
                break;
            }
        }
        if (memcmp(out[0].data(), out[1].data(), (n + 2 * guard) * sizeof(__half)) != 0) {
            ok = false;
            why += " launches-differ";
        }
        const __half* got = out[0].data() + guard;
        long nan_count = 0;
        for (size_t i = 0; i < n; ++i)
            if (std::isnan(__half2float(got[i]))) ++nan_count;
        if (nan_count) {
            ok = false;
            why += " nan=" + std::to_string(nan_count);
        }
        double max_err = 0.0;
        long checked = 0;
        int worst_bh = -1, worst_i = -1, worst_d = -1;
        for (size_t h = 0; h < heads.size(); ++h) {
            const size_t base = (size_t)heads[h] * c.S * c.D;
            for (int i = 0; i < c.S; ++i) {
                for (int d = 0; d < c.D; ++d) {
                    const float g = __half2float(got[base + (size_t)i * c.D + d]);
                    if (std::isnan(g)) continue;
                    const double e = std::fabs((double)g - refs[h][(size_t)i * c.D + d]);
                    if (e > max_err) {
                        max_err = e;
                        worst_bh = heads[h];
                        worst_i = i;
                        worst_d = d;
                    }
                    ++checked;
                }
            }
        }
        if (!(max_err <= 2e-2)) {
            ok = false;
            why += " err>2e-2";
        }
        printf("CHECK %s %s max_abs_err=%.3e (%ld values, %zu heads; worst bh=%d row=%d d=%d)"
               " %s%s\n",
               shape_str(c).c_str(), k.name, max_err, checked, heads.size(), worst_bh, worst_i,
               worst_d, ok ? "PASS" : "FAIL", why.c_str());
        fflush(stdout);
        all_ok &= ok;
    }
    CK(cudaFree(dobuf));
    free_inputs(in);
    return all_ok;
}

// Hot repetitions of 200 launches: 5, or FA_WG_SUSTAIN of them (e.g. 200: about 2 s of
// back-to-back launches at canon_6, long enough to meet the board's power limit; the hot
// figure is then the median of the second half).
static int hot_reps() {
    const char* e = getenv("FA_WG_SUSTAIN");
    const int n = e ? atoi(e) : 0;
    return n > 5 ? n : 5;
}

static double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t m = v.size() / 2;
    return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

static void time_case(const Case& c, unsigned seed, const int4* flush_buf, size_t flush_n,
                      int* sink) {
    Inputs in;
    make_inputs(c, seed, in);
    __half* dO;
    CK(cudaMalloc(&dO, in.n * sizeof(__half)));
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    const double flops = 4.0 * c.B * c.H * (double)c.S * c.S * c.D * (c.causal ? 0.5 : 1.0);
    for (int ki = 0; ki < kNumKernels; ++ki) {
        const Kernel& k = kKernels[ki];
        if (!selected(k.name)) continue;
        if (k.d != c.D) continue;
        std::vector<double> hot;
        const int reps = hot_reps();
        for (int rep = 0; rep < reps; ++rep) {
            for (int w = 0; w < 20; ++w) launch(k, c, in.dq, in.dk, in.dv, dO);
            CK(cudaGetLastError());
            CK(cudaEventRecord(e0));
            for (int it = 0; it < 200; ++it) launch(k, c, in.dq, in.dk, in.dv, dO);
            CK(cudaEventRecord(e1));
            CK(cudaGetLastError());
            CK(cudaEventSynchronize(e1));
            float ms = 0.f;
            CK(cudaEventElapsedTime(&ms, e0, e1));
            hot.push_back(1000.0 * ms / 200.0);
        }
        std::vector<double> cold;
        for (int it = 0; it < 50; ++it) {
            flush_l2_kernel<<<132 * 8, 512>>>(flush_buf, flush_n, sink);
            CK(cudaGetLastError());
            CK(cudaEventRecord(e0));
            launch(k, c, in.dq, in.dk, in.dv, dO);
            CK(cudaEventRecord(e1));
            CK(cudaGetLastError());
            CK(cudaEventSynchronize(e1));
            float ms = 0.f;
            CK(cudaEventElapsedTime(&ms, e0, e1));
            cold.push_back(1000.0 * ms);
        }
        // Sustained (FA_WG_SUSTAIN): the second half of the repetitions, at the clock the
        // power limit leaves after the first half.
        if (hot.size() > 5) hot.erase(hot.begin(), hot.begin() + hot.size() / 2);
        const double hot_us = median(hot), cold_us = median(cold);
        printf("TIME %s %s hot_us=%.2f cold_us=%.2f tflops_hot=%.1f (hot reps:", shape_str(c).c_str(),
               k.name, hot_us, cold_us, flops / (hot_us * 1e-6) / 1e12);
        for (size_t i = 0; i < hot.size() && i < 8; ++i) printf(" %.2f", hot[i]);
        printf(")\n");
        fflush(stdout);
    }
    CK(cudaEventDestroy(e0));
    CK(cudaEventDestroy(e1));
    CK(cudaFree(dO));
    free_inputs(in);
}

int main() {
    int dev = 0;
    cudaDeviceProp prop;
    CK(cudaGetDevice(&dev));
    CK(cudaGetDeviceProperties(&prop, dev));
    printf("device: %s (sm_%d%d), %d SMs, %zu B smem/SM, %zu B smem/block opt-in\n", prop.name,
           prop.major, prop.minor, prop.multiProcessorCount, prop.sharedMemPerMultiprocessor,
           prop.sharedMemPerBlockOptin);
    if (prop.major != 9) {
        fprintf(stderr, "needs an sm_90 device (the cubin is sm_90a)\n");
        return 2;
    }
    for (int ki = 0; ki < kNumKernels; ++ki) {
        const Kernel& k = kKernels[ki];
        CK(cudaFuncSetAttribute(k.fn, cudaFuncAttributeMaxDynamicSharedMemorySize, k.smem));
        cudaFuncAttributes fa;
        CK(cudaFuncGetAttributes(&fa, k.fn));
        int blocks = 0;
        CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, k.fn, k.threads, k.smem));
        printf("kernel %s: %d regs, %zu B static smem, %d B dynamic smem, %zu B local, "
               "%d CTAs/SM (occupancy API)\n",
               k.name, fa.numRegs, fa.sharedSizeBytes, k.smem, fa.localSizeBytes, blocks);
    }

    const float sc = 0.125f;  // 1/sqrt(64)
    const float sc128 = 0.08838834764831845f;  // 1/sqrt(128)
    const Case checks[] = {
        {"canon_6", 16, 16, 512, 64, 0, sc, 1.f},
        {"canon_3", 2, 8, 512, 64, 0, sc, 1.f},
        {"canon_2", 2, 8, 512, 64, 1, sc, 1.f},
        {"tail", 1, 2, 200, 64, 0, sc, 1.f},
        {"tail", 1, 2, 200, 64, 1, sc, 1.f},
        {"large", 2, 8, 512, 64, 0, sc, 8.f},
        {"large_tail", 1, 4, 500, 64, 1, sc, 8.f},
        {"tiny", 2, 2, 1, 64, 1, sc, 1.f},
        {"tiny", 1, 2, 37, 64, 0, 1.0f, 1.f},
        {"odd", 1, 3, 129, 64, 1, 0.3f, 2.f},
        {"negscale", 1, 2, 130, 64, 1, -0.2f, 1.f},
        {"zeroscale", 1, 2, 70, 64, 0, 0.f, 1.f},
        {"canon_4", 4, 16, 2048, 128, 1, sc128, 1.f},
        {"d128", 2, 8, 512, 128, 0, sc128, 1.f},
        {"d128_tail", 1, 2, 200, 128, 0, sc128, 1.f},
        {"d128_tail", 1, 2, 200, 128, 1, sc128, 1.f},
        {"d128_large", 1, 4, 500, 128, 1, sc128, 8.f},
        {"d128_tiny", 2, 2, 1, 128, 1, sc128, 1.f},
        {"d128_odd", 1, 3, 129, 128, 1, 0.3f, 2.f},
        {"d128_negscale", 1, 2, 130, 128, 0, -0.1f, 1.f},
    };
    bool all_ok = true;
    unsigned seed = 4321;
#if FA_WG_SOL
    // A speed-of-light build (fa_wg_core.cuh): wrong results by design, timings only.
    (void)checks;
    (void)seed;
    printf("CHECKS SKIPPED (speed-of-light build FA_WG_SOL=%d)\n", FA_WG_SOL);
#else
    for (const Case& c : checks) all_ok &= check_case(c, seed++);
    printf("CHECKS %s\n", all_ok ? "ALL PASS" : "SOME FAILED");
#endif
    fflush(stdout);
    // FA_WG_CHECK_ONLY=1: the checks only, no timings (runs under compute-sanitizer).
    if (const char* co = getenv("FA_WG_CHECK_ONLY"); co && *co == '1') return all_ok ? 0 : 1;

    const size_t flush_bytes = (size_t)256 << 20;
    int4* flush_buf;
    int* sink;
    CK(cudaMalloc(&flush_buf, flush_bytes));
    CK(cudaMemset(flush_buf, 1, flush_bytes));
    CK(cudaMalloc(&sink, sizeof(int)));
    const Case timed[] = {
        {"canon_1", 1, 8, 128, 64, 0, sc, 1.f},
        {"canon_5", 1, 4, 500, 64, 1, sc, 1.f},
        {"canon_6", 16, 16, 512, 64, 0, sc, 1.f},
        {"canon_3", 2, 8, 512, 64, 0, sc, 1.f},
        {"canon_2", 2, 8, 512, 64, 1, sc, 1.f},
        {"canon_4", 4, 16, 2048, 128, 1, sc128, 1.f},
        {"canon_4", 4, 16, 2048, 128, 1, sc128, 1.f},  // twice more: the D = 128 entries
        {"canon_4", 4, 16, 2048, 128, 1, sc128, 1.f},  // interleaved, against clock drift
    };
    // FA_WG_SWEEP=b1,b2,...: time canon_6 at these batch sizes instead (how the time per
    // work unit changes with the grid's waves).
    if (const char* sweep = getenv("FA_WG_SWEEP")) {
        for (const char* p = sweep; *p;) {
            const int b = atoi(p);
            if (b > 0) {
                const Case c{"sweep", b, 16, 512, 64, 0, sc, 1.f};
                time_case(c, 99, flush_buf, flush_bytes / sizeof(int4), sink);
            }
            while (*p && *p != ',') ++p;
            if (*p == ',') ++p;
        }
    } else {
        for (const Case& c : timed) time_case(c, 99, flush_buf, flush_bytes / sizeof(int4), sink);
    }
    CK(cudaFree(flush_buf));
    CK(cudaFree(sink));
    CK(cudaDeviceSynchronize());
    return all_ok ? 0 : 1;
}
