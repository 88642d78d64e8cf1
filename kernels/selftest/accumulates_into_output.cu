// accumulates_into_output: negative control for the oracle gate.
// Bug: O += result instead of O = result. That only works if O starts at zero. The oracle
// poisons O with NaN, so every output element comes out NaN.
#include "common.cuh"

struct AccumulatesIntoOutput : st::Correct {
    __device__ static void store(__half* O, size_t idx, size_t total, int D, float v) {
        O[idx] = __hadd(O[idx], __float2half_rn(v));  // PLANTED BUG: should be O[idx] = v (reads old O)
    }
};

ST_ATTENTION_ENTRY(accumulates_into_output_fwd, AccumulatesIntoOutput)
