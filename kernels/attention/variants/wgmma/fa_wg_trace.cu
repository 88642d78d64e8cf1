// fa_wg_trace.cu -- where the time of one launch goes: the phase marks of the trace build
// (fa_wg_core.cuh, FA_WG_TRACE) of the key-part entries at canon_3 (B 2, H 8, S 512, D 64,
// non-causal, scale 1/8), hot (inputs in L2 from the launch before) and cold (L2 flushed by
// reading a 256 MiB buffer first).  A measurement tool of the prototype (NOTES.md, v19), not
// a gate: the marks' global stores perturb the kernel a little, and its outputs are not
// checked (fa_wg_selfcheck.cu checks the same bodies built without marks).
//
// Build (from the repository root):
//   nvcc -gencode=arch=compute_90a,code=sm_90a -O3 -lineinfo -DFA_WG_TRACE=1 \
//        -o /tmp/fa_wg_trace kernels/attention/variants/wgmma/fa_wg_trace.cu
//   (with the pinned toolchain here add -L.toolchain/cuda/nvidia/cu13/lib)
// Run: /tmp/fa_wg_trace [samples per mode, default 40]
//
// Output, per entry and mode: the launch's event time (median), then per mark the median and
// p90 over samples x CTAs of (mark time - the launch's first CTA entry), in ns from
// %globaltimer, and the median over samples x CTAs of (mark - the same warpgroup's entry) in
// SM clocks (clock64), for warpgroup 0 and warpgroup 1 (a mark a body does not record is
// left out).  Mark names are the body's (below).
#ifndef FA_WG_TRACE
#define FA_WG_TRACE 1
#endif
#include "fa_wg.cu"
#include "fa_wg_parts.cuh"
#include "fa_wg_host.cuh"  // CK, fa_entry_t, flush_l2_kernel

#include <cuda_runtime.h>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

FA_WG_PARTS_ENTRY(fa_trace_xp_fwd_d64, false, true)

struct Traced {
    const char* name;
    fa_entry_t fn;
    const char* marks[FA_WG_TRACE_MARKS];
};

static double pct(std::vector<double> v, double q) {
    if (v.empty()) return NAN;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<size_t>(q * (v.size() - 1) + 0.5))];
}

int main(int argc, char** argv) {
    const int samples = argc > 1 ? atoi(argv[1]) : 40;
    const int B = 2, H = 8, S = 512, D = 64;
    const float scale = 0.125f;
    const size_t n = static_cast<size_t>(B) * H * S * D;
    std::vector<__half> h(n);
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> U(-1.f, 1.f);
    __half *q, *k, *v, *o;
    CK(cudaMalloc(&q, n * 2));
    CK(cudaMalloc(&k, n * 2));
    CK(cudaMalloc(&v, n * 2));
    CK(cudaMalloc(&o, n * 2));
    for (__half* p : {q, k, v}) {
        for (auto& x : h) x = __float2half(U(rng));
        CK(cudaMemcpy(p, h.data(), n * 2, cudaMemcpyHostToDevice));
    }
    const size_t flush_bytes = 256ull << 20;
    int4* flush;
    int* sink;
    CK(cudaMalloc(&flush, flush_bytes));
    CK(cudaMemset(flush, 1, flush_bytes));
    CK(cudaMalloc(&sink, 4));
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));

    const int smem = FA_WG_PARTS_SMEM_BYTES;
    const Traced entries[] = {
        {"fa_ks2n128eo (fa_tc wgmma_ks2)", fa_ks2n128eo_fwd_d64,
         {"entry", "Q+step0 landed", "S0 done", "softmax0 done", "PV0 done", "S1 done",
          "softmax1 done", "PV1 done", "step1 landed", "step barrier 1", "loop done",
          "merged", "stored", nullptr, "O staged", "O stores issued"}},
        {"fa_ks2xp (fa_wg_parts.cuh, ping-pong)", fa_trace_xp_fwd_d64,
         {"entry", "Q+step0 landed", "turn0", "S0 done", "softmax0 done", "step1 landed",
          "turn1", "PV0+S1 done", "softmax1 done", "merge barrier 1", "last PV done",
          "merged", "stored", "merge barrier 2", "O staged", "O stores issued"}},
    };
    const int grid_x = S / 64, ctas = grid_x * H * B;
    const size_t slots = static_cast<size_t>(FA_WG_TRACE_CTAS) * 4 * FA_WG_TRACE_MARKS;
    std::vector<unsigned long long> ns(slots);
    std::vector<long long> clk(slots);
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    printf("device %s, canon_3 (B%d H%d S%d D%d nc), %d CTAs, %d B shared\n", prop.name, B, H,
           S, D, ctas, smem);
    for (const Traced& t : entries) {
        CK(cudaFuncSetAttribute(t.fn, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
        for (int cold = 0; cold < 2; ++cold) {
            std::vector<double> ev;
            std::vector<std::vector<double>> rel(FA_WG_TRACE_MARKS), cyc0(FA_WG_TRACE_MARKS),
                cyc1(FA_WG_TRACE_MARKS);
            for (int it = 0; it < samples + 3; ++it) {
                std::vector<unsigned long long> zero(slots, 0);
                CK(cudaMemcpyToSymbol(fa_wg_trace_ns, zero.data(), slots * 8));
                if (cold) {
                    flush_l2_kernel<<<1024, 256>>>(flush, flush_bytes / 16, sink);
                } else {
                    t.fn<<<dim3(grid_x, H, B), 256, smem>>>(q, k, v, o, B, H, S, D, scale, 0);
                }
                CK(cudaEventRecord(e0));
                t.fn<<<dim3(grid_x, H, B), 256, smem>>>(q, k, v, o, B, H, S, D, scale, 0);
                CK(cudaEventRecord(e1));
                CK(cudaEventSynchronize(e1));
                CK(cudaGetLastError());
                if (it < 3) continue;  // warm-up
                float ms;
                CK(cudaEventElapsedTime(&ms, e0, e1));
                ev.push_back(ms * 1e3);
                CK(cudaMemcpyFromSymbol(ns.data(), fa_wg_trace_ns, slots * 8));
                CK(cudaMemcpyFromSymbol(clk.data(), fa_wg_trace_clk, slots * 8));
                unsigned long long first = ~0ull;
                for (int c = 0; c < ctas; ++c) {
                    const unsigned long long e = ns[(static_cast<size_t>(c) * 4) * FA_WG_TRACE_MARKS];
                    if (e) first = std::min(first, e);
                }
                for (int c = 0; c < ctas; ++c) {
                    for (int w = 0; w < 2; ++w) {
                        const size_t b = (static_cast<size_t>(c) * 4 + w) * FA_WG_TRACE_MARKS;
                        for (int m = 0; m < FA_WG_TRACE_MARKS; ++m) {
                            if (!ns[b + m] || !ns[b]) continue;
                            if (w == 0) rel[m].push_back(static_cast<double>(ns[b + m] - first));
                            (w == 0 ? cyc0 : cyc1)[m].push_back(static_cast<double>(clk[b + m] - clk[b]));
                        }
                    }
                }
            }
            printf("\n%s, %s: event time p50 %.2f us (%d samples)\n", t.name, cold ? "cold" : "hot",
                   pct(ev, 0.5), samples);
            printf("  %-18s %10s %10s %12s %12s\n", "mark", "p50_ns", "p90_ns", "wg0_clk_p50",
                   "wg1_clk_p50");
            for (int m = 0; m < FA_WG_TRACE_MARKS; ++m) {
                if (!t.marks[m] || (rel[m].empty() && cyc1[m].empty())) continue;
                printf("  %-18s %10.0f %10.0f %12.0f %12.0f\n", t.marks[m], pct(rel[m], 0.5),
                       pct(rel[m], 0.9), pct(cyc0[m], 0.5), pct(cyc1[m], 0.5));
            }
        }
    }
    return 0;
}
