// fa_tc_v19.cu -- fa_tc's v19 wgmma_ks2 body kept beside the shipped v20 (which rolls its key
// loop, fa_wg_parts.cuh ROLL): v19 runs turn 0, the first softmax and the loop body as code
// of their own.  The same in the bench (L2 flushed); with every cache invalidated before the
// launch (Nsight Compute's default) ~11.5 us at canon_3 against v20's ~8.1, half its issue
// slots stalled on instruction fetch (NOTES.md, v20).  Device stage `icache`.
// Manifest fa_tc_v19.toml: fa_tc's D = 64 default entry and its wgmma_ks2 launch rule only.
#include "fa_tc_core.cuh"
#include "wgmma/fa_wg_parts.cuh"

//              name              D   RW SPLIT stages min CTAs/SM
FA_TCV_ENTRY_NS(fa_tc_v19_fwd_d64, 64, 4, 1, 3, 3)
//                name                         lazy   ping-pong
FA_WG_PARTS_ENTRY(fa_tc_v19_fwd_d64_wgmma_ks2, false, true)
