// tma_race: a probe of the racecheck gate on TMA and wgmma code (not a control: no [control]
// section, so no gate runs it on its own; scripts/device-run.sh stage `tmaprobe` does).
// Body: fa_tc's wgmma_tma launch (fa_wg_tma.cuh, same template arguments) with one planted
// bug: in block (0,0,0) the barrier after each key tile is skipped, so tid 0 refills the
// stage of tile t-1 (a bulk tensor copy: async-proxy writes) with nothing ordering it after
// the other warps' wgmmas that read that stage (async-proxy reads).  Racecheck instruments
// the threads' shared-memory instructions; whether it also sees the Tensor Memory
// Accelerator's writes and the tensor cores' descriptor reads is what this measures.  (On
// hardware the hazard rarely shows: a warpgroup's wgmma completes for its four warps
// together, so the output is usually right; the missing barrier is a race all the same.)
// PLANTED BUG: block (0,0,0) skips the barrier after each key tile.
#define FA_WG_TMA_AFTER_TILE() \
    if (blockIdx.x | blockIdx.y | blockIdx.z) __syncthreads()
#include "../../attention/variants/wgmma/fa_wg_tma.cuh"

//              name          D   BN  NS lazy  min CTAs/SM
FA_WG_TMA_ENTRY(tma_race_fwd, 64, 64, 2, true, 5)

static_assert(FA_WG_TMA_SMEM_BYTES(64, 64, 2) == 40976, "tma_race.toml: smem");
