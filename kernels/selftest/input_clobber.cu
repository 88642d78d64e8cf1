// input_clobber: negative control for the oracle gate (input-unchanged check).
// Bug: once its Q rows are in shared memory, each CTA overwrites the first element of its own Q
// tile with NaN (casting away const). No other CTA reads those rows, and this CTA has finished
// reading them, so the output is still correct. Only the check that inputs are unchanged can
// catch it. On a re-run with the same buffers the NaN shows up in the output too.
#include "common.cuh"

struct InputClobber : st::Correct {
    __device__ static void q_tile_read(const __half* Q, size_t q_tile) {
        if (threadIdx.x == 0) const_cast<__half*>(Q)[q_tile] = __ushort_as_half(0x7e00);  // PLANTED BUG: writes NaN into input Q
    }
};

ST_ATTENTION_ENTRY(input_clobber_fwd, InputClobber)
