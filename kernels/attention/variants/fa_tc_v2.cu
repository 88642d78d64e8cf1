// fa_tc_v2 -- fa_tc with one entry per head dim, a 3-stage cp.async ring (loads two tiles
// ahead, one barrier per tile), reversed causal block order.  block_m 64, 4 warps.
// Body: fa_tc_core.cuh (read it and fa_tc_v1.cu).  Manifest: fa_tc_v2.toml.
#include "fa_tc_core.cuh"
FA_TCV_ENTRY(fa_tc_v2_fwd_d64, 64, 4, 1, 3)    // <= 168 registers: 3 CTAs/SM
FA_TCV_ENTRY(fa_tc_v2_fwd_d128, 128, 4, 1, 2)
