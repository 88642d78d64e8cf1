// divergent_barrier: negative control for the synccheck gate.
//
// Bug: after the output is stored, a __syncthreads() inside a branch that only threads 0..47 of
// the 128-thread block take, while threads 48..127 go on to a *different* __syncthreads(). Warp 1
// is split between the two barrier instructions (lanes 0..15 at the first, 16..31 at the second),
// so synccheck must report a barrier error ("Divergent thread(s) in warp/block").
//
// First version (kept in git history): the divergent barrier was the kernel's last statement, so
// ptxas placed `@P0 EXIT` before `BAR.SYNC` and the skipping threads had exited; on the H100
// synccheck (2025.3.1) reported 0 errors for it. Here the skipping threads stay alive at another
// barrier. No deadlock: all 128 threads arrive at barrier 0 (at two instructions), then threads
// 0..47 arrive at the second one while the others exit.
// Attention output is already stored, so it is correct.
#include "common.cuh"

struct DivergentBarrier : st::Correct {
    __device__ static void epilogue() {
        if (threadIdx.x < 48) __syncthreads();  // PLANTED BUG: barrier inside a branch only threads 0..47 take
        __syncthreads();
    }
};

ST_ATTENTION_ENTRY(divergent_barrier_fwd, DivergentBarrier)
