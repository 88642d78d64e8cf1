// divergent_barrier: negative control for the synccheck gate.
//
// Bug: a warp barrier inside a branch whose mask leaves out threads that reach it. Threads
// 0..47 take the branch and call __syncwarp(0x0000ffff): in warp 0, lanes 16..31 execute the
// barrier without being named in its mask. compute-sanitizer's synccheck documents this case
// ("not all threads reaching a __syncwarp() declare themselves in the mask") as a barrier error
// with invalid arguments.
//
// History, measured on the H100 with synccheck 2025.3.1 (the reason this control looks as it does):
// 1. `if (threadIdx.x < 48) __syncthreads();` as the kernel's last statement: ptxas placed
//    `@P0 EXIT` before `BAR.SYNC`, the skipping threads had exited, and synccheck reported 0 errors.
// 2. The same branch followed by a second `__syncthreads()` for everyone: the block deadlocked
//    (synccheck timed out after 150 s).
// Attention output is already stored, so it is correct.
#include "common.cuh"

struct DivergentBarrier : st::Correct {
    __device__ static void epilogue() {
        if (threadIdx.x < 48) __syncwarp(0x0000ffffu);  // PLANTED BUG: lanes 16..31 of warp 0 reach a barrier whose mask omits them
    }
};

ST_ATTENTION_ENTRY(divergent_barrier_fwd, DivergentBarrier)
