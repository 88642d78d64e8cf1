// spills_registers: negative control for the inspect gate (sass-inspect).
// Bug: __maxnreg__(32) caps the kernel at 32 registers per thread. The correct kernel needs ~80-96
// (four rows' online-softmax state: 16 accumulators + 4 maxima + 4 sums, plus addresses and the
// unrolled dot product), so ptxas spills to local memory: nonzero "spill stores" in -Xptxas -v,
// STL/LDL in the SASS, on sm_80, sm_89 and sm_90 alike. Results are still correct.
// (__maxnreg__ rather than __launch_bounds__(128, 16): on sm_89 (max 1536 threads/SM) ptxas
// ignores a min-blocks value that asks for more than 12 CTAs of 128 threads, and then it doesn't
// spill. __maxnreg__ needs CUDA 12.4+; we pin 13.0.)
#include "common.cuh"

extern "C" __global__ void
__maxnreg__(32)  // PLANTED BUG: 32-register cap -> register spills (correct: __launch_bounds__(st::kThreads))
spills_registers_fwd(const __half* Q, const __half* K, const __half* V, __half* O, int B, int H,
                     int S, int D, float softmax_scale, int causal) {
    st::attention<st::Correct>(Q, K, V, O, B, H, S, D, softmax_scale, causal);
}
