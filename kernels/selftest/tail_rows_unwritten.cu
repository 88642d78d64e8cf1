// tail_rows_unwritten: negative control for the oracle gate (S not a multiple of 16).
// Bug: the rows of the last, partial 16-row tile are neither computed nor written, so they keep
// the oracle's NaN poison. With S % 16 == 0 the output is correct.
#include "common.cuh"

struct TailRowsUnwritten : st::Correct {
    __device__ static int row_end(int S) {
        return S - S % st::kBlockM;  // PLANTED BUG: should be S; drops the partial last tile
    }
};

ST_ATTENTION_ENTRY(tail_rows_unwritten_fwd, TailRowsUnwritten)
