// traps: a kernel that traps, for the hardening tests of the GPU tools (issue 11).
// Bug: the thread that stores O[0] executes `trap` first, so every launch ends with a
// launch failure and leaves the context unusable. The oracle must fail it (exit 1, the
// driver's error named), the bench must refuse to time it, and neither may panic.
// It lives in hardening/, outside the folder `oracle --controls` scans: a trapping
// launch would end that run's other controls.
#include "../common.cuh"

struct Traps : st::Correct {
    __device__ static void store(__half* O, size_t idx, size_t total, int D, float v) {
        if (idx == 0) __trap();  // PLANTED BUG: trap
        O[idx] = __float2half_rn(v);
    }
};

ST_ATTENTION_ENTRY(traps_fwd, Traps)
