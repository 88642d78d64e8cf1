// fake_tensor_cores: negative control for the inspect gate (sass-inspect).
// Bug: its manifest says tensor_cores = true, but the kernel is the scalar common.cuh kernel
// (FFMA only, no HMMA/HGMMA in the SASS). Results are correct; only the claim is false.
#include "common.cuh"

// PLANTED BUG: fake_tensor_cores.toml says `tensor_cores = true` for this scalar (FFMA-only) kernel.
ST_ATTENTION_ENTRY(fake_tensor_cores_fwd, st::Correct)
