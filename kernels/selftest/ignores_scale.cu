// ignores_scale: negative control for the oracle gate (configs with softmax_scale != 1/sqrt(D)).
// Bug: the softmax_scale argument is ignored in favour of 1/sqrt(D).
#include "common.cuh"

struct IgnoresScale : st::Correct {
    __device__ static float scale(float softmax_scale, int D) {
        return rsqrtf((float)D);  // PLANTED BUG: should return softmax_scale
    }
};

ST_ATTENTION_ENTRY(ignores_scale_fwd, IgnoresScale)
