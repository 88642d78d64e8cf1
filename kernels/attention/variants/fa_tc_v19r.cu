// fa_tc_v19r.cu -- PROTOTYPE: fa_tc's v19 wgmma_ks2 body with one rolled key loop
// (fa_wg_parts.cuh, ROLL): turn 0 and the first softmax are no longer separate code, so the
// instructions a launch runs once are fewer.  Why: with every cache invalidated before the
// launch (Nsight Compute's default), v19's body took ~11.5 us at canon_3 against v18's ~8.5,
// half its issue slots stalled on "no instruction" (NOTES.md, v19, the instruction caches).
// Manifest fa_tc_v19r.toml: fa_tc's D = 64 default entry and its wgmma_ks2 launch rule only.
#include "fa_tc_core.cuh"
#include "wgmma/fa_wg_parts.cuh"

//              name               D   RW SPLIT stages min CTAs/SM
FA_TCV_ENTRY_NS(fa_tc_v19r_fwd_d64, 64, 4, 1, 3, 3)
//                  name                          lazy   ping-pong roll
FA_WG_PARTS_ENTRY_R(fa_tc_v19r_fwd_d64_wgmma_ks2, false, true,     true)
