// sync_race_smem: negative control for the racecheck gate.
// Bug: in block (0,0,0) no __syncthreads() between storing a K/V tile into shared memory and other
// warps reading it: cross-warp read-after-write hazards on k_s/v_s (thread t stores elements that
// all four warps read), so racecheck reports them on any shape, B1 H8 S128 D64 included.
// Only one block skips the barrier: with every block racing, racecheck printed 150,000 lines in
// 90 s on the H100 and did not finish; one block keeps the report small and the run short.
#include "common.cuh"

struct SyncRaceSmem : st::Correct {
    __device__ static void sync_tile_stored() {
        if (blockIdx.x | blockIdx.y | blockIdx.z) __syncthreads();  // PLANTED BUG: block (0,0,0) skips the barrier
    }
};

ST_ATTENTION_ENTRY(sync_race_smem_fwd, SyncRaceSmem)
