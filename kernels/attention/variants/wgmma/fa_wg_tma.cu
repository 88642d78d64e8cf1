// fa_wg_tma.cu -- the TMA prototype (fa_wg_tma.cuh) as a kernel the tools can run: ABI
// attention_fwd_tma_v1 (K and V as tensor maps the kernel runtime encodes), manifest
// fa_wg_tma.toml, configs tma_canon_{6,4}.toml beside it. sm_90a only: built for another
// arch the entries trap.
// D = 64 runs v18's candidate (fa_wg_tma_kv2.cuh: 128-key tiles, one K and one V slot, 4
// CTAs/SM) through the real oracle and bench before fa_tc takes it (NOTES.md, v18).
#include "fa_wg_tma.cuh"
#include "fa_wg_tma_kv2.cuh"

//                  name               BN   lazy  early K  min CTAs/SM
FA_WG_TMA_KV2_ENTRY(fa_wg_tma_fwd_d64, 128, true, true,    4)
//              name                D    BN  NS lazy  min CTAs/SM
FA_WG_TMA_ENTRY(fa_wg_tma_fwd_d128, 128, 64, 3, true, 2)

static_assert(FA_WG_TMA_KV2_SMEM_BYTES(64, 128) == 40976, "fa_wg_tma.toml: D=64 smem");
static_assert(FA_WG_TMA_SMEM_BYTES(128, 64, 3) == 114712, "fa_wg_tma.toml: D=128 smem");
