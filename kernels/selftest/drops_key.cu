// drops_key: negative control for the oracle gate.
// Bug: the last key (j = S-1) is never loaded or scored. Non-causal: every row is wrong;
// causal: row S-1 loses its diagonal term.
#include "common.cuh"

struct DropsKey : st::Correct {
    __device__ static int key_end(int S) {
        return S - 1;  // PLANTED BUG: keys are j < S - 1 instead of j < S
    }
};

ST_ATTENTION_ENTRY(drops_key_fwd, DropsKey)
