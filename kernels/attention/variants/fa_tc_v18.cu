// fa_tc_v18.cu -- fa_tc's v18 wgmma_ks2 body (v12's: fa_wg_core.cuh with two warpgroups each
// computing every other 128-key tile, merged through shared memory) kept beside the shipped
// v20 (fa_wg_parts.cuh, rolled).  Set against v19 and v20 with caches invalidated or not
// (NOTES.md, v20; device stages `icache`, `icachebench`).
// Manifest fa_tc_v18.toml: fa_tc's D = 64 default entry and its wgmma_ks2 launch rule only.
#include "fa_tc_core.cuh"
#include "wgmma/fa_wg_core.cuh"

//              name              D   RW SPLIT stages min CTAs/SM
FA_TCV_ENTRY_NS(fa_tc_v18_fwd_d64, 64, 4, 1, 3, 3)
//            name                         D   BN   NS lazy   pipe   WG KS own   min CTAs/SM
FA_WG_ENTRY_X(fa_tc_v18_fwd_d64_wgmma_ks2, 64, 128, 2, false, false, 1, 2, true, 1)

static_assert(FA_WG_SMEM_BYTES_WG(64, 128, 2, 1, 2) == 139264, "fa_tc_v18.toml: wgmma_ks2 smem");
