// fa_wg_tma.cu -- the TMA prototype (fa_wg_tma.cuh) as a kernel the tools can run: ABI
// attention_fwd_tma_v1 (K and V as tensor maps the kernel runtime encodes), manifest
// fa_wg_tma.toml, configs tma_canon_{6,4}.toml beside it. sm_90a only: built for another
// arch the entries trap.
#include "fa_wg_tma.cuh"

//              name                D    BN  NS lazy  min CTAs/SM
FA_WG_TMA_ENTRY(fa_wg_tma_fwd_d64,  64,  64, 2, true, 5)
FA_WG_TMA_ENTRY(fa_wg_tma_fwd_d128, 128, 64, 3, true, 2)

static_assert(FA_WG_TMA_SMEM_BYTES(64, 64, 2) == 40976, "fa_wg_tma.toml: D=64 smem");
static_assert(FA_WG_TMA_SMEM_BYTES(128, 64, 3) == 114712, "fa_wg_tma.toml: D=128 smem");
