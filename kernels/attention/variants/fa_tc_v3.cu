// fa_tc_v3 -- as fa_tc_v2 with block_m 128 (8 warps x 16 rows): every K/V tile brought
// into shared memory serves twice the query rows, halving L2->SM traffic.
// Body: fa_tc_core.cuh.  Manifest: fa_tc_v3.toml.
#include "fa_tc_core.cuh"
FA_TCV_ENTRY(fa_tc_v3_fwd_d64, 64, 8, 1, 1)    // ~142 registers: 1 CTA/SM (8 warps)
FA_TCV_ENTRY(fa_tc_v3_fwd_d128, 128, 8, 1, 1)
