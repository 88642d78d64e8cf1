// causal_off_by_one: negative control for the oracle gate (causal configs).
// Bug: the causal mask also hides the diagonal (j < i instead of j <= i). Every row is wrong, and
// row 0 has no visible key at all (0/0 = NaN). Non-causal runs are unaffected.
#include "common.cuh"

struct CausalOffByOne : st::Correct {
    __device__ static bool visible(int i, int j) {
        return j < i;  // PLANTED BUG: should be j <= i (the diagonal is visible)
    }
};

ST_ATTENTION_ENTRY(causal_off_by_one_fwd, CausalOffByOne)
