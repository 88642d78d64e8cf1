// fa_wg.cu -- PROTOTYPE entries of the Hopper (sm_90a) attention forward with wgmma (HGMMA),
// head dims 64 and 128.  The body (fa_wg_core.cuh) is what fa_tc ships as its wgmma and
// wgmma_d128 launches; the entries here instantiate it with other template arguments, to be
// measured by fa_wg_selfcheck.cu (run.sh) next to fa_tc.  Build only with
// -gencode=arch=compute_90a,code=sm_90a.
//
// ABI attention_fwd_v1 (every entry):
//   extern "C" __global__ void fa_wg_fwd_d64(const __half* Q, const __half* K, const __half* V,
//                                            __half* O, int B, int H, int S, int D,
//                                            float softmax_scale, int causal);
//   Q, K, V, O: [B, H, S, D] contiguous row-major fp16; returns at once if D is not the
//   entry's head dim.  grid (ceil(S / 64), H, B), block (128, 1, 1), dynamic shared memory
//   FA_WG_SMEM_BYTES(D, BN, NS).  causal != 0 masks key j > query i.  Any S >= 1, any scale.
//
// Design (one consumer warpgroup per CTA, no producer warp, no TMA):
//   block_m 64 (the warpgroup's 4 warps: warp w owns query rows 16w..16w+15 of the wgmma
//   m64 tile), BN keys per tile, cp.async ring of NS stages, one __syncthreads per key tile.
//   Per key tile t:
//     S = Q K_t^T : D/16 x wgmma.m64nBNk16.f32.f16.f16, A = Q (smem, K-major SW128
//                   descriptor), B = K_t (smem, K-major SW128), f32 accumulators s[BN/2].
//     mask (tail keys >= S, causal j > i) with -inf, online softmax in registers: the max
//     over raw scores and each exponent one FFMA, exp2(s*c - max*c), c = scale*log2(e)
//     (scale > 0; otherwise the scores are scaled first), ex2.approx.ftz, fully-masked-row
//     guard; lazy: the max used moves only past a 2^8 growth (fa_wg_core.cuh).
//     O += P V_t  : BN/16 x wgmma.m64nDk16 with A = P from registers (fp16, packed from s[]),
//                   B = V_t (smem, [key][d] = N-major, i.e. MN-major SW128, imm-trans-b = 1).
//   PIPE: PV(t) stays in flight across the barrier; S(t+1) is issued behind it.
//   Epilogue: O / rowsum -> fp16, staged per warp in the (dead) Q tile, 16-byte stores of
//   rows < S.
//   Causal: query blocks in reverse order (heaviest CTAs first), keys only up to the block's
//   last row.  Tail: rows >= S are zero-filled (cp.async src-size 0) and never stored; keys
//   >= S are zero-filled (so V is finite) and masked to -inf.  Whole tiles load without
//   predicates.
//
// Shared memory (base must be 1024-B aligned: checked at run time, __trap() otherwise):
//   [ Q 64xD | stage0: K BNxD, V BNxD | stage1 | ... ].  A tile of R rows is D/64 swizzle
//   atoms of R rows x 128 B (atom a = columns 64a..64a+63, R*128 B apart); 16-byte chunk c of
//   row r of an atom lives at r*128 + ((c ^ (r & 7)) << 4)  (= cute Swizzle<3,4,3> on byte
//   addresses = SW128); every tile base is a multiple of 1024 B.
//
// Entries: see the table in README.md (D, BN, stages, lazy, pipe, shared bytes, registers).
//
// What was checked against which source:
//   * Descriptor bit layout: CUTLASS include/cute/arch/mma_sm90_desc.hpp (GmmaDescriptor):
//     start_address [0,14) = addr>>4, leading_byte_offset [16,30) (>>4), stride_byte_offset
//     [32,46) (>>4), base_offset [49,52) (0 here: 1024-B aligned tiles), layout_type
//     [62,64): SWIZZLE_NONE 0, SWIZZLE_128B 1, SWIZZLE_64B 2, SWIZZLE_32B 3.
//   * Canonical layouts: CUTLASS include/cute/atom/mma_traits_sm90_gmma.hpp, make_gmma_desc:
//     K-major SW128 = Swizzle<3,4,3> o ((8,m),(T,2)):((8T,SBO),(1,T)) -> SBO = 1024 B (next
//     8 rows), LBO "assumed 1" (encoded 1); K-advance by 16 halves = +32 B on start_address
//     (cute's DescriptorIterator adds the unswizzled offset; the swizzle is applied by the
//     hardware on address bits [4,7) ^= [7,10), hence the 1024-B tile alignment).
//     MN-major SW128 = Swizzle<3,4,3> o ((T,8,m),(8,k)):((1,T,LBO),(8T,SBO)) -> for V
//     ([key][d], d contiguous): SBO = 1024 B (next 8 keys), LBO = stride between 64-wide N
//     atoms = BN x 128 B (used at D = 128); K-advance by 16 keys = +2048 B.  K-major at
//     D = 128: k-steps 4..7 start in the second atom (+64 x 128 B in Q, +BN x 128 B in K).
//   * Instruction strings: CUTLASS include/cute/arch/mma_sm90_gmma.hpp,
//     SM90_64x64x16_F32F16F16_SS ("{d..}, desc_a, desc_b, p, scaleA, scaleB, tnspA, tnspB")
//     and _RS ("{d..}, {a0,a1,a2,a3}, desc_b, p, scaleA, scaleB, tnspB"; A must be K-major);
//     GMMA::Major K = 0, MN = 1 is the trans immediate.
//   * Register fragments (PTX ISA, "Asynchronous Warpgroup Level Matrix ... Register
//     Fragments", wgmma .m64nNk16): accumulator D: warp w of the warpgroup owns rows
//     16w..16w+15; d[4j+0..1] = (row 16w + lane/4, cols 8j + 2*(lane%4) + {0,1}),
//     d[4j+2..3] = same cols, row + 8.  A in registers (f16): per warp the mma.m16n8k16 A
//     fragment: a0 = (row g, k 2t..2t+1), a1 = (row g+8, k 2t..), a2 = (row g, k 8+2t..),
//     a3 = (row g+8, k 8+2t..).  So for key step kk (keys 16kk..16kk+15):
//     a0 = pack(s[8kk+0], s[8kk+1]), a1 = pack(s[8kk+2], s[8kk+3]),
//     a2 = pack(s[8kk+4], s[8kk+5]), a3 = pack(s[8kk+6], s[8kk+7])  (as FA3's
//     convert_layout_acc_Aregs, which is the identity on the register order for 16-bit A).
//   * Proxy rule (PTX ISA, memory consistency / async proxy): cp.async writes are generic
//     proxy, wgmma reads smem through the async proxy: each thread does cp.async.wait_group,
//     then fence.proxy.async.shared::cta, then the CTA barrier, before any wgmma reads it.
//   * wgmma.fence before the first wgmma whose registers (accumulators, A fragment) were
//     touched by ordinary instructions; commit_group; wait_group 0 before reading them;
//     compiler-level operand fences (empty asm "+f"/"+r", as cute's warpgroup_fence_operand)
//     after the wait so that no read is hoisted above it.
#include "fa_wg_core.cuh"

// The prototype's entries (ABI attention_fwd_v1, 128 threads, block_m 64; see the table in
// the header for keys per tile, stages and shared bytes).
//          name                D    BN   NS lazy   pipe   min CTAs/SM
FA_WG_ENTRY(fa_wg_fwd_d64,        64,  64,  3, true,  false, 4)
FA_WG_ENTRY(fa_wg_pipe_fwd_d64,   64,  64,  3, true,  true,  4)
FA_WG_ENTRY(fa_wg_ns2_fwd_d64,    64,  64,  2, true,  false, 5)
FA_WG_ENTRY(fa_wg_n128_fwd_d64,   64,  128, 2, true,  false, 3)
FA_WG_ENTRY(fa_wg_n128p_fwd_d64,  64,  128, 3, true,  true,  2)
FA_WG_ENTRY(fa_wg_fwd_d128,       128, 64,  3, true,  false, 2)
FA_WG_ENTRY(fa_wg_pipe_fwd_d128,  128, 64,  3, true,  true,  2)
// Several warpgroups per CTA (FA_WG_ENTRY_WG): two row groups (WG 2: 128 query rows sharing
// each K / V tile) or KS key parts (64 rows, the key tiles split KS ways, merged at the end).
//             name                   D    BN   NS lazy   pipe  WG KS MINB
FA_WG_ENTRY_WG(fa_wg2_fwd_d64,        64,  64,  3, true,  false, 2, 1, 2)
FA_WG_ENTRY_WG(fa_ks2_fwd_d64,        64,  64,  3, true,  false, 1, 2, 1)
FA_WG_ENTRY_WG(fa_ks2p_fwd_d64,       64,  64,  3, true,  true,  1, 2, 1)
FA_WG_ENTRY_WG(fa_ks2n128_fwd_d64,    64,  128, 2, true,  false, 1, 2, 1)
FA_WG_ENTRY_WG(fa_ks2n128p_fwd_d64,   64,  128, 3, true,  true,  1, 2, 1)
FA_WG_ENTRY_WG(fa_ks2n128pe_fwd_d64,  64,  128, 3, false, true,  1, 2, 1)
FA_WG_ENTRY_WG(fa_ks2n128e_fwd_d64,   64,  128, 2, false, false, 1, 2, 1)
FA_WG_ENTRY_WG(fa_ks2pe_fwd_d64,      64,  64,  3, false, true,  1, 2, 1)
FA_WG_ENTRY_WG(fa_ks4_fwd_d64,        64,  64,  3, true,  false, 1, 4, 1)
FA_WG_ENTRY_WG(fa_ks4e_fwd_d64,       64,  64,  3, false, false, 1, 4, 1)
FA_WG_ENTRY_WG(fa_ks4pe_fwd_d64,      64,  64,  3, false, true,  1, 4, 1)
FA_WG_ENTRY_WG(fa_ks4n2e_fwd_d64,     64,  64,  2, false, false, 1, 4, 1)
// Key parts with their own loads and barriers (FA_WG_ENTRY_X, OWN).
//            name                   D    BN   NS lazy   pipe   WG KS own   MINB
FA_WG_ENTRY_X(fa_ks2n128eo_fwd_d64,  64,  128, 2, false, false, 1, 2, true, 1)
FA_WG_ENTRY_X(fa_ks2n128e3o_fwd_d64, 64,  128, 3, false, false, 1, 2, true, 1)
FA_WG_ENTRY_X(fa_ks2eo_fwd_d64,      64,  64,  3, false, false, 1, 2, true, 1)
FA_WG_ENTRY_X(fa_ks4eo_fwd_d64,      64,  64,  3, false, false, 1, 4, true, 1)
// Warp-specialised (fwd_ws, v11 experiment; NOTES.md): producer warps issue every load,
// consumer warpgroups wait on mbarriers (no __syncthreads per tile); a CTA works through
// ITEMS row blocks of one head (block_m = 64 WGS ITEMS), its producers loading the next
// block's Q and K/V tiles under the current one.  Two consumer warpgroups share each K/V tile.
//          name                 D    NS lazy  WGS items PW min CTAs/SM
FA_WS_ENTRY(fa_ws2i1p2_fwd_d64,  64,  3, true,  2,  1,    2, 2)
FA_WS_ENTRY(fa_ws2i4p2_fwd_d64,  64,  3, true,  2,  4,    2, 2)
FA_WS_ENTRY(fa_ws2i2p2_fwd_d128, 128, 2, true,  2,  2,    2, 1)
