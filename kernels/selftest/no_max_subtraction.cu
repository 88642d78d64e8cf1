// no_max_subtraction: negative control for the oracle gate.
// Bug: the running max is pinned at 0, so p = exp(s) with no max subtracted. This is exact math
// (the rescale factor is exp(0) = 1), so it passes on unit-scale inputs. With large-magnitude
// inputs (x8), exp(s) overflows fp32 once s > 88.7: inf/inf = NaN or inf in the output.
#include "common.cuh"

struct NoMaxSubtraction : st::Correct {
    __device__ static float running_max(float m_old, float tile_max) {
        return 0.f;  // PLANTED BUG: should be fmaxf(m_old, tile_max); softmax computes exp(s) unshifted
    }
};

ST_ATTENTION_ENTRY(no_max_subtraction_fwd, NoMaxSubtraction)
