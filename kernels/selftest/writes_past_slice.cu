// writes_past_slice: negative control for the oracle gate (its guard band past O).
// Bug: the last row of the last (b, h) slice is also stored one row further on, at row S of that
// slice, which is the D elements (128 or 256 bytes) right after the end of O. O itself stays fully
// correct, so only the oracle's guard band past O can catch this. It is a near write on purpose:
// far out-of-bounds writes are oob_write_far's job (memcheck).
#include "common.cuh"

struct WritesPastSlice : st::Correct {
    __device__ static void store(__half* O, size_t idx, size_t total, int D, float v) {
        O[idx] = __float2half_rn(v);
        if (idx + D >= total) O[idx + D] = __float2half_rn(v);  // PLANTED BUG: last row also written at row S, past O
    }
};

ST_ATTENTION_ENTRY(writes_past_slice_fwd, WritesPastSlice)
