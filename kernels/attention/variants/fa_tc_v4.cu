// fa_tc_v4 -- as fa_tc_v2 plus an in-CTA key split: block_m 64, 8 warps; warps 0-3 take the
// even key tiles, warps 4-7 the odd ones, merged deterministically at the end.  Halves each
// warp's serial chain of tiles (the critical path of the one-wave canon_2/canon_3 grids).
// Body: fa_tc_core.cuh.  Manifest: fa_tc_v4.toml.
#include "fa_tc_core.cuh"
FA_TCV_ENTRY(fa_tc_v4_fwd_d64, 64, 4, 2, 1)    // ~142 registers: 1 CTA/SM (8 warps)
FA_TCV_ENTRY(fa_tc_v4_fwd_d128, 128, 4, 2, 1)
