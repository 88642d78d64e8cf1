// fa_tc.cu -- FlashAttention-2 style attention forward on tensor cores (mma.sync, sm_80+;
// wgmma and TMA on sm_90a).  Shipped version v20 (v1 lives on as variants/fa_tc_v1.cu; history and
// numbers in NOTES.md).  Six entries; fa_tc.toml says which runs:
//   fa_tc_fwd_d64, fa_tc_fwd_d128   the default launch per head dim (v5, described below;
//                                   v11 changes the softmax at D = 128);
//   fa_tc_fwd_d64_small_grid        [[launch_rule]] small_grid: D = 64, small grids (v6);
//   fa_tc_fwd_d64_wgmma_tma         [[launch_rule]] wgmma_tma: D = 64, 199 or more default
//                                   CTAs, sm_90a cubins only, ABI attention_fwd_tma_v1 (K and
//                                   V as tensor maps; v13, body of v18);
//   fa_tc_fwd_d128_wgmma            [[launch_rule]] wgmma_d128: D = 128, sm_90a cubins only;
//   fa_tc_fwd_d64_wgmma_ks2         [[launch_rule]] wgmma_ks2: D = 64, 64..198 default CTAs,
//                                   sm_90a cubins only (v12, body of v20).
// All take ABI attention_fwd_v1 but fa_tc_fwd_d64_wgmma_tma (kernels/README.md, "ABIs").
// The four launch rules are at the end of this file.
//
// The default launch: one entry per head dim (fa_tc.toml, [entry_by_head_dim]):
//   extern "C" __global__ void fa_tc_fwd_d64 (const __half* Q, const __half* K,
//                                             const __half* V, __half* O, int B, int H,
//                                             int S, int D, float softmax_scale, int causal);
//   extern "C" __global__ void fa_tc_fwd_d128(... same parameters ...);
//   Q, K, V, O: [B, H, S, D] contiguous row-major fp16.
//   grid (ceil(S / 64), H, B), block (128, 1, 1); causal != 0 masks key j > query i.
//   Each entry returns at once if D is not its head dim.
//   dynamic shared memory: 57344 bytes at D = 64, 81920 bytes at D = 128.
//
// Design.  The body is variants/fa_tc_core.cuh with the schedule of variant v2 (block_m 64,
// 4 warps, no key split): mma.sync m16n8k16 with fp32 accumulation, ldmatrix fragments,
// XOR-swizzled tiles, ex2.approx online softmax, cp.async ring with one __syncthreads per
// 64-key tile, reversed causal block order.  Algorithm, fragment layouts, swizzle and masks
// are documented in variants/fa_tc_v1.cu; the pipeline in variants/fa_tc_core.cuh.
// What v5 adds over v2 is a stage count per head dim, chosen so that every entry launches
// on sm_80, sm_89 and sm_90 (min_arch sm_80; sm_89 allows 99 KiB of shared memory per block):
//   D = 64 : 3 stages (loads two tiles ahead): Q 8 KiB + 3 x (K + V) 48 KiB  = 57344 B
//   D = 128: 2 stages (loads one tile ahead):  Q 16 KiB + 2 x (K + V) 64 KiB = 81920 B
//   (v2 used 3 stages at D = 128: 114688 B, which sm_89 cannot launch.)
// __launch_bounds__ min blocks: 3 at D = 64 (keeps registers <= 168: 3 CTAs/SM on H100),
// 2 at D = 128.
#include "variants/fa_tc_core.cuh"
#include "variants/wgmma/fa_wg_core.cuh"
#include "variants/wgmma/fa_wg_tma.cuh"
#include "variants/wgmma/fa_wg_tma_n128.cuh"
#include "variants/wgmma/fa_wg_parts.cuh"

//              name           D    RW SPLIT stages min CTAs/SM
FA_TCV_ENTRY_NS(fa_tc_fwd_d64, 64, 4, 1, 3, 3)
// v11: at D = 128 the softmax takes fa_common::softmax_tile's POS schedule when
// softmax_scale > 0 (max over raw scores, each exponent one FFMA: one FMUL per score less;
// other scales keep v5's scale-first softmax); no lazy rescale.  NOTES.md, v11.
//                name            D    RW SPLIT stages min CTAs/SM lazy
FA_TCV_ENTRY_FAST(fa_tc_fwd_d128, 128, 4, 1,    2,     2,          false)

// The small-grid launch (fa_tc.toml, [[launch_rule]] "small_grid"; variant v6 in NOTES.md):
// D = 64, block_m 32 (2 row warps) x 2 key groups, 128 threads, 2 stages, 69632 B.  Twice
// the CTAs of the default launch, each warp's serial chain half as long, plus a merge of
// the two key groups through shared memory.  Chosen by the manifest when the default grid
// is small (canon_3: 128 CTAs on 132 SMs); SASS identical to variants/fa_tc_v6.cu's entry.
FA_TCV_ENTRY_NS(fa_tc_fwd_d64_small_grid, 64, 2, 2, 2, 3)

// The sm_90a launch at D = 128 (fa_tc.toml, [[launch_rule]] "wgmma_d128"; NOTES.md, v10):
// one warpgroup per 64 query rows, wgmma (HGMMA) for Q K^T and P V, 64-key tiles, a 3-stage
// cp.async ring, 128 threads.  Body: variants/wgmma/fa_wg_core.cuh, the same template
// arguments as the prototype's fa_wg_pipe_fwd_d128: 114688 B, 2 CTAs/SM, lazy rescale, PV(t)
// in flight under the issue of S(t+1).  Compiled for any other arch it is a stub that traps
// (as are the other sm_90a entries): the manifest's rules name it for sm_90a cubins only.
//          name                  D    BN  NS lazy  pipe   min CTAs/SM
FA_WG_ENTRY(fa_tc_fwd_d128_wgmma, 128, 64, 3, true, true,  2)
// v13: [[launch_rule]] wgmma_tma, D = 64 grids of 199 or more default CTAs on sm_90a (canon_6):
// one warpgroup per 64 query rows with K and V brought in by the Tensor Memory Accelerator
// (one thread issues the bulk tensor copies into mbarrier-guarded shared memory; Q by
// cp.async).  ABI attention_fwd_tma_v1: the runtime passes K and V as tensor maps (box 64 x
// 64, 128-byte swizzle) it encodes itself.  v18 changed the body to 128-key tiles at 4
// CTAs/SM (variants/wgmma/fa_wg_tma_n128.cuh: one K and one V slot of 16 KiB, K(t+1) loaded
// under the softmax and P V of tile t; 128 registers; the same 40976 B): v13's 64-key body
// (fa_wg_tma.cuh, 2 stages, 5 CTAs/SM) spent twice the per-tile work per key.
//                   name                     BN   lazy  early K  min CTAs/SM
FA_WG_TMA_N128_ENTRY(fa_tc_fwd_d64_wgmma_tma, 128, true, true,    4)
// v12: [[launch_rule]] wgmma_ks2, D = 64 grids of 64..198 default CTAs on sm_90a (about one
// CTA per SM: canon_3, canon_2): two warpgroups (256 threads) on the same 64 query rows,
// each computing every other 128-key tile from its own cp.async loads (2 stages of its K and
// V), merged through shared memory at the end; eager rescale, 139264 B, 1 CTA/SM.  v19
// changed the body to variants/wgmma/fa_wg_parts.cuh (the prototype's fa_ks2xp): the loads
// of step 1 issued under the first S wgmma, a tile's P V issued with the next tile's S, the
// two warpgroups taking turns at the tensor cores (named barriers 3 and 4), the first tile's
// softmax without a rescale, and an epilogue shared by both warpgroups (each merges and
// stores half of O's columns); v12's body was fa_wg_core.cuh's fwd with KS 2 and own loads.
// v20 rolls the key loop (ROLL: turn 0 and the first softmax are no longer code of their
// own): with every cache invalidated before the launch v19 took ~11.5 us at canon_3, half its
// issue slots stalled on instruction fetch; v20 ~8.1 us, and the same time as v19 otherwise.
//                  name                     lazy   ping-pong roll
FA_WG_PARTS_ENTRY_R(fa_tc_fwd_d64_wgmma_ks2, false, true,     true)

static_assert(fa_tcv::Cfg<64, 4, 1, 3>::kSmemBytes == 57344, "fa_tc.toml: D=64 smem");
static_assert(fa_tcv::Cfg<128, 4, 1, 2>::kSmemBytes == 81920, "fa_tc.toml: D=128 smem");
static_assert(fa_tcv::Cfg<128, 4, 1, 2>::kSmemBytes <= 99 * 1024, "sm_89: 99 KiB per block");
static_assert(fa_tcv::Cfg<64, 2, 2, 2>::kSmemBytes == 69632, "fa_tc.toml: small_grid smem");
static_assert(FA_WG_SMEM_BYTES(128, 64, 3) == 114688, "fa_tc.toml: wgmma_d128 smem");
static_assert(FA_WG_PARTS_SMEM_BYTES == 139264, "fa_tc.toml: wgmma_ks2 smem");
static_assert(FA_WG_TMA_N128_SMEM_BYTES(64, 128) == 40976, "fa_tc.toml: wgmma_tma smem");
