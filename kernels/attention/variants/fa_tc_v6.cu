// fa_tc_v6 -- a small-grid schedule at D = 64: block_m 32 (2 row warps) and an in-CTA key
// split (2 key groups), 4 warps, 2 stages.  At canon_3 (B2 H8 S512) that is 256 CTAs, about
// 2 per SM, so 8 warps per SM where v5 has 4, and each warp's serial chain is 4 key tiles
// instead of 8; the price is twice the K/V tile loads per query row and a merge.  D = 64 only
// (its manifest): D = 128 must keep 64 rows per CTA, which one manifest-level block_m cannot
// say yet.  Body: fa_tc_core.cuh.  Manifest: fa_tc_v6.toml.  Prediction and result: ../NOTES.md.
#include "fa_tc_core.cuh"
FA_TCV_ENTRY_NS(fa_tc_v6_fwd_d64, 64, 2, 2, 2, 3)  // <= 168 registers: 3 CTAs/SM (69632 B each)
