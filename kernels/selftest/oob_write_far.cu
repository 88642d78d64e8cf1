// oob_write_far: negative control for the memcheck gate.
// Bug: the thread that stores O[0] also stores one fp16 value 16 MiB past the end of O, far
// outside O and any guard band the oracle adds, so memcheck reports an invalid __global__ write.
// Exactly one thread in the grid does it, on every launch, whatever the shape.
#include "common.cuh"

struct OobWriteFar : st::Correct {
    static constexpr size_t kFar = (size_t(16) << 20) / sizeof(__half);  // 16 MiB, in elements
    __device__ static void store(__half* O, size_t idx, size_t total, int D, float v) {
        O[idx] = __float2half_rn(v);
        if (idx == 0) O[total + kFar] = __float2half_rn(v);  // PLANTED BUG: write 16 MiB past the end of O
    }
};

ST_ATTENTION_ENTRY(oob_write_far_fwd, OobWriteFar)
